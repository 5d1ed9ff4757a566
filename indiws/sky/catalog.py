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

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CATALOG_VERSION", "MAG_LIMIT", "Stars", "cone", "cumulative_density"]

#: Changes whenever the generated stars change (cached index files are keyed on it).
CATALOG_VERSION = 1
#: Faintest star in the catalogue.
MAG_LIMIT = 17.0
_SEED = 0x5EED_13

# log10(stars per square degree brighter than m), piecewise linear in m:
# rounded mean counts of the real sky (Allen's Astrophysical Quantities).
_MAG_POINTS = np.array([-1.5, 6.0, 10.0, 12.0, 14.0, MAG_LIMIT])
_LOG_DENSITY = np.array([-4.5, -0.92, 0.93, 1.78, 2.56, 3.5])
_SQ_DEG_PER_SR = (180.0 / math.pi) ** 2


def cumulative_density(mag: float) -> float:
    """Stars per square degree brighter than ``mag`` (up to `MAG_LIMIT`)."""
    return float(10 ** np.interp(min(mag, MAG_LIMIT), _MAG_POINTS, _LOG_DENSITY))


@dataclass(frozen=True, slots=True)
class Stars:
    """Stars as parallel arrays: J2000 RA/Dec in degrees, V magnitude, cell-unique ids."""

    ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    mag: np.ndarray

    def __len__(self) -> int:
        return len(self.ra)

    def take(self, index: np.ndarray) -> Stars:
        return Stars(self.ids[index], self.ra[index], self.dec[index], self.mag[index])


def _ra_cells(band: int) -> int:
    """How many RA cells declination band ``band`` (0..179, from -90) is cut into."""
    mid = math.radians(band - 89.5)
    return max(1, math.ceil(360.0 * math.cos(mid)))


def _cell(band: int, cell: int) -> Stars:
    n_ra = _ra_cells(band)
    ra_lo, ra_hi = cell * 360.0 / n_ra, (cell + 1) * 360.0 / n_ra
    sin_lo, sin_hi = math.sin(math.radians(band - 90)), math.sin(math.radians(band - 89))
    area = math.radians(ra_hi - ra_lo) * (sin_hi - sin_lo) * _SQ_DEG_PER_SR
    rng = np.random.default_rng([_SEED, CATALOG_VERSION, band, cell])
    count = int(rng.poisson(cumulative_density(MAG_LIMIT) * area))
    ra = rng.uniform(ra_lo, ra_hi, count)
    dec = np.degrees(np.arcsin(rng.uniform(sin_lo, sin_hi, count)))
    # Inverse of the cumulative count: a uniform share of the cell's stars -> magnitude.
    log_n = _LOG_DENSITY[-1] + np.log10(rng.uniform(1e-12, 1.0, count))
    mag = np.interp(log_n, _LOG_DENSITY, _MAG_POINTS)
    ids = band * 10_000_000 + cell * 10_000 + np.arange(count) % 10_000
    return Stars(ids.astype(np.int64), ra, dec, mag)


def _separation(ra0: float, dec0: float, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Angular distance in degrees (haversine, exact for small angles)."""
    r0, d0 = math.radians(ra0), math.radians(dec0)
    r, d = np.radians(ra), np.radians(dec)
    h = np.sin((d - d0) / 2) ** 2 + math.cos(d0) * np.cos(d) * np.sin((r - r0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def cone(
    ra: float,
    dec: float,
    radius: float,
    *,
    mag_min: float = -5.0,
    mag_max: float = MAG_LIMIT,
    limit: int | None = None,
) -> tuple[Stars, np.ndarray]:
    """Stars within ``radius`` degrees of (``ra``, ``dec``) (J2000 degrees),
    brightest first, at most ``limit``; with their distances in degrees."""
    if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
        raise ValueError(f"bad centre RA {ra!r}, Dec {dec!r}")
    if not 0 < radius <= 30:
        raise ValueError(f"radius must be within (0, 30] degrees, not {radius!r}")
    ra %= 360.0
    parts: list[Stars] = []
    lo_band = max(0, math.floor(dec - radius + 90))
    hi_band = min(179, math.floor(dec + radius + 90))
    for band in range(lo_band, hi_band + 1):
        n_ra = _ra_cells(band)
        # Widest RA reach of the circle within this band (the pole side of it).
        edge = max(abs(band - 90), abs(band - 89))
        cos_edge = math.cos(math.radians(min(89.999, edge)))
        touches_pole = abs(dec) + radius >= 89.0
        if touches_pole or radius / cos_edge >= 180:
            cells = range(n_ra)
        else:
            reach = min(180.0, radius / cos_edge)
            lo = math.floor((ra - reach) * n_ra / 360.0)
            hi = math.floor((ra + reach) * n_ra / 360.0)
            cells = sorted({c % n_ra for c in range(lo, hi + 1)})
        parts.extend(_cell(band, c) for c in cells)
    stars = Stars(
        np.concatenate([p.ids for p in parts]),
        np.concatenate([p.ra for p in parts]),
        np.concatenate([p.dec for p in parts]),
        np.concatenate([p.mag for p in parts]),
    )
    dist = _separation(ra, dec, stars.ra, stars.dec)
    keep = np.flatnonzero((dist <= radius) & (stars.mag >= mag_min) & (stars.mag <= mag_max))
    keep = keep[np.argsort(stars.mag[keep], kind="stable")]
    if limit is not None:
        keep = keep[:limit]
    return stars.take(keep), dist[keep]
