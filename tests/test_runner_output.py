"""What ``indiws run`` shows: its dry run in a log (not a terminal), its
help, every plan problem at once, its progress during an exposure, and the
exposure journal's words for an aborted exposure."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightapt_support import assign_roles
from rich.console import Console
from ws_support import WsClient, http_json

from indiws.remote.cli import Reporter
from indiws.remote.plan import frames, parse_plan
from indiws.remote.runner import estimate
from indiws.testing import IndiServerProcess, RunningService, start_service

FULL_PLAN = """\
site: {latitude: 48.1, longitude: 11.6, elevation: 520}
dither: {every: 3, offset: 5, settle: 2}
targets:
  - name: M42
    exposures:
      - {duration: 300, count: 10, filter: Red}
      - {duration: 300, count: 10, filter: Green}
    autofocus: {at_start: true, every: 5, steps: 9, step: 100, exposure: 2}
  - name: Darks
    exposures:
      - {frame_type: dark, duration: 300, count: 10}
"""


def _indiws(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indiws", *args],
        capture_output=True,  # not a terminal: as in a log or a pipe
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_dry_run_in_a_log_is_one_line_per_line_and_darks_do_not_dither(tmp_path: Path) -> None:
    (tmp_path / "full.yaml").write_text(FULL_PLAN)
    proc = _indiws("run", "full.yaml", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    autofocus = [line for line in lines if "autofocus at the start" in line]
    assert len(autofocus) == 1 and "runs foreseen (about" in autofocus[0], proc.stdout
    darks = lines.index("  Darks: no slew (calibration frames)")
    m42 = lines.index(next(line for line in lines if line.startswith("  M42: slew")))
    dithers = [i for i, line in enumerate(lines) if "dither every" in line]
    assert dithers and all(m42 < i < darks for i in dithers), proc.stdout


def test_help_shows_each_default_once(tmp_path: Path) -> None:
    proc = _indiws("run", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    flat = " ".join(proc.stdout.split())
    assert "(default: None)" not in flat, flat
    assert flat.count("(default: ./<plan name>)") == 1
    assert "(default: http://127.0.0.1:7999)" in flat or "INDIWS_URL" in flat


def test_every_problem_is_reported_at_once_unknown_names_too(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "targets:\n"
        "  - name: M24x\n"
        "    exposures:\n"
        "      - {duration: -1, count: 2}\n"
        "  - name: M42\n"
        "    exposures:\n"
        "      - {duration: 5, count: 2, bogus: 1}\n"
    )
    proc = _indiws("run", "bad.yaml", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.yaml:2: targets[0].name: 'M24x' is not in the catalogue" in proc.stderr
    assert "bad.yaml:4: targets[0].exposures[0].duration: must be above 0" in proc.stderr
    assert "bad.yaml:7: targets[1].exposures[0].bogus: unknown key" in proc.stderr


def test_progress_during_an_exposure_shows_the_time_left() -> None:
    plan = parse_plan(FULL_PLAN, "full.yaml")
    every = frames(plan)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    reporter = Reporter(console)
    reporter.on_plan(plan, every, every, estimate(plan, every))
    try:
        first = every[0]
        reporter.on_expose(first, 1)
        reporter.on_progress(first, {"state": "exposing", "time_left": 120.0})
        assert reporter.progress is not None
        reporter.progress.refresh()
    finally:
        if reporter.progress is not None:
            reporter.progress.stop()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    frame_line = next(line for line in shown.splitlines()[::-1] if "180.0/300 s" in line)
    assert "0:02:00 left" in frame_line, frame_line
    plan_line = next(line for line in shown.splitlines()[::-1] if "0/30 frames" in line)
    rest = estimate(plan, every) - 180
    hours, minutes = int(rest // 3600), int(rest // 60 % 60)
    assert f"{hours}:{minutes:02d}:" in plan_line and "left" in plan_line, plan_line
    assert "-:--:--" not in shown


@pytest.fixture
async def svc(indiserver: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await start_service(indiserver, tmp_path / "data", frames_dir=tmp_path / "f")
    await assign_roles(running)
    yield running
    await running.stop()


async def test_the_journal_says_why_an_exposure_was_aborted_once(svc: RunningService) -> None:
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        exposing = asyncio.ensure_future(ws.request("camera.expose", {"duration": 5.0}, 60))
        for _ in range(100):
            if (await ws.call("camera.status")).get("state") == "exposing":
                break
            await asyncio.sleep(0.05)
        await ws.call("camera.abort")
        assert (await exposing)["error"]["data"]["error"] == "aborted"
        journal = (await http_json(svc, "/exposures?state=failed"))["exposures"]
        error = journal[0]["error"]
        assert "aborted" in error and "aborted: aborted" not in error, error
        assert "camera abort" in error, error
    finally:
        await ws.close()
