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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indiws.devices import Telescope, astro
from indiws.guiding import GuidingEngine
from indiws.safety import SafetyConfig
from indiws.testing import IndiServerProcess, RunningService, start_service

SCOPE, GUIDE, CCD = "Telescope Simulator", "Guide Simulator", "CCD Simulator"
WEATHER = "Weather Simulator"
#: Right ascension and declination the mount points at (M42's hour, +20°).
TARGET = (5.5881, 20.0)
#: Guide settings the simulators guide well with (docs/guiding.md), shared
#: by every module that guides: binning 4 and 1 s frames; 15 px calibration
#: legs (not PHD2's 25) of 0.6 s pulses.  A calibration step costs its pulse
#: plus one guide frame: 1.5 s pulses calibrate in 40 s instead of 65 s, but
#: twice in about a dozen calibrations beside the other guiding modules the
#: star was lost mid-leg and the calibration failed, so the shorter, proven
#: pulses stay.  (The same failure, star lost for 3 frames mid-leg and then
#: found 45 px away, came once with 0.6 s pulses and guide frames sent after
#: 0.4 s by the simulator's SIM_TIME_FACTOR: tests/README.md.)
GUIDE_SETTINGS: dict[str, Any] = {
    "binning": 4,
    "exposure": 1.0,
    "calibration_step_ms": 600,
    "calibration_distance": 15.0,
}


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
        # A site where the target stands an hour east of the meridian (a
        # plan of the module keeps it: no slew, no flip, whatever the hour).
        lst_greenwich = astro.local_sidereal_time(0.0, datetime.now(UTC))
        longitude = ((TARGET[0] - 1.0 - lst_greenwich) * 15 + 180) % 360 - 180
        await scope.set_site(latitude=0.0, longitude=longitude, elevation=0.0)
        # Synced there rather than slewed: a slew from the park position
        # takes 15 s, and one that crosses the meridian (at some hours) 30 s.
        await scope.sync(*TARGET)
        await scope.set_tracking(True)
        # A mount tracking 0.3"/s slow (2 %): the error a guider exists for, on
        # top of the guide simulator's own drift.
        await scope.set_track_rate(ra=15.041067 - 0.3, dec=0.0)
        running.service.guiding.configure(**GUIDE_SETTINGS)
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
