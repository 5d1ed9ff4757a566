"""`FrameStore` and the FITS cards, without a server: header editing, a
crash at each step of a write, retention."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from indiws import frame_store
from indiws.blobs import temp_name
from indiws.fits_header import BLOCK, add_cards, enrich, format_card
from indiws.frame_store import FrameStore


def fits_bytes(**cards: object) -> bytes:
    hdu = fits.PrimaryHDU(np.arange(60 * 80, dtype=np.uint16).reshape(60, 80))
    for key, value in cards.items():
        hdu.header[key] = value
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


def header_of(data: bytes) -> fits.Header:
    with fits.open(io.BytesIO(data)) as hdus:
        hdus.verify("exception")
        return hdus[0].header


def test_cards_go_into_the_header_and_the_pixels_stay() -> None:
    data = fits_bytes(OBJECT="Unknown", EXPTIME=1.0, TELESCOP="Driver's")
    meta = {
        "object": "M 42 'Trapezium'",
        "exposure": 5.0,
        "telescope": "Ours",
        "ra": 5.5,
        "dec": -5.25,
        "fits_cards": {"HFR": (2.5, "half-flux radius"), "NSTARS": 41, "BAD KEY": 1},
    }
    out = enrich(data, ".fits", meta, "frame1")
    header = header_of(out)
    assert header["OBJECT"] == "M 42 'Trapezium'"  # the observer's, over the driver's
    assert header["EXPTIME"] == 1.0  # the driver's stays
    # The telescope role's pointing, over what the camera driver snooped (kept aside).
    assert header["TELESCOP"] == "Ours"
    pointed = header_of(enrich(fits_bytes(RA=30.0, DEC=10.0), ".fits", meta))
    assert (pointed["RA"], pointed["DEC"]) == (5.5 * 15, -5.25)
    assert (pointed["CAMRA"], pointed["CAMDEC"]) == (30.0, 10.0)
    assert pointed["OBJCTRA"] == "05 30 00.00" and pointed["EQUINOX"] == 2000.0
    # No pointing of the role: the driver's cards stay as written.
    bare = header_of(enrich(fits_bytes(RA=30.0, DEC=10.0), ".fits", {"object": "x"}))
    assert (bare["RA"], bare["DEC"]) == (30.0, 10.0) and "CAMRA" not in bare
    assert header["HFR"] == 2.5 and header["NSTARS"] == 41  # extra cards, for analysis
    assert header["FRAMEID"] == "frame1"
    assert len(out) % BLOCK == 0
    assert out[-len(data) + BLOCK :] == data[BLOCK:]  # the data blocks, byte for byte
    # Many cards: the header grows by whole blocks.
    many = add_cards(data, [(f"K{i}", i, "") for i in range(60)])
    assert len(many) == len(data) + BLOCK and header_of(many)["K59"] == 59
    assert (fits.getdata(io.BytesIO(many)) == fits.getdata(io.BytesIO(data))).all()
    # Not FITS: unchanged.
    assert enrich(b"\x89PNG...", ".png", meta) == b"\x89PNG..."
    with pytest.raises(ValueError, match="FITS key"):
        format_card("TOO LONG KEY", 1)


class Crash(BaseException):
    """The process dying at that point."""


async def test_a_crash_at_each_step_of_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, index = tmp_path / "frames", tmp_path / "frames.sqlite3"
    store = FrameStore(folder, index, pattern="{object}_{seq:04d}{ext}")
    real_write = frame_store.write_atomic

    def die_after_rename(path: Path, data: bytes) -> None:
        real_write(path, data)
        raise Crash

    def die_while_writing(path: Path, data: bytes) -> None:
        temp_name(path).write_bytes(data[:100])
        raise Crash

    renamed = await store.begin_exposure("Cam", {"duration": 1.0, "object": "A"})
    monkeypatch.setattr(frame_store, "write_atomic", die_after_rename)
    with pytest.raises(Crash):
        await store.add(fits_bytes(), device="Cam", metadata={"object": "A"}, exposure=renamed)
    half = await store.begin_exposure("Cam", {"duration": 1.0, "object": "B"})
    monkeypatch.setattr(frame_store, "write_atomic", die_while_writing)
    with pytest.raises(Crash):
        await store.add(fits_bytes(), device="Cam", metadata={"object": "B"}, exposure=half)
    exposing = await store.begin_exposure("Cam", {"duration": 60.0, "object": "C"})
    assert {p.name for p in folder.iterdir()} == {"A_0001.fits", ".B_0002.fits.part"}
    store.close()  # nothing else runs: the process is gone

    monkeypatch.setattr(frame_store, "write_atomic", real_write)
    again = FrameStore(folder, index, pattern="{object}_{seq:04d}{ext}")
    # The renamed file is whole: indexed; the temporary file is gone.
    assert {p.name for p in folder.iterdir()} == {"A_0001.fits"}
    (frame,) = again.list()
    assert frame.metadata["object"] == "A" and again.get(frame.id).data[:9] == b"SIMPLE  ="
    assert header_of(again.get(frame.id).data)["OBJECT"] == "A"
    states = {e["id"]: (e["state"], e["frame_id"]) for e in again.exposures()}
    assert states == {renamed: ("stored", frame.id), half: ("lost", None), exposing: ("lost", None)}
    assert [e["params"]["object"] for e in again.exposures("lost")] == ["C", "B"]
    assert again.stats()["lost_exposures"] == 2 and again.recovered == 1
    # Numbering goes on after the recovered frame.
    nxt = await again.add(fits_bytes(), device="Cam", metadata={"object": "D"})
    assert Path(nxt.path or "").name == "D_0002.fits"
    again.close()


async def test_retention_is_off_unless_asked_and_keeps_the_newest(tmp_path: Path) -> None:
    frame = fits_bytes()
    keep_all = FrameStore(tmp_path / "all", tmp_path / "all.sqlite3", pattern="{seq}{ext}")
    for _ in range(4):
        await keep_all.add(frame, device="Cam")
    assert len(keep_all) == 4 and len(os.listdir(tmp_path / "all")) == 4
    keep_all.close()

    size = len(enrich(frame, ".fits", {}, "x"))
    store = FrameStore(
        tmp_path / "some", tmp_path / "some.sqlite3", pattern="{seq}{ext}", keep_bytes=2 * size
    )
    infos = [await store.add(frame, device="Cam") for _ in range(4)]
    assert [i.id for i in store.list()] == [i.id for i in infos[2:]]
    assert sorted(os.listdir(tmp_path / "some")) == ["3.fits", "4.fits"]
    assert store.stats()["deleted"] == 2
    store.keep_days = 1e-9  # older than a moment: all but the newest
    await store.add(frame, device="Cam")
    assert sorted(os.listdir(tmp_path / "some")) == ["5.fits"]
    store.close()


async def test_frames_of_one_device_are_chosen_by_the_index(tmp_path: Path) -> None:
    """``GET /blobs?device=`` asks the index for that device's newest frames:
    the camera's thousand frames are not read to find the guider's two."""
    store = FrameStore(tmp_path / "f", tmp_path / "i.sqlite3", pattern="{seq}{ext}")
    frame = fits_bytes()
    guide = []
    for n in range(12):
        info = await store.add(frame, device="Guide" if n % 4 == 0 else "Cam")
        if info.device == "Guide":
            guide.append(info.id)
    assert [i.id for i in store.list(2, "Guide")] == guide[-2:]
    assert [i.id for i in store.list(None, "Guide")] == guide
    assert store.list(5, "Nobody") == []
    assert len(store.list(5)) == 5
    plan = store._query(
        "EXPLAIN QUERY PLAN SELECT info FROM frames WHERE device = ? ORDER BY seq DESC", ("Guide",)
    )
    assert any("frames_by_device" in str(row) for row in plan)
    store.close()


async def test_the_exposure_journal_is_pruned_by_age_and_count(tmp_path: Path) -> None:
    frame = fits_bytes()
    store = FrameStore(
        tmp_path / "f", tmp_path / "i.sqlite3", pattern="{seq}{ext}", journal_keep_entries=3
    )
    running = await store.begin_exposure("Cam", {"object": "running"})
    for n in range(5):
        entry = await store.begin_exposure("Cam", {"object": str(n)})
        await store.add(frame, device="Cam", metadata={"object": str(n)}, exposure=entry)
    await store.refuse_exposure("Cam", {"object": "refused"}, "disk_full: no room")
    kept = store.exposures(limit=100)
    # The newest three finished entries, and the one still exposing.
    assert [e["params"]["object"] for e in kept] == ["refused", "4", "3", "running"]
    assert kept[-1]["id"] == running and kept[-1]["state"] == "exposing"
    assert store.stats()["journal_pruned"] == 3
    store.close()

    # Reopened with an age bound: entries older than it go at start.
    store = FrameStore(
        tmp_path / "f", tmp_path / "i.sqlite3", pattern="{seq}{ext}", journal_keep_days=1
    )
    assert len(store.exposures(limit=100)) == 4  # all younger than a day (the running one lost)
    store._db.execute("UPDATE exposures SET started = '2020-01-01T00:00:00.000Z'")
    assert store.prune_journal() == 4
    assert store.exposures(limit=100) == []
    # Frames themselves are not touched by the journal's bounds.
    assert len(store) == 5
    store.close()
    with pytest.raises(ValueError, match="journal_keep_entries"):
        FrameStore(tmp_path / "g", tmp_path / "g.sqlite3", journal_keep_entries=0)


def test_the_sky_index_cache_drops_unused_tiles_first(tmp_path: Path) -> None:
    import time

    from indiws.sky.index import prune_index_cache

    now = time.time()
    ages = {"v3-old": 40, "v3-mid": 10, "v3-new": 2, "v3-busy": 0.01}  # days since last use
    for name, days in ages.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "index-05.fits").write_bytes(b"x" * 1000)
        os.utime(folder, (now - days * 86400, now - days * 86400))
    (tmp_path / "notes.txt").write_text("not a tile")

    left = prune_index_cache(tmp_path, keep_days=30, keep_bytes=None, now=now)
    assert left == {"tiles": 3, "bytes": 3000, "deleted": 1, "freed": 1000}
    assert not (tmp_path / "v3-old").exists()
    # Past the size bound the least recently used go, never one in use.
    left = prune_index_cache(tmp_path, keep_days=None, keep_bytes=1500, now=now)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "v3-busy"]
    assert left["deleted"] == 2
    left = prune_index_cache(tmp_path, keep_days=None, keep_bytes=10, now=now)
    assert (tmp_path / "v3-busy").exists() and left["deleted"] == 0
