"""One JSON-RPC connection to a service's ``/ws/indi_client/``, kept open.

`Connection` sends requests, matches answers by id, hands ``progress``
notifications to the request they belong to, and fans the other
notifications (``status``, ``action.*``) out to callbacks and async
iterators.  When the socket drops it fails the calls in flight with
`ConnectionLost` and reconnects with backoff until closed; `wait_connected`
bounds how long a caller waits for that.

Nothing here imports the server side: this runs on any machine with Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

__all__ = [
    "ActionCall",
    "Connection",
    "ConnectionLost",
    "EventStream",
    "Notification",
    "ProgressCallback",
    "RemoteError",
    "ServiceUnavailable",
    "service_urls",
]

log = logging.getLogger("indiws.remote")

ProgressCallback = Callable[[dict[str, Any]], Any]

#: Largest message accepted from the service (``rpc.discover`` is the largest).
MAX_MESSAGE = 64 * 1024 * 1024
#: Notifications an iterator may hold before the oldest are dropped.
EVENT_QUEUE = 1024


class RemoteError(Exception):
    """The service answered with a JSON-RPC error.

    ``code`` is the JSON-RPC code, ``name`` the service's error name
    (``aborted``, ``timeout``, ``invalid_params``, ...) and ``data`` the
    error's data object."""

    def __init__(self, method: str, code: int, message: str, data: dict[str, Any] | None):
        self.method = method
        self.code = code
        self.message = message
        self.data = data or {}
        self.name = str(self.data.get("error", ""))
        super().__init__(f"{method}: {message} ({self.name or 'error'} {code})")


class ConnectionLost(Exception):
    """The connection dropped before the answer came: the action may have run."""


class ServiceUnavailable(Exception):
    """The service could not be reached (within the time allowed)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification pushed by the service: ``method`` and its ``params``."""

    method: str
    params: Any


def service_urls(url: str) -> tuple[str, str]:
    """The HTTP base and the ``/ws/indi_client/`` URL of a service.

    Accepts ``http://host:port``, ``ws://host:port``, with or without a path
    (``ws://host:port/ws/indi_client/``), or ``host:port``."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"not a service URL: {url!r} (give http://host:port)")
    secure = parts.scheme in ("https", "wss")
    http = f"{'https' if secure else 'http'}://{parts.netloc}"
    return http, f"{'wss' if secure else 'ws'}://{parts.netloc}/ws/indi_client/"


class ActionCall:
    """A request in flight: await it for the result, or iterate its progress.

    ``async for p in call.progress(): ...`` yields each ``progress``
    notification's data until the answer came; then ``await call``."""

    def __init__(self, method: str, future: asyncio.Future[Any]) -> None:
        self.method = method
        self._future = future
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(EVENT_QUEUE)
        self.callback: ProgressCallback | None = None
        future.add_done_callback(lambda _: self._put(None))

    def _put(self, item: dict[str, Any] | None) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()  # the newest progress matters most
        self._queue.put_nowait(item)

    def _progress(self, data: dict[str, Any]) -> None:
        self._put(data)
        if self.callback is not None:
            try:
                self.callback(data)
            except Exception:  # a caller's callback must not break the reader
                log.exception("progress callback of %s failed", self.method)

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> None:
        self._future.cancel()

    def __await__(self) -> Any:
        return self._future.__await__()


class EventStream:
    """Notifications from the moment it was made; bounded (the oldest go first)."""

    def __init__(self, registry: list[Any], methods: frozenset[str]) -> None:
        self._registry = registry
        self._entry = (methods, asyncio.Queue[Notification](EVENT_QUEUE))
        registry.append(self._entry)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Notification:
        if self._entry not in self._registry:
            raise StopAsyncIteration
        return await self._entry[1].get()

    def close(self) -> None:
        if self._entry in self._registry:
            self._registry.remove(self._entry)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Connection:
    """A kept-open connection to a service; see the module's doc."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:7999",
        token: str | None = None,
        *,
        reconnect: bool = True,
        open_timeout: float = 10.0,
    ) -> None:
        self.http_url, self.ws_url = service_urls(url)
        self.token = token if token is not None else (os.environ.get("INDIWS_TOKEN") or None)
        self.reconnect = reconnect
        self.open_timeout = open_timeout
        #: The latest ``status`` notification's params (``status()`` asks now).
        self.last_status: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], ActionCall]] = {}
        self._listeners: dict[str, list[Callable[[Notification], Any]]] = {}
        self._queues: list[tuple[frozenset[str], asyncio.Queue[Notification]]] = []
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0

    # Connecting -----------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _open(self) -> None:
        try:
            self._ws = await connect(
                self.ws_url,
                additional_headers=self._headers(),
                max_size=MAX_MESSAGE,
                open_timeout=self.open_timeout,
                compression=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
            raise ServiceUnavailable(
                f"{self.ws_url} refused the connection (HTTP {status}){': ' + body if body else ''}"
                + (" - give the service's access token" if status == 401 else "")
            ) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ServiceUnavailable(f"cannot reach {self.ws_url}: {exc}") from None
        self._connected.set()
        self._emit(Notification("connection", {"connected": True}))

    async def connect(self) -> None:
        """Open the socket (raises `ServiceUnavailable`) and start reading."""
        if self._reader is not None:
            return
        self._closed = False
        await self._open()
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Until the socket is open again; `ServiceUnavailable` after ``timeout`` s."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise ServiceUnavailable(
                f"{self.ws_url} did not come back within {timeout:g} s"
            ) from None

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
        self._fail_pending(ConnectionLost("the connection was closed"))

    async def __aenter__(self) -> Connection:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read_loop(self) -> None:
        delay = 0.2
        while not self._closed:
            ws = self._ws
            if ws is not None:
                try:
                    async for message in ws:
                        self._dispatch(message)
                except ConnectionClosed:
                    pass
                self._connected.clear()
                self._ws = None
                self._fail_pending(ConnectionLost(f"the connection to {self.ws_url} dropped"))
                self._emit(Notification("connection", {"connected": False}))
                if not self.reconnect:
                    return
            try:
                await self._open()
            except ServiceUnavailable as exc:
                log.info("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.2
                self.reconnects += 1

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(exc)

    # Receiving ------------------------------------------------------------

    def _dispatch(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            log.warning("not JSON from the service: %.80r", message)
            return
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict):
                continue
            if "method" in item and "id" not in item:
                self._notification(item["method"], item.get("params"))
            elif isinstance(item.get("id"), int) and item["id"] in self._pending:
                future, call = self._pending.pop(item["id"])
                if future.done():
                    continue
                if "error" in item:
                    err = item["error"] if isinstance(item["error"], dict) else {}
                    future.set_exception(
                        RemoteError(
                            call.method,
                            int(err.get("code", 0)),
                            str(err.get("message", "error")),
                            err.get("data") if isinstance(err.get("data"), dict) else None,
                        )
                    )
                else:
                    future.set_result(item.get("result"))

    def _notification(self, method: str, params: Any) -> None:
        if method == "progress" and isinstance(params, dict):
            entry = self._pending.get(params.get("id"))  # type: ignore[arg-type]
            if entry is not None:
                entry[1]._progress({k: v for k, v in params.items() if k != "id"})
            return
        if method == "status":
            self.last_status = params
        self._emit(Notification(method, params))

    def _emit(self, note: Notification) -> None:
        for callback in (*self._listeners.get(note.method, ()), *self._listeners.get("*", ())):
            try:
                callback(note)
            except Exception:
                log.exception("listener of %s failed", note.method)
        for names, queue in self._queues:
            if names and note.method not in names:
                continue
            if queue.full():
                queue.get_nowait()  # a slow reader loses the oldest, never memory
            queue.put_nowait(note)

    def on(self, method: str, callback: Callable[[Notification], Any]) -> Callable[[], None]:
        """Call ``callback(notification)`` for each ``method`` notification
        (``status``, ``action.started``, ``action.progress``, ``action.finished``,
        ``connection``; ``*`` for all).  Returns a function that removes it."""
        self._listeners.setdefault(method, []).append(callback)
        return lambda: self._listeners.get(method, []).remove(callback)

    def events(self, *methods: str) -> EventStream:
        """The notifications (of these methods, or all) from now on, as an
        async iterator (``async for note in obs.events("action.finished")``);
        ``close()`` it, or use it in ``async with``, to stop receiving."""
        return EventStream(self._queues, frozenset(methods))

    # Calling --------------------------------------------------------------

    def start(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> ActionCall:
        """Send a request now; the `ActionCall` gives its progress and result."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call = ActionCall(method, future)
        call.callback = on_progress
        if self._ws is None or not self.connected:
            future.set_exception(ConnectionLost(f"not connected to {self.ws_url}"))
            return call
        rid = next(self._ids)
        self._pending[rid] = (future, call)
        text = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}})

        ws = self._ws

        async def send() -> None:
            try:
                await ws.send(text)
            except ConnectionClosed:
                if self._pending.pop(rid, None) and not future.done():
                    future.set_exception(ConnectionLost(f"the connection dropped: {method}"))

        task = asyncio.get_running_loop().create_task(send())
        future.add_done_callback(lambda _: task.cancel() if not task.done() else None)
        return call

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Any:
        """Call a method and wait for its answer; raises `RemoteError`,
        `ConnectionLost`."""
        return await self.start(method, params, on_progress=on_progress)

    async def discover(self) -> dict[str, Any]:
        """The service's ``rpc.discover``: every method, its params and events."""
        return await self.call("rpc.discover")

    # Frames over HTTP -----------------------------------------------------

    async def fetch(self, url: str | dict[str, Any]) -> bytes:
        """The bytes at a service URL (``/blobs/<id>``, or an expose result)."""
        if isinstance(url, dict):
            url = url["url"]
        full = url if "://" in url else self.http_url + url
        request = urllib.request.Request(full, headers=self._headers())

        def get() -> bytes:
            try:
                with urllib.request.urlopen(request, timeout=120) as resp:
                    return resp.read()
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:300]
                raise RemoteError(f"GET {url}", exc.code, body or str(exc), None) from None
            except (urllib.error.URLError, OSError) as exc:
                raise ConnectionLost(f"GET {full}: {exc}") from None

        return await asyncio.to_thread(get)

    async def download(self, frame: str | dict[str, Any], path: str | os.PathLike[str]) -> Path:
        """Write a frame (its URL or an expose result) to ``path`` atomically."""
        data = await self.fetch(frame)
        target = Path(path)
        await asyncio.to_thread(write_atomic, target, data)
        return target


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it
    (os.umask can only be read by setting it, which races other threads)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either absent, old or complete:
    a temporary file in the same folder, fsync'd, renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file 0600: give it the mode of a normal file.
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself, on disk
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
