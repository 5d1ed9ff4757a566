"""The rotator role: move to an angle, sync, reverse, abort."""

from __future__ import annotations

from typing import Any

from ..client import InvalidValueError
from ..protocol import PropertyState
from .base import ProgressCallback, RoleDevice
from .motion import move_number

__all__ = ["Rotator"]

ANGLE = "ABS_ROTATOR_ANGLE"


def _angle(value: Any, what: str = "angle") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidValueError(f"{what} must be a number of degrees, got {value!r}")
    if not 0.0 <= value <= 360.0:
        raise InvalidValueError(f"{what} must be within [0, 360] degrees, got {value:g}")
    return float(value)


class Rotator(RoleDevice):
    """A field rotator: angle, move to an angle, sync, reverse, abort."""

    role = "rotator"

    def _angle(self) -> float | None:
        return self._number(ANGLE, "ANGLE")

    def _moving(self) -> bool:
        prop = self._optional(ANGLE)
        return prop is not None and prop.state is PropertyState.BUSY

    def _reversed(self) -> bool | None:
        on = self._switch_on("ROTATOR_REVERSE")
        return None if on is None else "INDI_ENABLED" in on

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

    async def move_to(
        self,
        angle: float,
        *,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Turn to an angle (degrees); returns once there."""
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

    async def sync(self, angle: float, *, timeout: float = 10.0) -> dict[str, Any]:
        """Declare the angle now to be ``angle`` (SYNC_ROTATOR_ANGLE):
        {synced (the angle given, as the driver took it), angle (the angle
        the driver reports now: INDI's simulator takes a sync without
        changing it)}."""
        value = _angle(angle)
        self._prop("SYNC_ROTATOR_ANGLE", "sync its angle")
        prop = await self._set("SYNC_ROTATOR_ANGLE", {"ANGLE": value}, verb="sync", timeout=timeout)
        return {"synced": prop["ANGLE"], "angle": self._angle()}

    async def set_reverse(self, on: bool, *, timeout: float = 10.0) -> dict[str, Any]:
        """Reverse the direction of rotation, or not (ROTATOR_REVERSE): {reversed}."""
        if not isinstance(on, bool):
            raise InvalidValueError(f"on must be true or false, got {on!r}")
        self._prop("ROTATOR_REVERSE", "reverse")
        element = "INDI_ENABLED" if on else "INDI_DISABLED"
        await self._set("ROTATOR_REVERSE", {element: True}, verb="set_reverse", timeout=timeout)
        return {"reversed": self._reversed()}

    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop the rotator (ROTATOR_ABORT_MOTION); a running move ends with
        `ActionAborted`.  {aborted, interrupted, stopped, angle}."""
        self._prop("ROTATOR_ABORT_MOTION", "abort a move")
        interrupted = self._interrupt_actions("aborted")
        await self._send_abort()
        stopped = True
        try:
            await self.client.wait_idle(self.name, ANGLE, timeout)  # type: ignore[arg-type]
        except TimeoutError:
            stopped = False
        return {"aborted": True, "interrupted": interrupted, "stopped": stopped, **self._status()}
