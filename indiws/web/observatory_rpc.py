"""``/ws/indi_client/`` methods of the observatory that are still written
by hand: the guide camera's (its verbs are the camera's, declared with it).
The verbs of the dome, rotator, flat panel, weather, GPS, the guider's
pulses and rates and the safety policy are declared once on their classes
(`indiws.verbs`, docs/verbs.md) and derived in `highlevel`.

A mixin of `IndiClientSocket` (its ``_device``, ``_run`` and ``_progress``
are used here): each method is a thin wrapper around one verb of
`indiws.devices` or `indiws.safety`.  Documented in docs/indi_client.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ..devices import UnsafeError
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


__all__ = ["ObservatoryRpc", "check_weather_override"]

register(UnsafeError, 409, -32055, "unsafe")

FrameType = Literal["light", "dark", "flat", "bias"]

#: Notifications of a long action (as in `indiws.web.highlevel`).
ACTION_EVENTS = ("progress", "action.started", "action.progress", "action.finished")


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
