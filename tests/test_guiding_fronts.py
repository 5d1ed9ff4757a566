"""The autoguider through its fronts: ``guiding.*`` JSON-RPC methods and
``guiding.<event>`` notifications on ``/ws/indi_client/``, the star cutout
over HTTP, lightAPT's ``phd2`` instructions with the pushed ``PHD2_event``
frames, and cobalt-web's ``/phd2/*`` calls, as each client sends them.

One indiserver (telescope and guide simulators), one service and one
calibration serve the whole module; the tests run in file order: errors
first, then one calibration and guiding run that the later tests reuse
(a dither, a settle that fails, lightAPT stopping and restarting guiding
on the kept calibration).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from guiding_support import (
    GUIDE_SETTINGS,
    TARGET,
    quicken_guide_camera,
    until_the_guide_camera_sees,
)
from lightapt_support import LightAptClient
from PIL import Image
from test_lightapt_http import axios, send
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient, http

from indiws.remote import Observatory
from indiws.testing import IndiServerProcess, RunningService, start_service

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCOPE, GUIDE = "Telescope Simulator", "Guide Simulator"

# JSON-RPC codes (indiws/web/errors.py, indiws/web/guiding_rpc.py).
INVALID_PARAMS = -32602
INVALID_VALUE = -32015
NO_STAR = -32092
NOT_GUIDING = -32094
SETTLE_FAILED = -32095

#: PHD2 GuideStep fields cobalt-web's graph reads.
GRAPH_FIELDS = {
    "dx",
    "dy",
    "RADistanceRaw",
    "DECDistanceRaw",
    "RADistanceGuide",
    "DECDistanceGuide",
}
SIX_ARRAYS = {"dx", "dy", "RaControl", "DecControl", "RaDistance", "DecDistance"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    process = IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_guide"],
        workdir=tmp_path_factory.mktemp("guiding"),
    )
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
        server, tmp_path_factory.mktemp("guiding-data"), status_interval=0.5
    )
    try:
        service = running.service
        await service.roles.assign("telescope", SCOPE)
        await service.roles.assign("guider", GUIDE)
        service.guiding.configure(**GUIDE_SETTINGS)
        await quicken_guide_camera(service.client)
        ws = await WsClient.open(running.ws_url + "/ws/indi_client/")
        try:
            await ws.call("telescope.unpark", timeout=30)
            # Synced on a field with stars rather than slewed there (guiding_support).
            ra, dec = TARGET
            await ws.call("telescope.sync", {"ra": ra, "dec": dec}, timeout=30)
            await ws.call("telescope.set_tracking", {"on": True}, timeout=30)
        finally:
            await ws.close()
        await until_the_guide_camera_sees(service.guiding, *TARGET)
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def ws(svc: RunningService) -> AsyncIterator[WsClient]:
    client = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    yield client
    await client.close()


async def phd2_post(svc: RunningService, path: str, payload: Any = None) -> Any:
    """A cobalt-web POST (axios); the JSON body."""
    body = b"" if payload is None else json.dumps(payload).encode()
    answer = await send(svc.port, axios(path, "POST"), body)
    assert answer.status == 200, answer.body
    return answer.json()


async def phd2_get(svc: RunningService, path: str) -> Any:
    answer = await send(svc.port, axios(path))
    assert answer.status == 200, answer.body
    return answer.json()


def events(ws: WsClient) -> list[dict]:
    """Every notification received so far, in order."""
    return [m for _, m in ws.log if isinstance(m, dict) and "method" in m]


# ---------------------------------------------------------------- before guiding


async def test_methods_are_discoverable_and_errors_are_clear(
    svc: RunningService, ws: WsClient
) -> None:
    methods = {m["name"]: m for m in (await ws.call("rpc.discover"))["methods"]}
    for name in (
        "status",
        "settings",
        "configure",
        "loop",
        "stop",
        "find_star",
        "set_lock_position",
        "start",
        "calibrate",
        "dither",
        "pause",
        "resume",
        "clear_calibration",
        "flip_calibration",
        "history",
        "pulse",
    ):
        assert f"guiding.{name}" in methods
    assert "guiding.guide_step" in methods["guiding.start"]["x-events"]

    status = await ws.call("guiding.status")
    assert status["state"] == "Stopped" and status["camera"] == GUIDE
    assert status["settings"]["binning"] == 4

    err = await ws.error("guiding.dither", {"amount": 3})
    assert (err["code"], err["data"]["error"]) == (NOT_GUIDING, "not_guiding")
    err = await ws.error("guiding.configure", {"exposure": -1})
    assert err["code"] == INVALID_VALUE and "exposure" in err["message"]
    err = await ws.error("guiding.configure", {"dec_mode": "sideways"})
    assert err["code"] == INVALID_VALUE and "dec_mode" in err["message"]
    err = await ws.error("guiding.configure", {"no_such_setting": 1})
    assert err["code"] == INVALID_PARAMS
    err = await ws.error("guiding.start", {"settle": {"pixels": -1}})
    assert err["code"] == INVALID_PARAMS and "settle.pixels" in err["message"]
    # A number outside its declared range: invalid_value in the range's words, as every verb.
    err = await ws.error("guiding.history", {"limit": 0})
    assert err["code"] == INVALID_VALUE and "limit must be within [1, 100000]" in err["message"]
    assert (await ws.call("guiding.configure", {"settle_pixels": 2.0}))["settle_pixels"] == 2.0

    resp = await http(svc, "/api/v1/guiding/star.png")
    assert resp.code == 404
    assert json.loads(resp.body)["error"]["code"] == "no_star"
    resp = await http(svc, "/api/v1/guiding/star.png?size=big")
    assert resp.code == 400 and "size" in json.loads(resp.body)["error"]["message"]


async def test_cobalt_web_connection_page_calls(svc: RunningService) -> None:
    body = await phd2_post(svc, "/phd2/check_profile/", {"camera": GUIDE, "telescope": SCOPE})
    assert body == {"success": True, "data": {"flag": True}}
    body = await phd2_post(svc, "/phd2/check_profile/", {"camera": "CCD Simulator"})
    assert body["data"]["flag"] is False
    assert (await phd2_post(svc, "/phd2/start/"))["data"]["flag"] is True
    assert (await phd2_post(svc, "/phd2/connect_device/"))["data"]["flag"] is True
    assert (await phd2_get(svc, "/phd2/connection/"))["data"]["flag"] is True
    assert (await phd2_get(svc, "/phd2/process/"))["data"]["flag"] is True
    assert (await phd2_get(svc, "/phd2/status/"))["data"]["flag"] == "Stopped"
    profile = (await phd2_get(svc, "/phd2/current_profile/"))["data"]
    assert (profile["camera"], profile["telescope"]) == (GUIDE, SCOPE)
    bad = await send(svc.port, axios("/phd2/check_profile/", "POST"), b'{"camera": 3}')
    assert bad.status == 400 and "camera" in bad.json()["error"]["message"]


async def test_lightapt_guiding_data_is_empty_before_guiding(svc: RunningService) -> None:
    client = await LightAptClient.open(svc)
    try:
        data = await client.data("phd2", "get_guiding_data")
        assert data == {name: [] for name in SIX_ARRAYS}
        reply = await client.ask("phd2", "start_guide", ["yes"])
        assert reply["type"] == "error" and "recalibrate" in reply["message"]
    finally:
        await client.close()


# ---------------------------------------------------------------- guiding


async def test_calibrate_and_guide_with_progress_and_events(
    svc: RunningService, ws: WsClient
) -> None:
    lightapt = await LightAptClient.open(svc)
    try:
        await lightapt.data("phd2", "get_guiding_data")  # makes it a lightAPT socket
        rid = 1000
        progress: list[dict] = []
        text = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "method": "guiding.calibrate",
                "params": {"settle": {"pixels": 2.5, "time": 3, "timeout": 90}},
            }
        )
        answer = await ws.raw(text, rid=rid, timeout=400)
        assert "error" not in answer, answer
        result = answer["result"]
        assert result["settled"] is True and result["Status"] == 0
        assert result["status"] == "Guiding"
        for note in events(ws):
            if note["method"] == "progress" and note["params"].get("id") == rid:
                progress.append(note["params"])
        seen = [p["event"] for p in progress]
        assert "StartCalibration" in seen and "StartGuiding" in seen, seen

        names = [n["method"] for n in events(ws)]
        for name in (
            "guiding.start_calibration",
            "guiding.calibration_complete",
            "guiding.start_guiding",
            "guiding.guide_step",
            "guiding.settle_done",
        ):
            assert name in names, name
        step = next(n["params"] for n in events(ws) if n["method"] == "guiding.guide_step")
        assert GRAPH_FIELDS <= set(step) and "time" in step

        # The periodic status carries the guider's state (the queue holds older ones).
        status = await ws.next_note(
            "status", where=lambda p: p.get("guiding", {}).get("state") == "Guiding", timeout=10
        )
        assert status["params"]["guiding"]["calibrated"] is True

        # lightAPT's socket got the PHD2 frames cobalt-web reads.
        pushed = [json.loads(t) for t in lightapt.frames]
        steps = [f for f in pushed if f.get("device_name") == "PHD2_event"]
        guide_steps = [f for f in steps if f["message"] == "GuideStep"]
        assert guide_steps and GRAPH_FIELDS <= set(guide_steps[0]["data"])
        cal = next(f["data"] for f in steps if f["message"] == "get_calibration_data")
        assert cal["calibrated"] is True and cal["xRate"] > 0 and cal["yRate"] > 0
    finally:
        await lightapt.close()


async def test_status_history_and_star_image_while_guiding(
    svc: RunningService, ws: WsClient
) -> None:
    await ws.next_note("guiding.guide_step", timeout=30)
    status = await ws.call("guiding.status")
    assert status["state"] == "Guiding" and status["calibrated"]
    assert status["stats"]["frames"] > 0
    assert set(status["stats"]["pixels"]) >= {"rms_ra", "rms_dec", "rms_total"}
    history = await ws.call("guiding.history", {"limit": 5})
    assert 1 <= len(history["steps"]) <= 5
    assert GRAPH_FIELDS <= set(history["steps"][-1])

    resp = await http(svc, "/api/v1/guiding/star.png?scale=4")
    assert resp.code == 200 and resp.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(resp.body))
    assert image.width >= 15 * 4 and image.mode == "L"
    # The star is brighter than the cutout's edge.
    pixels = image.load()
    centre = pixels[image.width // 2, image.height // 2]
    assert centre > pixels[0, 0]


async def test_lightapt_guiding_data_has_the_last_steps(svc: RunningService) -> None:
    client = await LightAptClient.open(svc)
    try:
        data = await client.data("phd2", "get_guiding_data")
        assert set(data) == SIX_ARRAYS
        lengths = {len(v) for v in data.values()}
        assert len(lengths) == 1 and 0 < lengths.pop() <= 100
        assert all(isinstance(v, int | float) for v in data["RaDistance"])
    finally:
        await client.close()


async def test_dither_settles_and_a_too_strict_settle_fails(ws: WsClient) -> None:
    result = await ws.call(
        "guiding.dither",
        {"amount": 3, "settle": {"pixels": 2.5, "time": 2, "timeout": 90}},
        timeout=120,
    )
    assert result["settled"] is True
    assert "guiding.guiding_dithered" in [n["method"] for n in events(ws)]
    err = await ws.error(
        "guiding.start", {"settle": {"pixels": 0.01, "time": 5, "timeout": 2}}, timeout=60
    )
    assert (err["code"], err["data"]["error"]) == (SETTLE_FAILED, "settle_failed")
    assert (await ws.call("guiding.status"))["state"] == "Guiding"  # still guiding


async def test_the_python_client_dithers_with_progress(svc: RunningService) -> None:
    async with Observatory(svc.url) as obs:
        status = await obs.guiding.status()
        assert status["state"] == "Guiding"
        progress: list[dict] = []
        result = await obs.guiding.dither(
            2.0, settle={"pixels": 2.5, "time": 2, "timeout": 90}, on_progress=progress.append
        )
        assert result["settled"] is True and result["status"] == "Guiding"
        assert "Settling" in [p["event"] for p in progress]
        history = await obs.guiding.history(limit=3)
        assert len(history["steps"]) == 3


async def test_pause_resume_and_stop(ws: WsClient) -> None:
    assert (await ws.call("guiding.pause"))["paused"] is True
    assert (await ws.call("guiding.resume"))["paused"] is False
    status = await ws.call("guiding.stop", timeout=30)
    assert status["state"] == "Stopped" and not status["capturing"]


async def test_lightapt_start_guide_uses_the_kept_calibration(svc: RunningService) -> None:
    client = await LightAptClient.open(svc)
    try:
        await client.success("phd2", "start_guide", [False])
        seen: list[dict] = []
        try:
            async with asyncio.timeout(120):
                while True:
                    frame = await client.reply(timeout=120)
                    seen.append(frame)
                    if frame.get("device_name") == "PHD2_event" and frame["message"] == "GuideStep":
                        break
        except TimeoutError:
            status = svc.service.guiding.status()
            raise AssertionError(f"no guide step: {seen[-5:]}, {status}") from None
        assert (await phd2_get(svc, "/phd2/status/"))["data"]["flag"] in ("Guiding", "Settling")
        await client.success("phd2", "stop_guide")
        assert svc.service.guiding.state == "Stopped"
        await client.success("phd2", "loop_exposure")
        assert svc.service.guiding.state in ("Looping", "Selected")
        assert (await phd2_post(svc, "/phd2/stop/"))["data"]["flag"] is True
    finally:
        await client.close()


# ---------------------------------------------------------------- REST


async def rest(svc: RunningService, method: str, path: str, body: Any = None) -> tuple:
    """(status, JSON body, headers) of one REST call, as a script sends it."""
    resp = await AsyncHTTPClient().fetch(
        svc.url + path,
        method=method,
        body=None if method in ("GET", "DELETE") else json.dumps(body or {}),
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=300,
        allow_nonstandard_methods=True,
    )
    return resp.code, json.loads(resp.body) if resp.body else None, resp.headers


async def finished(svc: RunningService, location: str) -> dict:
    """Follow an action at ``location`` until it has ended."""
    async with asyncio.timeout(300):
        while True:
            code, action, _ = await rest(svc, "GET", location)
            assert code == 200, action
            if action["state"] == "finished":
                return action
            await asyncio.sleep(0.5)


async def test_rest_guides_as_an_action_followed_to_its_end(svc: RunningService) -> None:
    """The verbs' REST routes (docs/http.md): start and dither are actions
    (202, Location, followed to the settle's outcome; 200 with wait), an
    abort stops guiding, the quick verbs answer 200, a bad body is refused
    before anything starts."""
    guiding = svc.service.guiding
    code, status, _ = await rest(svc, "POST", "/api/v1/roles/guiding/stop")
    assert code == 200 and status["state"] == "Stopped" and not status["capturing"]
    settle = {"pixels": 2.5, "time": 2, "timeout": 90}
    code, body, _ = await rest(
        svc, "POST", "/api/v1/roles/guiding/start", {"settle": {"pixels": 0}}
    )
    assert code == 400 and body["error"]["data"]["path"] == "$.settle.pixels", body
    assert guiding.state == "Stopped" and not guiding.capturing

    code, status, _ = await rest(svc, "POST", "/api/v1/roles/guiding/status")
    assert code == 200 and status["state"] == "Stopped" and status["calibrated"]

    code, started, headers = await rest(
        svc, "POST", "/api/v1/roles/guiding/start", {"settle": settle}
    )
    assert code == 202, started
    assert started["action"] == "guiding.start" and started["role"] == "guider"
    assert headers["Location"] == started["location"] == f"/api/v1/actions/{started['action_id']}"
    action = await finished(svc, started["location"])
    assert action["outcome"] == "ok", action
    assert action["result"]["settled"] is True and action["result"]["status"] == "Guiding"
    assert action["progress"]["event"] in ("Settling", "StartGuiding", "SettleBegin")

    code, result, _ = await rest(
        svc, "POST", "/api/v1/roles/guiding/dither", {"amount": 2, "settle": settle, "wait": True}
    )
    assert code == 200 and result["settled"] is True, result

    # A dither that cannot settle soon, aborted: guiding stops, looping goes on.
    strict = {"pixels": 0.01, "time": 60, "timeout": 300}
    code, started, _ = await rest(
        svc, "POST", "/api/v1/roles/guiding/dither", {"amount": 3, "settle": strict}
    )
    assert code == 202, started
    code, aborted, _ = await rest(svc, "DELETE", started["location"])
    assert code == 200 and aborted["aborted"] is True
    action = await finished(svc, started["location"])
    assert action["outcome"] == "aborted" and action["error"]["code"] == "aborted", action
    assert guiding.state in ("Looping", "Selected") and not guiding.settling

    code, status, _ = await rest(svc, "POST", "/api/v1/roles/guiding/stop")
    assert code == 200 and status["state"] == "Stopped" and not status["capturing"]
