"""The indiserver test harness works as the other tests rely on it to.

INDI's own command-line client (``indi_getprop``) is the judge here, so these
tests do not depend on the project's INDI client.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from indiws import testing
from indiws.testing import (
    DEFAULT_SIMULATORS,
    SIMULATOR_DEVICES,
    IndiServerError,
    IndiServerFactory,
    IndiServerProcess,
)


def getprop(port: int, *queries: str, wait: float = 1.0) -> str:
    """Output of ``indi_getprop`` (``Device.PROPERTY.ELEMENT=value`` lines)."""
    result = subprocess.run(
        ["indi_getprop", "-p", str(port), "-t", str(wait), *queries],
        capture_output=True,
        text=True,
        timeout=wait + 10,
        check=False,
    )
    return result.stdout


def wait_for_getprop_line(port: int, line: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = getprop(port, "*.DRIVER_INFO.DRIVER_EXEC")
        if line in output.splitlines():
            return output
        if time.monotonic() > deadline:
            pytest.fail(f"{line!r} not reported by indi_getprop within {timeout}s:\n{output}")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (zombies are dead,
    only waiting for their parent to collect them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and alive(int(entry)):
            if any(text in part for part in command_line(int(entry))):
                found.append(int(entry))
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def test_session_server_runs_the_four_simulators(indiserver: IndiServerProcess) -> None:
    output = getprop(indiserver.port, "*.DRIVER_INFO.DRIVER_EXEC").splitlines()
    devices = {SIMULATOR_DEVICES[driver] for driver in DEFAULT_SIMULATORS}
    assert devices == {
        "Telescope Simulator",
        "CCD Simulator",
        "Focuser Simulator",
        "Filter Simulator",
    }
    for driver in DEFAULT_SIMULATORS:
        assert f"{SIMULATOR_DEVICES[driver]}.DRIVER_INFO.DRIVER_EXEC={driver}" in output
    assert indiserver.device_names() == devices


def test_server_is_isolated_in_its_own_folder(indiserver: IndiServerProcess) -> None:
    assert indiserver.running
    assert indiserver.host == "127.0.0.1"
    assert indiserver.fifo_path.is_fifo()
    assert indiserver.log_path.is_file()
    assert "listening to port" in indiserver.log_path.read_text()
    server_cmdline = command_line(indiserver.pid or 0)
    assert ["-p", str(indiserver.port)] == server_cmdline[2:4]
    assert str(indiserver.fifo_path) in server_cmdline
    assert str(indiserver.socket_path) in server_cmdline
    # Drivers get the server's private HOME, so their config stays out of the real one.
    for pid in children_of(indiserver.pid or 0):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"HOME={indiserver.home}".encode() in environ


def test_fifo_starts_and_stops_drivers(indiserver_factory: IndiServerFactory) -> None:
    server = indiserver_factory(["indi_simulator_focus"])
    dome = "Dome Simulator.DRIVER_INFO.DRIVER_EXEC=indi_simulator_dome"
    assert dome not in getprop(server.port, "*.DRIVER_INFO.DRIVER_EXEC").splitlines()

    server.fifo_command("start indi_simulator_dome")
    wait_for_getprop_line(server.port, dome, timeout=10)

    # A second instance of a driver under its own device name, then gone again.
    server.start_driver("indi_simulator_wheel", name="Wheel Two")
    assert "Wheel Two" in server.wait_for_devices(present=["Wheel Two"], timeout=10)
    server.stop_driver("indi_simulator_wheel", name="Wheel Two")
    seen = server.wait_for_devices(absent=["Wheel Two"], timeout=10)
    assert seen == {"Focuser Simulator", "Dome Simulator"}


def test_stop_leaves_no_process_behind(indiserver_factory: IndiServerFactory) -> None:
    server = indiserver_factory(["indi_simulator_telescope", "indi_simulator_ccd"])
    server.fifo_command("start indi_simulator_dome")
    server.wait_for_devices(present=["Dome Simulator"])
    server_pid = server.pid
    assert server_pid is not None
    drivers = children_of(server_pid)
    names = sorted(command_line(pid)[0] for pid in drivers)
    assert names == ["indi_simulator_ccd", "indi_simulator_dome", "indi_simulator_telescope"]
    assert sorted(server.group_pids()) == sorted([server_pid, *drivers])

    server.stop()

    assert not server.running
    assert [pid for pid in [server_pid, *drivers] if alive(pid)] == []
    assert processes_mentioning(str(server.fifo_path)) == []
    assert server.group_pids() == []


def test_kill_then_restart_on_the_same_port(indiserver_factory: IndiServerFactory) -> None:
    server = indiserver_factory(["indi_simulator_focus"])
    port, old_pid = server.port, server.pid
    assert old_pid is not None
    old_driver_pids = children_of(old_pid)
    assert old_driver_pids
    # A connected client sees the crash as end-of-stream.
    with socket.create_connection(server.address, timeout=5) as client:
        server.kill()
        client.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while client.recv(65536):
                pass
    assert not server.running
    assert [pid for pid in [old_pid, *old_driver_pids] if alive(pid)] == []
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=1).close()

    server.restart_same_port()

    assert server.port == port
    assert server.pid != old_pid
    wait_for_getprop_line(port, "Focuser Simulator.DRIVER_INFO.DRIVER_EXEC=indi_simulator_focus")
    # The FIFO works again too.
    server.start_driver("indi_simulator_rotator")
    server.wait_for_devices(present=["Rotator Simulator"])


def test_servers_side_by_side_do_not_collide(indiserver_factory: IndiServerFactory) -> None:
    first = indiserver_factory(["indi_simulator_wheel"])
    second = indiserver_factory(["indi_simulator_wheel"])
    assert first.port != second.port
    assert first.fifo_path != second.fifo_path
    assert first.socket_path != second.socket_path
    second.start_driver("indi_simulator_dome")
    second.wait_for_devices(present=["Dome Simulator"])
    assert first.device_names() == {"Filter Simulator"}


def test_context_manager_cleans_up() -> None:
    with IndiServerProcess(["indi_simulator_focus"]) as server:
        workdir, pid = server.workdir, server.pid
        assert server.device_names() == {"Focuser Simulator"}
    assert pid is not None and not alive(pid)
    assert not workdir.exists()


def test_start_failure_reports_the_server_log(indiserver_factory: IndiServerFactory) -> None:
    with pytest.raises(IndiServerError, match="execlp") as caught:
        indiserver_factory(["indi_no_such_driver"], startup_timeout=20)
    assert "indi_no_such_driver" in str(caught.value)


def test_taken_port_is_retried_with_another(
    indiserver_factory: IndiServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda: next(ports, None) or real_free_port())

        server = indiserver_factory(["indi_simulator_focus"])

        assert server.port != taken
        assert server.device_names() == {"Focuser Simulator"}
        with pytest.raises(IndiServerError, match="Address already in use"):
            indiserver_factory(["indi_simulator_focus"], port=taken)


def test_a_free_port_stays_ours_until_its_server_listens() -> None:
    """Another worker cannot take a port `free_port` handed out (it stays
    bound), the server it is for still listens there, and nothing else
    answers on it."""
    port = testing.free_port()
    with socket.socket() as other, pytest.raises(OSError):
        other.bind(("", port))  # another worker's plain bind
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with socket.create_server(("127.0.0.1", port)):  # SO_REUSEADDR, as servers bind
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
