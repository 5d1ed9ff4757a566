"""Plans run by the service (`indiws.plans`), against a real indiserver
with INDI's simulators: submitted over HTTP, journalled, resumed after the
service is killed, put right after drivers restart, skipped when the
target never rises, notified, flipped at the meridian.

The module shares one indiserver (the plans slew, turn the wheel, restart
drivers); each test runs its own service on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from astropy.io import fits
from lightapt_support import ROLE_DEVICES, assign_roles, module_indiserver
from remote_support import serve_on
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from indiws.devices import astro
from indiws.testing import IndiServerProcess, RunningService, free_port, start_service

pytestmark = pytest.mark.slow

LAT, LON = 48.1, 11.6
SITE = f"site: {{latitude: {LAT}, longitude: {LON}, elevation: 520}}"

server = module_indiserver(
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_focus",
    "indi_simulator_wheel",
)


def _ra_at(ha_hours: float) -> float:
    """RA (hours, J2000 near enough) of a point ``ha_hours`` from the meridian now."""
    return (astro.local_sidereal_time(LON, datetime.now(UTC)) - ha_hours) % 24


def _darks(count: int, duration: float) -> str:
    return (
        "targets:\n  - name: Darks\n    exposures:\n"
        f"      - {{frame_type: dark, duration: {duration}, count: {count}}}\n"
    )


def _plan(ra: float, dec: float, exposures: str, extra: str = "", name: str = "Field") -> str:
    return (
        f"{SITE}\n{extra}\ntargets:\n  - name: {name}\n    ra: {ra:.5f}\n    dec: {dec:.4f}\n"
        f"    exposures:\n{exposures}"
    )


async def _http(
    url: str, method: str = "GET", body: Any = None, ctype: str = ""
) -> tuple[int, Any]:
    data: bytes | None = None
    headers = {}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = ctype or "application/json"
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(url, method=method, body=data, headers=headers, request_timeout=30),
        raise_error=False,
    )
    if response.code == 599:
        raise ConnectionError(str(response.error))
    return response.code, json.loads(response.body or b"null")


async def _submit(base: str, text: str) -> str:
    status, body = await _http(
        f"{base}/api/v1/plans?name=test.yaml", "POST", text, "application/yaml"
    )
    assert status == 201, body
    assert body["state"] in ("queued", "running")
    return body["id"]


async def _wait(base: str, plan_id: str, until: Any, timeout: float = 180) -> dict:
    """Poll the plan until ``until(view)``; the view (bounded wait)."""
    deadline = time.monotonic() + timeout
    view: dict = {}
    while time.monotonic() < deadline:
        try:
            status, view = await _http(f"{base}/api/v1/plans/{plan_id}?events=1000")
        except ConnectionError:
            await asyncio.sleep(0.3)
            continue
        if status == 200 and until(view):
            return view
        await asyncio.sleep(0.3)
    raise AssertionError(f"plan did not get there in {timeout} s: {json.dumps(view)[-3000:]}")


def _ended(view: dict) -> bool:
    return view["state"] in ("completed", "failed", "aborted")


def _header(path: str) -> Any:
    with fits.open(path) as hdul:
        return hdul[0].header.copy()


def _assert_frames_as_planned(view: dict, ra: float, dec: float, filters: list[str]) -> None:
    """Every frame exists once, labelled and pointed as planned (read back from the files)."""
    frames = view["frames"]
    assert [f["status"] for f in frames] == ["ok"] * len(filters), frames
    files = [f["file"] for f in frames]
    assert len(set(files)) == len(files)
    for frame, wanted in zip(frames, filters, strict=True):
        assert os.path.isabs(frame["file"]) and os.path.exists(frame["file"])
        header = _header(frame["file"])
        assert header["FILTER"] == wanted
        assert header["OBJECT"] == "Field"
        assert header["PLANID"] == view["id"]
        assert header["PLANFRM"] == frame["number"]
        # The pointing the mount reported during the exposure, not the plan's:
        # the file says what the plan's record says (the telescope role's
        # mount, over the camera driver's snooped cards).
        assert abs(((header["RA"] - ra * 15 + 180) % 360) - 180) < 0.05
        assert abs(header["DEC"] - dec) < 0.05
        assert header["RA"] == pytest.approx(frame["ra"] * 15, abs=1e-5)
        assert header["DEC"] == pytest.approx(frame["dec"], abs=1e-5)


def _plan_files(frames_dir: Path, plan_id: str) -> list[Path]:
    out = []
    for path in frames_dir.rglob("*.fits"):
        if _header(str(path)).get("PLANID") == plan_id:
            out.append(path)
    return out


async def _service(indi: IndiServerProcess, data: Path, **config: Any) -> RunningService:
    running = await start_service(indi, data, **config)
    await assign_roles(running)
    return running


@pytest.fixture
async def svc(server: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await _service(server, tmp_path / "data")
    yield running
    await running.stop()


# ---------------------------------------------------------------- the API


async def test_plan_runs_in_the_service_and_frames_carry_what_the_devices_reported(
    svc: RunningService,
) -> None:
    ra, dec = _ra_at(-1.0), 30.0
    text = _plan(
        ra,
        dec,
        "      - {filter: Red, duration: 0.2, count: 2}\n"
        "      - {filter: Green, duration: 0.2, count: 1}\n",
        "metadata: {OBSERVER: Tester, FILTER: Fake}",
    )
    plan_id = await _submit(svc.url, text)
    status, plans = await _http(f"{svc.url}/api/v1/plans")
    assert status == 200 and plans[-1]["id"] == plan_id
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "completed", view["message"]
    _assert_frames_as_planned(view, ra, dec, ["Red", "Red", "Green"])
    header = _header(view["frames"][0]["file"])
    assert header["OBSERVER"] == "Tester"  # the plan's metadata; its FILTER did not override
    kinds = [e["type"] for e in view["events"]]
    assert kinds[0] == "queued" and "plan_started" in kinds and kinds[-1] == "plan_finished"
    assert view["frames_done"] == 3 and view["current"] is None


async def test_meridian_flip_takes_frames_on_both_pier_sides(svc: RunningService) -> None:
    """Before the tests that restart the telescope driver: once its driver had
    been restarted, the telescope simulator (INDI 1.9.9) kept its pier side on
    the flip's gotos in our runs (cause not found), and the engine then skips
    the rest of the target (meridian_flip_failed) rather than track on."""
    # 2 minutes east of the meridian in the mount's (JNow) coordinates.
    ra, dec = astro.jnow_to_j2000(_ra_at(-2 / 60), 30.0)
    text = _plan(
        ra,
        dec,
        "      - {duration: 4, count: 50}\n",
        "meridian_flip: {after_minutes: 1}",
    )
    plan_id = await _submit(svc.url, text)
    view = await _wait(svc.url, plan_id, _ended, timeout=600)
    assert view["state"] == "completed", view["message"]
    flips = [e for e in view["events"] if e["type"] == "meridian_flip"]
    assert len(flips) == 1, view["events"]
    assert flips[0]["pier_side_before"] == "west", view["events"][-30:]
    assert flips[0]["pier_side_after"] == "east", view["events"][-30:]
    sides = [_header(f["file"])["PIERSIDE"] for f in view["frames"]]
    assert sides[0] == "WEST" or sides[0].lower() == "west"
    assert {s.lower() for s in sides} == {"west", "east"}
    # Every frame before the flip on one side, every one after on the other.
    first_east = [s.lower() for s in sides].index("east")
    assert all(s.lower() == "east" for s in sides[first_east:])


async def test_dithers_move_the_mount_between_light_frames(svc: RunningService) -> None:
    ra, dec = _ra_at(-1.0), 30.0
    text = _plan(
        ra, dec, "      - {duration: 0.2, count: 3}\n", "dither: {every: 1, offset: 20, settle: 0}"
    )
    plan_id = await _submit(svc.url, text)
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "completed", view["message"]
    assert [e["type"] for e in view["events"]].count("dither") == 2
    pointings = {(round(f["ra"], 6), round(f["dec"], 5)) for f in view["frames"]}
    assert len(pointings) == 3  # each frame somewhere else, all on the target
    for f in view["frames"]:
        header = _header(f["file"])
        assert abs(((header["RA"] - ra * 15 + 180) % 360) - 180) < 0.05


async def test_bad_plans_are_refused_with_every_problem_and_its_line(svc: RunningService) -> None:
    bad = "targets:\n  - name: M42\n    ra: '25:00:00'\n    dec: 0\n    colour: red\n"
    status, body = await _http(f"{svc.url}/api/v1/plans", "POST", bad, "application/yaml")
    assert status == 400 and body["error"]["code"] == "invalid_plan"
    problems = {(p["path"], p["line"]) for p in body["error"]["data"]["problems"]}
    assert ("targets[0].colour", 5) in problems
    assert ("targets[0].ra", 3) in problems
    assert ("targets[0].exposures", 2) in problems
    status, body = await _http(f"{svc.url}/api/v1/plans", "POST", "{nope", "application/json")
    assert status == 400 and body["error"]["code"] == "invalid_plan"
    # JSON with the same keys is a plan too; a filter the wheel lacks is named.
    dark = {"duration": 0.1, "filter": "Ha", "frame_type": "dark"}
    plan = {"targets": [{"name": "Darks", "exposures": [dark]}]}
    status, body = await _http(f"{svc.url}/api/v1/plans", "POST", plan)
    assert status == 400
    assert "no filter 'Ha'" in body["error"]["data"]["problems"][0]["message"]
    status, body = await _http(f"{svc.url}/api/v1/plans/pnothere")
    assert status == 404 and body["error"]["code"] == "unknown_plan"


async def test_pause_resume_and_abort(svc: RunningService) -> None:
    text = _darks(20, 0.5)
    plan_id = await _submit(svc.url, text)
    await _wait(svc.url, plan_id, lambda v: v["frames_done"] >= 1)
    status, _ = await _http(f"{svc.url}/api/v1/plans/{plan_id}/pause", "POST", {})
    assert status == 200
    view = await _wait(svc.url, plan_id, lambda v: v["state"] == "paused")
    done = view["frames_done"]
    await asyncio.sleep(1.5)
    _, view = await _http(f"{svc.url}/api/v1/plans/{plan_id}")
    assert view["frames_done"] == done and view["state"] == "paused"
    await _http(f"{svc.url}/api/v1/plans/{plan_id}/resume", "POST", {})
    await _wait(svc.url, plan_id, lambda v: v["frames_done"] > done)
    status, _ = await _http(f"{svc.url}/api/v1/plans/{plan_id}/abort", "POST", {})
    assert status == 200
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "aborted"
    status, body = await _http(f"{svc.url}/api/v1/plans/{plan_id}/resume", "POST", {})
    assert status == 409 and body["error"]["code"] == "invalid_plan_state"


async def test_a_target_that_never_rises_is_skipped_with_its_reason(svc: RunningService) -> None:
    text = _plan(_ra_at(0), -80.0, "      - {duration: 0.1, count: 2}\n")
    text = text.replace("    exposures:", "    min_altitude: 20\n    exposures:")
    plan_id = await _submit(svc.url, text)
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "failed"
    skipped = [e for e in view["events"] if e["type"] == "target_skipped"]
    assert len(skipped) == 1 and skipped[0]["target"] == "Field"
    assert "below 20°" in skipped[0]["reason"] and "within 24 h" in skipped[0]["reason"]
    assert [f["status"] for f in view["frames"]] == ["skipped", "skipped"]


async def test_a_plan_waits_for_its_start_and_for_darkness_with_the_reason(
    svc: RunningService,
) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    text = f"start: {start.isoformat().replace('+00:00', 'Z')}\n" + _darks(1, 0.1)
    plan_id = await _submit(svc.url, text)
    view = await _wait(svc.url, plan_id, lambda v: v["state"] == "waiting")
    assert view["message"].startswith("waiting: the plan's start at")
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "completed"
    # The Sun is never below -90°: the target is skipped, saying why.
    text = _plan(_ra_at(-1.0), 30.0, "      - {duration: 0.1}\n", "sun_max_altitude: -90")
    plan_id = await _submit(svc.url, text)
    view = await _wait(svc.url, plan_id, _ended)
    skipped = [e for e in view["events"] if e["type"] == "target_skipped"]
    assert skipped and "the Sun at" in skipped[0]["reason"]
    assert "above -90°" in skipped[0]["reason"]


async def test_json_rpc_plans_methods_and_notifications(svc: RunningService) -> None:
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(svc.ws_url + "/ws/indi_client/")
    seen: list[dict] = []

    async def call(n: int, method: str, **params: Any) -> dict:
        conn.write_message(
            json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params})
        )
        while True:
            msg = json.loads(await asyncio.wait_for(conn.read_message(), 30))
            if msg.get("id") == n:
                return msg
            seen.append(msg)

    try:
        bad = await call(1, "plans.submit", plan="targets: []\n")
        assert bad["error"]["data"]["error"] == "invalid_plan"
        assert bad["error"]["data"]["problems"][0]["path"] == "targets"
        plan = {
            "targets": [{"name": "Darks", "exposures": [{"frame_type": "dark", "duration": 0.1}]}]
        }
        ok = await call(2, "plans.submit", plan=plan, name="rpc.json")
        plan_id = ok["result"]["id"]
        deadline = time.monotonic() + 60
        while not any(
            m.get("method") == "plan.event"
            and m["params"].get("type") == "plan_finished"
            and m["params"]["plan_id"] == plan_id
            for m in seen
        ):
            assert time.monotonic() < deadline
            seen.append(json.loads(await asyncio.wait_for(conn.read_message(), 30)))
        got = await call(3, "plans.get", id=plan_id)
        assert got["result"]["state"] == "completed" and len(got["result"]["frames"]) == 1
        listed = await call(4, "plans.list")
        assert plan_id in [p["id"] for p in listed["result"]]
        missing = await call(5, "plans.abort", id="pnothere")
        assert missing["error"]["data"]["error"] == "unknown_plan"
        assert any(m.get("method") == "plan.state" for m in seen)
    finally:
        conn.close()


# ---------------------------------------------------------------- faults


async def test_a_clean_restart_of_the_service_and_of_indiserver_lose_nothing(
    server: IndiServerProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    running = await _service(server, data)
    port = running.port
    try:
        plan_id = await _submit(running.url, _darks(10, 1.0))
        await _wait(running.url, plan_id, lambda v: v["frames_done"] >= 1)
        await running.stop()  # a clean stop in the middle of the plan
        running = await serve_on(server, data, port)
        await _wait(running.url, plan_id, lambda v: v["frames_done"] >= 3)
        # indiserver goes away with every driver and comes back.
        await asyncio.to_thread(server.restart_same_port)
        view = await _wait(running.url, plan_id, _ended, timeout=240)
    finally:
        await running.stop()
    assert view["state"] == "completed", view["message"]
    assert [f["status"] for f in view["frames"]] == ["ok"] * 10
    assert [f["attempts"] for f in view["frames"]].count(1) >= 8
    kinds = [e["type"] for e in view["events"]]
    assert "plan_resumed" in kinds and "service_lost" in kinds and "service_back" in kinds
    lost = next(e for e in view["events"] if e["type"] == "service_lost")
    assert "gives up at" in lost["message"]


async def test_drivers_restarted_mid_plan_are_put_back_before_the_next_frame(
    server: IndiServerProcess, svc: RunningService
) -> None:
    ra, dec = _ra_at(-1.0), 30.0
    text = _plan(ra, dec, "      - {filter: Green, duration: 1, count: 6}\n")
    plan_id = await _submit(svc.url, text)
    await _wait(svc.url, plan_id, lambda v: v["frames_done"] >= 2)
    # The mount and the wheel come back at home, the wheel on slot 1 (Red).
    for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
        server.stop_driver(driver)
    await asyncio.sleep(1.0)
    for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
        server.start_driver(driver)
    view = await _wait(svc.url, plan_id, _ended, timeout=240)
    assert view["state"] == "completed", view["message"]
    _assert_frames_as_planned(view, ra, dec, ["Green"] * 6)
    messages = [e["message"] for e in view["events"]]
    assert any(m.startswith("filter Green (the wheel was on Red)") for m in messages), messages
    assert sum(1 for e in view["events"] if e["type"] == "slew") >= 2


async def test_a_device_lost_for_longer_than_on_failure_wait_fails_the_plan(
    server: IndiServerProcess, svc: RunningService
) -> None:
    text = "on_failure: {wait: 3}\n" + _darks(3, 0.5)
    plan_id = await _submit(svc.url, text)
    await _wait(svc.url, plan_id, lambda v: v["frames_done"] >= 1)
    server.stop_driver("indi_simulator_ccd")
    try:
        view = await _wait(svc.url, plan_id, _ended, timeout=60)
    finally:
        server.start_driver("indi_simulator_ccd")
        server.wait_for_devices(present=["CCD Simulator"])
    assert view["state"] == "failed"
    assert "CCD Simulator (camera)" in view["message"]
    assert "for more than 3 s (on_failure.wait)" in view["message"]
    lost = [e for e in view["events"] if e["type"] == "service_lost"]
    assert lost and "CCD Simulator" in lost[0]["reason"]
    assert view["frames_done"] >= 1


def _popen_service(indi: IndiServerProcess, data: Path, port: int) -> subprocess.Popen:
    data.mkdir(parents=True, exist_ok=True)
    with open(data.parent / f"service-{port}.log", "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "indiws",
                "--indi-host",
                indi.host,
                "--indi-port",
                str(indi.port),
                "--data-dir",
                str(data),
                "--port",
                str(port),
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _serve_process(indi: IndiServerProcess, data: Path, port: int) -> subprocess.Popen:
    proc = _popen_service(indi, data, port)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            status, body = await _http(f"{base}/api/v1/status")
            if status == 200 and body["indiserver"]["connected"]:
                return proc
        except ConnectionError:
            pass
        assert proc.poll() is None, "the service did not start"
        assert time.monotonic() < deadline, "the service did not answer"
        await asyncio.sleep(0.2)


async def test_a_plan_survives_kill_9_of_the_service(
    server: IndiServerProcess, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await _serve_process(server, data, port)
    try:
        for role, device in ROLE_DEVICES.items():
            status, body = await _http(f"{base}/api/v1/roles/{role}", "PUT", {"device": device})
            assert status in (200, 201), body
        ra, dec = _ra_at(-1.0), 30.0
        text = _plan(
            ra,
            dec,
            "      - {filter: Green, duration: 1, count: 3}\n"
            "      - {filter: Blue, duration: 1, count: 3}\n",
        )
        plan_id = await _submit(base, text)
        await _wait(base, plan_id, lambda v: v["frames_done"] >= 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # While the service is dead the mount and the wheel restart: at home,
        # the wheel on slot 1 (Red), as in the report that opened this work.
        for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
            server.stop_driver(driver)
        await asyncio.sleep(1.0)
        for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
            server.start_driver(driver)
        server.wait_for_devices(present=["Telescope Simulator", "Filter Simulator"])
        proc = await _serve_process(server, data, port)
        view = await _wait(base, plan_id, _ended, timeout=240)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert view["state"] == "completed", view["message"]
    _assert_frames_as_planned(view, ra, dec, ["Green"] * 3 + ["Blue"] * 3)
    # No other file of the plan, but takes the engine refused (listed with their frame).
    refused = [r for f in view["frames"] for r in f.get("rejected_files", [])]
    refused += view["unjournalled_files"]  # stored in the instant before the kill
    assert len(_plan_files(data / "frames", plan_id)) == 6 + len(refused)
    kinds = [e["type"] for e in view["events"]]
    resumed = kinds.index("plan_resumed")
    after = [e["message"] for e in view["events"][resumed:]]
    # Put back before the next frame, from what the devices reported.
    assert any(m.startswith("filter Green (the wheel was on Red)") for m in after), after
    assert any(m.startswith("slewing to Field") for m in after), after


# ---------------------------------------------------------------- the CLI


async def test_indiws_run_follows_the_plan_and_detach_returns_at_once(
    svc: RunningService, tmp_path: Path
) -> None:
    plan = tmp_path / "darks.yaml"
    plan.write_text(_darks(2, 0.2))

    async def cli(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "indiws",
            "run",
            str(plan),
            "--url",
            svc.url,
            *args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await cli()
    assert code == 0, err
    assert "plan done: 2 frames taken" in out
    code, out, err = await cli("--detach")
    assert code == 0, err
    plan_id = out.strip().splitlines()[-1]
    view = await _wait(svc.url, plan_id, _ended)
    assert view["state"] == "completed" and view["frames_done"] == 2
    # Ctrl-C aborts the plan at the service.
    plan.write_text(_darks(50, 1.0))
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "indiws", "run", str(plan), "--url", svc.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, plans = await _http(f"{svc.url}/api/v1/plans")
    deadline = time.monotonic() + 30
    while not plans or plans[-1]["id"] == plan_id or plans[-1]["frames_done"] < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
        _, plans = await _http(f"{svc.url}/api/v1/plans")
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    view = await _wait(svc.url, plans[-1]["id"], _ended)
    assert view["state"] == "aborted" and view["frames_done"] < 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - name: X\n    exposures: [{duration: -1}]\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "indiws",
        "run",
        str(bad),
        "--url",
        svc.url,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err_bytes = await proc.communicate()
    assert proc.returncode == 2
    assert "bad.yaml:3: targets[0].exposures[0].duration" in err_bytes.decode()


# ---------------------------------------------------------------- notifications


async def test_a_webhook_hears_start_and_finish(server: IndiServerProcess, tmp_path: Path) -> None:
    got: list[dict] = []

    class Hook(tornado.web.RequestHandler):
        done: Any = None

        def post(self) -> None:
            got.append(json.loads(self.request.body))
            if Hook.done is not None:
                Hook.done()

    port = free_port()
    hook = tornado.web.Application([("/hook", Hook)]).listen(port, "127.0.0.1")
    running = await _service(
        server, tmp_path / "data", notify_urls=(f"http://127.0.0.1:{port}/hook",)
    )
    try:
        text = (
            "targets:\n  - name: Darks\n    exposures:\n      - {frame_type: dark, duration: 0.1}\n"
        )
        plan_id = await _submit(running.url, text)
        await _wait(running.url, plan_id, _ended)
        both = asyncio.Event()
        check = lambda: {"plan_started", "plan_finished"} <= {g["event"] for g in got}  # noqa: E731
        Hook.done = lambda: both.set() if check() else None  # type: ignore[attr-defined]
        if check():
            both.set()
        await asyncio.wait_for(both.wait(), 20)
    finally:
        hook.stop()
        await running.stop()
    events = {g["event"]: g for g in got}
    assert {"plan_started", "plan_finished"} <= set(events), got
    assert events["plan_finished"]["plan_id"] == plan_id
    assert events["plan_started"]["plan_id"] == plan_id
