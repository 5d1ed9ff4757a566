"""The plan runner's autofocus, centering and frame quality steps, against a
real service and INDI's simulators in a closed loop: the CCD simulator draws
the synthetic sky, its stars' size follows the focuser simulator, and the
service plate-solves those frames.

One indiserver and one service for the module (the solver's index files for
M42's sky are built once); each run writes into its own folder.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from astropy.io import fits
from lightapt_support import assign_roles
from rich.console import Console

from indiws.remote import Observatory
from indiws.remote.cli import dry_run
from indiws.remote.plan import PlanError, frames, parse_plan
from indiws.remote.runner import Manifest, Runner, RunOptions, RunResult, estimate
from indiws.testing import IndiServerProcess, RunningService, start_service

CCD = "CCD Simulator"
ROLES = {"telescope": "Telescope Simulator", "camera": CCD, "focuser": "Focuser Simulator"}
M42 = (5.5881, -5.3911)  # J2000
TARGET = f"""\
targets:
  - name: M42
    ra: {M42[0]}
    dec: {M42[1]}
"""

sky = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    process = IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_ccd", "indi_simulator_focus"],
        workdir=tmp_path_factory.mktemp("focus-indiserver"),
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
    running = await start_service(server, tmp_path_factory.mktemp("focus-data"))
    try:
        await assign_roles(running, ROLES)
        async with Observatory(running.url) as obs:
            if (await obs.telescope.position())["parked"]:
                await obs.telescope.unpark()
        yield running
    finally:
        await running.stop()


async def near_m42(obs: Observatory) -> None:
    """The mount a little off M42, so that the plan's slew is short (the
    simulator slews a few degrees a second), at M42's RA, so that the slew
    does not cross the meridian (a 30 s pier flip) when M42 stands on it."""
    await obs.telescope.sync(M42[0], M42[1] + 0.3)


async def run(svc: RunningService, text: str, out: Path) -> tuple[RunResult, list[tuple]]:
    seen: list[tuple] = []
    plan = parse_plan(text, str(out.parent / "plan.yaml"))
    runner = Runner(
        plan, RunOptions(url=svc.url, out=out), report=lambda kind, **d: seen.append((kind, d))
    )
    return await runner.run(), seen


def manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / Manifest.NAME).read_text().splitlines()]


@sky
@pytest.mark.slow
async def test_autofocus_at_the_start_brings_the_frames_into_focus(
    svc: RunningService, tmp_path: Path
) -> None:
    ccd = svc.service.client.devices[CCD].properties["SIM_FOCUSING"]
    best = int(ccd["SIM_FOCUS_POSITION"])
    async with Observatory(svc.url) as obs:
        await near_m42(obs)
        await obs.telescope.goto(*M42)
        await obs.focuser.move_to(best + 13000)
        before = (await obs.camera.expose(1.0))["analysis"]["hfr"]
    out = tmp_path / "out"
    result, seen = await run(
        svc,
        "autofocus: {exposure: 1, step: 3000, steps: 7}\n"
        + TARGET
        + "    exposures: [{duration: 1, count: 2}]\n",
        out,
    )
    assert result.exit_code == 0, result.message
    entries = manifest(out)
    focus = [e for e in entries if e.get("event") == "autofocus"]
    assert len(focus) == 1 and focus[0]["status"] == "ok", focus
    assert focus[0]["reason"] == "the target's start" and focus[0]["start_position"] == best + 13000
    assert abs(focus[0]["position"] - best) <= 1500, focus
    lights = [e for e in entries if "file" in e]
    assert len(lights) == 2
    for e in lights:
        assert e["analysis"]["hfr"] < 0.8 * before, (e["analysis"], before)
        assert e["analysis"]["stars"] > 20
        header = fits.getheader(out / e["file"])
        assert header["HFR"] == pytest.approx(e["analysis"]["hfr"])
        assert header["STARCNT"] == e["analysis"]["stars"]
    # The terminal saw every autofocus step with its position and HFR.
    steps = [d["progress"] for kind, d in seen if kind == "focus"]
    measuring = [p for p in steps if p.get("state") == "measuring"]
    assert len(measuring) >= 7 and all("position" in p and "hfr" in p for p in measuring)
    assert any(kind == "focused" for kind, _ in seen)


@sky
@pytest.mark.slow
async def test_centering_after_the_slew_is_recorded(svc: RunningService, tmp_path: Path) -> None:
    """The CCD simulator's off-axis guider offset puts the camera 15' north of
    the mount's axis: the slew alone leaves the target 15' off the frame's centre."""
    async with Observatory(svc.url) as obs:
        await near_m42(obs)
    indi = svc.service.client
    await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 15})
    out = tmp_path / "out"
    try:
        result, seen = await run(
            svc,
            "center: {tolerance: 20, exposure: 1}\n"
            + TARGET
            + "    exposures: [{duration: 0.5, count: 1}]\n",
            out,
        )
    finally:
        await indi.set_property(CCD, "SIMULATOR_SETTINGS", {"SIM_OAGOFFSET": 0})
    assert result.exit_code == 0, result.message
    entries = manifest(out)
    (center,) = [e for e in entries if e.get("event") == "center"]
    assert center["status"] == "ok" and center["error"] <= 20 and center["attempts"] >= 2
    (frame,) = [e for e in entries if "file" in e]
    assert frame["centering"] == {
        k: v for k, v in center.items() if k not in ("event", "target", "time")
    }
    assert fits.getheader(out / frame["file"])["CENTERR"] == pytest.approx(center["error"], abs=0.1)
    tries = [d["progress"] for kind, d in seen if kind == "center"]
    solved = [p["error"] for p in tries if p.get("state") == "solved"]
    assert solved[0] == pytest.approx(900, abs=60)  # the camera's 15'
    assert len(solved) == center["attempts"] and solved[-1] == center["error"]


@sky
@pytest.mark.slow
async def test_rejected_frames_are_kept_and_retaken_then_failed(
    svc: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result, seen = await run(
        svc,
        "quality: {min_stars: 100000, retakes: 1}\n"
        + TARGET
        + "    exposures: [{duration: 0.5, count: 1}]\n",
        out,
    )
    assert result.exit_code == 1 and result.failed == ["M42_nofilter_0.5s_0001.fits"]
    entries = manifest(out)
    rejected = [e for e in entries if e.get("status") == "rejected"]
    assert [e["file"] for e in rejected] == [
        "M42_nofilter_0.5s_0001_rejected1.fits",
        "M42_nofilter_0.5s_0001_rejected2.fits",
    ]
    for e in rejected:
        assert e["frame"] == "M42_nofilter_0.5s_0001.fits"
        assert "fewer than min_stars 100000" in e["rejected"]
        header = fits.getheader(out / e["file"])
        assert header["REJECTED"].startswith(f"{e['analysis']['stars']} stars")
    assert entries[-1]["status"] == "failed" and entries[-1]["rejected_files"] == [
        e["file"] for e in rejected
    ]
    assert not (out / "M42_nofilter_0.5s_0001.fits").exists()
    assert [d["last"] for kind, d in seen if kind == "rejected"] == [False, True]


def test_invalid_focus_keys_are_refused_with_their_lines() -> None:
    text = (
        "autofocus: {every: 0, steps: 3}\n"  # 1
        "targets:\n"  # 2
        "  - name: M42\n"  # 3
        "    center:\n"  # 4
        "      tolerance: -1\n"  # 5
        "      on_failure: retry\n"  # 6
        "    quality: {max_hfr: fuzzy, min_star: 3}\n"  # 7
        "    autofocus: {at_start: false}\n"  # 8
        "    exposures: [{duration: 1}]\n"
    )
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "p.yaml")
    message = str(caught.value)
    for expected in (
        "p.yaml:1: autofocus.every: must be at least 1, not 0",
        "p.yaml:1: autofocus.steps: must be at least 5, not 3",
        "p.yaml:5: targets[0].center.tolerance: must be above 0, not -1",
        "p.yaml:6: targets[0].center.on_failure: must be one of continue, skip, not 'retry'",
        "p.yaml:7: targets[0].quality.max_hfr: must be a number, not 'fuzzy'",
        "p.yaml:7: targets[0].quality.min_star: unknown key 'min_star'",
        "p.yaml:8: targets[0].autofocus: never runs",
    ):
        assert expected in message, message


def test_dry_run_lists_focus_and_centering_in_its_estimate(tmp_path: Path) -> None:
    base = (
        TARGET
        + "    exposures: [{filter: Red, duration: 10, count: 4}, {filter: Green, duration: 10}]\n"
    )
    plain = parse_plan(base)
    steps = parse_plan(
        "autofocus: {every: 2, exposure: 1, steps: 7, on_filter_change: true}\n"
        "center: {tolerance: 15, on_failure: skip}\n"
        "quality: {max_hfr: 3.5}\n" + base
    )
    # Start, after 2 Red frames, on the change to Green: three runs.
    assert estimate(steps, frames(steps)) > estimate(plain, frames(plain)) + 3 * 7 * 1
    buffer = io.StringIO()
    dry_run(steps, tmp_path / "out", Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert "center by plate solving to 15 arcsec" in text and "on failure: skip" in text
    assert "autofocus at the start, every 2 light frames, on filter change" in text
    assert "3 runs foreseen" in text
    assert "reject light frames with HFR over 3.5" in text


def test_autofocus_triggers_every_n_on_filter_change_and_on_hfr_rise(tmp_path: Path) -> None:
    """The triggers as the runner checks them before each light frame (no service)."""
    plan = parse_plan(
        "autofocus: {at_start: false, every: 3, on_filter_change: true, hfr_rise: 20}\n"
        + TARGET
        + "    exposures: [{filter: Red, duration: 1, count: 8}, {filter: Green, duration: 1}]\n"
    )
    runner = Runner(plan, RunOptions(out=tmp_path))
    reasons: list[str | None] = []

    def take(frame: Any, hfr: float) -> None:
        reason = runner._autofocus_reason(frame)
        reasons.append(reason)
        if reason is not None:  # what _autofocus does to the triggers, without focusing
            runner._lights_since_focus, runner._af_filter = 0, frame.exposure.filter
            runner._focus_hfr.clear()
            runner._recent_hfr.clear()
        runner._lights_since_focus += 1
        runner._note_hfr(frame, {"analysis": {"hfr": hfr}})

    red, green = frames(plan)[:8], frames(plan)[8]
    take(red[0], 2.0)  # the first Red frame: the filter is not the one focused with
    take(red[1], 2.0)
    take(red[2], 2.0)
    take(red[3], 2.0)  # 3 light frames since
    take(red[4], 2.5)
    take(red[5], 2.6)  # only 2 frames over the reference: too few to judge
    take(red[6], 2.7)  # 3 since
    take(red[7], 2.0)
    take(green, 2.0)
    assert reasons[0] == "filter changed to Red"
    assert reasons[3] == reasons[6] == "3 light frames since the last focus"
    assert reasons[8] == "filter changed to Green"
    assert [r for n, r in enumerate(reasons) if n not in (0, 3, 6, 8)] == [None] * 5
    # Without `every`, the median HFR of the last 3 frames 30 % over the first's.
    plan = parse_plan(
        "autofocus: {at_start: false, hfr_rise: 20}\n"
        + TARGET
        + "    exposures: [{duration: 1, count: 5}]\n"
    )
    runner = Runner(plan, RunOptions(out=tmp_path))
    reasons.clear()
    for frame, hfr in zip(frames(plan), (2.0, 2.1, 2.6, 2.6, 2.0), strict=True):
        take(frame, hfr)
    assert reasons[:4] == [None] * 4
    assert reasons[4] == "median HFR 2.60 is 30 % over 2.00 after the last focus"
