"""lightAPT's ``telescope`` instructions, replayed as its front ends send them.

The tests run on their own indiserver (one per module, with the telescope
simulator only): they park, move and re-site the mount, which other tests
should not see.  The simulator slews at about 6° per second, so gotos start
near their target (a sync through the device layer first).  What the mount
did is read from the INDI mirror, not from the API under test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from lightapt_support import FOCUSER, LightAptClient, assign_roles, module_indiserver

from indiws.devices import (
    DeviceBusyError,
    DeviceStateError,
    RefusalReason,
    Telescope,
    astro,
    running_actions,
    subscribe_actions,
)
from indiws.protocol import PropertyState, SwitchState
from indiws.testing import IndiServerProcess, RunningService, ra_east_of_meridian, start_service
from indiws.web.lightapt import INSTRUCTIONS

SCOPE = "Telescope Simulator"
LAT, LON, ELEV = 48.0, 11.0, 500.0


mount_server = module_indiserver("indi_simulator_telescope")


@pytest.fixture
async def svc(mount_server: IndiServerProcess, tmp_path: Any) -> AsyncIterator[RunningService]:
    running = await start_service(mount_server, tmp_path / "data")
    try:
        await running.service.roles.assign("telescope", SCOPE)
        # A known start, set through the device layer: site, unparked, tracking.
        scope = Telescope(running.service.client, SCOPE)
        await scope.set_site(LAT, LON, ELEV)
        await scope.unpark()
        await scope.set_tracking(True)
        yield running
    finally:
        await running.stop()


def prop(svc: RunningService, name: str) -> Any:
    return svc.service.client.get_property(SCOPE, name)


def on(svc: RunningService, name: str) -> list[str]:
    return prop(svc, name).on_switches()


async def wait_until(svc: RunningService, name: str, check: Any, timeout: float = 20.0) -> Any:
    return await svc.service.client.wait_for(SCOPE, name, check, timeout)


async def settle(svc: RunningService) -> Any:
    """Wait until the mount's actions (the goto a reply said had started) have ended."""
    client = svc.service.client
    ended = asyncio.Event()

    def on_action(event: dict[str, Any]) -> None:
        if not running_actions(client, SCOPE):
            ended.set()

    with subscribe_actions(client, on_action):
        if running_actions(client, SCOPE):
            await asyncio.wait_for(ended.wait(), 30)
    return prop(svc, "EQUATORIAL_EOD_COORD")


async def sync_near(svc: RunningService, ra: float, dec: float) -> None:
    await Telescope(svc.service.client, SCOPE).sync(ra, dec, epoch="JNow")


def test_every_instruction_of_both_generations_is_there() -> None:
    v2 = {
        "get_real_time_info", "get_set_params", "get_static_info", "set_long_lat",
        "set_telescope_info", "set_time", "set_track", "start_track", "stop_track",
        "set_track_mode", "goto", "goto_ha_dec", "got_az_al", "get_fits_file_format_data",
        "go_home", "at_home", "park", "unpark", "set_park", "abort",
    }  # fmt: skip
    v5 = {"set_slew_rate", "handle_move_button", "get_parameter", "set_any_one_parameter"}
    assert v2 | v5 <= set(INSTRUCTIONS["telescope"])


# ---------------------------------------------------------------- queries


async def test_queries_answer_every_field_the_pages_read(
    svc: RunningService, client: LightAptClient
) -> None:
    info = await client.data("telescope", "get_static_info", [])
    assert info == {"long": LON, "lat": LAT, "elev": ELEV, "time_zone": 0.0}

    params = await client.data("telescope", "get_set_params", [])
    rates = prop(svc, "TELESCOPE_SLEW_RATE")
    assert params["slew_rate"] == {
        "value": rates.on_switches()[0],
        "selections": list(rates.elements),
    }
    assert params["slew_rate"]["selections"] == ["1x", "2x", "3x", "4x"]
    assert params["track_mode"]["selections"][:3] == [
        "TRACK_SIDEREAL",
        "TRACK_SOLAR",
        "TRACK_LUNAR",
    ]
    assert params["track_state"] == {"value": "TRACK_ON", "selections": ["TRACK_ON", "TRACK_OFF"]}
    assert params["on_coord_set"]["value"] == on(svc, "ON_COORD_SET")[0]
    assert params["mount_type"] == {
        "value": on(svc, "MOUNT_TYPE")[0],
        "selections": list(prop(svc, "MOUNT_TYPE").elements),
    }
    # GEOGRAPHIC_COORD as INDI keeps it (longitude 0..360 east).
    assert params["longitude"] == {"name": "LONG", "value": LON, "min": 0.0, "max": 360.0}
    assert params["latitude"]["value"] == LAT and params["elevation"]["value"] == ELEV

    now = await client.data("telescope", "get_real_time_info", [])
    eq = prop(svc, "EQUATORIAL_EOD_COORD")
    assert now["ra"] == pytest.approx(eq["RA"], abs=0.01)
    assert now["dec"] == pytest.approx(eq["DEC"], abs=0.01)
    assert now["state"] in ("Idle", "Ok")
    assert now["is_moving"] is False and now["tracking"] is True

    # No named goto yet: the original answered success.
    await client.success("telescope", "get_fits_file_format_data", [])
    await client.success("telescope", "at_home", [])


async def test_a_mount_without_the_properties_answers_nulls_not_errors(
    running_service: RunningService,
) -> None:
    # The telescope role on a focuser: none of the mount's properties exist.
    await assign_roles(running_service, {"telescope": FOCUSER})
    client = await LightAptClient.open(running_service)
    try:
        now = await client.data("telescope", "get_real_time_info")
        assert now == {"ra": None, "dec": None, "state": None, "is_moving": False, "tracking": None}
        info = await client.data("telescope", "get_static_info")
        assert info == {"long": None, "lat": None, "elev": None, "time_zone": None}
        params = await client.data("telescope", "get_set_params")
        empty = {"value": None, "selections": []}
        assert params == {
            "mount_type": empty,
            "on_coord_set": empty,
            "track_mode": empty,
            "track_state": empty,
            "longitude": None,
            "latitude": None,
            "elevation": None,
            "slew_rate": empty,
        }
        # An action on it is an error that says what is missing.
        reply = await client.ask("telescope", "start_track")
        assert reply["type"] == "error" and "TELESCOPE_TRACK_STATE" in reply["message"]
        reply = await client.ask("telescope", "park")
        assert (reply["type"], reply["message"]) == ("message", "Telescope cannot park")
    finally:
        await client.close()


# ---------------------------------------------------------------- site, time, optics


async def test_set_long_lat_acts_and_refuses_in_the_original_words(
    svc: RunningService, client: LightAptClient
) -> None:
    # The original refused every valid site (its range test was inverted).
    await client.success("telescope", "set_long_lat", [-5.5, 40.25, 120])
    geo = prop(svc, "GEOGRAPHIC_COORD")
    assert (geo["LONG"], geo["LAT"], geo["ELEV"]) == (pytest.approx(354.5), 40.25, 120)

    for params, words in (
        ([360, 40], "longitude not in range!"),
        ([-181, 40], "longitude not in range!"),
        ([10, 95], "latitude not in range!"),
        ([10, 40, 20000], "evelation not in range!"),
    ):
        reply = await client.ask("telescope", "set_long_lat", params)
        assert (reply["type"], reply["message"]) == ("error", words), params
    reply = await client.ask("telescope", "set_long_lat", ["10E", 40])
    assert reply["type"] == "error" and "long" in reply["message"]
    assert prop(svc, "GEOGRAPHIC_COORD")["LAT"] == 40.25  # nothing was sent

    # Elevation left out: kept (not reset to 0).
    await client.success("telescope", "set_long_lat", [10, 45])
    geo = prop(svc, "GEOGRAPHIC_COORD")
    assert (geo["LONG"], geo["LAT"], geo["ELEV"]) == (10, 45, 120)
    info = await client.data("telescope", "get_static_info")
    assert (info["long"], info["lat"], info["elev"]) == (10, 45, 120)


async def test_optics_and_time(svc: RunningService, client: LightAptClient) -> None:
    await client.success("telescope", "set_telescope_info", [200, 1000, 50, 240])
    assert prop(svc, "TELESCOPE_INFO").values() == {
        "TELESCOPE_APERTURE": 200,
        "TELESCOPE_FOCAL_LENGTH": 1000,
        "GUIDER_APERTURE": 50,
        "GUIDER_FOCAL_LENGTH": 240,
    }
    reply = await client.ask("telescope", "set_telescope_info", [5, 1000, 50, 240])
    assert reply["type"] == "error" and "TELESCOPE_APERTURE" in reply["message"]
    assert "[10, 5000]" in reply["message"]

    await client.success("telescope", "set_time", ["2026-01-02T03:04:05Z"])
    assert prop(svc, "TIME_UTC")["UTC"] == "2026-01-02T03:04:05"
    await client.success("telescope", "set_time", [])
    sent = datetime.fromisoformat(prop(svc, "TIME_UTC")["UTC"]).replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 10
    reply = await client.ask("telescope", "set_time", ["yesterday"])
    assert reply["type"] == "error" and "ISO 8601" in reply["message"]


# ---------------------------------------------------------------- rates, tracking, buttons


async def test_slew_rate_tracking_and_track_mode(
    svc: RunningService, client: LightAptClient
) -> None:
    await client.success("telescope", "set_slew_rate", ["2x"])
    assert on(svc, "TELESCOPE_SLEW_RATE") == ["2x"]
    params = await client.data("telescope", "get_set_params")
    assert params["slew_rate"]["value"] == "2x"
    # cobalt-web sends its own default before it knows the mount's rates.
    reply = await client.ask("telescope", "set_slew_rate", ["0(0.25x)"])
    assert reply["type"] == "error" and "1x" in reply["message"]
    assert on(svc, "TELESCOPE_SLEW_RATE") == ["2x"]

    await client.success("telescope", "stop_track")
    assert on(svc, "TELESCOPE_TRACK_STATE") == ["TRACK_OFF"]
    assert (await client.data("telescope", "get_real_time_info"))["tracking"] is False
    await client.success("telescope", "start_track")
    assert on(svc, "TELESCOPE_TRACK_STATE") == ["TRACK_ON"]
    assert (await client.data("telescope", "get_real_time_info"))["tracking"] is True

    await client.success("telescope", "set_track_mode", ["lunar"])
    assert on(svc, "TELESCOPE_TRACK_MODE") == ["TRACK_LUNAR"]
    await client.success("telescope", "set_track_mode", ["sidereal"])
    assert on(svc, "TELESCOPE_TRACK_MODE") == ["TRACK_SIDEREAL"]
    reply = await client.ask("telescope", "set_track_mode", ["warp"])
    assert (reply["type"], reply["message"]) == ("error", "wrong tracking name!")

    await Telescope(svc.service.client, SCOPE).set_coord_mode("slew")
    await client.success("telescope", "set_track")
    assert on(svc, "ON_COORD_SET") == ["TRACK"]


async def test_move_buttons_press_and_release(svc: RunningService, client: LightAptClient) -> None:
    motion = {
        "up": ("TELESCOPE_MOTION_NS", "MOTION_NORTH"),
        "down": ("TELESCOPE_MOTION_NS", "MOTION_SOUTH"),
        "left": ("TELESCOPE_MOTION_WE", "MOTION_WEST"),
        "right": ("TELESCOPE_MOTION_WE", "MOTION_EAST"),
    }
    for button, (name, element) in motion.items():
        # As cobalt-web sends them: press, then release.
        await client.send(
            f'{{"device_name":"telescope","instruction":"handle_move_button","params":["{button}",true]}}'
        )
        reply = await client.reply()
        assert (reply["message"], reply["instruction"]) == ("success", "handle_move_button")
        assert on(svc, name) == [element], button
        await client.success("telescope", "handle_move_button", [button, False])
        assert on(svc, name) == [], button

    reply = await client.ask("telescope", "handle_move_button", ["forward", True])
    assert reply["type"] == "error" and "up, down, left, right" in reply["message"]
    reply = await client.ask("telescope", "handle_move_button", ["up"])
    assert reply["type"] == "error" and "pressed" in reply["message"]

    # A page that goes away with a button held: the move stops.
    await client.success("telescope", "handle_move_button", ["right", True])
    assert on(svc, "TELESCOPE_MOTION_WE") == ["MOTION_EAST"]
    await client.close()
    await wait_until(svc, "TELESCOPE_MOTION_WE", lambda p: p.on_switches() == [], 10)


# ---------------------------------------------------------------- gotos


async def test_goto_acts_names_its_target_and_refuses_out_of_range(
    svc: RunningService, client: LightAptClient
) -> None:
    ra, dec = round(ra_east_of_meridian(LON), 2), 20.0  # no pier flip, whatever the hour
    await sync_near(svc, ra - 0.02, dec - 0.3)
    await client.success("telescope", "goto", [ra, dec, "M1"])
    eq = await settle(svc)
    assert eq.state is PropertyState.OK
    assert astro.angular_distance(eq["RA"], eq["DEC"], ra, dec) < 0.05
    assert on(svc, "TELESCOPE_TRACK_STATE") == ["TRACK_ON"]  # ON_COORD_SET was TRACK
    target = await client.data("telescope", "get_fits_file_format_data")
    assert target == {"name": "M1", "coord": {"ra": ra, "dec": dec}}

    for params, words in (
        ([25, 0], "RA is not in range!"),
        ([-1, 0], "RA is not in range!"),
        ([1, 95], "DEC is not in range!"),
    ):
        reply = await client.ask("telescope", "goto", params)
        assert (reply["type"], reply["message"]) == ("message", words), params
    reply = await client.ask("telescope", "goto", ["5h", 0])
    assert reply["type"] == "error" and "ra" in reply["message"]

    # A goto without a name forgets the last one, as the original did.
    await sync_near(svc, ra, dec)
    await client.success("telescope", "goto", [ra + 0.01, dec])
    await settle(svc)
    await client.success("telescope", "get_fits_file_format_data")


async def test_goto_while_moving_is_refused_and_abort_stops_it(
    svc: RunningService, client: LightAptClient
) -> None:
    await sync_near(svc, 3.0, 10.0)
    await client.success("telescope", "goto", [3.0, 40.0])  # 30°: about 5 s
    # "success" comes once the driver took the goto: a poll at once sees it moving.
    assert prop(svc, "EQUATORIAL_EOD_COORD").state is PropertyState.BUSY
    assert (await client.data("telescope", "get_real_time_info"))["is_moving"] is True
    reply = await client.ask("telescope", "goto", [3.0, 12.0])
    assert (reply["type"], reply["message"]) == ("message", "telescope is moving, please wait!")
    # The mount's own refusal, typed, which the front words.
    with pytest.raises(DeviceBusyError) as refused:
        await Telescope(svc.service.client, SCOPE).goto(3.0, 12.0, epoch="JNow", replace=False)
    assert refused.value.reason is RefusalReason.MOVING

    # The original's abort failed (it assigned to the switch); this one stops.
    await client.success("telescope", "abort")
    eq = prop(svc, "EQUATORIAL_EOD_COORD")
    assert eq.state is not PropertyState.BUSY and eq["DEC"] < 35
    now = await client.data("telescope", "get_real_time_info")
    assert now["is_moving"] is False and now["state"] != "Busy"


async def test_goto_ha_dec_and_az_alt(svc: RunningService, client: LightAptClient) -> None:
    scope = Telescope(svc.service.client, SCOPE)
    # Two hours west of the meridian, well above the horizon and off the
    # pole, where small steps in HA or Alt/Az are small slews.
    lst = (await scope.position())["lst"]
    await sync_near(svc, (lst - 2.0) % 24, 20.0)
    ha, dec = 2.05, 19.5
    # (the original answered an error for both, whatever the input)
    await client.success("telescope", "goto_ha_dec", [ha, dec, "west of here"])
    await settle(svc)
    there = await scope.position()
    assert there["ha"] % 24 == pytest.approx(ha % 24, abs=0.01)
    assert there["dec"] == pytest.approx(dec, abs=0.05)

    alt, az = there["alt"] + 0.5, (there["az"] + 0.5) % 360
    await client.success("telescope", "got_az_al", [az, alt])  # the original's order: az, alt
    await settle(svc)
    there = await scope.position()
    assert there["alt"] == pytest.approx(alt, abs=0.1)
    assert there["az"] == pytest.approx(az, abs=0.2)
    assert there["tracking"] is False  # an Alt/Az target is a place

    reply = await client.ask("telescope", "goto_ha_dec", [30, 0])
    assert (reply["type"], reply["message"]) == ("message", "HA is not in range!")
    reply = await client.ask("telescope", "got_az_al", [400, 10])
    assert (reply["type"], reply["message"]) == ("message", "AZ is not in range!")
    reply = await client.ask("telescope", "got_az_al", [10, -100])
    assert (reply["type"], reply["message"]) == ("message", "ALT is not in range!")


# ---------------------------------------------------------------- park and home


async def test_set_park_park_unpark_and_home(svc: RunningService, client: LightAptClient) -> None:
    await client.success("telescope", "set_park", [-1.0, 30.0])
    position = prop(svc, "TELESCOPE_PARK_POSITION")
    assert (position["PARK_HA"], position["PARK_DEC"]) == (-1.0, 30.0)
    reply = await client.ask("telescope", "set_park", [-1.0])
    assert reply["type"] == "error" and "[ha, dec]" in reply["message"]
    # Park here: the park slew stays short.
    await client.success("telescope", "set_park", [])
    here = await Telescope(svc.service.client, SCOPE).position()
    assert prop(svc, "TELESCOPE_PARK_POSITION")["PARK_DEC"] == pytest.approx(here["dec"], abs=0.1)

    # The original never parked (can_park was never set).
    await client.success("telescope", "park")
    await wait_until(
        svc,
        "TELESCOPE_PARK",
        lambda p: p["PARK"] is SwitchState.ON and p.state is not PropertyState.BUSY,
    )
    reply = await client.ask("telescope", "goto", [5.0, 10.0])
    assert reply["message"] == "telescope is parked, please unpark first!"
    with pytest.raises(DeviceStateError) as refused:
        await Telescope(svc.service.client, SCOPE).goto(5.0, 10.0, epoch="JNow", replace=False)
    assert refused.value.reason is RefusalReason.PARKED
    reply = await client.ask("telescope", "handle_move_button", ["up", True])
    assert reply["type"] == "error" and "parked" in reply["message"]
    await client.success("telescope", "park")  # parked already: nothing to do

    await client.success("telescope", "unpark")
    await wait_until(
        svc,
        "TELESCOPE_PARK",
        lambda p: p["UNPARK"] is SwitchState.ON and p.state is not PropertyState.BUSY,
    )

    # INDI 1.9.9's simulator has no home position: the original's words.
    reply = await client.ask("telescope", "go_home")
    assert (reply["type"], reply["message"]) == (
        "message",
        "This telescope do not support go home!",
    )


async def test_unpark_while_parking_is_refused_and_the_park_goes_on(
    svc: RunningService, client: LightAptClient
) -> None:
    # A user clicks park, then changes their mind. The simulator would abort
    # the park and stay "parked" wherever it stopped: the unpark is refused
    # first, the reply says why, and the park goes on.
    await sync_near(svc, 7.0, 0.0)
    await client.success("telescope", "set_park", [-1.0, 60.0])  # a 60° slew away
    await client.success("telescope", "park")
    assert prop(svc, "TELESCOPE_PARK").state is PropertyState.BUSY
    reply = await client.ask("telescope", "unpark")
    assert reply["type"] == "error", reply
    assert "parking" in reply["message"] and "unparking" in reply["message"], reply
    assert prop(svc, "TELESCOPE_PARK").state is PropertyState.BUSY
    await client.success("telescope", "abort")
    await wait_until(svc, "TELESCOPE_PARK", lambda p: p.state is not PropertyState.BUSY)
    await settle(svc)


async def test_track_mode_while_parked_is_refused_at_once(
    svc: RunningService, client: LightAptClient
) -> None:
    # INDI::Telescope answers a track mode change while parked with a warning
    # message only; the reply names the cause rather than a 10 s timeout.
    await client.success("telescope", "set_park", [])
    await client.success("telescope", "park")
    await wait_until(
        svc,
        "TELESCOPE_PARK",
        lambda p: p["PARK"] is SwitchState.ON and p.state is not PropertyState.BUSY,
    )
    reply = await client.ask("telescope", "set_track_mode", ["lunar"])
    assert reply["type"] == "error" and "parked" in reply["message"], reply
    assert on(svc, "TELESCOPE_TRACK_MODE") == ["TRACK_SIDEREAL"]
    # The socket goes on at once: the next request is answered.
    assert (await client.data("telescope", "get_real_time_info"))["is_moving"] is False


async def test_replies_keep_order_while_actions_run(
    svc: RunningService, client: LightAptClient
) -> None:
    # cobalt-web polls while a goto runs: the goto answers once started, the
    # polls answer in turn, each echoing its instruction.
    await sync_near(svc, 7.0, 0.0)
    names = ["goto", "get_real_time_info", "get_set_params", "get_real_time_info"]
    params: list[list[Any]] = [[7.0, 1.0], [], [], []]
    for name, p in zip(names, params, strict=True):
        await client.send(
            json.dumps({"device_name": "telescope", "instruction": name, "params": p})
        )
    got = [await client.reply() for _ in names]
    assert [r["instruction"] for r in got] == names
    assert got[0]["message"] == "success"
    await settle(svc)
