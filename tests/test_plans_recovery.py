"""Plans run by the service (`indiws.plans`) through faults, against a
real indiserver with INDI's simulators: a clean restart of the service and
of indiserver, drivers restarted mid-plan, a device lost for too long, the
service killed (kill -9) and started again; then `indiws run` and the
notifications.  The plans' API itself: `test_plans.py`.

The module shares one indiserver (the tests restart its drivers and the
server itself); each test runs its own service on it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from lightapt_support import ROLE_DEVICES
from plans_support import (
    assert_frames_as_planned,
    darks,
    ended,
    http,
    plan_files,
    plan_text,
    plans_fixtures,
    plans_service,
    point_mount_at,
    ra_at,
    submit,
    wait_plan,
)
from remote_support import serve_on

from indiws.testing import NO_ALPACA, IndiServerProcess, RunningService, free_port

pytestmark = pytest.mark.slow

server, svc = plans_fixtures()


# ---------------------------------------------------------------- faults


async def test_a_clean_restart_of_the_service_and_of_indiserver_lose_nothing(
    server: IndiServerProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    running = await plans_service(server, data)
    port = running.port
    try:
        plan_id = await submit(running.url, darks(10, 1.0))
        await wait_plan(running.url, plan_id, lambda v: v["frames_done"] >= 1)
        await running.stop()  # a clean stop in the middle of the plan
        running = await serve_on(server, data, port)
        await wait_plan(running.url, plan_id, lambda v: v["frames_done"] >= 3)
        # indiserver goes away with every driver and comes back.
        await asyncio.to_thread(server.restart_same_port)
        view = await wait_plan(running.url, plan_id, ended, timeout=240)
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
    # Near the pole (always up at the site): the telescope simulator comes
    # back at home (the pole), 20 degrees away rather than 60, a short slew.
    ra, dec = ra_at(-1.0), 70.0
    # Half a degree off (synced there): the plan's first slew is short.
    await point_mount_at(svc.url, ra, dec - 0.5)
    text = plan_text(ra, dec, "      - {filter: Green, duration: 1, count: 6}\n")
    plan_id = await submit(svc.url, text)
    await wait_plan(svc.url, plan_id, lambda v: v["frames_done"] >= 2)
    # The mount and the wheel come back at home, the wheel on slot 1 (Red).
    for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
        server.stop_driver(driver)
    await asyncio.sleep(1.0)
    for driver in ("indi_simulator_telescope", "indi_simulator_wheel"):
        server.start_driver(driver)
    view = await wait_plan(svc.url, plan_id, ended, timeout=240)
    assert view["state"] == "completed", view["message"]
    assert_frames_as_planned(view, ra, dec, ["Green"] * 6)
    messages = [e["message"] for e in view["events"]]
    assert any(m.startswith("filter Green (the wheel was on Red)") for m in messages), messages
    assert sum(1 for e in view["events"] if e["type"] == "slew") >= 2


async def test_a_device_lost_for_longer_than_on_failure_wait_fails_the_plan(
    server: IndiServerProcess, svc: RunningService
) -> None:
    text = "on_failure: {wait: 3}\n" + darks(3, 0.5)
    plan_id = await submit(svc.url, text)
    await wait_plan(svc.url, plan_id, lambda v: v["frames_done"] >= 1)
    server.stop_driver("indi_simulator_ccd")
    try:
        view = await wait_plan(svc.url, plan_id, ended, timeout=60)
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
                "--phd2-port",
                "0",  # PHD2's fixed port is left to the PHD2 tests
                *NO_ALPACA,
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
            status, body = await http(f"{base}/api/v1/status")
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
            status, body = await http(f"{base}/api/v1/roles/{role}", "PUT", {"device": device})
            assert status in (200, 201), body
        ra, dec = ra_at(-1.0), 70.0  # near home (the pole): short slews after the restart
        await point_mount_at(base, ra, dec - 0.5)  # the plan's first slew is short
        text = plan_text(
            ra,
            dec,
            "      - {filter: Green, duration: 1, count: 3}\n"
            "      - {filter: Blue, duration: 1, count: 3}\n",
        )
        plan_id = await submit(base, text)
        await wait_plan(base, plan_id, lambda v: v["frames_done"] >= 2)
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
        view = await wait_plan(base, plan_id, ended, timeout=240)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert view["state"] == "completed", view["message"]
    assert_frames_as_planned(view, ra, dec, ["Green"] * 3 + ["Blue"] * 3)
    # No other file of the plan, but takes the engine refused (listed with their frame).
    refused = [r for f in view["frames"] for r in f.get("rejected_files", [])]
    refused += view["unjournalled_files"]  # stored in the instant before the kill
    assert len(plan_files(data / "frames", plan_id)) == 6 + len(refused)
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
    plan.write_text(darks(2, 0.2))

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
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "completed" and view["frames_done"] == 2
    # Ctrl-C aborts the plan at the service.
    plan.write_text(darks(50, 1.0))
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "indiws", "run", str(plan), "--url", svc.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, plans = await http(f"{svc.url}/api/v1/plans")
    deadline = time.monotonic() + 30
    while not plans or plans[-1]["id"] == plan_id or plans[-1]["frames_done"] < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
        _, plans = await http(f"{svc.url}/api/v1/plans")
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    view = await wait_plan(svc.url, plans[-1]["id"], ended)
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
    running = await plans_service(
        server, tmp_path / "data", notify_urls=(f"http://127.0.0.1:{port}/hook",)
    )
    try:
        text = (
            "targets:\n  - name: Darks\n    exposures:\n      - {frame_type: dark, duration: 0.1}\n"
        )
        plan_id = await submit(running.url, text)
        await wait_plan(running.url, plan_id, ended)
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
