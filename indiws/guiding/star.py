"""Guide stars in a frame: choosing one, and measuring it frame after frame.

Pure functions over 2-D pixel arrays (numpy), no I/O: the engine feeds them
the frames it receives.  `find_stars` looks at a whole frame (when a star is
chosen); `measure` follows the chosen star inside a small search box around
where it was (every guide frame), so it costs well under a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "Candidate",
    "StarMeasure",
    "find_stars",
    "measure",
    "nearest_star",
    "select_guide_star",
]

#: A star fainter than this (signal to noise) is not a star.
MIN_SNR = 6.0
#: ... and once chosen, it is lost below this.
LOST_SNR = 3.0


@dataclass(frozen=True, slots=True)
class StarMeasure:
    """One measurement of a star: centroid (pixels of the frame, 0-based),
    mass (background-subtracted flux, ADU), SNR, HFD (pixels), peak (ADU
    above the background) and whether its core is clipped."""

    x: float
    y: float
    mass: float
    snr: float
    hfd: float
    peak: float
    saturated: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "x": round(self.x, 3),
            "y": round(self.y, 3),
            "mass": round(self.mass, 1),
            "snr": round(self.snr, 2),
            "hfd": round(self.hfd, 2),
            "peak": round(self.peak, 1),
            "saturated": self.saturated,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A star found in a whole frame, with why it may or may not guide."""

    star: StarMeasure
    score: float
    reject: str | None = None


def _noise(values: np.ndarray) -> tuple[float, float]:
    """Background level and noise (median and MAD sigma) of ``values``."""
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median, max(1.4826 * mad, 1e-3)


def _centroid(
    box: np.ndarray, noise: float, saturation: float | None, raw_peak: float
) -> tuple[float, float, float, float, float, bool] | None:
    """Centroid of the background-subtracted ``box`` around its brightest
    (3x3 smoothed) pixel: (x, y, mass, snr, hfd, saturated) in box pixels."""
    h, w = box.shape
    if h < 5 or w < 5:
        return None
    # 3x3 mean: a hot pixel is not brighter than a star's core any more.
    smooth = box.copy()
    smooth[1:-1, 1:-1] = (
        box[:-2, :-2]
        + box[:-2, 1:-1]
        + box[:-2, 2:]
        + box[1:-1, :-2]
        + box[1:-1, 1:-1]
        + box[1:-1, 2:]
        + box[2:, :-2]
        + box[2:, 1:-1]
        + box[2:, 2:]
    ) / 9.0
    inner = smooth[1:-1, 1:-1]
    iy, ix = np.unravel_index(int(np.argmax(inner)), inner.shape)
    py, px = iy + 1, ix + 1
    # The 3x3 mean's noise is a third of a pixel's: a star's core stands 5
    # of those above the sky; the brightest noise bump of a box rarely 3.
    if smooth[py, px] < 5.0 * noise / 3.0:
        return None
    # The star's aperture: a radius that holds its light, at most 8 pixels.
    r = 8
    y0, y1 = max(0, py - r), min(h, py + r + 1)
    x0, x1 = max(0, px - r), min(w, px + r + 1)
    cut = box[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1]
    dist2 = (xx - px) ** 2 + (yy - py) ** 2
    inside = dist2 <= r * r
    # Only pixels clearly above the noise weigh the centroid, less a
    # threshold (noise far out would pull it to the aperture's centre).
    level = 2.0 * noise
    above = inside & (cut > level)
    weights = np.where(above, cut - level, 0.0)
    if float(weights.sum()) <= 0:
        return None
    cx = float((weights * xx).sum() / weights.sum())
    cy = float((weights * yy).sum() / weights.sum())
    npix = int(above.sum())
    mass = float(np.where(above, cut, 0.0).sum())
    snr = mass / (noise * math.sqrt(max(npix, 1)))
    # Half-flux diameter about the centroid.
    flux = np.where(inside, np.clip(cut, 0, None), 0.0)
    total = float(flux.sum())
    hfd = 0.0
    if total > 0:
        radius = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        order = np.argsort(radius, axis=None)
        cumulative = np.cumsum(flux.ravel()[order])
        half = int(np.searchsorted(cumulative, total / 2.0))
        hfd = 2.0 * float(radius.ravel()[order][min(half, order.size - 1)])
    saturated = saturation is not None and raw_peak >= saturation
    return cx, cy, mass, snr, max(hfd, 0.5), saturated


def _search_box(
    image: np.ndarray, x: float, y: float, search: int
) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the box ``search`` pixels around (``x``,
    ``y``) within the frame, or None when too little of it is in the frame."""
    h, w = image.shape
    cx, cy = int(round(x)), int(round(y))
    y0, y1 = max(0, cy - search), min(h, cy + search + 1)
    x0, x1 = max(0, cx - search), min(w, cx + search + 1)
    if y1 - y0 < 5 or x1 - x0 < 5:
        return None
    return y0, y1, x0, x1


def measure(
    image: np.ndarray,
    x: float,
    y: float,
    search: int = 15,
    *,
    saturation: float | None = None,
) -> StarMeasure | None:
    """The star nearest (``x``, ``y``) within ``search`` pixels, or None
    when there is none bright enough (lost)."""
    where = _search_box(image, x, y, search)
    if where is None:
        return None
    y0, y1, x0, x1 = where
    raw = image[y0:y1, x0:x1]
    box = raw.astype(np.float32)
    # Background from the box's border: a star near its centre is not in it.
    border = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
    level, noise = _noise(border)
    box -= level
    found = _centroid(box, noise, saturation, float(raw.max()))
    if found is None:
        return None
    bx, by, mass, snr, hfd, saturated = found
    if snr < LOST_SNR:
        return None
    peak = float(box.max())
    return StarMeasure(bx + x0, by + y0, mass, snr, hfd, peak, saturated)


def find_stars(
    image: np.ndarray,
    *,
    saturation: float | None = None,
    limit: int = 50,
) -> list[StarMeasure]:
    """The brightest stars of a whole frame (at most ``limit``), measured as
    `measure` does; hot pixels (a single bright pixel) are left out."""
    data = image.astype(np.float32)
    h, w = data.shape
    step = max(1, data.size // 200_000)
    level, noise = _noise(data.ravel()[::step])
    data -= level
    # Local maxima of the 3x3 mean above 5 sigma (of the mean: noise / 3).
    smooth = np.zeros_like(data)
    smooth[1:-1, 1:-1] = (
        data[:-2, :-2]
        + data[:-2, 1:-1]
        + data[:-2, 2:]
        + data[1:-1, :-2]
        + data[1:-1, 1:-1]
        + data[1:-1, 2:]
        + data[2:, :-2]
        + data[2:, 1:-1]
        + data[2:, 2:]
    ) / 9.0
    threshold = 5.0 * noise / 3.0
    core = smooth[1:-1, 1:-1]
    peaks = core > threshold
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx or dy:
                peaks &= core >= smooth[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
    ys, xs = np.nonzero(peaks)
    if ys.size == 0:
        return []
    order = np.argsort(-core[ys, xs])[: limit * 4]
    stars: list[StarMeasure] = []
    taken: list[tuple[float, float]] = []
    for i in order:
        px, py = int(xs[i]) + 1, int(ys[i]) + 1
        if any((px - tx) ** 2 + (py - ty) ** 2 < 9 for tx, ty in taken):
            continue
        star = measure(image, px, py, 10, saturation=saturation)
        if star is None or star.snr < MIN_SNR:
            continue
        # A hot pixel: nearly all its light in one pixel.
        if star.hfd < 1.0 and star.peak > 0.8 * star.mass:
            continue
        taken.append((star.x, star.y))
        stars.append(star)
        if len(stars) >= limit:
            break
    return stars


def nearest_star(
    image: np.ndarray,
    x: float,
    y: float,
    search: int,
    *,
    saturation: float | None = None,
) -> StarMeasure | None:
    """The star nearest (``x``, ``y``) within ``search`` pixels (a wide
    search for a lost star: the brightest of a wide box, which `measure`
    would give, may be another star while the lost one is back nearer)."""
    where = _search_box(image, x, y, search)
    if where is None:
        return None
    y0, y1, x0, x1 = where
    stars = find_stars(image[y0:y1, x0:x1], saturation=saturation, limit=20)
    if not stars:
        return None
    best = min(stars, key=lambda s: math.hypot(s.x + x0 - x, s.y + y0 - y))
    return replace(best, x=best.x + x0, y=best.y + y0)


def select_guide_star(
    stars: list[StarMeasure],
    shape: tuple[int, int],
    *,
    search: int = 15,
    roi: tuple[int, int, int, int] | None = None,
    edge: float | None = None,
) -> list[Candidate]:
    """Every star scored for guiding, best first: bright (high SNR) but not
    clipped, away from the frame's edges (``edge`` pixels: room for the
    calibration's moves; default a search box and a little) and from other
    stars that could be mistaken for it; nearer the centre breaks near-ties.
    A rejected one says why."""
    h, w = shape
    margin = edge if edge is not None else search + 5
    out: list[Candidate] = []
    for star in stars:
        reject = None
        if star.saturated:
            reject = "saturated"
        elif not (margin <= star.x < w - margin and margin <= star.y < h - margin):
            reject = "too close to the edge"
        elif roi is not None and not (
            roi[0] <= star.x < roi[0] + roi[2] and roi[1] <= star.y < roi[1] + roi[3]
        ):
            reject = "outside the region asked for"
        elif star.hfd < 1.0:
            reject = "a hot pixel, not a star"
        else:
            for other in stars:
                if other is star:
                    continue
                d = math.hypot(other.x - star.x, other.y - star.y)
                if d < 2 * search and other.mass > 0.3 * star.mass:
                    reject = "another star too close"
                    break
        # SNR saturates the score: past 100 a brighter star is no better;
        # a star far from the edges keeps its place through dithers and drift.
        off_centre = math.hypot(star.x / w - 0.5, star.y / h - 0.5) / 0.7071
        score = (min(star.snr, 100.0) + 0.01 * star.snr) * (1.0 - 0.3 * off_centre)
        out.append(Candidate(star, score if reject is None else 0.0, reject))
    out.sort(key=lambda c: (c.reject is not None, -c.score))
    return out
