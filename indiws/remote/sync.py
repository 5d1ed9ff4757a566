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

from ._methods import _Namespace
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
        # What the typed classes below do not name (attributes, later additions).
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):

            def blocking(*args: Any, **kwargs: Any) -> Any:
                return self._run(value(*args, **kwargs))

            blocking.__doc__ = value.__doc__
            blocking.__name__ = name
            return blocking
        if isinstance(value, _Namespace):
            return _blocking_class(type(value))(value, self._loop)
        return value


def _blocking_method(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: _Blocking, *args: Any, **kwargs: Any) -> Any:
        return self._run(getattr(self._target, name)(*args, **kwargs))

    method.__name__ = name
    method.__doc__ = func.__doc__
    # The async method's parameters and result: help(), signatures, completion.
    method.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return method


_CLASSES: dict[type, type[_Blocking]] = {}


def _blocking_class(cls: type) -> type[_Blocking]:
    """A class with a blocking method for each public coroutine method of
    ``cls``, made once: ``dir()`` and editors' completion list the verbs."""
    if cls not in _CLASSES:
        methods = {
            name: _blocking_method(name, func)
            for name, func in inspect.getmembers(cls, inspect.iscoroutinefunction)
            if not name.startswith("_")
        }
        methods["__doc__"] = (
            f"Blocking `{cls.__name__}`: the same calls, each waiting for its answer."
        )
        _CLASSES[cls] = type(f"Sync{cls.__name__}", (_Blocking,), methods)
    return _CLASSES[cls]


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
        # obs.camera, obs.telescope, ...: typed blocking namespaces.
        for name, value in vars(obs).items():
            if isinstance(value, _Namespace):
                setattr(self, name, _blocking_class(type(value))(value, loop))

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


# Every other coroutine method of `Observatory` (connect, discover, download,
# actions, ...) as a blocking method of the class itself, for dir() and help().
for _name, _func in inspect.getmembers(Observatory, inspect.iscoroutinefunction):
    if not _name.startswith("_") and _name not in vars(SyncObservatory):
        setattr(SyncObservatory, _name, _blocking_method(_name, _func))
