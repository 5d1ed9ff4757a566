"""The built-in autoguider (docs/guiding.md): star selection and centroids
(`star`), calibration (`calibration`), the guide algorithms, settling and
statistics (`control`), all without I/O, and the engine that runs them over
the guider role's camera and the mount (`engine`)."""

from .calibration import Calibration, CalibrationError, CalibrationRun
from .control import SettleRule
from .engine import APP_STATES, EXPOSURE_DURATIONS, GuiderConfig, GuidingEngine, GuidingError

__all__ = [
    "APP_STATES",
    "EXPOSURE_DURATIONS",
    "Calibration",
    "CalibrationError",
    "CalibrationRun",
    "GuiderConfig",
    "GuidingEngine",
    "GuidingError",
    "SettleRule",
]
