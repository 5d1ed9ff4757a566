"""The ``indiws`` command line: its help, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from indiws.__main__ import build_parser
from indiws.testing import NO_ALPACA, IndiServerProcess, free_port

#: The options the service has promised since its first release.
CORE_OPTIONS = ("--indi-host", "--indi-port", "--host", "--port", "--data-dir", "--log-level")


def test_help_explains_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "indiws", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert out.startswith("usage: indiws")
    flat = " ".join(out.split())  # argparse wraps help text
    for option in CORE_OPTIONS:
        assert option in out, option
    for action in build_parser()._actions:
        if not action.option_strings:
            continue
        assert action.help and action.help.strip(), f"{action.option_strings} has no help"
        first_words = " ".join(action.help.split()[:3]).split("%(")[0]
        assert first_words in flat, f"help of {action.option_strings[0]} not shown"
        assert action.option_strings[-1] in out


def _devices(url: str) -> list[dict] | None:
    try:
        with urllib.request.urlopen(url + "/get/all/devices/", timeout=2) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_service_cleanly(
    sig: signal.Signals, indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "indiws.log"
    cmd = [
        sys.executable,
        "-m",
        "indiws",
        "--indi-port",
        str(indiserver.port),
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        "--phd2-port",
        "0",
        *NO_ALPACA,
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        devices = None
        while time.monotonic() < deadline and proc.poll() is None:
            devices = _devices(url)
            if devices is not None and len(devices) == 4:
                break
            time.sleep(0.1)
        assert devices is not None and len(devices) == 4, log_path.read_text()
        proc.send_signal(sig)
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert output.rstrip().endswith("stopped"), output
    assert "Traceback" not in output, output
    assert (tmp_path / "data").is_dir()


# ------------------------------------------- embedded mode: every process ends


def _stat(pid: int | str) -> list[bytes]:
    """``/proc/PID/stat`` after the command name: state, parent, group, ...
    (empty once the process is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return []
    return raw[raw.rindex(b")") + 2 :].split()


def _alive(fields: list[bytes]) -> bool:
    return bool(fields) and fields[0] not in (b"Z", b"X")


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def _group(pgid: int) -> list[int]:
    """Live members of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if _alive(fields) and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _start_embedded(
    tmp_path: Path, *args: str, ready: bool = True
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`python -m indiws` in embedded mode, alone in its process group (a
    terminal's foreground job); returns once the simulators are listed
    (at once if not ``ready``)."""
    port = free_port()
    log_path = tmp_path / "indiws.log"
    home = tmp_path / "home"
    home.mkdir()
    cmd = [sys.executable, "-m", "indiws", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    cmd += ["--embedded-indi-port", str(free_port()), "--phd2-port", "0", *NO_ALPACA, *args]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(home)},
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    if not ready:
        return proc, url, log_path
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        devices = _devices(url)
        if devices is not None and len(devices) == 4:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        proc.wait()
        pytest.fail(f"indiws did not list the simulators:\n{log_path.read_text()}")
    return proc, url, log_path


def _service_processes(proc: subprocess.Popen[bytes], url: str) -> list[int]:
    """The service's processes: its own group (with the analysis worker, its
    forkserver and resource tracker, once started), indiserver and drivers."""
    with urllib.request.urlopen(url + "/api/v1/server", timeout=5) as resp:
        server = json.loads(resp.read())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the worker starts in the background
        group = _group(proc.pid)
        if any("forkserver" in _cmdline(p) for p in group) and len(group) >= 4:
            break
        time.sleep(0.1)
    assert any("forkserver" in _cmdline(p) for p in group), [_cmdline(p) for p in group]
    return [*group, *_group(server["pid"])]


def _wait_gone(pids: list[int]) -> list[str]:
    deadline = time.monotonic() + 10
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if _alive(_stat(p))]
    return [_cmdline(p) for p in left]


def test_ctrl_c_in_a_terminal_stops_every_process_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's job (the analysis
    worker and its forkserver too), not only indiws."""
    proc, url, log_path = _start_embedded(tmp_path)
    output = _ctrl_c(proc, log_path, lambda: _service_processes(proc, url))
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output


def _ctrl_c(
    proc: subprocess.Popen[bytes], log_path: Path, processes: Callable[[], list[int]]
) -> str:
    """Ctrl-C to the service's whole group, as a terminal sends it, once
    ``processes()`` has named them; checks that the service exited 0 saying
    "stopped" and that every one of them is gone; returns the log."""
    try:
        pids = processes()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert output.rstrip().endswith("stopped"), output
    assert not _wait_gone(pids), output
    return output


def test_ctrl_c_while_the_analysis_worker_starts_leaves_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C the moment the analysis worker exists, while it still imports
    the analysis (half a second, before it can ignore SIGINT itself): the
    service stops cleanly, the worker dies of no KeyboardInterrupt."""
    proc, _, log_path = _start_embedded(tmp_path, ready=False)

    def as_the_worker_appears() -> list[int]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            group = _group(proc.pid)
            servers = {p for p in group if "forkserver" in _cmdline(p)}
            if any(_parent(p) in servers for p in group):
                return group
            time.sleep(0.002)
        raise AssertionError(log_path.read_text())

    output = _ctrl_c(proc, log_path, as_the_worker_appears)
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "could not start" not in output, output


def test_sigterm_with_clients_connected_reports_no_false_error(tmp_path: Path) -> None:
    """SIGTERM while /ws/indi_client/ sockets receive status notifications:
    they must not read the state database after it closed (which logged
    "state database ... cannot be used" at every stop)."""
    from websockets.sync.client import connect

    proc, url, log_path = _start_embedded(tmp_path, "--status-interval", "0.02")
    try:
        pids = _service_processes(proc, url)
        with contextlib.ExitStack() as sockets:
            for _ in range(3):
                ws = sockets.enter_context(connect(url.replace("http", "ws") + "/ws/indi_client/"))
                assert json.loads(ws.recv(timeout=10))["method"] == "status"
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert "cannot be used" not in output, output
    assert " ERROR " not in output and "Traceback" not in output, output
    assert output.rstrip().endswith("stopped"), output
    assert not _wait_gone(pids), output


def test_kill_9_leaves_no_process_behind(tmp_path: Path) -> None:
    """A service killed outright (kill -9, a crash) cannot stop anything:
    its analysis worker, forkserver and resource tracker, and its embedded
    indiserver with the drivers, end by themselves."""
    proc, url, log_path = _start_embedded(tmp_path)
    try:
        pids = _service_processes(proc, url)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        left = _wait_gone([p for p in pids if p != proc.pid])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()
    assert not left, left
