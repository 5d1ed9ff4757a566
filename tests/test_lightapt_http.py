"""lightAPT's HTTP calls and URL prefixes, replayed byte for byte as its front
ends send them, against the four simulators.

- the seed's ``/FIFO/...`` (curl, or the browser's address bar as its doc
  says) and ``/get/all/devices/``;
- its last version's ``/indi/...`` prefix and ``/indi/server/*``;
- its INDI Web Manager page (jQuery) under ``/indiweb/api/``;
- its later React front end (axios): ``/driver_connect/*``, ``/device_connect/*``.

The text commands of ``/ws/debugging/`` are in test_ws_debugging.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect
from ws_support import WsClient, tick_driver_command

from indiws.service import Config, Service
from indiws.testing import (
    IndiServerFactory,
    IndiServerProcess,
    RunningService,
    free_port,
    start_service,
)
from indiws.web import seed
from indiws.web.app import make_app

SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}
#: Every role name a lightAPT front end or the seed's doc uses: (name, our role, device).
ROLE_NAMES = [
    ("telescope", "telescope", "Telescope Simulator"),
    ("camera", "camera", "CCD Simulator"),
    ("focus", "focuser", "Focuser Simulator"),
    ("filter", "filter_wheel", "Filter Simulator"),
    ("guider", "guider", "CCD Simulator"),  # a second camera
    ("focuser", "focuser", "Focuser Simulator"),
    ("filter_wheel", "filter_wheel", "Filter Simulator"),
]
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"


# ---------------------------------------------------------------- raw HTTP


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


async def send(port: int, request: str, body: bytes = b"") -> Answer:
    """Send the request head (``\\n`` line ends become ``\\r\\n``) and body as
    bytes; read the whole answer (``Connection: close``)."""
    head = request.strip("\n").replace("\n", "\r\n").format(port=port, length=len(body))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + b"\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    raw_head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, payload)


def curl(path: str, method: str = "GET") -> str:
    """What ``curl http://localhost:<port><path>`` sends (the seed's doc)."""
    return f"""
{method} {path} HTTP/1.1
Host: localhost:{{port}}
User-Agent: curl/7.88.1
Accept: */*
Connection: close
"""


def jquery(path: str, method: str = "GET", *, json_body: bool = False) -> str:
    """What lightAPT's INDI Web Manager page sends (``$.getJSON``, ``$.ajax``)."""
    extra = "Content-Type: application/json; charset=utf-8\nContent-Length: {length}\n"
    return f"""
{method} {path} HTTP/1.1
Host: localhost:{{port}}
Accept: application/json, text/javascript, */*; q=0.01
X-Requested-With: XMLHttpRequest
Origin: http://localhost:{{port}}
Referer: http://localhost:{{port}}/indiweb
{extra if json_body or method != "GET" else ""}Connection: close
"""


def axios(path: str, method: str = "GET") -> str:
    """What lightAPT's React front end sends (axios, same origin in production)."""
    body = "Content-Type: application/json;charset=UTF-8\nContent-Length: {length}\n"
    return f"""
{method} {path} HTTP/1.1
Host: localhost:{{port}}
Accept: application/json, text/plain, */*
Origin: http://localhost:{{port}}
Referer: http://localhost:{{port}}/
{body if method == "POST" else ""}Connection: close
"""


async def fifo(svc: RunningService, path: str) -> str:
    answer = await send(svc.port, curl(path))
    assert answer.status == 200, answer.body
    assert answer.content_type == TEXT
    return answer.text


# ---------------------------------------------------------------- /FIFO/


async def test_fifo_start_and_stop_with_every_role_name(running_service: RunningService) -> None:
    svc = running_service
    client = svc.service.client
    for name, role, device in ROLE_NAMES:
        if client.devices[device].connected:
            await client.set_property(device, "CONNECTION", {"DISCONNECT": True}, wait=True)
        quoted = device.replace(" ", "%20")
        assert await fifo(svc, f"/FIFO/start/{name}/{quoted}/") == "Got!", name
        # Answered once connected, and remembered under our name of the role.
        assert client.devices[device].connected, name
        assert svc.service.db.get_role(role) == device, name
        assert await fifo(svc, f"/FIFO/stop/{name}/{quoted}/") == "Got!", name
        assert svc.service.db.get_role(role) is None, name
        assert client.devices[device].connected, "stop releases the role only"
    # Stopping a free role, whatever the name says.
    assert await fifo(svc, "/FIFO/stop/focus/Nothing%20At%20All/") == "Got!"

    # The POST form and the form without the final '/' (a 404 in the original).
    answer = await send(svc.port, curl("/FIFO/start/camera/CCD%20Simulator/", "POST"))
    assert (answer.status, answer.text) == (200, "Got!")
    assert await fifo(svc, "/FIFO/start/filter/Filter%20Simulator") == "Got!"
    roles = svc.service.roles.assignments()
    assert (roles["camera"], roles["filter_wheel"]) == ("CCD Simulator", "Filter Simulator")


async def test_fifo_refusals_in_the_originals_words(running_service: RunningService) -> None:
    svc = running_service
    for path, text in [
        ("/FIFO/start/phd2/CCD%20Simulator/", "Wrong device name!"),
        ("/FIFO/start/polar/CCD%20Simulator/", "Wrong device name!"),
        ("/FIFO/start/Camera/CCD%20Simulator/", "Wrong device name!"),
        ("/FIFO/stop/spectrograph/Dome%20Simulator/", "Wrong device name!"),
        ("/FIFO/start/camera/No%20Such%20Camera/", "Wrong device name!"),
        ("/FIFO/start/camera/CCD+Simulator/", "Wrong device name!"),  # '+' is not a space
        ("/FIFO/restart/camera/CCD%20Simulator/", "Wrong Command!"),
        ("/FIFO/START/camera/CCD%20Simulator/", "Wrong Command!"),
        ("/FIFO/connect/spectrograph/Dome%20Simulator/", "Wrong Command!"),  # verb checked first
    ]:
        assert await fifo(svc, path) == text, path
    assert svc.service.db.get_roles() == {}
    # A path the original did not route either stays a JSON 404.
    answer = await send(svc.port, curl("/FIFO/start/camera/"))
    assert answer.status == 404 and answer.json()["error"]["code"] == "http_error"


@pytest.mark.slow
async def test_fifo_says_when_the_device_cannot_connect(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    """The bench's tick driver defines no CONNECTION: the device cannot be
    connected, and the answer says so instead of ``Got!``."""
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data")
    try:
        answer = await fifo(running, "/FIFO/start/camera/Tick/")
        assert answer.startswith("Connect failed! ") and "CONNECTION" in answer, answer
        # The assignment stays: the device is connected when it can be.
        assert running.service.db.get_role("camera") == "Tick"
        connect = await send(running.port, axios("/device_connect/start/focus/Tick/"))
        assert connect.json() == {"data": False, "message": answer}
    finally:
        await running.stop()


async def test_fifo_roles_by_lightapts_names_survive_a_restart(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    first = await start_service(indiserver, tmp_path / "data")
    try:
        for path in (
            "/FIFO/start/focus/Focuser%20Simulator/",
            "/FIFO/start/filter/Filter%20Simulator/",
            "/FIFO/start/guider/CCD%20Simulator/",
        ):
            assert await fifo(first, path) == "Got!"
    finally:
        await first.stop()
    second = await start_service(indiserver, tmp_path / "data")
    try:
        answer = await send(second.port, curl("/api/v1/roles"))
        roles = {role: r["device_name"] for role, r in answer.json().items()}
        assert roles == {
            "telescope": None,
            "camera": None,
            "focuser": "Focuser Simulator",
            "filter_wheel": "Filter Simulator",
            "guider": "CCD Simulator",
            **dict.fromkeys(("dome", "rotator", "flat_panel", "weather", "gps")),
        }
    finally:
        await second.stop()


# ---------------------------------------------------------------- /get/all/devices/

DEVICE_KEYS = {
    "device_name",
    "device_driver_name",
    "device_driver_exec",
    "driver_version",
    "device_driver",
    "device_type",
}


async def test_all_devices_has_every_generations_keys_and_a_role_guess(
    running_service: RunningService,
) -> None:
    answer = await send(running_service.port, curl("/get/all/devices/"))
    assert answer.status == 200 and answer.content_type == JSON
    devices = {d["device_name"]: d for d in answer.json()}
    assert set(devices) == SIMULATORS
    for device in devices.values():
        assert set(device) == DEVICE_KEYS
        assert device["device_driver"] == device["device_driver_name"] == device["device_name"]
        assert device["driver_version"]
    assert {name: d["device_type"] for name, d in devices.items()} == {
        "Telescope Simulator": "telescope",  # DRIVER_INTERFACE 5: telescope, guider
        "CCD Simulator": "camera",  # 22: CCD, guider, filter
        "Focuser Simulator": "focus",  # 8
        "Filter Simulator": "filter",  # 16
    }
    assert devices["Focuser Simulator"]["device_driver_exec"] == "indi_simulator_focus"
    # The type is a role name /FIFO/ takes.
    assert await fifo(running_service, "/FIFO/start/focus/Focuser%20Simulator/") == "Got!"


@pytest.mark.slow
async def test_a_device_of_no_role_has_no_type(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_sqm"])
    running = await start_service(server, tmp_path / "data")
    try:
        (sqm,) = (await send(running.port, curl("/get/all/devices/"))).json()
        assert sqm["device_name"] == "SQM Simulator" and sqm["device_type"] is None
        assert sqm["device_driver_exec"] == "indi_simulator_sqm"
    finally:
        await running.stop()


# ---------------------------------------------------------------- /indi/ (lightAPT V4)


async def test_the_seed_urls_also_under_indi(
    running_service: RunningService, indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    svc = running_service
    plain = (await send(svc.port, curl("/get/all/devices/"))).json()
    prefixed = await send(svc.port, curl("/indi/get/all/devices/"))
    assert prefixed.content_type == JSON and prefixed.json() == plain
    assert await fifo(svc, "/indi/FIFO/start/camera/CCD%20Simulator/") == "Got!"
    assert svc.service.db.get_role("camera") == "CCD Simulator"
    assert await fifo(svc, "/indi/FIFO/stop/camera/CCD%20Simulator/") == "Got!"
    assert await fifo(svc, "/indi/FIFO/begin/camera/CCD%20Simulator/") == "Wrong Command!"

    # The debug socket, opened as V4's own debug page would (served by lightAPT
    # on 8080): another origin, refused unless the service allows it.
    await svc.service.roles.assign("focuser", "Focuser Simulator")
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(
            _ws_request(svc, "/indi/ws/debugging/", origin="http://localhost:8080")
        )
    assert refused.value.code == 403
    allowing = await start_service(
        indiserver, tmp_path / "allowing", allowed_origins=("http://localhost:8080",)
    )
    try:
        await allowing.service.roles.assign("focuser", "Focuser Simulator")
        debug = await websocket_connect(
            _ws_request(allowing, "/indi/ws/debugging/", origin="http://localhost:8080")
        )
        try:
            await debug.write_message("print focus FOCUS_MAX")
            answer = await asyncio.wait_for(debug.read_message(), 5)
            assert isinstance(answer, str) and answer.startswith("   > FOCUS_MAX type number\n")
        finally:
            debug.close()
    finally:
        await allowing.stop()

    # The high-level socket: the same handler as /ws/indi_client/.
    ws = await WsClient.open(svc.ws_url + "/indi/ws/indi_client/")
    try:
        roles = await ws.call("roles")
        assert roles["focuser"]["device_name"] == "Focuser Simulator"
    finally:
        await ws.close()


def _ws_request(svc: RunningService, path: str, *, origin: str) -> HTTPRequest:
    return HTTPRequest(f"ws://localhost:{svc.port}{path}", headers={"Origin": origin})


async def test_indi_server_connect_disconnect_and_connected(
    running_service: RunningService,
) -> None:
    svc = running_service

    async def status(path: str) -> bool:
        answer = await send(svc.port, curl(path))
        assert answer.status == 200 and answer.content_type == JSON
        body = answer.json()
        assert set(body) == {"status"}
        return body["status"]

    assert await status("/indi/server/connected/") is True
    assert await status("/indi/server/connect/") is True  # already connected
    assert await status("/indi/server/disconnect/") is True
    assert await status("/indi/server/connected/") is False
    assert (await send(svc.port, curl("/indi/get/all/devices/"))).json() == []
    assert await status("/indi/server/disconnect/") is False  # was not connected
    # It stays disconnected (no background reconnect) until asked.
    await asyncio.sleep(svc.service.client.reconnect_min * 4)
    assert svc.service.client.connected is False
    assert await status("/indi/server/connect/") is True
    devices = (await send(svc.port, curl("/indi/get/all/devices/"))).json()
    assert {d["device_name"] for d in devices} == SIMULATORS
    assert await status("/indi/server/connected") is True  # without the final '/'


async def test_indi_server_connect_answers_false_when_indiserver_is_away(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_focus"])
    running = await start_service(server, tmp_path / "data")
    try:
        assert (await send(running.port, curl("/indi/server/disconnect/"))).json() == {
            "status": True
        }
        server.kill()
        answer = await send(running.port, curl("/indi/server/connect/"))
        assert answer.json() == {"status": False}
        # The client keeps trying: indiserver back, the service is back.
        server.restart_same_port()
        await running.service.client.wait_synced(timeout=20)
        assert (await send(running.port, curl("/indi/server/connected/"))).json() == {
            "status": True
        }
    finally:
        await running.stop()


# ---------------------------------------------------------------- /indiweb/api/


async def test_indi_web_manager_api_also_under_indiweb(running_service: RunningService) -> None:
    """The requests of lightAPT's INDI Web Manager page (client/static/js/client/indi.js)."""
    svc = running_service
    port = svc.port
    for path in ("/server/status", "/profiles", "/drivers/groups", "/devices", "/server/drivers"):
        ours = (await send(port, curl("/api" + path))).json()
        for alias in (f"/indiweb/api{path}", f"/indiweb/api{path}/"):
            answer = await send(port, jquery(alias))
            assert answer.status == 200 and answer.json() == ours, alias
    status = (await send(port, jquery("/indiweb/api/server/status"))).json()
    assert status[0]["status"] in ("True", "False")  # the page tests data[0].status

    # saveProfile, saveProfileInfo, saveProfileDrivers, then the page reads them back.
    answer = await send(port, jquery("/indiweb/api/profiles/Backyard", "POST"))
    assert answer.status == 200
    info = json.dumps({"port": "7625", "autostart": 0, "autoconnect": 1}).encode()
    answer = await send(port, jquery("/indiweb/api/profiles/Backyard", "PUT"), info)
    assert answer.status == 200, answer.body
    drivers = json.dumps([{"label": "CCD Simulator"}, {"label": "Focuser Simulator"}]).encode()
    answer = await send(port, jquery("/indiweb/api/profiles/Backyard/drivers", "POST"), drivers)
    assert answer.status == 200, answer.body
    profile = (await send(port, jquery("/indiweb/api/profiles/Backyard"))).json()
    assert (profile["port"], profile["autostart"], profile["autoconnect"]) == (7625, 0, 1)
    labels = (await send(port, jquery("/indiweb/api/profiles/Backyard/labels/"))).json()
    assert labels == [{"label": "CCD Simulator"}, {"label": "Focuser Simulator"}]
    assert (await send(port, jquery("/indiweb/api/profiles/Backyard/remote"))).json() == {}

    # Its older custom-driver path is not taken for a profile named "custom".
    custom = {
        "Label": "My CCD",
        "Name": "My CCD",
        "Family": "CCDs",
        "Exec": "indi_simulator_ccd",
        "Version": "1.0",
    }
    body = json.dumps(custom).encode()
    answer = await send(port, jquery("/indiweb/api/profiles/custom", "POST"), body)
    assert answer.status == 200, answer.body
    names = {p["name"] for p in (await send(port, jquery("/indiweb/api/profiles/"))).json()}
    assert names == {"Simulators", "Observatory", "Backyard"}
    drivers_list = (await send(port, jquery("/indiweb/api/drivers"))).json()
    assert "My CCD" in {d["label"] for d in drivers_list}

    answer = await send(port, jquery("/indiweb/api/profiles/Backyard/", "DELETE"))
    assert answer.status == 200
    # Driver control needs the embedded indiserver: the same answer as under /api/.
    answer = await send(port, jquery("/indiweb/api/drivers/restart/CCD%20Simulator/", "POST"))
    assert answer.status == 409 and answer.json()["error"]["code"] == "indiserver_not_managed"


async def test_a_driver_label_under_indiweb_loses_its_final_slash(
    running_service: RunningService,
) -> None:
    """``/indiweb/api/drivers/start/<label>/`` (the page's routes end in '/') names
    the label without it."""
    app = running_service.server.request_callback
    for path, label in [
        ("/indiweb/api/drivers/start/CCD%20Simulator/", "CCD%20Simulator"),
        ("/indiweb/api/drivers/stop/CCD%20Simulator", "CCD%20Simulator"),
        ("/indiweb/api/drivers/restart/Dome%20Simulator@host:7624/", "Dome%20Simulator@host:7624"),
    ]:
        # The first rule that matches is the one tornado uses.
        match = next(
            m for rule in app.wildcard_router.rules if (m := rule.matcher.regex.match(path))
        )
        assert match.group(2) == label, path


# ---------------------------------------------------------------- /driver_connect/ and the like


async def test_react_front_end_calls(running_service: RunningService) -> None:
    """lightAPT's React front end (src/services/api.ts, src/store/connectModel.ts)."""
    svc = running_service
    port = svc.port

    async def get_data(path: str) -> Any:
        answer = await send(port, axios(path))
        assert answer.status == 200 and answer.content_type == JSON, answer.body
        body = answer.json()
        assert set(body) == {"data"}
        return body["data"]

    async def post(path: str, payload: Any = None) -> Answer:
        body = b"" if payload is None else json.dumps(payload).encode()
        return await send(port, axios(path, "POST"), body)

    brands = await get_data("/driver_connect/device_brand/")
    assert set(brands) == {"telescope", "camera", "guider", "focus", "filter"}
    ccd = {"zh": "CCD Simulator", "en": "CCD Simulator", "driver": "indi_simulator_ccd"}
    assert ccd in brands["camera"] and ccd in brands["guider"]
    devices = await get_data("/driver_connect/device_list/")
    assert devices == (await send(port, curl("/get/all/devices/"))).json()
    # The page sorts devices into roles by matching `driver` with `device_driver_exec`.
    sorted_by_page = {
        role: {
            d["device_name"]
            for d in devices
            for b in entries
            if b["driver"] == d["device_driver_exec"]
        }
        for role, entries in brands.items()
    }
    assert sorted_by_page == {
        "telescope": {"Telescope Simulator"},
        "camera": {"CCD Simulator"},
        "guider": {"CCD Simulator"},
        "focus": {"Focuser Simulator"},
        "filter": {"Filter Simulator"},
    }
    assert await get_data("/driver_connect/server_status/") is True

    async def device_status(role: str) -> str:
        answer = await post("/driver_connect/device_status/", {"device": role})
        assert answer.status == 200, answer.body
        return answer.json()["data"]

    assert await device_status("camera") == "Not started"
    for role, device in [
        ("camera", "CCD Simulator"),
        ("guider", "CCD Simulator"),
        ("focus", "Focuser Simulator"),
    ]:
        connect = await get_data_full(
            port, f"/device_connect/start/{role}/{device.replace(' ', '%20')}/"
        )
        assert connect == {"data": True, "message": "Got!"}
        assert await device_status(role) == "Connected"
    await svc.service.client.set_property(
        "Focuser Simulator", "CONNECTION", {"DISCONNECT": True}, wait=True
    )
    assert await device_status("focus") == "Disconnected"
    assert await device_status("focuser") == "Disconnected"
    answer = await post("/driver_connect/device_status/", {"device": "polar"})
    assert answer.status == 400 and answer.json()["error"]["data"]["param"] == "device"

    assert await get_data_full(port, "/device_connect/start/polar/CCD%20Simulator/") == {
        "data": False,
        "message": "Wrong device name!",
    }
    assert await get_data_full(port, "/device_connect/go/camera/CCD%20Simulator/") == {
        "data": False,
        "message": "Wrong Command!",
    }
    profile = await get_data("/driver_connect/current_profile/")
    assert profile == {
        "all_drivers": None,  # no profile runs: the service connects to another's indiserver
        "telescope": {"device_name": None},
        "camera": {"device_name": "CCD Simulator"},
        "focus": {"device_name": "Focuser Simulator"},
        "filter": {"device_name": None},
        "guider": {"device_name": "CCD Simulator"},
    }
    stop = await get_data_full(port, "/device_connect/stop/guider/CCD%20Simulator/")
    assert stop == {"data": True, "message": "Got!"}
    assert await device_status("guider") == "Not started"

    # Server control needs the embedded indiserver.
    for path in ("/driver_connect/close_server/", "/driver_connect/start_server/"):
        answer = await post(path, [ccd] if path.endswith("start_server/") else None)
        assert answer.status == 409, path
        assert answer.json()["error"]["code"] == "indiserver_not_managed"


async def get_data_full(port: int, path: str) -> Any:
    answer = await send(port, axios(path))
    assert answer.status == 200 and answer.content_type == JSON, answer.body
    return answer.json()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service with its own indiserver (the simulators' profile), in-process."""
    port = free_port()
    config = Config(
        indi_host=None,
        embedded_indi_port=free_port(),
        host="127.0.0.1",
        port=port,
        data_dir=tmp_path / "data",
        indiserver_env={"HOME": str(tmp_path / "home")},
    )
    service = Service(config)
    await service.start()
    await service.client.wait_synced(timeout=20)
    running = RunningService(service, make_app(service).listen(port, "127.0.0.1"), port)
    yield running
    await running.stop()


@pytest.mark.slow
async def test_react_front_end_starts_the_drivers_it_chose(embedded: RunningService) -> None:
    """The connection page: close the server, start it with the chosen drivers,
    connect each role, check it."""
    port = embedded.port

    async def post(path: str, payload: Any = None) -> Answer:
        body = b"" if payload is None else json.dumps(payload).encode()
        return await send(port, axios(path, "POST"), body)

    brands = (await get_data_full(port, "/driver_connect/device_brand/"))["data"]
    chosen = [
        next(b for b in brands[role] if b["en"] == label)
        for role, label in [("camera", "CCD Simulator"), ("focus", "Focuser Simulator")]
    ]
    profile = (await get_data_full(port, "/driver_connect/current_profile/"))["data"]
    assert {b["en"] for b in profile["all_drivers"]} == SIMULATORS  # the auto-start profile

    # Refused before anything stops or starts.
    for bad, status in [
        ([{"en": "No Such Driver"}], 404),
        ([{"en": "CCD Simulator", "driver": "/bin/sh"}], 400),
        ([{"driver": "indi_simulator_ccd"}], 400),
        ({"en": "CCD Simulator"}, 400),
    ]:
        answer = await post("/driver_connect/start_server/", bad)
        assert answer.status == status, (bad, answer.body)
    assert (await get_data_full(port, "/driver_connect/server_status/"))["data"] is True

    assert (await post("/driver_connect/close_server/")).json() == {"data": True}
    assert (await get_data_full(port, "/driver_connect/server_status/"))["data"] is False
    answer = await post("/driver_connect/start_server/", chosen)
    assert answer.status == 200 and answer.json() == {"data": True}, answer.body
    assert (await get_data_full(port, "/driver_connect/server_status/"))["data"] is True
    devices = (await get_data_full(port, "/driver_connect/device_list/"))["data"]
    assert {d["device_name"] for d in devices} == {"CCD Simulator", "Focuser Simulator"}

    for role, device in [("camera", "CCD Simulator"), ("focus", "Focuser Simulator")]:
        path = f"/device_connect/start/{role}/{device.replace(' ', '%20')}/"
        assert await get_data_full(port, path) == {"data": True, "message": "Got!"}
        answer = await post("/driver_connect/device_status/", {"device": role})
        assert answer.json() == {"data": "Connected"}


async def test_react_front_end_may_shoot(running_service: RunningService) -> None:
    """Its dashboard's shoot button (src/pages/dashboard2/actions/shoot) asks
    /PAA/update_paa_running_status/ first and stays disabled unless that
    answers `data` false; no scripted procedure runs in indiws."""
    for path in ("/PAA/update_paa_running_status/", "/PAA/update_paa_running_status"):
        answer = await send(running_service.port, axios(path))
        assert answer.status == 200 and answer.content_type == JSON, answer.body
        assert answer.json() == {"success": True, "data": False}


# ---------------------------------------------------------------- conventions


def test_gets_that_act_are_marked_for_the_request_gate() -> None:
    """A GET that changes state carries ``get_changes_state`` (the security
    gate treats it like a POST); a GET that only reads does not."""
    acting = {
        seed.FifoHandler,
        seed.DeviceConnectHandler,
        seed.IndiServerConnectHandler,
        seed.IndiServerDisconnectHandler,
    }
    reading = {
        seed.AllDevicesHandler,
        seed.IndiServerConnectedHandler,
        seed.DeviceBrandHandler,
        seed.DeviceListHandler,
        seed.ServerStatusHandler,
        seed.CurrentProfileHandler,
        seed.PaaRunningStatusHandler,
    }
    for handler in acting:
        assert getattr(handler, "get_changes_state", False) is True, handler
    for handler in reading:
        assert not getattr(handler, "get_changes_state", False), handler
