"""Where the analysis runs: a worker process, not the event loop's process.

``sep`` holds the GIL for its whole call (measured by bench/analysis.py: a
thread analysing a 4096² frame stalls the event loop for 150-250 ms at a
time), so a worker thread would still freeze every client for that long.
One worker process (started on first use with ``forkserver``, so it does not
inherit the loop's threads) does the work; if it cannot be started or dies,
the call runs in a thread instead and the next call tries a new process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

__all__ = ["run_off_loop", "shutdown"]

T = TypeVar("T")
log = logging.getLogger("indiws.analysis")
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return _pool


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


def _noop() -> None:
    return None


def _started() -> ProcessPoolExecutor:
    """The executor with its worker running: starting a process blocks for a
    few hundred ms, so it is done here, in a thread, not on the event loop."""
    pool = _executor()
    pool.submit(_noop).result()
    return pool


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
