"""The dome role: shutter, azimuth, park, abort, following the telescope."""

from __future__ import annotations

from typing import Any

from ..client import InvalidValueError
from ..protocol import PropertyState
from .base import ProgressCallback, RoleDevice
from .errors import DeviceStateError, RefusalReason
from .motion import move_number, press

__all__ = ["Dome"]

SHUTTER = "DOME_SHUTTER"
ABS = "ABS_DOME_POSITION"
PARK = "DOME_PARK"
AUTOSYNC = "DOME_AUTOSYNC"


def _azimuth(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidValueError(f"azimuth must be a number of degrees, got {value!r}")
    if not 0.0 <= value <= 360.0:
        raise InvalidValueError(f"azimuth must be within [0, 360] degrees, got {value:g}")
    return float(value) % 360.0


class Dome(RoleDevice):
    """A dome (or roll-off roof): open/close the shutter, go to an azimuth,
    park/unpark, abort, follow the telescope (INDI's slaving)."""

    role = "dome"

    # Readings -----------------------------------------------------------

    def _azimuth(self) -> float | None:
        return self._number(ABS, "DOME_ABSOLUTE_POSITION")

    def _shutter(self) -> str | None:
        """``open``, ``closed``, ``opening``, ``closing``, or None without a shutter."""
        prop = self._optional(SHUTTER)
        if prop is None:
            return None
        on = prop.on_switches()
        is_open = "SHUTTER_OPEN" in on
        if prop.state is PropertyState.BUSY:
            return "opening" if is_open else "closing"
        if prop.state is PropertyState.ALERT:
            return "error"
        return "open" if is_open else "closed"

    def _parked(self) -> bool | None:
        prop = self._optional(PARK)
        if prop is None:
            return None
        return "PARK" in prop.on_switches() and prop.state is not PropertyState.BUSY

    def _moving(self) -> bool:
        return any(
            (p := self._optional(n)) is not None and p.state is PropertyState.BUSY
            for n in (ABS, "REL_DOME_POSITION", "DOME_MOTION", PARK)
        )

    def _following(self) -> bool | None:
        on = self._switch_on(AUTOSYNC)
        return None if on is None else "DOME_AUTOSYNC_ENABLE" in on

    def position(self) -> dict[str, Any]:
        """{azimuth (degrees, null without one), shutter (open, closed,
        opening, closing, error; null without one), parked, moving, following}."""
        self._connected()
        return self._status()

    def _status(self) -> dict[str, Any]:
        return {
            "azimuth": self._azimuth(),
            "shutter": self._shutter(),
            "parked": self._parked(),
            "moving": self._moving(),
            "following": self._following(),
        }

    def _capabilities(self) -> dict[str, Any]:
        return {
            "can_open": self.has(SHUTTER),
            "can_goto": self._writable(self._optional(ABS)),
            "can_move_relative": self.has("REL_DOME_POSITION"),
            "can_park": self.has(PARK),
            "can_set_park": self.has("DOME_PARK_POSITION"),
            "can_abort": self.has("DOME_ABORT_MOTION"),
            "can_follow": self.has(AUTOSYNC),
        }

    def _facts(self) -> dict[str, Any]:
        park = self._optional("DOME_PARK_POSITION")
        return {"park_azimuth": park.values().get("PARK_AZ") if park else None}

    # Verbs --------------------------------------------------------------

    async def _send_abort(self) -> None:
        if self.has("DOME_ABORT_MOTION"):
            await self.client.set_property(self.name, "DOME_ABORT_MOTION", {"ABORT": True})  # type: ignore[arg-type]

    async def _shutter_to(
        self, verb: str, element: str, timeout: float, progress: ProgressCallback | None
    ) -> dict[str, Any]:
        self._prop(SHUTTER, f"{verb} its shutter")
        wanted = "open" if element == "SHUTTER_OPEN" else "closed"
        if self._shutter() == wanted:
            return {"action": verb, "device": self.name, "shutter": wanted, "already": True}
        await press(
            self,
            verb,
            SHUTTER,
            element,
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="shutter",
            state="opening" if wanted == "open" else "closing",
        )
        return {"action": verb, "device": self.name, **self._status()}

    async def open(
        self,
        *,
        timeout: float = 120.0,
        progress: ProgressCallback | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Open the shutter; returns once open.  Refused while the safety
        policy says the observatory is unsafe, unless ``force``."""
        self._prop(SHUTTER, "open its shutter")
        self._check_safe("open", force)
        return await self._shutter_to("open", "SHUTTER_OPEN", timeout, progress)

    async def close(
        self, *, timeout: float = 120.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Close the shutter; returns once closed."""
        return await self._shutter_to("close", "SHUTTER_CLOSE", timeout, progress)

    async def goto(
        self,
        azimuth: float,
        *,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Turn to an azimuth (degrees from north through east); returns once there."""
        target = _azimuth(azimuth)
        dev = self._connected()
        self._prop(ABS, "go to an azimuth")
        self.client.validate(dev.name, ABS, {"DOME_ABSOLUTE_POSITION": target})
        if self._parked():
            raise DeviceStateError(
                f"{dev.name} is parked: unpark it before turning it",
                device=dev.name,
                role=self.role,
                reason=RefusalReason.PARKED,
            )
        return await move_number(
            self,
            "goto",
            ABS,
            "DOME_ABSOLUTE_POSITION",
            target,
            key="azimuth",
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            tolerance=1.0,
            params={"azimuth": target},
        )

    async def park(
        self, *, timeout: float = 300.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Park the dome (it turns to its park azimuth); returns once parked."""
        self._prop(PARK, "park")
        if self._parked():
            return {"action": "park", "device": self.name, "parked": True, "already": True}
        await press(
            self,
            "park",
            PARK,
            "PARK",
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            state="parking",
        )
        return {"action": "park", "device": self.name, **self._status()}

    async def unpark(self, *, timeout: float = 60.0, force: bool = False) -> dict[str, Any]:
        """Unpark the dome; refused while unsafe unless ``force``."""
        self._prop(PARK, "unpark")
        self._check_safe("unpark", force)
        if self._parked() is False:
            return {"action": "unpark", "device": self.name, "parked": False, "already": True}
        await press(
            self, "unpark", PARK, "UNPARK", timeout=timeout, channel="motion", state="unparking"
        )
        return {"action": "unpark", "device": self.name, **self._status()}

    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop the dome and its shutter (DOME_ABORT_MOTION); running dome
        actions end with `ActionAborted`."""
        self._prop("DOME_ABORT_MOTION", "abort")
        interrupted = self._interrupt_actions("aborted")
        await self._send_abort()
        stopped = True
        for name in (ABS, SHUTTER, PARK):
            if self.has(name):
                try:
                    await self.client.wait_idle(self.name, name, timeout)  # type: ignore[arg-type]
                except TimeoutError:
                    stopped = False
        return {"aborted": True, "interrupted": interrupted, "stopped": stopped, **self._status()}

    async def set_following(
        self, on: bool, *, telescope: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Follow the telescope (DOME_AUTOSYNC) or stop following.

        ``telescope``: the mount the driver snoops (its ACTIVE_DEVICES
        ACTIVE_TELESCOPE), set first when given and different.
        """
        if not isinstance(on, bool):
            raise InvalidValueError(f"on must be true or false, got {on!r}")
        dev = self._connected()
        self._prop(AUTOSYNC, "follow the telescope")
        active = self._optional("ACTIVE_DEVICES")
        if (
            on
            and telescope
            and active is not None
            and "ACTIVE_TELESCOPE" in active.elements
            and active["ACTIVE_TELESCOPE"] != telescope
        ):
            await self._set(
                "ACTIVE_DEVICES",
                active.values() | {"ACTIVE_TELESCOPE": telescope},
                verb="set_telescope",
                timeout=timeout,
            )
        element = "DOME_AUTOSYNC_ENABLE" if on else "DOME_AUTOSYNC_DISABLE"
        await self._set(AUTOSYNC, {element: True}, verb="set_following", timeout=timeout)
        active = self._optional("ACTIVE_DEVICES")
        return {
            "device": dev.name,
            "following": self._following(),
            "telescope": active.values().get("ACTIVE_TELESCOPE") if active else None,
        }
