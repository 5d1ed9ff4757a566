"""The seed's HTTP calls, as lightAPT makes them (tests/test_lightapt_http.py
replays every form its front ends send)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from indiws.client import INDIClient
from indiws.protocol import SwitchState
from indiws.roles import ROLES
from indiws.testing import IndiServerFactory, IndiServerProcess, RunningService, start_service


async def fetch(url: str, method: str = "GET") -> tuple[int, Any]:
    """(status, body): JSON decoded, plain text as a str."""
    client = AsyncHTTPClient()
    try:
        resp = await client.fetch(url, method=method, body=b"" if method == "POST" else None)
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    if resp.headers["Content-Type"].startswith("text/plain"):
        return resp.code, resp.body.decode()
    return resp.code, json.loads(resp.body)


async def test_all_devices_lists_driver_info(running_service: RunningService) -> None:
    code, body = await fetch(running_service.url + "/get/all/devices/")
    assert code == 200
    by_name = {d["device_name"]: d for d in body}
    assert set(by_name) == {
        "Telescope Simulator",
        "CCD Simulator",
        "Focuser Simulator",
        "Filter Simulator",
    }
    assert by_name["CCD Simulator"] == {
        "device_name": "CCD Simulator",
        "device_driver_name": "CCD Simulator",
        "device_driver_exec": "indi_simulator_ccd",
        "driver_version": "1.0",
        "device_driver": "CCD Simulator",
        "device_type": "camera",
    }


# ---------------------------------------------------------------- roles


SEED_ROLES = {
    "telescope": "Telescope Simulator",
    "camera": "CCD Simulator",
    "focuser": "Focuser Simulator",
    "filter_wheel": "Filter Simulator",
}


def quoted(name: str) -> str:
    return quote(name, safe="")


async def disconnect(client: INDIClient, device: str) -> None:
    if client.devices[device].connected:
        await client.set_property(device, "CONNECTION", {"DISCONNECT": True}, wait=True)
    assert not client.devices[device].connected


async def test_fifo_start_connects_before_answering(running_service: RunningService) -> None:
    svc = running_service
    client = svc.service.client
    for method, device in [("GET", "CCD Simulator"), ("POST", "Focuser Simulator")]:
        await disconnect(client, device)
        role = "camera" if device == "CCD Simulator" else "focuser"
        code, body = await fetch(f"{svc.url}/FIFO/start/{role}/{quoted(device)}/", method)
        assert (code, body) == (200, "Got!")
        # Connected when the answer arrives, not some time later.
        assert client.devices[device].connected
        code, prop = await fetch(f"{svc.url}/api/v1/devices/{quoted(device)}/properties/CONNECTION")
        assert {e["name"]: e["value"] for e in prop["elements"]}["CONNECT"] == "On"
        assert svc.service.db.get_role(role) == device


async def test_fifo_start_replaces_and_shares_roles(running_service: RunningService) -> None:
    url = running_service.url
    db = running_service.service.db
    code, body = await fetch(f"{url}/FIFO/start/filter_wheel/Filter%20Simulator/")
    assert (code, body) == (200, "Got!") and db.get_role("filter_wheel") == "Filter Simulator"
    # A newer start replaces the device holding the role ...
    code, body = await fetch(f"{url}/FIFO/start/filter_wheel/CCD%20Simulator/")
    assert (code, body) == (200, "Got!")
    assert db.get_role("filter_wheel") == "CCD Simulator"
    # ... and one device can hold two roles (the CCD simulator has a filter wheel).
    code, body = await fetch(f"{url}/FIFO/start/camera/CCD%20Simulator/")
    assert (code, body) == (200, "Got!")
    assert db.get_roles() == {"camera": "CCD Simulator", "filter_wheel": "CCD Simulator"}
    code, devices = await fetch(f"{url}/api/v1/devices")
    by_name = {d["name"]: d for d in devices}
    assert by_name["CCD Simulator"]["roles"] == ["camera", "filter_wheel"]
    assert by_name["Filter Simulator"]["roles"] == []


async def test_fifo_stop_releases(running_service: RunningService) -> None:
    url = running_service.url
    await fetch(f"{url}/FIFO/start/focuser/Focuser%20Simulator/")
    code, body = await fetch(f"{url}/FIFO/stop/focuser/Focuser%20Simulator/", "POST")
    assert (code, body) == (200, "Got!")
    code, role = await fetch(f"{url}/api/v1/roles/focuser")
    assert role["device_name"] is None
    # The device stays connected.
    assert running_service.service.client.devices["Focuser Simulator"].connected
    # Stopping a free role is not an error, whatever the device name says.
    code, body = await fetch(f"{url}/FIFO/stop/focuser/Anything/")
    assert (code, body) == (200, "Got!")


async def test_fifo_unknown_type_or_device(running_service: RunningService) -> None:
    """Answered in the original's words, HTTP 200, and nothing is assigned."""
    url = running_service.url
    code, body = await fetch(f"{url}/FIFO/start/spectrograph/CCD%20Simulator/")
    assert (code, body) == (200, "Wrong device name!")
    code, body = await fetch(f"{url}/FIFO/stop/spectrograph/Dome%20Simulator/")
    assert (code, body) == (200, "Wrong device name!")

    code, body = await fetch(f"{url}/FIFO/start/camera/No%20Such%20Camera/")
    assert (code, body) == (200, "Wrong device name!")
    assert running_service.service.db.get_roles() == {}


async def test_roles_restored_after_restart(indiserver: IndiServerProcess, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start_service(indiserver, data)
    try:
        for role, device in SEED_ROLES.items():
            code, body = await fetch(f"{first.url}/FIFO/start/{role}/{quoted(device)}/")
            assert (code, body) == (200, "Got!")
            assert first.service.client.devices[device].connected
    finally:
        await first.stop()

    # While the service is down, someone disconnects every device.
    async with INDIClient(indiserver.host, indiserver.port) as raw:
        for device in SEED_ROLES.values():
            await disconnect(raw, device)

    second = await start_service(indiserver, data)
    try:
        code, roles = await fetch(f"{second.url}/api/v1/roles")
        assert {r: v["device_name"] for r, v in roles.items()} == {
            **{role: None for role in ROLES},
            **SEED_ROLES,
        }
        # The new instance connects the assigned devices by itself.
        client = second.service.client
        for device in SEED_ROLES.values():
            await client.wait_for(
                device, "CONNECTION", lambda p: p["CONNECT"] is SwitchState.ON, timeout=15
            )
        code, devices = await fetch(f"{second.url}/api/v1/devices")
        assert all(d["connected"] for d in devices if d["name"] in SEED_ROLES.values())
    finally:
        await second.stop()


async def test_fifo_start_answers_with_the_connected_properties_defined(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    """A sequence may take an exposure right after the start call answers."""
    indi = indiserver_factory(["indi_simulator_ccd", "indi_simulator_wheel"])
    running = await start_service(indi, tmp_path / "data")
    try:
        for role, device, needed in (
            ("camera", "CCD Simulator", "CCD_EXPOSURE"),
            ("filter_wheel", "Filter Simulator", "FILTER_SLOT"),
        ):
            assert needed not in running.service.client.devices[device].properties
            code, body = await fetch(f"{running.url}/FIFO/start/{role}/{quote(device)}/")
            assert (code, body) == (200, "Got!")
            assert needed in running.service.client.devices[device].properties
        # A name with a literal '%' is decoded once ("CCD%20Simulator"), not twice.
        running.service.roles.release("camera")
        code, body = await fetch(f"{running.url}/FIFO/start/camera/CCD%2520Simulator/")
        assert (code, body) == (200, "Wrong device name!")
        assert running.service.db.get_role("camera") is None
    finally:
        await running.stop()
