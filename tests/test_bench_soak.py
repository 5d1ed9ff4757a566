"""The soak benchmark runs end to end and reports its figures.

A night of four exposures: only the report's shape and what must hold for
any night (every frame taken is on disk, none partial, no failure) are
checked; memory figures are the benchmark's business, not the tests'.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "soak.py"


@pytest.mark.bench
@pytest.mark.slow
def test_soak_bench_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--exposures", "4", "--clients", "1", "--slew-every", "4"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    night = report["night"]
    assert night["failures"] == 0, night["failure_samples"]
    # The first goto-and-exposure probe and the night: five frames, all on disk.
    assert night["taken"] == 4 and night["on_disk"] == night["listed"] == 5
    assert night["partial_files"] == 0 and night["journal"] == {"stored": 5}
    for key in ("start_mb", "after_mb", "working_mb"):
        assert report["this"][key] > 0, key
    assert night["end"]["fds"] > 0 and night["end"]["rss_mb"] > 0
