"""The fan-out benchmark runs end to end and reports its figures.

Only the shape of the report is checked (one very short run per case):
speed is the benchmark's business, not the tests'.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "fanout.py"

KEYS = (
    "delivered_fraction_100c_100hz",
    "p99_ms_100c_100hz",
    "floor_p99_ms_100c_100hz",
    "max_rate_hz_100c",
)


@pytest.mark.slow
def test_fanout_bench_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--duration", "0.3", "--rates", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in KEYS:
        value = summary[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value >= 0, (key, value)
    assert 0 <= summary["delivered_fraction_100c_100hz"] <= 1
