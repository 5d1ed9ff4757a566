"""What to do with a measured guide error: the guide algorithms, the pulse
of each axis, settling, dithering and the statistics.  Sans-I/O: fed
numbers, they return numbers; the engine does the sending.

The algorithms are PHD2's, so that a PHD2 user's settings mean the same:
RA "hysteresis" (a share of the last correction carried over, scaled by an
aggressiveness, nothing below a minimum move) and Dec "resist switch" (a
change of Dec direction only once several frames agree; Dec backlash makes
each reversal costly).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .calibration import Calibration

__all__ = [
    "DecResistSwitch",
    "GuideSettings",
    "GuideStep",
    "Hysteresis",
    "SettleRule",
    "SettleTracker",
    "Statistics",
    "compute_step",
    "dither_offset",
]


class Hysteresis:
    """PHD2's RA algorithm: ``(1-h)*error + h*last``, times the aggression;
    errors under ``min_move`` pixels are left alone."""

    name = "Hysteresis"

    def __init__(self, aggression: float = 0.7, hysteresis: float = 0.1, min_move: float = 0.15):
        self.aggression = aggression
        self.hysteresis = hysteresis
        self.min_move = min_move
        self.last = 0.0

    def params(self) -> dict[str, float]:
        return {
            "aggression": self.aggression,
            "hysteresis": self.hysteresis,
            "min_move": self.min_move,
        }

    def reset(self) -> None:
        self.last = 0.0

    def result(self, error: float) -> float:
        out = ((1.0 - self.hysteresis) * error + self.hysteresis * self.last) * self.aggression
        if abs(error) < self.min_move:
            out = 0.0
        self.last = out
        return out


class DecResistSwitch:
    """PHD2's Dec algorithm: corrections in one direction until the error
    has been on the other side for ``switch_frames`` frames in a row (or is
    large: ``fast_switch`` past 3x the minimum move... of 3 px)."""

    name = "ResistSwitch"

    def __init__(
        self,
        aggression: float = 1.0,
        min_move: float = 0.15,
        switch_frames: int = 3,
        fast_switch: bool = True,
    ):
        self.aggression = aggression
        self.min_move = min_move
        self.switch_frames = switch_frames
        self.fast_switch = fast_switch
        self.side = 0
        self.history: deque[float] = deque(maxlen=10)

    def params(self) -> dict[str, float | bool]:
        return {
            "aggression": self.aggression,
            "min_move": self.min_move,
            "switch_frames": self.switch_frames,
            "fast_switch": self.fast_switch,
        }

    def reset(self) -> None:
        self.side = 0
        self.history.clear()

    def result(self, error: float) -> float:
        self.history.append(error)
        if abs(error) < self.min_move:
            return 0.0
        sign = 1 if error > 0 else -1
        if self.side not in (0, sign):
            recent = list(self.history)[-self.switch_frames :]
            agree = len(recent) >= self.switch_frames and all(
                (e > 0) == (sign > 0) and abs(e) >= self.min_move for e in recent
            )
            fast = self.fast_switch and abs(error) >= max(3.0, 3 * self.min_move)
            if not (agree or fast):
                return 0.0
        self.side = sign
        return error * self.aggression


@dataclass(slots=True)
class GuideSettings:
    """Limits of the pulses: the longest of each axis, and which Dec
    directions may be used (auto, north, south, off)."""

    max_ra_ms: int = 2500
    max_dec_ms: int = 2500
    dec_mode: str = "auto"
    min_pulse_ms: int = 10


@dataclass(slots=True)
class GuideStep:
    """One guide frame's outcome, in PHD2's terms (`to_event`)."""

    frame: int
    time: float
    dx: float
    dy: float
    ra_raw: float
    dec_raw: float
    ra_guide: float
    dec_guide: float
    ra_ms: int = 0
    ra_dir: str = ""
    dec_ms: int = 0
    dec_dir: str = ""
    ra_limited: bool = False
    dec_limited: bool = False
    star: dict[str, Any] = field(default_factory=dict)
    avg_dist: float = 0.0

    def to_event(self, mount: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Frame": self.frame,
            "Time": round(self.time, 3),
            "Mount": mount,
            "dx": round(self.dx, 3),
            "dy": round(self.dy, 3),
            "RADistanceRaw": round(self.ra_raw, 3),
            "DECDistanceRaw": round(self.dec_raw, 3),
            "RADistanceGuide": round(self.ra_guide, 3),
            "DECDistanceGuide": round(self.dec_guide, 3),
        }
        if self.ra_ms > 0:
            out["RADuration"] = self.ra_ms
            out["RADirection"] = self.ra_dir.capitalize()
        if self.dec_ms > 0:
            out["DECDuration"] = self.dec_ms
            out["DECDirection"] = self.dec_dir.capitalize()
        out["StarMass"] = round(float(self.star.get("mass", 0.0)))
        out["SNR"] = round(float(self.star.get("snr", 0.0)), 2)
        out["HFD"] = round(float(self.star.get("hfd", 0.0)), 2)
        out["AvgDist"] = round(self.avg_dist, 2)
        if self.ra_limited:
            out["RALimited"] = True
        if self.dec_limited:
            out["DecLimited"] = True
        return out


def compute_step(
    frame: int,
    t: float,
    offset: tuple[float, float],
    calibration: Calibration,
    ra_algo: Hysteresis,
    dec_algo: DecResistSwitch,
    settings: GuideSettings,
    *,
    declination: float | None = None,
    guide_ra: bool = True,
    guide_dec: bool = True,
) -> GuideStep:
    """The pulses for one frame whose star sits ``offset`` (x, y pixels)
    from the lock position."""
    dx, dy = offset
    ra_raw, dec_raw = calibration.to_mount(dx, dy)
    ra_guide = ra_algo.result(ra_raw) if guide_ra else 0.0
    mode = settings.dec_mode.lower()
    dec_guide = 0.0
    if guide_dec and mode != "off" and calibration.dec_rate > 0:
        dec_guide = dec_algo.result(dec_raw)
        if (mode == "north" and dec_guide < 0) or (mode == "south" and dec_guide > 0):
            dec_guide = 0.0
    step = GuideStep(frame, t, dx, dy, ra_raw, dec_raw, ra_guide, dec_guide)
    ra_rate = calibration.ra_rate_at(declination)
    if ra_guide and ra_rate > 0:
        ms = abs(ra_guide) / ra_rate
        step.ra_limited = ms > settings.max_ra_ms
        ms = min(ms, settings.max_ra_ms)
        if ms >= settings.min_pulse_ms:
            step.ra_ms = int(round(ms))
            step.ra_dir = "west" if ra_guide > 0 else "east"
    if dec_guide and calibration.dec_rate > 0:
        ms = abs(dec_guide) / calibration.dec_rate
        step.dec_limited = ms > settings.max_dec_ms
        ms = min(ms, settings.max_dec_ms)
        if ms >= settings.min_pulse_ms:
            step.dec_ms = int(round(ms))
            step.dec_dir = "north" if dec_guide > 0 else "south"
    return step


def dither_offset(
    amount: float,
    ra_only: bool,
    calibration: Calibration,
    *,
    mode: str = "random",
    index: int = 0,
    rng: random.Random | None = None,
) -> tuple[float, float, float, float]:
    """A dither: (ra, dec) in mount pixels and the (dx, dy) camera shift of
    the lock position.  ``random``: each axis uniform in ±amount; ``spiral``:
    points of a square spiral, ``index`` the dither's number (as PHD2's)."""
    rng = rng or random.Random()
    if mode == "spiral":
        ra, dec = _spiral(index)
        ra, dec = ra * amount, dec * amount
    else:
        ra = rng.uniform(-amount, amount)
        dec = rng.uniform(-amount, amount)
    if ra_only or calibration.dec_rate <= 0:
        dec = 0.0
    dx, dy = calibration.to_camera(ra, dec)
    return ra, dec, dx, dy


def _spiral(index: int) -> tuple[float, float]:
    """The ``index``-th step of a square spiral, as a move from the last point."""
    # Spiral legs: 1 right, 1 up, 2 left, 2 down, 3 right, ...; a step is one unit.
    x = y = 0
    px = py = 0
    dirs = ((1, 0), (0, 1), (-1, 0), (0, -1))
    leg, d, n = 1, 0, 0
    while n <= index:
        for _ in range(2):
            for _ in range(leg):
                px, py = x, y
                x, y = x + dirs[d][0], y + dirs[d][1]
                if n == index:
                    return float(x - px), float(y - py)
                n += 1
            d = (d + 1) % 4
        leg += 1
    return 0.0, 0.0


@dataclass(frozen=True, slots=True)
class SettleRule:
    """Settled once the guide error stayed within ``pixels`` for ``time``
    seconds; failed after ``timeout`` seconds (PHD2's settle object)."""

    pixels: float = 1.5
    time: float = 10.0
    timeout: float = 60.0

    @classmethod
    def parse(cls, value: Any) -> SettleRule:
        """From {pixels, time, timeout} (all numbers >= 0); ValueError otherwise."""
        if value is None:
            return cls()
        if isinstance(value, SettleRule):
            return value
        if not isinstance(value, dict):
            raise ValueError("settle must be an object {pixels, time, timeout}")
        out = {}
        for key, default in (("pixels", cls.pixels), ("time", cls.time), ("timeout", cls.timeout)):
            v = value.get(key, default)
            number = isinstance(v, int | float) and not isinstance(v, bool)
            if not number or not math.isfinite(v) or v < 0:
                raise ValueError(f"settle.{key} must be a number >= 0, got {v!r}")
            out[key] = float(v)
        if out["pixels"] <= 0:
            raise ValueError("settle.pixels must be above 0")
        return cls(**out)

    def to_dict(self) -> dict[str, float]:
        return {"pixels": self.pixels, "time": self.time, "timeout": self.timeout}


class SettleTracker:
    """PHD2's settle loop, fed once per frame: ``frame(t, distance|None)`` →
    None while settling, else (status 0 ok | 1 failed, error text)."""

    def __init__(self, rule: SettleRule, started: float) -> None:
        self.rule = rule
        self.started = started
        self.in_range_since: float | None = None
        self.total_frames = 0
        self.dropped_frames = 0
        self.distance = 0.0
        self.in_range_time = 0.0
        self.locked = True

    def frame(self, t: float, distance: float | None) -> tuple[int, str] | None:
        self.total_frames += 1
        self.locked = distance is not None
        if distance is None:
            self.dropped_frames += 1
        self.distance = distance if distance is not None else self.distance
        in_range = distance is not None and distance <= self.rule.pixels
        self.in_range_time = 0.0
        if in_range:
            if self.in_range_since is None:
                self.in_range_since = t
                if self.rule.time <= 0:
                    return 0, ""
            else:
                self.in_range_time = t - self.in_range_since
                if self.in_range_time >= self.rule.time:
                    return 0, ""
        else:
            self.in_range_since = None
        if t - self.started >= self.rule.timeout:
            return 1, "timed-out waiting for guider to settle"
        return None

    def settling_event(self) -> dict[str, Any]:
        return {
            "Distance": round(self.distance, 2),
            "Time": round(self.in_range_time, 1),
            "SettleTime": round(self.rule.time, 1),
            "StarLocked": self.locked,
        }

    def done_event(self, status: int, error: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"Status": status}
        if status:
            out["Error"] = error
        out["TotalFrames"] = self.total_frames
        out["DroppedFrames"] = self.dropped_frames
        return out


class Statistics:
    """RMS and peak of the guide error over the last ``window`` frames, in
    pixels (and arcseconds with a pixel scale), and the history to graph."""

    def __init__(self, window: int = 100, history: int = 600) -> None:
        self.window = window
        self.steps: deque[GuideStep] = deque(maxlen=max(window, history))

    def clear(self) -> None:
        self.steps.clear()

    def add(self, step: GuideStep) -> None:
        self.steps.append(step)

    def summary(self, scale: float | None = None, last: int | None = None) -> dict[str, Any]:
        steps = list(self.steps)[-(last or self.window) :]
        n = len(steps)
        out: dict[str, Any] = {"frames": n, "pixel_scale": scale}
        if not n:
            return out
        ra = [s.ra_raw for s in steps]
        dec = [s.dec_raw for s in steps]
        rms_ra = _rms(ra)
        rms_dec = _rms(dec)
        total = math.hypot(rms_ra, rms_dec)
        px = {
            "rms_ra": rms_ra,
            "rms_dec": rms_dec,
            "rms_total": total,
            "peak_ra": max(abs(v) for v in ra),
            "peak_dec": max(abs(v) for v in dec),
        }
        out["pixels"] = {k: round(v, 3) for k, v in px.items()}
        if scale:
            out["arcsec"] = {k: round(v * scale, 3) for k, v in px.items()}
        return out


def _rms(values: list[float]) -> float:
    """The RMS about the mean, as PHD2 reports it (a steady offset is not noise)."""
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
