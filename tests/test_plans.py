"""Plans run by the service (`indiws.plans`), against a real indiserver
with INDI's simulators: submitted over HTTP and JSON-RPC, journalled,
frames labelled and pointed as planned, dithered, paused, skipped when the
target never rises, waiting for darkness, flipped at the meridian.
Recovery (restarts, kill -9, drivers and devices lost), the command line
and notifications: `test_plans_recovery.py`.

The module shares one indiserver (the plans slew and turn the wheel); each
test runs its own service on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from plans_support import (
    assert_frames_as_planned,
    darks,
    ended,
    fits_header,
    http,
    plan_text,
    plans_fixtures,
    point_mount_at,
    ra_at,
    submit,
    wait_plan,
)

from indiws.devices import astro
from indiws.testing import RunningService

pytestmark = pytest.mark.slow

server, svc = plans_fixtures()


# ---------------------------------------------------------------- the API


async def test_plan_runs_in_the_service_and_frames_carry_what_the_devices_reported(
    svc: RunningService,
) -> None:
    ra, dec = ra_at(-1.0), 30.0
    text = plan_text(
        ra,
        dec,
        "      - {filter: Red, duration: 0.2, count: 2}\n"
        "      - {filter: Green, duration: 0.2, count: 1}\n",
        "metadata: {OBSERVER: Tester, FILTER: Fake}",
    )
    plan_id = await submit(svc.url, text)
    status, plans = await http(f"{svc.url}/api/v1/plans")
    assert status == 200 and plans[-1]["id"] == plan_id
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "completed", view["message"]
    assert_frames_as_planned(view, ra, dec, ["Red", "Red", "Green"])
    header = fits_header(view["frames"][0]["file"])
    assert header["OBSERVER"] == "Tester"  # the plan's metadata; its FILTER did not override
    kinds = [e["type"] for e in view["events"]]
    assert kinds[0] == "queued" and "plan_started" in kinds and kinds[-1] == "plan_finished"
    assert view["frames_done"] == 3 and view["current"] is None


async def test_meridian_flip_takes_frames_on_both_pier_sides(svc: RunningService) -> None:
    """On an indiserver whose telescope driver was never restarted (the tests
    that restart it are in test_plans_recovery.py, on their own server): once
    its driver had been restarted, the telescope simulator (INDI 1.9.9) kept
    its pier side on the flip's gotos in our runs (cause not found), and the
    engine then skips the rest of the target (meridian_flip_failed) rather
    than track on."""
    # 14 s (of sidereal time) east of the meridian in the mount's (JNow)
    # coordinates and the flip 6 s past it: the flip comes about 20 s in,
    # after the first frame (the engine flips before a frame, never during
    # one), and the frames last longer than that (24 of at least 1 s, each
    # with its download), so that some are taken on each side however
    # loaded the machine is.  The mount is first synced there (on the plan's
    # site, pier side west), so that the plan's own slew is short wherever
    # it started and the flip's is the only one crossing the meridian.
    ra_now = ra_at(-14 / 3600)
    await point_mount_at(svc.url, ra_now, 30.0, epoch="JNow")
    ra, dec = astro.jnow_to_j2000(ra_now, 30.0)
    text = plan_text(
        ra,
        dec,
        "      - {duration: 1, count: 24}\n",
        "meridian_flip: {after_minutes: 0.1}",
    )
    plan_id = await submit(svc.url, text)
    view = await wait_plan(svc.url, plan_id, ended, timeout=600)
    assert view["state"] == "completed", view["message"]
    flips = [e for e in view["events"] if e["type"] == "meridian_flip"]
    assert len(flips) == 1, view["events"]
    assert flips[0]["pier_side_before"] == "west", view["events"][-30:]
    assert flips[0]["pier_side_after"] == "east", view["events"][-30:]
    sides = [fits_header(f["file"])["PIERSIDE"] for f in view["frames"]]
    assert sides[0] == "WEST" or sides[0].lower() == "west"
    assert {s.lower() for s in sides} == {"west", "east"}
    # Every frame before the flip on one side, every one after on the other.
    first_east = [s.lower() for s in sides].index("east")
    assert all(s.lower() == "east" for s in sides[first_east:])


async def test_dithers_move_the_mount_between_light_frames(svc: RunningService) -> None:
    ra, dec = ra_at(-1.0), 30.0
    await point_mount_at(svc.url, ra, dec)  # not back across the meridian from the flip's side
    text = plan_text(
        ra, dec, "      - {duration: 0.2, count: 3}\n", "dither: {every: 1, offset: 20, settle: 0}"
    )
    plan_id = await submit(svc.url, text)
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "completed", view["message"]
    assert [e["type"] for e in view["events"]].count("dither") == 2
    pointings = {(round(f["ra"], 6), round(f["dec"], 5)) for f in view["frames"]}
    assert len(pointings) == 3  # each frame somewhere else, all on the target
    for f in view["frames"]:
        header = fits_header(f["file"])
        assert abs(((header["RA"] - ra * 15 + 180) % 360) - 180) < 0.05


async def test_bad_plans_are_refused_with_every_problem_and_its_line(svc: RunningService) -> None:
    bad = "targets:\n  - name: M42\n    ra: '25:00:00'\n    dec: 0\n    colour: red\n"
    status, body = await http(f"{svc.url}/api/v1/plans", "POST", bad, "application/yaml")
    assert status == 400 and body["error"]["code"] == "invalid_plan"
    problems = {(p["path"], p["line"]) for p in body["error"]["data"]["problems"]}
    assert ("targets[0].colour", 5) in problems
    assert ("targets[0].ra", 3) in problems
    assert ("targets[0].exposures", 2) in problems
    status, body = await http(f"{svc.url}/api/v1/plans", "POST", "{nope", "application/json")
    assert status == 400 and body["error"]["code"] == "invalid_plan"
    # JSON with the same keys is a plan too; a filter the wheel lacks is named.
    dark = {"duration": 0.1, "filter": "Ha", "frame_type": "dark"}
    plan = {"targets": [{"name": "Darks", "exposures": [dark]}]}
    status, body = await http(f"{svc.url}/api/v1/plans", "POST", plan)
    assert status == 400
    assert "no filter 'Ha'" in body["error"]["data"]["problems"][0]["message"]
    status, body = await http(f"{svc.url}/api/v1/plans/pnothere")
    assert status == 404 and body["error"]["code"] == "unknown_plan"


async def test_pause_resume_and_abort(svc: RunningService) -> None:
    text = darks(20, 0.5)
    plan_id = await submit(svc.url, text)
    await wait_plan(svc.url, plan_id, lambda v: v["frames_done"] >= 1)
    status, _ = await http(f"{svc.url}/api/v1/plans/{plan_id}/pause", "POST", {})
    assert status == 200
    view = await wait_plan(svc.url, plan_id, lambda v: v["state"] == "paused")
    done = view["frames_done"]
    await asyncio.sleep(1.5)
    _, view = await http(f"{svc.url}/api/v1/plans/{plan_id}")
    assert view["frames_done"] == done and view["state"] == "paused"
    await http(f"{svc.url}/api/v1/plans/{plan_id}/resume", "POST", {})
    await wait_plan(svc.url, plan_id, lambda v: v["frames_done"] > done)
    status, _ = await http(f"{svc.url}/api/v1/plans/{plan_id}/abort", "POST", {})
    assert status == 200
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "aborted"
    status, body = await http(f"{svc.url}/api/v1/plans/{plan_id}/resume", "POST", {})
    assert status == 409 and body["error"]["code"] == "invalid_plan_state"


async def test_a_target_that_never_rises_is_skipped_with_its_reason(svc: RunningService) -> None:
    text = plan_text(ra_at(0), -80.0, "      - {duration: 0.1, count: 2}\n")
    text = text.replace("    exposures:", "    min_altitude: 20\n    exposures:")
    plan_id = await submit(svc.url, text)
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "failed"
    skipped = [e for e in view["events"] if e["type"] == "target_skipped"]
    assert len(skipped) == 1 and skipped[0]["target"] == "Field"
    assert "below 20°" in skipped[0]["reason"] and "within 24 h" in skipped[0]["reason"]
    assert [f["status"] for f in view["frames"]] == ["skipped", "skipped"]


async def test_a_plan_waits_for_its_start_and_for_darkness_with_the_reason(
    svc: RunningService,
) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    text = f"start: {start.isoformat().replace('+00:00', 'Z')}\n" + darks(1, 0.1)
    plan_id = await submit(svc.url, text)
    # Read once it has ended (the wait itself lasts 3 s, which a slow poll
    # could miss): its journal says it waited and why, its frame is after.
    view = await wait_plan(svc.url, plan_id, ended)
    assert view["state"] == "completed"
    waits = [e for e in view["events"] if e["type"] == "waiting"]
    assert waits and waits[0]["message"].startswith("waiting: the plan's start at"), waits
    taken = datetime.fromisoformat(fits_header(view["frames"][0]["file"])["DATE-OBS"])
    assert taken.replace(tzinfo=UTC) >= start.replace(microsecond=0), (taken, start)
    # The Sun is never below -90°: the target is skipped, saying why.
    text = plan_text(ra_at(-1.0), 30.0, "      - {duration: 0.1}\n", "sun_max_altitude: -90")
    plan_id = await submit(svc.url, text)
    view = await wait_plan(svc.url, plan_id, ended)
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
