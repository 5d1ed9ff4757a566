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
array-like msgspec struct derived from the verb it names (`binding`):
nothing is sent before they are.  The reply:

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
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ...devices import RoleDevice, until_started
from ...devices.base import REQUESTER
from ...devices.errors import NoDeviceError
from ...roles import ROLES, role_named
from ...verbs import VERBS
from ..base import dumps_lenient
from ..errors import INTERNAL_ERROR, describe_error
from .binding import Instruction, LightAptError, Refusal, Words, declare
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


# ---------------------------------------------------------------- registry

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
    words: Mapping[str, Words] | None = None,
    unassigned: Callable[[str], Any] | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Register ``async def f(ctx, *params)`` as instruction ``names`` (the
    function's name when none) of one role or several (service role names:
    ``telescope``, ``camera``, ``guider``, ``focuser``, ``filter_wheel``).

    ``verb``: the declared verb it calls (a name of `indiws.verbs.VERBS`,
    ``"focuser.move_to"``); ``params``: which of its parameters are the
    verb's fields, by the same name (``("position",)``) or mapped
    (``{"seconds": "duration"}``): their type, range and default are the
    verb's (`binding`).  ``words``: the original's words for a value
    refused, by field (``{"ra": Refusal("RA is not in range!")}``).
    ``unassigned(role)``: the data answered while no device holds the role."""
    role_list = (roles,) if isinstance(roles, str) else roles
    if verb is not None and verb not in VERBS:
        raise ValueError(f"no verb {verb!r} is declared (indiws.verbs.VERBS)")

    def register(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        declared = declare(
            func,
            verb=None if verb is None else VERBS[verb],
            params=params,
            words=words,
            unassigned=unassigned,
        )
        for name in names or (func.__name__,):
            for role in role_list:
                if name in INSTRUCTIONS[role]:
                    raise ValueError(f"instruction {role}.{name} registered twice")
                INSTRUCTIONS[role][name] = declared.named(name)
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
