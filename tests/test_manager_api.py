"""The management HTTP API: INDI Web Manager's ``/api/...`` and our ``/api/v1/...``.

Profiles, the catalog and the refusals of an external indiserver run against
the shared indiserver (the service only connects to it); driver and server
control against an embedded indiserver run by the service in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tornado.httpclient import AsyncHTTPClient

from indiws.service import Config, Service
from indiws.testing import RunningService, free_port, start_embedded_service

SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}


async def call(
    running: RunningService, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """One request; ``body`` is sent as JSON (POST/PUT always send one)."""
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
    elif method in ("POST", "PUT"):
        payload = b""
    resp = await AsyncHTTPClient().fetch(
        running.url + path,
        method=method,
        body=payload,
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=30,
    )
    return resp.code, json.loads(resp.body) if resp.body else None


async def ok(running: RunningService, method: str, path: str, body: Any = None) -> Any:
    status, answer = await call(running, method, path, body)
    assert status in (200, 201), (method, path, status, answer)
    return answer


async def fails(
    running: RunningService, method: str, path: str, status: int, code: str, body: Any = None
) -> dict[str, Any]:
    got, answer = await call(running, method, path, body)
    assert (got, answer["error"]["code"]) == (status, code), (method, path, answer)
    return answer


# ------------------------------------------------ external indiserver (shared)


async def test_external_indiserver_refuses_server_and_driver_control(
    running_service: RunningService,
) -> None:
    refused = [
        ("POST", "/api/server/start/Simulators"),
        ("POST", "/api/server/stop"),
        ("POST", "/api/drivers/start/Dome%20Simulator"),
        ("POST", "/api/drivers/stop/CCD%20Simulator"),
        ("POST", "/api/drivers/restart/CCD%20Simulator"),
        ("POST", "/api/drivers/start_remote/Dome%20Simulator@localhost"),
        ("POST", "/api/v1/server/start"),
        ("POST", "/api/v1/server/stop"),
        ("POST", "/api/v1/server/restart"),
        ("GET", "/api/v1/drivers"),
        ("POST", "/api/v1/drivers/start"),
        ("POST", "/api/v1/drivers/stop"),
        ("POST", "/api/v1/profiles/Simulators/start"),
    ]
    for method, path in refused:
        answer = await fails(running_service, method, path, 409, "indiserver_not_managed")
        assert "indiserver is not managed by this service" in answer["error"]["message"]
        if not path.startswith("/api/v1/"):
            assert answer["detail"] == answer["error"]["message"]  # INDI Web Manager's key
    # Nothing was started or stopped.
    assert set(running_service.service.client.devices) == SIMULATORS

    assert await ok(running_service, "GET", "/api/server/status") == [
        {"status": "True", "active_profile": ""}
    ]
    status = await ok(running_service, "GET", "/api/v1/server")
    assert status["managed"] is False and status["running"] is True
    assert "drivers" not in status
    # The running drivers, told from the devices' DRIVER_INFO.
    drivers = await ok(running_service, "GET", "/api/server/drivers")
    assert {(d["label"], d["binary"]) for d in drivers} == {
        ("Telescope Simulator", "indi_simulator_telescope"),
        ("CCD Simulator", "indi_simulator_ccd"),
        ("Focuser Simulator", "indi_simulator_focus"),
        ("Filter Simulator", "indi_simulator_wheel"),
    }
    devices = await ok(running_service, "GET", "/api/devices")
    assert {d["device"] for d in devices} == SIMULATORS


async def test_indiweb_profiles(running_service: RunningService) -> None:
    rs = running_service
    profiles = await ok(rs, "GET", "/api/profiles")
    assert profiles == [
        {
            "id": 1,
            "name": "Simulators",
            "port": 7624,
            "autostart": 1,  # the seeded profile: a first start runs the simulators
            "autoconnect": 1,
            "scripts": None,
        },
        {
            "id": 2,
            "name": "Observatory",  # every simulator, every role: started on request
            "port": 7624,
            "autostart": 0,
            "autoconnect": 1,
            "scripts": None,
        },
    ]
    assert (await ok(rs, "GET", "/api/profiles/Simulators"))["name"] == "Simulators"
    missing = await fails(rs, "GET", "/api/profiles/Nonexistent", 404, "unknown_profile")
    assert "not found" in missing["detail"].lower()
    assert await ok(rs, "GET", "/api/profiles/Simulators/labels") == [
        {"label": "Telescope Simulator"},
        {"label": "CCD Simulator"},
        {"label": "Focuser Simulator"},
        {"label": "Filter Simulator"},
    ]
    assert await ok(rs, "GET", "/api/profiles/Simulators/remote") == {}

    # Add (twice: the second is a no-op, as in INDI Web Manager), update, drivers.
    assert await ok(rs, "POST", "/api/profiles/EQ6") == {"message": "Profile EQ6 added"}
    assert await ok(rs, "POST", "/api/profiles/EQ6") == {"message": "Profile EQ6 added"}
    await ok(rs, "PUT", "/api/profiles/EQ6", {"port": "9999", "autostart": 1, "autoconnect": 1})
    eq6 = await ok(rs, "GET", "/api/profiles/EQ6")
    assert (eq6["port"], eq6["autostart"], eq6["autoconnect"]) == (9999, 1, 1)
    # A field left out takes its default, as INDI Web Manager does.
    await ok(rs, "PUT", "/api/profiles/EQ6", {"port": 7624})
    eq6 = await ok(rs, "GET", "/api/profiles/EQ6")
    assert (eq6["port"], eq6["autostart"], eq6["autoconnect"]) == (7624, 0, 0)
    await fails(rs, "PUT", "/api/profiles/EQ6", 400, "invalid_params", {"port": "seven"})
    await fails(rs, "PUT", "/api/profiles/Nope", 404, "unknown_profile", {"port": 7624})

    drivers = [
        {"label": "Telescope Simulator"},
        {"label": "CCD Simulator"},
        {"remote": "Dome Simulator@pi,Rotator Simulator@pi:7625"},
    ]
    await ok(rs, "POST", "/api/profiles/EQ6/drivers", drivers)
    assert await ok(rs, "GET", "/api/profiles/EQ6/labels") == drivers[:2]
    assert await ok(rs, "GET", "/api/profiles/EQ6/remote") == {"drivers": drivers[2]["remote"]}
    assert await ok(rs, "GET", "/api/profiles/EQ6/drivers") == drivers
    # How they will run: the label as device name, except multi-device drivers.
    stored = rs.service.db.require_profile("EQ6").drivers
    assert [(d.executable, d.name) for d in stored] == [
        ("indi_simulator_telescope", "Telescope Simulator"),
        ("indi_simulator_ccd", None),
        ("Dome Simulator@pi", None),
        ("Rotator Simulator@pi:7625", None),
    ]
    unknown = [{"label": "No Such Driver"}]
    await fails(rs, "POST", "/api/profiles/EQ6/drivers", 404, "unknown_driver", unknown)
    await fails(rs, "POST", "/api/profiles/EQ6/drivers", 400, "invalid_params", {"label": "x"})
    # Posting drivers to a new name creates the profile.
    await ok(rs, "POST", "/api/profiles/Fresh/drivers", [{"label": "Dome Simulator"}])
    assert await ok(rs, "GET", "/api/profiles/Fresh/labels") == [{"label": "Dome Simulator"}]

    assert await ok(rs, "DELETE", "/api/profiles/EQ6") == {"message": "Profile EQ6 deleted"}
    await fails(rs, "GET", "/api/profiles/EQ6", 404, "unknown_profile")
    await ok(rs, "DELETE", "/api/profiles/EQ6")  # no error, as INDI Web Manager
    names = [p["name"] for p in await ok(rs, "GET", "/api/profiles")]
    assert names == ["Simulators", "Observatory", "Fresh"]


async def test_indiweb_catalog_custom_drivers_and_info(running_service: RunningService) -> None:
    rs = running_service
    catalog = await ok(rs, "GET", "/api/drivers")
    by_label = {d["label"]: d for d in catalog}
    assert by_label["Dome Simulator"] == {
        "name": "Dome Simulator",
        "label": "Dome Simulator",
        "skeleton": None,
        "version": "1.0",
        "binary": "indi_simulator_dome",
        "family": "Domes",
        "mdpd": False,
        "custom": False,
        "rule": None,
        "role": "",
    }
    groups = await ok(rs, "GET", "/api/drivers/groups")
    assert groups == sorted(groups) and {"CCDs", "Telescopes", "Focusers"} <= set(groups)

    # Over HTTP a custom driver only gives another label to a catalog program ...
    custom = {
        "Label": "My Custom Driver",
        "Name": "Custom",
        "Family": "Custom",
        "Exec": "indi_simulator_dome",
        "Version": "1.0",
    }
    answer = await ok(rs, "POST", "/api/profiles/custom/add", custom)
    assert "Custom driver saved" in answer["message"]
    by_label = {d["label"]: d for d in await ok(rs, "GET", "/api/drivers")}
    assert by_label["My Custom Driver"]["custom"] is True
    assert by_label["My Custom Driver"]["binary"] == "indi_simulator_dome"
    assert "Custom" in await ok(rs, "GET", "/api/drivers/groups")
    await ok(rs, "POST", "/api/profiles/Mine/drivers", [{"label": "My Custom Driver"}])
    assert rs.service.db.require_profile("Mine").drivers[0].executable == "indi_simulator_dome"
    # ... a new program is the operator's to name (tests/test_security_drivers.py).
    refused = await fails(
        rs,
        "POST",
        "/api/profiles/custom/add",
        403,
        "driver_not_allowed",
        {**custom, "Label": "Other", "Exec": "indi_my_custom"},
    )
    assert "--custom-driver" in refused["detail"]

    version = await ok(rs, "GET", "/api/info/version")
    assert "." in version["version"]
    assert "hostname" in await ok(rs, "GET", "/api/info/hostname")
    assert isinstance(await ok(rs, "GET", "/api/info/arch"), str)
    await fails(rs, "POST", "/api/system/reboot", 501, "not_supported")

    domes = await ok(rs, "GET", "/api/v1/drivers/catalog?group=Domes")
    assert "Dome Simulator" in {d["label"] for d in domes}
    assert {d["group"] for d in domes} == {"Domes"}
    v1_groups = await ok(rs, "GET", "/api/v1/drivers/groups")
    assert "Dome Simulator" in v1_groups["Domes"]


async def test_v1_profiles(running_service: RunningService) -> None:
    rs = running_service
    body = {
        "name": "Backyard",
        "auto_connect": True,
        "drivers": [
            "indi_simulator_telescope",
            {"executable": "indi_simulator_wheel", "name": "Wheel Two"},
            {"label": "Dome Simulator"},
        ],
        "roles": {"telescope": "Telescope Simulator", "filter_wheel": "Wheel Two"},
    }
    created = await ok(rs, "POST", "/api/v1/profiles", body)
    assert created["name"] == "Backyard" and created["auto_connect"] is True
    assert created["drivers"] == [
        {"executable": "indi_simulator_telescope", "name": None, "label": None},
        {"executable": "indi_simulator_wheel", "name": "Wheel Two", "label": None},
        {"executable": "indi_simulator_dome", "name": None, "label": "Dome Simulator"},
    ]
    assert created["roles"] == body["roles"]
    await fails(rs, "POST", "/api/v1/profiles", 409, "profile_exists", {"name": "Backyard"})
    await fails(rs, "POST", "/api/v1/profiles", 400, "invalid_params", {"port": 7624})
    await fails(rs, "POST", "/api/v1/profiles", 400, "invalid_params", {"name": "x", "colour": 1})
    bad_role = {"name": "x", "roles": {"spectrograph": "CCD Simulator"}}
    await fails(rs, "POST", "/api/v1/profiles", 400, "invalid_params", bad_role)
    bad_label = {"name": "x", "drivers": [{"label": "No Such"}]}
    await fails(rs, "POST", "/api/v1/profiles", 404, "unknown_driver", bad_label)
    bad_name = {"name": "x", "drivers": [{"executable": "indi_simulator_wheel", "name": 'a"b'}]}
    await fails(rs, "POST", "/api/v1/profiles", 400, "invalid_params", bad_name)

    assert (await ok(rs, "GET", "/api/v1/profiles/Backyard"))["drivers"] == created["drivers"]
    changed = await ok(
        rs, "PUT", "/api/v1/profiles/Backyard", {"name": "Garden", "auto_start": True}
    )
    assert (changed["name"], changed["auto_start"], changed["drivers"]) == (
        "Garden",
        True,
        created["drivers"],
    )
    await fails(rs, "GET", "/api/v1/profiles/Backyard", 404, "unknown_profile")
    simulators = await ok(rs, "GET", "/api/v1/profiles/Simulators")
    assert simulators["auto_start"] is False  # one auto-start profile at most
    await fails(rs, "PUT", "/api/v1/profiles/Garden", 409, "profile_exists", {"name": "Simulators"})
    names = {p["name"] for p in await ok(rs, "GET", "/api/v1/profiles")}
    assert names == {"Simulators", "Observatory", "Garden"}
    assert await ok(rs, "DELETE", "/api/v1/profiles/Garden") == {"deleted": "Garden"}
    await fails(rs, "DELETE", "/api/v1/profiles/Garden", 404, "unknown_profile")
    path = "/api/v1/profiles/" + quote("Simulators")
    assert (await ok(rs, "GET", path))["name"] == "Simulators"


# ------------------------------------------------- embedded indiserver


@pytest.fixture
async def embedded_service(tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service with its own indiserver (the four simulators), in-process."""
    # A custom driver that is allowed but not installed.
    running = await start_embedded_service(
        tmp_path, custom_drivers=(("Missing Driver", "indi_no_such_driver"),)
    )
    yield running
    await running.stop()


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_v1_driver_control(embedded_service: RunningService) -> None:
    rs = embedded_service
    client = rs.service.client  # client.devices is replaced when the connection drops
    listed = await ok(rs, "GET", "/api/v1/drivers")
    assert {d["present_devices"][0] for d in listed} == SIMULATORS

    # By catalog label; the answer comes once the device is in the mirror.
    rotator = await ok(rs, "POST", "/api/v1/drivers/start", {"label": "Rotator Simulator"})
    assert rotator["executable"] == "indi_simulator_rotator" and rotator["state"] == "running"
    assert "Rotator Simulator" in client.devices
    again = await ok(rs, "POST", "/api/v1/drivers/start", {"label": "Rotator Simulator"})
    assert again["pid"] == rotator["pid"]  # no second process

    restarted = await ok(
        rs, "POST", "/api/v1/drivers/restart", {"executable": "indi_simulator_rotator"}
    )
    assert restarted["pid"] != rotator["pid"] and "Rotator Simulator" in client.devices
    stopped = await ok(rs, "POST", "/api/v1/drivers/stop", {"label": "Rotator Simulator"})
    assert stopped["state"] == "stopped" and "Rotator Simulator" not in client.devices
    await fails(
        rs,
        "POST",
        "/api/v1/drivers/stop",
        404,
        "driver_not_running",
        {"executable": "indi_simulator_rotator"},
    )
    await fails(
        rs,
        "POST",
        "/api/v1/drivers/start",
        404,
        "driver_not_installed",
        {"executable": "indi_no_such_driver"},
    )
    await fails(rs, "POST", "/api/v1/drivers/start", 400, "invalid_params", {})
    await fails(rs, "POST", "/api/v1/drivers/start", 400, "invalid_params", {"executable": 5})
    await fails(rs, "POST", "/api/v1/drivers/start", 404, "unknown_driver", {"label": "Nope"})

    # A driver that crashes stays listed, as crashed, until restarted.
    focuser = next(d for d in listed if d["executable"] == "indi_simulator_focus")
    os.kill(focuser["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while True:
        drivers = {d["executable"]: d for d in await ok(rs, "GET", "/api/v1/drivers")}
        if drivers["indi_simulator_focus"]["state"] == "crashed":
            break
        assert time.monotonic() < deadline, drivers["indi_simulator_focus"]
        await asyncio.sleep(0.05)
    assert drivers["indi_simulator_focus"]["present_devices"] == []
    assert "indi_simulator_focus" not in {
        d["binary"] for d in await ok(rs, "GET", "/api/server/drivers")
    }
    back = await ok(rs, "POST", "/api/drivers/restart/Focuser%20Simulator")
    assert back == {"message": "Driver Focuser Simulator restarted"}
    assert "Focuser Simulator" in client.devices


async def test_one_device_never_gets_two_driver_processes(
    embedded_service: RunningService,
) -> None:
    """INDI Web Manager starts a label as a named instance, ours by its label
    without a name: both mean one device, so one process."""
    rs = embedded_service
    first = await ok(rs, "POST", "/api/drivers/start/Dome%20Simulator")
    assert first == {"message": "Driver Dome Simulator started"}
    named = await ok(rs, "POST", "/api/v1/drivers/start", {"label": "Dome Simulator"})
    again = await ok(
        rs,
        "POST",
        "/api/v1/drivers/start",
        {"executable": "indi_simulator_dome", "name": "Dome Simulator"},
    )
    domes = [d for d in await ok(rs, "GET", "/api/v1/drivers") if "dome" in d["executable"]]
    assert len(domes) == 1 and domes[0]["pid"] == named["pid"] == again["pid"]
    # The other way round: unnamed first, then INDI Web Manager's named start.
    await ok(rs, "POST", "/api/v1/drivers/start", {"label": "Rotator Simulator"})
    await ok(rs, "POST", "/api/drivers/start/Rotator%20Simulator")
    rotators = [d for d in await ok(rs, "GET", "/api/v1/drivers") if "rotator" in d["executable"]]
    assert len(rotators) == 1


async def test_v1_server_and_profile_control(embedded_service: RunningService) -> None:
    rs = embedded_service
    client = rs.service.client  # client.devices is replaced when the connection drops
    status = await ok(rs, "GET", "/api/v1/server")
    assert status["managed"] and status["running"] and status["active_profile"] == "Simulators"
    old_pid = status["pid"]

    await ok(
        rs,
        "POST",
        "/api/v1/profiles",
        {"name": "Dome", "drivers": [{"label": "Dome Simulator"}], "auto_connect": True},
    )
    # replace=false keeps the drivers the profile does not list.
    status = await ok(rs, "POST", "/api/v1/profiles/Dome/start", {"replace": False})
    assert status["active_profile"] == "Dome"
    assert SIMULATORS | {"Dome Simulator"} <= set(client.devices)
    # auto_connect connects the profile's devices.
    deadline = time.monotonic() + 10
    while not client.devices["Dome Simulator"].connected:
        assert time.monotonic() < deadline, "Dome Simulator not connected"
        await asyncio.sleep(0.05)
    # The default replaces them.
    await ok(rs, "POST", "/api/v1/profiles/Dome/start")
    assert set(client.devices) == {"Dome Simulator"}
    await fails(rs, "POST", "/api/v1/profiles/Nope/start", 404, "unknown_profile")

    stopped = await ok(rs, "POST", "/api/v1/server/stop")
    assert stopped["running"] is False and stopped["pid"] is None
    assert stopped["active_profile"] is None and stopped["drivers"] == []
    assert not _pid_alive(old_pid)
    await fails(rs, "POST", "/api/drivers/start/Dome%20Simulator", 409, "indiserver_stopped")

    started = await ok(rs, "POST", "/api/v1/server/start", {"profile": "Simulators"})
    assert started["running"] and started["active_profile"] == "Simulators"
    assert set(client.devices) == SIMULATORS  # the client reconnected at once
    restarted = await ok(rs, "POST", "/api/v1/server/restart")
    assert restarted["pid"] != started["pid"] and restarted["active_profile"] == "Simulators"
    assert set(client.devices) == SIMULATORS
    await fails(rs, "POST", "/api/v1/server/start", 404, "unknown_profile", {"profile": "Nope"})
    await fails(rs, "POST", "/api/v1/server/start", 400, "invalid_params", {"profile": 3})


async def test_an_internal_port_taken_before_indiserver_starts_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The embedded indiserver's internal port is chosen free when the
    service is made; another program that takes it before indiserver starts
    does not stop the service: it chooses another, and its client and INDI
    port (what KStars connects to) follow."""
    home = tmp_path / "home"
    home.mkdir()
    config = Config(
        indi_host=None,
        host="127.0.0.1",
        port=free_port(),
        data_dir=tmp_path / "data",
        embedded_indi_port=free_port(),
        indiserver_env={"HOME": str(home)},
        min_altitude=None,
    )
    service = Service(config)
    assert service.supervisor is not None
    taken = service.supervisor.port
    squatter = socket.create_server(("127.0.0.1", taken))
    try:
        with caplog.at_level(logging.INFO, logger="indiws"):
            await service.start()
        assert service.supervisor.port != taken
        assert f"internal port {taken} was taken meanwhile" in caplog.text
        # An INDI client on the service's INDI port sees the simulators.
        reader, writer = await asyncio.open_connection("127.0.0.1", config.embedded_indi_port)
        try:
            writer.write(b'<getProperties version="1.7"/>\n')
            seen = b""
            async with asyncio.timeout(20):
                while b'device="Telescope Simulator"' not in seen:
                    chunk = await reader.read(65536)
                    assert chunk, seen[-500:]
                    seen += chunk
        finally:
            writer.close()
        # And so does the service's own client (connected on its own time).
        await service.client.wait_for("Telescope Simulator", "CONNECTION", lambda _: True, 20)
        assert service.client.port == service.supervisor.port
    finally:
        await service.stop()
        squatter.close()
