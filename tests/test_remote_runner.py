"""``indiws run PLAN`` against a real service and INDI's simulators.

The module has its own indiserver (the runs park, slew and cool the camera);
each test starts a service on it with the four roles assigned.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from astropy.io import fits
from lightapt_support import assign_roles, module_indiserver
from remote_support import serve_on, vanish

from indiws.protocol import PropertyState
from indiws.remote import Observatory
from indiws.remote.plan import parse_plan
from indiws.remote.runner import Manifest, Runner, RunOptions, RunResult
from indiws.testing import IndiServerProcess, RunningService, free_port, start_service

pytestmark = pytest.mark.slow

CCD = "CCD Simulator"
M42_RA, M42_DEC = 5.58814, -5.39111

#: The plan of the documentation, exactly as written there.
PLAN_AS_WRITTEN = """\
site: {latitude: 48.1, longitude: 11.6, elevation: 520}   # optional
camera: {temperature: -10, wait_cooling: true}              # optional
targets:
  - name: M42
    ra: "05:35:17.3"          # hours, sexagesimal or decimal, J2000
    dec: "-05:23:28"          # degrees
    exposures:
      - {filter: Red, duration: 2, count: 3, binning: 1}
      - {filter: Green, duration: 2, count: 2, frame_type: light}
park: true                    # park the mount at the end
"""

server = module_indiserver(
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_focus",
    "indi_simulator_wheel",
)


async def _service(indi: IndiServerProcess, data: Path) -> RunningService:
    running = await start_service(indi, data)
    await assign_roles(running)
    # Start cooling to the plan's -10 °C now, so that the plan's wait for it is
    # short (the simulator cools at about 0.5 °C/s); the plan still waits.
    async with Observatory(running.url) as obs:
        await obs.camera.set_temperature(-10)
    # An exposure left running by an earlier test (its service vanished) ends first.
    ccd = running.service.client.devices[CCD]
    for _ in range(100):
        if ccd.properties["CCD_EXPOSURE"].state != PropertyState.BUSY:
            break
        await asyncio.sleep(0.1)
    return running


@pytest.fixture
async def svc(server: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await _service(server, tmp_path / "data")
    yield running
    await running.stop()


async def _cli(svc: RunningService, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "indiws",
        "run",
        *args,
        "--url",
        svc.url,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _run(svc: RunningService, text: str, out: Path) -> RunResult:
    plan = parse_plan(text, str(out.parent / "plan.yaml"))
    return await Runner(plan, RunOptions(url=svc.url, out=out)).run()


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / Manifest.NAME).read_text().splitlines()]


@pytest.fixture(scope="module")
def first_run(
    server: IndiServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, str]:
    """The plan as written, run once by the CLI into a folder the module shares."""
    work = tmp_path_factory.mktemp("plan")
    (work / "plan.yaml").write_text(PLAN_AS_WRITTEN)
    out = work / "frames"

    async def go() -> tuple[int, str, str]:
        running = await _service(server, work / "data")
        try:
            async with Observatory(running.url) as obs:
                # Park where M42 is now, so that parking at the end is short.
                await obs.telescope.set_site(latitude=48.1, longitude=11.6, elevation=520)
                lst = (await obs.telescope.position())["lst"]
                ha = (lst - M42_RA + 12) % 24 - 12
                await obs.telescope.set_park(position={"ha": ha, "dec": M42_DEC})
                # The mount synced on M42 and parked there (nothing slews far):
                # the run's goto and park stay short, and on one side of the
                # meridian, whatever the hour and wherever the last test left it.
                if (await obs.telescope.position())["parked"]:
                    await obs.telescope.unpark()
                await obs.telescope.sync(M42_RA, M42_DEC)
                await obs.telescope.park()
            return await _cli(running, str(work / "plan.yaml"), "--out", str(out))
        finally:
            await running.stop()

    code, stdout, stderr = asyncio.run(go())
    assert code == 0, stdout + stderr
    return out, code, stdout


async def test_a_catalogue_name_alone_slews_to_the_object(
    svc: RunningService, tmp_path: Path
) -> None:
    result = await _run(
        svc, "targets:\n  - name: M31\n    exposures: [{duration: 0.1}]\n", tmp_path / "out"
    )
    assert result.exit_code == 0, result.message
    async with Observatory(svc.url) as obs:
        pos = await obs.telescope.position()
    assert pos["ra_j2000"] == pytest.approx(0.7123, abs=0.01)  # M31: 00h42m44s
    assert pos["dec_j2000"] == pytest.approx(41.269, abs=0.1)  # +41°16'
    header = fits.getheader(tmp_path / "out" / "M31_nofilter_0.1s_0001.fits")
    assert header["OBJECT"] == "M31" and header["OBJCTDEC"].startswith("+41 16")


def test_plan_as_written_takes_five_frames(first_run: tuple[Path, int, str]) -> None:
    out, _, stdout = first_run
    files = sorted(p.name for p in out.glob("*.fits"))
    assert files == [
        "M42_Green_2s_0001.fits",
        "M42_Green_2s_0002.fits",
        "M42_Red_2s_0001.fits",
        "M42_Red_2s_0002.fits",
        "M42_Red_2s_0003.fits",
    ]
    for name in files:
        header = fits.getheader(out / name)
        assert header["FILTER"] == name.split("_")[1]
        assert header["EXPTIME"] == 2.0
        assert header["OBJECT"] == "M42" and header["IMAGETYP"] == "Light Frame"
    entries = _manifest(out)
    assert len(entries) == 5
    assert {e["file"] for e in entries} == set(files)
    # Frames and manifest are made like any file: 0666 less the umask.
    mask = os.umask(0o022)
    os.umask(mask)
    for name in [*files, Manifest.NAME]:
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
    for e in entries:
        assert e["status"] == "ok" and e["target"] == "M42" and e["duration"] == 2.0
        assert e["filter"] in ("Red", "Green") and e["start"].endswith("Z")
    assert "plan done: 5 frames taken" in stdout
    # Counts agree with their nouns.
    assert ": 1 target, 5 frames" in stdout and "(1 frame left," in stdout
    assert "1 targets" not in stdout and "1 frames" not in stdout


async def test_resume_takes_no_new_frame(
    first_run: tuple[Path, int, str], svc: RunningService
) -> None:
    out = first_run[0]
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")}
    manifest = (out / Manifest.NAME).read_bytes()
    result = await _run(svc, PLAN_AS_WRITTEN, out)
    assert result.exit_code == 0 and result.taken == []
    assert (out / Manifest.NAME).read_bytes() == manifest
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")} == before


async def test_resume_after_removing_two_entries_takes_exactly_those(
    first_run: tuple[Path, int, str], svc: RunningService
) -> None:
    out = first_run[0]
    lines = (out / Manifest.NAME).read_text().splitlines(keepends=True)
    removed = {json.loads(lines[1])["file"], json.loads(lines[3])["file"]}
    (out / Manifest.NAME).write_text("".join(lines[:1] + lines[2:3] + lines[4:]))
    result = await _run(svc, PLAN_AS_WRITTEN, out)
    assert result.exit_code == 0, result.message
    assert set(result.taken) == removed and len(result.taken) == 2
    entries = _manifest(out)
    assert len(entries) == 5 and {e["file"] for e in entries[-2:]} == removed


async def test_plan_errors_are_refused_before_anything_moves(
    svc: RunningService, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "targets:\n"
        "  - name: M42\n"
        '    ra: "25:00:00"\n'
        '    dec: "-05:23:28"\n'
        "    colour: red\n"
        "    exposures:\n"
        "      - {filter: Red, duration: 2}\n"
    )
    code, stdout, stderr = await _cli(svc, str(bad), "--out", str(tmp_path / "out"))
    assert code == 2, stdout + stderr
    assert f"{bad}:3: targets[0].ra: '25:00:00' is not a right ascension" in stderr
    assert f"{bad}:5: targets[0].colour: unknown key 'colour'" in stderr
    assert not (tmp_path / "out").exists()

    async with Observatory(svc.url) as obs:
        started: list = []  # every action of every client: nothing may move
        obs.on("action.started", lambda n: started.append(n.params))
        wheel = await obs.filter_wheel.current()
        # A filter the wheel does not have: found through the service, still before moving.
        result = await _run(
            svc,
            "targets:\n"
            "  - name: M1\n"
            "    exposures:\n"
            "      - {filter: Red, duration: 1}\n"
            "      - {filter: Ha, duration: 1}\n",
            tmp_path / "out",
        )
        assert result.exit_code == 2
        assert (
            "plan.yaml:5: targets[0].exposures[1].filter: the filter wheel has no filter 'Ha'"
            in result.message
        )
        assert (await obs.filter_wheel.current())["slot"] == wheel["slot"]
        await asyncio.sleep(0.2)
        assert started == []
    assert not list((tmp_path / "out").glob("*.fits"))


async def test_sigint_aborts_the_exposure_and_leaves_a_consistent_manifest(
    svc: RunningService, server: IndiServerProcess, tmp_path: Path
) -> None:
    plan = tmp_path / "darks.yaml"
    plan.write_text(
        "targets:\n"
        "  - name: Calibration\n"
        "    exposures:\n"
        "      - {frame_type: bias, duration: 0.01}\n"
        "      - {frame_type: dark, duration: 60}\n"
    )
    out = tmp_path / "out"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "indiws", "run", str(plan), "--url", svc.url, "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(400):  # the bias is written
            if (out / Manifest.NAME).exists():
                break
            await asyncio.sleep(0.05)
        await _exposing(svc, 5)  # and the dark is running
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 130, stdout.decode() + stderr.decode()
    assert b"aborting the camera" in stdout
    state = await _exposure_state(server)
    assert state and state != "Busy", state
    entries = _manifest(out)
    assert [e["file"] for e in entries] == ["Calibration_bias_nofilter_0.01s_0001.fits"]
    assert (out / entries[0]["file"]).is_file()
    assert not list(out.glob("*dark*"))


async def _exposure_state(server: IndiServerProcess) -> str:
    """CCD_EXPOSURE's state as INDI's own indi_getprop reports it."""
    getprop = await asyncio.to_thread(
        subprocess.run,
        ["indi_getprop", "-p", str(server.port), "-t", "2", f"{CCD}.CCD_EXPOSURE._STATE"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return getprop.stdout.strip().rpartition("=")[2]


async def _exposing(running: RunningService, at_least: float) -> None:
    """Until the CCD exposes (an exposure of more than ``at_least`` s)."""
    for _ in range(400):
        prop = running.service.client.devices[CCD].properties["CCD_EXPOSURE"]
        if prop.state == PropertyState.BUSY and prop["CCD_EXPOSURE_VALUE"] > at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the camera did not start exposing")


async def test_service_lost_mid_run_is_waited_for_then_given_up(
    server: IndiServerProcess, tmp_path: Path
) -> None:
    darks = (
        "targets:\n  - name: Darks\n    exposures: [{frame_type: dark, duration: 2, count: 2}]\n"
    )
    port = free_port()
    first = await serve_on(server, tmp_path / "data", port)
    await assign_roles(first)
    plan = parse_plan(darks, str(tmp_path / "plan.yaml"))
    run = asyncio.ensure_future(
        Runner(plan, RunOptions(url=first.url, out=tmp_path / "a", reconnect_timeout=30)).run()
    )
    await _exposing(first, 1)
    await vanish(first)  # mid-exposure
    await asyncio.sleep(0.5)
    second = await serve_on(server, tmp_path / "data", port)  # the roles are remembered
    try:
        result = await asyncio.wait_for(run, 60)
        assert result.exit_code == 0, result.message
        assert result.taken == [
            "Darks_dark_nofilter_2s_0001.fits",
            "Darks_dark_nofilter_2s_0002.fits",
        ]

        # Gone for longer than allowed: a clear message and exit status 3.
        run = asyncio.ensure_future(
            Runner(plan, RunOptions(url=second.url, out=tmp_path / "b", reconnect_timeout=1)).run()
        )
        await _exposing(second, 1)
    finally:
        await vanish(second)
    result = await asyncio.wait_for(run, 30)
    assert result.exit_code == 3
    assert "the service is gone" in result.message and "within 1 s" in result.message


async def test_failed_frame_is_recorded_and_the_run_goes_on(
    svc: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = await _run(
        svc,
        "retries: 1\n"
        "targets:\n"
        "  - name: Calibration\n"
        "    exposures:\n"
        "      - {frame_type: dark, duration: 5000}\n"  # past the simulator's 3600 s
        "      - {frame_type: bias, duration: 0.1, count: 2}\n",
        out,
    )
    assert result.exit_code == 1
    assert result.failed == ["Calibration_dark_nofilter_5000s_0001.fits"], [
        e.get("error") for e in _manifest(out)
    ]
    assert len(result.taken) == 2 and result.missing == result.failed
    entries = _manifest(out)
    assert entries[0]["status"] == "failed" and "3600" in entries[0]["error"]
    assert [e["status"] for e in entries[1:]] == ["ok", "ok"]


async def test_repeat_dither_and_focuser_offsets(svc: RunningService, tmp_path: Path) -> None:
    async with Observatory(svc.url) as obs:
        base = (await obs.focuser.position())["position"]
        here = await obs.telescope.position()  # the field: where the mount points (short slews)
        gotos: list = []
        obs.on(
            "action.started",
            lambda n: gotos.append(n.params) if n.params.get("action") == "goto" else None,
        )
        result = await _run(
            svc,
            "focuser_offsets: {Red: 0, Green: 40}\n"
            "targets:\n"
            "  - name: Field\n"
            f"    ra: {here['ra_j2000']}\n"
            f"    dec: {here['dec_j2000']}\n"
            "    repeat: 2\n"
            "    dither: {every: 1, offset: 20, settle: 0}\n"
            "    metadata: {OBSERVER: Tester}\n"
            "    exposures:\n"
            "      - {filter: Red, duration: 0.1}\n"
            "      - {filter: Green, duration: 0.1}\n",
            tmp_path / "out",
        )
        assert result.exit_code == 0, result.message
        assert result.taken == [
            "Field_Red_0.1s_0001.fits",
            "Field_Green_0.1s_0001.fits",
            "Field_Red_0.1s_0002.fits",
            "Field_Green_0.1s_0002.fits",
        ]
        assert (await obs.focuser.position())["position"] == base + 40
        await asyncio.sleep(0.2)
    assert len(gotos) == 4  # the slew, then a dither before each light frame after the first
    assert fits.getheader(tmp_path / "out" / result.taken[0])["OBSERVER"] == "Tester"


async def test_target_that_never_rises_is_skipped(svc: RunningService, tmp_path: Path) -> None:
    result = await _run(
        svc,
        "site: {latitude: 48.1, longitude: 11.6}\n"
        "targets:\n"
        "  - {name: Deep South, ra: 6.0, dec: -85, min_altitude: 20,"
        " exposures: [{duration: 1}]}\n",
        tmp_path / "out",
    )
    assert result.exit_code == 1 and result.skipped == ["Deep South"] and not result.taken


def test_dry_run_prints_the_plan_and_its_time(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_AS_WRITTEN)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "indiws",
            "run",
            str(plan),
            "--dry-run",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "M42: slew to RA 5.5881 h, Dec -5.3911°" in proc.stdout
    assert "light Red 2 s bin 1: 3 frames" in proc.stdout
    assert "5 of 5 frames to take" in proc.stdout and "about 0:01:35" in proc.stdout
    assert not (tmp_path / "o").exists()
