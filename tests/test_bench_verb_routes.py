"""The verb-routes benchmark runs and reports its figures (only their shape
is checked: speed is the benchmark's business)."""

from __future__ import annotations

import pytest
from bench_support import run_bench


@pytest.mark.bench
@pytest.mark.slow
def test_verb_routes_quick_run_reports_json() -> None:
    summary = run_bench("verb_routes.py", "--quick")
    assert summary["checks"] == 2000 and summary["calls"] == 100
    for key in (
        "check_msgspec_us",
        "check_jsonrpc_us",
        "check_lightapt_us",
        "rest_ms",
        "jsonrpc_ms",
        "call_ratio",
    ):
        assert isinstance(summary[key], float) and summary[key] > 0, (key, summary)
