"""Star detection and the sharpness and statistics of one frame.

`analyse` is a pure function over a pixel array; `analyse_frame` decodes a
frame's bytes and analyses it in the worker process of `worker` (``sep``
holds the GIL, so a thread would stall the event loop), so the loop stays
free.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .frames import FrameData, FrameReadError, read_frame
from .worker import attached_bytes, run_off_loop, shared_bytes

__all__ = [
    "FITS_KEYS",
    "analyse",
    "analyse_frame",
    "analyse_pixels",
    "fits_cards",
    "hfr_info",
]

#: Detection threshold in units of the background noise.
THRESHOLD_SIGMA = 5.0
#: Smallest star, in pixels above the threshold (rejects hot pixels and noise).
MIN_AREA = 5
#: Stars measured for HFR/FWHM at most (the brightest well-exposed unsaturated
#: ones): medians over 300 stars move by well under 1 %, and measuring 2000
#: took a third of a 4096² frame's analysis.
MEASURE_AT_MOST = 300
#: Half-size of the square in which a star's half-maximum area is counted.
_FWHM_BOX = 12


def _stats(data: np.ndarray) -> dict[str, float]:
    # A strided sample keeps the median cheap on 16-megapixel frames.
    step = max(1, data.size // 1_000_000)
    sample = data.ravel()[::step]
    return {
        "min": float(data.min()),
        "max": float(data.max()),
        "median": float(np.median(sample)),
        "mean": float(sample.mean(dtype=np.float64)),
    }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def analyse(
    image: np.ndarray,
    *,
    pixel_scale: float | None = None,
    saturation: float | None = None,
) -> dict[str, Any]:
    """Stars, sharpness and statistics of one 2-D frame.

    ``pixel_scale`` (arcsec per pixel) adds the sizes in arcseconds;
    ``saturation`` (ADU) counts clipped pixels and keeps saturated stars out
    of HFR/FWHM (their cores are flat).  See docs/analysis.md for the fields.
    """
    import sep

    started = time.perf_counter()
    if image.ndim != 2:
        raise ValueError(f"a frame must be 2-D, not of shape {image.shape}")
    # Statistics on the frame's own (integer) pixels: cheaper than on floats.
    stats = _stats(image)
    saturated_pixels = 0
    if saturation and stats["max"] >= saturation:
        saturated_pixels = int(np.count_nonzero(image >= saturation))
    data = np.array(image, dtype=np.float32)  # our copy: the background goes in place
    height, width = data.shape
    objects, background, noise, extract_error = _detect(data)
    result: dict[str, Any] = {
        "width": width,
        "height": height,
        "stars": 0,
        "hfr": None,
        "fwhm": None,
        "hfr_arcsec": None,
        "fwhm_arcsec": None,
        "hfr_min": None,
        "hfr_max": None,
        "hfr_mean": None,
        "eccentricity": None,
        "background": _rounded(background, 2),
        "noise": _rounded(noise, 3),
        **{k: _rounded(v, 2) for k, v in stats.items()},
        "saturation": _rounded(saturation, 1),
        "saturated_pixels": saturated_pixels,
        "saturated_stars": 0,
        "pixel_scale": _rounded(pixel_scale, 4),
    }
    if extract_error is not None:
        result["error"] = f"star detection failed: {extract_error}"
    if objects is not None and len(objects):
        # Edge-cut stars measure small: keep stars whose box is inside the frame.
        inside = (
            (objects["xmin"] > 0)
            & (objects["ymin"] > 0)
            & (objects["xmax"] < width - 1)
            & (objects["ymax"] < height - 1)
        )
        stars = objects[inside & (objects["a"] > 0.3)]
        result["stars"] = int(len(stars))
        if saturation:
            clipped = _peaks(data, stars["x"], stars["y"]) + background >= 0.98 * saturation
            result["saturated_stars"] = int(np.count_nonzero(clipped))
            stars = stars[~clipped]
        if len(stars):
            # Sizes from the well-exposed stars (peak over 20 σ; else the
            # brighter half): a faint star's size is mostly noise.
            peaks = _peaks(data, stars["x"], stars["y"])
            well = peaks >= 20.0 * noise
            if np.count_nonzero(well) < 3:
                well = peaks >= np.median(peaks)
            stars, peaks = stars[well], peaks[well]
            brightest = np.argsort(-stars["flux"])[:MEASURE_AT_MOST]
            stars, peaks = stars[brightest], peaks[brightest]
            fwhm = _fwhm(data, stars["x"], stars["y"], peaks)
            # The whole star within 2 FWHM (4.7 σ of a Gaussian): its flux is
            # measured there, not taken from the detection's isophote, which
            # misses the wings of wide stars.
            rmax = np.full(len(stars), float(np.clip(2.0 * fwhm, 3.0, 60.0)))
            hfr, flags = sep.flux_radius(data, stars["x"], stars["y"], rmax, 0.5, subpix=5)
            good = (flags == 0) & np.isfinite(hfr) & (hfr > 0)
            if np.any(good):
                hfr, stars = hfr[good], stars[good]
                a, b = stars["a"], stars["b"]
                ecc = np.sqrt(np.clip(1.0 - (b / a) ** 2, 0.0, 1.0))
                result.update(
                    hfr=_rounded(np.median(hfr)),
                    fwhm=_rounded(fwhm),
                    hfr_min=_rounded(hfr.min()),
                    hfr_max=_rounded(hfr.max()),
                    hfr_mean=_rounded(hfr.mean()),
                    eccentricity=_rounded(np.median(ecc)),
                    measured_stars=int(len(hfr)),
                )
                if pixel_scale:
                    result["hfr_arcsec"] = _rounded(result["hfr"] * pixel_scale)
                    result["fwhm_arcsec"] = _rounded(result["fwhm"] * pixel_scale)
    result["seconds"] = round(time.perf_counter() - started, 4)
    return result


#: Frames larger than this (pixels) are searched for stars on 2x2 bins: four
#: times less work for the background and the detection, which dominate the
#: time; the stars are still measured (HFR, FWHM) on the full frame.
BIN_ABOVE = 6_000_000


def _detect(data: np.ndarray) -> tuple[np.ndarray | None, float, float, str | None]:
    """Stars of ``data`` (whose background is subtracted in place), in its
    pixels, with the background level and the noise of one pixel."""
    import sep

    sep.set_sub_object_limit(2048)
    binned = data.size > BIN_ABOVE
    if binned:
        h, w = data.shape[0] // 2 * 2, data.shape[1] // 2 * 2
        image = data[0:h:2, 0:w:2] + data[1:h:2, 0:w:2]
        image += data[0:h:2, 1:w:2]
        image += data[1:h:2, 1:w:2]
        image *= 0.25
    else:
        image = data
    bkg = sep.Background(image, bw=32 if binned else 64, bh=32 if binned else 64, fw=3, fh=3)
    background, noise = float(bkg.globalback), float(bkg.globalrms)
    # In place: 4x faster than `image - bkg.back()` on 16-megapixel frames.
    bkg.subfrom(image)
    sep.set_extract_pixstack(max(300_000, image.size // 10))
    try:
        objects = sep.extract(image, THRESHOLD_SIGMA, err=max(noise, 1e-3), minarea=MIN_AREA)
    except Exception as exc:  # sep raises plain Exception on buffer overflows
        return None, background, noise, str(exc)
    if not binned:
        return objects, background, noise, None
    # Back to the frame's pixels.  A bin's mean has half a pixel's noise (white
    # noise); a bin's second moments lose its own width (1/12 px²) and gain a pixel's.
    data -= background
    objects = objects.copy()
    for key in ("x", "y"):
        objects[key] = 2.0 * objects[key] + 0.5
    for key in ("xmin", "ymin"):
        objects[key] = 2 * objects[key]
    for key in ("xmax", "ymax"):
        objects[key] = 2 * objects[key] + 1
    for key in ("a", "b"):
        objects[key] = np.sqrt(np.clip(4.0 * (objects[key] ** 2 - 1 / 12) + 1 / 12, 0.01, None))
    objects["flux"] *= 4.0
    return objects, background, 2.0 * noise, None


def _fwhm(sub: np.ndarray, x: np.ndarray, y: np.ndarray, peaks: np.ndarray) -> float:
    """FWHM (pixels) from the area above half of each star's peak, as Source
    Extractor's FWHM_IMAGE: 2·√(area/π), the area averaged over the stars so
    that pixel sampling averages out (its expected count is the true area)."""
    h, w = sub.shape
    offsets = np.arange(-_FWHM_BOX, _FWHM_BOX + 1)
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    rows = np.clip(yi[:, None, None] + offsets[None, :, None], 0, h - 1)
    cols = np.clip(xi[:, None, None] + offsets[None, None, :], 0, w - 1)
    areas = np.count_nonzero(sub[rows, cols] >= peaks[:, None, None] / 2.0, axis=(1, 2))
    # A trimmed mean: neighbours in the box and hot pixels do not pull it.
    areas = np.sort(areas)
    cut = len(areas) // 10
    kept = areas[cut : len(areas) - cut] if len(areas) > 2 * cut else areas
    return 2.0 * math.sqrt(float(np.mean(kept)) / math.pi)


def _peaks(sub: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The brightest pixel of each star's 3x3 core."""
    h, w = sub.shape
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    best = np.full(len(x), -np.inf, dtype=np.float64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            best = np.maximum(best, sub[np.clip(yi + dy, 0, h - 1), np.clip(xi + dx, 0, w - 1)])
    return best


def analyse_pixels(frame: FrameData) -> dict[str, Any]:
    """`analyse` with the scale and saturation the frame's header gives."""
    return analyse(frame.pixels, pixel_scale=frame.pixel_scale, saturation=frame.saturation)


def star_positions(frame: FrameData, limit: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, flux) of the brightest stars, 0-based pixels, brightest first."""
    objects, _, _, error = _detect(np.array(frame.pixels, dtype=np.float32))
    if objects is None:
        raise ValueError(f"star detection failed: {error}")
    order = np.argsort(-objects["flux"])[:limit]
    return objects["x"][order], objects["y"][order], objects["flux"][order]


def warm() -> None:
    """Every step once on a small frame: the imports (astropy, sep) and their
    first-call set-up cost a fresh process about 0.2 s, paid here, not by
    the first frame."""
    import io

    from astropy.io import fits

    buf = io.BytesIO()
    fits.PrimaryHDU(np.full((64, 64), 100, dtype=np.uint16)).writeto(buf)
    analyse_pixels(read_frame(buf.getvalue()))


def _analyse_shared(name: str, size: int, fmt: str) -> dict[str, Any]:
    try:
        with attached_bytes(name, size) as data:
            frame = read_frame(data, fmt)  # pixels copied out of the shared block
    except FrameReadError as exc:
        return {"error": str(exc)}
    try:
        return analyse_pixels(frame)
    except Exception as exc:  # a bad frame must never fail the exposure that made it
        return {"error": f"analysis failed: {exc}"}


async def analyse_frame(data: bytes, fmt: str = ".fits", timeout: float = 60.0) -> dict[str, Any]:
    """Analyse frame bytes off the event loop (`worker.run_off_loop`); a frame
    that cannot be read or measured, or whose analysis takes over ``timeout``
    seconds, gives ``{"error": ...}`` instead of raising: the frame is stored
    all the same."""
    try:
        with shared_bytes(data) as (name, size):
            return await run_off_loop(_analyse_shared, name, size, fmt, timeout=timeout)
    except TimeoutError:
        return {"error": f"analysis took over {timeout:g} s"}


#: FITS keyword, analysis field, comment.
FITS_KEYS: tuple[tuple[str, str, str], ...] = (
    ("STARCNT", "stars", "stars detected"),
    ("HFR", "hfr", "[px] median half-flux radius"),
    ("FWHM", "fwhm", "[px] median FWHM"),
    ("HFRARCS", "hfr_arcsec", "[arcsec] median half-flux radius"),
    ("FWHMARCS", "fwhm_arcsec", "[arcsec] median FWHM"),
    ("SKYBKG", "background", "[ADU] mean sky background"),
    ("SKYNOISE", "noise", "[ADU] background noise (rms)"),
    ("IMGMEDN", "median", "[ADU] median pixel value"),
    ("SATPIX", "saturated_pixels", "pixels at or above saturation"),
)


def fits_cards(analysis: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """FITS header cards (keyword, value, comment) for an analysis; known values only."""
    return [
        (key, analysis[field], comment)
        for key, field, comment in FITS_KEYS
        if analysis.get(field) is not None
]


def hfr_info(analysis: dict[str, Any] | None) -> dict[str, Any]:
    """lightAPT's ``hfr_info`` record: star count and HFR median/max/min/mean (px)."""
    a = analysis or {}
    return {
        "star_count": a.get("stars"),
        "average_hfr": a.get("hfr"),
        "max_star": a.get("hfr_max"),
        "min_star": a.get("hfr_min"),
        "average_star": a.get("hfr_mean"),
    }
