"""When a target can be taken: altitudes of a target and of the Sun, the
first time a plan's constraints hold, and the hour angle that decides a
meridian flip.

Pure functions (no I/O, no astropy): the target's altitude from the local
sidereal time (`indiws.devices.astro`), the Sun from the low-precision
formulae of the Astronomical Almanac (about 0.01°: ample for twilight and
horizons).  J2000 coordinates are used as they are: precession moves a
target by well under a degree in these decades, within what an altitude
limit needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from ..devices import astro

__all__ = [
    "altitude",
    "first_time",
    "hour_angle",
    "sun_altitude",
    "sun_radec",
]


def hour_angle(ra: float, longitude: float, when: datetime) -> float:
    """Hour angle in hours (-12..12, positive west) of RA (hours) at an east longitude."""
    return astro.hour_angle(ra, astro.local_sidereal_time(longitude, when))


def altitude(ra: float, dec: float, latitude: float, longitude: float, when: datetime) -> float:
    """Altitude in degrees of RA (hours) / Dec (degrees) seen from the site at ``when``."""
    alt, _ = astro.altaz_from_hadec(hour_angle(ra, longitude, when), dec, latitude)
    return alt


def sun_radec(when: datetime) -> tuple[float, float]:
    """The Sun's RA (hours) and Dec (degrees) at ``when`` (about 0.01°)."""
    jd = when.timestamp() / 86400.0 + 2440587.5
    n = jd - 2451545.0
    mean_long = (280.460 + 0.9856474 * n) % 360.0
    anomaly = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_long = math.radians(mean_long + 1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(obliquity) * math.sin(ecl_long), math.cos(ecl_long))
    dec = math.asin(math.sin(obliquity) * math.sin(ecl_long))
    return (math.degrees(ra) / 15.0) % 24.0, math.degrees(dec)


def sun_altitude(latitude: float, longitude: float, when: datetime) -> float:
    """The Sun's altitude in degrees (no refraction) seen from the site at ``when``."""
    ra, dec = sun_radec(when)
    return altitude(ra, dec, latitude, longitude, when)


def first_time(
    ok: Callable[[datetime], bool],
    start: datetime,
    *,
    within: timedelta = timedelta(hours=24),
    step: timedelta = timedelta(minutes=2),
) -> datetime | None:
    """The first time from ``start`` (to ``step``, then refined to 5 s) when
    ``ok`` holds, or None when it does not within ``within``."""
    if ok(start):
        return start
    when, end = start, start + within
    while when < end:
        nxt = when + step
        if ok(nxt):
            lo, hi = when, nxt
            while hi - lo > timedelta(seconds=5):
                mid = lo + (hi - lo) / 2
                if ok(mid):
                    hi = mid
                else:
                    lo = mid
            return hi
        when = nxt
    return None
