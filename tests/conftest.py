"""Shared fixtures: real indiserver instances running INDI's simulator drivers.

The rules a test module follows to fit the parallel suite are in
tests/README.md.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from lightapt_support import LightAptClient

from indiws.analysis import worker as analysis_worker
from indiws.testing import (
    DEFAULT_SIMULATORS,
    IndiServerFactory,
    IndiServerProcess,
    RunningService,
    mark_processes,
    marked_processes,
    start_service,
)

#: The modules that take longest (their own servers, closed loops on the
#: simulators), slowest first.  `make test` hands whole modules to workers in
#: collection order (--dist loadfile --no-loadscope-reorder), so these start
#: at once instead of last; a module that grows past a minute joins the list.
#: In a whole run on the 2-core machine (bench/suite_cpu.py shows when each
#: module ran): the OpenAPI contract about 150 s when it was one module
#: (CPU-bound: the fuzzer and its service share one process; alone, its two
#: modules now take 44 s and 48 s of pytest time), test_guiding 135 s, test_phd2 130 s, test_alpaca
#: 128 s, test_plans 100 s, test_plans_recovery 96 s, the others 60-90 s.
SLOWEST_MODULES = (
    "test_openapi_contract.py",
    "test_openapi_contract_verbs.py",
    "test_guiding.py",
    "test_phd2.py",
    "test_alpaca.py",
    "test_plans.py",
    "test_plans_recovery.py",
    "test_remote_focus.py",
    "test_analysis_closed_loop.py",
    "test_observatory.py",
    "test_guiding_night.py",
    "test_plans_focus.py",
    "test_remote_runner.py",
    "test_guiding_fronts.py",
    "test_panel_guiding.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m 'not bench'` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # A benchmark's smoke test is left to `make bench`, even unmarked.
        if item.path.name.startswith("test_bench_"):
            item.add_marker(pytest.mark.bench)
    rank = {name: i for i, name in enumerate(SLOWEST_MODULES)}
    # A stable sort: every module keeps its tests in file order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


#: Set by bench/suite_cpu.py: this process names the module it runs in a
#: file of that folder, so CPU seconds are booked to test modules.
_SUITE_CPU_DIR = os.environ.get("INDIWS_SUITE_CPU_DIR")


@pytest.hookimpl(tryfirst=True)  # before the module's fixtures start
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _SUITE_CPU_DIR:
        # The module's shared fixtures end in its last test's teardown: still its CPU.
        Path(_SUITE_CPU_DIR, str(os.getpid())).write_text(item.path.name)


#: Every process this pytest process (an xdist worker has its own) starts
#: carries this mark: `_no_process_left` finds any still there at the end.
PROCESS_MARK = mark_processes()


@pytest.fixture(scope="session", autouse=True)
def _no_process_left() -> Iterator[None]:
    """Fails the session (an error at the last test's teardown) when a
    process started by the tests or by an in-process service outlives them,
    also after a failed or interrupted test; the ones left are then ended."""
    yield
    # In-process services share one analysis worker (with its forkserver
    # and resource tracker): stopped once, here, like `python -m indiws` does.
    analysis_worker.stop_processes()
    deadline = time.monotonic() + 10.0
    left = marked_processes(PROCESS_MARK)
    while left and time.monotonic() < deadline:
        gc.collect()  # a forgotten Popen reaps its child when collected
        time.sleep(0.2)
        left = marked_processes(PROCESS_MARK)
    if not left:
        return
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, os.WNOHANG)  # reaps it when it is our child
        except OSError:
            pass
    listing = "\n".join(f"  pid {pid}: {cmd}" for pid, cmd in left)
    pytest.fail(f"{len(left)} process(es) started by the tests were left running:\n{listing}")


@pytest.fixture(scope="session")
def indiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    """One indiserver for the whole run with the telescope, CCD, focuser and
    filter wheel simulators.  Shared: tests that kill, restart or reconfigure
    a server should use ``indiserver_factory`` instead."""
    server = IndiServerProcess(DEFAULT_SIMULATORS, workdir=tmp_path_factory.mktemp("indiserver"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def indiserver_factory(tmp_path: Path) -> Iterator[IndiServerFactory]:
    """Start fresh servers: ``indiserver_factory(["indi_simulator_dome"], **kwargs)``.

    Keyword arguments go to :class:`IndiServerProcess`.  Every server started
    here is stopped when the test ends; its folder (log, HOME) stays in the
    test's ``tmp_path``.
    """
    servers: list[IndiServerProcess] = []

    def start(drivers: Sequence[str] = (), **kwargs: Any) -> IndiServerProcess:
        kwargs.setdefault("workdir", tmp_path / f"indiserver{len(servers)}")
        server = IndiServerProcess(drivers, **kwargs)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in reversed(servers):
        server.close()


@pytest.fixture
async def running_service(
    indiserver: IndiServerProcess, tmp_path: Path
) -> AsyncIterator[RunningService]:
    """`indiws` against the shared four-simulator indiserver, fresh data dir."""
    running = await start_service(indiserver, tmp_path / "data")
    yield running
    await running.stop()


@pytest.fixture
async def client(svc: RunningService) -> AsyncIterator[LightAptClient]:
    """A lightAPT front end's socket on the module's ``svc`` service."""
    c = await LightAptClient.open(svc)
    yield c
    await c.close()
