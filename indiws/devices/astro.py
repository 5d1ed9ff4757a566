"""Sky coordinates for the telescope verbs.

INDI mounts take and report *JNow* in ``EQUATORIAL_EOD_COORD``: apparent
geocentric coordinates of date, which INDI's libnova code computes from
J2000 with precession, nutation and annual aberration.  Astropy's TETE
frame (true equator, true equinox of date) is that same frame.  J2000 ↔
JNow is computed with ERFA (``pyerfa``, the library under astropy's
coordinates): ICRS ↔ CIRS with ``atci13``/``atic13`` (precession-nutation,
aberration, light deflection), then the equation of the origins turns the
CIRS right ascension into one counted from the true equinox.  That agrees
with astropy's FK5(J2000) → TETE to milli-arcseconds (tested) and costs
microseconds and no memory: ``astropy.coordinates`` alone weighs about
100 MB in a process, too much for the small computers at a telescope.

Sidereal time and the HA/Dec ↔ Alt/Az rotation use the closed formulas that
INDI drivers use themselves (Meeus: GMST plus the equation of the equinoxes;
no refraction, no polar motion, UT1 taken as UTC).  They cost microseconds,
need no IERS tables, and agree with what the driver computes, so a target
given in Alt/Az ends where the driver (and `Telescope.position`) reports
that Alt/Az.  Astropy's AltAz frame agrees with them to arc seconds (tested).

No table is downloaded: ERFA carries its own leap seconds, and UT1 is taken
as UTC (well under the 0.9 s that separates them, a few arc seconds of sky
rotation that the mount's own JNow does not include either).
"""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime

import erfa

__all__ = [
    "altaz_from_hadec",
    "angular_distance",
    "hadec_from_altaz",
    "hour_angle",
    "j2000_to_jnow",
    "jnow_to_j2000",
    "local_sidereal_time",
    "longitude_east",
    "longitude_indi",
]


def _now(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as an aware datetime.

    ValueError names the text when it is not one."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"utc must be an ISO 8601 time, got {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def j2000_to_jnow(ra: float, dec: float, when: datetime | None = None) -> tuple[float, float]:
    """J2000 (FK5) RA hours, Dec degrees → JNow (TETE of ``when``, default now)."""
    return _convert(ra, dec, _now(when), to_jnow=True)


def jnow_to_j2000(ra: float, dec: float, when: datetime | None = None) -> tuple[float, float]:
    """JNow (TETE of ``when``) RA hours, Dec degrees → J2000 (FK5)."""
    return _convert(ra, dec, _now(when), to_jnow=False)


def _tt(when: datetime) -> tuple[float, float]:
    """The two-part Julian date (TT) of a UTC time, as ERFA takes it."""
    utc = when.astimezone(UTC)
    seconds = utc.second + utc.microsecond / 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ERFA's "dubious year" far from its leap-second table
        utc1, utc2 = erfa.dtf2d("UTC", utc.year, utc.month, utc.day, utc.hour, utc.minute, seconds)
        tai1, tai2 = erfa.utctai(utc1, utc2)
        return erfa.taitt(tai1, tai2)


def _convert(ra: float, dec: float, when: datetime, *, to_jnow: bool) -> tuple[float, float]:
    tt1, tt2 = _tt(when)
    a, d = math.radians(ra * 15.0), math.radians(dec)
    if to_jnow:
        # CIRS place, then counted from the true equinox: RA = RA_cirs - eo.
        ri, di, eo = erfa.atci13(a, d, 0.0, 0.0, 0.0, 0.0, tt1, tt2)
        out_ra, out_dec = erfa.anp(ri - eo), di
    else:
        eo = erfa.eo06a(tt1, tt2)
        out_ra, out_dec, _ = erfa.atic13(erfa.anp(a + eo), d, tt1, tt2)
    return (math.degrees(float(out_ra)) / 15.0) % 24.0, math.degrees(float(out_dec))


def local_sidereal_time(longitude: float, when: datetime | None = None) -> float:
    """Apparent local sidereal time in hours for an east longitude in degrees."""
    t = _now(when)
    jd = t.timestamp() / 86400.0 + 2440587.5
    d = jd - 2451545.0
    c = d / 36525.0
    gmst = 280.46061837 + 360.98564736629 * d + 0.000387933 * c * c - c**3 / 38710000.0
    # Equation of the equinoxes (nutation in longitude × cos obliquity), Meeus ch. 22.
    omega = math.radians(125.04452 - 1934.136261 * c)
    sun = math.radians(280.4665 + 36000.7698 * c)
    moon = math.radians(218.3165 + 481267.8813 * c)
    dpsi = (
        -17.20 * math.sin(omega)
        - 1.32 * math.sin(2 * sun)
        - 0.23 * math.sin(2 * moon)
        + 0.21 * math.sin(2 * omega)
    ) / 3600.0
    eps = math.radians(23.439291 - 0.0130042 * c)
    return ((gmst + dpsi * math.cos(eps) + longitude) / 15.0) % 24.0


def hour_angle(ra: float, lst: float) -> float:
    """Hour angle in hours, -12 ≤ HA < 12 (positive west of the meridian)."""
    return (lst - ra + 12.0) % 24.0 - 12.0


def altaz_from_hadec(ha: float, dec: float, latitude: float) -> tuple[float, float]:
    """(altitude, azimuth) in degrees; azimuth from north through east."""
    h, d, lat = math.radians(ha * 15.0), math.radians(dec), math.radians(latitude)
    sin_alt = math.sin(d) * math.sin(lat) + math.cos(d) * math.cos(lat) * math.cos(h)
    alt = math.asin(max(-1.0, min(1.0, sin_alt)))
    az = math.atan2(
        -math.cos(d) * math.sin(h),
        math.sin(d) * math.cos(lat) - math.cos(d) * math.sin(lat) * math.cos(h),
    )
    az_deg = math.degrees(az) % 360.0
    return math.degrees(alt), 0.0 if az_deg >= 360.0 else az_deg


def hadec_from_altaz(alt: float, az: float, latitude: float) -> tuple[float, float]:
    """(hour angle in hours, declination in degrees) of an Alt/Az direction."""
    a, z, lat = math.radians(alt), math.radians(az), math.radians(latitude)
    sin_dec = math.sin(a) * math.sin(lat) + math.cos(a) * math.cos(lat) * math.cos(z)
    dec = math.asin(max(-1.0, min(1.0, sin_dec)))
    h = math.atan2(
        -math.sin(z) * math.cos(a),
        math.sin(a) * math.cos(lat) - math.cos(a) * math.sin(lat) * math.cos(z),
    )
    return (math.degrees(h) / 15.0 + 12.0) % 24.0 - 12.0, math.degrees(dec)


def angular_distance(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees between two RA (hours)/Dec (degrees) points."""
    r1, d1, r2, d2 = (
        math.radians(ra1 * 15),
        math.radians(dec1),
        math.radians(ra2 * 15),
        math.radians(dec2),
    )
    # Haversine: well conditioned for the small distances near the end of a slew.
    s = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(s))))


def longitude_east(indi_longitude: float) -> float:
    """INDI's 0..360 east longitude → -180..180 (east positive)."""
    return (indi_longitude + 180.0) % 360.0 - 180.0


def longitude_indi(longitude: float) -> float:
    """-180..360 east longitude → INDI's 0..360."""
    return longitude % 360.0
