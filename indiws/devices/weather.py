"""The weather role: every weather parameter with its state, and the
overall state that a safety policy acts on.

INDI's weather interface: WEATHER_PARAMETERS (numbers, sent every
WEATHER_UPDATE period even when unchanged), WEATHER_STATUS (one light per
critical parameter; the vector's state is the overall state: Ok, Busy =
warning, Alert = unsafe), and per parameter a WEATHER_<NAME> vector with
MIN_OK, MAX_OK, PERC_WARN.
"""

from __future__ import annotations

from typing import Any, Literal

from ..protocol import PropertyState
from ..verbs import NoParams, Result, verb
from .base import RoleDevice

__all__ = ["Weather", "overall_state"]

# Verbs' results (indiws/verbs.py; docs/verbs.md) ---------------------------

WeatherLevel = Literal["ok", "warning", "alert", "idle"]


class WeatherParameter(Result):
    """One reading: state null for a parameter that is not critical."""

    name: str
    label: str | None
    value: float
    state: WeatherLevel | None
    min_ok: float | None
    max_ok: float | None
    warn_percent: float | None


class WeatherBrief(Result):
    """The overall state, and the parameters in warning or alert."""

    state: WeatherLevel | Literal["unknown"]
    attention: list[str]


class WeatherState(Result):
    """The weather now (state: the worst of the driver's lights and the readings' limits)."""

    state: WeatherLevel | Literal["unknown"]
    parameters: list[WeatherParameter]
    #: The driver's timestamp of the last reading.
    updated: str | None


PARAMETERS = "WEATHER_PARAMETERS"
STATUS = "WEATHER_STATUS"

#: INDI's weather states in our words.
STATES = {
    PropertyState.OK: "ok",
    PropertyState.BUSY: "warning",
    PropertyState.ALERT: "alert",
    PropertyState.IDLE: "idle",
}


_SEVERITY = {
    PropertyState.IDLE: 0,
    PropertyState.OK: 1,
    PropertyState.BUSY: 2,
    PropertyState.ALERT: 3,
}


def reading_state(value: float, limits: dict[str, Any]) -> PropertyState:
    """A critical reading against its limits: outside [MIN_OK, MAX_OK] Alert,
    as libindi judges it; else Idle (no verdict: warnings, which libindi
    computes differently by version, come from the driver's lights)."""
    lo, hi = limits.get("MIN_OK"), limits.get("MAX_OK")
    if isinstance(lo, float) and isinstance(hi, float) and not lo <= value <= hi:
        return PropertyState.ALERT
    return PropertyState.IDLE


def overall_state(state: PropertyState | None) -> str:
    """``ok``, ``warning``, ``alert``, ``idle`` or ``unknown`` (no status)."""
    return "unknown" if state is None else STATES[state]


class WeatherCapabilities(Result):
    """What the weather device reports and can do, from the properties it defines."""

    #: WEATHER_PARAMETERS' element names.
    parameters: list[str]
    #: WEATHER_STATUS' element names (the critical parameters).
    critical: list[str]
    can_refresh: bool
    can_override: bool
    #: Seconds (null without WEATHER_UPDATE).
    update_period: float | None


class Weather(RoleDevice):
    """A weather station or safety monitor."""

    role = "weather"
    capabilities_shape = WeatherCapabilities
    brief = WeatherBrief

    def overall(self) -> str:
        """The overall state now (see `overall_state`); ``unknown`` while the
        device defines no WEATHER_STATUS (absent, disconnected).

        Judged from the readings, not from the driver's verdict alone: the
        worst of WEATHER_STATUS's state, each of its lights, and each critical
        reading against its limits (MIN_OK, MAX_OK: `reading_state`).  So the
        driver's WEATHER_OVERRIDE, which makes its overall state Ok whatever
        the readings, cannot make rain look safe:
        an override is the operator's decision, made through the safety
        policy (`indiws.safety.SafetyPolicy.set_weather_override`).
        """
        prop = self._optional(STATUS)
        dev = self.client.devices.get(self.name) if self.name else None
        if prop is None or dev is None or not dev.connected:
            return "unknown"
        states = [prop.state]
        params = self._optional(PARAMETERS)
        readings = params.values() if params is not None else {}
        for name, light in prop.values().items():
            if isinstance(light, PropertyState):
                states.append(light)
            limits = self._optional(name)
            reading = readings.get(name)
            if limits is not None and isinstance(reading, float):
                states.append(reading_state(reading, limits.values()))
        return overall_state(max(states, key=_SEVERITY.__getitem__))

    def parameters(self) -> list[dict[str, Any]]:
        """Every parameter: [{name, label, value, state (ok/warning/alert/
        idle; null for a parameter that is not critical), min_ok, max_ok,
        warn_percent}]."""
        self._connected()
        params = self._optional(PARAMETERS)
        status = self._optional(STATUS)
        lights = status.values() if status else {}
        out = []
        for name, el in params.elements.items() if params else ():
            limits = self._optional(name)
            lim = limits.values() if limits is not None else {}
            light = lights.get(name)
            out.append(
                {
                    "name": name,
                    "label": el.label,
                    "value": el.value,
                    "state": None if light is None else STATES.get(light),
                    "min_ok": lim.get("MIN_OK"),
                    "max_ok": lim.get("MAX_OK"),
                    "warn_percent": lim.get("PERC_WARN"),
                }
            )
        return out

    @verb("weather.state", NoParams, WeatherState, events=("weather.changed",))
    def state(self) -> dict[str, Any]:
        """The weather now: {state (ok/warning/alert/idle/unknown), parameters, updated}.

        parameters: [{name, label, value, state, min_ok, max_ok, warn_percent}].
        Every socket gets weather.changed {device, state, previous, parameters,
        time} when the overall state changes."""
        self._connected()
        params = self._optional(PARAMETERS)
        return {
            "state": self.overall(),
            "parameters": self.parameters(),
            "updated": getattr(params, "timestamp", None),
        }

    @verb("weather.refresh", NoParams, WeatherState)
    async def refresh(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """Ask the station for new readings now (WEATHER_REFRESH); answers weather.state."""
        self._prop("WEATHER_REFRESH", "refresh")
        await self._set(
            "WEATHER_REFRESH", {"REFRESH": True}, verb="refresh", timeout=timeout, confirm=False
        )
        return self.state()

    def _status(self) -> dict[str, Any]:
        alerts = [p["name"] for p in self.parameters() if p["state"] in ("alert", "warning")]
        return {"state": self.overall(), "attention": alerts}

    def _capabilities(self) -> dict[str, Any]:
        params = self._optional(PARAMETERS)
        status = self._optional(STATUS)
        return {
            "parameters": list(params.elements) if params else [],
            "critical": list(status.elements) if status else [],
            "can_refresh": self.has("WEATHER_REFRESH"),
            "can_override": self.has("WEATHER_OVERRIDE"),
            "update_period": self._number("WEATHER_UPDATE", "PERIOD"),
        }
