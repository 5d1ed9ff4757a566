"""`GET /blobs?device=D`: one device's newest frames out of a large index.

A frames index (`FrameStore`, SQLite) holds N frames of a camera with one
guider frame in every ``--every``; the guider's newest 50 are asked for:

* ``sql``: `FrameStore.list(50, device)`: the index chooses them (the
  ``frames_by_device`` index on device and sequence);
* ``python`` (the peer: what the handler did before): every frame's record
  read and decoded, then filtered by device in Python.

Each way is timed ``--repeat`` times; the medians and their ratio are
printed, and the last line is one JSON object with the figures.  The frame
records are real (`BlobInfo` as the camera stores it, with metadata); no
file is written.

    .venv/bin/python bench/blob_list.py              # 20000 frames
    .venv/bin/python bench/blob_list.py --quick      # 2000 frames
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indiws.blobs import BlobInfo  # noqa: E402
from indiws.frame_store import FrameStore  # noqa: E402


def fill(store: FrameStore, count: int, every: int) -> None:
    with store._tx() as db:
        for seq in range(1, count + 1):
            device = "Guide Simulator" if seq % every == 0 else "CCD Simulator"
            info = BlobInfo(
                id=f"f{seq:07d}",
                seq=seq,
                device=device,
                property="CCD1",
                element="CCD1",
                format=".fits",
                size=2_621_440,
                created=f"2026-12-07T01:{seq // 60 % 60:02d}:{seq % 60:02d}.000Z",
                metadata={
                    "exposure": 2.0,
                    "filter": "Red",
                    "object": "M 42",
                    "ra": 5.5881,
                    "dec": -5.3911,
                    "analysis": {"stars": 41, "hfr": 2.31, "fwhm": 3.9},
                },
                path=f"/data/frames/2026-12-06/M42_Red_light_2s_{seq:04d}.fits",
            )
            store._index(db, info)


def timed(call, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=20, help="one guider frame in N")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2000 frames, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeat = 2000, 3
    with tempfile.TemporaryDirectory(prefix="indiws-bench-") as tmp:
        store = FrameStore(Path(tmp) / "frames", Path(tmp) / "frames.sqlite3")
        fill(store, args.frames, args.every)
        device = "Guide Simulator"
        sql_ms, sql = timed(lambda: store.list(50, device), args.repeat)
        python_ms, python = timed(
            lambda: [i for i in store.list(None) if i.device == device][-50:], args.repeat
        )
        store.close()
    assert [i.id for i in sql] == [i.id for i in python]  # type: ignore[union-attr]
    print(f"{args.frames} frames in the index, the guider's every {args.every}th; its newest 50:")
    print(f"  sql (index on device, seq): median {sql_ms:.2f} ms")
    print(f"  python (read all, filter):  median {python_ms:.2f} ms")
    print(f"  ratio python/sql: {python_ms / sql_ms:.0f}x")
    print(
        json.dumps(
            {
                "frames": args.frames,
                "sql_ms": round(sql_ms, 3),
                "python_ms": round(python_ms, 3),
                "ratio": round(python_ms / sql_ms, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
