"""``/ws/indi_client/`` methods of the observatory roles: guider (guide
camera and pulse guiding), dome, rotator, flat panel, weather, GPS, and the
safety policy.

A mixin of `IndiClientSocket` (its ``_device``, ``_run`` and ``_progress``
are used here): each method is a thin wrapper around one verb of
`indiws.devices` or `indiws.safety`.  Documented in docs/indi_client.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .base import requester
from .errors import invalid_params
from .jsonrpc import rpc
from .limits import check_timeout


def check_weather_override(on: Any, note: Any) -> None:
    """The parameters of a weather override (JSON-RPC and REST alike)."""
    if not isinstance(on, bool):
        raise invalid_params("on must be true or false", param="on")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        raise invalid_params("note must be a text of at most 200 characters", param="note")

__all__ = ["OBSERVATORY_EVENTS", "ObservatoryRpc"]

Direction = Literal["north", "south", "east", "west", "n", "s", "e", "w"]
Via = Literal["auto", "camera", "mount"]

#: Notifications of a long action (as in `indiws.web.highlevel`).
ACTION_EVENTS = ("progress", "action.started", "action.progress", "action.finished")
QUIET_ACTION_EVENTS = ("action.started", "action.finished")
#: Notifications the safety policy sends to every socket.
OBSERVATORY_EVENTS = ("safety", "weather.changed")


_limit = check_timeout  # the one check of every timeout parameter


class ObservatoryRpc:
    """The observatory roles' JSON-RPC methods (mixed into IndiClientSocket)."""

    _device: Callable[[str], Any]
    _run: Callable[..., Any]
    _progress: Callable[[], Any]
    service: Any
    request: Any

    # Guider ---------------------------------------------------------------

    @rpc("guider.pulse", events=QUIET_ACTION_EVENTS)
    async def guider_pulse(
        self,
        direction: Direction,
        duration_ms: float,
        via: Via = "auto",
        timeout: float | None = None,
    ) -> dict:
        """A timed guide pulse (TELESCOPE_TIMED_GUIDE_NS/WE); answers when it ended.

        via: "camera" (the guide camera's ST4 port), "mount" (the telescope
        role's device) or "auto" (the camera's port when it has one, else the
        mount). Result: {direction, duration_ms, via, device, elapsed}. Errors:
        capability_missing (no such port), no_device (no mount for via mount)."""
        return await self._run(
            self._device("guider").pulse(direction, duration_ms, via=via, timeout=_limit(timeout))
        )

    @rpc("guider.guide_rate")
    async def guider_guide_rate(self) -> dict:
        """The mount's guide rates, fractions of sidereal (GUIDE_RATE): {ra, dec}."""
        return self._device("guider").guide_rate()

    @rpc("guider.set_guide_rate")
    async def guider_set_guide_rate(
        self, ra: float | None = None, dec: float | None = None
    ) -> dict:
        """Set the mount's guide rates, fractions of sidereal: {ra, dec}."""
        return await self._run(self._device("guider").set_guide_rate(ra, dec))

    @rpc("guider.stop")
    async def guider_stop(self) -> dict:
        """Stop guiding: running pulses end (aborted), a guide exposure is aborted.

        Result: {interrupted (actions ended), exposure_aborted}."""
        return await self._run(self._device("guider").stop_guiding())

    # Dome -----------------------------------------------------------------

    @rpc("dome.open", events=ACTION_EVENTS)
    async def dome_open(self, force: bool = False, timeout: float = 120.0) -> dict:
        """Open the shutter; answers once open: {shutter, azimuth, parked, moving, following}.

        Refused with the unsafe error while the safety policy says unsafe,
        unless force. Progress: {state: opening}. Already open: {already: true}."""
        return await self._run(
            self._device("dome").open(
                timeout=_limit(timeout), progress=self._progress(), force=force
            )
        )

    @rpc("dome.close", events=ACTION_EVENTS)
    async def dome_close(self, timeout: float = 120.0) -> dict:
        """Close the shutter; answers once closed (progress: {state: closing})."""
        return await self._run(
            self._device("dome").close(timeout=_limit(timeout), progress=self._progress())
        )

    @rpc("dome.goto", events=ACTION_EVENTS)
    async def dome_goto(self, azimuth: float, timeout: float = 300.0) -> dict:
        """Turn the dome to an azimuth (degrees, 0..360 from north through east).

        Answers once there: {azimuth, target, start, elapsed}. Progress:
        {state: moving, azimuth, target}. Errors: invalid_state (parked)."""
        return await self._run(
            self._device("dome").goto(azimuth, timeout=_limit(timeout), progress=self._progress())
        )

    @rpc("dome.park", events=ACTION_EVENTS)
    async def dome_park(self, timeout: float = 300.0) -> dict:
        """Park the dome (to its park azimuth); answers once parked."""
        return await self._run(
            self._device("dome").park(timeout=_limit(timeout), progress=self._progress())
        )

    @rpc("dome.unpark", events=QUIET_ACTION_EVENTS)
    async def dome_unpark(self, force: bool = False, timeout: float = 60.0) -> dict:
        """Unpark the dome; refused while unsafe unless force."""
        return await self._run(self._device("dome").unpark(timeout=_limit(timeout), force=force))

    @rpc("dome.abort")
    async def dome_abort(self) -> dict:
        """Stop the dome and shutter (DOME_ABORT_MOTION); running dome actions end (aborted)."""
        return await self._run(self._device("dome").abort())

    @rpc("dome.set_following")
    async def dome_set_following(self, on: bool) -> dict:
        """Follow the telescope or not (DOME_AUTOSYNC, the driver's slaving).

        On: the dome's snooped mount (ACTIVE_DEVICES) is set to the telescope
        role's device first. Result: {following, telescope}."""
        telescope = self.service.roles.device_for("telescope")
        return await self._run(self._device("dome").set_following(on, telescope=telescope))

    @rpc("dome.position")
    async def dome_position(self) -> dict:
        """{azimuth, shutter (open/closed/opening/closing/error), parked, moving, following}."""
        return self._device("dome").position()

    # Rotator --------------------------------------------------------------

    @rpc("rotator.move_to", events=ACTION_EVENTS)
    async def rotator_move_to(self, angle: float, timeout: float = 300.0) -> dict:
        """Turn to an angle (degrees, 0..360); answers once there.

        Progress: {state: moving, angle, target}. Result: {angle, target, start, elapsed}."""
        return await self._run(
            self._device("rotator").move_to(
                angle, timeout=_limit(timeout), progress=self._progress()
            )
        )

    @rpc("rotator.sync")
    async def rotator_sync(self, angle: float) -> dict:
        """Declare the angle now to be this one (SYNC_ROTATOR_ANGLE).

        Result: {synced (as the driver took it), angle (as it reports it now)}."""
        return await self._run(self._device("rotator").sync(angle))

    @rpc("rotator.set_reverse")
    async def rotator_set_reverse(self, on: bool) -> dict:
        """Reverse the direction of rotation or not (ROTATOR_REVERSE): {reversed}."""
        return await self._run(self._device("rotator").set_reverse(on))

    @rpc("rotator.abort")
    async def rotator_abort(self) -> dict:
        """Stop the rotator; a running move ends (aborted).

        Result: {aborted, interrupted, stopped, angle, moving, reversed}."""
        return await self._run(self._device("rotator").abort())

    @rpc("rotator.angle")
    async def rotator_angle(self) -> dict:
        """{angle (degrees), moving, reversed}."""
        return self._device("rotator").angle()

    # Flat panel -----------------------------------------------------------

    @rpc("flat_panel.set_light")
    async def flat_panel_set_light(self, on: bool, brightness: float | None = None) -> dict:
        """Turn the light on or off, at a brightness when given (the driver's range).

        Answers the state: {light, brightness, cap}."""
        return await self._run(self._device("flat_panel").set_light(on, brightness=brightness))

    @rpc("flat_panel.set_brightness")
    async def flat_panel_set_brightness(self, brightness: float) -> dict:
        """Set the brightness (FLAT_LIGHT_INTENSITY; 0..255 on most): {light, brightness, cap}."""
        return await self._run(self._device("flat_panel").set_brightness(brightness))

    @rpc("flat_panel.open_cap", events=ACTION_EVENTS)
    async def flat_panel_open_cap(self, timeout: float = 120.0) -> dict:
        """Open the dust cap (CAP_PARK UNPARK); capability_missing without one."""
        return await self._run(
            self._device("flat_panel").open_cap(timeout=_limit(timeout), progress=self._progress())
        )

    @rpc("flat_panel.close_cap", events=ACTION_EVENTS)
    async def flat_panel_close_cap(self, timeout: float = 120.0) -> dict:
        """Close (park) the dust cap (CAP_PARK PARK); capability_missing without one."""
        return await self._run(
            self._device("flat_panel").close_cap(timeout=_limit(timeout), progress=self._progress())
        )

    @rpc("flat_panel.state")
    async def flat_panel_state(self) -> dict:
        """{light (on: true), brightness, cap (open/closed/opening/closing; null without one)}."""
        return self._device("flat_panel").state()

    # Weather --------------------------------------------------------------

    @rpc("weather.state", events=("weather.changed",))
    async def weather_state(self) -> dict:
        """The weather now: {state (ok/warning/alert/idle/unknown), parameters, updated}.

        parameters: [{name, label, value, state, min_ok, max_ok, warn_percent}].
        Every socket gets weather.changed {device, state, previous, parameters,
        time} when the overall state changes."""
        return self._device("weather").state()

    @rpc("weather.refresh")
    async def weather_refresh(self) -> dict:
        """Ask the station for new readings now (WEATHER_REFRESH); answers weather.state."""
        return await self._run(self._device("weather").refresh())

    # GPS ------------------------------------------------------------------

    @rpc("gps.fix")
    async def gps_fix(self) -> dict:
        """The GPS's site and time: {latitude, longitude (east positive), elevation, utc,
        utc_offset, state}."""
        return self._device("gps").fix()

    @rpc("gps.refresh")
    async def gps_refresh(self) -> dict:
        """Ask for a new fix (GPS_REFRESH); answers gps.fix."""
        return await self._run(self._device("gps").refresh())

    @rpc("gps.apply")
    async def gps_apply(self, site: bool = True, time: bool = True, refresh: bool = True) -> dict:
        """Set the telescope role's site (GEOGRAPHIC_COORD) and/or clock (TIME_UTC) from the GPS.

        After a refresh unless refresh is false. Result: {fix, telescope,
        site (the mount's, as set), utc (as set)}."""
        if not site and not time:
            raise invalid_params("give site and/or time", param="site")
        return await self._run(
            self._device("gps").apply_to(
                self._device("telescope"), site=site, time=time, refresh=refresh
            )
        )

    # Safety ---------------------------------------------------------------

    @rpc("safety.status", events=OBSERVATORY_EVENTS)
    async def safety_status(self) -> dict:
        """The safety policy now.

        {enabled, safe, reasons: [{code, message}], weather: {device, state,
        last_reading_age}, actions, weather_stale, indiserver_timeout,
        closing, last_close_up}. Every socket gets safety {phase: unsafe|
        closing|closed|safe, safe, reason, reasons, time, actions?} as it
        changes, and weather.changed."""
        return self.service.safety.status()

    @rpc("safety.override_weather", events=OBSERVATORY_EVENTS)
    async def safety_override_weather(self, on: bool, note: str | None = None) -> dict:
        """The operator's weather override: with on true the weather's verdict
        (alert, missing, stale) is ignored until it is turned off; logged
        with who asked, shown in safety.status (weather_override: {since, by,
        note}) and on the panel's banner.  The weather device's own
        WEATHER_OVERRIDE never counts.  Result: safety.status."""
        check_weather_override(on, note)
        who = requester(self.request, "/ws/indi_client/")
        return self.service.safety.set_weather_override(on, who=who, note=note)

    @rpc("safety.close_up", events=OBSERVATORY_EVENTS)
    async def safety_close_up(self) -> dict:
        """Run the configured close-up now, safe or not (abort exposure, stop
        guiding, park the mount, close the dome, ...).

        Result: {reasons, started, finished, actions: [{action, outcome,
        device?, error?}]}."""
        return await self._run(self.service.safety.close_up())
