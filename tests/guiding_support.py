"""What the guiding modules share: the simulators they guide with, the
service set up as an observer would (mount on target, tracking 0.3"/s slow,
guider at binning 4 with 1 s exposures), and the guider's events.

Two modules (`test_guiding.py`, `test_guiding_night.py`) each start their
own indiserver and service from here, so that the parallel suite runs them
side by side.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from astropy.io import fits

from indiws.client import INDIClient
from indiws.devices import Telescope
from indiws.guiding import GuidingEngine
from indiws.safety import SafetyConfig
from indiws.testing import IndiServerProcess, RunningService, longitude_for, start_service

SCOPE, GUIDE, CCD = "Telescope Simulator", "Guide Simulator", "CCD Simulator"
WEATHER = "Weather Simulator"
#: Right ascension and declination the mount points at (M42's hour, +20°).
TARGET = (5.5881, 20.0)
#: Guide settings the simulators guide well with (docs/guiding.md), shared
#: by every module that guides: binning 4 and 1 s frames; 15 px calibration
#: legs (not PHD2's 25) of 0.6 s pulses.  A calibration step costs its pulse
#: plus one guide frame (36 steps, 38 s with `GUIDE_TIME_FACTOR`); 1.2 s
#: pulses took 18 steps but as long (2.1 s a step), so the proven 0.6 s
#: pulses stay.
GUIDE_SETTINGS: dict[str, Any] = {
    "binning": 4,
    "exposure": 1.0,
    "calibration_step_ms": 600,
    "calibration_distance": 15.0,
}


#: The guide simulator draws a frame as its exposure starts, with the light
#: of the whole exposure, then waits ``SIM_TIME_FACTOR`` times the exposure
#: before sending it: at 0.4 a 1 s guide frame (the same stars, the same
#: noise) arrives after 0.4 s, so a calibration step (pulse + frame) and a
#: guide cycle take less time.  The star's drift and the pulses' moves are
#: in real time: what the guider measures is unchanged.
GUIDE_TIME_FACTOR = 0.4


async def quicken_guide_camera(client: INDIClient, guide: str = GUIDE) -> None:
    """Quick guide frames (`GUIDE_TIME_FACTOR`) from the guide simulator."""
    await client.wait_for_property(guide, "SIMULATOR_SETTINGS", timeout=30)
    await client.set_property(
        guide, "SIMULATOR_SETTINGS", {"SIM_TIME_FACTOR": GUIDE_TIME_FACTOR}, wait=True, timeout=10
    )


def quicken_guide_camera_at(port: int, host: str = "127.0.0.1") -> None:
    """`quicken_guide_camera` on the indiserver at ``port`` (a service in its
    own process: ``ServiceProcess.indi_port``)."""

    async def run() -> None:
        async with INDIClient(host, port) as client:
            await client.wait_for_device(GUIDE, timeout=30)
            await quicken_guide_camera(client)

    asyncio.run(run())


def guiding_server(workdir: Path) -> IndiServerProcess:
    """An indiserver with the telescope, guide and CCD simulators (started
    and stopped by ``with``)."""
    return IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_guide", "indi_simulator_ccd"],
        workdir=workdir,
    )


async def until_the_guide_camera_sees(
    engine: GuidingEngine, ra: float, dec: float, timeout: float = 60.0
) -> None:
    """Wait until the guide camera's frames show the sky at (``ra``, ``dec``)
    (hours, degrees; JNow or J2000, within a degree).

    The guide simulator draws a frame from the mount position it last heard
    of, as its exposure starts.  Right after a sync, under the parallel run's
    load, its first frames could still show the sky from before the sync: a
    star chosen there is gone in the next frame, and the guider found
    another spot 45 px away and calibrated on it (the calibration failed,
    "the East pulses did not bring the star back").  A frame's FITS header
    (OBJCTRA, OBJCTDEC) says where the camera was pointing."""
    device = engine._device()
    header: Any = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data, _ = await device.capture(0.2, binning=engine.settings()["binning"], roi="full")
        header = fits.getheader(io.BytesIO(data))
        if "OBJCTRA" in header and "OBJCTDEC" in header:
            seen_ra = _sexagesimal(str(header["OBJCTRA"]))
            seen_dec = _sexagesimal(str(header["OBJCTDEC"]))
            off_ra = (seen_ra - ra + 12) % 24 - 12
            if abs(off_ra) * 15 < 1.0 and abs(seen_dec - dec) < 1.0:
                return
    raise AssertionError(f"the guide camera does not see {ra} h {dec}°: {header!r:.800}")


def _sexagesimal(text: str) -> float:
    """``"+20 00 00"`` (a FITS header's OBJCTRA/OBJCTDEC) as a number."""
    sign = -1.0 if text.strip().startswith("-") else 1.0
    parts = [float(v) for v in text.strip().lstrip("+-").split()]
    return sign * sum(v / 60**i for i, v in enumerate(parts))


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
        await quicken_guide_camera(running.service.client)
        scope = Telescope(running.service.client, SCOPE)
        if (await scope.position()).get("parked"):
            await scope.unpark()
        # A site where the target stands an hour east of the meridian (a
        # plan of the module keeps it: no slew, no flip, whatever the hour).
        longitude = longitude_for(TARGET[0], hours_east=1.0)
        await scope.set_site(latitude=0.0, longitude=longitude, elevation=0.0)
        # Synced there rather than slewed: a slew from the park position
        # takes 15 s, and one that crosses the meridian (at some hours) 30 s.
        await scope.sync(*TARGET)
        await scope.set_tracking(True)
        # A mount tracking 0.3"/s slow (2 %): the error a guider exists for, on
        # top of the guide simulator's own drift.
        await scope.set_track_rate(ra=15.041067 - 0.3, dec=0.0)
        running.service.guiding.configure(**GUIDE_SETTINGS)
        await until_the_guide_camera_sees(running.service.guiding, *TARGET)
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
