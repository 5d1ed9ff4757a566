"""What ``indiws run`` adds per frame over the bare API calls that take it.

The service runs in its own process (``python -m indiws`` against the
bench's indiserver, as in bench/sequence.py). Two ways take the same
frames, a 0.01 s exposure of a 320×240 region binned 4×4 from the CCD
simulator (its polling period set to 10 ms):

* ``bare``: `indiws.remote.Observatory` calls, the least any client does
  per frame: ``camera.expose``, download the FITS, write it to a file;
* ``runner``: `indiws.remote.runner.Runner` running a plan of the same
  frames, timed per frame from its ``expose`` report to its ``frame`` report:
  the same calls plus the FITS header edited with the plan's keywords, the
  file written atomically (temporary file, fsync, rename) and the manifest
  line appended and fsync'd.

Rounds alternate which way goes first. The overhead is the median of the
runner's per-frame times minus the median of the bare ones. The last line
is one JSON object with the figures; the script reports, it does not fail.

    .venv/bin/python bench/runner.py              # 5 rounds of 10 frames each way
    .venv/bin/python bench/runner.py --rounds 1   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sequence import CCD, Service  # noqa: E402

from indiws.remote import Observatory  # noqa: E402
from indiws.remote.plan import parse_plan  # noqa: E402
from indiws.remote.runner import Runner, RunOptions  # noqa: E402
from indiws.testing import DEFAULT_SIMULATORS, IndiServerProcess  # noqa: E402

FRAMES = 10
EXPOSURE = 0.01


async def bare_round(obs: Observatory, out: Path, n: int) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        frame = await obs.camera.expose(EXPOSURE, frame_type="flat", binning=4)
        data = await obs.fetch(frame)
        (out / f"bare_{i:04d}.fits").write_bytes(data)
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def runner_round(url: str, out: Path, n: int) -> list[float]:
    plan = parse_plan(
        "targets:\n"
        "  - name: Bench\n"
        f"    exposures: [{{frame_type: flat, duration: {EXPOSURE}, count: {n}, binning: 4}}]\n",
        str(out / "bench.yaml"),
    )
    starts: dict[str, float] = {}
    times: list[float] = []

    def report(kind: str, **data: Any) -> None:
        if kind == "expose":
            starts[data["frame"].file] = time.perf_counter()
        elif kind == "frame":
            times.append((time.perf_counter() - starts[data["frame"].file]) * 1000)

    result = await Runner(plan, RunOptions(url=url, out=out), report=report).run()
    if result.exit_code != 0:
        raise SystemExit(f"the runner failed: {result.message}")
    return times


async def run(args: argparse.Namespace, service: Service, work: Path) -> dict[str, Any]:
    bare: list[float] = []
    runner: list[float] = []
    async with Observatory(service.url) as obs:
        await obs.assign("camera", CCD)
        await obs.camera.configure(binning=4, roi=[0, 0, 320, 240])
        # The simulator's default 1 s timer would dwarf what is measured.
        await asyncio.to_thread(
            subprocess.run,
            ["indi_setprop", "-p", str(service.indi_port), f"{CCD}.POLLING_PERIOD.PERIOD_MS=10"],
            check=True,
            timeout=10,
        )
        await bare_round(obs, work, 2)  # warm up
        for r in range(args.rounds):
            out = work / f"round{r}"
            out.mkdir()
            if r % 2:
                runner += await runner_round(service.url, out, args.frames)
                bare += await bare_round(obs, out, args.frames)
            else:
                bare += await bare_round(obs, out, args.frames)
                runner += await runner_round(service.url, out, args.frames)
    return {"bare": bare, "runner": runner}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per round and way")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="indiws-runner-") as tmp:
        work = Path(tmp)
        indi = IndiServerProcess(DEFAULT_SIMULATORS, workdir=work / "indi")
        indi.start()
        service: Service | None = None
        try:
            service = Service(indi, work)
            service.wait_ready()
            times = asyncio.run(run(args, service, work))
        finally:
            if service is not None:
                service.stop()
            indi.close()
    bare = statistics.median(times["bare"])
    runner = statistics.median(times["runner"])
    print(
        f"{len(times['bare'])} frames each way ({EXPOSURE} s, 320x240 binned 4x4), "
        "service in its own process"
    )
    print(f"bare API calls (expose, download, write): median {bare:.2f} ms per frame")
    print(f"indiws run (plus FITS header, atomic write, manifest): median {runner:.2f} ms")
    print(f"runner overhead per frame: {runner - bare:.2f} ms")
    print(
        json.dumps(
            {
                "frames": len(times["bare"]),
                "bare_ms": round(bare, 3),
                "runner_ms": round(runner, 3),
                "overhead_ms": round(runner - bare, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
