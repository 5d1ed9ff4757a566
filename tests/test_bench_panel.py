"""bench/panel.py runs end to end and reports its figures (their values are
the benchmark's business, not the tests')."""

from __future__ import annotations

import pytest
from bench_support import run_bench


@pytest.mark.bench
@pytest.mark.slow
def test_panel_bench_quick_run_reports_json() -> None:
    summary = run_bench("panel.py", "--quick", timeout=180)
    assert summary["files"] >= 5 and summary["bytes"] > 10_000
    for key in (
        "load_to_live_ms_median",
        "change_to_page_ms_median",
        "change_to_peer_ws_ms_median",
    ):
        assert summary[key] > 0, (key, summary)
