"""Which astrometry.net index files a field of view needs, and which Debian
packages hold them.

astrometry.net's index files come in scales: scale S holds "skymarks"
(quads of stars) of one range of diameters, the same for the 4100 series
(Tycho-2, scales 7-19) and the 4200 series (2MASS, scales 0-19).  A field
is solved by the scales whose skymarks are about 10 % to 100 % of its size
(astrometry.net's advice): from a tenth of its shorter side to its longer
side.  Debian ships the 4100 series in main (``astrometry-data-tycho2-07``,
``-08``, ``-09``, ``-10-19``) and downloaders of the 4200 series in contrib
(``astrometry-data-2mass-00`` ... ``-07``, ``-08-19``); the Tycho-2 stars
stop near magnitude 12, so fields under about half a degree need 2MASS.

    python -m indiws.analysis.indexes 25x20     # field in arcminutes: what to install
    python -m indiws.analysis.indexes --focal-length 900 --pixel 5.2 --sensor 1280x1024
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SCALES",
    "SYSTEM_INDEX_DIRS",
    "IndexAdvice",
    "advise",
    "field_arcmin",
    "installed_scales",
    "scales_for_field",
]

#: Where Debian's astrometry-data-* packages put their index files.
SYSTEM_INDEX_DIRS: tuple[Path, ...] = (Path("/usr/share/astrometry"),)

#: Skymark diameters of each index scale (arcminutes), as astrometry.net lists them.
SCALES: dict[int, tuple[float, float]] = {
    0: (2.0, 2.8),
    1: (2.8, 4.0),
    2: (4.0, 5.6),
    3: (5.6, 8.0),
    4: (8.0, 11.0),
    5: (11.0, 16.0),
    6: (16.0, 22.0),
    7: (22.0, 30.0),
    8: (30.0, 42.0),
    9: (42.0, 60.0),
    10: (60.0, 85.0),
    11: (85.0, 120.0),
    12: (120.0, 170.0),
    13: (170.0, 240.0),
    14: (240.0, 340.0),
    15: (340.0, 480.0),
    16: (480.0, 680.0),
    17: (680.0, 1000.0),
    18: (1000.0, 1400.0),
    19: (1400.0, 2000.0),
}

# Index file names: index-4107.fits, index-4203-05.fits (healpix tiles), .fits.bz2 ...
_NAME = re.compile(r"^index-4([12])(\d\d)(?:-\d+)?\.fits")


def field_arcmin(
    focal_length_mm: float, pixel_um: float, width_px: int, height_px: int
) -> tuple[float, float]:
    """The field of a sensor behind a focal length: (width, height) in arcminutes."""
    scale = 206.265 * pixel_um / focal_length_mm  # arcsec per pixel
    return width_px * scale / 60.0, height_px * scale / 60.0


def scales_for_field(width_arcmin: float, height_arcmin: float) -> list[int]:
    """Index scales whose skymarks are 10-100 % of the field's size."""
    if not (width_arcmin > 0 and height_arcmin > 0):
        raise ValueError("a field needs a positive width and height (arcminutes)")
    low, high = 0.1 * min(width_arcmin, height_arcmin), max(width_arcmin, height_arcmin)
    return [s for s, (lo, hi) in SCALES.items() if hi > low and lo < high]


def installed_scales(folders: Iterable[Path]) -> dict[int, set[str]]:
    """Index scales present in ``folders``: scale → {"tycho2", "2mass"}."""
    found: dict[int, set[str]] = {}
    for folder in folders:
        try:
            names = [p.name for p in Path(folder).iterdir()]
        except OSError:
            continue
        for name in names:
            m = _NAME.match(name)
            if m:
                series = "tycho2" if m.group(1) == "1" else "2mass"
                found.setdefault(int(m.group(2)), set()).add(series)
    return found


def _tycho2_package(scale: int) -> str | None:
    if scale < 7:
        return None
    return f"astrometry-data-tycho2-{scale:02d}" if scale <= 9 else "astrometry-data-tycho2-10-19"


def _twomass_package(scale: int) -> str:
    return f"astrometry-data-2mass-{scale:02d}" if scale <= 7 else "astrometry-data-2mass-08-19"


@dataclass(slots=True)
class IndexAdvice:
    """What a field needs: its scales, those missing, and the packages."""

    field: tuple[float, float]
    scales: list[int]
    missing: list[int]
    #: Debian main (Tycho-2, installed files) for the scales 7 and up.
    main: list[str]
    #: Debian contrib (2MASS downloaders) for the scales under 7.
    contrib: list[str]

    @property
    def files(self) -> str:
        """The index file names of the missing scales, e.g. ``index-4200..4207``."""
        return _ranges(self.missing)

    def sentence(self) -> str:
        """One line for an error or a terminal: what is missing and what to install."""
        w, h = self.field
        needs = f"this {w:.0f}'×{h:.0f}' field needs index scales {_ranges(self.scales)}"
        if not self.missing:
            return needs + ": all installed"
        packages = [*self.main, *self.contrib]
        text = f"{needs}; missing: {self.files}; install: apt-get install {' '.join(packages)}"
        if self.contrib:
            text += " (the astrometry-data-2mass-* packages are in Debian's contrib and download)"
        return text


def _ranges(scales: Sequence[int]) -> str:
    if not scales:
        return "none"
    names = [f"{4200 + s}" if s < 7 else f"41{s:02d}/42{s:02d}" for s in scales]
    if len(scales) == 1:
        return f"index-{names[0]}"
    return f"index-{names[0]} .. index-{names[-1]}"


def advise(width_arcmin: float, height_arcmin: float, folders: Iterable[Path] = ()) -> IndexAdvice:
    """The index scales a field needs, those not in ``folders``, and the
    Debian packages that hold the missing ones (Tycho-2 from main where it
    exists, 2MASS from contrib below scale 7)."""
    scales = scales_for_field(width_arcmin, height_arcmin)
    have = installed_scales(folders)
    missing = [s for s in scales if s not in have]
    main = sorted({p for s in missing if (p := _tycho2_package(s)) is not None})
    contrib = sorted({_twomass_package(s) for s in missing if s < 7})
    return IndexAdvice((width_arcmin, height_arcmin), scales, missing, main, contrib)


def _size(text: str) -> tuple[float, float]:
    try:
        w, _, h = text.lower().partition("x")
        return float(w), float(h or w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give WIDTHxHEIGHT, e.g. 25x20, not {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Debian packages of the index files a field of view needs."""
    parser = argparse.ArgumentParser(
        prog="python -m indiws.analysis.indexes",
        description="Which astrometry-data-* packages solve a field of view (docs/analysis.md).",
    )
    parser.add_argument("fov", nargs="?", type=_size, help="field in arcminutes, WIDTHxHEIGHT")
    parser.add_argument("--focal-length", type=float, metavar="MM")
    parser.add_argument("--pixel", type=float, metavar="UM", help="pixel size, micrometres")
    parser.add_argument("--sensor", type=_size, metavar="WxH", help="sensor size in pixels")
    parser.add_argument(
        "--packages",
        choices=("all", "main", "contrib"),
        const="all",
        nargs="?",
        help="print only the package names (for apt-get): all, or those of Debian's main "
        "(Tycho-2, installed files) or contrib (2MASS downloaders)",
    )
    args = parser.parse_args(argv)
    if args.fov is not None:
        width, height = args.fov
    elif args.focal_length and args.pixel and args.sensor:
        width, height = field_arcmin(args.focal_length, args.pixel, *map(int, args.sensor))
    else:
        parser.error("give the field (25x20 arcminutes), or --focal-length, --pixel and --sensor")
    advice = advise(width, height, SYSTEM_INDEX_DIRS)
    if args.packages:
        chosen = {"all": [*advice.main, *advice.contrib], "main": advice.main}
        print(" ".join(chosen.get(args.packages, advice.contrib)))
    else:
        print(advice.sentence())
    return 0


if __name__ == "__main__":
    sys.exit(main())
