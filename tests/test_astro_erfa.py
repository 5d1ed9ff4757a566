"""J2000 ↔ JNow through ERFA agrees with astropy's FK5 → TETE, and the
service never loads astropy's coordinate machinery (about 100 MB)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from datetime import UTC, datetime

import pytest

from indiws.devices import astro


@pytest.mark.parametrize(
    ("ra", "dec", "when"),
    [
        (5.5881, -5.3911, datetime(2026, 1, 15, 21, 0, tzinfo=UTC)),  # M42
        (0.7123, 41.2692, datetime(2026, 9, 1, 2, 30, tzinfo=UTC)),  # M31
        (2.5303, 89.2641, datetime(2026, 12, 21, 23, 59, 59, tzinfo=UTC)),  # Polaris
        (18.6156, 38.7837, datetime(2031, 6, 30, 12, 0, tzinfo=UTC)),  # Vega, years on
        (12.0, -85.0, datetime(2024, 3, 20, 3, 6, tzinfo=UTC)),
    ],
)
def test_jnow_agrees_with_astropy_within_an_arc_second(
    ra: float, dec: float, when: datetime
) -> None:
    from astropy import units as u
    from astropy.coordinates import FK5, TETE, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("auto_max_age", None),
        iers.conf.set_temp("iers_degraded_accuracy", "ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        expected = SkyCoord(ra=ra * u.hourangle, dec=dec * u.deg, frame=FK5(equinox="J2000"))
        expected = expected.transform_to(TETE(obstime=Time(when)))
    jnow = astro.j2000_to_jnow(ra, dec, when)
    assert astro.angular_distance(*jnow, expected.ra.hour, expected.dec.deg) * 3600 < 1.0
    back = astro.jnow_to_j2000(*jnow, when)
    assert astro.angular_distance(*back, ra, dec) * 3600 < 0.01


def test_the_service_does_not_load_astropy_coordinates() -> None:
    code = (
        "import sys, indiws.web.app\n"
        "from indiws.devices import astro\n"
        "astro.j2000_to_jnow(5.5, 22.0); astro.jnow_to_j2000(5.5, 22.0)\n"
        "print(sorted(m for m in sys.modules if m.startswith('astropy.coordinates')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
