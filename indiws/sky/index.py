"""astrometry.net index files for the synthetic sky, built on demand.

An all-sky index deep enough for a 20 arcminute field would hold millions of
stars and take long to build; the solver is always given a hint (where the
mount says it points), so only the sky around the hint needs an index.  The
sky is cut into tiles (half-degree steps of declination, RA steps of about
half a degree); a tile's index files cover a circle around the tile's centre wide
enough for any hint inside the tile plus the search radius, and are kept in
a cache folder keyed by the catalogue version, the tile and the scale
presets, so each tile is built once.  `prune_index_cache` drops the tiles
unused for longest when the cache is past its age or size bound.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .catalog import CATALOG_VERSION, cone, cumulative_density

__all__ = [
    "TILE_DEG",
    "IndexBuildError",
    "ensure_index",
    "presets_for_field",
    "prune_index_cache",
]

#: Tile size (degrees of declination; RA steps widen with 1/cos Dec): hints
#: this close share one index, and it stays small enough to build in seconds.
TILE_DEG = 0.5
#: Quads built per fine healpix cell (astrometry.net's default is 16): fewer
#: make the build several times faster and still solve fields of 30+ stars.
_PASSES = 6
#: Stars per square degree wanted in the index: a field of 0.1 deg² gets ~30.
_INDEX_DENSITY = 300.0


class IndexBuildError(RuntimeError):
    """build-astrometry-index is missing or failed."""


def presets_for_field(width_deg: float, height_deg: float) -> list[int]:
    """astrometry.net scale presets whose quads span 30-60 % of the field
    (the sizes that match most often; fewer presets build faster).

    Preset P holds quads of 2·√2^P to 2·√2^(P+1) arcminutes (P = 0..19)."""
    small, large = min(width_deg, height_deg) * 60, max(width_deg, height_deg) * 60
    out = []
    for p in range(20):
        lo, hi = 2.0 * math.sqrt(2) ** p, 2.0 * math.sqrt(2) ** (p + 1)
        if hi >= 0.3 * small and lo <= 0.6 * large:
            out.append(p)
    return out or [0]


def _tile(ra: float, dec: float) -> tuple[float, float]:
    """Centre of the tile holding (ra, dec)."""
    band = min(math.floor((dec + 90) / TILE_DEG), int(180 / TILE_DEG) - 1)
    dec_c = -90 + (band + 0.5) * TILE_DEG
    n_ra = max(1, math.floor(360 / TILE_DEG * math.cos(math.radians(dec_c))))
    step = 360 / n_ra
    return (math.floor((ra % 360) / step) + 0.5) * step, dec_c


def _mag_limit(radius_deg: float) -> float:
    """Faintest magnitude giving about `_INDEX_DENSITY` stars per square degree,
    capped so a wide circle stays a few hundred thousand stars."""
    area = math.pi * radius_deg**2
    density = min(_INDEX_DENSITY, 300_000 / area)
    mag = 6.0
    while mag < 17.0 and cumulative_density(mag) < density:
        mag += 0.1
    return round(mag, 1)


def ensure_index(
    ra: float,
    dec: float,
    search_radius: float,
    field: tuple[float, float],
    cache_dir: Path,
    *,
    timeout: float = 300.0,
) -> list[Path]:
    """Index files of the synthetic sky for solving a field of ``field``
    (width, height in degrees) whose centre is within ``search_radius``
    degrees of (``ra``, ``dec``) (J2000 degrees); built when missing."""
    exe = shutil.which("build-astrometry-index")
    if exe is None:
        raise IndexBuildError(
            "build-astrometry-index not found: install Debian's astrometry.net (`make setup` does)"
        )
    presets = presets_for_field(*field)
    tra, tdec = _tile(ra, dec)
    diag = math.hypot(*field)
    radius = min(30.0, TILE_DEG * 0.75 + search_radius + diag)
    key = hashlib.sha1(f"{CATALOG_VERSION}:{tra:.4f}:{tdec:.4f}:{radius:.3f}".encode()).hexdigest()[
        :16
    ]
    folder = cache_dir / f"v{CATALOG_VERSION}-{key}"
    paths = [folder / f"index-{p:02d}.fits" for p in presets]
    if all(p.exists() for p in paths):
        _touch(folder)
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    catalog = folder / "stars.fits"
    if not catalog.exists():
        _write_catalog(catalog, tra, tdec, radius)
    for preset, path in zip(presets, paths, strict=True):
        if path.exists():
            continue
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        uid = int(key[:6], 16) * 100 + preset
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            cmd = [
                exe, "-i", str(catalog), "-o", str(tmp), "-P", str(preset),
                "-S", "MAG", "-A", "RA", "-D", "DEC", "-E", "-I", str(uid),
                "-p", str(_PASSES),
                "-t", scratch,
            ]  # fmt: skip
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise IndexBuildError(
                    f"building index preset {preset} took over {timeout} s"
                ) from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise IndexBuildError(f"build-astrometry-index failed: {' / '.join(tail)}")
        os.replace(tmp, path)
    _touch(folder)
    return paths


#: A tile used this recently is never pruned (a solve may be reading it).
_IN_USE_S = 3600.0


def _touch(folder: Path) -> None:
    # The folder's mtime says when the tile was last used (pruning goes by it).
    try:
        os.utime(folder)
    except OSError:
        pass


def _tiles(cache_dir: Path) -> list[tuple[float, int, Path]]:
    """(last use, bytes, folder) of each tile in the cache, least recently used first."""
    out = []
    try:
        entries = list(cache_dir.iterdir())
    except OSError:
        return []
    for folder in entries:
        if not (folder.is_dir() and folder.name.startswith("v") and "-" in folder.name):
            continue
        try:
            used = folder.stat().st_mtime
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        except OSError:
            continue
        out.append((used, size, folder))
    return sorted(out)


def prune_index_cache(
    cache_dir: Path,
    *,
    keep_days: float | None,
    keep_bytes: int | None,
    now: float | None = None,
) -> dict[str, int]:
    """Delete the synthetic sky's index tiles unused for over ``keep_days``,
    then the least recently used ones while the cache holds more than
    ``keep_bytes`` (None: no bound).  A tile used in the last hour stays.
    Returns ``{"tiles", "bytes", "deleted", "freed"}`` (what is left, what went)."""
    now = time.time() if now is None else now
    tiles = _tiles(cache_dir)
    total = sum(size for _, size, _ in tiles)
    deleted = freed = 0
    for used, size, folder in tiles:
        if now - used < _IN_USE_S:
            continue
        old = keep_days is not None and now - used > keep_days * 86400
        big = keep_bytes is not None and total > keep_bytes
        if not (old or big):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            total -= size
            deleted += 1
            freed += size
    return {"tiles": len(tiles) - deleted, "bytes": total, "deleted": deleted, "freed": freed}


def _write_catalog(path: Path, ra: float, dec: float, radius: float) -> None:
    from astropy.io import fits

    stars, _ = cone(ra, dec, radius, mag_max=_mag_limit(radius))
    cols = [
        fits.Column(name="RA", format="D", array=np.asarray(stars.ra)),
        fits.Column(name="DEC", format="D", array=np.asarray(stars.dec)),
        fits.Column(name="MAG", format="E", array=np.asarray(stars.mag, dtype=np.float32)),
    ]
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    fits.BinTableHDU.from_columns(cols).writeto(tmp, overwrite=True)
    os.replace(tmp, path)
