"""Typed calls of every ``/ws/indi_client/`` method (generated: do not edit).

Made by ``scripts/gen_remote.py`` from the service's ``rpc.discover``; run it
again after adding or changing a method (docs/client.md).
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from .connection import ProgressCallback

__all__ = ["METHODS", "Methods"]


class _Namespace:
    """The methods of one role (``obs.telescope``), calling through the connection."""

    def __init__(self, owner: Any) -> None:
        self._rpc = owner._rpc


class ActionsMethods(_Namespace):
    """``actions.*`` methods."""

    async def __call__(
        self,
        role: Literal[
            "telescope",
            "camera",
            "focuser",
            "filter_wheel",
            "guider",
            "dome",
            "rotator",
            "flat_panel",
            "weather",
            "gps",
        ]
        | None = None,
    ) -> list[ActionInfo]:
        """The actions running now (of every role, or of one), whoever started them.

        Each: {action_id, action, role, device, params, started (epoch s),
        elapsed, progress (the last progress, or null)}.
        """
        return await self._rpc("actions", {"role": role})

    async def abort(self, action_id: str) -> AbortedAction:
        """Abort one running action, whoever started it (action_id: from actions or its events).

        Any verb: a goto, an exposure, an autofocus, a centering. The device is
        told to stop (an autofocus or a centering stops the move, exposure or
        slew it is in); the action ends with the aborted error and its
        action.finished event says outcome aborted. Answers at once: {aborted:
        true, action_id, action, role, device, ...}. Errors: unknown_action (no
        action of that id runs: unknown, or ended).
        """
        return await self._rpc("actions.abort", {"action_id": action_id})

    async def recent(self, limit: int = 50) -> list[RecentAction]:
        """The actions running now and the last finished ones (of every client), newest first.

        At most limit (0..100). Each: {action_id, action, role, device, params,
        started, elapsed, progress, outcome (running, ok, aborted, timeout,
        cancelled, ...), ended (epoch s, null while running), error (when it
        failed)}. What a page shows as the actions of the last minutes.
        """
        return await self._rpc("actions.recent", {"limit": limit})


class CameraMethods(_Namespace):
    """``camera.*`` methods."""

    async def abort(self) -> CameraAbortResult:
        """Abort the exposure (CCD_ABORT_EXPOSURE); answers once the camera stopped.

        Every running action of the role on this device ends with the aborted
        error (a set_temperature wait too: the cooler keeps its target).
        """
        return await self._rpc("camera.abort", {})

    async def analyse(self, blob_id: str | None = None) -> AnalysedFrame:
        """Measure a stored frame again (blob_id, else the newest).

        The analysis fields of camera.expose's result (stars, hfr, fwhm,
        background, ...), with the frame's blob_id and URLs. No camera is needed:
        any stored frame is measured. Errors: unknown_frame.
        """
        return await self._rpc("camera.analyse", {"blob_id": blob_id})

    async def configure(
        self,
        frame_type: Literal["light", "dark", "flat", "bias"] | None = None,
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
    ) -> CameraSettings:
        """Change frame settings without exposing (all checked before any is sent).

        None (or left out) leaves a setting as it is. binning: an integer or
        [x, y]; roi: [x, y, width, height] in unbinned sensor pixels, or
        "full" for the whole sensor. Answers the settings as camera.settings
        does.
        """
        return await self._rpc(
            "camera.configure",
            {
                "frame_type": frame_type,
                "binning": binning,
                "roi": roi,
                "gain": gain,
                "offset": offset,
            },
        )

    async def connect(self, timeout: float = 30.0) -> CameraStatus:
        """Connect the camera device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("camera.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> CameraStatus:
        """Disconnect the camera device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("camera.disconnect", {"timeout": timeout})

    async def expose(
        self,
        duration: float,
        frame_type: Literal["light", "dark", "flat", "bias"] = "light",
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
        timeout: float | None = None,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> ExposeResult:
        """Take one exposure; answers once the frame has arrived and is stored.

        duration in seconds (the driver's range); binning an integer or [x, y];
        roi [x, y, width, height] in unbinned pixels, or "full"; gain/offset where
        the camera has them; settings left out stay as they are (applied first).
        timeout defaults to duration + 120 s. metadata is stored with the frame
        (metadata.object names the target: file name, OBJECT card; fits_cards
        go into its FITS header). Progress: {state:
        exposing|downloading|downloaded|analysing|saving, time_left, duration}.
        The result: the stored frame, its settings, its analysis (stars, hfr,
        fwhm, background, noise, ...: docs/analysis.md) and what the other
        roles tell (ra, dec J2000, site, focuser position, ...). The frame is
        on disk with a frames folder; the store's exposure journal notes the
        exposure from its start to its frame or failure. While another
        exposure of the camera runs (another client's), busy; replace: true
        cancels that one (it ends with aborted) and takes this one. Errors:
        invalid_value, busy (already exposing), disk_full (no room in the
        frames folder: nothing started or written), aborted, timeout,
        action_failed.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "camera.expose",
            {
                "duration": duration,
                "frame_type": frame_type,
                "binning": binning,
                "roi": roi,
                "gain": gain,
                "offset": offset,
                "timeout": timeout,
                "metadata": metadata,
                "replace": replace,
            },
            on_progress,
        )

    async def info(self) -> CameraInfo:
        """Static facts and capabilities of the camera device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("camera.info", {})

    async def sensor_info(self) -> SensorInfo:
        """The sensor (CCD_INFO): size in pixels, pixel size, bits per pixel.

        {max_x, max_y (pixels), pixel_size, pixel_size_x, pixel_size_y (µm),
        bits_per_pixel}.
        """
        return await self._rpc("camera.sensor_info", {})

    async def set_cooler(self, on: bool) -> CameraTemperature:
        """Turn the cooler on or off (CCD_COOLER); answers the temperature as camera.temperature."""
        return await self._rpc("camera.set_cooler", {"on": on})

    async def set_temperature(
        self,
        target: float,
        wait: bool = False,
        tolerance: float = 0.5,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SetTemperatureResult:
        """Set the sensor's target temperature (CCD_TEMPERATURE, °C).

        Without wait it answers once the driver took the target; with wait, once
        the temperature is within tolerance °C (progress: {state: cooling|warming,
        temperature, target, delta}; timeout default 15 min, then the timeout
        error; the cooler keeps its target either way).

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "camera.set_temperature",
            {"target": target, "wait": wait, "tolerance": tolerance, "timeout": timeout},
            on_progress,
        )

    async def settings(self) -> CameraSettings:
        """The frame settings now.

        {frame_type, binning [x, y], roi [x, y, width, height], gain, offset,
        upload_mode, transfer_format, compression}.
        """
        return await self._rpc("camera.settings", {})

    async def solve(
        self,
        blob_id: str | None = None,
        radius: float = 2.0,
        time_limit: float = 30.0,
    ) -> SolveResult:
        """Plate-solve a stored frame (blob_id, else the camera's newest).

        The hint is where the mount pointed (the frame's FITS header, else the
        mount now) within radius degrees; time_limit bounds the solver (s).
        While a camera holds its role the solve is one of its actions (solve):
        announced, followed and aborted as the others (camera.abort stops it
        too). Result: {ra (hours), dec (degrees), ra_deg: J2000 centre of the
        frame, epoch, rotation (degrees), pixel_scale (arcsec/px), parity,
        field_width, field_height (arcmin), stars, seconds, blob_id, url,
        preview_url, preview_jpg_url, hint: {ra, dec, radius, source},
        pointing_error (arcsec from the hint)}, and action, device, elapsed as
        an action's. Errors: unknown_frame, solve_failed (no solution, too few
        stars), solver_unavailable (solve-field missing, unreadable frame).

        Events: action.started, action.finished.
        """
        return await self._rpc(
            "camera.solve", {"blob_id": blob_id, "radius": radius, "time_limit": time_limit}
        )

    async def status(self) -> CameraStatus:
        """The camera's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("camera.status", {})

    async def temperature(self) -> CameraTemperature:
        """Sensor temperature now: {temperature (°C), ramping, cooler, cooler_power}."""
        return await self._rpc("camera.temperature", {})


class DomeMethods(_Namespace):
    """``dome.*`` methods."""

    async def abort(self) -> DomeAborted:
        """Stop the dome and shutter (DOME_ABORT_MOTION); running dome actions end (aborted)."""
        return await self._rpc("dome.abort", {})

    async def close(
        self,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> DomeMoved:
        """Close the shutter; answers once closed (progress: {state: closing}).

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("dome.close", {"timeout": timeout}, on_progress)

    async def connect(self, timeout: float = 30.0) -> DomeStatus:
        """Connect the dome device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("dome.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> DomeStatus:
        """Disconnect the dome device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("dome.disconnect", {"timeout": timeout})

    async def goto(
        self,
        azimuth: float,
        timeout: float = 300.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> DomeTurned:
        """Turn the dome to an azimuth (degrees, 0..360 from north through east).

        Answers once there: {azimuth, target, start, elapsed}. Progress:
        {state: moving, azimuth, target}. Errors: invalid_state (parked).

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("dome.goto", {"azimuth": azimuth, "timeout": timeout}, on_progress)

    async def info(self) -> DomeInfo:
        """Static facts and capabilities of the dome device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("dome.info", {})

    async def open(
        self,
        force: bool = False,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> DomeMoved:
        """Open the shutter; answers once open: {shutter, azimuth, parked, moving, following}.

        Refused with the unsafe error while the safety policy says unsafe,
        unless force. Progress: {state: opening}. Already open: {already: true}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("dome.open", {"force": force, "timeout": timeout}, on_progress)

    async def park(
        self,
        timeout: float = 300.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> DomeMoved:
        """Park the dome (to its park azimuth); answers once parked.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("dome.park", {"timeout": timeout}, on_progress)

    async def position(self) -> DomePosition:
        """{azimuth, shutter (open/closed/opening/closing/error), parked, moving, following}."""
        return await self._rpc("dome.position", {})

    async def set_following(self, on: bool) -> DomeFollowing:
        """Follow the telescope or not (DOME_AUTOSYNC, the driver's slaving).

        On: the dome's snooped mount (ACTIVE_DEVICES) is set to the telescope
        role's device first. Result: {following, telescope}.
        """
        return await self._rpc("dome.set_following", {"on": on})

    async def status(self) -> DomeStatus:
        """The dome's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("dome.status", {})

    async def unpark(self, force: bool = False, timeout: float = 60.0) -> DomeMoved:
        """Unpark the dome; refused while unsafe unless force.

        Events: action.started, action.finished.
        """
        return await self._rpc("dome.unpark", {"force": force, "timeout": timeout})


class FilterWheelMethods(_Namespace):
    """``filter_wheel.*`` methods."""

    async def connect(self, timeout: float = 30.0) -> FilterWheelStatus:
        """Connect the filter wheel device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("filter_wheel.connect", {"timeout": timeout})

    async def current(self) -> CurrentFilter:
        """The slot now: {slot, name, moving}."""
        return await self._rpc("filter_wheel.current", {})

    async def disconnect(self, timeout: float = 30.0) -> FilterWheelStatus:
        """Disconnect the filter wheel device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("filter_wheel.disconnect", {"timeout": timeout})

    async def filters(self) -> list[Filter]:
        """Every slot with its name: [{slot, name}]."""
        return await self._rpc("filter_wheel.filters", {})

    async def info(self) -> FilterWheelInfo:
        """Static facts and capabilities of the filter wheel device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("filter_wheel.info", {})

    async def rename(self, names: dict[str, Any]) -> list[Filter]:
        """Rename filters: {"<slot>": "<name>"}, e.g. {"1": "L", "5": "Ha"}; answers the list."""
        return await self._rpc("filter_wheel.rename", {"names": names})

    async def select(
        self,
        filter: int | str,
        timeout: float = 60.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Selected:
        """Turn to a slot (integer, from 1) or a filter by name (any case); answers once there.

        Progress: {state: moving, slot, target_slot, target_name}. Result:
        {slot, name, previous_slot, elapsed}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "filter_wheel.select", {"filter": filter, "timeout": timeout}, on_progress
        )

    async def status(self) -> FilterWheelStatus:
        """The filter wheel's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("filter_wheel.status", {})


class FlatPanelMethods(_Namespace):
    """``flat_panel.*`` methods."""

    async def close_cap(
        self,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> CapMoved:
        """Close (park) the dust cap (CAP_PARK PARK); capability_missing without one.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("flat_panel.close_cap", {"timeout": timeout}, on_progress)

    async def connect(self, timeout: float = 30.0) -> FlatPanelStatus:
        """Connect the flat panel device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("flat_panel.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> FlatPanelStatus:
        """Disconnect the flat panel device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("flat_panel.disconnect", {"timeout": timeout})

    async def info(self) -> FlatPanelInfo:
        """Static facts and capabilities of the flat panel device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("flat_panel.info", {})

    async def open_cap(
        self,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> CapMoved:
        """Open the dust cap (CAP_PARK UNPARK); capability_missing without one.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("flat_panel.open_cap", {"timeout": timeout}, on_progress)

    async def set_brightness(self, brightness: float) -> PanelState:
        """Set the brightness (FLAT_LIGHT_INTENSITY; 0..255 on most): {light, brightness, cap}."""
        return await self._rpc("flat_panel.set_brightness", {"brightness": brightness})

    async def set_light(self, on: bool, brightness: float | None = None) -> PanelState:
        """Turn the light on or off, at a brightness when given (the driver's range).

        Answers the state: {light, brightness, cap}.
        """
        return await self._rpc("flat_panel.set_light", {"on": on, "brightness": brightness})

    async def state(self) -> PanelState:
        """{light (on: true), brightness, cap (open/closed/opening/closing; null without one)}."""
        return await self._rpc("flat_panel.state", {})

    async def status(self) -> FlatPanelStatus:
        """The flat panel's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("flat_panel.status", {})


class FocuserMethods(_Namespace):
    """``focuser.*`` methods."""

    async def abort(self) -> FocuserAborted:
        """Stop the focuser (FOCUS_ABORT_MOTION); running moves end with the aborted error.

        Result: {aborted, interrupted, stopped, position}; capability_missing on
        a focuser without FOCUS_ABORT_MOTION.
        """
        return await self._rpc("focuser.abort", {})

    async def autofocus(
        self,
        exposure: float = 2.0,
        step: int | None = None,
        steps: int = 9,
        center: int | None = None,
        backlash: int | None = None,
        fit: Literal["auto", "hyperbolic", "parabolic"] = "auto",
        min_stars: int = 8,
        extend: int | None = None,
        binning: int | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> AutofocusResult:
        """Sweep the focuser, measure HFR per frame, fit the V-curve, move to best focus.

        steps positions step apart centred on center (default: the focuser's
        position; step defaults to a fiftieth of its travel); the sweep goes on
        up to extend steps (default steps // 2) past an end holding the smallest
        HFR, until the HFR rises twice. Each point is an exposure of exposure
        seconds with the camera role; points with fewer than min_stars stars do
        not count. fit: hyperbolic, parabolic or auto (the closer of the two).
        Every position is approached outward; inward moves overshoot by backlash
        steps (default: one step). Progress per frame: {state:
        start|measuring|extending|final, step, position, hfr, stars, blob_id}.
        Result: {position, hfr, stars (at the end), start: {position, hfr,
        stars}, points: [{position, hfr, stars}], fit: {kind, position, hfr, r2,
        rms, used, rejected, ...}, backlash, elapsed}. Errors: autofocus_failed
        (too few stars, no minimum in the range; data.points; the focuser goes
        back to where it was), invalid_value, and those of focuser.move_to and
        camera.expose.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "focuser.autofocus",
            {
                "exposure": exposure,
                "step": step,
                "steps": steps,
                "center": center,
                "backlash": backlash,
                "fit": fit,
                "min_stars": min_stars,
                "extend": extend,
                "binning": binning,
            },
            on_progress,
        )

    async def connect(self, timeout: float = 30.0) -> FocuserStatus:
        """Connect the focuser device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("focuser.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> FocuserStatus:
        """Disconnect the focuser device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("focuser.disconnect", {"timeout": timeout})

    async def info(self) -> FocuserInfo:
        """Static facts and capabilities of the focuser device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("focuser.info", {})

    async def max(self) -> FocuserMax:
        """The highest position (FOCUS_MAX, else the ABS_FOCUS_POSITION range): {max}."""
        return await self._rpc("focuser.max", {})

    async def move_by(
        self,
        steps: int,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> FocuserMoved:
        """Move by steps (positive outward, negative inward); answers once done.

        Result: {position, target, start, steps, elapsed}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("focuser.move_by", {"steps": steps, "timeout": timeout}, on_progress)

    async def move_to(
        self,
        position: int,
        timeout: float = 120.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> FocuserMoved:
        """Move to an absolute position (steps, within the driver's range); answers once there.

        Progress: {state: moving, position, target}. Result: {position, target,
        start, elapsed}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "focuser.move_to", {"position": position, "timeout": timeout}, on_progress
        )

    async def position(self) -> FocuserPosition:
        """{position (steps; null without absolute positions), moving}."""
        return await self._rpc("focuser.position", {})

    async def status(self) -> FocuserStatus:
        """The focuser's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("focuser.status", {})

    async def sync(self, position: int) -> FocuserPosition:
        """Declare the current position to be this one (FOCUS_SYNC): {position}."""
        return await self._rpc("focuser.sync", {"position": position})

    async def temperature(self) -> FocuserTemperature:
        """Focuser temperature (FOCUS_TEMPERATURE): {temperature (°C)}."""
        return await self._rpc("focuser.temperature", {})


class GpsMethods(_Namespace):
    """``gps.*`` methods."""

    async def apply(self, site: bool = True, time: bool = True, refresh: bool = True) -> GpsApplied:
        """Set the telescope role's site (GEOGRAPHIC_COORD) and/or clock (TIME_UTC) from the GPS.

        After a refresh unless refresh is false. Result: {fix, telescope,
        site (the mount's, as set), utc (as set)}.
        """
        return await self._rpc("gps.apply", {"site": site, "time": time, "refresh": refresh})

    async def connect(self, timeout: float = 30.0) -> GpsStatus:
        """Connect the gps device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("gps.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> GpsStatus:
        """Disconnect the gps device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("gps.disconnect", {"timeout": timeout})

    async def fix(self) -> GpsFix:
        """The GPS's site and time: {latitude, longitude (east positive), elevation, utc,

        utc_offset, state}.

        longitude -180..180, elevation in metres, utc ISO 8601 as the GPS last
        said, utc_offset in hours, state the fix's INDI state (Ok once it has one).
        """
        return await self._rpc("gps.fix", {})

    async def info(self) -> GpsInfo:
        """Static facts and capabilities of the gps device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("gps.info", {})

    async def refresh(self) -> GpsFix:
        """Ask for a new fix (GPS_REFRESH); answers gps.fix.

        It answers once the driver sent the fix: GPS_REFRESH no longer Busy and
        a new TIME_UTC and GEOGRAPHIC_COORD (those it defines) since the request.

        The driver answers GPS_REFRESH before it sends the new fix, so the
        answer alone would leave the previous (possibly minutes old) fix.
        """
        return await self._rpc("gps.refresh", {})

    async def status(self) -> GpsStatus:
        """The gps's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("gps.status", {})


class GuiderMethods(_Namespace):
    """``guider.*`` methods."""

    async def abort(self) -> CameraAbortResult:
        """Abort the exposure (CCD_ABORT_EXPOSURE); answers once the camera stopped.

        Every running action of the role on this device ends with the aborted
        error (a set_temperature wait too: the cooler keeps its target).
        """
        return await self._rpc("guider.abort", {})

    async def configure(
        self,
        frame_type: Literal["light", "dark", "flat", "bias"] | None = None,
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
    ) -> CameraSettings:
        """Change frame settings without exposing (all checked before any is sent).

        None (or left out) leaves a setting as it is. binning: an integer or
        [x, y]; roi: [x, y, width, height] in unbinned sensor pixels, or
        "full" for the whole sensor. Answers the settings as camera.settings
        does.
        """
        return await self._rpc(
            "guider.configure",
            {
                "frame_type": frame_type,
                "binning": binning,
                "roi": roi,
                "gain": gain,
                "offset": offset,
            },
        )

    async def connect(self, timeout: float = 30.0) -> GuiderStatus:
        """Connect the guider device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("guider.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> GuiderStatus:
        """Disconnect the guider device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("guider.disconnect", {"timeout": timeout})

    async def expose(
        self,
        duration: float,
        frame_type: Literal["light", "dark", "flat", "bias"] = "light",
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
        timeout: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> ExposeResult:
        """Take one exposure; answers once the frame has arrived and is stored.

        duration in seconds (the driver's range); binning an integer or [x, y];
        roi [x, y, width, height] in unbinned pixels, or "full"; gain/offset where
        the camera has them; settings left out stay as they are (applied first).
        timeout defaults to duration + 120 s. metadata is stored with the frame
        (metadata.object names the target: file name, OBJECT card; fits_cards
        go into its FITS header). Progress: {state:
        exposing|downloading|downloaded|analysing|saving, time_left, duration}.
        The result: the stored frame, its settings, its analysis (stars, hfr,
        fwhm, background, noise, ...: docs/analysis.md) and what the other
        roles tell (ra, dec J2000, site, focuser position, ...). The frame is
        on disk with a frames folder; the store's exposure journal notes the
        exposure from its start to its frame or failure. While another
        exposure of the camera runs (another client's), busy; replace: true
        cancels that one (it ends with aborted) and takes this one. Errors:
        invalid_value, busy (already exposing), disk_full (no room in the
        frames folder: nothing started or written), aborted, timeout,
        action_failed.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "guider.expose",
            {
                "duration": duration,
                "frame_type": frame_type,
                "binning": binning,
                "roi": roi,
                "gain": gain,
                "offset": offset,
                "timeout": timeout,
                "metadata": metadata,
            },
            on_progress,
        )

    async def guide_rate(self) -> GuideRate:
        """The mount's guide rates, fractions of sidereal (GUIDE_RATE): {ra, dec}."""
        return await self._rpc("guider.guide_rate", {})

    async def info(self) -> GuiderInfo:
        """Static facts and capabilities of the guider device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("guider.info", {})

    async def pulse(
        self,
        direction: Literal["north", "south", "east", "west", "n", "s", "e", "w"],
        duration_ms: float,
        via: Literal["auto", "camera", "mount"] = "auto",
        timeout: float | None = None,
    ) -> GuiderPulseResult:
        """A timed guide pulse (TELESCOPE_TIMED_GUIDE_NS/WE); answers when it ended.

        via: "camera" (the guide camera's ST4 port), "mount" (the telescope
        role's device) or "auto" (the camera's port when it has one, else the
        mount). Result: {direction, duration_ms, via, device, elapsed}. Errors:
        capability_missing (no such port), no_device (no mount for via mount).

        Events: action.started, action.finished.
        """
        return await self._rpc(
            "guider.pulse",
            {"direction": direction, "duration_ms": duration_ms, "via": via, "timeout": timeout},
        )

    async def set_guide_rate(self, ra: float | None = None, dec: float | None = None) -> GuideRate:
        """Set the mount's guide rates, fractions of sidereal: {ra, dec}."""
        return await self._rpc("guider.set_guide_rate", {"ra": ra, "dec": dec})

    async def settings(self) -> CameraSettings:
        """The frame settings now.

        {frame_type, binning [x, y], roi [x, y, width, height], gain, offset,
        upload_mode, transfer_format, compression}.
        """
        return await self._rpc("guider.settings", {})

    async def status(self) -> GuiderStatus:
        """The guider's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("guider.status", {})

    async def stop(self) -> GuidingStopped:
        """Stop guiding: running pulses end (aborted), a guide exposure is aborted.

        Result: {interrupted (actions ended), exposure_aborted}.
        """
        return await self._rpc("guider.stop", {})


class GuidingMethods(_Namespace):
    """``guiding.*`` methods."""

    async def calibrate(
        self,
        settle: dict[str, Any] | None = None,
        roi: list[int] | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SettleOutcome:
        """Calibrate anew, then guide and settle: guiding.start with recalibrate true.

        Events: progress, action.started, action.progress, action.finished,
        guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc(
            "guiding.calibrate",
            {"settle": settle, "roi": roi, "wait": wait, "timeout": timeout},
            on_progress,
        )

    async def clear_calibration(self) -> CalibrationCleared:
        """Forget the calibration of this camera and mount (the next start calibrates)."""
        return await self._rpc("guiding.clear_calibration", {})

    async def configure(
        self,
        exposure: float | None = None,
        binning: float | None = None,
        search_region: float | None = None,
        use_subframes: bool | None = None,
        via: str | None = None,
        calibration_step_ms: float | None = None,
        calibration_distance: float | None = None,
        focal_length: float | None = None,
        ra_aggression: float | None = None,
        ra_hysteresis: float | None = None,
        ra_min_move: float | None = None,
        dec_aggression: float | None = None,
        dec_min_move: float | None = None,
        dec_switch_frames: float | None = None,
        dec_mode: str | None = None,
        max_ra_ms: float | None = None,
        max_dec_ms: float | None = None,
        lost_frames: float | None = None,
        dither_mode: str | None = None,
        dither_ra_only: bool | None = None,
        settle_pixels: float | None = None,
        settle_time: float | None = None,
        settle_timeout: float | None = None,
        flip_dec: bool | None = None,
        delay: float | None = None,
    ) -> GuiderConfig:
        """Change guider settings; answers all of them.

        Give only the settings to change (names as guiding.settings answers;
        null or left out: unchanged); each is checked first and one bad value
        changes nothing (invalid_value). The binning cannot change while
        capturing (busy).

        Events: guiding.guide_param_change.
        """
        return await self._rpc(
            "guiding.configure",
            {
                "exposure": exposure,
                "binning": binning,
                "search_region": search_region,
                "use_subframes": use_subframes,
                "via": via,
                "calibration_step_ms": calibration_step_ms,
                "calibration_distance": calibration_distance,
                "focal_length": focal_length,
                "ra_aggression": ra_aggression,
                "ra_hysteresis": ra_hysteresis,
                "ra_min_move": ra_min_move,
                "dec_aggression": dec_aggression,
                "dec_min_move": dec_min_move,
                "dec_switch_frames": dec_switch_frames,
                "dec_mode": dec_mode,
                "max_ra_ms": max_ra_ms,
                "max_dec_ms": max_dec_ms,
                "lost_frames": lost_frames,
                "dither_mode": dither_mode,
                "dither_ra_only": dither_ra_only,
                "settle_pixels": settle_pixels,
                "settle_time": settle_time,
                "settle_timeout": settle_timeout,
                "flip_dec": flip_dec,
                "delay": delay,
            },
        )

    async def dither(
        self,
        amount: float,
        ra_only: bool | None = None,
        settle: dict[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SettleOutcome:
        """Move the lock position by up to amount pixels and settle.

        ra_only default: the dither_ra_only setting. Answers as guiding.start.
        Errors: not_guiding, busy (a guide or dither is settling).

        Events: progress, action.started, action.progress, action.finished,
        guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc(
            "guiding.dither",
            {
                "amount": amount,
                "ra_only": ra_only,
                "settle": settle,
                "wait": wait,
                "timeout": timeout,
            },
            on_progress,
        )

    async def find_star(
        self,
        roi: list[int] | None = None,
        timeout: float | None = None,
    ) -> LockPosition:
        """Choose a guide star in the next whole frame (within roi [x, y, w, h]).

        Loops first if needed; locks on the star: {x, y}. Errors: no_star, busy.

        Events: guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc("guiding.find_star", {"roi": roi, "timeout": timeout})

    async def flip_calibration(self) -> CalibrationData:
        """Flip the calibration for the other pier side; answers it. Error: not_calibrated.

        Events: guiding.calibration_data_flipped.
        """
        return await self._rpc("guiding.flip_calibration", {})

    async def history(self, limit: int = 100) -> GuideHistory:
        """The newest guide steps, oldest first, and the statistics.

        {steps: [GuideStep fields + time, lock, x, y], stats (as guiding.status)}.
        """
        return await self._rpc("guiding.history", {"limit": limit})

    async def loop(self) -> GuidingStatus:
        """Loop guide exposures (no-op while looping); answers the status.

        Events: guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc("guiding.loop", {})

    async def pause(self, full: bool = False) -> GuidingStatus:
        """Pause guiding (frames go on, no pulses); full: the exposures too. Answers the status.

        Events: guiding.paused.
        """
        return await self._rpc("guiding.pause", {"full": full})

    async def pulse(
        self,
        direction: Literal["north", "south", "east", "west", "n", "s", "e", "w"],
        duration_ms: float,
    ) -> GuiderPulseResult:
        """One manual guide pulse the way the guider pulses (not while calibrating or guiding).

        Answers when it ended: {direction, duration_ms, via, device, elapsed}.
        Refused (unsafe) while the safety policy says unsafe.
        """
        return await self._rpc(
            "guiding.pulse", {"direction": direction, "duration_ms": duration_ms}
        )

    async def resume(self) -> GuidingStatus:
        """Resume paused guiding; answers the status.

        Events: guiding.resumed.
        """
        return await self._rpc("guiding.resume", {})

    async def set_lock_position(self, x: float, y: float, exact: bool = True) -> LockPosition:
        """Lock on (x, y) (unbinned frame pixels); exact false: on the star nearest it: {x, y}."""
        return await self._rpc("guiding.set_lock_position", {"x": x, "y": y, "exact": exact})

    async def settings(self) -> GuiderConfig:
        """The guider's settings (exposure, binning, aggressions, settle defaults, ...)."""
        return await self._rpc("guiding.settings", {})

    async def start(
        self,
        settle: dict[str, Any] | None = None,
        recalibrate: bool = False,
        roi: list[int] | None = None,
        wait: bool = True,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SettleOutcome:
        """Guide: loop, choose a star, calibrate (unless calibrated), guide and settle.

        settle: {pixels, time, timeout} (default: the settle_* settings).
        With wait (the default) answers once settled: {settled: true, Status,
        Error, Distance, Frames, DroppedFrames, TotalFrames, status}; progress
        notifications meanwhile ({event: StartCalibration, Calibrating,
        StartGuiding, Settling, ...}); calibration_failed when the
        calibration failed, settle_failed when it did not settle. wait
        false: answers at once {settling: true, status};
        guiding.settle_done follows. timeout bounds the wait only.
        Pulses the mount: refused (unsafe) while the safety policy says unsafe.

        Events: progress, action.started, action.progress, action.finished,
        guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc(
            "guiding.start",
            {
                "settle": settle,
                "recalibrate": recalibrate,
                "roi": roi,
                "wait": wait,
                "timeout": timeout,
            },
            on_progress,
        )

    async def status(self) -> GuidingStatus:
        """Everything a panel shows of the guider.

        {state (Stopped, Selected, Calibrating, Guiding, LostLock, Paused,
        Looping), capturing, paused, settling, camera, mount, connected, star,
        lock_position, subframe, calibrated, calibration, pixel_scale (arcsec
        per px), frame, guide_frame, stats: {frames, pixels: {rms_ra, rms_dec,
        rms_total, peak_ra, peak_dec}, arcsec: {...}}, last_error, settings}.

        Events: guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc("guiding.status", {})

    async def stop(self) -> GuidingStatus:
        """Stop guiding and capturing; answers once the loop has stopped, with the status.

        Events: guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc("guiding.stop", {})

    async def stop_guiding(self) -> GuidingStatus:
        """Stop guiding (or calibrating) but keep looping exposures; answers the status.

        Events: guiding.looping_exposures, guiding.looping_exposures_stopped, guiding.star_selected,
        guiding.star_lost, guiding.lock_position_set, guiding.lock_position_lost,
        guiding.start_calibration, guiding.calibrating, guiding.calibration_complete,
        guiding.calibration_failed, guiding.calibration_data_flipped, guiding.start_guiding,
        guiding.guide_step, guiding.guiding_dithered, guiding.settle_begin, guiding.settling,
        guiding.settle_done, guiding.guiding_stopped, guiding.paused, guiding.resumed,
        guiding.guide_param_change, guiding.alert.
        """
        return await self._rpc("guiding.stop_guiding", {})


class PlansMethods(_Namespace):
    """``plans.*`` methods."""

    async def abort(self, id: str) -> PlanSummary:
        """Abort a plan; what runs at the devices is stopped. Errors: unknown_plan,

        invalid_plan_state.
        """
        return await self._rpc("plans.abort", {"id": id})

    async def get(self, id: str, events: int = 200) -> PlanView:
        """One plan: state, frames (absolute file paths on the service's host), events.

        Errors: unknown_plan.

        Events: plan.state, plan.event, plan.progress.
        """
        return await self._rpc("plans.get", {"id": id, "events": events})

    async def list(self) -> list[PlanSummary]:
        """Every plan's summary, in queue order."""
        return await self._rpc("plans.list", {})

    async def pause(self, id: str) -> PlanSummary:
        """Pause a plan (the running one before its next frame). Errors: unknown_plan,

        invalid_plan_state.
        """
        return await self._rpc("plans.pause", {"id": id})

    async def resume(self, id: str) -> PlanSummary:
        """Resume a paused plan. Errors: unknown_plan, invalid_plan_state."""
        return await self._rpc("plans.resume", {"id": id})

    async def submit(self, plan: str | dict[str, Any], name: str | None = None) -> PlanSummary:
        """Queue a plan; answers {id, name, state, ...} at once.

        ``plan``: the plan's YAML text, or the same keys as an object
        (docs/sequences.md). Errors: invalid_plan (data.problems: each
        {path, line, message}).

        Events: plan.state, plan.event, plan.progress.
        """
        return await self._rpc("plans.submit", {"plan": plan, "name": name})


class RotatorMethods(_Namespace):
    """``rotator.*`` methods."""

    async def abort(self) -> RotatorAborted:
        """Stop the rotator; a running move ends (aborted).

        Result: {aborted, interrupted, stopped, angle, moving, reversed}.
        """
        return await self._rpc("rotator.abort", {})

    async def angle(self) -> RotatorState:
        """{angle (degrees), moving, reversed}."""
        return await self._rpc("rotator.angle", {})

    async def connect(self, timeout: float = 30.0) -> RotatorStatus:
        """Connect the rotator device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("rotator.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> RotatorStatus:
        """Disconnect the rotator device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("rotator.disconnect", {"timeout": timeout})

    async def info(self) -> RotatorInfo:
        """Static facts and capabilities of the rotator device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("rotator.info", {})

    async def move_to(
        self,
        angle: float,
        timeout: float = 300.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> RotatorMoved:
        """Turn to an angle (degrees, 0..360); answers once there.

        Progress: {state: moving, angle, target}. Result: {angle, target, start, elapsed}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("rotator.move_to", {"angle": angle, "timeout": timeout}, on_progress)

    async def set_reverse(self, on: bool) -> RotatorReversed:
        """Reverse the direction of rotation or not (ROTATOR_REVERSE): {reversed}."""
        return await self._rpc("rotator.set_reverse", {"on": on})

    async def status(self) -> RotatorStatus:
        """The rotator's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("rotator.status", {})

    async def sync(self, angle: float) -> RotatorSynced:
        """Declare the angle now to be this one (SYNC_ROTATOR_ANGLE).

        Result: {synced (as the driver took it), angle (as it reports it now:
        INDI's simulator takes a sync without changing it)}.
        """
        return await self._rpc("rotator.sync", {"angle": angle})


class SafetyMethods(_Namespace):
    """``safety.*`` methods."""

    async def close_up(self) -> CloseUpReport:
        """Run the configured close-up now, safe or not (abort exposure, stop

        guiding, park the mount, close the dome, ...).

        Result: {reasons, started, finished, actions: [{action, outcome,
        device?, error?}]}.

        Events: safety, weather.changed.
        """
        return await self._rpc("safety.close_up", {})

    async def override_weather(self, on: bool, note: str | None = None) -> SafetyStatus:
        """The operator's weather override: with on true the weather's verdict

        (alert, missing, stale) is ignored until it is turned off; logged
        with who asked, shown in safety.status (weather_override: {since, by,
        note}) and on the panel's banner.  The weather device's own
        WEATHER_OVERRIDE never counts.  Result: safety.status.

        Events: safety, weather.changed.
        """
        return await self._rpc("safety.override_weather", {"on": on, "note": note})

    async def status(self) -> SafetyStatus:
        """The safety policy now.

        {enabled, safe, reasons: [{code, message}], weather: {device, state,
        last_reading_age}, actions, weather_stale, indiserver_timeout,
        closing, last_close_up}. Every socket gets safety {phase: unsafe|
        closing|closed|safe, safe, reason, reasons, time, actions?} as it
        changes, and weather.changed.

        Events: safety, weather.changed.
        """
        return await self._rpc("safety.status", {})


class TelescopeMethods(_Namespace):
    """``telescope.*`` methods."""

    async def abort(self) -> AbortResult:
        """Stop all motion now (TELESCOPE_ABORT_MOTION); answers once stopped.

        Running telescope actions (goto, park, timed move) end with the aborted
        error. Result: {aborted, interrupted (actions ended), stopped, ...brief
        state}.
        """
        return await self._rpc("telescope.abort", {})

    async def center(
        self,
        ra: float,
        dec: float,
        epoch: Literal["J2000", "JNow"] = "J2000",
        tolerance: float = 30.0,
        attempts: int = 5,
        exposure: float = 2.0,
        binning: int | None = None,
        radius: float = 2.0,
        time_limit: float = 30.0,
        method: Literal["auto", "sync", "offset"] = "auto",
        force: bool = False,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> CenterResult:
        """Put RA (hours) / Dec (degrees) in the middle of the frame: goto, solve, correct.

        Goto the target, then expose, solve, sync and goto again until the
        frame's centre is within tolerance arcsec of it (J2000, or JNow with
        epoch), at most attempts solves; exposure/binning for the frames;
        radius and time_limit as for camera.solve. method: sync (sync to the
        solution, goto again), offset (goto the target shifted by the error, for
        mounts that cannot sync or an error a sync does not remove, such as a
        camera off the mount's axis), auto (sync, then offset once a sync did
        not halve the error). Moves the mount: refused (unsafe) while the safety
        policy says unsafe unless force, and (invalid_state) while parked, before
        anything moves. Progress: {state: slewing|exposing|solving|solved|syncing,
        attempt, ...; solved adds ra, dec, error (arcsec), blob_id}. Result:
        {target: {ra, dec, epoch: J2000}, solution (the last camera.solve
        result), error (arcsec), method (the last correction), attempts:
        [{attempt, ra, dec, error, correction, blob_id}], elapsed}. Errors:
        centering_failed (data.attempts), solve_failed, and those of
        telescope.goto/sync and camera.expose.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "telescope.center",
            {
                "ra": ra,
                "dec": dec,
                "epoch": epoch,
                "tolerance": tolerance,
                "attempts": attempts,
                "exposure": exposure,
                "binning": binning,
                "radius": radius,
                "time_limit": time_limit,
                "method": method,
                "force": force,
            },
            on_progress,
        )

    async def connect(self, timeout: float = 30.0) -> TelescopeStatus:
        """Connect the telescope device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("telescope.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> TelescopeStatus:
        """Disconnect the telescope device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("telescope.disconnect", {"timeout": timeout})

    async def get_site(self) -> Site:
        """The site: {latitude, longitude (east positive, -180..180), elevation (m)}."""
        return await self._rpc("telescope.get_site", {})

    async def goto(
        self,
        ra: float,
        dec: float,
        epoch: Literal["J2000", "JNow"] = "J2000",
        track: bool = True,
        timeout: float = 300.0,
        force: bool = False,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SlewResult:
        """Slew to RA (hours, 0..24) / Dec (degrees); answers once the mount arrived.

        epoch: what the coordinates are; J2000 is converted to JNow for drivers
        that take JNow (EQUATORIAL_EOD_COORD). track: track the target after the
        slew, or stop there. Progress: {state: slewing, ra, dec, target_ra,
        target_dec, distance (degrees left)}. Result: {ra, dec, ra_j2000,
        dec_j2000, alt, az, target: {ra, dec, epoch}, distance, tracking,
        pier_side, elapsed}. Errors: invalid_value, invalid_state (parked),
        aborted (telescope.abort, a newer goto), timeout (the mount is stopped),
        action_failed, unsafe (the safety policy refuses; force overrides).

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "telescope.goto",
            {
                "ra": ra,
                "dec": dec,
                "epoch": epoch,
                "track": track,
                "timeout": timeout,
                "force": force,
            },
            on_progress,
        )

    async def goto_altaz(
        self,
        alt: float,
        az: float,
        track: bool = False,
        timeout: float = 300.0,
        force: bool = False,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SlewResult:
        """Slew to altitude (-90..90) / azimuth (0..360, from north through east), degrees.

        HORIZONTAL_COORD where the driver takes it, else converted to JNow RA/Dec
        for the site. track defaults to false: an Alt/Az target is a place.
        Progress and result as for telescope.goto.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "telescope.goto_altaz",
            {"alt": alt, "az": az, "track": track, "timeout": timeout, "force": force},
            on_progress,
        )

    async def goto_hadec(
        self,
        ha: float,
        dec: float,
        track: bool = True,
        timeout: float = 300.0,
        force: bool = False,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SlewResult:
        """Slew to hour angle (hours, positive west, -24..24) / Dec (JNow degrees).

        RA = LST - HA at the moment of the command (needs the site). Progress and
        result as for telescope.goto.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc(
            "telescope.goto_hadec",
            {"ha": ha, "dec": dec, "track": track, "timeout": timeout, "force": force},
            on_progress,
        )

    async def guide_rate(self) -> GuideRate:
        """Guide rates as a fraction of sidereal (GUIDE_RATE): {ra, dec}."""
        return await self._rpc("telescope.guide_rate", {})

    async def home(
        self,
        timeout: float = 300.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> HomeResult:
        """Go to the home position (TELESCOPE_HOME) where the driver has one.

        Answers once home: {homed: true, ...brief state}; capability_missing on a
        mount without TELESCOPE_HOME.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("telescope.home", {"timeout": timeout}, on_progress)

    async def info(self) -> TelescopeInfo:
        """Static facts and capabilities of the telescope device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("telescope.info", {})

    async def move(
        self,
        direction: Literal["north", "south", "east", "west", "n", "s", "e", "w"],
        duration: float | None = None,
    ) -> ManualMove:
        """Move in a direction at the slew rate (TELESCOPE_MOTION_NS/WE).

        With duration (seconds, up to 3600) it moves that long, stops, and
        answers once stopped ({direction, moving: false, duration}): an action,
        abortable like any. Without duration it answers once moving
        ({direction, moving: true}) and moves until telescope.stop; only a
        front that holds the move for its connection offers that (JSON-RPC:
        the service stops it when the socket closes), so over REST the
        duration is required. Refused while parked, and while the safety
        policy says unsafe.

        Events: action.started, action.finished.
        """
        return await self._rpc("telescope.move", {"direction": direction, "duration": duration})

    async def park(
        self,
        timeout: float = 300.0,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> ParkResult:
        """Park the mount; answers once parked: {parked: true, ...brief state}.

        Already parked: {parked: true, already: true}. Progress: {state: parking}.

        Events: progress, action.started, action.progress, action.finished.
        """
        return await self._rpc("telescope.park", {"timeout": timeout}, on_progress)

    async def position(self) -> PositionResult:
        """Where the mount points now.

        {ra, dec (JNow), ra_j2000, dec_j2000, ha, lst (hours), alt, az (degrees;
        null without a site), pier_side (east/west/null), slewing, tracking,
        parked (the park has ended), parking (slewing to park), time}.
        """
        return await self._rpc("telescope.position", {})

    async def pulse_guide(
        self,
        direction: Literal["north", "south", "east", "west", "n", "s", "e", "w"],
        duration_ms: float,
        timeout: float | None = None,
    ) -> PulseGuideResult:
        """A timed guide pulse (TELESCOPE_TIMED_GUIDE_NS/WE); answers when it ended.

        Result: {direction, duration_ms, elapsed}.

        Events: action.started, action.finished.
        """
        return await self._rpc(
            "telescope.pulse_guide",
            {"direction": direction, "duration_ms": duration_ms, "timeout": timeout},
        )

    async def set_guide_rate(self, ra: float | None = None, dec: float | None = None) -> GuideRate:
        """Set the guide rates, fractions of sidereal (0..1 on most drivers): {ra, dec}."""
        return await self._rpc("telescope.set_guide_rate", {"ra": ra, "dec": dec})

    async def set_park(
        self,
        option: Literal["current", "default"] | None = None,
        position: dict[str, Any] | None = None,
    ) -> ParkPositionResult:
        """Set where the mount parks: here, the driver's default, or a position.

        option "current" (the default: where it points now) or "default" (the
        driver's default position); or position: axis values named after
        TELESCOPE_PARK_POSITION's elements without PARK_ ({"ha": -1.5, "dec": 45}
        on most equatorial drivers), saved with PARK_WRITE_DATA where offered.
        Result: {option?, park_position: {axis: value}}.
        """
        return await self._rpc("telescope.set_park", {"option": option, "position": position})

    async def set_site(
        self,
        latitude: float | None = None,
        longitude: float | None = None,
        elevation: float | None = None,
    ) -> Site:
        """Set the site (GEOGRAPHIC_COORD); a part left out keeps its value.

        Latitude -90..90, longitude east positive (-180..180, or 0..360),
        elevation in metres (-300..10000). Answers the site as get_site does.
        """
        return await self._rpc(
            "telescope.set_site",
            {"latitude": latitude, "longitude": longitude, "elevation": elevation},
        )

    async def set_slew_rate(self, rate: int | str) -> SlewRateResult:
        """Choose the rate of manual moves: an index (0 = slowest) or a name or label.

        "guide", "centering", "find", "max" find SLEW_GUIDE, SLEW_CENTERING, ...
        on drivers that name them so. Result: {slew_rate}.
        """
        return await self._rpc("telescope.set_slew_rate", {"rate": rate})

    async def set_time(self, utc: str | None = None) -> TimeResult:
        """Set the mount's clock (TIME_UTC) to an ISO 8601 UTC time, or to now: {utc}."""
        return await self._rpc("telescope.set_time", {"utc": utc})

    async def set_track_mode(self, mode: str) -> TrackModeResult:
        """Choose the track mode by name or label: {track_mode}.

        The element name, its label, or the last part of the name: "sidereal",
        "lunar", "TRACK_SOLAR"; telescope.track_modes lists them.
        """
        return await self._rpc("telescope.set_track_mode", {"mode": mode})

    async def set_track_rate(
        self,
        ra: float | None = None,
        dec: float | None = None,
    ) -> TrackRateResult:
        """Custom track rates in arcsec/s (TELESCOPE_TRACK_RATE; sidereal is ~15.041 in RA).

        Switches the track mode to TRACK_CUSTOM where the driver has it.
        Result: {ra, dec, track_mode}.
        """
        return await self._rpc("telescope.set_track_rate", {"ra": ra, "dec": dec})

    async def set_tracking(self, on: bool) -> TrackingResult:
        """Turn tracking on or off (TELESCOPE_TRACK_STATE): {tracking}."""
        return await self._rpc("telescope.set_tracking", {"on": on})

    async def slew_rates(self) -> list[RateChoice]:
        """The rates of manual moves, slowest first: [{index, name, label, active}]."""
        return await self._rpc("telescope.slew_rates", {})

    async def status(self) -> TelescopeStatus:
        """The telescope's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("telescope.status", {})

    async def stop(
        self,
        direction: Literal["north", "south", "east", "west", "n", "s", "e", "w"] | None = None,
    ) -> ManualMove:
        """Stop a manual move in one direction, or every manual move: {moving: false}."""
        return await self._rpc("telescope.stop", {"direction": direction})

    async def sync(
        self,
        ra: float,
        dec: float,
        epoch: Literal["J2000", "JNow"] = "J2000",
    ) -> SyncResult:
        """Tell the mount it points at RA/Dec now (ON_COORD_SET SYNC).

        Result: {ra, dec, ra_j2000, dec_j2000} where the mount now says it points.

        Events: action.started, action.finished.
        """
        return await self._rpc("telescope.sync", {"ra": ra, "dec": dec, "epoch": epoch})

    async def track_modes(self) -> list[Choice]:
        """The track modes the driver offers: [{name, label, active}]."""
        return await self._rpc("telescope.track_modes", {})

    async def unpark(self, timeout: float = 60.0, force: bool = False) -> ParkResult:
        """Unpark the mount; answers once unparked: {parked: false, ...}.

        Refused with the unsafe error while the safety policy says unsafe
        or its close-up still runs (docs/devices.md), unless force; with
        invalid_state while parking.

        Events: action.started, action.finished.
        """
        return await self._rpc("telescope.unpark", {"timeout": timeout, "force": force})


class WeatherMethods(_Namespace):
    """``weather.*`` methods."""

    async def connect(self, timeout: float = 30.0) -> WeatherStatus:
        """Connect the weather device (INDI CONNECTION); answers with its status.

        Ends once the device is connected and has defined the properties that come
        with the connection. A device that is connected already answers at once.
        Errors: no_device, action_failed (the driver's message in data.messages),
        timeout.

        Events: action.started, action.finished.
        """
        return await self._rpc("weather.connect", {"timeout": timeout})

    async def disconnect(self, timeout: float = 30.0) -> WeatherStatus:
        """Disconnect the weather device; answers with its status.

        Running actions of the role end first with the aborted error.

        Events: action.started, action.finished.
        """
        return await self._rpc("weather.disconnect", {"timeout": timeout})

    async def info(self) -> WeatherInfo:
        """Static facts and capabilities of the weather device.

        {role, device, connected, driver: {name, exec, version, interface},
        interfaces, capabilities} plus the role's facts; capabilities are null
        while the device is not connected (drivers define most properties then).
        """
        return await self._rpc("weather.info", {})

    async def refresh(self) -> WeatherState:
        """Ask the station for new readings now (WEATHER_REFRESH); answers weather.state."""
        return await self._rpc("weather.refresh", {})

    async def state(self) -> WeatherState:
        """The weather now: {state (ok/warning/alert/idle/unknown), parameters, updated}.

        parameters: [{name, label, value, state, min_ok, max_ok, warn_percent}].
        Every socket gets weather.changed {device, state, previous, parameters,
        time} when the overall state changes.

        Events: weather.changed.
        """
        return await self._rpc("weather.state", {})

    async def status(self) -> WeatherStatus:
        """The weather's brief state; never an error for a missing device.

        {role, device, present, connected} and, when connected, busy (an action
        runs) and the role's state (see docs/indi_client.md).
        """
        return await self._rpc("weather.status", {})


class Methods:
    """The typed calls: ``obs.<role>.<verb>(...)`` and the service-wide ones."""

    def _rpc(self, method: str, params: dict[str, Any], on_progress: Any = None) -> Any:
        raise NotImplementedError

    def _bind_methods(self) -> None:
        self.actions = ActionsMethods(self)
        self.camera = CameraMethods(self)
        self.dome = DomeMethods(self)
        self.filter_wheel = FilterWheelMethods(self)
        self.flat_panel = FlatPanelMethods(self)
        self.focuser = FocuserMethods(self)
        self.gps = GpsMethods(self)
        self.guider = GuiderMethods(self)
        self.guiding = GuidingMethods(self)
        self.plans = PlansMethods(self)
        self.rotator = RotatorMethods(self)
        self.safety = SafetyMethods(self)
        self.telescope = TelescopeMethods(self)
        self.weather = WeatherMethods(self)

    async def assign(
        self,
        role: Literal[
            "telescope",
            "camera",
            "focuser",
            "filter_wheel",
            "guider",
            "dome",
            "rotator",
            "flat_panel",
            "weather",
            "gps",
        ],
        device: str,
        connect: bool = True,
    ) -> RoleAssignment:
        """Give a role to a device (replacing the one that held it) and connect it.

        Same as GET /FIFO/start/<role>/<device>/; remembered across restarts.
        Answers {role, device_name, present, connected} once connected.
        Errors: unknown_device, connect_failed.
        """
        return await self._rpc("assign", {"role": role, "device": device, "connect": connect})

    async def release(
        self,
        role: Literal[
            "telescope",
            "camera",
            "focuser",
            "filter_wheel",
            "guider",
            "dome",
            "rotator",
            "flat_panel",
            "weather",
            "gps",
        ],
    ) -> Released:
        """Free a role (the device stays connected): {role, device_name, released}."""
        return await self._rpc("release", {"role": role})

    async def roles(self) -> RoleTable:
        """Which device holds each role: {role: {role, device_name, present, connected}}."""
        return await self._rpc("roles", {})

    async def status(self) -> ServiceStatus:
        """The same as the periodic status notification, now.

        {time, indiserver: {host, port, connected, last_error (why the last
        attempt to connect failed), failing_for (s), attempts}, roles: {role:
        brief state}} for every role that has a device (present: false when
        it is not on the indiserver), min_altitude (gotos below are refused;
        null: no limit), safety: {safe, reasons (codes)}, guiding: {state,
        calibrated, settling, rms, rms_arcsec}.
        """
        return await self._rpc("status", {})


class AbortResult(TypedDict):
    """The mount stopped (or still moving after the timeout: stopped false)."""

    aborted: bool
    interrupted: int
    stopped: bool
    ra: float | None
    dec: float | None
    slewing: bool
    tracking: bool | None
    parked: bool | None
    parking: bool
    pier_side: Literal["east", "west"] | None
    ha: NotRequired[float | None]
    lst: NotRequired[float | None]
    alt: NotRequired[float | None]
    az: NotRequired[float | None]


class AbortedAction(TypedDict):
    """The action told to stop (`abort_action`)."""

    action_id: str
    action: str
    role: str
    device: str
    params: dict[str, Any]
    started: float
    elapsed: float
    progress: dict[str, Any] | None
    aborted: bool


class ActionInfo(TypedDict):
    """An action running now (`Action.describe`)."""

    action_id: str
    action: str
    role: str
    device: str
    params: dict[str, Any]
    started: float
    elapsed: float
    progress: dict[str, Any] | None


class AnalysedFrame(TypedDict):
    """A stored frame measured again: its blob id, its URLs and the analysis fields."""

    width: NotRequired[int]
    height: NotRequired[int]
    stars: NotRequired[int]
    measured_stars: NotRequired[int]
    hfr: NotRequired[float | None]
    fwhm: NotRequired[float | None]
    hfr_arcsec: NotRequired[float | None]
    fwhm_arcsec: NotRequired[float | None]
    hfr_min: NotRequired[float | None]
    hfr_max: NotRequired[float | None]
    hfr_mean: NotRequired[float | None]
    eccentricity: NotRequired[float | None]
    background: NotRequired[float | None]
    noise: NotRequired[float | None]
    min: NotRequired[float | None]
    max: NotRequired[float | None]
    median: NotRequired[float | None]
    mean: NotRequired[float | None]
    saturation: NotRequired[float | None]
    saturated_pixels: NotRequired[int | None]
    saturated_stars: NotRequired[int]
    pixel_scale: NotRequired[float | None]
    seconds: NotRequired[float]
    error: NotRequired[str]
    blob_id: str
    url: str
    preview_url: str
    preview_jpg_url: str


class AutofocusResult(TypedDict):
    """Where an autofocus left the focuser, and the curve it measured."""

    action: str
    device: str
    position: int
    hfr: float | None
    stars: int
    start: FocusPointResult
    points: list[FocusPointResult]
    fit: FocusFit
    backlash: int
    elapsed: float


class CalibrationCleared(TypedDict):
    """Whether a calibration is still known (false once cleared)."""

    calibrated: bool


class CalibrationData(TypedDict):
    """A calibration (`Calibration.to_dict`): how the star moves per ms of pulse."""

    ra_angle: float
    dec_angle: float
    ra_rate: float
    dec_rate: float
    declination: float | None
    pier_side: str | None
    binning: int
    created: str
    mount: str
    camera: str
    steps: dict[str, Any]
    drift: list[float]
    ra_angle_deg: float
    dec_angle_deg: float
    orthogonality_error_deg: float


class CameraAbortResult(TypedDict):
    """The camera stopped (stopped false: still exposing after the timeout)."""

    aborted: bool
    interrupted: int
    stopped: bool


class CameraInfo(TypedDict):
    """Static facts and capabilities of the camera device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: CameraCapabilities | None
    sensor: NotRequired[SensorInfo]


class CameraSettings(TypedDict):
    """The frame settings now (null: the camera has no such setting)."""

    frame_type: Literal["bias", "dark", "flat", "light"] | None
    binning: list[int] | None
    roi: list[int] | None
    gain: float | None
    offset: float | None
    upload_mode: str | None
    transfer_format: str | None
    compression: bool


class CameraStatus(TypedDict):
    """The camera's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    state: NotRequired[Literal["error", "exposing", "idle"]]
    time_left: NotRequired[float | None]
    temperature: NotRequired[float | None]
    cooler: NotRequired[bool | None]
    last_frame: NotRequired[str | None]


class CameraTemperature(TypedDict):
    """Sensor temperature (degrees C), still ramping or not, the cooler."""

    temperature: float
    ramping: bool
    cooler: bool | None
    cooler_power: float | None


class CapMoved(TypedDict):
    """The panel after the cap moved, or (already) only the cap."""

    action: str
    device: str
    cap: Literal["closed", "closing", "error", "open", "opening"] | None
    light: NotRequired[bool | None]
    brightness: NotRequired[float | None]
    already: NotRequired[bool]


class CenterResult(TypedDict):
    """A centering's end (`center`): within tolerance of the target."""

    action: str
    device: str
    target: CenterTarget
    solution: Solution
    error: float
    method: str | None
    attempts: list[CenterAttempt]
    elapsed: float


class Choice(TypedDict):
    """An element of a switch the driver offers (name, label, on now)."""

    name: str
    label: str
    active: bool


class CloseUpReport(TypedDict):
    """Why, when, and each action's outcome (finished: once done)."""

    reasons: list[str]
    started: str
    actions: list[CloseUpStep]
    finished: NotRequired[str]


class CurrentFilter(TypedDict):
    """The slot now (from 1), its name, and whether the wheel turns."""

    slot: int | None
    name: str | None
    moving: bool


class DomeAborted(TypedDict):
    """The dome stopped (stopped false: still moving after the timeout)."""

    azimuth: float | None
    shutter: Literal["closed", "closing", "error", "open", "opening"] | None
    parked: bool | None
    moving: bool
    following: bool | None
    aborted: bool
    interrupted: int
    stopped: bool


class DomeFollowing(TypedDict):
    """Whether the dome follows, and the mount its driver snoops."""

    device: str
    following: bool | None
    telescope: str | None


class DomeInfo(TypedDict):
    """Static facts and capabilities of the dome device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: DomeCapabilities | None
    park_azimuth: NotRequired[float | None]


class DomeMoved(TypedDict):
    """The dome after the action: its position, or (already) only what was asked."""

    action: str
    device: str
    azimuth: NotRequired[float | None]
    shutter: NotRequired[Literal["closed", "closing", "error", "open", "opening"] | None]
    parked: NotRequired[bool | None]
    moving: NotRequired[bool]
    following: NotRequired[bool | None]
    already: NotRequired[bool]


class DomePosition(TypedDict):
    """Where the dome is: azimuth (degrees; null without one), shutter (null without one)."""

    azimuth: float | None
    shutter: Literal["closed", "closing", "error", "open", "opening"] | None
    parked: bool | None
    moving: bool
    following: bool | None


class DomeStatus(TypedDict):
    """The dome's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    azimuth: NotRequired[float | None]
    shutter: NotRequired[Literal["closed", "closing", "error", "open", "opening"] | None]
    parked: NotRequired[bool | None]
    moving: NotRequired[bool]
    following: NotRequired[bool | None]


class DomeTurned(TypedDict):
    """Where the dome arrived (degrees)."""

    action: str
    device: str
    elapsed: float
    azimuth: float | None
    target: float
    start: float | None


class ExposeResult(TypedDict):
    """The stored frame, its URLs and what it is; the keys of the call's
    ``metadata`` too (so not every key is listed here)."""

    action: str
    device: str
    elapsed: float
    blob_id: str
    url: str
    preview_url: str
    preview_jpg_url: str
    size: int
    format: str
    content_type: str
    path: str | None
    created: str
    duration: float
    exposure: float
    frame_type: Literal["bias", "dark", "flat", "light"] | None
    binning: list[int] | None
    roi: list[int] | None
    gain: float | None
    offset: float | None
    filter: str | None
    temperature: float | None
    started: str
    camera: str
    analysis: FrameAnalysis
    guiding: NotRequired[GuidingStats]
    filter_wheel: NotRequired[str]
    telescope: NotRequired[str]
    ra: NotRequired[float]
    dec: NotRequired[float]
    pier_side: NotRequired[Literal["east", "west"]]
    site_latitude: NotRequired[float]
    site_longitude: NotRequired[float]
    site_elevation: NotRequired[float]
    focuser: NotRequired[str]
    focuser_position: NotRequired[int]
    focuser_temperature: NotRequired[float]


class Filter(TypedDict):
    """A slot (from 1) and its name (null where the driver names none)."""

    slot: int
    name: str | None


class FilterWheelInfo(TypedDict):
    """Static facts and capabilities of the filter wheel device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: FilterWheelCapabilities | None
    filters: NotRequired[list[Filter]]


class FilterWheelStatus(TypedDict):
    """The filter wheel's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    slot: NotRequired[int | None]
    name: NotRequired[str | None]
    moving: NotRequired[bool]


class FlatPanelInfo(TypedDict):
    """Static facts and capabilities of the flat panel device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: FlatPanelCapabilities | None


class FlatPanelStatus(TypedDict):
    """The flat panel's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    light: NotRequired[bool | None]
    brightness: NotRequired[float | None]
    cap: NotRequired[Literal["closed", "closing", "error", "open", "opening"] | None]


class FocuserAborted(TypedDict):
    """The focuser stopped (stopped false: still moving after the timeout)."""

    aborted: bool
    interrupted: int
    stopped: bool
    position: int | None


class FocuserInfo(TypedDict):
    """Static facts and capabilities of the focuser device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: FocuserCapabilities | None
    max: NotRequired[int | None]


class FocuserMax(TypedDict):
    """The highest position in steps (null: the driver gives none)."""

    max: int | None


class FocuserMoved(TypedDict):
    """Where the focuser ended (steps; position null without absolute positions)."""

    action: str
    device: str
    elapsed: float
    position: int | None
    target: NotRequired[int]
    start: NotRequired[int | None]
    steps: NotRequired[int]


class FocuserPosition(TypedDict):
    """The position in steps (null without absolute positions)."""

    position: int | None
    moving: NotRequired[bool]


class FocuserStatus(TypedDict):
    """The focuser's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    position: NotRequired[int | None]
    moving: NotRequired[bool]
    temperature: NotRequired[float | None]


class FocuserTemperature(TypedDict):
    """The focuser's temperature."""

    temperature: float


class GpsApplied(TypedDict):
    """The fix, and what the mount was given."""

    fix: GpsFix
    telescope: str
    site: NotRequired[Site]
    utc: NotRequired[str]


class GpsFix(TypedDict):
    """The GPS's site (degrees, longitude east positive; metres) and time (ISO 8601)."""

    latitude: float | None
    longitude: float | None
    elevation: float | None
    utc: str | None
    utc_offset: float | None
    state: str | None


class GpsInfo(TypedDict):
    """Static facts and capabilities of the gps device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: GpsCapabilities | None


class GpsStatus(TypedDict):
    """The gps's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    latitude: NotRequired[float | None]
    longitude: NotRequired[float | None]
    elevation: NotRequired[float | None]
    utc: NotRequired[str | None]
    utc_offset: NotRequired[float | None]
    state: NotRequired[str | None]


class GuideHistory(TypedDict):
    """The newest guide steps, oldest first, and the statistics."""

    steps: list[GuideStepRecord]
    stats: GuideStats


class GuideRate(TypedDict):
    """Guide rates, fractions of sidereal."""

    ra: float
    dec: float


class GuiderConfig(TypedDict):
    """The guider's settings (kept in the data directory, `guiding.json`)."""

    exposure: NotRequired[float]
    binning: NotRequired[int]
    search_region: NotRequired[int]
    use_subframes: NotRequired[bool]
    via: NotRequired[str]
    calibration_step_ms: NotRequired[int | None]
    calibration_distance: NotRequired[float]
    focal_length: NotRequired[float | None]
    ra_aggression: NotRequired[float]
    ra_hysteresis: NotRequired[float]
    ra_min_move: NotRequired[float]
    dec_aggression: NotRequired[float]
    dec_min_move: NotRequired[float]
    dec_switch_frames: NotRequired[int]
    dec_mode: NotRequired[str]
    max_ra_ms: NotRequired[int]
    max_dec_ms: NotRequired[int]
    lost_frames: NotRequired[int]
    dither_mode: NotRequired[str]
    dither_ra_only: NotRequired[bool]
    settle_pixels: NotRequired[float]
    settle_time: NotRequired[float]
    settle_timeout: NotRequired[float]
    flip_dec: NotRequired[bool]
    delay: NotRequired[float]


class GuiderInfo(TypedDict):
    """Static facts and capabilities of the guider device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: GuiderCapabilities | None
    sensor: NotRequired[SensorInfo]


class GuiderPulseResult(TypedDict):
    """The pulse that was sent, once it ended, and the port it went through."""

    action: str
    device: str
    elapsed: float
    direction: Literal["east", "north", "south", "west"]
    duration_ms: float
    via: Literal["camera", "mount"]


class GuiderStatus(TypedDict):
    """The guider's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    state: NotRequired[Literal["error", "exposing", "idle"]]
    time_left: NotRequired[float | None]
    temperature: NotRequired[float | None]
    cooler: NotRequired[bool | None]
    last_frame: NotRequired[str | None]


class GuidingStatus(TypedDict):
    """Everything a panel shows of the guider (`GuidingEngine.status`)."""

    state: Literal["Calibrating", "Guiding", "Looping", "LostLock", "Paused", "Selected", "Stopped"]
    capturing: bool
    paused: bool
    settling: bool
    camera: str | None
    mount: str | None
    connected: bool
    star: GuideStar | None
    lock_position: list[float] | None
    subframe: list[int] | None
    calibrated: bool
    calibration: CalibrationData | None
    pixel_scale: float | None
    frame: int
    guide_frame: int
    stats: GuideStats
    last_error: str | None
    settings: GuiderConfig


class GuidingStopped(TypedDict):
    """Running pulses ended (how many), and whether a guide exposure was aborted."""

    interrupted: int
    exposure_aborted: bool


class HomeResult(TypedDict):
    """At the home position."""

    action: str
    device: str
    elapsed: float
    homed: bool
    ra: float | None
    dec: float | None
    slewing: bool
    tracking: bool | None
    parked: bool | None
    parking: bool
    pier_side: Literal["east", "west"] | None
    ha: NotRequired[float | None]
    lst: NotRequired[float | None]
    alt: NotRequired[float | None]
    az: NotRequired[float | None]


class LockPosition(TypedDict):
    """The lock position (frame pixels)."""

    x: float
    y: float


class ManualMove(TypedDict):
    """A manual move (`Telescope.move`, `Telescope.stop`): the direction (none
    when every move was stopped), moving, and a timed move's duration (s);
    a timed move is an action: its ``action`` (move), ``device`` and
    ``elapsed`` (s) too."""

    moving: bool
    direction: NotRequired[str]
    duration: NotRequired[float]
    action: NotRequired[str]
    device: NotRequired[str]
    elapsed: NotRequired[float]


class PanelState(TypedDict):
    """The light (on: true; null without one), its brightness, the dust cap (null without one)."""

    light: bool | None
    brightness: float | None
    cap: Literal["closed", "closing", "error", "open", "opening"] | None


class ParkPositionResult(TypedDict):
    """Where the mount parks now (axis values, as the driver reports them)."""

    action: str
    device: str
    option: NotRequired[str]
    park_position: NotRequired[dict[str, Any]]


class ParkResult(TypedDict):
    """Parked or unparked (already: it was, nothing was sent)."""

    parked: bool
    action: str
    device: str
    already: NotRequired[bool]
    elapsed: NotRequired[float]
    ra: NotRequired[float | None]
    dec: NotRequired[float | None]
    slewing: NotRequired[bool]
    tracking: NotRequired[bool | None]
    parking: NotRequired[bool]
    pier_side: NotRequired[Literal["east", "west"] | None]
    ha: NotRequired[float | None]
    lst: NotRequired[float | None]
    alt: NotRequired[float | None]
    az: NotRequired[float | None]


class PlanSummary(TypedDict):
    """A plan's summary (`PlanRecord.summary`): what ``plans.list`` lists."""

    id: str
    name: str
    state: str
    message: str | None
    created: str
    frames_total: int
    frames_done: int
    frames_failed: int
    current: dict[str, Any] | None
    eta: str | None


class PlanView(TypedDict):
    """One plan (`PlanRecord.view`): the summary, its frames, its journal."""

    id: str
    name: str
    state: str
    message: str | None
    created: str
    frames_total: int
    frames_done: int
    frames_failed: int
    current: dict[str, Any] | None
    eta: str | None
    frames: list[dict[str, Any]]
    missing: list[FrameKey]
    unjournalled_files: list[str]
    events: list[PlanEvent]


class PositionResult(TypedDict):
    """Where the mount points now."""

    ra: float
    dec: float
    ra_j2000: float
    dec_j2000: float
    ha: float | None
    lst: float | None
    alt: float | None
    az: float | None
    pier_side: Literal["east", "west"] | None
    slewing: bool
    tracking: bool | None
    parked: bool | None
    parking: bool
    time: str


class PulseGuideResult(TypedDict):
    """The pulse that was sent, once it ended."""

    action: str
    device: str
    elapsed: float
    direction: Literal["east", "north", "south", "west"]
    duration_ms: float


class RateChoice(TypedDict):
    """A rate of manual moves the driver offers."""

    name: str
    label: str
    active: bool
    index: int


class RecentAction(TypedDict):
    """An action running now or one of the last finished (`recent_actions`)."""

    action_id: str
    action: str
    role: str
    device: str
    params: dict[str, Any]
    started: float
    elapsed: float
    progress: dict[str, Any] | None
    outcome: str
    ended: float | None
    error: NotRequired[dict[str, Any]]


class Released(TypedDict):
    """A role freed: the device that held it (null: none did)."""

    role: str
    device_name: str | None
    released: bool


class RoleAssignment(TypedDict):
    """Which device holds a role (`RoleManager.describe`): null when none;
    whether it is on the indiserver now and connected."""

    role: str
    device_name: str | None
    present: bool
    connected: bool


class RoleTable(TypedDict):
    """Which device holds each role."""

    telescope: RoleAssignment
    camera: RoleAssignment
    focuser: RoleAssignment
    filter_wheel: RoleAssignment
    guider: RoleAssignment
    dome: RoleAssignment
    rotator: RoleAssignment
    flat_panel: RoleAssignment
    weather: RoleAssignment
    gps: RoleAssignment


class RotatorAborted(TypedDict):
    """The rotator stopped (stopped false: still moving after the timeout)."""

    angle: float | None
    moving: bool
    reversed: bool | None
    aborted: bool
    interrupted: int
    stopped: bool


class RotatorInfo(TypedDict):
    """Static facts and capabilities of the rotator device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: RotatorCapabilities | None


class RotatorMoved(TypedDict):
    """Where the rotator arrived (degrees)."""

    action: str
    device: str
    elapsed: float
    angle: float | None
    target: float
    start: float | None


class RotatorReversed(TypedDict):
    """The fields of a RotatorReversed."""

    reversed: bool | None


class RotatorState(TypedDict):
    """The angle (degrees; null without one), moving, reversed (null: no reverse switch)."""

    angle: float | None
    moving: bool
    reversed: bool | None


class RotatorStatus(TypedDict):
    """The rotator's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    angle: NotRequired[float | None]
    moving: NotRequired[bool]
    reversed: NotRequired[bool | None]


class RotatorSynced(TypedDict):
    """The angle as the driver took it, and as it reports it now."""

    synced: float
    angle: float | None


class SafetyStatus(TypedDict):
    """The safety policy now."""

    enabled: bool
    safe: bool
    reasons: list[SafetyReason]
    weather: WeatherWatch
    actions: list[str]
    weather_stale: float
    indiserver_timeout: float
    closing: bool
    last_close_up: CloseUpReport | None
    weather_override: WeatherOverride | None


class Selected(TypedDict):
    """The slot reached, its name, and the slot it came from."""

    action: str
    device: str
    elapsed: float
    slot: int
    name: str | None
    previous_slot: int | None


class SensorInfo(TypedDict):
    """The sensor (CCD_INFO): size in pixels, pixel size in micrometres."""

    max_x: float | None
    max_y: float | None
    pixel_size: float | None
    pixel_size_x: float | None
    pixel_size_y: float | None
    bits_per_pixel: float | None


class ServiceStatus(TypedDict):
    """The service's state: what ``status`` answers and the periodic
    ``status`` notification carries (`ClientHub.status`)."""

    time: str
    indiserver: LinkStatus
    roles: ServiceRoles
    min_altitude: float | None
    safety: SafetyBrief
    guiding: GuidingBrief


class SetTemperatureResult(TypedDict):
    """The target; with wait, reached once within tolerance."""

    temperature: float
    ramping: bool
    cooler: bool | None
    cooler_power: float | None
    target: float
    reached: NotRequired[bool]
    action: NotRequired[str]
    device: NotRequired[str]
    elapsed: NotRequired[float]


class SettleOutcome(TypedDict):
    """``guiding.start``/``calibrate``/``dither``: with wait, once settled
    (PHD2's SettleDone fields: Status 0, TotalFrames, DroppedFrames); without,
    ``settling`` at once."""

    status: Literal[
        "Calibrating", "Guiding", "Looping", "LostLock", "Paused", "Selected", "Stopped"
    ]
    settled: NotRequired[bool]
    settling: NotRequired[bool]
    Status: NotRequired[int]
    Error: NotRequired[str]
    TotalFrames: NotRequired[int]
    DroppedFrames: NotRequired[int]


class Site(TypedDict):
    """The site: degrees (longitude east positive, -180..180), metres."""

    latitude: float
    longitude: float
    elevation: float


class SlewRateResult(TypedDict):
    """The slew rate now (its element name)."""

    slew_rate: str | None


class SlewResult(TypedDict):
    """Where the mount arrived."""

    ra: float
    dec: float
    tracking: bool | None
    pier_side: Literal["east", "west"] | None
    alt: float | None
    az: float | None
    action: str
    device: str
    elapsed: float
    ra_j2000: float
    dec_j2000: float
    target: SlewTarget
    distance: float
    time: NotRequired[str]
    slewing: NotRequired[bool]
    parked: NotRequired[bool | None]
    parking: NotRequired[bool]
    ha: NotRequired[float | None]
    lst: NotRequired[float | None]


class SolveResult(TypedDict):
    """``camera.solve``'s answer: the solution and the frame's URLs (what
    every front adds to a result naming a frame), with the action
    (``solve``), the camera's device and the seconds it ran when a camera
    holds its role (the solve is then one of its actions)."""

    ra: float
    dec: float
    ra_deg: float
    epoch: str
    rotation: float
    pixel_scale: float
    parity: str
    field_width: float
    field_height: float
    stars: int
    seconds: float
    blob_id: str
    hint: SolveHintUsed | None
    pointing_error: float | None
    url: str
    preview_url: str
    preview_jpg_url: str
    action: NotRequired[str]
    device: NotRequired[str]
    elapsed: NotRequired[float]


class SyncResult(TypedDict):
    """Where the mount now says it points."""

    action: str
    device: str
    elapsed: float
    ra: float
    dec: float
    ra_j2000: float
    dec_j2000: float


class TelescopeInfo(TypedDict):
    """Static facts and capabilities of the telescope device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: TelescopeCapabilities | None
    coordinates: NotRequired[Literal["J2000", "JNow"]]
    optics: NotRequired[Optics]
    site: NotRequired[Site]


class TelescopeStatus(TypedDict):
    """The telescope's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    ra: NotRequired[float | None]
    dec: NotRequired[float | None]
    slewing: NotRequired[bool]
    tracking: NotRequired[bool | None]
    parked: NotRequired[bool | None]
    parking: NotRequired[bool]
    pier_side: NotRequired[Literal["east", "west"] | None]
    ha: NotRequired[float | None]
    lst: NotRequired[float | None]
    alt: NotRequired[float | None]
    az: NotRequired[float | None]


class TimeResult(TypedDict):
    """The mount's clock as set (ISO 8601 UTC, to the second)."""

    utc: str


class TrackModeResult(TypedDict):
    """The track mode now (its element name)."""

    track_mode: str | None


class TrackRateResult(TypedDict):
    """Track rates in arcsec/s, and the track mode now."""

    ra: float
    dec: float
    track_mode: str | None


class TrackingResult(TypedDict):
    """Whether the mount tracks now."""

    tracking: bool


class WeatherInfo(TypedDict):
    """Static facts and capabilities of the weather device (capabilities null while it is not connected; the role's facts only while connected)."""

    role: str
    device: str
    connected: bool
    driver: DriverInfo
    interfaces: list[str]
    capabilities: WeatherCapabilities | None


class WeatherState(TypedDict):
    """The weather now (state: the worst of the driver's lights and the readings' limits)."""

    state: Literal["alert", "idle", "ok", "warning"] | Literal["unknown"]
    parameters: list[WeatherParameter]
    updated: str | None


class WeatherStatus(TypedDict):
    """The weather's status: its device and brief state."""

    role: str
    device: str | None
    present: bool
    connected: bool
    busy: NotRequired[bool]
    error: NotRequired[str]
    state: NotRequired[Literal["alert", "idle", "ok", "warning"] | Literal["unknown"]]
    attention: NotRequired[list[str]]


class CameraCapabilities(TypedDict):
    """What the camera can do, from the properties it defines (ranges: the driver's)."""

    can_expose: bool
    can_abort: bool
    exposure_range: list[float | None] | None
    frame_types: list[str]
    can_bin: bool
    max_binning: list[float | None] | None
    can_subframe: bool
    has_gain: bool
    gain_range: list[float | None] | None
    has_offset: bool
    offset_range: list[float | None] | None
    has_cooler: bool
    has_temperature: bool
    can_set_temperature: bool
    has_cooler_power: bool
    has_compression: bool
    upload_modes: list[str]
    transfer_formats: list[str]
    has_guide_head: bool
    has_filter_wheel: bool
    can_stream: bool


class CenterAttempt(TypedDict):
    """One solve of a centering: where the frame was, how far off, what followed."""

    attempt: int
    ra: float
    dec: float
    error: float
    correction: str | None
    blob_id: str


class CenterTarget(TypedDict):
    """The target in J2000: RA hours, Dec degrees."""

    ra: float
    dec: float
    epoch: str


class CloseUpStep(TypedDict):
    """One action of a close-up: outcome done, already, skipped, or how it failed."""

    action: str
    outcome: str
    device: NotRequired[str]
    detail: NotRequired[str]
    error: NotRequired[str]
    interrupted: NotRequired[int]
    exposure_aborted: NotRequired[bool]
    autoguider_stopped: NotRequired[bool]


class DomeCapabilities(TypedDict):
    """What the dome can do, from the properties it defines."""

    can_open: bool
    can_goto: bool
    can_move_relative: bool
    can_park: bool
    can_set_park: bool
    can_abort: bool
    can_follow: bool


class DriverInfo(TypedDict):
    """The device's DRIVER_INFO (null where the driver leaves one out)."""

    name: str | None
    exec: str | None
    version: str | None
    interface: int


class FilterWheelCapabilities(TypedDict):
    """What the filter wheel can do, from the properties it defines."""

    can_select: bool
    slots: int
    can_rename: bool


class FlatPanelCapabilities(TypedDict):
    """What the flat panel (light box, dust cap) can do, from the properties it defines."""

    has_light: bool
    can_dim: bool
    brightness_range: list[float | None] | None
    has_cap: bool
    can_abort_cap: bool


class FocusFit(TypedDict):
    """The V-curve fitted to the points (`fit_vcurve`)."""

    kind: str
    position: float
    hfr: float
    r2: float
    rms: float
    coefficients: list[float]
    centre: float
    scale: float
    used: list[float]
    rejected: list[float]


class FocusPointResult(TypedDict):
    """One measured focuser position: median HFR (px; null: no star) and stars."""

    position: float
    hfr: float | None
    stars: int


class FocuserCapabilities(TypedDict):
    """What the focuser can do, from the properties it defines (ranges in steps)."""

    can_move_absolute: bool
    can_move_relative: bool
    can_abort: bool
    can_sync: bool
    has_temperature: bool
    has_max: bool
    can_reverse: bool
    has_backlash: bool
    position_range: list[float | None] | None
    relative_range: list[float | None] | None


class FrameAnalysis(TypedDict):
    """Stars and statistics of a frame (docs/analysis.md); ``error`` alone
    when it could not be read or measured."""

    width: NotRequired[int]
    height: NotRequired[int]
    stars: NotRequired[int]
    measured_stars: NotRequired[int]
    hfr: NotRequired[float | None]
    fwhm: NotRequired[float | None]
    hfr_arcsec: NotRequired[float | None]
    fwhm_arcsec: NotRequired[float | None]
    hfr_min: NotRequired[float | None]
    hfr_max: NotRequired[float | None]
    hfr_mean: NotRequired[float | None]
    eccentricity: NotRequired[float | None]
    background: NotRequired[float | None]
    noise: NotRequired[float | None]
    min: NotRequired[float | None]
    max: NotRequired[float | None]
    median: NotRequired[float | None]
    mean: NotRequired[float | None]
    saturation: NotRequired[float | None]
    saturated_pixels: NotRequired[int | None]
    saturated_stars: NotRequired[int]
    pixel_scale: NotRequired[float | None]
    seconds: NotRequired[float]
    error: NotRequired[str]


class FrameKey(TypedDict):
    """A frame as the plan asks for it (`frame_key`)."""

    number: int
    name: str
    target: str
    filter: str | None
    exposure: float
    frame_type: str
    binning: int
    index: int


class GpsCapabilities(TypedDict):
    """What the GPS can do, from the properties it defines."""

    has_site: bool
    has_time: bool
    can_refresh: bool


class GuideStar(TypedDict):
    """The guide star as measured in the newest frame (frame pixels)."""

    x: float
    y: float
    mass: float
    snr: float
    hfd: float
    peak: float
    saturated: bool


class GuideStats(TypedDict):
    """The guide error over the last frames (`Statistics.summary`); ``pixels``
    once a frame was guided, ``arcsec`` too with a known pixel scale."""

    frames: int
    pixel_scale: float | None
    pixels: NotRequired[GuideRms]
    arcsec: NotRequired[GuideRms]


class GuideStepRecord(TypedDict):
    """A guide step: PHD2's GuideStep fields, and when, where the lock and the star were."""

    Frame: int
    Time: float
    Mount: str
    dx: float
    dy: float
    RADistanceRaw: float
    DECDistanceRaw: float
    RADistanceGuide: float
    DECDistanceGuide: float
    StarMass: float
    SNR: float
    HFD: float
    AvgDist: float
    time: float
    lock: list[float]
    x: float
    y: float
    RADuration: NotRequired[float]
    RADirection: NotRequired[str]
    DECDuration: NotRequired[float]
    DECDirection: NotRequired[str]
    RALimited: NotRequired[bool]
    DecLimited: NotRequired[bool]


class GuiderCapabilities(TypedDict):
    """What the guide camera can do, and how it can pulse."""

    can_expose: bool
    can_abort: bool
    exposure_range: list[float | None] | None
    frame_types: list[str]
    can_bin: bool
    max_binning: list[float | None] | None
    can_subframe: bool
    has_gain: bool
    gain_range: list[float | None] | None
    has_offset: bool
    offset_range: list[float | None] | None
    has_cooler: bool
    has_temperature: bool
    can_set_temperature: bool
    has_cooler_power: bool
    has_compression: bool
    upload_modes: list[str]
    transfer_formats: list[str]
    has_guide_head: bool
    has_filter_wheel: bool
    can_stream: bool
    can_pulse_camera: bool
    can_pulse_mount: bool
    has_guide_rate: bool


class GuidingBrief(TypedDict):
    """The guider's state in the periodic ``status`` (`guiding_brief`)."""

    state: Literal["Calibrating", "Guiding", "Looping", "LostLock", "Paused", "Selected", "Stopped"]
    calibrated: bool
    settling: bool
    rms: GuideRms | None
    rms_arcsec: GuideRms | None


class GuidingStats(TypedDict):
    """The guider's errors over the exposure, in pixels (``arcsec``: the same
    in arcseconds, with a known scale)."""

    frames: int
    rms_ra: NotRequired[float]
    rms_dec: NotRequired[float]
    rms_total: NotRequired[float]
    peak: NotRequired[float]
    arcsec: NotRequired[dict[str, Any]]


class LinkStatus(TypedDict):
    """The connection to indiserver (`INDIClient.link_status`)."""

    host: str
    port: int
    connected: bool
    last_error: str | None
    failing_for: float | None
    attempts: int


class Optics(TypedDict):
    """TELESCOPE_INFO (millimetres; null where the driver leaves one out)."""

    aperture_mm: float | None
    focal_length_mm: float | None
    guider_aperture_mm: float | None
    guider_focal_length_mm: float | None


class PlanEvent(TypedDict):
    """One entry of a plan's journal; an event may add its own fields
    (``reason``, ``frame``, ...) beside these."""

    time: str
    type: str
    message: str


class RotatorCapabilities(TypedDict):
    """What the rotator can do, from the properties it defines."""

    can_move: bool
    can_sync: bool
    can_reverse: bool
    can_abort: bool
    can_home: bool
    angle_range: list[float | None] | None


class SafetyBrief(TypedDict):
    """The safety policy now: safe, and the codes of the reasons it is not."""

    safe: bool
    reasons: list[str]


class SafetyReason(TypedDict):
    """The fields of a SafetyReason."""

    code: str
    message: str


class ServiceRoles(TypedDict):
    """The brief state of each role that has a device, as <role>.status answers."""

    telescope: NotRequired[TelescopeStatus]
    camera: NotRequired[CameraStatus]
    focuser: NotRequired[FocuserStatus]
    filter_wheel: NotRequired[FilterWheelStatus]
    guider: NotRequired[GuiderStatus]
    dome: NotRequired[DomeStatus]
    rotator: NotRequired[RotatorStatus]
    flat_panel: NotRequired[FlatPanelStatus]
    weather: NotRequired[WeatherStatus]
    gps: NotRequired[GpsStatus]


class SlewTarget(TypedDict):
    """What the slew aimed at: ra/dec/epoch, or alt/az (goto_altaz on HORIZONTAL_COORD)."""

    ra: NotRequired[float]
    dec: NotRequired[float]
    epoch: NotRequired[Literal["J2000", "JNow"]]
    alt: NotRequired[float]
    az: NotRequired[float]


class Solution(TypedDict):
    """A stored frame's plate solution (`solve_stored_frame`)."""

    ra: float
    dec: float
    ra_deg: float
    epoch: str
    rotation: float
    pixel_scale: float
    parity: str
    field_width: float
    field_height: float
    stars: int
    seconds: float
    blob_id: str
    hint: SolveHintUsed | None
    pointing_error: float | None


class SolveHintUsed(TypedDict):
    """Where the solver looked: J2000 RA (hours) / Dec (degrees) within
    radius degrees, and whence that came."""

    ra: float
    dec: float
    radius: float
    source: str


class TelescopeCapabilities(TypedDict):
    """What the mount can do, from the properties it defines."""

    can_goto: bool
    can_goto_hadec: bool
    can_goto_altaz: bool
    can_sync: bool
    can_abort: bool
    can_park: bool
    can_set_park: bool
    park_options: list[str]
    park_position_axes: list[str]
    can_home: bool
    can_track: bool
    track_modes: list[str]
    can_set_track_rate: bool
    slew_rates: list[SlewRateName]
    has_guide_rate: bool
    can_move: bool
    can_pulse_guide: bool
    has_pier_side: bool
    has_site: bool
    has_time: bool
    has_j2000_coords: bool
    has_horizontal_coords: bool


class WeatherCapabilities(TypedDict):
    """What the weather device reports and can do, from the properties it defines."""

    parameters: list[str]
    critical: list[str]
    can_refresh: bool
    can_override: bool
    update_period: float | None


class WeatherOverride(TypedDict):
    """The operator's weather override: since (ISO 8601), by whom, why."""

    since: str
    by: str
    note: str | None


class WeatherParameter(TypedDict):
    """One reading: state null for a parameter that is not critical."""

    name: str
    label: str | None
    value: float
    state: Literal["alert", "idle", "ok", "warning"] | None
    min_ok: float | None
    max_ok: float | None
    warn_percent: float | None


class WeatherWatch(TypedDict):
    """The weather role's device, its overall state, and how old its last reading is (s)."""

    device: str | None
    state: str
    last_reading_age: float | None


class GuideRms(TypedDict):
    """RMS and peak of the guide error over the last frames (pixels or arcsec)."""

    rms_ra: float
    rms_dec: float
    rms_total: float
    peak_ra: float
    peak_dec: float


class SlewRateName(TypedDict):
    """A slew-rate switch of the driver: its name and label."""

    name: str
    label: str


#: Each method's params, required params, defaults and events.
METHODS: dict[str, dict[str, Any]] = {
    "actions": {"defaults": {"role": None}, "events": [], "params": ["role"], "required": []},
    "actions.abort": {
        "defaults": {},
        "events": [],
        "params": ["action_id"],
        "required": ["action_id"],
    },
    "actions.recent": {
        "defaults": {"limit": 50},
        "events": [],
        "params": ["limit"],
        "required": [],
    },
    "assign": {
        "defaults": {"connect": True},
        "events": [],
        "params": ["role", "device", "connect"],
        "required": ["role", "device"],
    },
    "camera.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "camera.analyse": {
        "defaults": {"blob_id": None},
        "events": [],
        "params": ["blob_id"],
        "required": [],
    },
    "camera.configure": {
        "defaults": {
            "binning": None,
            "frame_type": None,
            "gain": None,
            "offset": None,
            "roi": None,
        },
        "events": [],
        "params": ["frame_type", "binning", "roi", "gain", "offset"],
        "required": [],
    },
    "camera.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "camera.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "camera.expose": {
        "defaults": {
            "binning": None,
            "frame_type": "light",
            "gain": None,
            "metadata": None,
            "offset": None,
            "replace": False,
            "roi": None,
            "timeout": None,
        },
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": [
            "duration",
            "frame_type",
            "binning",
            "roi",
            "gain",
            "offset",
            "timeout",
            "metadata",
            "replace",
        ],
        "required": ["duration"],
    },
    "camera.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "camera.sensor_info": {"defaults": {}, "events": [], "params": [], "required": []},
    "camera.set_cooler": {"defaults": {}, "events": [], "params": ["on"], "required": ["on"]},
    "camera.set_temperature": {
        "defaults": {"timeout": None, "tolerance": 0.5, "wait": False},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["target", "wait", "tolerance", "timeout"],
        "required": ["target"],
    },
    "camera.settings": {"defaults": {}, "events": [], "params": [], "required": []},
    "camera.solve": {
        "defaults": {"blob_id": None, "radius": 2.0, "time_limit": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["blob_id", "radius", "time_limit"],
        "required": [],
    },
    "camera.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "camera.temperature": {"defaults": {}, "events": [], "params": [], "required": []},
    "dome.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "dome.close": {
        "defaults": {"timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "dome.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "dome.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "dome.goto": {
        "defaults": {"timeout": 300.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["azimuth", "timeout"],
        "required": ["azimuth"],
    },
    "dome.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "dome.open": {
        "defaults": {"force": False, "timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["force", "timeout"],
        "required": [],
    },
    "dome.park": {
        "defaults": {"timeout": 300.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "dome.position": {"defaults": {}, "events": [], "params": [], "required": []},
    "dome.set_following": {"defaults": {}, "events": [], "params": ["on"], "required": ["on"]},
    "dome.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "dome.unpark": {
        "defaults": {"force": False, "timeout": 60.0},
        "events": ["action.started", "action.finished"],
        "params": ["force", "timeout"],
        "required": [],
    },
    "filter_wheel.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "filter_wheel.current": {"defaults": {}, "events": [], "params": [], "required": []},
    "filter_wheel.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "filter_wheel.filters": {"defaults": {}, "events": [], "params": [], "required": []},
    "filter_wheel.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "filter_wheel.rename": {
        "defaults": {},
        "events": [],
        "params": ["names"],
        "required": ["names"],
    },
    "filter_wheel.select": {
        "defaults": {"timeout": 60.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["filter", "timeout"],
        "required": ["filter"],
    },
    "filter_wheel.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "flat_panel.close_cap": {
        "defaults": {"timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "flat_panel.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "flat_panel.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "flat_panel.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "flat_panel.open_cap": {
        "defaults": {"timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "flat_panel.set_brightness": {
        "defaults": {},
        "events": [],
        "params": ["brightness"],
        "required": ["brightness"],
    },
    "flat_panel.set_light": {
        "defaults": {"brightness": None},
        "events": [],
        "params": ["on", "brightness"],
        "required": ["on"],
    },
    "flat_panel.state": {"defaults": {}, "events": [], "params": [], "required": []},
    "flat_panel.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.autofocus": {
        "defaults": {
            "backlash": None,
            "binning": None,
            "center": None,
            "exposure": 2.0,
            "extend": None,
            "fit": "auto",
            "min_stars": 8,
            "step": None,
            "steps": 9,
        },
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": [
            "exposure",
            "step",
            "steps",
            "center",
            "backlash",
            "fit",
            "min_stars",
            "extend",
            "binning",
        ],
        "required": [],
    },
    "focuser.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "focuser.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "focuser.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.max": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.move_by": {
        "defaults": {"timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["steps", "timeout"],
        "required": ["steps"],
    },
    "focuser.move_to": {
        "defaults": {"timeout": 120.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["position", "timeout"],
        "required": ["position"],
    },
    "focuser.position": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "focuser.sync": {
        "defaults": {},
        "events": [],
        "params": ["position"],
        "required": ["position"],
    },
    "focuser.temperature": {"defaults": {}, "events": [], "params": [], "required": []},
    "gps.apply": {
        "defaults": {"refresh": True, "site": True, "time": True},
        "events": [],
        "params": ["site", "time", "refresh"],
        "required": [],
    },
    "gps.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "gps.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "gps.fix": {"defaults": {}, "events": [], "params": [], "required": []},
    "gps.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "gps.refresh": {"defaults": {}, "events": [], "params": [], "required": []},
    "gps.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.configure": {
        "defaults": {
            "binning": None,
            "frame_type": None,
            "gain": None,
            "offset": None,
            "roi": None,
        },
        "events": [],
        "params": ["frame_type", "binning", "roi", "gain", "offset"],
        "required": [],
    },
    "guider.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "guider.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "guider.expose": {
        "defaults": {
            "binning": None,
            "frame_type": "light",
            "gain": None,
            "metadata": None,
            "offset": None,
            "roi": None,
            "timeout": None,
        },
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": [
            "duration",
            "frame_type",
            "binning",
            "roi",
            "gain",
            "offset",
            "timeout",
            "metadata",
        ],
        "required": ["duration"],
    },
    "guider.guide_rate": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.pulse": {
        "defaults": {"timeout": None, "via": "auto"},
        "events": ["action.started", "action.finished"],
        "params": ["direction", "duration_ms", "via", "timeout"],
        "required": ["direction", "duration_ms"],
    },
    "guider.set_guide_rate": {
        "defaults": {"dec": None, "ra": None},
        "events": [],
        "params": ["ra", "dec"],
        "required": [],
    },
    "guider.settings": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "guider.stop": {"defaults": {}, "events": [], "params": [], "required": []},
    "guiding.calibrate": {
        "defaults": {"roi": None, "settle": None, "timeout": None, "wait": True},
        "events": [
            "progress",
            "action.started",
            "action.progress",
            "action.finished",
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": ["settle", "roi", "wait", "timeout"],
        "required": [],
    },
    "guiding.clear_calibration": {"defaults": {}, "events": [], "params": [], "required": []},
    "guiding.configure": {
        "defaults": {
            "binning": None,
            "calibration_distance": None,
            "calibration_step_ms": None,
            "dec_aggression": None,
            "dec_min_move": None,
            "dec_mode": None,
            "dec_switch_frames": None,
            "delay": None,
            "dither_mode": None,
            "dither_ra_only": None,
            "exposure": None,
            "flip_dec": None,
            "focal_length": None,
            "lost_frames": None,
            "max_dec_ms": None,
            "max_ra_ms": None,
            "ra_aggression": None,
            "ra_hysteresis": None,
            "ra_min_move": None,
            "search_region": None,
            "settle_pixels": None,
            "settle_time": None,
            "settle_timeout": None,
            "use_subframes": None,
            "via": None,
        },
        "events": ["guiding.guide_param_change"],
        "params": [
            "exposure",
            "binning",
            "search_region",
            "use_subframes",
            "via",
            "calibration_step_ms",
            "calibration_distance",
            "focal_length",
            "ra_aggression",
            "ra_hysteresis",
            "ra_min_move",
            "dec_aggression",
            "dec_min_move",
            "dec_switch_frames",
            "dec_mode",
            "max_ra_ms",
            "max_dec_ms",
            "lost_frames",
            "dither_mode",
            "dither_ra_only",
            "settle_pixels",
            "settle_time",
            "settle_timeout",
            "flip_dec",
            "delay",
        ],
        "required": [],
    },
    "guiding.dither": {
        "defaults": {"ra_only": None, "settle": None, "timeout": None, "wait": True},
        "events": [
            "progress",
            "action.started",
            "action.progress",
            "action.finished",
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": ["amount", "ra_only", "settle", "wait", "timeout"],
        "required": ["amount"],
    },
    "guiding.find_star": {
        "defaults": {"roi": None, "timeout": None},
        "events": [
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": ["roi", "timeout"],
        "required": [],
    },
    "guiding.flip_calibration": {
        "defaults": {},
        "events": ["guiding.calibration_data_flipped"],
        "params": [],
        "required": [],
    },
    "guiding.history": {
        "defaults": {"limit": 100},
        "events": [],
        "params": ["limit"],
        "required": [],
    },
    "guiding.loop": {
        "defaults": {},
        "events": [
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": [],
        "required": [],
    },
    "guiding.pause": {
        "defaults": {"full": False},
        "events": ["guiding.paused"],
        "params": ["full"],
        "required": [],
    },
    "guiding.pulse": {
        "defaults": {},
        "events": [],
        "params": ["direction", "duration_ms"],
        "required": ["direction", "duration_ms"],
    },
    "guiding.resume": {"defaults": {}, "events": ["guiding.resumed"], "params": [], "required": []},
    "guiding.set_lock_position": {
        "defaults": {"exact": True},
        "events": [],
        "params": ["x", "y", "exact"],
        "required": ["x", "y"],
    },
    "guiding.settings": {"defaults": {}, "events": [], "params": [], "required": []},
    "guiding.start": {
        "defaults": {
            "recalibrate": False,
            "roi": None,
            "settle": None,
            "timeout": None,
            "wait": True,
        },
        "events": [
            "progress",
            "action.started",
            "action.progress",
            "action.finished",
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": ["settle", "recalibrate", "roi", "wait", "timeout"],
        "required": [],
    },
    "guiding.status": {
        "defaults": {},
        "events": [
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": [],
        "required": [],
    },
    "guiding.stop": {
        "defaults": {},
        "events": [
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": [],
        "required": [],
    },
    "guiding.stop_guiding": {
        "defaults": {},
        "events": [
            "guiding.looping_exposures",
            "guiding.looping_exposures_stopped",
            "guiding.star_selected",
            "guiding.star_lost",
            "guiding.lock_position_set",
            "guiding.lock_position_lost",
            "guiding.start_calibration",
            "guiding.calibrating",
            "guiding.calibration_complete",
            "guiding.calibration_failed",
            "guiding.calibration_data_flipped",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.guiding_dithered",
            "guiding.settle_begin",
            "guiding.settling",
            "guiding.settle_done",
            "guiding.guiding_stopped",
            "guiding.paused",
            "guiding.resumed",
            "guiding.guide_param_change",
            "guiding.alert",
        ],
        "params": [],
        "required": [],
    },
    "plans.abort": {"defaults": {}, "events": [], "params": ["id"], "required": ["id"]},
    "plans.get": {
        "defaults": {"events": 200},
        "events": ["plan.state", "plan.event", "plan.progress"],
        "params": ["id", "events"],
        "required": ["id"],
    },
    "plans.list": {"defaults": {}, "events": [], "params": [], "required": []},
    "plans.pause": {"defaults": {}, "events": [], "params": ["id"], "required": ["id"]},
    "plans.resume": {"defaults": {}, "events": [], "params": ["id"], "required": ["id"]},
    "plans.submit": {
        "defaults": {"name": None},
        "events": ["plan.state", "plan.event", "plan.progress"],
        "params": ["plan", "name"],
        "required": ["plan"],
    },
    "release": {"defaults": {}, "events": [], "params": ["role"], "required": ["role"]},
    "roles": {"defaults": {}, "events": [], "params": [], "required": []},
    "rotator.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "rotator.angle": {"defaults": {}, "events": [], "params": [], "required": []},
    "rotator.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "rotator.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "rotator.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "rotator.move_to": {
        "defaults": {"timeout": 300.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["angle", "timeout"],
        "required": ["angle"],
    },
    "rotator.set_reverse": {"defaults": {}, "events": [], "params": ["on"], "required": ["on"]},
    "rotator.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "rotator.sync": {"defaults": {}, "events": [], "params": ["angle"], "required": ["angle"]},
    "safety.close_up": {
        "defaults": {},
        "events": ["safety", "weather.changed"],
        "params": [],
        "required": [],
    },
    "safety.override_weather": {
        "defaults": {"note": None},
        "events": ["safety", "weather.changed"],
        "params": ["on", "note"],
        "required": ["on"],
    },
    "safety.status": {
        "defaults": {},
        "events": ["safety", "weather.changed"],
        "params": [],
        "required": [],
    },
    "status": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.abort": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.center": {
        "defaults": {
            "attempts": 5,
            "binning": None,
            "epoch": "J2000",
            "exposure": 2.0,
            "force": False,
            "method": "auto",
            "radius": 2.0,
            "time_limit": 30.0,
            "tolerance": 30.0,
        },
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": [
            "ra",
            "dec",
            "epoch",
            "tolerance",
            "attempts",
            "exposure",
            "binning",
            "radius",
            "time_limit",
            "method",
            "force",
        ],
        "required": ["ra", "dec"],
    },
    "telescope.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "telescope.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "telescope.get_site": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.goto": {
        "defaults": {"epoch": "J2000", "force": False, "timeout": 300.0, "track": True},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["ra", "dec", "epoch", "track", "timeout", "force"],
        "required": ["ra", "dec"],
    },
    "telescope.goto_altaz": {
        "defaults": {"force": False, "timeout": 300.0, "track": False},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["alt", "az", "track", "timeout", "force"],
        "required": ["alt", "az"],
    },
    "telescope.goto_hadec": {
        "defaults": {"force": False, "timeout": 300.0, "track": True},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["ha", "dec", "track", "timeout", "force"],
        "required": ["ha", "dec"],
    },
    "telescope.guide_rate": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.home": {
        "defaults": {"timeout": 300.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "telescope.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.move": {
        "defaults": {"duration": None},
        "events": ["action.started", "action.finished"],
        "params": ["direction", "duration"],
        "required": ["direction"],
    },
    "telescope.park": {
        "defaults": {"timeout": 300.0},
        "events": ["progress", "action.started", "action.progress", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "telescope.position": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.pulse_guide": {
        "defaults": {"timeout": None},
        "events": ["action.started", "action.finished"],
        "params": ["direction", "duration_ms", "timeout"],
        "required": ["direction", "duration_ms"],
    },
    "telescope.set_guide_rate": {
        "defaults": {"dec": None, "ra": None},
        "events": [],
        "params": ["ra", "dec"],
        "required": [],
    },
    "telescope.set_park": {
        "defaults": {"option": None, "position": None},
        "events": [],
        "params": ["option", "position"],
        "required": [],
    },
    "telescope.set_site": {
        "defaults": {"elevation": None, "latitude": None, "longitude": None},
        "events": [],
        "params": ["latitude", "longitude", "elevation"],
        "required": [],
    },
    "telescope.set_slew_rate": {
        "defaults": {},
        "events": [],
        "params": ["rate"],
        "required": ["rate"],
    },
    "telescope.set_time": {
        "defaults": {"utc": None},
        "events": [],
        "params": ["utc"],
        "required": [],
    },
    "telescope.set_track_mode": {
        "defaults": {},
        "events": [],
        "params": ["mode"],
        "required": ["mode"],
    },
    "telescope.set_track_rate": {
        "defaults": {"dec": None, "ra": None},
        "events": [],
        "params": ["ra", "dec"],
        "required": [],
    },
    "telescope.set_tracking": {"defaults": {}, "events": [], "params": ["on"], "required": ["on"]},
    "telescope.slew_rates": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.status": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.stop": {
        "defaults": {"direction": None},
        "events": [],
        "params": ["direction"],
        "required": [],
    },
    "telescope.sync": {
        "defaults": {"epoch": "J2000"},
        "events": ["action.started", "action.finished"],
        "params": ["ra", "dec", "epoch"],
        "required": ["ra", "dec"],
    },
    "telescope.track_modes": {"defaults": {}, "events": [], "params": [], "required": []},
    "telescope.unpark": {
        "defaults": {"force": False, "timeout": 60.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout", "force"],
        "required": [],
    },
    "weather.connect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "weather.disconnect": {
        "defaults": {"timeout": 30.0},
        "events": ["action.started", "action.finished"],
        "params": ["timeout"],
        "required": [],
    },
    "weather.info": {"defaults": {}, "events": [], "params": [], "required": []},
    "weather.refresh": {"defaults": {}, "events": [], "params": [], "required": []},
    "weather.state": {"defaults": {}, "events": ["weather.changed"], "params": [], "required": []},
    "weather.status": {"defaults": {}, "events": [], "params": [], "required": []},
}
