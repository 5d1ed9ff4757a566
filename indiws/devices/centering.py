"""Plate solving of stored frames and centering a target by solve, sync and goto.

Written once here on top of `Camera`, `Telescope`, the frame store and
`indiws.analysis.solve`; the fronts only translate.  The hint for the solver
is where the mount said it pointed when the frame was taken (the frame's
FITS header, else the mount's position now), so a solve searches a few
degrees of sky instead of all of it.  Frames of INDI's CCD simulator show
the synthetic sky (`indiws.sky`), whose index files are built on demand
into ``index_dir``; other frames are solved with the system's index files.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..analysis.frames import FrameData, FrameReadError, finite_number, read_frame
from ..analysis.solve import SolveError, SolveFailed, SolveHint, solve_frame
from ..blobs import BlobNotFound, BlobStore
from ..verbs import Result
from . import astro
from .base import Action, ProgressCallback, run_procedure
from .camera import Camera
from .errors import DeviceError, InvalidValueError
from .telescope import Telescope

__all__ = [
    "CENTER_METHODS",
    "SIMULATED_SKY_DRIVERS",
    "CenteringError",
    "SolveError",
    "SolveFailed",
    "center",
    "solve_stored_frame",
]

#: How `center` corrects the pointing.
CENTER_METHODS = ("auto", "sync", "offset")
#: Drivers whose frames show the synthetic sky.
SIMULATED_SKY_DRIVERS = frozenset({"indi_simulator_ccd", "indi_simulator_guide"})


class CenteringError(DeviceError):
    """The target was not brought within the tolerance in the attempts allowed."""

    code = "centering_failed"

    def __init__(self, message: str, *, attempts: list[dict[str, Any]], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.attempts = attempts

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"attempts": self.attempts}


class SolveHintUsed(Result):
    """Where the solver looked: J2000 RA (hours) / Dec (degrees) within
    radius degrees, and whence that came."""

    ra: float
    dec: float
    radius: float
    #: frame header, or mount position.
    source: str


class Solution(Result):
    """A stored frame's plate solution (`solve_stored_frame`)."""

    #: J2000 centre of the frame: hours, degrees, and RA in degrees.
    ra: float
    dec: float
    ra_deg: float
    epoch: str
    #: Degrees of the image's +y axis from north through east.
    rotation: float
    #: Arcsec per pixel.
    pixel_scale: float
    #: normal or flipped.
    parity: str
    #: Arcminutes.
    field_width: float
    field_height: float
    #: Stars given to the solver; seconds it took.
    stars: int
    seconds: float
    blob_id: str
    #: null: solved blind (no hint known).
    hint: SolveHintUsed | None
    #: Arcsec between the hint and the solution (null without a hint).
    pointing_error: float | None


class CenterTarget(Result):
    """The target in J2000: RA hours, Dec degrees."""

    ra: float
    dec: float
    epoch: str


class CenterAttempt(Result):
    """One solve of a centering: where the frame was, how far off, what followed."""

    attempt: int
    ra: float
    dec: float
    #: Arcsec from the target.
    error: float
    #: sync or offset: the correction made after it (null: none, the last).
    correction: str | None
    blob_id: str


class CenterResult(Result):
    """A centering's end (`center`): within tolerance of the target."""

    #: The action (``center``) and the mount's device.
    action: str
    device: str
    target: CenterTarget
    #: The last frame's solution.
    solution: Solution
    #: Arcsec from the target at the end.
    error: float
    #: The last correction made (null: the first goto was close enough).
    method: str | None
    attempts: list[CenterAttempt]
    #: Seconds.
    elapsed: float


def _header_hint(frame: FrameData) -> tuple[float, float] | None:
    """The mount's J2000 RA/Dec (degrees) at exposure time, from INDI's FITS cards."""
    ra, dec = finite_number(frame.header.get("RA")), finite_number(frame.header.get("DEC"))
    if ra is None or dec is None or not -90 <= dec <= 90:
        return None
    return ra % 360.0, dec


def _simulated(store_device: str, camera: Camera | None, frame: FrameData) -> bool:
    if camera is not None and camera.name == store_device:
        dev = camera.client.devices.get(camera.name)
        if dev is not None and dev.driver_info.get("DRIVER_EXEC") in SIMULATED_SKY_DRIVERS:
            return True
    return str(frame.header.get("INSTRUME", "")).endswith("Simulator")


def _shifted(
    command: tuple[float, float], target: tuple[float, float], solved: tuple[float, float]
) -> tuple[float, float]:
    """``command`` moved by the target's offset from the solution (RA hours, Dec degrees)."""
    d_ra = (target[0] - solved[0] + 12.0) % 24.0 - 12.0
    dec = max(-90.0, min(90.0, command[1] + target[1] - solved[1]))
    return (command[0] + d_ra) % 24.0, dec


async def solve_stored_frame(
    store: BlobStore,
    *,
    blob_id: str | None = None,
    camera: Camera | None = None,
    telescope: Telescope | None = None,
    index_dir: Path,
    radius: float = 2.0,
    time_limit: float = 30.0,
) -> dict[str, Any]:
    """Solve a stored frame (``blob_id``, else the camera's newest).

    Result: the solution (``ra`` hours, ``dec``, ``ra_deg`` J2000 of the
    frame's centre, ``rotation``, ``pixel_scale``, ``parity``, field size,
    ``stars``, ``seconds``) with ``blob_id``, the ``hint`` used and
    ``pointing_error`` (arcsec between the hint and the solution)."""
    if not 0 < radius <= 30:
        raise InvalidValueError(f"radius must be within (0, 30] degrees, not {radius!r}")
    if not 1 <= time_limit <= 600:
        raise InvalidValueError(f"time_limit must be within [1, 600] seconds, not {time_limit!r}")
    if blob_id is None:
        latest = store.latest(camera.name if camera is not None else None)
        if latest is None:
            raise BlobNotFound("latest")
        blob_id = latest.id
    blob = store.get(blob_id)
    try:
        frame = await asyncio.to_thread(read_frame, blob.data, blob.info.format)
    except FrameReadError as exc:
        raise SolveError(f"frame {blob_id}: {exc}") from None
    hint = SolveHint(radius=radius)
    where = _header_hint(frame)
    source = "frame header"
    if where is None and telescope is not None:
        pos = await telescope.position()
        if pos.get("ra_j2000") is not None:
            where = (pos["ra_j2000"] * 15.0, pos["dec_j2000"])
            source = "mount position"
    if where is not None:
        hint.ra, hint.dec = where
    index_files: list[Path] = []
    if _simulated(blob.info.device, camera, frame):
        from ..sky.index import ensure_index

        if where is None:
            raise SolveError("the simulated sky is solved near a hint: no mount position known")
        height, width = frame.pixels.shape
        scale = frame.pixel_scale or 1.0
        field = (width * scale / 3600.0, height * scale / 3600.0)
        index_files = await asyncio.to_thread(ensure_index, *where, radius, field, index_dir)
    result = await solve_frame(frame, hint=hint, index_files=index_files, time_limit=time_limit)
    result["blob_id"] = blob_id
    result["hint"] = result["pointing_error"] = None
    if where is not None:
        hint_ra = where[0] / 15.0
        result["hint"] = {"ra": hint_ra, "dec": where[1], "radius": radius, "source": source}
        off = astro.angular_distance(hint_ra, where[1], result["ra"], result["dec"])
        result["pointing_error"] = round(off * 3600, 1)
    return result


async def center(
    telescope: Telescope,
    camera: Camera,
    store: BlobStore,
    ra: float,
    dec: float,
    *,
    epoch: str = "J2000",
    tolerance: float = 30.0,
    attempts: int = 5,
    exposure: float = 2.0,
    binning: int | None = None,
    radius: float = 2.0,
    time_limit: float = 30.0,
    method: str = "auto",
    index_dir: Path,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Goto the target, then expose, solve and correct until the frame's
    centre is within ``tolerance`` arcsec of the target (J2000 RA hours / Dec
    degrees, or JNow with ``epoch``), at most ``attempts`` solves.

    ``method`` of correction: ``sync`` (sync the mount to the solution, goto
    the target again), ``offset`` (goto the target shifted by the error, for
    mounts that cannot sync or an error a sync does not remove, such as a
    camera off the mount's axis), ``auto`` (sync, and offset from the first
    sync that did not halve the error on).

    Result: ``target`` (J2000), ``solution`` (the last), ``error`` (arcsec),
    ``method`` (the last correction), ``attempts`` (each: solved position,
    error, correction, blob_id), ``elapsed``.  CenteringError (with the
    attempts) when the tolerance is not reached."""
    if not (isinstance(tolerance, int | float) and 1 <= tolerance <= 36_000):
        raise InvalidValueError(f"tolerance must be within [1, 36000] arcsec, not {tolerance!r}")
    if not (isinstance(attempts, int) and 1 <= attempts <= 20):
        raise InvalidValueError(f"attempts must be within [1, 20], not {attempts!r}")
    if not (isinstance(exposure, int | float) and 0.001 <= exposure <= 600):
        raise InvalidValueError(f"exposure must be within [0.001, 600] s, not {exposure!r}")
    if method not in CENTER_METHODS:
        choices = ", ".join(CENTER_METHODS)
        raise InvalidValueError(f"method must be one of {choices}, not {method!r}")
    started = time.monotonic()
    if epoch == "JNow":
        target = await asyncio.to_thread(astro.jnow_to_j2000, ra, dec)
    else:
        target = (ra, dec)
    params = {
        "ra": ra,
        "dec": dec,
        "epoch": epoch,
        "tolerance": tolerance,
        "attempts": attempts,
        "exposure": exposure,
        "binning": binning,
        "method": method,
    }

    async def run(act: Action) -> dict[str, Any]:
        report = act.report
        tries: list[dict[str, Any]] = []
        report({"state": "slewing", "attempt": 0, "target_ra": target[0], "target_dec": target[1]})
        await telescope.goto(target[0], target[1], epoch="J2000")
        command = target  # where the mount was last sent
        correction = "sync" if method == "auto" else method
        for attempt in range(1, attempts + 1):
            report({"state": "exposing", "attempt": attempt})
            shot = await camera.expose(
                exposure, frame_type="light", binning=binning, metadata={"purpose": "centering"}
            )
            report({"state": "solving", "attempt": attempt, "blob_id": shot["blob_id"]})
            solution = await solve_stored_frame(
                store,
                blob_id=shot["blob_id"],
                camera=camera,
                telescope=telescope,
                index_dir=index_dir,
                radius=radius,
                time_limit=time_limit,
            )
            error = astro.angular_distance(solution["ra"], solution["dec"], *target) * 3600.0
            entry: dict[str, Any] = {
                "attempt": attempt,
                "ra": solution["ra"],
                "dec": solution["dec"],
                "error": round(error, 1),
                "correction": None,
                "blob_id": shot["blob_id"],
            }
            done = error <= tolerance
            if not done and attempt < attempts:
                if (
                    method == "auto"
                    and tries
                    and tries[-1]["correction"] == "sync"
                    and error > tries[-1]["error"] / 2
                ):
                    correction = "offset"  # the sync did not help: correct by aiming off instead
                # Decided before the report, so the progress says what follows.
                entry["correction"] = correction
            tries.append(entry)
            report({"state": "solved", **entry})
            if done:
                return {
                    "target": {"ra": target[0], "dec": target[1], "epoch": "J2000"},
                    "solution": solution,
                    "error": round(error, 1),
                    "method": tries[-2]["correction"] if len(tries) > 1 else None,
                    "attempts": tries,
                    "elapsed": round(time.monotonic() - started, 2),
                }
            if attempt == attempts:
                break
            if correction == "sync":
                report({"state": "syncing", "attempt": attempt, "correction": correction})
                await telescope.sync(solution["ra"], solution["dec"], epoch="J2000")
                command = target
            else:
                command = _shifted(command, target, (solution["ra"], solution["dec"]))
            report(
                {
                    "state": "slewing",
                    "attempt": attempt,
                    "ra": command[0],
                    "dec": command[1],
                    "correction": correction,
                }
            )
            await telescope.goto(command[0], command[1], epoch="J2000")
        raise CenteringError(
            f"the target is still {tries[-1]['error']:.0f}\" from the frame's centre after "
            f'{attempts} attempt(s) (tolerance {tolerance:g}")',
            device=telescope.name,
            role="telescope",
            attempts=tries,
        )

    return await run_procedure(telescope, "center", run, params=params, progress=progress)
