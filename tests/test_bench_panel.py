"""bench/panel.py runs end to end and reports its figures (their values are
the benchmark's business, not the tests')."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "panel.py"


@pytest.mark.slow
def test_panel_bench_quick_run_reports_json() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=SCRIPT.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["files"] >= 5 and summary["bytes"] > 10_000
    for key in (
        "load_to_live_ms_median",
        "change_to_page_ms_median",
        "change_to_peer_ws_ms_median",
    ):
        assert summary[key] > 0, (key, summary)
