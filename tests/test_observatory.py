"""The observatory roles (guider, dome, rotator, flat panel, weather, GPS)
and the safety policy, through ``/ws/indi_client/`` as a client would,
against one private indiserver running every simulator they need.

One service and one indiserver serve the whole module (the tests run in
file order and leave the devices as the next one expects); the safety tests
come last: they park, close and finally stop the weather driver.  What a
verb did is checked in the INDI mirror (what the driver reported), not
through the API under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from lightapt_support import LightAptClient
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient

from indiws.client import INDIClient
from indiws.devices import Telescope, UnsafeError
from indiws.protocol import PropertyState, SwitchState
from indiws.safety import SafetyConfig
from indiws.testing import (
    IndiServerProcess,
    RunningService,
    start_embedded_service,
    start_service,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE, CCD, GUIDE = "Telescope Simulator", "CCD Simulator", "Guide Simulator"
DOME, ROTATOR, PANEL = "Dome Simulator", "Rotator Simulator", "Light Panel Simulator"
WEATHER, GPS = "Weather Simulator", "GPS Simulator"
ROLES = {
    "telescope": SCOPE,
    "camera": CCD,
    "guider": GUIDE,
    "dome": DOME,
    "rotator": ROTATOR,
    "flat_panel": PANEL,
    "weather": WEATHER,
    "gps": GPS,
}
DRIVERS = [
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_guide",
    "indi_simulator_dome",
    "indi_simulator_rotator",
    "indi_simulator_lightpanel",
    "indi_simulator_weather",
    "indi_simulator_gps",
]

# JSON-RPC codes (indiws/web/errors.py).
INVALID_PARAMS = -32602
INVALID_VALUE = -32015
NO_DEVICE = -32040
CAPABILITY_MISSING = -32042
INVALID_STATE = -32043
ABORTED = -32045
UNSAFE = -32055


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    process = IndiServerProcess(DRIVERS, workdir=tmp_path_factory.mktemp("observatory"))
    try:
        process.start()
        yield process
    finally:
        process.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(
    server: IndiServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:
    running = await start_service(
        server,
        tmp_path_factory.mktemp("observatory-data"),
        status_interval=0.3,
        safety=SafetyConfig(weather_stale=600.0, indiserver_timeout=600.0),
    )
    try:
        for role, device in ROLES.items():
            resp = await http(running, f"/FIFO/start/{role}/{quote(device, safe='')}/")
            assert resp == (200, b"Got!"), (role, resp)
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def ws(svc: RunningService) -> AsyncIterator[WsClient]:
    client = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    yield client
    await client.close()


async def http(svc: RunningService, path: str) -> tuple[int, bytes]:
    resp = await AsyncHTTPClient().fetch(svc.url + path, raise_error=False)
    return resp.code, resp.body


def mirror(svc: RunningService) -> INDIClient:
    return svc.service.client


def value(svc: RunningService, device: str, prop: str, element: str) -> Any:
    return mirror(svc).devices[device].properties[prop][element]


def state(svc: RunningService, device: str, prop: str) -> PropertyState:
    return mirror(svc).devices[device].properties[prop].state


async def set_weather(svc: RunningService, **control: float) -> None:
    """Set the weather simulator's readings (WEATHER_CONTROL) and make it read them."""
    client = mirror(svc)
    await client.set_property(WEATHER, "WEATHER_CONTROL", control, wait=True, timeout=10)
    await client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})


async def unpark_tracking(ws: WsClient) -> None:
    await ws.call("telescope.unpark", timeout=30)
    await ws.call("telescope.set_tracking", {"on": True})


# ---------------------------------------------------------------- roles


async def test_roles_capabilities_and_discovery(svc: RunningService, ws: WsClient) -> None:
    roles = await ws.call("roles")
    assert {r: d["device_name"] for r, d in roles.items() if d["device_name"]} == ROLES
    assert all(roles[r]["connected"] for r in ROLES)

    # Capabilities come from what each device defines.
    dome = (await ws.call("dome.info"))["capabilities"]
    assert dome["can_open"] and dome["can_goto"] and dome["can_park"] and dome["can_follow"]
    assert (await ws.call("rotator.info"))["capabilities"] | {"angle_range": None} == {
        "can_move": True,
        "can_sync": True,
        "can_reverse": True,
        "can_abort": True,
        "can_home": False,
        "angle_range": None,
    }
    panel = await ws.call("flat_panel.info")
    assert panel["interfaces"] == ["lightbox", "aux"]  # this simulator has no dust cap
    assert panel["capabilities"]["has_light"] and not panel["capabilities"]["has_cap"]
    assert panel["capabilities"]["brightness_range"] == [0, 255]
    guider = (await ws.call("guider.info"))["capabilities"]
    assert guider["can_pulse_camera"] and guider["can_pulse_mount"] and guider["has_guide_rate"]
    weather = (await ws.call("weather.info"))["capabilities"]
    assert "WEATHER_RAIN_HOUR" in weather["critical"] and weather["can_refresh"]
    assert (await ws.call("gps.info"))["capabilities"] == {
        "has_site": True,
        "has_time": True,
        "can_refresh": True,
    }

    # Every method is in rpc.discover with its parameters and events.
    methods = {m["name"]: m for m in (await ws.call("rpc.discover"))["methods"]}
    for name in (
        "dome.open",
        "dome.goto",
        "rotator.move_to",
        "guider.expose",
        "guider.pulse",
        "flat_panel.set_light",
        "weather.state",
        "gps.apply",
        "safety.status",
    ):
        assert name in methods, name
    pulse = {p["name"]: p for p in methods["guider.pulse"]["params"]}
    assert pulse["via"]["schema"]["enum"] == ["auto", "camera", "mount"]
    assert "force" in {p["name"] for p in methods["telescope.unpark"]["params"]}
    assert "safety" in methods["safety.status"]["x-events"]
    assert "weather.changed" in methods["weather.state"]["x-events"]

    # The periodic status carries the new roles and the safety state.
    status = (await ws.next_note("status"))["params"]
    assert {"dome", "rotator", "weather"} <= set(status["roles"])
    assert "shutter" in status["roles"]["dome"] and "angle" in status["roles"]["rotator"]
    assert status["safety"] == {"safe": True, "reasons": []}


@pytest.mark.slow
async def test_dome_opens_turns_closes_parks_and_follows(svc: RunningService, ws: WsClient) -> None:
    # The shutter and the dome move at once: two actions on two channels.
    opened, turned = await asyncio.gather(
        ws.call("dome.open", timeout=60), ws.call("dome.goto", {"azimuth": 60}, timeout=60)
    )
    assert opened["shutter"] == "open"
    assert value(svc, DOME, "DOME_SHUTTER", "SHUTTER_OPEN") is SwitchState.ON
    assert turned["azimuth"] == pytest.approx(60, abs=1)
    assert value(svc, DOME, "ABS_DOME_POSITION", "DOME_ABSOLUTE_POSITION") == pytest.approx(
        60, abs=1
    )
    assert (await ws.call("dome.open"))["already"] is True

    err = await ws.error("dome.goto", {"azimuth": 400})
    assert err["code"] == INVALID_VALUE and "azimuth" in err["message"]

    following = await ws.call("dome.set_following", {"on": True})
    assert following == {"device": DOME, "following": True, "telescope": SCOPE}
    assert value(svc, DOME, "DOME_AUTOSYNC", "DOME_AUTOSYNC_ENABLE") is SwitchState.ON
    assert (await ws.call("dome.set_following", {"on": False}))["following"] is False

    closed, parked = await asyncio.gather(
        ws.call("dome.close", timeout=60), ws.call("dome.park", timeout=60)
    )
    assert value(svc, DOME, "DOME_SHUTTER", "SHUTTER_CLOSE") is SwitchState.ON
    assert value(svc, DOME, "DOME_PARK", "PARK") is SwitchState.ON
    position = await ws.call("dome.position")
    assert position["shutter"] == "closed" and position["parked"] is True
    assert position["azimuth"] == pytest.approx(90, abs=1)  # the simulator's park azimuth
    err = await ws.error("dome.goto", {"azimuth": 10})
    assert err["code"] == INVALID_STATE and "parked" in err["message"]
    assert (await ws.call("dome.unpark", timeout=30))["parked"] is False


async def test_rotator_moves_syncs_reverses_and_aborts(svc: RunningService, ws: WsClient) -> None:
    moved = await ws.call("rotator.move_to", {"angle": 20}, timeout=30)
    assert moved["angle"] == pytest.approx(20, abs=0.1)
    assert value(svc, ROTATOR, "ABS_ROTATOR_ANGLE", "ANGLE") == pytest.approx(20, abs=0.1)

    # The simulator takes a sync (Ok) but keeps reporting the angle it had.
    assert (await ws.call("rotator.sync", {"angle": 100}))["synced"] == pytest.approx(100)
    assert value(svc, ROTATOR, "SYNC_ROTATOR_ANGLE", "ANGLE") == pytest.approx(100)
    assert state(svc, ROTATOR, "SYNC_ROTATOR_ANGLE") is PropertyState.OK
    assert (await ws.call("rotator.set_reverse", {"on": True}))["reversed"] is True
    assert value(svc, ROTATOR, "ROTATOR_REVERSE", "INDI_ENABLED") is SwitchState.ON
    assert (await ws.call("rotator.set_reverse", {"on": False}))["reversed"] is False

    # A long move, aborted: it ends with the aborted error, short of its target.
    move = asyncio.ensure_future(ws.request("rotator.move_to", {"angle": 300}, timeout=60))
    await mirror(svc).wait_for(ROTATOR, "ABS_ROTATOR_ANGLE", lambda p: p.busy, 10)
    aborted = await ws.call("rotator.abort")
    assert aborted["aborted"] and aborted["stopped"]
    answer = await move
    assert answer["error"]["code"] == ABORTED
    assert state(svc, ROTATOR, "ABS_ROTATOR_ANGLE") is not PropertyState.BUSY
    assert value(svc, ROTATOR, "ABS_ROTATOR_ANGLE", "ANGLE") < 300

    err = await ws.error("rotator.move_to", {"angle": -5})
    assert err["code"] == INVALID_VALUE and "angle" in err["message"]


async def test_guider_stores_a_frame_and_pulses_move_the_mount(
    svc: RunningService, ws: WsClient
) -> None:
    frame = await ws.call("guider.expose", {"duration": 0.2, "binning": 2}, timeout=60)
    assert frame["device"] == GUIDE and frame["binning"] == [2, 2]
    code, body = await http(svc, frame["url"])
    assert code == 200 and body.startswith(b"SIMPLE")
    code, _ = await http(svc, "/PAA/newest_guider_jpg/")
    assert code == 200

    await unpark_tracking(ws)
    rates = await ws.call("guider.set_guide_rate", {"ra": 0.5, "dec": 0.9})
    assert rates == {"ra": 0.5, "dec": 0.9}
    assert await ws.call("guider.guide_rate") == rates

    # A pulse north through the mount moves its declination by the guide
    # rate times the pulse: 2 s at 0.9 x sidereal is 27" (the simulator
    # moves it south here: its sign follows its own pier-side convention).
    before = value(svc, SCOPE, "EQUATORIAL_EOD_COORD", "DEC")
    pulse = await ws.call(
        "guider.pulse", {"direction": "North", "duration_ms": 2000, "via": "mount"}
    )
    assert (pulse["via"], pulse["device"], pulse["direction"]) == ("mount", SCOPE, "north")
    expected = 2 * 0.9 * 15 / 3600
    await mirror(svc).wait_for(
        SCOPE, "EQUATORIAL_EOD_COORD", lambda p: abs(p["DEC"] - before) > expected / 2, 10
    )
    moved = value(svc, SCOPE, "EQUATORIAL_EOD_COORD", "DEC") - before
    assert abs(moved) == pytest.approx(expected, rel=0.2), moved

    # The guide camera's own ST4 port is taken by default.
    st4 = await ws.call("guider.pulse", {"direction": "w", "duration_ms": 100})
    assert (st4["via"], st4["device"], st4["direction"]) == ("camera", GUIDE, "west")
    # Directions are taken in any case.
    st4 = await ws.call("guider.pulse", {"direction": "N", "duration_ms": 100})
    assert st4["direction"] == "north"

    err = await ws.error("guider.pulse", {"direction": "up", "duration_ms": 100})
    assert err["code"] == INVALID_PARAMS and "direction" in err["message"]
    err = await ws.error("guider.pulse", {"direction": "n", "duration_ms": -1, "via": "mount"})
    assert err["code"] == INVALID_VALUE and "duration_ms" in err["message"]


async def test_flat_panel_light_and_a_missing_dust_cap(svc: RunningService, ws: WsClient) -> None:
    lit = await ws.call("flat_panel.set_light", {"on": True, "brightness": 120})
    assert lit == {"light": True, "brightness": 120, "cap": None}
    assert value(svc, PANEL, "FLAT_LIGHT_CONTROL", "FLAT_LIGHT_ON") is SwitchState.ON
    assert value(svc, PANEL, "FLAT_LIGHT_INTENSITY", "FLAT_LIGHT_INTENSITY_VALUE") == 120
    assert (await ws.call("flat_panel.set_brightness", {"brightness": 40}))["brightness"] == 40

    err = await ws.error("flat_panel.set_brightness", {"brightness": 999})
    assert err["code"] == INVALID_VALUE
    err = await ws.error("flat_panel.close_cap")
    assert err["code"] == CAPABILITY_MISSING and "CAP_PARK" in err["message"]
    assert err["data"]["properties"] == ["CAP_PARK"]

    off = await ws.call("flat_panel.set_light", {"on": False})
    assert off["light"] is False
    assert value(svc, PANEL, "FLAT_LIGHT_CONTROL", "FLAT_LIGHT_OFF") is SwitchState.ON


async def test_gps_sets_the_telescope_site_and_time(svc: RunningService, ws: WsClient) -> None:
    # INDI mounts snoop the GPS named in their ACTIVE_DEVICES and take its
    # site on every GPS update: stop that, so that only gps.apply sets it.
    await mirror(svc).set_property(
        SCOPE, "ACTIVE_DEVICES", {"ACTIVE_GPS": ""}, wait=True, timeout=10
    )
    fix = await ws.call("gps.refresh")
    assert fix["latitude"] == pytest.approx(51) and fix["utc"]
    await ws.call("telescope.set_site", {"latitude": 10, "longitude": 20, "elevation": 5})
    assert value(svc, SCOPE, "GEOGRAPHIC_COORD", "LAT") == pytest.approx(10)

    applied = await ws.call("gps.apply")
    assert applied["telescope"] == SCOPE
    site = await ws.call("telescope.get_site")
    assert site == pytest.approx(
        {"latitude": fix["latitude"], "longitude": fix["longitude"], "elevation": fix["elevation"]}
    )
    assert value(svc, SCOPE, "GEOGRAPHIC_COORD", "LAT") == pytest.approx(fix["latitude"])
    assert value(svc, SCOPE, "TIME_UTC", "UTC") == applied["utc"]

    # The GPS's last fix is now seconds old: apply must wait for the new one
    # (the driver answers GPS_REFRESH before it sends the new TIME_UTC).
    await asyncio.sleep(4)
    asked = datetime.now(UTC)
    await ws.call("gps.apply", {"site": False})
    mount_utc = datetime.fromisoformat(value(svc, SCOPE, "TIME_UTC", "UTC")).replace(tzinfo=UTC)
    assert abs((mount_utc - asked).total_seconds()) < 3

    err = await ws.error("gps.apply", {"site": False, "time": False})
    assert err["code"] == INVALID_PARAMS


async def test_weather_reports_every_parameter(svc: RunningService, ws: WsClient) -> None:
    weather = await ws.call("weather.state")
    assert weather["state"] == "ok"
    params = {p["name"]: p for p in weather["parameters"]}
    assert params["WEATHER_RAIN_HOUR"]["state"] == "ok"
    assert params["WEATHER_TEMPERATURE"]["value"] == pytest.approx(15)
    assert params["WEATHER_WIND_SPEED"]["max_ok"] == 20
    assert params["WEATHER_WIND_GUST"]["state"] is None  # not a critical parameter


async def test_a_role_without_device_says_so(svc: RunningService, ws: WsClient) -> None:
    await ws.call("release", {"role": "rotator"})
    try:
        err = await ws.error("rotator.angle")
        assert err["code"] == NO_DEVICE and "rotator" in err["message"]
        assert (await ws.call("rotator.status"))["present"] is False
    finally:
        await ws.call("assign", {"role": "rotator", "device": ROTATOR})


async def test_lightapt_guider_is_this_guider(svc: RunningService) -> None:
    """lightAPT's ``guider`` role (its envelope on the same socket) is the guider role."""
    client = await LightAptClient.open(svc)
    try:
        assert await client.data("guider", "get_ccd_name") == {"device_name": GUIDE}
    finally:
        await client.close()


# ---------------------------------------------------------------- safety


async def closed_up(svc: RunningService, ws: WsClient, reason: str) -> dict:
    """Wait for the close-up announced for ``reason`` and return its report."""
    unsafe = await ws.next_note("safety", lambda p: p["phase"] == "unsafe", timeout=30)
    assert not unsafe["params"]["safe"]
    assert reason in [r["code"] for r in unsafe["params"]["reasons"]], unsafe
    done = await ws.next_note("safety", lambda p: p["phase"] == "closed", timeout=120)
    return done["params"]


@pytest.mark.slow
async def test_safety_closes_up_when_the_weather_turns(svc: RunningService, ws: WsClient) -> None:
    watcher = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        await ws.call("dome.open", timeout=60)
        await unpark_tracking(ws)
        exposure = asyncio.ensure_future(ws.request("camera.expose", {"duration": 60}, 90))
        await mirror(svc).wait_for(CCD, "CCD_EXPOSURE", lambda p: p.busy, 15)

        await set_weather(svc, Precip=10)
        change = await watcher.next_note("weather.changed", timeout=30)
        assert (change["params"]["previous"], change["params"]["state"]) == ("ok", "alert")
        report = await closed_up(svc, watcher, "weather_alert")

        outcomes = {a["action"]: a["outcome"] for a in report["actions"]}
        assert outcomes == {
            "abort_exposure": "done",
            "stop_guiding": "skipped",
            "park_mount": "done",
            "close_dome": "done",
        }
        answer = await exposure
        assert answer["error"]["code"] == ABORTED
        assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON
        assert value(svc, DOME, "DOME_SHUTTER", "SHUTTER_CLOSE") is SwitchState.ON
        assert value(svc, DOME, "DOME_PARK", "PARK") is SwitchState.ON

        # Refused while unsafe, with the reason; the status says why.
        err = await ws.error("telescope.unpark")
        assert err["code"] == UNSAFE and "weather" in err["message"] and "force" in err["message"]
        assert (await ws.error("dome.open"))["code"] == UNSAFE
        # A property page (lightAPT's) may not unpark it either.
        with pytest.raises(UnsafeError, match="unpark refused"):
            await Telescope(mirror(svc), SCOPE).apply("TELESCOPE_PARK", {"UNPARK": True})
        status = await ws.call("safety.status")
        assert not status["safe"] and status["reasons"][0]["code"] == "weather_alert"
        assert "WEATHER_RAIN_HOUR" in status["reasons"][0]["message"]

        await set_weather(svc, Precip=0)
        safe = await watcher.next_note("safety", lambda p: p["phase"] == "safe", timeout=30)
        assert safe["params"]["safe"] is True
        assert (await ws.call("telescope.unpark", timeout=30))["parked"] is False
    finally:
        await watcher.close()


@pytest.mark.slow
async def test_safe_waits_for_the_close_up_and_parking_is_not_parked(
    svc: RunningService, ws: WsClient
) -> None:
    """The weather clears while the mount still slews to park: it is
    ``parking``, not ``parked``; nothing may unpark it and ``safe`` waits
    until the close-up has ended (an unpark then would strand the mount)."""
    if (await ws.call("telescope.position"))["parked"]:
        await ws.call("telescope.unpark", timeout=30)
    here = await ws.call("telescope.position")
    # 60° from the park position (the simulator slews 6°/s): the park takes
    # about 10 s, time to clear the weather on the way.  Synced there, not
    # slewed: the way there is not what this test is about.
    far_ha = (here["ha"] + 4.0 + 12.0) % 24 - 12.0
    far_dec = here["dec"] - 60.0 if here["dec"] > 0 else here["dec"] + 60.0
    far_ra = (here["lst"] - far_ha) % 24
    await ws.call("telescope.sync", {"ra": far_ra, "dec": far_dec, "epoch": "JNow"})
    watcher = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        await set_weather(svc, Precip=10)
        await watcher.next_note("safety", lambda p: p["phase"] == "closing", timeout=30)
        await mirror(svc).wait_for(
            SCOPE, "TELESCOPE_PARK", lambda p: p.busy and p["PARK"] is SwitchState.ON, 30
        )
        position = await ws.call("telescope.position")
        assert position["parking"] is True
        assert position["parked"] is False and position["slewing"] is True
        brief = (await ws.call("status"))["roles"]["telescope"]
        assert brief["parking"] is True and brief["parked"] is False

        await set_weather(svc, Precip=0)
        await watcher.next_note("weather.changed", lambda p: p["state"] == "ok", timeout=30)
        status = await ws.call("safety.status")
        assert status["reasons"] == [] and status["closing"] is True and status["safe"] is False
        err = await ws.error("telescope.unpark")
        assert err["code"] == UNSAFE and "closing up" in err["message"]
        # Forced past the policy, still not while parking (drivers abort the park).
        for method in ("telescope.unpark", "telescope.goto_hadec"):
            params = {"force": True} | ({"ha": 1, "dec": 10} if "goto" in method else {})
            err = await ws.error(method, params)
            assert err["code"] == INVALID_STATE and "is parking" in err["message"], err
        assert (await ws.call("telescope.position"))["parking"] is True

        # First the close-up ends, then safe: the mount is parked for real.
        after = await watcher.next_note(
            "safety", lambda p: p["phase"] in ("closed", "safe"), timeout=180
        )
        assert after["params"]["phase"] == "closed"
        outcomes = {a["action"]: a["outcome"] for a in after["params"]["actions"]}
        assert outcomes["park_mount"] == "done", after
        await watcher.next_note("safety", lambda p: p["phase"] == "safe", timeout=10)
        position = await ws.call("telescope.position")
        assert position["parked"] is True and position["parking"] is False
        assert not position["slewing"]
        assert (await ws.call("safety.status"))["safe"] is True
        assert (await ws.call("telescope.unpark", timeout=30))["parked"] is False
    finally:
        await watcher.close()


@pytest.mark.slow
async def test_safety_closes_up_when_the_weather_driver_stops(
    svc: RunningService, server: IndiServerProcess, ws: WsClient
) -> None:
    await ws.call("dome.unpark", timeout=30)
    await ws.call("dome.open", timeout=60)
    assert (await ws.call("telescope.position"))["parked"] is False

    server.stop_driver("indi_simulator_weather")
    report = await closed_up(svc, ws, "weather_missing")
    outcomes = {a["action"]: a["outcome"] for a in report["actions"]}
    assert outcomes["park_mount"] == "done" and outcomes["close_dome"] == "done"
    assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON
    assert value(svc, DOME, "DOME_SHUTTER", "SHUTTER_CLOSE") is SwitchState.ON
    err = await ws.error("telescope.unpark")
    assert err["code"] == UNSAFE and WEATHER in err["message"]
    # Forced, it goes (and is logged); parked again by hand.
    assert (await ws.call("telescope.unpark", {"force": True}, timeout=30))["parked"] is False
    await ws.call("telescope.park", timeout=60)

    # The driver back: the role's device reconnects, the weather is read, safe again.
    server.start_driver("indi_simulator_weather")
    await ws.next_note("safety", lambda p: p["phase"] == "safe", timeout=30)
    assert (await ws.call("weather.state"))["state"] == "ok"


@pytest.mark.slow
async def test_safety_closes_up_after_indiserver_was_lost(
    svc: RunningService, server: IndiServerProcess, ws: WsClient
) -> None:
    """indiserver gone longer than the timeout: once it is back (its drivers
    restarted, the devices reconnected by their roles), the close-up runs."""
    assert (await ws.call("safety.status"))["safe"]
    await ws.call("telescope.unpark", timeout=30)  # the simulator keeps this across restarts
    svc.service.safety.config.indiserver_timeout = 0.5
    try:
        await asyncio.to_thread(server.restart_same_port)
        report = await closed_up(svc, ws, "indiserver_lost")
    finally:
        svc.service.safety.config.indiserver_timeout = 600.0
    outcomes = {a["action"]: a["outcome"] for a in report["actions"]}
    assert outcomes["park_mount"] == "done", report
    assert value(svc, SCOPE, "TELESCOPE_PARK", "PARK") is SwitchState.ON
    # The loss is over once closed up; the weather decides again, once its
    # device is back (reconnected by its role).
    await ws.next_note("safety", lambda p: p["phase"] == "safe", timeout=30)
    if (await ws.call("safety.status"))["weather"]["state"] != "ok":
        await ws.next_note("weather.changed", lambda p: p["state"] == "ok", timeout=30)
    status = await ws.call("safety.status")
    assert status["reasons"] == [] and status["weather"]["state"] == "ok"


@pytest.mark.slow
async def test_observatory_profile_runs_every_simulator_with_every_role(tmp_path: Path) -> None:
    running = await start_embedded_service(tmp_path, profile="Observatory")
    client = await WsClient.open(running.ws_url + "/ws/indi_client/")
    try:
        async with asyncio.timeout(60):
            while True:
                roles = await client.call("roles")
                if all(r["connected"] for r in roles.values()):
                    break
                await asyncio.sleep(0.2)
        assert {r: d["device_name"] for r, d in roles.items()} == {
            **ROLES,
            "focuser": "Focuser Simulator",
            "filter_wheel": "Filter Simulator",
        }
        status = await client.call("status")
        assert set(status["roles"]) == set(roles)
        assert (await client.call("safety.status"))["weather"]["device"] == WEATHER
    finally:
        await client.close()
        await running.stop()
