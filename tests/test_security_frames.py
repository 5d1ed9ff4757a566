"""Frames and headers from hostile or careless metadata, against an embedded
service and its CCD simulator:

- ``metadata.fits_cards`` may not replace a structural card (``NAXIS1``
  100000 made a corrupt file and a 500 from the preview): refused before
  the exposure starts;
- a 300-character object name gives a file name shortened to what the file
  system takes, and the frame is on disk;
- a frame that cannot be written is never reported as taken;
- many previews of one frame at once: rendered one at a time, the cache
  bounded in bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient

from indiws.testing import RunningService, start_embedded_service

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATTERN = "{object}/{frame_type}_{seq:04d}{ext}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_embedded_service(
        tmp_path_factory.mktemp("frames"), frames_pattern=PATTERN
    )
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ws(svc: RunningService) -> AsyncIterator[WsClient]:
    client = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    await client.call("camera.connect", timeout=30)
    try:
        yield client
    finally:
        await client.close()


def header_of(path: str) -> bytes:
    """The first blocks of a FITS file on disk (its primary header)."""
    with open(path, "rb") as fits:
        return fits.read(2880 * 4)


def on_disk(path: Path) -> bool:
    return path.is_file()


def frames_dir(svc: RunningService) -> Path:
    return svc.service.config.data_dir / "frames"


@pytest.mark.parametrize("key", ["NAXIS1", "naxis", "BITPIX", "SIMPLE", "END", "ZNAXIS1", "BZERO"])
async def test_structural_fits_cards_are_refused(ws: WsClient, key: str) -> None:
    err = await ws.error(
        "camera.expose", {"duration": 0.1, "metadata": {"fits_cards": {key: 100000}}}
    )
    assert err["data"]["error"] == "invalid_value", err
    assert key.upper() in err["message"]


async def test_other_fits_cards_still_go_into_the_header(svc: RunningService, ws: WsClient) -> None:
    result = await ws.call(
        "camera.expose",
        {"duration": 0.1, "metadata": {"object": "M31", "fits_cards": {"SKYQUAL": [21.3, "SQM"]}}},
        timeout=60,
    )
    header = header_of(result["path"])
    assert b"SKYQUAL =" in header
    resp = await AsyncHTTPClient().fetch(svc.url + f"/blobs/{result['blob_id']}/preview.png")
    assert resp.code == 200


async def test_an_overlong_object_name_is_shortened_and_the_frame_is_on_disk(
    ws: WsClient,
) -> None:
    name = "Ngc" + "x" * 297  # 300 characters
    result = await ws.call(
        "camera.expose", {"duration": 0.1, "metadata": {"object": name}}, timeout=60
    )
    path = Path(result["path"])
    assert on_disk(path), result
    for part in path.parts:
        assert len(part.encode()) <= 255, part
    assert path.parent.name.startswith("Ngcxxx")
    assert result["object"] == name  # the metadata keeps the whole name


async def test_a_frame_that_cannot_be_written_is_not_reported_taken(
    svc: RunningService, ws: WsClient
) -> None:
    # A file where the frame's folder must go: the write fails (for root too).
    blocked = frames_dir(svc) / "blocked"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")
    err = await ws.error(
        "camera.expose", {"duration": 0.1, "metadata": {"object": "blocked"}}, timeout=60
    )
    assert err["data"]["error"] == "frame_not_written", err
    assert not [p for p in frames_dir(svc).rglob("*") if "blocked" in p.parts[-2:-1]]
    os.unlink(blocked)


async def test_previews_asked_at_once_are_rendered_one_at_a_time(
    svc: RunningService, ws: WsClient
) -> None:
    result = await ws.call("camera.expose", {"duration": 0.1}, timeout=60)
    http = AsyncHTTPClient()
    urls = [
        svc.url + f"/blobs/{result['blob_id']}/preview.jpg?max_size={100 + 50 * i}"
        for i in range(10)
    ]
    answers = await asyncio.gather(*(http.fetch(u, request_timeout=120) for u in urls))
    assert all(a.code == 200 and a.body[:2] == b"\xff\xd8" for a in answers)
    stats = json.loads((await http.fetch(svc.url + "/blobs?limit=1")).body)["stats"]
    assert stats["preview_renders_peak"] == 1, stats
    assert 0 < stats["previews_cached_bytes"] <= 64 << 20, stats
