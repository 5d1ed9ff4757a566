"""The fan-out benchmark runs end to end and reports its figures.

Only the shape of the report is checked (one very short run per case):
speed is the benchmark's business, not the tests'.
"""

from __future__ import annotations

import math

import pytest
from bench_support import run_bench

KEYS = (
    "delivered_fraction_100c_100hz",
    "p99_ms_100c_100hz",
    "floor_p99_ms_100c_100hz",
    "max_rate_hz_100c",
)


@pytest.mark.bench
@pytest.mark.slow
def test_fanout_bench_reports_json() -> None:
    summary = run_bench("fanout.py", "--duration", "0.3", "--rates", "100")
    for key in KEYS:
        value = summary[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value >= 0, (key, value)
    assert 0 <= summary["delivered_fraction_100c_100hz"] <= 1
