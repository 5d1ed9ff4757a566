"""Every frame on disk: names by the template, complete FITS headers, the
frames of earlier runs after a restart, ``kill -9`` during an exposure, a
full disk refused, memory-only mode.  Against the shared indiserver with
the four simulators; the services here have their own data directories."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from astropy.io import fits
from lightapt_support import LightAptClient
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient, http, http_json

from indiws.db import DB_FILENAME
from indiws.frame_store import INDEX_FILENAME
from indiws.testing import (
    NO_ALPACA,
    IndiServerFactory,
    IndiServerProcess,
    RunningService,
    free_port,
    start_service,
)

ROLES = {
    "telescope": "Telescope Simulator",
    "camera": "CCD Simulator",
    "focuser": "Focuser Simulator",
    "filter_wheel": "Filter Simulator",
}
DISK_FULL = -32057


async def open_rpc(svc: RunningService) -> WsClient:
    ws = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    for role, device in ROLES.items():
        await ws.call("assign", {"role": role, "device": device}, timeout=30)
    return ws


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def frames_under(folder: Path) -> list[Path]:
    """Frame files and temporary files (``.x.fits.part``), not the index."""
    return [p for p in files_under(folder) if ".fits" in p.name]


@pytest.fixture
async def svc(indiserver: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await start_service(indiserver, tmp_path / "data", status_interval=0)
    yield running
    await running.stop()


async def test_frames_on_disk_by_template_with_complete_headers(
    svc: RunningService, tmp_path: Path
) -> None:
    ws = await open_rpc(svc)
    try:
        await ws.call("focuser.move_to", {"position": 31000}, timeout=60)
        wheel = await ws.call("filter_wheel.status")
        frame = await ws.call(
            "camera.expose",
            {"duration": 0.1, "binning": 2, "metadata": {"object": "NGC 7000"}},
            timeout=60,
        )
    finally:
        await ws.close()
    folder = tmp_path / "data" / "frames"
    path = Path(frame["path"])
    # {night}/{object}_{filter}_{frame_type}_{exposure}s_{timestamp}_{seq:04d}{ext}
    assert path.parent.parent == folder
    filt = wheel["name"]
    assert path.name.startswith(f"NGC_7000_{filt}_light_0.1s_")
    assert path.name.endswith("_0001.fits")
    assert frames_under(folder) == [path]  # no temporary file left
    body = (await http(svc, frame["url"])).body
    assert await asyncio.to_thread(path.read_bytes) == body
    with fits.open(io.BytesIO(body)) as hdus:
        header = hdus[0].header
    assert header["OBJECT"] == "NGC 7000"  # the call's metadata
    assert header["FILTER"] == filt  # the filter wheel role
    assert header["EXPTIME"] == pytest.approx(0.1)
    assert header["XBINNING"] == 2 and header["YBINNING"] == 2
    assert header["FOCPOS"] == 31000
    assert header["FRAMEID"] == frame["blob_id"]
    for key in ("RA", "DEC", "OBJCTRA", "OBJCTDEC", "SITELAT", "SITELONG", "CCD-TEMP"):
        assert key in header, key
    assert header["DATE-OBS"].startswith(frame["started"][:19])
    assert header["IMAGETYP"] == "Light Frame"
    # The role's pointing is in the metadata (the driver's own RA/DEC cards,
    # snooped from its mount, are kept where it wrote them).
    assert isinstance(frame["ra"], float) and frame["telescope"] == ROLES["telescope"]

    # Out of the cache, the frame and its preview come from the file.
    store = svc.service.blobs
    store._blobs.clear()
    assert (await http(svc, frame["url"])).body == body
    preview = await http(svc, frame["preview_url"])
    assert preview.code == 200 and preview.headers["Content-Type"] == "image/png"


async def test_restart_lists_and_serves_the_frames_of_earlier_runs(
    indiserver: IndiServerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="indiws")
    data = tmp_path / "data"
    first = await start_service(indiserver, data, status_interval=0)
    try:
        # The start-up log says where frames go.
        said = [r.getMessage() for r in caplog.records if "frames: written to" in r.getMessage()]
        assert said and str(data / "frames") in said[0] and "GB free" in said[0]
        ws = await open_rpc(first)
        taken = [
            await ws.call(
                "camera.expose", {"duration": 0.1, "metadata": {"object": "M31"}}, timeout=60
            )
            for _ in range(2)
        ]
        await ws.close()
        bodies = [(await http(first, f["url"])).body for f in taken]
    finally:
        await first.stop()
    second = await start_service(indiserver, data, status_interval=0)
    try:
        listing = await http_json(second, "/blobs")
        assert [f["id"] for f in listing["frames"]] == [f["blob_id"] for f in reversed(taken)]
        assert listing["stats"]["count"] == 2 and listing["stats"]["on_disk"] is True
        assert listing["frames"][0]["metadata"]["object"] == "M31"
        for frame, body in zip(taken, bodies, strict=True):
            assert (await http(second, frame["url"])).body == body
        preview = await http(second, taken[0]["preview_url"].replace(".png", ".jpg"))
        assert preview.code == 200 and preview.headers["Content-Type"] == "image/jpeg"
        journal = await http_json(second, "/exposures")
        assert [e["state"] for e in journal["exposures"]] == ["stored", "stored"]
        # The numbering goes on from the earlier run.
        ws = await open_rpc(second)
        third = await ws.call("camera.expose", {"duration": 0.1}, timeout=60)
        await ws.close()
        assert third["path"].endswith("_0003.fits")
    finally:
        await second.stop()


async def test_kill_9_during_an_exposure_loses_it_cleanly(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    cmd = [sys.executable, "-m", "indiws", "--indi-host", indiserver.host]
    cmd += ["--indi-port", str(indiserver.port), "--port", str(port), "--data-dir", str(data)]
    cmd += ["--phd2-port", "0", *NO_ALPACA]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        url = f"ws://127.0.0.1:{port}/ws/indi_client/"
        for _ in range(200):
            try:
                ws = await WsClient.open(url)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the service did not start")
        # The service listens before its INDI mirror has the devices: wait for them.
        for _ in range(300):
            listing = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/get/all/devices/")
            if set(ROLES.values()) <= {d["device_name"] for d in json.loads(listing.body)}:
                break
            await asyncio.sleep(0.1)
        for role, device in ROLES.items():
            await ws.call("assign", {"role": role, "device": device}, timeout=30)
        request = ws.request(
            "camera.expose", {"duration": 3.0, "metadata": {"object": "M101"}}, timeout=60
        )
        pending = asyncio.ensure_future(request)
        await ws.next_note("progress", lambda p: p.get("state") == "exposing", timeout=20)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        await ws.close()
        pending.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    # No frame, no partial file; both databases whole.
    assert frames_under(data / "frames") == []
    for name in (DB_FILENAME, INDEX_FILENAME):
        with sqlite3.connect(data / name) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    svc = await start_service(indiserver, data, status_interval=0)
    try:
        ws = await open_rpc(svc)
        await ws.call("camera.abort")  # the simulator still exposes for nobody
        await ws.close()
        lost = (await http_json(svc, "/exposures?state=lost"))["exposures"]
        assert len(lost) == 1
        assert lost[0]["params"] == {"duration": 3.0, "object": "M101"}
        assert "stopped during the exposure" in lost[0]["error"]
        listing = await http_json(svc, "/blobs")
        assert listing["frames"] == [] and listing["stats"]["lost_exposures"] == 1
    finally:
        await svc.stop()
    assert frames_under(data / "frames") == []


async def test_disk_full_refuses_the_exposure_at_once(
    svc: RunningService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="indiws.devices")
    # A margin above what is free: the threshold, as --frames-min-free sets it.
    svc.service.blobs.min_free = 1 << 60
    ws, other = await open_rpc(svc), await WsClient.open(svc.ws_url + "/ws/indi_client/")
    lightapt = await LightAptClient.open(svc)
    try:
        error = await ws.error("camera.expose", {"duration": 5.0}, timeout=10)
        assert error["code"] == DISK_FULL and error["data"]["error"] == "disk_full"
        assert "no room for the frame" in error["message"]
        details = error["data"]["details"]
        assert details["needed"] > details["free"] and details["margin"] == 1 << 60
        # Every client hears of it.
        note = await other.next_note(
            "action.finished", lambda p: p["action"] == "expose", timeout=5
        )
        assert note["params"]["outcome"] == "disk_full"
        # lightAPT's front ends: the request is answered with the error at once
        # (the exposure never starts, so no signal follows).
        reply = await lightapt.ask("camera", "start_single_exposure", [5.0])
        assert reply["type"] == "error" and reply["message"].startswith("no room for the frame")
        # Nothing started, nothing written.
        state = await http_json(svc, "/api/v1/devices/CCD%20Simulator/properties/CCD_EXPOSURE")
        assert state["state"] != "Busy"
        assert frames_under(tmp_path / "data" / "frames") == []
        assert (await http_json(svc, "/blobs"))["frames"] == []
        # The morning shows what happened: the journal and the log.
        journal = (await http_json(svc, "/exposures?state=refused"))["exposures"]
        assert len(journal) == 2
        assert journal[-1]["params"] == {"duration": 5.0}
        assert journal[-1]["error"].startswith("disk_full: no room for the frame")
        assert all(e["state"] == "refused" for e in journal)
        warnings = [
            r for r in caplog.records if r.levelname == "WARNING" and "no room" in r.getMessage()
        ]
        assert len(warnings) == 2
        assert str(svc.service.blobs.folder) in warnings[0].getMessage()
    finally:
        await ws.close()
        await other.close()
        await lightapt.close()


async def test_memory_only_mode(
    indiserver: IndiServerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="indiws")
    svc = await start_service(
        indiserver, tmp_path / "data", status_interval=0, frames_on_disk=False
    )
    try:
        ws = await open_rpc(svc)
        frame = await ws.call("camera.expose", {"duration": 0.1}, timeout=60)
        await ws.close()
        assert frame["path"] is None
        resp = await http(svc, frame["url"])
        assert resp.code == 200 and resp.body[:9] == b"SIMPLE  ="
        with fits.open(io.BytesIO(resp.body)) as hdus:
            assert hdus[0].header["FRAMEID"] == frame["blob_id"]
        listing = await http_json(svc, "/blobs")
        assert [f["id"] for f in listing["frames"]] == [frame["blob_id"]]
        assert listing["stats"]["max_count"] == 100
        assert (await http_json(svc, "/exposures")) == {"exposures": [], "journal": False}
        assert not (tmp_path / "data" / "frames").exists()
        assert not (tmp_path / "data" / INDEX_FILENAME).exists()
        # The start-up log says so.
        assert any("frames: memory only" in r.getMessage() for r in caplog.records)
    finally:
        await svc.stop()


async def test_a_frame_carries_the_telescope_roles_pointing_over_the_cameras_snooped_one(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    """INDI's CCD simulator writes RA/DEC of the mount it snoops (its
    ACTIVE_DEVICES, which the service points at the telescope role's mount
    when roles are assigned, but which the driver's saved configuration or
    its property page may change): here "Telescope Simulator", while the
    telescope role holds another mount.  The stored frame says where the
    role's mount pointed (as the expose result does), and keeps the camera's
    own values as CAMRA/CAMDEC."""
    from indiws.devices import Telescope

    server = indiserver_factory(["indi_simulator_telescope", "indi_simulator_ccd"])
    server.start_driver("indi_simulator_telescope", "Scope Two")
    server.wait_for_devices(["Telescope Simulator", "CCD Simulator", "Scope Two"])
    running = await start_service(server, tmp_path / "data", status_interval=0)
    ws = await WsClient.open(running.ws_url + "/ws/indi_client/")
    try:
        client = running.service.client
        for name, (ra, dec) in (("Telescope Simulator", (2.0, 60.0)), ("Scope Two", (10.0, 10.0))):
            scope = Telescope(client, name)
            await scope.connect()
            await scope.set_site(48.0, 11.0, 500.0)
            await scope.unpark()
            await scope.sync(ra, dec, epoch="J2000")
        await ws.call("assign", {"role": "telescope", "device": "Scope Two"}, timeout=30)
        await ws.call("assign", {"role": "camera", "device": "CCD Simulator"}, timeout=30)
        await client.set_property(
            "CCD Simulator",
            "ACTIVE_DEVICES",
            {"ACTIVE_TELESCOPE": "Telescope Simulator"},
            wait=True,
            timeout=5,
        )
        shot = await ws.call("camera.expose", {"duration": 0.1}, timeout=60)
        assert shot["telescope"] == "Scope Two"
        assert abs(shot["ra"] - 10.0) < 0.01 and abs(shot["dec"] - 10.0) < 0.1
        with fits.open(shot["path"]) as hdul:
            header = hdul[0].header
        assert header["TELESCOP"] == "Scope Two"
        assert header["RA"] == pytest.approx(shot["ra"] * 15, abs=1e-5)
        assert header["DEC"] == pytest.approx(shot["dec"], abs=1e-5)
        assert header["EQUINOX"] == 2000.0
        # What the camera driver snooped, kept under other names.
        assert abs(header["CAMRA"] - 30.0) < 1.0 and abs(header["CAMDEC"] - 60.0) < 1.0
    finally:
        await ws.close()
        await running.stop()
