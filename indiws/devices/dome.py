"""The dome role: shutter, azimuth, park, abort, following the telescope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from ..client import InvalidValueError
from ..protocol import PropertyState
from ..verbs import UNSET, NoParams, Params, Result, Timeout, UnsetType, check_ranges, verb
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
    check_ranges(DomeGotoParams, azimuth=value)
    return float(value) % 360.0


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

Shutter = Literal["open", "closed", "opening", "closing", "error"]


class DomeOpenParams(Params):
    force: bool = False
    timeout: Timeout = 120.0


class DomeCloseParams(Params):
    timeout: Timeout = 120.0


class DomeGotoParams(Params):
    azimuth: Annotated[
        float,
        Meta(
            ge=0, le=360, description="degrees from north through east", extra={"unit": "degrees"}
        ),
    ]
    timeout: Timeout = 300.0


class DomeParkParams(Params):
    timeout: Timeout = 300.0


class DomeUnparkParams(Params):
    force: bool = False
    timeout: Timeout = 60.0


class DomeFollowingParams(Params):
    on: bool


class DomePosition(Result):
    """Where the dome is: azimuth (degrees; null without one), shutter (null without one)."""

    azimuth: float | None
    shutter: Shutter | None
    parked: bool | None
    moving: bool
    following: bool | None


class DomeMoved(Result):
    """The dome after the action: its position, or (already) only what was asked."""

    action: str
    device: str
    azimuth: float | None | UnsetType = UNSET
    shutter: Shutter | None | UnsetType = UNSET
    parked: bool | None | UnsetType = UNSET
    moving: bool | UnsetType = UNSET
    following: bool | None | UnsetType = UNSET
    #: It was so already: nothing was sent.
    already: bool | UnsetType = UNSET


class DomeTurned(Result):
    """Where the dome arrived (degrees)."""

    action: str
    device: str
    elapsed: float
    azimuth: float | None
    target: float
    start: float | None


class DomeAborted(DomePosition):
    """The dome stopped (stopped false: still moving after the timeout)."""

    aborted: bool
    #: How many running actions were ended (with the aborted error).
    interrupted: int
    stopped: bool


class DomeFollowing(Result):
    """Whether the dome follows, and the mount its driver snoops."""

    device: str
    following: bool | None
    telescope: str | None


class DomeCapabilities(Result):
    """What the dome can do, from the properties it defines."""

    can_open: bool
    can_goto: bool
    can_move_relative: bool
    can_park: bool
    can_set_park: bool
    can_abort: bool
    can_follow: bool


class DomeFacts(Result):
    """What `Dome.info` adds while connected."""

    #: Degrees (null without DOME_PARK_POSITION).
    park_azimuth: float | None


class Dome(RoleDevice):
    """A dome (or roll-off roof): open/close the shutter, go to an azimuth,
    park/unpark, abort, follow the telescope (INDI's slaving)."""

    role = "dome"
    capabilities_shape = DomeCapabilities
    facts_shape = DomeFacts
    brief = DomePosition

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

    @verb("dome.position", NoParams, DomePosition)
    def position(self) -> dict[str, Any]:
        """{azimuth, shutter (open/closed/opening/closing/error), parked, moving, following}."""
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

    @verb("dome.open", DomeOpenParams, DomeMoved, moves=True, long=True, progress=True)
    async def open(
        self,
        *,
        timeout: float = 120.0,
        progress: ProgressCallback | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Open the shutter; answers once open: {shutter, azimuth, parked, moving, following}.

        Refused with the unsafe error while the safety policy says unsafe,
        unless force. Progress: {state: opening}. Already open: {already: true}."""
        self._prop(SHUTTER, "open its shutter")
        self._check_safe("open", force)
        return await self._shutter_to("open", "SHUTTER_OPEN", timeout, progress)

    @verb("dome.close", DomeCloseParams, DomeMoved, moves=True, long=True, progress=True)
    async def close(
        self, *, timeout: float = 120.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Close the shutter; answers once closed (progress: {state: closing})."""
        return await self._shutter_to("close", "SHUTTER_CLOSE", timeout, progress)

    @verb("dome.goto", DomeGotoParams, DomeTurned, moves=True, long=True, progress=True)
    async def goto(
        self,
        azimuth: float,
        *,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Turn the dome to an azimuth (degrees, 0..360 from north through east).

        Answers once there: {azimuth, target, start, elapsed}. Progress:
        {state: moving, azimuth, target}. Errors: invalid_state (parked)."""
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

    @verb("dome.park", DomeParkParams, DomeMoved, moves=True, long=True, progress=True)
    async def park(
        self, *, timeout: float = 300.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Park the dome (to its park azimuth); answers once parked."""
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

    @verb("dome.unpark", DomeUnparkParams, DomeMoved, moves=True, long=True)
    async def unpark(self, *, timeout: float = 60.0, force: bool = False) -> dict[str, Any]:
        """Unpark the dome; refused while unsafe unless force."""
        self._prop(PARK, "unpark")
        self._check_safe("unpark", force)
        if self._parked() is False:
            return {"action": "unpark", "device": self.name, "parked": False, "already": True}
        await press(
            self, "unpark", PARK, "UNPARK", timeout=timeout, channel="motion", state="unparking"
        )
        return {"action": "unpark", "device": self.name, **self._status()}

    @verb("dome.abort", NoParams, DomeAborted)
    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop the dome and shutter (DOME_ABORT_MOTION); running dome actions end (aborted)."""
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

    @verb("dome.set_following", DomeFollowingParams, DomeFollowing, needs=("telescope",))
    async def set_following(
        self, on: bool, *, telescope: str | RoleDevice | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Follow the telescope or not (DOME_AUTOSYNC, the driver's slaving).

        On: the dome's snooped mount (ACTIVE_DEVICES) is set to the telescope
        role's device first. Result: {following, telescope}."""
        if isinstance(telescope, RoleDevice):
            telescope = telescope.name
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
