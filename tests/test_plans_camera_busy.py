"""A plan whose frame is due while another client exposes on the camera
(which then answers ``busy``) waits for the camera, with the reason in the
plan's state and progress, and takes its frame once the camera is free:
the other client's exposure is neither cancelled nor costs the plan a try."""

from __future__ import annotations

import asyncio
import time

import pytest
from plans_support import darks, ended, plans_fixtures, submit, wait_plan
from ws_support import WsClient

from indiws.devices import running_actions
from indiws.testing import RunningService

pytestmark = pytest.mark.slow

server, svc = plans_fixtures()


async def test_a_plan_waits_for_a_camera_busy_with_another_clients_exposure(
    svc: RunningService,
) -> None:
    other = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    watcher = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        exposing = asyncio.ensure_future(other.call("camera.expose", {"duration": 4.0}, 60))
        deadline = time.monotonic() + 15
        while not any(
            a["action"] == "expose" for a in running_actions(svc.service.client, role="camera")
        ):
            assert time.monotonic() < deadline, "the other client's exposure did not start"
            assert not exposing.done(), exposing.result()
            await asyncio.sleep(0.05)

        plan_id = await submit(svc.url, darks(1, 0.2))
        view = await wait_plan(
            svc.url, plan_id, lambda v: v["state"] == "waiting" or ended(v), timeout=30
        )
        assert view["state"] == "waiting", view
        assert "waiting for the camera" in view["message"], view
        assert "CCD Simulator is busy with another client's expose" in view["message"], view
        assert view["current"]["state"] == "waiting_camera", view["current"]

        # The other client's exposure ends as it would have alone.
        frame = await exposing
        assert frame["blob_id"], frame

        view = await wait_plan(svc.url, plan_id, ended, timeout=60)
        assert view["state"] == "completed", view
        assert [(f["status"], f["attempts"]) for f in view["frames"]] == [("ok", 1)], view
        kinds = [e["type"] for e in view["events"]]
        assert "frame_retry" not in kinds and "frame_failed" not in kinds, view["events"]
        assert any(
            e["type"] == "waiting" and "waiting for the camera" in e["message"]
            for e in view["events"]
        ), view["events"]
        # The JSON-RPC progress said it too.
        progress = []
        while not watcher.notes.empty():
            _, note = watcher.notes.get_nowait()
            if note.get("method") == "plan.progress":
                progress.append(note["params"])
        assert any(p.get("state") == "waiting_camera" and p.get("reason") for p in progress), (
            progress
        )
    finally:
        await other.close()
        await watcher.close()
