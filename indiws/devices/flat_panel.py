"""The flat_panel role: a light box (light on/off, brightness) and, where
the device has one, a dust cap (open, close)."""

from __future__ import annotations

from typing import Any, Literal

from ..client import InvalidValueError
from ..protocol import PropertyState
from ..verbs import UNSET, NoParams, Params, Result, Timeout, UnsetType, verb
from .base import ProgressCallback, Range, RoleDevice
from .motion import press

__all__ = ["FlatPanel"]

LIGHT = "FLAT_LIGHT_CONTROL"
INTENSITY = "FLAT_LIGHT_INTENSITY"
CAP = "CAP_PARK"

# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

Cap = Literal["open", "closed", "opening", "closing", "error"]


class LightParams(Params):
    on: bool
    #: The driver's range (FLAT_LIGHT_INTENSITY), set first when given.
    brightness: float | None = None


class BrightnessParams(Params):
    brightness: float


class CapParams(Params):
    timeout: Timeout = 120.0


class PanelState(Result):
    """The light (on: true; null without one), its brightness, the dust cap (null without one)."""

    light: bool | None
    brightness: float | None
    cap: Cap | None


class CapMoved(Result):
    """The panel after the cap moved, or (already) only the cap."""

    action: str
    device: str
    cap: Cap | None
    light: bool | None | UnsetType = UNSET
    brightness: float | None | UnsetType = UNSET
    #: It was so already: nothing was sent.
    already: bool | UnsetType = UNSET


class FlatPanelCapabilities(Result):
    """What the flat panel (light box, dust cap) can do, from the properties it defines."""

    has_light: bool
    can_dim: bool
    brightness_range: Range | None
    has_cap: bool
    can_abort_cap: bool


class FlatPanel(RoleDevice):
    """A flat panel: light on/off and brightness (INDI's light box), and a
    dust cap (CAP_PARK) on devices that have one."""

    role = "flat_panel"
    capabilities_shape = FlatPanelCapabilities
    brief = PanelState

    def _light(self) -> bool | None:
        on = self._switch_on(LIGHT)
        return None if on is None else "FLAT_LIGHT_ON" in on

    def _brightness(self) -> float | None:
        return self._number(INTENSITY, "FLAT_LIGHT_INTENSITY_VALUE")

    def _cap(self) -> str | None:
        """``open``, ``closed``, ``opening``, ``closing``, ``error``; None without a cap."""
        prop = self._optional(CAP)
        if prop is None:
            return None
        closed = "PARK" in prop.on_switches()
        if prop.state is PropertyState.BUSY:
            return "closing" if closed else "opening"
        if prop.state is PropertyState.ALERT:
            return "error"
        return "closed" if closed else "open"

    @verb("flat_panel.state", NoParams, PanelState)
    def state(self) -> dict[str, Any]:
        """{light (on: true), brightness, cap (open/closed/opening/closing; null without one)}."""
        self._connected()
        return self._status()

    def _status(self) -> dict[str, Any]:
        return {"light": self._light(), "brightness": self._brightness(), "cap": self._cap()}

    def _capabilities(self) -> dict[str, Any]:
        prop = self._optional(INTENSITY)
        el = prop.elements.get("FLAT_LIGHT_INTENSITY_VALUE") if prop else None
        return {
            "has_light": self.has(LIGHT),
            "can_dim": self._writable(prop),
            "brightness_range": [el.min, el.max] if el else None,
            "has_cap": self.has(CAP),
            "can_abort_cap": self.has("CAP_ABORT"),
        }

    @verb("flat_panel.set_light", LightParams, PanelState)
    async def set_light(
        self, on: bool, *, brightness: float | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Turn the light on or off, at a brightness when given (the driver's range).

        Answers the state: {light, brightness, cap}."""
        if not isinstance(on, bool):
            raise InvalidValueError(f"on must be true or false, got {on!r}")
        dev = self._connected()
        self._prop(LIGHT, "turn a light on or off")
        if brightness is not None:
            self._prop(INTENSITY, "set a brightness")
            self.client.validate(dev.name, INTENSITY, {"FLAT_LIGHT_INTENSITY_VALUE": brightness})
            await self._set(
                INTENSITY,
                {"FLAT_LIGHT_INTENSITY_VALUE": brightness},
                verb="set_brightness",
                timeout=timeout,
            )
        element = "FLAT_LIGHT_ON" if on else "FLAT_LIGHT_OFF"
        if self._light() is not on:
            await self._set(LIGHT, {element: True}, verb="set_light", timeout=timeout)
        return self._status()

    @verb("flat_panel.set_brightness", BrightnessParams, PanelState)
    async def set_brightness(self, brightness: float, *, timeout: float = 10.0) -> dict[str, Any]:
        """Set the brightness (FLAT_LIGHT_INTENSITY; 0..255 on most): {light, brightness, cap}."""
        dev = self._connected()
        self._prop(INTENSITY, "set a brightness")
        if isinstance(brightness, bool):
            raise InvalidValueError(f"brightness must be a number, got {brightness!r}")
        self.client.validate(dev.name, INTENSITY, {"FLAT_LIGHT_INTENSITY_VALUE": brightness})
        await self._set(
            INTENSITY,
            {"FLAT_LIGHT_INTENSITY_VALUE": brightness},
            verb="set_brightness",
            timeout=timeout,
        )
        return self._status()

    async def _cap_to(
        self, verb: str, element: str, timeout: float, progress: ProgressCallback | None
    ) -> dict[str, Any]:
        self._prop(CAP, f"{verb} a dust cap")
        wanted = "closed" if element == "PARK" else "open"
        if self._cap() == wanted:
            return {"action": verb, "device": self.name, "cap": wanted, "already": True}
        await press(
            self,
            verb,
            CAP,
            element,
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="cap",
            state="closing" if wanted == "closed" else "opening",
        )
        return {"action": verb, "device": self.name, **self._status()}

    async def _send_abort(self) -> None:
        if self.has("CAP_ABORT"):
            await self.client.set_property(self.name, "CAP_ABORT", {"ABORT": True})  # type: ignore[arg-type]

    @verb("flat_panel.open_cap", CapParams, CapMoved, moves=True, long=True, progress=True)
    async def open_cap(
        self, *, timeout: float = 120.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Open the dust cap (CAP_PARK UNPARK); capability_missing without one."""
        return await self._cap_to("open_cap", "UNPARK", timeout, progress)

    @verb("flat_panel.close_cap", CapParams, CapMoved, moves=True, long=True, progress=True)
    async def close_cap(
        self, *, timeout: float = 120.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Close (park) the dust cap (CAP_PARK PARK); capability_missing without one."""
        return await self._cap_to("close_cap", "PARK", timeout, progress)
