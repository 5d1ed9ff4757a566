"""`SyncObservatory`: the same calls as `Observatory`, blocking, for scripts
and notebooks.

    with SyncObservatory("http://127.0.0.1:7999") as obs:
        obs.filter_wheel.select("Red")
        frame = obs.camera.expose(2.0)
        obs.download(frame, "red.fits")

The async client runs in an event loop of its own, in a daemon thread; each
call waits for its answer (Ctrl-C interrupts the wait, not the action: call
``obs.camera.abort()`` for that).  Callbacks (``on_progress``, `on`) run in
that thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from typing import Any

from .client import Observatory

__all__ = ["SyncObservatory"]


class _Blocking:
    """Wraps an object of the loop's thread: coroutine methods block, namespaces wrap."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):

            def blocking(*args: Any, **kwargs: Any) -> Any:
                return self._run(value(*args, **kwargs))

            blocking.__doc__ = value.__doc__
            blocking.__name__ = name
            return blocking
        if hasattr(value, "_rpc") and not callable(value):  # obs.camera, obs.telescope, ...
            return _Blocking(value, self._loop)
        return value


class SyncObservatory(_Blocking):
    """`Observatory` with blocking calls; see the module's doc."""

    def __init__(self, url: str = "http://127.0.0.1:7999", token: str | None = None, **kw: Any):
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="indiws-remote", daemon=True)
        self._thread.start()

        async def make() -> Observatory:
            return Observatory(url, token, **kw)

        obs = asyncio.run_coroutine_threadsafe(make(), loop).result()
        super().__init__(obs, loop)

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self._run(self._target.call(method, params, **kw))

    def on(self, method: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """As `Connection.on`; the callback runs in the client's thread."""

        async def add() -> Callable[[], None]:
            return self._target.on(method, callback)

        remove = self._run(add())
        return lambda: self._loop.call_soon_threadsafe(remove)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._target.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SyncObservatory:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
