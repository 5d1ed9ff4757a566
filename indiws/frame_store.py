"""Every frame on disk: `FrameStore`, the service's default store.

A frame is written to the frames folder (named by the pattern, see
`indiws.blobs.DEFAULT_PATTERN`) before anyone is told of it: under a
temporary name in its own folder, flushed and fsynced, renamed into place,
the folder fsynced.  Memory keeps only a small cache of the newest frames;
``/blobs/<id>`` and the previews read older ones from their file.

An index in its own SQLite file (``frames.sqlite3`` in the data directory,
WAL, ``synchronous=FULL``) lists the frames of every run, so that a
restarted service lists and serves them, and keeps the **exposure
journal**: an exposure is noted *exposing* when it starts, *writing* (with
its final file name) just before its file is written, and *stored* (with
its frame id) in the same transaction that indexes the frame, or *failed*
with its error; an exposure refused before it started (no room for the
frame) is noted *refused* with the reason.  On start, an entry still exposing or writing belonged to
a service that died: its temporary file is removed, and it is marked
*lost* (a file that reached its final name is complete, thanks to the
rename, and is indexed as *recovered* instead).  A lost exposure is never
listed as a frame.

An index rather than a rescan of the folder: a start costs one query, not
a read of every FITS header of every night; the journal, which a folder
cannot hold, lives beside it; and only files this service wrote are ever
served or (with retention) deleted.

Before an exposure, `space_shortfall` compares the folder's free space
with the frame's expected size plus a margin.  Retention (keep N days or
N bytes of frames) is off unless asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .blobs import (
    DEFAULT_PATTERN,
    Blob,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    free_name,
    temp_name,
    write_atomic,
)
from .fits_header import enrich

__all__ = ["INDEX_FILENAME", "FrameIndexError", "FrameStore"]

log = logging.getLogger("indiws.frames")

#: The index and journal, in the data directory.
INDEX_FILENAME = "frames.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    device TEXT NOT NULL,
    created TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    info TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_by_seq ON frames (seq);
CREATE INDEX IF NOT EXISTS frames_by_device ON frames (device, seq);
CREATE TABLE IF NOT EXISTS exposures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    path TEXT,
    frame_id TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS exposures_by_state ON exposures (state);
"""


class FrameIndexError(RuntimeError):
    """The frames index cannot be opened (one line: the file and the cause)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _info_from_row(text: str) -> BlobInfo:
    d = json.loads(text)
    for key in ("content_type", "filename"):
        d.pop(key, None)
    return BlobInfo(**d)


class FrameStore(BlobStore):
    """Frames on disk under ``folder``, indexed in ``index_path``; ``max_count``
    and ``max_bytes`` bound the memory cache only.

    ``min_free``: bytes that must stay free beside a new frame.
    ``keep_days`` / ``keep_bytes``: retention, None (the default) keeps all.
    ``journal_keep_days`` / ``journal_keep_entries``: the exposure journal
    drops finished entries older than this or past this many (None: keep all).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        index_path: str | os.PathLike[str],
        *,
        max_count: int = 8,
        max_bytes: int = 256 << 20,
        pattern: str = DEFAULT_PATTERN,
        preview_cache: int = 32,
        min_free: int = 200 << 20,
        keep_days: float | None = None,
        keep_bytes: int | None = None,
        journal_keep_days: float | None = None,
        journal_keep_entries: int | None = None,
    ) -> None:
        super().__init__(
            max_count=max_count,
            max_bytes=max_bytes,
            folder=folder,
            pattern=pattern,
            preview_cache=preview_cache,
        )
        if min_free < 0:
            raise ValueError("min_free must be at least 0 bytes")
        if keep_days is not None and not keep_days > 0:
            raise ValueError("keep_days must be a positive number of days")
        if keep_bytes is not None and keep_bytes < 1:
            raise ValueError("keep_bytes must be at least 1")
        self.folder: Path = Path(folder)
        self.index_path = Path(index_path)
        self.min_free = min_free
        self.keep_days = keep_days
        self.keep_bytes = keep_bytes
        if journal_keep_days is not None and not journal_keep_days > 0:
            raise ValueError("journal_keep_days must be a positive number of days")
        if journal_keep_entries is not None and journal_keep_entries < 1:
            raise ValueError("journal_keep_entries must be at least 1")
        self.journal_keep_days = journal_keep_days
        self.journal_keep_entries = journal_keep_entries
        self.journal_pruned = 0
        self.deleted = 0
        self.recovered = 0
        self._lock = threading.RLock()
        # Name choice and rename, one frame at a time (camera and guider).
        self._write_lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.index_path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            # A frame announced is on disk and indexed, even after a power cut.
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"malformed ({check})")
            self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM frames").fetchone()[0]
            self.lost = self._recover()
            self.prune_journal()
        except (OSError, sqlite3.Error) as exc:
            raise FrameIndexError(
                f"frames index {self.index_path} (frames in {self.folder}) cannot be used: {exc}; "
                "check the folder and the disk, or run with --frames-dir none (memory only)"
            ) from None

    # ----------------------------------------------------------- database

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row | tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _recover(self) -> list[dict[str, Any]]:
        """Entries a dead service left open: a complete file is indexed, the
        rest marked lost; temporary files removed.  Returns the lost ones."""
        lost: list[dict[str, Any]] = []
        rows = self._query(
            "SELECT id, device, started, state, params, path FROM exposures "
            "WHERE state IN ('exposing', 'writing') ORDER BY id"
        )
        for entry, device, started, state, params, path in rows:
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name(Path(path)))
            info_text = json.loads(params).get("_info") if state == "writing" else None
            if info_text and path and os.path.isfile(path):
                info = _info_from_row(info_text)
                info.path = path
                info.size = os.path.getsize(path)
                with self._tx() as db:
                    self._index(db, info)
                    db.execute(
                        "UPDATE exposures SET state = 'stored', ended = ?, frame_id = ?, "
                        "error = 'recovered after a restart' WHERE id = ?",
                        (_now(), info.id, entry),
                    )
                self._seq = max(self._seq, info.seq)
                self.recovered += 1
                log.warning("frame %s of an interrupted run recovered: %s", info.id, path)
                continue
            why = (
                "the service stopped while the frame was being written"
                if state == "writing"
                else "the service stopped during the exposure"
            )
            with self._tx() as db:
                db.execute(
                    "UPDATE exposures SET state = 'lost', ended = ?, error = ? WHERE id = ?",
                    (_now(), why, entry),
                )
            log.error("exposure on %s started %s was lost: %s", device, started, why)
            lost.append({"id": entry, "device": device, "started": started, "error": why})
        return lost

    @staticmethod
    def _index(db: sqlite3.Connection, info: BlobInfo) -> None:
        db.execute(
            "INSERT OR REPLACE INTO frames (id, seq, device, created, path, size, info) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                info.id,
                info.seq,
                info.device,
                info.created,
                info.path or "",
                info.size,
                json.dumps(info.to_dict(), default=str),
            ),
        )

    # ------------------------------------------------------------ journal

    async def begin_exposure(self, device: str, params: dict[str, Any]) -> int | None:
        def note() -> int:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO exposures (device, started, state, params) "
                    "VALUES (?, ?, 'exposing', ?)",
                    (device, _now(), json.dumps(params, default=str)),
                )
                return int(cur.lastrowid or 0)

        return await asyncio.to_thread(note)

    async def end_exposure(self, entry: int | None, outcome: str, message: str) -> None:
        if entry is None:
            return

        # "aborted on request", not "aborted: aborted on request".
        error = message if message.startswith(outcome) else f"{outcome}: {message}"

        def note() -> None:
            with self._tx() as db:
                db.execute(
                    "UPDATE exposures SET state = 'failed', ended = ?, error = ? "
                    "WHERE id = ? AND state IN ('exposing', 'writing')",
                    (_now(), error, entry),
                )

        await asyncio.to_thread(note)

    async def refuse_exposure(self, device: str, params: dict[str, Any], reason: str) -> None:
        # Noted so that the morning shows why a night has fewer frames than asked.
        def note() -> None:
            stamp = _now()
            with self._tx() as db:
                db.execute(
                    "INSERT INTO exposures (device, started, ended, state, params, error) "
                    "VALUES (?, ?, ?, 'refused', ?, ?)",
                    (device, stamp, stamp, json.dumps(params, default=str), reason),
                )
            self.prune_journal()

        await asyncio.to_thread(note)

    def exposures(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Journal entries, newest first (of one state: exposing, writing,
        stored, failed, lost, refused)."""
        sql = (
            "SELECT id, device, started, ended, state, params, path, frame_id, error FROM exposures"
        )
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state,)
        rows = self._query(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        out = []
        for entry, device, started, ended, st, params, path, frame_id, error in rows:
            p = json.loads(params)
            p.pop("_info", None)
            out.append(
                {
                    "id": entry,
                    "device": device,
                    "started": started,
                    "ended": ended,
                    "state": st,
                    "params": p,
                    "path": path,
                    "frame_id": frame_id,
                    "error": error,
                }
            )
        return out

    # ------------------------------------------------------------ storing

    def space_shortfall(self, expected_bytes: int) -> dict[str, Any] | None:
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError as exc:
            return {
                "folder": str(self.folder),
                "free": 0,
                "needed": expected_bytes,
                "error": str(exc),
            }
        needed = max(0, int(expected_bytes)) + self.min_free
        if free >= needed:
            return None
        return {
            "folder": str(self.folder),
            "free": free,
            "needed": needed,
            "frame": int(expected_bytes),
            "margin": self.min_free,
        }

    async def _save(self, info: BlobInfo, data: bytes, exposure: int | None) -> bytes:
        """Write the frame (header cards added) and index it; the caller
        (`add`) then caches it and returns, once the file is on disk under its
        final name.  A failed write is logged, noted in ``info.write_error``
        and in the journal; the frame is then kept in memory only (served
        while cached)."""
        path = self._path_for(info)  # ValueError for a pattern leading outside
        try:
            return await asyncio.to_thread(self._store, info, data, path, exposure)
        except OSError as exc:
            log.error("could not write frame %s to %s: %s", info.id, path, exc)
            info.write_error = str(exc)
            await self.end_exposure(exposure, "write_failed", str(exc))
            data = await asyncio.to_thread(enrich, data, info.format, info.metadata, info.id)
            info.size = len(data)
            return data

    def _store(self, info: BlobInfo, data: bytes, path: Path, exposure: int | None) -> bytes:
        data = enrich(data, info.format, info.metadata, info.id)
        info.size = len(data)
        with self._write_lock:
            final = free_name(path)
            info.path = str(final)
            if exposure is not None:
                # The final name first: a crash after the rename leaves a
                # complete file the next start finds and indexes.
                with self._tx() as db:
                    row = db.execute(
                        "SELECT params FROM exposures WHERE id = ?", (exposure,)
                    ).fetchone()
                    params = json.loads(row[0]) if row else {}
                    params["_info"] = json.dumps(info.to_dict(), default=str)
                    db.execute(
                        "UPDATE exposures SET state = 'writing', path = ?, params = ? WHERE id = ?",
                        (str(final), json.dumps(params, default=str), exposure),
                    )
            try:
                write_atomic(final, data)
            except BaseException:
                info.path = None
                raise
        with self._tx() as db:
            self._index(db, info)
            if exposure is not None:
                db.execute(
                    "UPDATE exposures SET state = 'stored', ended = ?, frame_id = ? WHERE id = ?",
                    (_now(), info.id, exposure),
                )
        self.written += 1
        self._retain()
        self.prune_journal()
        return data

    # ---------------------------------------------------------- retention

    def _retain(self) -> None:
        """Delete the oldest frames past ``keep_days`` / ``keep_bytes`` (never the newest)."""
        doomed: list[str] = []
        if self.keep_days is not None:
            cutoff = datetime.now(UTC) - timedelta(days=self.keep_days)
            stamp = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            doomed += [
                r[0]
                for r in self._query(
                    "SELECT id FROM frames "
                    "WHERE created < ? AND seq < (SELECT MAX(seq) FROM frames)",
                    (stamp,),
                )
            ]
        if self.keep_bytes is not None:
            rows = self._query("SELECT id, size FROM frames ORDER BY seq DESC")
            total = 0
            for i, (frame_id, size) in enumerate(rows):
                total += size
                if i > 0 and total > self.keep_bytes and frame_id not in doomed:
                    doomed.append(frame_id)
        for frame_id in doomed:
            with contextlib.suppress(BlobNotFound):
                self.delete(frame_id)

    def prune_journal(self) -> int:
        """Drop finished journal entries older than ``journal_keep_days`` or
        past the newest ``journal_keep_entries``; an exposure still running
        (exposing, writing) stays.  Returns how many went."""
        finished = "state NOT IN ('exposing', 'writing')"
        gone = 0
        with self._tx() as db:
            if self.journal_keep_days is not None:
                cutoff = datetime.now(UTC) - timedelta(days=self.journal_keep_days)
                stamp = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                gone += db.execute(
                    f"DELETE FROM exposures WHERE started < ? AND {finished}", (stamp,)
                ).rowcount
            if self.journal_keep_entries is not None:
                gone += db.execute(
                    f"DELETE FROM exposures WHERE {finished} AND id <= "
                    "(SELECT id FROM exposures ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (self.journal_keep_entries,),
                ).rowcount
        self.journal_pruned += gone
        return gone

    # ------------------------------------------------------------ reading

    def _row(self, blob_id: str) -> BlobInfo | None:
        rows = self._query("SELECT info, path, size FROM frames WHERE id = ?", (blob_id,))
        if not rows:
            return None
        text, path, size = rows[0]
        info = _info_from_row(text)
        info.path, info.size = path or None, size
        return info

    def get(self, blob_id: str) -> Blob:
        """From the cache, else from its file (`BlobNotFound` if unknown or
        its file is gone)."""
        cached = self._blobs.get(blob_id)
        if cached is not None:
            return cached
        info = self._row(blob_id)
        if info is None or not info.path:
            raise BlobNotFound(blob_id)
        try:
            with open(info.path, "rb") as fh:
                data = fh.read()
        except OSError:
            raise BlobNotFound(blob_id) from None
        return Blob(info, data)

    def info(self, blob_id: str) -> BlobInfo:
        cached = self._blobs.get(blob_id)
        if cached is not None:
            return cached.info
        info = self._row(blob_id)
        if info is None:
            raise BlobNotFound(blob_id)
        return info

    def list(self, limit: int | None = None, device: str | None = None) -> list[BlobInfo]:
        """Infos of the stored frames, oldest first (the newest ``limit``;
        only ``device``'s when given, chosen by the index, not in Python)."""
        where, args = ("WHERE device = ? ", (device,)) if device is not None else ("", ())
        sql = f"SELECT info, path, size FROM frames {where}ORDER BY seq DESC"
        rows = self._query(sql + " LIMIT ?", (*args, limit)) if limit else self._query(sql, args)
        out = []
        for text, path, size in reversed(rows):
            info = _info_from_row(text)
            info.path, info.size = path or None, size
            out.append(info)
        # Frames whose write failed live in the cache only.
        unsaved = [
            b.info
            for b in self._blobs.values()
            if b.info.write_error and (device is None or b.info.device == device)
        ]
        if not unsaved:
            return out
        merged = sorted(out + unsaved, key=lambda i: i.seq)
        return merged[-limit:] if limit else merged

    def latest(self, device: str | None = None) -> BlobInfo | None:
        for blob in reversed(self._blobs.values()):
            if device is None or blob.info.device == device:
                return blob.info
        if device is None:
            rows = self._query("SELECT id FROM frames ORDER BY seq DESC LIMIT 1")
        else:
            rows = self._query(
                "SELECT id FROM frames WHERE device = ? ORDER BY seq DESC LIMIT 1", (device,)
            )
        return self._row(rows[0][0]) if rows else None

    def delete(self, blob_id: str) -> None:
        """Forget the frame and delete its file."""
        info = self._row(blob_id)
        cached = blob_id in self._blobs
        if cached:
            super().delete(blob_id)
        if info is None:
            if not cached:
                raise BlobNotFound(blob_id)
            return
        with self._tx() as db:
            db.execute("DELETE FROM frames WHERE id = ?", (blob_id,))
        if info.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(info.path)
        self.deleted += 1

    def __contains__(self, blob_id: object) -> bool:
        if blob_id in self._blobs:
            return True
        return isinstance(blob_id, str) and bool(
            self._query("SELECT 1 FROM frames WHERE id = ?", (blob_id,))
        )

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM frames")[0][0])

    def stats(self) -> dict[str, Any]:
        count, size = self._query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM frames")[0]
        lost = self._query("SELECT COUNT(*) FROM exposures WHERE state = 'lost'")[0][0]
        try:
            free: int | None = shutil.disk_usage(self.folder).free
        except OSError:
            free = None
        return {
            **super().stats(),
            "count": count,
            "bytes": size,
            "cached": len(self._blobs),
            "cached_bytes": self._bytes,
            "on_disk": True,
            "free_bytes": free,
            "min_free": self.min_free,
            "keep_days": self.keep_days,
            "keep_bytes": self.keep_bytes,
            "deleted": self.deleted,
            "recovered": self.recovered,
            "lost_exposures": lost,
            "journal_keep_days": self.journal_keep_days,
            "journal_keep_entries": self.journal_keep_entries,
            "journal_pruned": self.journal_pruned,
        }
