"""A wrong indiserver address: ``python -m indiws --indi-port <closed>`` says
so in its log at once and then less and less often, its status names the
address and the reason, and ``indiws run`` names indiserver as the cause."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from indiws.testing import service_without_indiserver

PLAN = """\
targets:
  - name: Darks
    exposures:
      - {frame_type: dark, duration: 1, count: 1}
"""


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture
def lost(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """The service pointed at a port where no indiserver listens."""
    with service_without_indiserver(tmp_path) as running:
        yield running


def _unreachable_lines(log: Path, port: int) -> list[str]:
    return [
        line
        for line in log.read_text().splitlines()
        if f"indiserver at 127.0.0.1:{port}" in line and "reach" in line
    ]


def test_the_log_says_at_once_and_then_with_backoff(lost: tuple[str, int, Path]) -> None:
    url, port, log = lost
    first = _wait_for(lambda: _unreachable_lines(log, port), 30, "a log line")
    assert "WARNING" in first[0] and "cannot reach indiserver" in first[0], first
    assert re.search(r"refused|Connect call failed", first[0]), first[0]
    # The next says how long and how many attempts, after many quiet ones.
    lines = _wait_for(lambda: (x := _unreachable_lines(log, port))[1:] and x, 60, "a reminder")
    assert "still cannot reach" in lines[1], lines
    attempts = int(re.search(r"\((\d+) attempts\)", lines[1]).group(1))  # type: ignore[union-attr]
    assert attempts > 2 * (len(lines) - 1), lines  # not every attempt at full volume


def test_status_and_the_runner_name_indiserver_with_address_and_reason(
    lost: tuple[str, int, Path], tmp_path: Path
) -> None:
    url, port, log = lost
    status = _wait_for(
        lambda: (s := _get(url + "/api/v1/status")) and s["indiserver"]["last_error"] and s,
        30,
        "a reason in the status",
    )
    assert status["indiserver"]["host"] == "127.0.0.1"
    assert status["indiserver"]["port"] == port
    assert status["indiserver"]["connected"] is False
    plan = tmp_path / "darks.yaml"
    plan.write_text(PLAN)
    run = subprocess.run(
        [sys.executable, "-m", "indiws", "run", str(plan), "--url", url, "--local"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run
    assert f"cannot reach its indiserver at 127.0.0.1:{port}" in run.stderr, run.stderr
    assert "camera" not in run.stderr, run.stderr  # not "the camera is not connected"
    # Submitted to the service (the default): the first problem it names.
    run = subprocess.run(
        [sys.executable, "-m", "indiws", "run", str(plan), "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run
    first = run.stderr.splitlines()[1]
    assert f"cannot reach its indiserver at 127.0.0.1:{port}" in first, run.stderr
