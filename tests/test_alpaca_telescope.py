"""The Telescope's manual slewing (MoveAxis) and Alt/Az slews through Alpaca,
driven by alpyca as N.I.N.A. does, against the Observatory profile's
telescope simulator: each axis moves the way its rate's sign says (read
through Alpaca and through the service's own view of the mount), Rate 0 and
AbortSlew stop it, and rates the mount cannot do, a parked mount and an
unsafe observatory are refused; an Alt/Az slew ends where it was sent; the
tracking rates are the mount's track modes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from alpaca.exceptions import (
    InvalidOperationException,
    InvalidValueException,
    ParkedException,
)
from alpaca.safetymonitor import SafetyMonitor
from alpaca.telescope import DriveRates, Telescope, TelescopeAxes
from alpaca_support import alpaca_service, connected, until, weather

from indiws.browser_testing import ServiceProcess
from indiws.devices.telescope import SIDEREAL_DEG_PER_S

pytestmark = pytest.mark.slow

#: The telescope simulator's slew rates, deg/s (measured: bench/slew_rates.py).
SIMULATOR_RATES = [SIDEREAL_DEG_PER_S, 0.5, 2.5, 6.0]
FAST = 2.5


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # No close-up: an unsafe sky must refuse MoveAxis itself, not park first.
    with alpaca_service(
        tmp_path_factory.mktemp("alpaca-telescope"), "--safety-actions", "none"
    ) as service:
        yield service


@pytest.fixture
def scope(svc: ServiceProcess) -> Iterator[Telescope]:
    """The telescope unparked, tracking, an hour west of the meridian at Dec 20°;
    both axes stopped afterwards."""
    t = connected(Telescope(svc.alpaca, 0))  # type: ignore[attr-defined]
    if t.AtPark:
        t.Unpark()
    t.Tracking = True
    t.SlewToCoordinatesAsync((t.SiderealTime - 1.0) % 24, 20.0)
    until(lambda: not t.Slewing, 120)
    try:
        yield t
    finally:
        for axis in (TelescopeAxes.axisPrimary, TelescopeAxes.axisSecondary):
            if not t.AtPark:
                t.MoveAxis(axis, 0)


def service_radec(svc: ServiceProcess) -> tuple[float, float]:
    """RA (hours) and Dec the service itself reads from the mount (REST API)."""
    r = requests.get(
        f"{svc.url}/api/v1/devices/Telescope%20Simulator/properties/EQUATORIAL_EOD_COORD",
        timeout=10,
    )
    r.raise_for_status()
    values = {e["name"]: e["value"] for e in r.json()["elements"]}
    return float(values["RA"]), float(values["DEC"])


def stops(t: Telescope) -> None:
    """``Slewing`` ends, and a second later the mount has not moved on
    (2.5°/s if it had)."""
    until(lambda: not t.Slewing, 30)
    ra, dec = t.RightAscension, t.Declination
    time.sleep(1.0)
    assert abs(ra_degrees(ra, t.RightAscension)) < 0.05
    assert abs(t.Declination - dec) < 0.05


def ra_degrees(a: float, b: float) -> float:
    """b - a for RAs in hours, in degrees, across 0h."""
    return ((b - a + 12) % 24 - 12) * 15


def test_axis_rates_are_the_mounts_measured_slew_rates(svc: ServiceProcess) -> None:
    t = connected(Telescope(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert t.CanMoveAxis(TelescopeAxes.axisPrimary) is True
    assert t.CanMoveAxis(TelescopeAxes.axisSecondary) is True
    assert t.CanMoveAxis(TelescopeAxes.axisTertiary) is False
    for axis in (TelescopeAxes.axisPrimary, TelescopeAxes.axisSecondary):
        rates = t.AxisRates(axis)
        assert [r.Minimum for r in rates] == pytest.approx(SIMULATOR_RATES)
        assert [r.Maximum for r in rates] == pytest.approx(SIMULATOR_RATES)
    assert t.AxisRates(TelescopeAxes.axisTertiary) == []


@pytest.mark.parametrize(
    ("axis", "sign"),
    [
        (TelescopeAxes.axisPrimary, 1),
        (TelescopeAxes.axisPrimary, -1),
        (TelescopeAxes.axisSecondary, 1),
        (TelescopeAxes.axisSecondary, -1),
    ],
)
def test_move_axis_moves_the_way_the_sign_says_and_rate_0_stops(
    svc: ServiceProcess, scope: Telescope, axis: TelescopeAxes, sign: int
) -> None:
    t = scope
    ra0, dec0 = t.RightAscension, t.Declination
    own_ra0, own_dec0 = service_radec(svc)
    assert not t.Slewing
    t.MoveAxis(axis, sign * FAST)
    assert t.Slewing  # a moving axis is a slew (ITelescopeV4)

    def moved() -> float:
        if axis == TelescopeAxes.axisPrimary:
            return ra_degrees(ra0, t.RightAscension)
        return t.Declination - dec0

    until(lambda: abs(moved()) >= 2.0, 30, 0.05)
    t.MoveAxis(axis, 0)
    until(lambda: not t.Slewing, 30)
    # Primary +: east, RA grows; secondary +: north, Dec grows.  The other
    # axis stays where it was.
    own_ra, own_dec = service_radec(svc)
    if axis == TelescopeAxes.axisPrimary:
        assert sign * ra_degrees(ra0, t.RightAscension) >= 2.0
        assert sign * ra_degrees(own_ra0, own_ra) >= 2.0
        assert abs(t.Declination - dec0) < 0.05
    else:
        assert sign * (t.Declination - dec0) >= 2.0
        assert sign * (own_dec - own_dec0) >= 2.0
        assert abs(ra_degrees(ra0, t.RightAscension)) < 0.05
    stops(t)


def test_abort_slew_stops_a_moving_axis(scope: Telescope) -> None:
    t = scope
    t.MoveAxis(TelescopeAxes.axisSecondary, -FAST)
    assert t.Slewing
    t.AbortSlew()
    stops(t)


def test_a_client_that_disconnects_leaves_no_axis_moving(
    svc: ServiceProcess, scope: Telescope
) -> None:
    """A hand box that lets go (N.I.N.A. disconnecting, closing) sends no
    release any more: the axes it set moving stop."""
    t = scope
    t.MoveAxis(TelescopeAxes.axisSecondary, FAST)
    assert t.Slewing
    t.Connected = False
    stops(connected(Telescope(svc.alpaca, 0)))  # type: ignore[attr-defined]


def test_rates_the_mount_cannot_do_are_invalid_values(
    svc: ServiceProcess, scope: Telescope
) -> None:
    t = scope
    for rate in (1.0, -1.0, 100.0, 0.001):
        with pytest.raises(InvalidValueException, match="not a rate of this mount"):
            t.MoveAxis(TelescopeAxes.axisPrimary, rate)
    assert not t.Slewing
    body = requests.put(
        f"http://{svc.alpaca}/api/v1/telescope/0/moveaxis",  # type: ignore[attr-defined]
        data={"Axis": "3", "Rate": "2.5"},
        timeout=10,
    ).json()
    assert body["ErrorNumber"] == 0x401
    # One slew rate drives both INDI axes: another speed on the other axis
    # while one moves is refused rather than silently changing both.
    t.MoveAxis(TelescopeAxes.axisPrimary, FAST)
    with pytest.raises(InvalidOperationException, match="one slew rate"):
        t.MoveAxis(TelescopeAxes.axisSecondary, 0.5)
    t.MoveAxis(TelescopeAxes.axisSecondary, -FAST)  # the same speed is fine
    t.MoveAxis(TelescopeAxes.axisPrimary, 0)
    t.MoveAxis(TelescopeAxes.axisSecondary, 0)
    until(lambda: not t.Slewing, 30)


def test_a_parked_mount_refuses_move_axis_and_alt_az_slews(scope: Telescope) -> None:
    t = scope
    t.SetPark()  # park where it is: no long slew to the default park position
    t.Park()
    until(lambda: t.AtPark and not t.Slewing, 120)
    try:
        with pytest.raises(ParkedException):
            t.MoveAxis(TelescopeAxes.axisPrimary, FAST)
        with pytest.raises(ParkedException):
            t.MoveAxis(TelescopeAxes.axisSecondary, 0)
        with pytest.raises(ParkedException):
            t.SlewToAltAzAsync(150.0, 40.0)
        assert not t.Slewing
    finally:
        t.Unpark()


def test_an_unsafe_observatory_refuses_move_axis_but_lets_it_stop(
    svc: ServiceProcess, scope: Telescope
) -> None:
    t = scope
    s = connected(SafetyMonitor(svc.alpaca, 0))  # type: ignore[attr-defined]
    t.MoveAxis(TelescopeAxes.axisPrimary, FAST)
    weather(svc, 10)
    try:
        until(lambda: s.IsSafe is False, 60)
        with pytest.raises(InvalidOperationException, match="unsafe"):
            t.MoveAxis(TelescopeAxes.axisSecondary, FAST)
        t.MoveAxis(TelescopeAxes.axisPrimary, 0)  # stopping is always allowed
        until(lambda: not t.Slewing, 30)
        with pytest.raises(InvalidOperationException, match="unsafe"):
            t.MoveAxis(TelescopeAxes.axisPrimary, -FAST)
        assert not t.Slewing
    finally:
        weather(svc, 0)
    until(lambda: s.IsSafe is True, 60)


def test_slew_to_alt_az_ends_where_it_was_sent(svc: ServiceProcess, scope: Telescope) -> None:
    t = scope
    assert t.CanSlewAltAz is True and t.CanSlewAltAzAsync is True
    # Targets a few degrees from where it points: short slews.
    alt0, az0 = t.Altitude, t.Azimuth
    assert alt0 > 20
    with pytest.raises(InvalidOperationException, match="Tracking off"):
        t.SlewToAltAzAsync(az0, alt0)  # ITelescopeV4: not while tracking
    t.Tracking = False
    with pytest.raises(InvalidValueException):
        t.SlewToAltAzAsync(361.0, alt0)
    with pytest.raises(InvalidValueException):
        t.SlewToAltAzAsync(az0, 91.0)
    alt, az = alt0 - 5.0, (az0 + 5.0) % 360
    t.SlewToAltAzAsync(az, alt)
    assert t.Slewing  # answered at once, reported through Slewing
    until(lambda: not t.Slewing, 120)
    assert abs(t.Altitude - alt) < 0.1
    assert abs((t.Azimuth - az + 180) % 360 - 180) < 0.1
    assert t.Tracking is False  # a place, not a star: it stays there
    # The synchronous one answers once arrived (alpyca refuses to send it:
    # deprecated for clients, still a member of the interface).
    alt, az = alt0, az0
    body = requests.put(
        f"http://{svc.alpaca}/api/v1/telescope/0/slewtoaltaz",  # type: ignore[attr-defined]
        data={"Azimuth": str(az), "Altitude": str(alt)},
        timeout=120,
    ).json()
    assert body["ErrorNumber"] == 0, body
    assert not t.Slewing
    assert abs(t.Altitude - alt) < 0.1
    assert abs((t.Azimuth - az + 180) % 360 - 180) < 0.1
    # The service's own reading of the mount agrees with Alpaca's.
    ra, dec = service_radec(svc)
    assert abs(ra_degrees(ra, t.RightAscension)) < 0.05
    assert abs(dec - t.Declination) < 0.05


def service_track_mode(svc: ServiceProcess) -> list[str]:
    """The TELESCOPE_TRACK_MODE switches on, as the service reads them."""
    r = requests.get(
        f"{svc.url}/api/v1/devices/Telescope%20Simulator/properties/TELESCOPE_TRACK_MODE",
        timeout=10,
    )
    r.raise_for_status()
    return [e["name"] for e in r.json()["elements"] if e["value"] in (True, "On")]


def test_tracking_rates_are_the_mounts_track_modes(svc: ServiceProcess, scope: Telescope) -> None:
    t = scope
    # The simulator: sidereal, solar, lunar (and custom, which has no DriveRate).
    assert sorted(t.TrackingRates) == [
        DriveRates.driveSidereal,
        DriveRates.driveLunar,
        DriveRates.driveSolar,
    ]
    assert t.TrackingRate == DriveRates.driveSidereal
    try:
        t.TrackingRate = DriveRates.driveLunar
        assert t.TrackingRate == DriveRates.driveLunar
        assert service_track_mode(svc) == ["TRACK_LUNAR"]
        t.TrackingRate = DriveRates.driveSolar
        assert service_track_mode(svc) == ["TRACK_SOLAR"]
        with pytest.raises(InvalidValueException):
            t.TrackingRate = DriveRates.driveKing
        assert t.TrackingRate == DriveRates.driveSolar
    finally:
        t.TrackingRate = DriveRates.driveSidereal
    assert service_track_mode(svc) == ["TRACK_SIDEREAL"]
