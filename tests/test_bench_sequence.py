"""``bench/sequence.py`` runs end to end and reports its figures.

Only the shape of the report is checked: speed is the benchmark's business,
not the tests'.
"""

from __future__ import annotations

import math

import pytest
from bench_support import run_bench


@pytest.mark.bench
@pytest.mark.slow
def test_sequence_bench_reports_json() -> None:
    summary = run_bench("sequence.py", "--rounds", "1")
    assert summary["service"] == "subprocess" and summary["rounds"] == 1
    for action in ("filter_select", "focuser_move_to", "expose", "set_tracking"):
        for key in ("api_ms", "bare_ms"):
            value = summary[f"{action}_{key}"]
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (action, key)
        # The overhead is a difference of noisy times: it may come out negative.
        assert math.isfinite(summary[f"{action}_overhead_ms"])
    assert summary["ws_roundtrip_ms"] > 0 and math.isfinite(summary["median_overhead_ms"])
    assert summary["lightapt_roundtrip_ms"] > 0
