"""PHD2's event-server protocol (docs/phd2.md) over the built-in autoguider.

A front like the others: a thin translation of PHD2's methods into the
declared ``guiding.*`` verbs (`indiws.guiding.verbs`), and of the engine's
events (already named and shaped as PHD2's) onto the wire.  A method that
invokes a guiding operation maps PHD2's params (names, units: ``settle``'s
whole seconds, ``set_exposure``'s ms, ``raOnly``, integer booleans) onto
the verb's fields, checks each with that field's type and range
(`_field`), and calls the verb as every front does (`verb_call`); what is
left here is PHD2's own: its error codes and strings, its defaults.
Guiding clients written for PHD2 (N.I.N.A., Ekos, lightAPT, ...) connect
to it as they would to PHD2.

Wire format, as PHD2's ``src/event_server.cpp``: TCP, one JSON object (or
batch array) per line ending ``\\r\\n``; events carry ``Event``,
``Timestamp``, ``Host`` and ``Inst`` first and no ``jsonrpc``; responses
are ``{"jsonrpc":"2.0","result"|"error":...,"id":...}`` with the request's
id as it came; a request without ``id`` is done but not answered.  On
connect: ``Version``, the catch-up events, ``AppState`` last.

PHD2 has no authentication: anyone who reaches the port can guide, dither
and pulse the mount.  It listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import inspect
import json
import logging
import math
import socket
import time
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ..client import InvalidValueError
from ..guiding import EXPOSURE_DURATIONS, GuidingError
from ..guiding.verbs import GuideRoi
from ..security import QuietLog, binds_beyond_loopback
from ..verbs import VERBS, check_ranges
from .verb_routes import verb_call

__all__ = ["MAX_LINE", "PHD2Server", "RpcError"]

log = logging.getLogger("indiws.phd2")
_QUIET = QuietLog(log)

PHD_VERSION = "2.6.13"
PHD_SUBVER = "indiws"
MSG_VERSION = 1
#: PHD2's read buffer: a longer request line is refused ("too big").
MAX_LINE = 1024
#: Messages (events and answers) waiting for one client before it is dropped.
MAX_PENDING = 2000
#: ... and their size in bytes.
MAX_PENDING_BYTES = 8 << 20
PROFILE_ID = 1
PROFILE_NAME = "indiws"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
GENERAL = 1

_DIRECTIONS = {
    "n": "north",
    "north": "north",
    "up": "north",
    "s": "south",
    "south": "south",
    "down": "south",
    "e": "east",
    "east": "east",
    "right": "east",
    "w": "west",
    "west": "west",
    "left": "west",
}
_OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
_DEC_MODES = {"off": "Off", "auto": "Auto", "north": "North", "south": "South"}
#: get/set_algo_param: PHD2 name → the engine's setting, per axis.
_ALGO = {
    "ra": (
        "Hysteresis",
        {
            "aggression": "ra_aggression",
            "hysteresis": "ra_hysteresis",
            "minMove": "ra_min_move",
        },
    ),
    "dec": (
        "ResistSwitch",
        {
            "aggression": "dec_aggression",
            "minMove": "dec_min_move",
            "fastSwitch": None,
            "switchFrames": "dec_switch_frames",
        },
    ),
}
_AXES = {"ra": "ra", "x": "ra", "dec": "dec", "y": "dec"}


class RpcError(Exception):
    """A method's error: PHD2's code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Params:
    """A request's params: positional (in the method's order) or by name."""

    def __init__(self, params: Any, names: tuple[str, ...]) -> None:
        self.params = params
        self.names = names
        self.given = params is not None

    def get(self, name: str) -> tuple[bool, Any]:
        p = self.params
        if isinstance(p, dict):
            return (name in p), p.get(name)
        if isinstance(p, list) and name in self.names:
            i = self.names.index(name)
            if i < len(p):
                return True, p[i]
        return False, None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _bool_param(v: Any) -> bool | None:
    """PHD2's bool_param: true/false, or an integer (non-zero: true)."""
    if isinstance(v, bool):
        return v
    if _is_int(v):
        return v != 0
    return None


@functools.cache
def _field_type(verb: str, name: str) -> Any:
    """The type (range included) of the field ``name`` of ``verb``'s params."""
    return typing.get_type_hints(VERBS[verb].params, include_extras=True)[name]


def _field(
    verb: str,
    name: str,
    value: Any,
    message: str,
    code: int = INVALID_PARAMS,
    range_code: int | None = None,
) -> Any:
    """PHD2's ``value`` (in the verb's units) as the field ``name`` of the
    declared ``verb`` takes it: checked with the field's type and range.
    `RpcError` ``code`` with PHD2's ``message`` when it is not of the type; a
    number outside the declared range adds the range's words
    (`check_ranges`), with ``range_code`` (default ``code``)."""
    try:
        return msgspec.convert(value, _field_type(verb, name))
    except msgspec.ValidationError:
        if _is_number(value):
            try:
                check_ranges(VERBS[verb].params, **{name: value})
            except InvalidValueError as exc:
                raise RpcError(
                    code if range_code is None else range_code, f"{message}: {exc}"
                ) from None
        raise RpcError(code, message) from None


def _roi(verb: str, v: Any) -> Any:
    """[x, y, w, h] of integers as ``verb``'s ``roi``; RpcError -32602 otherwise."""
    if not isinstance(v, list) or not all(_is_int(i) for i in v):
        raise RpcError(INVALID_PARAMS, "invalid ROI param")
    return _field(verb, "roi", v, "invalid ROI param")


def _region(v: Any) -> tuple[int, int, int, int]:
    """A subframe [x, y, w, h] (not a verb's param): the verbs' `GuideRoi`."""
    if not isinstance(v, list) or not all(_is_int(i) for i in v):
        raise RpcError(INVALID_PARAMS, "invalid ROI param")
    try:
        return msgspec.convert(v, GuideRoi)
    except msgspec.ValidationError:
        raise RpcError(INVALID_PARAMS, "invalid ROI param") from None


def _settle(verb: str, present: bool, v: Any) -> Any:
    """PHD2's parse_settle: pixels, time and timeout all required; time and
    timeout are whole seconds (floored); as ``verb``'s ``settle``."""
    if not present or not isinstance(v, dict):
        raise RpcError(INVALID_PARAMS, "expected settle object param")
    if not all(_is_number(v.get(k)) for k in ("pixels", "time", "timeout")):
        raise RpcError(INVALID_PARAMS, "invalid settle params")
    rule = {
        "pixels": v["pixels"],
        "time": math.floor(v["time"]),
        "timeout": math.floor(v["timeout"]),
    }
    return _field(verb, "settle", rule, "invalid settle params")


def _g(value: float) -> float:
    """A number as PHD2's %g prints it (6 significant digits)."""
    return float(f"{value:g}")


def _dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN somewhere: null, as a JSON reader can take it
        return json.dumps(_finite(obj), separators=(",", ":"), ensure_ascii=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _response(result: Any, id_: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "result": result, "id": id_}


def _error(code: int, message: str, id_: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id_}


class _Client:
    """One connection: reads requests, writes through a bounded queue."""

    def __init__(
        self,
        server: PHD2Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.pending_bytes = 0
        self.closed = False
        #: A first request was read (and it was JSON).
        self.spoke = False

    def send(self, obj: Any) -> None:
        """Queue one line; a client that lets too much wait is dropped."""
        if self.closed:
            return
        data = (_dumps(obj) + "\r\n").encode()
        if (
            self.queue.qsize() >= self.server.max_pending
            or self.pending_bytes + len(data) > self.server.max_pending_bytes
        ):
            log.warning("PHD2 client %s does not read its messages: disconnected", self.peer)
            self.drop()
            return
        self.pending_bytes += len(data)
        self.queue.put_nowait(data)

    def drop(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.writer.transport.abort()
        self.queue.put_nowait(None)

    async def write_loop(self) -> None:
        try:
            while True:
                data = await self.queue.get()
                if data is None or self.closed:
                    return
                self.pending_bytes -= len(data)
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            self.drop()

    async def read_loop(self) -> None:
        buf = b""
        discarding = False
        while not self.closed:
            try:
                chunk = await self.reader.read(4096)
            except (ConnectionError, OSError):
                return
            if not chunk:
                return
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > MAX_LINE:
                        if not discarding:
                            self.send(_error(INTERNAL_ERROR, "too big"))
                        discarding = True
                        buf = b""
                    break
                line, buf = buf[:nl], buf[nl + 1 :]
                if discarding:  # the end of a line too long: dropped
                    discarding = False
                    continue
                if len(line) > MAX_LINE:
                    self.send(_error(INTERNAL_ERROR, "too big"))
                    continue
                if line.strip():
                    if not self.spoke and not line.lstrip().startswith((b"{", b"[")):
                        # Not a JSON request: a web page's HTTP request (a POST
                        # whose body holds JSON lines) or another protocol.
                        _QUIET.warning(
                            "not_json",
                            "PHD2 client %s dropped: it began with %r, not a JSON request "
                            "(an HTTP request, as a web page sends, is never read as one)",
                            self.peer,
                            line[:40],
                        )
                        self.drop()
                        return
                    self.spoke = True
                    await self.handle_line(line)
                if self.closed:
                    return

    async def handle_line(self, line: bytes) -> None:
        try:
            text = line.decode("utf-8")
            request = json.loads(text)
        except UnicodeDecodeError as exc:
            self.send(_error(PARSE_ERROR, f"invalid JSON request: {exc.reason}"))
            return
        except json.JSONDecodeError as exc:
            at = exc.doc[exc.pos : exc.pos + 12]
            self.send(
                _error(
                    PARSE_ERROR,
                    f'invalid JSON request: {exc.msg} on line {exc.lineno} at "{at}..."',
                )
            )
            return
        if isinstance(request, list):
            answers = []
            for item in request:
                answer = await self.server.handle_request(item, self)
                if answer is not None:
                    answers.append(answer)
            if answers:
                self.send(answers)
            return
        answer = await self.server.handle_request(request, self)
        if answer is not None:
            self.send(answer)


class PHD2Server:
    """PHD2's event server on ``host``:``port`` over ``service.guiding``."""

    def __init__(
        self,
        service: Any,
        host: str = "127.0.0.1",
        port: int = 4400,
        *,
        max_pending: int = MAX_PENDING,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.service = service
        self.engine = service.guiding
        self.host = host
        self.port = port
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.hostname = socket.gethostname()
        self.clients: set[_Client] = set()
        self._server: asyncio.AbstractServer | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._methods: dict[str, tuple[tuple[str, ...], Callable[..., Awaitable[Any]]]] = {}
        for name in dir(self):
            if name.startswith("m_"):
                fn = getattr(self, name)
                self._methods[name[2:]] = (getattr(fn, "params", ()), fn)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> bool:
        """Listen; False (and a warning) when the port cannot be had: the
        rest of the service runs on without it."""
        try:
            self._server = await asyncio.start_server(
                self._on_connect, self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            log.warning(
                "PHD2 protocol: cannot listen on %s:%d (%s); guiding clients cannot "
                "connect (choose another port with --phd2-port)",
                self.host,
                self.port,
                exc,
            )
            return False
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._unsubscribe = self.engine.subscribe(self._on_event)
        if binds_beyond_loopback(self.host):
            log.warning(
                "PHD2 protocol listening on %s:%d, beyond this machine: it has NO "
                "authentication, anyone who reaches this port can guide, dither and "
                "pulse the mount (docs/security.md)",
                self.host,
                self.port,
            )
        else:
            log.info("PHD2 protocol listening on %s:%d", self.host, self.port)
        return True

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._server is not None:
            self._server.close()
        for client in list(self.clients):
            client.drop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(self, reader, writer)
        self.clients.add(client)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        log.info("PHD2 client connected from %s", client.peer)
        writing = self._spawn(client.write_loop())
        try:
            for event, fields in self.catchup():
                client.send(self.event(event, fields))
            await client.read_loop()
        except asyncio.CancelledError:
            pass
        except Exception:  # one client's fault never stops the server
            log.exception("PHD2 client %s", client.peer)
        finally:
            self.clients.discard(client)
            client.closed = True
            client.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writing, 2)
            writer.close()
            log.info("PHD2 client %s disconnected", client.peer)
            if task is not None:
                self._tasks.discard(task)

    # ------------------------------------------------------------ events

    def event(self, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "Event": name,
            "Timestamp": round(time.time(), 3),
            "Host": self.hostname,
            "Inst": 1,
            **fields,
        }

    def _on_event(self, name: str, fields: dict[str, Any]) -> None:
        self.broadcast(name, fields)

    def broadcast(self, name: str, fields: dict[str, Any]) -> None:
        message = self.event(name, fields)
        for client in list(self.clients):
            client.send(message)

    def catchup(self) -> list[tuple[str, dict[str, Any]]]:
        """PHD2's send_catchup_events: Version, the lock position, the star,
        the calibration, what the guider is doing, AppState last."""
        e = self.engine
        out: list[tuple[str, dict[str, Any]]] = [
            (
                "Version",
                {
                    "PHDVersion": PHD_VERSION,
                    "PHDSubver": PHD_SUBVER,
                    "OverlapSupport": True,
                    "MsgVersion": MSG_VERSION,
                },
            )
        ]
        lock = e.lock_position()
        if lock is not None:
            out.append(("LockPositionSet", {"X": round(lock[0], 3), "Y": round(lock[1], 3)}))
        star = e.star_position()
        if star is not None:
            out.append(("StarSelected", {"X": round(star[0], 3), "Y": round(star[1], 3)}))
        if e.calibrated():
            out.append(("CalibrationComplete", {"Mount": e.mount_label()}))
        state = e.state
        if state in ("Guiding", "LostLock"):
            out.append(("StartGuiding", {}))
        elif state == "Calibrating":
            out.append(("StartCalibration", {"Mount": e.mount_label()}))
        elif state == "Paused":
            out.append(("Paused", {}))
        out.append(("AppState", {"State": state}))
        return out

    # ------------------------------------------------------------ requests

    async def handle_request(self, request: Any, client: _Client) -> dict[str, Any] | None:
        """One request → its answer (None: a notification, nothing to send)."""
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(INVALID_REQUEST, "invalid request - missing method")
        params = request.get("params")
        if "params" in request and not isinstance(params, list | dict):
            return _error(INVALID_REQUEST, "invalid request - params must be an array or object")
        has_id = "id" in request
        id_ = request.get("id")
        entry = self._methods.get(request["method"])
        if entry is None:
            return _error(METHOD_NOT_FOUND, "method not found", id_) if has_id else None
        names, fn = entry
        try:
            result = await fn(_Params(params, names))
        except RpcError as exc:
            answer = _error(exc.code, exc.message, id_)
        except GuidingError as exc:
            answer = _error(GENERAL, str(exc), id_)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not end the connection
            log.exception("PHD2 method %s", request["method"])
            answer = _error(GENERAL, f"internal error: {exc}", id_)
        else:
            answer = _response(result, id_)
        return answer if has_id else None

    async def _verb(self, name: str, **params: Any) -> Any:
        """Run the declared verb ``name`` with ``params`` (checked already by
        `_field`; the verb's defaults for the others), as every front does."""
        verb = VERBS[name]
        answer = verb_call(self.service, verb, {**verb.defaults(), **params}, who="PHD2")
        return await answer if inspect.isawaitable(answer) else answer

    # Each m_<name> is PHD2's method <name>; ``params`` lists the names of
    # its positional parameters in order.

    async def m_get_app_state(self, p: _Params) -> str:
        return self.engine.state

    async def m_get_connected(self, p: _Params) -> bool:
        return self.engine.connected()

    async def m_set_connected(self, p: _Params) -> int:
        _, v = p.get("connected")
        if not isinstance(v, bool):
            raise RpcError(INVALID_PARAMS, "expected connected boolean param")
        try:
            await self.engine.set_connected(v)
        except (GuidingError, Exception) as exc:
            raise RpcError(GENERAL, str(exc)) from None
        return 0

    m_set_connected.params = ("connected",)  # type: ignore[attr-defined]

    async def m_get_exposure(self, p: _Params) -> int:
        return int(round(self.engine.config.exposure * 1000))

    async def m_set_exposure(self, p: _Params) -> int:
        _, v = p.get("exposure")
        if not _is_int(v):
            raise RpcError(INVALID_PARAMS, "expected exposure param")
        message = "could not set exposure duration"
        seconds = _field("guiding.configure", "exposure", v / 1000.0, message, GENERAL)
        try:
            await self._verb("guiding.configure", exposure=seconds)
        except GuidingError as exc:
            raise RpcError(GENERAL, f"{message}: {exc}") from None
        return 0

    m_set_exposure.params = ("exposure",)  # type: ignore[attr-defined]

    async def m_get_exposure_durations(self, p: _Params) -> list[int]:
        return list(EXPOSURE_DURATIONS)

    async def m_get_profiles(self, p: _Params) -> list[dict[str, Any]]:
        return [{"id": PROFILE_ID, "name": PROFILE_NAME, "selected": True}]

    async def m_get_profile(self, p: _Params) -> dict[str, Any]:
        return {"id": PROFILE_ID, "name": PROFILE_NAME}

    async def m_set_profile(self, p: _Params) -> int:
        _, v = p.get("id")
        if not _is_int(v):
            raise RpcError(INVALID_PARAMS, "expected profile id param")
        if v != PROFILE_ID:
            raise RpcError(GENERAL, f"invalid profile id {v}: the only profile is {PROFILE_ID}")
        return 0

    m_set_profile.params = ("id",)  # type: ignore[attr-defined]

    async def m_get_calibrated(self, p: _Params) -> bool:
        return self.engine.calibrated()

    async def m_get_paused(self, p: _Params) -> bool:
        return self.engine.paused

    async def m_set_paused(self, p: _Params) -> int:
        _, v = p.get("paused")
        paused = _bool_param(v)
        if paused is None:
            raise RpcError(INVALID_PARAMS, "expected bool param at index 0")
        given, kind = p.get("type")
        if given and not isinstance(kind, str):
            raise RpcError(INVALID_PARAMS, "expected string param at index 1")
        if paused:
            await self._verb("guiding.pause", full=given and kind == "full")
        else:
            await self._verb("guiding.resume")
        return 0

    m_set_paused.params = ("paused", "type")  # type: ignore[attr-defined]

    async def m_get_lock_position(self, p: _Params) -> list[float] | None:
        lock = self.engine.lock_position()
        return None if lock is None else [round(lock[0], 2), round(lock[1], 2)]

    async def m_set_lock_position(self, p: _Params) -> int:
        _, x = p.get("x")
        _, y = p.get("y")
        if not (_is_number(x) and _is_number(y)):
            raise RpcError(INVALID_PARAMS, "expected lock position x, y params")
        given, e = p.get("exact")
        exact = True if not given else _bool_param(e)
        if exact is None:
            raise RpcError(INVALID_PARAMS, "expected boolean param exact")
        verb, message = "guiding.set_lock_position", "could not set lock position"
        x, y = (_field(verb, n, v, message, INVALID_REQUEST) for n, v in (("x", x), ("y", y)))
        try:
            await self._verb(verb, x=x, y=y, exact=exact)
        except GuidingError as exc:
            raise RpcError(INVALID_REQUEST, f"could not set lock position: {exc}") from None
        return 0

    m_set_lock_position.params = ("x", "y", "exact")  # type: ignore[attr-defined]

    async def m_loop(self, p: _Params) -> int:
        try:
            await self._verb("guiding.loop")
        except GuidingError as exc:
            raise RpcError(GENERAL, f"could not start looping: {exc}") from None
        return 0

    async def m_stop_capture(self, p: _Params) -> int:
        await self._verb("guiding.stop")
        return 0

    async def m_guide(self, p: _Params) -> int:
        verb = "guiding.start"
        settle = _settle(verb, *p.get("settle"))
        given, v = p.get("recalibrate")
        recalibrate = False if not given else _bool_param(v)
        if recalibrate is None:
            raise RpcError(INVALID_PARAMS, "expected bool value for recalibrate")
        given, v = p.get("roi")
        roi = _roi(verb, v) if given else None
        # Answered once started; SettleDone follows.  GuidingError: code 1.
        await self._verb(verb, settle=settle, recalibrate=recalibrate, roi=roi, wait=False)
        return 0

    m_guide.params = ("settle", "recalibrate", "roi")  # type: ignore[attr-defined]

    async def m_dither(self, p: _Params) -> int:
        verb = "guiding.dither"
        _, amount = p.get("amount")
        if not _is_number(amount):
            raise RpcError(INVALID_PARAMS, "expected dither amount param")
        amount = _field(verb, "amount", abs(amount), "expected dither amount param")
        given, v = p.get("raOnly")
        ra_only = False if not given else _bool_param(v)
        if ra_only is None:
            raise RpcError(INVALID_PARAMS, "expected dither raOnly param")
        settle = _settle(verb, *p.get("settle"))
        # PHD2: RA only when asked for or when its own setting says so.
        ra_only = True if ra_only else None
        await self._verb(verb, amount=amount, ra_only=ra_only, settle=settle, wait=False)
        return 0

    m_dither.params = ("amount", "raOnly", "settle")  # type: ignore[attr-defined]

    async def m_find_star(self, p: _Params) -> list[float]:
        given, v = p.get("roi")
        roi = _roi("guiding.find_star", v) if given and v != [] else None
        try:
            star = await self._verb("guiding.find_star", roi=roi)
        except GuidingError as exc:
            raise RpcError(GENERAL, f"could not find star: {exc}") from None
        return [round(star["x"], 2), round(star["y"], 2)]

    m_find_star.params = ("roi",)  # type: ignore[attr-defined]

    async def m_get_pixel_scale(self, p: _Params) -> float | None:
        scale = self.engine.pixel_scale()
        return None if scale is None else _g(scale)

    async def m_flip_calibration(self, p: _Params) -> int:
        try:
            await self._verb("guiding.flip_calibration")
        except GuidingError as exc:
            raise RpcError(GENERAL, f"could not flip calibration: {exc}") from None
        return 0

    async def m_clear_calibration(self, p: _Params) -> int:
        given, which = p.get("which")
        if not p.given:
            which = "both"
        elif not given:
            which = "mount"
        if not isinstance(which, str) or which.lower() not in ("mount", "ao", "both"):
            raise RpcError(INVALID_PARAMS, 'expected param "mount", "ao", or "both"')
        if which.lower() != "ao":  # no adaptive optics: nothing to clear there
            await self._verb("guiding.clear_calibration")
        return 0

    m_clear_calibration.params = ("which",)  # type: ignore[attr-defined]

    async def m_get_calibration_data(self, p: _Params) -> dict[str, Any]:
        given, which = p.get("which")
        which = "mount" if not given else which
        if not isinstance(which, str) or which.lower() not in ("mount", "ao"):
            raise RpcError(GENERAL, "invalid 'which' param")
        if which.lower() == "ao":
            raise RpcError(GENERAL, "device not connected")
        cal = self.engine.calibration()
        if cal is None:
            return {"calibrated": False}
        return {
            "calibrated": True,
            "xAngle": round(math.degrees(cal.ra_angle), 1),
            "xRate": round(cal.ra_rate * 1000.0, 3),
            "xParity": "?",
            "yAngle": round(math.degrees(cal.dec_angle), 1),
            "yRate": round(cal.dec_rate * 1000.0, 3),
            "yParity": "?",
            "declination": None if cal.declination is None else _g(cal.declination),
        }

    m_get_calibration_data.params = ("which",)  # type: ignore[attr-defined]

    async def m_get_lock_shift_enabled(self, p: _Params) -> bool:
        return False

    async def m_set_lock_shift_enabled(self, p: _Params) -> int:
        _, v = p.get("enabled")
        enabled = _bool_param(v)
        if enabled is None:
            raise RpcError(INVALID_PARAMS, "expected enabled boolean param")
        if enabled:
            raise RpcError(GENERAL, "lock position shift (comet tracking) is not supported")
        return 0

    m_set_lock_shift_enabled.params = ("enabled",)  # type: ignore[attr-defined]

    async def m_get_lock_shift_params(self, p: _Params) -> dict[str, Any]:
        return {"enabled": False}

    async def m_set_lock_shift_params(self, p: _Params) -> int:
        raise RpcError(GENERAL, "lock position shift (comet tracking) is not supported")

    async def m_get_use_subframes(self, p: _Params) -> bool:
        return bool(self.engine.config.use_subframes)

    async def m_get_search_region(self, p: _Params) -> int:
        return int(self.engine.config.search_region)

    async def m_shutdown(self, p: _Params) -> int:
        raise RpcError(
            GENERAL,
            "shutdown refused: indiws does not exit on a guiding client's request "
            "(stop guiding with stop_capture; stop the service on its machine)",
        )

    def _camera_connected(self) -> bool:
        dev = self.service.client.devices.get(self.engine.camera_name or "")
        return dev is not None and dev.connected

    async def m_get_camera_binning(self, p: _Params) -> int:
        if not self._camera_connected():
            raise RpcError(GENERAL, "camera not connected")
        return int(self.engine.config.binning)

    async def m_get_camera_frame_size(self, p: _Params) -> list[int]:
        if not self._camera_connected():
            raise RpcError(GENERAL, "camera not connected")
        try:
            w, h = self.engine.frame_size()
        except GuidingError:
            raise RpcError(GENERAL, "camera not connected") from None
        return [w, h]

    async def m_get_current_equipment(self, p: _Params) -> dict[str, Any]:
        out: dict[str, Any] = {}
        devices = self.service.client.devices
        for key, name in (("camera", self.engine.camera_name), ("mount", self.engine.mount_name)):
            if name is not None:
                dev = devices.get(name)
                out[key] = {"name": name, "connected": bool(dev is not None and dev.connected)}
        return out

    def _has_output(self) -> bool:
        e = self.engine
        return e.mount_name is not None or e.via() == "camera"

    async def m_get_guide_output_enabled(self, p: _Params) -> bool:
        if not self._has_output():
            raise RpcError(GENERAL, "mount not defined")
        return True

    async def m_set_guide_output_enabled(self, p: _Params) -> int:
        _, v = p.get("enabled")
        enabled = _bool_param(v)
        if enabled is None:
            raise RpcError(INVALID_PARAMS, "expected enabled boolean param")
        if not self._has_output():
            raise RpcError(GENERAL, "mount not defined")
        if not enabled:
            raise RpcError(
                GENERAL, "guide output cannot be turned off here: pause guiding (set_paused)"
            )
        return 0

    m_set_guide_output_enabled.params = ("enabled",)  # type: ignore[attr-defined]

    async def m_get_algo_param_names(self, p: _Params) -> list[str]:
        _, axis = self._axis(p)
        return ["algorithmName", *(k for k, v in _ALGO[axis][1].items() if v)]

    m_get_algo_param_names.params = ("axis",)  # type: ignore[attr-defined]

    def _axis(self, p: _Params) -> tuple[bool, str]:
        _, v = p.get("axis")
        if not isinstance(v, str) or v.lower() not in _AXES:
            raise RpcError(GENERAL, "expected axis name param")
        return True, _AXES[v.lower()]

    def _algo_setting(self, p: _Params) -> tuple[str, str, str | None]:
        _, axis = self._axis(p)
        _, name = p.get("name")
        if not isinstance(name, str):
            raise RpcError(GENERAL, "expected param name param")
        return axis, name, _ALGO[axis][1].get(name)

    async def m_get_algo_param(self, p: _Params) -> Any:
        axis, name, setting = self._algo_setting(p)
        if name == "algorithmName":
            return _ALGO[axis][0]
        if setting is None:
            raise RpcError(GENERAL, "could not get param")
        return _g(float(getattr(self.engine.config, setting)))

    m_get_algo_param.params = ("axis", "name")  # type: ignore[attr-defined]

    async def m_set_algo_param(self, p: _Params) -> int:
        _, _, setting = self._algo_setting(p)
        _, value = p.get("value")
        if not _is_number(value):
            raise RpcError(GENERAL, "expected param value param")
        if setting is None:
            raise RpcError(GENERAL, "could not set param")
        value = _field("guiding.configure", setting, value, "could not set param", GENERAL)
        try:
            await self._verb("guiding.configure", **{setting: value})
        except GuidingError as exc:
            raise RpcError(GENERAL, f"could not set param: {exc}") from None
        return 0

    m_set_algo_param.params = ("axis", "name", "value")  # type: ignore[attr-defined]

    async def m_get_dec_guide_mode(self, p: _Params) -> str:
        return _DEC_MODES.get(self.engine.config.dec_mode, "Auto")

    async def m_set_dec_guide_mode(self, p: _Params) -> int:
        _, mode = p.get("mode")
        if not isinstance(mode, str):
            raise RpcError(GENERAL, "expected mode param")
        if mode.lower() not in _DEC_MODES:
            raise RpcError(GENERAL, "invalid dec guide mode param")
        await self._verb("guiding.configure", dec_mode=mode.lower())
        return 0

    m_set_dec_guide_mode.params = ("mode",)  # type: ignore[attr-defined]

    async def m_get_settling(self, p: _Params) -> bool:
        return self.engine.settling

    async def m_deselect_star(self, p: _Params) -> int:
        self.engine.deselect_star()
        return 0

    async def m_guide_pulse(self, p: _Params) -> int:
        _, amount = p.get("amount")
        if not _is_int(amount):
            raise RpcError(GENERAL, "expected amount param")
        _, direction = p.get("direction")
        if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
            raise RpcError(GENERAL, "expected direction param")
        given, which = p.get("which")
        which = "mount" if not given else which
        if not isinstance(which, str) or which.lower() not in ("mount", "ao"):
            raise RpcError(GENERAL, "invalid 'which' param")
        if which.lower() == "ao":
            raise RpcError(GENERAL, "device not connected")
        if not self.engine.connected():
            raise RpcError(GENERAL, "device not connected")
        direction = _DIRECTIONS[direction.lower()]
        if amount < 0:  # PHD2: a negative pulse goes the other way
            direction, amount = _OPPOSITE[direction], -amount
        if amount == 0:
            return 0  # nothing to send
        ms = _field("guiding.pulse", "duration_ms", amount, "expected amount param", GENERAL)
        await self._verb("guiding.pulse", direction=direction, duration_ms=ms)
        return 0

    m_guide_pulse.params = ("amount", "direction", "which")  # type: ignore[attr-defined]

    async def m_get_star_image(self, p: _Params) -> dict[str, Any]:
        given, size = p.get("size")
        size = 15 if not given else size
        if not _is_int(size) or size < 15:
            raise RpcError(INVALID_PARAMS, "invalid image size param")
        try:
            image = self.engine.star_image(size)
        except GuidingError:
            raise RpcError(2, "no star selected") from None
        pixels = image["pixels"]
        return {
            "frame": image["frame"],
            "width": image["width"],
            "height": image["height"],
            "star_pos": image["star_pos"],
            "pixels": base64.b64encode(pixels.astype("<u2").tobytes()).decode("ascii"),
        }

    m_get_star_image.params = ("size",)  # type: ignore[attr-defined]

    async def m_capture_single_frame(self, p: _Params) -> int:
        e = self.engine
        if e.capturing:
            raise RpcError(GENERAL, "cannot capture single frame when capture is currently active")
        if not self._camera_connected():
            raise RpcError(GENERAL, "cannot capture single frame when camera is not connected")
        given, ms = p.get("exposure")
        if given and (not _is_int(ms) or not 1 <= ms <= 600000):
            raise RpcError(INVALID_PARAMS, "invalid exposure param")
        given_b, binning = p.get("binning")
        if given_b and (not _is_int(binning) or not 1 <= binning <= 16):
            raise RpcError(INVALID_PARAMS, "invalid binning param")
        given_g, gain = p.get("gain")
        if given_g and (not _is_int(gain) or not 0 <= gain <= 100):
            raise RpcError(INVALID_PARAMS, "invalid gain param")
        given_s, sub = p.get("subframe")
        subframe = _region(sub) if given_s else None
        given_p, path = p.get("path")
        given_v, save = p.get("save")
        if (given_p and path is not None) or (given_v and _bool_param(save)):
            raise RpcError(INVALID_PARAMS, "saving the frame (path, save) is not supported")

        async def capture() -> None:
            try:
                await e.capture_single_frame(
                    None if not given else ms / 1000.0,
                    binning if given_b else None,
                    subframe,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.broadcast("SingleFrameComplete", {"Success": False, "Error": str(exc)})
            else:
                self.broadcast("SingleFrameComplete", {"Success": True})

        self._spawn(capture())
        return 0

    m_capture_single_frame.params = (  # type: ignore[attr-defined]
        "exposure",
        "binning",
        "gain",
        "subframe",
        "path",
        "save",
    )

    def _camera_property(self, name: str) -> Any:
        if not self._camera_connected():
            raise RpcError(GENERAL, "camera not connected")
        dev = self.service.client.devices.get(self.engine.camera_name or "")
        return None if dev is None else dev.properties.get(name)

    async def m_get_cooler_status(self, p: _Params) -> dict[str, Any]:
        temp = self._camera_property("CCD_TEMPERATURE")
        cooler = self._camera_property("CCD_COOLER")
        if temp is None:
            raise RpcError(GENERAL, "failed to get cooler status")
        on = cooler is not None and "COOLER_ON" in cooler.on_switches()
        out: dict[str, Any] = {
            "coolerOn": on,
            "temperature": round(float(temp["CCD_TEMPERATURE_VALUE"]), 1),
        }
        power = self._camera_property("CCD_COOLER_POWER")
        if on and power is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                out["power"] = round(float(power["CCD_COOLER_VALUE"]), 1)
        return out

    async def m_get_ccd_temperature(self, p: _Params) -> dict[str, Any]:
        temp = self._camera_property("CCD_TEMPERATURE")
        if temp is None:
            raise RpcError(GENERAL, "failed to get sensor temperature")
        return {"temperature": round(float(temp["CCD_TEMPERATURE_VALUE"]), 1)}

    async def m_set_cooler_state(self, p: _Params) -> int:
        _, v = p.get("enabled")
        enabled = _bool_param(v)
        if enabled is None:
            raise RpcError(INVALID_PARAMS, "expected enabled boolean param")
        if self._camera_property("CCD_COOLER") is None:
            raise RpcError(GENERAL, "camera lacks a cooler")
        switch = "COOLER_ON" if enabled else "COOLER_OFF"
        try:
            await self.service.client.set_property(
                self.engine.camera_name, "CCD_COOLER", {switch: True}, wait=True, timeout=10
            )
        except Exception as exc:
            raise RpcError(GENERAL, f"failed to set cooler state: {exc}") from None
        return 0

    m_set_cooler_state.params = ("enabled",)  # type: ignore[attr-defined]

    async def m_get_variable_delay_settings(self, p: _Params) -> dict[str, Any]:
        return {"Enabled": False, "ShortDelaySeconds": 0, "LongDelaySeconds": 0}

    async def m_set_variable_delay_settings(self, p: _Params) -> int:
        raise RpcError(GENERAL, "variable exposure delay is not supported")

    async def m_get_limit_frame(self, p: _Params) -> dict[str, Any]:
        return {"roi": None}

    async def m_set_limit_frame(self, p: _Params) -> int:
        raise RpcError(GENERAL, "guide camera does not support frame limiting")

    async def m_save_image(self, p: _Params) -> dict[str, Any]:
        raise RpcError(3, "error saving image: not supported (the guide frames are not kept)")

    async def m_export_config_settings(self, p: _Params) -> dict[str, Any]:
        raise RpcError(GENERAL, "export settings failed: not supported")
