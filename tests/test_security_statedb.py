"""A state file that cannot be used.

At start-up (garbage in the file, a damaged file, a read-only data directory
or file, a data directory that is a file): ``python -m indiws`` prints one line
naming the file and what to do, and exits with status 2, no traceback.

Later (the file overwritten, the folder made read-only while the service
runs): the service goes on; what needs the file answers 503
``state_db_unavailable``, ``/api/v1/status`` says why, the roles stay known,
events keep flowing without a flood of errors, and all is well again once the
file is back.

Tests run as root, for whom permission bits do not stop writes: "read-only"
here is the immutable attribute (``chattr +i``), which stops root too, or
``chmod`` for another user; the test is skipped where neither works.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient

from indiws.db import DB_FILENAME, StateDB
from indiws.testing import IndiServerFactory, RunningService, free_port, start_service

ReadOnly = Callable[[Path], Callable[[], None]]


@pytest.fixture
def make_read_only() -> Iterator[ReadOnly]:
    """Make a file or folder unwritable for this process, whoever it runs as.
    Returns the function that undoes it, also called after the test (so that
    the test's folder can be removed)."""
    undo: list[Callable[[], None]] = []

    def make(path: Path) -> Callable[[], None]:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if chattr is None:
                pytest.skip("no chattr to make a path read-only for root")
            done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
            undo.append(lambda: subprocess.run([chattr, "-i", str(path)], check=False))
        else:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: path.chmod(mode))
        probe = path / ".probe" if path.is_dir() else path
        try:
            with open(probe, "a"):
                pass
        except OSError:
            return undo[-1]
        if path.is_dir():
            probe.unlink()
        pytest.skip(f"{path} is still writable")

    yield make
    for step in reversed(undo):
        step()


def run_indiws(data_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "indiws",
            "--data-dir",
            str(data_dir),
            "--port",
            str(free_port()),
            "--embedded-indi-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(home)},
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_exit_2(done: subprocess.CompletedProcess[str], names: Path, *says: str) -> str:
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith("indiws: ") and str(names) in line, line
    assert "--data-dir" in line, line  # what to do
    for text in says:
        assert text in line, line
    return line


def test_garbage_in_the_state_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_FILENAME).write_bytes(b"this is not a database\n" * 200)
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), data / DB_FILENAME)
    assert "not an SQLite database" in line and "move it away" in line


def test_damaged_state_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    StateDB.in_data_dir(data).close()
    path = data / DB_FILENAME
    raw = bytearray(path.read_bytes())
    page = raw[16] * 256 + raw[17]  # page size, from the header
    raw[page : page + 200] = b"\xff" * 200  # the second page: a table's b-tree
    path.write_bytes(bytes(raw))
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), path)
    assert "damaged" in line or "not an SQLite database" in line


def test_data_directory_that_is_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder\n")
    assert_one_line_exit_2(run_indiws(data, tmp_path), data, "is a file")
    # ... or that sits below a file.
    assert_one_line_exit_2(run_indiws(data / "sub", tmp_path), data / "sub", "Not a directory")


def test_read_only_empty_data_directory(tmp_path: Path, make_read_only: ReadOnly) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make_read_only(data)
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), data / DB_FILENAME)
    assert "cannot be written" in line and "writable" in line


def test_read_only_data_directory_with_its_state_file(
    tmp_path: Path, make_read_only: ReadOnly
) -> None:
    data = tmp_path / "data"
    StateDB.in_data_dir(data).close()
    make_read_only(data)
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), data / DB_FILENAME)
    assert "cannot be written" in line


def test_read_only_state_file(tmp_path: Path, make_read_only: ReadOnly) -> None:
    data = tmp_path / "data"
    StateDB.in_data_dir(data).close()
    make_read_only(data / DB_FILENAME)
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), data / DB_FILENAME)
    assert "readonly" in line and "writable" in line


# ------------------------------------------------------- failing while running


async def call(rs: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await AsyncHTTPClient().fetch(
        rs.url + path,
        method=method,
        body=None if method == "GET" else json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=30,
    )
    if resp.headers.get("Content-Type", "").startswith("text/plain"):
        return resp.code, resp.body.decode()  # lightAPT's /FIFO/ answers
    return resp.code, json.loads(resp.body) if resp.body else None


@pytest.mark.parametrize("failure", ["overwritten", "folder made read-only"])
async def test_state_file_failing_while_running(
    indiserver_factory: IndiServerFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_read_only: ReadOnly,
    failure: str,
) -> None:
    server = indiserver_factory(["indi_simulator_focus", "indi_simulator_wheel"])
    data = tmp_path / "data"
    rs = await start_service(server, data)
    try:
        status, answer = await call(rs, "POST", "/FIFO/start/focuser/Focuser%20Simulator/")
        assert (status, answer) == (200, "Got!")
        path = data / DB_FILENAME
        good = path.read_bytes()
        caplog.set_level(logging.INFO)
        caplog.clear()

        if failure == "overwritten":
            path.write_bytes(b"garbage " * 4096)
        else:
            writable_again = make_read_only(data)

        # What writes the file answers 503, naming the file.
        status, answer = await call(rs, "POST", "/FIFO/start/filter_wheel/Filter%20Simulator/")
        assert (status, answer["error"]["code"]) == (503, "state_db_unavailable"), answer
        assert str(path) in answer["error"]["message"]
        status, answer = await call(rs, "POST", "/api/v1/profiles", {"name": "New"})
        assert (status, answer["error"]["code"]) == (503, "state_db_unavailable"), answer
        if failure == "overwritten":  # reading it fails too
            status, answer = await call(rs, "GET", "/api/v1/profiles")
            assert (status, answer["error"]["code"]) == (503, "state_db_unavailable")
            status, answer = await call(rs, "GET", "/api/profiles")
            assert status == 503 and str(path) in answer["detail"]

        # The status says why; the roles are still known.
        status, answer = await call(rs, "GET", "/api/v1/status")
        assert status == 200, answer
        assert answer["state_db"]["ok"] is False
        assert str(path) in answer["state_db"]["error"]
        assert answer["roles"]["focuser"] == "Focuser Simulator"
        assert answer["roles"]["filter_wheel"] is None
        status, answer = await call(rs, "GET", "/api/v1/roles")
        assert status == 200, answer

        # Events keep flowing: a device that comes and goes is seen, and the
        # role's device is connected again, with no error per event.
        server.stop_driver("indi_simulator_focus")
        server.wait_for_devices(absent=["Focuser Simulator"])
        server.start_driver("indi_simulator_focus")
        client = rs.service.client
        for _ in range(200):
            device = client.devices.get("Focuser Simulator")
            if device is not None and device.connected:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the focuser was not connected again")
        messages = [r.getMessage() for r in caplog.records]
        assert not [m for m in messages if "subscriber failed" in m], messages
        errors = [r for r in caplog.records if r.name == "indiws.db" and r.levelno >= logging.ERROR]
        assert len(errors) == 1, messages  # said once, not once per call

        # Back to normal once the file is.
        if failure == "overwritten":
            path.write_bytes(good)
        else:
            writable_again()
        status, answer = await call(rs, "POST", "/FIFO/start/filter_wheel/Filter%20Simulator/")
        assert (status, answer) == (200, "Got!")
        status, answer = await call(rs, "GET", "/api/v1/status")
        assert answer["state_db"] == {"path": str(path), "ok": True, "error": None}
        with sqlite3.connect(path) as raw:
            roles = dict(raw.execute("SELECT role, device_name FROM roles"))
        assert roles == {"focuser": "Focuser Simulator", "filter_wheel": "Filter Simulator"}
    finally:
        await rs.stop()
