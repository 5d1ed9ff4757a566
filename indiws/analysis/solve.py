"""Plate solving with astrometry.net's ``solve-field``.

The stars are found by `stars.star_positions` (the same detection as the
analysis) and handed to ``solve-field`` as an xy-list, so astrometry.net's
own source extraction does not run.  A hint (where the mount points, how far
it may be off, the pixel scale) keeps the search to the index files and
scales that matter; ``cpulimit`` bounds the solver's own time.  The index
files are the system's (``/usr/share/astrometry``, Debian's
astrometry-data-* packages) plus any given, such as the synthetic sky's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .frames import FrameData
from .indexes import SYSTEM_INDEX_DIRS, IndexAdvice, advise, installed_scales
from .stars import star_positions
from .worker import run_off_loop

__all__ = [
    "SYSTEM_INDEX_DIRS",
    "MIN_STARS",
    "MissingIndexError",
    "SolveError",
    "SolveFailed",
    "SolveHint",
    "solve_frame",
    "solve_stars",
]

#: Fewer stars than this cannot make a reliable match.
MIN_STARS = 8


class SolveError(RuntimeError):
    """The solver could not run (not installed, bad input)."""


class SolveFailed(SolveError):
    """The solver ran but found no solution."""


class MissingIndexError(SolveError):
    """No installed index file covers the field: the message names the
    index scales and the Debian packages that hold them."""


@dataclass(slots=True)
class SolveHint:
    """What is known before solving: J2000 centre (degrees) and how far off it
    may be, and the pixel scale (arcsec/px) and how far off that may be."""

    ra: float | None = None
    dec: float | None = None
    radius: float = 2.0
    scale: float | None = None
    scale_error: float = 0.2


def _write_xylist(path: Path, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
    from astropy.io import fits

    cols = [
        # FITS pixel convention: the first pixel's centre is 1.
        fits.Column(name="X", format="D", array=x + 1.0),
        fits.Column(name="Y", format="D", array=y + 1.0),
        fits.Column(name="FLUX", format="D", array=flux),
    ]
    fits.BinTableHDU.from_columns(cols).writeto(path, overwrite=True)


def _read_wcs(path: Path, width: int, height: int) -> dict[str, Any]:
    from astropy.io import fits

    header = fits.getheader(path)
    cd11, cd12 = float(header.get("CD1_1", 0.0)), float(header.get("CD1_2", 0.0))
    cd21, cd22 = float(header.get("CD2_1", 0.0)), float(header.get("CD2_2", 0.0))
    det = cd11 * cd22 - cd12 * cd21
    scale = math.sqrt(abs(det)) * 3600.0
    # Angle of the image's +y axis from north through east (N.I.N.A./Ekos style).
    rotation = math.degrees(math.atan2(cd12, cd22)) % 360.0
    ra_deg, dec = float(header["CRVAL1"]) % 360.0, float(header["CRVAL2"])
    return {
        "ra": ra_deg / 15.0,
        "dec": dec,
        "ra_deg": ra_deg,
        "epoch": "J2000",
        "rotation": round(rotation, 3),
        "pixel_scale": round(scale, 4),
        "parity": "normal" if det < 0 else "flipped",
        "field_width": round(width * scale / 60.0, 3),
        "field_height": round(height * scale / 60.0, 3),
    }


def _check_indexes(width: int, height: int, hint: SolveHint) -> IndexAdvice | None:
    """What the system's index files lack for this field (None: scale unknown);
    `MissingIndexError` when they hold none of the scales it needs."""
    if not hint.scale:
        if not installed_scales(SYSTEM_INDEX_DIRS):
            where = ", ".join(str(d) for d in SYSTEM_INDEX_DIRS)
            raise MissingIndexError(
                f"no astrometry.net index files in {where}: install Debian's astrometry-data-* "
                "packages for your field (`python -m indiws.analysis.indexes WIDTHxHEIGHT` "
                "in arcminutes says which; docs/analysis.md)"
            )
        return None
    advice = advise(width * hint.scale / 60.0, height * hint.scale / 60.0, SYSTEM_INDEX_DIRS)
    if len(advice.missing) == len(advice.scales):
        raise MissingIndexError(f"no index file can solve it: {advice.sentence()}")
    return advice


def _config(folder: Path, index_files: Sequence[Path], cpulimit: float) -> Path:
    lines = [f"cpulimit {math.ceil(cpulimit)}"]
    lines += [f"add_path {d}" for d in SYSTEM_INDEX_DIRS if d.is_dir()]
    lines.append("autoindex")
    lines += [f"index {p}" for p in index_files]
    path = folder / "astrometry.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


async def solve_stars(
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    width: int,
    height: int,
    *,
    hint: SolveHint | None = None,
    index_files: Sequence[Path] = (),
    time_limit: float = 30.0,
) -> dict[str, Any]:
    """Solve a field from its stars (0-based pixel positions, brightest first).

    Result: ``ra`` (hours), ``dec``, ``ra_deg`` (J2000, the frame's centre),
    ``rotation`` (degrees), ``pixel_scale`` (arcsec/px), ``parity``,
    ``field_width``/``field_height`` (arcmin), ``stars``, ``seconds``.
    SolveFailed when there is no solution within ``time_limit`` seconds."""
    exe = shutil.which("solve-field")
    if exe is None:
        raise SolveError(
            "solve-field not found: install Debian's astrometry.net (`make setup` does)"
        )
    if len(x) < MIN_STARS:
        raise SolveFailed(f"too few stars to solve: {len(x)} found, {MIN_STARS} needed")
    hint = hint or SolveHint()
    advice = None if index_files else _check_indexes(width, height, hint)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="indiws-solve-") as tmp:
        folder = Path(tmp)
        xyls = folder / "field.xyls"
        await asyncio.to_thread(_write_xylist, xyls, x, y, flux)
        cmd = [
            exe, str(xyls), "--dir", str(folder), "--config",
            str(_config(folder, index_files, time_limit)),
            "--width", str(width), "--height", str(height),
            "--x-column", "X", "--y-column", "Y", "--sort-column", "FLUX",
            "--no-plots", "--overwrite", "--no-tweak", "--crpix-center",
            "--cpulimit", str(math.ceil(time_limit)),
            "--new-fits", "none", "--index-xyls", "none", "--rdls", "none",
            "--corr", "none", "--match", "none",
        ]  # fmt: skip
        if hint.ra is not None and hint.dec is not None:
            cmd += ["--ra", f"{hint.ra % 360:.6f}", "--dec", f"{hint.dec:.6f}"]
            cmd += ["--radius", f"{max(hint.radius, 0.1):.3f}"]
        if hint.scale:
            low, high = hint.scale * (1 - hint.scale_error), hint.scale * (1 + hint.scale_error)
            cmd += ["--scale-units", "arcsecperpix"]
            cmd += ["--scale-low", f"{low:.4f}", "--scale-high", f"{high:.4f}"]
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), time_limit + 15.0)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        wcs = folder / "field.wcs"
        if not wcs.exists():
            tail = " / ".join(out.decode(errors="replace").strip().splitlines()[-2:])
            raise SolveFailed(
                f"no solution within {time_limit:g} s from {len(x)} stars"
                + (f" ({tail})" if proc.returncode else "")
                + (f"; {advice.sentence()}" if advice is not None and advice.missing else "")
            )
        result = await asyncio.to_thread(_read_wcs, wcs, width, height)
    result["stars"] = int(len(x))
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


async def solve_frame(
    frame: FrameData,
    *,
    hint: SolveHint | None = None,
    index_files: Sequence[Path] = (),
    time_limit: float = 30.0,
) -> dict[str, Any]:
    """Find the frame's stars (off the event loop) and `solve_stars` them."""
    x, y, flux = await run_off_loop(star_positions, frame)
    height, width = frame.pixels.shape
    if hint is not None and hint.scale is None:
        hint.scale = frame.pixel_scale
    return await solve_stars(
        x, y, flux, width, height, hint=hint, index_files=index_files, time_limit=time_limit
    )
