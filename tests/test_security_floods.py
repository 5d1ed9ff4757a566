"""Connection floods, replayed against the service in its own process with
the open-files limit systemd gives services (soft 1024) and its embedded
indiserver: a host opens 1100 connections that never finish their headers.
Other clients keep being served, the log stays small, and the flood's
connections past the per-address cap are closed at once.
"""

from __future__ import annotations

import contextlib
import json
import resource
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from indiws.browser_testing import ServiceProcess
from indiws.testing import closed_by_peer, slow_header_connections

FLOOD = 1100


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4 * FLOOD:
        pytest.skip(f"the hard open-files limit ({hard}) is too low to flood")
    service = ServiceProcess(tmp_path_factory.mktemp("floods"))
    # The service starts with systemd's soft limit; this process gets room to flood.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        service.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield service
    finally:
        service.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def status(svc: ServiceProcess, timeout: float = 15) -> int:
    with urllib.request.urlopen(svc.url + "/api/v1/status", timeout=timeout) as resp:
        json.loads(resp.read())
        return resp.status


def test_a_flood_of_slow_headers_leaves_other_clients_served(svc: ServiceProcess) -> None:
    assert status(svc) == 200
    log_before = svc.log_path.stat().st_size
    conns = slow_header_connections(svc.port, FLOOD)
    try:
        assert len(conns) >= FLOOD // 2, "the flood could not even connect"
        # Another client is served while the flood holds its connections.
        for _ in range(5):
            assert status(svc) == 200
        # The connections over the per-address cap were closed at once.
        deadline = time.monotonic() + 10
        while True:
            closed = sum(closed_by_peer(c) for c in conns)
            if closed >= len(conns) - 128 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert closed >= len(conns) - 128, (closed, len(conns))
        # The service still runs, and said so in a few lines, not a traceback per accept.
        assert svc.proc is not None and svc.proc.poll() is None
        grown = svc.log_path.stat().st_size - log_before
        assert grown < 100_000, f"the log grew {grown} bytes:\n{svc.log_tail()}"
        assert "refused a connection from 127.0.0.2" in Path(svc.log_path).read_text()
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
    assert status(svc) == 200


def test_the_open_files_limit_is_raised_at_start(svc: ServiceProcess) -> None:
    assert svc.proc is not None
    limits = Path(f"/proc/{svc.proc.pid}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line
