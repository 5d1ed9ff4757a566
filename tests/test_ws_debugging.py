"""``/ws/debugging/``: snapshots for each filter, live events, connection
loss and recovery, when the stream starts, lightAPT's text commands, and
the BLOB download endpoint, over real WebSockets against a real indiserver."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import WebSocketClientConnection, websocket_connect
from ws_support import WsClient, tick_driver_command

from indiws.testing import IndiServerFactory, RunningService, start_service
from indiws.web.streams import blob_url

SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}
PROPERTY_KEYS = {
    "device",
    "name",
    "kind",
    "label",
    "group",
    "state",
    "perm",
    "rule",
    "timeout",
    "timestamp",
    "message",
    "elements",
}


async def open_stream(running: RunningService, query: str = "?stream=1") -> tuple[WsClient, dict]:
    """A stream that starts at open (a bare connection waits for a request)."""
    client = await WsClient.open(f"{running.ws_url}/ws/debugging/{query}")
    snapshot = await client.next_note()
    assert snapshot["method"] == "snapshot"
    return client, snapshot["params"]


async def test_snapshot_of_all_devices_maps_indi_one_to_one(
    running_service: RunningService,
) -> None:
    client, snap = await open_stream(running_service)
    try:
        assert snap["connected"] is True
        assert snap["device"] is None and snap["property"] is None
        assert SIMULATORS <= set(snap["devices"])
        props = {(p["device"], p["name"]): p for p in snap["properties"]}
        assert {d for d, _ in props} == set(snap["devices"])
        for prop in snap["properties"]:
            assert set(prop) == PROPERTY_KEYS, prop["name"]
        conn = props[("Telescope Simulator", "CONNECTION")]
        assert conn["kind"] == "Switch" and conn["rule"] == "OneOfMany" and conn["perm"] == "rw"
        assert {e["name"]: e["value"] for e in conn["elements"]}.keys() == {"CONNECT", "DISCONNECT"}
        info = props[("CCD Simulator", "DRIVER_INFO")]
        assert info["kind"] == "Text" and info["perm"] == "ro"
        values = {e["name"]: e["value"] for e in info["elements"]}
        assert values["DRIVER_EXEC"] == "indi_simulator_ccd"
        # Every number element carries its range and format.
        numbers = [p for p in snap["properties"] if p["kind"] == "Number"]
        assert numbers
        for prop in numbers:
            for el in prop["elements"]:
                assert {"value", "min", "max", "step", "format", "formatted"} <= set(el)
    finally:
        await client.close()


async def test_snapshot_of_one_device(running_service: RunningService) -> None:
    client, snap = await open_stream(running_service, "?device=Focuser%20Simulator")
    try:
        assert snap["device"] == "Focuser Simulator" and snap["devices"] == ["Focuser Simulator"]
        names = {p["name"] for p in snap["properties"]}
        assert {"CONNECTION", "DRIVER_INFO"} <= names
        assert {p["device"] for p in snap["properties"]} == {"Focuser Simulator"}
    finally:
        await client.close()


async def test_snapshot_of_one_property(running_service: RunningService) -> None:
    client, snap = await open_stream(
        running_service, "?device=Telescope%20Simulator&property=CONNECTION"
    )
    try:
        assert [(p["device"], p["name"]) for p in snap["properties"]] == [
            ("Telescope Simulator", "CONNECTION")
        ]
    finally:
        await client.close()


async def test_unknown_device_gives_an_empty_snapshot_and_waits_for_it(
    running_service: RunningService,
) -> None:
    client, snap = await open_stream(running_service, "?device=Nobody")
    try:
        assert snap["properties"] == [] and snap["devices"] == []
        assert await client.call("status") == {
            "device": "Nobody",
            "property": None,
            "connected": True,
            "pending": 0,
            "max_pending": running_service.service.config.max_pending_messages,
            "sent": 1,
            "coalesced": 0,
        }
    finally:
        await client.close()


async def test_subscribe_changes_the_filter_and_sends_a_fresh_snapshot(
    running_service: RunningService,
) -> None:
    client, _ = await open_stream(running_service)
    try:
        answer = await client.request(
            "subscribe", {"device": "CCD Simulator", "property": "DRIVER_INFO"}
        )
        assert answer["result"] == {"device": "CCD Simulator", "property": "DRIVER_INFO"}
        # The snapshot came before the answer.
        order = [m.get("method", "answer") for _, m in client.log]
        assert order[-2:] == ["snapshot", "answer"]
        snap = client.log[-2][1]["params"]
        assert [p["name"] for p in snap["properties"]] == ["DRIVER_INFO"]

        # Back to one whole device, by position this time.
        await client.call("subscribe", ["Filter Simulator"])
        snap = (await client.next_note("snapshot", lambda p: p["device"] == "Filter Simulator"))[
            "params"
        ]
        assert snap["property"] is None
        assert {p["device"] for p in snap["properties"]} == {"Filter Simulator"}
    finally:
        await client.close()


async def test_bad_filters_are_refused(running_service: RunningService) -> None:
    # In the URL: refused before the upgrade, with a JSON body.
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(f"{running_service.ws_url}/ws/debugging/?property=CONNECTION")
    assert info.value.code == 400 and info.value.response is not None
    body = json.loads(info.value.response.body)
    assert body["error"]["code"] == "invalid_params" and body["error"]["data"]["param"] == "device"
    # By request: a JSON-RPC error, and the socket keeps working.
    client, _ = await open_stream(running_service)
    try:
        error = await client.error("subscribe", {"property": "CONNECTION"})
        assert error["code"] == -32602 and error["data"]["param"] == "device"
        error = await client.error("subscribe", {"device": 5})
        assert error["code"] == -32602
        error = await client.error("subscribe", {"devices": "CCD Simulator"})
        assert error["code"] == -32602
        error = await client.error("no_such_method")
        assert error["code"] == -32601
        assert (await client.raw("{not json"))["error"]["code"] == -32700
        assert (await client.call("status"))["device"] is None
    finally:
        await client.close()


async def test_blob_elements_carry_a_url_and_the_endpoint_serves_the_bytes(
    running_service: RunningService,
) -> None:
    """A real frame from the CCD simulator: metadata in the stream, bytes by URL."""
    ccd = "CCD Simulator"
    http = AsyncHTTPClient()
    url = running_service.url + blob_url(ccd, "CCD1", "CCD1")
    assert url.endswith("/api/v1/devices/CCD%20Simulator/properties/CCD1/elements/CCD1/blob")

    async def get(path: str) -> tuple[int, dict]:
        with pytest.raises(HTTPClientError) as info:
            await http.fetch(running_service.url + path)
        assert info.value.response is not None
        return info.value.code, json.loads(info.value.response.body)

    indi = await WsClient.open(running_service.ws_url + "/ws/indi/")
    was_connected = running_service.service.client.devices[ccd].connected
    try:
        await indi.connect_device(ccd, "CCD_FRAME", "CCD_EXPOSURE", "CCD1")
        stream, snap = await open_stream(running_service, "?device=CCD%20Simulator&property=CCD1")
        (ccd1,) = snap["properties"]
        assert ccd1["kind"] == "BLOB"
        (element,) = ccd1["elements"]
        assert "value" not in element
        assert element["url"] == blob_url(ccd, "CCD1", "CCD1")
        assert {"format", "size"} <= set(element)

        if running_service.service.client.devices[ccd]["CCD1"]["CCD1"] is None:
            code, body = await get(element["url"])
            assert code == 404 and body["error"]["code"] == "no_blob_data"
        code, body = await get(blob_url(ccd, "CCD1", "NOPE"))
        assert code == 404 and body["error"]["code"] == "unknown_element"
        code, body = await get(blob_url(ccd, "CONNECTION", "CONNECT"))
        assert code == 400 and body["error"]["code"] == "invalid_params"
        code, body = await get(blob_url("No Such Camera", "CCD1", "CCD1"))
        assert code == 404 and body["error"]["code"] == "unknown_device"

        await indi.call("enable_blobs", {"device": ccd})
        # A small frame keeps the test quick.
        await indi.call(
            "set",
            {
                "device": ccd,
                "property": "CCD_FRAME",
                "values": {"X": 0, "Y": 0, "WIDTH": 64, "HEIGHT": 48},
            },
        )
        await indi.call(
            "set",
            {"device": ccd, "property": "CCD_EXPOSURE", "values": {"CCD_EXPOSURE_VALUE": 0.05}},
            timeout=30,
        )
        note = await stream.next_note("updated", timeout=30)
        (element,) = note["params"]["elements"]
        assert element["format"] == ".fits" and element["size"] > 0
        assert "value" not in element and len(json.dumps(note)) < 2000

        resp = await http.fetch(running_service.url + element["url"])
        assert resp.headers["Content-Type"] == "application/fits"
        assert int(resp.headers["Content-Length"]) == len(resp.body) == element["size"]
        assert resp.body.startswith(b"SIMPLE  =")

        # Setting a BLOB: base64 in, checked before sending.
        error = await indi.error(
            "set",
            {"device": ccd, "property": "CCD1", "values": {"CCD1": {"data": "***", "format": ""}}},
        )
        assert error["code"] == -32014  # CCD1 is read-only
        await stream.close()
    finally:
        await indi.call("enable_blobs", {"device": ccd, "mode": "Never"})
        if not was_connected:
            await indi.call(
                "set", {"device": ccd, "property": "CONNECTION", "values": {"DISCONNECT": True}}
            )
        await indi.close()


@pytest.mark.slow
async def test_connection_loss_restore_and_device_deletion_are_events(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    tick = tick_driver_command(tmp_path / "driver")
    server = indiserver_factory([tick])
    running = await start_service(server, tmp_path / "data")
    try:
        client, snap = await open_stream(running)
        assert snap["devices"] == ["Tick"]

        server.kill()
        lost = await client.next_note("connection_lost", timeout=10)
        assert lost["params"] == {"devices": ["Tick"]}

        server.restart_same_port()
        defined = await client.next_note("defined", timeout=20)
        assert defined["params"]["device"] == "Tick"
        restored = await client.next_note("connection_restored", timeout=20)
        assert restored["params"] == {"devices": ["Tick"], "missing": []}

        server.stop_driver(tick)
        deleted = await client.next_note("deleted", lambda p: p["name"] is None, timeout=10)
        assert deleted["params"]["device"] == "Tick"
        await client.close()
    finally:
        await running.stop()


async def test_live_updates_follow_the_snapshot(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    """Every update of a property reaches a property stream, in order, whole."""
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data")
    try:
        stream, snap = await open_stream(running, "?device=Tick&property=TICK")
        assert [p["name"] for p in snap["properties"]] == ["TICK"]
        everything, _ = await open_stream(running, "?device=Tick")
        indi = await WsClient.open(running.ws_url + "/ws/indi/")
        result = await indi.call(
            "set",
            {
                "device": "Tick",
                "property": "TICK_RATE",
                "values": {"RATE": 200, "COUNT": 40, "RUN": 7, "MESSAGE_EVERY": 20},
            },
        )
        assert result["state"] == "Ok" and result["values"]["COUNT"] == 40
        seqs = []
        while len(seqs) < 40:
            note = await stream.next_note()
            if note["method"] == "updated":
                assert set(note["params"]) == PROPERTY_KEYS
                values = {e["name"]: e["value"] for e in note["params"]["elements"]}
                assert values["RUN"] == 7
                seqs.append(int(values["SEQ"]))
            else:
                assert note["method"] == "message"
                assert note["params"]["message"].startswith("tick 7/")
        assert seqs == list(range(1, 41))
        # The device stream also saw TICK_RATE go Busy then Ok, and the messages.
        rate_states, messages = [], []
        while len(messages) < 2 or rate_states[-1:] != ["Ok"]:
            note = await everything.next_note()
            if note["method"] == "updated" and note["params"]["name"] == "TICK_RATE":
                rate_states.append(note["params"]["state"])
            elif note["method"] == "message":
                messages.append(note["params"]["message"])
        assert rate_states[0] == "Busy" and messages == ["tick 7/20", "tick 7/40"]
        for client in (stream, everything, indi):
            await client.close()
        await asyncio.sleep(0.05)
        assert not running.service.client.devices["Tick"].properties["TICK_RATE"].busy
    finally:
        await running.stop()


# ---------------------------------------------------------------- when the stream starts


async def test_a_bare_connection_starts_the_stream_at_its_first_request(
    running_service: RunningService,
) -> None:
    client = await WsClient.open(f"{running_service.ws_url}/ws/debugging/")
    try:
        status = await client.call("status")
        assert status["device"] is None
        # One snapshot, sent before the answer that started it (live updates
        # of the shared simulators may follow the snapshot, never precede it).
        kinds = [m.get("method", "answer") for _, m in client.log]
        before = kinds[: kinds.index("answer")]
        assert before[0] == "snapshot" and set(before[1:]) <= {"updated"}, kinds
        assert SIMULATORS <= set(client.log[0][1]["params"]["devices"])
        assert 1 <= status["sent"] <= len(before)
    finally:
        await client.close()


async def test_a_first_subscribe_sends_only_its_own_snapshot(
    running_service: RunningService,
) -> None:
    conn = await websocket_connect(f"{running_service.ws_url}/ws/debugging/")
    try:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "subscribe",
            "params": {"device": "Focuser Simulator"},
        }
        await conn.write_message(json.dumps(request))
        first = json.loads(await asyncio.wait_for(conn.read_message(), 5))
        assert first["method"] == "snapshot"
        assert first["params"]["devices"] == ["Focuser Simulator"]
        second = json.loads(await asyncio.wait_for(conn.read_message(), 5))
        assert second == {
            "jsonrpc": "2.0",
            "id": 1,
            "result": request["params"] | {"property": None},
        }
    finally:
        conn.close()


async def test_stream_0_waits_with_the_url_filter(running_service: RunningService) -> None:
    client = await WsClient.open(
        f"{running_service.ws_url}/ws/debugging/?device=Filter%20Simulator&stream=0"
    )
    try:
        assert (await client.call("status"))["device"] == "Filter Simulator"
        (_, snapshot), _ = client.log
        assert snapshot["method"] == "snapshot"
        assert {p["device"] for p in snapshot["params"]["properties"]} == {"Filter Simulator"}
    finally:
        await client.close()
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(f"{running_service.ws_url}/ws/debugging/?stream=maybe")
    assert info.value.code == 400 and info.value.response is not None
    body = json.loads(info.value.response.body)
    assert body["error"]["code"] == "invalid_params" and body["error"]["data"]["param"] == "stream"


# ---------------------------------------------------------------- lightAPT's text commands

WRONG_COMMAND = "wrong command! only support:\nprint list "
WRONG_ROLE = "Got Wrong device type!! Please check input!"
CCD_DRIVER_INFO = (
    "   > DRIVER_INFO type text\n"
    "       DRIVER_NAME(Name)= CCD Simulator\n"
    "       DRIVER_EXEC(Exec)= indi_simulator_ccd\n"
    "       DRIVER_VERSION(Version)= 1.0\n"
    "       DRIVER_INTERFACE(Interface)= 22\n"
)
CONNECTED = (
    "   > CONNECTION type switch\n       CONNECT(Connect)= On\n       DISCONNECT(Disconnect)= Off\n"
)
#: One element line: name(label)= value.
ELEMENT_LINE = re.compile(r"       [^ ].*\(.*\)= .*")


class TextClient:
    """lightAPT's debug page: sends the typed line, shows every frame as text."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, running: RunningService, path: str = "/ws/debugging/") -> TextClient:
        return cls(await websocket_connect(running.ws_url + path))

    async def ask(self, line: str) -> str:
        await self.conn.write_message(line)
        answer = await asyncio.wait_for(self.conn.read_message(), 5)
        assert isinstance(answer, str), answer
        return answer


async def assign(running: RunningService, **roles: str) -> None:
    for role, device in roles.items():
        await running.service.roles.assign(role, device)


async def test_text_commands_are_answered_in_the_originals_words(
    running_service: RunningService,
) -> None:
    await assign(
        running_service,
        camera="CCD Simulator",
        telescope="Telescope Simulator",
        focuser="Focuser Simulator",
        filter_wheel="Filter Simulator",
    )
    text = await TextClient.open(running_service)
    try:
        # Every device, every property.
        for command in ("print", "list"):
            everything = await text.ask(command)
            assert everything.startswith("List of Device Properties\n-- ")
            for device in SIMULATORS:
                assert f"\n-- {device}\n{CONNECTED}" in everything
            assert CCD_DRIVER_INFO in everything
            for line in everything.splitlines()[1:]:
                assert line.startswith(("-- ", "   > ")) or ELEMENT_LINE.fullmatch(line), line

        # One device, by role (the original's names and ours).
        camera = await text.ask("print camera")
        assert camera.startswith(f"-- CCD Simulator\n{CONNECTED}")
        assert "\n-- " not in camera and CCD_DRIVER_INFO in camera
        assert re.search(r"\n   > CCD1 type blob\n       CCD1\(Image\)= <blob \d+ bytes>\n", camera)
        assert re.search(r"\n   > CCD_EXPOSURE type number\n       CCD_EXPOSURE_VALUE\(", camera)
        for role, device in [
            ("telescope", "Telescope Simulator"),
            ("focus", "Focuser Simulator"),
            ("focuser", "Focuser Simulator"),
            ("filter", "Filter Simulator"),
            ("filter_wheel", "Filter Simulator"),
        ]:
            assert (await text.ask(f"print {role}")).startswith(f"-- {device}\n{CONNECTED}")

        # One property; an unknown one; several (the original answered nothing).
        assert await text.ask("print camera DRIVER_INFO") == CCD_DRIVER_INFO
        assert re.fullmatch(
            r"   > FILTER_SLOT type number\n       FILTER_SLOT_VALUE\(Filter\)= \d+\.0\n",
            await text.ask("list filter FILTER_SLOT"),
        )
        assert re.fullmatch(
            r"   > FOCUS_MAX type number\n       FOCUS_MAX_VALUE\(Steps\)= \d+\.\d+\n",
            await text.ask("print focus FOCUS_MAX"),
        )
        assert await text.ask("print camera NOPE") == "       NOPE is not a valid property name\n"
        several = await text.ask("print camera DRIVER_INFO NOPE CONNECTION")
        assert several == (
            CCD_DRIVER_INFO + "       NOPE is not a valid property name\n" + CONNECTED
        )
        # Any run of whitespace separates words (the page may send a newline).
        assert await text.ask("print  camera\tDRIVER_INFO\n") == CCD_DRIVER_INFO

        # A role with no device, or whose device is not on indiserver.
        assert await text.ask("print guider") == "wrong connection! check your input ('guider',)"
        assert (
            await text.ask("print guider CCD_INFO")
            == "wrong connection! check your input ('guider', 'CCD_INFO')"
        )
        running_service.service.db.set_role("guider", "Gone Camera")
        assert await text.ask("list guider") == "wrong connection! check your input ('guider',)"

        # Unknown role; not a command.
        for line in (
            "print spectrograph",
            "print phd2",
            "list spectrograph CONNECTION",
            "print Camera",
        ):
            assert await text.ask(line) == WRONG_ROLE, line
        for line in ("show camera", "PRINT", "", "   ", "42", "print-camera"):
            assert await text.ask(line) == WRONG_COMMAND, line
    finally:
        text.conn.close()


@pytest.mark.slow
async def test_a_text_client_sees_only_its_answers(running_service: RunningService) -> None:
    """While the simulators' properties change, a JSON stream gets every change
    and lightAPT's debug page gets nothing but the answers to its lines."""
    svc = running_service
    await assign(svc, focuser="Focuser Simulator", filter_wheel="Filter Simulator")
    text = await TextClient.open(svc)
    stream, _ = await open_stream(svc)
    try:
        assert (await text.ask("print filter FILTER_SLOT")).startswith("   > FILTER_SLOT ")
        next_frame = asyncio.ensure_future(text.conn.read_message())
        client = svc.service.client
        focuser = client.devices["Focuser Simulator"]
        position = focuser["ABS_FOCUS_POSITION"]["FOCUS_ABSOLUTE_POSITION"]
        slot = client.devices["Filter Simulator"]["FILTER_SLOT"]["FILTER_SLOT_VALUE"]
        await client.set_property(
            "Focuser Simulator",
            "ABS_FOCUS_POSITION",
            {"FOCUS_ABSOLUTE_POSITION": position + 500 if position < 50000 else position - 500},
        )
        await client.set_property(
            "Filter Simulator", "FILTER_SLOT", {"FILTER_SLOT_VALUE": 2 if slot != 2 else 3}
        )
        done, _ = await asyncio.wait({next_frame}, timeout=2)
        assert not done, f"the text client got {next_frame.result()!r}"
        # The JSON client saw the changes meanwhile.
        changed = {
            (m["params"]["device"], m["params"]["name"])
            for _, m in stream.log
            if m.get("method") == "updated"
        }
        assert {
            ("Focuser Simulator", "ABS_FOCUS_POSITION"),
            ("Filter Simulator", "FILTER_SLOT"),
        } <= changed
        # The next frame the page sees is the answer to its next line.
        await text.conn.write_message("print spectrograph")
        assert await asyncio.wait_for(next_frame, 5) == WRONG_ROLE
    finally:
        text.conn.close()
        await stream.close()


async def test_text_and_json_share_one_socket(running_service: RunningService) -> None:
    """Once JSON flows, a text line still gets a text answer, in order."""
    conn = await websocket_connect(f"{running_service.ws_url}/ws/debugging/?stream=1")
    await assign(running_service, camera="CCD Simulator")
    try:
        frames: list[str] = []

        async def until(check: Any) -> Any:
            async with asyncio.timeout(10):
                while True:
                    frame = await conn.read_message()
                    assert isinstance(frame, str)
                    frames.append(frame)
                    if (found := check(frame)) is not None:
                        return found

        def text_frame(frame: str) -> str | None:
            return None if frame.startswith("{") else frame

        def answer(rid: int) -> Any:
            def check(frame: str) -> Any:
                if frame.startswith("{") and json.loads(frame).get("id") == rid:
                    return json.loads(frame)
                return None

            return check

        await conn.write_message("print camera DRIVER_INFO")
        assert await until(text_frame) == CCD_DRIVER_INFO
        await conn.write_message(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "status"}))
        assert (await until(answer(7)))["result"]["device"] is None
        await conn.write_message("hello")
        assert await until(text_frame) == WRONG_COMMAND
        assert json.loads(frames[0])["method"] == "snapshot"
    finally:
        conn.close()


async def test_json_frames_keep_the_json_rpc_pacing(running_service: RunningService) -> None:
    """The text-or-JSON routing hands a JSON frame on with the JSON-RPC
    socket's pacing (tornado reads the next frame once the requests just
    started have run their first step), not as a coroutine left un-awaited."""
    conn = await websocket_connect(f"{running_service.ws_url}/ws/debugging/")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for rid in range(3):
                await conn.write_message(
                    json.dumps({"jsonrpc": "2.0", "id": rid, "method": "status"})
                )
            ids = []
            async with asyncio.timeout(10):
                while len(ids) < 3:
                    frame = json.loads(await conn.read_message())
                    if "id" in frame:
                        ids.append(frame["id"])
            gc.collect()
        assert ids == [0, 1, 2]
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        conn.close()


@pytest.mark.slow
async def test_a_light_property_is_shown_by_its_state(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_weather"])
    running = await start_service(server, tmp_path / "data")
    try:
        # Any device can hold a role; the weather station's WEATHER_STATUS is a light.
        await assign(running, guider="Weather Simulator")
        await running.service.client.wait_for_property("Weather Simulator", "WEATHER_STATUS")
        text = await TextClient.open(running)
        answer = await text.ask("print guider WEATHER_STATUS")
        assert re.fullmatch(
            r"   > WEATHER_STATUS type light\n(       \w+\(.*\)= (Idle|Ok|Busy|Alert)\n)+", answer
        ), answer
        text.conn.close()
    finally:
        await running.stop()
