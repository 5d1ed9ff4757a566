"""Shared fixtures: real indiserver instances running INDI's simulator drivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from lightapt_support import LightAptClient

from indiws.testing import (
    DEFAULT_SIMULATORS,
    IndiServerFactory,
    IndiServerProcess,
    RunningService,
    start_service,
)


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
