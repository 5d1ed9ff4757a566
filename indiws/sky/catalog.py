"""A synthetic, deterministic all-sky star catalogue.

The sky is cut into cells about one degree square (one-degree declination
bands, each cut into RA cells of about one degree).  Each cell's stars are
drawn from a random generator seeded by the cell's indices, so the same
cell always holds the same stars, on every machine, without any file.  Star
counts per magnitude follow the mean counts of the real sky (about 0.1 star
per square degree brighter than magnitude 6, 60 brighter than 12, 3000
brighter than 17), spread evenly over the sky.

The CCD simulator draws these stars (through ``gsc``) and the plate solver's
index files are built from the same stars, so the simulator's frames solve.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

__all__ = ["CATALOG_VERSION", "MAG_LIMIT", "Stars", "cone", "cumulative_density"]

#: Changes whenever the generated stars change (cached index files are keyed on it).
CATALOG_VERSION = 2
#: Faintest star in the catalogue.
MAG_LIMIT = 17.0
_SEED = 0x5EED_13

# log10(stars per square degree brighter than m), piecewise linear in m:
# rounded mean counts of the real sky (Allen's Astrophysical Quantities).
_MAG_POINTS = (-1.5, 6.0, 10.0, 12.0, 14.0, MAG_LIMIT)
_LOG_DENSITY = (-4.5, -0.92, 0.93, 1.78, 2.56, 3.5)
_SQ_DEG_PER_SR = (180.0 / math.pi) ** 2


def _interp(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """Piecewise-linear y(x) through (xs, ys), xs increasing, clamped at the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


def cumulative_density(mag: float) -> float:
    """Stars per square degree brighter than ``mag`` (up to `MAG_LIMIT`)."""
    return 10 ** _interp(min(mag, MAG_LIMIT), _MAG_POINTS, _LOG_DENSITY)


@dataclass(frozen=True, slots=True)
class Stars:
    """Stars as parallel lists: J2000 RA/Dec in degrees, V magnitude, unique ids.

    Plain Python, no numpy: ``gsc`` runs once per simulated frame and must
    start fast (the CCD simulator waits for it before it starts exposing)."""

    ids: list[int]
    ra: list[float]
    dec: list[float]
    mag: list[float]

    def __len__(self) -> int:
        return len(self.ra)


def _ra_cells(band: int) -> int:
    """How many RA cells declination band ``band`` (0..179, from -90) is cut into."""
    mid = math.radians(band - 89.5)
    return max(1, math.ceil(360.0 * math.cos(mid)))


def _cell(band: int, cell: int) -> list[tuple[float, float, float, int]]:
    """(mag, ra, dec, id) of the stars of one cell, always the same."""
    n_ra = _ra_cells(band)
    ra_lo, ra_hi = cell * 360.0 / n_ra, (cell + 1) * 360.0 / n_ra
    sin_lo, sin_hi = math.sin(math.radians(band - 90)), math.sin(math.radians(band - 89))
    area = math.radians(ra_hi - ra_lo) * (sin_hi - sin_lo) * _SQ_DEG_PER_SR
    rng = random.Random(((_SEED * 16 + CATALOG_VERSION) * 1000 + band) * 1000 + cell)
    mean = cumulative_density(MAG_LIMIT) * area
    # Poisson count (hundreds to thousands a cell: its normal approximation).
    count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
    top, uniform = _LOG_DENSITY[-1], rng.random
    asin, degrees, log10 = math.asin, math.degrees, math.log10
    base = band * 10_000_000 + cell * 10_000
    out = []
    for k in range(count):
        ra = ra_lo + (ra_hi - ra_lo) * uniform()
        dec = degrees(asin(sin_lo + (sin_hi - sin_lo) * uniform()))
        # Inverse of the cumulative count: a uniform share of the stars -> magnitude.
        mag = _interp(top + log10(max(uniform(), 1e-12)), _LOG_DENSITY, _MAG_POINTS)
        out.append((mag, ra, dec, base + k % 10_000))
    return out


def cone(
    ra: float,
    dec: float,
    radius: float,
    *,
    mag_min: float = -5.0,
    mag_max: float = MAG_LIMIT,
    limit: int | None = None,
) -> tuple[Stars, list[float]]:
    """Stars within ``radius`` degrees of (``ra``, ``dec``) (J2000 degrees),
    brightest first, at most ``limit``; with their distances in degrees."""
    if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
        raise ValueError(f"bad centre RA {ra!r}, Dec {dec!r}")
    if not 0 < radius <= 30:
        raise ValueError(f"radius must be within (0, 30] degrees, not {radius!r}")
    ra %= 360.0
    r0, d0 = math.radians(ra), math.radians(dec)
    cos_d0 = math.cos(d0)
    # Haversine of the radius: compare without the arcsin per star.
    h_max = math.sin(math.radians(radius) / 2) ** 2
    found: list[tuple[float, float, float, int, float]] = []
    lo_band = max(0, math.floor(dec - radius + 90))
    hi_band = min(179, math.floor(dec + radius + 90))
    sin, cos, rad = math.sin, math.cos, math.radians
    for band in range(lo_band, hi_band + 1):
        n_ra = _ra_cells(band)
        # Widest RA reach of the circle within this band (the pole side of it).
        edge = max(abs(band - 90), abs(band - 89))
        cos_edge = math.cos(math.radians(min(89.999, edge)))
        if abs(dec) + radius >= 89.0 or radius / cos_edge >= 180:
            cells: list[int] | range = range(n_ra)
        else:
            reach = radius / cos_edge
            lo = math.floor((ra - reach) * n_ra / 360.0)
            hi = math.floor((ra + reach) * n_ra / 360.0)
            cells = sorted({c % n_ra for c in range(lo, hi + 1)})
        for c in cells:
            for mag, sra, sdec, sid in _cell(band, c):
                if not mag_min <= mag <= mag_max:
                    continue
                d = rad(sdec)
                h = sin((d - d0) / 2) ** 2 + cos_d0 * cos(d) * sin((rad(sra) - r0) / 2) ** 2
                if h <= h_max:
                    dist = math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))
                    found.append((mag, sra, sdec, sid, dist))
    found.sort(key=lambda s: s[0])
    if limit is not None:
        found = found[:limit]
    stars = Stars(
        [s[3] for s in found], [s[1] for s in found], [s[2] for s in found], [s[0] for s in found]
    )
    return stars, [s[4] for s in found]
