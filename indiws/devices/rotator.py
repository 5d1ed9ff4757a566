"""The rotator role: move to an angle, sync, reverse, abort."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from ..client import InvalidValueError
from ..protocol import PropertyState
from ..verbs import NoParams, Params, Result, Timeout, check_ranges, verb
from .base import ProgressCallback, Range, RoleDevice
from .motion import move_number

__all__ = ["Rotator"]

# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

Angle = Annotated[float, Meta(ge=0, le=360, description="degrees", extra={"unit": "degrees"})]


class RotatorMoveParams(Params):
    angle: Angle
    timeout: Timeout = 300.0


class RotatorAngleParams(Params):
    angle: Angle


class RotatorReverseParams(Params):
    on: bool


class RotatorState(Result):
    """The angle (degrees; null without one), moving, reversed (null: no reverse switch)."""

    angle: float | None
    moving: bool
    reversed: bool | None


class RotatorMoved(Result):
    """Where the rotator arrived (degrees)."""

    action: str
    device: str
    elapsed: float
    angle: float | None
    target: float
    start: float | None


class RotatorSynced(Result):
    """The angle as the driver took it, and as it reports it now."""

    synced: float
    angle: float | None


class RotatorReversed(Result):
    reversed: bool | None


class RotatorAborted(RotatorState):
    """The rotator stopped (stopped false: still moving after the timeout)."""

    aborted: bool
    #: How many running actions were ended (with the aborted error).
    interrupted: int
    stopped: bool


ANGLE = "ABS_ROTATOR_ANGLE"


def _angle(value: Any, what: str = "angle") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidValueError(f"{what} must be a number of degrees, got {value!r}")
    check_ranges(RotatorAngleParams, angle=value)
    return float(value)


class RotatorCapabilities(Result):
    """What the rotator can do, from the properties it defines."""

    can_move: bool
    can_sync: bool
    can_reverse: bool
    can_abort: bool
    can_home: bool
    angle_range: Range | None


class Rotator(RoleDevice):
    """A field rotator: angle, move to an angle, sync, reverse, abort."""

    role = "rotator"
    capabilities_shape = RotatorCapabilities
    brief = RotatorState

    def _angle(self) -> float | None:
        return self._number(ANGLE, "ANGLE")

    def _moving(self) -> bool:
        prop = self._optional(ANGLE)
        return prop is not None and prop.state is PropertyState.BUSY

    def _reversed(self) -> bool | None:
        on = self._switch_on("ROTATOR_REVERSE")
        return None if on is None else "INDI_ENABLED" in on

    @verb("rotator.angle", NoParams, RotatorState)
    def angle(self) -> dict[str, Any]:
        """{angle (degrees), moving, reversed}."""
        self._connected()
        return self._status()

    def _status(self) -> dict[str, Any]:
        return {"angle": self._angle(), "moving": self._moving(), "reversed": self._reversed()}

    def _capabilities(self) -> dict[str, Any]:
        prop = self._optional(ANGLE)
        el = prop.elements.get("ANGLE") if prop else None
        return {
            "can_move": self._writable(prop),
            "can_sync": self.has("SYNC_ROTATOR_ANGLE"),
            "can_reverse": self.has("ROTATOR_REVERSE"),
            "can_abort": self.has("ROTATOR_ABORT_MOTION"),
            "can_home": self.has("ROTATOR_HOME"),
            "angle_range": [el.min, el.max] if el else None,
        }

    async def _send_abort(self) -> None:
        if self.has("ROTATOR_ABORT_MOTION"):
            await self.client.set_property(self.name, "ROTATOR_ABORT_MOTION", {"ABORT": True})  # type: ignore[arg-type]

    @verb("rotator.move_to", RotatorMoveParams, RotatorMoved, moves=True, long=True, progress=True)
    async def move_to(
        self,
        angle: float,
        *,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Turn to an angle (degrees, 0..360); answers once there.

        Progress: {state: moving, angle, target}. Result: {angle, target, start, elapsed}."""
        target = _angle(angle)
        dev = self._connected()
        self._prop(ANGLE, "move to an angle")
        self.client.validate(dev.name, ANGLE, {"ANGLE": target})
        return await move_number(
            self,
            "move_to",
            ANGLE,
            "ANGLE",
            target,
            key="angle",
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            tolerance=0.1,
            params={"angle": target},
        )

    @verb("rotator.sync", RotatorAngleParams, RotatorSynced)
    async def sync(self, angle: float, *, timeout: float = 10.0) -> dict[str, Any]:
        """Declare the angle now to be this one (SYNC_ROTATOR_ANGLE).

        Result: {synced (as the driver took it), angle (as it reports it now:
        INDI's simulator takes a sync without changing it)}."""
        value = _angle(angle)
        self._prop("SYNC_ROTATOR_ANGLE", "sync its angle")
        prop = await self._set("SYNC_ROTATOR_ANGLE", {"ANGLE": value}, verb="sync", timeout=timeout)
        return {"synced": prop["ANGLE"], "angle": self._angle()}

    @verb("rotator.set_reverse", RotatorReverseParams, RotatorReversed)
    async def set_reverse(self, on: bool, *, timeout: float = 10.0) -> dict[str, Any]:
        """Reverse the direction of rotation or not (ROTATOR_REVERSE): {reversed}."""
        if not isinstance(on, bool):
            raise InvalidValueError(f"on must be true or false, got {on!r}")
        self._prop("ROTATOR_REVERSE", "reverse")
        element = "INDI_ENABLED" if on else "INDI_DISABLED"
        await self._set("ROTATOR_REVERSE", {element: True}, verb="set_reverse", timeout=timeout)
        return {"reversed": self._reversed()}

    @verb("rotator.abort", NoParams, RotatorAborted)
    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop the rotator; a running move ends (aborted).

        Result: {aborted, interrupted, stopped, angle, moving, reversed}."""
        self._prop("ROTATOR_ABORT_MOTION", "abort a move")
        interrupted = self._interrupt_actions("aborted")
        await self._send_abort()
        stopped = True
        try:
            await self.client.wait_idle(self.name, ANGLE, timeout)  # type: ignore[arg-type]
        except TimeoutError:
            stopped = False
        return {"aborted": True, "interrupted": interrupted, "stopped": stopped, **self._status()}
