"""Where one frame's analysis time goes, step by step.

Times each step of `indiws.analysis.stars.analyse` on one frame (a FITS
file, e.g. one the CCD simulator made, or a synthetic 4096² star field)
and, as its peer in the same run, the whole `analyse` call: medians of
``--repeat`` runs.  The last line printed is one JSON object.

    .venv/bin/python bench/analysis_steps.py                 # synthetic 4096²
    .venv/bin/python bench/analysis_steps.py frame.fits
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sep

from indiws.analysis import read_frame
from indiws.analysis import stars as S


def synthetic(size: int = 4096, n: int = 800, sigma: float = 2.5) -> np.ndarray:
    """uint16 frame: ``n`` Gaussian stars of width ``sigma`` px on a 100 ADU sky, 3 ADU noise."""
    rng = np.random.default_rng(5)
    image = 100.0 + rng.normal(0.0, 3.0, (size, size))
    yy, xx = np.mgrid[-15:16, -15:16]
    for _ in range(n):
        x, y = rng.uniform(30, size - 30, 2)
        xi, yi = int(x), int(y)
        r2 = (xx + xi - x) ** 2 + (yy + yi - y) ** 2
        image[yi - 15 : yi + 16, xi - 15 : xi + 16] += rng.uniform(200, 3000) * np.exp(
            -r2 / (2 * sigma**2)
        )
    return np.clip(image, 0, 65535).astype(np.uint16)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(median seconds, last result) of ``repeat`` calls."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fits", nargs="?", type=Path, help="FITS frame (default: synthetic)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    steps: dict[str, float] = {}
    if args.fits:
        raw = args.fits.read_bytes()
        steps["decode"], frame = timed(lambda: read_frame(raw), args.repeat)
        image, scale, saturation = frame.pixels, frame.pixel_scale, frame.saturation
    else:
        image, scale, saturation = synthetic(), None, None
    binned = image.size > S.BIN_ABOVE
    steps["statistics"], _ = timed(lambda: S._stats(image), args.repeat)
    if binned:
        steps["2x2 binning"], data = timed(lambda: S._bin2(image), args.repeat)
    else:
        steps["float32 copy"], data = timed(lambda: np.array(image, dtype=np.float32), args.repeat)
    steps["sky map, noise, subtraction"], (background, noise) = timed(
        lambda: S._background(data.copy(), binned), args.repeat
    )
    S._background(data, binned)
    sep.set_extract_pixstack(max(300_000, data.size // 10))
    steps["detection"], _ = timed(
        lambda: sep.extract(data, S.THRESHOLD_SIGMA, err=max(noise, 1e-3), minarea=S.MIN_AREA),
        args.repeat,
    )
    whole, result = timed(
        lambda: S.analyse(image, pixel_scale=scale, saturation=saturation), args.repeat
    )
    steps_sum = sum(v for k, v in steps.items() if k != "decode")
    # What the listed steps leave of the whole call: star selection and HFR/FWHM on cutouts.
    steps["measuring (rest of analyse)"] = max(0.0, whole - steps_sum)
    height, width = image.shape
    print(f"{width}x{height} {image.dtype}, {result['stars']} stars, medians of {args.repeat}:")
    for name, seconds in steps.items():
        print(f"  {name:30s} {seconds * 1000:7.1f} ms")
    print(f"  {'analyse (whole call)':30s} {whole * 1000:7.1f} ms")
    report = {
        "width": width,
        "height": height,
        "stars": result["stars"],
        "hfr": result["hfr"],
        "fwhm": result["fwhm"],
        "steps_ms": {k: round(v * 1000, 1) for k, v in steps.items()},
        "analyse_ms": round(whole * 1000, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
