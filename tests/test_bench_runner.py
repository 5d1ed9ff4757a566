"""``bench/runner.py`` runs end to end and reports its figures (their shape only:
speed is the benchmark's business, not the tests')."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "runner.py"


@pytest.mark.bench
@pytest.mark.slow
def test_runner_bench_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "1", "--frames", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 3
    for key in ("bare_ms", "runner_ms"):
        assert math.isfinite(summary[key]) and summary[key] > 0, key
    assert math.isfinite(summary["overhead_ms"])  # a difference of noisy times
