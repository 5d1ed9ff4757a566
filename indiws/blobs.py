"""Camera frames, stored once and referenced by a short id.

`BlobStore` keeps frames in memory, bounded by count and total bytes (the
oldest go first; the newest frame is always kept, however big), optionally
also writes each frame to a folder under a name pattern, and makes
auto-stretched 8-bit previews (PNG or JPEG) for a human to look at.
`indiws.frame_store.FrameStore` builds on it: every frame on disk, indexed,
memory only a cache (the service's default).  A FITS frame gets the cards
of its metadata in its header (`indiws.fits_header.enrich`) before it is
kept or written.

File writes and preview rendering run off the event loop
(``asyncio.to_thread``).  FITS is read with astropy (tile-compressed
``.fits.fz`` included), previews are encoded with Pillow.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from .fits_header import enrich

__all__ = [
    "DEFAULT_PATTERN",
    "Blob",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "content_type",
    "default_store",
    "render_preview",
]

log = logging.getLogger("indiws.blobs")

#: Name of a frame written to the store's folder.  Fields: night (the
#: observing night, local date of the evening: 2025-01-01 until noon of
#: the 2nd), date (UTC, 2025-01-01), object, filter, frame_type, exposure,
#: timestamp (UTC, 20250101T221500), seq, id, device, property, element,
#: (night, date and timestamp: the exposure's start, metadata ``started``,
#: as DATE-OBS; the frame's arrival when unknown),
#: ext (``.fits``), and any other text or number of the frame's metadata;
#: missing fields become ``unknown``.  ``/`` makes subfolders.
DEFAULT_PATTERN = "{night}/{object}_{filter}_{frame_type}_{exposure}s_{timestamp}_{seq:04d}{ext}"

_CONTENT_TYPES = {
    ".fits": "application/fits",
    ".fit": "application/fits",
    ".fts": "application/fits",
    ".fits.fz": "application/fits",
    ".fz": "application/fits",
    ".xisf": "application/xisf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".z": "application/zlib",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_PREVIEW_FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
}
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def content_type(fmt: str) -> str:
    """HTTP content type of a frame format (``.fits`` → ``application/fits``)."""
    f = fmt.strip().lower()
    if f and not f.startswith("."):
        f = "." + f
    if f in _CONTENT_TYPES:
        return _CONTENT_TYPES[f]
    # Compound formats a driver may invent (".raw.fits"): go by the ending.
    return next(
        (ctype for suffix, ctype in _CONTENT_TYPES.items() if f.endswith(suffix)),
        "application/octet-stream",
    )


class BlobNotFound(KeyError):
    """No frame with that id (never stored, or evicted)."""

    def __init__(self, blob_id: str) -> None:
        super().__init__(blob_id)
        self.blob_id = blob_id

    def __str__(self) -> str:
        return f"no frame {self.blob_id!r} (unknown or evicted)"


@dataclass(slots=True)
class BlobInfo:
    id: str
    seq: int
    device: str
    property: str
    element: str
    format: str
    size: int
    #: UTC, ISO 8601.
    created: str
    #: What the frame is: exposure settings, filter, ... (from the camera).
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Where it was written (write-through folder), or why it was not.
    path: str | None = None
    write_error: str | None = None

    @property
    def content_type(self) -> str:
        return content_type(self.format)

    @property
    def filename(self) -> str:
        """A download name: the written file's name, else device and id."""
        if self.path:
            return os.path.basename(self.path)
        return f"{_safe(self.device)}_{self.id}{self.format or '.bin'}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["content_type"] = self.content_type
        d["filename"] = self.filename
        return d


@dataclass(slots=True)
class Blob:
    info: BlobInfo
    data: bytes


def _safe(value: Any) -> str:
    return _SAFE.sub("_", str(value)).strip("_") or "unknown"


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "unknown"


class BlobStore:
    """Frames in memory, by id; see the module docstring.

    ``max_count``/``max_bytes`` bound the store; ``folder`` (optional) gets
    a copy of every frame named by ``pattern``; ``preview_cache`` previews
    of at most ``preview_cache_bytes`` in all are kept (least recently used
    dropped first), ``preview_renders`` rendered at once.
    """

    def __init__(
        self,
        *,
        max_count: int = 100,
        max_bytes: int = 1 << 30,
        folder: str | os.PathLike[str] | None = None,
        pattern: str = DEFAULT_PATTERN,
        preview_cache: int = 32,
        preview_cache_bytes: int = 64 << 20,
        preview_renders: int = 1,
    ) -> None:
        if max_count < 1 or max_bytes < 1:
            raise ValueError("max_count and max_bytes must be at least 1")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.folder = Path(folder) if folder is not None else None
        self.pattern = pattern
        self.preview_cache = preview_cache
        #: The cached previews together hold at most this many bytes.
        self.preview_cache_bytes = preview_cache_bytes
        #: Previews rendered at once (each holds a few copies of its frame as
        #: floats: 30 sizes of a 48 MB frame at once took 2.9 GB); the others wait.
        self.preview_renders = max(1, preview_renders)
        self._render_slots: asyncio.Semaphore | None = None
        self._render_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._renders_running = 0
        #: The most previews ever rendered at once.
        self.renders_peak = 0
        self._preview_bytes = 0
        self._blobs: collections.OrderedDict[str, Blob] = collections.OrderedDict()
        self._bytes = 0
        self._seq = 0
        self._previews: collections.OrderedDict[tuple[str, str, int | None], bytes] = (
            collections.OrderedDict()
        )
        self._rendering: dict[tuple[str, str, int | None], asyncio.Future[bytes]] = {}
        self.evicted = 0
        self.written = 0
        _check_pattern(pattern)

    # Storing ------------------------------------------------------------

    def put(
        self,
        data: bytes,
        *,
        device: str,
        property: str = "CCD1",
        element: str = "CCD1",
        format: str = ".fits",
        metadata: dict[str, Any] | None = None,
    ) -> BlobInfo:
        """Store a frame in memory (no file write, no header edit); returns its info."""
        if not isinstance(data, bytes):
            data = bytes(data)
        info = self._new_info(len(data), device, property, element, format, metadata)
        self._keep(info, data)
        return info

    def _new_info(
        self,
        size: int,
        device: str,
        property: str,
        element: str,
        format: str,
        metadata: dict[str, Any] | None,
    ) -> BlobInfo:
        blob_id = secrets.token_urlsafe(6)
        while blob_id in self:
            blob_id = secrets.token_urlsafe(6)
        self._seq += 1
        return BlobInfo(
            id=blob_id,
            seq=self._seq,
            device=device,
            property=property,
            element=element,
            format=format or "",
            size=size,
            created=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            metadata=dict(metadata or {}),
        )

    def _keep(self, info: BlobInfo, data: bytes) -> None:
        """Into the memory store (the cache, for `FrameStore`)."""
        self._blobs[info.id] = Blob(info, data)
        self._bytes += len(data)
        self._evict()

    async def add(
        self,
        data: bytes,
        *,
        device: str,
        property: str = "CCD1",
        element: str = "CCD1",
        format: str = ".fits",
        metadata: dict[str, Any] | None = None,
        exposure: int | None = None,
    ) -> BlobInfo:
        """Store a frame (the cards of ``metadata`` added to a FITS header)
        and, with a folder, write it there (off the loop).

        A failed write is logged and noted in ``info.write_error``; the
        frame stays available in memory.  ``exposure``: the journal entry
        of `begin_exposure` (kept by `FrameStore` only).
        """
        if not isinstance(data, bytes):
            data = bytes(data)
        info = self._new_info(len(data), device, property, element, format, metadata)
        data = await self._save(info, data, exposure)
        self._keep(info, data)
        return info

    async def _save(self, info: BlobInfo, data: bytes, exposure: int | None) -> bytes:
        """Add the header cards and, with a folder, write the file; returns the
        bytes to keep (``info.size``, ``path``, ``write_error`` set)."""
        data = await asyncio.to_thread(enrich, data, info.format, info.metadata, info.id)
        info.size = len(data)
        if self.folder is not None:
            path = self._path_for(info)
            try:
                written = await asyncio.to_thread(_write_new, path, data)
            except OSError as exc:
                log.error("could not write frame %s to %s: %s", info.id, path, exc)
                info.write_error = str(exc)
            else:
                info.path = str(written)
                self.written += 1
        return data

    def destination(self) -> str:
        """Where frames go, in one line for the start-up log: the folder and
        its free space, or memory only."""
        if self.folder is None:
            return (
                f"frames: memory only (--frames-dir none): the newest {self.max_count} "
                f"frames, at most {self.max_bytes / 1e6:.0f} MB, are lost when the service stops"
            )
        try:
            free = f"{shutil.disk_usage(self.folder).free / 1e9:.1f} GB free"
        except OSError as exc:
            free = f"free space unknown: {exc}"
        return f"frames: written to {self.folder} ({free})"

    # The exposure journal and the free-space check: kept by `FrameStore`;
    # a memory-only store has no disk to fill and nothing to recover.

    async def begin_exposure(self, device: str, params: dict[str, Any]) -> int | None:
        """Note an exposure as running (a journal entry id, None: no journal)."""
        return None

    async def end_exposure(self, entry: int | None, outcome: str, message: str) -> None:
        """Note that the exposure of `begin_exposure` ended without a frame."""

    async def refuse_exposure(self, device: str, params: dict[str, Any], reason: str) -> None:
        """Note an exposure refused before it started (state ``refused``)."""

    def exposures(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The exposure journal, newest first (empty: memory only)."""
        return []

    def space_shortfall(self, expected_bytes: int) -> dict[str, Any] | None:
        """None when the frames folder has room for a frame of that size (and
        the margin), else what is missing: {folder, free, needed, margin}."""
        return None

    def _path_for(self, info: BlobInfo) -> Path:
        assert self.folder is not None
        meta = info.metadata
        created = _start_of(meta.get("started")) or datetime.fromisoformat(
            info.created.replace("Z", "+00:00")
        )
        exposure = meta.get("exposure", meta.get("duration"))
        fields = _Fields({k: _safe(v) for k, v in meta.items() if isinstance(v, str | int | float)})
        local = created.astimezone()
        fields.update(
            night=(local - timedelta(hours=12)).strftime("%Y-%m-%d"),
            object=_safe(meta.get("object") or meta.get("target") or "unknown"),
            device=_safe(info.device),
            frame_type=_safe(meta.get("frame_type", "unknown")).lower(),
            exposure=_safe(f"{exposure:g}" if isinstance(exposure, int | float) else exposure),
            filter=_safe(meta.get("filter") or "none"),
            timestamp=created.strftime("%Y%m%dT%H%M%S"),
            date=created.strftime("%Y-%m-%d"),
            seq=info.seq,
            id=info.id,
            property=_safe(info.property),
            element=_safe(info.element),
            ext=info.format if info.format.startswith(".") else f".{info.format or 'bin'}",
        )
        name = fit_name_lengths(self.pattern.format_map(fields), self.folder)
        path = (self.folder / name).resolve()
        root = self.folder.resolve()
        if root not in path.parents:
            raise ValueError(f"file name pattern leads outside {root}: {name!r}")
        return path

    def _evict(self) -> None:
        while len(self._blobs) > 1 and (
            len(self._blobs) > self.max_count or self._bytes > self.max_bytes
        ):
            old_id, old = self._blobs.popitem(last=False)
            self._bytes -= old.info.size
            self.evicted += 1
            for key in [k for k in self._previews if k[0] == old_id]:
                self._forget_preview(key)

    # Reading ------------------------------------------------------------

    def get(self, blob_id: str) -> Blob:
        """The frame (``.info``, ``.data``); `BlobNotFound` if unknown or evicted."""
        try:
            return self._blobs[blob_id]
        except KeyError:
            raise BlobNotFound(blob_id) from None

    def info(self, blob_id: str) -> BlobInfo:
        return self.get(blob_id).info

    def list(self, limit: int | None = None, device: str | None = None) -> list[BlobInfo]:
        """Infos of the stored frames, oldest first (the newest ``limit``;
        only ``device``'s when given)."""
        infos = [b.info for b in self._blobs.values() if device is None or b.info.device == device]
        return infos[-limit:] if limit else infos

    def latest(self, device: str | None = None) -> BlobInfo | None:
        for blob in reversed(self._blobs.values()):
            if device is None or blob.info.device == device:
                return blob.info
        return None

    def delete(self, blob_id: str) -> None:
        blob = self._blobs.pop(blob_id, None)
        if blob is None:
            raise BlobNotFound(blob_id)
        self._bytes -= blob.info.size
        for key in [k for k in self._previews if k[0] == blob_id]:
            self._forget_preview(key)

    def __contains__(self, blob_id: object) -> bool:
        return blob_id in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def stats(self) -> dict[str, Any]:
        return {
            "count": len(self._blobs),
            "bytes": self._bytes,
            "max_count": self.max_count,
            "max_bytes": self.max_bytes,
            "added": self._seq,
            "evicted": self.evicted,
            "written": self.written,
            "folder": str(self.folder) if self.folder else None,
            "previews_cached": len(self._previews),
            "previews_cached_bytes": self._preview_bytes,
            "preview_renders_peak": self.renders_peak,
        }

    content_type = staticmethod(content_type)

    # Previews -----------------------------------------------------------

    async def preview(self, blob_id: str, fmt: str = "png", max_size: int | None = None) -> bytes:
        """An auto-stretched 8-bit preview of the frame, as PNG or JPEG bytes.

        The preview has the frame's size, or is scaled down so that its
        longer side is at most ``max_size``.  Rendered off the loop and
        cached; concurrent requests for the same preview share one render.
        """
        fmt = fmt.lower().lstrip(".")
        if fmt not in _PREVIEW_FORMATS:
            raise ValueError(f"preview format must be png or jpeg, got {fmt!r}")
        if fmt == "jpg":
            fmt = "jpeg"
        if max_size is not None and (isinstance(max_size, bool) or max_size < 1):
            raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
        # A frame out of the cache is read from its file, off the loop.
        blob = self._blobs.get(blob_id) or await asyncio.to_thread(self.get, blob_id)
        key = (blob_id, fmt, max_size)
        cached = self._previews.get(key)
        if cached is not None:
            self._previews.move_to_end(key)
            return cached
        pending = self._rendering.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                self._render(blob.data, blob.info.format, fmt, max_size)
            )
            self._rendering[key] = pending
            pending.add_done_callback(lambda _f: self._rendering.pop(key, None))
        data = await asyncio.shield(pending)
        if blob_id in self and self.preview_cache > 0 and key not in self._previews:
            self._previews[key] = data
            self._preview_bytes += len(data)
            while self._previews and (
                len(self._previews) > self.preview_cache
                or self._preview_bytes > self.preview_cache_bytes
            ):
                self._forget_preview(next(iter(self._previews)))
        return data

    async def _render(
        self, data: bytes, frame_format: str, fmt: str, max_size: int | None
    ) -> bytes:
        if self._render_slots is None:
            self._render_slots = asyncio.Semaphore(self.preview_renders)
            # Threads of their own: the memory a render frees stays with its
            # thread's malloc arena, so renders spread over the loop's whole
            # pool kept many frames' worth of memory.
            self._render_pool = concurrent.futures.ThreadPoolExecutor(
                self.preview_renders, thread_name_prefix="preview"
            )
        async with self._render_slots:
            self._renders_running += 1
            self.renders_peak = max(self.renders_peak, self._renders_running)
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self._render_pool, render_preview, data, frame_format, fmt, max_size
                )
            finally:
                self._renders_running -= 1

    def _forget_preview(self, key: tuple[str, str, int | None]) -> None:
        data = self._previews.pop(key, None)
        if data is not None:
            self._preview_bytes -= len(data)

    @staticmethod
    def preview_content_type(fmt: str) -> str:
        return _PREVIEW_FORMATS.get(fmt.lower().lstrip("."), ("", "application/octet-stream"))[1]


def _check_pattern(pattern: str) -> None:
    try:
        pattern.format_map(_Fields(seq=1))
    except (ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"bad file name pattern {pattern!r}: {exc}") from None


def _write_new(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (or ``path_1``, ... if taken), atomically."""
    candidate = free_name(path)
    write_atomic(candidate, data)
    return candidate


def free_name(path: Path) -> Path:
    """``path``, or ``path_1``, ``path_2``, ... the first that is not taken
    (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name, suffix = path.name, ""
    for ext in (".fits.fz", *(path.suffixes[-1:])):
        if name.endswith(ext):
            name, suffix = name[: -len(ext)], ext
            break
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{name}_{n}{suffix}")
    return candidate


def temp_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.part")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name in the same folder, flush and
    fsync it, rename it to ``path`` and fsync the folder: a crash leaves the
    whole file or no file under ``path``, never part of one."""
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- preview


def fit_name_lengths(name: str, folder: Path) -> str:
    """``name`` (a relative path) with each part shortened to what the file
    system takes (``NAME_MAX``, 255 bytes on most): a long object name must
    not make a frame impossible to write.  A shortened part keeps its head,
    its extension and a hash of the whole, so two long names stay apart."""
    try:
        limit = os.pathconf(folder if folder.exists() else folder.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    parts = name.split("/")
    for i, part in enumerate(parts):
        raw = part.encode()
        if len(raw) <= limit:
            continue
        stem, dot, ext = part.rpartition(".") if i == len(parts) - 1 else (part, "", "")
        if part.endswith(".fits.fz"):
            stem, dot, ext = part[: -len(".fits.fz")], ".", "fits.fz"
        if not dot or len(ext.encode()) > 16:
            stem, dot, ext = part, "", ""
        tail = "~" + hashlib.sha1(raw).hexdigest()[:10] + dot + ext
        room = limit - len(tail.encode()) - 16  # room for "_NN" (free_name), ".part" (temp_name)
        head = stem.encode()[:room].decode("utf-8", "ignore")
        parts[i] = head + tail
    return "/".join(parts)


def _start_of(value: Any) -> datetime | None:
    """The exposure's start (metadata ``started``, ISO UTC), None when absent or bad."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def render_preview(
    data: bytes, in_format: str, fmt: str = "png", max_size: int | None = None
) -> bytes:
    """Auto-stretched 8-bit PNG/JPEG of a frame (FITS, or any image Pillow reads)."""
    from PIL import Image

    pil_format = _PREVIEW_FORMATS[fmt.lower().lstrip(".")][0]
    f = in_format.lower()
    if ".fit" in f or ".fts" in f or f.endswith(".fz") or data[:9] == b"SIMPLE  =":
        pixels = _fits_image(data)
        if max_size is not None:
            # Bin to about the size asked first: the stretch then works on a
            # fraction of the frame (memory and time), and the result is the same.
            factor = max(pixels.shape[:2]) // max_size
            if factor >= 2:
                pixels = _bin(pixels, factor)
        image = Image.fromarray(_stretch(pixels))
    else:
        image = Image.open(io.BytesIO(data))
        image.load()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
    if max_size is not None and max(image.size) > max_size:
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    if pil_format == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    out = io.BytesIO()
    if pil_format == "PNG":
        image.save(out, "PNG", compress_level=3)
    else:
        image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _bin(arr: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor``x``factor`` blocks (the edge that does not fill one is dropped)."""
    h, w = (arr.shape[0] // factor) * factor, (arr.shape[1] // factor) * factor
    blocks = arr[:h, :w].reshape(h // factor, factor, w // factor, factor, *arr.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _fits_image(data: bytes) -> np.ndarray:
    """The first image in a FITS file as float32, (H, W) or (H, W, 3), top row first."""
    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # padding and header-fixing chatter
        with fits.open(io.BytesIO(data), memmap=False) as hdus:
            for hdu in hdus:
                if hdu.data is not None and getattr(hdu.data, "ndim", 0) >= 2 and hdu.is_image:
                    arr = np.asarray(hdu.data, dtype=np.float32)
                    row_order = str(hdu.header.get("ROWORDER", "TOP-DOWN")).upper()
                    break
            else:
                raise ValueError("the FITS file holds no image")
    while arr.ndim > 3:
        arr = arr[0]
    if arr.ndim == 3:
        if arr.shape[0] in (3, 4):
            arr = np.moveaxis(arr[:3], 0, -1)
        elif arr.shape[-1] not in (3, 4):
            arr = arr[0]
        else:
            arr = arr[..., :3]
    if row_order == "BOTTOM-UP":
        arr = arr[::-1]
    return arr


def _stretch(arr: np.ndarray, target: float = 0.25, shadows: float = -2.8) -> np.ndarray:
    """Midtone transfer stretch (like PixInsight's auto STF) to uint8.

    Shadows are clipped ``shadows`` normalised MADs below the median, and
    the midtone balance puts the median at ``target`` brightness.  Colour
    planes are stretched with shared (linked) parameters.
    """
    finite = np.isfinite(arr)
    if not finite.all():
        arr = np.where(finite, arr, np.nan)
    step = max(1, arr.size // 500_000)
    sample = arr.reshape(-1)[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    norm = (sample - lo) / (hi - lo)
    median = float(np.median(norm))
    mad = float(np.median(np.abs(norm - median))) * 1.4826
    if mad <= 0:
        # A flat frame (bias without noise, saturated): a plain percentile stretch.
        p_lo, p_hi = np.percentile(sample, (0.5, 99.5))
        scale = max(float(p_hi - p_lo), 1e-12)
        y = np.clip((arr - p_lo) / scale, 0.0, 1.0)
        return np.nan_to_num(y * 255.0 + 0.5).astype(np.uint8)
    c0 = min(max(0.0, median + shadows * mad), median)
    x = (median - c0) / (1.0 - c0) if c0 < 1.0 else 0.5
    m = _mtf(target, x)
    y = np.clip(((arr - lo) / (hi - lo) - c0) / (1.0 - c0), 0.0, 1.0)
    y = _mtf(m, y)
    return np.nan_to_num(y * 255.0 + 0.5).astype(np.uint8)


def _mtf(m: float, x: Any) -> Any:
    """Midtones transfer function: maps 0→0, m→0.5, 1→1."""
    return ((m - 1.0) * x) / ((2.0 * m - 1.0) * x - m)


_default: BlobStore | None = None


def default_store() -> BlobStore:
    """A process-wide store for callers that were not given one."""
    global _default
    if _default is None:
        _default = BlobStore()
    return _default
