"""Telescope verbs against INDI's telescope simulator.

The simulator slews at about 6° per second per axis, so each test first
syncs the mount close to its target: the slews stay short.  The tests run
on their own indiserver (one per module): they change the site, the park
position and the tracking state, which other tests should not see.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from astropy import units as u
from astropy.coordinates import FK5, TETE, AltAz, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from indiws.client import (
    INDIClient,
    InvalidValueError,
    ReadOnlyPropertyError,
    UnknownElementError,
    UnknownPropertyError,
)
from indiws.devices import (
    ActionAborted,
    ActionTimeout,
    CapabilityError,
    DeviceStateError,
    Telescope,
    astro,
    running_actions,
    subscribe_actions,
)
from indiws.devices.errors import UnsafeError
from indiws.devices.guard import set_safety_guard
from indiws.devices.telescope import SIDEREAL_DEG_PER_S
from indiws.protocol import PropertyState
from indiws.testing import IndiServerProcess, ra_east_of_meridian

# No network here: astropy's bundled (stale) IERS tables are good enough to
# compare with (the service itself no longer uses astropy for coordinates).
iers.conf.auto_download = False
iers.conf.auto_max_age = None
iers.conf.iers_degraded_accuracy = "ignore"

TELESCOPE = "Telescope Simulator"
LAT, LON, ELEV = 48.0, 11.0, 500.0


@pytest.fixture(scope="module")
def mount_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    server = IndiServerProcess(
        ["indi_simulator_telescope"], workdir=tmp_path_factory.mktemp("mount")
    )
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
async def client(mount_server: IndiServerProcess) -> AsyncIterator[INDIClient]:
    async with INDIClient(mount_server.host, mount_server.port) as c:
        yield c


@pytest.fixture
async def telescope(client: INDIClient) -> Telescope:
    scope = Telescope(client, TELESCOPE)
    await scope.connect()
    await scope.set_site(LAT, LON, ELEV)
    await scope.unpark()
    await scope.set_tracking(True)
    return scope


def eq_state(client: INDIClient) -> PropertyState:
    return client.get_property(TELESCOPE, "EQUATORIAL_EOD_COORD").state


def expected_jnow(ra: float, dec: float) -> tuple[float, float]:
    """J2000 → apparent of date, computed here independently of the code under test."""
    c = SkyCoord(ra=ra * u.hourangle, dec=dec * u.deg, frame=FK5(equinox="J2000"))
    out = c.transform_to(TETE(obstime=Time(datetime.now(UTC))))
    return out.ra.hour, out.dec.deg


# ---------------------------------------------------------------- pure functions


def test_sidereal_time_and_altaz_agree_with_astropy() -> None:
    now = datetime.now(UTC)
    t = Time(now)
    for lon in (11.0, -70.25, 151.2):
        ours = astro.local_sidereal_time(lon, now)
        theirs = t.sidereal_time("apparent", lon * u.deg).hour
        assert abs((ours - theirs + 12) % 24 - 12) * 3600 < 2.0  # seconds of time
    site = EarthLocation(lat=LAT * u.deg, lon=LON * u.deg, height=ELEV * u.m)
    lst = astro.local_sidereal_time(LON, now)
    for ra, dec in ((3.3, 52.1), (10.0, -5.0), (20.0, 80.0)):
        coord = SkyCoord(ra=ra * u.hourangle, dec=dec * u.deg, frame=TETE(obstime=t))
        altaz = coord.transform_to(AltAz(obstime=t, location=site))
        alt, az = astro.altaz_from_hadec(astro.hour_angle(ra, lst), dec, LAT)
        assert alt == pytest.approx(altaz.alt.deg, abs=0.01)
        assert az == pytest.approx(altaz.az.deg, abs=0.01)
        ha, dec2 = astro.hadec_from_altaz(alt, az, LAT)
        assert (lst - ha) % 24 == pytest.approx(ra, abs=1e-9)
        assert dec2 == pytest.approx(dec, abs=1e-9)


def test_j2000_jnow_round_trip_and_longitudes() -> None:
    ra, dec = astro.j2000_to_jnow(5.5, 22.0)
    assert (ra, dec) != pytest.approx((5.5, 22.0), abs=1e-4)  # precession is real
    back = astro.jnow_to_j2000(ra, dec)
    assert back == pytest.approx((5.5, 22.0), abs=1e-7)
    assert astro.longitude_indi(-70.25) == pytest.approx(289.75)
    assert astro.longitude_east(289.75) == pytest.approx(-70.25)
    assert astro.angular_distance(0, 0, 12, 0) == pytest.approx(180)
    assert astro.angular_distance(1, 89, 13, 89) == pytest.approx(2)


# ---------------------------------------------------------------- site, info


async def test_site_set_and_get_converts_longitude(telescope: Telescope, client: INDIClient):
    site = await telescope.set_site(latitude=-33.5, longitude=-70.25, elevation=800)
    assert site == {"latitude": -33.5, "longitude": -70.25, "elevation": 800}
    assert client.get_property(TELESCOPE, "GEOGRAPHIC_COORD")["LONG"] == pytest.approx(289.75)
    with pytest.raises(InvalidValueError, match="longitude"):
        await telescope.set_site(longitude=400)
    with pytest.raises(InvalidValueError, match="latitude must be within"):
        await telescope.set_site(latitude=95)  # SetSiteParams' range
    assert (await telescope.set_site(longitude=LON))["latitude"] == -33.5  # others kept


async def test_info_reports_what_the_driver_defines(telescope: Telescope) -> None:
    info = telescope.info()
    caps = info["capabilities"]
    assert info["driver"]["exec"] == "indi_simulator_telescope"
    assert "telescope" in info["interfaces"]
    assert caps["can_park"] and caps["can_sync"] and caps["can_abort"]
    assert caps["can_home"] is False  # the 1.9.9 simulator has no TELESCOPE_HOME
    assert caps["track_modes"] == ["TRACK_SIDEREAL", "TRACK_SOLAR", "TRACK_LUNAR", "TRACK_CUSTOM"]
    assert [r["name"] for r in caps["slew_rates"]] == ["1x", "2x", "3x", "4x"]
    assert caps["has_pier_side"] and caps["can_pulse_guide"]
    assert info["site"]["longitude"] == pytest.approx(LON)
    with pytest.raises(CapabilityError, match="TELESCOPE_HOME"):
        await telescope.home()


# ---------------------------------------------------------------- gotos


async def test_goto_j2000_ends_at_the_jnow_target(telescope: Telescope, client: INDIClient):
    # East of the meridian whatever the hour: across it the goto would be a
    # pier flip, which the simulator ends off the target.
    ra2k, dec2k = round(ra_east_of_meridian(LON), 2), 52.0
    near_ra, near_dec = expected_jnow(ra2k - 0.2, dec2k - 3)
    await telescope.sync(near_ra, near_dec, epoch="JNow")
    reports: list[dict[str, Any]] = []
    result = await telescope.goto(ra2k, dec2k, progress=reports.append)
    assert eq_state(client) is not PropertyState.BUSY  # the answer came after the slew
    want_ra, want_dec = expected_jnow(ra2k, dec2k)
    pos = await telescope.position()
    assert astro.angular_distance(pos["ra"], pos["dec"], want_ra, want_dec) < 0.02
    assert astro.angular_distance(pos["ra_j2000"], pos["dec_j2000"], ra2k, dec2k) < 0.02
    assert result["target"]["epoch"] == "JNow"
    assert result["target"]["ra"] == pytest.approx(want_ra, abs=1e-4)
    assert result["distance"] < 0.02 and result["tracking"] is True
    assert reports and all(r["state"] == "slewing" and r["action"] == "goto" for r in reports)
    assert reports[0]["distance"] > reports[-1]["distance"]
    assert telescope.running() == []


async def test_goto_altaz_and_hadec(telescope: Telescope, client: INDIClient) -> None:
    lst = astro.local_sidereal_time(LON)
    ha, dec = astro.hadec_from_altaz(45.0, 120.0, LAT)
    await telescope.sync((lst - ha + 0.15) % 24, dec + 2, epoch="JNow")
    result = await telescope.goto_altaz(45.0, 120.0)
    assert result["alt"] == pytest.approx(45.0, abs=0.05)
    assert result["az"] == pytest.approx(120.0, abs=0.1)
    assert result["tracking"] is False  # an Alt/Az target is a place: no tracking
    assert eq_state(client) is not PropertyState.BUSY

    result = await telescope.goto_hadec(ha + 0.2, dec - 1)
    pos = await telescope.position()
    assert pos["ha"] == pytest.approx(ha + 0.2, abs=0.01)
    assert pos["dec"] == pytest.approx(dec - 1, abs=0.01)
    assert result["tracking"] is True


async def test_a_goto_gives_back_the_callers_coord_mode(
    telescope: Telescope, client: INDIClient
) -> None:
    """A client that chose TRACK for its own coordinate writes keeps it after
    an Alt/Az goto (which slews without tracking), and one that chose SLEW
    keeps it after a tracking goto."""
    lst = astro.local_sidereal_time(LON)
    ha, dec = astro.hadec_from_altaz(40.0, 150.0, LAT)
    await telescope.sync((lst - ha + 0.1) % 24, dec + 1, epoch="JNow")
    await telescope.set_coord_mode("track")
    result = await telescope.goto_altaz(40.0, 150.0, track=False)
    assert result["tracking"] is False
    assert client.get_property(TELESCOPE, "ON_COORD_SET").on_switches() == ["TRACK"]

    await telescope.set_coord_mode("slew")
    pos = await telescope.position()
    await telescope.goto(pos["ra"], pos["dec"] + 0.5, epoch="JNow", track=True)
    assert client.get_property(TELESCOPE, "ON_COORD_SET").on_switches() == ["SLEW"]
    await telescope.set_coord_mode("track")


async def test_goto_rejects_bad_coordinates(telescope: Telescope) -> None:
    for kwargs in ({"ra": 25, "dec": 0}, {"ra": 1, "dec": 91}, {"ra": "x", "dec": 0}):
        with pytest.raises(InvalidValueError):
            await telescope.goto(**kwargs)
    with pytest.raises(InvalidValueError, match="epoch"):
        await telescope.goto(1, 1, epoch="B1950")
    with pytest.raises(InvalidValueError, match="alt"):
        await telescope.goto_altaz(95, 10)
    assert telescope.running() == []


# ---------------------------------------------------------------- ending early


async def _start_long_goto(telescope: Telescope, **kwargs: Any) -> asyncio.Task[dict[str, Any]]:
    """A goto 40° away (several seconds), returned once it has moved a little."""
    ra = (await telescope.position())["ra"]
    await telescope.sync(ra, 0.0, epoch="JNow")
    slewing = asyncio.Event()

    def moved(report: dict[str, Any]) -> None:
        if report["distance"] < 38:
            slewing.set()

    task = asyncio.create_task(telescope.goto(ra, 40.0, epoch="JNow", progress=moved, **kwargs))
    await asyncio.wait_for(slewing.wait(), 10)
    return task


async def _assert_stopped(telescope: Telescope, client: INDIClient) -> None:
    assert eq_state(client) is not PropertyState.BUSY
    first = (await telescope.position())["dec"]
    await asyncio.sleep(0.6)
    second = (await telescope.position())["dec"]
    assert 0.0 < first < 39.0
    assert second == pytest.approx(first, abs=0.01)  # it stays where it stopped


async def test_abort_ends_a_running_slew(telescope: Telescope, client: INDIClient) -> None:
    events: list[dict[str, Any]] = []
    with subscribe_actions(client, events.append):
        task = await _start_long_goto(telescope)
        assert [a["action"] for a in running_actions(client, TELESCOPE)] == ["goto"]
        answer = await telescope.abort()
        assert answer["aborted"] and answer["stopped"] and answer["interrupted"] == 1
        with pytest.raises(ActionAborted) as err:
            await task
    assert err.value.details["reason"] == "abort"
    assert 0 < err.value.details["distance"] < 40
    await _assert_stopped(telescope, client)
    goto_events = [e for e in events if e["action"] == "goto"]
    assert goto_events[0]["event"] == "started"
    assert goto_events[-1] == {**goto_events[-1], "event": "finished", "outcome": "aborted"}
    assert any(e["event"] == "progress" for e in goto_events)


async def test_cancelling_a_goto_stops_the_mount(telescope: Telescope, client: INDIClient):
    task = await _start_long_goto(telescope)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.wait_idle(TELESCOPE, "EQUATORIAL_EOD_COORD", 10)
    await _assert_stopped(telescope, client)


async def test_timeout_ends_the_slew_and_stops_the_mount(
    telescope: Telescope, client: INDIClient
) -> None:
    ra = (await telescope.position())["ra"]
    await telescope.sync(ra, 0.0, epoch="JNow")
    with pytest.raises(ActionTimeout, match="did not end within 1 s") as err:
        await telescope.goto(ra, 40.0, epoch="JNow", timeout=1.0)
    assert err.value.details["stopped"] is True
    await _assert_stopped(telescope, client)


async def test_a_newer_goto_supersedes_the_older(telescope: Telescope, client: INDIClient):
    first = await _start_long_goto(telescope)
    pos = await telescope.position()
    second = await telescope.goto(pos["ra"], pos["dec"] + 1.0, epoch="JNow")
    with pytest.raises(ActionAborted, match="superseded"):
        await first
    assert second["distance"] < 0.05


# ---------------------------------------------------------------- park, tracking, motion


async def test_park_and_unpark(telescope: Telescope, client: INDIClient) -> None:
    # Park where it is: the simulator's default park position is a long slew away.
    answer = await telescope.set_park_position("current")
    assert answer["option"] == "PARK_CURRENT"
    reports: list[dict[str, Any]] = []
    result = await telescope.park(progress=reports.append)
    assert result["parked"] is True
    park = client.get_property(TELESCOPE, "TELESCOPE_PARK")
    assert park.state is PropertyState.OK and park.on_switches() == ["PARK"]
    assert telescope.status()["parked"] is True
    with pytest.raises(DeviceStateError, match="parked"):
        await telescope.goto(1.0, 1.0)
    assert (await telescope.park())["already"] is True
    result = await telescope.unpark()
    assert result["parked"] is False and telescope.status()["parked"] is False

    answer = await telescope.set_park_position(None, ha=-1.5, dec=45.0)
    assert answer["park_position"] == {"ha": -1.5, "dec": 45.0}
    with pytest.raises(InvalidValueError, match="no axis 'az'"):
        await telescope.set_park_position(None, az=10)
    with pytest.raises(InvalidValueError, match="park option"):
        await telescope.set_park_position("sideways")


async def test_tracking_mode_and_rates(telescope: Telescope, client: INDIClient) -> None:
    assert (await telescope.set_tracking(False))["tracking"] is False
    assert telescope.status()["tracking"] is False
    assert (await telescope.set_tracking(True))["tracking"] is True
    assert (await telescope.set_track_mode("lunar"))["track_mode"] == "TRACK_LUNAR"
    rates = await telescope.set_track_rate(ra=15.0, dec=0.5)
    assert rates == {"ra": 15.0, "dec": 0.5, "track_mode": "TRACK_CUSTOM"}
    assert (await telescope.set_track_mode("TRACK_SIDEREAL"))["track_mode"] == "TRACK_SIDEREAL"
    with pytest.raises(InvalidValueError, match="track mode"):
        await telescope.set_track_mode("galactic")

    assert (await telescope.set_slew_rate("4x"))["slew_rate"] == "4x"
    assert (await telescope.set_slew_rate(0))["slew_rate"] == "1x"
    assert [r["active"] for r in telescope.slew_rates()] == [True, False, False, False]
    with pytest.raises(InvalidValueError):
        await telescope.set_slew_rate(7)
    await telescope.set_slew_rate("3x")
    assert await telescope.set_guide_rate(ra=0.3, dec=0.4) == {"ra": 0.3, "dec": 0.4}
    with pytest.raises(InvalidValueError):
        await telescope.set_guide_rate(ra=2.0)  # GUIDE_RATE is 0..1 × sidereal


async def test_manual_motion_and_pulse_guiding(telescope: Telescope, client: INDIClient):
    await telescope.set_slew_rate("4x")
    start = (await telescope.position())["dec"]
    assert (await telescope.move("north"))["moving"] is True
    assert client.get_property(TELESCOPE, "TELESCOPE_MOTION_NS").state is PropertyState.BUSY
    await asyncio.sleep(0.6)
    assert (await telescope.stop())["moving"] is False
    assert client.get_property(TELESCOPE, "TELESCOPE_MOTION_NS").state is not PropertyState.BUSY
    moved = (await telescope.position())["dec"]
    assert moved != pytest.approx(start, abs=0.01)

    result = await telescope.move("s", duration=0.5)
    assert result["moving"] is False and result["elapsed"] >= 0.5
    assert client.get_property(TELESCOPE, "TELESCOPE_MOTION_NS").on_switches() == []

    result = await telescope.pulse_guide("west", 300)
    assert result["elapsed"] >= 0.25
    assert client.get_property(TELESCOPE, "TELESCOPE_TIMED_GUIDE_WE").state is not (
        PropertyState.BUSY
    )
    with pytest.raises(InvalidValueError, match="direction"):
        await telescope.move("up")
    await telescope.set_slew_rate("3x")


async def test_move_axis_at_a_measured_rate_refused_while_unsafe_and_stopped_by_abort(
    telescope: Telescope, client: INDIClient
) -> None:
    rates = telescope.axis_rates()
    assert [r["name"] for r in rates] == ["1x", "2x", "3x", "4x"]
    assert [r["deg_per_s"] for r in rates] == pytest.approx([SIDEREAL_DEG_PER_S, 0.5, 2.5, 6.0])
    with pytest.raises(InvalidValueError, match="not a rate of this mount"):
        await telescope.move_axis("ra", 1.0)
    with pytest.raises(InvalidValueError, match="axis"):
        await telescope.move_axis("alt", 2.5)
    start = (await telescope.position())["ra"]
    assert (await telescope.move_axis("ra", -2.5))["direction"] == "west"
    assert client.get_property(TELESCOPE, "TELESCOPE_SLEW_RATE").on_switches() == ["3x"]
    assert telescope.axis_motion() == {"ra": pytest.approx(-2.5)}
    with pytest.raises(DeviceStateError, match="one slew rate"):
        await telescope.move_axis("dec", 0.5)
    await asyncio.sleep(1.5)
    assert (await telescope.move_axis("ra", 0))["moving"] is False
    assert telescope.axis_motion() == {}
    moved = ((await telescope.position())["ra"] - start + 12) % 24 - 12
    assert moved < -0.1  # hours: west lowers the RA

    set_safety_guard(client, lambda role, verb: "rain")
    try:
        with pytest.raises(UnsafeError, match="rain"):
            await telescope.move_axis("dec", 2.5)
        with pytest.raises(UnsafeError, match="rain"):
            await telescope.move("north")
        assert telescope.axis_motion() == {}
    finally:
        set_safety_guard(client, None)

    await telescope.move_axis("dec", 2.5)
    assert telescope.axis_motion() == {"dec": pytest.approx(2.5)}
    await telescope.abort()
    assert client.get_property(TELESCOPE, "TELESCOPE_MOTION_NS").on_switches() == []
    assert telescope.axis_motion() == {}


async def test_settings_optics_and_coord_mode(telescope: Telescope, client: INDIClient) -> None:
    settings = telescope.settings()
    assert settings["slew_rate"] == {
        "value": client.get_property(TELESCOPE, "TELESCOPE_SLEW_RATE").on_switches()[0],
        "selections": ["1x", "2x", "3x", "4x"],
    }
    assert settings["track_state"]["value"] == "TRACK_ON"
    assert settings["longitude"] == {"name": "LONG", "value": LON, "min": 0.0, "max": 360.0}
    assert settings["site"] == {"latitude": LAT, "longitude": LON, "elevation": ELEV}
    assert settings["utc_offset"] == 0.0 and settings["utc"]
    assert telescope.pointing_state() in ("Idle", "Ok")

    optics = await telescope.set_optics(150, 750, guider_aperture=60)
    assert optics == {
        "aperture_mm": 150,
        "focal_length_mm": 750,
        "guider_aperture_mm": 60,
        "guider_focal_length_mm": client.get_property(TELESCOPE, "TELESCOPE_INFO")[
            "GUIDER_FOCAL_LENGTH"
        ],
    }
    with pytest.raises(InvalidValueError, match=r"TELESCOPE_APERTURE must be within \[10, 5000\]"):
        await telescope.set_optics(1, 750)

    assert (await telescope.set_coord_mode("slew"))["coord_mode"] == "SLEW"
    assert telescope.settings()["coord_mode"]["value"] == "SLEW"
    assert (await telescope.set_coord_mode("TRACK"))["coord_mode"] == "TRACK"
    with pytest.raises(InvalidValueError, match="coordinate mode"):
        await telescope.set_coord_mode("warp")

    # A device the settings do not apply to: None everywhere, no error.
    other = Telescope(client, "No Such Mount")
    assert set(other.settings().values()) == {None}
    assert other.pointing_state() is None


async def test_apply_sets_a_property_as_a_page_edited_it(
    telescope: Telescope, client: INDIClient
) -> None:
    names = [p.name for p in telescope.properties()]
    assert names == list(client.devices[TELESCOPE].properties)

    await telescope.set_slew_rate("3x")
    # The whole vector back, one switch flipped, the old one still On:
    # only the flipped one is sent, and the driver turns the other off.
    prop = await telescope.apply(
        "TELESCOPE_SLEW_RATE", {"1x": True, "2x": False, "3x": True, "4x": "Off"}
    )
    assert prop.on_switches() == ["1x"]
    # Nothing differs: nothing to send, no error.
    assert (await telescope.apply("TELESCOPE_SLEW_RATE", {"1x": "On"})).on_switches() == ["1x"]

    prop = await telescope.apply("TELESCOPE_INFO", {"TELESCOPE_APERTURE": 222})
    assert prop["TELESCOPE_APERTURE"] == 222
    prop = await telescope.apply("GEOGRAPHIC_COORD", {"LAT": "48:30:00"})
    assert prop["LAT"] == 48.5
    await telescope.set_site(LAT, LON, ELEV)

    with pytest.raises(ReadOnlyPropertyError):
        await telescope.apply("DRIVER_INFO", {"DRIVER_NAME": "x"})
    with pytest.raises(InvalidValueError, match="OneOfMany"):
        await telescope.apply("TELESCOPE_SLEW_RATE", {"1x": False})
    with pytest.raises(InvalidValueError, match="switch"):
        await telescope.apply("TELESCOPE_SLEW_RATE", {"2x": "maybe"})
    with pytest.raises(UnknownElementError):
        await telescope.apply("TELESCOPE_INFO", {"APERTURE": 1})
    with pytest.raises(UnknownPropertyError):
        await telescope.apply("NO_SUCH_PROPERTY", {"X": 1})
    assert client.get_property(TELESCOPE, "TELESCOPE_SLEW_RATE").on_switches() == ["1x"]
    await telescope.set_slew_rate("3x")
