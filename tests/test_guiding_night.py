"""Guiding inside a night, against INDI's simulators: frames taken while
guiding carry the guiding RMS, a plan guides, dithers and settles before
each frame, and the safety policy stops the guider.  The closed loop itself
(calibration, how well it holds the star): `test_guiding.py`.

One indiserver and one service for the module (`guiding_support`: binning
4, 1 s exposures, the mount tracking 0.3"/s slow), calibrated once when the
module starts; the tests run in file order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from astropy.io import fits
from guiding_support import (
    SCOPE,
    TARGET,
    WEATHER,
    Events,
    guiding_server,
    guiding_service,
)
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from ws_support import WsClient

from indiws.devices import Telescope
from indiws.guiding import GuidingError, SettleRule
from indiws.testing import IndiServerProcess, RunningService

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    with guiding_server(tmp_path_factory.mktemp("guiding-night")) as process:
        yield process


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(
    server: IndiServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:
    data_dir = tmp_path_factory.mktemp("guiding-night-data")
    async with guiding_service(server, data_dir) as running:
        # Calibrated once, as an observer does at the start of the night
        # (how well: test_guiding.py).
        engine = running.service.guiding
        settled = await engine.guide(SettleRule(pixels=1.5, time=2, timeout=120))
        await engine.wait_settled(settled, timeout=400)
        await engine.stop_capture()
        assert engine.calibrated()
        yield running


async def test_frames_taken_while_guiding_carry_the_guiding_rms(svc: RunningService) -> None:
    engine = svc.service.guiding
    events = Events(engine)
    try:
        # The kept calibration is used: no new one.
        settled = await engine.guide(SettleRule(pixels=1.5, time=3, timeout=120))
        await engine.wait_settled(settled, timeout=200)
        assert "StartCalibration" not in events.names()
        ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
        try:
            shot = await ws.call(
                "camera.expose", {"duration": 5.0, "metadata": {"object": "M42"}}, timeout=60
            )
        finally:
            await ws.close()
        guided = shot["guiding"]
        assert guided["frames"] >= 3
        assert guided["rms_total"] < 1.0
        header = fits.getheader(shot["path"])
        assert header["GUIDFRMS"] == guided["frames"]
        assert header["GUIDRMS"] == pytest.approx(guided["arcsec"]["rms_total"], abs=1e-3)
        assert "arcsec" in header.comments["GUIDRMS"]
    finally:
        events.close()
        await engine.stop_capture()
    # Not guiding: no guiding cards.
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        shot = await ws.call("camera.expose", {"duration": 0.5}, timeout=60)
    finally:
        await ws.close()
    assert "guiding" not in shot
    assert "GUIDRMS" not in fits.getheader(shot["path"])


@pytest.mark.timeout(900)
async def test_a_plan_guides_dithers_and_settles_before_each_frame(svc: RunningService) -> None:
    """A plan with ``guiding:``: guiding starts (the kept calibration), every
    light frame starts once settled, dithers go through the guider, each frame
    carries its guiding RMS, and guiding stops with the plan."""
    engine = svc.service.guiding
    kept = engine.calibrated()
    events = Events(engine)
    # The module's site (guiding_support), where the target stood an hour
    # east of the meridian when the module started: the engine never slews
    # below the horizon nor waits for a target to rise, and the mount,
    # already there, neither moves nor flips.
    site = Telescope(svc.service.client, SCOPE).site()
    plan = (
        f"site: {{latitude: {site['latitude']}, longitude: {site['longitude']}, elevation: 0}}\n"
        "targets:\n"
        "  - name: Guided\n"
        f"    ra: {TARGET[0]}\n"
        f"    dec: {TARGET[1]:g}\n"
        "    guiding: {settle: {pixels: 1.5, time: 2, timeout: 120}}\n"
        "    dither: {every: 1, offset: 4}\n"
        "    exposures: [{duration: 3, count: 3}]\n"
    )
    http = AsyncHTTPClient()
    try:
        resp = await http.fetch(
            HTTPRequest(
                f"{svc.url}/api/v1/plans",
                method="POST",
                body=plan,
                headers={"Content-Type": "application/yaml"},
            )
        )
        plan_id = json.loads(resp.body)["id"]
        view: dict[str, Any] = {}
        for _ in range(1200):
            resp = await http.fetch(f"{svc.url}/api/v1/plans/{plan_id}?events=1000")
            view = json.loads(resp.body)
            if view["state"] in ("completed", "failed", "aborted"):
                break
            await asyncio.sleep(0.5)
        assert view["state"] == "completed", view
        assert [f["status"] for f in view["frames"]] == ["ok", "ok", "ok"]
        messages = [e["message"] for e in view["events"]]
        assert any("guiding settled" in m for m in messages), messages
        if kept:
            assert "StartCalibration" not in events.names()  # the kept calibration
        assert len(events.of("GuidingDithered")) >= 2
        for frame in view["frames"]:
            header = fits.getheader(frame["file"])
            assert header["GUIDFRMS"] >= 2
            assert header["GUIDRMS"] < 3.0  # arcsec: 2.2"/px guide pixels
        assert engine.state == "Stopped"  # the plan's guiding ended with it
    finally:
        events.close()
        await engine.stop_capture()


async def test_the_safety_policy_stops_the_guider(
    svc: RunningService, server: IndiServerProcess
) -> None:
    """Weather turns bad while guiding: the close-up stops the guider (no
    guide exposure, no pulse after it), and guiding is refused until safe."""
    service, engine = svc.service, svc.service.guiding
    server.start_driver("indi_simulator_weather")
    await service.client.wait_for_device(WEATHER, timeout=15)
    await service.roles.assign("weather", WEATHER)
    for _ in range(300):
        if service.safety.safe:
            break
        await asyncio.sleep(0.1)
    assert service.safety.safe, service.safety.reasons
    settled = await engine.guide(SettleRule(pixels=1.5, time=2, timeout=120))
    await engine.wait_settled(settled, timeout=300)
    events = Events(engine)
    try:
        await service.client.set_property(
            WEATHER, "WEATHER_CONTROL", {"Precip": 10}, wait=True, timeout=10
        )
        await service.client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})
        for _ in range(600):
            if engine.state == "Stopped":
                break
            await asyncio.sleep(0.1)
        assert engine.state == "Stopped"
        assert "GuidingStopped" in events.names()
        done = events.of("SettleDone")
        assert not done or done[-1]["Status"] == 1
        with pytest.raises(GuidingError, match="unsafe") as err:
            await engine.guide()
        assert err.value.code == "unsafe"
    finally:
        events.close()
