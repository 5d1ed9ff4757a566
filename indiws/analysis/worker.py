"""Where the analysis runs: a worker process, not the event loop's process.

``sep`` holds the GIL for its whole call (measured by bench/analysis.py: a
thread analysing a 4096² frame stalls the event loop for 150-250 ms at a
time), so a worker thread would still freeze every client for that long.
One worker process (started with ``forkserver``, so it does not inherit the
loop's threads; `warm_up` starts it at service start, so the first frame
does not wait about a second for it; it ends with the service, even one
killed outright) does the work; if it cannot be started
or dies, the call runs in a thread instead and the next call tries a new
process.  Frames reach it through shared memory (`shared_bytes`): a 4096²
frame through the pool's pipe cost about 0.15 s of pickling and copying.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import shared_memory
from typing import Any, TypeVar

__all__ = [
    "attached_bytes",
    "prepare_with",
    "run_off_loop",
    "shared_bytes",
    "shutdown",
    "stop_processes",
    "warm_up",
]

T = TypeVar("T")
log = logging.getLogger("indiws.analysis")
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_preparations: list[Callable[[], None]] = []


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_worker_setup,
                initargs=(os.getpid(),),
            )
        return _pool


def _worker_setup(owner: int) -> None:
    """In the worker, before its first call."""
    # Ctrl-C in a terminal reaches every process of the group: the service
    # stops the worker itself, so the worker must not die of it with a
    # KeyboardInterrupt traceback (the forkserver and the resource tracker
    # ignore SIGINT already).  It started with SIGINT blocked (`_started`):
    # one that came meanwhile is dropped once ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with, args=(owner,), name="owner", daemon=True).start()


def _exit_with(owner: int) -> None:
    """End this worker when ``owner`` (the service) ends without stopping
    it (kill -9, a crash): nothing else tells it, and it would keep its
    forkserver and the resource tracker running for ever."""
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): poll
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except OSError:
                pass
    select.select([fd], [], [])  # readable once the owner has exited
    os._exit(0)


def shutdown(*, kill: bool = False) -> None:
    """Stop the worker process (it is also stopped when the program exits);
    ``kill`` ends it even in the middle of a call."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    if kill:
        # The executor has no public way to stop a busy worker.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def prepare_with(function: Callable[[], None]) -> None:
    """Run ``function`` (module level, so that it pickles by name) in each new
    worker process as it starts: the analysis' imports and first calls take
    most of a second, paid then rather than by the first frame.  The modules
    that run in the worker register theirs when imported."""
    if function not in _preparations:
        _preparations.append(function)


def _started() -> ProcessPoolExecutor:
    """The executor with its worker running: starting a process blocks for a
    few hundred ms, so it is done here, in a thread, not on the event loop.

    SIGINT is blocked in this thread meanwhile: the forkserver started from
    it inherits the mask and passes it to every worker it forks, so a Ctrl-C
    while a worker still imports the analysis (half a second, before
    `_worker_setup` can ignore it) waits, blocked, instead of killing the
    import with a KeyboardInterrupt traceback."""
    # The resource tracker, when it starts, unblocks SIGINT in the calling
    # thread: it starts first (the forkserver would start it), then the block.
    multiprocessing.resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = _executor()
        for function in list(_preparations) or [_nothing]:
            pool.submit(function).result()
        return pool
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _nothing() -> None:
    """Starts the worker process when nothing else is to be prepared."""


def stop_processes() -> None:
    """At the program's end (or a test session's): stop the worker, the
    forkserver that started it and multiprocessing's resource tracker, and
    reap them, so that no process outlives the program (all three would end
    on their own, but only after it, re-parented to init).  Safe to call
    more than once; a later `run_off_loop` starts them again."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    # No public way to stop either: both have the `_stop` CPython's own
    # tests use (it closes the process's "alive" pipe and waits for it).
    for holder, name in (
        (multiprocessing.forkserver, "_forkserver"),
        (multiprocessing.resource_tracker, "_resource_tracker"),
    ):
        stop = getattr(getattr(holder, name, None), "_stop", None)
        if callable(stop):
            stop()


async def warm_up() -> None:
    """Start the worker process now (off the loop) rather than on the first
    frame; a failure is only logged: the first call then uses a thread."""
    try:
        await asyncio.to_thread(_started)
    except Exception as exc:  # noqa: BLE001 - reported, and the analysis falls back
        log.warning("analysis worker process could not start (%s)", exc)


@contextmanager
def shared_bytes(data: bytes) -> Iterator[tuple[str, int]]:
    """``data`` copied into a shared memory block, as (name, size) for
    `attached_bytes` in the worker; the block is freed on leaving."""
    block = shared_memory.SharedMemory(create=True, size=max(1, len(data)))
    try:
        block.buf[: len(data)] = data
        yield block.name, len(data)
    finally:
        block.close()
        block.unlink()


@contextmanager
def attached_bytes(name: str, size: int) -> Iterator[memoryview]:
    """The bytes `shared_bytes` put in block ``name``, without a copy; the
    caller keeps no view of them past the ``with``."""
    block = shared_memory.SharedMemory(name=name)
    view = block.buf[:size]
    try:
        yield view
    finally:
        view.release()
        block.close()


async def run_off_loop(func: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
    """``func(*args)`` in the worker process (a module-level function with
    picklable arguments), else in a thread.  After ``timeout`` seconds the
    worker is killed (a new one serves the next call) and TimeoutError raised."""
    loop = asyncio.get_running_loop()
    try:
        pool = _pool if _pool is not None else await asyncio.to_thread(_started)
        return await asyncio.wait_for(loop.run_in_executor(pool, func, *args), timeout)
    except TimeoutError:
        log.warning("analysis worker took over %s s: killed", timeout)
        shutdown(kill=True)
        raise
    except (BrokenProcessPool, OSError, RuntimeError) as exc:
        # RuntimeError: the pool was shut down meanwhile (interpreter exit, tests).
        log.warning("analysis worker process unavailable (%s): using a thread", exc)
        shutdown()
        return await asyncio.to_thread(func, *args)
