"""The lightAPT envelope on ``/ws/indi_client/``: requests, replies, dispatch.

A lightAPT request is one JSON text frame::

    {"device_name": "camera", "instruction": "start_single_exposure", "params": [2.0]}

``device_name`` names a *role* (``telescope``, ``camera``, ``focus``,
``filter``, ``guider``, and ours ``focuser``, ``filter_wheel``), ``params`` is
a list of positional arguments.  Exactly one JSON text frame answers each
request, in the order the requests came, shaped as the original service did
(``{"type", "message", "data"}``) and echoing ``device_name`` and
``instruction`` (the later front end, cobalt-web, routes replies by them).

An instruction is an async function registered with `instruction`; it gets
a `Context` and the request's params, calls verbs of `indiws.devices`, and
returns what the reply carries.  Its params are bound first, by one
array-like msgspec struct (`Instruction.args`): a param that is a field of
the verb the instruction names has that field's type, range and default
(the verb's `Params`, `indiws.verbs`), any other the function's own
annotation; nothing is sent before they are.  The reply:

- ``None``: ``{"type": "message", "message": "success", "data": null}``;
- a dict, list, number or bool: ``{"type": "data", "message": "see data", "data": ...}``;
- a str, or raises `Refusal`: ``{"type": "message", "message": <text>}``, the
  original's handled refusals;
- raises a refusal of the device layer that `refusals.REFUSALS` words for
  the instruction ("Telescope cannot park", "telescope is moving, please
  wait!", ...): ``{"type": "message", "message": <words>}``;
- a value refused (by the binder or the device) for a field the
  instruction has ``words`` for: those words, type "message" for a
  `Refusal` ("RA is not in range!"), "error" for a `LightAptError`;
- raises anything else: ``{"type": "error", "message": <text>}``.

No INDI logic lives here or in the instruction modules: each instruction is
a call of a device verb plus the shaping of its reply; the device verbs
check states and ranges, and refuse with a typed reason.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar, Union

import msgspec

from ...client import InvalidValueError
from ...devices import RoleDevice, until_started
from ...devices.base import REQUESTER
from ...devices.errors import NoDeviceError
from ...roles import ROLES, role_named
from ...verbs import VERBS, Verb, result_schema
from ..base import dumps_lenient
from ..errors import INTERNAL_ERROR, describe_error
from .refusals import words_for

if TYPE_CHECKING:
    from ...service import Service


class RoleMemory:
    """What the original kept in its role objects (focuser step sizes, the
    goto target's name, filter offsets, ...): per role, in memory, for the
    life of the application (its `indiws.web.highlevel.ClientHub` holds it)."""

    def __init__(self) -> None:
        self._roles: dict[str, dict[str, Any]] = {}

    def of(self, role: str) -> dict[str, Any]:
        return self._roles.setdefault(role, {})


class ClientHub(Protocol):
    """What the endpoint uses of `indiws.web.highlevel.ClientHub` (which sits
    above this module)."""

    lightapt_memory: RoleMemory

    def device(self, role: str, device: str | None) -> RoleDevice: ...

    async def detached(self, call: Awaitable[T]) -> T: ...


__all__ = [
    "INSTRUCTIONS",
    "Context",
    "Instruction",
    "LightAptEndpoint",
    "LightAptError",
    "Refusal",
    "RoleMemory",
    "frame",
    "instruction",
    "is_lightapt_request",
]

log = logging.getLogger("indiws.lightapt")

T = TypeVar("T")

#: Requests of one socket waiting for their turn before it is closed as flooding.
MAX_QUEUED = 256
#: How long `Context.start` waits for a long action to start before answering anyway.
START_WAIT = 30.0
#: How long `Context.start` then waits for the driver to take the command.
ACK_WAIT = 2.0
#: WebSocket close code for a client that floods requests.
POLICY_VIOLATION = 1008


class Refusal(Exception):
    """A handled refusal, answered ``{"type": "message", "message": <text>}``
    in the original's words (the device is busy, cannot park, ...)."""


class LightAptError(Exception):
    """A failure answered ``{"type": "error", "message": <text>}``."""


# ---------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction of a role, and how its positional params are bound.

    ``args`` is the params' one declaration: an array-like msgspec struct
    whose fields are the function's parameters after the `Context`, in
    order.  A parameter the instruction maps onto a field of its ``verb``
    (`instruction`'s ``params``) has that field's type, range and default,
    from the verb's `Params` struct (`indiws.verbs`); any other is the
    function's own (its annotation and default: the service's own memory,
    a query's option, an envelope the original invented).
    """

    name: str
    func: Callable[..., Awaitable[Any]]
    args: type[msgspec.Struct]
    #: The verb the instruction calls (``focuser.move_to``), if it names one.
    verb: Verb | None = None
    #: param → the verb's field it is (or its own name): how a refusal names it.
    known_as: Mapping[str, str] = field(default_factory=dict)
    #: The original's words for a value refused, by the verb's field or the
    #: INDI element the refusal names (by this binder or by the device):
    #: a `Refusal` is answered type "message", a `LightAptError` type "error".
    words: Mapping[str, Refusal | LightAptError] = field(default_factory=dict)
    #: The data answered while no device holds the role (role name → data),
    #: for the queries cobalt-web's pages poll and read without checking the
    #: reply's type: an empty shape they show instead of throwing.
    unassigned: Callable[[str], Any] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return self.args.__struct_fields__

    def bind(self, params: list[Any]) -> list[Any]:
        """The params converted by ``args``, in order (defaults filled in):
        `LightAptError` for a wrong count or type, `InvalidValueError` naming
        the field for a value of the right type out of its range."""
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
        bare = typing.get_type_hints(self.args)
        values = []
        for index, (name, value) in enumerate(zip(names, params, strict=False)):
            if not _finite(value):  # 1e400 parses as inf
                raise LightAptError(self._wrong(index, value))
            values.append(_whole(value, bare[name]))
        try:
            return list(msgspec.structs.astuple(msgspec.convert(values, self.args)))
        except msgspec.ValidationError as exc:
            index, inside, what = _where(exc)
            name, value = names[index], values[index]
            if inside:  # within the param (a key of an object): msgspec's words
                raise LightAptError(
                    f"parameter {name} of {self.name}: {what} (at {name}{inside})"
                ) from None
            text = self._wrong(index, value)
            try:
                msgspec.convert(value, bare[name])  # of its type: out of its range
            except msgspec.ValidationError:
                raise LightAptError(text) from None
            raise InvalidValueError(text, param=self.known_as.get(name, name)) from None

    def _wrong(self, index: int, value: Any) -> str:
        schema = result_schema(self.args)["prefixItems"][index]
        return (
            f"parameter {self.names[index]} of {self.name} must be {_kind(schema)},"
            f" got {_short(value)}"
        )

    def said(self, exc: BaseException) -> Refusal | LightAptError | None:
        """The original's words for ``exc``, a value refused, if it had some."""
        if not isinstance(exc, InvalidValueError):
            return None
        return self.words.get(exc.param or getattr(exc, "element", None) or "")


def declare(
    name: str,
    func: Callable[..., Awaitable[Any]],
    *,
    verb: Verb | None = None,
    params: Sequence[str] | Mapping[str, str] = (),
    words: Mapping[str, Refusal | LightAptError] | None = None,
    unassigned: Callable[[str], Any] | None = None,
) -> Instruction:
    """The `Instruction` ``name`` of ``func`` (see `instruction`), its params
    struct built from ``verb``'s fields and the function's own parameters.

    The function's signature must say what the verb's struct says of a
    parameter mapped onto it (its type without the range, its default):
    ``TypeError`` here, at import, when they differ."""
    sig = inspect.signature(func)
    names = list(sig.parameters)[1:]  # after the Context
    mapping = dict(params) if isinstance(params, Mapping) else {p: p for p in params}
    where = f"instruction {name}"
    if set(mapping) - set(names):
        raise ValueError(f"{where} has no parameter {sorted(set(mapping) - set(names))}")
    if mapping and verb is None:
        raise ValueError(f"{where} maps {sorted(mapping)} onto no verb")
    hints = typing.get_type_hints(func, include_extras=True)
    bare = typing.get_type_hints(func)
    of_verb = {f.name: f for f in verb.fields()} if verb is not None else {}
    verb_hints = typing.get_type_hints(verb.params, include_extras=True) if verb else {}
    verb_bare = typing.get_type_hints(verb.params) if verb else {}
    fields: list[tuple[Any, ...]] = []
    for param in names:
        default = sig.parameters[param].default
        default = msgspec.NODEFAULT if default is inspect.Parameter.empty else default
        hint = hints.get(param, Any)
        if param in mapping:
            assert verb is not None
            declared = of_verb.get(mapping[param])
            if declared is None:
                raise ValueError(f"{where}: {verb.name} has no field {mapping[param]!r}")
            hint = _narrowed(verb_hints[declared.name], bare.get(param, Any))
            if hint is None or default != declared.default:
                wanted = "" if declared.default is msgspec.NODEFAULT else f" = {declared.default!r}"
                raise TypeError(
                    f"{where}: parameter {param} is {verb.name}'s {declared.name}:"
                    f" declare it {_type_name(verb_bare[declared.name])}{wanted}"
                    " (or some of its types)"
                )
        fields.append((param, hint) if default is msgspec.NODEFAULT else (param, hint, default))
    args = msgspec.defstruct(
        f"{func.__name__}_params", fields, array_like=True, forbid_unknown_fields=True
    )
    return Instruction(
        name,
        func,
        args,
        verb,
        {p: mapping.get(p, p) for p in names},
        dict(words or {}),
        unassigned,
    )


def _arms(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if typing.get_origin(hint) in (Union, UnionType) else (hint,)


def _narrowed(declared: Any, annotation: Any) -> Any:
    """The verb's field type ``declared`` (ranges included) cut down to the
    types of the function's ``annotation`` (lightAPT's ``switch_filter``
    takes a slot number where the verb also takes a name); None when the
    annotation has a type the field has not."""
    bare = {
        (typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a): a
        for a in _arms(declared)
    }
    wanted = _arms(annotation)
    if not set(wanted) <= set(bare):
        return None
    kept = tuple(bare[a] for a in bare if a in wanted)
    return kept[0] if len(kept) == 1 else Union[kept]  # noqa: UP007 (a tuple of types)


def _whole(value: Any, hint: Any) -> Any:
    """A whole float (``2.0``) as an int where the param takes an int and not
    a float (a JSON number does not say which it is)."""
    if isinstance(value, float) and value.is_integer():
        arms = typing.get_args(hint) if typing.get_origin(hint) in (Union, UnionType) else (hint,)
        if int in arms and float not in arms:
            return int(value)
    return value


def _where(exc: msgspec.ValidationError) -> tuple[int, str, str]:
    """Where msgspec's error is: (the param's position, the path inside it,
    what is wrong): ``Expected `str`, got `int` - at `$[1].filter_name```
    → (1, ".filter_name", "Expected `str`, got `int`")."""
    found = re.fullmatch(r"(.*) - at `\$\[(\d+)\](.*)`", str(exc), re.DOTALL)
    if found is None:  # the count is checked before: every error has a path
        raise LightAptError(f"bad params: {exc}") from exc
    return int(found[2]), found[3], found[1]


def _finite(value: Any) -> bool:
    """No infinite number anywhere in ``value`` (JSON has none; 1e400 parses as one)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


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


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or repr(hint).replace("typing.", "")


#: role → instruction name → `Instruction`.
INSTRUCTIONS: dict[str, dict[str, Instruction]] = {role: {} for role in ROLES}
#: Not a role: the autoguider (`indiws.guiding`), as cobalt-web names PHD2.
GUIDING = "phd2"
INSTRUCTIONS[GUIDING] = {}


def instruction(
    roles: str | tuple[str, ...],
    *names: str,
    verb: str | None = None,
    params: Sequence[str] | Mapping[str, str] = (),
    words: Mapping[str, Refusal | LightAptError] | None = None,
    unassigned: Callable[[str], Any] | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Register ``async def f(ctx, *params)`` as instruction ``names`` (the
    function's name when none) of one role or several (service role names:
    ``telescope``, ``camera``, ``guider``, ``focuser``, ``filter_wheel``).

    ``verb``: the declared verb it calls (``"focuser.move_to"``, a name of
    `indiws.verbs.VERBS`); ``params``: its parameters that are the verb's
    fields, by the same name (``("position",)``) or mapped
    (``{"seconds": "duration"}``): their type, range and default are the
    verb's.  ``words``: the original's words for a value refused, by field
    (``{"ra": Refusal("RA is not in range!")}``).  ``unassigned(role)``: the
    data answered while no device holds the role."""
    role_list = (roles,) if isinstance(roles, str) else roles

    def register(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        for name in names or (func.__name__,):
            for role in role_list:
                if name in INSTRUCTIONS[role]:
                    raise ValueError(f"instruction {role}.{name} registered twice")
                INSTRUCTIONS[role][name] = declare(
                    name,
                    func,
                    verb=None if verb is None else VERBS[verb],
                    params=params,
                    words=words,
                    unassigned=unassigned,
                )
        return func

    return register


# ---------------------------------------------------------------- frames


def is_lightapt_request(data: Any) -> bool:
    """A lightAPT request, as opposed to JSON-RPC: an object without
    ``"jsonrpc"`` that names a device or an instruction."""
    return (
        isinstance(data, dict)
        and "jsonrpc" not in data
        and ("instruction" in data or "device_name" in data)
    )


def frame(
    kind: str, message: str, data: Any = None, *, device_name: Any = None, instruction: Any = None
) -> dict[str, Any]:
    """A reply or pushed frame: the original's three keys, plus the echo."""
    return {
        "type": kind,
        "message": message,
        "data": data,
        "device_name": device_name,
        "instruction": instruction,
    }


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------- context


class Context:
    """What an instruction works with: its role's device, the service, and
    the socket it may push frames to."""

    def __init__(self, endpoint: LightAptEndpoint, role: str, device_name: str, name: str) -> None:
        self.endpoint = endpoint
        self.service = endpoint.service
        self.client = endpoint.service.client
        self.hub = endpoint.hub
        #: The service's role (``focuser``) and the name the client used (``focus``).
        self.role = role
        self.device_name = device_name
        self.instruction = name

    def device(self, role: str | None = None) -> Any:
        """The device object of this role (or another), for the device assigned now."""
        role = role or self.role
        return self.hub.device(role, self.service.roles.device_for(role))

    @property
    def state(self) -> dict[str, Any]:
        """This role's lightAPT settings (kept for the life of the application)."""
        return self.hub.lightapt_memory.of(self.role)

    def push(self, kind: str, message: str, data: Any = None, **echo: Any) -> None:
        """Push a frame to this socket (``device_name``/``instruction`` default
        to this request's)."""
        echo.setdefault("device_name", self.device_name)
        echo.setdefault("instruction", self.instruction)
        self.endpoint.send(frame(kind, message, data, **echo))

    def when_closed(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once when this socket closes, e.g. to stop a
        move that a pressed button started (its release will never come)."""
        self.endpoint.when_closed(callback)

    async def start(
        self,
        call: Awaitable[T],
        on_end: Callable[[asyncio.Future[T]], None] | None = None,
    ) -> T | None:
        """Run a long device action (a slew, an exposure) on its own and
        return once it has *started*, as the original answered at once.

        An error before the action starts (a value out of range, a parked
        mount, a busy device) is raised here, so the request is answered
        with it.  The action then runs to its end even if the socket closes;
        ``on_end`` gets its future when it ends.  Returns the action's result
        if it ended before it could be seen starting, else None.
        """
        device: RoleDevice = self.device()
        task = asyncio.ensure_future(self.hub.detached(call))
        await until_started(
            self.client, device.name, task, start_wait=START_WAIT, ack_wait=ACK_WAIT
        )
        if on_end is not None:
            task.add_done_callback(on_end)
        else:
            task.add_done_callback(_retrieve)
        if task.done():
            return task.result()  # an early error is raised here
        return None


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


# ---------------------------------------------------------------- endpoint


class LightAptEndpoint:
    """The lightAPT side of one ``/ws/indi_client/`` socket.

    Requests are served one at a time, in the order they came, so replies
    come in request order as they did from the original; a long action
    answers once it has started (`Context.start`), so one request never
    holds the next for long.
    """

    def __init__(
        self,
        service: Service,
        hub: ClientHub,
        send: Callable[[str], None],
        close: Callable,
        who: str = "a lightAPT client",
    ) -> None:
        self.service = service
        #: Who is at the other end (its address, token or not), for the log.
        self.who = who
        self.hub = hub
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._on_close: list[Callable[[], Any]] = []
        self.closed = False
        #: What instructions keep for this socket only (the arrow buttons it
        #: holds pressed, `indiws.web.lightapt.telescope`).
        self.memory: dict[str, Any] = {}

    def send(self, obj: dict[str, Any]) -> None:
        if not self.closed:
            self._send(dumps_lenient(obj))

    def handle(self, request: dict[str, Any] | Exception) -> None:
        """Queue a parsed request (or a parse error, answered in its turn)."""
        if self.closed:
            return
        if self._queue.qsize() >= MAX_QUEUED:
            log.warning("closing a lightAPT socket: %d requests waiting", self._queue.qsize())
            self.close()
            self._close(POLICY_VIOLATION, "too many requests waiting")
            return
        self._queue.put_nowait(request)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._serve_all())

    def close(self) -> None:
        self.closed = True
        if self._worker is not None:
            self._worker.cancel()
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            self._call(callback)

    def when_closed(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once when the socket closes (at once if it has);
        an awaitable it returns runs to its end on its own."""
        if self.closed:
            self._call(callback)
        else:
            self._on_close.append(callback)

    def _call(self, callback: Callable[[], Any]) -> None:
        try:
            result = callback()
        except Exception:
            log.exception("lightAPT close callback failed")
            return
        if inspect.isawaitable(result):
            asyncio.ensure_future(self.hub.detached(result)).add_done_callback(_retrieve)

    async def _serve_all(self) -> None:
        REQUESTER.set(self.who)  # this task's context: every instruction of this socket
        while not self.closed:
            request = await self._queue.get()
            try:
                reply = await self.serve(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never lose the socket to one request
                log.exception("lightAPT request failed")
                reply = frame("error", f"internal error: {exc}")
            self.send(reply)

    async def serve(self, request: dict[str, Any] | Exception) -> dict[str, Any]:
        """The reply frame to one request."""
        if isinstance(request, Exception):
            return frame("error", f"invalid JSON: {request}")
        device_name = request.get("device_name")
        name = request.get("instruction")
        echo = {"device_name": device_name, "instruction": name}
        if not isinstance(device_name, str) or not isinstance(name, str):
            return frame(
                "error",
                'a request needs "device_name" and "instruction" strings'
                ' and a "params" array, e.g. {"device_name": "camera",'
                ' "instruction": "get_real_time_info", "params": []}',
                **echo,
            )
        params = request.get("params", [])
        role = GUIDING if device_name == GUIDING else role_named(device_name)
        # phd2 (the autoguider) works once the guider role holds a device.
        holder = "guider" if role == GUIDING else role
        wrong = f"!error! wrong device name {device_name}"
        if holder is None:
            # The original's words, and type, for a role unknown.
            return frame("message", wrong, **echo)
        found = INSTRUCTIONS[role].get(name)
        if self.service.roles.device_for(holder) is None:
            # The original's words; type "error", which cobalt-web's pages skip
            # (a "message" would be read as data and throw in their listeners),
            # and the queries they poll answer an empty shape they can show.
            why = f"{wrong} (no device holds the {holder} role)"
            if found is not None and found.unassigned is not None:
                return frame("data", why, found.unassigned(holder), **echo)
            return frame("error", why, **echo)
        if found is None:
            known = ", ".join(sorted(INSTRUCTIONS[role]))
            return frame(
                "error", f"unknown instruction {name!r} for {device_name}; known: {known}", **echo
            )
        if not isinstance(params, list):
            return frame("error", '"params" must be a JSON array, e.g. [] or [2.0]', **echo)
        try:
            args = found.bind(params)
            result = await found.func(Context(self, role, device_name, name), *args)
        except asyncio.CancelledError:
            raise
        except Refusal as exc:
            return frame("message", str(exc), **echo)
        except LightAptError as exc:
            return frame("error", str(exc), **echo)
        except Exception as exc:
            said = found.said(exc)
            if said is not None:
                return frame("message" if isinstance(said, Refusal) else "error", str(said), **echo)
            words = words_for(exc, role, found.func.__name__)
            if words is not None:
                return frame("message", words, **echo)
            if isinstance(exc, NoDeviceError):
                return frame("error", str(exc), **echo)
            err = describe_error(exc)
            if err.code == INTERNAL_ERROR:
                log.exception("lightAPT %s.%s failed", device_name, name)
            return frame("error", err.message, **echo)
        return reply_for(result, **echo)


def reply_for(result: Any, **echo: Any) -> dict[str, Any]:
    """The reply to an instruction's return value, as the original shaped it."""
    if result is None:
        return frame("message", "success", **echo)
    if isinstance(result, str):
        return frame("message", result, **echo)
    return frame("data", "see data", result, **echo)
