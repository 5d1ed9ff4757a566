"""The autoguider: loops exposures on the guider role's camera, chooses and
follows a guide star, calibrates, guides, dithers and settles.

One `GuidingEngine` per service.  It owns one task, the capture loop, which
takes a frame, measures the star and, depending on what the engine is
doing, sends the calibration's or the guide algorithm's pulses before the
next frame (a pulse during an exposure would smear the star).  The verbs
(`loop`, `guide`, `dither`, `set_paused`, ...) change what the loop does
and, where a caller wants the outcome, wait for it.  Everything that
happens is an event, named and shaped as PHD2's event server names and
shapes it (``GuideStep``, ``SettleDone``, ...): every front translates
those (the PHD2 protocol passes them on as they are).

The numbers are in `indiws.guiding.star`, `calibration` and `control`,
free of I/O and tested without a device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.frames import FrameReadError, read_frame
from ..client import INDIClient, INDIError
from ..devices.errors import DeviceError
from ..devices.guider import Guider
from .calibration import Calibration, CalibrationError, CalibrationRun, StarLostError
from .control import (
    DecResistSwitch,
    GuideSettings,
    Hysteresis,
    SettleRule,
    SettleTracker,
    Statistics,
    compute_step,
    dither_offset,
)
from .star import StarMeasure, find_stars, measure, nearest_star, select_guide_star

__all__ = ["APP_STATES", "GuiderConfig", "GuidingEngine", "GuidingError"]

log = logging.getLogger("indiws.guiding")

#: PHD2's application states (`get_app_state`).
APP_STATES = ("Stopped", "Selected", "Calibrating", "Guiding", "LostLock", "Paused", "Looping")
#: The guide exposures offered (ms), as PHD2's list.
EXPOSURE_DURATIONS = (
    100,
    200,
    300,
    500,
    700,
    1000,
    1500,
    2000,
    2500,
    3000,
    4000,
    5000,
    6000,
    7000,
    8000,
    9000,
    10000,
    15000,
)
STATE_FILE = "guiding.json"
#: Times a calibration starts again on a fresh star after its star was lost
#: and a spot found where the pulses did not put it; then it fails.
CALIBRATION_RESTARTS = 2
#: How a SettleDone's Error begins when the calibration failed (PHD2's words).
CALIBRATION_FAILED = "could not start calibration: "


class GuidingError(RuntimeError):
    """A guiding verb that cannot be done now; ``code`` says why
    (not_connected, no_star, not_calibrated, not_guiding, busy, invalid_value,
    calibration_failed, settle_failed, stopped)."""

    def __init__(self, message: str, code: str = "guiding_error") -> None:
        super().__init__(message)
        self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self)}


@dataclass(slots=True)
class GuiderConfig:
    """The guider's settings (kept in the data directory, `guiding.json`)."""

    #: Seconds per guide frame.
    exposure: float = 1.0
    binning: int = 1
    #: Half-size (px) of the box in which the star is looked for each frame.
    search_region: int = 15
    #: Download only a box around the star once one is chosen.
    use_subframes: bool = True
    #: Pulses through the camera's ST4 port, the mount, or auto (the port when there is one).
    via: str = "auto"
    #: Calibration pulse (ms); None: from the guide rate and pixel scale (about 12 steps).
    calibration_step_ms: int | None = None
    #: Pixels the star must move on each calibration leg.
    calibration_distance: float = 25.0
    #: Guide scope focal length (mm) for the pixel scale; None: the camera's
    #: SCOPE_INFO or the mount's TELESCOPE_INFO GUIDER_FOCAL_LENGTH.
    focal_length: float | None = None
    ra_aggression: float = 0.7
    ra_hysteresis: float = 0.1
    ra_min_move: float = 0.15
    dec_aggression: float = 1.0
    dec_min_move: float = 0.15
    dec_switch_frames: int = 3
    #: Dec guiding: auto, north, south or off.
    dec_mode: str = "auto"
    max_ra_ms: int = 2500
    max_dec_ms: int = 2500
    #: Frames the star may be missing before the whole frame is searched for it.
    lost_frames: int = 3
    dither_mode: str = "random"
    dither_ra_only: bool = False
    #: Default settle of guide/dither calls that give none.
    settle_pixels: float = 1.5
    settle_time: float = 10.0
    settle_timeout: float = 60.0
    #: After a meridian flip, reverse Dec too: only for mounts that swap their
    #: Dec direction themselves after a flip, so that North stays North on
    #: the sky (PHD2's "Reverse Dec output after meridian flip", off by
    #: default; off suits the INDI telescope simulator).
    flip_dec: bool = False
    #: Time between frames (s), beyond the exposure.
    delay: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Each setting's check: (type, minimum, maximum) or the allowed strings.
_LIMITS: dict[str, Any] = {
    "exposure": (float, 0.001, 600.0),
    "binning": (int, 1, 16),
    "search_region": (int, 5, 100),
    "calibration_step_ms": (int, 10, 10000),
    "calibration_distance": (float, 5.0, 200.0),
    "focal_length": (float, 10.0, 20000.0),
    "ra_aggression": (float, 0.0, 2.0),
    "ra_hysteresis": (float, 0.0, 0.99),
    "ra_min_move": (float, 0.0, 20.0),
    "dec_aggression": (float, 0.0, 2.0),
    "dec_min_move": (float, 0.0, 20.0),
    "dec_switch_frames": (int, 1, 10),
    "max_ra_ms": (int, 10, 20000),
    "max_dec_ms": (int, 10, 20000),
    "lost_frames": (int, 1, 100),
    "settle_pixels": (float, 0.01, 100.0),
    "settle_time": (float, 0.0, 3600.0),
    "settle_timeout": (float, 1.0, 7200.0),
    "delay": (float, 0.0, 600.0),
    "via": ("auto", "camera", "mount"),
    "dec_mode": ("auto", "north", "south", "off"),
    "dither_mode": ("random", "spiral"),
    "use_subframes": bool,
    "dither_ra_only": bool,
    "flip_dec": bool,
}


def check_setting(name: str, value: Any) -> Any:
    """``value`` checked for setting ``name``; GuidingError naming the problem."""
    rule = _LIMITS.get(name)
    if rule is None:
        known = ", ".join(f.name for f in fields(GuiderConfig))
        raise GuidingError(f"unknown guider setting {name!r}: known are {known}", "invalid_value")
    if value is None and name in ("calibration_step_ms", "focal_length"):
        return None
    if rule is bool:
        if not isinstance(value, bool):
            raise GuidingError(f"{name} must be true or false, got {value!r}", "invalid_value")
        return value
    if isinstance(rule, tuple) and isinstance(rule[0], str):
        if not isinstance(value, str) or value.lower() not in rule:
            raise GuidingError(
                f"{name} must be one of {', '.join(rule)}, got {value!r}", "invalid_value"
            )
        return value.lower()
    kind, low, high = rule
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GuidingError(f"{name} must be a number, got {value!r}", "invalid_value")
    if kind is int and value != int(value):
        raise GuidingError(f"{name} must be a whole number, got {value!r}", "invalid_value")
    if not low <= value <= high:
        raise GuidingError(
            f"{name} must be within {low:g}..{high:g}, got {value:g}", "invalid_value"
        )
    return kind(value)


@dataclass(slots=True)
class _Op:
    """A guide or dither call waiting for its settle."""

    kind: str
    rule: SettleRule
    future: asyncio.Future[dict[str, Any]]
    recalibrate: bool = False
    roi: tuple[int, int, int, int] | None = None
    tracker: SettleTracker | None = None
    stage: str = "start"
    attempts: int = 0
    #: Calibrations started again on a fresh star after the star was lost,
    #: and why the last one was.
    restarts: int = 0
    restart_reason: str = ""


@dataclass(slots=True)
class _Frame:
    """One frame as the loop saw it."""

    number: int
    time: float
    pixels: np.ndarray
    origin: tuple[int, int] = (0, 0)
    star: StarMeasure | None = None
    download: float = 0.0
    received: float = 0.0


@dataclass(slots=True)
class _Timing:
    """From a frame's arrival to its pulses being sent (the guider's own cost)."""

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    downloads: deque[float] = field(default_factory=lambda: deque(maxlen=500))


class GuidingEngine:
    """The service's autoguider over the ``guider`` role (and ``telescope``
    for pulses via the mount, guide rate, declination and pier side)."""

    def __init__(
        self,
        client: INDIClient,
        roles: Any,
        data_dir: Path | None = None,
        *,
        is_safe: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.roles = roles
        self.path = None if data_dir is None else Path(data_dir) / STATE_FILE
        self.is_safe = is_safe
        self.config = GuiderConfig()
        self._calibrations: dict[str, dict[str, Any]] = {}
        self._load()
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._capturing = False
        self._full_pause = False
        self._paused = False
        self._mode = "looping"  # looping | calibrating | guiding
        self._want_star = False
        self._star: StarMeasure | None = None
        self._lock: tuple[float, float] | None = None
        self._calibration: Calibration | None = None
        self._cal_run: CalibrationRun | None = None
        self._cal_lost = 0
        self._op: _Op | None = None
        self._lost = 0
        #: A spot the wide search found while guiding, too far to be the guide star.
        self._refused: tuple[float, float] | None = None
        self._frame_no = 0
        self._guide_count = 0
        self._guide_started = 0.0
        self._avg_dist = 0.0
        self._dithers = 0
        self._subframe: tuple[int, int, int, int] | None = None
        #: The camera has been given the loop's binning and region since the loop started.
        self._configured = False
        self._last_frame: _Frame | None = None
        self._sensor: tuple[int, int] | None = None
        #: The region a star is chosen in (find_star/guide's roi), None: anywhere.
        self._roi: tuple[int, int, int, int] | None = None
        self._ra = Hysteresis()
        self._dec = DecResistSwitch()
        self._apply_algorithms()
        self.stats = Statistics()
        self.timing = _Timing()
        self.history: deque[dict[str, Any]] = deque(maxlen=1000)
        self.last_error: str | None = None

    # ------------------------------------------------------------ persistence

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("guiding: cannot read %s (%s): starting with the defaults", self.path, exc)
            return
        for name, value in (data.get("settings") or {}).items():
            try:
                setattr(self.config, name, check_setting(name, value))
            except GuidingError as exc:
                log.warning("guiding: %s in %s: ignored", exc, self.path)
        cals = data.get("calibrations")
        if isinstance(cals, dict):
            self._calibrations = {k: v for k, v in cals.items() if isinstance(v, dict)}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"settings": self.config.to_dict(), "calibrations": self._calibrations}
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w") as fh:
                json.dump(data, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("guiding: cannot save %s: %s", self.path, exc)

    # ------------------------------------------------------------ events

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """``callback(event, fields)`` for every guiding event (PHD2's names
        and fields, without Event/Timestamp/Host/Inst); returns an unsubscribe."""
        self._listeners.append(callback)

        def close() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return close

    def _emit(self, event: str, **data: Any) -> None:
        for cb in list(self._listeners):
            try:
                cb(event, data)
            except Exception:  # one listener's fault never stops the guider
                log.exception("guiding event listener failed on %s", event)

    def _alert(self, message: str, kind: str = "warning") -> None:
        log.warning("guiding: %s", message) if kind != "info" else log.info("guiding: %s", message)
        self._emit("Alert", Msg=message, Type=kind)

    # ------------------------------------------------------------ devices

    @property
    def camera_name(self) -> str | None:
        return self.roles.device_for("guider")

    @property
    def mount_name(self) -> str | None:
        return self.roles.device_for("telescope")

    def _device(self) -> Guider:
        name = self.camera_name
        if name is None:
            raise GuidingError(
                "no device is assigned to the guider role: assign the guide "
                "camera first (assign guider <device>)",
                "not_connected",
            )
        return Guider(self.client, name, mount=self.mount_name)

    def _mirror(self, device: str | None, prop: str) -> Any:
        dev = self.client.devices.get(device) if device else None
        return None if dev is None else dev.properties.get(prop)

    def connected(self) -> bool:
        """The guide camera connected, and something to pulse through."""
        dev = self.client.devices.get(self.camera_name or "")
        if dev is None or not dev.connected:
            return False
        if self.via() == "camera":
            return self._has_st4()
        return self._mount_pulses()

    def _has_st4(self) -> bool:
        return self._mirror(self.camera_name, "TELESCOPE_TIMED_GUIDE_NS") is not None

    def _mount_pulses(self) -> bool:
        mount = self.client.devices.get(self.mount_name or "")
        return (
            mount is not None
            and mount.connected
            and "TELESCOPE_TIMED_GUIDE_NS" in mount.properties
            and "TELESCOPE_TIMED_GUIDE_WE" in mount.properties
        )

    def via(self) -> str:
        """Where pulses go: "mount" or "camera" (the guide camera's ST4 port).
        ``auto`` takes the mount when it pulse-guides (no cable, and the
        mount knows its pier side), else the camera's port."""
        if self.config.via != "auto":
            return self.config.via
        return "mount" if self._mount_pulses() or not self._has_st4() else "camera"

    async def set_connected(self, connected: bool) -> None:
        """Connect (or disconnect) the guide camera and the mount (PHD2's set_connected)."""
        if not connected:
            await self.stop_capture()
        for name in (self.camera_name, self.mount_name if self.via() == "mount" else None):
            if name is None:
                continue
            from ..devices.base import RoleDevice

            dev = RoleDevice(self.client, name)
            if connected:
                await dev.connect()
            elif name == self.camera_name:
                await dev.disconnect()

    def _declination(self) -> float | None:
        prop = self._mirror(self.mount_name, "EQUATORIAL_EOD_COORD")
        if prop is None:
            return None
        try:
            return float(prop["DEC"])
        except (KeyError, TypeError, ValueError):
            return None

    def _pier_side(self) -> str | None:
        prop = self._mirror(self.mount_name, "TELESCOPE_PIER_SIDE")
        if prop is None:
            return None
        on = prop.on_switches()
        if "PIER_EAST" in on:
            return "east"
        if "PIER_WEST" in on:
            return "west"
        return None

    def _guide_rate(self) -> float | None:
        """The mount's RA guide rate (fraction of sidereal)."""
        prop = self._mirror(self.mount_name, "GUIDE_RATE")
        if prop is None:
            return None
        for name in ("GUIDE_RATE_WE", "GUIDE_RATE", "GUIDE_RATE_RA"):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                value = float(prop[name])
                if value > 0:
                    return value
        return None

    def pixel_scale(self) -> float | None:
        """Arcseconds per (binned) guide pixel, None when the focal length or
        pixel size is unknown."""
        info = self._mirror(self.camera_name, "CCD_INFO")
        pixel = None
        if info is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                pixel = float(info["CCD_PIXEL_SIZE_X"] or info["CCD_PIXEL_SIZE"])
        focal = self.config.focal_length
        if focal is None:
            scope = self._mirror(self.camera_name, "SCOPE_INFO")
            if scope is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    focal = float(scope["FOCAL_LENGTH"]) or None
        if focal is None:
            tel = self._mirror(self.mount_name, "TELESCOPE_INFO")
            if tel is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    focal = float(tel["GUIDER_FOCAL_LENGTH"]) or None
        if not pixel or not focal or pixel <= 0 or focal <= 0:
            return None
        return 206.264806 * pixel * self.config.binning / focal

    def frame_size(self) -> tuple[int, int]:
        """The guide camera's whole frame (binned pixels): (width, height)."""
        info = self._mirror(self.camera_name, "CCD_INFO")
        if info is None:
            raise GuidingError("the guide camera is not connected", "not_connected")
        b = self.config.binning
        return int(float(info["CCD_MAX_X"]) // b), int(float(info["CCD_MAX_Y"]) // b)

    def _calibration_key(self) -> str:
        return f"{self.camera_name}|{self.mount_name}|{self.via()}"

    # ------------------------------------------------------------ state

    @property
    def capturing(self) -> bool:
        return self._capturing

    @property
    def state(self) -> str:
        """PHD2's app state."""
        if self._paused:
            return "Paused"
        if not self._capturing:
            return "Stopped"
        if self._mode == "calibrating":
            return "Calibrating"
        if self._mode == "guiding":
            return "LostLock" if self._lost else "Guiding"
        return "Selected" if self._star is not None else "Looping"

    @property
    def settling(self) -> bool:
        return self._op is not None and self._op.stage == "settling"

    @property
    def paused(self) -> bool:
        return self._paused

    def lock_position(self) -> tuple[float, float] | None:
        return self._lock

    def star_position(self) -> tuple[float, float] | None:
        """Where the selected guide star was last seen (None: no star)."""
        return None if self._star is None else (self._star.x, self._star.y)

    def calibration(self) -> Calibration | None:
        """The calibration in use (or kept for this camera and mount)."""
        if self._calibration is not None:
            return self._calibration
        saved = self._calibrations.get(self._calibration_key())
        if saved is None:
            return None
        try:
            return Calibration.from_dict(saved)
        except (TypeError, ValueError):
            return None

    def calibrated(self) -> bool:
        return self.calibration() is not None

    def status(self) -> dict[str, Any]:
        """Everything a panel shows of the guider."""
        cal = self.calibration()
        return {
            "state": self.state,
            "capturing": self._capturing,
            "paused": self._paused,
            "settling": self.settling,
            "camera": self.camera_name,
            "mount": self.mount_name,
            "connected": self.connected(),
            "star": None if self._star is None else self._star.to_dict(),
            "lock_position": None if self._lock is None else [round(v, 3) for v in self._lock],
            "subframe": None if self._subframe is None else list(self._subframe),
            "calibrated": cal is not None,
            "calibration": None if cal is None else cal.to_dict(),
            "pixel_scale": _round(self.pixel_scale()),
            "frame": self._frame_no,
            "guide_frame": self._guide_count,
            "stats": self.stats.summary(self.pixel_scale()),
            "last_error": self.last_error,
            "settings": self.config.to_dict(),
        }

    def star_image(self, size: int = 15) -> dict[str, Any]:
        """The newest frame's pixels around the star (PHD2's get_star_image):
        {frame, width, height, star_pos, pixels (uint16, row-major)}."""
        frame, star = self._last_frame, self._star
        if frame is None or star is None or self.state in ("Stopped", "Looping"):
            raise GuidingError("no star selected", "no_star")
        half = min((max(size, 15) - 1) // 2, 31)
        h, w = frame.pixels.shape
        cx, cy = int(round(star.x - frame.origin[0])), int(round(star.y - frame.origin[1]))
        x0, x1 = max(0, cx - half), min(w, cx + half + 1)
        y0, y1 = max(0, cy - half), min(h, cy + half + 1)
        cut = np.clip(frame.pixels[y0:y1, x0:x1], 0, 65535).astype("<u2")
        return {
            "frame": frame.number,
            "width": x1 - x0,
            "height": y1 - y0,
            "star_pos": [
                round(star.x - frame.origin[0] - x0, 2),
                round(star.y - frame.origin[1] - y0, 2),
            ],
            "pixels": cut,
        }

    # ------------------------------------------------------------ settings

    def settings(self) -> dict[str, Any]:
        return self.config.to_dict()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings (checked all first: one bad value changes nothing)."""
        checked = {name: check_setting(name, value) for name, value in changes.items()}
        if "binning" in checked and checked["binning"] != self.config.binning and self._capturing:
            raise GuidingError("stop capturing before changing the guide binning", "busy")
        for name, value in checked.items():
            setattr(self.config, name, value)
        self._apply_algorithms()
        self._save()
        for name, value in checked.items():
            self._emit("GuideParamChange", Name=name, Value=value)
        return self.settings()

    def _apply_algorithms(self) -> None:
        c = self.config
        self._ra.aggression, self._ra.hysteresis, self._ra.min_move = (
            c.ra_aggression,
            c.ra_hysteresis,
            c.ra_min_move,
        )
        self._dec.aggression, self._dec.min_move, self._dec.switch_frames = (
            c.dec_aggression,
            c.dec_min_move,
            c.dec_switch_frames,
        )

    def default_settle(self) -> SettleRule:
        c = self.config
        return SettleRule(c.settle_pixels, c.settle_time, c.settle_timeout)

    # ------------------------------------------------------------ verbs

    async def loop(self) -> None:
        """Start looping exposures (no-op while capturing)."""
        if self._capturing:
            if self._full_pause:
                await self.set_paused(False)
            return
        device = self._device()
        dev = device._connected()
        if "CCD_EXPOSURE" not in dev.properties:
            raise GuidingError(f"{dev.name} cannot expose (no CCD_EXPOSURE)", "not_connected")
        self._capturing = True
        self._configured = False
        self._mode = "looping"
        self._lost = 0
        self._task = asyncio.get_running_loop().create_task(
            self._capture_loop(), name="guiding-loop"
        )
        self._emit("LoopingExposures", Frame=self._frame_no)

    async def stop_capture(self) -> None:
        """Stop looping and guiding; returns once the loop has stopped."""
        task = self._task
        if task is None:
            return
        was_guiding = self._mode in ("guiding", "calibrating")
        self._end_op(1, "Stopped capturing")
        if self._mode == "calibrating":
            self._cal_run = None
        self._mode = "looping"
        if was_guiding:
            self._emit("GuidingStopped")
        self._task = None  # the loop's end is ours to announce
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        # Returned once the camera is free again: the aborted exposure ended.
        camera = self.camera_name
        if camera and self._mirror(camera, "CCD_EXPOSURE") is not None:
            with contextlib.suppress(INDIError, TimeoutError):
                await self.client.wait_idle(camera, "CCD_EXPOSURE", timeout=5.0)
        self._capturing = False
        self._paused = self._full_pause = False
        self._lost = 0
        self._emit("LoopingExposuresStopped")

    async def stop_guiding(self) -> None:
        """Stop guiding (or calibrating) but keep looping."""
        if self._mode in ("guiding", "calibrating"):
            self._end_op(1, "Guiding stopped")
            self._mode = "looping"
            self._cal_run = None
            self._lost = 0
            self._emit("GuidingStopped")

    async def find_star(
        self, roi: tuple[int, int, int, int] | None = None, timeout: float | None = None
    ) -> tuple[float, float]:
        """Choose a guide star in the next whole frame (within ``roi``) and
        set the lock position on it: (x, y)."""
        if self._mode in ("calibrating", "guiding"):
            raise GuidingError("cannot select a star while calibrating or guiding", "busy")
        if not self._capturing:
            await self.loop()
        self._subframe = None
        self._configured = False  # the camera still has the old box
        self._star = None
        self._lock = None
        self._roi = roi
        self._want_star = True
        waited = timeout if timeout is not None else 3 * (self.config.exposure + 5.0) + 10.0
        deadline = time.monotonic() + waited
        tries = 0
        last = self._frame_no
        while self._want_star:
            if not self._capturing:
                raise GuidingError("capture stopped while looking for a star", "stopped")
            if time.monotonic() > deadline:
                self._want_star = False
                raise GuidingError("could not find a star: no frame arrived in time", "no_star")
            await asyncio.sleep(0.05)
            if self._frame_no != last:
                last = self._frame_no
                tries += 1
                if self._want_star and tries >= 3:
                    self._want_star = False
                    raise GuidingError(
                        "could not find a suitable guide star (none bright, unclipped and away "
                        "from the edges): lengthen the exposure or choose one with "
                        "set_lock_position",
                        "no_star",
                    )
        if self._star is None:
            raise GuidingError(self.last_error or "could not find a star", "no_star")
        return self._star.x, self._star.y

    def deselect_star(self) -> None:
        if self._mode in ("calibrating", "guiding"):
            raise GuidingError("stop guiding before deselecting the star", "busy")
        self._star = None
        self._set_lock(None)
        self._subframe = None
        self._configured = False  # the camera still has the old box

    def set_lock_position(self, x: float, y: float, exact: bool = True) -> tuple[float, float]:
        """Lock on (x, y); ``exact=False``: on the star nearest it."""
        for v in (x, y):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise GuidingError("the lock position must be two numbers", "invalid_value")
        with contextlib.suppress(GuidingError):
            w, h = self.frame_size()
            if not (0 <= x < w and 0 <= y < h):
                raise GuidingError(f"({x:g}, {y:g}) is outside the {w}x{h} frame", "invalid_value")
        if not exact:
            frame = self._last_frame
            if frame is None or frame.origin != (0, 0):
                raise GuidingError(
                    "no whole frame to find a star near that position: loop first", "no_star"
                )
            star = measure(
                frame.pixels,
                x,
                y,
                max(self.config.search_region, 20),
                saturation=_saturation(frame.pixels),
            )
            if star is None:
                raise GuidingError(f"no star near ({x:g}, {y:g})", "no_star")
            self._star = star
            self._emit("StarSelected", X=round(star.x, 3), Y=round(star.y, 3))
            x, y = star.x, star.y
        elif self._star is None and self._last_frame is not None:
            self._star = measure(
                self._last_frame.pixels,
                x - self._last_frame.origin[0],
                y - self._last_frame.origin[1],
                self.config.search_region,
                saturation=_saturation(self._last_frame.pixels),
            )
            if self._star is not None:
                o = self._last_frame.origin
                self._star = _moved(self._star, o)
        self._set_lock((float(x), float(y)))
        return float(x), float(y)

    def _set_lock(self, pos: tuple[float, float] | None) -> None:
        if pos == self._lock:
            return
        had = self._lock is not None
        self._lock = pos
        if pos is None:
            if had:
                self._emit("LockPositionLost")
            return
        self._emit("LockPositionSet", X=round(pos[0], 3), Y=round(pos[1], 3))

    def clear_calibration(self, which: str = "both") -> None:
        if self._mode == "calibrating":
            raise GuidingError("calibration is running: stop it first", "busy")
        self._calibration = None
        self._calibrations.pop(self._calibration_key(), None)
        self._save()

    def flip_calibration(self) -> Calibration:
        cal = self.calibration()
        if cal is None:
            raise GuidingError("could not flip calibration: not calibrated", "not_calibrated")
        self._use_calibration(cal.flipped(flip_dec=self.config.flip_dec))
        self._emit("CalibrationDataFlipped", Mount=self.mount_label())
        assert self._calibration is not None
        return self._calibration

    def _use_calibration(self, cal: Calibration) -> None:
        self._calibration = cal
        self._calibrations[self._calibration_key()] = cal.to_dict()
        self._save()
        self._ra.reset()
        self._dec.reset()

    def mount_label(self) -> str:
        if self.via() == "camera":
            return f"{self.camera_name} (ST4)"
        return self.mount_name or "mount"

    async def set_paused(self, paused: bool, full: bool = False) -> None:
        """Pause guiding (frames go on, no pulses) or, ``full``, the
        exposures too; resume with ``paused=False``."""
        if paused:
            if not self._paused:
                self._paused = True
                self._full_pause = full
                self._emit("Paused")
            elif full:
                self._full_pause = True
            return
        if self._paused:
            self._paused = self._full_pause = False
            self._ra.reset()
            self._dec.reset()
            self._emit("Resumed")

    async def guide(
        self,
        settle: SettleRule | None = None,
        recalibrate: bool = False,
        roi: tuple[int, int, int, int] | None = None,
    ) -> asyncio.Future[dict[str, Any]]:
        """Start guiding: loop, choose a star, calibrate (unless a calibration
        for this camera and mount is kept), guide and settle.  Returns at once
        with a future of the settle's outcome (``SettleDone``'s fields)."""
        if self._op is not None:
            raise GuidingError(
                f"Cannot initiate guide while {self._op.kind} is in progress", "busy"
            )
        if not self.connected():
            raise GuidingError("all equipment must be connected first", "not_connected")
        self._check_safe()
        self._check_mount()
        rule = settle or self.default_settle()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._op = _Op("guide", rule, future, recalibrate=recalibrate, roi=roi)
        if self._paused:
            await self.set_paused(False)
        if self._mode == "guiding" and not recalibrate:
            self._begin_settle(self._op)
            return future
        if recalibrate:
            self._calibration = None
            self._calibrations.pop(self._calibration_key(), None)
        if self._mode == "guiding":
            self._mode = "looping"
            self._emit("GuidingStopped")
        if not self._capturing:
            self._star = None
            self._subframe = None
            await self.loop()
        if self._star is None:
            self._roi = roi
            self._want_star = True
        self._op.stage = "starting"
        return future

    async def dither(
        self, amount: float, ra_only: bool | None = None, settle: SettleRule | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """Move the lock position by up to ``amount`` pixels (random or spiral)
        and settle; returns a future of the settle's outcome."""
        if self._op is not None:
            raise GuidingError(
                f"Cannot initiate dither while {self._op.kind} is in progress", "busy"
            )
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not math.isfinite(amount)
        ):
            raise GuidingError("the dither amount must be a number of pixels", "invalid_value")
        if self._mode != "guiding" or self._lock is None or self._calibration is None:
            raise GuidingError("Dither error: not guiding", "not_guiding")
        amount = abs(float(amount))
        ra_only = self.config.dither_ra_only if ra_only is None else ra_only
        _, _, dx, dy = dither_offset(
            amount, ra_only, self._calibration, mode=self.config.dither_mode, index=self._dithers
        )
        self._dithers += 1
        lock = (self._lock[0] + dx, self._lock[1] + dy)
        w, h = self.frame_size()
        margin = self.config.search_region + 2
        lock = (min(max(lock[0], margin), w - margin), min(max(lock[1], margin), h - margin))
        dx, dy = lock[0] - self._lock[0], lock[1] - self._lock[1]
        ra, dec = self._calibration.to_mount(dx, dy)
        self._set_lock(lock)
        self._ra.reset()
        self._dec.reset()
        # PHD2 reports the dither as RA/Dec pixels, as a correction would see it.
        self._emit("GuidingDithered", dx=round(-ra, 3), dy=round(-dec, 3))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._op = _Op("dither", settle or self.default_settle(), future)
        self._begin_settle(self._op)
        return future

    async def guide_pulse(self, direction: str, duration_ms: float) -> dict[str, Any]:
        """One manual pulse (not while calibrating or guiding)."""
        if self._mode in ("calibrating", "guiding"):
            raise GuidingError("cannot issue guide pulse while calibrating or guiding", "busy")
        self._check_safe()
        ms = float(duration_ms)
        if ms < 0:
            ms = -ms
            direction = {
                "north": "south",
                "south": "north",
                "east": "west",
                "west": "east",
                "n": "s",
                "s": "n",
                "e": "w",
                "w": "e",
            }.get(direction.lower(), direction)
        return await self._device().pulse(direction, ms, via=self.via())

    async def capture_single_frame(
        self,
        exposure: float | None = None,
        binning: int | None = None,
        subframe: tuple[int, int, int, int] | None = None,
    ) -> dict[str, Any]:
        """One guide frame while not looping: {width, height, star count, ...}."""
        if self._capturing:
            raise GuidingError(
                "cannot capture single frame when capture is currently active", "busy"
            )
        device = self._device()
        seconds = self.config.exposure if exposure is None else exposure
        data, fmt = await device.capture(
            seconds,
            binning=binning or self.config.binning,
            roi=list(subframe) if subframe else "full",
        )
        frame = await asyncio.to_thread(read_frame, data, fmt)
        origin = (subframe[0], subframe[1]) if subframe else (0, 0)
        self._frame_no += 1
        self._last_frame = _Frame(self._frame_no, time.time(), frame.pixels, origin)
        stars = await asyncio.to_thread(
            find_stars, frame.pixels, saturation=_saturation(frame.pixels)
        )
        return {
            "width": frame.pixels.shape[1],
            "height": frame.pixels.shape[0],
            "stars": len(stars),
            "frame": self._frame_no,
        }

    def frame_stats(self, start: float, end: float) -> dict[str, Any] | None:
        """Guiding during an exposure from ``start`` to ``end`` (Unix
        seconds): {frames, rms_ra, rms_dec, rms_total, peak (px), and
        ``arcsec`` the same when the scale is known}; None when no guide
        frame fell within it (not guiding)."""
        steps = [h for h in self.history if start <= h["time"] <= end + 0.5]
        if not steps:
            return None
        ra = [h["RADistanceRaw"] for h in steps]
        dec = [h["DECDistanceRaw"] for h in steps]

        def rms(values: list[float]) -> float:
            mean = sum(values) / len(values)
            return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))

        px = {
            "rms_ra": rms(ra),
            "rms_dec": rms(dec),
            "rms_total": math.hypot(rms(ra), rms(dec)),
            "peak": max(math.hypot(a, b) for a, b in zip(ra, dec, strict=True)),
        }
        out: dict[str, Any] = {"frames": len(steps), **{k: round(v, 3) for k, v in px.items()}}
        scale = self.pixel_scale()
        if scale:
            out["arcsec"] = {k: round(v * scale, 3) for k, v in px.items()}
        return out

    def guide_steps(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest guide steps, oldest first (for graphs)."""
        return list(self.history)[-limit:]

    async def wait_settled(
        self, future: asyncio.Future[dict[str, Any]], timeout: float | None = None
    ) -> dict[str, Any]:
        """The settle's outcome; GuidingError when it failed: code
        ``calibration_failed`` when the calibration did, else ``settle_failed``."""
        result = await asyncio.wait_for(asyncio.shield(future), timeout)
        if result.get("Status"):
            error = result.get("Error") or "settling failed"
            code = "calibration_failed" if error.startswith(CALIBRATION_FAILED) else "settle_failed"
            raise GuidingError(error, code)
        return result

    async def close(self) -> None:
        await self.stop_capture()

    # ------------------------------------------------------------ the loop

    def _check_mount(self) -> None:
        """A parked or untracking mount lets the sky run away at 15"/s: no
        guider can hold that, and calibration would measure the sky, not the
        pulses.  Said before anything starts."""
        park = self._mirror(self.mount_name, "TELESCOPE_PARK")
        if park is not None and "PARK" in park.on_switches():
            raise GuidingError(
                f"{self.mount_name} is parked: unpark it and start tracking before guiding",
                "mount_not_tracking",
            )
        track = self._mirror(self.mount_name, "TELESCOPE_TRACK_STATE")
        if track is not None and "TRACK_OFF" in track.on_switches():
            raise GuidingError(
                f"{self.mount_name} is not tracking: turn tracking on before guiding "
                "(telescope.set_tracking)",
                "mount_not_tracking",
            )

    def _check_safe(self) -> None:
        if self.is_safe is not None and not self.is_safe():
            raise GuidingError(
                "the safety policy says unsafe: guiding would move the mount", "unsafe"
            )

    async def _capture_loop(self) -> None:
        failures = 0
        try:
            while True:
                if self._full_pause:
                    await asyncio.sleep(0.2)
                    continue
                try:
                    frame = await self._take_frame()
                except asyncio.CancelledError:
                    raise
                except (DeviceError, INDIError, GuidingError, FrameReadError, OSError) as exc:
                    failures += 1
                    self.last_error = f"guide frame failed: {exc}"
                    self._emit(
                        "LoopingExposures", Frame=self._frame_no, ErrorCode=1, Status=str(exc)
                    ) if self._mode == "looping" else None
                    if failures in (1, 5) or failures % 30 == 0:
                        self._alert(f"guide camera: {exc}", "error")
                    dev = self.client.devices.get(self.camera_name or "")
                    if dev is None or not dev.connected:
                        if failures >= 30:
                            self._alert("the guide camera is gone: capture stopped", "error")
                            break
                    await asyncio.sleep(min(10.0, 0.5 * failures))
                    continue
                failures = 0
                try:
                    await self._on_frame(frame)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop must not die on one frame
                    log.exception("guiding: frame %d", frame.number)
                    self.last_error = str(exc)
                    self._alert(f"guiding: {exc}", "error")
                if self.config.delay:
                    await asyncio.sleep(self.config.delay)
        finally:
            if self._task is asyncio.current_task():
                # Ended by itself (not by stop_capture).
                self._capturing = False
                self._task = None
                if self._mode in ("guiding", "calibrating"):
                    self._emit("GuidingStopped")
                self._end_op(1, "Image capture stopped")
                self._mode = "looping"
                self._emit("LoopingExposuresStopped")

    def _wanted_subframe(self) -> tuple[int, int, int, int] | None:
        """The box to download (binned pixels), None for the whole frame."""
        if not self.config.use_subframes or self._want_star or self._lock is None:
            return None
        if self._lost >= self.config.lost_frames:
            return None  # look for it everywhere
        w, h = self.frame_size()
        size = max(64, 4 * self.config.search_region)
        cx, cy = self._lock
        if self._star is not None and self._mode != "guiding":
            cx, cy = self._star.x, self._star.y
        current = self._subframe
        margin = self.config.search_region + 4
        if current is not None:
            x, y, sw, sh = current
            if (
                x + margin <= cx < x + sw - margin
                and y + margin <= cy < y + sh - margin
                and (
                    self._star is None
                    or (
                        x + margin <= self._star.x < x + sw - margin
                        and y + margin <= self._star.y < y + sh - margin
                    )
                )
            ):
                return current
        x = int(min(max(0, round(cx - size / 2)), max(0, w - size)))
        y = int(min(max(0, round(cy - size / 2)), max(0, h - size)))
        return x, y, min(size, w), min(size, h)

    async def _take_frame(self) -> _Frame:
        device = self._device()
        sub = self._wanted_subframe()
        b = self.config.binning
        roi: list[int] | str = "full" if sub is None else [v * b for v in sub]
        # The camera's region is set whenever it must change, and at each
        # start of the loop (someone else may have changed it meanwhile).
        if sub != self._subframe or not self._configured:
            self._subframe = sub
            await device.configure(binning=b, roi=roi)
            self._configured = True
            self._sensor = self.frame_size()
        started = time.monotonic()
        data, fmt = await device.capture(self.config.exposure)
        received = time.monotonic()
        if len(data) > 4 << 20:
            frame = await asyncio.to_thread(read_frame, data, fmt)
        else:
            frame = read_frame(data, fmt)
        self._frame_no += 1
        origin = (0, 0) if sub is None else (sub[0], sub[1])
        f = _Frame(
            self._frame_no,
            time.time(),
            frame.pixels,
            origin,
            received=received,
            download=max(0.0, received - started - self.config.exposure),
        )
        self.timing.downloads.append(f.download)
        self._last_frame = f
        return f

    async def _on_frame(self, f: _Frame) -> None:
        saturation = _saturation(f.pixels)
        if self._want_star:
            await self._select_star(f, saturation)
            if self._op is not None and self._op.stage == "starting":
                self._op.attempts += 1
                if self._star is None and self._op.attempts >= 3:
                    self._want_star = False
                    if self._op.restart_reason:
                        self._calibration_failed(
                            self._op.restart_reason + "; no guide star found to start again"
                        )
                    else:
                        self._end_op(1, "failed to find a suitable guide star")
                    return
            if self._star is None:
                self._emit("LoopingExposures", Frame=f.number)
                return
        star = None
        if self._star is not None:
            star = self._follow(f, saturation)
        f.star = star
        if self._mode == "calibrating":
            await self._calibration_frame(f, star)
        elif self._mode == "guiding":
            await self._guide_frame(f, star)
        else:
            fields_: dict[str, Any] = {"Frame": f.number}
            if star is not None:
                fields_.update(
                    StarMass=round(star.mass), SNR=round(star.snr, 2), HFD=round(star.hfd, 2)
                )
            self._emit("LoopingExposures", **fields_)
            if self._op is not None and self._op.stage == "starting" and self._star is not None:
                await self._start_guiding_op(f)

    async def _select_star(self, f: _Frame, saturation: float | None) -> None:
        stars = await asyncio.to_thread(find_stars, f.pixels, saturation=saturation)
        stars = [_moved(s, f.origin) for s in stars]
        w, h = self.frame_size()
        ranked = select_guide_star(
            stars,
            (h, w),
            search=self.config.search_region,
            roi=self._roi,
            edge=self.config.search_region + self.config.calibration_distance + 10,
        )
        if not ranked or ranked[0].reject is not None:
            why = ranked[0].reject if ranked else "no star in the frame"
            self.last_error = f"no suitable guide star ({why}; {len(stars)} stars seen)"
            return
        best = ranked[0].star
        self._want_star = False
        self._star = best
        self._lost = 0
        self._emit("StarSelected", X=round(best.x, 3), Y=round(best.y, 3))
        self._set_lock((best.x, best.y))

    def _follow(self, f: _Frame, saturation: float | None) -> StarMeasure | None:
        """The star near where it should be, in whole-frame pixels."""
        assert self._star is not None
        # Where it was last seen; a star lost while guiding is looked for at
        # the lock position, where guiding brings it back.  Not while
        # calibrating: the pulses take it a leg's length from the lock on
        # purpose, and a frame that missed it once would have sent the search
        # there, then to another star.
        at_lock = self._lost > 0 and self._lock is not None and self._mode != "calibrating"
        x, y = self._lock if at_lock else (self._star.x, self._star.y)  # type: ignore[misc]
        search = self.config.search_region
        star = self._bright(
            measure(f.pixels, x - f.origin[0], y - f.origin[1], search, saturation=saturation)
        )
        wide = star is None and self._lost >= self.config.lost_frames and f.origin == (0, 0)
        if wide:
            # Recovering: the star nearest where it should be, three times wider.
            star = self._bright(nearest_star(f.pixels, x, y, 3 * search, saturation=saturation))
        if star is not None and wide and self._mode == "guiding" and self._far(star):
            star = None
        if star is None:
            self._lost += 1
            return None
        star = _moved(star, f.origin)
        if self._lost:
            self._alert(f"star found again after {self._lost} frames", "info")
        self._lost = 0
        self._refused = None
        self._star = star
        return star

    def _bright(self, star: StarMeasure | None) -> StarMeasure | None:
        """``star`` unless it is a noise bump next to the followed star."""
        assert self._star is not None
        if star is not None and self._star.mass > 0 and star.mass < 0.1 * self._star.mass:
            return None
        return star

    def _far(self, star: StarMeasure) -> bool:
        """A spot the wide search found while guiding is taken for the guide
        star only near where that was last seen (a dither moves the lock
        away from it): farther it is another star, and guiding on it would
        move the telescope by the distance between the two.  As PHD2, the
        guider keeps the lock position and waits for its star (an `Alert`
        says where the refused spot is, once per spot)."""
        assert self._star is not None and self._lock is not None
        reach = self.config.search_region * math.sqrt(2.0)
        if math.hypot(star.x - self._star.x, star.y - self._star.y) <= reach:
            return False
        spot = (round(star.x, 1), round(star.y, 1))
        if self._refused is None or math.dist(spot, self._refused) > 2.0:
            self._refused = spot
            lx, ly = self._lock
            self._alert(
                f"a star at ({spot[0]:g}, {spot[1]:g}), "
                f"{math.hypot(star.x - lx, star.y - ly):.0f} px from the lock position "
                f"({lx:.1f}, {ly:.1f}), is not taken for the lost guide star: waiting for it "
                "to come back near the lock position (stop and guide again to choose a new star)"
            )
        return True

    def _star_lost(self, f: _Frame) -> None:
        self._emit(
            "StarLost",
            Frame=f.number,
            Time=round(time.time() - self._guide_started, 3) if self._guide_started else 0.0,
            StarMass=0,
            SNR=0.0,
            HFD=0.0,
            AvgDist=round(self._avg_dist, 2),
            ErrorCode=1,
            Status="the star is gone (clouds, or the camera covered?)",
        )
        if self._lost == self.config.lost_frames:
            self._alert(f"star lost for {self._lost} frames: searching the whole frame")

    # -------- calibration

    def _calibration_step(self) -> int:
        if self.config.calibration_step_ms:
            return self.config.calibration_step_ms
        rate, scale = self._guide_rate() or 0.5, self.pixel_scale()
        if scale is None:
            return 1000
        dec = self._declination() or 0.0
        # Star motion (px/ms) at the guide rate, about 12 steps per leg.
        px_per_ms = rate * 15.0411 * max(math.cos(math.radians(dec)), 0.2) / 1000.0 / scale
        return int(min(5000, max(50, self.config.calibration_distance / 12.0 / px_per_ms)))

    async def _start_calibration(self, f: _Frame) -> None:
        assert self._star is not None
        run = CalibrationRun(
            self._calibration_step(),
            distance=self.config.calibration_distance,
            calibrate_dec=self.config.dec_mode != "off",
        )
        self._cal_run = run
        self._cal_lost = 0
        self._mode = "calibrating"
        self._emit("StartCalibration", Mount=self.mount_label())
        pulse = run.begin((self._star.x, self._star.y), time.monotonic())
        await self._cal_pulse(run, pulse)

    async def _cal_pulse(self, run: CalibrationRun, pulse: Any) -> None:
        pos = run.position or (0.0, 0.0)
        start = run.legs[run.phase].start if run.phase in run.legs else pos
        self._emit(
            "Calibrating",
            Mount=self.mount_label(),
            dir=pulse.direction.capitalize(),
            dist=round(run.leg_distance, 3),
            dx=round(pos[0] - start[0], 3),
            dy=round(pos[1] - start[1], 3),
            pos=[round(pos[0], 2), round(pos[1], 2)],
            step=run.step,
            State=f"{pulse.direction} step {run.step}",
        )
        await self._pulse(pulse.direction, pulse.duration_ms)

    async def _calibration_frame(self, f: _Frame, star: StarMeasure | None) -> None:
        run = self._cal_run
        assert run is not None
        if star is None:
            self._cal_lost += 1
            run.lost()
            self._star_lost(f)
            if self._cal_lost >= 3 * self.config.lost_frames:
                last = run.position or (self._star.x, self._star.y)  # type: ignore[union-attr]
                self._calibration_failed(
                    f"calibration failed: the star was lost for {self._cal_lost} frames "
                    f"(last seen at ({last[0]:.1f}, {last[1]:.1f}))"
                )
            return
        try:
            pulse = run.feed((star.x, star.y), time.monotonic())
        except StarLostError as exc:
            self._restart_calibration(str(exc))
            return
        except CalibrationError as exc:
            self._calibration_failed(str(exc))
            return
        if pulse is not None:
            await self._cal_pulse(run, pulse)
            return
        cal = run.result
        assert cal is not None
        cal = replace(
            cal,
            declination=self._declination(),
            pier_side=self._pier_side(),
            binning=self.config.binning,
            mount=self.mount_label(),
            camera=self.camera_name or "",
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._use_calibration(cal)
        self._cal_run = None
        self._emit("CalibrationComplete", Mount=self.mount_label())
        if cal.orthogonality_error > 10:
            self._alert(
                f"calibration: the RA and Dec axes are {cal.orthogonality_error:.0f}° "
                "from perpendicular; guiding may be poor (Dec backlash?)"
            )
        # Back where calibration started: lock there and guide.
        self._begin_guiding()

    def _restart_calibration(self, reason: str) -> None:
        """The calibration star was lost and another spot found: start again
        on a fresh star from a whole frame (PHD2 would fail; a cloud passing
        should not end a night's guiding), at most `CALIBRATION_RESTARTS`
        times, then fail."""
        op = self._op
        if op is None or op.restarts >= CALIBRATION_RESTARTS:
            if op is not None:
                reason += f" (calibration started again {op.restarts} times)"
            self._calibration_failed(reason)
            return
        op.restarts += 1
        op.restart_reason = reason
        op.stage = "starting"
        op.attempts = 0
        self._cal_run = None
        self._mode = "looping"
        self._star = None
        self._set_lock(None)
        self._lost = 0
        self._want_star = True
        self.last_error = reason
        self._alert(
            f"{reason}: calibration starts again on a fresh star "
            f"({op.restarts} of {CALIBRATION_RESTARTS})"
        )

    def _calibration_failed(self, reason: str) -> None:
        dec = self._declination()
        if dec is not None and abs(dec) > 75 and "RA" in reason:
            reason += (
                f" (the mount points at Dec {dec:.1f}°: near the pole RA pulses barely move "
                "a star; calibrate within 20° of the celestial equator)"
            )
        self._cal_run = None
        self._mode = "looping"
        self.last_error = reason
        self._emit("CalibrationFailed", Mount=self.mount_label(), Reason=reason)
        self._alert(reason, "error")
        self._end_op(1, CALIBRATION_FAILED + reason)

    # -------- guiding

    async def _start_guiding_op(self, f: _Frame) -> None:
        op = self._op
        assert op is not None
        cal = self.calibration()
        if cal is not None and cal.binning != self.config.binning:
            cal = None
        if cal is None:
            op.stage = "calibrating"
            await self._start_calibration(f)
            return
        side = self._pier_side()
        if cal.pier_side in ("east", "west") and side in ("east", "west") and side != cal.pier_side:
            cal = cal.flipped(side, flip_dec=self.config.flip_dec)
            self._use_calibration(cal)
            self._emit("CalibrationDataFlipped", Mount=self.mount_label())
            self._alert(f"pier side is now {side}: the calibration was flipped", "info")
        else:
            self._use_calibration(cal)
        self._begin_guiding()

    def _begin_guiding(self) -> None:
        assert self._star is not None
        self._mode = "guiding"
        self._guide_count = 0
        self._guide_started = time.time()
        self._lost = 0
        self._avg_dist = 0.0
        self._ra.reset()
        self._dec.reset()
        self.stats.clear()
        self._refused = None
        if self._lock is None:
            self._set_lock((self._star.x, self._star.y))
        self._emit("StartGuiding")
        if self._op is not None:
            self._begin_settle(self._op)

    def _begin_settle(self, op: _Op) -> None:
        op.stage = "settling"
        op.tracker = SettleTracker(op.rule, time.monotonic())
        self._emit("SettleBegin")

    def _end_op(self, status: int, error: str = "") -> None:
        op, self._op = self._op, None
        if op is None:
            return
        tracker = op.tracker or SettleTracker(op.rule, time.monotonic())
        result = tracker.done_event(status, error)
        self._emit("SettleDone", **result)
        if not op.future.done():
            op.future.set_result(result)

    def _check_pier_side(self) -> None:
        cal = self._calibration
        side = self._pier_side()
        if cal is None or side not in ("east", "west") or cal.pier_side not in ("east", "west"):
            return
        if side != cal.pier_side:
            self._use_calibration(cal.flipped(side, flip_dec=self.config.flip_dec))
            self._emit("CalibrationDataFlipped", Mount=self.mount_label())
            self._alert(f"pier side is now {side}: the calibration was flipped", "info")

    async def _guide_frame(self, f: _Frame, star: StarMeasure | None) -> None:
        self._guide_count += 1
        t = time.time() - self._guide_started
        op = self._op
        if star is None or self._lock is None:
            self._star_lost(f)
            if op is not None and op.tracker is not None:
                self._settle_frame(op, None)
            return
        self._check_pier_side()
        cal = self._calibration
        assert cal is not None
        dx, dy = star.x - self._lock[0], star.y - self._lock[1]
        step = compute_step(
            self._guide_count,
            t,
            (dx, dy),
            cal,
            self._ra,
            self._dec,
            GuideSettings(self.config.max_ra_ms, self.config.max_dec_ms, self.config.dec_mode),
            declination=self._declination(),
        )
        dist = math.hypot(dx, dy)
        self._avg_dist = dist if self._guide_count == 1 else 0.7 * self._avg_dist + 0.3 * dist
        step.avg_dist = self._avg_dist
        step.star = star.to_dict()
        paused = self._paused
        if paused or (self.is_safe is not None and not self.is_safe()):
            step.ra_ms = step.dec_ms = 0
        self.stats.add(step)
        event = step.to_event(self.mount_label())
        self.history.append(
            {
                **event,
                "time": f.time,
                "lock": list(self._lock),
                "x": round(star.x, 3),
                "y": round(star.y, 3),
            }
        )
        self._emit("GuideStep", **event)
        if op is not None and op.tracker is not None:
            self._settle_frame(op, dist)
        pulses = []
        if step.ra_ms:
            pulses.append(self._pulse(step.ra_dir, step.ra_ms))
        if step.dec_ms:
            pulses.append(self._pulse(step.dec_dir, step.dec_ms))
        # The guider's own latency: the frame in hand to its pulses on their way.
        self.timing.samples.append(time.monotonic() - f.received)
        if pulses:
            results = await asyncio.gather(*pulses, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                    self._alert(f"guide pulse failed: {r}", "error")

    def _settle_frame(self, op: _Op, distance: float | None) -> None:
        assert op.tracker is not None
        outcome = op.tracker.frame(time.monotonic(), distance)
        if outcome is None:
            self._emit("Settling", **op.tracker.settling_event())
            return
        self._end_op(*outcome)

    async def _pulse(self, direction: str, ms: float) -> None:
        device = self._device()
        await device.pulse(direction, ms, via=self.via(), quiet=True, timeout=ms / 1000.0 + 10.0)


def _saturation(pixels: np.ndarray) -> float | None:
    if np.issubdtype(pixels.dtype, np.integer):
        return float(np.iinfo(pixels.dtype).max) * 0.98
    return None


def _moved(star: StarMeasure, origin: tuple[int, int]) -> StarMeasure:
    if origin == (0, 0):
        return star
    return replace(star, x=star.x + origin[0], y=star.y + origin[1])


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
