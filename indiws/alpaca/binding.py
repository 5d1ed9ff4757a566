"""A row of the member tables, and how a member is bound to a declared verb.

A member that invokes a device verb names the verb (`indiws.verbs.VERBS`)
and maps each Alpaca parameter onto one of the verb's fields (`Arg`): the
parameter's type, range and choices are derived from the verb's params
struct, so a range is written once, in the struct, and Alpaca refuses what
is outside it with InvalidValue (0x401).  Where ASCOM's value differs from
the verb's (an enumeration's number, a 0-based slot, an angle relative to
the current one) the `Arg` converts it; what the call needs beside the
Alpaca parameters (epoch JNow, track off) is ``fixed``.  One generic call
(`verb_member`) fills in the verb's defaults, checks the fields against the
struct, calls the verb on the role's device through the call every front
runs (`indiws.web.verb_routes.verb_call`) and waits for it, or starts it in
the background (`AlpacaDevice.start`) for ASCOM's asynchronous members.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from ..verbs import VERBS, Verb
from ..web.verb_routes import verb_call
from .device import AlpacaDevice
from .protocol import INVALID_VALUE, NOT_IMPLEMENTED, AlpacaError, Param

__all__ = [
    "NOTHING",
    "Arg",
    "Before",
    "Call",
    "Member",
    "field_param",
    "verb_member",
    "verbs_of",
]

Call = Callable[[AlpacaDevice, dict[str, Any]], Any]

#: What a member's ``before`` answers when there is nothing to do (a park of
#: a parked dome, False to a dome that cannot follow anyway).
NOTHING: Any = object()

#: What an Alpaca parameter can be on the wire.
WIRE_TYPES = (bool, int, float, str)


@dataclass(frozen=True, slots=True)
class Arg:
    """An Alpaca parameter of a verb-backed member, mapped onto one field of
    the verb's params."""

    #: Alpaca's spelling (``RightAscension``).
    name: str
    #: The verb's field it fills (``ra``).
    field: str
    #: The wire type where the field's type does not say it (``int | str``,
    #: a ``Literal``, a float field that ASCOM sends as an integer).
    kind: type | None = None
    #: ASCOM's values and the field's value each stands for (GuideDirection
    #: 0..3 → north..west); any other value is InvalidValue.
    choices: Mapping[Any, Any] | None = None
    #: The field's value from Alpaca's and the device (a 0-based slot, an
    #: angle relative to the current one); its range is then the verb's check.
    to_verb: Callable[[AlpacaDevice, Any], Any] | None = None
    #: ASCOM's own range where the standard asks a narrower one than the
    #: verb's (SiteLongitude -180..180, the verb also takes 0..360).
    within: tuple[float, float] | None = None

    def param(self, verb: Verb) -> Param:
        return field_param(
            self.name,
            verb,
            self.field,
            kind=self.kind,
            choices=self.choices,
            within=self.within,
            ranged=self.to_verb is None,
        )

    def value(self, d: AlpacaDevice, value: Any) -> Any:
        if self.choices is not None:
            return self.choices[value]
        return value if self.to_verb is None else self.to_verb(d, value)


def _unwrap(hint: Any) -> tuple[Any, msgspec.Meta | None]:
    """A field's type without ``None`` and ``Annotated``, and its `Meta`."""
    meta = None
    while True:
        origin = typing.get_origin(hint)
        if origin is Annotated:
            hint, *extras = typing.get_args(hint)
            meta = next((m for m in extras if isinstance(m, msgspec.Meta)), meta)
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(rest) != 1:
                return hint, meta
            hint = rest[0]
        else:
            return hint, meta


def field_param(
    name: str,
    verb: Verb,
    field: str,
    *,
    kind: type | None = None,
    choices: Mapping[Any, Any] | None = None,
    within: tuple[float, float] | None = None,
    ranged: bool = True,
) -> Param:
    """The Alpaca parameter ``name`` that fills ``field`` of ``verb``: its type
    and range as the verb's params struct declares them."""
    hints = typing.get_type_hints(verb.params, include_extras=True)
    if field not in hints:
        raise ValueError(f"Alpaca {name}: {verb.name} has no field {field!r}")
    base, meta = _unwrap(hints[field])
    wire = kind or (type(next(iter(choices))) if choices else base)
    if wire not in WIRE_TYPES:
        raise TypeError(f"Alpaca {name}: say its wire type ({verb.name}.{field} is {base})")
    if typing.get_origin(base) is Literal and choices is None and wire is not str:
        raise TypeError(f"Alpaca {name}: map its values onto {typing.get_args(base)}")
    if choices and wire is not bool:
        return Param(name, wire, choices=tuple(choices))
    low = high = None
    low_open = high_open = False
    if ranged and meta is not None:
        low = meta.ge if meta.ge is not None else meta.gt
        high = meta.le if meta.le is not None else meta.lt
        low_open = meta.ge is None and low is not None
        high_open = meta.le is None and high is not None
    if within is not None:
        if (low is not None and within[0] < low) or (high is not None and within[1] > high):
            raise ValueError(f"Alpaca {name}: {within} is wider than {verb.name}.{field}'s range")
        (low, low_open), (high, high_open) = (within[0], False), (within[1], False)
    unit = str((meta.extra or {}).get("unit", "")) if meta is not None and ranged else ""
    return Param(name, wire, low, high, low_open=low_open, high_open=high_open, unit=unit)


@dataclass(frozen=True, slots=True)
class Member:
    """One Alpaca member of a device type."""

    name: str
    http: str  # "GET" or "PUT"
    call: Call | None
    params: tuple[Param, ...] = ()
    #: What it translates to (docs/alpaca.md's coverage table).
    translates: str = ""
    #: Answered only while the Alpaca device is connected (else NotConnected).
    needs_connection: bool = True
    #: A method's answer has no Value.
    has_value: bool = True
    #: The answer may be ImageBytes (Accept: application/imagebytes).
    image: bool = False
    #: The declared verb it calls ("" for a member that reads state or
    #: keeps a value of the front); another role of the device type calls
    #: its own verb of the same name where it has one (``guider.expose``).
    verb: str = ""
    #: Its parameters, each mapped onto a field of the verb.
    args: tuple[Arg, ...] = ()
    #: The verb's fields it sets itself, whatever the client sends.
    fixed: tuple[tuple[str, Any], ...] = ()
    #: The roles it is implemented for (empty: every role of the type).
    roles: tuple[str, ...] = ()
    #: It answers at once and the verb goes on in the background under this
    #: kind ("slew", "move", ...); "" waits for the verb to end.
    background: str = ""

    @property
    def implemented(self) -> bool:
        return self.call is not None


def verbs_of(member: Member, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The verbs ``member`` calls for each of ``roles`` (a device type's)."""
    if not member.verb:
        return ()
    suffix = member.verb.partition(".")[2]
    out: list[str] = []
    for role in roles:
        if member.roles and role not in member.roles:
            continue
        name = f"{role}.{suffix}" if f"{role}.{suffix}" in VERBS else member.verb
        if name not in out:
            out.append(name)
    return tuple(out)


Before = Callable[[AlpacaDevice, dict[str, Any], dict[str, Any]], Any]
After = Callable[[AlpacaDevice, Any], None]


def verb_member(
    name: str,
    verb: str,
    args: tuple[Arg, ...] = (),
    translates: str = "",
    *,
    fixed: Mapping[str, Any] | None = None,
    before: Before | None = None,
    after: After | None = None,
    background: str = "",
    roles: tuple[str, ...] = (),
    missing: str = "",
    http: str = "PUT",
    **kw: Any,
) -> Member:
    """A member that calls the declared ``verb`` with its ``args`` mapped onto
    the verb's fields and ``fixed`` fields of its own.

    ``before(d, params, fields)`` runs first: the front's own refusals (ASCOM
    semantics: a slew needs Tracking on), fields taken from the front's state
    (the target, binning and subframe), or `NOTHING` to answer at once;
    ``after(d, result)`` keeps what the front needs of the verb's result.
    ``background``: answer once the verb started (ASCOM's asynchronous
    members), its kind named for `AlpacaDevice.running`.  ``roles``: the
    roles it is implemented for; the others answer NotImplemented with
    ``missing``."""
    declared = VERBS[verb]
    known = {f.name for f in declared.fields()}
    unknown = {key for key in (fixed or {})} - known
    if unknown:
        raise ValueError(f"Alpaca {name}: {verb} has no field {sorted(unknown)}")
    params = tuple(arg.param(declared) for arg in args)
    names = {arg.field: arg.name for arg in args}
    fixed_items = tuple((fixed or {}).items())
    suffix = declared.name.partition(".")[2]

    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        if roles and d.role not in roles:
            raise AlpacaError(NOT_IMPLEMENTED, missing or f"{name} is not offered for {d.role}")
        target = VERBS.get(f"{d.role}.{suffix}", declared)
        fields = dict(fixed_items) | {arg.field: arg.value(d, p[arg.name]) for arg in args}
        if before is not None:
            more = before(d, p, fields)
            if more is NOTHING:
                return
            fields |= more or {}
        kwargs = _checked(target, fields, names)
        answer = verb_call(
            d.service, target, kwargs, who=f"Alpaca {d.device_type} {d.number}", target=d.dev()
        )
        if background:
            await d.start(background, _finish(d, answer, after))
        else:
            await _finish(d, answer, after)

    kw.setdefault("has_value", http == "GET")
    return Member(
        name,
        http,
        call,
        params,
        translates,
        verb=verb,
        args=args,
        fixed=fixed_items,
        roles=roles,
        background=background,
        **kw,
    )


def _checked(verb: Verb, fields: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """Every field of ``verb`` (its defaults filled in), checked against its
    params struct: a value it refuses is InvalidValue naming the Alpaca
    parameter it came from."""
    try:
        params = msgspec.convert(verb.defaults() | fields, verb.params)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = re.search(r"`\$\.([A-Za-z_]+)", text)
        field = where.group(1) if where else ""
        raise AlpacaError(
            INVALID_VALUE, f"{names.get(field, field) or verb.name}: {text}"
        ) from None
    return {f.name: getattr(params, f.name) for f in verb.fields()}


async def _finish(d: AlpacaDevice, answer: Any, after: After | None) -> None:
    result = await answer if inspect.isawaitable(answer) else answer
    if after is not None:
        after(d, result)
