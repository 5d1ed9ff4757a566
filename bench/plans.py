"""What the service's plan engine adds per frame over the bare API calls.

The service runs in its own process (``python -m indiws`` against the
bench's indiserver, as in bench/runner.py). Two ways take the same frames
from the CCD simulator (0.01 s, a 320×240 region binned 4×4, its polling
period set to 10 ms), each stored by the service's frame store on its disk:

* ``bare``: ``camera.expose`` through `indiws.remote.Observatory`, one after
  the other: the least a client does per frame;
* ``engine``: a plan of the same frames submitted to ``POST /api/v1/plans``,
  timed per frame as the interval between its consecutive ``frame`` events
  (the service's clock): the same exposure plus what the engine does around
  it: the devices read before the frame (no exposure left running; for
  light frames the mount's position converted to J2000 and compared, its
  tracking), the frame's FILTER/RA/DEC checked after, the frame journalled in
  SQLite and the event written.

Both are measured for ``flat`` frames (no mount) and ``light`` frames with
the mount tracking on the target (the engine's pointing checks). Rounds
alternate which way goes first. The overhead is the median of the engine's
per-frame times minus the median of the bare ones. The last line is one
JSON object with the figures; the script reports, it does not fail.

    .venv/bin/python bench/plans.py              # 3 rounds of 10 frames each way and kind
    .venv/bin/python bench/plans.py --rounds 1   # quick
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
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sequence import CCD, Service  # noqa: E402

from indiws.devices import astro  # noqa: E402
from indiws.remote import Observatory  # noqa: E402
from indiws.testing import DEFAULT_SIMULATORS, IndiServerProcess  # noqa: E402

FRAMES = 10
EXPOSURE = 0.01
LAT, LON = 48.1, 11.6
SCOPE = "Telescope Simulator"


def _post(url: str, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=text.encode(), headers={"Content-Type": "application/yaml"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def bare_round(obs: Observatory, n: int, kind: str) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await obs.camera.expose(EXPOSURE, frame_type=kind, binning=4)
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def engine_round(
    service: Service, n: int, kind: str, target: tuple[float, float]
) -> list[float]:
    where = f"    ra: {target[0]:.5f}\n    dec: {target[1]:.4f}\n" if kind == "light" else ""
    text = (
        f"site: {{latitude: {LAT}, longitude: {LON}}}\n"
        "targets:\n"
        f"  - name: Bench\n{where}"
        f"    exposures: [{{frame_type: {kind}, duration: {EXPOSURE}, count: {n + 1},"
        " binning: 4}]\n"
    )
    plan = await asyncio.to_thread(_post, service.url + "/api/v1/plans?name=bench.yaml", text)
    while True:
        view = await asyncio.to_thread(service.get, f"/api/v1/plans/{plan['id']}?events=1000")
        if view["state"] in ("completed", "failed", "aborted"):
            break
        await asyncio.sleep(0.2)
    if view["state"] != "completed":
        raise SystemExit(f"the plan did not complete: {view['message']}")
    stamps = [_time(e["time"]) for e in view["events"] if e["type"] == "frame"]
    # The first frame carries the slew and the first checks: the n after it are timed.
    return [(b - a) * 1000 for a, b in zip(stamps, stamps[1:], strict=False)]


async def run(args: argparse.Namespace, service: Service) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        k: [] for k in ("bare_flat", "engine_flat", "bare_light", "engine_light")
    }
    async with Observatory(service.url) as obs:
        await obs.assign("camera", CCD)
        await obs.assign("telescope", SCOPE)
        await obs.camera.configure(binning=4, roi=[0, 0, 320, 240])
        await asyncio.to_thread(
            subprocess.run,
            ["indi_setprop", "-p", str(service.indi_port), f"{CCD}.POLLING_PERIOD.PERIOD_MS=10"],
            check=True,
            timeout=10,
        )
        await obs.telescope.set_site(latitude=LAT, longitude=LON, elevation=0)
        if (await obs.telescope.position()).get("parked"):
            await obs.telescope.unpark()
        lst = astro.local_sidereal_time(LON, datetime.now(UTC))
        target = ((lst + 1.0) % 24, 40.0)  # an hour east of the meridian, high
        await obs.telescope.goto(*target)
        await bare_round(obs, 2, "flat")  # warm up
        for r in range(args.rounds):
            for kind in ("flat", "light"):
                order = ("engine", "bare") if r % 2 else ("bare", "engine")
                for way in order:
                    if way == "bare":
                        times[f"bare_{kind}"] += await bare_round(obs, args.frames, kind)
                    else:
                        times[f"engine_{kind}"] += await engine_round(
                            service, args.frames, kind, target
                        )
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per round and way")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="indiws-plans-") as tmp:
        work = Path(tmp)
        indi = IndiServerProcess(DEFAULT_SIMULATORS, workdir=work / "indi")
        indi.start()
        service: Service | None = None
        try:
            service = Service(indi, work)
            service.wait_ready()
            times = asyncio.run(run(args, service))
        finally:
            if service is not None:
                service.stop()
            indi.close()
    print(
        f"{args.rounds} rounds of {args.frames} frames each way and kind ({EXPOSURE} s, "
        "320x240 binned 4x4), service in its own process"
    )
    figures: dict[str, Any] = {"exposure_s": EXPOSURE}
    for kind in ("flat", "light"):
        bare = statistics.median(times[f"bare_{kind}"])
        engine = statistics.median(times[f"engine_{kind}"])
        print(f"{kind:5} bare camera.expose calls: median {bare:7.2f} ms per frame")
        print(f"{kind:5} plan engine (checks, journal, events): median {engine:7.2f} ms per frame")
        print(f"{kind:5} engine overhead per frame: {engine - bare:.2f} ms")
        figures[kind] = {
            "bare_median_ms": round(bare, 2),
            "engine_median_ms": round(engine, 2),
            "overhead_ms": round(engine - bare, 2),
            "frames": {"bare": len(times[f"bare_{kind}"]), "engine": len(times[f"engine_{kind}"])},
        }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
