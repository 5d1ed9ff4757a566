"""Run an imaging plan through a service: ``indiws run PLAN``.

`Runner` takes a checked `Plan` (indiws.remote.plan) frame by frame through
the service's API: the plan is checked against the service before anything
moves (roles present, filters in the wheel), then for each target it waits
for the start time and the altitude asked, slews (unparking first), and per
frame turns the filter wheel (with the focuser offset of the filter),
dithers every N light frames, exposes, downloads the frame and writes it to
the output folder with the plan's metadata in its FITS header.

What a night left alone needs:

- the manifest (``manifest.jsonl`` in the output folder) gets one JSON line
  per frame, fsync'd, after the frame's file is on disk; a torn last line is
  cut off when read.  A new run skips the frames the manifest holds whose
  files exist;
- a failed exposure is retried ``retries`` times, then recorded as failed and
  the run goes on; the exit status is 0 only when every frame exists;
- a lost connection is waited for (``reconnect_timeout``) and the step
  retried; past that the run ends with a clear message;
- cancelling the run (SIGINT in the CLI) aborts the running exposure, slew
  or focuser move through the API before it returns.

Focus and pointing (keys ``autofocus``, ``center``, ``quality``): autofocus
runs before a light frame when a trigger is due (a target's start, every N
light frames, a filter change, the median HFR of the last frames risen over
the HFR after the last focus); centering runs after each slew to a target;
each frame's analysis (stars, HFR) goes into its manifest line and FITS
header, and a frame the quality limits reject is kept under another name,
marked rejected, and taken again (bounded).  Autofocus and centering runs
are manifest lines too (``{"event": "autofocus"|"center", ...}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .client import Observatory
from .connection import ConnectionLost, RemoteError, ServiceUnavailable, write_atomic
from .plan import (
    Frame,
    Plan,
    PlanError,
    Problem,
    Quality,
    Site,
    Target,
    frames,
    indiserver_unreachable,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PLAN",
    "EXIT_SERVICE",
    "Manifest",
    "RunOptions",
    "Runner",
    "altitude",
    "estimate",
    "hms",
    "next_rise",
]

log = logging.getLogger("indiws.remote")

EXIT_OK = 0
EXIT_FAILED = 1  # some frames are missing
EXIT_PLAN = 2  # the plan cannot run (checked before anything moved)
EXIT_SERVICE = 3  # the service was lost for longer than allowed
EXIT_INTERRUPTED = 130

#: What FITS calls each frame type (IMAGETYP, as INDI writes it).
IMAGETYP = {
    "light": "Light Frame",
    "dark": "Dark Frame",
    "flat": "Flat Field",
    "bias": "Bias Frame",
}
#: Guesses for --dry-run: seconds per slew, filter change, frame download.
EST_SLEW, EST_FILTER, EST_FRAME = 60.0, 5.0, 3.0
#: Guesses for --dry-run: seconds per focuser move, per plate solve; tries per centering.
EST_FOCUS_MOVE, EST_SOLVE, EST_CENTER_TRIES = 3.0, 10.0, 2
#: Light frames whose median HFR is compared with the HFR after the last focus.
HFR_SAMPLES = 3
#: The roles an autofocus run or a centering moves, aborted on cancel.
COMPOUND = {"autofocus": ("camera", "focuser"), "center": ("camera", "telescope")}
#: What a frame's manifest line keeps of its analysis.
ANALYSIS_KEYS = ("stars", "hfr", "fwhm", "hfr_arcsec", "fwhm_arcsec", "eccentricity", "error")


# ---------------------------------------------------------------- manifest


class Manifest:
    """``manifest.jsonl``: one JSON object per line, appended and fsync'd.

    Read back, the last entry of each file wins; a line that is not complete
    JSON (a crash mid-write) ends the valid part and is cut off, so the file
    on disk is always a list of whole entries."""

    NAME = "manifest.jsonl"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.NAME
        self.entries: dict[str, dict[str, Any]] = {}
        self._file: io.BufferedWriter | None = None

    def load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                entry = json.loads(line)
            except ValueError:
                break
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                self.entries[entry["file"]] = entry
            good += len(line)
        if good < len(data):
            log.warning("%s: cutting off a torn entry at byte %d", self.path, good)
            with self.path.open("r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())

    def done(self, folder: Path) -> set[str]:
        """Files recorded as taken that are on disk."""
        return {
            name
            for name, entry in self.entries.items()
            if entry.get("status") == "ok" and (folder / name).is_file()
        }

    def append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        self._file.write(json.dumps(entry, separators=(", ", ": ")).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if "file" in entry:  # event lines (autofocus, centering) name no file
            self.entries[entry["file"]] = entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ---------------------------------------------------------------- sky


def _astropy() -> Any:
    """astropy, with every download off: a runner has no network at night."""
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    import astropy.coordinates as coords
    import astropy.time as atime
    import astropy.units as u

    return coords, atime, u


def altitude(ra: float, dec: float, site: Site, when: datetime | list[datetime]) -> Any:
    """Altitude in degrees of J2000 RA (hours) / Dec (degrees) seen from ``site``."""
    import warnings

    coords, atime, u = _astropy()
    location = coords.EarthLocation(
        lat=site.latitude * u.deg, lon=site.longitude * u.deg, height=site.elevation * u.m
    )
    with warnings.catch_warnings():  # far from the bundled IERS table: precision is ample
        warnings.simplefilter("ignore")
        t = atime.Time(when)
        frame = coords.AltAz(obstime=t, location=location)
        alt = coords.SkyCoord(ra=ra * 15 * u.deg, dec=dec * u.deg).transform_to(frame).alt.deg
    return alt


def next_rise(
    ra: float, dec: float, site: Site, min_alt: float, start: datetime, within_hours: float = 24
) -> datetime | None:
    """The first time from ``start`` (to 5 minutes) when the target is at
    least ``min_alt`` high, or None if not within ``within_hours``."""
    steps = int(within_hours * 12) + 1
    times = [start + timedelta(minutes=5 * n) for n in range(steps)]
    alts = altitude(ra, dec, site, times)
    for when, alt in zip(times, alts, strict=True):
        if alt >= min_alt:
            return when
    return None


def focus_and_centering(todo: list[Frame]) -> tuple[dict[str, int], dict[str, int]]:
    """Autofocus runs and centerings the frames left would need, per target
    (runs the median HFR would start cannot be known ahead)."""
    focus: dict[str, int] = {}
    center: dict[str, int] = {}
    lights = 0
    af_filter: str | None = None
    previous: Target | None = None
    for f in todo:
        target = f.target
        if not (target.needs_sky and target.ra is not None):
            continue
        if target is not previous:
            previous, lights, af_filter = target, 0, None
            if target.center is not None:
                center[target.name] = 1
            if target.autofocus is not None and target.autofocus.at_start:
                focus[target.name] = focus.get(target.name, 0) + 1
                af_filter = f.exposure.filter
                lights = -1
        af = target.autofocus
        if f.exposure.frame_type != "light" or af is None:
            continue
        lights += 1
        if (af.every and lights >= af.every) or (
            af.on_filter_change and (f.exposure.filter or "") != (af_filter or "") and lights > 0
        ):
            focus[target.name] = focus.get(target.name, 0) + 1
            lights = 0
        if lights == 0:
            af_filter = f.exposure.filter
    return focus, center


def autofocus_seconds(target: Target) -> float:
    af = target.autofocus
    assert af is not None
    return (af.steps + 2) * (af.exposure + EST_FRAME + EST_FOCUS_MOVE)


def center_seconds(target: Target) -> float:
    c = target.center
    assert c is not None
    return EST_CENTER_TRIES * (c.exposure + EST_FRAME + EST_SOLVE)


def estimate(plan: Plan, todo: list[Frame]) -> float:
    """Seconds the frames left would take: exposures, downloads, slews, filter
    changes, autofocus runs and centerings."""
    seconds = sum(f.exposure.duration + EST_FRAME for f in todo)
    targets = {f.target.name for f in todo if f.target.needs_sky and f.target.ra is not None}
    seconds += EST_SLEW * len(targets)
    previous = None
    for f in todo:
        if f.exposure.filter and f.exposure.filter != previous:
            seconds += EST_FILTER
            previous = f.exposure.filter
    focus, center = focus_and_centering(todo)
    by_name = {t.name: t for t in plan.targets}
    seconds += sum(n * autofocus_seconds(by_name[name]) for name, n in focus.items())
    seconds += sum(n * center_seconds(by_name[name]) for name, n in center.items())
    return seconds


def counted(n: int, word: str) -> str:
    """``1 frame``, ``2 frames``: a count with its noun in the right number."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class RunOptions:
    url: str = "http://127.0.0.1:7999"
    token: str | None = None
    out: Path = Path(".")
    retries: int | None = None  # default: the plan's
    reconnect_timeout: float = 300.0
    connect_timeout: float = 30.0
    wait_limit: float = 12 * 3600.0  # longest wait for a start time or an altitude


@dataclass(slots=True)
class RunResult:
    taken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # targets that never rose
    missing: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK
    message: str = ""


class Runner:
    """Takes a plan's frames through a service; see the module's doc."""

    def __init__(
        self,
        plan: Plan,
        options: RunOptions,
        *,
        report: Callable[..., None] | None = None,
        obs: Observatory | None = None,
    ) -> None:
        self.plan = plan
        self.options = options
        self.out = options.out
        self.retries = plan.retries if options.retries is None else options.retries
        self.frames = frames(plan)
        self.manifest = Manifest(self.out)
        self.report = report or (lambda kind, **data: None)
        self.obs = obs or Observatory(options.url, options.token)
        self.result = RunResult()
        #: The role whose action runs now, aborted on cancel.
        self.busy: str | None = None
        self._filter: str | None = None
        self._focus_base: int | None = None
        self._focus_offset = 0
        self._lights_since_dither = 0
        self._dither_due = False
        self._site: Site | None = plan.site
        self._unparked = False
        #: Send the mount to the target again before the next frame (after a failure).
        self._reslew = False
        # Autofocus triggers: why the next light frame focuses first, light
        # frames since the last focus, the filter focused for, and per filter
        # the HFR after the last focus and the HFRs of the frames since.
        self._af_due: str | None = None
        self._lights_since_focus = 0
        self._af_filter: str | None = None
        self._focus_hfr: dict[str, float] = {}
        self._recent_hfr: dict[str, list[float]] = {}
        #: The centering of the current target, recorded with each of its frames.
        self._centering: dict[str, Any] | None = None

    # Before anything moves -------------------------------------------------

    def todo(self) -> list[Frame]:
        done = self.manifest.done(self.out)
        return [f for f in self.frames if f.file not in done]

    async def check(self) -> None:
        """Check the plan against the service: `PlanError` if it cannot run."""
        problems: list[Problem] = []
        roles = await self._api(self.obs.roles)
        todo = self.todo()
        link = (await self._api(self.obs.status)).get("indiserver") or {}
        if link.get("connected") is False:
            # Then no device is connected: say the cause once, not per role.
            raise PlanError([Problem("", 0, indiserver_unreachable(link))], self.plan.source)

        def need(role: str, why: str, path: str = "", line: int = 0) -> None:
            info = roles.get(role) or {}
            if not info.get("device_name"):
                problems.append(
                    Problem(path, line, f"the service has no {role} ({why}): assign a device to it")
                )
            elif not info.get("connected"):
                problems.append(
                    Problem(
                        path, line, f"the {role} {info['device_name']!r} is not connected ({why})"
                    )
                )

        need("camera", "every frame needs one")
        sky = next((f.target for f in todo if f.target.needs_sky and f.target.ra is not None), None)
        if sky is not None:
            need("telescope", "light frames are taken on their target", sky.path, sky.line)
        elif self.plan.park and todo:
            need("telescope", "the plan parks the mount at the end", "park", 0)
        if self.plan.filter_lines:
            need("filter_wheel", "the plan names filters")
            if not problems:
                wheel = await self._api(self.obs.filter_wheel.filters)
                names = {str(f["name"]).casefold() for f in wheel}
                listed = ", ".join(str(f["name"]) for f in wheel)
                for name, uses in self.plan.filter_lines.items():
                    slot = name.isdigit() and 1 <= int(name) <= len(wheel)
                    if name.casefold() not in names and not slot:
                        for path, line in uses:
                            problems.append(
                                Problem(
                                    path,
                                    line,
                                    f"the filter wheel has no filter {name!r} (it has: {listed})",
                                )
                            )
        if self.plan.focuser_offsets:
            need("focuser", "focuser_offsets are set", "focuser_offsets", 0)
        focusing = next((f.target for f in todo if f.target.autofocus and f.target.needs_sky), None)
        if focusing is not None:
            need("focuser", "the plan autofocuses", f"{focusing.path}.autofocus", focusing.line)
        if problems:
            raise PlanError(problems, self.plan.source)

    # Running ---------------------------------------------------------------

    async def run(self) -> RunResult:
        """Connect, check, take every frame left; the result says how it ended."""
        self.manifest.load()
        try:
            await self._connect()
            await self.check()
            self.out.mkdir(parents=True, exist_ok=True)
            await self._take_all()
            if not self.result.message:
                self.result.message = "plan done"
        except PlanError as exc:
            self.result.exit_code, self.result.message = EXIT_PLAN, str(exc)
            return self.result
        except ServiceUnavailable as exc:
            self.result.exit_code = EXIT_SERVICE
            self.result.message = f"the service is gone: {exc}"
        except RemoteError as exc:  # a step the run cannot go on without
            self.result.exit_code, self.result.message = EXIT_FAILED, f"the run stopped: {exc}"
        except asyncio.CancelledError:
            await self._abort()
            self.result.exit_code, self.result.message = EXIT_INTERRUPTED, "interrupted"
        finally:
            self.manifest.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.obs.close(), 5)
        done = self.manifest.done(self.out)
        self.result.missing = [f.file for f in self.frames if f.file not in done]
        if self.result.exit_code == EXIT_OK and self.result.missing:
            self.result.exit_code = EXIT_FAILED
            self.result.message = f"{len(self.result.missing)} of {len(self.frames)} frames missing"
        self.report("end", result=self.result)
        return self.result

    async def _connect(self) -> None:
        deadline = time.monotonic() + self.options.connect_timeout
        while True:
            try:
                await self.obs.connect()
                return
            except ServiceUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _api(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call through the service; on a lost connection wait (bounded) and call again."""
        while True:
            try:
                return await method(*args, **kwargs)
            except ConnectionLost:
                self.report("reconnecting", timeout=self.options.reconnect_timeout)
                await self.obs.wait_connected(self.options.reconnect_timeout)
                self.report("reconnected")

    async def _take_all(self) -> None:
        todo = self.todo()
        self.report(
            "plan",
            plan=self.plan,
            frames=self.frames,
            todo=todo,
            estimate=estimate(self.plan, todo),
        )
        if not todo:
            self.report("note", text="every frame of the plan is in the manifest: nothing to take")
        else:
            await self._setup()
            for target in self.plan.targets:
                mine = [f for f in todo if f.target is target]
                if mine:
                    await self._target(target, mine, todo)
        if self.plan.park and todo:
            self.report("step", text="parking the mount")
            self.busy = "telescope"
            try:
                await self._api(self.obs.telescope.park)
            except RemoteError as exc:
                self.result.exit_code = EXIT_FAILED
                self.result.message = f"parking the mount failed: {exc}"
            self.busy = None

    async def _setup(self) -> None:
        if self._site is not None:
            site = self._site
            await self._api(
                self.obs.telescope.set_site,
                latitude=site.latitude,
                longitude=site.longitude,
                elevation=site.elevation,
            )
        cam = self.plan.camera
        if cam.temperature is not None:
            self.report(
                "step",
                text=f"camera to {cam.temperature:g} °C"
                + (" (waiting)" if cam.wait_cooling else ""),
            )
            self.busy = "camera"
            try:
                await self._api(
                    self.obs.camera.set_temperature,
                    cam.temperature,
                    wait=cam.wait_cooling,
                    tolerance=cam.tolerance,
                    timeout=cam.cooling_timeout if cam.wait_cooling else None,
                )
            except RemoteError as exc:  # frames at another temperature beat no frames
                self.report("note", text=f"cooling did not get there ({exc}); going on")
            self.busy = None
        if self.plan.start is not None:
            await self._wait_until(self.plan.start, "the plan's start")
        if self.plan.focuser_offsets:
            pos = await self._api(self.obs.focuser.position)
            self._focus_base = pos.get("position")

    async def _wait_until(self, when: datetime, why: str) -> bool:
        seconds = (when - datetime.now(UTC)).total_seconds()
        if seconds <= 0:
            return True
        if seconds > self.options.wait_limit:
            return False
        self.report("wait", until=when, why=why)
        await asyncio.sleep(seconds)
        return True

    async def _target(self, target: Target, todo: list[Frame], all_todo: list[Frame]) -> None:
        self.report("target", target=target, frames=todo)
        if target.start is not None and not await self._wait_until(
            target.start, f"{target.name}'s start"
        ):
            self._skip(target, todo, f"its start {target.start:%Y-%m-%d %H:%M} UTC is too far away")
            return
        sky = target.needs_sky and target.ra is not None
        if sky and target.min_altitude is not None:
            site = await self._site_now()
            rise = next_rise(target.ra, target.dec, site, target.min_altitude, datetime.now(UTC))  # type: ignore[arg-type]
            if rise is None:
                self._skip(target, todo, f"it does not reach {target.min_altitude:g}° within 24 h")
                return
            if not await self._wait_until(rise, f"{target.name} above {target.min_altitude:g}°"):
                self._skip(target, todo, f"it rises above {target.min_altitude:g}° too late")
                return
        self._lights_since_dither = 0
        self._dither_due = False
        self._centering = None
        at_start = target.autofocus is not None and target.autofocus.at_start
        self._af_due = "the target's start" if at_start else None
        if sky:
            try:
                await self._goto(target, target.ra, target.dec)  # type: ignore[arg-type]
            except RemoteError as exc:
                self.busy = None
                self._skip(target, todo, f"the slew failed: {exc}")
                return
            if target.center is not None and not await self._center(target):
                if target.center.on_failure == "skip":
                    self._skip(target, todo, "centering failed")
                    return
        for frame in todo:
            await self._frame(frame)

    def _skip(self, target: Target, todo: list[Frame], why: str) -> None:
        self.result.skipped.append(target.name)
        self.report(
            "skip",
            target=target,
            text=f"{target.name} skipped: {why} ({counted(len(todo), 'frame')})",
        )

    async def _site_now(self) -> Site:
        if self._site is None:
            s = await self._api(self.obs.telescope.get_site)
            self._site = Site(s["latitude"], s["longitude"], s.get("elevation") or 0.0)
        return self._site

    async def _goto(self, target: Target, ra: float, dec: float, dither: bool = False) -> None:
        if not self._unparked:
            pos = await self._api(self.obs.telescope.position)
            if pos.get("parked") or pos.get("parking"):
                self.report("step", text="unparking the mount")
                await self._api(self.obs.telescope.unpark)
            self._unparked = True
        self.report("step", text=f"{'dithering' if dither else 'slewing to ' + target.name}")
        self.busy = "telescope"
        await self._api(
            self.obs.telescope.goto,
            ra % 24,
            max(-90.0, min(90.0, dec)),
            on_progress=lambda p: self.report("slew", target=target, progress=p),
        )
        self.busy = None

    async def _center(self, target: Target) -> bool:
        """Plate-solve centering on the target; False (noted, recorded) when it failed."""
        c = target.center
        assert c is not None and target.ra is not None and target.dec is not None
        self.report("step", text=f"centering {target.name} to {c.tolerance:g} arcsec")
        self.busy = "center"
        event: dict[str, Any] = {"event": "center", "target": target.name, "time": _now()}
        try:
            result = await self._api(
                self.obs.telescope.center,
                target.ra,
                target.dec,
                tolerance=c.tolerance,
                attempts=c.attempts,
                exposure=c.exposure,
                binning=c.binning,
                on_progress=lambda p: self.report("center", target=target, progress=p),
            )
        except RemoteError as exc:
            self.busy = None
            tries = exc.data.get("attempts") or []
            errors = [t.get("error") for t in tries if isinstance(t, dict)]
            self._centering = {"status": "failed", "attempts": len(tries), "message": str(exc)}
            if errors and errors[-1] is not None:
                self._centering["error"] = errors[-1]
            self.manifest.append({**event, **self._centering})
            self.report(
                "note",
                text=f"centering failed ({exc}); "
                + ("skipping the target" if c.on_failure == "skip" else "going on"),
            )
            return False
        self.busy = None
        solution = result.get("solution") or {}
        self._centering = {
            "status": "ok",
            "error": result.get("error"),
            "attempts": len(result.get("attempts") or []),
            "method": result.get("method"),
            "ra": solution.get("ra"),
            "dec": solution.get("dec"),
        }
        self.manifest.append({**event, **self._centering})
        self.report(
            "step",
            text=f"centered {target.name}: {self._centering['error']:.1f} arcsec off"
            f" after {self._centering['attempts']} solves",
        )
        return True

    def _autofocus_reason(self, frame: Frame) -> str | None:
        """Why this light frame is preceded by an autofocus run, or None."""
        af, exp = frame.target.autofocus, frame.exposure
        if af is None or exp.frame_type != "light" or not frame.target.needs_sky:
            return None
        if self._af_due:
            return self._af_due
        if af.every and self._lights_since_focus >= af.every:
            return f"{self._lights_since_focus} light frames since the last focus"
        if (
            af.on_filter_change
            and (exp.filter or "").casefold() != (self._af_filter or "").casefold()
        ):
            return f"filter changed to {exp.filter or '(none)'}"
        key = (exp.filter or "").casefold()
        recent, base = self._recent_hfr.get(key, []), self._focus_hfr.get(key)
        if af.hfr_rise and base and len(recent) >= HFR_SAMPLES:
            median = sorted(recent[-HFR_SAMPLES:])[HFR_SAMPLES // 2]
            if median > base * (1 + af.hfr_rise / 100):
                return (
                    f"median HFR {median:.2f} is {100 * (median / base - 1):.0f} % over"
                    f" {base:.2f} after the last focus"
                )
        return None

    async def _autofocus(self, frame: Frame, reason: str) -> None:
        """Run ``focuser.autofocus``; a failure is noted and the run goes on."""
        af, target = frame.target.autofocus, frame.target
        assert af is not None
        focus_filter = af.filter or frame.exposure.filter
        # Whatever the outcome, the triggers start again from here (a failing
        # autofocus is not retried before every frame).
        self._af_due = None
        self._lights_since_focus = 0
        self._af_filter = frame.exposure.filter
        self._focus_hfr.clear()
        self._recent_hfr.clear()
        self.report("autofocus", target=target, reason=reason)
        event: dict[str, Any] = {
            "event": "autofocus",
            "target": target.name,
            "reason": reason,
            "filter": focus_filter,
            "time": _now(),
        }
        try:
            if focus_filter:
                await self._select_filter(focus_filter)
            self.busy = "autofocus"
            result = await self._api(
                self.obs.focuser.autofocus,
                **af.params(),
                on_progress=lambda p: self.report("focus", target=target, progress=p),
            )
        except RemoteError as exc:
            self.busy = None
            self.manifest.append({**event, "status": "failed", "message": str(exc)})
            self.report("note", text=f"autofocus failed ({exc}); going on where the focuser is")
            return
        self.busy = None
        start = result.get("start") or {}
        self.manifest.append(
            {
                **event,
                "status": "ok",
                "position": result.get("position"),
                "hfr": result.get("hfr"),
                "stars": result.get("stars"),
                "start_position": start.get("position"),
                "start_hfr": start.get("hfr"),
                "points": result.get("points"),
            }
        )
        self.report("focused", target=target, result=result)
        if self.plan.focuser_offsets and isinstance(result.get("position"), int):
            # Best focus for this filter: the offsets of the others count from it.
            offsets = {k.casefold(): v for k, v in self.plan.focuser_offsets.items()}
            self._focus_offset = offsets.get((focus_filter or "").casefold(), 0)
            self._focus_base = result["position"] - self._focus_offset

    def _note_hfr(self, frame: Frame, entry: dict[str, Any]) -> None:
        """Track the HFR of light frames for the hfr_rise trigger."""
        hfr = (entry.get("analysis") or {}).get("hfr")
        if frame.exposure.frame_type != "light" or not isinstance(hfr, int | float):
            return
        key = (frame.exposure.filter or "").casefold()
        if key not in self._focus_hfr:
            self._focus_hfr[key] = hfr  # the first frame after a focus sets the reference
        else:
            self._recent_hfr.setdefault(key, []).append(hfr)

    async def _frame(self, frame: Frame) -> None:
        exp, target = frame.exposure, frame.target
        if exp.frame_type == "light" and target.dither and target.ra is not None:
            if self._lights_since_dither >= target.dither.every:
                self._dither_due = True  # before this frame, after `every` light frames
                self._lights_since_dither = 0
            self._lights_since_dither += 1
        reason = self._autofocus_reason(frame)
        if reason is not None:
            await self._autofocus(frame, reason)
        if exp.frame_type == "light":
            self._lights_since_focus += 1
        quality = target.quality if exp.frame_type == "light" else None
        rejected: list[str] = []
        while True:
            entry = await self._try(frame, quality)
            if entry is None:
                return
            if entry["status"] == "ok":
                self.manifest.append(entry)
                self.result.taken.append(frame.file)
                self._note_hfr(frame, entry)
                self.report("frame", frame=frame, entry=entry)
                return
            self.manifest.append(entry)
            rejected.append(entry["file"])
            last = quality is None or len(rejected) > quality.retakes
            self.report("rejected", frame=frame, entry=entry, last=last)
            if last:
                self.manifest.append(
                    {
                        **self._describe(frame),
                        "status": "failed",
                        "attempts": len(rejected),
                        "error": f"rejected {counted(len(rejected), 'time')}: {entry['rejected']}",
                        "rejected_files": rejected,
                        "time": _now(),
                    }
                )
                self.result.failed.append(frame.file)
                return

    async def _try(self, frame: Frame, quality: Quality | None) -> dict[str, Any] | None:
        """Expose the frame, trying again after errors; its manifest entry, or
        None when every try failed (then recorded as failed)."""
        attempts = 0
        error = ""
        while attempts <= self.retries:
            attempts += 1
            try:
                await self._prepare(frame)
                entry = await self._expose(frame, attempts, quality)
            except (RemoteError, ConnectionLost, OSError, ValueError) as exc:
                if isinstance(exc, RemoteError) and exc.name in ("invalid_params", "invalid_value"):
                    attempts = self.retries + 1  # the same request would fail again
                error = str(exc)
                self.report(
                    "retry",
                    frame=frame,
                    attempt=attempts,
                    error=error,
                    last=attempts > self.retries,
                )
                lost = self.busy == "camera" and isinstance(exc, ConnectionLost)
                self.busy = None
                # After any failure nothing is assumed of the devices: the filter is
                # selected again and the mount sent to the target before the next try.
                self._filter = None
                self._reslew = frame.target.needs_sky and frame.target.ra is not None
                if isinstance(exc, ConnectionLost):
                    await self.obs.wait_connected(self.options.reconnect_timeout)
                if lost:
                    # The exposure outlives a dropped connection on the service:
                    # stop it before the next try.  (After an error answer the
                    # service has ended it; an abort then would hit the next one.)
                    with contextlib.suppress(RemoteError, ConnectionLost):
                        await self.obs.camera.abort()
                continue
            return entry
        self.manifest.append(
            {
                **self._describe(frame),
                "status": "failed",
                "attempts": attempts,
                "error": error,
                "time": _now(),
            }
        )
        self.result.failed.append(frame.file)
        return None

    async def _prepare(self, frame: Frame) -> None:
        """The filter (with its focuser offset) and a due dither, before exposing."""
        exp, target = frame.exposure, frame.target
        if exp.filter:
            await self._select_filter(exp.filter)
        if exp.filter:
            await self._focus_for(exp.filter)
        if self._reslew and target.ra is not None and target.dec is not None:
            await self._goto(target, target.ra, target.dec)
            self._reslew = False
        if self._dither_due:
            await self._dither(target)
            self._dither_due = False

    async def _select_filter(self, name: str) -> None:
        if name.casefold() == (self._filter or "").casefold():
            return
        self.report("step", text=f"filter {name}")
        # A slot number in the plan is a slot, not a filter named "3".
        wanted: int | str = int(name) if name.isdigit() else name
        self._filter = None  # unknown until the wheel says it is there
        await self._api(self.obs.filter_wheel.select, wanted)
        self._filter = name

    async def _focus_for(self, name: str) -> None:
        if self._focus_base is None or not self.plan.focuser_offsets:
            return
        offsets = {k.casefold(): v for k, v in self.plan.focuser_offsets.items()}
        offset = offsets.get(name.casefold(), 0)
        if offset == self._focus_offset:
            return
        self.report("step", text=f"focuser offset {offset:+d} for {name}")
        self.busy = "focuser"
        await self._api(self.obs.focuser.move_to, self._focus_base + offset)
        self.busy = None
        self._focus_offset = offset

    async def _dither(self, target: Target) -> None:
        assert target.dither is not None and target.ra is not None and target.dec is not None
        arcsec = target.dither.offset
        d_dec = random.uniform(-arcsec, arcsec) / 3600
        cos_dec = max(math.cos(math.radians(target.dec)), 0.01)
        d_ra = random.uniform(-arcsec, arcsec) / 3600 / cos_dec / 15
        await self._goto(target, target.ra + d_ra, target.dec + d_dec, dither=True)
        if target.dither.settle:
            await asyncio.sleep(target.dither.settle)

    def _describe(self, frame: Frame) -> dict[str, Any]:
        exp, target = frame.exposure, frame.target
        return {
            "file": frame.file,
            "target": target.name,
            "filter": exp.filter,
            "duration": exp.duration,
            "frame_type": exp.frame_type,
            "binning": exp.binning,
            "index": frame.index,
        }

    async def _expose(
        self, frame: Frame, attempt: int, quality: Quality | None = None
    ) -> dict[str, Any]:
        exp, target = frame.exposure, frame.target
        started = _now()
        self.report("expose", frame=frame, attempt=attempt)
        self.busy = "camera"
        result = await self.obs.camera.expose(
            exp.duration,
            frame_type=exp.frame_type,  # type: ignore[arg-type]
            binning=exp.binning,
            gain=exp.gain,
            offset=exp.offset,
            metadata={"object": target.name, "plan": Path(self.plan.source).name},
            on_progress=lambda p: self.report("progress", frame=frame, progress=p),
        )
        self.busy = None
        self._check_reported(frame, result)
        data = await self.obs.fetch(result)
        analysis = result.get("analysis") or {}
        why = quality.reject(analysis) if quality is not None else None
        name = frame.file if why is None else self._rejected_name(frame)
        header = self._header(frame, result, started)
        if why is not None:
            header["REJECTED"] = why[:68]
        await asyncio.to_thread(_write_fits, self.out / name, data, header)
        entry: dict[str, Any] = {
            **self._describe(frame),
            "file": name,
            "start": started,
            "end": _now(),
            "status": "ok" if why is None else "rejected",
            "attempts": attempt,
            "blob_id": result.get("blob_id"),
            "ra": target.ra if target.needs_sky else None,
            "dec": target.dec if target.needs_sky else None,
            "analysis": {k: analysis[k] for k in ANALYSIS_KEYS if analysis.get(k) is not None},
        }
        if why is not None:
            entry["frame"], entry["rejected"] = frame.file, why
        if self._centering is not None and target.needs_sky:
            entry["centering"] = self._centering
        return entry

    def _check_reported(self, frame: Frame, result: dict[str, Any]) -> None:
        """The frame's filter and pointing as the devices reported them during the
        exposure must be the plan's: ValueError (a failed try) otherwise."""
        exp, target = frame.exposure, frame.target
        got = result.get("filter")
        if exp.filter and not exp.filter.isdigit() and got is not None:
            if str(got).casefold() != exp.filter.casefold():
                raise ValueError(f"the filter in the light path was {got}, not {exp.filter}")
        ra, dec = result.get("ra"), result.get("dec")
        if exp.frame_type == "light" and target.ra is not None and target.dec is not None:
            if isinstance(ra, int | float) and isinstance(dec, int | float):
                slack = 120.0 + (target.dither.offset * 1.5 if target.dither else 0.0)
                off = _distance_arcsec(ra, dec, target.ra, target.dec)
                if off > slack:
                    raise ValueError(f"the mount pointed {off / 60:.1f} arcmin from {target.name}")

    def _rejected_name(self, frame: Frame) -> str:
        """A free name for a rejected take of the frame, kept beside it."""
        stem = frame.file.removesuffix(".fits")
        n = 1
        while (
            f"{stem}_rejected{n}.fits" in self.manifest.entries
            or (self.out / f"{stem}_rejected{n}.fits").exists()
        ):
            n += 1
        return f"{stem}_rejected{n}.fits"

    def _header(self, frame: Frame, result: dict[str, Any], started: str) -> dict[str, Any]:
        exp, target = frame.exposure, frame.target
        header: dict[str, Any] = {
            "OBJECT": target.name,
            "IMAGETYP": IMAGETYP[exp.frame_type],
            "EXPTIME": exp.duration,
            # What the devices reported during the exposure, never what was asked.
            "FILTER": result.get("filter") or exp.filter or "",
            "XBINNING": exp.binning,
            "YBINNING": exp.binning,
            "DATE-OBS": started.rstrip("Z"),
            "FRAMEIDX": frame.index,
            "PLANFILE": Path(self.plan.source).name[:68],
        }
        if target.needs_sky and target.ra is not None and target.dec is not None:
            # OBJCTRA/OBJCTDEC: the object's; RA/DEC: where the mount pointed.
            header["OBJCTRA"] = _sexa(target.ra)
            header["OBJCTDEC"] = _sexa(target.dec, sign=True)
            ra, dec = result.get("ra"), result.get("dec")
            if isinstance(ra, int | float) and isinstance(dec, int | float):
                header["RA"] = round(ra * 15, 6)
                header["DEC"] = round(dec, 6)  # else the service's cards stay
        if self._site is not None:
            header["SITELAT"] = self._site.latitude
            header["SITELONG"] = self._site.longitude
        if result.get("temperature") is not None:
            header["CCD-TEMP"] = result["temperature"]
        analysis = result.get("analysis") or {}
        for key, card in (("stars", "STARCNT"), ("hfr", "HFR"), ("fwhm", "FWHM")):
            if isinstance(analysis.get(key), int | float):
                header[card] = analysis[key]
        if self._centering is not None and target.needs_sky:
            if isinstance(self._centering.get("error"), int | float):
                header["CENTERR"] = round(self._centering["error"], 1)
        header.update(self.plan.metadata)
        header.update(target.metadata)
        return header

    async def _abort(self) -> None:
        """Stop what runs now at the device, through the API (on cancel)."""
        busy, self.busy = self.busy, None
        if busy is None or not self.obs.connected:
            return
        for role in COMPOUND.get(busy, (busy,)):
            self.report("step", text=f"aborting the {role}")
            abort = {
                "camera": self.obs.camera.abort,
                "telescope": self.obs.telescope.abort,
                "focuser": self.obs.focuser.abort,
            }[role]
            try:
                await asyncio.wait_for(abort(), 15)
            except (RemoteError, ConnectionLost, TimeoutError) as exc:
                self.report("note", text=f"abort of the {role} failed: {exc}")


def _distance_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in arcseconds of two RA (hours) / Dec (degrees) points."""
    r1, d1, r2, d2 = (
        math.radians(ra1 * 15),
        math.radians(dec1),
        math.radians(ra2 * 15),
        math.radians(dec2),
    )
    s = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(s)))) * 3600


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sexa(value: float, sign: bool = False) -> str:
    s = "-" if value < 0 else ("+" if sign else "")
    total = round(abs(value) * 3600, 1)
    d, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{s}{int(d):02d} {int(m):02d} {sec:04.1f}"


def _write_fits(path: Path, data: bytes, header: dict[str, Any]) -> None:
    """The frame with the plan's keywords in its primary header, written atomically."""
    from astropy.io import fits

    with fits.open(io.BytesIO(data)) as hdul:
        hdr = hdul[0].header
        for key, value in header.items():
            hdr[key] = value
        buffer = io.BytesIO()
        hdul.writeto(buffer, output_verify="silentfix")
    write_atomic(path, buffer.getvalue())
