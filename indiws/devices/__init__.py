"""High-level verbs for the devices that play a role: telescope, camera,
focuser, filter wheel, guider, dome, rotator, flat panel, weather, GPS.
Free of any web framework; the web layer calls them.

    telescope = Telescope(client, "Telescope Simulator")
    await telescope.connect()
    await telescope.unpark()
    result = await telescope.goto(5.5, 22.0, epoch="J2000", progress=print)

Every long verb ends only when the action has really ended, returns a
result dict, and raises one of the errors in `indiws.devices.errors`.
"""

from __future__ import annotations

from ..verbs import VERBS

# The procedures declared as verbs: focuser.autofocus, camera.analyse,
# camera.solve, telescope.center.
from . import autofocus, centering  # noqa: F401
from .base import (
    ACTION_STARTED,
    Action,
    ActionListener,
    ProgressCallback,
    RoleDevice,
    abort_action,
    finished_action,
    recent_actions,
    running_actions,
    set_safety_guard,
    subscribe_actions,
    until_started,
    wait_acknowledged,
)
from .camera import FRAME_TYPES, Camera, GuideCamera
from .common import declare_common_verbs, info_struct
from .dome import Dome
from .errors import (
    ActionAborted,
    ActionFailed,
    ActionTimeout,
    BelowHorizonError,
    CapabilityError,
    DeviceBusyError,
    DeviceError,
    DeviceNotConnectedError,
    DeviceStateError,
    DiskFullError,
    FrameNotWrittenError,
    InvalidValueError,
    NoDeviceError,
    RefusalReason,
    UnsafeError,
)
from .filter_wheel import FilterWheel
from .flat_panel import FlatPanel
from .focuser import Focuser
from .gps import GPS
from .guider import Guider
from .rotator import Rotator
from .telescope import DIRECTIONS, Telescope, min_altitude, set_min_altitude
from .weather import Weather

__all__ = [
    "DIRECTIONS",
    "FRAME_TYPES",
    "INFO_RESULTS",
    "ROLE_CLASSES",
    "Action",
    "ActionAborted",
    "ActionFailed",
    "ActionListener",
    "ActionTimeout",
    "BelowHorizonError",
    "Camera",
    "CapabilityError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceNotConnectedError",
    "DeviceStateError",
    "DiskFullError",
    "FrameNotWrittenError",
    "Dome",
    "FilterWheel",
    "FlatPanel",
    "Focuser",
    "GPS",
    "GuideCamera",
    "Guider",
    "InvalidValueError",
    "NoDeviceError",
    "ProgressCallback",
    "RoleDevice",
    "Rotator",
    "Telescope",
    "RefusalReason",
    "UnsafeError",
    "Weather",
    "ACTION_STARTED",
    "abort_action",
    "finished_action",
    "recent_actions",
    "running_actions",
    "set_safety_guard",
    "wait_acknowledged",
    "subscribe_actions",
    "until_started",
    "min_altitude",
    "set_min_altitude",
]

#: role name (as in `indiws.db.ROLES`) → device class.
ROLE_CLASSES: dict[str, type[RoleDevice]] = {
    "telescope": Telescope,
    "camera": Camera,
    "focuser": Focuser,
    "filter_wheel": FilterWheel,
    "guider": Guider,
    "dome": Dome,
    "rotator": Rotator,
    "flat_panel": FlatPanel,
    "weather": Weather,
    "gps": GPS,
}

# connect, disconnect, status and info of each role whose brief state is declared.
for _cls in ROLE_CLASSES.values():
    if _cls.brief is not None:
        declare_common_verbs(_cls)

#: role name → the struct of its ``info()`` (``<role>.info``'s result).
INFO_RESULTS: dict[str, type] = {
    role: VERBS[f"{role}.info"].result if f"{role}.info" in VERBS else info_struct(cls)
    for role, cls in ROLE_CLASSES.items()
}
