"""Calibration: how a guide pulse moves the star on the guide camera.

`CalibrationRun` is a sans-I/O state machine: fed the star's position after
each pulse, it answers the next pulse to send, or the finished `Calibration`,
or fails with `CalibrationError` saying what went wrong.  The steps are
PHD2's: West out and East back, clear the Dec backlash (North until the star
moves), North out and South back.  Unlike a single leg, the rates come from
both legs of each axis, so a steady drift of the star during calibration
(flexure, polar misalignment) cancels out instead of skewing them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "Calibration",
    "CalibrationError",
    "CalibrationRun",
    "Pulse",
    "StarLostError",
    "Vector",
]

Vector = tuple[float, float]


class CalibrationError(RuntimeError):
    """Calibration could not finish; the message says why and what to try."""


class StarLostError(CalibrationError):
    """The star was lost during calibration and the spot found afterwards is
    not where the pulses put it: another star, not the calibration star.
    ``last``: where the star was last seen; ``found``: the spot; ``expected``:
    where the pulses predict it, within ``tolerance`` px.  The calibration can
    start again on a fresh lock."""

    def __init__(
        self, message: str, last: Vector, found: Vector, expected: Vector, tolerance: float
    ) -> None:
        super().__init__(message)
        self.last = last
        self.found = found
        self.expected = expected
        self.tolerance = tolerance


@dataclass(frozen=True, slots=True)
class Pulse:
    """A guide pulse to send: direction (north, south, east, west) and length."""

    direction: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Calibration:
    """How the star moves per millisecond of pulse, on the guide camera.

    ``ra_angle``/``dec_angle``: directions (radians, image x to y) in which
    the star moves for a West / North pulse; ``ra_rate``/``dec_rate``: pixels
    per millisecond (at ``declination``, binning ``binning``); ``pier_side``
    of the mount when calibrated (flipped with `flipped`)."""

    ra_angle: float
    dec_angle: float
    ra_rate: float
    dec_rate: float
    declination: float | None = None
    pier_side: str | None = None
    binning: int = 1
    created: str = ""
    mount: str = ""
    camera: str = ""
    steps: dict[str, int] = field(default_factory=dict)
    drift: Vector = (0.0, 0.0)

    @property
    def orthogonality_error(self) -> float:
        """Degrees by which the RA and Dec axes are not perpendicular."""
        diff = abs(math.degrees(self.dec_angle - self.ra_angle)) % 180.0
        return abs(diff - 90.0)

    def ra_rate_at(self, declination: float | None) -> float:
        """The RA rate at another declination (it shrinks with cos(dec))."""
        if declination is None or self.declination is None:
            return self.ra_rate
        here, there = math.cos(math.radians(self.declination)), math.cos(math.radians(declination))
        if here < 0.05 or there < 0.05:  # near the pole the scaling means nothing
            return self.ra_rate
        return self.ra_rate * there / here

    def to_mount(self, dx: float, dy: float) -> Vector:
        """Camera offset (star minus lock, pixels) → (RA, Dec) distances in
        pixels along the calibrated axes: positive RA asks for a West pulse,
        positive Dec for a North one (PHD2's sign)."""
        ux, uy = math.cos(self.ra_angle), math.sin(self.ra_angle)
        vx, vy = math.cos(self.dec_angle), math.sin(self.dec_angle)
        det = ux * vy - uy * vx
        if abs(det) < 1e-6:
            raise CalibrationError("the RA and Dec axes of the calibration are parallel")
        # d = a*u + b*v: a and b are how far the star sits along the West
        # and North pulse directions; a pulse the other way brings it back.
        a = (dx * vy - dy * vx) / det
        b = (ux * dy - uy * dx) / det
        return -a, -b

    def to_camera(self, ra: float, dec: float) -> Vector:
        """(RA, Dec) pixels (signs of `to_mount`) → camera offset."""
        ux, uy = math.cos(self.ra_angle), math.sin(self.ra_angle)
        vx, vy = math.cos(self.dec_angle), math.sin(self.dec_angle)
        return -(ra * ux + dec * vx), -(ra * uy + dec * vy)

    def flipped(self, pier_side: str | None = None, *, flip_dec: bool = False) -> Calibration:
        """The calibration after a meridian flip: the camera turned half a
        circle about the sky, so a West pulse moves the star the other way
        on the sensor.  A North pulse moves the mount's Dec axis the same
        way as before the flip, which now points the telescope the other way
        on the sky: with the image turned over too, the star moves as it did
        on the sensor, and the Dec angle is kept (PHD2's default; the INDI
        telescope simulator does so).  Mounts that reverse Dec themselves
        after a flip (North stays North on the sky) need ``flip_dec=True``
        (PHD2's "Reverse Dec output after meridian flip")."""
        side = pier_side
        if side is None and self.pier_side in ("east", "west"):
            side = "west" if self.pier_side == "east" else "east"
        return replace(
            self,
            ra_angle=_norm(self.ra_angle + math.pi),
            dec_angle=_norm(self.dec_angle + (math.pi if flip_dec else 0.0)),
            pier_side=side,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drift"] = list(self.drift)
        out["ra_angle_deg"] = round(math.degrees(self.ra_angle), 2)
        out["dec_angle_deg"] = round(math.degrees(self.dec_angle), 2)
        out["orthogonality_error_deg"] = round(self.orthogonality_error, 2)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in names}
        if "drift" in values:
            values["drift"] = tuple(values["drift"])
        return cls(**values)


def _norm(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


@dataclass(slots=True)
class _Leg:
    direction: str
    start: Vector
    start_time: float
    end: Vector | None = None
    end_time: float = 0.0
    steps: int = 0
    #: Unit vector the star moves along in this leg (once known), and the
    #: farthest it went along it.
    axis: Vector | None = None
    farthest: float = 0.0


class CalibrationRun:
    """The calibration's steps.  ``begin(pos, t)`` → first `Pulse`; then
    ``feed(pos, t)`` after each pulse's frame → next `Pulse`, or None when
    done (then ``result``); raises `CalibrationError` on failure.  ``t`` is a
    clock in seconds (for the drift).

    Every position fed must be where the pulses so far put the star: within
    ``tolerance`` px (or ``tolerance_fraction`` of the distance moved on the
    leg, or 8 times the star's scatter seen so far: the largest) plus a
    step's motion, the step measured on the leg (or on the leg it undoes); a
    step not measured yet may be up to half a leg.
    ``lost()`` says a frame missed the star: the next position fed that is
    not where the pulses put it raises `StarLostError` (another star, not
    this one); without a loss such a jump, or a star going back along a leg
    while the pulses go on, raises `CalibrationError`."""

    def __init__(
        self,
        step_ms: int,
        *,
        distance: float = 25.0,
        max_steps: int = 60,
        backlash_steps: int = 10,
        backlash_pixels: float = 3.0,
        calibrate_dec: bool = True,
        max_orthogonality_error: float = 20.0,
        tolerance: float = 4.0,
        tolerance_fraction: float = 0.25,
    ) -> None:
        if step_ms <= 0:
            raise ValueError(f"calibration step must be positive, got {step_ms}")
        self.step_ms = int(step_ms)
        self.distance = float(distance)
        self.max_steps = max_steps
        self.backlash_steps = backlash_steps
        self.backlash_pixels = backlash_pixels
        self.calibrate_dec = calibrate_dec
        self.max_orthogonality_error = max_orthogonality_error
        self.tolerance = float(tolerance)
        self.tolerance_fraction = float(tolerance_fraction)
        self.phase = "idle"
        self.step = 0
        self.legs: dict[str, _Leg] = {}
        self._backlash_start: Vector | None = None
        self.step_in_backlash = 0
        self._home: Vector | None = None
        self.result: Calibration | None = None
        #: The last position fed, and how far it is from the leg's start.
        self.position: Vector | None = None
        self.leg_distance = 0.0
        #: Frames that missed the star since the last position fed.
        self.lost_frames = 0
        #: The positions of the current phase, and the second differences of
        #: consecutive ones (pure measurement noise for steady steps).
        self._track: list[Vector] = []
        self._curvature: list[float] = []
        self._phase_of_track = ""

    @property
    def direction(self) -> str:
        """The direction of the pulses of the current phase."""
        return {
            "west": "west",
            "east": "east",
            "backlash": "north",
            "north": "north",
            "south": "south",
        }.get(self.phase, "")

    def begin(self, pos: Vector, t: float) -> Pulse:
        self._home = pos
        self.phase = "west"
        self.legs["west"] = _Leg("west", pos, t)
        self.position = pos
        return self._pulse()

    def _pulse(self) -> Pulse:
        self.step += 1
        leg = self.legs.get(self.phase)
        if leg is not None:
            leg.steps += 1
        return Pulse(self.direction, self.step_ms)

    #: The phases that send pulses (and are fed positions).
    direction_phases = ("west", "east", "backlash", "north", "south")

    def lost(self) -> None:
        """A frame missed the star (no pulse is sent until it is back)."""
        self.lost_frames += 1

    def expected(self) -> tuple[Vector, float]:
        """Where the pulses so far put the star on the next frame, and how far
        from there (px) it may be."""
        pos = self.position
        assert pos is not None
        leg = self.legs.get(self.phase)
        moved = _dist(leg.start, pos) if leg is not None else self.leg_distance
        base = max(self.tolerance, self.tolerance_fraction * moved, 8.0 * self.jitter)
        step = self._step_vector()
        if step is None:  # no step measured for this direction yet
            return pos, base + max(self.distance / 2.0, self.tolerance)
        size = math.hypot(*step)
        if leg is not None and leg.direction in ("east", "south") and leg.farthest < self._known():
            # Undoing a leg: the backlash of the reversal may eat a step or more.
            return pos, base + 2.0 * size
        return (pos[0] + step[0], pos[1] + step[1]), base + size

    @property
    def jitter(self) -> float:
        """The star's measurement scatter (px per axis, seeing and noise) seen
        so far: the second differences of positions within a phase."""
        if len(self._curvature) < 2:
            return 0.0
        # Each axis of p[k+1] - 2 p[k] + p[k-1] has 6 times the variance.
        return math.sqrt(sum(c * c for c in self._curvature) / len(self._curvature) / 12.0)

    def _remember(self, pos: Vector) -> None:
        if self._track and self._phase_of_track != self.phase:
            self._track = []
        self._phase_of_track = self.phase
        self._track.append(pos)
        if len(self._track) >= 3:
            (ax, ay), (bx, by), (cx, cy) = self._track[-3:]
            self._curvature.append(math.hypot(cx - 2 * bx + ax, cy - 2 * by + ay))

    def _known(self) -> float:
        """Pixels a leg moves before its direction counts as known."""
        return max(self.tolerance, 0.2 * self.distance)

    def _step_vector(self) -> Vector | None:
        """The motion of one pulse of the current phase: measured on this
        leg once it moved clearly, else the reverse of the leg it undoes."""
        leg = self.legs.get(self.phase)
        pos = self.position
        if (
            leg is not None
            and pos is not None
            and leg.steps > 1
            and leg.axis is not None
            and leg.farthest >= self._known()
            and len(self._curvature) >= 3
        ):
            # The position fed last shows all the leg's pulses but the last one.
            n = leg.steps - 1
            return ((pos[0] - leg.start[0]) / n, (pos[1] - leg.start[1]) / n)
        undone = {"east": "west", "south": "north"}.get(self.phase)
        if undone is not None:
            out = self.legs[undone]
            assert out.end is not None
            n = max(out.steps, 1)
            return (-(out.end[0] - out.start[0]) / n, -(out.end[1] - out.start[1]) / n)
        return None

    def _where(self) -> str:
        leg = self.legs.get(self.phase)
        name = "Dec backlash" if self.phase == "backlash" else f"{self.phase.capitalize()}"
        n = self.step_in_backlash if leg is None else leg.steps
        return f"{name} leg, pulse {n}"

    def _check_position(self, pos: Vector) -> None:
        """The star fed must be where the pulses put it (see the class)."""
        lost, self.lost_frames = self.lost_frames, 0
        if self.position is None or self.phase not in self.direction_phases:
            return
        (ex, ey), tol = self.expected()
        off = math.hypot(pos[0] - ex, pos[1] - ey)
        if off <= tol:
            return
        last = self.position
        where = (
            f"({self._where()}): last seen at ({last[0]:.1f}, {last[1]:.1f}), the spot "
            f"{'found after ' + str(lost) + ' lost frames ' if lost else ''}at "
            f"({pos[0]:.1f}, {pos[1]:.1f}) is {off:.1f} px from where the pulses put the star "
            f"({ex:.1f}, {ey:.1f}; {tol:.1f} px allowed)"
        )
        if lost:
            raise StarLostError(
                "calibration failed: the star was lost " + where + ": it is not the "
                "calibration star (clouds, a satellite trail or a bump?)",
                last,
                pos,
                (ex, ey),
                tol,
            )
        raise CalibrationError(
            "calibration failed: the star jumped " + where + ": it does not follow the "
            "pulses (another star taken for it, or the mount bumped); recalibrate"
        )

    def _check_leg(self, leg: _Leg, pos: Vector) -> None:
        """A leg's star moves on along one direction: it must not go back
        while the pulses go on."""
        dx, dy = pos[0] - leg.start[0], pos[1] - leg.start[1]
        if leg.axis is None:
            undone = {"east": "west", "south": "north"}.get(leg.direction)
            if undone is not None:
                out = self.legs[undone]
                assert out.end is not None
                ox, oy = out.end[0] - out.start[0], out.end[1] - out.start[1]
                norm = max(math.hypot(ox, oy), 1e-9)
                leg.axis = (-ox / norm, -oy / norm)
            elif math.hypot(dx, dy) >= self._known():
                moved = math.hypot(dx, dy)
                leg.axis = (dx / moved, dy / moved)
                leg.farthest = moved
                return
            else:
                return
        along = dx * leg.axis[0] + dy * leg.axis[1]
        if leg.farthest >= self._known() and len(self._curvature) >= 3:
            back = leg.farthest - along
            if back > max(self.tolerance, self.tolerance_fraction * leg.farthest, 8 * self.jitter):
                axis = "RA" if leg.direction in ("west", "east") else "Dec"
                raise CalibrationError(
                    f"{axis} calibration failed: the star went {back:.1f} px back "
                    f"({self._where()}) after moving {leg.farthest:.1f} px with the "
                    f"{leg.direction.capitalize()} pulses: it does not follow the pulses "
                    "(another star taken for it, clouds, or the mount slipping); recalibrate"
                )
        leg.farthest = max(leg.farthest, along)

    def feed(self, pos: Vector, t: float) -> Pulse | None:
        self._check_position(pos)
        leg_now = self.legs.get(self.phase)
        if leg_now is not None and self.phase != "done":
            self._check_leg(leg_now, pos)
        self.position = pos
        self._remember(pos)
        if self.phase == "west":
            leg = self.legs["west"]
            moved = _dist(leg.start, pos)
            self.leg_distance = moved
            if moved >= self.distance:
                leg.end, leg.end_time = pos, t
                self.phase = "east"
                self.legs["east"] = _Leg("east", pos, t)
                return self._pulse()
            if leg.steps >= self.max_steps:
                raise CalibrationError(
                    f"RA calibration failed: the star moved only {moved:.1f} px in "
                    f"{leg.steps} West pulses of {self.step_ms} ms (needs {self.distance:g} px): "
                    "check that guide pulses reach the mount (cable, driver, guide rate), "
                    "or make the calibration step longer"
                )
            return self._pulse()
        if self.phase == "east":
            leg = self.legs["east"]
            self.leg_distance = _dist(leg.start, pos)
            if leg.steps < self.legs["west"].steps:
                return self._pulse()
            leg.end, leg.end_time = pos, t
            self._check_return("west", "east", "RA")
            if not self.calibrate_dec:
                return self._finish()
            self.phase = "backlash"
            self._backlash_start = pos
            self.step_in_backlash = 0
            return self._backlash_pulse()
        if self.phase == "backlash":
            assert self._backlash_start is not None
            moved = _dist(self._backlash_start, pos)
            self.leg_distance = moved
            if moved >= self.backlash_pixels or self.step_in_backlash >= self.backlash_steps:
                self.phase = "north"
                self.legs["north"] = _Leg("north", pos, t)
                return self._pulse()
            return self._backlash_pulse()
        if self.phase == "north":
            leg = self.legs["north"]
            moved = _dist(leg.start, pos)
            self.leg_distance = moved
            if moved >= self.distance:
                leg.end, leg.end_time = pos, t
                self.phase = "south"
                self.legs["south"] = _Leg("south", pos, t)
                return self._pulse()
            if leg.steps >= self.max_steps:
                raise CalibrationError(
                    f"Dec calibration failed: the star moved only {moved:.1f} px in "
                    f"{leg.steps} North pulses of {self.step_ms} ms (needs {self.distance:g} px): "
                    "check the Dec guide output and backlash, or make the step longer"
                )
            return self._pulse()
        if self.phase == "south":
            leg = self.legs["south"]
            self.leg_distance = _dist(leg.start, pos)
            if leg.steps < self.legs["north"].steps:
                return self._pulse()
            leg.end, leg.end_time = pos, t
            self._check_return("north", "south", "Dec")
            return self._finish()
        raise CalibrationError(f"calibration fed in phase {self.phase!r}")

    def _check_return(self, out: str, back: str, axis: str) -> None:
        """The way back must undo the way out: pulses of opposite directions
        that move the star the same way mean a guide output that ignores the
        direction (seen on simulated ST4 ports) or crossed wires."""
        o, b = self.legs[out], self.legs[back]
        assert o.end is not None and b.end is not None
        ox, oy = o.end[0] - o.start[0], o.end[1] - o.start[1]
        bx, by = b.end[0] - b.start[0], b.end[1] - b.start[1]
        along = (bx * ox + by * oy) / max(math.hypot(ox, oy), 1e-9)
        if along > -0.3 * math.hypot(ox, oy):
            raise CalibrationError(
                f"{axis} calibration failed: the {back.capitalize()} pulses did not bring the "
                f"star back (it moved {along:+.1f} px along the {out.capitalize()} direction "
                f"instead of about {-math.hypot(ox, oy):.0f}): the guide output does not tell "
                f"{out} from {back}; check the ST4 cable or driver, or guide via the mount"
            )

    def _backlash_pulse(self) -> Pulse:
        self.step_in_backlash += 1
        self.step += 1
        return Pulse("north", self.step_ms)

    def _drift(self) -> Vector:
        """The star's own motion (px/s) seen over the RA legs: what both
        legs share, whatever the pulses did."""
        w, e = self.legs["west"], self.legs["east"]
        assert w.end is not None and e.end is not None
        span = e.end_time - w.start_time
        if span <= 0:
            return (0.0, 0.0)
        return ((e.end[0] - w.start[0]) / span, (e.end[1] - w.start[1]) / span)

    def _axis(self, out: _Leg, back: _Leg, drift: Vector) -> tuple[float, float]:
        """(angle, px/ms) of the out leg's pulses, the drift taken away."""
        assert out.end is not None and back.end is not None
        dt = out.end_time - out.start_time
        vx = out.end[0] - out.start[0] - drift[0] * dt
        vy = out.end[1] - out.start[1] - drift[1] * dt
        return math.atan2(vy, vx), math.hypot(vx, vy) / (out.steps * self.step_ms)

    def _finish(self) -> None:
        drift = self._drift()
        ra_angle, ra_rate = self._axis(self.legs["west"], self.legs["east"], drift)
        if ra_rate <= 0:
            raise CalibrationError("RA calibration failed: the star did not move with the pulses")
        if self.calibrate_dec:
            dec_angle, dec_rate = self._axis(self.legs["north"], self.legs["south"], drift)
        else:
            dec_angle, dec_rate = _norm(ra_angle + math.pi / 2), 0.0
        cal = Calibration(
            ra_angle=ra_angle,
            dec_angle=dec_angle,
            ra_rate=ra_rate,
            dec_rate=dec_rate,
            steps={k: v.steps for k, v in self.legs.items()},
            drift=(round(drift[0], 4), round(drift[1], 4)),
        )
        if self.calibrate_dec and cal.orthogonality_error > self.max_orthogonality_error:
            raise CalibrationError(
                f"calibration failed: the RA and Dec axes are {90 - cal.orthogonality_error:.0f}° "
                f"apart instead of 90° (error {cal.orthogonality_error:.0f}° over the allowed "
                f"{self.max_orthogonality_error:g}°): the star moved too little or the Dec "
                "backlash is large; recalibrate with a longer step"
            )
        self.result = cal
        self.phase = "done"
        return None


def _dist(a: Vector, b: Vector) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])
