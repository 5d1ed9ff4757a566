"""How long the guider takes from a guide frame's arrival to its pulses, and
what a guide frame costs in CPU, against the frame's own download.

Runs INDI's telescope and guide simulators under a private indiserver and
the service in this process; the guider calibrates (short legs) and guides
for a number of frames.  Printed per guide frame:

* ``decide``: from the frame in hand (its bytes received) to the pulses
  sent: decoding the FITS, finding the star in the search box, the guide
  algorithms, the events to every listener;
* ``download``: from the exposure's end to the frame received (the driver,
  indiserver and the INDI client's base64 decoding);
* ``cpu_per_frame``: this process's CPU time over the guiding run divided
  by the frames (everything: INDI traffic, decoding, the loop).

There is no headless PHD2 to run beside it (PHD2 needs a display and is
not packaged for Debian 12); the download of the same frame, measured in
the same run, is the yardstick: the guider's own part should be a small
fraction of it.  The last line is one JSON object.

    .venv/bin/python bench/guiding.py            # 60 guide frames
    .venv/bin/python bench/guiding.py --quick    # 15 guide frames
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from indiws.devices import Telescope
from indiws.guiding import SettleRule
from indiws.testing import IndiServerProcess, start_service


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(frames: int, binning: int, subframes: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-guiding-") as tmp:
        work = Path(tmp)
        with IndiServerProcess(
            ["indi_simulator_telescope", "indi_simulator_guide"], workdir=work / "indi"
        ) as server:
            svc = await start_service(server, work / "data")
            try:
                s = svc.service
                await s.roles.assign("telescope", "Telescope Simulator")
                await s.roles.assign("guider", "Guide Simulator")
                scope = Telescope(s.client, "Telescope Simulator")
                if (await scope.position()).get("parked"):
                    await scope.unpark()
                await scope.goto(5.5881, 20.0)
                g = s.guiding
                g.configure(
                    binning=binning,
                    exposure=0.5,
                    calibration_step_ms=900,
                    calibration_distance=10.0,
                    use_subframes=subframes,
                )
                settled = await g.guide(SettleRule(pixels=3.0, time=0, timeout=120))
                await g.wait_settled(settled, timeout=300)
                g.timing.samples.clear()
                g.timing.downloads.clear()
                steps: list[float] = []
                enough = asyncio.Event()

                def count(name: str, fields: dict) -> None:
                    if name == "GuideStep":
                        steps.append(1.0)
                        if len(steps) >= frames:
                            enough.set()

                close = g.subscribe(count)
                cpu0, wall0 = time.process_time(), time.monotonic()
                await asyncio.wait_for(enough.wait(), frames * 10 + 60)
                cpu = time.process_time() - cpu0
                wall = time.monotonic() - wall0
                close()
                decide = [v * 1000 for v in g.timing.samples]
                download = [v * 1000 for v in g.timing.downloads]
                await g.stop_capture()
            finally:
                await svc.stop()
    return {
        "frames": len(steps),
        "binning": binning,
        "subframes": subframes,
        "decide_median_ms": round(statistics.median(decide), 3),
        "decide_p99_ms": round(pct(decide, 0.99), 3),
        "download_median_ms": round(statistics.median(download), 3),
        "cpu_per_frame_ms": round(cpu / len(steps) * 1000, 3),
        "cycle_s": round(wall / len(steps), 3),
        "decide_share_of_download": round(
            statistics.median(decide) / statistics.median(download), 4
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 guide frames")
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    frames = 15 if args.quick else args.frames
    results = []
    for binning, subframes in ((4, True), (1, False)):
        r = asyncio.run(run(frames, binning, subframes))
        results.append(r)
        what = f"binning {binning}, {'subframe' if subframes else 'whole 1280x1024 frame'}"
        print(
            f"{what:40s} decide median {r['decide_median_ms']:7.3f} ms  p99 "
            f"{r['decide_p99_ms']:7.3f} ms | download median {r['download_median_ms']:7.2f} ms | "
            f"CPU {r['cpu_per_frame_ms']:6.2f} ms/frame | cycle {r['cycle_s']:.2f} s"
        )
    print(json.dumps({"runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
