"""``/ws/indi/``, the low-level JSON-RPC WebSocket, against real indiservers:
reading, setting (and waiting), every kind of bad input, BLOBs."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient, tick_driver_command

from indiws.testing import (
    IndiServerFactory,
    RunningService,
    start_service,
    sync_mount_east_of_meridian,
)

SCOPE = "Telescope Simulator"


@pytest.fixture
async def indi(running_service: RunningService) -> AsyncIterator[WsClient]:
    client = await WsClient.open(running_service.ws_url + "/ws/indi/")
    yield client
    await client.close()


@pytest.fixture
async def tick(indiserver_factory: IndiServerFactory, tmp_path: Path) -> AsyncIterator[tuple]:
    """A service on its own indiserver running the bench's tick driver."""
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data")
    client = await WsClient.open(running.ws_url + "/ws/indi/")
    yield running, client
    await client.close()
    await running.stop()


async def test_lists_devices_properties_and_reads_one(indi: WsClient) -> None:
    devices = {d["name"]: d for d in await indi.call("devices")}
    assert {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"} <= set(
        devices
    )
    ccd = devices["CCD Simulator"]
    assert ccd["driver_info"]["DRIVER_EXEC"] == "indi_simulator_ccd"
    assert ccd["interfaces"] & 2 and ccd["property_count"] > 0

    props = await indi.call("properties", {"device": "Focuser Simulator"})
    assert {p["device"] for p in props} == {"Focuser Simulator"}
    everything = await indi.call("properties")
    assert len(everything) > len(props)

    prop = await indi.call("get", {"device": "CCD Simulator", "property": "DRIVER_INFO"})
    assert prop["kind"] == "Text" and prop["values"]["DRIVER_EXEC"] == "indi_simulator_ccd"
    # Positional parameters work too.
    assert (await indi.call("get", ["CCD Simulator", "DRIVER_INFO"]))["values"] == prop["values"]

    one = await indi.call("device", {"device": "Filter Simulator"})
    assert one["name"] == "Filter Simulator" and one["properties"]
    assert isinstance(one["messages"], list)

    discover = await indi.call("rpc.discover")
    names = {m["name"] for m in discover["methods"]}
    assert {"devices", "device", "properties", "get", "set", "enable_blobs", "watch"} <= names


async def test_every_kind_of_bad_input_is_answered_and_nothing_is_sent(
    indi: WsClient, running_service: RunningService
) -> None:
    client = running_service.service.client
    await indi.connect_device(SCOPE, "EQUATORIAL_EOD_COORD")
    bytes_out = client.stats["bytes_out"]

    async def code_of(params: dict, method: str = "set") -> int:
        error = await indi.error(method, params)
        assert error["message"] and error["data"]["error"]
        return error["code"]

    coord = {"device": SCOPE, "property": "EQUATORIAL_EOD_COORD"}
    cases = [
        ({"device": "Nope", "property": "X", "values": {"A": 1}}, -32011),
        ({"device": SCOPE, "property": "NOPE", "values": {"A": 1}}, -32012),
        ({**coord, "values": {"RA": 1, "NOPE": 2}}, -32013),
        ({"device": SCOPE, "property": "DRIVER_INFO", "values": {"DRIVER_NAME": "x"}}, -32014),
        ({**coord, "values": {"RA": "not a number"}}, -32015),
        ({**coord, "values": {"RA": 25}}, -32015),  # out of [0, 24]
        ({**coord, "values": {"DEC": True}}, -32015),
        ({**coord, "values": {}}, -32015),
        ({"device": SCOPE, "property": "CONNECTION", "values": {"CONNECT": "maybe"}}, -32015),
        (
            {"device": SCOPE, "property": "CONNECTION", "values": {"CONNECT": 1, "DISCONNECT": 1}},
            -32015,
        ),
        ({**coord, "values": [1, 2]}, -32602),  # values must be an object
        ({**coord}, -32602),  # values missing
        ({**coord, "values": {"RA": 1}, "wait": "yes"}, -32602),
        ({**coord, "values": {"RA": 1}, "timeout": 0}, -32602),
        ({**coord, "values": {"RA": 1}, "timeout": -5}, -32602),
        ({**coord, "values": {"RA": 1}, "colour": "red"}, -32602),  # unknown parameter
        ({**coord, "values": {"RA": 1}, "timeout": 10**400}, -32602),  # no float holds it
    ]
    for params, code in cases:
        assert await code_of(params) == code, params
        if code == -32015:  # invalid_value names what it is about
            error = await indi.error("set", params)
            assert error["data"]["device"] == params["device"]
            assert error["data"]["property"] == params["property"]
        assert (await indi.call("get", coord))["name"] == "EQUATORIAL_EOD_COORD"
    assert client.stats["bytes_out"] == bytes_out, "a refused set sent something"

    # Other methods, the protocol itself.
    assert await code_of({"device": "Nope"}, "device") == -32011
    assert await code_of({"device": SCOPE, "property": "NOPE"}, "get") == -32012
    assert await code_of({"device": SCOPE, "mode": "Sometimes"}, "enable_blobs") == -32602
    assert await code_of({"property": "X"}, "watch") == -32602
    assert await code_of({}, "no_such_method") == -32601
    assert (await indi.raw("{this is not json"))["error"]["code"] == -32700
    assert (await indi.raw("[1, 2]"))["error"]["code"] == -32600  # one error per item
    assert (await indi.anonymous.get())["error"]["code"] == -32600
    answer = await indi.raw('{"id": "r1", "method": "devices"}', rid="r1")
    assert answer["error"]["code"] == -32600
    answer = await indi.raw('{"jsonrpc": "2.0", "id": "r2"}', rid="r2")
    assert answer["error"]["code"] == -32600
    assert (await indi.raw('{"jsonrpc": "2.0", "id": [1], "method": "devices"}'))["error"][
        "code"
    ] == -32600
    assert (await indi.raw("[]"))["error"]["code"] == -32600
    # A batch: answered with one array, each request by its id.
    batch = [
        {"jsonrpc": "2.0", "id": "b1", "method": "get", "params": ["Nope", "X"]},
        {"jsonrpc": "2.0", "id": "b2", "method": "devices"},
    ]
    b1 = asyncio.get_running_loop().create_future()
    b2 = asyncio.get_running_loop().create_future()
    indi._waiting.update(b1=b1, b2=b2)
    await indi.conn.write_message(json.dumps(batch))
    assert (await b1)["error"]["code"] == -32011
    assert (await b2)["result"]
    arrays = [data for _, data in indi.log if isinstance(data, list)]
    assert [a["id"] for a in arrays[-1]] == ["b1", "b2"]  # in the order asked
    answer = await indi.request("devices", {"x": 1})
    assert answer["error"]["code"] == -32602
    # A notification (no id) to an unknown method gets no answer at all.
    await indi.conn.write_message(json.dumps({"jsonrpc": "2.0", "method": "nope"}))
    # Still the same connection, still working.
    assert await indi.call("devices")
    assert indi.anonymous.empty()
    assert client.stats["bytes_out"] == bytes_out


async def test_slew_is_answered_after_it_ends_and_streamed(
    indi: WsClient, running_service: RunningService
) -> None:
    """A goto through /ws/indi/: Busy progress first, the answer (Ok) last; the
    property stream shows the same coordinates going Busy then Ok."""
    await indi.connect_device(
        SCOPE, "EQUATORIAL_EOD_COORD", "TELESCOPE_PARK", "TELESCOPE_TRACK_STATE"
    )
    park = await indi.call("get", {"device": SCOPE, "property": "TELESCOPE_PARK"})
    was_parked = park["values"]["PARK"] == "On"
    track = await indi.call("get", {"device": SCOPE, "property": "TELESCOPE_TRACK_STATE"})
    if was_parked:
        await indi.call(
            "set", {"device": SCOPE, "property": "TELESCOPE_PARK", "values": {"UNPARK": True}}
        )
    # East of the meridian, so the short slew further east needs no pier flip.
    ra, dec = await sync_mount_east_of_meridian(running_service.service.client, SCOPE)
    stream = await WsClient.open(
        running_service.ws_url
        + "/ws/debugging/?device=Telescope%20Simulator&property=EQUATORIAL_EOD_COORD"
    )
    try:
        await stream.next_note("snapshot")
        now = await indi.call("get", {"device": SCOPE, "property": "EQUATORIAL_EOD_COORD"})
        assert now["state"] != "Busy"
        assert (now["values"]["RA"], now["values"]["DEC"]) == pytest.approx((ra, dec), abs=0.01)
        target = (ra + 0.05) % 24  # 0.75 degree: a short slew
        started = time.time()
        answer = await indi.request(
            "set",
            {
                "device": SCOPE,
                "property": "EQUATORIAL_EOD_COORD",
                "values": {"RA": target, "DEC": dec},
                "timeout": 60,
            },
            timeout=70,
        )
        answered = time.time()
        result = answer["result"]
        assert result["state"] == "Ok" and result["waited"] is True
        assert abs(result["values"]["RA"] - target) < 0.01
        assert abs(result["values"]["DEC"] - dec) < 0.01

        # Progress (Busy) notifications for this request came before the answer.
        progress = [
            (t, m["params"])
            for t, m in indi.log
            if m.get("method") == "progress" and t >= started and m["params"]["id"] == answer["id"]
        ]
        assert progress, "no progress while the slew ran"
        assert all(p["state"] == "Busy" for _, p in progress)
        assert all(t <= answered for t, _ in progress)
        assert indi.log[-1][1] is answer

        # The stream: Busy updates, then Ok at the target.
        states = []
        while "Ok" not in states:
            note = await stream.next_note("updated", timeout=10)
            states.append(note["params"]["state"])
        assert states[0] == "Busy" and states[-1] == "Ok"
        final = {e["name"]: e["value"] for e in note["params"]["elements"]}
        assert abs(final["RA"] - target) < 0.01
    finally:
        await stream.close()
        # Leave the mount as found: not moving, tracking and parking as before.
        prop = running_service.service.client.devices[SCOPE]["EQUATORIAL_EOD_COORD"]
        if prop.busy:
            await indi.call(
                "set",
                {"device": SCOPE, "property": "TELESCOPE_ABORT_MOTION", "values": {"ABORT": True}},
            )
        if track["values"].get("TRACK_OFF") == "On":
            await indi.call(
                "set",
                {
                    "device": SCOPE,
                    "property": "TELESCOPE_TRACK_STATE",
                    "values": {"TRACK_OFF": True},
                },
            )
        if was_parked:
            await indi.call(
                "set",
                {"device": SCOPE, "property": "TELESCOPE_PARK", "values": {"PARK": True}},
                timeout=120,
            )


async def test_wait_false_answers_at_once_and_timeout_says_still_busy(tick: tuple) -> None:
    running, indi = tick
    run = {"device": "Tick", "property": "TICK_RATE"}
    # 200 updates at 50 Hz: Busy for about 4 s; the answer comes while it is.
    result = await indi.call("set", {**run, "values": {"RATE": 50, "COUNT": 200}, "wait": False})
    assert result["waited"] is False
    await asyncio.sleep(0.05)
    assert (await indi.call("get", run))["state"] == "Busy"

    error = await indi.error("set", {**run, "values": {"RATE": 50, "COUNT": 400}, "timeout": 0.3})
    assert error["code"] == -32030 and error["data"]["error"] == "timeout"
    assert "Busy" in error["message"]
    assert error["data"]["current"]["state"] == "Busy"

    # Waiting (the default) answers when the run is over, with the final values.
    started = time.monotonic()
    result = await indi.call("set", {**run, "values": {"RATE": 100, "COUNT": 30, "RUN": 9}})
    assert result["state"] == "Ok" and time.monotonic() - started > 0.2
    assert result["values"]["RUN"] == 9
    tick_prop = await indi.call("get", {"device": "Tick", "property": "TICK"})
    assert tick_prop["values"]["SEQ"] == 30 and tick_prop["values"]["RUN"] == 9


async def test_alert_is_a_final_state_with_the_drivers_message(tick: tuple) -> None:
    _, indi = tick
    result = await indi.call(
        "set", {"device": "Tick", "property": "TICK_RATE", "values": {"RATE": 20000}}
    )
    assert result["state"] == "Alert"
    assert "refused" in result["last_message"]
    assert result["messages"][-1]["message"] == result["last_message"]


async def set_echo(indi: WsClient, payload: bytes, timeout: float = 10) -> dict:
    return await indi.call(
        "set",
        {
            "device": "Tick",
            "property": "TICK_ECHO",
            "values": {"DATA": {"data": base64.b64encode(payload).decode(), "format": ".bin"}},
            "timeout": timeout,
        },
        timeout=timeout + 5,
    )


async def test_blob_set_and_download(tick: tuple) -> None:
    running, indi = tick
    error = await indi.error(
        "set",
        {"device": "Tick", "property": "TICK_ECHO", "values": {"DATA": "not an object"}},
    )
    assert error["code"] == -32015 and "base64" in error["message"]
    error = await indi.error(
        "set",
        {
            "device": "Tick",
            "property": "TICK_ECHO",
            "values": {"DATA": {"data": "@@@", "format": ".bin"}},
        },
    )
    assert error["code"] == -32015

    assert (await indi.call("enable_blobs", {"device": "Tick"}))["mode"] == "Also"
    # The driver echoes what it gets; the service keeps it and serves it by URL.
    payload = bytes(range(150))
    result = await set_echo(indi, payload)
    assert result["state"] == "Ok"
    data = result["values"]["DATA"]
    assert data["size"] == len(payload) and data["format"] == ".bin"
    resp = await AsyncHTTPClient().fetch(running.url + data["url"])
    assert resp.body == payload
    assert resp.headers["Content-Type"] == "application/octet-stream"


async def test_large_blob_set_reaches_the_driver(tick: tuple) -> None:
    _, indi = tick
    await indi.call("enable_blobs", {"device": "Tick"})
    payload = bytes(range(256)) * 40
    result = await set_echo(indi, payload, timeout=2)
    assert result["values"]["DATA"]["size"] == len(payload)


async def test_watch_streams_changes_on_the_same_socket(tick: tuple) -> None:
    _, indi = tick
    watching = await indi.call("watch", {"device": "Tick", "property": "TICK"})
    assert watching == {"device": "Tick", "property": "TICK"}
    snapshot = await indi.next_note("snapshot")
    assert [p["name"] for p in snapshot["params"]["properties"]] == ["TICK"]
    await indi.call(
        "set", {"device": "Tick", "property": "TICK_RATE", "values": {"RATE": 200, "COUNT": 5}}
    )
    seqs = []
    while len(seqs) < 5:
        note = await indi.next_note("updated")
        seqs.append({e["name"]: e["value"] for e in note["params"]["elements"]}["SEQ"])
    assert seqs == [1, 2, 3, 4, 5]
    assert await indi.call("unwatch") == {"watching": True}
    assert await indi.call("unwatch") == {"watching": False}
