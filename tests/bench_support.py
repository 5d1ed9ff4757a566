"""Running a script of bench/ from a test: only the shape of its report is
checked there, speed is the benchmark's business."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(name: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    """Run ``bench/<name>`` with ``args``; its last line, the JSON summary."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=BENCH.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
