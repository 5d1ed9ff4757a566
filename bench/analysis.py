"""How long star analysis and plate solving take, next to the frame's download.

INDI's CCD simulator takes frames of the synthetic sky (its ``gsc`` is on the
test indiserver's PATH) at 1024², 2048² and 4096² pixels, 16 bits, pointed at
M42 with the telescope simulator.  For each size, in the same run:

* ``download``: from the end of the exposure (request + duration) to the
  decoded frame in hand, through our `INDIClient`: what a user waits for;
* ``analysis``: `indiws.analysis.analyse_frame` as the service runs it on
  every stored frame (FITS decode, background, star detection with ``sep``,
  HFR/FWHM) in its worker process (started beforehand, as the service does
  at start), bytes handed over in shared memory and the result back; and
  its ratio to the download;
* ``loop lag``: the longest stall of an asyncio loop ticking every 2 ms while
  that runs; the peer is the same analysis in a worker thread of this
  process (``thread``), whose stalls show how long ``sep`` holds the GIL;
* ``solve``: star positions plus ``solve-field`` with a hint (the mount's
  position, 2° radius, the header's pixel scale), the index files already
  built; the index build (once per sky tile and field size) is printed apart.

The last line printed is one JSON object with the figures.  The script
reports; it does not fail when a target is missed.

    .venv/bin/python bench/analysis.py             # 1024, 2048, 4096 px, 3 frames each
    .venv/bin/python bench/analysis.py --quick     # 1024 px, 1 frame
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from indiws.analysis import analyse, analyse_frame, read_frame
from indiws.analysis.solve import SolveHint, solve_frame
from indiws.analysis.worker import warm_up
from indiws.client import Event, EventType, INDIClient
from indiws.devices.astro import j2000_to_jnow
from indiws.sky.index import ensure_index
from indiws.testing import IndiServerProcess

CCD, SCOPE = "CCD Simulator", "Telescope Simulator"
M42 = (5.5881, -5.3911)  # J2000


async def setup(client: INDIClient) -> None:
    for dev in (SCOPE, CCD):
        await client.wait_for_property(dev, "CONNECTION")
        await client.set_property(dev, "CONNECTION", {"CONNECT": True}, wait=True, timeout=30)
    await client.wait_for_property(SCOPE, "TELESCOPE_PARK")
    await client.set_property(SCOPE, "TELESCOPE_PARK", {"UNPARK": True}, wait=True)
    ra, dec = j2000_to_jnow(*M42)
    await client.set_property(SCOPE, "ON_COORD_SET", {"SYNC": True}, wait=True)
    await client.set_property(SCOPE, "EQUATORIAL_EOD_COORD", {"RA": ra, "DEC": dec}, wait=True)
    await client.set_property(SCOPE, "ON_COORD_SET", {"TRACK": True}, wait=True)
    settings = {
        "CCD_COMPRESSION": {"INDI_DISABLED": True},
        "UPLOAD_MODE": {"UPLOAD_CLIENT": True},
        "CCD_TRANSFER_FORMAT": {"FORMAT_FITS": True},
        "CCD_BINNING": {"HOR_BIN": 1, "VER_BIN": 1},
        "POLLING_PERIOD": {"PERIOD_MS": 10},  # the exposure ends within 10 ms of its time
    }
    for name, values in settings.items():
        await client.wait_for_property(CCD, name)
        await client.set_property(CCD, name, values, wait=True)
    await client.enable_blobs(CCD)


async def set_size(client: INDIClient, size: int) -> None:
    await client.set_property(
        CCD, "SIMULATOR_SETTINGS", {"SIM_XRES": size, "SIM_YRES": size}, wait=True
    )
    full = {"X": 0.0, "Y": 0.0, "WIDTH": float(size), "HEIGHT": float(size)}
    if client.get_property(CCD, "CCD_FRAME").values() != full:
        await client.set_property(CCD, "CCD_FRAME", full, wait=True)


async def take(client: INDIClient, exposure: float) -> tuple[float, bytes]:
    """(download seconds, FITS bytes) of one exposure."""
    got: asyncio.Future[tuple[float, bytes]] = asyncio.get_running_loop().create_future()

    def on_blob(event: Event) -> None:
        if event.type is EventType.UPDATED and not got.done() and event.property is not None:
            data = event.property["CCD1"]
            if data:
                got.set_result((time.perf_counter(), data))

    with client.subscribe(on_blob, device=CCD, name="CCD1"):
        t0 = time.perf_counter()
        await client.set_property(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": exposure})
        t1, data = await asyncio.wait_for(got, exposure + 120)
    return max(0.0, t1 - t0 - exposure), data


def analyse_bytes(data: bytes) -> dict[str, Any]:
    frame = read_frame(data)
    return analyse(frame.pixels, pixel_scale=frame.pixel_scale, saturation=frame.saturation)


async def timed(call: Any) -> tuple[float, float, dict[str, Any]]:
    """(seconds, the loop's longest stall meanwhile, result) of awaiting ``call``."""
    lag = 0.0
    done = False

    async def tick() -> None:
        nonlocal lag
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            lag = max(lag, now - last - 0.002)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    result = await call
    took = time.perf_counter() - t0
    done = True
    await ticker
    return took, lag, result


async def run(sizes: list[int], frames: int, exposure: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with IndiServerProcess(["indi_simulator_telescope", "indi_simulator_ccd"]) as server:
        client = INDIClient("127.0.0.1", server.port, reconnect=False)
        await client.connect()
        try:
            await setup(client)
            await warm_up()
            with tempfile.TemporaryDirectory(prefix="indiws-bench-index-") as cache:
                for size in sizes:
                    await set_size(client, size)
                    downloads, analyses, lags, threads, thread_lags = [], [], [], [], []
                    result: dict[str, Any] = {}
                    data = b""
                    for _ in range(frames):
                        took, data = await take(client, exposure)
                        downloads.append(took)
                        seconds, lag, result = await timed(analyse_frame(data))
                        analyses.append(seconds)
                        lags.append(lag)
                        seconds, lag, _ = await timed(asyncio.to_thread(analyse_bytes, data))
                        threads.append(seconds)
                        thread_lags.append(lag)
                    frame = read_frame(data)
                    scale = frame.pixel_scale or 1.0
                    field = (size * scale / 3600, size * scale / 3600)
                    hint = (float(frame.header["RA"]), float(frame.header["DEC"]))
                    t0 = time.perf_counter()
                    index = await asyncio.to_thread(ensure_index, *hint, 2.0, field, Path(cache))
                    build = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    try:
                        solved = await solve_frame(
                            frame, hint=SolveHint(*hint, radius=2.0), index_files=index
                        )
                        solve = time.perf_counter() - t0
                        error = None
                    except Exception as exc:  # reported, not fatal: this is a benchmark
                        solved, solve, error = {}, float("nan"), str(exc)
                    row = {
                        "size": size,
                        "megabytes": round(len(data) / 1e6, 1),
                        "download_s": round(statistics.median(downloads), 3),
                        "analysis_s": round(statistics.median(analyses), 3),
                        "analysis_per_download": round(
                            statistics.median(analyses) / max(statistics.median(downloads), 1e-6),
                            2,
                        ),
                        "loop_max_lag_ms": round(1000 * max(lags), 1),
                        "thread_analysis_s": round(statistics.median(threads), 3),
                        "thread_loop_max_lag_ms": round(1000 * max(thread_lags), 1),
                        "stars": result.get("stars"),
                        "hfr": result.get("hfr"),
                        "fwhm": result.get("fwhm"),
                        "solve_s": round(solve, 3),
                        "solve_stars": solved.get("stars"),
                        "index_build_s": round(build, 2),
                    }
                    if error:
                        row["solve_error"] = error
                    rows[str(size)] = row
                    print(
                        f"{size:5d}² {row['megabytes']:5.1f} MB: download {row['download_s']:.3f} s"
                        f" | analysis {row['analysis_s']:.3f} s"
                        f" ({row['analysis_per_download']:.2f}x the download), loop lag "
                        f"{row['loop_max_lag_ms']:.1f} ms (thread: {row['thread_analysis_s']:.3f}"
                        f" s, lag {row['thread_loop_max_lag_ms']:.1f} ms) | {row['stars']} stars,"
                        f" HFR {row['hfr']}, FWHM {row['fwhm']} | solve {row['solve_s']:.3f} s"
                        f" (index build {row['index_build_s']} s)",
                        flush=True,
                    )
        finally:
            await client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1024 px, one frame")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--exposure", type=float, default=1.0)
    args = parser.parse_args()
    sizes = [1024] if args.quick else [1024, 2048, 4096]
    frames = 1 if args.quick else args.frames
    print(f"frames of INDI's CCD simulator, {args.exposure:g} s, {frames} per size", flush=True)
    rows = asyncio.run(run(sizes, frames, args.exposure))
    print(json.dumps({"sizes": rows}))


if __name__ == "__main__":
    main()
