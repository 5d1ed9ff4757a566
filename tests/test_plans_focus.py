"""The service's plan engine with autofocus, centering and frame quality, in
a closed loop with INDI's simulators: the CCD simulator draws the synthetic
sky, its stars' size follows the focuser simulator, and the service
plate-solves those frames.

One indiserver and one service for the module (the solver's index files for
M42's sky are built once).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from astropy.io import fits
from lightapt_support import assign_roles
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from indiws.devices import astro
from indiws.remote import Observatory
from indiws.testing import IndiServerProcess, RunningService, start_service

pytestmark = pytest.mark.slow

CCD = "CCD Simulator"
ROLES = {"telescope": "Telescope Simulator", "camera": CCD, "focuser": "Focuser Simulator"}
M42 = (5.5881, -5.3911)  # J2000


def _longitude() -> float:
    """A site's longitude (latitude 0) where M42 stands half an hour east of
    the meridian now: high (the engine never slews below the horizon; the
    simulated sky is drawn around M42 whatever the hour), and no goto near
    it crosses the meridian (the telescope simulator's pier flip is a 30 s
    slew)."""
    lst_greenwich = astro.local_sidereal_time(0.0, datetime.now(UTC))
    return round(((M42[0] - 0.5 - lst_greenwich) * 15 + 180) % 360 - 180, 3)


def _target() -> str:
    """M42, with the site of `_longitude`."""
    return (
        f"site: {{latitude: 0, longitude: {_longitude()}, elevation: 0}}\n"
        f"targets:\n  - name: M42\n    ra: {M42[0]}\n    dec: {M42[1]}\n"
    )


sky = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    process = IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_ccd", "indi_simulator_focus"],
        workdir=tmp_path_factory.mktemp("plans-focus-indiserver"),
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
    running = await start_service(server, tmp_path_factory.mktemp("plans-focus-data"))
    try:
        await assign_roles(running, ROLES)
        async with Observatory(running.url) as obs:
            if (await obs.telescope.position())["parked"]:
                await obs.telescope.unpark()
        yield running
    finally:
        await running.stop()


async def near_m42(obs: Observatory) -> None:
    """The mount on the plan's site, a little off M42 (synced, pier side
    included), so that the plan's slew is short and stays east of the meridian."""
    await obs.telescope.set_site(latitude=0, longitude=_longitude(), elevation=0)
    await obs.telescope.sync(M42[0] - 0.02, M42[1] + 0.3)


async def run_plan(svc: RunningService, text: str, timeout: float = 240) -> dict[str, Any]:
    http = AsyncHTTPClient()
    resp = await http.fetch(
        HTTPRequest(
            f"{svc.url}/api/v1/plans",
            method="POST",
            body=text,
            headers={"Content-Type": "application/yaml"},
        )
    )
    plan_id = json.loads(resp.body)["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await http.fetch(f"{svc.url}/api/v1/plans/{plan_id}?events=1000")
        view = json.loads(resp.body)
        if view["state"] in ("completed", "failed", "aborted"):
            return view
        await asyncio.sleep(0.3)
    raise AssertionError(f"the plan did not end: {view}")


@sky
async def test_autofocus_at_the_start_brings_the_frames_into_focus(svc: RunningService) -> None:
    ccd = svc.service.client.devices[CCD].properties["SIM_FOCUSING"]
    best = int(ccd["SIM_FOCUS_POSITION"])
    async with Observatory(svc.url) as obs:
        await near_m42(obs)
        await obs.telescope.goto(*M42)
        await obs.focuser.move_to(best + 13000)
        before = (await obs.camera.expose(1.0))["analysis"]["hfr"]
    view = await run_plan(
        svc,
        "autofocus: {exposure: 1, step: 3000, steps: 7}\n"
        + _target()
        + "    exposures: [{duration: 1, count: 2}]\n",
    )
    assert view["state"] == "completed", view["message"]
    kinds = [e["type"] for e in view["events"]]
    assert kinds.count("autofocus") == 1 and "focused" in kinds, kinds
    for frame in view["frames"]:
        assert frame["analysis"]["hfr"] < 0.8 * before, (frame["analysis"], before)
        assert abs(frame["focuser_position"] - best) <= 1500
        header = fits.getheader(frame["file"])
        assert header["HFR"] == pytest.approx(frame["analysis"]["hfr"])
        assert header["FOCPOS"] == frame["focuser_position"]


@sky
async def test_centering_with_the_camera_off_axis_takes_frames_on_target(
    svc: RunningService,
) -> None:
    """The CCD simulator's off-axis offset puts the camera 15' north of the
    mount's axis: frames are taken where the mount points once centred."""
    async with Observatory(svc.url) as obs:
        await near_m42(obs)
    indi = svc.service.client
    await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 15})
    try:
        view = await run_plan(
            svc,
            "center: {tolerance: 20, exposure: 1}\n"
            + _target()
            + "    exposures: [{duration: 0.5, count: 2}]\n",
        )
    finally:
        await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 0})
    assert view["state"] == "completed", view["message"]
    centered = [e for e in view["events"] if e["type"] == "centered"]
    assert len(centered) == 1, view["events"]
    assert float(centered[0]["message"].split(": ")[1].split(" ")[0]) <= 20
    assert [f["status"] for f in view["frames"]] == ["ok", "ok"]


@sky
async def test_rejected_frames_are_retaken_then_failed(svc: RunningService) -> None:
    view = await run_plan(
        svc,
        "quality: {min_stars: 100000, retakes: 1}\n"
        + _target()
        + "    exposures: [{duration: 0.5, count: 1}]\n",
    )
    assert view["state"] == "failed"
    (frame,) = view["frames"]
    assert frame["status"] == "failed" and "fewer than min_stars 100000" in frame["error"]
    assert len(frame["rejected_files"]) == 2
    rejected = [e for e in view["events"] if e["type"] == "frame_rejected"]
    assert len(rejected) == 2
