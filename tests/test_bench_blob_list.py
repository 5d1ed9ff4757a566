"""The `/blobs?device=` benchmark runs and reports its figures (only their
shape is checked: speed is the benchmark's business)."""

from __future__ import annotations

import pytest
from bench_support import run_bench


@pytest.mark.bench
@pytest.mark.slow
def test_blob_list_quick_run_reports_json() -> None:
    summary = run_bench("blob_list.py", "--quick")
    assert summary["frames"] == 2000
    for key in ("sql_ms", "python_ms", "ratio"):
        assert isinstance(summary[key], float) and summary[key] > 0, (key, summary)
