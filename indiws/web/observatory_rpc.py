"""``/ws/indi_client/`` methods of the observatory that are still written
by hand: the guide camera's (its verbs are the camera's, declared with it)
and the safety policy's.  The verbs of the dome, rotator, flat panel,
weather, GPS and the guider's pulses and rates are declared once on their
device classes (`indiws.verbs`, docs/verbs.md) and derived in `highlevel`.

A mixin of `IndiClientSocket` (its ``_device``, ``_run`` and ``_progress``
are used here): each method is a thin wrapper around one verb of
`indiws.devices` or `indiws.safety`.  Documented in docs/indi_client.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ..devices import UnsafeError
from .base import requester
from .blobs import frame_urls
from .errors import invalid_params, register
from .jsonrpc import rpc
from .limits import check_timeout


def check_weather_override(on: Any, note: Any) -> None:
    """The parameters of a weather override (JSON-RPC and REST alike)."""
    if not isinstance(on, bool):
        raise invalid_params("on must be true or false", param="on")
    if note is not None and (not isinstance(note, str) or len(note) > 200):
        raise invalid_params("note must be a text of at most 200 characters", param="note")


__all__ = ["OBSERVATORY_EVENTS", "ObservatoryRpc"]

register(UnsafeError, 409, -32055, "unsafe")

FrameType = Literal["light", "dark", "flat", "bias"]

#: Notifications of a long action (as in `indiws.web.highlevel`).
ACTION_EVENTS = ("progress", "action.started", "action.progress", "action.finished")
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

    @rpc("guider.expose", events=ACTION_EVENTS)
    async def guider_expose(
        self,
        duration: float,
        frame_type: FrameType = "light",
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
        timeout: float | None = None,
        metadata: dict | None = None,
    ) -> dict:
        """Take one guide frame; answers once it has arrived and is stored.

        Parameters, progress and result as camera.expose (the frame is served
        at /blobs/<id> like the main camera's, and by /PAA/newest_guider_jpg/)."""
        result = await self._run(
            self._device("guider").expose(
                duration,
                frame_type=frame_type,
                binning=binning,
                roi=roi,
                gain=gain,
                offset=offset,
                timeout=_limit(timeout),
                progress=self._progress(),
                metadata=metadata,
            )
        )
        if isinstance(result, dict) and isinstance(result.get("blob_id"), str):
            return {**result, **frame_urls(result["blob_id"])}
        return result

    @rpc("guider.abort")
    async def guider_abort(self) -> dict:
        """Abort the guide exposure; answers once stopped: {aborted, interrupted, stopped}."""
        return await self._run(self._device("guider").abort())

    @rpc("guider.settings")
    async def guider_settings(self) -> dict:
        """The guide camera's frame settings, as camera.settings."""
        return self._device("guider").settings()

    @rpc("guider.configure")
    async def guider_configure(
        self,
        frame_type: FrameType | None = None,
        binning: int | list[int] | None = None,
        roi: list[int] | Literal["full"] | None = None,
        gain: float | None = None,
        offset: float | None = None,
    ) -> dict:
        """Change the guide camera's frame settings without exposing; answers the settings."""
        return await self._run(
            self._device("guider").configure(
                frame_type=frame_type, binning=binning, roi=roi, gain=gain, offset=offset
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
