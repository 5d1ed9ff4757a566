"""The autoguider's verbs (``guiding.*``), declared once (`indiws.verbs`).

`GuidingVerbs` is a thin facade over a `GuidingEngine`: each method is one
declared verb with typed params (the settle rule, a dither's amount and
``ra_only``, a region of interest, the settings' ranges) and the typed
results of `results`.  From the registry the fronts derive what they show:
the JSON-RPC ``guiding.*`` methods of ``/ws/indi_client/`` (and
``rpc.discover``), the REST routes ``POST /api/v1/roles/guiding/{verb}``,
their OpenAPI schemas and the Python client; PHD2's event-server front
(`indiws.web.phd2`) maps its params onto these verbs' fields and checks
them with the fields' types (docs/verbs.md, docs/guiding.md).

``start``, ``calibrate`` and ``dither`` are actions (``long``): waiting for
the settle runs as an action of the guider role's device, so REST answers
202 and ``/api/v1/actions/{id}`` follows (or aborts: guiding stops, looping
goes on).  The verbs that pulse the mount (``moves``) are refused while the
safety policy says unsafe (`GuidingEngine._check_safe`), on every front.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import re
import typing
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ..devices import ACTION_STARTED, ActionAborted, ProgressCallback
from ..devices.guider import GuiderPulseResult
from ..verbs import VERBS, NoParams, Params, Timeout, verb
from .control import SettleRule
from .engine import _LIMITS, GuiderConfig, GuidingEngine
from .results import (
    CalibrationCleared,
    CalibrationData,
    GuideHistory,
    GuidingStatus,
    LockPosition,
    SettleOutcome,
)

__all__ = [
    "ENGINE_EVENTS",
    "GUIDING_EVENTS",
    "ConfigureParams",
    "DitherParams",
    "GuideRoi",
    "GuidingVerbs",
    "Settle",
    "StartParams",
    "event_method",
]

#: The engine's events (PHD2's names) pushed to every socket.
ENGINE_EVENTS = (
    "LoopingExposures",
    "LoopingExposuresStopped",
    "StarSelected",
    "StarLost",
    "LockPositionSet",
    "LockPositionLost",
    "StartCalibration",
    "Calibrating",
    "CalibrationComplete",
    "CalibrationFailed",
    "CalibrationDataFlipped",
    "StartGuiding",
    "GuideStep",
    "GuidingDithered",
    "SettleBegin",
    "Settling",
    "SettleDone",
    "GuidingStopped",
    "Paused",
    "Resumed",
    "GuideParamChange",
    "Alert",
)


def event_method(event: str) -> str:
    """``GuideStep`` → ``guiding.guide_step``."""
    return "guiding." + re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


#: The notifications of the engine's events (``guiding.guide_step``, ...).
GUIDING_EVENTS = tuple(event_method(e) for e in ENGINE_EVENTS)
#: Engine events reported as the progress of a start/calibrate/dither call.
PROGRESS_EVENTS = frozenset(
    {
        "StarSelected",
        "StartCalibration",
        "Calibrating",
        "CalibrationComplete",
        "StartGuiding",
        "SettleBegin",
        "Settling",
        "StarLost",
    }
)

# ---------------------------------------------------------------- params

Pixels = Annotated[float, Meta(gt=0, le=100, description="pixels", extra={"unit": "pixels"})]
Seconds = Annotated[float, Meta(ge=0, le=7200, description="seconds", extra={"unit": "seconds"})]


class Settle(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When a guide or dither counts as settled (PHD2's settle object): the
    guide error stayed within ``pixels`` for ``time`` seconds; it failed
    after ``timeout`` seconds."""

    pixels: Pixels = 1.5
    time: Seconds = 10.0
    timeout: Seconds = 60.0

    def rule(self) -> SettleRule:
        return SettleRule(self.pixels, self.time, self.timeout)


_Corner = Annotated[int, Meta(ge=0, description="pixels")]
_Side = Annotated[int, Meta(gt=0, description="pixels")]
#: ``[x, y, width, height]`` in frame pixels: where a star is chosen.
GuideRoi = tuple[_Corner, _Corner, _Side, _Side]
#: A dither's largest move of the lock position.
DitherAmount = Annotated[
    float, Meta(ge=0, le=100, description="pixels, at most", extra={"unit": "pixels"})
]
#: The frame pixels of a lock position.
FramePixel = Annotated[float, Meta(ge=0, le=100_000, description="frame pixels")]
GuidePulseMs = Annotated[
    float, Meta(gt=0, le=60_000, description="milliseconds", extra={"unit": "ms"})
]
Direction = Literal["north", "south", "east", "west", "n", "s", "e", "w"]
HistoryLimit = Annotated[int, Meta(ge=1, le=100_000)]


class _Settling(Params):
    #: Default: the settle_* settings.
    settle: Settle | None = None


class StartParams(_Settling):
    recalibrate: bool = False
    roi: GuideRoi | None = None
    wait: bool = True
    timeout: Timeout | None = None


class CalibrateParams(_Settling):
    roi: GuideRoi | None = None
    wait: bool = True
    timeout: Timeout | None = None


class DitherParams(Params):
    amount: DitherAmount
    #: Default: the dither_ra_only setting.
    ra_only: bool | None = None
    settle: Settle | None = None
    wait: bool = True
    timeout: Timeout | None = None


class FindStarParams(Params):
    roi: GuideRoi | None = None
    timeout: Timeout | None = None


class LockParams(Params):
    x: FramePixel
    y: FramePixel
    exact: bool = True


class PauseParams(Params):
    full: bool = False


class HistoryParams(Params):
    limit: HistoryLimit = 100


class PulseParams(Params):
    direction: Direction
    duration_ms: GuidePulseMs


def _setting(name: str, hint: Any) -> Any:
    """A setting's type with its range or choices from the engine's `_LIMITS`."""
    rule = _LIMITS[name]
    if isinstance(rule, tuple) and isinstance(rule[0], str):
        # A string the engine checks (any case; invalid_value naming the
        # choices), listed as the schema's enum.
        choices = {"description": "one of " + ", ".join(rule)}
        return Annotated[str, Meta(**choices, extra_json_schema={"enum": list(rule)})]
    if isinstance(rule, tuple):
        kind, low, high = rule
        unit = {"exposure": "seconds", "delay": "seconds", "settle_time": "seconds"}.get(name)
        extra: dict[str, Any] = {"extra": {"unit": unit}} if unit else {}
        if kind is int:  # a whole number, as the engine takes it (84.0 too)
            return Annotated[float, Meta(ge=low, le=high, multiple_of=1, **extra)]
        return Annotated[kind, Meta(ge=low, le=high, **extra)]
    return hint


def _configure_params() -> type[Params]:
    """``guiding.configure``'s params: every `GuiderConfig` setting, optional
    (null or left out: unchanged), typed and ranged from `_LIMITS`."""
    hints = typing.get_type_hints(GuiderConfig)
    fields = [
        (f.name, _setting(f.name, hints[f.name]) | None, None)
        for f in dataclasses.fields(GuiderConfig)
    ]
    return msgspec.defstruct(
        "GuidingConfigureParams",
        fields,
        bases=(Params,),
        kw_only=True,
        forbid_unknown_fields=True,
    )


ConfigureParams = _configure_params()

# ---------------------------------------------------------------- the verbs

_RUN_EVENTS = GUIDING_EVENTS


class GuidingVerbs:
    """The ``guiding.*`` verbs over ``engine`` (one per service)."""

    def __init__(self, engine: GuidingEngine) -> None:
        self.engine = engine

    @verb("guiding.status", NoParams, GuidingStatus, events=GUIDING_EVENTS)
    def status(self) -> dict[str, Any]:
        """Everything a panel shows of the guider.

        {state (Stopped, Selected, Calibrating, Guiding, LostLock, Paused,
        Looping), capturing, paused, settling, camera, mount, connected, star,
        lock_position, subframe, calibrated, calibration, pixel_scale (arcsec
        per px), frame, guide_frame, stats: {frames, pixels: {rms_ra, rms_dec,
        rms_total, peak_ra, peak_dec}, arcsec: {...}}, last_error, settings}."""
        return self.engine.status()

    @verb("guiding.settings", NoParams, GuiderConfig)
    def settings(self) -> dict[str, Any]:
        """The guider's settings (exposure, binning, aggressions, settle defaults, ...)."""
        return self.engine.settings()

    @verb(
        "guiding.configure", ConfigureParams, GuiderConfig, events=("guiding.guide_param_change",)
    )
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change guider settings; answers all of them.

        Give only the settings to change (names as guiding.settings answers;
        null or left out: unchanged); each is checked first and one bad value
        changes nothing (invalid_value). The binning cannot change while
        capturing (busy)."""
        return self.engine.configure(**{k: v for k, v in changes.items() if v is not None})

    @verb("guiding.loop", NoParams, GuidingStatus, events=GUIDING_EVENTS)
    async def loop(self) -> dict[str, Any]:
        """Loop guide exposures (no-op while looping); answers the status."""
        await self.engine.loop()
        return self.engine.status()

    @verb("guiding.stop", NoParams, GuidingStatus, events=GUIDING_EVENTS)
    async def stop(self) -> dict[str, Any]:
        """Stop guiding and capturing; answers once the loop has stopped, with the status."""
        await self.engine.stop_capture()
        return self.engine.status()

    @verb("guiding.stop_guiding", NoParams, GuidingStatus, events=GUIDING_EVENTS)
    async def stop_guiding(self) -> dict[str, Any]:
        """Stop guiding (or calibrating) but keep looping exposures; answers the status."""
        await self.engine.stop_guiding()
        return self.engine.status()

    @verb("guiding.find_star", FindStarParams, LockPosition, events=GUIDING_EVENTS)
    async def find_star(
        self, roi: GuideRoi | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Choose a guide star in the next whole frame (within roi [x, y, w, h]).

        Loops first if needed; locks on the star: {x, y}. Errors: no_star, busy."""
        x, y = await self.engine.find_star(_roi(roi), timeout=timeout)
        return {"x": round(x, 3), "y": round(y, 3)}

    @verb("guiding.set_lock_position", LockParams, LockPosition)
    def set_lock_position(self, x: float, y: float, exact: bool = True) -> dict[str, Any]:
        """Lock on (x, y) (unbinned frame pixels); exact false: on the star nearest it: {x, y}."""
        x, y = self.engine.set_lock_position(x, y, exact)
        return {"x": round(x, 3), "y": round(y, 3)}

    @verb(
        "guiding.start",
        StartParams,
        SettleOutcome,
        moves=True,
        long=True,
        progress=True,
        events=_RUN_EVENTS,
    )
    async def start(
        self,
        settle: Settle | None = None,
        recalibrate: bool = False,
        roi: GuideRoi | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Guide: loop, choose a star, calibrate (unless calibrated), guide and settle.

        settle: {pixels, time, timeout} (default: the settle_* settings).
        With wait (the default) answers once settled: {settled: true, Status,
        Error, Distance, Frames, DroppedFrames, TotalFrames, status}; progress
        notifications meanwhile ({event: StartCalibration, Calibrating,
        StartGuiding, Settling, ...}); calibration_failed when the
        calibration failed, settle_failed when it did not settle. wait
        false: answers at once {settling: true, status};
        guiding.settle_done follows. timeout bounds the wait only.
        Pulses the mount: refused (unsafe) while the safety policy says unsafe."""
        future = await self.engine.guide(_rule(settle), recalibrate=recalibrate, roi=_roi(roi))
        params = {"settle": _plain(settle), "recalibrate": recalibrate, "roi": _plain(roi)}
        name = "guiding.calibrate" if recalibrate else "guiding.start"
        return await self._settled(name, future, wait, timeout, progress, params)

    @verb(
        "guiding.calibrate",
        CalibrateParams,
        SettleOutcome,
        moves=True,
        long=True,
        progress=True,
        events=_RUN_EVENTS,
    )
    async def calibrate(
        self,
        settle: Settle | None = None,
        roi: GuideRoi | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Calibrate anew, then guide and settle: guiding.start with recalibrate true."""
        return await self.start(settle, True, roi, wait, timeout, progress=progress)

    @verb(
        "guiding.dither",
        DitherParams,
        SettleOutcome,
        moves=True,
        long=True,
        progress=True,
        events=_RUN_EVENTS,
    )
    async def dither(
        self,
        amount: float,
        ra_only: bool | None = None,
        settle: Settle | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Move the lock position by up to amount pixels and settle.

        ra_only default: the dither_ra_only setting. Answers as guiding.start.
        Errors: not_guiding, busy (a guide or dither is settling)."""
        future = await self.engine.dither(amount, ra_only, _rule(settle))
        params = {"amount": amount, "ra_only": ra_only, "settle": _plain(settle)}
        return await self._settled("guiding.dither", future, wait, timeout, progress, params)

    @verb("guiding.pause", PauseParams, GuidingStatus, events=("guiding.paused",))
    async def pause(self, full: bool = False) -> dict[str, Any]:
        """Pause guiding (frames go on, no pulses); full: the exposures too. Answers the status."""
        await self.engine.set_paused(True, full)
        return self.engine.status()

    @verb("guiding.resume", NoParams, GuidingStatus, moves=True, events=("guiding.resumed",))
    async def resume(self) -> dict[str, Any]:
        """Resume paused guiding; answers the status."""
        await self.engine.set_paused(False)
        return self.engine.status()

    @verb("guiding.clear_calibration", NoParams, CalibrationCleared)
    def clear_calibration(self) -> dict[str, Any]:
        """Forget the calibration of this camera and mount (the next start calibrates)."""
        self.engine.clear_calibration()
        return {"calibrated": self.engine.calibrated()}

    @verb(
        "guiding.flip_calibration",
        NoParams,
        CalibrationData,
        events=("guiding.calibration_data_flipped",),
    )
    def flip_calibration(self) -> dict[str, Any]:
        """Flip the calibration for the other pier side; answers it. Error: not_calibrated."""
        return self.engine.flip_calibration().to_dict()

    @verb("guiding.history", HistoryParams, GuideHistory)
    def history(self, limit: int = 100) -> dict[str, Any]:
        """The newest guide steps, oldest first, and the statistics.

        {steps: [GuideStep fields + time, lock, x, y], stats (as guiding.status)}."""
        engine = self.engine
        return {"steps": engine.guide_steps(limit), "stats": engine.status()["stats"]}

    @verb("guiding.pulse", PulseParams, GuiderPulseResult, moves=True)
    async def pulse(self, direction: str, duration_ms: float) -> dict[str, Any]:
        """One manual guide pulse the way the guider pulses (not while calibrating or guiding).

        Answers when it ended: {direction, duration_ms, via, device, elapsed}.
        Refused (unsafe) while the safety policy says unsafe."""
        return await self.engine.guide_pulse(direction, duration_ms)

    # ------------------------------------------------------------ settling

    async def _settled(
        self,
        name: str,
        future: asyncio.Future[dict[str, Any]],
        wait: bool,
        timeout: float | None,
        progress: ProgressCallback | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Answer once settled, the engine's events as progress, or at once
        without ``wait``.  For a front that answers "started" (REST's 202,
        `ACTION_STARTED`) the wait is an action of the guider role's device,
        which it follows and may abort; the others wait as they always did."""
        engine = self.engine
        if not wait:
            return {"settling": True, "status": engine.status()["state"]}
        if ACTION_STARTED.get() is None:
            return await self._waited(future, timeout, progress)
        task = asyncio.current_task()
        assert task is not None
        owner = engine._device()
        async with owner._action(name, (), timeout=None, progress=progress, params=params) as act:
            ctx = contextvars.copy_context()

            def on_event(event: str, fields: dict[str, Any]) -> None:
                if event in PROGRESS_EVENTS:
                    ctx.run(act.report, {"event": event, **fields})

            act.on_interrupt = task.cancel
            unsubscribe = engine.subscribe(on_event)
            try:
                result = await engine.wait_settled(future, timeout)
            except asyncio.CancelledError:
                if act._interrupt is None or task.uncancel() > 0:
                    raise  # cancelled from outside: not an abort
                await engine.stop_guiding()
                raise ActionAborted(
                    act._interrupt[1], device=act.device, role=act.role, action=name
                ) from None
            finally:
                act.on_interrupt = None
                unsubscribe()
            outcome = {"settled": True, **result, "status": engine.status()["state"]}
            act.result = outcome
            return outcome

    async def _waited(
        self,
        future: asyncio.Future[dict[str, Any]],
        timeout: float | None,
        progress: ProgressCallback | None,
    ) -> dict[str, Any]:
        """The settle's outcome, the engine's events reported to ``progress``
        (``{event, ...its fields}``) meanwhile."""
        engine = self.engine
        ctx = contextvars.copy_context()

        def on_event(event: str, fields: dict[str, Any]) -> None:
            if progress is not None and event in PROGRESS_EVENTS:
                ctx.run(progress, {"event": event, **fields})

        unsubscribe = engine.subscribe(on_event)
        try:
            result = await engine.wait_settled(future, timeout)
        finally:
            unsubscribe()
        return {"settled": True, **result, "status": engine.status()["state"]}


#: Its params are the settings' (the method takes them as ``**changes``).
GuidingVerbs.configure.__signature__ = VERBS["guiding.configure"].signature()  # type: ignore[attr-defined]


def _rule(settle: Settle | None) -> SettleRule | None:
    return None if settle is None else settle.rule()


def _roi(roi: GuideRoi | None) -> tuple[int, int, int, int] | None:
    return None if roi is None else (roi[0], roi[1], roi[2], roi[3])


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)
