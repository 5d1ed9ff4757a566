"""Errors of the device verbs.

Every error says which device (and role) it concerns; `to_dict()` gives the
JSON-ready details (driver messages, property names) for an API answer.
Out-of-range or malformed values raise the client's `InvalidValueError`
(re-exported here), the same error the client raises for a bad
``set_property`` call.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from ..client import INDIError, InvalidValueError

__all__ = [
    "ActionAborted",
    "ActionFailed",
    "ActionTimeout",
    "CapabilityError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceNotConnectedError",
    "DeviceStateError",
    "DiskFullError",
    "FrameNotWrittenError",
    "InvalidValueError",
    "NoDeviceError",
    "RefusalReason",
    "UnsafeError",
]


class RefusalReason(StrEnum):
    """Why a device verb refused to act: the ``reason`` of a refusal error.

    Each front says a reason in its own words, from one table of its own:
    JSON-RPC codes and HTTP statuses (`indiws.web.errors.REFUSALS`),
    lightAPT's strings (`indiws.web.lightapt.refusals.REFUSALS`), ASCOM
    error numbers (`indiws.alpaca.protocol.REFUSALS`).  A test fails when a
    reason is added here without an entry in each of them.
    """

    #: No device holds the role, or it is not on indiserver.
    NO_DEVICE = "no_device"
    #: The device is known but not connected.
    NOT_CONNECTED = "not_connected"
    #: The device lacks the property the verb needs.
    CAPABILITY_MISSING = "capability_missing"
    #: The mount (or dome) is parked.
    PARKED = "parked"
    #: The mount is parking.
    PARKING = "parking"
    #: The device moves (a slew, a focuser move, a turning wheel) and the
    #: caller asked not to replace that motion.
    MOVING = "moving"
    #: Another action of the same kind runs (e.g. an exposure).
    BUSY = "busy"
    #: The safety policy refuses it (``force`` overrides).
    UNSAFE = "unsafe"
    #: The target is below the site's minimum altitude (``force`` overrides).
    BELOW_HORIZON = "below_horizon"
    #: A mount with one slew rate for both axes moves the other axis at another rate.
    RATE_CONFLICT = "rate_conflict"
    #: The driver answered without taking the value.
    NOT_TAKEN = "not_taken"
    #: Any other state of the device that forbids the verb now.
    INVALID_STATE = "invalid_state"


class DeviceError(INDIError):
    """Base of the errors raised by the device verbs.

    ``code`` is a stable short name (``no_device``, ``not_connected``, ...)
    for API answers.
    """

    code = "device_error"
    #: Why the verb refused to act; None for what is not a refusal (an
    #: action that failed, timed out or was aborted).
    reason: RefusalReason | None = None

    def __init__(self, message: str, *, device: str | None = None, role: str | None = None) -> None:
        super().__init__(message)
        self.device = device
        self.role = role

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.code, "message": str(self)}
        if self.device is not None:
            data["device"] = self.device
        if self.role is not None:
            data["role"] = self.role
        if self.reason is not None:
            data["reason"] = self.reason.value
        return data


class NoDeviceError(DeviceError, LookupError):
    """The role has no device, or the device is not on the indiserver."""

    code = "no_device"
    reason = RefusalReason.NO_DEVICE


class DeviceNotConnectedError(DeviceError):
    """The device is known but not connected (its CONNECTION switch is off)."""

    code = "not_connected"
    reason = RefusalReason.NOT_CONNECTED


class CapabilityError(DeviceError):
    """The device does not define the property a verb needs."""

    code = "capability_missing"
    reason = RefusalReason.CAPABILITY_MISSING

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        role: str | None = None,
        properties: Iterable[str] = (),
    ) -> None:
        super().__init__(message, device=device, role=role)
        self.properties = tuple(properties)
        # `name` is what the web layer's error table reads as "property".
        self.name = self.properties[0] if self.properties else None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"properties": list(self.properties)}


class DeviceStateError(DeviceError):
    """The device's state forbids the verb now (e.g. a goto while parked);
    ``reason`` says which state (`RefusalReason`)."""

    code = "invalid_state"
    reason: RefusalReason = RefusalReason.INVALID_STATE

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        role: str | None = None,
        reason: RefusalReason | None = None,
    ) -> None:
        super().__init__(message, device=device, role=role)
        if reason is not None:
            self.reason = reason


class UnsafeError(DeviceStateError):
    """Refused by the safety policy: the observatory is unsafe (weather,
    lost indiserver); a caller may pass ``force`` to override."""

    code = "unsafe"
    reason = RefusalReason.UNSAFE


class BelowHorizonError(DeviceStateError):
    """A goto target below the site's minimum altitude (``force`` overrides)."""

    code = "below_horizon"
    reason = RefusalReason.BELOW_HORIZON


class DeviceBusyError(DeviceStateError):
    """The device is busy with an action that must end first (e.g. an
    exposure), or moves while the caller asked not to replace the motion
    (reason ``moving``)."""

    code = "busy"
    reason = RefusalReason.BUSY


class _ActionError(DeviceError):
    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        role: str | None = None,
        action: str | None = None,
        messages: Iterable[str] = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, device=device, role=role)
        self.action = action
        #: The driver's messages during the action (or its last ones), oldest first.
        self.messages = list(messages)
        #: Where the action ended (position, time left, ...), when known.
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(action=self.action, messages=self.messages)
        if self.details:
            data["details"] = self.details
        return data


class ActionFailed(_ActionError):
    """The driver reported failure (state Alert), refused, or the device went away."""

    code = "action_failed"


class ActionAborted(_ActionError):
    """The action was aborted (by `abort()`, another client, or a newer action)."""

    code = "aborted"


class ActionTimeout(_ActionError, TimeoutError):
    """The action did not end in time; the device was told to stop where it can."""

    code = "timeout"


class DiskFullError(_ActionError):
    """The frames folder lacks room for the frame (plus the margin kept
    free); nothing was started or written.  ``details``: folder, free,
    needed, frame, margin (bytes)."""

    code = "disk_full"


class FrameNotWrittenError(_ActionError):
    """The frame arrived but could not be written to the frames folder (the
    error says why); it is not reported as taken.  ``details``: blob_id (the
    frame, served from memory while cached), error."""

    code = "frame_not_written"
