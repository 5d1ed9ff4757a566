"""One declaration per verb: its parameters and result as msgspec structs.

A device verb is declared once, on the device method, with its typed
parameters and result::

    class GotoParams(Params):
        ra: RA
        dec: Dec
        timeout: Timeout = 300.0

    class Telescope(RoleDevice):
        @verb("telescope.goto", GotoParams, SlewResult, moves=True, long=True, progress=True)
        async def goto(self, ra: float, dec: float, *, timeout: float = 300.0, ...) -> dict:
            '''Slew to RA / Dec; answers once the mount arrived.

            The rest of the docstring is the verb's description.'''

`VERBS` (filled when `indiws.devices` is imported) maps each verb's name to
its `Verb`.  From it the fronts derive what they used to write by hand: the
JSON-RPC methods, their parameter binding and `rpc.discover` entries (typed
results), and through ``rpc.discover`` the Python client (docs/verbs.md).

msgspec, and not dataclasses or pydantic: it has no dependencies, its
`Meta` carries a range and a description into the JSON Schema (RA 0..24 is
written once, in the struct), `msgspec.json.schema` gives JSON Schema 2020-12
(what OpenAPI 3.1 takes), and `msgspec.convert` checks a value against a
struct with the path of what is wrong.

This module is below the devices and imports nothing of them.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from .client import InvalidValueError

__all__ = [
    "UNSET",
    "VERBS",
    "Dec",
    "InvalidParamsError",
    "IsoTime",
    "Name",
    "NoParams",
    "Params",
    "PulseMs",
    "RA",
    "Result",
    "Timeout",
    "UnsetType",
    "Verb",
    "Described",
    "at_least_one_of",
    "not_both",
    "check_ranges",
    "register",
    "result_schema",
    "verb",
]

#: Longest timeout a caller may give, in seconds (one day).
MAX_TIMEOUT = 86_400.0


class InvalidParamsError(InvalidValueError):
    """Params that do not go together (each of a valid type and range): the
    fronts' ``invalid_params``, naming ``param``."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


class Params(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of a verb's parameters (field order is the positional order).

    A rule between fields that a field's own type cannot say (at least one
    of two given, ...) is written once as ``json_schema_extra``, a ClassVar
    JSON Schema merged into the parameters' schema where the whole struct is
    described (the REST body in OpenAPI); the device still checks it."""

    json_schema_extra: ClassVar[dict[str, Any]] = {}


def at_least_one_of(*names: str) -> dict[str, Any]:
    """``json_schema_extra`` for parameters of which one at least must be a number."""
    return {"anyOf": [{"required": [n], "properties": {n: {"type": "number"}}} for n in names]}


def not_both(first: str, second: str) -> dict[str, Any]:
    """``json_schema_extra`` for two parameters of which one at most may be given (not null)."""
    return {
        "not": {
            "required": [first, second],
            "properties": {first: {"not": {"type": "null"}}, second: {"not": {"type": "null"}}},
        }
    }


class NoParams(Params):
    """A verb without parameters."""


class Result(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of a verb's result: every field the verb answers; a field that is
    only sometimes there defaults to `UNSET` (not required in the schema)."""


#: Right ascension in hours.
RA = Annotated[float, Meta(ge=0, le=24, description="hours, 0..24", extra={"unit": "hours"})]
#: Declination in degrees.
Dec = Annotated[float, Meta(ge=-90, le=90, description="degrees", extra={"unit": "degrees"})]
#: A timeout in seconds, over 0 and at most a day.
Timeout = Annotated[
    float, Meta(gt=0, le=MAX_TIMEOUT, description="seconds", extra={"unit": "seconds"})
]
#: A name a device matches (a track mode, a rate, a filter): some text, not only blanks.
Name = Annotated[str, Meta(min_length=1, pattern=r"\S", description="a name (not blank)")]
#: A guide pulse's length in milliseconds, over 0.
PulseMs = Annotated[float, Meta(gt=0, description="milliseconds", extra={"unit": "ms"})]
#: A time as ISO 8601 (``Z`` or an offset; none means UTC).
IsoTime = Annotated[
    str,
    Meta(
        description="ISO 8601 time, e.g. 2026-12-07T21:30:00Z",
        extra_json_schema={"format": "date-time"},
    ),
]


def Described(kind: Any, description: str) -> Any:  # noqa: N802 (a type, as Annotated)
    """``kind`` with a description in its schema: for a field whose content
    varies (a driver's free-form facts, a role's own state) and is typed
    loosely (``dict[str, Any]``), it says what is in it."""
    return Annotated[kind, Meta(description=description)]


@dataclass(frozen=True, slots=True)
class Verb:
    """One verb of a role, as the fronts see it."""

    #: ``<role>.<verb>`` (``telescope.goto``): the JSON-RPC method's name.
    name: str
    #: The device method it calls (``goto``).
    method: str
    params: type[Params]
    #: A `Result` struct, or a list of them (``list[Choice]``).
    result: Any
    summary: str
    description: str = ""
    #: It moves hardware (denied by default where a policy says so).
    moves: bool = False
    #: An action: announced as action.started / action.finished.
    long: bool = False
    #: It reports progress (``progress`` and ``action.progress``).
    progress: bool = False
    #: Device-method keyword arguments the fronts pass that are not params:
    #: ``progress`` (a callback), and the `needs`.
    extra: tuple[str, ...] = field(default=())
    #: What the front gives the method beside the params (`NEEDS`): the
    #: device of another role (``telescope``), or who asks (``who``).
    needs: tuple[str, ...] = field(default=())
    #: Notifications beside the action's that a call may be followed by.
    notifications: tuple[str, ...] = field(default=())
    #: A manual move that lasts until stopped: ``"move"`` starts one when its
    #: ``duration`` is not given, ``"stop"`` stops them.  A front holds such a
    #: move for the connection that started it and stops it when that goes
    #: away (JSON-RPC); a front with no connection to hold it by (REST)
    #: requires the ``duration`` (docs/verbs.md).
    held: typing.Literal["move", "stop"] | None = None
    #: A procedure over the role's device (autofocus, centering), declared on
    #: a function of its own module rather than on a method of the device's
    #: class: the fronts call ``function(device, **params, **needs)``.
    function: Callable[..., Any] | None = None

    @property
    def role(self) -> str:
        return self.name.partition(".")[0]

    @property
    def events(self) -> tuple[str, ...]:
        """The notifications the verb may send while it runs."""
        if not self.long:
            return self.notifications
        if self.progress:
            return (
                "progress",
                "action.started",
                "action.progress",
                "action.finished",
                *self.notifications,
            )
        return ("action.started", "action.finished", *self.notifications)

    def fields(self) -> list[msgspec.structs.FieldInfo]:
        return list(_struct_fields(self.params))

    def defaults(self) -> dict[str, Any]:
        """The params' defaults (the only place they are written)."""
        return {f.name: f.default for f in self.fields() if f.default is not msgspec.NODEFAULT}

    def signature(self) -> inspect.Signature:
        """A Python signature of the params (first parameter ``self``)."""
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        hints = typing.get_type_hints(self.params)
        for f in self.fields():
            default = inspect.Parameter.empty if f.default is msgspec.NODEFAULT else f.default
            params.append(
                inspect.Parameter(
                    f.name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=default,
                    annotation=hints[f.name],
                )
            )
        return inspect.Signature(params, return_annotation=dict)

    def param_schema(self, name: str) -> dict[str, Any]:
        """A param's JSON Schema as the struct gives it (range, description)."""
        props = _inline(msgspec.json.schema(self.params))["properties"]
        return dict(props[name])

    def result_schema(self) -> dict[str, Any]:
        """The result's JSON Schema, every field, with no ``$ref`` left."""
        return result_schema(self.result)


@functools.cache
def _struct_fields(params: type[Params]) -> tuple[msgspec.structs.FieldInfo, ...]:
    """A struct's fields: reading them resolves its type hints (~0.1 ms), so
    once per struct, not once per call of a verb."""
    return msgspec.structs.fields(params)


def result_schema(result: Any) -> dict[str, Any]:
    """The JSON Schema of a result type (a `Result` struct, ``list[Struct]``,
    ...), every field, with no ``$ref`` left: what ``rpc.discover`` shows for
    a declared verb and for a hand-written method declared with ``result=``."""
    return _inline(msgspec.json.schema(result))


#: What a front may give a verb's method beside its params (``needs``).
NEEDS = {
    "telescope": "the device of the telescope role now (a `Telescope`)",
    "camera": "the device of the camera role now (a `Camera`)",
    "blobs": "the service's frame store (a `BlobStore`)",
    "index_dir": "the folder where the plate solver's index files are built (a `Path`)",
    "who": "who asks: address, front, token or not (for the log)",
}

#: Every declared verb by name, in declaration order.
VERBS: dict[str, Verb] = {}


def verb(
    name: str,
    params: type[Params],
    result: Any,
    *,
    moves: bool = False,
    long: bool = False,
    progress: bool = False,
    needs: tuple[str, ...] = (),
    events: tuple[str, ...] = (),
    held: typing.Literal["move", "stop"] | None = None,
    procedure: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a device method as the verb ``name`` (``<role>.<verb>``).

    Its docstring's first line is the verb's summary, the rest its
    description: what ``rpc.discover``, the client and the docs show.
    ``needs``: keyword arguments the front gives beside the params (`NEEDS`);
    ``events``: notifications the call may be followed by beside an action's;
    ``held``: a manual move that lasts until stopped (`Verb.held`);
    ``procedure``: a function whose first argument is the role's device,
    not a method (`Verb.function`)."""

    def declare(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__verb__ = register(  # type: ignore[attr-defined]
            name,
            func.__name__,
            params,
            result,
            inspect.getdoc(func) or "",
            moves=moves,
            long=long,
            progress=progress,
            needs=needs,
            events=events,
            held=held,
            function=func if procedure else None,
        )
        return func

    return declare


def register(
    name: str,
    method: str,
    params: type[Params],
    result: Any,
    doc: str,
    *,
    moves: bool = False,
    long: bool = False,
    progress: bool = False,
    needs: tuple[str, ...] = (),
    events: tuple[str, ...] = (),
    held: typing.Literal["move", "stop"] | None = None,
    function: Callable[..., Any] | None = None,
) -> Verb:
    """Declare the verb ``name`` as the device method named ``method`` (what
    `verb` does; for a method declared once for several roles, such as
    `RoleDevice.connect`).  ``doc``: its summary line, then its description."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"verb {name!r} needs {sorted(unknown)}: not in NEEDS")
    if name in VERBS:
        raise ValueError(f"verb {name!r} is declared twice")
    summary, _, description = doc.partition("\n")
    VERBS[name] = Verb(
        name,
        method,
        params,
        result,
        summary.strip(),
        description.strip(),
        moves=moves,
        long=long,
        progress=progress,
        extra=(("progress",) if progress else ()) + needs,
        needs=needs,
        notifications=events,
        held=held,
        function=function,
    )
    return VERBS[name]


def check_ranges(params: type[Params], **values: float) -> None:
    """Check numbers against the ranges their fields declare in ``params``:
    `InvalidValueError` ("ra must be within [0, 24] hours, got 25") when out."""
    hints = typing.get_type_hints(params, include_extras=True)
    for name, value in values.items():
        hint = hints[name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # ``Range | None``
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        meta = next((m for m in typing.get_args(hint)[1:] if isinstance(m, Meta)), None)
        if meta is None or math.isnan(value):
            continue
        low = meta.ge if meta.ge is not None else meta.gt
        high = meta.le if meta.le is not None else meta.lt
        too_low = low is not None and (value < low if meta.ge is not None else value <= low)
        too_high = high is not None and (value > high if meta.le is not None else value >= high)
        if too_low or too_high:
            unit = (meta.extra or {}).get("unit", "")
            if low is None or high is None:  # one bound: "tolerance must be > 0 degrees C"
                op = (">=" if meta.ge is not None else ">") if high is None else "<="
                op = op if high is None or meta.le is not None else "<"
                bound = f"{op} {low if high is None else high:g}"
            else:
                left = "[" if meta.ge is not None else "("
                right = "]" if meta.le is not None else ")"
                bound = f"within {left}{low:g}, {high:g}{right}"
            raise InvalidValueError(
                f"{name} must be {bound}{' ' + unit if unit else ''}, got {value:g}",
                param=name,
            )


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref``s into ``$defs`` replaced by the definitions."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)
