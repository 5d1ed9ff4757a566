"""What the guiding verbs answer (``guiding.*`` on ``/ws/indi_client/``), as
`indiws.verbs.Result` structs: ``rpc.discover`` shows their schemas and the
Python client their TypedDicts (docs/verbs.md).  The fields are those of
`GuidingEngine.status`, `Statistics.summary`, `Calibration.to_dict`,
`SettleTracker.done_event` and `GuideStep.to_event`."""

from __future__ import annotations

from typing import Literal

from ..verbs import UNSET, Described, Result, UnsetType
from .engine import GuiderConfig

__all__ = [
    "CalibrationCleared",
    "CalibrationData",
    "GuideHistory",
    "GuideRms",
    "GuideStar",
    "GuideStats",
    "GuideStepRecord",
    "GuidingBrief",
    "GuidingStatus",
    "LockPosition",
    "SettleOutcome",
]

#: PHD2's application states (`engine.APP_STATES`).
AppState = Literal["Stopped", "Selected", "Calibrating", "Guiding", "LostLock", "Paused", "Looping"]


class GuideRms(Result):
    """RMS and peak of the guide error over the last frames (pixels or arcsec)."""

    rms_ra: float
    rms_dec: float
    rms_total: float
    peak_ra: float
    peak_dec: float


class GuideStats(Result):
    """The guide error over the last frames (`Statistics.summary`); ``pixels``
    once a frame was guided, ``arcsec`` too with a known pixel scale."""

    frames: int
    #: Arcsec per pixel (null: unknown).
    pixel_scale: float | None
    pixels: GuideRms | UnsetType = UNSET
    arcsec: GuideRms | UnsetType = UNSET


class GuideStar(Result):
    """The guide star as measured in the newest frame (frame pixels)."""

    x: float
    y: float
    mass: float
    snr: float
    #: Half-flux diameter (px).
    hfd: float
    peak: float
    saturated: bool


class CalibrationData(Result):
    """A calibration (`Calibration.to_dict`): how the star moves per ms of pulse."""

    #: Radians, image x to y, of a West / a North pulse.
    ra_angle: float
    dec_angle: float
    #: Pixels per millisecond.
    ra_rate: float
    dec_rate: float
    declination: float | None
    pier_side: str | None
    binning: int
    created: str
    mount: str
    camera: str
    steps: Described(dict[str, int], "pulses each calibration leg took, by leg name")
    #: Pixels per second the star drifted while calibrating [x, y].
    drift: list[float]
    ra_angle_deg: float
    dec_angle_deg: float
    orthogonality_error_deg: float


class GuidingStatus(Result):
    """Everything a panel shows of the guider (`GuidingEngine.status`)."""

    state: AppState
    capturing: bool
    paused: bool
    settling: bool
    #: The devices of the guider and telescope roles.
    camera: str | None
    mount: str | None
    connected: bool
    star: GuideStar | None
    #: [x, y] frame pixels.
    lock_position: list[float] | None
    #: [x, y, width, height] of the frame read around the star.
    subframe: list[int] | None
    calibrated: bool
    calibration: CalibrationData | None
    pixel_scale: float | None
    frame: int
    guide_frame: int
    stats: GuideStats
    last_error: str | None
    settings: GuiderConfig


class GuidingBrief(Result):
    """The guider's state in the periodic ``status`` (`guiding_brief`)."""

    state: AppState
    calibrated: bool
    settling: bool
    rms: GuideRms | None
    rms_arcsec: GuideRms | None


class LockPosition(Result):
    """The lock position (frame pixels)."""

    x: float
    y: float


class SettleOutcome(Result):
    """``guiding.start``/``calibrate``/``dither``: with wait, once settled
    (PHD2's SettleDone fields: Status 0, TotalFrames, DroppedFrames); without,
    ``settling`` at once."""

    #: The application state now.
    status: AppState
    settled: bool | UnsetType = UNSET
    settling: bool | UnsetType = UNSET
    Status: int | UnsetType = UNSET
    Error: str | UnsetType = UNSET
    TotalFrames: int | UnsetType = UNSET
    DroppedFrames: int | UnsetType = UNSET


class CalibrationCleared(Result):
    """Whether a calibration is still known (false once cleared)."""

    calibrated: bool


class GuideStepRecord(Result):
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
    #: Epoch seconds of the frame.
    time: float
    lock: list[float]
    x: float
    y: float
    #: Pulses, when one was sent (ms; North/South/East/West).
    RADuration: float | UnsetType = UNSET
    RADirection: str | UnsetType = UNSET
    DECDuration: float | UnsetType = UNSET
    DECDirection: str | UnsetType = UNSET
    RALimited: bool | UnsetType = UNSET
    DecLimited: bool | UnsetType = UNSET


class GuideHistory(Result):
    """The newest guide steps, oldest first, and the statistics."""

    steps: list[GuideStepRecord]
    stats: GuideStats
