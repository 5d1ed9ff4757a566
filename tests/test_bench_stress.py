"""The stress benchmark runs end to end and reports its figures.

Only the shape of the report is checked (one short run of each scenario):
the figures are the benchmark's business, not the tests'.
"""

from __future__ import annotations

import math

import pytest
from bench_support import run_bench

SCENARIOS = ("nonreader", "batch_10000", "discover_100x100", "flood")


@pytest.mark.bench
@pytest.mark.slow
def test_stress_bench_reports_json() -> None:
    summary = run_bench("stress.py", "--quick", "--duration", "1", timeout=180)
    for name in SCENARIOS:
        for key in (f"{name}_peak_rss_mb", f"{name}_worst_gap_ms"):
            value = summary[key]
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
            assert math.isfinite(value) and value > 0, (key, value)
    # The batch over the cap is refused with one answer, at once.
    assert summary["batch_10000_answered_s"] >= 0
    # The flood: figures for the connections closed at once and the log's growth.
    assert summary["flood_closed_at_once"] >= 0 and summary["flood_log_growth"] >= 0
