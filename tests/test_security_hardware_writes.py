"""Writes that move hardware, replayed as an attacker sends them, against one
embedded service (its own indiserver, the Observatory profile's simulators).

- A web page's cross-protocol POST (indiserver skips what precedes the first
  ``<``): the bytes a browser sends, to the INDI port INDI clients are given
  and to the port indiserver itself listens on, and the same from headless
  Chromium on a page of another local origin.  Nothing reaches indiserver;
  ``indi_getprop`` and the service keep working.
- Low-level writes (REST ``PUT``, ``/ws/indi/`` ``set``, lightAPT's property
  page, INDI clients of the INDI port) that unpark, slew, move or open while
  the weather is unsafe: refused unless forced, forced ones logged with who.
- ``WEATHER_OVERRIDE`` written on the weather device: the policy still
  judges the weather from its readings.

What happened is judged by INDI's own ``indi_getprop`` or the service's mirror
(what the drivers reported), not by the API under test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import tornado.web
from lightapt_support import LightAptClient
from security_support import start_observatory, until
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient

from indiws.protocol import PropertyState, SwitchState
from indiws.testing import (
    RunningService,
    free_port,
    sync_mount_east_of_meridian,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE, DOME, WEATHER = "Telescope Simulator", "Dome Simulator", "Weather Simulator"
UNPARK_XML = (
    f'<newSwitchVector device="{SCOPE}" name="TELESCOPE_PARK">'
    '<oneSwitch name="UNPARK">On</oneSwitch></newSwitchVector>'
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_observatory(
        tmp_path_factory.mktemp("hardware-writes"), status_interval=0.3
    )
    try:
        yield running
    finally:
        await running.stop()


def weather_state(svc: RunningService) -> str:
    return svc.service.safety.status()["weather"]["state"]


def value(svc: RunningService, device: str, prop: str, element: str) -> Any:
    return svc.service.client.devices[device].properties[prop][element]


def indi_port(svc: RunningService) -> int:
    """The INDI port INDI clients are given (``--embedded-indi-port``)."""
    port = svc.service.config.embedded_indi_port
    assert port is not None
    return port


async def getprop(svc: RunningService, spec: str) -> str:
    """One value as INDI's own ``indi_getprop`` reads it through the INDI port
    (in a thread: the service serves that port in this event loop)."""
    done = await asyncio.to_thread(
        subprocess.run,
        ["indi_getprop", "-p", str(indi_port(svc)), "-t", "3", "-1", spec],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def rest(svc: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await AsyncHTTPClient().fetch(
        svc.url + path,
        method=method,
        body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=60,
    )
    return resp.code, json.loads(resp.body) if resp.body else None


def prop_path(device: str, name: str) -> str:
    return f"/api/v1/devices/{device.replace(' ', '%20')}/properties/{name}"


async def park(svc: RunningService) -> None:
    status, answer = await rest(
        svc, "PUT", prop_path(SCOPE, "TELESCOPE_PARK"), {"values": {"PARK": True}, "timeout": 60}
    )
    assert status == 200, answer
    await until(svc, lambda: value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON)


async def set_weather(svc: RunningService, **control: float) -> None:
    client = svc.service.client
    await client.set_property(WEATHER, "WEATHER_CONTROL", control, wait=True, timeout=10)
    await client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})


async def make_unsafe(svc: RunningService) -> None:
    await set_weather(svc, Precip=10)
    await until(svc, lambda: not svc.service.safety.safe and not svc.service.safety.closing, 60)
    # The close-up has run: the mount is parked (not parking) and the dome closed.
    await until(svc, lambda: parked(svc) and closed(svc), 90)


def parked(svc: RunningService) -> bool:
    park = svc.service.client.devices[SCOPE].properties["TELESCOPE_PARK"]
    return park.state is not PropertyState.BUSY and park["PARK"] is SwitchState.ON


def closed(svc: RunningService) -> bool:
    shutter = svc.service.client.devices[DOME].properties["DOME_SHUTTER"]
    return shutter.state is not PropertyState.BUSY and shutter["SHUTTER_CLOSE"] is SwitchState.ON


async def make_safe(svc: RunningService) -> None:
    await set_weather(svc, Precip=0)
    await until(svc, lambda: svc.service.safety.safe, 60)


def browser_post(port: int, body: str, origin: str = "http://127.0.0.1:8080") -> bytes:
    """What Chromium sends for ``fetch("http://127.0.0.1:PORT/", {method: "POST",
    mode: "no-cors", body})`` from a page of ``origin``."""
    payload = body.encode()
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Connection: keep-alive\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n"
        "Accept: */*\r\n"
        f"Origin: {origin}\r\n"
        "Sec-Fetch-Site: same-site\r\n"
        "Sec-Fetch-Mode: no-cors\r\n"
        "Sec-Fetch-Dest: empty\r\n"
        f"Referer: {origin}/\r\n"
        "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        "Accept-Language: en-US,en;q=0.9\r\n\r\n"
    )
    return head.encode() + payload


def deliver(port: int, data: bytes) -> str:
    """Send ``data`` as a browser would to 127.0.0.1:``port``: ``refused`` (no
    connection), ``closed`` (the connection closed without an answer) or
    ``kept`` (the peer read it and kept the connection, as indiserver does)."""
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=3)
    except (TimeoutError, ConnectionRefusedError):
        return "refused"
    with conn:
        try:
            conn.sendall(data)
            answer = conn.recv(4096)
        except TimeoutError:
            return "kept"
        except ConnectionResetError:
            return "closed"
        return "closed" if answer == b"" else f"answered {answer[:60]!r}"


# ------------------------------------------------ 1. cross-protocol POST


async def test_a_browsers_post_reaches_no_indiserver_port(svc: RunningService) -> None:
    await park(svc)
    assert await getprop(svc, f"{SCOPE}.TELESCOPE_PARK.PARK") == "On"
    ports = {indi_port(svc), svc.service.client.port}  # the INDI port, indiserver's own
    for port in sorted(ports):
        outcome = await asyncio.to_thread(deliver, port, browser_post(port, UNPARK_XML))
        assert outcome in ("refused", "closed"), (port, outcome)
    # The same bytes with white space or a TLS-like first byte: closed too.
    port = indi_port(svc)
    for data in (b"\r\n" + browser_post(port, UNPARK_XML), b"\x16\x03\x01" + UNPARK_XML.encode()):
        assert await asyncio.to_thread(deliver, port, data) == "closed"
    # indiserver ran none of it (indi_getprop reads after the attempts).
    assert await getprop(svc, f"{SCOPE}.TELESCOPE_PARK.PARK") == "On"
    assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON
    # The service and INDI clients of the INDI port still work.
    status, answer = await rest(svc, "GET", prop_path(SCOPE, "TELESCOPE_PARK"))
    assert status == 200 and answer["state"] in ("Ok", "Idle"), answer
    assert svc.service.server_status()["open_to_network"] is False


async def test_indi_clients_of_the_indi_port_read_and_write(svc: RunningService) -> None:
    before = float(
        await getprop(svc, "Focuser Simulator.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION")
    )
    target = 30000 if before != 30000 else 31000
    done = await asyncio.to_thread(
        subprocess.run,
        [
            "indi_setprop",
            "-p",
            str(indi_port(svc)),
            f"Focuser Simulator.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION={target}",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    await until(
        svc,
        lambda: (
            value(svc, "Focuser Simulator", "ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION")
            == target
        ),
        30,
    )


class _AttackPage(tornado.web.RequestHandler):
    def initialize(self, targets: list[int]) -> None:
        self.targets = targets

    def get(self) -> None:
        body = json.dumps(UNPARK_XML)
        self.write(
            "<!doctype html><title>attack</title><script>"
            f"const targets = {json.dumps(self.targets)};"
            "window.done = Promise.all(targets.map(async (port) => {"
            "  const stop = new AbortController(); setTimeout(() => stop.abort(), 4000);"
            "  try {"
            f"    await fetch(`http://127.0.0.1:${{port}}/`, {{method: 'POST', mode: 'no-cors',"
            f"      body: {body}, signal: stop.signal}});"
            "    return 'answered';"
            "  } catch (e) { return e.name; }"
            "}));"
            "</script>"
        )


async def test_a_page_of_another_local_origin_in_chromium_cannot_unpark(
    svc: RunningService,
) -> None:
    playwright = pytest.importorskip("playwright.async_api")
    from indiws.browser_testing import launch_chromium

    await park(svc)
    targets = sorted({indi_port(svc), svc.service.client.port})
    page_port = free_port()
    server = tornado.web.Application([("/", _AttackPage, {"targets": targets})]).listen(
        page_port, "127.0.0.1"
    )
    try:
        async with playwright.async_playwright() as pw:
            context = await launch_chromium(pw)
            try:
                page = await context.new_page()
                await page.goto(f"http://127.0.0.1:{page_port}/")
                outcomes = await page.evaluate("window.done")
            finally:
                await context.close()
    finally:
        server.stop()
    assert len(outcomes) == len(targets)
    assert await getprop(svc, f"{SCOPE}.TELESCOPE_PARK.PARK") == "On"
    assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON


def phd2_call(port: int, method: str, params: list[Any] | None = None) -> Any:
    """One request to PHD2's protocol port, as a guiding client sends it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        request = {"method": method, "params": params or [], "id": 1}
        conn.sendall(json.dumps(request).encode() + b"\r\n")
        stream = conn.makefile("rb")
        while True:
            msg = json.loads(stream.readline())
            if msg.get("id") == 1:
                return msg["result"]


async def test_a_browsers_post_of_json_lines_to_phd2s_port_is_dropped(
    svc: RunningService,
) -> None:
    from indiws.web.phd2 import PHD2Server

    phd2 = PHD2Server(svc.service, "127.0.0.1", 0)
    assert await phd2.start()
    try:
        before = await asyncio.to_thread(phd2_call, phd2.port, "get_exposure")
        wanted = 3000 if before != 3000 else 2000
        body = json.dumps({"method": "set_exposure", "params": [wanted], "id": 5}) + "\r\n"
        data = browser_post(phd2.port, body)
        outcome = await asyncio.to_thread(deliver_all, phd2.port, data)
        assert outcome == "closed", outcome
        assert await asyncio.to_thread(phd2_call, phd2.port, "get_exposure") == before
    finally:
        await phd2.stop()


def deliver_all(port: int, data: bytes) -> str:
    """Like `deliver`, reading past what a server says first (PHD2 greets)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        try:
            while conn.recv(65536):
                pass
        except TimeoutError:
            return "kept"
        except ConnectionResetError:
            pass
        return "closed"


# ------------------------------------ 4. low-level writes while unsafe


def indi_exchange(port: int, data: bytes, until: bytes) -> bytes:
    """Send ``data`` to an INDI port as a client does (after getProperties);
    what came back until ``until`` was seen."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b'<getProperties version="1.7"/>\n' + data)
        seen = b""
        while until not in seen:
            chunk = conn.recv(65536)
            if not chunk:
                break
            seen += chunk
        return seen


async def test_low_level_writes_that_move_hardware_are_refused_while_unsafe(
    svc: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    await make_unsafe(svc)
    try:
        assert value(svc, DOME, "DOME_SHUTTER", "SHUTTER_CLOSE") is SwitchState.ON
        attempts = [
            ("TELESCOPE_PARK", SCOPE, {"UNPARK": True}),
            ("EQUATORIAL_EOD_COORD", SCOPE, {"RA": 3.0, "DEC": 20.0}),
            ("TELESCOPE_MOTION_NS", SCOPE, {"MOTION_NORTH": True}),
            ("TELESCOPE_TRACK_STATE", SCOPE, {"TRACK_ON": True}),
            ("DOME_SHUTTER", DOME, {"SHUTTER_OPEN": True}),
            ("DOME_PARK", DOME, {"UNPARK": True}),
        ]
        for name, device, values in attempts:
            status, answer = await rest(svc, "PUT", prop_path(device, name), {"values": values})
            assert status == 409, (name, answer)
            assert answer["error"]["code"] == "unsafe", answer
            assert "force" in answer["error"]["message"]
        ws = await WsClient.open(svc.ws_url + "/ws/indi/")
        try:
            for name, device, values in attempts:
                err = await ws.error("set", {"device": device, "property": name, "values": values})
                assert err["data"]["error"] == "unsafe", (name, err)
        finally:
            await ws.close()
        # lightAPT's property page (cobalt-web's): the property as listed, one switch flipped.
        lightapt = await LightAptClient.open(svc)
        try:
            for name, element in (
                ("TELESCOPE_MOTION_NS", "MOTION_NORTH"),
                ("TELESCOPE_PARK", "UNPARK"),
            ):
                listed = await lightapt.data("telescope", "get_parameter", [])
                info = next(p for p in listed if p["property_name"] == name)["property_info"]
                key = "switch" if "switch" in info["data"][0] else "value"
                for entry in info["data"]:
                    entry[key] = entry["name"] == element
                reply = await lightapt.ask("telescope", "set_any_one_parameter", [name, info])
                assert reply["type"] == "error" and "unsafe" in reply["message"], reply
        finally:
            await lightapt.close()
        # INDI clients of the INDI port: refused, with a message saying why.
        done = await asyncio.to_thread(
            subprocess.run,
            ["indi_setprop", "-p", str(indi_port(svc)), f"{SCOPE}.TELESCOPE_PARK.UNPARK=On"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        # Nothing moved: indi_getprop reads after every attempt.
        assert await getprop(svc, f"{SCOPE}.TELESCOPE_PARK.PARK") == "On"
        assert await getprop(svc, f"{DOME}.DOME_SHUTTER.SHUTTER_CLOSE") == "On"
        assert await getprop(svc, f"{SCOPE}.TELESCOPE_MOTION_NS.MOTION_NORTH") == "Off"
        # Coordinates written while ON_COORD_SET is SYNC move nothing: not refused.
        coord_set = prop_path(SCOPE, "ON_COORD_SET")
        status, answer = await rest(svc, "PUT", coord_set, {"values": {"SYNC": True}})
        assert status == 200, answer
        status, answer = await rest(
            svc, "PUT", prop_path(SCOPE, "EQUATORIAL_EOD_COORD"), {"values": {"RA": 3.0}}
        )
        assert status != 409, answer
        status, answer = await rest(svc, "PUT", coord_set, {"values": {"TRACK": True}})
        assert status == 200, answer
        # What the INDI port's client gets back: the property set to Alert, and why.
        answer = await asyncio.to_thread(
            indi_exchange,
            indi_port(svc),
            UNPARK_XML.encode(),
            b'name="TELESCOPE_PARK" state="Alert"',
        )
        assert b"unpark refused" in answer, answer
        # Safe directions pass: closing the shutter, aborting.
        status, answer = await rest(
            svc, "PUT", prop_path(DOME, "DOME_SHUTTER"), {"values": {"SHUTTER_CLOSE": True}}
        )
        assert status == 200, answer
        # Forced: it goes through, and the log says who forced it, on every front.
        caplog.set_level(logging.WARNING, logger="indiws.devices")
        hl = await WsClient.open(svc.ws_url + "/ws/indi_client/")
        try:
            await hl.call("telescope.unpark", {"force": True}, timeout=60)
        finally:
            await hl.close()
        verbs = [r.getMessage() for r in caplog.records if "unpark forced" in r.getMessage()]
        assert verbs and "by 127.0.0.1 (/ws/indi_client/, no token)" in verbs[-1], verbs
        status, answer = await rest(
            svc,
            "PUT",
            prop_path(SCOPE, "TELESCOPE_PARK"),
            {"values": {"UNPARK": True}, "force": True},
        )
        assert status == 200, answer
        await until(svc, lambda: value(svc, SCOPE, "TELESCOPE_PARK", "UNPARK") is SwitchState.ON)
        forced = [r.getMessage() for r in caplog.records if "forced" in r.getMessage()]
        assert forced and "127.0.0.1 (REST, no token)" in forced[-1], forced
        assert "TELESCOPE_PARK" in forced[-1]
    finally:
        await make_safe(svc)


async def test_an_unpark_written_while_the_mount_parks_is_refused(svc: RunningService) -> None:
    status, answer = await rest(
        svc, "PUT", prop_path(SCOPE, "TELESCOPE_PARK"), {"values": {"UNPARK": True}}
    )
    assert status == 200, answer
    # 70 degrees from the park position at the pole (synced there: no slew,
    # none across the meridian at some hours).
    await sync_mount_east_of_meridian(svc.service.client, SCOPE, dec=20.0)
    # Park without waiting: the mount slews to its park position, Busy.
    status, answer = await rest(
        svc,
        "PUT",
        prop_path(SCOPE, "TELESCOPE_PARK"),
        {"values": {"PARK": True}, "wait": False},
    )
    assert status in (200, 202), answer
    await until(
        svc,
        lambda: (
            svc.service.client.devices[SCOPE].properties["TELESCOPE_PARK"].state
            is PropertyState.BUSY
        ),
    )
    for force in (False, True):
        status, answer = await rest(
            svc,
            "PUT",
            prop_path(SCOPE, "TELESCOPE_PARK"),
            {"values": {"UNPARK": True}, "force": force},
        )
        assert status == 409 and answer["error"]["code"] == "invalid_state", answer
        assert "parking" in answer["error"]["message"]
    await until(
        svc,
        lambda: (
            svc.service.client.devices[SCOPE].properties["TELESCOPE_PARK"].state
            is not PropertyState.BUSY
        ),
        120,
    )
    assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON


# ----------------------------------------------- 3. WEATHER_OVERRIDE


async def test_a_weather_override_written_on_the_device_does_not_make_it_safe(
    svc: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    await make_unsafe(svc)
    try:
        status, answer = await rest(
            svc,
            "PUT",
            prop_path(WEATHER, "WEATHER_OVERRIDE"),
            {"values": {"OVERRIDE": True}, "wait": False},
        )
        assert status == 202, answer  # it reaches the driver, which turns it on (Busy)
        # Let the driver judge again with its override on.
        await svc.service.client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})
        await getprop(svc, f"{WEATHER}.WEATHER_STATUS._STATE")
        assert not svc.service.safety.safe
        assert svc.service.safety.guard("telescope", "unpark") is not None
        status, answer = await rest(
            svc, "PUT", prop_path(SCOPE, "TELESCOPE_PARK"), {"values": {"UNPARK": True}}
        )
        assert status == 409 and answer["error"]["code"] == "unsafe", answer
        # The operator's override, through the service: logged, shown, announced.
        ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
        try:
            caplog.set_level(logging.WARNING, logger="indiws.safety")
            status = await ws.call("safety.override_weather", {"on": True, "note": "clear sky"})
            assert status["safe"] is True, status
            override = status["weather_override"]
            assert override["by"] == "127.0.0.1 (/ws/indi_client/, no token)", override
            assert override["note"] == "clear sky"
            note = await ws.next_note("safety", lambda p: p["weather_override"] is not None)
            assert note["params"]["safe"] is True
            assert any("weather override ON by 127.0.0.1" in r.getMessage() for r in caplog.records)
            status = await ws.call("safety.override_weather", {"on": False})
            assert status["weather_override"] is None and status["safe"] is False, status
        finally:
            await ws.close()
    finally:
        await svc.service.client.set_property(
            WEATHER, "WEATHER_OVERRIDE", {"OVERRIDE": False}, wait=False
        )
        await make_safe(svc)
