"""The guider role: the guide camera (every verb of `Camera`: expose,
binning, ROI, frames stored like the main camera's) plus timed guide pulses
and guide rates.

A pulse goes through whichever device offers TELESCOPE_TIMED_GUIDE_NS/WE:
the guide camera's own ST4 port, or the mount (the telescope role).
``via="auto"`` takes the camera's port when it has one, else the mount.
Guide rates are the mount's (GUIDE_RATE): an ST4 pulse moves the mount at
its guide rate too.
"""

from __future__ import annotations

from typing import Any, Literal

from ..blobs import BlobStore
from ..client import INDIClient, InvalidValueError
from ..verbs import NoParams, Params, PulseMs, Result, Timeout, verb
from .base import RoleDevice
from .camera import CameraCapabilities, GuideCamera
from .errors import CapabilityError, NoDeviceError
from .telescope import (
    Direction,
    GuideRate,
    PulseGuideResult,
    RatesParams,
    Telescope,
    pulse_guide,
)

__all__ = ["GUIDE_PROPERTIES", "Guider"]

GUIDE_PROPERTIES = ("TELESCOPE_TIMED_GUIDE_NS", "TELESCOPE_TIMED_GUIDE_WE")
Via = Literal["auto", "camera", "mount"]


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------


class GuiderPulseParams(Params):
    direction: Direction
    duration_ms: PulseMs
    via: Via = "auto"
    timeout: Timeout | None = None


class GuiderPulseResult(PulseGuideResult):
    """The pulse that was sent, once it ended, and the port it went through."""

    via: Literal["camera", "mount"]


class GuidingStopped(Result):
    """Running pulses ended (how many), and whether a guide exposure was aborted."""

    interrupted: int
    exposure_aborted: bool


class _GuidePort(RoleDevice):
    """The mount seen as the guider's pulse port: its pulses are actions of
    the guider role (listed, aborted and announced as such)."""

    role = "guider"


class GuiderCapabilities(CameraCapabilities):
    """What the guide camera can do, and how it can pulse."""

    #: The camera has an ST4 port (TELESCOPE_TIMED_GUIDE_NS/WE).
    can_pulse_camera: bool
    #: The telescope role's mount takes timed guide pulses.
    can_pulse_mount: bool
    has_guide_rate: bool


class Guider(GuideCamera):
    """The guide camera with pulse guiding.

    ``mount``: the device of the telescope role, for pulses ``via`` the
    mount and for the guide rates.
    """

    capabilities_shape = GuiderCapabilities

    def __init__(
        self,
        client: INDIClient,
        device: str | None,
        *,
        store: BlobStore | None = None,
        mount: str | None = None,
        abort_on_cancel: bool = True,
    ) -> None:
        super().__init__(client, device, store=store, abort_on_cancel=abort_on_cancel)
        self.mount = mount

    def _has_st4(self) -> bool:
        return self.has(*GUIDE_PROPERTIES)

    def _mount_port(self) -> _GuidePort:
        if self.mount is None:
            raise NoDeviceError(
                "no device is assigned to the telescope role: pulses via the mount need one",
                role="telescope",
            )
        return _GuidePort(self.client, self.mount, abort_on_cancel=self.abort_on_cancel)

    def _port(self, via: str) -> tuple[str, RoleDevice]:
        if via not in ("auto", "camera", "mount"):
            raise InvalidValueError(f"via must be auto, camera or mount, got {via!r}")
        if via == "camera" or (via == "auto" and self._has_st4()):
            if not self._has_st4():
                dev = self._connected()
                raise CapabilityError(
                    f"{dev.name} has no ST4 guide port (it does not define "
                    f"{' and '.join(GUIDE_PROPERTIES)}): guide via the mount",
                    device=dev.name,
                    role=self.role,
                    properties=list(GUIDE_PROPERTIES),
                )
            return "camera", self
        return "mount", self._mount_port()

    @verb("guider.pulse", GuiderPulseParams, GuiderPulseResult, moves=True, long=True)
    async def pulse(
        self,
        direction: str,
        duration_ms: float,
        *,
        via: str = "auto",
        timeout: float | None = None,
        quiet: bool = False,
    ) -> dict[str, Any]:
        """A timed guide pulse (TELESCOPE_TIMED_GUIDE_NS/WE); answers when it ended.

        via: "camera" (the guide camera's ST4 port), "mount" (the telescope
        role's device) or "auto" (the camera's port when it has one, else the
        mount). Result: {direction, duration_ms, via, device, elapsed}. Errors:
        capability_missing (no such port), no_device (no mount for via mount)."""
        name, port = self._port(via)
        result = await pulse_guide(port, direction, duration_ms, timeout=timeout, quiet=quiet)
        return {**result, "via": name}

    @verb("guider.guide_rate", NoParams, GuideRate)
    def guide_rate(self) -> dict[str, Any]:
        """The mount's guide rates, fractions of sidereal (GUIDE_RATE): {ra, dec}."""
        return Telescope(self.client, self._mount_port().name).guide_rate()

    @verb("guider.set_guide_rate", RatesParams, GuideRate)
    async def set_guide_rate(
        self, ra: float | None = None, dec: float | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Set the mount's guide rates, fractions of sidereal: {ra, dec}."""
        mount = Telescope(self.client, self._mount_port().name)
        return await mount.set_guide_rate(ra, dec, timeout=timeout)

    @verb("guider.stop", NoParams, GuidingStopped)
    async def stop_guiding(self) -> dict[str, Any]:
        """Stop guiding: running pulses end (aborted), a guide exposure is aborted.

        Result: {interrupted (actions ended), exposure_aborted}."""
        interrupted = self._interrupt_actions("guiding stopped")
        if self.mount is not None:
            interrupted += self._mount_port()._interrupt_actions("guiding stopped")
        exposing = False
        dev = self.client.devices.get(self.name) if self.name else None
        if dev is not None and dev.connected and self.has("CCD_ABORT_EXPOSURE"):
            exposure = dev.properties.get("CCD_EXPOSURE")
            exposing = exposure is not None and exposure.busy
            if exposing:
                await self.abort()
        return {"interrupted": interrupted, "exposure_aborted": exposing}

    def _capabilities(self) -> dict[str, Any]:
        mount = self.client.devices.get(self.mount) if self.mount else None
        return {
            **super()._capabilities(),
            "can_pulse_camera": self._has_st4(),
            "can_pulse_mount": mount is not None
            and all(n in mount.properties for n in GUIDE_PROPERTIES),
            "has_guide_rate": mount is not None and "GUIDE_RATE" in mount.properties,
        }
