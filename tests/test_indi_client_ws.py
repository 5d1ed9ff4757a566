"""``/ws/indi_client/`` and ``/blobs`` driven as an imaging sequence would, against
the four simulators on a private indiserver, only through WebSocket and HTTP.

The telescope simulator slews at about 6° per second, so gotos start from a
sync close to their target; the long slews that are aborted or timed out are
stopped after a second or so.  The device state each step leaves behind is
checked through ``/api/v1/`` (the REST API reads the INDI mirror), not through
the API under test.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from astropy.io import fits
from PIL import Image
from ws_support import WsClient, http, http_json

from indiws.roles import ROLES as ALL_ROLES
from indiws.testing import IndiServerFactory, RunningService, longitude_for, start_service

SCOPE, CCD, FOCUSER, WHEEL = (
    "Telescope Simulator",
    "CCD Simulator",
    "Focuser Simulator",
    "Filter Simulator",
)
ROLES = {"telescope": SCOPE, "camera": CCD, "focuser": FOCUSER, "filter_wheel": WHEEL}
DRIVERS = [
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_focus",
    "indi_simulator_wheel",
]
M42 = (5.5881, -5.3911)  # J2000

# JSON-RPC codes (indiws/web/errors.py).
INVALID_PARAMS = -32602
INVALID_VALUE = -32015
TIMEOUT = -32030
NO_DEVICE = -32040
NOT_CONNECTED = -32041
CAPABILITY_MISSING = -32042
INVALID_STATE = -32043
ABORTED = -32045


@pytest.fixture
async def service(indiserver_factory: IndiServerFactory, tmp_path: Path) -> AsyncIterator:
    server = indiserver_factory(DRIVERS)
    running = await start_service(
        server, tmp_path / "data", status_interval=0.3, frames_dir=tmp_path / "frames"
    )
    yield running
    await running.stop()


async def prop_state(svc: RunningService, device: str, name: str) -> str:
    """A property's state as the REST API reports it (independent of the API under test)."""
    path = f"/api/v1/devices/{quote(device)}/properties/{name}"
    return (await http_json(svc, path))["state"]


async def assign_roles(svc: RunningService) -> None:
    for role, device in ROLES.items():
        resp = await http(svc, f"/FIFO/start/{role}/{quote(device, safe='')}/")
        assert (resp.code, resp.body) == (200, b"Got!"), (role, resp.body)  # once connected


def answer_index(client: WsClient, rid: int) -> int:
    return next(
        i for i, (_, m) in enumerate(client.log) if m.get("id") == rid and "method" not in m
    )


def progress_of(client: WsClient, rid: int) -> list[tuple[int, dict]]:
    return [
        (i, m["params"])
        for i, (_, m) in enumerate(client.log)
        if m.get("method") == "progress" and m["params"]["id"] == rid
    ]


async def call_logged(
    client: WsClient, method: str, params: Any, timeout: float = 30
) -> tuple[Any, int, list[dict]]:
    """Call and return (result, request id); the answer must come after every
    progress notification of the request."""
    answer = await client.request(method, params, timeout)
    assert "error" not in answer, answer
    rid = answer["id"]
    reports = progress_of(client, rid)
    done = answer_index(client, rid)
    assert all(i < done for i, _ in reports), "a progress notification came after the answer"
    return answer["result"], rid, [p for _, p in reports]


def drain(*clients: WsClient) -> None:
    """Forget the notifications received so far (next_note then sees only new ones)."""
    for client in clients:
        while not client.notes.empty():
            client.notes.get_nowait()


def start_call(client: WsClient, method: str, params: Any, timeout: float = 30) -> asyncio.Future:
    """Send a request without waiting for its answer."""
    return asyncio.ensure_future(client.request(method, params, timeout))


# ---------------------------------------------------------------- the sequence


@pytest.mark.slow
async def test_imaging_sequence(service: RunningService) -> None:
    svc = service
    await assign_roles(svc)
    seq = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    watcher = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        roles = await seq.call("roles")
        assert {r: d["device_name"] for r, d in roles.items()} == {
            **{role: None for role in ALL_ROLES},
            **ROLES,
        }
        assert all(roles[r]["connected"] for r in ROLES)

        # Site, unpark, tracking.
        # A site where M42 stands east of the meridian now: the goto below is
        # no pier flip (which the simulator ends off the target) at any hour.
        longitude = round(longitude_for(M42[0]), 3)
        site = await seq.call(
            "telescope.set_site", {"latitude": 48.1, "longitude": longitude, "elevation": 520}
        )
        assert site == {"latitude": 48.1, "longitude": pytest.approx(longitude), "elevation": 520}
        assert (await seq.call("telescope.get_site"))["latitude"] == 48.1
        assert (await seq.call("telescope.unpark"))["parked"] is False
        assert (await seq.call("telescope.set_tracking", {"on": True}))["tracking"] is True

        # Goto M42 (J2000), from a sync 1.5° away: answered once there.
        await seq.call("telescope.sync", {"ra": M42[0] - 0.05, "dec": M42[1] + 1.5})
        goto, rid, reports = await call_logged(
            seq, "telescope.goto", {"ra": M42[0], "dec": M42[1], "epoch": "J2000"}
        )
        assert await prop_state(svc, SCOPE, "EQUATORIAL_EOD_COORD") != "Busy"
        assert goto["distance"] < 0.05 and goto["tracking"] is True
        assert goto["target"]["epoch"] == "JNow"  # converted for EQUATORIAL_EOD_COORD
        assert reports and all(r["state"] == "slewing" for r in reports)
        assert reports[0]["distance"] >= reports[-1]["distance"]
        pos = await seq.call("telescope.position")
        assert pos["ra_j2000"] == pytest.approx(M42[0], abs=0.01)
        assert pos["dec_j2000"] == pytest.approx(M42[1], abs=0.05)
        assert pos["slewing"] is False and pos["alt"] is not None
        # The other client saw the same goto, start to end.
        started = await watcher.next_note(
            "action.started", lambda p: p["action"] == "goto", timeout=5
        )
        finished = await watcher.next_note(
            "action.finished", lambda p: p["action_id"] == started["params"]["action_id"]
        )
        assert finished["params"]["outcome"] == "ok"
        assert finished["params"]["result"]["distance"] == pytest.approx(goto["distance"])
        assert any(
            m.get("method") == "action.progress"
            and m["params"]["action_id"] == started["params"]["action_id"]
            for _, m in watcher.log
        )

        # Focuser: small absolute and relative moves.
        start = (await seq.call("focuser.position"))["position"]
        moved, rid, _ = await call_logged(seq, "focuser.move_to", {"position": start - 500})
        assert moved["position"] == start - 500
        assert await prop_state(svc, FOCUSER, "ABS_FOCUS_POSITION") != "Busy"
        moved, _, _ = await call_logged(seq, "focuser.move_by", {"steps": 200})
        assert moved["position"] == start - 300
        assert (await seq.call("focuser.max"))["max"] == 100000

        # Filter by name.
        chosen, rid, reports = await call_logged(seq, "filter_wheel.select", {"filter": "h_alpha"})
        assert (chosen["slot"], chosen["name"]) == (4, "H_Alpha")
        assert await prop_state(svc, WHEEL, "FILTER_SLOT") != "Busy"
        assert reports and reports[-1]["target_slot"] == 4
        assert await seq.call("filter_wheel.current") == {
            "slot": 4,
            "name": "H_Alpha",
            "moving": False,
        }

        # Three small exposures, each answered with its frame.
        frames = []
        for duration, binning in ((0.2, 2), (0.5, 4), (0.3, [2, 2])):
            frame, rid, reports = await call_logged(
                seq,
                "camera.expose",
                {
                    "duration": duration,
                    "binning": binning,
                    "roi": [0, 0, 640, 480],
                    "metadata": {"object": "M42"},
                },
            )
            assert await prop_state(svc, CCD, "CCD_EXPOSURE") != "Busy"
            assert [r["state"] for r in reports][-1] == "saving"
            assert "exposing" in [r["state"] for r in reports]
            assert frame["url"] == f"/blobs/{frame['blob_id']}"
            assert frame["object"] == "M42" and frame["exposure"] == duration
            # The filter wheel role's filter, not the camera's built-in wheel.
            assert frame["filter"] == "H_Alpha"
            resp = await http(svc, frame["url"])
            # Also written to --frames-dir, named by the pattern.
            written = Path(frame["path"])
            assert written.name.startswith(f"M42_H_Alpha_light_{duration:g}s_")
            assert written.parent.parent == svc.service.blobs.folder  # a folder per night
            assert await asyncio.to_thread(written.read_bytes) == resp.body
            assert resp.code == 200 and resp.headers["Content-Type"] == "application/fits"
            assert ".fits" in resp.headers["Content-Disposition"]
            with fits.open(io.BytesIO(resp.body)) as hdus:
                header = hdus[0].header
                shape = hdus[0].data.shape
            bx = binning if isinstance(binning, int) else binning[0]
            assert header["EXPTIME"] == pytest.approx(duration)
            assert header["XBINNING"] == bx and header["YBINNING"] == bx
            # The camera was told which wheel it works with (ACTIVE_DEVICES).
            assert header["FILTER"] == "H_Alpha"
            assert shape == (480 // bx, 640 // bx)
            frames.append((frame, shape))

        # One frame's preview, full size and scaled down.
        frame, (height, width) = frames[0]
        resp = await http(svc, frame["preview_url"])
        assert resp.code == 200 and resp.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(resp.body))
        assert image.format == "PNG" and image.size == (width, height)
        resp = await http(svc, f"/blobs/{frame['blob_id']}/preview.jpg?max_size=100")
        image = Image.open(io.BytesIO(resp.body))
        assert image.format == "JPEG" and max(image.size) == 100
        listing = await http_json(svc, "/blobs")
        assert [f["id"] for f in listing["frames"]] == [f["blob_id"] for f, _ in frames][::-1]
        assert listing["frames"][0]["metadata"]["object"] == "M42"
        assert listing["stats"]["count"] == 3

        # Abort a running exposure from the other socket.
        drain(seq, watcher)
        pending = start_call(seq, "camera.expose", {"duration": 5, "binning": 4})
        exposing = await seq.next_note("progress", lambda p: p.get("state") == "exposing")
        status = await watcher.next_note(
            "status", lambda p: p["roles"]["camera"]["state"] == "exposing", timeout=3
        )
        assert 0 < status["params"]["roles"]["camera"]["time_left"] <= 5
        assert not pending.done()
        aborted = await watcher.call("camera.abort")
        assert aborted["aborted"] is True and aborted["interrupted"] == 1
        answer = await pending
        assert answer["error"]["code"] == ABORTED, answer
        assert answer["error"]["data"]["action"] == "expose"
        assert answer["error"]["data"]["details"]["reason"] == "abort"
        assert exposing["params"]["id"] == answer["id"]
        assert await prop_state(svc, CCD, "CCD_EXPOSURE") != "Busy"

        # Abort a running slew (40°) with a second request on the same socket.
        drain(seq, watcher)
        ra = (await seq.call("telescope.position"))["ra"]
        await seq.call("telescope.sync", {"ra": ra, "dec": 0.0, "epoch": "JNow"})
        pending = start_call(seq, "telescope.goto", {"ra": ra, "dec": 40.0, "epoch": "JNow"})
        await seq.next_note("progress", lambda p: p.get("distance", 99) < 38, timeout=10)
        assert await prop_state(svc, SCOPE, "EQUATORIAL_EOD_COORD") == "Busy"
        stopped = await seq.call("telescope.abort")
        assert stopped["aborted"] is True and stopped["stopped"] is True
        answer = await pending
        assert answer["error"]["code"] == ABORTED, answer
        assert 0 < answer["error"]["data"]["details"]["distance"] < 40
        assert await prop_state(svc, SCOPE, "EQUATORIAL_EOD_COORD") != "Busy"
        aborted_event = await watcher.next_note(
            "action.finished", lambda p: p["action"] == "goto" and p["outcome"] == "aborted"
        )
        assert aborted_event["params"]["error"]["details"]["reason"] == "abort"

        # Park where it is (the simulator's default park position is a long slew).
        park_at = await seq.call("telescope.set_park", {"option": "current"})
        assert park_at["option"] == "PARK_CURRENT"
        parked, _, _ = await call_logged(seq, "telescope.park", {})
        assert parked["parked"] is True
        assert await prop_state(svc, SCOPE, "TELESCOPE_PARK") == "Ok"
        error = await seq.error("telescope.goto", {"ra": 1.0, "dec": 1.0})
        assert error["code"] == INVALID_STATE and "parked" in error["message"]
        assert error["data"]["error"] == "invalid_state" and error["data"]["reason"] == "parked"

        # The periodic status: one message for every socket, each role's brief state.
        note = await seq.next_note("status", lambda p: p["roles"]["telescope"]["parked"])
        brief = note["params"]["roles"]
        assert set(brief) == set(ROLES)
        assert {"ra", "dec", "tracking", "parked", "slewing"} <= set(brief["telescope"])
        assert {"state", "time_left", "temperature"} <= set(brief["camera"])
        assert brief["focuser"]["position"] == start - 300
        assert (brief["filter_wheel"]["slot"], brief["filter_wheel"]["name"]) == (4, "H_Alpha")
        same = [
            m["params"]
            for _, m in watcher.log
            if m.get("method") == "status" and m["params"]["time"] == note["params"]["time"]
        ]
        assert same == [note["params"]]
    finally:
        await seq.close()
        await watcher.close()


# ---------------------------------------------------------------- errors


@pytest.mark.slow
async def test_errors_say_what_is_wrong(service: RunningService) -> None:
    svc = service
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        # No device in the role.
        error = await ws.error("focuser.move_to", {"position": 100})
        assert error["code"] == NO_DEVICE
        assert error["data"]["error"] == "no_device" and error["data"]["role"] == "focuser"
        assert "no device is assigned to the focuser role" in error["message"]
        assert (await ws.call("focuser.status"))["device"] is None

        # Assign over the WebSocket, then disconnect: not connected.
        assigned = await ws.call("assign", {"role": "camera", "device": CCD})
        assert assigned["connected"] is True
        await assign_roles(svc)
        status = await ws.call("camera.disconnect")
        assert status["connected"] is False
        # disconnect answers once the driver has deleted its connected-only
        # properties, so a connect may follow at once.
        path = f"/api/v1/devices/{quote(CCD)}/properties/CCD_EXPOSURE"
        assert (await http(svc, path)).code == 404
        error = await ws.error("camera.expose", {"duration": 1})
        assert error["code"] == NOT_CONNECTED and error["data"]["device"] == CCD
        assert "connect it first" in error["message"]
        assert (await ws.call("camera.connect"))["connected"] is True
        assert (await ws.call("camera.info"))["capabilities"]["can_expose"] is True

        # A capability the device lacks.
        error = await ws.error("focuser.abort")
        assert error["code"] == CAPABILITY_MISSING
        assert error["data"]["properties"] == ["FOCUS_ABORT_MOTION"]
        error = await ws.error("telescope.home")
        assert error["code"] == CAPABILITY_MISSING and "TELESCOPE_HOME" in error["message"]

        # Values out of range: nothing is sent.
        for method, params, words in (
            ("focuser.move_to", {"position": 200000}, "100000"),
            ("telescope.goto", {"ra": 1.0, "dec": 95.0}, "dec"),
            ("filter_wheel.select", {"filter": 9}, "FILTER_SLOT"),
            ("filter_wheel.select", {"filter": "Purple"}, "Purple"),
            # Below the declared range (the params struct's): its words, not the driver's.
            ("camera.expose", {"duration": -1}, "duration must be >= 0 seconds, got -1"),
            ("camera.expose", {"duration": 1e9}, "CCD_EXPOSURE"),  # above the driver's
            ("camera.expose", {"duration": 1, "roi": [0, 0, 5000, 10]}, "roi"),
        ):
            error = await ws.error(method, params)
            assert error["code"] == INVALID_VALUE, (method, error)
            assert words in error["message"], (method, error)
            # The data names the role and its device (docs/indi_client.md).
            assert error["data"]["role"] == method.partition(".")[0], (method, error)
            assert error["data"]["device"] in (SCOPE, CCD, FOCUSER, WHEEL), (method, error)
        error = await ws.error("focuser.move_to", {"position": 999999})
        assert error["data"] == {
            "error": "invalid_value",
            "role": "focuser",
            "device": FOCUSER,
            "property": "ABS_FOCUS_POSITION",
            "element": "FOCUS_ABSOLUTE_POSITION",
        }
        assert await prop_state(svc, CCD, "CCD_EXPOSURE") != "Busy"

        # Malformed parameters never reach a device.
        for method, params, name in (
            ("telescope.goto", {"ra": 1.0, "dec": 1.0, "epoch": "B1950"}, "epoch"),
            ("focuser.move_to", {"position": "in"}, "position"),
            ("camera.expose", {"duration": 1, "frame_type": "sky"}, "frame_type"),
            ("telescope.goto", {"ra": 1.0, "dec": 1.0, "timeout": -5}, "timeout"),
            ("telescope.move", {"direction": "up"}, "direction"),
        ):
            error = await ws.error(method, params)
            assert error["code"] == INVALID_PARAMS and error["data"]["param"] == name, error

        # Timeout: the slew is stopped and the answer says so.
        await ws.call("telescope.unpark")
        ra = (await ws.call("telescope.position"))["ra"]
        await ws.call("telescope.sync", {"ra": ra, "dec": 0.0, "epoch": "JNow"})
        error = await ws.error(
            "telescope.goto", {"ra": ra, "dec": 40.0, "epoch": "JNow", "timeout": 1.0}
        )
        assert error["code"] == TIMEOUT and "did not end within 1 s" in error["message"]
        assert error["data"]["details"]["stopped"] is True
        assert error["data"]["action"] == "goto"
        assert await prop_state(svc, SCOPE, "EQUATORIAL_EOD_COORD") != "Busy"

        # Frames: unknown ids and bad previews are JSON errors.
        resp = await http(svc, "/blobs/nope")
        assert resp.code == 404 and json.loads(resp.body)["error"]["code"] == "unknown_frame"
        resp = await http(svc, "/blobs/nope/preview.png")
        assert resp.code == 404
        frame = await ws.call("camera.expose", {"duration": 0.1, "binning": 4})
        resp = await http(svc, f"{frame['preview_url']}?max_size=0")
        assert resp.code == 400 and json.loads(resp.body)["error"]["code"] == "invalid_params"

        released = await ws.call("release", {"role": "focuser"})
        assert released == {"role": "focuser", "device_name": FOCUSER, "released": True}
    finally:
        await ws.close()


async def test_discover_lists_every_method(service: RunningService) -> None:
    ws = await WsClient.open(service.ws_url + "/ws/indi_client/")
    try:
        doc = await ws.call("rpc.discover")
    finally:
        await ws.close()
    methods = {m["name"]: m for m in doc["methods"]}
    for role in ROLES:
        for verb in ("connect", "disconnect", "status", "info"):
            assert f"{role}.{verb}" in methods
    wanted = [
        "telescope.get_site telescope.set_site telescope.goto telescope.goto_hadec",
        "telescope.goto_altaz telescope.sync telescope.abort telescope.park telescope.unpark",
        "telescope.set_park telescope.home telescope.set_tracking telescope.track_modes",
        "telescope.set_track_mode telescope.set_track_rate telescope.slew_rates",
        "telescope.set_slew_rate telescope.set_guide_rate telescope.move telescope.stop",
        "telescope.pulse_guide telescope.position camera.expose camera.abort",
        "camera.set_cooler camera.set_temperature camera.temperature camera.sensor_info",
        "camera.settings focuser.move_to focuser.move_by focuser.abort focuser.position",
        "focuser.temperature focuser.max filter_wheel.select filter_wheel.filters",
        "filter_wheel.rename filter_wheel.current roles assign release status actions",
    ]
    for name in " ".join(wanted).split():
        assert name in methods, name
        assert methods[name]["summary"] and "schema" in methods[name]["result"]
    goto = {p["name"]: p for p in methods["telescope.goto"]["params"]}
    assert goto["ra"]["required"] and goto["ra"]["schema"]["type"] == "number"
    # The range declared with the verb (indiws/verbs.py), in the schema too.
    assert (goto["ra"]["schema"]["minimum"], goto["ra"]["schema"]["maximum"]) == (0, 24)
    assert goto["epoch"]["schema"] == {"enum": ["J2000", "JNow"], "default": "J2000"}
    assert "progress" in methods["camera.expose"]["x-events"]
    assert "action.finished" in methods["camera.expose"]["x-events"]


async def test_status_interval_zero_sends_no_status(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_focus"])
    svc = await start_service(server, tmp_path / "data", status_interval=0)
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        await ws.call("assign", {"role": "focuser", "device": FOCUSER})
        status = await ws.call("status")
        assert status["roles"]["focuser"]["position"] is not None
        await asyncio.sleep(0.5)
        assert not [m for _, m in ws.log if m.get("method") == "status"]
    finally:
        await ws.close()
        await svc.stop()


async def test_an_action_outlives_the_socket_that_started_it(service: RunningService) -> None:
    """A dropped connection does not abort the exposure: it ends, the frame is
    stored, and the other clients hear of it."""
    first = await WsClient.open(service.ws_url + "/ws/indi_client/")
    other = await WsClient.open(service.ws_url + "/ws/indi_client/")
    try:
        await first.call("assign", {"role": "camera", "device": CCD})
        pending = start_call(first, "camera.expose", {"duration": 1, "binning": 4})
        await first.next_note("progress", lambda p: p.get("state") == "exposing")
        await first.close()  # the request's answer will never come
        pending.cancel()
        running = await other.call("actions", {"role": "camera"})
        assert [a["action"] for a in running] == ["expose"]
        finished = await other.next_note(
            "action.finished", lambda p: p["action"] == "expose", timeout=10
        )
        assert finished["params"]["outcome"] == "ok"
        result = finished["params"]["result"]
        resp = await http(service, result["url"])
        assert resp.code == 200 and len(resp.body) == result["size"]
        assert await other.call("actions") == []
    finally:
        await first.close()
        await other.close()
