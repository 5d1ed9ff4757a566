"""Autofocus, plate solving, frame analysis and centering declared as verbs
(docs/verbs.md): their REST routes end to end against the Observatory
profile's simulators, and their params, OpenAPI operations and client
methods all the registry's.  The closed loop that focuses and centres on a
star field for real is tests/test_analysis_closed_loop.py (JSON-RPC and a
REST solve).

What a call did is judged in the INDI mirror (where the focuser is, what was
sent to the mount), not by the API under test.  Tests run in file order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from security_support import start_observatory
from tornado.httpclient import AsyncHTTPClient
from ws_support import sent_to

from indiws.remote._methods import METHODS
from indiws.testing import RunningService
from indiws.verbs import VERBS
from indiws.web.highlevel import IndiClientSocket

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCOPE, FOCUSER = "Telescope Simulator", "Focuser Simulator"
#: The procedures declared as verbs, and the REST route of each.
ROUTES = {
    "focuser.autofocus": "/api/v1/roles/focuser/autofocus",
    "camera.solve": "/api/v1/roles/camera/solve",
    "camera.analyse": "/api/v1/roles/camera/analyse",
    "telescope.center": "/api/v1/roles/telescope/center",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_observatory(tmp_path_factory.mktemp("analysis-verbs"), status_interval=0)
    try:
        yield running
    finally:
        await running.stop()


async def rest(svc: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await AsyncHTTPClient().fetch(
        svc.url + path,
        method=method,
        body=json.dumps(body) if method == "POST" else None,
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=180,
    )
    return resp.code, (json.loads(resp.body) if resp.body else None), resp.headers


async def follow(svc: RunningService, location: str) -> dict[str, Any]:
    """GET the action until it has finished."""
    while True:
        status, state, _ = await rest(svc, "GET", location)
        assert status == 200, state
        if state["state"] == "finished":
            return state
        await asyncio.sleep(0.3)


def focuser_position(svc: RunningService) -> float:
    return svc.service.client.devices[FOCUSER].properties["ABS_FOCUS_POSITION"][
        "FOCUS_ABSOLUTE_POSITION"
    ]


async def actions(svc: RunningService) -> list[str]:
    status, listed, _ = await rest(svc, "GET", "/api/v1/actions")
    assert status == 200
    return [a["action"] for a in listed]


async def test_their_params_are_the_registrys_on_every_front(svc: RunningService) -> None:
    status, doc, _ = await rest(svc, "GET", "/api/v1/openapi.json")
    assert status == 200
    for name, path in ROUTES.items():
        verb = VERBS[name]
        fields = [f.name for f in verb.fields()]
        # JSON-RPC (rpc.discover), in the struct's order, with its defaults and ranges.
        described = IndiClientSocket.methods[name].describe()
        assert [p["name"] for p in described["params"]] == fields
        for p in described["params"]:
            assert p["schema"] == {**verb.param_schema(p["name"]), **p["schema"]}
        # The generated client.
        assert METHODS[name]["params"] == fields
        assert METHODS[name]["defaults"] == verb.defaults()
        # REST: the body is the params and wait; the answer is the result struct.
        post = doc["paths"][path]["post"]
        request = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = doc["components"]["schemas"][request.rpartition("/")[2]]
        assert set(body["properties"]) == {*fields, "wait"}
        assert ("202" in post["responses"]) is verb.long
    assert VERBS["focuser.autofocus"].moves and VERBS["telescope.center"].moves
    assert "Moves hardware" in doc["paths"][ROUTES["focuser.autofocus"]]["post"]["description"]
    center = doc["paths"][ROUTES["telescope.center"]]["post"]["description"]
    assert "unless `force`" in center
    tolerance = VERBS["telescope.center"].param_schema("tolerance")
    assert (tolerance["minimum"], tolerance["maximum"]) == (1, 36000)


async def test_a_frame_just_taken_is_analysed_again_over_rest(svc: RunningService) -> None:
    status, shot, _ = await rest(
        svc, "POST", "/api/v1/roles/camera/expose", {"duration": 0.2, "wait": True}
    )
    assert status == 200, shot
    status, again, _ = await rest(
        svc, "POST", ROUTES["camera.analyse"], {"blob_id": shot["blob_id"]}
    )
    assert status == 200, again
    msgspec.convert(again, VERBS["camera.analyse"].result)
    # The same frame measured again: the same stars and HFR as at exposure time.
    for key in ("width", "height", "stars", "hfr", "fwhm", "background", "median"):
        assert again[key] == shot["analysis"][key], key
    assert again["blob_id"] == shot["blob_id"] and again["url"] == shot["url"]
    # No blob_id: the newest frame, this one.
    status, newest, _ = await rest(svc, "POST", ROUTES["camera.analyse"], {})
    assert status == 200 and newest["blob_id"] == shot["blob_id"]
    status, body, _ = await rest(svc, "POST", ROUTES["camera.analyse"], {"blob_id": "nope"})
    assert status == 404 and body["error"]["code"] == "unknown_frame", body
    # No camera is needed to measure a stored frame.
    roles = svc.service.roles
    camera = roles.device_for("camera")
    roles.release("camera")
    try:
        status, again, _ = await rest(svc, "POST", ROUTES["camera.analyse"], {})
        assert status == 200 and again["stars"] == shot["analysis"]["stars"], again
    finally:
        await roles.assign("camera", camera)


async def test_a_solve_of_an_unknown_frame_is_refused_before_any_action(
    svc: RunningService,
) -> None:
    status, body, _ = await rest(svc, "POST", ROUTES["camera.solve"], {"blob_id": "nope"})
    assert status == 404 and body["error"]["code"] == "unknown_frame", body
    status, body, _ = await rest(svc, "POST", ROUTES["camera.solve"], {"radius": 0})
    assert status == 400 and body["error"]["data"]["field"] == "radius", body
    assert "solve" not in await actions(svc)


async def test_autofocus_over_rest_is_an_action_followed_to_its_end(svc: RunningService) -> None:
    """Without enough stars (min_stars beyond any frame's) the autofocus
    sweeps, fails with its points, and puts the focuser back where it was."""
    here = focuser_position(svc)
    body = {"exposure": 0.1, "step": 1000, "steps": 5, "min_stars": 5000, "extend": 0}
    status, started, headers = await rest(svc, "POST", ROUTES["focuser.autofocus"], body)
    assert status == 202, started
    assert started["action"] == "autofocus" and started["role"] == "focuser"
    assert headers["Location"] == started["location"]
    assert started["params"]["steps"] == 5
    ended = await follow(svc, started["location"])
    assert ended["outcome"] == "autofocus_failed", ended
    assert ended["error"]["code"] == "autofocus_failed"
    assert len(ended["error"]["data"]["points"]) == 6  # where it started, and the 5 of the sweep
    assert focuser_position(svc) == here
    # A body outside the declared ranges is refused by name, nothing started.
    status, refused, _ = await rest(svc, "POST", ROUTES["focuser.autofocus"], {"steps": 2})
    assert status == 400 and refused["error"]["data"]["field"] == "steps", refused


async def test_centering_over_rest_keeps_the_gates_of_a_goto(svc: RunningService) -> None:
    """Refused while parked, before anything is sent to the mount or an
    action starts (while unsafe: tests/test_verb_routes.py's unsafe test)."""
    status, body, _ = await rest(svc, "POST", "/api/v1/roles/telescope/park", {"wait": True})
    assert status == 200, body
    target = {"ra": 5.59, "dec": -5.39, "exposure": 0.1}
    with sent_to(svc, SCOPE) as sent:
        status, body, _ = await rest(svc, "POST", ROUTES["telescope.center"], target)
        assert status == 409 and body["error"]["code"] == "invalid_state", body
        status, body, _ = await rest(svc, "POST", ROUTES["telescope.center"], {**target, "ra": 25})
        assert status == 400 and body["error"]["data"]["field"] == "ra", body
    assert sent == []
    assert "center" not in await actions(svc)
