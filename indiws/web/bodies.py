"""Request bodies declared once, as msgspec structs.

The names' character rules (labels, device names, executables, profile
names) are `indiws.db`'s: the structs give them to the schema as its
``pattern`` (built from the same character class) and leave the check to
`indiws.db`, whose refusals name the character and what to do instead.

A body's struct is both its OpenAPI schema (`schema_components`, JSON
Schema 2020-12 as OpenAPI 3.1 takes it) and its check (`decode_body`): what
the document says a body may be is what the handler accepts, and the
fuzzer of ``tests/test_openapi_contract.py`` holds the two to it.  A
handler calls ``decode_body(self, SomeBody)`` and gets the struct, or the
caller gets 400 ``invalid_params`` naming the field (``$.drivers[0].name``)
and nothing was done.

Rules a struct cannot say in JSON Schema (a name's 63-byte limit, a profile
that must exist) stay with the code that applies them, below the web layer.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ..db import PRINTABLE_PATTERN, ROLES
from .errors import invalid_params
from .limits import JsonLimitError, loads

__all__ = [
    "DeviceName",
    "DriverLabel",
    "Executable",
    "Flag",
    "Port",
    "ProfileName",
    "decode_body",
    "integral",
    "schema_components",
]

T = TypeVar("T")

_CLASS = PRINTABLE_PATTERN.removeprefix("^[^").removesuffix("]*$")


def _printable(extra: str = "") -> str:
    """A printable name (`indiws.db` refuses the rest) with a character other
    than a space, without ``extra`` characters."""
    return f"^ *[^ {extra}{_CLASS}][^{extra}{_CLASS}]*$"


#: A profile name: printable, not blank, no ``/`` (it is a URL segment).
ProfileName = Annotated[
    str,
    Meta(
        min_length=1,
        extra_json_schema={"pattern": "^(?=.*[^ ])[^/]*$"},
        description="Profile name.",
    ),
]
#: A catalog label (`GET /api/v1/drivers/catalog`), as INDI Web Manager names drivers.
DriverLabel = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        extra_json_schema={"pattern": _printable("@")},
        description="A catalog label.",
    ),
]
#: Formats of what JSON Schema cannot state whole: a device name is at most 63
#: *bytes* of UTF-8 (INDI's limit; ``maxLength`` counts characters).  The
#: contract test's fuzzer generates them with `indiws.db`'s own checks
#: (tests/schemathesis_hooks.py).
DEVICE_NAME_FORMAT = "indi-device-name"
REMOTE_DRIVER_FORMAT = "indi-remote-driver"
REMOTE_DRIVERS_FORMAT = "indi-remote-drivers"
DEVICE_NAME_PATTERN = _printable("@")
#: A device name given to a driver with ``-n`` (INDI keeps at most 63 bytes).
DeviceName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=63,
        description="A device name (at most 63 bytes in UTF-8), for another instance.",
        extra_json_schema={"format": DEVICE_NAME_FORMAT, "pattern": DEVICE_NAME_PATTERN},
    ),
]
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_PORT_TEXT = f"^{_PORT}$"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
HOST_PATTERN = f"^{_HOST}$"
_REMOTE = f"[^@,{_CLASS}]*[^ @,{_CLASS}][^@,{_CLASS}]*@{_HOST}(?::{_PORT})?"
#: ``Device@host[:port]``: a device of another indiserver (`indiws.db.check_remote_spec`).
REMOTE_PATTERN = f"^{_REMOTE}$"
#: Such devices, separated by commas (INDI Web Manager's ``remote``; a blank one is skipped).
REMOTE_LIST_PATTERN = rf"^\s*(?:{_REMOTE})?\s*(?:,\s*(?:{_REMOTE})?\s*)*$"
#: A local driver program: one word (`indiws.db` refuses paths and unknown programs).
LOCAL_EXECUTABLE_PATTERN = f"^[^ '@{_CLASS}]{{1,128}}$"
EXECUTABLE_FORMAT = "indi-executable"
#: A driver executable, or ``Device@host[:port]`` (a device of another indiserver).
Executable = Annotated[
    str,
    Meta(
        min_length=1,
        extra_json_schema={
            "pattern": f"^(?:[^ '@{_CLASS}]{{1,128}}|{_REMOTE})$",
            "format": EXECUTABLE_FORMAT,
        },
        description="Driver executable (`indi_simulator_wheel`), one word; or "
        "`Device@host[:port]`, a device of another indiserver.",
    ),
]
#: Printable text, possibly empty.
PRINTABLE_OR_EMPTY = f"^[^{_CLASS}]*$"
#: A TCP port, as a number or (INDI Web Manager's page) a string of digits.
Port = Annotated[int, Meta(ge=1, le=65535)] | Annotated[str, Meta(pattern=_PORT_TEXT)]
#: true/false, also 0/1 and "0"/"1"/"true"/"false" (INDI Web Manager's forms).
Flag = bool | Literal[0, 1] | Literal["0", "1", "true", "false"]
Role = Literal[ROLES]  # type: ignore[valid-type]


def flag(value: Flag) -> bool:
    """The boolean a `Flag` means."""
    return value in (True, 1, "1", "true")


def port(value: Port) -> int:
    return int(value)


def decode_body(handler: Any, body_type: type[T], *, empty: Any = None) -> T:
    """The request body of ``handler`` as ``body_type``; an empty body is
    ``empty`` (``{}`` when None).  Refused with 400 ``invalid_params``: a body
    over the JSON limits, not JSON, or not of the type (the message names the
    path: ``Expected `int`, got `str` - at `$.port```)."""
    raw = handler.request.body
    if not raw:
        value: Any = {} if empty is None else empty
    else:
        try:
            value = loads(raw)
        except JsonLimitError as exc:
            raise invalid_params(f"request body refused: {exc}") from None
        except ValueError as exc:
            raise invalid_params(f"request body is not valid JSON: {exc}") from None
    try:
        return msgspec.convert(integral(value), body_type)
    except msgspec.ValidationError as exc:
        raise _refusal(str(exc)) from None


def integral(value: Any) -> Any:
    """``value`` with its integral floats as ints: in JSON Schema ``7624.0``
    is an integer, as ``7624`` is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def _refusal(text: str) -> Exception:
    """The 400 for msgspec's ``text``: the field it names in ``data.field``."""
    unknown = _UNKNOWN.search(text)
    if unknown is not None:
        name = unknown.group(1)
        return invalid_params(f"unknown field {name!r} in the request body", field=name)
    at = text.rfind("- at `")
    if at < 0:
        if text.startswith("Expected `object`"):
            return invalid_params(f"request body must be a JSON object ({text})")
        missing = _MISSING.search(text)
        if missing is not None:
            return invalid_params(f"request body: {text}", field=missing.group(1))
        return invalid_params(f"request body: {text}")
    path = text[at + len("- at `") :].rstrip("`")
    if path.startswith("key` in `"):  # a dict's key: "at `key` in `$.roles`"
        path = path.removeprefix("key` in `")
    field = path.removeprefix("$").lstrip(".").split(".")[0].split("[")[0]
    return invalid_params(f"request body: {text}", **({"field": field} if field else {}))


_UNKNOWN = re.compile(r"unknown field `(.*)`")
_MISSING = re.compile(r"missing required field `(.*)`")


def schema_components(*types: Any) -> dict[str, Any]:
    """The OpenAPI ``components/schemas`` entries of ``types`` (and the structs they use)."""
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    return components


def ref(body_type: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{body_type.__name__}"}


class Body(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of a request body: an unknown field is refused."""


__all__ += [
    "EXECUTABLE_FORMAT",
    "LOCAL_EXECUTABLE_PATTERN",
    "DEVICE_NAME_FORMAT",
    "DEVICE_NAME_PATTERN",
    "HOST_PATTERN",
    "REMOTE_DRIVERS_FORMAT",
    "REMOTE_DRIVER_FORMAT",
    "PRINTABLE_OR_EMPTY",
    "REMOTE_LIST_PATTERN",
    "REMOTE_PATTERN",
    "UNSET",
    "Body",
    "Role",
    "UnsetType",
    "flag",
    "port",
    "ref",
]
