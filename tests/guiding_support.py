"""What the guiding modules share: the simulators they guide with, the
service set up as an observer would (mount on target, tracking 0.3"/s slow,
guider at binning 4 with 1 s exposures), and the guider's events.

Two modules (`test_guiding.py`, `test_guiding_night.py`) each start their
own indiserver and service from here, so that the parallel suite runs them
side by side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from indiws.devices import Telescope
from indiws.guiding import GuidingEngine
from indiws.safety import SafetyConfig
from indiws.testing import IndiServerProcess, RunningService, start_service

SCOPE, GUIDE, CCD = "Telescope Simulator", "Guide Simulator", "CCD Simulator"
WEATHER = "Weather Simulator"
#: Right ascension and declination the mount points at (M42's hour, +20°).
TARGET = (5.5881, 20.0)


def guiding_server(workdir: Path) -> IndiServerProcess:
    """An indiserver with the telescope, guide and CCD simulators (started
    and stopped by ``with``)."""
    return IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_guide", "indi_simulator_ccd"],
        workdir=workdir,
    )


@asynccontextmanager
async def guiding_service(
    server: IndiServerProcess, data_dir: Path
) -> AsyncIterator[RunningService]:
    """The service with its roles, the mount tracking 0.3"/s slow on target
    and the guider at binning 4, 1 s exposures; stopped on leaving."""
    running = await start_service(
        server, data_dir, safety=SafetyConfig(weather_stale=600.0, indiserver_timeout=600.0)
    )
    try:
        await running.service.roles.assign("telescope", SCOPE)
        await running.service.roles.assign("guider", GUIDE)
        await running.service.roles.assign("camera", CCD)
        scope = Telescope(running.service.client, SCOPE)
        if (await scope.position()).get("parked"):
            await scope.unpark()
        await scope.goto(*TARGET)
        # A mount tracking 0.3"/s slow (2 %): the error a guider exists for, on
        # top of the guide simulator's own drift.
        await scope.set_track_rate(ra=15.041067 - 0.3, dec=0.0)
        # 15 px calibration legs (not PHD2's 25) halve the calibration's
        # time; the calibration stays as accurate as the tests ask.
        running.service.guiding.configure(
            binning=4, exposure=1.0, calibration_step_ms=600, calibration_distance=15.0
        )
        yield running
    finally:
        await running.service.guiding.stop_capture()
        await running.stop()


class Events:
    """The guider's events, with the time each arrived."""

    def __init__(self, engine: GuidingEngine) -> None:
        self.items: list[tuple[float, str, dict[str, Any]]] = []
        self.close = engine.subscribe(lambda n, f: self.items.append((time.monotonic(), n, f)))

    def names(self) -> list[str]:
        return [n for _, n, _ in self.items]

    def of(self, name: str, since: float = 0.0) -> list[dict[str, Any]]:
        return [f for t, n, f in self.items if n == name and t >= since]


async def star_now(engine: GuidingEngine) -> tuple[float, float]:
    """The star's position in the newest frame the loop measured."""
    frame = engine._frame_no
    for _ in range(200):
        await asyncio.sleep(0.1)
        if engine._frame_no > frame + 1 and engine.status()["star"]:
            star = engine.status()["star"]
            return star["x"], star["y"]
    raise AssertionError("no frame with the star arrived")
