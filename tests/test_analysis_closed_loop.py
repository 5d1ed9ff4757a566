"""Star analysis, autofocus, plate solving and centering in a closed loop with
INDI's simulators: the CCD simulator draws the synthetic sky (through the
``gsc`` the test indiserver has on its PATH), its star size follows the
focuser simulator's position, and everything is driven only through
``/ws/indi_client/`` and ``/blobs``.

One indiserver for the module; the services share one data folder, so the
solver's index files for the target's sky are built once.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient, check_result

from indiws.devices.astro import angular_distance, local_sidereal_time
from indiws.testing import IndiServerProcess, RunningService, start_service

SCOPE, CCD, FOCUSER = "Telescope Simulator", "CCD Simulator", "Focuser Simulator"
ROLES = {"telescope": SCOPE, "camera": CCD, "focuser": FOCUSER}
TARGET = (5.5881, -5.3911)  # J2000, M42

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sky_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    server = IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_ccd", "indi_simulator_focus"],
        workdir=tmp_path_factory.mktemp("sky-indiserver"),
    )
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sky-data")


@pytest.fixture
async def ws(sky_server: IndiServerProcess, data_dir: Path) -> AsyncIterator[WsClient]:
    svc = await start_service(sky_server, data_dir)
    client = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    client.svc = svc  # type: ignore[attr-defined]
    try:
        for role, device in ROLES.items():
            await client.call("assign", {"role": role, "device": device}, timeout=30)
        if (await client.call("telescope.position"))["parked"]:
            await client.call("telescope.unpark")
        yield client
    finally:
        await client.close()
        await svc.stop()


def service(ws: WsClient) -> RunningService:
    return ws.svc  # type: ignore[attr-defined]


async def point_at(ws: WsClient, ra: float, dec: float) -> None:
    """Goto (J2000) from a sync close by (the simulator slews a few degrees a
    second), on a site where the point stands an hour east of the meridian:
    neither that goto nor one up to 3 h further east (the centring's far
    point) takes the mount to the other side of the pier, a 30 s flip of
    the simulator (at HA 0 and at its +-12 h), whatever the hour."""
    lst_greenwich = local_sidereal_time(0.0)
    longitude = ((ra - 1.0 - lst_greenwich) * 15 + 180) % 360 - 180
    site = {"latitude": 0.0, "longitude": longitude, "elevation": 0.0}
    await ws.call("telescope.set_site", site)
    await ws.call("telescope.sync", {"ra": ra, "dec": dec + 0.3})
    await ws.call("telescope.goto", {"ra": ra, "dec": dec}, timeout=60)


def best_focus(ws: WsClient) -> tuple[int, float]:
    """The CCD simulator's best focuser position and seeing (its SIM_FOCUSING)."""
    prop = service(ws).service.client.devices[CCD].properties["SIM_FOCUSING"]
    return int(prop["SIM_FOCUS_POSITION"]), float(prop["SIM_SEEING"])


async def expose(ws: WsClient, seconds: float = 1.0, **params: Any) -> dict:
    return await ws.call("camera.expose", {"duration": seconds, **params}, timeout=60)


async def test_every_frame_is_measured_where_users_look(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    shot = await expose(ws, 1.0)
    a = shot["analysis"]
    assert a["stars"] > 20, a
    assert a["hfr"] > 0.5 and a["fwhm"] > a["hfr"]
    assert a["pixel_scale"] == pytest.approx(1.19, abs=0.02)  # 5.2 µm at 900 mm
    assert a["fwhm_arcsec"] == pytest.approx(a["fwhm"] * a["pixel_scale"], rel=0.01)
    assert a["background"] is not None and a["noise"] > 0 and a["max"] > a["median"]
    # The frame's record, and the FITS file's header.
    client = AsyncHTTPClient()
    listing = json.loads((await client.fetch(f"{service(ws).url}/blobs")).body)
    record = next(f for f in listing["frames"] if f["id"] == shot["blob_id"])
    assert record["metadata"]["analysis"] == a
    frame = await client.fetch(service(ws).url + shot["url"])
    assert frame.headers["X-Frame-Stars"] == str(a["stars"])
    assert frame.headers["X-Frame-HFR"] == str(a["hfr"])
    header = fits.getheader(io.BytesIO(frame.body))
    assert header["STARCNT"] == a["stars"] and header["HFR"] == pytest.approx(a["hfr"])
    # A dark frame is measured too: no stars.
    dark = await expose(ws, 0.5, frame_type="dark")
    assert dark["analysis"]["stars"] == 0 and dark["analysis"]["hfr"] is None


async def test_hfr_grows_away_from_best_focus(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    best, _ = best_focus(ws)
    hfr = {}
    for offset in (0, 12000, -12000):
        await ws.call("focuser.move_to", {"position": best + offset}, timeout=60)
        hfr[offset] = (await expose(ws, 1.0))["analysis"]["hfr"]
    assert hfr[12000] > 1.3 * hfr[0] and hfr[-12000] > 1.3 * hfr[0], hfr


async def test_autofocus_from_far_ends_near_best_focus(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    best, _ = best_focus(ws)
    start = best + 13000
    await ws.call("focuser.move_to", {"position": start}, timeout=60)
    answer = await ws.request(
        "focuser.autofocus", {"exposure": 1.0, "step": 3000, "steps": 7}, timeout=240
    )
    assert "error" not in answer, answer
    result = answer["result"]
    check_result(ws.path, "focuser.autofocus", result)  # the declared AutofocusResult
    # Within one step of the sweep: near its bottom the simulator's V-curve is
    # flat (HFR within a few % of its least, seeing-limited), so frame noise
    # moves the fitted minimum by up to ~2000 steps (seen under load).
    assert abs(result["position"] - best) < 3000, result["fit"]
    assert result["hfr"] < result["start"]["hfr"]
    assert result["start"]["position"] == start
    assert (await ws.call("focuser.position"))["position"] == result["position"]
    # Progress per frame: position, HFR and stars, for the caller.
    notes = [m["params"] for _, m in ws.log if m.get("method") == "progress"]
    steps = [n for n in notes if n.get("id") == answer["id"] and n.get("state") == "measuring"]
    assert len(steps) == 7 and all({"position", "hfr", "stars"} <= set(s) for s in steps)
    assert result["fit"]["kind"] in ("hyperbolic", "parabolic") and result["fit"]["r2"] > 0.8


async def test_autofocus_fails_clearly_without_enough_stars(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    here = (await ws.call("focuser.position"))["position"]
    error = await ws.error(
        "focuser.autofocus",
        {"exposure": 0.1, "step": 1000, "steps": 5, "min_stars": 5000, "extend": 0},
        timeout=120,
    )
    assert error["data"]["error"] == "autofocus_failed", error
    assert "too few measured points" in error["message"]
    assert len(error["data"]["points"]) == 6
    assert (await ws.call("focuser.position"))["position"] == here


async def test_a_frame_solves_to_where_the_mount_points(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    shot = await expose(ws, 1.0)
    solved = await ws.call("camera.solve", {"blob_id": shot["blob_id"]}, timeout=120)
    pos = await ws.call("telescope.position")
    off = angular_distance(solved["ra"], solved["dec"], pos["ra_j2000"], pos["dec_j2000"])
    assert off * 60 < 1.0, (solved, pos)
    assert solved["pixel_scale"] == pytest.approx(1.19, abs=0.02)
    assert solved["field_width"] == pytest.approx(25.4, abs=0.5)
    # No blob: the newest frame; a frame that is not there: a clear error.
    assert (await ws.call("camera.solve", timeout=120))["blob_id"] == shot["blob_id"]
    error = await ws.error("camera.solve", {"blob_id": "nope"})
    assert error["data"]["error"] == "unknown_frame"
    # Over REST the solve is an action of the camera: 202, followed to its
    # solution (the same as JSON-RPC's).
    client = AsyncHTTPClient()
    url = service(ws).url
    answer = await client.fetch(
        f"{url}/api/v1/roles/camera/solve",
        method="POST",
        body=json.dumps({"blob_id": shot["blob_id"]}),
        raise_error=False,
    )
    assert answer.code == 202, answer.body
    location = answer.headers["Location"]
    while True:
        state = json.loads((await client.fetch(url + location)).body)
        if state["state"] == "finished":
            break
        await asyncio.sleep(0.3)
    assert state["action"] == "solve" and state["outcome"] == "ok", state
    check_result(ws.path, "camera.solve", state["result"])
    assert state["result"]["ra"] == pytest.approx(solved["ra"], abs=1e-4)
    assert state["result"]["url"] == f"/blobs/{shot['blob_id']}"


async def center(ws: WsClient, **params: Any) -> dict:
    return await ws.call(  # checked against the declared CenterResult
        "telescope.center",
        {"ra": TARGET[0], "dec": TARGET[1], "tolerance": 20, "exposure": 1.0, **params},
        timeout=240,
    )


async def test_center_after_a_wrong_sync_ends_within_tolerance(ws: WsClient) -> None:
    await point_at(ws, *TARGET)
    # The mount is told it points 20' north and 1 minute of RA east of where it does.
    await ws.call("telescope.sync", {"ra": TARGET[0] + 1 / 60, "dec": TARGET[1] + 1 / 3})
    result = await center(ws)
    assert result["error"] <= 20
    # A frame taken now is centred on the target.
    check = await ws.call("camera.solve", {"blob_id": (await expose(ws, 1.0))["blob_id"]})
    assert angular_distance(check["ra"], check["dec"], *TARGET) * 3600 <= 30, check


async def test_center_corrects_an_error_a_sync_cannot_remove(ws: WsClient) -> None:
    """INDI's CCD simulator draws the sky where the mount says it points, so a
    sync moves the sky with it; its off-axis guider offset puts the camera 15'
    north of the mount's axis: an error only aiming off corrects."""
    await point_at(ws, *TARGET)
    indi = service(ws).service.client
    await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 15})
    try:
        result = await center(ws)
    finally:
        await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 0})
    tries = result["attempts"]
    assert result["error"] <= 20 and result["method"] == "offset"
    assert tries[0]["error"] == pytest.approx(900, abs=60)  # the camera's 15'
    assert tries[0]["correction"] == "sync" and len(tries) >= 3
    # Every attempt was reported as progress with its error.
    solved = [
        m["params"]
        for _, m in ws.log
        if m.get("method") == "progress" and m["params"].get("state") == "solved"
    ]
    assert [s["error"] for s in solved][-len(tries) :] == [t["error"] for t in tries]
    # ... and with the correction that followed it (none after the last).
    corrections = [s["correction"] for s in solved][-len(tries) :]
    assert corrections == [t["correction"] for t in tries]
    assert corrections[0] == "sync" and "offset" in corrections and corrections[-1] is None


async def test_bad_parameters_are_refused_by_name(ws: WsClient) -> None:
    error = await ws.error("telescope.center", {"ra": 5.0, "dec": 10.0, "tolerance": -1})
    assert "tolerance" in error["message"]
    error = await ws.error("focuser.autofocus", {"steps": 2})
    assert "steps" in error["message"]
    error = await ws.error("camera.solve", {"radius": 0})
    assert "radius" in error["message"]


async def test_autofocus_and_centering_are_actions_with_their_own_abort(ws: WsClient) -> None:
    """A second client sees an autofocus (then a centering) start as an action
    of its own, follows its progress, and aborts it by its id: the request
    ends with the aborted error, the step it was in (a move, an exposure, a
    slew) is stopped, and nothing is left running."""
    await point_at(ws, *TARGET)
    other = await WsClient.open(service(ws).ws_url + "/ws/indi_client/")
    try:
        assert await other.call("actions") == []  # (its first request: it gets events now)
        best, _ = best_focus(ws)
        await ws.call("focuser.move_to", {"position": best + 6000}, timeout=60)
        focusing = asyncio.ensure_future(
            ws.request("focuser.autofocus", {"exposure": 2.0, "step": 3000, "steps": 7}, 240)
        )
        started = await other.next_note("action.started", lambda p: p["action"] == "autofocus")
        action_id = started["params"]["action_id"]
        assert started["params"]["role"] == "focuser"
        assert started["params"]["params"]["steps"] == 7
        step = await other.next_note(
            "action.progress", lambda p: p["action_id"] == action_id, timeout=60
        )
        assert step["params"]["state"] == "start" and step["params"]["hfr"] is not None
        running = await other.call("actions")
        assert [a["action"] for a in running if a["action_id"] == action_id] == ["autofocus"]
        # The exposure of the next point is under way: abort the autofocus itself.
        await other.next_note("action.started", lambda p: p["action"] == "expose", timeout=60)
        answer = await other.call("actions.abort", {"action_id": action_id})
        assert answer["aborted"] is True and answer["action"] == "autofocus"
        ended = await asyncio.wait_for(focusing, 30)
        assert ended["error"]["data"]["error"] == "aborted", ended
        finished = await other.next_note(
            "action.finished", lambda p: p["action_id"] == action_id, timeout=30
        )
        assert finished["params"]["outcome"] == "aborted"
        assert await other.call("actions") == []
        # The exposure it was in was stopped (the simulator would expose 2 s more).
        await service(ws).service.client.wait_idle(CCD, "CCD_EXPOSURE", 10)
        # Aborting it again: it has ended.
        error = await other.error("actions.abort", {"action_id": action_id})
        assert error["data"]["error"] == "unknown_action"

        far = (TARGET[0] + 2.0, TARGET[1] + 10)  # 30 degrees away: seconds of slewing
        centering = asyncio.ensure_future(
            ws.request("telescope.center", {"ra": far[0], "dec": far[1], "exposure": 1.0}, 240)
        )
        started = await other.next_note("action.started", lambda p: p["action"] == "center")
        action_id = started["params"]["action_id"]
        assert started["params"]["role"] == "telescope"
        # Abort during its first slew.
        await other.next_note(
            "action.progress", lambda p: p["action"] == "goto" and p["distance"] < 25
        )
        await other.call("actions.abort", {"action_id": action_id})
        ended = await asyncio.wait_for(centering, 30)
        assert ended["error"]["data"]["error"] == "aborted", ended
        assert await other.call("actions") == []
        # The mount was stopped on its way, not left slewing to the target.
        await service(ws).service.client.wait_idle(SCOPE, "EQUATORIAL_EOD_COORD", 10)
        pos = await ws.call("telescope.position")
        assert pos["slewing"] is False
        assert angular_distance(pos["ra_j2000"], pos["dec_j2000"], *far) > 2
    finally:
        await other.close()
