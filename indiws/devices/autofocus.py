"""Autofocus: sweep the focuser, measure the stars' HFR in each frame, fit the
V-curve and move to its minimum.

Written once here on top of `Focuser` and `Camera`, and declared as the verb
``focuser.autofocus`` (`indiws.verbs`, a procedure over the focuser role's
device that needs the camera role's): JSON-RPC, REST, the client and a
plan's autofocus step call it.  Every position is
approached from below (moving outward), so the gears' backlash is taken up
the same way at each point and at the final position: a move that would go
inward first overshoots by ``backlash`` steps and comes back outward.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from msgspec import Meta

from ..analysis.focus import FIT_KINDS, MIN_POINTS, FocusFitError, FocusPoint, fit_vcurve
from ..verbs import Params, Result, check_ranges, verb
from .base import Action, ProgressCallback, run_procedure
from .camera import Camera
from .errors import DeviceError, InvalidValueError
from .focuser import Focuser

__all__ = ["AutofocusError", "AutofocusParams", "AutofocusResult", "autofocus"]


class AutofocusError(DeviceError):
    """Autofocus could not find focus: too few stars, or no minimum in the range."""

    code = "autofocus_failed"

    def __init__(self, message: str, *, points: Sequence[FocusPoint] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.points = [p.to_dict() for p in points]

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"points": self.points}


class FocusPointResult(Result):
    """One measured focuser position: median HFR (px; null: no star) and stars."""

    position: float
    hfr: float | None
    stars: int


class FocusFit(Result):
    """The V-curve fitted to the points (`fit_vcurve`)."""

    #: hyperbolic or parabolic.
    kind: str
    #: Best focus (steps) and the curve's HFR there.
    position: float
    hfr: float
    r2: float
    rms: float
    #: Of x², x, 1 in the scaled positions ((position - centre) / scale).
    coefficients: list[float]
    centre: float
    scale: float
    #: Positions used, and left out as outliers.
    used: list[float]
    rejected: list[float]


class AutofocusResult(Result):
    """Where an autofocus left the focuser, and the curve it measured."""

    #: The action (``autofocus``) and the focuser's device.
    action: str
    device: str
    #: Steps; HFR (px) and stars of the final frame there.
    position: int
    hfr: float | None
    stars: int
    start: FocusPointResult
    points: list[FocusPointResult]
    fit: FocusFit
    #: Steps of overshoot for inward moves.
    backlash: int
    #: Seconds.
    elapsed: float


_Steps = Annotated[int, Meta(ge=0, description="focuser steps", extra={"unit": "steps"})]


class AutofocusParams(Params):
    #: Seconds per frame.
    exposure: Annotated[
        float, Meta(ge=0.001, le=600, description="seconds per frame", extra={"unit": "seconds"})
    ] = 2.0
    step: (
        Annotated[
            int,
            Meta(
                ge=1,
                description="steps between positions (default: a fiftieth of the travel)",
                extra={"unit": "steps"},
            ),
        ]
        | None
    ) = None
    steps: Annotated[int, Meta(ge=MIN_POINTS, le=51, description="positions in the sweep")] = 9
    center: (
        Annotated[int, Meta(ge=0, description="middle of the sweep (default: where it is)")] | None
    ) = None
    backlash: _Steps | None = None
    fit: Literal["auto", "hyperbolic", "parabolic"] = "auto"
    min_stars: Annotated[int, Meta(ge=1, le=10_000, description="stars a point needs to count")] = 8
    extend: (
        Annotated[int, Meta(ge=0, le=50, description="steps past an end holding the least HFR")]
        | None
    ) = None
    binning: Annotated[int, Meta(ge=1)] | None = None


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise InvalidValueError(f"{name} must be within [{low:g}, {high:g}], not {value!r}")


@verb(
    "focuser.autofocus",
    AutofocusParams,
    AutofocusResult,
    moves=True,
    long=True,
    progress=True,
    needs=("camera",),
    procedure=True,
)
async def autofocus(
    focuser: Focuser,
    camera: Camera,
    *,
    exposure: float = 2.0,
    step: int | None = None,
    steps: int = 9,
    center: int | None = None,
    backlash: int | None = None,
    fit: str = "auto",
    min_stars: int = 8,
    extend: int | None = None,
    binning: int | None = None,
    roi: Sequence[int] | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Sweep the focuser, measure HFR per frame, fit the V-curve, move to best focus.

    steps positions step apart centred on center (default: the focuser's
    position; step defaults to a fiftieth of its travel); the sweep goes on
    up to extend steps (default steps // 2) past an end holding the smallest
    HFR, until the HFR rises twice. Each point is an exposure of exposure
    seconds with the camera role; points with fewer than min_stars stars do
    not count. fit: hyperbolic, parabolic or auto (the closer of the two).
    Every position is approached outward; inward moves overshoot by backlash
    steps (default: one step). Progress per frame: {state:
    start|measuring|extending|final, step, position, hfr, stars, blob_id}.
    Result: {position, hfr, stars (at the end), start: {position, hfr,
    stars}, points: [{position, hfr, stars}], fit: {kind, position, hfr, r2,
    rms, used, rejected, ...}, backlash, elapsed}. Errors: autofocus_failed
    (too few stars, no minimum in the range; data.points; the focuser goes
    back to where it was), invalid_value, and those of focuser.move_to and
    camera.expose."""
    started = time.monotonic()
    limit = focuser.max()["max"] or 0
    here = focuser.position()["position"]
    if here is None:
        raise InvalidValueError("autofocus needs a focuser with absolute positions")
    check_ranges(AutofocusParams, exposure=exposure, steps=steps, min_stars=min_stars)
    if extend is not None:
        check_ranges(AutofocusParams, extend=extend)
    if fit not in FIT_KINDS:
        raise InvalidValueError(f"fit must be one of {', '.join(FIT_KINDS)}, not {fit!r}")
    step = int(step) if step is not None else max(1, int(limit / 50) if limit else 100)
    _check("step", step, 1, limit or math.inf)
    center = here if center is None else int(center)
    _check("center", center, 0, limit or math.inf)
    backlash = step if backlash is None else int(backlash)
    _check("backlash", backlash, 0, limit or math.inf)
    extend = steps // 2 if extend is None else int(extend)
    first = center - (steps - 1) // 2 * step
    positions = [first + i * step for i in range(steps)]
    # Keep the sweep inside the focuser's travel.
    shift = max(0 - positions[0], 0) - max(positions[-1] - limit, 0) if limit else 0
    positions = [p + shift for p in positions]
    if positions[0] < 0 or (limit and positions[-1] > limit):
        raise InvalidValueError(
            f"{steps} steps of {step} do not fit the focuser's travel 0..{limit}"
        )
    params = {
        "exposure": exposure,
        "step": step,
        "steps": steps,
        "center": center,
        "backlash": backlash,
        "fit": fit,
        "min_stars": min_stars,
        "extend": extend,
        "binning": binning,
    }

    async def sweep(act: Action) -> dict[str, Any]:
        nonlocal extend
        report = act.report
        points: list[FocusPoint] = []
        at = here

        async def move(target: int) -> None:
            nonlocal at
            if target < at and backlash:
                # Inward: overshoot, then come back outward like every other move.
                await focuser.move_to(max(0, target - backlash))
            await focuser.move_to(target)
            at = target

        async def measure(position: int, stage: str) -> FocusPoint:
            await move(position)
            shot = await camera.expose(
                exposure,
                frame_type="light",
                binning=binning,
                roi=roi,
                metadata={"purpose": "autofocus", "focus_position": position},
            )
            a = shot.get("analysis") or {}
            point = FocusPoint(position, a.get("hfr"), int(a.get("stars") or 0))
            report(
                {
                    "state": stage,
                    "step": len(points) + 1,
                    "position": position,
                    "hfr": point.hfr,
                    "stars": point.stars,
                    "blob_id": shot.get("blob_id"),
                }
            )
            return point

        start_point = await measure(here, "start")
        for position in positions:
            points.append(await measure(position, "measuring"))

        def usable(p: FocusPoint) -> bool:
            return p.hfr is not None and p.stars >= min_stars

        # The minimum at an end: focus lies beyond it; walk on until the HFR rises twice.
        for _ in range(2):
            good = [p for p in points if usable(p)]
            if not good or extend <= 0:
                break
            best = min(good, key=lambda p: p.hfr)  # type: ignore[arg-type, return-value]
            if best.position == points[0].position:
                direction = -1
            elif best.position == points[-1].position:
                direction = 1
            else:
                break
            rises = 0
            while extend > 0 and rises < 2:
                edge = points[0] if direction < 0 else points[-1]
                nxt = edge.position + direction * step
                if nxt < 0 or (limit and nxt > limit):
                    extend = 0
                    break
                extend -= 1
                point = await measure(nxt, "extending")
                points.insert(0 if direction < 0 else len(points), point)
                if usable(point) and usable(edge) and point.hfr > edge.hfr:  # type: ignore[operator]
                    rises += 1
                else:
                    rises = 0
        try:
            curve = fit_vcurve(points, kind=fit, min_stars=min_stars)  # type: ignore[arg-type]
        except FocusFitError as exc:
            await move(here)  # leave the focuser where it was found
            raise AutofocusError(
                f"autofocus failed: {exc}; focuser returned to {here}",
                device=focuser.name,
                role="focuser",
                points=[start_point, *points],
            ) from None
        target = int(round(curve["position"]))
        await move(target)
        final = await measure(target, "final")
        report({"state": "done", "position": target, "hfr": final.hfr, "stars": final.stars})
        return {
            "position": target,
            "hfr": final.hfr,
            "stars": final.stars,
            "start": start_point.to_dict(),
            "points": [p.to_dict() for p in points],
            "fit": curve,
            "backlash": backlash,
            "elapsed": round(time.monotonic() - started, 2),
        }

    return await run_procedure(focuser, "autofocus", sweep, params=params, progress=progress)
