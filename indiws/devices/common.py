"""The verbs every role has (`RoleDevice.connect`, ``disconnect``,
``status``), declared once per role: their result is the role's status,
whose fields are the common ones and the role's brief state
(`RoleDevice.brief`, the struct of its ``_status()``)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import msgspec

from ..verbs import UNSET, Described, NoParams, Params, Result, Timeout, UnsetType, register
from .base import DriverInfo, RoleDevice

__all__ = [
    "COMMON_DOCS",
    "ConnectParams",
    "common_doc",
    "declare_common_verbs",
    "info_struct",
    "status_struct",
]


class ConnectParams(Params):
    timeout: Timeout = 30.0


#: Each common verb's docstring, ``{label}`` the role's name in words.
COMMON_DOCS = {
    "connect": """Connect the {label} device (INDI CONNECTION); answers with its status.

    Ends once the device is connected and has defined the properties that come
    with the connection. A device that is connected already answers at once.
    Errors: no_device, action_failed (the driver's message in data.messages),
    timeout.""",
    "disconnect": """Disconnect the {label} device; answers with its status.

    Running actions of the role end first with the aborted error.""",
    "status": """The {label}'s brief state; never an error for a missing device.

    {{role, device, present, connected}} and, when connected, busy (an action
    runs) and the role's state (see docs/indi_client.md).""",
    "info": """Static facts and capabilities of the {label} device.

    {{role, device, connected, driver: {{name, exec, version, interface}},
    interfaces, capabilities}} plus the role's facts; capabilities are null
    while the device is not connected (drivers define most properties then).""",
}


def common_doc(role: str, verb: str) -> str:
    """The docstring of ``<role>.<verb>`` for a common verb."""
    return inspect.cleandoc(COMMON_DOCS[verb].format(label=role.replace("_", " ")))


def _struct_name(role: str, suffix: str) -> str:
    return "".join(p.capitalize() for p in re.split("_", role)) + suffix


def status_struct(cls: type[RoleDevice]) -> type[Result]:
    """``<Role>Status``: what `RoleDevice.status` answers for ``cls``'s role."""
    assert cls.brief is not None
    name = _struct_name(cls.role, "Status")
    fields: list[Any] = [
        ("role", str),
        ("device", str | None),
        ("present", bool),
        ("connected", bool),
        ("busy", bool | UnsetType, UNSET),
        ("error", str | UnsetType, UNSET),
    ]
    # The role's state: there only while the device is connected.
    fields += [
        (f.name, f.type | UnsetType, UNSET)
        for f in msgspec.structs.fields(cls.brief)
        if f.name not in ("role", "device")
    ]
    return msgspec.defstruct(name, fields, bases=(Result,), kw_only=True, module=__name__)


def info_struct(cls: type[RoleDevice]) -> type[Result]:
    """``<Role>Info``: what `RoleDevice.info` answers for ``cls``'s role: the
    common fields, ``capabilities`` (`RoleDevice.capabilities_shape`, null
    while disconnected) and the role's facts (`RoleDevice.facts_shape`,
    there only while connected)."""
    caps: Any = cls.capabilities_shape or Described(
        dict[str, Any], "what the device can do (this role declares no fields)"
    )
    fields: list[Any] = [
        ("role", str),
        ("device", str),
        ("connected", bool),
        ("driver", DriverInfo),
        # INDI's interface names of DRIVER_INTERFACE's bits (telescope, ccd, ...).
        ("interfaces", list[str]),
        ("capabilities", caps | None),
    ]
    if cls.facts_shape is not None:
        fields += [
            (f.name, f.type | UnsetType, UNSET) for f in msgspec.structs.fields(cls.facts_shape)
        ]
    info = msgspec.defstruct(
        _struct_name(cls.role, "Info"), fields, bases=(Result,), kw_only=True, module=__name__
    )
    info.__doc__ = (
        f"Static facts and capabilities of the {cls.role.replace('_', ' ')} device"
        " (capabilities null while it is not connected; the role's facts only while connected)."
    )
    return info


def declare_common_verbs(cls: type[RoleDevice]) -> None:
    """Declare ``<role>.connect``, ``.disconnect``, ``.status`` and ``.info`` for ``cls``."""
    status = status_struct(cls)
    status.__doc__ = f"The {cls.role.replace('_', ' ')}'s status: its device and brief state."
    role = cls.role
    register(
        f"{role}.connect", "connect", ConnectParams, status, common_doc(role, "connect"), long=True
    )
    register(
        f"{role}.disconnect",
        "disconnect",
        ConnectParams,
        status,
        common_doc(role, "disconnect"),
        long=True,
    )
    register(f"{role}.status", "status", NoParams, status, common_doc(role, "status"))
    register(f"{role}.info", "info", NoParams, info_struct(cls), common_doc(role, "info"))
