"""What the plan modules share (`test_plans.py`, `test_plans_recovery.py`):
plans written for a site and a target, submitted over HTTP and followed
until they end, and their frames read back."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from lightapt_support import assign_roles, module_indiserver
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from indiws.devices import astro
from indiws.remote import Observatory
from indiws.testing import IndiServerProcess, RunningService, start_service

LAT, LON = 48.1, 11.6
SITE = f"site: {{latitude: {LAT}, longitude: {LON}, elevation: 520}}"


def ra_at(ha_hours: float) -> float:
    """RA (hours, J2000 near enough) of a point ``ha_hours`` from the meridian now."""
    return (astro.local_sidereal_time(LON, datetime.now(UTC)) - ha_hours) % 24


async def point_mount_at(base: str, ra: float, dec: float, epoch: str = "J2000") -> None:
    """The mount of the service at ``base`` on the plans' site, unparked and
    synced on (``ra``, ``dec``): a plan's own slew there is then short
    whatever the hour and wherever an earlier test left the mount, and
    crosses no meridian (the telescope simulator's pier flip is a 30 s
    slew).  A sync moves nothing: the pier side follows the hour angle."""
    async with Observatory(base) as obs:
        await obs.telescope.set_site(latitude=LAT, longitude=LON, elevation=520)
        if (await obs.telescope.position())["parked"]:
            await obs.telescope.unpark()
        await obs.telescope.sync(ra, dec, epoch=epoch)


def darks(count: int, duration: float) -> str:
    return (
        "targets:\n  - name: Darks\n    exposures:\n"
        f"      - {{frame_type: dark, duration: {duration}, count: {count}}}\n"
    )


def plan_text(ra: float, dec: float, exposures: str, extra: str = "", name: str = "Field") -> str:
    return (
        f"{SITE}\n{extra}\ntargets:\n  - name: {name}\n    ra: {ra:.5f}\n    dec: {dec:.4f}\n"
        f"    exposures:\n{exposures}"
    )


async def http(url: str, method: str = "GET", body: Any = None, ctype: str = "") -> tuple[int, Any]:
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


async def submit(base: str, text: str) -> str:
    status, body = await http(
        f"{base}/api/v1/plans?name=test.yaml", "POST", text, "application/yaml"
    )
    assert status == 201, body
    assert body["state"] in ("queued", "running")
    return body["id"]


async def wait_plan(base: str, plan_id: str, until: Any, timeout: float = 180) -> dict:
    """Poll the plan until ``until(view)``; the view (bounded wait)."""
    deadline = time.monotonic() + timeout
    view: dict = {}
    while time.monotonic() < deadline:
        try:
            status, view = await http(f"{base}/api/v1/plans/{plan_id}?events=1000")
        except ConnectionError:
            await asyncio.sleep(0.3)
            continue
        if status == 200 and until(view):
            return view
        await asyncio.sleep(0.3)
    raise AssertionError(f"plan did not get there in {timeout} s: {json.dumps(view)[-3000:]}")


def ended(view: dict) -> bool:
    return view["state"] in ("completed", "failed", "aborted")


def fits_header(path: str) -> Any:
    with fits.open(path) as hdul:
        return hdul[0].header.copy()


def assert_frames_as_planned(view: dict, ra: float, dec: float, filters: list[str]) -> None:
    """Every frame exists once, labelled and pointed as planned (read back from the files)."""
    frames = view["frames"]
    assert [f["status"] for f in frames] == ["ok"] * len(filters), frames
    files = [f["file"] for f in frames]
    assert len(set(files)) == len(files)
    for frame, wanted in zip(frames, filters, strict=True):
        assert os.path.isabs(frame["file"]) and os.path.exists(frame["file"])
        header = fits_header(frame["file"])
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


def plan_files(frames_dir: Path, plan_id: str) -> list[Path]:
    out = []
    for path in frames_dir.rglob("*.fits"):
        if fits_header(str(path)).get("PLANID") == plan_id:
            out.append(path)
    return out


async def plans_service(indi: IndiServerProcess, data: Path, **config: Any) -> RunningService:
    running = await start_service(indi, data, **config)
    await assign_roles(running)
    return running


def plans_fixtures() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A plan module's fixtures, ``server, svc = plans_fixtures()``: its own
    indiserver with the four simulators, and per test a service on it with
    the roles assigned and a fresh data directory."""
    server = module_indiserver(
        "indi_simulator_telescope",
        "indi_simulator_ccd",
        "indi_simulator_focus",
        "indi_simulator_wheel",
    )

    @pytest.fixture
    async def svc(server: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
        running = await plans_service(server, tmp_path / "data")
        yield running
        await running.stop()

    return server, svc
