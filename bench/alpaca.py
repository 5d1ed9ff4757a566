"""One camera frame three ways, in the same run: Alpaca ImageBytes, Alpaca
JSON ImageArray, and the service's own `/blobs/<id>` (the FITS file).

A service in its own process (embedded indiserver, the CCD simulator set to a
SIZE×SIZE 16-bit frame) takes one exposure through Alpaca; then each reader
fetches that same frame ROUNDS times, in rotating order, and turns it into a
numpy array (ImageBytes: `np.frombuffer`; JSON: `json.loads` + `np.asarray`;
FITS: astropy).  Printed per reader: median seconds (request to array), bytes
on the wire, MB/s of pixels (MB = 10**6 bytes, 2 bytes a pixel), and the
ratio to ImageBytes.  The last line is one JSON object with the figures.

    .venv/bin/python bench/alpaca.py              # 4096 px, 3 rounds
    .venv/bin/python bench/alpaca.py --quick      # 1024 px, 3 rounds
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests
from astropy.io import fits

from indiws.alpaca.protocol import IMAGE_BYTES_HEADER
from indiws.browser_testing import ServiceProcess
from indiws.testing import free_port

WIRE = {1: "<i2", 2: "<i4", 3: "<f8", 6: "u1", 8: "<u2", 9: "<u4"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1024 px")
    args = parser.parse_args()
    size = 1024 if args.quick else args.size
    alpaca_port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-alpaca-") as tmp:
        svc = ServiceProcess(
            Path(tmp),
            "--phd2-port",
            "0",
            "--alpaca-port",
            str(alpaca_port),
            "--alpaca-discovery-port",
            "0",
            "--max-frame-bytes",
            "512",
        ).start()
        try:
            return run(svc, alpaca_port, size, args.rounds)
        finally:
            svc.stop()


def run(svc: ServiceProcess, alpaca_port: int, size: int, rounds: int) -> int:
    setting = f"CCD Simulator.SIMULATOR_SETTINGS.SIM_XRES={size};SIM_YRES={size}"
    subprocess.run(["indi_setprop", "-p", str(svc.indi_port), setting], check=True)
    api = f"http://127.0.0.1:{alpaca_port}/api/v1/camera/0"
    session = requests.Session()

    def put(member: str, **fields: str) -> dict:
        body = session.put(f"{api}/{member}", data=fields, timeout=120).json()
        if body["ErrorNumber"]:
            raise SystemExit(f"{member}: {body['ErrorMessage']}")
        return body

    def get(member: str) -> object:
        return session.get(f"{api}/{member}", timeout=120).json()["Value"]

    put("connected", Connected="True")
    deadline = time.monotonic() + 30
    while get("cameraxsize") != size:
        if time.monotonic() > deadline:
            raise SystemExit(f"the CCD simulator did not take the {size} px frame size")
        time.sleep(0.2)
    put("startexposure", Duration="0.1", Light="True")
    deadline = time.monotonic() + 300
    while not get("imageready"):
        if time.monotonic() > deadline:
            raise SystemExit("no image in 300 s")
        time.sleep(0.2)
    frames = session.get(f"{svc.url}/blobs/", timeout=30).json()["frames"]
    blob_id = max(frames, key=lambda f: f["seq"])["id"]

    def image_bytes() -> tuple[np.ndarray, int]:
        r = session.get(
            f"{api}/imagearray", headers={"Accept": "application/imagebytes"}, timeout=300
        )
        head = IMAGE_BYTES_HEADER.unpack_from(r.content)
        dims = head[8 : 8 + head[7]]
        pixels = np.frombuffer(r.content, WIRE[head[6]], offset=head[4]).reshape(dims)
        return pixels, len(r.content)

    def json_array() -> tuple[np.ndarray, int]:
        r = session.get(f"{api}/imagearray", timeout=600)
        return np.asarray(json.loads(r.content)["Value"]), len(r.content)

    def blob() -> tuple[np.ndarray, int]:
        r = session.get(f"{svc.url}/blobs/{blob_id}", timeout=300)
        with fits.open(io.BytesIO(r.content)) as hdus:
            return np.asarray(hdus[0].data).T, len(r.content)

    readers: dict[str, Callable[[], tuple[np.ndarray, int]]] = {
        "imagebytes": image_bytes,
        "json": json_array,
        "blobs": blob,
    }
    # The first read decodes the FITS file and lays it out in ImageArray order
    # (kept for the next reads of the same frame): timed on its own.
    t0 = time.perf_counter()
    reference, _ = image_bytes()
    first = time.perf_counter() - t0
    times: dict[str, list[float]] = {name: [] for name in readers}
    sizes: dict[str, int] = {}
    names = list(readers)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            pixels, nbytes = readers[name]()
            times[name].append(time.perf_counter() - t0)
            sizes[name] = nbytes
            if not np.array_equal(pixels, reference):
                raise SystemExit(f"{name}: pixels differ from ImageBytes")
    base = statistics.median(times["imagebytes"])
    pixel_mb = size * size * 2 / 1e6
    out = {"size": size, "rounds": rounds, "first_imagebytes_s": round(first, 4), "readers": {}}
    print(f"{size}×{size} 16-bit frame ({pixel_mb:.1f} MB of pixels), {rounds} rounds")
    print(f"first ImageBytes read (FITS decoded, laid out [x][y]): {first:.3f} s")
    print(f"{'reader':<12}{'median s':>10}{'wire MB':>10}{'MB/s':>9}{'× ImageBytes':>14}")
    for name in readers:
        med = statistics.median(times[name])
        out["readers"][name] = {
            "median_s": round(med, 4),
            "wire_bytes": sizes[name],
            "mb_per_s": round(pixel_mb / med, 1),
            "ratio_to_imagebytes": round(med / base, 2),
        }
        print(
            f"{name:<12}{med:>10.3f}{sizes[name] / 1e6:>10.1f}{pixel_mb / med:>9.1f}"
            f"{med / base:>14.2f}"
        )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
