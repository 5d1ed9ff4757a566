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
from .worker import attached_bytes, prepare_with, run_off_loop, shared_bytes

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
    # A strided sample of about 250 000 pixels keeps the median cheap on
    # 16-megapixel frames (min and max are exact: cheap on integers).
    step = max(1, data.size // 250_000)
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

    started = time.perf_counter()
    if image.ndim != 2:
        raise ValueError(f"a frame must be 2-D, not of shape {image.shape}")
    # Statistics on the frame's own (integer) pixels: cheaper than on floats.
    stats = _stats(image)
    saturated_pixels = 0
    if saturation and stats["max"] >= saturation:
        saturated_pixels = _count_at_least(image, saturation)
    height, width = image.shape
    objects, background, noise, extract_error, sub = _detect(image)
    # Stars are measured on small float cutouts: of the background-subtracted
    # copy on a small frame, else of the integer pixels less the background
    # (no full-frame float copy of a large frame).
    src, offset = (sub, 0.0) if sub is not None else (image, background)
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
        boxes = _cutouts(src, offset, stars["x"], stars["y"], _FWHM_BOX)
        peaks = _peaks(boxes)
        if saturation:
            clipped = peaks + background >= 0.98 * saturation
            result["saturated_stars"] = int(np.count_nonzero(clipped))
            stars, peaks, boxes = stars[~clipped], peaks[~clipped], boxes[~clipped]
        if len(stars):
            # Sizes from the well-exposed stars (peak over 20 σ; else the
            # brighter half): a faint star's size is mostly noise.
            well = peaks >= 20.0 * noise
            if np.count_nonzero(well) < 3:
                well = peaks >= np.median(peaks)
            stars, peaks, boxes = stars[well], peaks[well], boxes[well]
            brightest = np.argsort(-stars["flux"])[:MEASURE_AT_MOST]
            stars, peaks, boxes = stars[brightest], peaks[brightest], boxes[brightest]
            fwhm = _fwhm(boxes, peaks)
            # The whole star within 2 FWHM (4.7 σ of a Gaussian): its flux is
            # measured there, not taken from the detection's isophote, which
            # misses the wings of wide stars.
            rmax = float(np.clip(2.0 * fwhm, 3.0, 60.0))
            hfr, flags = _flux_radius(src, offset, stars["x"], stars["y"], rmax)
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


def _count_at_least(image: np.ndarray, level: float) -> int:
    """Pixels at or above ``level``, compared in the frame's own integer type
    (a float threshold would convert all 16 million pixels)."""
    if image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        if level > info.max:
            return 0
        level = image.dtype.type(max(info.min, math.ceil(level)))
    return int(np.count_nonzero(image >= level))


def _bin2(image: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block as float32, straight from the frame's pixels
    (pairs of rows, then pairs of columns): one small float array, never a
    full-frame float copy.  Exact for 16-bit pixels (sums under 2^24)."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    wide = np.float64 if image.dtype.itemsize > 2 else np.float32
    rows = image[:h, :w].reshape(h // 2, 2, w)
    acc = rows[:, 0, :].astype(wide)
    acc += rows[:, 1, :]
    pairs = acc.reshape(h // 2, w // 2, 2)
    binned = (pairs[:, :, 0] + pairs[:, :, 1]).astype(np.float32, copy=False)
    binned *= 0.25
    return binned


def _background(data: np.ndarray, binned: bool) -> tuple[float, float]:
    """Subtract the sky from ``data`` in place; (its mean level, the noise of
    one of ``data``'s pixels).  A binned frame's sky is mapped on its own 2x2
    bins (a frame's 4x4: tiles of 64 frame pixels as before), half the work;
    the sky varies over tiles, not over 2 pixels."""
    import sep

    if not binned:
        bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
        # In place: 4x faster than `data - bkg.back()` on large frames.
        bkg.subfrom(data)
        return float(bkg.globalback), float(bkg.globalrms)
    bkg = sep.Background(_bin2(data), bw=16, bh=16, fw=3, fh=3)
    back = bkg.back()
    h, w = data.shape
    pad = ((0, (h + 1) // 2 - back.shape[0]), (0, (w + 1) // 2 - back.shape[1]))
    back = np.pad(back, pad, mode="edge")
    for dy in (0, 1):
        for dx in (0, 1):
            quarter = data[dy::2, dx::2]
            quarter -= back[: quarter.shape[0], : quarter.shape[1]]
    # The noise on the bins themselves, the sky taken off: on 4x4 bins a
    # sky gradient across a tile would weigh as much as the (halved) noise.
    # Every other bin is a fair sample of white noise, at a quarter of the cost.
    residual = np.ascontiguousarray(data[::2, ::2])
    noise = sep.Background(residual, bw=16, bh=16, fw=3, fh=3).globalrms
    return float(bkg.globalback), float(noise)


def _detect(
    image: np.ndarray,
) -> tuple[np.ndarray | None, float, float, str | None, np.ndarray | None]:
    """Stars of ``image`` in its pixels, the background level, the noise of
    one pixel, the extraction's error and, for a frame searched unbinned,
    its background-subtracted float copy (None for a binned one)."""
    import sep

    sep.set_sub_object_limit(2048)
    binned = image.size > BIN_ABOVE
    data = _bin2(image) if binned else np.array(image, dtype=np.float32)
    background, noise = _background(data, binned)
    sep.set_extract_pixstack(max(300_000, data.size // 10))
    try:
        objects = sep.extract(data, THRESHOLD_SIGMA, err=max(noise, 1e-3), minarea=MIN_AREA)
    except Exception as exc:  # sep raises plain Exception on buffer overflows
        return None, background, noise, str(exc), None
    if not binned:
        return objects, background, noise, None, data
    # Back to the frame's pixels.  A bin's mean has half a pixel's noise (white
    # noise); a bin's second moments lose its own width (1/12 px²) and gain a pixel's.
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
    return objects, background, 2.0 * noise, None, None


def _cutouts(src: np.ndarray, offset: float, x: np.ndarray, y: np.ndarray, half: int) -> np.ndarray:
    """Float32 squares of side 2·half+1 of ``src`` less ``offset``, centred
    on each star's nearest pixel; rows and columns past an edge repeat it."""
    h, w = src.shape
    offsets = np.arange(-half, half + 1)
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    rows = np.clip(yi[:, None, None] + offsets[None, :, None], 0, h - 1)
    cols = np.clip(xi[:, None, None] + offsets[None, None, :], 0, w - 1)
    boxes = src[rows, cols].astype(np.float32)
    boxes -= np.float32(offset)
    return boxes


def _fwhm(boxes: np.ndarray, peaks: np.ndarray) -> float:
    """FWHM (pixels) from the area above half of each star's peak, as Source
    Extractor's FWHM_IMAGE: 2·√(area/π), the area averaged over the stars so
    that pixel sampling averages out (its expected count is the true area)."""
    areas = np.count_nonzero(boxes >= peaks[:, None, None] / 2.0, axis=(1, 2))
    # A trimmed mean: neighbours in the box and hot pixels do not pull it.
    areas = np.sort(areas)
    cut = len(areas) // 10
    kept = areas[cut : len(areas) - cut] if len(areas) > 2 * cut else areas
    return 2.0 * math.sqrt(float(np.mean(kept)) / math.pi)


def _peaks(boxes: np.ndarray) -> np.ndarray:
    """The brightest pixel of each star's 3x3 core (the cutouts' centres)."""
    c = boxes.shape[1] // 2
    return boxes[:, c - 1 : c + 2, c - 1 : c + 2].max(axis=(1, 2)).astype(np.float64)


def _flux_radius(
    src: np.ndarray, offset: float, x: np.ndarray, y: np.ndarray, rmax: float
) -> tuple[np.ndarray, np.ndarray]:
    """``sep.flux_radius`` (half flux, within ``rmax``) of each star, run on
    its cutout: the cutouts stacked into one tall image, each aperture
    inside its own square.  Apertures that would cross the frame's edge are
    flagged as sep flags them on the whole frame."""
    import sep

    half = math.ceil(rmax) + 2
    side = 2 * half + 1
    boxes = _cutouts(src, offset, x, y, half)
    mosaic = boxes.reshape(len(x) * side, side)
    xi, yi = np.rint(x), np.rint(y)
    xs = x - xi + half
    ys = y - yi + half + side * np.arange(len(x))
    radii = np.full(len(x), rmax)
    hfr, flags = sep.flux_radius(mosaic, xs, ys, radii, 0.5, subpix=5)
    # Where sep flags an aperture as truncated on the whole frame (measured:
    # from sep 1.4, x - r <= 0 or x + r > w - 2, the same in y).
    h, w = src.shape
    cut = (x - rmax <= 0) | (y - rmax <= 0) | (x + rmax > w - 2) | (y + rmax > h - 2)
    return hfr, np.where(cut, flags | sep.APER_TRUNC, flags)


def analyse_pixels(frame: FrameData) -> dict[str, Any]:
    """`analyse` with the scale and saturation the frame's header gives."""
    return analyse(frame.pixels, pixel_scale=frame.pixel_scale, saturation=frame.saturation)


def star_positions(frame: FrameData, limit: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, flux) of the brightest stars, 0-based pixels, brightest first."""
    objects, _, _, error, _ = _detect(frame.pixels)
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


prepare_with(warm)


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
