"""The BLOB ingest benchmark runs end to end and reports its figures.

Only the shape of the report is checked: speed is the benchmark's business,
not the tests'.
"""

from __future__ import annotations

import math

import pytest
from bench_support import run_bench

KEYS = (
    "parser_mb_s",
    "overhead_ratio_vs_indipyclient",
    "median_floor_ms",
    "median_indiws_ms",
    "median_indipyclient_ms",
)


@pytest.mark.bench
@pytest.mark.slow
def test_blob_ingest_quick_run_reports_json() -> None:
    summary = run_bench("blob_ingest.py", "--quick")
    for key in KEYS:
        value = summary[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
        # Our overhead over the floor is a few ms, so noise can make the
        # ratio negative; the times and the parser speed cannot be.
        if key != "overhead_ratio_vs_indipyclient":
            assert value > 0, (key, value)
