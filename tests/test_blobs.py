"""BlobStore: bounds, ids, write-through files and previews."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from indiws.blobs import BlobNotFound, BlobStore, content_type, render_preview


def fits_bytes(
    width: int = 64,
    height: int = 48,
    *,
    seed: int = 1,
    compressed: bool = False,
    data: np.ndarray | None = None,
) -> bytes:
    if data is None:
        rng = np.random.default_rng(seed)
        data = rng.normal(1000, 30, (height, width)).astype(np.uint16)
        data[10:13, 20:23] = 60000  # a star
    out = io.BytesIO()
    if compressed:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(out)
    else:
        fits.PrimaryHDU(data).writeto(out)
    return out.getvalue()


def image_of(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def test_ids_are_short_unique_and_metadata_is_kept() -> None:
    store = BlobStore()
    infos = [store.put(b"x" * i, device="Cam", metadata={"exposure": i}) for i in range(1, 50)]
    assert len({i.id for i in infos}) == 49
    assert all(6 <= len(i.id) <= 12 and i.id.isascii() for i in infos)
    blob = store.get(infos[3].id)
    assert blob.data == b"xxxx" and blob.info.metadata == {"exposure": 4}
    assert blob.info.seq == 4 and blob.info.created.endswith("Z")
    assert blob.info.to_dict()["content_type"] == "application/fits"
    assert store.latest("Cam") is infos[-1] and store.latest("Other") is None
    with pytest.raises(BlobNotFound, match="unknown or evicted"):
        store.get("nope")


def test_eviction_by_count_and_by_bytes() -> None:
    store = BlobStore(max_count=3, max_bytes=1000)
    ids = [store.put(b"a" * 100, device="Cam").id for _ in range(5)]
    assert [i.id for i in store.list()] == ids[2:]
    assert store.evicted == 2 and store.total_bytes == 300
    big = store.put(b"b" * 700, device="Cam").id  # the count limit pushes one more out
    assert [i.id for i in store.list()] == [ids[3], ids[4], big]
    assert store.total_bytes == 900 and store.evicted == 3
    bytes_limited = store.put(b"d" * 250, device="Cam").id  # 1150 bytes: two must go
    assert [i.id for i in store.list()] == [big, bytes_limited]
    assert store.evicted == 5
    huge = store.put(b"c" * 5000, device="Cam").id  # over the limit alone: kept, the rest go
    assert [i.id for i in store.list()] == [huge]
    assert store.stats()["evicted"] == store.evicted == 7
    assert store.stats()["bytes"] == 5000
    for gone in ids:
        with pytest.raises(BlobNotFound):
            store.get(gone)
    store.delete(huge)
    assert len(store) == 0 and store.total_bytes == 0


def test_content_types() -> None:
    assert content_type(".fits") == "application/fits"
    assert content_type("fits") == "application/fits"
    assert content_type(".fits.fz") == "application/fits"
    assert content_type(".JPG") == "image/jpeg"
    assert content_type(".xisf") == "application/xisf"
    assert content_type(".ser") == "application/octet-stream"
    assert BlobStore.content_type(".png") == "image/png"


async def test_preview_is_a_png_no_larger_than_the_frame() -> None:
    store = BlobStore()
    info = store.put(fits_bytes(64, 48), device="Cam")
    png = await store.preview(info.id)
    img = image_of(png)
    assert img.format == "PNG" and img.mode == "L" and img.size == (64, 48)
    pixels = np.asarray(img)
    assert pixels.max() == 255  # the star
    assert 20 < np.median(pixels) < 110  # the background brought up to ~1/4
    small = image_of(await store.preview(info.id, "png", max_size=32))
    assert small.size == (32, 24)
    jpeg = image_of(await store.preview(info.id, "jpeg", max_size=40))
    assert jpeg.format == "JPEG" and max(jpeg.size) == 40
    # Cached: the same bytes again; concurrent requests share one render.
    assert await store.preview(info.id) is png
    a, b = await asyncio.gather(store.preview(info.id, "jpg"), store.preview(info.id, "jpg"))
    assert a is b
    with pytest.raises(ValueError, match="png or jpeg"):
        await store.preview(info.id, "gif")
    with pytest.raises(BlobNotFound):
        await store.preview("nope")


async def test_preview_of_compressed_color_and_flat_frames() -> None:
    store = BlobStore()
    fz = store.put(fits_bytes(40, 30, compressed=True), device="Cam", format=".fits.fz")
    assert image_of(await store.preview(fz.id)).size == (40, 30)
    cube = np.random.default_rng(2).normal(500, 20, (3, 30, 40)).astype(np.float32)
    color = store.put(fits_bytes(data=cube), device="Cam")
    img = image_of(await store.preview(color.id))
    assert img.mode == "RGB" and img.size == (40, 30)
    flat = store.put(fits_bytes(data=np.full((10, 12), 7, np.uint16)), device="Cam")
    assert image_of(await store.preview(flat.id)).size == (12, 10)
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buf, "JPEG")
    jpg = store.put(buf.getvalue(), device="Cam", format=".jpg")
    assert image_of(await store.preview(jpg.id, max_size=10)).size == (10, 5)
    with pytest.raises(ValueError, match="no image"):
        render_preview(fits_bytes(data=np.zeros((0,), np.uint8)), ".fits")


async def test_write_through_folder_with_pattern(tmp_path: Path) -> None:
    store = BlobStore(
        folder=tmp_path, pattern="{date}/{device}_{frame_type}_{exposure}s_{seq:03d}{ext}"
    )
    meta = {"frame_type": "light", "exposure": 1.5, "filter": "Ha"}
    first = await store.add(b"one", device="CCD Simulator", metadata=meta)
    second = await store.add(b"two", device="CCD Simulator", metadata=meta)
    p1, p2 = Path(first.path or ""), Path(second.path or "")
    assert await asyncio.to_thread(p1.read_bytes) == b"one"
    assert await asyncio.to_thread(p2.read_bytes) == b"two"
    assert p1.name == "CCD_Simulator_light_1.5s_001.fits"
    assert p1.parent.parent == tmp_path and len(p1.parent.name) == 10  # the date
    assert first.filename == p1.name
    # Taken names are never overwritten.
    same = BlobStore(folder=tmp_path, pattern="fixed{ext}")
    a = await same.add(b"a", device="Cam", format=".fits.fz")
    b = await same.add(b"b", device="Cam", format=".fits.fz")
    assert (
        Path(a.path or "").name == "fixed.fits.fz" and Path(b.path or "").name == "fixed_1.fits.fz"
    )
    with pytest.raises(ValueError, match="outside"):
        await BlobStore(folder=tmp_path, pattern="../{id}").add(b"x", device="Cam")
    with pytest.raises(ValueError, match="pattern"):
        BlobStore(pattern="{seq:q}")


async def test_names_take_the_exposure_start_not_the_arrival(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 10-minute exposure started at 11:55 local (UTC here) on the 15th,
    # arriving after noon: named from its start, in the night of the 14th.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        store = BlobStore(folder=tmp_path, pattern="{night}/{date}_{timestamp}{ext}")
        meta = {"started": "2026-01-15T11:55:02.250Z", "exposure": 600}
        info = await store.add(b"frame", device="CCD Simulator", metadata=meta)
        path = Path(info.path or "")
        assert path.relative_to(tmp_path).as_posix() == "2026-01-14/2026-01-15_20260115T115502.fits"
        # Without a start (a frame from elsewhere), the arrival names it.
        other = await store.add(b"other", device="CCD Simulator")
        assert Path(other.path or "").name.startswith(datetime.now(UTC).strftime("%Y-%m-%d_"))
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_failed_write_keeps_the_frame(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = BlobStore(folder=blocker)
    info = await store.add(b"data", device="Cam")
    assert info.path is None and info.write_error
    assert store.get(info.id).data == b"data"
