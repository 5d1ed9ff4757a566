"""What the device verbs say when they cannot act, and the action plumbing
shared by every role (listeners, running actions, disconnect)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from indiws.client import INDIClient, InvalidValueError, NotConnectedError
from indiws.devices import (
    ROLE_CLASSES,
    ActionAborted,
    ActionTimeout,
    Camera,
    CapabilityError,
    DeviceNotConnectedError,
    FilterWheel,
    Focuser,
    NoDeviceError,
    Telescope,
    running_actions,
    subscribe_actions,
)
from indiws.testing import IndiServerFactory, IndiServerProcess


@pytest.fixture
async def client(indiserver: IndiServerProcess) -> AsyncIterator[INDIClient]:
    async with INDIClient(indiserver.host, indiserver.port) as c:
        yield c


async def test_no_device_in_the_role_or_on_the_server(client: INDIClient) -> None:
    for cls in ROLE_CLASSES.values():
        unassigned = cls(client, None)
        with pytest.raises(NoDeviceError, match=f"no device is assigned to the {cls.role} role"):
            await unassigned.connect()
        with pytest.raises(NoDeviceError):
            unassigned.info()
        assert unassigned.status() == {
            "role": cls.role,
            "device": None,
            "present": False,
            "connected": False,
        }
    missing = Telescope(client, "Telescope Nowhere")
    with pytest.raises(NoDeviceError, match="not on the indiserver") as err:
        await missing.goto(1, 2)
    assert err.value.to_dict() == {
        "error": "no_device",
        "message": str(err.value),
        "device": "Telescope Nowhere",
        "role": "telescope",
        "reason": "no_device",
    }
    assert missing.status()["present"] is False


async def test_capability_missing(client: INDIClient) -> None:
    wheel_as_camera = Camera(client, "Filter Simulator")
    await wheel_as_camera.connect()
    with pytest.raises(CapabilityError, match="Filter Simulator cannot expose") as err:
        await wheel_as_camera.expose(1)
    assert err.value.name == "CCD_EXPOSURE"
    with pytest.raises(CapabilityError, match="CCD_TEMPERATURE"):
        await wheel_as_camera.set_temperature(-10)
    focuser_as_telescope = Telescope(client, "Focuser Simulator")
    await focuser_as_telescope.connect()
    with pytest.raises(CapabilityError, match="TELESCOPE_PARK"):
        await focuser_as_telescope.park()
    with pytest.raises(CapabilityError, match="GEOGRAPHIC_COORD"):
        focuser_as_telescope.site()


async def test_timeout_names_the_action(client: INDIClient) -> None:
    wheel = FilterWheel(client, "Filter Simulator")
    await wheel.connect()
    start = wheel.current()["slot"]
    target = 4 if start != 4 else 2
    with pytest.raises(ActionTimeout, match="select did not end within 0.1 s") as err:
        await wheel.select(target, timeout=0.1)  # the simulator takes about 0.5 s
    assert err.value.to_dict()["error"] == "timeout"
    assert isinstance(err.value, TimeoutError)
    await client.wait_idle("Filter Simulator", "FILTER_SLOT", 5)
    await wheel.select(start)
    with pytest.raises(InvalidValueError, match="timeout"):
        await wheel.select(start, timeout=0)


async def test_action_events_reach_every_listener(client: INDIClient) -> None:
    wheel = FilterWheel(client, "Filter Simulator")
    await wheel.connect()
    seen: list[dict[str, Any]] = []
    during: list[list[dict[str, Any]]] = []

    def listener(event: dict[str, Any]) -> None:
        seen.append(event)
        if event["event"] == "progress":
            during.append(running_actions(client, "Filter Simulator"))

    with subscribe_actions(client, listener):
        await wheel.select(2)
        await wheel.select(1)
    kinds = [(e["event"], e["action"]) for e in seen if e["action"] == "select"]
    assert kinds[0] == ("started", "select") and kinds[-1] == ("finished", "select")
    assert ("progress", "select") in kinds
    finished = [e for e in seen if e["event"] == "finished" and e["action"] == "select"]
    assert finished[0]["outcome"] == "ok" and finished[0]["result"]["slot"] == 2
    assert during and during[0][0]["action"] == "select"
    assert during[0][0]["params"]["slot"] in (1, 2)
    assert running_actions(client) == []
    count = len(seen)
    await wheel.select(1)  # the listener was closed
    assert len(seen) == count


async def test_device_not_connected_then_connect_and_disconnect(
    indiserver_factory: IndiServerFactory,
) -> None:
    server = indiserver_factory(["indi_simulator_wheel", "indi_simulator_focus"])
    async with INDIClient(server.host, server.port) as client:
        wheel = FilterWheel(client, "Filter Simulator")
        with pytest.raises(DeviceNotConnectedError, match="not connected") as err:
            await wheel.select(2)
        assert err.value.code == "not_connected"
        info = wheel.info()
        assert info["connected"] is False and info["capabilities"] is None
        assert info["driver"]["exec"] == "indi_simulator_wheel"
        assert wheel.status() == {
            "role": "filter_wheel",
            "device": "Filter Simulator",
            "present": True,
            "connected": False,
        }

        status = await wheel.connect()
        assert status["connected"] is True and status["slot"] == 1
        # Connected means the connection's properties are defined too.
        assert "FILTER_NAME" in client.devices["Filter Simulator"].properties
        assert (await wheel.connect())["connected"] is True  # no-op when connected

        # A disconnect ends the running action of the device.
        task = asyncio.create_task(wheel.select(5))
        await asyncio.sleep(0.1)
        status = await wheel.disconnect()
        assert status["connected"] is False
        with pytest.raises(ActionAborted, match="disconnected"):
            await task
        with pytest.raises(DeviceNotConnectedError):
            wheel.current()

        focuser = Focuser(client, "Focuser Simulator")
        with pytest.raises(DeviceNotConnectedError):
            await focuser.move_to(100)

    with pytest.raises(NotConnectedError):
        await FilterWheel(client, "Filter Simulator").connect()
