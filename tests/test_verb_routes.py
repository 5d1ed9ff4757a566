"""REST routes of the declared verbs (``POST /api/v1/roles/{role}/{verb}``) and
of the actions they start (``/api/v1/actions/{id}``), as a script with curl
would use them, against one embedded service (its own indiserver, the
Observatory profile's simulators: every role has a device).

What a verb did is judged in the INDI mirror (what the drivers reported) or
by the bytes the service sent to indiserver, not by the API under test.
The tests run in file order; the unsafe one comes last.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from security_support import start_observatory, until
from tornado.httpclient import AsyncHTTPClient
from ws_support import sent_to

from indiws.protocol import PropertyState, SwitchState
from indiws.remote import Observatory, RemoteError
from indiws.testing import (
    IndiServerProcess,
    RunningService,
    start_service,
    sync_mount_east_of_meridian,
)
from indiws.verbs import VERBS

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE, WEATHER = "Telescope Simulator", "Weather Simulator"
GOTO = "/api/v1/roles/telescope/goto"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_observatory(tmp_path_factory.mktemp("verb-routes"), status_interval=0)
    try:
        yield running
    finally:
        await running.stop()


async def rest(
    svc: RunningService,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    resp = await AsyncHTTPClient().fetch(
        svc.url + path,
        method=method,
        body=("" if body is None else json.dumps(body)) if method in ("POST", "PUT") else None,
        headers={"Content-Type": "application/json", **(headers or {})},
        raise_error=False,
        request_timeout=180,
        allow_nonstandard_methods=True,
    )
    return resp.code, json.loads(resp.body) if resp.body else None, resp.headers


def conforms(verb: str, result: Any) -> None:
    """Only declared fields, each of its declared type."""
    msgspec.convert(result, VERBS[verb].result)


def mount(svc: RunningService) -> Any:
    return svc.service.client.devices[SCOPE].properties


def parked(svc: RunningService) -> bool:
    park = mount(svc)["TELESCOPE_PARK"]
    return park.state is not PropertyState.BUSY and park["PARK"] is SwitchState.ON


async def target(svc: RunningService, away: float = 0.5) -> dict[str, float]:
    """A goto ``away`` hours east of where the mount points, once synced east
    of the meridian: from wherever an earlier test left it, a goto across the
    meridian would be a pier flip (a 30-40 s slew the simulator ends off the
    target) at some hours."""
    if parked(svc):
        status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/unpark", {"wait": True})
        assert status == 200, body
    await sync_mount_east_of_meridian(svc.service.client, SCOPE)
    status, here, _ = await rest(svc, "POST", "/api/v1/roles/telescope/position", {})
    assert status == 200, here
    conforms("telescope.position", here)
    return {"ra": (here["ra_j2000"] + away) % 24, "dec": 30.0 if here["dec_j2000"] < 20 else 10.0}


async def follow(svc: RunningService, location: str) -> dict[str, Any]:
    """GET the action until it has finished; every answer is an ActionState."""
    while True:
        status, state, _ = await rest(svc, "GET", location)
        assert status == 200, state
        assert state["state"] in ("running", "finished")
        if state["state"] == "finished":
            return state
        assert state["outcome"] == "running" and state["ended"] is None
        await asyncio.sleep(0.5)


async def test_unknown_roles_verbs_and_methods(svc: RunningService) -> None:
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/spaceship/goto", {})
    assert status == 404 and body["error"]["code"] == "unknown_role"
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/safety/close_up", {})
    assert status == 404 and body["error"]["code"] == "unknown_role"  # /api/v1/safety is its
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/fly", {})
    assert status == 404 and body["error"]["code"] == "unknown_verb"
    assert "goto" in body["error"]["message"]  # the verbs it has are listed
    status, body, headers = await rest(svc, "GET", GOTO)
    assert status == 405 and headers["Allow"] == "OPTIONS, POST"
    assert body["error"]["code"] == "http_error"
    status, body, headers = await rest(svc, "PUT", "/api/v1/actions/1a2b3c4d", {})
    assert status == 405 and headers["Allow"] == "DELETE, GET, OPTIONS"
    for method in ("GET", "DELETE"):
        status, body, _ = await rest(svc, method, "/api/v1/actions/1a2b3c4d")
        assert status == 404 and body["error"]["code"] == "unknown_action"
    status, body, _ = await rest(svc, "POST", "/api/v1/actions/1a2b3c4d/abort", {})
    assert status == 404 and body["error"]["code"] == "unknown_action"


async def test_bad_bodies_are_refused_and_nothing_is_sent(svc: RunningService) -> None:
    cases = [
        ({"ra": "five", "dec": 10}, "ra", "Expected `float`, got `str`"),
        ({"ra": 25, "dec": 10}, "ra", "Expected `float` <= 24.0"),
        ({"ra": 5, "dec": -91}, "dec", "Expected `float` >= -90.0"),
        ({"ra": 5, "dec": 10, "timeout": 0}, "timeout", "Expected `float` > 0.0"),
        ({"ra": 5, "dec": 10, "speed": 3}, "speed", "unknown field `speed`"),
        ({"dec": 10}, "ra", "missing required field `ra`"),
        ({"ra": 5, "dec": 10, "epoch": "B1950"}, "epoch", "Invalid enum value 'B1950'"),
        ({"ra": 5, "dec": 10, "wait": "yes"}, "wait", "Expected `bool`"),
    ]
    with sent_to(svc, SCOPE) as sent:
        for body, field, words in cases:
            status, answer, _ = await rest(svc, "POST", GOTO, body)
            assert status == 400, (body, answer)
            error = answer["error"]
            assert error["code"] == "invalid_params", body
            assert error["data"]["field"] == field and error["data"]["path"] == f"$.{field}", body
            assert words in error["message"], (words, error["message"])
        for raw in ("[5, 10]", "{not json"):
            resp = await AsyncHTTPClient().fetch(
                svc.url + GOTO, method="POST", body=raw, raise_error=False
            )
            assert resp.code == 400 and json.loads(resp.body)["error"]["code"] == "invalid_params"
    assert sent == []  # no command to the mount


async def test_a_page_of_another_site_cannot_move_the_mount(svc: RunningService) -> None:
    with sent_to(svc, SCOPE) as sent:
        status, body, _ = await rest(
            svc, "POST", GOTO, {"ra": 5, "dec": 10}, {"Origin": "http://evil.example"}
        )
    assert status == 403 and body["error"]["code"] == "cross_site_refused"
    assert sent == []


async def test_a_goto_with_wait_answers_its_result(svc: RunningService) -> None:
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/unpark", {"wait": True})
    assert status == 200, body
    conforms("telescope.unpark", body)
    assert body["parked"] is False and not parked(svc)
    aim = await target(svc)
    with sent_to(svc, SCOPE) as sent:
        status, body, headers = await rest(svc, "POST", GOTO, {**aim, "wait": True})
    assert status == 200, body
    assert sent  # the spy of the refusals above sees what a verb sends
    assert "Location" not in headers
    conforms("telescope.goto", body)
    assert abs(body["ra_j2000"] - aim["ra"]) < 0.01 and abs(body["dec_j2000"] - aim["dec"]) < 0.1
    assert mount(svc)["EQUATORIAL_EOD_COORD"].state is not PropertyState.BUSY


async def test_a_goto_without_wait_is_followed_to_its_end(svc: RunningService) -> None:
    aim = await target(svc)
    status, started, headers = await rest(svc, "POST", GOTO, aim)
    assert status == 202, started
    location = headers["Location"]
    assert location == started["location"] == f"/api/v1/actions/{started['action_id']}"
    assert started["action"] == "goto" and started["role"] == "telescope"
    assert started["device"] == SCOPE
    # The slew is on (the driver says so) when the 202 comes... or about to be.
    status, now, _ = await rest(svc, "GET", location)
    assert status == 200 and now["action_id"] == started["action_id"]
    # Every front sees the same action.
    status, listed, _ = await rest(svc, "GET", "/api/v1/actions?limit=5")
    assert status == 200 and started["action_id"] in [a["action_id"] for a in listed]
    done = await follow(svc, location)
    assert done["outcome"] == "ok" and isinstance(done["ended"], float)
    conforms("telescope.goto", done["result"])
    assert abs(done["result"]["ra_j2000"] - aim["ra"]) < 0.01
    assert mount(svc)["EQUATORIAL_EOD_COORD"].state is not PropertyState.BUSY
    status, _, _ = await rest(svc, "DELETE", location)  # ended: nothing to abort
    assert status == 404


@pytest.mark.parametrize("how", ["DELETE", "POST abort"])
async def test_a_goto_is_aborted(svc: RunningService, how: str) -> None:
    aim = await target(svc, away=3.0)  # 45 degrees: long enough to abort
    status, started, headers = await rest(svc, "POST", GOTO, aim)
    assert status == 202, started
    location = headers["Location"]
    if how == "DELETE":
        status, aborted, _ = await rest(svc, "DELETE", location)
    else:
        status, aborted, _ = await rest(svc, "POST", location + "/abort", {})
    assert status == 200, aborted
    assert aborted["aborted"] is True and aborted["action_id"] == started["action_id"]
    done = await follow(svc, location)
    assert done["outcome"] == "aborted"
    assert done["error"]["code"] == "aborted" and "result" not in done
    # The mount stops (the simulator may say Busy a tick longer), short of the target.
    await until(svc, lambda: mount(svc)["EQUATORIAL_EOD_COORD"].state is not PropertyState.BUSY)
    assert abs(mount(svc)["EQUATORIAL_EOD_COORD"]["RA"] - aim["ra"]) > 0.1  # stopped short


async def test_a_quick_verb_answers_200_and_its_device_errors_keep_their_status(
    svc: RunningService,
) -> None:
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/get_site")
    assert status == 200, body
    conforms("telescope.get_site", body)
    status, body, _ = await rest(
        svc, "POST", "/api/v1/roles/telescope/set_track_mode", {"mode": "x"}
    )
    # A mode the mount does not offer: schema-valid, refused against the
    # device (422, docs/http.md#error-codes), the modes it has named.
    assert status == 422 and body["error"]["code"] == "invalid_value", body
    assert "TRACK_SIDEREAL" in body["error"]["message"], body


async def call(svc: RunningService, verb: str, body: dict[str, Any] | None = None) -> Any:
    """POST a verb with wait; its answer conforms to the declared result."""
    role, _, name = verb.partition(".")
    status, answer, _ = await rest(
        svc, "POST", f"/api/v1/roles/{role}/{name}", {**(body or {}), "wait": True}
    )
    assert status == 200, (verb, answer)
    conforms(verb, answer)
    return answer


async def test_the_observatory_roles_answer_their_declared_results(svc: RunningService) -> None:
    """Every role's verbs through REST, each answer checked against its struct."""
    props = svc.service.client.devices
    dome = "Dome Simulator"
    await call(svc, "weather.state")
    await call(svc, "weather.refresh")
    await call(svc, "gps.fix")
    await call(svc, "rotator.angle")
    moved = await call(svc, "rotator.move_to", {"angle": 15})
    assert props["Rotator Simulator"].properties["ABS_ROTATOR_ANGLE"]["ANGLE"] == pytest.approx(
        moved["angle"], abs=0.1
    )
    await call(svc, "rotator.sync", {"angle": 15})
    await call(svc, "rotator.set_reverse", {"on": False})
    await call(svc, "rotator.abort")
    await call(svc, "flat_panel.state")
    lit = await call(svc, "flat_panel.set_light", {"on": True, "brightness": 30})
    assert lit["light"] is True and lit["brightness"] == 30
    await call(svc, "flat_panel.set_brightness", {"brightness": 20})
    await call(svc, "flat_panel.set_light", {"on": False})
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/flat_panel/open_cap", {})
    assert status == 409 and body["error"]["code"] == "capability_missing"
    await call(svc, "dome.position")
    await call(svc, "dome.unpark")
    await call(svc, "dome.open")
    status, started, headers = await rest(svc, "POST", "/api/v1/roles/dome/goto", {"azimuth": 30})
    assert status == 202, started
    done = await follow(svc, headers["Location"])
    assert done["outcome"] == "ok"
    conforms("dome.goto", done["result"])
    azimuth = props[dome].properties["ABS_DOME_POSITION"]["DOME_ABSOLUTE_POSITION"]
    assert azimuth == pytest.approx(30, abs=1)
    following = await call(svc, "dome.set_following", {"on": True})
    assert following["telescope"] == SCOPE  # the telescope role's device, given by the front
    await call(svc, "dome.set_following", {"on": False})
    await call(svc, "dome.close")
    await call(svc, "dome.abort")
    await call(svc, "guider.guide_rate")
    pulse = await call(
        svc, "guider.pulse", {"direction": "north", "duration_ms": 50, "via": "mount"}
    )
    assert pulse["via"] == "mount"
    await call(svc, "guider.stop")
    applied = await call(svc, "gps.apply", {"refresh": False})
    assert applied["telescope"] == SCOPE
    # Every role's status and connect (connected already: answers at once).
    for role in ("telescope", "focuser", "filter_wheel", "dome", "rotator"):
        assert (await call(svc, f"{role}.status"))["connected"] is True
    for role in ("flat_panel", "weather", "gps"):
        assert (await call(svc, f"{role}.connect"))["connected"] is True
    gone = await call(svc, "rotator.disconnect")
    assert gone["connected"] is False and "angle" not in gone
    assert not props["Rotator Simulator"].connected
    back = await call(svc, "rotator.connect")
    assert back["connected"] is True and back["angle"] is not None


async def test_an_exposure_answers_its_frame_urls_on_both_fronts(svc: RunningService) -> None:
    """`verb_call` adds a frame's URLs: REST's answer (200 with wait, the
    finished action after a 202) and JSON-RPC's carry the same ones, and
    they serve the frame."""

    async def served(frame: dict[str, Any]) -> None:
        blob = frame["blob_id"]
        assert frame["url"] == f"/blobs/{blob}"
        assert frame["preview_url"] == f"/blobs/{blob}/preview.png"
        assert frame["preview_jpg_url"] == f"/blobs/{blob}/preview.jpg"
        resp = await AsyncHTTPClient().fetch(svc.url + frame["url"], raise_error=False)
        assert resp.code == 200 and resp.body.startswith(b"SIMPLE")  # the FITS itself

    await served(await call(svc, "camera.expose", {"duration": 0.1, "frame_type": "dark"}))
    status, started, headers = await rest(
        svc, "POST", "/api/v1/roles/camera/expose", {"duration": 0.1}
    )
    assert status == 202, started
    done = await follow(svc, headers["Location"])
    conforms("camera.expose", done["result"])
    await served(done["result"])
    async with Observatory(svc.url) as obs:
        frame = await obs.call("camera.expose", {"duration": 0.1})
        await served(frame)
    # The JSON-RPC call's action, read over REST, has them too.
    status, listed, _ = await rest(svc, "GET", "/api/v1/actions?limit=1")
    assert status == 200 and listed[0]["result"]["blob_id"] == frame["blob_id"]
    conforms("camera.expose", listed[0]["result"])
    assert listed[0]["result"]["url"] == frame["url"]


async def test_a_manual_move_over_rest_is_timed_and_stops(svc: RunningService) -> None:
    """No connection holds a REST move: an untimed one is refused before
    anything is sent; a timed one ends by itself, or at telescope/stop."""
    move = "/api/v1/roles/telescope/move"
    with sent_to(svc, SCOPE) as sent:
        status, body, _ = await rest(svc, "POST", move, {"direction": "north"})
        assert status == 400 and body["error"]["data"]["field"] == "duration", body
        assert "needs a duration over REST" in body["error"]["message"]
        status, body, _ = await rest(svc, "POST", move, {"direction": "n", "duration": 3601})
        assert status == 400 and body["error"]["data"]["field"] == "duration", body
        status, body, _ = await rest(svc, "POST", move, {"direction": "n", "duration": None})
        assert status == 400 and body["error"]["data"]["field"] == "duration", body
    assert sent == []
    motion = mount(svc)
    done = await call(svc, "telescope.move", {"direction": "east", "duration": 0.5})
    assert done["moving"] is False and done["direction"] == "east" and done["duration"] == 0.5
    assert motion["TELESCOPE_MOTION_WE"]["MOTION_EAST"] is SwitchState.OFF
    status, started, headers = await rest(svc, "POST", move, {"direction": "n", "duration": 600})
    assert status == 202, started
    await until(svc, lambda: motion["TELESCOPE_MOTION_NS"]["MOTION_NORTH"] is SwitchState.ON)
    stopped = await call(svc, "telescope.stop")
    assert stopped["moving"] is False
    finished = await follow(svc, headers["Location"])
    assert finished["outcome"] == "aborted"  # stopped short of its 600 s
    assert motion["TELESCOPE_MOTION_NS"]["MOTION_NORTH"] is SwitchState.OFF
    assert motion["TELESCOPE_MOTION_NS"].state is not PropertyState.BUSY


async def test_every_role_answers_its_info(svc: RunningService) -> None:
    for role in ("telescope", "camera", "focuser", "filter_wheel", "dome", "rotator"):
        info = await call(svc, f"{role}.info")
        assert info["role"] == role and info["connected"] is True
        assert info["capabilities"] is not None


async def test_a_move_is_refused_while_unsafe_unless_forced(svc: RunningService) -> None:
    client = svc.service.client
    await client.set_property(WEATHER, "WEATHER_CONTROL", {"Precip": 10}, wait=True, timeout=10)
    await client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})
    safety = svc.service.safety
    # The close-up has run to its end: the mount is parked, the dome closed.
    await until(
        svc,
        lambda: (
            not safety.safe
            and not safety.closing
            and "finished" in (safety.last_close_up or {})
            and parked(svc)
        ),
        180,
    )
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/unpark", {"wait": True})
    assert status == 409 and body["error"]["code"] == "unsafe", body
    assert parked(svc)
    status, body, _ = await rest(
        svc, "POST", "/api/v1/roles/telescope/unpark", {"wait": True, "force": True}
    )
    assert status == 200, body
    assert body["parked"] is False and not parked(svc)
    # A centering slews too: refused as a goto is, before anything is sent.
    with sent_to(svc, SCOPE) as sent:
        status, body, _ = await rest(
            svc, "POST", "/api/v1/roles/telescope/center", {"ra": 5.59, "dec": -5.39}
        )
    assert status == 409 and body["error"]["code"] == "unsafe", body
    assert sent == []
    # The safety policy's verbs, declared too (JSON-RPC), answer their declared results.
    async with Observatory(svc.url) as obs:
        now = await obs.safety.status()
        conforms("safety.status", now)
        assert now["safe"] is False and now["last_close_up"]["actions"]
        with pytest.raises(RemoteError) as err:
            await obs.safety.override_weather(True, "x" * 201)
        assert err.value.name == "invalid_params" and err.value.data["param"] == "note"
        overridden = await obs.safety.override_weather(True, "a test")
        conforms("safety.override_weather", overridden)
        assert overridden["safe"] is True and overridden["weather_override"]["note"] == "a test"
        conforms("safety.override_weather", await obs.safety.override_weather(False))


@pytest_asyncio.fixture(loop_scope="module")
async def lan_service(
    indiserver: IndiServerProcess, tmp_path: Path
) -> AsyncIterator[RunningService]:
    """Listening on every interface: the access token is required."""
    running = await start_service(indiserver, tmp_path / "data", host="0.0.0.0")
    yield running
    await running.stop()


async def test_verbs_need_the_access_token_where_the_service_does(
    lan_service: RunningService,
) -> None:
    svc = lan_service
    token = svc.service.access_token
    assert token is not None
    await svc.service.roles.assign("telescope", SCOPE)
    with sent_to(svc, SCOPE) as sent:
        for method, path in [
            ("POST", GOTO),
            ("POST", "/api/v1/roles/telescope/position"),
            ("GET", "/api/v1/actions"),
            ("DELETE", "/api/v1/actions/1a2b3c4d"),
        ]:
            status, body, _ = await rest(svc, method, path, {"ra": 5, "dec": 10})
            assert status == 401 and body["error"]["code"] == "token_required", (method, path)
    assert sent == []
    bearer = {"Authorization": f"Bearer {token}"}
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/position", {}, bearer)
    assert status == 200, body
    conforms("telescope.position", body)
