"""lightAPT's envelope on ``/ws/indi_client/``: one JSON reply per request, in
order, echoing ``device_name`` and ``instruction``; errors that keep the socket
open; both protocols on one socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from lightapt_support import LightAptClient, assign_roles
from ws_support import WsClient

from indiws.testing import RunningService


@pytest.fixture
async def svc(running_service: RunningService) -> AsyncIterator[RunningService]:
    await assign_roles(running_service)
    yield running_service


async def test_reply_echoes_the_request_and_keeps_the_original_shape(
    svc: RunningService,
) -> None:
    client = await LightAptClient.open(svc)
    try:
        # Byte for byte what lightAPT's debug page sends (JSON.stringify).
        await client.send(
            '{"device_name":"telescope","instruction":"get_real_time_info","params":[]}'
        )
        reply = await client.reply()
        assert list(reply)[:3] == ["type", "message", "data"]
        assert reply["type"] == "data" and reply["message"] == "see data"
        assert reply["device_name"] == "telescope"
        assert reply["instruction"] == "get_real_time_info"
        assert isinstance(reply["data"]["ra"], float)
    finally:
        await client.close()


async def test_unknown_role_unknown_instruction_and_bad_input_keep_the_socket(
    svc: RunningService,
) -> None:
    client = await LightAptClient.open(svc)
    try:
        # Not a role: the original's words, type "message".
        reply = await client.ask("spectrograph", "get_real_time_info")
        assert reply["type"] == "message"
        assert reply["message"] == "!error! wrong device name spectrograph"
        # A role nobody started: the original's words, type "error" (which
        # cobalt-web's pages skip), and why.
        reply = await client.ask("phd2", "loop_exposure")
        assert reply["type"] == "error" and reply["data"] is None
        assert reply["message"].startswith("!error! wrong device name phd2")
        assert "no device holds the guider role" in reply["message"]
        svc.service.roles.release("filter_wheel")
        reply = await client.ask("filter", "get_filter_slot")
        assert reply["message"].startswith("!error! wrong device name filter")

        reply = await client.ask("telescope", "fly_to_the_moon")
        assert reply["type"] == "error"
        assert "fly_to_the_moon" in reply["message"] and "get_real_time_info" in reply["message"]

        reply = await client.ask("telescope", "get_real_time_info", [1, 2, 3])
        assert reply["type"] == "error" and "at most 0" in reply["message"]

        await client.send('{"device_name":"telescope","instruction":"get_real_time_info",')
        reply = await client.reply()
        assert reply["type"] == "error" and reply["message"].startswith("invalid JSON")

        await client.send(
            '{"device_name":"telescope","instruction":"get_real_time_info","params":{"a":1}}'
        )
        reply = await client.reply()
        assert reply["type"] == "error" and "array" in reply["message"]

        await client.send('{"device_name":"telescope"}')
        reply = await client.reply()
        assert reply["type"] == "error" and "instruction" in reply["message"]

        # Still serving.
        assert (await client.data("telescope", "get_real_time_info"))["ra"] is not None
    finally:
        await client.close()


async def test_replies_come_in_request_order_and_only_replies(svc: RunningService) -> None:
    client = await LightAptClient.open(svc)
    try:
        names = ["get_real_time_info", "nope", "get_real_time_info"] * 10
        for name in names:
            await client.send(
                json.dumps({"device_name": "telescope", "instruction": name, "params": []})
            )
        got = [await client.reply() for _ in names]
        assert [r["instruction"] for r in got] == names
        assert [r["type"] for r in got] == ["data", "error", "data"] * 10
        # Nothing else arrives on a lightAPT-only socket: no status, no action events.
        before = len(client.frames)
        await asyncio.sleep(svc.service.config.status_interval * 1.5)
        assert len(client.frames) == before
    finally:
        await client.close()


async def test_one_socket_speaks_both_protocols(svc: RunningService) -> None:
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        status = await ws.call("telescope.status")
        assert status["connected"] is True
        await ws.conn.write_message(
            '{"device_name":"telescope","instruction":"get_real_time_info","params":[]}'
        )
        reply = await asyncio.wait_for(ws.anonymous.get(), 10)
        assert reply["type"] == "data" and reply["device_name"] == "telescope"
        # JSON-RPC still answers as before, and a parse error stays JSON-RPC's.
        assert (await ws.call("telescope.status"))["device"] == "Telescope Simulator"
        answer = await ws.raw("{oops")
        assert answer["error"]["code"] == -32700
    finally:
        await ws.close()


async def test_cobalt_webs_guider_page_can_show_a_guider_role_with_no_device(
    svc: RunningService,
) -> None:
    """cobalt-web's guider page polls four queries and reads ``data`` of every
    reply that is not ``type == "error"``; its global listener reads
    ``get_guiding_data`` at start.  With no guide camera, each answers data of
    the shape the page reads (what its listener would otherwise throw on)."""
    assert svc.service.roles.device_for("guider") is None
    client = await LightAptClient.open(svc)
    try:
        shown: dict[str, object] = {}
        for name in ("get_ccd_name", "get_static_info", "get_set_params", "get_real_time_info"):
            reply = await client.ask("guider", name)
            assert reply["device_name"] == "guider" and reply["instruction"] == name
            assert reply["type"] != "error", reply
            data = reply["data"]
            # What guider.tsx's process_ws_message reads, case by case.
            if name == "get_ccd_name":
                shown["model"] = data["device_name"]
            elif name == "get_static_info":
                shown["sensor"] = [(d["name"], d["value"]) for d in data["data"]]
            elif name == "get_set_params":
                shown["gain"], shown["binning"] = data["gain"], data["binning"]
            else:
                shown["exposing"] = data["in_exposure"]
        assert shown == {
            "model": "(no guider assigned)",
            "sensor": [],
            "gain": None,
            "binning": None,  # the page hides its binning field
            "exposing": False,
        }
        reply = await client.ask("phd2", "get_guiding_data")
        assert reply["type"] == "data"
        assert reply["data"] == dict.fromkeys(
            ("dx", "dy", "RaControl", "DecControl", "RaDistance", "DecDistance"), []
        )
        # An action is refused in a way the page skips, saying why.
        reply = await client.ask("guider", "set_number_parameters", ["gain", 10])
        assert reply["type"] == "error"
        assert "no device holds the guider role" in reply["message"]
        # Once a device holds the role, the same queries answer it.
        await svc.service.roles.assign("guider", "CCD Simulator")
        assert (await client.data("guider", "get_ccd_name"))["device_name"] == "CCD Simulator"
    finally:
        svc.service.roles.release("guider")
        await client.close()
