"""indiserver's own TCP port: reachable from this machine only.

indiserver 1.9.9 listens on every interface and has no option to choose;
the supervisor binds its listening socket to the loopback interface once it
listens (see ``restrict_to_loopback``).  Checked as a LAN host would see it
(two network namespaces, this machine's and the host's, joined by a veth
pair): its connection is refused, one to 127.0.0.1 accepted; with the
restriction turned off the same connection is accepted (so the refusal is
the restriction's doing), and the port stays restricted after indiserver is
restarted.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from indiws.manager import IndiServerSupervisor
from indiws.manager import server as server_module
from indiws.service import Config, Service
from indiws.testing import free_port


class LanHost:
    """This machine and another host on its network, both in network
    namespaces of their own joined by a veth pair (addresses from the
    benchmarking range): the test runs in the first (`enter`), so indiserver
    and its supervisor are there too.  Nothing changes in the machine's own
    namespace: a browser of another test running meanwhile sees no network
    change (chromium aborts its requests with ERR_NETWORK_CHANGED on one)."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}{random.randrange(100)}"
        self.here_ns, self.ns = f"indiwsh{tag}", f"indiws{tag}"
        self.here, self.there = f"iwh{tag}", f"iwn{tag}"
        octet = random.randrange(1, 250)
        self.address, self.peer = f"198.18.{octet}.1", f"198.18.{octet}.2"
        self._home: int | None = None

    def setup(self) -> None:
        for args in (
            ["netns", "add", self.here_ns],
            ["netns", "add", self.ns],
            ["-n", self.here_ns, "link", "set", "lo", "up"],
            ["-n", self.ns, "link", "set", "lo", "up"],
            ["-n", self.here_ns, "link", "add", self.here, "type", "veth", "peer", "name",
             self.there, "netns", self.ns],
            ["-n", self.here_ns, "addr", "add", f"{self.address}/30", "dev", self.here],
            ["-n", self.here_ns, "link", "set", self.here, "up"],
            ["-n", self.ns, "addr", "add", f"{self.peer}/30", "dev", self.there],
            ["-n", self.ns, "link", "set", self.there, "up"],
        ):  # fmt: skip
            subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def enter(self) -> None:
        """Move this thread (the event loop's) into this machine's namespace:
        the sockets it opens and the processes it starts are there."""
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.here_ns}", os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)

    def leave(self) -> None:
        if self._home is not None:
            try:
                _setns(self._home)
            finally:
                os.close(self._home)
                self._home = None

    def teardown(self) -> None:
        # Deleting a namespace deletes its end of the veth pair, and the pair.
        for ns in (self.ns, self.here_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def connects(self, port: int) -> bool:
        """Whether a connection from that host to this one's port is accepted."""
        code = (
            "import socket, sys\n"
            "try:\n"
            f"    socket.create_connection(({self.address!r}, {port}), timeout=3).close()\n"
            "except ConnectionRefusedError:\n"
            "    sys.exit(1)\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", self.ns, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0


CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    """setns(2) into a network namespace (os.setns is Python 3.12's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@pytest.fixture
def lan_host() -> Iterator[LanHost]:
    """Set up before the supervisors (list it first): they start in its
    namespace and are stopped before the thread leaves it."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a test host in a network namespace needs root and ip(8)")
    host = LanHost()
    try:
        host.setup()
    except subprocess.CalledProcessError as exc:
        host.teardown()
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.strip()}")
    host.enter()
    try:
        yield host
    finally:
        host.leave()
        host.teardown()


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


def listening_scope(port: int) -> str | None:
    """How ``ss`` shows the listener: ``0.0.0.0%lo:PORT`` once restricted."""
    ss = shutil.which("ss")
    if ss is None:
        return None
    out = subprocess.run([ss, "-Hltn", f"sport = :{port}"], capture_output=True, text=True)
    return out.stdout.split()[3] if out.stdout.split() else ""


Factory = Callable[..., Any]


@pytest.fixture
async def make_supervisor(tmp_path: Path) -> AsyncIterator[Factory]:
    made: list[IndiServerSupervisor] = []

    async def make(**kwargs: Any) -> IndiServerSupervisor:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        sup = IndiServerSupervisor(
            free_port(), run_dir=tmp_path / f"run{len(made)}", env={"HOME": str(home)}, **kwargs
        )
        made.append(sup)
        await sup.start()
        return sup

    yield make
    for sup in made:
        await sup.stop()


async def test_indiserver_port_accepts_this_machine_only(
    lan_host: LanHost, make_supervisor: Factory
) -> None:
    sup = await make_supervisor()
    assert sup.network_exposure is None and sup.status()["open_to_network"] is False
    assert connects("127.0.0.1", sup.port)
    scope = listening_scope(sup.port)
    if scope is not None:
        assert scope == f"0.0.0.0%lo:{sup.port}"
    assert not await asyncio.to_thread(lan_host.connects, sup.port)


async def test_without_the_restriction_the_lan_reaches_indiserver(
    lan_host: LanHost, make_supervisor: Factory
) -> None:
    sup = await make_supervisor(loopback_only=False)
    assert sup.status()["open_to_network"] is True
    assert await asyncio.to_thread(lan_host.connects, sup.port)


async def test_the_port_is_restricted_again_after_indiserver_restarts(
    lan_host: LanHost, make_supervisor: Factory
) -> None:
    sup = await make_supervisor(backoff_initial=0.1)
    old_pid = sup.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while sup.pid in (None, old_pid) or not sup.running:
        assert time.monotonic() < deadline, "indiserver did not come back"
        await asyncio.sleep(0.05)
    assert sup.network_exposure is None
    assert connects("127.0.0.1", sup.port)
    assert not await asyncio.to_thread(lan_host.connects, sup.port)


async def test_when_it_cannot_be_restricted_the_log_says_so(
    make_supervisor: Factory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(pid: int, fd: int) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(server_module, "_pidfd_getfd", refused)
    sup = await make_supervisor()
    assert sup.status()["open_to_network"] is True
    assert "Operation not permitted" in (sup.network_exposure or "")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"port {sup.port} is open to every host on the network, without authentication" in w
        and "Operation not permitted" in w
        for w in warnings
    ), warnings


async def test_the_service_warns_when_the_port_is_left_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = Config(
        indi_host=None,
        data_dir=tmp_path / "data",
        embedded_indi_port=free_port(),
        indiserver_env={"HOME": str(home)},
        embedded_indi_lan=True,
    )
    service = Service(config)
    try:
        await service.start()
        assert service.server_status()["open_to_network"] is True
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("--embedded-indi-lan" in w and "without authentication" in w for w in warnings)
    finally:
        await service.stop()
