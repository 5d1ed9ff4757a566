"""Assigning a role to a device the indiserver has not defined yet (its
driver still starting, the service just started) waits a bounded time for
the device to appear, then refuses naming the device and the devices it
knows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ws_support import WsClient

from indiws.testing import start_service


async def test_assign_waits_for_a_device_whose_driver_is_still_starting(
    indiserver_factory, tmp_path: Path
) -> None:
    indi = indiserver_factory(["indi_simulator_focus"])
    # The driver is started a second into the wait: 30 s, not the default 5,
    # leaves a loaded machine time to start it.
    running = await start_service(indi, tmp_path / "data", role_appear_timeout=30.0)
    ws = await WsClient.open(running.ws_url + "/ws/indi_client/")
    try:
        assert "Dome Simulator" not in running.service.client.devices
        assigning = asyncio.ensure_future(
            ws.call("assign", {"role": "dome", "device": "Dome Simulator"}, timeout=30)
        )
        await asyncio.sleep(1.0)  # the request is in, the driver not yet started
        assert not assigning.done(), assigning.result()
        await asyncio.to_thread(indi.start_driver, "indi_simulator_dome")
        role = await assigning
        assert role["device_name"] == "Dome Simulator" and role["connected"] is True, role
        assert (await ws.call("roles"))["dome"]["device_name"] == "Dome Simulator"
    finally:
        await ws.close()
        await running.stop()


async def test_assign_of_a_device_that_never_appears_names_the_known_devices(
    indiserver_factory, tmp_path: Path
) -> None:
    indi = indiserver_factory(["indi_simulator_focus"])
    running = await start_service(indi, tmp_path / "data", role_appear_timeout=1.0)
    ws = await WsClient.open(running.ws_url + "/ws/indi_client/")
    try:
        error = await ws.error("assign", {"role": "dome", "device": "Dome Simulatr"}, timeout=30)
        assert error["code"] == -32011, error
        assert "'Dome Simulatr'" in error["message"], error
        assert "did not appear" in error["message"], error
        assert "'Focuser Simulator'" in error["message"], error
        assert (await ws.call("roles"))["dome"]["device_name"] is None
    finally:
        await ws.close()
        await running.stop()
