"""The stress benchmark runs end to end and reports its figures.

Only the shape of the report is checked (one short run of each scenario):
the figures are the benchmark's business, not the tests'.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "stress.py"

SCENARIOS = ("nonreader", "batch_10000", "discover_100x100")


@pytest.mark.slow
def test_stress_bench_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in SCENARIOS:
        for key in (f"{name}_peak_rss_mb", f"{name}_worst_gap_ms"):
            value = summary[key]
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
            assert math.isfinite(value) and value > 0, (key, value)
    # The batch over the cap is refused with one answer, at once.
    assert summary["batch_10000_answered_s"] >= 0
