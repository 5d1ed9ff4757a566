"""Which astrometry.net index files a field needs, the Debian packages that
hold them, and the solver's error when they are missing (no server: the
solver runs on star positions; no index package is installed here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indiws.analysis import indexes, solve
from indiws.analysis.indexes import advise, field_arcmin, main, scales_for_field
from indiws.analysis.solve import MissingIndexError, SolveHint, solve_stars


def test_a_field_needs_the_scales_of_a_tenth_to_all_of_its_size() -> None:
    # INDI's CCD simulator at 900 mm: 1280×1024 pixels of 5.2 µm.
    width, height = field_arcmin(900, 5.2, 1280, 1024)
    assert (round(width, 1), round(height, 1)) == (25.4, 20.3)
    # Skymarks from 2.0' (a tenth of 20.3') to 25.4': scales 0 (2.0-2.8') to 7 (22-30').
    assert scales_for_field(width, height) == list(range(8))
    # A 3°×2° wide field: 12' to 180': scales 5 (11-16') to 13 (170-240').
    assert scales_for_field(180, 120) == list(range(5, 14))
    with pytest.raises(ValueError):
        scales_for_field(0, 10)


def test_the_debian_packages_of_the_missing_scales(tmp_path: Path) -> None:
    advice = advise(180, 120, [tmp_path])
    assert advice.missing == advice.scales
    assert advice.main == [
        "astrometry-data-tycho2-07",
        "astrometry-data-tycho2-08",
        "astrometry-data-tycho2-09",
        "astrometry-data-tycho2-10-19",
    ]
    assert advice.contrib == ["astrometry-data-2mass-05", "astrometry-data-2mass-06"]
    # Installed files count, as Debian names them (4100 whole, 4200 in tiles).
    for name in (
        "index-4205-00.fits",
        "index-4205-01.fits",
        "index-4206-47.fits",
        "index-4107.fits",
    ):
        (tmp_path / name).write_bytes(b"")
    advice = advise(180, 120, [tmp_path])
    assert advice.missing == [8, 9, 10, 11, 12, 13]
    assert advice.contrib == [] and "astrometry-data-tycho2-07" not in advice.main
    assert "index-4108/4208 .. index-4113/4213" in advice.sentence()


def test_the_command_line_says_what_to_install(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--focal-length", "900", "--pixel", "5.2", "--sensor", "1280x1024"]) == 0
    out = capsys.readouterr().out
    assert "25'×20' field needs index scales index-4200 .. index-4107/4207" in out
    assert "astrometry-data-2mass-00" in out and "astrometry-data-tycho2-07" in out
    assert main(["25x20", "--packages"]) == 0
    assert capsys.readouterr().out.split() == [
        "astrometry-data-tycho2-07",
        *(f"astrometry-data-2mass-{s:02d}" for s in range(7)),
    ]


async def test_the_solver_names_the_index_files_a_field_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(solve, "SYSTEM_INDEX_DIRS", (tmp_path,))
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 1280, 40), rng.uniform(0, 1024, 40)
    flux = np.sort(rng.uniform(100, 1000, 40))[::-1]
    with pytest.raises(MissingIndexError) as err:
        await solve_stars(x, y, flux, 1280, 1024, hint=SolveHint(scale=1.19))
    text = str(err.value)
    assert "index-4200 .. index-4107/4207" in text
    assert "apt-get install astrometry-data-tycho2-07 astrometry-data-2mass-00" in text
    # With no pixel scale known: said generically, with where to look.
    with pytest.raises(MissingIndexError, match=r"indiws.analysis.indexes"):
        await solve_stars(x, y, flux, 1280, 1024, hint=SolveHint())
    assert indexes.installed_scales([tmp_path]) == {}
