"""The autoguider (`indiws.guiding.GuidingEngine`) on ``/ws/indi_client/``
and over HTTP.

`GuidingRpc` is a mixin of `IndiClientSocket`: each ``guiding.*`` method
is a thin call of one verb of ``service.guiding``.  The engine's events
(PHD2's names and fields) reach every socket through `ClientHub` as
``guiding.<event in snake_case>`` notifications (`event_method`).
``GET /api/v1/guiding/star.png`` serves the guide star's cutout.
Documented in docs/indi_client.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import io
import re
import typing
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from ..devices.guider import GuiderPulseResult
from ..guiding import GuidingError
from ..guiding.control import SettleRule
from ..guiding.engine import GuiderConfig
from ..guiding.results import (
    CalibrationCleared,
    CalibrationData,
    GuideHistory,
    GuidingStatus,
    LockPosition,
    SettleOutcome,
)
from .base import JsonHandler
from .errors import invalid_params, register_codes
from .jsonrpc import rpc
from .limits import check_timeout
from .openapi import error_responses, json_response, query_param, ref

__all__ = [
    "GUIDING_EVENTS",
    "OPENAPI_PATHS",
    "GuidingRpc",
    "event_method",
    "routes",
    "star_png",
]

#: GuidingError.code → (HTTP status, JSON-RPC code, name).  Codes shared
#: with device errors keep those errors' numbers and names.
register_codes(
    GuidingError,
    {
        "not_connected": (409, -32041, "not_connected"),
        "busy": (409, -32044, "busy"),
        "unsafe": (409, -32055, "unsafe"),
        "invalid_value": (400, -32015, "invalid_value"),
        "no_star": (404, -32092, "no_star"),
        "not_calibrated": (409, -32093, "not_calibrated"),
        "not_guiding": (409, -32094, "not_guiding"),
        "settle_failed": (409, -32095, "settle_failed"),
        "calibration_failed": (409, -32096, "calibration_failed"),
        "stopped": (409, -32097, "guiding_stopped"),
        "mount_not_tracking": (409, -32099, "mount_not_tracking"),
    },
    (409, -32098, "guiding_error"),
)

Direction = Literal["north", "south", "east", "west", "n", "s", "e", "w"]

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


GUIDING_EVENTS = tuple(event_method(e) for e in ENGINE_EVENTS)
#: Events a guiding verb may cause while a caller waits (for rpc.discover).
_RUN_EVENTS = ("progress", *GUIDING_EVENTS)
#: Engine events forwarded as ``progress`` of a waiting start/dither call.
_PROGRESS_EVENTS = {
    "StarSelected",
    "StartCalibration",
    "Calibrating",
    "CalibrationComplete",
    "StartGuiding",
    "SettleBegin",
    "Settling",
    "StarLost",
}


def _settle(value: dict | None) -> SettleRule | None:
    if value is None:
        return None
    try:
        return SettleRule.parse(value)
    except ValueError as exc:
        raise invalid_params(str(exc), param="settle") from None


def _roi(value: list[int] | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    if len(value) != 4 or value[2] <= 0 or value[3] <= 0 or min(value) < 0:
        raise invalid_params(
            "roi must be [x, y, width, height] with width, height > 0", param="roi"
        )
    return (value[0], value[1], value[2], value[3])


def _configure_signature() -> tuple[inspect.Signature, dict[str, Any]]:
    """``guiding.configure``'s parameters: every GuiderConfig field, optional."""
    hints = typing.get_type_hints(GuiderConfig)
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {"return": dict}
    for f in dataclasses.fields(GuiderConfig):
        hint = hints[f.name]
        if f.name in ("calibration_step_ms", "focal_length"):
            hint = hint | None
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
        )
        annotations[f.name] = hint
    return inspect.Signature(params), annotations


class GuidingRpc:
    """``guiding.*`` methods (mixed into IndiClientSocket)."""

    service: Any
    progress: Callable[..., None]

    @property
    def _guiding(self) -> Any:
        return self.service.guiding

    async def _settled(
        self, future: asyncio.Future[dict[str, Any]], wait: bool, timeout: float | None
    ) -> dict:
        """Answer once settled (progress notifications meanwhile), or at once."""
        engine = self._guiding
        if not wait:
            return {"settling": True, "status": engine.status()["state"]}
        ctx = contextvars.copy_context()

        def on_event(event: str, fields: dict[str, Any]) -> None:
            if event in _PROGRESS_EVENTS:
                ctx.run(self.progress, event=event, **fields)

        unsubscribe = engine.subscribe(on_event)
        try:
            result = await engine.wait_settled(future, check_timeout(timeout))
        finally:
            unsubscribe()
        return {"settled": True, **result, "status": engine.status()["state"]}

    @rpc("guiding.status", events=GUIDING_EVENTS, result=GuidingStatus)
    async def guiding_status(self) -> dict:
        """Everything a panel shows of the guider.

        {state (Stopped, Selected, Calibrating, Guiding, LostLock, Paused,
        Looping), capturing, paused, settling, camera, mount, connected, star,
        lock_position, subframe, calibrated, calibration, pixel_scale (arcsec
        per px), frame, guide_frame, stats: {frames, pixels: {rms_ra, rms_dec,
        rms_total, peak_ra, peak_dec}, arcsec: {...}}, last_error, settings}."""
        return self._guiding.status()

    @rpc("guiding.settings", result=GuiderConfig)
    async def guiding_settings(self) -> dict:
        """The guider's settings (exposure, binning, aggressions, settle defaults, ...)."""
        return self._guiding.settings()

    async def guiding_configure(self, **changes: Any) -> dict:
        """Change guider settings; answers all of them.

        Give only the settings to change (names as guiding.settings answers);
        each is checked first and one bad value changes nothing
        (invalid_value). The binning cannot change while capturing (busy).
        calibration_step_ms and focal_length null: worked out from the devices."""
        return self._guiding.configure(**changes)

    guiding_configure.__signature__, guiding_configure.__annotations__ = _configure_signature()  # type: ignore[attr-defined]
    guiding_configure = rpc(
        "guiding.configure", events=("guiding.guide_param_change",), result=GuiderConfig
    )(guiding_configure)

    @rpc("guiding.loop", events=GUIDING_EVENTS, result=GuidingStatus)
    async def guiding_loop(self) -> dict:
        """Loop guide exposures (no-op while looping); answers the status."""
        await self._guiding.loop()
        return self._guiding.status()

    @rpc("guiding.stop", events=GUIDING_EVENTS, result=GuidingStatus)
    async def guiding_stop(self) -> dict:
        """Stop guiding and capturing; answers once the loop has stopped, with the status."""
        await self._guiding.stop_capture()
        return self._guiding.status()

    @rpc("guiding.stop_guiding", events=GUIDING_EVENTS, result=GuidingStatus)
    async def guiding_stop_guiding(self) -> dict:
        """Stop guiding (or calibrating) but keep looping exposures; answers the status."""
        await self._guiding.stop_guiding()
        return self._guiding.status()

    @rpc("guiding.find_star", events=GUIDING_EVENTS, result=LockPosition)
    async def guiding_find_star(
        self, roi: list[int] | None = None, timeout: float | None = None
    ) -> dict:
        """Choose a guide star in the next whole frame (within roi [x, y, w, h]).

        Loops first if needed; locks on the star: {x, y}. Errors: no_star, busy."""
        x, y = await self._guiding.find_star(_roi(roi), timeout=check_timeout(timeout))
        return {"x": round(x, 3), "y": round(y, 3)}

    @rpc("guiding.set_lock_position", result=LockPosition)
    async def guiding_set_lock_position(self, x: float, y: float, exact: bool = True) -> dict:
        """Lock on (x, y) (unbinned frame pixels); exact false: on the star nearest it: {x, y}."""
        x, y = self._guiding.set_lock_position(x, y, exact)
        return {"x": round(x, 3), "y": round(y, 3)}

    @rpc("guiding.start", events=_RUN_EVENTS, result=SettleOutcome)
    async def guiding_start(
        self,
        settle: dict | None = None,
        recalibrate: bool = False,
        roi: list[int] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Guide: loop, choose a star, calibrate (unless calibrated), guide and settle.

        settle: {pixels, time, timeout} (default: the settle_* settings).
        With wait (the default) answers once settled: {settled: true, Status,
        Error, Distance, Frames, DroppedFrames, TotalFrames, status}; progress
        notifications meanwhile ({event: StartCalibration, Calibrating,
        StartGuiding, Settling, ...}); settle_failed when it did not settle
        (or calibration failed). wait false: answers at once {settling: true,
        status}; guiding.settle_done follows. timeout bounds the wait only."""
        engine = self._guiding
        future = await engine.guide(_settle(settle), recalibrate=recalibrate, roi=_roi(roi))
        return await self._settled(future, wait, timeout)

    @rpc("guiding.calibrate", events=_RUN_EVENTS, result=SettleOutcome)
    async def guiding_calibrate(
        self,
        settle: dict | None = None,
        roi: list[int] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Calibrate anew, then guide and settle: guiding.start with recalibrate true."""
        return await self.guiding_start(settle, True, roi, wait, timeout)

    @rpc("guiding.dither", events=_RUN_EVENTS, result=SettleOutcome)
    async def guiding_dither(
        self,
        amount: float,
        ra_only: bool | None = None,
        settle: dict | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Move the lock position by up to amount pixels and settle.

        ra_only default: the dither_ra_only setting. Answers as guiding.start.
        Errors: not_guiding, busy (a guide or dither is settling)."""
        future = await self._guiding.dither(amount, ra_only, _settle(settle))
        return await self._settled(future, wait, timeout)

    @rpc("guiding.pause", events=("guiding.paused",), result=GuidingStatus)
    async def guiding_pause(self, full: bool = False) -> dict:
        """Pause guiding (frames go on, no pulses); full: the exposures too. Answers the status."""
        await self._guiding.set_paused(True, full)
        return self._guiding.status()

    @rpc("guiding.resume", events=("guiding.resumed",), result=GuidingStatus)
    async def guiding_resume(self) -> dict:
        """Resume paused guiding; answers the status."""
        await self._guiding.set_paused(False)
        return self._guiding.status()

    @rpc("guiding.clear_calibration", result=CalibrationCleared)
    async def guiding_clear_calibration(self) -> dict:
        """Forget the calibration of this camera and mount (the next start calibrates)."""
        self._guiding.clear_calibration()
        return {"calibrated": self._guiding.calibrated()}

    @rpc(
        "guiding.flip_calibration",
        events=("guiding.calibration_data_flipped",),
        result=CalibrationData,
    )
    async def guiding_flip_calibration(self) -> dict:
        """Flip the calibration for the other pier side; answers it. Error: not_calibrated."""
        return self._guiding.flip_calibration().to_dict()

    @rpc("guiding.history", result=GuideHistory)
    async def guiding_history(self, limit: int = 100) -> dict:
        """The newest guide steps, oldest first, and the statistics.

        {steps: [GuideStep fields + time, lock, x, y], stats (as guiding.status)}."""
        if not 1 <= limit <= 100_000:
            raise invalid_params("limit must be within 1..100000", param="limit")
        engine = self._guiding
        return {"steps": engine.guide_steps(limit), "stats": engine.status()["stats"]}

    @rpc("guiding.pulse", result=GuiderPulseResult)
    async def guiding_pulse(self, direction: Direction, duration_ms: float) -> dict:
        """One manual guide pulse the way the guider pulses (not while calibrating or guiding).

        Answers when it ended: {direction, duration_ms, via, device, elapsed}."""
        if not 0 < duration_ms <= 60_000:
            raise invalid_params("duration_ms must be within (0, 60000]", param="duration_ms")
        return await self._guiding.guide_pulse(direction, duration_ms)


def guiding_brief(engine: Any) -> dict[str, Any]:
    """The guider's state for the periodic ``status`` notification."""
    try:
        stats = engine.stats.summary(engine.pixel_scale())
    except Exception:  # the devices may be gone; the state still says something
        stats = {}
    return {
        "state": engine.state,
        "calibrated": engine.calibrated(),
        "settling": engine.settling,
        "rms": stats.get("pixels"),
        "rms_arcsec": stats.get("arcsec"),
    }


# ---------------------------------------------------------------- HTTP


def star_png(cutout: dict[str, Any], scale: int = 1) -> bytes:
    """The star's cutout as an 8-bit PNG, stretched from its background
    (median) to its peak, each pixel shown ``scale`` times as large."""
    from PIL import Image

    pixels = np.asarray(cutout["pixels"], dtype=np.float32)
    low = float(np.median(pixels))
    high = float(pixels.max())
    span = high - low if high > low else 1.0
    stretched = np.clip((pixels - low) / span, 0.0, 1.0) ** 0.5
    image = Image.fromarray((stretched * 255).astype(np.uint8), "L")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _query_int(handler: JsonHandler, name: str, default: int, low: int, high: int) -> int:
    raw = handler.get_query_argument(name, None)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid_params(
            f"{name} must be a whole number from {low} to {high}, got {raw!r}", field=name
        )
    return value


class StarImageHandler(JsonHandler):
    """``GET /api/v1/guiding/star.png``: the guide star's cutout."""

    async def get(self) -> None:
        size = _query_int(self, "size", 31, 15, 63)
        scale = _query_int(self, "scale", 1, 1, 16)
        cutout = self.service.guiding.star_image(size)  # GuidingError no_star → 404
        png = await asyncio.to_thread(star_png, cutout, scale)
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Star-Frame", str(cutout["frame"]))
        self.finish(png)


def routes(service: Any) -> list:
    return [(r"/api/v1/guiding/star\.png", StarImageHandler, {"service": service})]


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/guiding/star.png": {
        "get": {
            "summary": "The guide star's cutout, as a stretched 8-bit PNG",
            "description": "The newest guide frame's pixels around the star (PHD2's "
            "`get_star_image`), stretched from the background to the star's peak. "
            "Header `X-Star-Frame`: the guide frame's number. 404 `no_star` while no "
            "star is selected (guider stopped or only looping).",
            "tags": ["guiding"],
            "operationId": "get_guiding_star_image",
            "parameters": [
                query_param(
                    "size",
                    "Side of the cutout in frame pixels (odd; at most 63).",
                    {"type": "integer", "minimum": 15, "maximum": 63},
                    31,
                ),
                query_param(
                    "scale",
                    "Each frame pixel shown as scale x scale pixels.",
                    {"type": "integer", "minimum": 1, "maximum": 16},
                    1,
                ),
            ],
            "responses": {
                "200": {
                    "description": "The cutout.",
                    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                },
                **error_responses(400),
                "404": json_response("No guide star (`no_star`).", ref("Error")),
            },
        }
    }
}

OPENAPI_TAGS = [
    {"name": "guiding", "description": "The built-in autoguider (docs/indi_client.md)."}
]
