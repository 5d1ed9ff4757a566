"""Several clients on one observatory: a camera busy with one client's
exposure answers ``busy`` to the others (replacing is explicit), and a goto
below the site's minimum altitude is refused on every path (forcing is
explicit); against a real indiserver with the simulators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightapt_support import LightAptClient, assign_roles
from ws_support import WsClient

from indiws.devices import astro
from indiws.remote import Observatory
from indiws.remote.connection import RemoteError
from indiws.testing import IndiServerProcess, RunningService, start_service

BUSY = -32044
ABORTED = -32045
BELOW_HORIZON = -32059
SITE = {"latitude": 48.1, "longitude": 11.6, "elevation": 520}


@pytest.fixture
async def svc(indiserver: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    # The horizon as a user's service has it (tests elsewhere run without one).
    running = await start_service(
        indiserver, tmp_path / "data", frames_dir=tmp_path / "frames", min_altitude=10.0
    )
    await assign_roles(running)
    yield running
    await running.stop()


async def _rpc(svc: RunningService) -> WsClient:
    return await WsClient.open(svc.ws_url + "/ws/indi_client/")


# ---------------------------------------------------------------- the camera


async def test_a_second_client_s_exposure_is_refused_busy_and_the_first_goes_on(
    svc: RunningService,
) -> None:
    first, second = await _rpc(svc), await _rpc(svc)
    try:
        # At once, as two clients of one observatory do.
        one = asyncio.ensure_future(first.request("camera.expose", {"duration": 2.0}, 60))
        await asyncio.sleep(0)
        other = await second.request("camera.expose", {"duration": 2.0}, 60)
        assert other["error"]["code"] == BUSY, other
        assert other["error"]["data"]["error"] == "busy"
        assert "replace" in other["error"]["message"]
        done = await one
        assert "result" in done, done  # the first client's frame, not "superseded"
        assert done["result"]["duration"] == 2.0
    finally:
        await first.close()
        await second.close()


async def test_replace_true_cancels_the_other_exposure_explicitly(svc: RunningService) -> None:
    first, second = await _rpc(svc), await _rpc(svc)
    try:
        one = asyncio.ensure_future(first.request("camera.expose", {"duration": 5.0}, 60))
        await asyncio.sleep(0.5)
        taken = await second.request("camera.expose", {"duration": 1.0, "replace": True}, 60)
        assert "result" in taken, taken
        replaced = await one
        assert replaced["error"]["code"] == ABORTED, replaced
    finally:
        await first.close()
        await second.close()


async def test_lightapt_front_gets_its_busy_message_while_another_client_exposes(
    svc: RunningService,
) -> None:
    rpc = await _rpc(svc)
    page = await LightAptClient.open(svc)
    try:
        one = asyncio.ensure_future(rpc.request("camera.expose", {"duration": 2.0}, 60))
        await asyncio.sleep(0.2)
        reply = await page.ask("camera", "start_single_exposure", [1.0])
        assert reply["message"] == "Exposure is in progress. Cannot start exposure now!", reply
        assert "result" in await one
        # The page's own exposure, once the camera is free, runs as before.
        await page.success("camera", "start_single_exposure", [0.5])
        signal = await page.reply(30)
        assert signal["message"] == "Exposure Finished!", signal
    finally:
        await rpc.close()
        await page.close()


# ---------------------------------------------------------------- the horizon


def _below(lat: float, lon: float) -> tuple[float, float]:
    """J2000 RA/Dec of a point 40° below the horizon now (at HA 12 h, Dec -30)."""
    lst = astro.local_sidereal_time(lon)
    ra_now = (lst - 12.0) % 24.0
    ra, dec = astro.jnow_to_j2000(ra_now, -30.0)
    alt, _ = astro.altaz_from_hadec(12.0, -30.0, lat)
    assert alt < -40
    return ra, dec


async def _still_position(ws: WsClient) -> dict:
    """The mount's position once two reads a second apart agree: the
    simulator recomputes its coordinates from a new site on its next tick,
    so a read just after `set_site` can still be the old one."""
    last = await ws.call("telescope.position")
    for _ in range(15):
        await asyncio.sleep(1.0)
        now = await ws.call("telescope.position")
        if abs(now["ra"] - last["ra"]) < 0.005 and abs(now["dec"] - last["dec"]) < 0.05:
            return now
        last = now
    raise AssertionError(f"the mount did not stand still: {last}")


async def test_a_goto_below_the_horizon_is_refused_on_every_path_unless_forced(
    svc: RunningService,
) -> None:
    ws = await _rpc(svc)
    page = await LightAptClient.open(svc)
    try:
        await ws.call("telescope.set_site", SITE)
        await ws.call("telescope.unpark")
        status = await ws.call("status")
        assert status["min_altitude"] == 10.0
        ra, dec = _below(SITE["latitude"], SITE["longitude"])
        before = await _still_position(ws)

        refused = await ws.error("telescope.goto", {"ra": ra, "dec": dec})
        assert refused["code"] == BELOW_HORIZON, refused
        assert "below the minimum 10°" in refused["message"]
        assert "force" in refused["message"]
        low = await ws.error("telescope.goto_altaz", {"alt": 5.0, "az": 180.0})
        assert low["code"] == BELOW_HORIZON
        under = await ws.error("telescope.goto_hadec", {"ha": 12.0, "dec": -30.0})
        assert under["code"] == BELOW_HORIZON

        # lightAPT's goto (JNow), from its page.
        ra_now, dec_now = astro.j2000_to_jnow(ra, dec)
        reply = await page.ask("telescope", "goto", [ra_now, dec_now])
        assert reply["type"] == "error" and "below the minimum" in reply["message"], reply

        # The Python client.
        async with Observatory(svc.url) as obs:
            with pytest.raises(RemoteError) as caught:
                await obs.telescope.goto(ra=ra, dec=dec)
            assert caught.value.code == BELOW_HORIZON

        after = await ws.call("telescope.position")
        assert abs(after["ra"] - before["ra"]) < 0.01 and abs(after["dec"] - before["dec"]) < 0.1

        # Forcing is explicit, per call.
        forced = await ws.call("telescope.goto_altaz", {"alt": 5.0, "az": 180.0, "force": True}, 60)
        assert forced["alt"] == pytest.approx(5.0, abs=0.5)
    finally:
        await ws.close()
        await page.close()


async def test_a_plan_whose_target_is_below_the_horizon_does_not_slew_there(
    svc: RunningService,
) -> None:
    ws = await _rpc(svc)
    try:
        await ws.call("telescope.set_site", SITE)
        await ws.call("telescope.unpark")
        ra, dec = _below(SITE["latitude"], SITE["longitude"])
        text = (
            "site: {latitude: 48.1, longitude: 11.6, elevation: 520}\n"
            "retries: 0\n"
            f"targets:\n  - name: Low\n    ra: {ra:.5f}\n    dec: {dec:.4f}\n"
            "    exposures:\n      - {duration: 0.2, count: 1}\n"
        )
        plan = await ws.call("plans.submit", {"plan": text, "name": "low.yaml"})
        waiting: list[str] = []
        for _ in range(300):
            view = await ws.call("plans.get", {"id": plan["id"]})
            waiting = [e["message"] for e in view["events"] if e["type"] == "waiting"]
            if waiting:
                break
            await asyncio.sleep(0.1)
        # The plan waits for its target to rise above the site's minimum.
        assert waiting and "below 10°" in waiting[0], view["events"]
        await ws.call("plans.abort", {"id": plan["id"]})
        assert view["frames_done"] == 0, view
        position = await ws.call("telescope.position")
        assert position["alt"] > 0, position
    finally:
        await ws.close()
