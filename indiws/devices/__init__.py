"""High-level verbs for the devices that play a role: telescope, camera,
focuser, filter wheel.  Free of any web framework; the web layer calls them.

    telescope = Telescope(client, "Telescope Simulator")
    await telescope.connect()
    await telescope.unpark()
    result = await telescope.goto(5.5, 22.0, epoch="J2000", progress=print)

Every long verb ends only when the action has really ended, returns a
result dict, and raises one of the errors in `indiws.devices.errors`.
"""

from __future__ import annotations

from .base import (
    Action,
    ActionListener,
    ProgressCallback,
    RoleDevice,
    running_actions,
    subscribe_actions,
    wait_acknowledged,
)
from .camera import FRAME_TYPES, Camera, GuideCamera
from .errors import (
    ActionAborted,
    ActionFailed,
    ActionTimeout,
    CapabilityError,
    DeviceBusyError,
    DeviceError,
    DeviceNotConnectedError,
    DeviceStateError,
    DiskFullError,
    InvalidValueError,
    NoDeviceError,
)
from .filter_wheel import FilterWheel
from .focuser import Focuser
from .telescope import DIRECTIONS, Telescope

__all__ = [
    "DIRECTIONS",
    "FRAME_TYPES",
    "ROLE_CLASSES",
    "Action",
    "ActionAborted",
    "ActionFailed",
    "ActionListener",
    "ActionTimeout",
    "Camera",
    "CapabilityError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceNotConnectedError",
    "DeviceStateError",
    "DiskFullError",
    "FilterWheel",
    "Focuser",
    "GuideCamera",
    "InvalidValueError",
    "NoDeviceError",
    "ProgressCallback",
    "RoleDevice",
    "Telescope",
    "running_actions",
    "wait_acknowledged",
    "subscribe_actions",
]

#: role name (as in `indiws.db.ROLES`) → device class.
ROLE_CLASSES: dict[str, type[RoleDevice]] = {
    "telescope": Telescope,
    "camera": Camera,
    "focuser": Focuser,
    "filter_wheel": FilterWheel,
    "guider": GuideCamera,
}
