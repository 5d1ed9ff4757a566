"""`python -m indiws` with no INDI arguments: its own indiserver, the simulators,
the four roles; drivers started and stopped over HTTP (also with curl, as INDI
Web Manager documents it); indiserver killed and brought back; no process
left after SIGTERM.

One service process (a subprocess, with its own HOME, data directory and free
ports) is shared by the tests of this module, which run in file order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indiws.testing import NO_ALPACA, free_port

pytestmark = pytest.mark.slow

SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}
ROLES = {
    "telescope": "Telescope Simulator",
    "camera": "CCD Simulator",
    "focuser": "Focuser Simulator",
    "filter_wheel": "Filter Simulator",
}
CURL = shutil.which("curl")


def wait_until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError) as exc:  # not up yet, or a half-written answer
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(step)
    raise AssertionError(f"{what} not reached within {timeout:g} s (last: {last!r})")


@dataclass
class Embedded:
    proc: subprocess.Popen[bytes]
    url: str
    indi_port: int
    root: Path
    log_path: Path

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, body
        return body

    def devices(self) -> set[str]:
        return {d["device_name"] for d in self.get("/get/all/devices/")}

    def wait_devices(
        self, present: Iterable[str] = (), absent: Iterable[str] = (), timeout: float = 1.0
    ) -> set[str]:
        want, gone = set(present), set(absent)

        def check() -> tuple[set[str]] | None:
            seen = self.devices()
            return (seen,) if want <= seen and not gone & seen else None  # () would be false

        what = f"devices {sorted(want)} present, {sorted(gone)} absent"
        return wait_until(check, timeout, what)[0]

    def curl(self, *args: str) -> Any:
        """Run the real curl binary; return the JSON it printed."""
        assert CURL is not None
        done = subprocess.run(
            [CURL, "-sS", "--fail-with-body", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout)

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])


def start_indiws(root: Path, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    log_path = root / "indiws.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            # PHD2's fixed port 4400 off: tests run side by side.
            [
                sys.executable,
                "-m",
                "indiws",
                "--data-dir",
                str(root / "data"),
                "--phd2-port",
                "0",
                *NO_ALPACA,
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, "HOME": str(home), **env},  # drivers write $HOME/.indi
        )
    return proc, log_path


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    root = tmp_path_factory.mktemp("embedded")
    port, indi_port = free_port(), free_port()
    proc, log_path = start_indiws(root, "--port", str(port), "--embedded-indi-port", str(indi_port))
    service = Embedded(proc, f"http://127.0.0.1:{port}", indi_port, root, log_path)
    try:
        wait_until(
            lambda: proc.poll() is None and SIMULATORS <= service.devices(),
            30,
            "the four simulators",
            step=0.1,
        )
        yield service
    except BaseException:
        print(service.log_tail())
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_comes_up_with_the_simulators_and_the_four_roles_connected(embedded: Embedded) -> None:
    status = embedded.get("/api/v1/server")
    assert status["managed"] is True
    # INDI clients use the INDI port (served by indiws); indiserver itself
    # listens on an internal port that admits indiws only (docs/security.md).
    assert status["indi_port"] == embedded.indi_port
    assert status["port"] != embedded.indi_port and status["open_to_network"] is False
    assert status["active_profile"] == "Simulators"
    assert {d["executable"] for d in status["drivers"]} == {
        "indi_simulator_telescope",
        "indi_simulator_ccd",
        "indi_simulator_focus",
        "indi_simulator_wheel",
    }
    assert embedded.devices() == SIMULATORS

    def roles_connected() -> dict[str, Any] | None:
        roles = embedded.get("/api/v1/server")["roles"]
        assigned = {n: r for n, r in roles.items() if r["device_name"] is not None}
        ok = all(r["device_name"] == ROLES[n] and r["connected"] for n, r in assigned.items())
        return roles if ok and set(assigned) == set(ROLES) else None

    wait_until(roles_connected, 15, "the four roles assigned and connected")
    connected = {d["device"]: d["connected"] for d in embedded.get("/api/devices")}
    assert connected == dict.fromkeys(SIMULATORS, True)
    # INDI Web Manager's view of the same.
    assert embedded.get("/api/server/status") == [
        {"status": "True", "active_profile": "Simulators"}
    ]
    labels = {d["label"] for d in embedded.get("/api/server/drivers")}
    assert labels == SIMULATORS


def test_start_up_log_names_the_port_indi_clients_use(embedded: Embedded) -> None:
    """The profile's own port is not indiserver's (internal) nor, here, the
    INDI port: the log says which port INDI clients use, never the internal one
    as if it mattered to them."""
    internal = embedded.get("/api/v1/server")["port"]
    log = embedded.log_path.read_text().splitlines()
    lines = [line for line in log if "profile 'Simulators'" in line]
    about_ports = [line for line in lines if "port" in line]
    assert about_ports, embedded.log_tail()
    for line in about_ports:
        assert "keeps port" not in line and str(internal) not in line, line
        assert f"INDI clients (KStars, indi_getprop) connect to port {embedded.indi_port}" in line


def test_embedded_indiserver_has_the_simulated_sky_s_gsc_on_its_path(embedded: Embedded) -> None:
    """The CCD simulator runs ``gsc`` by name through the shell: the embedded
    indiserver (and so its drivers) must find ours first on its PATH."""
    want = f"-p {embedded.get('/api/v1/server')['port']} "
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "indiserver" not in cmdline.split(" ")[0] or want not in cmdline:
                continue
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        path = next(v[5:].decode() for v in environ if v.startswith(b"PATH="))
        break
    else:
        raise AssertionError("the embedded indiserver's process was not found")
    bin_dir = embedded.root / "data" / "sky" / "bin"
    assert path.split(os.pathsep)[0] == str(bin_dir)
    done = subprocess.run(
        "gsc -c 83.8 -5.4 -r 30 -m 0 12 -n 5",
        shell=True,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 5, done


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_dome_started_with_curl_shows_in_the_seed_devices(embedded: Embedded) -> None:
    # INDI Web Manager: POST /api/drivers/start/<label>.
    answer = embedded.curl("-X", "POST", f"{embedded.url}/api/drivers/start/Dome%20Simulator")
    assert answer == {"message": "Driver Dome Simulator started"}
    embedded.wait_devices(present=["Dome Simulator"], timeout=5.0)
    seed = {d["device_name"]: d for d in embedded.get("/get/all/devices/")}
    assert seed["Dome Simulator"]["device_driver_exec"] == "indi_simulator_dome"
    assert "Dome Simulator" in {d["label"] for d in embedded.get("/api/server/drivers")}
    # Started again: not a second process.
    embedded.curl("-X", "POST", f"{embedded.url}/api/drivers/start/Dome%20Simulator")
    domes = [
        d
        for d in embedded.get("/api/v1/server")["drivers"]
        if d["executable"] == "indi_simulator_dome"
    ]
    assert len(domes) == 1


def test_second_filter_wheel_under_another_name_then_stopped(embedded: Embedded) -> None:
    status, driver = embedded.request(
        "POST",
        "/api/v1/drivers/start",
        {"executable": "indi_simulator_wheel", "name": "Wheel Two"},
    )
    assert status == 200, driver
    assert driver["name"] == "Wheel Two" and driver["state"] == "running"
    assert driver["present_devices"] == ["Wheel Two"]
    seen = embedded.wait_devices(present=["Wheel Two", "Filter Simulator"], timeout=5.0)
    wheels = {
        d["device_name"]
        for d in embedded.get("/get/all/devices/")
        if d["device_driver_exec"] == "indi_simulator_wheel"
    }
    assert wheels == {"Filter Simulator", "Wheel Two"}, seen

    status, stopped = embedded.request(
        "POST", "/api/v1/drivers/stop", {"executable": "indi_simulator_wheel", "name": "Wheel Two"}
    )
    assert status == 200, stopped
    assert stopped["state"] == "stopped"
    embedded.wait_devices(present=["Filter Simulator"], absent=["Wheel Two"], timeout=5.0)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_stopped_driver_takes_its_device_away(embedded: Embedded) -> None:
    embedded.wait_devices(present=["Dome Simulator"], timeout=5.0)
    answer = embedded.curl("-X", "POST", f"{embedded.url}/api/drivers/stop/Dome%20Simulator")
    assert answer == {"message": "Driver Dome Simulator stopped"}
    embedded.wait_devices(absent=["Dome Simulator"], timeout=5.0)
    status, error = embedded.request("POST", "/api/drivers/stop/Dome%20Simulator")
    assert status == 404
    assert error["error"]["code"] == "driver_not_running"
    assert "not running" in error["detail"]


def test_killed_indiserver_is_restarted_with_its_devices(embedded: Embedded) -> None:
    before = embedded.get("/api/v1/server")
    os.kill(before["pid"], signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        status = embedded.get("/api/v1/server")
        ok = status["running"] and status["pid"] not in (None, before["pid"])
        return status if ok else None

    after = wait_until(restarted, 15, "indiserver restarted")
    assert after["server_restarts"] == before["server_restarts"] + 1
    assert after["port"] == before["port"]
    embedded.wait_devices(present=SIMULATORS, timeout=10)

    def roles_connected() -> bool:
        roles = embedded.get("/api/v1/server")["roles"]
        return all(r["connected"] for r in roles.values() if r["device_name"] is not None)

    wait_until(roles_connected, 15, "roles connected again")


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_indi_web_manager_profile_requests_with_curl(embedded: Embedded) -> None:
    url = embedded.url
    json_header = ("-H", "Content-Type: application/json")
    # As INDI Web Manager's README: add a profile, give it drivers, start it.
    assert embedded.curl(*json_header, "-X", "POST", f"{url}/api/profiles/foo") == {
        "message": "Profile foo added"
    }
    drivers = [{"label": "Telescope Simulator"}, {"label": "Dome Simulator"}]
    embedded.curl(
        *json_header, "-X", "POST", "-d", json.dumps(drivers), f"{url}/api/profiles/foo/drivers"
    )
    assert embedded.curl(f"{url}/api/profiles/foo/labels") == drivers
    assert "foo" in {p["name"] for p in embedded.curl(f"{url}/api/profiles")}

    answer = embedded.curl("-X", "POST", f"{url}/api/server/start/foo")
    assert answer == {"message": "INDI server started for profile foo"}
    embedded.wait_devices(
        present=["Telescope Simulator", "Dome Simulator"],
        absent=["CCD Simulator", "Focuser Simulator", "Filter Simulator"],
        timeout=5.0,
    )
    assert embedded.curl(f"{url}/api/server/status") == [
        {"status": "True", "active_profile": "foo"}
    ]
    running = {d["binary"] for d in embedded.curl(f"{url}/api/server/drivers")}
    assert running == {"indi_simulator_telescope", "indi_simulator_dome"}

    assert embedded.curl("-X", "POST", f"{url}/api/server/stop") == {
        "message": "INDI server stopped"
    }
    assert embedded.curl(f"{url}/api/server/status")[0]["status"] == "False"
    embedded.wait_devices(absent=["Telescope Simulator", "Dome Simulator"], timeout=2.0)

    embedded.curl("-X", "POST", f"{url}/api/server/start/Simulators")
    embedded.wait_devices(present=SIMULATORS, absent=["Dome Simulator"], timeout=5.0)
    assert embedded.curl("-X", "DELETE", f"{url}/api/profiles/foo") == {
        "message": "Profile foo deleted"
    }


def _process_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a live process, None when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def _alive(pid: int) -> bool:
    stat = _process_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has exited


def test_sigterm_leaves_no_indiserver_or_driver(embedded: Embedded) -> None:
    status = embedded.get("/api/v1/server")
    server_pid = status["pid"]
    pids = [server_pid, *(d["pid"] for d in status["drivers"] if d["pid"])]
    assert len(pids) == 5 and all(_alive(p) for p in pids)

    embedded.proc.send_signal(signal.SIGTERM)
    assert embedded.proc.wait(15) == 0, embedded.log_tail()

    left = [p for p in pids if _alive(p)]
    marks = (str(embedded.root).encode(), f"-p\0{status['port']}\0".encode())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not _alive(int(entry)):
            continue
        stat = _process_stat(int(entry))
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if (stat and stat[1] == server_pid) or any(m in cmdline for m in marks):
            left.append(int(entry))
    assert not left, f"processes left after SIGTERM: {sorted(set(left))}"
    # indiserver reaped once, by asyncio's child watcher (test_supervisor_stop.py).
    assert "Unknown child process" not in embedded.log_path.read_text(), embedded.log_tail()
    assert not (embedded.root / "data" / "indiserver" / "indiserver.fifo").exists()


# ------------------------------------------------------------ refusals


def _run_to_exit(root: Path, *args: str, **env: str) -> tuple[int, str]:
    proc, log_path = start_indiws(root, "--port", str(free_port()), *args, **env)
    try:
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, log_path.read_text(errors="replace")


def test_missing_indiserver_is_a_clear_error(tmp_path: Path) -> None:
    # Only the venv's python on PATH: no indiserver.
    code, output = _run_to_exit(
        tmp_path, "--embedded-indi-port", str(free_port()), PATH=str(Path(sys.executable).parent)
    )
    assert code != 0
    assert "indiserver executable 'indiserver' was not found" in output
    assert "indi-bin" in output


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = _run_to_exit(tmp_path, "--embedded-indi-port", str(port))
    assert code != 0
    assert f"TCP port {port} is already in use" in output


def test_unknown_profile_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _run_to_exit(
        tmp_path, "--embedded-indi-port", str(free_port()), "--profile", "Nope"
    )
    assert code != 0
    assert "no profile named 'Nope'" in output
