"""ASCOM Alpaca's wire rules, with no I/O (docs/alpaca.md).

What a request carries (ClientID, ClientTransactionID, form or query
parameters), what an answer looks like (the JSON envelope, the ImageBytes
binary frame), the error numbers, and the one table that turns a refusal of
the device verbs into an ASCOM error.  The tornado layer (`indiws.alpaca.server`)
only feeds requests in and writes the answers out.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..client import INDIError, InvalidValueError, NotConnectedError, PropertyTimeoutError
from ..devices.errors import (
    ActionAborted,
    ActionFailed,
    ActionTimeout,
    DeviceError,
    RefusalReason,
)

__all__ = [
    "ACTION_NOT_IMPLEMENTED",
    "DISCOVERY_MESSAGE",
    "ERROR_TABLE",
    "INVALID_OPERATION",
    "INVALID_VALUE",
    "INVALID_WHILE_PARKED",
    "NOT_CONNECTED",
    "NOT_IMPLEMENTED",
    "OPERATION_CANCELLED",
    "REFUSALS",
    "UNSPECIFIED_ERROR",
    "VALUE_NOT_SET",
    "AlpacaError",
    "BadRequest",
    "Param",
    "RequestIds",
    "TransactionCounter",
    "discovery_answer",
    "envelope",
    "error_for",
    "image_bytes",
    "parse_ids",
    "parse_params",
]

# ASCOM error numbers (ASCOM.ErrorCodes, the Alpaca API reference).
NOT_IMPLEMENTED = 0x400
INVALID_VALUE = 0x401
VALUE_NOT_SET = 0x402
NOT_CONNECTED = 0x407
INVALID_WHILE_PARKED = 0x408
INVALID_WHILE_SLAVED = 0x409
INVALID_OPERATION = 0x40B
ACTION_NOT_IMPLEMENTED = 0x40C
OPERATION_CANCELLED = 0x40E
#: Driver errors are 0x500..0xFFF; this one says "the device failed".
UNSPECIFIED_ERROR = 0x4FF
DRIVER_ERROR = 0x500

#: The UDP payload a client broadcasts (or sends) to find Alpaca servers.
DISCOVERY_MESSAGE = b"alpacadiscovery1"

UINT32_MAX = 0xFFFFFFFF


class AlpacaError(Exception):
    """An ASCOM error: HTTP 200 with ``ErrorNumber``/``ErrorMessage`` set."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


class BadRequest(Exception):
    """A malformed request: HTTP 400 with a plain-text reason (the reference
    says so for unknown devices or members and for parameters that cannot
    be parsed)."""


#: The device layer's refusals, by their reason, and what Alpaca calls them.
#: Every `RefusalReason` has its entry (tests/test_refusals.py).
REFUSALS: dict[RefusalReason, tuple[int, str]] = {
    RefusalReason.NO_DEVICE: (
        NOT_CONNECTED,
        "no device plays the role, or it is not on indiserver",
    ),
    RefusalReason.NOT_CONNECTED: (NOT_CONNECTED, "the device is not connected"),
    RefusalReason.CAPABILITY_MISSING: (
        NOT_IMPLEMENTED,
        "the device lacks the property the member needs",
    ),
    RefusalReason.PARKED: (INVALID_WHILE_PARKED, "the mount or dome is parked"),
    RefusalReason.PARKING: (INVALID_OPERATION, "the mount is parking"),
    RefusalReason.MOVING: (INVALID_OPERATION, "the device is moving"),
    RefusalReason.BUSY: (INVALID_OPERATION, "the device is busy with another action"),
    RefusalReason.UNSAFE: (
        INVALID_OPERATION,
        "refused by the safety policy (weather, lost indiserver)",
    ),
    RefusalReason.BELOW_HORIZON: (INVALID_OPERATION, "the target is below the minimum altitude"),
    RefusalReason.RATE_CONFLICT: (
        INVALID_OPERATION,
        "one slew rate for both axes, and the other axis moves at another",
    ),
    RefusalReason.NOT_TAKEN: (INVALID_OPERATION, "the driver did not take the value"),
    RefusalReason.INVALID_STATE: (INVALID_OPERATION, "the device's state forbids it now"),
}

#: Every other error of the device layer and what Alpaca calls it, most
#: specific first: the first class an exception is an instance of decides.
ERROR_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (InvalidValueError, INVALID_VALUE, "a value out of range or malformed"),
    (NotConnectedError, NOT_CONNECTED, "indiserver is not reachable"),
    (ActionAborted, OPERATION_CANCELLED, "the action was aborted"),
    (ActionTimeout, UNSPECIFIED_ERROR, "the action did not end in time"),
    (ActionFailed, UNSPECIFIED_ERROR, "the driver reported a failure"),
    (PropertyTimeoutError, UNSPECIFIED_ERROR, "the driver did not answer in time"),
    (INDIError, UNSPECIFIED_ERROR, "any other refusal of the device layer"),
)


def error_for(exc: BaseException) -> AlpacaError | None:
    """The ASCOM error a refusal or failure of the device layer is (None:
    not one `REFUSALS` or `ERROR_TABLE` knows, i.e. a bug, answered as a 500)."""
    if isinstance(exc, AlpacaError):
        return exc
    reason = exc.reason if isinstance(exc, DeviceError) else None
    if reason is not None:
        return AlpacaError(REFUSALS[reason][0], str(exc))
    for cls, number, _ in ERROR_TABLE:
        if isinstance(exc, cls):
            return AlpacaError(number, str(exc))
    return None


# --------------------------------------------------------------- ids


class TransactionCounter:
    """ServerTransactionID: unique and increasing for the life of the server
    (one event loop, so a plain counter is enough); it wraps to 1 after the
    uint32 range."""

    def __init__(self) -> None:
        self._count = itertools.count(1)

    def next(self) -> int:
        return (next(self._count) - 1) % UINT32_MAX + 1


@dataclass(frozen=True, slots=True)
class RequestIds:
    client_id: int = 0
    client_transaction_id: int = 0


def _uint32(name: str, text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) > UINT32_MAX:
        raise BadRequest(f"{name} must be an unsigned 32-bit integer, got {text!r}")
    return int(value)


def parse_ids(params: Mapping[str, str], *, put: bool) -> RequestIds:
    """ClientID and ClientTransactionID: case-insensitive names in a GET
    query, exact names in a PUT body (a mis-cased key there is another,
    ignored parameter); a present value must be an unsigned 32-bit integer
    (else 400, as ConformU's strict mode wants); absent means 0."""
    found = {}
    for key, value in params.items():
        for wanted in ("ClientID", "ClientTransactionID"):
            if key == wanted or (not put and key.lower() == wanted.lower()):
                found[wanted] = _uint32(wanted, value)
    return RequestIds(found.get("ClientID", 0), found.get("ClientTransactionID", 0))


# --------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a member: its exact Alpaca name, its type (``bool``,
    ``int``, ``float``, ``str``), and the values it may take (a value outside
    is ASCOM's InvalidValue, not a malformed request).  A member that calls a
    declared verb derives them from the verb's params (`indiws.alpaca.binding`)."""

    name: str
    type: type
    low: float | None = None
    high: float | None = None
    #: Part of the member's contract but may be left out (Action's Parameters).
    optional: bool = False
    #: The bounds themselves are outside (a field declared ``gt`` / ``lt``).
    low_open: bool = False
    high_open: bool = False
    #: The only values taken (an enumeration's numbers), when not empty.
    choices: tuple[Any, ...] = ()
    unit: str = ""

    def describe(self) -> str:
        if self.choices:
            rng = " " + ", ".join(str(c) for c in self.choices)
        elif self.low is not None and self.high is not None:
            low = f"{'>' if self.low_open else ''}{self.low:g}"
            rng = f" {low}..{'<' if self.high_open else ''}{self.high:g}"
        elif self.low is not None:
            rng = f" {'>' if self.low_open else '≥'}{self.low:g}"
        elif self.high is not None:
            rng = f" {'<' if self.high_open else '≤'}{self.high:g}"
        else:
            rng = ""
        return f"{self.name} ({self.type.__name__}{rng}{' ' + self.unit if self.unit else ''})"

    def outside(self, value: float) -> bool:
        """``value`` is outside the bounds."""
        low, high = self.low, self.high
        return (low is not None and (value <= low if self.low_open else value < low)) or (
            high is not None and (value >= high if self.high_open else value > high)
        )

    def parse(self, text: str) -> Any:
        value: Any
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise BadRequest(f"{self.name} must be True or False, got {text!r}")
            return lowered == "true"
        if self.type is str:
            return text
        try:
            value = int(text.strip()) if self.type is int else float(text.strip())
        except ValueError:
            raise BadRequest(
                f"{self.name} must be {'an integer' if self.type is int else 'a number'}, "
                f"got {text!r}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise AlpacaError(INVALID_VALUE, f"{self.name} must be a finite number, got {text!r}")
        if (self.choices and value not in self.choices) or self.outside(value):
            raise AlpacaError(INVALID_VALUE, f"{self.name} {value:g} is outside {self.describe()}")
        return value


def parse_params(spec: Iterable[Param], params: Mapping[str, str], *, put: bool) -> dict[str, Any]:
    """The member's parameters from a request's query (GET: names in any
    case) or form body (PUT: exact names, as the reference requires; a
    missing or mis-cased one is a 400).  Extra parameters are ignored."""
    lowered = {k.lower(): v for k, v in params.items()} if not put else {}
    out: dict[str, Any] = {}
    for p in spec:
        text = params.get(p.name) if put else lowered.get(p.name.lower())
        if text is None:
            if p.optional:
                out[p.name] = None
                continue
            raise BadRequest(
                f"missing parameter {p.name}"
                + (" (PUT parameter names are case sensitive)" if put else "")
            )
        out[p.name] = p.parse(text)
    return out


# --------------------------------------------------------------- answers


def envelope(
    value: Any,
    ids: RequestIds,
    server_transaction_id: int,
    error: AlpacaError | None = None,
    *,
    has_value: bool = True,
) -> dict[str, Any]:
    """The JSON answer: ``Value`` (left out for methods, and on an error),
    ``ClientTransactionID`` echoed, ``ServerTransactionID``, ``ErrorNumber``,
    ``ErrorMessage``."""
    out: dict[str, Any] = {}
    if has_value and error is None:
        out["Value"] = value
    out["ClientTransactionID"] = ids.client_transaction_id
    out["ServerTransactionID"] = server_transaction_id
    out["ErrorNumber"] = 0 if error is None else error.number
    out["ErrorMessage"] = "" if error is None else error.message
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


# ImageBytes (the Alpaca API reference, "ImageBytes"): a 44-byte header of
# eleven little-endian 32-bit integers, then the pixels in ImageArray's order.
IMAGE_BYTES_TYPE = "application/imagebytes"
#: ClientTransactionID and ServerTransactionID are unsigned, the rest signed.
IMAGE_BYTES_HEADER = struct.Struct("<iiIIiiiiiii")
#: ImageElementType / TransmissionElementType codes.
ELEMENT_TYPES: dict[str, int] = {
    "int16": 1,
    "int32": 2,
    "float64": 3,
    "float32": 4,
    "uint64": 5,
    "uint8": 6,
    "int64": 7,
    "uint16": 8,
    "uint32": 9,
}


def image_array(pixels: np.ndarray) -> np.ndarray:
    """ImageArray from a frame as FITS stores it (rows of y, ``pixels[y][x]``):
    the reference indexes ``ImageArray[x][y]``, x across, y down, so the
    pixel at FITS (x, y) is ``ImageArray[x][y]``: the transpose, not a flip.
    The result is contiguous in the smallest type that holds every value
    exactly, so that ImageBytes is one copy of it."""
    if pixels.ndim == 3:  # colour planes [plane][y][x] -> [x][y][plane]
        arr = np.transpose(pixels, (2, 1, 0))
    else:
        arr = pixels.T
    return np.ascontiguousarray(arr, dtype=_transmission_dtype(arr))


def _transmission_dtype(pixels: np.ndarray) -> np.dtype:
    """The smallest wire type that holds every value exactly."""
    if pixels.dtype.kind == "f":
        return np.dtype("<f8")
    if pixels.size == 0:
        return np.dtype("<i4")
    low, high = int(pixels.min()), int(pixels.max())
    for name in ("uint8", "int16", "uint16", "int32"):
        info = np.iinfo(name)
        if info.min <= low and high <= info.max:
            return np.dtype(name).newbyteorder("<")
    return np.dtype("<f8")


def image_bytes(array: np.ndarray, ids: RequestIds, server_transaction_id: int) -> bytes:
    """``application/imagebytes`` of ``array`` (already in ImageArray order,
    see `image_array`): ImageElementType Int32 (Double for float frames), as
    the JSON ImageArray's Type; TransmissionElementType the smallest exact
    type; data in the array's order with the last index varying fastest."""
    wire = _transmission_dtype(array)
    element = ELEMENT_TYPES["float64" if array.dtype.kind == "f" else "int32"]
    dims = list(array.shape) + [0] * (3 - array.ndim)
    header = IMAGE_BYTES_HEADER.pack(
        1,  # MetadataVersion
        0,  # ErrorNumber
        ids.client_transaction_id,
        server_transaction_id,
        IMAGE_BYTES_HEADER.size,  # DataStart
        element,
        ELEMENT_TYPES[wire.name],
        array.ndim,
        *dims,
    )
    return header + np.ascontiguousarray(array, dtype=wire).tobytes()


def image_bytes_error(error: AlpacaError, ids: RequestIds, server_transaction_id: int) -> bytes:
    """An ImageBytes answer carrying an error: the header, then the message in UTF-8."""
    header = IMAGE_BYTES_HEADER.pack(
        1,
        error.number,
        ids.client_transaction_id,
        server_transaction_id,
        IMAGE_BYTES_HEADER.size,
        0,
        0,
        0,
        0,
        0,
        0,
    )
    return header + error.message.encode()


def discovery_answer(port: int) -> bytes:
    """The answer to a discovery datagram: ``{"AlpacaPort": port}``."""
    return dumps({"AlpacaPort": port}).encode()
