"""The analysis benchmark runs end to end and reports its figures.

Only the shape of the report is checked: speed is the benchmark's business,
not the tests'.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "analysis.py"


@pytest.mark.bench
@pytest.mark.slow
def test_analysis_bench_quick_run_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])["sizes"]["1024"]
    keys = ("download_s", "analysis_s", "analysis_per_download", "loop_max_lag_ms", "solve_s")
    for key in (*keys, "thread_analysis_s"):
        assert isinstance(row[key], int | float) and math.isfinite(row[key]), (key, row)
    assert row["stars"] > 0 and "solve_error" not in row, row
