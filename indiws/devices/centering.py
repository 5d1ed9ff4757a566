"""Plate solving of stored frames and centering a target by solve, sync and goto.

Written once here on top of `Camera`, `Telescope`, the frame store and
`indiws.analysis.solve`, and declared as the verbs ``camera.analyse``,
``camera.solve`` and ``telescope.center`` (`indiws.verbs`: procedures over
the role's device, given the frame store, the solver's index folder and the
other roles' devices they need); the fronts only translate.  The hint for the solver
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
from typing import Annotated, Any, Literal

from msgspec import Meta

from ..analysis import analyse_frame
from ..analysis.frames import FrameData, FrameReadError, finite_number, read_frame
from ..analysis.solve import SolveError, SolveFailed, SolveHint, solve_frame
from ..blobs import Blob, BlobNotFound, BlobStore
from ..verbs import RA, UNSET, Dec, Params, Result, UnsetType, check_ranges, verb
from . import astro
from .base import Action, ProgressCallback, run_procedure
from .camera import Camera, FrameAnalysis
from .errors import DeviceError, InvalidValueError
from .telescope import Telescope

__all__ = [
    "CENTER_METHODS",
    "SIMULATED_SKY_DRIVERS",
    "AnalysedFrame",
    "CenterParams",
    "CenterResult",
    "CenteringError",
    "FrameParams",
    "SolveError",
    "SolveFailed",
    "SolveParams",
    "Solution",
    "analyse",
    "center",
    "solve",
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


class SolveResult(Solution):
    """``camera.solve``'s answer: the solution and the frame's URLs (what
    every front adds to a result naming a frame), with the action
    (``solve``), the camera's device and the seconds it ran when a camera
    holds its role (the solve is then one of its actions)."""

    #: /blobs/<id>, its PNG and JPEG previews.
    url: str
    preview_url: str
    preview_jpg_url: str
    action: str | UnsetType = UNSET
    device: str | UnsetType = UNSET
    elapsed: float | UnsetType = UNSET


class AnalysedFrame(FrameAnalysis, kw_only=True):
    """A stored frame measured again: its blob id, its URLs and the analysis fields."""

    blob_id: str
    #: /blobs/<id>, its PNG and JPEG previews.
    url: str
    preview_url: str
    preview_jpg_url: str


#: A solver's search radius around the hint, degrees.
Radius = Annotated[
    float, Meta(gt=0, le=30, description="degrees around the hint", extra={"unit": "degrees"})
]
#: How long the solver may take, seconds.
TimeLimit = Annotated[
    float, Meta(ge=1, le=600, description="seconds the solver may take", extra={"unit": "seconds"})
]
#: A stored frame's id (null: the newest).
BlobId = Annotated[str, Meta(description="a stored frame's id (GET /blobs)")]


class FrameParams(Params):
    blob_id: BlobId | None = None


class SolveParams(FrameParams):
    radius: Radius = 2.0
    time_limit: TimeLimit = 30.0


class CenterParams(Params):
    ra: RA
    dec: Dec
    epoch: Literal["J2000", "JNow"] = "J2000"
    tolerance: Annotated[
        float, Meta(ge=1, le=36_000, description="arcsec from the target", extra={"unit": "arcsec"})
    ] = 30.0
    attempts: Annotated[int, Meta(ge=1, le=20, description="solves at most")] = 5
    exposure: Annotated[
        float, Meta(ge=0.001, le=600, description="seconds per frame", extra={"unit": "seconds"})
    ] = 2.0
    binning: Annotated[int, Meta(ge=1)] | None = None
    radius: Radius = 2.0
    time_limit: TimeLimit = 30.0
    method: Literal["auto", "sync", "offset"] = "auto"
    force: bool = False


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
    check_ranges(SolveParams, radius=radius, time_limit=time_limit)
    blob = _stored(store, blob_id, camera)
    return await _solve(blob, camera, telescope, index_dir, radius, time_limit)


def _stored(store: BlobStore, blob_id: str | None, camera: Camera | None = None) -> Blob:
    """The frame ``blob_id``, else the newest (of ``camera``'s device): `BlobNotFound`."""
    if blob_id is None:
        latest = store.latest(camera.name if camera is not None else None)
        if latest is None:
            raise BlobNotFound("latest")
        blob_id = latest.id
    return store.get(blob_id)


async def _solve(
    blob: Blob,
    camera: Camera | None,
    telescope: Telescope | None,
    index_dir: Path,
    radius: float,
    time_limit: float,
) -> dict[str, Any]:
    blob_id = blob.info.id
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


def _present(device: Camera | Telescope | None) -> Camera | Telescope | None:
    """``device`` when a device holds its role and the indiserver has it, else None."""
    if device is None or device.name is None or device.name not in device.client.devices:
        return None
    return device


@verb("camera.analyse", FrameParams, AnalysedFrame, needs=("blobs",), procedure=True)
async def analyse(camera: Camera, *, blob_id: str | None = None, blobs: BlobStore) -> dict:
    """Measure a stored frame again (blob_id, else the newest).

    The analysis fields of camera.expose's result (stars, hfr, fwhm,
    background, ...), with the frame's blob_id and URLs. No camera is needed:
    any stored frame is measured. Errors: unknown_frame."""
    blob = _stored(blobs, blob_id)
    return {"blob_id": blob.info.id, **await analyse_frame(blob.data, blob.info.format)}


@verb(
    "camera.solve",
    SolveParams,
    SolveResult,
    long=True,
    needs=("telescope", "blobs", "index_dir"),
    procedure=True,
)
async def solve(
    camera: Camera,
    *,
    blob_id: str | None = None,
    radius: float = 2.0,
    time_limit: float = 30.0,
    telescope: Telescope | None = None,
    blobs: BlobStore,
    index_dir: Path,
) -> dict[str, Any]:
    """Plate-solve a stored frame (blob_id, else the camera's newest).

    The hint is where the mount pointed (the frame's FITS header, else the
    mount now) within radius degrees; time_limit bounds the solver (s).
    While a camera holds its role the solve is one of its actions (solve):
    announced, followed and aborted as the others (camera.abort stops it
    too). Result: {ra (hours), dec (degrees), ra_deg: J2000 centre of the
    frame, epoch, rotation (degrees), pixel_scale (arcsec/px), parity,
    field_width, field_height (arcmin), stars, seconds, blob_id, url,
    preview_url, preview_jpg_url, hint: {ra, dec, radius, source},
    pointing_error (arcsec from the hint)}, and action, device, elapsed as
    an action's. Errors: unknown_frame, solve_failed (no solution, too few
    stars), solver_unavailable (solve-field missing, unreadable frame)."""
    check_ranges(SolveParams, radius=radius, time_limit=time_limit)
    cam = _present(camera)
    mount = _present(telescope)
    blob = _stored(blobs, blob_id, cam)  # an unknown frame is refused before any action

    async def run(act: Action | None = None) -> dict[str, Any]:
        return await _solve(blob, cam, mount, index_dir, radius, time_limit)  # type: ignore[arg-type]

    if cam is None:  # a frame solved with no camera: not an action of any device
        return await run()
    params = {"blob_id": blob.info.id, "radius": radius, "time_limit": time_limit}
    # Solves of two frames may run side by side: a newer one does not abort this one.
    return await run_procedure(cam, "solve", run, params=params, supersede=False)  # type: ignore[arg-type]


@verb(
    "telescope.center",
    CenterParams,
    CenterResult,
    moves=True,
    long=True,
    progress=True,
    needs=("camera", "blobs", "index_dir"),
    procedure=True,
)
async def center(
    telescope: Telescope,
    camera: Camera,
    blobs: BlobStore,
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
    force: bool = False,
    index_dir: Path,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Put RA (hours) / Dec (degrees) in the middle of the frame: goto, solve, correct.

    Goto the target, then expose, solve, sync and goto again until the
    frame's centre is within tolerance arcsec of it (J2000, or JNow with
    epoch), at most attempts solves; exposure/binning for the frames;
    radius and time_limit as for camera.solve. method: sync (sync to the
    solution, goto again), offset (goto the target shifted by the error, for
    mounts that cannot sync or an error a sync does not remove, such as a
    camera off the mount's axis), auto (sync, then offset once a sync did
    not halve the error). Moves the mount: refused (unsafe) while the safety
    policy says unsafe unless force, and (invalid_state) while parked, before
    anything moves. Progress: {state: slewing|exposing|solving|solved|syncing,
    attempt, ...; solved adds ra, dec, error (arcsec), blob_id}. Result:
    {target: {ra, dec, epoch: J2000}, solution (the last camera.solve
    result), error (arcsec), method (the last correction), attempts:
    [{attempt, ra, dec, error, correction, blob_id}], elapsed}. Errors:
    centering_failed (data.attempts), solve_failed, and those of
    telescope.goto/sync and camera.expose."""
    check_ranges(
        CenterParams,
        ra=ra,
        dec=dec,
        tolerance=tolerance,
        attempts=attempts,
        exposure=exposure,
        radius=radius,
        time_limit=time_limit,
    )
    if method not in CENTER_METHODS:
        choices = ", ".join(CENTER_METHODS)
        raise InvalidValueError(f"method must be one of {choices}, not {method!r}")
    # The goto's own gates, before the action starts (a REST call is refused,
    # not answered 202 and failed).
    telescope._connected()
    telescope._check_unparked("centering")
    telescope._check_safe("goto", force)
    camera._connected()
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
        await telescope.goto(target[0], target[1], epoch="J2000", force=force)
        command = target  # where the mount was last sent
        correction = "sync" if method == "auto" else method
        for attempt in range(1, attempts + 1):
            report({"state": "exposing", "attempt": attempt})
            shot = await camera.expose(
                exposure, frame_type="light", binning=binning, metadata={"purpose": "centering"}
            )
            report({"state": "solving", "attempt": attempt, "blob_id": shot["blob_id"]})
            solution = await solve_stored_frame(
                blobs,
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
            await telescope.goto(command[0], command[1], epoch="J2000", force=force)
        raise CenteringError(
            f"the target is still {tries[-1]['error']:.0f}\" from the frame's centre after "
            f'{attempts} attempt(s) (tolerance {tolerance:g}")',
            device=telescope.name,
            role="telescope",
            attempts=tries,
        )

    return await run_procedure(telescope, "center", run, params=params, progress=progress)
