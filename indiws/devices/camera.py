"""The camera role."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from ..analysis import analyse_frame
from ..blobs import BlobStore, default_store
from ..client import Device, INDIClient, InvalidValueError, Property
from ..fits_header import check_fits_cards
from ..protocol import BLOBMode, PropertyKind, PropertyState
from ..verbs import UNSET, NoParams, Params, Result, Timeout, UnsetType, check_ranges, verb
from . import astro
from .base import ProgressCallback, Range, RoleDevice, Update
from .errors import (
    ActionAborted,
    CapabilityError,
    DeviceBusyError,
    DiskFullError,
    FrameNotWrittenError,
)
from .exposure import Event, ExposureMachine, Phase
from .filter_wheel import FilterWheel
from .follow import Outcome, PropertyFollower, Step, follow

__all__ = ["FRAME_TYPES", "OPTIONS", "Camera", "GuideCamera"]

log = logging.getLogger("indiws.devices")

#: frame_type → CCD_FRAME_TYPE element.
FRAME_TYPES: dict[str, str] = {
    "light": "FRAME_LIGHT",
    "dark": "FRAME_DARK",
    "flat": "FRAME_FLAT",
    "bias": "FRAME_BIAS",
}
#: Optional settings (`Camera.options`), by name → switch property: the frame
#: type, which every camera has, and the switches some drivers add
#: (ToupTek-based drivers and their OEM versions name them so).
OPTIONS: dict[str, str] = {
    "frame_type": "CCD_FRAME_TYPE",
    "fan": "TC_FAN_CONTROL",
    "heater": "TC_HEAT_CONTROL",
    "conversion_gain": "TC_HCG_CONTROL",
    "low_noise": "TC_LOW_NOISE_CONTROL",
}
_ON_NAMES = frozenset({"ON", "ENABLE", "ENABLED", "INDI_ENABLED"})
_OFF_NAMES = frozenset({"OFF", "DISABLE", "DISABLED", "INDI_DISABLED"})
#: The frame settings an expose result repeats.
_SETTINGS = ("frame_type", "binning", "roi", "gain", "offset")


def _toggle(prop: Property) -> tuple[str, str] | None:
    """(on, off) elements of a two-state switch, known by their names
    (INDI_ENABLED/INDI_DISABLED, X_ON/X_OFF); None for any other switch.
    By name, not order: drivers put either first (TC_HEAT_CONTROL: OFF, ON)."""
    if len(prop.elements) != 2:
        return None
    on = off = None
    for name in prop.elements:
        upper = name.upper()
        if upper in _ON_NAMES or upper.endswith("_ON"):
            on = name
        elif upper in _OFF_NAMES or upper.endswith("_OFF"):
            off = name
    return (on, off) if on is not None and off is not None else None


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

FrameType = Literal["light", "dark", "flat", "bias"]
_Bin = Annotated[int, Meta(ge=1)]
#: Binning: one integer for both axes, or [x, y]; from 1.  (Lists, not
#: tuples: msgspec 0.23 crashes on a constrained int in a union with a tuple.)
Binning = _Bin | Annotated[list[_Bin], Meta(min_length=2, max_length=2)]
#: A region of interest: [x, y, width, height] in unbinned pixels, or "full".
Roi = (
    Annotated[list[Annotated[int, Meta(ge=0)]], Meta(min_length=4, max_length=4)] | Literal["full"]
)
Seconds = Annotated[float, Meta(ge=0, description="seconds", extra={"unit": "seconds"})]
Tolerance = Annotated[float, Meta(gt=0, description="degrees C", extra={"unit": "degrees C"})]


class GuiderExposeParams(Params):
    duration: Seconds
    frame_type: FrameType = "light"
    binning: Binning | None = None
    roi: Roi | None = None
    gain: float | None = None
    offset: float | None = None
    timeout: Timeout | None = None
    metadata: dict[str, Any] | None = None


class ExposeParams(GuiderExposeParams):
    replace: bool = False


class ConfigureParams(Params):
    frame_type: FrameType | None = None
    binning: Binning | None = None
    roi: Roi | None = None
    gain: float | None = None
    offset: float | None = None


class CoolerParams(Params):
    on: bool


#: A sensor's target temperature: above absolute zero, at most 100 °C (ASCOM's range).
Celsius = Annotated[
    float, Meta(ge=-273.15, le=100, description="degrees C", extra={"unit": "degrees C"})
]


class SetTemperatureParams(Params):
    target: Celsius
    wait: bool = False
    tolerance: Tolerance = 0.5
    timeout: Timeout | None = None


class FrameAnalysis(Result):
    """Stars and statistics of a frame (docs/analysis.md); ``error`` alone
    when it could not be read or measured."""

    width: int | UnsetType = UNSET
    height: int | UnsetType = UNSET
    stars: int | UnsetType = UNSET
    #: Stars measured (the well-exposed ones, at most a few hundred).
    measured_stars: int | UnsetType = UNSET
    hfr: float | None | UnsetType = UNSET
    fwhm: float | None | UnsetType = UNSET
    hfr_arcsec: float | None | UnsetType = UNSET
    fwhm_arcsec: float | None | UnsetType = UNSET
    hfr_min: float | None | UnsetType = UNSET
    hfr_max: float | None | UnsetType = UNSET
    hfr_mean: float | None | UnsetType = UNSET
    eccentricity: float | None | UnsetType = UNSET
    background: float | None | UnsetType = UNSET
    noise: float | None | UnsetType = UNSET
    min: float | None | UnsetType = UNSET
    max: float | None | UnsetType = UNSET
    median: float | None | UnsetType = UNSET
    mean: float | None | UnsetType = UNSET
    saturation: float | None | UnsetType = UNSET
    saturated_pixels: int | None | UnsetType = UNSET
    saturated_stars: int | UnsetType = UNSET
    pixel_scale: float | None | UnsetType = UNSET
    #: Seconds the analysis took.
    seconds: float | UnsetType = UNSET
    error: str | UnsetType = UNSET


class GuidingStats(Result):
    """The guider's errors over the exposure, in pixels (``arcsec``: the same
    in arcseconds, with a known scale)."""

    frames: int
    rms_ra: float | UnsetType = UNSET
    rms_dec: float | UnsetType = UNSET
    rms_total: float | UnsetType = UNSET
    peak: float | UnsetType = UNSET
    arcsec: dict[str, float] | UnsetType = UNSET


class ExposeResult(Result, forbid_unknown_fields=False):
    """The stored frame, its URLs and what it is; the keys of the call's
    ``metadata`` too (so not every key is listed here)."""

    action: str
    device: str
    elapsed: float
    blob_id: str
    #: /blobs/<id>, its PNG and JPEG previews.
    url: str
    preview_url: str
    preview_jpg_url: str
    size: int
    format: str
    content_type: str
    #: The file written in the frames folder (null: kept in memory only).
    path: str | None
    #: UTC, ISO 8601.
    created: str
    duration: float
    exposure: float
    frame_type: FrameType | None
    binning: list[int] | None
    roi: list[int] | None
    gain: float | None
    offset: float | None
    #: The filter in the light path (the filter wheel role's, else the camera's own).
    filter: str | None
    #: Sensor temperature, degrees C.
    temperature: float | None
    #: When the exposure started, UTC, ISO 8601.
    started: str
    camera: str
    analysis: FrameAnalysis
    guiding: GuidingStats | UnsetType = UNSET
    filter_wheel: str | UnsetType = UNSET
    telescope: str | UnsetType = UNSET
    #: Where the telescope pointed as it started, J2000, hours and degrees.
    ra: float | UnsetType = UNSET
    dec: float | UnsetType = UNSET
    pier_side: Literal["east", "west"] | UnsetType = UNSET
    site_latitude: float | UnsetType = UNSET
    site_longitude: float | UnsetType = UNSET
    site_elevation: float | UnsetType = UNSET
    focuser: str | UnsetType = UNSET
    focuser_position: int | UnsetType = UNSET
    focuser_temperature: float | UnsetType = UNSET


class CameraAbortResult(Result):
    """The camera stopped (stopped false: still exposing after the timeout)."""

    aborted: bool
    #: How many running actions were ended (with the aborted error).
    interrupted: int
    stopped: bool


class CameraSettings(Result):
    """The frame settings now (null: the camera has no such setting)."""

    frame_type: FrameType | None
    binning: list[int] | None
    #: [x, y, width, height] in unbinned pixels.
    roi: list[int] | None
    gain: float | None
    offset: float | None
    upload_mode: str | None
    transfer_format: str | None
    compression: bool


class CameraTemperature(Result):
    """Sensor temperature (degrees C), still ramping or not, the cooler."""

    temperature: float
    ramping: bool
    cooler: bool | None
    #: Percent.
    cooler_power: float | None


class SetTemperatureResult(CameraTemperature):
    """The target; with wait, reached once within tolerance."""

    target: float
    reached: bool | UnsetType = UNSET
    action: str | UnsetType = UNSET
    device: str | UnsetType = UNSET
    elapsed: float | UnsetType = UNSET


class SensorInfo(Result):
    """The sensor (CCD_INFO): size in pixels, pixel size in micrometres."""

    max_x: float | None
    max_y: float | None
    pixel_size: float | None
    pixel_size_x: float | None
    pixel_size_y: float | None
    bits_per_pixel: float | None


@contextlib.asynccontextmanager
async def _recorded(machine: ExposureMachine) -> AsyncIterator[None]:
    """Tell ``machine`` how an exposure ended from outside it: aborted
    (an abort, a newer exposure replacing it, a cancelled caller) or failed
    (a refusal, a timeout, a lost connection, a write error)."""
    try:
        yield
    except (ActionAborted, asyncio.CancelledError) as exc:
        if not machine.ended:
            machine.stop(Event.ABORT, str(exc))
        raise
    except BaseException as exc:
        if not machine.ended:
            machine.stop(Event.ERROR, str(exc))
        raise


def _binning(binning: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(binning, bool):
        raise InvalidValueError(f"binning must be an integer or [x, y], got {binning!r}")
    if isinstance(binning, int):
        pair = (binning, binning)
    elif isinstance(binning, Sequence) and not isinstance(binning, str) and len(binning) == 2:
        pair = (binning[0], binning[1])
    else:
        raise InvalidValueError(f"binning must be an integer or [x, y], got {binning!r}")
    for b in pair:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise InvalidValueError(f"binning must be positive integers, got {binning!r}")
    return pair


class CameraBrief(Result):
    """The camera's brief state (`Camera._status`)."""

    state: Literal["idle", "exposing", "error"]
    #: Seconds left of the exposure (null while not exposing).
    time_left: float | None
    #: °C (null without CCD_TEMPERATURE).
    temperature: float | None
    #: null without CCD_COOLER.
    cooler: bool | None
    #: The newest stored frame's blob id (null: none yet).
    last_frame: str | None


class CameraCapabilities(Result):
    """What the camera can do, from the properties it defines (ranges: the driver's)."""

    can_expose: bool
    can_abort: bool
    exposure_range: Range | None
    frame_types: list[str]
    can_bin: bool
    max_binning: Range | None
    can_subframe: bool
    has_gain: bool
    gain_range: Range | None
    has_offset: bool
    offset_range: Range | None
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


class CameraFacts(Result):
    """What `Camera.info` adds while connected: the sensor (with CCD_INFO)."""

    sensor: SensorInfo | UnsetType = UNSET


class Camera(RoleDevice):
    """A camera: exposures that end when the frame has arrived (stored in a
    `BlobStore`), abort, frame type, binning, ROI, gain/offset, cooler and
    temperature, sensor info.

    ``store``: where frames go (the process-wide `default_store()` if None).
    """

    role = "camera"
    brief = CameraBrief
    capabilities_shape = CameraCapabilities
    facts_shape = CameraFacts

    def __init__(
        self,
        client: INDIClient,
        device: str | None,
        *,
        store: BlobStore | None = None,
        filter_wheel: str | None = None,
        abort_on_cancel: bool = True,
        telescope: str | None = None,
        focuser: str | None = None,
        guiding: Callable[[float, float], dict[str, Any] | None] | None = None,
    ) -> None:
        super().__init__(client, device, abort_on_cancel=abort_on_cancel)
        #: The guider's statistics over an exposure (Unix start, end), for the
        #: frame's metadata and FITS header; None when nothing guides.
        self.guiding = guiding
        self.store = store if store is not None else default_store()
        #: The device whose filter frames are taken through (the filter
        #: wheel role); None: the camera's own wheel, if it has one.
        self.filter_wheel = filter_wheel
        #: The devices of the telescope and focuser roles, whose pointing,
        #: site and focus go into a frame's metadata (and FITS header).
        self.telescope = telescope
        self.focuser = focuser

    # Settings -----------------------------------------------------------

    def _control(self, what: str) -> tuple[str, str] | None:
        """(property, element) for gain or offset: CCD_GAIN/CCD_OFFSET, or an
        element of CCD_CONTROLS named like it (as ZWO/QHY drivers do)."""
        own = self._optional(f"CCD_{what.upper()}")
        if own is not None and own.elements:
            element = what.upper() if what.upper() in own.elements else next(iter(own.elements))
            return own.name, element
        controls = self._optional("CCD_CONTROLS")
        if controls is not None:
            for name in controls.elements:
                if name.lower() == what:
                    return controls.name, name
        return None

    def _control_value(self, what: str) -> float | None:
        target = self._control(what)
        return None if target is None else self._number(*target)

    @verb("guider.settings", NoParams, CameraSettings)
    @verb("camera.settings", NoParams, CameraSettings)
    def settings(self) -> dict[str, Any]:
        """The frame settings now.

        {frame_type, binning [x, y], roi [x, y, width, height], gain, offset,
        upload_mode, transfer_format, compression}."""
        self._connected()
        frame_type = None
        on = self._switch_on("CCD_FRAME_TYPE") or []
        for short, element in FRAME_TYPES.items():
            if element in on:
                frame_type = short
        binning = self._optional("CCD_BINNING")
        frame = self._optional("CCD_FRAME")
        return {
            "frame_type": frame_type,
            "binning": [int(binning["HOR_BIN"]), int(binning["VER_BIN"])] if binning else None,
            "roi": [int(frame[e]) for e in ("X", "Y", "WIDTH", "HEIGHT")] if frame else None,
            "gain": self._control_value("gain"),
            "offset": self._control_value("offset"),
            "upload_mode": (self._switch_on("UPLOAD_MODE") or [None])[0],
            "transfer_format": (self._switch_on("CCD_TRANSFER_FORMAT") or [None])[0],
            "compression": "INDI_ENABLED" in (self._switch_on("CCD_COMPRESSION") or []),
        }

    @verb("guider.configure", ConfigureParams, CameraSettings)
    @verb("camera.configure", ConfigureParams, CameraSettings)
    async def configure(
        self,
        *,
        frame_type: str | None = None,
        binning: int | Sequence[int] | None = None,
        roi: Sequence[int] | str | None = None,
        gain: float | None = None,
        offset: float | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Change frame settings without exposing (all checked before any is sent).

        None (or left out) leaves a setting as it is. binning: an integer or
        [x, y]; roi: [x, y, width, height] in unbinned sensor pixels, or
        "full" for the whole sensor. Answers the settings as camera.settings
        does."""
        dev = self._connected()
        # Check everything before changing anything.
        plan: list[tuple[str, dict[str, Any], str]] = []
        if frame_type is not None:
            prop = self._prop("CCD_FRAME_TYPE", "set a frame type")
            key = str(frame_type).strip().lower()
            element = FRAME_TYPES.get(key)
            if element is None or element not in prop.elements:
                offered = [k for k, e in FRAME_TYPES.items() if e in prop.elements]
                raise InvalidValueError(
                    f"frame_type must be one of {', '.join(offered)}, got {frame_type!r}"
                )
            plan.append(("CCD_FRAME_TYPE", {element: True}, "set_frame_type"))
        if binning is not None:
            self._prop("CCD_BINNING", "bin")
            bx, by = _binning(binning)
            plan.append(("CCD_BINNING", {"HOR_BIN": bx, "VER_BIN": by}, "set_binning"))
        if roi is not None:
            frame = self._prop("CCD_FRAME", "take a region of interest")
            plan.append(("CCD_FRAME", self._roi_values(frame, roi), "set_roi"))
        for what, value in (("gain", gain), ("offset", offset)):
            if value is None:
                continue
            target = self._control(what)
            if target is None:
                raise CapabilityError(
                    f"{dev.name} has no {what} control (no CCD_{what.upper()} or CCD_CONTROLS)",
                    device=dev.name,
                    role=self.role,
                    properties=[f"CCD_{what.upper()}"],
                )
            plan.append((target[0], {target[1]: value}, f"set_{what}"))
        for name, values, _ in plan:
            self.client.validate(dev.name, name, values)
        for name, values, step in plan:
            await self._set(name, values, verb=step, timeout=timeout)
        return self.settings()

    def _roi_values(self, frame: Property, roi: Sequence[int] | str) -> dict[str, Any]:
        max_x, max_y = self._sensor_size(frame)
        if isinstance(roi, str):
            if roi.strip().lower() != "full":
                raise InvalidValueError(f'roi must be [x, y, width, height] or "full", got {roi!r}')
            return {"X": 0, "Y": 0, "WIDTH": max_x, "HEIGHT": max_y}
        if not isinstance(roi, Sequence) or len(roi) != 4:
            raise InvalidValueError(f"roi must be [x, y, width, height], got {roi!r}")
        for v in roi:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidValueError(f"roi must be four numbers, got {roi!r}")
        x, y, w, h = (int(v) for v in roi)
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > max_x or y + h > max_y:
            raise InvalidValueError(
                f"roi {[x, y, w, h]} does not fit the {max_x:g}x{max_y:g} sensor"
            )
        return {"X": x, "Y": y, "WIDTH": w, "HEIGHT": h}

    def _sensor_size(self, frame: Property) -> tuple[int, int]:
        info = self._optional("CCD_INFO")
        if info is not None and "CCD_MAX_X" in info.elements:
            return int(info["CCD_MAX_X"]), int(info["CCD_MAX_Y"])
        return int(frame.elements["WIDTH"].max or 0), int(frame.elements["HEIGHT"].max or 0)

    # Options ------------------------------------------------------------

    def options(self) -> dict[str, dict[str, Any]]:
        """The optional settings (`OPTIONS`) this camera defines now, by name.

        An on/off switch: ``{property, label, kind: "toggle", on: bool}``;
        any other switch: ``{property, label, kind: "choice", value: <the
        element on>, choices: [{name, label}]}``.  Read-only ones are left out.
        """
        out: dict[str, dict[str, Any]] = {}
        for name, prop_name in OPTIONS.items():
            prop = self._optional(prop_name)
            if prop is None or prop.kind is not PropertyKind.SWITCH or not self._writable(prop):
                continue
            entry: dict[str, Any] = {"property": prop.name, "label": prop.label or prop.name}
            on = prop.on_switches()
            pair = _toggle(prop)
            if pair is not None:
                entry.update(kind="toggle", on=pair[0] in on)
            else:
                entry.update(
                    kind="choice",
                    value=on[0] if on else None,
                    choices=[
                        {"name": el.name, "label": el.label or el.name}
                        for el in prop.elements.values()
                    ],
                )
            out[name] = entry
        return out

    async def set_option(
        self, name: str, value: bool | str, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Set an option of `options()`: true/false for a toggle, an
        element's name or label (any case) for a choice.  Returns the option
        as `options()` shows it afterwards."""
        dev = self._connected()
        if name not in OPTIONS:
            raise InvalidValueError(
                f"unknown camera option {name!r}: choose one of {', '.join(OPTIONS)}"
            )
        option = self.options().get(name)
        if option is None:
            raise CapabilityError(
                f"{dev.name} has no {name.replace('_', ' ')} setting"
                f" (it does not define a writable {OPTIONS[name]})",
                device=dev.name,
                role=self.role,
                properties=[OPTIONS[name]],
            )
        prop = self.client.get_property(dev.name, option["property"])
        if option["kind"] == "toggle":
            if not isinstance(value, bool):
                raise InvalidValueError(f"{name} is on or off: give true or false, got {value!r}")
            pair = _toggle(prop)
            assert pair is not None
            element = pair[0] if value else pair[1]
        else:
            if not isinstance(value, str):
                raise InvalidValueError(f"{name}: give the name of a choice, got {value!r}")
            element = self._choose(prop, value, name.replace("_", " "))
        await self._set(
            prop.name, {element: True}, verb=f"set_{name}", timeout=timeout, accept_busy=True
        )
        return self.options()[name]

    # Exposure -----------------------------------------------------------

    async def _prepare_delivery(self, device: str) -> None:
        """Make the driver send the frame to us, as FITS."""
        await self.client.enable_blobs(device, BLOBMode.ALSO)
        upload = self._optional("UPLOAD_MODE")
        if upload is not None and "UPLOAD_CLIENT" in upload.elements:
            if not {"UPLOAD_CLIENT", "UPLOAD_BOTH"} & set(upload.on_switches()):
                await self._set("UPLOAD_MODE", {"UPLOAD_CLIENT": True}, verb="set_upload_mode")
        fmt = self._optional("CCD_TRANSFER_FORMAT")
        if fmt is not None and "FORMAT_FITS" in fmt.elements:
            if fmt.on_switches() != ["FORMAT_FITS"]:
                await self._set(
                    "CCD_TRANSFER_FORMAT", {"FORMAT_FITS": True}, verb="set_transfer_format"
                )

    async def _send_abort(self) -> None:
        if self.has("CCD_ABORT_EXPOSURE"):
            await self.client.set_property(self.name, "CCD_ABORT_EXPOSURE", {"ABORT": True})  # type: ignore[arg-type]

    @verb("guider.expose", GuiderExposeParams, ExposeResult, long=True, progress=True)
    @verb("camera.expose", ExposeParams, ExposeResult, long=True, progress=True)
    async def expose(
        self,
        duration: float,
        *,
        frame_type: str | None = "light",
        binning: int | Sequence[int] | None = None,
        roi: Sequence[int] | str | None = None,
        gain: float | None = None,
        offset: float | None = None,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
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
        action_failed."""
        try:
            check_fits_cards((metadata or {}).get("fits_cards"))
        except ValueError as error:
            raise InvalidValueError(str(error)) from None
        journal: list[int | None] = []
        try:
            return await self._expose(
                duration,
                frame_type=frame_type,
                binning=binning,
                roi=roi,
                gain=gain,
                offset=offset,
                timeout=timeout,
                progress=progress,
                metadata=metadata,
                journal=journal,
                replace=replace,
            )
        except BaseException as exc:
            if journal:
                code = getattr(exc, "code", None) or type(exc).__name__
                await asyncio.shield(self.store.end_exposure(journal[0], code, str(exc)))
            raise

    async def _expose(
        self,
        duration: float,
        *,
        frame_type: str | None,
        binning: int | Sequence[int] | None,
        roi: Sequence[int] | str | None,
        gain: float | None,
        offset: float | None,
        timeout: float | None,
        progress: ProgressCallback | None,
        metadata: dict[str, Any] | None,
        journal: list[int | None],
        replace: bool,
    ) -> dict[str, Any]:
        """One exposure through the phases of `ExposureMachine`."""
        dev = self._ready_to_expose(duration, "expose", replace=replace)
        duration = float(duration)
        machine = ExposureMachine(duration)
        # The action starts before the settings are applied, so that an abort
        # arriving meanwhile ends it before the exposure is started.
        async with (
            self._action(
                "expose",
                ["CCD_EXPOSURE", "CCD1"],
                timeout=timeout if timeout is not None else duration + 120.0,
                progress=progress,
                abort=self._send_abort,
                channel="exposure",
                main="CCD_EXPOSURE",
                params={"duration": duration},
            ) as act,
            _recorded(machine),
        ):
            # setting_up (inside the action: every client hears of a refusal).
            asked = {"duration": duration, **(metadata or {})}
            await self._check_space(dev.name, asked, binning, roi)
            journal.append(await self.store.begin_exposure(dev.name, asked))
            settings = await self.configure(
                frame_type=frame_type, binning=binning, roi=roi, gain=gain, offset=offset
            )
            await self._prepare_delivery(dev.name)
            params = {"duration": duration, **{k: settings[k] for k in _SETTINGS}}
            act.params.update(params)
            act.where = lambda: {"time_left": self._number("CCD_EXPOSURE", "CCD_EXPOSURE_VALUE")}
            observation = await self._observation()  # pointing, site, focus as it starts
            started_at = datetime.now(UTC)
            # starting, exposing, downloading, ending.
            await act.send("CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": duration})
            machine.sent(act.elapsed)
            frame, fmt = await self._follow_exposure(act, machine)
            # writing.
            meta = {
                **(metadata or {}),
                **params,
                **self._guiding_of(started_at),
                "exposure": duration,
                "filter": self._filter_name(),
                "temperature": self._number("CCD_TEMPERATURE", "CCD_TEMPERATURE_VALUE"),
                "started": started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                **observation,
            }
            result = await self._store_frame(act, frame, fmt, meta, journal[0])
            machine.stored()
            return act.done(result)

    async def _follow_exposure(self, act: Any, machine: ExposureMachine) -> tuple[bytes, str]:
        """The one driver of `ExposureMachine`: feeds it ``act``'s updates and
        timers from the command on, sends its reports, raises its ends;
        returns (frame bytes, format) once the frame is in hand."""
        while machine.phase is not Phase.WRITING:
            update = await act.next(machine.window(act.elapsed))
            step = (
                machine.expired(act.elapsed)
                if update is None
                else machine.feed(update, act.elapsed)
            )
            if step.event is Event.BUSY:
                act.details["time_left"] = machine.time_left
            if step.report is not None:
                act.report(step.report)
            if step.phase is Phase.FAILED:
                raise act.fail(f"{act.verb}: {step.reason}")
            if step.phase is Phase.ABORTED:
                raise act.stopped(f"{act.verb}: {step.reason}")
        assert machine.frame is not None
        return machine.frame, machine.format

    def _guiding_of(self, started_at: datetime) -> dict[str, Any]:
        """``{"guiding": stats}`` of the guider over the exposure, or nothing."""
        if self.guiding is None:
            return {}
        try:
            guided = self.guiding(started_at.timestamp(), datetime.now(UTC).timestamp())
        except Exception:  # statistics never cost a frame
            log.exception("guiding statistics of the exposure")
            return {}
        return {"guiding": guided} if guided else {}

    async def _store_frame(
        self, act: Any, frame: bytes, fmt: str, meta: dict[str, Any], exposure: int | None
    ) -> dict[str, Any]:
        """Analyse and store the frame (on disk, with a folder): the expose result."""
        duration = meta["exposure"]
        act.report({"state": "analysing", "time_left": 0.0, "duration": duration})
        # The store writes its cards (STARCNT, HFR, ...) into the header.
        meta["analysis"] = await analyse_frame(frame, fmt)
        act.report({"state": "saving", "time_left": 0.0, "duration": duration})
        info = await self.store.add(
            frame,
            device=act.device,
            property="CCD1",
            element="CCD1",
            format=fmt,
            metadata=meta,
            exposure=exposure,
        )
        if info.write_error is not None and getattr(self.store, "folder", None) is not None:
            # Never "taken" for a frame that is only in memory.
            raise FrameNotWrittenError(
                f"the frame arrived but could not be written to the frames folder: "
                f"{info.write_error}; it is served from memory for now as /blobs/{info.id}",
                device=act.device,
                role=self.role,
                action="expose",
                details={"blob_id": info.id, "error": info.write_error},
            )
        return {
            "blob_id": info.id,
            "size": info.size,
            "format": info.format,
            "content_type": info.content_type,
            "path": info.path,
            "created": info.created,
            **meta,
        }

    def _ready_to_expose(self, duration: float, verb: str, *, replace: bool = False) -> Device:
        """The connected device, able to send frames and not exposing, with
        ``duration`` valid for it; the error that says which is not so.
        ``replace``: an exposure of this service under way may be replaced."""
        dev = self._connected()
        self._check_channel_free("exposure", verb, replace, "exposing")
        exposure = self._prop("CCD_EXPOSURE", verb)
        self.client.validate(dev.name, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": duration})
        if "CCD1" not in dev.properties:
            raise CapabilityError(
                f"{dev.name} has no CCD1 BLOB: it cannot send frames",
                device=dev.name,
                role=self.role,
                properties=["CCD1"],
            )
        ours = any(a["action"] == "expose" for a in self.running())
        if exposure.state is PropertyState.BUSY and not (replace and ours):
            raise DeviceBusyError(
                f"{dev.name} is already exposing: wait or abort first",
                device=dev.name,
                role=self.role,
            )
        return dev

    async def capture(
        self,
        duration: float,
        *,
        binning: int | Sequence[int] | None = None,
        roi: Sequence[int] | str | None = None,
        timeout: float | None = None,
    ) -> tuple[bytes, str]:
        """One frame that is not stored nor announced (a guide or framing
        frame): returns (frame bytes, format) once it has arrived.  Settings
        given are applied first; cancelling aborts the exposure."""
        dev = self._ready_to_expose(duration, "capture")
        duration = float(duration)
        if binning is not None or roi is not None:
            await self.configure(binning=binning, roi=roi)
        await self._prepare_delivery(dev.name)
        machine = ExposureMachine(duration)
        limit = timeout if timeout is not None else duration + 60.0
        async with (
            self._action(
                "capture", ["CCD_EXPOSURE", "CCD1"], timeout=limit, main="CCD_EXPOSURE", quiet=True
            ) as act,
            _recorded(machine),
        ):
            await act.send("CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": duration})
            machine.sent(act.elapsed)
            try:
                return await self._follow_exposure(act, machine)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._send_abort()), 5)
                raise

    def expected_frame_bytes(
        self, binning: int | Sequence[int] | None = None, roi: Sequence[int] | str | None = None
    ) -> int:
        """The size of the next frame's FITS file, from the sensor (CCD_INFO),
        the region (CCD_FRAME or ``roi``), binning and bits per pixel, as the
        driver sends it uncompressed (plus a header); 0 when unknown."""
        frame = self._optional("CCD_FRAME")
        if isinstance(roi, str) or frame is None:
            width, height = self._sensor_size(frame) if frame is not None else (0, 0)
        elif roi is not None and len(roi) == 4:
            width, height = int(roi[2]), int(roi[3])
        else:
            width, height = int(frame["WIDTH"] or 0), int(frame["HEIGHT"] or 0)
        if binning is not None:
            bx, by = _binning(binning)
        else:
            current = self._optional("CCD_BINNING")
            bx, by = (int(current["HOR_BIN"]), int(current["VER_BIN"])) if current else (1, 1)
        bits = self._number("CCD_INFO", "CCD_BITSPERPIXEL") or 16
        pixels = (width // max(1, bx)) * (height // max(1, by))
        return pixels * max(1, int(bits) // 8) + 4 * 2880 if pixels else 0

    async def _check_space(
        self,
        device: str,
        params: dict[str, Any],
        binning: int | Sequence[int] | None,
        roi: Sequence[int] | str | None,
    ) -> None:
        expected = self.expected_frame_bytes(binning, roi)
        short = self.store.space_shortfall(expected)
        if short is None:
            return
        free, needed = short.get("free", 0), short.get("needed")
        error = DiskFullError(
            f"no room for the frame in {short['folder']}: {free / 1e6:.0f} MB free, "
            + (
                f"{needed / 1e6:.0f} MB needed (the frame, about {expected / 1e6:.1f} MB, "
                f"and a margin of {short['margin'] / 1e6:.0f} MB)"
                if "margin" in short
                else short.get("error", "")
            )
            + "; free some space or choose another frames folder",
            device=self.name,
            role=self.role,
            details=short,
        )
        # An unattended night: the refusal goes to the log and the journal too.
        log.warning(
            "%s: exposure refused, no room for the frame in %s: %d bytes free, %s bytes needed",
            device,
            short["folder"],
            free,
            needed,
        )
        await asyncio.shield(self.store.refuse_exposure(device, params, f"disk_full: {error}"))
        raise error

    async def _observation(self) -> dict[str, Any]:
        """What the other roles tell of this frame: pointing (J2000), pier
        side, site, focuser position and temperature, the devices' names.
        Best effort: a role without a device, or a device without the
        property, leaves its keys out."""
        out: dict[str, Any] = {"camera": self.name}
        if self.filter_wheel:
            out["filter_wheel"] = self.filter_wheel
        if self.telescope and self.telescope in self.client.devices:
            scope = RoleDevice(self.client, self.telescope)
            out["telescope"] = self.telescope
            ra = scope._number("EQUATORIAL_EOD_COORD", "RA")
            dec = scope._number("EQUATORIAL_EOD_COORD", "DEC")
            if ra is not None and dec is not None:
                out["ra"], out["dec"] = await asyncio.to_thread(astro.jnow_to_j2000, ra, dec)
            elif scope.has("EQUATORIAL_COORD"):
                out["ra"] = scope._number("EQUATORIAL_COORD", "RA")
                out["dec"] = scope._number("EQUATORIAL_COORD", "DEC")
            side = scope._switch_on("TELESCOPE_PIER_SIDE") or []
            if side:
                out["pier_side"] = "east" if "PIER_EAST" in side else "west"
            lat = scope._number("GEOGRAPHIC_COORD", "LAT")
            if lat is not None:
                lon = scope._number("GEOGRAPHIC_COORD", "LONG") or 0.0
                out.update(
                    site_latitude=lat,
                    site_longitude=astro.longitude_east(lon),
                    site_elevation=scope._number("GEOGRAPHIC_COORD", "ELEV"),
                )
        if self.focuser and self.focuser in self.client.devices:
            focus = RoleDevice(self.client, self.focuser)
            out["focuser"] = self.focuser
            position = focus._number("ABS_FOCUS_POSITION", "FOCUS_ABSOLUTE_POSITION")
            if position is not None:
                out["focuser_position"] = int(position)
            temp = focus._number("FOCUS_TEMPERATURE", "TEMPERATURE")
            if temp is not None:
                out["focuser_temperature"] = temp
        return {k: v for k, v in out.items() if v is not None}

    def _filter_name(self) -> str | None:
        """The filter in the light path: the filter wheel's, else the camera's own."""
        source = self
        if self.filter_wheel is not None:
            source = FilterWheel(self.client, self.filter_wheel)
        slot = source._number("FILTER_SLOT", "FILTER_SLOT_VALUE")
        names = source._optional("FILTER_NAME")
        if slot is None or names is None:
            return None
        values = list(names.values().values())
        index = int(round(slot)) - 1
        return str(values[index]) if 0 <= index < len(values) else None

    @verb("guider.abort", NoParams, CameraAbortResult)
    @verb("camera.abort", NoParams, CameraAbortResult)
    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Abort the exposure (CCD_ABORT_EXPOSURE); answers once the camera stopped.

        Every running action of the role on this device ends with the aborted
        error (a set_temperature wait too: the cooler keeps its target)."""
        self._prop("CCD_ABORT_EXPOSURE", "abort an exposure")
        interrupted = self._interrupt_actions("aborted on request (camera abort)")
        await self._send_abort()
        stopped = True
        exposure = self._optional("CCD_EXPOSURE")
        if exposure is not None:
            try:
                await self.client.wait_idle(self.name, "CCD_EXPOSURE", timeout)  # type: ignore[arg-type]
            except TimeoutError:
                stopped = False
        return {"aborted": True, "interrupted": interrupted, "stopped": stopped}

    # Cooling ------------------------------------------------------------

    @verb("camera.set_cooler", CoolerParams, CameraTemperature)
    async def set_cooler(self, on: bool, *, timeout: float = 10.0) -> dict[str, Any]:
        """Turn the cooler on or off (CCD_COOLER); answers the temperature as camera.temperature."""
        if not isinstance(on, bool):
            raise InvalidValueError(f"cooler must be true or false, got {on!r}")
        self._prop("CCD_COOLER", "switch a cooler")
        element = "COOLER_ON" if on else "COOLER_OFF"
        await self._set(
            "CCD_COOLER", {element: True}, verb="set_cooler", timeout=timeout, accept_busy=True
        )
        return self.temperature()

    @verb("camera.temperature", NoParams, CameraTemperature)
    def temperature(self) -> dict[str, Any]:
        """Sensor temperature now: {temperature (°C), ramping, cooler, cooler_power}."""
        prop = self._prop("CCD_TEMPERATURE", "report a temperature")
        cooler = self._switch_on("CCD_COOLER")
        power = self._optional("CCD_COOLER_POWER")
        return {
            "temperature": float(prop["CCD_TEMPERATURE_VALUE"]),
            "ramping": prop.state is PropertyState.BUSY,
            "cooler": None if cooler is None else "COOLER_ON" in cooler,
            "cooler_power": float(next(iter(power.values().values()))) if power else None,
        }

    @verb(
        "camera.set_temperature",
        SetTemperatureParams,
        SetTemperatureResult,
        long=True,
        progress=True,
    )
    async def set_temperature(
        self,
        target: float,
        *,
        wait: bool = False,
        tolerance: float = 0.5,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Set the sensor's target temperature (CCD_TEMPERATURE, °C).

        Without wait it answers once the driver took the target; with wait, once
        the temperature is within tolerance °C (progress: {state: cooling|warming,
        temperature, target, delta}; timeout default 15 min, then the timeout
        error; the cooler keeps its target either way)."""
        dev = self._connected()
        self._prop("CCD_TEMPERATURE", "set a temperature")
        self.client.validate(dev.name, "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": target})
        target = float(target)
        check_ranges(SetTemperatureParams, target=target)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance <= 0:
            raise InvalidValueError(f"tolerance must be a positive number, got {tolerance!r}")
        if not wait:
            await self._set(
                "CCD_TEMPERATURE",
                {"CCD_TEMPERATURE_VALUE": target},
                verb="set_temperature",
                timeout=timeout or 10.0,
                accept_busy=True,
            )
            return {"target": target, **self.temperature()}
        async with self._action(
            "set_temperature",
            ["CCD_TEMPERATURE"],
            timeout=timeout or 900.0,
            progress=progress,
            channel="temperature",
            params={"target": target, "tolerance": tolerance},
        ) as act:
            await act.send("CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": target})

            def delta_of(u: Update) -> float:
                return float(u["CCD_TEMPERATURE_VALUE"]) - target

            def ramping(u: Update, step: Step) -> None:
                if step.outcome is Outcome.FAILED:
                    return
                current = float(u["CCD_TEMPERATURE_VALUE"])
                delta = current - target
                act.details.update(temperature=current, delta=delta)
                act.report(
                    {
                        "state": "cooling" if delta > 0 else "warming",
                        "temperature": current,
                        "target": target,
                        "delta": delta,
                    }
                )

            await follow(
                act,
                PropertyFollower(
                    "CCD_TEMPERATURE",
                    done=lambda u, _: abs(delta_of(u)) <= tolerance,
                    accept_busy=True,  # Busy while the temperature ramps
                    after_start="wait",
                    failed="set_temperature: the cooler failed",
                ),
                ramping,
            )
            return act.done({"target": target, "reached": True, **self.temperature()})

    # Facts --------------------------------------------------------------

    @verb("camera.sensor_info", NoParams, SensorInfo)
    def sensor_info(self) -> dict[str, Any]:
        """The sensor (CCD_INFO): size in pixels, pixel size, bits per pixel.

        {max_x, max_y (pixels), pixel_size, pixel_size_x, pixel_size_y (µm),
        bits_per_pixel}."""
        prop = self._prop("CCD_INFO", "report sensor information")
        v = prop.values()
        return {
            "max_x": v.get("CCD_MAX_X"),
            "max_y": v.get("CCD_MAX_Y"),
            "pixel_size": v.get("CCD_PIXEL_SIZE"),
            "pixel_size_x": v.get("CCD_PIXEL_SIZE_X"),
            "pixel_size_y": v.get("CCD_PIXEL_SIZE_Y"),
            "bits_per_pixel": v.get("CCD_BITSPERPIXEL"),
        }

    def _status(self) -> dict[str, Any]:
        exposure = self._optional("CCD_EXPOSURE")
        state = "idle"
        time_left = None
        if exposure is not None:
            if exposure.state is PropertyState.BUSY:
                state = "exposing"
                time_left = float(exposure["CCD_EXPOSURE_VALUE"])
            elif exposure.state is PropertyState.ALERT:
                state = "error"
        temp = self._optional("CCD_TEMPERATURE")
        cooler = self._switch_on("CCD_COOLER")
        return {
            "state": state,
            "time_left": time_left,
            "temperature": float(temp["CCD_TEMPERATURE_VALUE"]) if temp else None,
            "cooler": None if cooler is None else "COOLER_ON" in cooler,
            "last_frame": (lambda i: i.id if i else None)(self.store.latest(self.name)),
        }

    def _capabilities(self) -> dict[str, Any]:
        exposure = self._optional("CCD_EXPOSURE")
        frame_types = self._optional("CCD_FRAME_TYPE")
        binning = self._optional("CCD_BINNING")
        gain, offset = self._control("gain"), self._control("offset")

        def limits(target: tuple[str, str] | None) -> list[float | None] | None:
            if target is None:
                return None
            el = self.client.get_property(self.name, target[0]).elements[target[1]]  # type: ignore[arg-type]
            return [el.min, el.max]

        exp_el = exposure.elements.get("CCD_EXPOSURE_VALUE") if exposure else None
        bin_el = binning.elements if binning else {}
        return {
            "can_expose": exposure is not None and self.has("CCD1"),
            "can_abort": self.has("CCD_ABORT_EXPOSURE"),
            "exposure_range": [exp_el.min, exp_el.max] if exp_el else None,
            "frame_types": [
                k for k, e in FRAME_TYPES.items() if frame_types and e in frame_types.elements
            ],
            "can_bin": binning is not None,
            "max_binning": [bin_el["HOR_BIN"].max, bin_el["VER_BIN"].max]
            if "HOR_BIN" in bin_el and "VER_BIN" in bin_el
            else None,
            "can_subframe": self._writable(self._optional("CCD_FRAME")),
            "has_gain": gain is not None,
            "gain_range": limits(gain),
            "has_offset": offset is not None,
            "offset_range": limits(offset),
            "has_cooler": self.has("CCD_COOLER"),
            "has_temperature": self.has("CCD_TEMPERATURE"),
            "can_set_temperature": self._writable(self._optional("CCD_TEMPERATURE")),
            "has_cooler_power": self.has("CCD_COOLER_POWER"),
            "has_compression": self.has("CCD_COMPRESSION"),
            "upload_modes": list(self._optional("UPLOAD_MODE").elements)  # type: ignore[union-attr]
            if self.has("UPLOAD_MODE")
            else [],
            "transfer_formats": list(self._optional("CCD_TRANSFER_FORMAT").elements)  # type: ignore[union-attr]
            if self.has("CCD_TRANSFER_FORMAT")
            else [],
            "has_guide_head": self.has("GUIDER_EXPOSURE"),
            "has_filter_wheel": self.has("FILTER_SLOT"),
            "can_stream": self.has("CCD_VIDEO_STREAM"),
        }

    def _facts(self) -> dict[str, Any]:
        return {"sensor": self.sensor_info()} if self.has("CCD_INFO") else {}


class GuideCamera(Camera):
    """The guide camera: a second camera, playing the ``guider`` role."""

    role = "guider"
