"""IndiServerSupervisor against the real indiserver and INDI's simulator drivers.

Each test runs its own server: free port, own FIFO and ``-u`` socket (in the
test's folder) and its own ``HOME``.  What a test checks is what a user sees: the
devices an INDI client gets for ``getProperties`` on the port, the processes
left on the machine, and the errors.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import shutil
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import indiws.manager.server as server_module
from indiws.db import SIMULATORS_PROFILE, StateDB
from indiws.manager.server import (
    DriverError,
    DriverNotFoundError,
    DriverState,
    FifoError,
    IndiServerNotFoundError,
    IndiServerSupervisor,
    PortInUseError,
    SupervisorEvent,
    find_free_port,
    write_fifo_line,
)

pytestmark = pytest.mark.skipif(
    shutil.which("indiserver") is None, reason="indiserver not installed (indi-bin)"
)

REPO_ROOT = Path(__file__).resolve().parents[1]
FOUR = ["Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"]
_DRIVER_INFO = re.compile(rb'<defTextVector\s[^>]*?device="([^"]*)"[^>]*?name="DRIVER_INFO"')


async def device_names(port: int, quiet: float = 0.3, timeout: float = 5.0) -> set[str]:
    """Devices that define DRIVER_INFO for a fresh INDI client on ``port``."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    data = b""
    try:
        writer.write(b'<getProperties version="1.7"/>\n')
        await writer.drain()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), quiet)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
    return {m.decode() for m in _DRIVER_INFO.findall(data)}


async def wait_devices(
    port: int, present: Iterable[str] = (), absent: Iterable[str] = (), timeout: float = 10.0
) -> set[str]:
    want, gone = set(present), set(absent)
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        try:
            seen = await device_names(port)
        except OSError:
            seen = set()
        if want <= seen and not gone & seen:
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"wanted {want} present and {gone} absent; saw {seen}")


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    return server_module._pid_alive(pid)


def group_members(pgid: int) -> list[int]:
    return server_module._live_group_members(pgid)


def processes_using(path_fragment: str) -> list[int]:
    """Live processes whose command line mentions ``path_fragment``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if path_fragment.encode() in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


SupervisorFactory = Callable[..., Awaitable[IndiServerSupervisor]]


@pytest.fixture
async def make_supervisor(tmp_path: Path) -> AsyncIterator[SupervisorFactory]:
    """Start supervisors with their own port, run dir and HOME; stop them all at the end."""
    made: list[IndiServerSupervisor] = []

    async def make(drivers: Iterable[str] = (), *, start: bool = True, **kwargs: Any):
        index = len(made)
        home = tmp_path / f"home{index}"
        home.mkdir()
        kwargs.setdefault("run_dir", tmp_path / f"run{index}")
        kwargs.setdefault("env", {"HOME": str(home)})
        kwargs.setdefault("backoff_initial", 0.2)
        supervisor = IndiServerSupervisor(kwargs.pop("port", None) or find_free_port(), **kwargs)
        made.append(supervisor)
        if start:
            await supervisor.start(drivers)
        return supervisor

    yield make
    for supervisor in made:
        await supervisor.stop()


async def test_profile_of_four_simulators_shows_their_devices(
    make_supervisor: SupervisorFactory, tmp_path: Path
) -> None:
    with StateDB(tmp_path / "state.sqlite3") as db:
        profile = db.require_profile(SIMULATORS_PROFILE)
    supervisor = await make_supervisor(start=False)
    events: list[SupervisorEvent] = []
    supervisor.subscribe(events.append)

    started = await supervisor.start_profile(profile)

    assert supervisor.running
    assert [d.executable for d in started] == [d.executable for d in profile.drivers]
    assert all(d.state is DriverState.RUNNING and d.pid for d in supervisor.drivers())
    assert supervisor.drivers()[1].label == "CCD Simulator"
    # Server and drivers share one process group, ours to end.
    pids = {d.pid for d in supervisor.drivers()}
    assert supervisor.pid is not None
    assert pids <= set(group_members(supervisor.pid))
    assert set(FOUR) <= await wait_devices(supervisor.port, present=FOUR)
    assert events[0].kind == "server_started"
    assert [e.kind for e in events[1:]] == ["driver_started"] * 4
    status = supervisor.status()
    assert status["running"] is True and len(status["drivers"]) == 4  # type: ignore[arg-type]
    # Starting what already runs changes nothing.
    again = await supervisor.start_profile(profile)
    assert [d.pid for d in again] == [d.pid for d in started]


async def test_fifo_start_dome_and_second_wheel_then_stop_it(
    make_supervisor: SupervisorFactory,
) -> None:
    supervisor = await make_supervisor(["indi_simulator_wheel"])
    port = supervisor.port
    await wait_devices(port, present=["Filter Simulator"])

    dome = await supervisor.start_driver("indi_simulator_dome")
    assert await supervisor.start_driver("indi_simulator_dome") is dome  # no second process
    await wait_devices(port, present=["Dome Simulator"])
    assert dome.pid is not None and alive(dome.pid)

    wheel_two = await supervisor.start_driver("indi_simulator_wheel", "Wheel Two")
    seen = await wait_devices(port, present=["Filter Simulator", "Wheel Two", "Dome Simulator"])
    assert seen == {"Filter Simulator", "Wheel Two", "Dome Simulator"}
    assert [d.key for d in supervisor.running_drivers()] == [
        ("indi_simulator_wheel", None),
        ("indi_simulator_dome", None),
        ("indi_simulator_wheel", "Wheel Two"),
    ]

    stopped = await supervisor.stop_driver("indi_simulator_wheel", "Wheel Two")
    assert stopped.state is DriverState.STOPPED
    assert wheel_two.pid is None
    seen = await wait_devices(port, present=["Filter Simulator"], absent=["Wheel Two"])
    assert seen == {"Filter Simulator", "Dome Simulator"}
    assert supervisor.get_driver("indi_simulator_wheel", "Wheel Two") is None

    # The first wheel is untouched; restarting it gives a new process.
    first = supervisor.get_driver("indi_simulator_wheel")
    assert first is not None and first.pid is not None
    old_pid = first.pid
    restarted = await supervisor.restart_driver("indi_simulator_wheel")
    assert restarted.pid not in (None, old_pid)
    assert not alive(old_pid)
    await wait_devices(port, present=["Filter Simulator", "Dome Simulator"])

    with pytest.raises(DriverError, match="not running"):
        await supervisor.stop_driver("indi_simulator_wheel", "Wheel Two")


async def test_unnamed_instance_behind_a_named_one_is_stopped_by_device_name(
    make_supervisor: SupervisorFactory,
) -> None:
    supervisor = await make_supervisor(["indi_simulator_focus"])
    await supervisor.start_driver("indi_simulator_focus", "Focuser Two")
    # Only the named one now: start the unnamed one again after it, so the
    # named instance is the older of the two.
    await supervisor.stop_driver("indi_simulator_focus")
    await supervisor.start_driver("indi_simulator_focus")
    await wait_devices(supervisor.port, present=["Focuser Simulator", "Focuser Two"])

    # indiserver's plain "stop indi_simulator_focus" would stop "Focuser Two".
    with pytest.raises(DriverError, match="older instance"):
        await supervisor.stop_driver("indi_simulator_focus")
    await supervisor.stop_driver("indi_simulator_focus", device="Focuser Simulator")
    await wait_devices(
        supervisor.port, present=["Focuser Two"], absent=["Focuser Simulator"], timeout=5
    )


async def test_killed_indiserver_is_restarted_on_same_port_with_its_drivers(
    make_supervisor: SupervisorFactory,
) -> None:
    supervisor = await make_supervisor(["indi_simulator_telescope", "indi_simulator_ccd"])
    await supervisor.start_driver("indi_simulator_wheel", "Wheel Two")
    port, old_pid = supervisor.port, supervisor.pid
    assert old_pid is not None
    old_driver_pids = [d.pid for d in supervisor.drivers()]
    await wait_devices(port, present=["Telescope Simulator", "CCD Simulator", "Wheel Two"])
    events: list[str] = []
    supervisor.subscribe(lambda e: events.append(e.kind))

    os.kill(old_pid, signal.SIGKILL)

    await eventually(lambda: "server_exited" in events)
    assert await supervisor.wait_ready(timeout=15)
    assert supervisor.port == port
    assert supervisor.pid not in (None, old_pid)
    assert supervisor.server_restarts == 1
    await wait_devices(port, present=["Telescope Simulator", "CCD Simulator", "Wheel Two"])
    assert all(d.state is DriverState.RUNNING for d in supervisor.drivers())
    assert all(d.restarts == 1 for d in supervisor.drivers())
    # The old server's drivers did not linger next to the new ones.
    assert not any(alive(pid) for pid in old_driver_pids if pid)
    assert not group_members(old_pid)
    await eventually(lambda: events.count("driver_restarted") == 3)
    assert "server_restarted" in events


async def test_crashed_driver_is_listed_as_stopped(make_supervisor: SupervisorFactory) -> None:
    supervisor = await make_supervisor(["indi_simulator_telescope", "indi_simulator_ccd"])
    await wait_devices(supervisor.port, present=["Telescope Simulator", "CCD Simulator"])
    ccd = supervisor.get_driver("indi_simulator_ccd")
    assert ccd is not None and ccd.pid is not None
    crashes: list[SupervisorEvent] = []
    supervisor.subscribe(lambda e: crashes.append(e) if e.kind == "driver_crashed" else None)

    os.kill(ccd.pid, signal.SIGKILL)

    await eventually(lambda: ccd.state is DriverState.CRASHED)
    assert ccd.stopped and not ccd.running and ccd.pid is None
    assert ccd.devices == {"CCD Simulator"}  # learned from indiserver's delProperty
    assert ccd.last_error
    assert ccd not in supervisor.running_drivers()
    assert ccd.to_dict()["state"] == "crashed"
    assert [e.driver for e in crashes] == [ccd]
    # indiserver did not start it again behind our back (-r 0) ...
    await asyncio.sleep(0.5)
    assert ccd.state is DriverState.CRASHED
    await wait_devices(supervisor.port, present=["Telescope Simulator"], absent=["CCD Simulator"])
    # ... and the user can.
    again = await supervisor.restart_driver("indi_simulator_ccd")
    assert again.state is DriverState.RUNNING
    await wait_devices(supervisor.port, present=["CCD Simulator"])


async def test_with_driver_restarts_indiserver_restarts_a_crashed_driver(
    make_supervisor: SupervisorFactory,
) -> None:
    supervisor = await make_supervisor(
        ["indi_simulator_wheel", "indi_simulator_focus"], driver_restarts=3
    )
    await supervisor.start_driver("indi_simulator_wheel", "Wheel Two")
    await wait_devices(supervisor.port, present=["Filter Simulator", "Wheel Two"])
    wheel_two = supervisor.get_driver("indi_simulator_wheel", "Wheel Two")
    assert wheel_two is not None and wheel_two.pid is not None
    old_pid = wheel_two.pid

    os.kill(old_pid, signal.SIGKILL)

    # The right instance of the two wheels is followed to its new process.
    await eventually(lambda: wheel_two.restarts == 1 and wheel_two.state is DriverState.RUNNING)
    assert wheel_two.pid not in (None, old_pid)
    first = supervisor.get_driver("indi_simulator_wheel")
    assert first is not None and first.restarts == 0
    await wait_devices(supervisor.port, present=["Filter Simulator", "Wheel Two"])


async def test_remote_driver_is_chained_in_and_out(make_supervisor: SupervisorFactory) -> None:
    remote_server = await make_supervisor(["indi_simulator_dome"])
    local = await make_supervisor(["indi_simulator_focus"])
    remote = f"Dome Simulator@127.0.0.1:{remote_server.port}"

    chained = await local.start_driver(remote)
    assert chained.is_remote and chained.state is DriverState.RUNNING
    await wait_devices(local.port, present=["Dome Simulator", "Focuser Simulator"])
    await local.stop_driver(remote)
    await wait_devices(local.port, present=["Focuser Simulator"], absent=["Dome Simulator"])

    # indiserver 1.9.9 exits when a remote server does not answer: refused up front.
    with pytest.raises(DriverError, match="no INDI server answers"):
        await local.start_driver(f"Dome Simulator@127.0.0.1:{find_free_port()}")
    assert local.running and local.server_restarts == 0


async def test_stop_leaves_no_process(make_supervisor: SupervisorFactory) -> None:
    supervisor = await make_supervisor(["indi_simulator_telescope", "indi_simulator_ccd"])
    await supervisor.start_driver("indi_simulator_dome")
    pgid = supervisor.pid
    assert pgid is not None
    pids = [pgid, *(d.pid for d in supervisor.drivers() if d.pid)]
    fifo = supervisor.fifo_path
    assert fifo.exists()

    await supervisor.stop()

    assert not any(alive(pid) for pid in pids)
    assert group_members(pgid) == []
    assert not supervisor.running and supervisor.pid is None
    assert supervisor.drivers() == []
    assert not fifo.exists()
    await supervisor.stop()  # idempotent
    # The port is free again for the next start.
    await supervisor.start(["indi_simulator_focus"])
    await wait_devices(supervisor.port, present=["Focuser Simulator"])


PARENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from indiws.manager.server import IndiServerSupervisor

    async def main():
        supervisor = IndiServerSupervisor(int(sys.argv[1]), run_dir=sys.argv[2])
        await supervisor.start(["indi_simulator_telescope", "indi_simulator_focus"])
        pids = [supervisor.pid] + [d.pid for d in supervisor.drivers()]
        print(" ".join(map(str, pids)), flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_no_orphans_when_the_parent_dies(tmp_path: Path, sig: signal.Signals) -> None:
    """Even a parent killed without a chance to call stop() takes indiserver along."""
    home = tmp_path / "home"
    home.mkdir()
    run_dir = tmp_path / "run"
    env = {**os.environ, "HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARENT_SCRIPT,
        str(find_free_port()),
        str(run_dir),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 20)
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3 and all(alive(pid) for pid in pids)

        parent.send_signal(sig)
        await asyncio.wait_for(parent.wait(), 10)

        await eventually(lambda: not any(alive(pid) for pid in pids), timeout=5)
        assert group_members(pids[0]) == []
        assert processes_using(str(run_dir)) == []
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


async def test_port_in_use_is_refused_clearly(make_supervisor: SupervisorFactory) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        supervisor = await make_supervisor(start=False, port=port)
        with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
            await supervisor.start()
        assert not supervisor.running and supervisor.pid is None


async def test_port_taken_after_the_check_is_reported_from_indiserver(
    make_supervisor: SupervisorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone binds the port between our check and indiserver's bind."""
    monkeypatch.setattr(server_module, "port_is_free", lambda port, host="": True)
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        supervisor = await make_supervisor(start=False, port=port)
        with pytest.raises(PortInUseError, match="Address already in use"):
            await supervisor.start()
        assert supervisor.pid is None
        assert processes_using(str(supervisor.fifo_path)) == []


async def test_missing_indiserver_is_refused_clearly(make_supervisor: SupervisorFactory) -> None:
    supervisor = await make_supervisor(start=False, indiserver="/nonexistent/bin/indiserver")
    with pytest.raises(IndiServerNotFoundError, match="not found.*apt-get install indi-bin"):
        await supervisor.start()
    supervisor = await make_supervisor(start=False, indiserver="indiserver-not-installed")
    with pytest.raises(IndiServerNotFoundError, match="on PATH"):
        await supervisor.start()


async def test_missing_driver_is_refused_clearly(make_supervisor: SupervisorFactory) -> None:
    supervisor = await make_supervisor()
    with pytest.raises(DriverNotFoundError, match="indi_no_such_driver.*not installed"):
        await supervisor.start_driver("indi_no_such_driver")
    with pytest.raises(DriverError, match="must not contain"):
        await supervisor.start_driver("indi_simulator_wheel", 'Bad "Name"')
    assert supervisor.drivers() == []


async def test_fifo_without_reader_fails_instead_of_hanging(
    make_supervisor: SupervisorFactory,
) -> None:
    supervisor = await make_supervisor(fifo_timeout=0.5)
    # A new FIFO at the same path: indiserver holds the old one, nobody reads this.
    supervisor.fifo_path.unlink()
    os.mkfifo(supervisor.fifo_path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        # Fails after its 0.5 s FIFO timeout; the bound only keeps a hang from
        # holding the test (no timed assertion: the machine may be loaded).
        with pytest.raises(FifoError, match="did not read its FIFO"):
            await asyncio.wait_for(supervisor.start_driver("indi_simulator_dome"), 30)
    finally:
        task.cancel()
    # The event loop kept running meanwhile: a write blocking it would leave the
    # ticker at most one tick; how many more it gets depends on the machine's load.
    assert ticks >= 3
    assert supervisor.get_driver("indi_simulator_dome") is None


def _read_like_indiserver(fifo: Path, got: list[str], stop: threading.Event) -> None:
    """Read ``fifo`` as indiserver 1.9.9 does (read-only, non-blocking; after
    each writer's EOF close the end and open it again), with the moment
    between the EOF and the close widened to 50 ms."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    pending = b""
    try:
        while not stop.is_set():
            if not select.select([fd], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:  # a writer opened, nothing written yet
                continue
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                got.extend(line.decode() for line in lines)
                continue
            time.sleep(0.05)
            os.close(fd)
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    finally:
        os.close(fd)


async def test_fifo_lines_written_while_indiserver_reopens_its_end_all_arrive(
    tmp_path: Path,
) -> None:
    """A command written just before indiserver closes its FIFO end (it does
    after every writer) stayed in a pipe nobody held and was lost: a driver
    start that never happened.  Every line arrives, in order."""
    fifo = tmp_path / "indiserver.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_like_indiserver, args=(fifo, got, stop))
    reader.start()
    try:
        lines = [f'start indi_simulator_dome -n "Dome {i}"' for i in range(20)]
        for line in lines:
            await write_fifo_line(fifo, line, timeout=5)  # returns once it was read
    finally:
        stop.set()
        reader.join()
    assert got == lines
