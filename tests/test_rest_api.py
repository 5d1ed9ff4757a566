"""The JSON REST API under /api/v1/, through real HTTP against the shared indiserver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient

from indiws.roles import ROLES
from indiws.service import Config, Service
from indiws.testing import RunningService, free_port
from indiws.web.app import make_app
from indiws.web.rest import decode_interfaces

API = "/api/v1"
SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}


async def call(
    url: str, method: str = "GET", body: Any = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    """(status, decoded JSON body or None); never raises on an HTTP error status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is None and method in ("PUT", "POST"):
        data = b""
    resp = await AsyncHTTPClient().fetch(
        url, method=method, body=data, raise_error=False, allow_nonstandard_methods=True
    )
    if resp.code == 599:
        raise resp.error  # type: ignore[misc]
    text = resp.body.decode() if resp.body else ""
    return resp.code, json.loads(text) if text else None


async def set_prop(
    svc: RunningService, device: str, name: str, values: dict[str, Any], **extra: Any
) -> tuple[int, Any]:
    url = f"{svc.url}{API}/devices/{_q(device)}/properties/{name}"
    return await call(url, "PUT", {"values": values, **extra})


async def connect(svc: RunningService, device: str, *needs: str) -> None:
    """Connect ``device`` through the API; wait until the properties a driver
    defines once connected (``needs``) have arrived: they follow the
    CONNECTION answer by a few tens of milliseconds."""
    code, body = await set_prop(svc, device, "CONNECTION", {"CONNECT": True}, timeout=20)
    assert code == 200, body
    assert body["state"] == "Ok"
    assert svc.service.client.devices[device].connected
    for name in needs:
        await svc.service.client.wait_for_property(device, name, timeout=5)


def _q(name: str) -> str:
    return name.replace(" ", "%20")


# ---------------------------------------------------------------- reading


def test_interfaces_bitmask_decoded() -> None:
    assert decode_interfaces(0) == []
    assert decode_interfaces(22) == ["ccd", "guider", "filter"]
    assert decode_interfaces(1 | 4) == ["telescope", "guider"]
    assert decode_interfaces(1 << 15 | 1 << 12) == ["rotator", "aux"]
    assert decode_interfaces(1 << 20) == ["bit20"]


async def test_devices_list(running_service: RunningService) -> None:
    svc = running_service
    code, body = await call(f"{svc.url}{API}/devices")
    assert code == 200
    by_name = {d["name"]: d for d in body}
    assert set(by_name) == SIMULATORS
    assert {n: d["interfaces"] for n, d in by_name.items()} == {
        "Telescope Simulator": ["telescope", "guider"],
        "CCD Simulator": ["ccd", "guider", "filter"],
        "Focuser Simulator": ["focuser"],
        "Filter Simulator": ["filter"],
    }
    ccd = by_name["CCD Simulator"]
    assert ccd["driver"] == {
        "name": "CCD Simulator",
        "exec": "indi_simulator_ccd",
        "version": "1.0",
        "interface": 22,
    }
    assert ccd["roles"] == []
    assert isinstance(ccd["connected"], bool)
    assert ccd["property_count"] > 0
    # A role shows on its device; the same device can hold two.
    svc.service.db.set_role("camera", "CCD Simulator")
    svc.service.db.set_role("filter_wheel", "CCD Simulator")
    code, body = await call(f"{svc.url}{API}/devices/")
    assert {d["name"]: d["roles"] for d in body}["CCD Simulator"] == ["camera", "filter_wheel"]


async def test_one_device_url_encoded(running_service: RunningService) -> None:
    svc = running_service
    code, body = await call(f"{svc.url}{API}/devices/CCD%20Simulator")
    assert code == 200, body
    assert body["name"] == "CCD Simulator"
    names = {p["name"] for p in body["properties"]}
    assert {"CONNECTION", "DRIVER_INFO"} <= names
    assert body["property_count"] == len(body["properties"])
    assert isinstance(body["messages"], list)
    code, props = await call(f"{svc.url}{API}/devices/CCD%20Simulator/properties")
    assert code == 200
    assert {p["name"] for p in props} == names


async def test_one_property(running_service: RunningService) -> None:
    svc = running_service
    code, body = await call(f"{svc.url}{API}/devices/Focuser%20Simulator/properties/CONNECTION")
    assert code == 200
    assert body["device"] == "Focuser Simulator"
    assert body["kind"] == "Switch" and body["rule"] == "OneOfMany" and body["perm"] == "rw"
    assert [e["name"] for e in body["elements"]] == ["CONNECT", "DISCONNECT"]
    assert {e["value"] for e in body["elements"]} <= {"On", "Off"}


async def test_names_are_decoded_once(running_service: RunningService) -> None:
    # %2520 is an encoded "%20": the device asked for is literally "CCD%20Simulator".
    code, body = await call(f"{running_service.url}{API}/devices/CCD%2520Simulator")
    assert code == 404
    assert body["error"]["code"] == "unknown_device"
    assert body["error"]["data"]["device"] == "CCD%20Simulator"


async def test_unknown_names_are_404_naming_them(running_service: RunningService) -> None:
    url = running_service.url + API
    for path, code_name, data in [
        ("/devices/No%20Such%20Camera", "unknown_device", {"device": "No Such Camera"}),
        ("/devices/No%20Such/properties", "unknown_device", {"device": "No Such"}),
        ("/devices/A%2FB%3F%25", "unknown_device", {"device": "A/B?%"}),
        (
            "/devices/CCD%20Simulator/properties/NO_SUCH_PROP",
            "unknown_property",
            {"device": "CCD Simulator", "property": "NO_SUCH_PROP"},
        ),
        ("/roles/spectrograph", "unknown_role", {"role": "spectrograph"}),
        ("/no/such/endpoint", "http_error", {}),
    ]:
        code, body = await call(url + path)
        assert code == 404, (path, body)
        err = body["error"]
        assert err["code"] == code_name, path
        assert err["data"] == data, path
        for value in data.values():
            assert value in err["message"], path


async def test_wrong_method_is_405_json(running_service: RunningService) -> None:
    code, body = await call(f"{running_service.url}{API}/devices", "DELETE")
    assert code == 405
    assert body["error"]["code"] == "http_error"


async def test_unknown_endpoint_names_the_path_as_sent(running_service: RunningService) -> None:
    code, body = await call(f"{running_service.url}/no%25such/100%")
    assert code == 404
    assert body["error"]["message"] == "no such endpoint: /no%25such/100%"


async def test_status(running_service: RunningService, indiserver: Any) -> None:
    code, body = await call(f"{running_service.url}{API}/status")
    assert code == 200
    assert body["service"] == "indiws"
    assert body["indiserver"]["connected"] is True
    assert body["indiserver"]["port"] == indiserver.port
    assert body["device_count"] == 4
    assert 0 <= body["connected_devices"] <= 4
    assert body["uptime_s"] >= 0
    assert set(body["roles"]) == set(ROLES)


# ---------------------------------------------------------------- setting


async def test_set_waits_for_the_final_state(running_service: RunningService) -> None:
    svc = running_service
    client = svc.service.client
    await connect(svc, "Focuser Simulator", "ABS_FOCUS_POSITION")
    current = client.get_property("Focuser Simulator", "ABS_FOCUS_POSITION")[
        "FOCUS_ABSOLUTE_POSITION"
    ]
    first = current + 2000 if current < 90000 else current - 2000
    states: list[str] = []
    with client.subscribe(
        lambda e: states.append(e.property.state.value) if e.property else None,
        device="Focuser Simulator",
        name="ABS_FOCUS_POSITION",
    ):
        code, body = await set_prop(
            svc, "Focuser Simulator", "ABS_FOCUS_POSITION", {"FOCUS_ABSOLUTE_POSITION": first}
        )
    assert code == 200, body
    # The answer came after the driver's own answer (at the end of the move).
    assert states and states[-1] == "Ok", states
    assert body["state"] == "Ok"
    assert body["elements"][0]["value"] == first
    # POST is the same call.
    url = f"{svc.url}{API}/devices/Focuser%20Simulator/properties/ABS_FOCUS_POSITION"
    code, body = await call(url, "POST", {"values": {"FOCUS_ABSOLUTE_POSITION": first - 1000}})
    assert code == 200 and body["elements"][0]["value"] == first - 1000
    # Without waiting: 202, sent but not necessarily applied yet.
    last = first - 500
    code, body = await call(
        url, "PUT", {"values": {"FOCUS_ABSOLUTE_POSITION": f"{last:.0f}"}, "wait": False}
    )
    assert code == 202, body
    assert body["name"] == "ABS_FOCUS_POSITION"
    final = await client.wait_for(
        "Focuser Simulator",
        "ABS_FOCUS_POSITION",
        lambda p: p["FOCUS_ABSOLUTE_POSITION"] == last and not p.busy,
    )
    assert final.state.value == "Ok"


async def test_partial_number_vector_keeps_the_other_elements(
    running_service: RunningService, indiserver: Any
) -> None:
    """Only LAT and LONG given: the driver still gets ELEV (its current
    value), as KStars sends it; without it the simulator stored garbage."""
    svc = running_service
    await connect(svc, "Telescope Simulator", "GEOGRAPHIC_COORD")
    before = svc.service.client.get_property("Telescope Simulator", "GEOGRAPHIC_COORD")
    # A real site: the simulator refuses latitude and longitude both 0 (a
    # fresh HOME's defaults) as "Location data missing or corrupted".
    lat, lon, elev = 48.1, 11.6, before["ELEV"] + 123.0
    code, body = await set_prop(
        svc, "Telescope Simulator", "GEOGRAPHIC_COORD", {"LAT": lat, "LONG": lon, "ELEV": elev}
    )
    assert code == 200 and body["state"] == "Ok", body
    code, body = await set_prop(
        svc, "Telescope Simulator", "GEOGRAPHIC_COORD", {"LAT": lat + 0.5, "LONG": lon}
    )
    assert code == 200 and body["state"] == "Ok", body
    out = await asyncio.create_subprocess_exec(
        "indi_getprop",
        "-p",
        str(indiserver.port),
        "Telescope Simulator.GEOGRAPHIC_COORD.*",
        stdout=asyncio.subprocess.PIPE,
    )
    text, _ = await out.communicate()
    got = {
        k.rsplit(".", 1)[1]: float(v)
        for k, v in (ln.split("=") for ln in text.decode().splitlines())
    }
    assert got["ELEV"] == pytest.approx(elev) and got["LAT"] == pytest.approx(lat + 0.5)
    # Put it back for the other tests on the shared indiserver.
    code, body = await set_prop(
        svc,
        "Telescope Simulator",
        "GEOGRAPHIC_COORD",
        {"LAT": before["LAT"], "LONG": before["LONG"], "ELEV": before["ELEV"]},
    )
    assert code == 200 and body["state"] != "Alert", body


async def test_alert_is_answered_as_a_state(running_service: RunningService) -> None:
    svc = running_service
    await connect(svc, "Telescope Simulator", "TIME_UTC")
    code, body = await set_prop(svc, "Telescope Simulator", "TIME_UTC", {"UTC": "not a time"})
    assert code == 200, body
    assert body["state"] == "Alert"
    assert "invalid" in body["message"].lower()


async def test_still_busy_after_timeout_is_504(running_service: RunningService) -> None:
    svc = running_service
    await connect(svc, "CCD Simulator", "CCD_EXPOSURE", "CCD_ABORT_EXPOSURE")
    try:
        code, body = await set_prop(
            # The simulator asks `gsc` for its stars before it goes Busy: give it
            # time to (a loaded machine too), and the exposure time to still be
            # running after (it is aborted below).
            svc,
            "CCD Simulator",
            "CCD_EXPOSURE",
            {"CCD_EXPOSURE_VALUE": 30},
            timeout=5.0,
        )
        assert code == 504, body
        err = body["error"]
        assert err["code"] == "timeout"
        assert "Busy" in err["message"]
        assert err["data"]["current"]["state"] == "Busy"
        assert err["data"]["current"]["name"] == "CCD_EXPOSURE"
    finally:
        code, body = await set_prop(svc, "CCD Simulator", "CCD_ABORT_EXPOSURE", {"ABORT": True})
        assert code == 200, body


async def test_bad_input_is_4xx_and_nothing_is_sent(running_service: RunningService) -> None:
    svc = running_service
    await connect(svc, "Focuser Simulator", "ABS_FOCUS_POSITION")
    await connect(svc, "Telescope Simulator", "TELESCOPE_TRACK_STATE", "TIME_UTC")
    focuser = f"{svc.url}{API}/devices/Focuser%20Simulator/properties"
    scope = f"{svc.url}{API}/devices/Telescope%20Simulator/properties"
    abs_pos = f"{focuser}/ABS_FOCUS_POSITION"

    def body(values: Any, **extra: Any) -> bytes:
        return json.dumps({"values": values, **extra}).encode()

    cases: list[tuple[str, str, bytes, int, str, str]] = [
        # (what, url, body, status, error code, text the message must contain)
        (
            "unknown device",
            f"{svc.url}{API}/devices/Nope/properties/CONNECTION",
            body({"CONNECT": True}),
            404,
            "unknown_device",
            "Nope",
        ),
        ("unknown property", f"{focuser}/NOPE", body({"X": 1}), 404, "unknown_property", "NOPE"),
        (
            "unknown element",
            abs_pos,
            body({"NOPE": 1}),
            404,
            "unknown_element",
            "FOCUS_ABSOLUTE_POSITION",
        ),
        (
            "read-only",
            f"{focuser}/DRIVER_INFO",
            body({"DRIVER_NAME": "x"}),
            400,
            "read_only",
            "read-only",
        ),
        (
            "text for a number",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": "far"}),
            400,
            "invalid_value",
            "number",
        ),
        (
            "list for a number",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": [1]}),
            400,
            "invalid_value",
            "number",
        ),
        (
            "number for a switch",
            f"{scope}/TELESCOPE_TRACK_STATE",
            body({"TRACK_ON": 3}),
            400,
            "invalid_value",
            "switch",
        ),
        (
            "number for text",
            f"{scope}/TIME_UTC",
            body({"UTC": 12}),
            400,
            "invalid_value",
            "text",
        ),
        (
            "out of range",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": 200000}),
            400,
            "invalid_value",
            "within",
        ),
        (
            "two switches On in OneOfMany",
            f"{scope}/TELESCOPE_TRACK_STATE",
            body({"TRACK_ON": True, "TRACK_OFF": True}),
            400,
            "invalid_value",
            "only one",
        ),
        ("malformed JSON", abs_pos, b'{"values": {', 400, "invalid_params", "not valid JSON"),
        ("not UTF-8", abs_pos, b"\xff\xfe", 400, "invalid_params", "not valid JSON"),
        ("body is an array", abs_pos, b"[1, 2]", 400, "invalid_params", "JSON object"),
        ("body is a string", abs_pos, b'"hello"', 400, "invalid_params", "JSON object"),
        ("empty body", abs_pos, b"", 400, "invalid_params", "values"),
        ("values not an object", abs_pos, body([1]), 400, "invalid_params", "values"),
        ("values empty", abs_pos, body({}), 400, "invalid_params", "values"),
        (
            "wait not a boolean",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": 1000}, wait="yes"),
            400,
            "invalid_params",
            "wait",
        ),
        (
            "negative timeout",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": 1000}, timeout=-1),
            400,
            "invalid_params",
            "timeout",
        ),
        (
            "timeout as text",
            abs_pos,
            body({"FOCUS_ABSOLUTE_POSITION": 1000}, timeout="60"),
            400,
            "invalid_params",
            "timeout",
        ),
        (
            "unknown field",
            abs_pos,
            json.dumps({"values": {"FOCUS_ABSOLUTE_POSITION": 1}, "vaules": 1}).encode(),
            400,
            "invalid_params",
            "vaules",
        ),
    ]
    stats = svc.service.client.stats
    for what, url, raw, status, code_name, text in cases:
        sent = stats["bytes_out"]
        for method in ("PUT", "POST"):
            code, answer = await call(url, method, raw=raw)
            assert code == status, (what, method, answer)
            err = answer["error"]
            assert err["code"] == code_name, (what, err)
            assert text.lower() in err["message"].lower(), (what, err)
            assert isinstance(err["data"], dict)
            if code_name in ("invalid_value", "read_only", "unknown_element"):
                assert url.endswith("/" + err["data"]["property"]), (what, err)
                assert err["data"]["device"] in ("Focuser Simulator", "Telescope Simulator")
        assert stats["bytes_out"] == sent, f"{what}: something was sent to indiserver"


# ---------------------------------------------------------------- roles


async def test_roles(running_service: RunningService) -> None:
    svc = running_service
    url = f"{svc.url}{API}/roles"
    code, body = await call(url)
    assert code == 200
    assert set(body) == set(ROLES)
    assert all(r["device_name"] is None for r in body.values())

    code, body = await call(f"{url}/camera", "PUT", {"device": "CCD Simulator"})
    assert code == 201, body
    assert body == {
        "role": "camera",
        "device_name": "CCD Simulator",
        "present": True,
        "connected": True,
        "previous_device": None,
    }
    assert svc.service.client.devices["CCD Simulator"].connected
    # The same device as a second role; then the role replaced.
    code, body = await call(f"{url}/filter_wheel", "PUT", {"device": "CCD Simulator"})
    assert code == 201
    code, body = await call(f"{url}/filter_wheel/", "PUT", {"device": "Filter Simulator"})
    assert code == 200
    assert body["previous_device"] == "CCD Simulator"
    assert body["device_name"] == "Filter Simulator"
    code, body = await call(f"{url}/filter_wheel")
    assert code == 200 and body["device_name"] == "Filter Simulator"

    # connect=false only assigns.
    code, body = await set_prop(svc, "Focuser Simulator", "CONNECTION", {"DISCONNECT": True})
    assert code == 200
    code, body = await call(
        f"{url}/focuser", "PUT", {"device": "Focuser Simulator", "connect": False}
    )
    assert code == 201
    assert body["connected"] is False

    code, body = await call(url)
    assert {r: v["device_name"] for r, v in body.items()} == {
        "telescope": None,
        "camera": "CCD Simulator",
        "focuser": "Focuser Simulator",
        "filter_wheel": "Filter Simulator",
        **{role: None for role in ROLES[4:]},
    }

    code, body = await call(f"{url}/camera", "DELETE")
    assert (code, body) == (204, None)
    code, body = await call(f"{url}/camera", "DELETE")  # already free: still 204
    assert (code, body) == (204, None)
    code, body = await call(f"{url}/camera")
    assert body["device_name"] is None
    assert svc.service.db.get_role("camera") is None


async def test_role_errors(running_service: RunningService) -> None:
    svc = running_service
    url = f"{svc.url}{API}/roles"
    for role, raw, status, code_name, text in [
        ("spectrograph", b'{"device": "CCD Simulator"}', 404, "unknown_role", "spectrograph"),
        ("camera", b'{"device": "No Such Cam"}', 404, "unknown_device", "No Such Cam"),
        ("camera", b"", 400, "invalid_params", "device"),
        ("camera", b'{"device": ""}', 400, "invalid_params", "device"),
        ("camera", b'{"device": 7}', 400, "invalid_params", "device"),
        ("camera", b'{"device": "CCD Simulator", "connect": 1}', 400, "invalid_params", "connect"),
        ("camera", b'{"device": "CCD Simulator", "x": 1}', 400, "invalid_params", "'x'"),
        ("camera", b"[]", 400, "invalid_params", "JSON object"),
        ("camera", b"{", 400, "invalid_params", "not valid JSON"),
    ]:
        code, body = await call(f"{url}/{role}", "PUT", raw=raw)
        assert code == status, (raw, body)
        assert body["error"]["code"] == code_name, (raw, body)
        assert text in body["error"]["message"], (raw, body)
    assert svc.service.roles.assignments()["camera"] is None
    code, body = await call(f"{url}/spectrograph", "DELETE")
    assert code == 404 and body["error"]["code"] == "unknown_role"


# ---------------------------------------------------------------- no indiserver


async def test_without_indiserver_device_calls_are_503(tmp_path: Path) -> None:
    port = free_port()
    service = Service(
        Config(indi_host="127.0.0.1", indi_port=free_port(), port=port, data_dir=tmp_path)
    )
    await service.start()
    server = make_app(service).listen(port, "127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.sleep(0.1)
        for method, path, body in [
            ("GET", "/devices", None),
            ("GET", "/devices/CCD%20Simulator", None),
            ("GET", "/devices/CCD%20Simulator/properties/CONNECTION", None),
            ("PUT", "/devices/CCD%20Simulator/properties/CONNECTION", {"values": {"CONNECT": 1}}),
            ("PUT", "/roles/camera", {"device": "CCD Simulator"}),
        ]:
            code, answer = await call(url + API + path, method, body)
            assert code == 503, (path, answer)
            assert answer["error"]["code"] == "indiserver_unreachable"
            assert "not connected to indiserver" in answer["error"]["message"]
        code, answer = await call(url + API + "/status")
        assert code == 200
        assert answer["indiserver"]["connected"] is False
        assert answer["device_count"] == 0
        code, answer = await call(url + API + "/roles")
        assert code == 200
    finally:
        server.stop()
        await server.close_all_connections()
        await service.stop()
