"""Focuser verbs against INDI's focuser simulator (shared indiserver).

Each test puts the focuser back where it found it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from indiws.client import INDIClient, InvalidValueError
from indiws.devices import CapabilityError, DeviceStateError, Focuser
from indiws.protocol import PropertyState
from indiws.testing import IndiServerProcess

FOCUSER = "Focuser Simulator"


@pytest.fixture
async def client(indiserver: IndiServerProcess) -> AsyncIterator[INDIClient]:
    async with INDIClient(indiserver.host, indiserver.port) as c:
        yield c


@pytest.fixture
async def focuser(client: INDIClient) -> AsyncIterator[Focuser]:
    foc = Focuser(client, FOCUSER)
    await foc.connect()
    start = foc.position()["position"]
    yield foc
    if foc.position()["position"] != start:
        await foc.move_to(start)


async def test_move_to_and_move_by(focuser: Focuser, client: INDIClient) -> None:
    start = focuser.position()["position"]
    assert isinstance(start, int)
    result = await focuser.move_to(start + 2000)
    assert result["position"] == start + 2000 == focuser.position()["position"]
    assert result["start"] == start

    reports: list[dict[str, Any]] = []
    result = await focuser.move_by(1500, progress=reports.append)
    assert result["position"] == start + 3500 and result["target"] == start + 3500
    for name in ("ABS_FOCUS_POSITION", "REL_FOCUS_POSITION"):
        assert client.get_property(FOCUSER, name).state is not PropertyState.BUSY
    assert client.get_property(FOCUSER, "FOCUS_MOTION").on_switches() == ["FOCUS_OUTWARD"]
    assert reports and reports[0]["state"] == "moving"

    result = await focuser.move_by(-3500)
    assert result["position"] == start
    assert client.get_property(FOCUSER, "FOCUS_MOTION").on_switches() == ["FOCUS_INWARD"]
    assert (await focuser.move_by(0))["position"] == start


async def test_readings_and_capabilities(focuser: Focuser) -> None:
    assert focuser.max() == {"max": 100000}
    assert isinstance(focuser.temperature()["temperature"], float)
    caps = focuser.info()["capabilities"]
    assert caps["can_move_absolute"] and caps["can_move_relative"]
    assert caps["position_range"] == [0, 100000]
    # INDI 1.9.9's focuser simulator offers no FOCUS_ABORT_MOTION.
    assert caps["can_abort"] is False
    status = focuser.status()
    assert status["connected"] and status["moving"] is False
    assert status["position"] == focuser.position()["position"]


async def test_abort_needs_the_capability(focuser: Focuser) -> None:
    with pytest.raises(CapabilityError, match="FOCUS_ABORT_MOTION") as err:
        await focuser.abort()
    assert err.value.properties == ("FOCUS_ABORT_MOTION",)
    assert err.value.to_dict()["error"] == "capability_missing"


async def test_out_of_range_and_bad_steps(focuser: Focuser) -> None:
    with pytest.raises(InvalidValueError, match="FOCUS_ABSOLUTE_POSITION"):
        await focuser.move_to(200000)
    with pytest.raises(InvalidValueError, match="FOCUS_RELATIVE_POSITION"):
        await focuser.move_by(-500000)
    with pytest.raises(InvalidValueError, match="whole number"):
        await focuser.move_to(1.5)
    assert focuser.running() == []


async def test_focuser_verbs_on_a_device_without_focuser_properties(client: INDIClient):
    wheel_as_focuser = Focuser(client, "Filter Simulator")
    await wheel_as_focuser.connect()
    with pytest.raises(CapabilityError, match="ABS_FOCUS_POSITION"):
        await wheel_as_focuser.move_to(100)
    with pytest.raises(CapabilityError, match="REL_FOCUS_POSITION"):
        await wheel_as_focuser.move_by(100)
    assert wheel_as_focuser.info()["capabilities"]["can_move_absolute"] is False


async def test_settings_and_configure(focuser: Focuser, client: INDIClient) -> None:
    settings = focuser.settings()
    assert settings["max"] == 100000 and settings["state"] in ("Idle", "Ok")
    assert settings["speed"] == {"name": "FOCUS_SPEED_VALUE", "value": 1, "min": 1, "max": 5}
    assert settings["temperature"]["name"] == "TEMPERATURE"
    assert settings["backlash_enabled"] is False
    assert settings["backlash"]["value"] == 0
    try:
        settings = await focuser.configure(max_position=80000, backlash_enabled=True, backlash=12)
        assert (
            settings["max"] == 80000 == client.get_property(FOCUSER, "FOCUS_MAX")["FOCUS_MAX_VALUE"]
        )
        assert settings["backlash_enabled"] is True and settings["backlash"]["value"] == 12
        # Checked before anything is sent: FOCUS_MAX is at least 1000 here.
        with pytest.raises(InvalidValueError):
            await focuser.configure(backlash=5, max_position=10)
        assert focuser.settings()["backlash"]["value"] == 12
    finally:
        await focuser.configure(backlash=0)
        await focuser.configure(max_position=100000, backlash_enabled=False)
    # A value the driver answers without taking (no compensation: it keeps the old one).
    with pytest.raises(DeviceStateError, match="did not take FOCUS_BACKLASH_STEPS"):
        await focuser.configure(backlash=7)
    assert focuser.settings()["backlash"]["value"] == 0
