"""One table from exceptions to HTTP statuses and JSON-RPC error codes.

Every handler, HTTP or WebSocket, reports errors through `describe_error`,
so a given fault has the same code and wording everywhere.  A refusal of
the device layer is mapped by its typed reason (`REFUSALS`), every other
exception by its class (`_TABLE`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..blobs import BlobNotFound
from ..client import (
    InvalidValueError,
    NotConnectedError,
    PropertyDeletedError,
    PropertyTimeoutError,
    ReadOnlyPropertyError,
    UnknownDeviceError,
    UnknownElementError,
    UnknownPropertyError,
    ValueTooLargeError,
)
from ..db import ProfileExistsError, ProfileNotFoundError, StateDBUnavailableError
from ..devices.errors import (
    ActionAborted,
    ActionFailed,
    ActionTimeout,
    DeviceError,
    DiskFullError,
    FrameNotWrittenError,
    RefusalReason,
)
from ..manager import (
    DriverError,
    DriverNotAllowedError,
    DriverNotFoundError,
    FifoError,
    IndiServerError,
    IndiServerNotFoundError,
    IndiServerStartError,
    InvalidDriverNameError,
    PortInUseError,
    ProfileStartError,
)
from ..roles import ConnectFailedError, UnknownRoleError
from ..service import (
    DriverNotRunningError,
    IndiServerNotManagedError,
    IndiServerStoppedError,
    UnknownDriverError,
)
from ..verbs import InvalidParamsError

__all__ = ["REFUSALS", "APIError", "JSONRPC_CODES", "describe_error", "validation_error_path"]

# JSON-RPC 2.0 reserves -32768..-32000; -32000..-32099 are for servers.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Limits (docs/security.md): too many requests at once, a value or body too large.
TOO_MANY_REQUESTS = -32001
TOO_LARGE = -32002


class APIError(Exception):
    """An error with its HTTP status, JSON-RPC code and a stable name."""

    def __init__(
        self, status: int, code: int, name: str, message: str, data: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.name, self.message = status, code, name, message
        self.data = data or {}


def invalid_params(message: str, **data: Any) -> APIError:
    return APIError(400, INVALID_PARAMS, "invalid_params", message, data)


def validation_error_path(exc: msgspec.ValidationError) -> tuple[str, str, str]:
    """msgspec's message split into (what is wrong, its path, the top-level
    field it is in): ``Expected `float`, got `str` - at `$.ra``` gives
    (``Expected `float`, got `str```, ``$.ra``, ``ra``); a missing or unknown
    field's path ends with the field (``$.ra``); a wrong key of an object is
    at that object's path (``- at `key` in `$.names``` gives ``$.names``)."""
    text = str(exc)
    path = "$"
    where = re.search(r" - at (?:`key` in )?`([^`]*)`$", text)
    if where:
        path = where.group(1)
        text = text[: where.start()]
    named = re.search(r"field `([^`]*)`", text)
    if named:
        field = named.group(1)
        path = f"{path}.{field}"
    else:
        field = re.split(r"[.\[]", path.removeprefix("$."), maxsplit=1)[0]
    return text, path, field


_INVALID_STATE = (409, -32043, "invalid_state")
_BUSY = (409, -32044, "busy")

#: The device layer's refusals, by reason → (HTTP status, JSON-RPC code,
#: name); the error's data says the reason itself (``data.reason``).  Every
#: `RefusalReason` has its entry (tests/test_refusals.py).
REFUSALS: dict[RefusalReason, tuple[int, int, str]] = {
    RefusalReason.NO_DEVICE: (404, -32040, "no_device"),
    RefusalReason.NOT_CONNECTED: (409, -32041, "not_connected"),
    RefusalReason.CAPABILITY_MISSING: (409, -32042, "capability_missing"),
    RefusalReason.PARKED: _INVALID_STATE,
    RefusalReason.PARKING: _INVALID_STATE,
    RefusalReason.MOVING: _BUSY,
    RefusalReason.BUSY: _BUSY,
    RefusalReason.UNSAFE: (409, -32055, "unsafe"),
    RefusalReason.BELOW_HORIZON: (409, -32059, "below_horizon"),
    RefusalReason.RATE_CONFLICT: _INVALID_STATE,
    RefusalReason.NOT_TAKEN: _INVALID_STATE,
    RefusalReason.INVALID_STATE: _INVALID_STATE,
}

#: exception class → (HTTP status, JSON-RPC code, name).  Order matters:
#: the first matching class wins.
_TABLE: list[tuple[type[BaseException], int, int, str]] = [
    # Device verbs (indiws.devices, /ws/indi_client/); before TimeoutError.
    # Their data also carries the error's to_dict(): action, messages, details.
    (ActionAborted, 409, -32045, "aborted"),
    (ActionTimeout, 504, -32030, "timeout"),
    (ActionFailed, 502, -32046, "action_failed"),
    (DiskFullError, 507, -32057, "disk_full"),
    (FrameNotWrittenError, 500, -32058, "frame_not_written"),
    (DeviceError, 409, -32049, "device_error"),
    (BlobNotFound, 404, -32047, "unknown_frame"),
    (UnknownRoleError, 404, -32010, "unknown_role"),
    (UnknownDeviceError, 404, -32011, "unknown_device"),
    (UnknownPropertyError, 404, -32012, "unknown_property"),
    (UnknownElementError, 404, -32013, "unknown_element"),
    (ReadOnlyPropertyError, 400, -32014, "read_only"),
    (ValueTooLargeError, 413, TOO_LARGE, "too_large"),
    (InvalidParamsError, 400, INVALID_PARAMS, "invalid_params"),
    (InvalidValueError, 400, -32015, "invalid_value"),
    (NotConnectedError, 503, -32020, "indiserver_unreachable"),
    (ConnectFailedError, 502, -32021, "connect_failed"),
    (PropertyTimeoutError, 504, -32030, "timeout"),
    (PropertyDeletedError, 409, -32031, "property_gone"),
    (TimeoutError, 504, -32030, "timeout"),
    # Server, drivers and profiles (indiws.manager, indiws.db, indiws.service).
    (IndiServerNotManagedError, 409, -32060, "indiserver_not_managed"),
    (IndiServerStoppedError, 409, -32061, "indiserver_stopped"),
    (ProfileNotFoundError, 404, -32062, "unknown_profile"),
    (ProfileExistsError, 409, -32063, "profile_exists"),
    (UnknownDriverError, 404, -32064, "unknown_driver"),
    (DriverNotRunningError, 404, -32065, "driver_not_running"),
    (DriverNotFoundError, 404, -32066, "driver_not_installed"),
    (DriverNotAllowedError, 403, -32090, "driver_not_allowed"),
    (InvalidDriverNameError, 400, INVALID_PARAMS, "invalid_params"),
    (StateDBUnavailableError, 503, -32091, "state_db_unavailable"),
    (ProfileStartError, 502, -32067, "profile_start_failed"),
    (FifoError, 503, -32068, "fifo_error"),
    (DriverError, 409, -32069, "driver_error"),
    (IndiServerNotFoundError, 503, -32070, "indiserver_not_installed"),
    (PortInUseError, 409, -32071, "port_in_use"),
    (IndiServerStartError, 502, -32072, "indiserver_start_failed"),
    (IndiServerError, 503, -32073, "indiserver_error"),
]

#: name → JSON-RPC code, for the docs and for clients.
JSONRPC_CODES: dict[str, int] = {name: code for _, code, name in REFUSALS.values()}
JSONRPC_CODES.update((name, code) for _, _, code, name in _TABLE)
JSONRPC_CODES.update(
    parse_error=PARSE_ERROR,
    invalid_request=INVALID_REQUEST,
    method_not_found=METHOD_NOT_FOUND,
    invalid_params=INVALID_PARAMS,
    internal_error=INTERNAL_ERROR,
    too_many_requests=TOO_MANY_REQUESTS,
)
#: The request gate's refusals (indiws/web/gate.py), before any handler runs.
GATE_ERRORS: dict[str, int] = {
    "host_not_allowed": -32080,
    "cross_site_refused": -32081,
    "token_required": -32082,
    "token_invalid": -32083,
}
JSONRPC_CODES.update(GATE_ERRORS)


def register(exc_type: type[BaseException], status: int, code: int, name: str) -> None:
    """Add an exception of a later layer (devices, manager) to the table."""
    _TABLE.insert(0, (exc_type, status, code, name))
    JSONRPC_CODES[name] = code


#: exception class → (its ``code`` attribute → (HTTP status, JSON-RPC code,
#: name)), for errors of one class that carry their kind in ``.code``.
_BY_CODE: list[tuple[type[BaseException], dict[str, tuple[int, int, str]]]] = []


def register_codes(
    exc_type: type[BaseException],
    codes: dict[str, tuple[int, int, str]],
    default: tuple[int, int, str],
) -> None:
    """Map an exception class whose instances say their kind in ``.code``
    (`indiws.guiding.GuidingError`): each code to its own status and name,
    the others to ``default``."""
    _BY_CODE.insert(0, (exc_type, {**codes, "": default}))
    for _, code, name in (*codes.values(), default):
        JSONRPC_CODES.setdefault(name, code)


def describe_error(exc: BaseException) -> APIError:
    """The `APIError` for any exception (unknown ones become internal errors)."""
    if isinstance(exc, APIError):
        return exc
    for exc_type, codes in _BY_CODE:
        if isinstance(exc, exc_type):
            kind = getattr(exc, "code", "")
            status, code, name = codes.get(kind, codes[""])
            return APIError(status, code, name, str(exc), {"error": name})
    reason = exc.reason if isinstance(exc, DeviceError) else None
    found = REFUSALS[reason] if reason is not None else _by_class(exc)
    if found is None:
        return APIError(500, INTERNAL_ERROR, "internal_error", f"internal error: {exc!r}")
    status, code, name = found
    data: dict[str, Any] = {"error": name}
    prop = getattr(exc, "prop", None)
    if prop is not None:
        data["current"] = prop.to_dict()
    for attr in ("device", "name", "element", "role", "param"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            data[attr if attr != "name" else "property"] = value
    if isinstance(exc, DeviceError):
        # The refusal's reason, the driver's messages, where the action ended, ...
        extra = exc.to_dict()
        extra.pop("error", None)
        extra.pop("message", None)
        data.update((k, v) for k, v in extra.items() if v is not None)
    return APIError(status, code, name, str(exc), data)


def _by_class(exc: BaseException) -> tuple[int, int, str] | None:
    for exc_type, status, code, name in _TABLE:
        if isinstance(exc, exc_type):
            return status, code, name
    return None
