"""An instruction's positional params, bound by one msgspec struct derived
from the verb it calls.

lightAPT sends ``params`` as a list (``[ra, dec, target_name]``).  Each
instruction's params are one array-like msgspec struct (`Instruction.args`)
whose fields are the instruction function's parameters after the `Context`,
in order:

- a parameter the instruction maps onto a field of its verb
  (``@instruction(..., verb="telescope.goto_altaz", params=("az", "alt"))``)
  has that field's type, range and default, from the verb's `Params` struct
  in `indiws.verbs` (the function may narrow the type to some of its arms,
  never widen it: checked at import);
- any other parameter is the function's own: its annotation (a msgspec
  type: `Meta` ranges, structs) and default, for what no verb declares (the
  service's memory of focuser steps, a target's name, a property page).

So a range written once in a verb's struct is the range lightAPT checks,
before anything is sent.  A refused param is named as the instruction names
it: ``parameter ra of goto must be a number within [0, 24], got 25``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import UnionType
from typing import Annotated, Any, Union

import msgspec

from ...client import InvalidValueError
from ...verbs import Verb, result_schema

__all__ = ["Instruction", "LightAptError", "Refusal", "declare"]


class Refusal(Exception):
    """A handled refusal, answered ``{"type": "message", "message": <text>}``
    in the original's words (the device is busy, cannot park, ...)."""


class LightAptError(Exception):
    """A failure answered ``{"type": "error", "message": <text>}``."""


#: The original's words for a value refused: a `Refusal` is answered type
#: "message", a `LightAptError` type "error".
Words = Refusal | LightAptError


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction of a role, and how its positional params are bound."""

    name: str
    func: Callable[..., Awaitable[Any]]
    #: The params' one declaration: an array-like struct, one field per param.
    args: type[msgspec.Struct]
    #: Each param's type without its range (to tell a wrong type from a value
    #: out of range).
    types: Mapping[str, Any]
    #: The positions of the params that take an int and not a float: a whole
    #: float (``2.0``) is taken as an int there (a JSON number does not say).
    whole: frozenset[int] = frozenset()
    #: The verb the instruction calls (``focuser.move_to``), if it names one.
    verb: Verb | None = None
    #: param → the verb's field it is, for the params that are the verb's.
    from_verb: Mapping[str, str] = field(default_factory=dict)
    #: The original's words for a value refused, by the verb's field or the
    #: INDI element that the refusal names (by the binder or by the device).
    words: Mapping[str, Words] = field(default_factory=dict)
    #: The data answered while no device holds the role (role name → data),
    #: for the queries cobalt-web's pages poll and read without checking the
    #: reply's type: an empty shape they show instead of throwing.
    unassigned: Callable[[str], Any] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return self.args.__struct_fields__

    def bind(self, params: list[Any]) -> list[Any]:
        """The params converted by ``args``, in order, defaults filled in.

        `LightAptError` for a wrong count or type; `InvalidValueError` naming
        the field (``param``) for a value of its type out of its range."""
        names = self.names
        required = len(names) - len(self.args.__struct_defaults__)
        if len(params) > len(names):
            raise LightAptError(
                f"{self.name} takes at most {len(names)} parameter(s)"
                f" ({', '.join(names) or 'none'}), got {len(params)}"
            )
        if len(params) < required:
            raise LightAptError(
                f"{self.name} needs parameter {len(params) + 1} ({names[len(params)]}):"
                f" params must be [{', '.join(names)}]"
            )
        values = list(params)
        for index, value in enumerate(values):
            if isinstance(value, float):
                if not math.isfinite(value):  # 1e400 parses as inf
                    raise LightAptError(self._wrong(index, value))
                if index in self.whole and value.is_integer():
                    values[index] = int(value)
            elif isinstance(value, list | dict) and not _finite(value):
                raise LightAptError(self._wrong(index, value))
        try:
            return list(msgspec.structs.astuple(msgspec.convert(values, self.args)))
        except msgspec.ValidationError as exc:
            index, inside, what = _where(exc)
            name, value = names[index], values[index]
            if inside:  # a key of an object, an item of a list: msgspec's words
                raise LightAptError(
                    f"parameter {name} of {self.name}: {what} (at {name}{inside})"
                ) from None
            text = self._wrong(index, value)
            try:
                msgspec.convert(value, self.types[name])
            except msgspec.ValidationError:
                raise LightAptError(text) from None
            # Of its type: out of its range.
            raise InvalidValueError(text, param=self.from_verb.get(name, name)) from None

    def _wrong(self, index: int, value: Any) -> str:
        schema = result_schema(self.args)["prefixItems"][index]
        return (
            f"parameter {self.names[index]} of {self.name} must be {_kind(schema)},"
            f" got {short(value)}"
        )

    def said(self, exc: BaseException) -> Words | None:
        """The original's words for ``exc``, a value refused, if it had some."""
        if not isinstance(exc, InvalidValueError):
            return None
        return self.words.get(exc.param or getattr(exc, "element", None) or "")

    def named(self, name: str) -> Instruction:
        """The same instruction under another name (an alias, V4's spelling)."""
        return replace(self, name=name)


def declare(
    func: Callable[..., Awaitable[Any]],
    *,
    verb: Verb | None = None,
    params: Sequence[str] | Mapping[str, str] = (),
    words: Mapping[str, Words] | None = None,
    unassigned: Callable[[str], Any] | None = None,
) -> Instruction:
    """``func`` as an `Instruction`: its params struct built from ``verb``'s
    fields (``params``: the function's parameters that are the verb's
    fields, by the same name or mapped, ``{"seconds": "duration"}``) and the
    function's own parameters.

    ``TypeError`` (at import) when the function's signature does not say
    what the verb's struct says of a parameter mapped onto it: a type the
    field has not, or another default."""
    sig = inspect.signature(func)
    names = list(sig.parameters)[1:]  # after the Context
    mapping = dict(params) if isinstance(params, Mapping) else {p: p for p in params}
    where = f"instruction {func.__name__}"
    if set(mapping) - set(names):
        raise ValueError(f"{where} has no parameter {sorted(set(mapping) - set(names))}")
    if mapping and verb is None:
        raise ValueError(f"{where} maps {sorted(mapping)} onto no verb")
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values()):
        raise ValueError(f"{where}: lightAPT's params are positional, one parameter each")
    hints = typing.get_type_hints(func, include_extras=True)
    bare = typing.get_type_hints(func)
    declared = {f.name: f for f in verb.fields()} if verb is not None else {}
    verb_hints = typing.get_type_hints(verb.params, include_extras=True) if verb else {}
    fields: list[tuple[Any, ...]] = []
    for param in names:
        default = sig.parameters[param].default
        default = msgspec.NODEFAULT if default is inspect.Parameter.empty else default
        hint = hints.get(param, Any)
        if param in mapping:
            assert verb is not None
            of_verb = declared.get(mapping[param])
            if of_verb is None:
                raise ValueError(f"{where}: {verb.name} has no field {mapping[param]!r}")
            hint = _narrowed(verb_hints[of_verb.name], bare.get(param, Any))
            if hint is None or default != of_verb.default:
                kind = typing.get_type_hints(verb.params)[of_verb.name]
                wanted = "" if of_verb.default is msgspec.NODEFAULT else f" = {of_verb.default!r}"
                raise TypeError(
                    f"{where}: parameter {param} is {verb.name}'s {of_verb.name}: declare it"
                    f" {getattr(kind, '__name__', kind)}{wanted} (or some of its types)"
                )
        fields.append((param, hint) if default is msgspec.NODEFAULT else (param, hint, default))
    args = msgspec.defstruct(
        f"{func.__name__}_params", fields, array_like=True, forbid_unknown_fields=True
    )
    types = typing.get_type_hints(args)
    whole = {
        i for i, p in enumerate(names) if int in _arms(types[p]) and float not in _arms(types[p])
    }
    return Instruction(
        func.__name__,
        func,
        args,
        types,
        frozenset(whole),
        verb,
        mapping,
        dict(words or {}),
        unassigned,
    )


def short(value: Any) -> str:
    """``value`` as JSON, cut to 80 characters (for an error's text)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _arms(hint: Any) -> tuple[Any, ...]:
    """The types of a union (``int | str`` → (int, str)), or the type alone."""
    return typing.get_args(hint) if typing.get_origin(hint) in (Union, UnionType) else (hint,)


def _narrowed(declared: Any, annotation: Any) -> Any:
    """The verb's field type ``declared`` (ranges included) cut down to the
    types of the function's ``annotation`` (lightAPT's ``switch_filter``
    takes a slot number where the verb also takes a name); None when the
    annotation has a type the field has not."""
    by_bare = {
        (typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a): a
        for a in _arms(declared)
    }
    wanted = _arms(annotation)
    if not set(wanted) <= set(by_bare):
        return None
    kept = tuple(arm for bare, arm in by_bare.items() if bare in wanted)
    return kept[0] if len(kept) == 1 else Union[kept]  # noqa: UP007 (a tuple of types)


def _finite(value: Any) -> bool:
    """No infinite number anywhere in ``value`` (JSON has none; 1e400 parses as one)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _where(exc: msgspec.ValidationError) -> tuple[int, str, str]:
    """Where msgspec's error is: (the param's position, the path inside it,
    what is wrong): ``Expected `str`, got `int` - at `$[1].filter_name```
    → (1, ".filter_name", "Expected `str`, got `int`")."""
    found = re.fullmatch(r"(.*) - at `\$\[(\d+)\](.*)`", str(exc), re.DOTALL)
    if found is None:  # the count is checked before: every error has a path
        raise LightAptError(f"bad params: {exc}") from exc
    return int(found[2]), found[3], found[1]


def _kind(schema: dict[str, Any]) -> str:
    """What a param must be, from its JSON Schema: ``a number within [0, 24]``."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_kind(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind is None:
        return "a value"
    text = "null" if kind == "null" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        left = "[" if "minimum" in schema else "("
        right = "]" if "maximum" in schema else ")"
        return f"{text} within {left}{low:g}, {high:g}{right}"
    if low is not None:
        return f"{text} {'at least' if 'minimum' in schema else 'over'} {low:g}"
    if high is not None:
        return f"{text} {'at most' if 'maximum' in schema else 'under'} {high:g}"
    return text
