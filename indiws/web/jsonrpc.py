"""JSON-RPC 2.0 over a tornado WebSocket.

A subclass of `JsonRpcSocket` declares its methods with `@rpc`::

    class MySocket(JsonRpcSocket):
        @rpc("echo")
        async def echo(self, text: str, times: int = 1) -> str:
            '''Say it back.'''
            return text * times

Parameters are bound by name (a JSON object) or position (an array)
through one msgspec struct per method: a declared verb's `Params` (the
struct REST checks its body with), or one made from the method's
signature.  A wrong type, a missing or an unknown parameter gives error
-32602 (``invalid_params``) naming it; a number outside a declared range
gives -32015 (``invalid_value``), as the device would (`RpcMethod.bind`).

Every request runs in its own task, so a long action (a slew, an
exposure) does not hold up other requests on the same socket;
`progress()` sends a notification that carries the id of the request
being served.  Notifications from the server have no id.  `rpc.discover`
answers with every method, its parameters and result (OpenRPC style).

One client cannot take the service's memory or the event loop: messages
are parsed within the limits of `limits` (depth, items, size), a batch
holds at most `MAX_BATCH` requests, at most `MAX_RUNNING` requests run at
once per connection, the next message is read only after the loop has run
once (so a burst of messages, or a batch, starts one request per turn of
the loop, with other clients served between), and the answers count
against the connection's `Outbox` bounds.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import math
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
import tornado.web
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from .. import __version__
from ..client import InvalidValueError
from ..devices.base import REQUESTER
from ..service import Service
from ..verbs import Params, Verb, check_ranges, result_schema
from .base import dumps, error_body, http_error, requester
from .errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    TOO_MANY_REQUESTS,
    APIError,
    describe_error,
    invalid_params,
    validation_error_path,
)
from .limits import MAX_BATCH, JsonLimitError, check_timeout, loads
from .outbox import Outbox
from .state import WebState, web_state
from .ws_close import CleanCloseProtocol

__all__ = ["MAX_RUNNING", "JsonRpcSocket", "RpcMethod", "rpc", "rpc_from_verb"]

#: Requests running at once on one connection (long actions, waits).
MAX_RUNNING = 256

log = logging.getLogger("indiws.web")

_current_id: contextvars.ContextVar[Any] = contextvars.ContextVar("jsonrpc_id", default=None)


@dataclass(slots=True)
class RpcMethod:
    name: str
    func: Callable[..., Awaitable[Any]]
    summary: str
    description: str
    signature: inspect.Signature
    hints: dict[str, Any]
    #: Events (notification methods) this method may send while it runs.
    events: tuple[str, ...] = ()
    #: The result's JSON Schema where the method has a declared one (a verb's).
    result_schema: dict[str, Any] | None = None
    #: What a param's schema adds to its type's (range, description: a verb's).
    param_schemas: dict[str, dict[str, Any]] | None = None
    #: The declared result type (a `Result` struct, ``list[Struct]``), if any.
    result_type: Any = None
    #: The params' struct: a verb's `Params`, or one made from the signature.
    params: type[msgspec.Struct] = Params
    #: The params' names in positional order.
    names: tuple[str, ...] = ()
    #: The params that may be a float (an infinite one is refused).
    floats: tuple[str, ...] = ()
    #: The keyword arguments of a call from its params' struct: every field of
    #: a verb's (its defaults are the declaration's), the ones given of a
    #: method's own (`params_struct`).
    arguments: Callable[[Any], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        omit = self.params.__struct_config__.omit_defaults
        self.arguments = msgspec.to_builtins if omit else msgspec.structs.asdict

    def bind(self, params: Any) -> dict[str, Any]:
        """The call's keyword arguments from JSON-RPC's ``params`` (an object or
        an array), every one, defaults filled in, checked by the params' struct.

        `APIError` ``invalid_params`` naming the param for a wrong type, a
        missing or unknown one; `InvalidValueError` (``invalid_value``) for a
        number outside its declared range.  A well-formed call costs one
        `msgspec.convert`; the others take `_bind_slowly`, which keeps
        JSON-RPC's leniency (an integral 2.0 for an int, a name of a list in
        any case) and its error wording."""
        if isinstance(params, dict):
            given = params
        elif isinstance(params, list):
            if len(params) > len(self.names):
                raise invalid_params(
                    f"{self.name} takes at most {len(self.names)} parameters, got {len(params)}"
                )
            given = dict(zip(self.names, params, strict=False))
        else:
            raise invalid_params('"params" must be an object or array')
        try:
            bound = self.arguments(msgspec.convert(given, self.params))
        except msgspec.ValidationError:
            return self._bind_slowly(given)
        for name in self.floats:  # JSON's 1e999 parses to inf: refused by the slow way
            if bound.get(name) in _INFINITE:
                return self._bind_slowly(given)
        return bound

    def _bind_slowly(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in given if k not in self.names]
        if unknown:
            raise invalid_params(
                f"{self.name} has no parameter {', '.join(map(repr, unknown))}"
                f" (it takes: {', '.join(self.names) or 'none'})",
                params=unknown,
            )
        required = {n for n, p in self.signature.parameters.items() if p.default is p.empty}
        converted = {}
        for name in self.names:
            if name not in given:
                if name in required:
                    raise invalid_params(f"{self.name} needs parameter {name!r}", param=name)
                continue
            hint = self.hints.get(name, Any)
            ok, converted[name] = _check(given[name], hint)
            if not ok:
                raise invalid_params(
                    f"parameter {name!r} of {self.name} must be {_describe(hint)},"
                    f" got {_preview(given[name])}",
                    param=name,
                )
        try:
            return self.arguments(msgspec.convert(converted, self.params))
        except msgspec.ValidationError as exc:
            raise self._refusal(converted, exc) from None

    def _refusal(self, given: dict[str, Any], exc: msgspec.ValidationError) -> Exception:
        """What a params error that the types let through is: a number out of
        its declared range is the device's ``invalid_value`` (in its wording,
        `check_ranges`), a timeout's the API's ``invalid_params``
        (`check_timeout`); anything else ``invalid_params`` in msgspec's words."""
        text, path, name = validation_error_path(exc)
        value = given.get(name)
        if path == f"$.{name}" and _OUT_OF_RANGE.match(text) and isinstance(value, int | float):
            try:
                if name == "timeout":
                    check_timeout(value)
                else:
                    check_ranges(self.params, **{name: value})
            except (APIError, InvalidValueError) as refused:
                return refused
        return invalid_params(f"parameter {name!r} of {self.name}: {text} (at {path})", param=name)

    def describe(self) -> dict[str, Any]:
        params = []
        for name, p in list(self.signature.parameters.items())[1:]:
            entry: dict[str, Any] = {
                "name": name,
                "required": p.default is inspect.Parameter.empty,
                "schema": {
                    **_schema(self.hints.get(name, Any)),
                    **(self.param_schemas or {}).get(name, {}),
                },
            }
            if p.default is not inspect.Parameter.empty:
                entry["schema"]["default"] = p.default
            params.append(entry)
        out: dict[str, Any] = {
            "name": self.name,
            "summary": self.summary,
            "params": params,
            "result": {
                "name": "result",
                "schema": self.result_schema or _schema(self.hints.get("return", Any)),
            },
        }
        if self.description:
            out["description"] = self.description
        if self.events:
            out["x-events"] = list(self.events)
        return out


#: What a param's schema takes from its struct field, beside its type.
_PARAM_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "description")


def rpc_from_verb(
    verb: Verb, call: Callable[[Any, dict[str, Any]], Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """The JSON-RPC method of a declared verb (`indiws.verbs`), for a
    `JsonRpcSocket` subclass's namespace: its name, signature, defaults,
    docs, events and result schema all come from the declaration.

    ``call(socket, params)`` runs it with every param (defaults filled in)."""
    signature = verb.signature()

    async def method(self: Any, **params: Any) -> Any:
        return await call(self, params)  # every param: `RpcMethod.bind` filled the defaults

    method.__name__ = method.__qualname__ = "verb_" + verb.name.replace(".", "_")
    method.__doc__ = verb.summary + ("\n\n" + verb.description if verb.description else "")
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__annotations__ = {
        name: p.annotation for name, p in list(signature.parameters.items())[1:]
    } | {"return": dict}
    method.__rpc_name__ = verb.name  # type: ignore[attr-defined]
    method.__rpc_events__ = verb.events  # type: ignore[attr-defined]
    method.__rpc_result__ = verb.result_schema()  # type: ignore[attr-defined]
    method.__rpc_result_type__ = verb.result  # type: ignore[attr-defined]
    method.__rpc_params__ = verb.params  # type: ignore[attr-defined]
    method.__rpc_param_schemas__ = {  # type: ignore[attr-defined]
        f.name: {k: v for k, v in verb.param_schema(f.name).items() if k in _PARAM_KEYS}
        for f in verb.fields()
    }
    return method


def rpc(
    name: str, *, events: tuple[str, ...] = (), result: Any = None
) -> Callable[[Callable], Callable]:
    """Mark an async method of a `JsonRpcSocket` subclass as a JSON-RPC method.

    ``result``: the type of its answer, a `indiws.verbs.Result` struct (or
    ``list[Struct]``): ``rpc.discover`` shows its schema as for a declared
    verb (`indiws.verbs.result_schema`), and the generated client its TypedDict."""

    def mark(func: Callable) -> Callable:
        func.__rpc_name__ = name  # type: ignore[attr-defined]
        func.__rpc_events__ = events  # type: ignore[attr-defined]
        if result is not None:
            func.__rpc_result__ = result_schema(result)  # type: ignore[attr-defined]
            func.__rpc_result_type__ = result  # type: ignore[attr-defined]
        return func

    return mark


class JsonRpcSocket(WebSocketHandler):
    """Base of the JSON-RPC WebSockets; subclasses add `@rpc` methods."""

    methods: ClassVar[dict[str, RpcMethod]] = {}
    #: ``rpc.discover``'s method list, made once per class.
    _described: ClassVar[list[dict[str, Any]] | None] = None
    service: Service
    #: The service's web state (`indiws.web.state`): its send budget, the fronts' hubs.
    state: WebState
    outbox: Outbox

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        methods: dict[str, RpcMethod] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                name = getattr(attr, "__rpc_name__", None)
                if name is None:
                    continue
                doc = inspect.getdoc(attr) or ""
                summary, _, description = doc.partition("\n")
                signature = inspect.signature(attr)
                hints = typing.get_type_hints(attr)
                methods[name] = RpcMethod(
                    name,
                    attr,
                    summary.strip(),
                    description.strip(),
                    signature,
                    hints,
                    attr.__rpc_events__,
                    getattr(attr, "__rpc_result__", None),
                    getattr(attr, "__rpc_param_schemas__", None),
                    getattr(attr, "__rpc_result_type__", None),
                    getattr(attr, "__rpc_params__", None) or params_struct(name, signature, hints),
                    tuple(signature.parameters)[1:],
                    tuple(n for n, h in hints.items() if n != "return" and _takes_float(h)),
                )
        cls.methods = methods
        cls._described = None

    def initialize(self, service: Service) -> None:
        self.service = service
        self.state = web_state(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        #: While a batch's requests are being started: done once they are.
        self._batch_started: asyncio.Future[None] | None = None

    @property
    def max_message_size(self) -> int:  # read by tornado at the upgrade
        return self.service.config.max_message_bytes

    async def get(self, *args: Any, **kwargs: Any) -> None:
        # Tornado answers these in plain text; say it in the API's JSON.
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            raise tornado.web.HTTPError(
                400,
                f"{self.request.path} is a WebSocket: open it with a WebSocket client"
                ' (the request has no "Upgrade: websocket" header)',
            )
        if "upgrade" not in (t.strip().lower() for t in headers.get("Connection", "").split(",")):
            raise tornado.web.HTTPError(
                400, 'a WebSocket handshake needs the header "Connection: Upgrade"'
            )
        await super().get(*args, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors before the upgrade (a plain GET, a bad query argument): the
        JSON error body of the HTTP API."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err = http_error(status_code, exc, self._reason)
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps({"error": error_body(err)}))

    # Connection ---------------------------------------------------------

    def check_origin(self, origin: str) -> bool:
        # The gate (web/gate.py) has refused other origins before routing; the
        # same rule here keeps tornado's own check from refusing allowed ones.
        policy = getattr(self.application, "policy", None)
        if policy is None:
            return super().check_origin(origin)
        return bool(policy.origin_allowed(origin, self.request.headers.get("Host", "")))

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # frames are small and latency matters more

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        # Tornado's protocol with close codes a client can read (web/ws_close.py).
        protocol = super().get_websocket_protocol()
        if isinstance(protocol, WebSocketProtocol13):
            return CleanCloseProtocol(self, False, protocol.params)
        return protocol

    def open(self, *args: str, **kwargs: str) -> None:
        # Small frames, sent as they come: Nagle's delay would cost tens of ms.
        self.set_nodelay(True)
        config = self.service.config
        self.outbox = Outbox(
            self,
            config.max_pending_messages,
            max_pending_bytes=config.max_pending_bytes,
            budget=self.state.send_budget,
        )
        self.opened()

    def opened(self) -> None:
        """Hook for subclasses: the socket is open (self.outbox is ready)."""

    def on_close(self) -> None:
        self.outbox.close()
        for task in list(self._tasks):
            task.cancel()
        self.closed()

    def closed(self) -> None:
        """Hook for subclasses: the socket closed; release subscriptions."""

    # Sending ------------------------------------------------------------

    def notify(self, method: str, params: Any, key: Any = None) -> None:
        """Send a notification; ``key`` lets a slow client get only the latest."""
        self.outbox.send(dumps({"jsonrpc": "2.0", "method": method, "params": params}), key)

    def send_text(self, text: str, key: Any = None) -> None:
        self.outbox.send(text, key)

    def progress(self, **data: Any) -> None:
        """Progress of the request being served, as a ``progress`` notification."""
        rid = _current_id.get()
        self.notify("progress", {"id": rid, **data}, key=("progress", _hashable(rid)))

    def _reply(self, rid: Any, result: Any = None, error: APIError | None = None) -> None:
        self.outbox.send(_encode(_answer(rid, result, error)))

    def _send_answer(self, answer: dict[str, Any] | list[dict[str, Any]]) -> None:
        if isinstance(answer, list):
            self.outbox.send("[" + ",".join(_encode(a) for a in answer) + "]")
        else:
            self.outbox.send(_encode(answer))

    # Receiving ----------------------------------------------------------

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        if self.outbox.closed:
            return None  # being closed as too slow: no more work for it
        try:
            data = loads(message)  # the limits of every front, see .limits
        except ValueError as exc:  # UnicodeDecodeError and JsonLimitError too
            self.on_parse_error(message, exc)
        else:
            self.on_json(data)
        return self._next_message()

    async def _next_message(self) -> None:
        # Tornado reads the next message once this returns: the requests just
        # started run their first step, and other clients are served, before
        # this client's next message (a burst would otherwise start at once).
        await asyncio.sleep(0)
        if self._batch_started is not None:
            await self._batch_started

    def on_parse_error(self, message: str | bytes, exc: Exception) -> None:
        """A frame that is not JSON, or JSON past the limits: a JSON-RPC parse
        error (subclasses may answer in another protocol)."""
        text = str(exc) if isinstance(exc, JsonLimitError) else f"invalid JSON: {exc}"
        self._reply(None, error=APIError(400, PARSE_ERROR, "parse_error", text))

    def on_json(self, data: Any) -> None:
        """One parsed frame: a JSON-RPC request or batch.  Subclasses that
        speak a second protocol on the same socket route its messages here."""
        if not isinstance(data, list):
            started = self._start(data)
            if isinstance(started, str):
                self.outbox.send(started)
            elif started is not None:
                started.add_done_callback(self._answer_when_done)
            return
        if not data:
            self._reply(None, error=_invalid("empty batch"))
            return
        if len(data) > MAX_BATCH:
            self._reply(
                None,
                error=_invalid(
                    f"a batch may hold at most {MAX_BATCH} requests, got {len(data)}:"
                    " send them in several batches"
                ),
            )
            return
        loop = asyncio.get_running_loop()
        self._batch_started = started = loop.create_future()
        self._track(loop.create_task(self._run_batch(data, started)))

    async def _run_batch(self, data: list[Any], started: asyncio.Future[None]) -> None:
        """Start a batch's requests, one per turn of the loop; answer with one
        array once all of them have ended."""
        items: list[Any] = []
        try:
            for n, request in enumerate(data):
                if n:
                    await asyncio.sleep(0)
                items.append(self._start(request))
        finally:
            if not started.done():
                started.set_result(None)
            if self._batch_started is started:
                self._batch_started = None
        answers = []
        for item in items:
            if isinstance(item, asyncio.Task):
                item = await item
            if item is not None:
                answers.append(item)
        if answers:
            self.outbox.send("[" + ",".join(answers) + "]")

    def _answer_when_done(self, task: asyncio.Task[str | None]) -> None:
        if not task.cancelled() and task.result() is not None:
            self.outbox.send(task.result())

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start(self, req: Any) -> str | asyncio.Task[str | None] | None:
        """Check and start one request: its answer now (encoded), a task that
        ends with its encoded answer, or None for a notification."""
        if not isinstance(req, dict):
            return _encode(_answer(None, error=_invalid("a request must be a JSON object")))
        rid = req.get("id")
        # A bad id is never echoed: the answer says null (JSON-RPC 2.0, 5.).
        if not _valid_id(rid):
            return _encode(
                _answer(None, error=_invalid('"id" must be a string, a finite number or null'))
            )
        is_notification = "id" not in req
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return _encode(
                _answer(rid, error=_invalid('need "jsonrpc": "2.0" and a "method" string'))
            )
        if self.outbox.closed:
            return None  # closing: nobody reads the answer
        name = req["method"]
        params = req.get("params", {})
        if name == "rpc.discover":
            return None if is_notification else _encode(_answer(rid, self.discover()))
        method = self.methods.get(name)
        if method is None:
            if is_notification:
                return None
            return _encode(
                _answer(
                    rid,
                    error=APIError(
                        404,
                        METHOD_NOT_FOUND,
                        "method_not_found",
                        f"unknown method {name!r}; rpc.discover lists them",
                    ),
                )
            )
        try:
            kwargs = method.bind(params)
        except APIError as exc:
            return None if is_notification else _encode(_answer(rid, error=exc))
        except InvalidValueError as exc:  # out of range: as the device would say it
            err = self.describe_error(method, exc)
            return None if is_notification else _encode(_answer(rid, error=err))
        if len(self._tasks) >= MAX_RUNNING:
            err = APIError(
                429,
                TOO_MANY_REQUESTS,
                "too_many_requests",
                f"{MAX_RUNNING} requests are running on this connection:"
                " wait for some answers before sending more",
            )
            return None if is_notification else _encode(_answer(rid, error=err))
        task = asyncio.get_running_loop().create_task(
            self._call(method, rid, is_notification, kwargs),
            context=contextvars.copy_context(),
        )
        self._track(task)
        return task

    async def _call(self, method: RpcMethod, rid: Any, quiet: bool, kwargs: dict) -> str | None:
        _current_id.set(rid)
        REQUESTER.set(requester(self.request, self.request.path))
        try:
            result = await method.func(self, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = self.describe_error(method, exc)
            if err.code == INTERNAL_ERROR:
                log.exception("%s failed", method.name)
            return None if quiet else _encode(_answer(rid, error=err))
        # Encoded here, in the request's own turn of the loop, not all at
        # once when a batch's answer is sent.
        return None if quiet else _encode(_answer(rid, result))

    def describe_error(self, method: RpcMethod, exc: Exception) -> APIError:
        """The error answer for ``method``'s exception (a socket may add what it knows)."""
        return describe_error(exc)

    def discover(self) -> dict[str, Any]:
        cls = type(self)
        if cls._described is None:
            cls._described = [m.describe() for m in self.methods.values()]
        return {
            "openrpc": "1.3.2",
            "info": {"title": f"indiws {self.request.path}", "version": __version__},
            "methods": cls._described,
        }


def _answer(rid: Any, result: Any = None, error: APIError | None = None) -> dict[str, Any]:
    if error is None:
        return {"jsonrpc": "2.0", "id": rid, "result": result}
    return {"jsonrpc": "2.0", "id": rid, "error": _error_object(error)}


def _valid_id(rid: Any) -> bool:
    """A JSON-RPC id: a string, a finite number or null (never a bool)."""
    if rid is None or isinstance(rid, str):
        return True
    if isinstance(rid, bool):
        return False
    return isinstance(rid, int) or (isinstance(rid, float) and math.isfinite(rid))


def _encode(answer: dict[str, Any]) -> str:
    try:
        return dumps(answer)
    except (TypeError, ValueError, RecursionError) as exc:
        log.exception("cannot encode the answer to %r", answer.get("id"))
        rid = answer.get("id")
        return dumps(
            {
                "jsonrpc": "2.0",
                "id": rid if _valid_id(rid) else None,
                "error": {"code": INTERNAL_ERROR, "message": f"unencodable result: {exc}"},
            }
        )


def _invalid(message: str) -> APIError:
    return APIError(400, INVALID_REQUEST, "invalid_request", message)


def _error_object(err: APIError) -> dict[str, Any]:
    data = {k: v for k, v in err.data.items() if k != "error"}
    return {"code": err.code, "message": err.message, "data": {"error": err.name, **data}}


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | type(None)) else repr(value)


def params_struct(
    name: str, signature: inspect.Signature, hints: dict[str, Any]
) -> type[msgspec.Struct]:
    """The params' struct of a JSON-RPC method that is not a declared verb,
    made from its signature (after ``self``): its annotations and defaults.

    The method gets only the params given (``omit_defaults``): a default of
    its own (None for "unchanged") need not be of the param's type."""
    fields = []
    for pname, p in list(signature.parameters.items())[1:]:
        hint = hints.get(pname, Any)
        fields.append((pname, hint) if p.default is p.empty else (pname, hint, p.default))
    return msgspec.defstruct(
        re.sub(r"[^0-9A-Za-z]", "_", name) + "_params",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
        omit_defaults=True,
    )


def _takes_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


_INFINITE = (math.inf, -math.inf)
#: msgspec's words for a value outside its declared bounds.
_OUT_OF_RANGE = re.compile(r"Expected `[^`]*` [<>]=? ")


def _preview(value: Any, limit: int = 80) -> str:
    """The start of a value as JSON, without encoding all of a large one."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]
    elif isinstance(value, list | dict) and len(value) > 8:
        return f"an {'array' if isinstance(value, list) else 'object'} of {len(value)} items"
    try:
        return json.dumps(value)[:limit]
    except (ValueError, RecursionError):
        return type(value).__name__


def _check(value: Any, hint: Any) -> tuple[bool, Any]:
    """Is ``value`` (from JSON) of type ``hint``? Returns (ok, converted)."""
    if hint is Any:
        return True, value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            ok, converted = _check(value, arm)
            if ok:
                return True, converted
        return False, value
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value in choices:
            return True, value
        # Names from a list are taken in any case ("N", "North", "LIGHT"),
        # handed on in the list's own spelling.
        if isinstance(value, str):
            for choice in choices:
                if isinstance(choice, str) and choice.casefold() == value.casefold():
                    return True, choice
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, value
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            return False, value
        return math.isfinite(number), number
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is str:
        return isinstance(value, str), value
    base = origin or hint
    if base in (dict, typing.Mapping):
        return isinstance(value, dict), value
    if base in (list, tuple, typing.Sequence):
        if not isinstance(value, list):
            return False, value
        args = typing.get_args(hint)
        if args and args[-1] is not Ellipsis and base is list:
            converted = []
            for item in value:
                ok, c = _check(item, args[0])
                if not ok:
                    return False, value
                converted.append(c)
            return True, converted
        return True, value
    return True, value


def _describe(hint: Any) -> str:
    schema = _schema(hint)
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(s.get("type", "value") for s in schema["anyOf"])
    return f"a {schema.get('type', 'value')}"


def _schema(hint: Any) -> dict[str, Any]:
    """A JSON Schema for a type hint (the subset the APIs use)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(a) for a in typing.get_args(hint)]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    simple = {
        str: "string",
        float: "number",
        int: "integer",
        bool: "boolean",
        type(None): "null",
    }
    if hint in simple:
        return {"type": simple[hint]}
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):  # a verb's nested params
        return result_schema(hint)
    base = origin or hint
    if base in (dict, typing.Mapping):
        return {"type": "object"}
    if base in (list, tuple, typing.Sequence):
        args = typing.get_args(hint)
        schema: dict[str, Any] = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = _schema(args[0])
        return schema
    return {}
