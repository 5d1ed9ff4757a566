"""Camera frames over HTTP: ``/blobs``, ``/blobs/<id>``, ``/blobs/<id>/preview.png``.

Every frame an exposure stores (``camera.expose`` on ``/ws/indi_client/``)
lives once in the service's `BlobStore` and is served from there by id: the
raw file as the driver sent it (FITS), and an auto-stretched 8-bit preview
(PNG or JPEG) for a human to look at.  Frame bytes never travel inside JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..blobs import BlobInfo, BlobNotFound, BlobStore
from ..service import Service
from .base import JsonHandler
from .errors import invalid_params, register
from .openapi import error_responses, json_response, path_param, query_param, ref

__all__ = [
    "OPENAPI_COMPONENTS",
    "OPENAPI_PATHS",
    "OPENAPI_TAGS",
    "PreviewFailed",
    "frame_json",
    "frame_urls",
    "routes",
]

#: Largest ``max_size`` a preview may ask for (pixels of the longer side).
MAX_PREVIEW_SIZE = 16384
#: Bytes written per flush: a 40 MB frame is never copied whole into the
#: write buffer, and a slow reader holds at most one chunk.
CHUNK = 1 << 20


class PreviewFailed(ValueError):
    """The frame could not be rendered as an image (not FITS or an image format)."""


register(PreviewFailed, 422, -32048, "preview_failed")


def frame_urls(blob_id: str) -> dict[str, str]:
    """The URLs of a frame: ``url`` (raw), ``preview_url`` (PNG), ``preview_jpg_url``."""
    return {
        "url": f"/blobs/{blob_id}",
        "preview_url": f"/blobs/{blob_id}/preview.png",
        "preview_jpg_url": f"/blobs/{blob_id}/preview.jpg",
    }


def with_frame_urls(result: Any) -> Any:
    """A verb's result that names a stored frame (``blob_id``: an exposure's)
    with the frame's URLs; any other result as it is."""
    if isinstance(result, dict) and isinstance(result.get("blob_id"), str):
        return {**result, **frame_urls(result["blob_id"])}
    return result


def frame_json(info: BlobInfo) -> dict[str, Any]:
    """A stored frame's metadata with its URLs."""
    return {**info.to_dict(), **frame_urls(info.id)}


class BlobListHandler(JsonHandler):
    """``GET /blobs[?device=D&limit=N]``: the stored frames, newest first
    (of every run, with a frames folder; the newest 1000 unless told), and
    the store's figures."""

    async def get(self) -> None:
        store: BlobStore = self.service.blobs
        device = self.get_query_argument("device", None)
        limit = _limit(self.get_query_argument("limit", None), default=LIST_DEFAULT)
        infos = await asyncio.to_thread(store.list, limit, device)
        stats = await asyncio.to_thread(store.stats)
        self.write_json({"frames": [frame_json(i) for i in reversed(infos)], "stats": stats})


class ExposureJournalHandler(JsonHandler):
    """``GET /exposures[?state=lost&limit=N]``: the exposure journal, newest
    first: each exposure from its start to its frame, its failure, or its
    loss (the service died while it ran)."""

    async def get(self) -> None:
        state = self.get_query_argument("state", None)
        if state is not None and state not in EXPOSURE_STATES:
            raise invalid_params(
                f"state must be one of {', '.join(EXPOSURE_STATES)}, got {state!r}", field="state"
            )
        limit = _limit(self.get_query_argument("limit", None), default=100)
        store: BlobStore = self.service.blobs
        entries = await asyncio.to_thread(store.exposures, state, limit)
        self.write_json({"exposures": entries, "journal": store.folder is not None})


class FrameHandler(JsonHandler):
    """``GET /blobs/<id>``: the frame's bytes as the driver sent them."""

    async def get(self, blob_id: str) -> None:
        # BlobNotFound → 404 unknown_frame; a frame out of the cache is read off the loop.
        blob = await asyncio.to_thread(self.service.blobs.get, blob_id)
        info, data = blob.info, blob.data
        self.set_header("Content-Type", info.content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{info.filename}"')
        self.set_header("Content-Length", str(len(data)))
        # A frame never changes under its id.
        self.set_header("Cache-Control", "private, max-age=86400, immutable")
        self.set_header("X-Frame-Id", info.id)
        self.set_header("X-Frame-Created", info.created)
        # The frame's measurement, for a client that only fetches the bytes.
        analysis = info.metadata.get("analysis") or {}
        for header, key in (("X-Frame-Stars", "stars"), ("X-Frame-HFR", "hfr")):
            if analysis.get(key) is not None:
                self.set_header(header, str(analysis[key]))
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            self.write(bytes(view[start : start + CHUNK]))
            await self.flush()
        self.finish()


class PreviewHandler(JsonHandler):
    """``GET /blobs/<id>/preview.(png|jpg|jpeg)[?max_size=N]``."""

    async def get(self, blob_id: str, fmt: str) -> None:
        max_size = _max_size(self.get_query_argument("max_size", None))
        store: BlobStore = self.service.blobs
        if blob_id not in store:  # 404 before any rendering
            raise BlobNotFound(blob_id)
        try:
            image = await store.preview(blob_id, fmt, max_size)
        except (ValueError, OSError) as exc:
            raise PreviewFailed(f"frame {blob_id} cannot be shown as an image: {exc}") from None
        self.set_header("Content-Type", store.preview_content_type(fmt))
        self.set_header("Cache-Control", "private, max-age=86400, immutable")
        self.finish(image)


class NewestPreviewHandler(PreviewHandler):
    """``GET /PAA/newest_(camera|guider)_jpg/``: the newest frame of the device
    that holds the camera (or guider) role, as a JPEG preview; the later
    lightAPT front end (cobalt-web) loads it after an exposure's signal."""

    async def get(self, role: str) -> None:  # type: ignore[override]
        device = self.service.roles.device_for(role)
        latest = self.service.blobs.latest(device) if device else None
        if latest is None:
            raise NoFrameYet(
                f"no frame of the {role} role yet"
                + (f" ({device})" if device else " (no device holds the role)")
            )
        await super().get(latest.id, "jpg")
        self.set_header("Cache-Control", "no-store")


class NoFrameYet(LookupError):
    """The role has taken no frame that the store still holds."""

    def __str__(self) -> str:  # LookupError shows the repr of a lone argument
        return str(self.args[0])


register(NoFrameYet, 404, -32050, "no_frame")


#: The states of the exposure journal (docs/frames.md).
EXPOSURE_STATES = ("exposing", "writing", "stored", "failed", "lost", "refused")
#: Most entries a listing answers.
MAX_LIST = 100_000
#: Frames `/blobs` lists when not told (the newest; ``stats.count`` is the total).
LIST_DEFAULT = 1000


def _limit(raw: str | None, default: int) -> int:
    return _whole_number(raw, "limit", MAX_LIST, "") or default


def _max_size(raw: str | None) -> int | None:
    return _whole_number(raw, "max_size", MAX_PREVIEW_SIZE, " of pixels")


def _whole_number(raw: str | None, name: str, maximum: int, unit: str) -> int | None:
    """A query argument from 1 to ``maximum``; None when absent."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise invalid_params(
            f"{name} must be a whole number{unit} from 1 to {maximum}, got {raw!r}", field=name
        )
    return value


def routes(service: Service) -> list:
    args = {"service": service}
    return [
        (r"/blobs/?", BlobListHandler, args),
        (r"/exposures/?", ExposureJournalHandler, args),
        (r"/blobs/([^/]+)/preview\.(png|jpg|jpeg)", PreviewHandler, args),
        (r"/blobs/([^/]+)/?", FrameHandler, args),
        (r"/PAA/newest_(camera|guider)_jpg/?", NewestPreviewHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI

_ID = path_param("id", "The frame's id, from `camera.expose` or `GET /blobs`.", "aZ3_k9Qx")

OPENAPI_TAGS: list[dict[str, str]] = [
    {"name": "frames", "description": "Camera frames stored by exposures, and their previews."},
]

_FRAME_EXAMPLE = {
    "id": "aZ3_k9Qx",
    "seq": 3,
    "device": "CCD Simulator",
    "property": "CCD1",
    "element": "CCD1",
    "format": ".fits",
    "size": 184320,
    "created": "2025-11-24T22:15:03.481Z",
    "metadata": {
        "duration": 2.0,
        "exposure": 2.0,
        "frame_type": "light",
        "binning": [2, 2],
        "roi": [0, 0, 640, 480],
        "gain": 90.0,
        "offset": 0.0,
        "filter": None,
        "temperature": 0.0,
        "started": "2025-11-24T22:15:01.402Z",
        "object": "M42",
    },
    "path": None,
    "write_error": None,
    "content_type": "application/fits",
    "filename": "CCD_Simulator_aZ3_k9Qx.fits",
    "url": "/blobs/aZ3_k9Qx",
    "preview_url": "/blobs/aZ3_k9Qx/preview.png",
    "preview_jpg_url": "/blobs/aZ3_k9Qx/preview.jpg",
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Frame": {
            "type": "object",
            "description": "A stored camera frame (metadata only; the bytes are at `url`).",
            "required": ["id", "device", "format", "size", "created", "url", "preview_url"],
            "properties": {
                "id": {"type": "string", "description": "Short URL-safe id."},
                "seq": {"type": "integer", "description": "1, 2, ... in order of arrival."},
                "device": {"type": "string"},
                "property": {"type": "string"},
                "element": {"type": "string"},
                "format": {"type": "string", "description": "INDI format, e.g. `.fits`."},
                "size": {"type": "integer", "description": "Bytes."},
                "created": {"type": "string", "description": "UTC, ISO 8601."},
                "metadata": {
                    "type": "object",
                    "description": "What the exposure was: duration, frame_type, binning, "
                    "roi, gain, offset, filter, temperature, started, and the caller's "
                    "own `metadata`.",
                    "additionalProperties": True,
                },
                "path": {
                    "type": ["string", "null"],
                    "description": "Its file in the frames folder; null when memory only "
                    "(`--frames-dir none`) or when the write failed (`write_error`).",
                },
                "write_error": {"type": ["string", "null"]},
                "content_type": {"type": "string"},
                "filename": {"type": "string", "description": "Download name."},
                "url": {"type": "string"},
                "preview_url": {"type": "string"},
                "preview_jpg_url": {"type": "string"},
            },
        },
        "FrameList": {
            "type": "object",
            "required": ["frames", "stats"],
            "properties": {
                "frames": {"type": "array", "items": ref("Frame")},
                "stats": {
                    "type": "object",
                    "description": "count, bytes, max_count, max_bytes, added, evicted, "
                    "written, folder, previews_cached, previews_cached_bytes, "
                    "preview_renders_peak (previews rendered at once: 1); with a frames "
                    "folder also cached, "
                    "cached_bytes, on_disk, free_bytes, min_free, keep_days, keep_bytes, "
                    "deleted, recovered, lost_exposures, journal_keep_days, "
                    "journal_keep_entries, journal_pruned",
                    "additionalProperties": True,
                },
            },
        },
        "Exposure": {
            "type": "object",
            "description": "An entry of the exposure journal.",
            "required": ["id", "device", "started", "state"],
            "properties": {
                "id": {"type": "integer"},
                "device": {"type": "string"},
                "started": {"type": "string", "description": "UTC, ISO 8601."},
                "ended": {"type": ["string", "null"]},
                "state": {"type": "string", "enum": list(EXPOSURE_STATES)},
                "params": {
                    "type": "object",
                    "description": "duration and the caller's metadata.",
                    "additionalProperties": True,
                },
                "path": {"type": ["string", "null"], "description": "Its file, once named."},
                "frame_id": {"type": ["string", "null"], "description": "Once stored."},
                "error": {
                    "type": ["string", "null"],
                    "description": "Why it failed, was lost or was refused.",
                },
            },
        },
    }
}

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UNKNOWN = {
    "404": json_response(
        "No frame with that id (never stored, or evicted): `unknown_frame`.",
        ref("Error"),
        {
            "error": {
                "code": "unknown_frame",
                "message": "no frame 'nope' (unknown or evicted)",
                "data": {},
            }
        },
    )
}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/blobs": {
        "get": {
            "summary": "List the stored camera frames, newest first",
            "description": "Every frame is written to the frames folder (default "
            "`DATA_DIR/frames`) and indexed: the frames of earlier runs are listed too. "
            "With `--frames-dir none` frames are kept in memory only, bounded by count and "
            "bytes (`--max-frames`, `--max-frame-bytes`; the oldest go first).",
            "tags": ["frames"],
            "operationId": "list_frames",
            "parameters": [
                query_param(
                    "device", "Only frames of this device.", {"type": "string"}, "CCD Simulator"
                ),
                query_param(
                    "limit",
                    f"Only the newest N frames (default {LIST_DEFAULT}; `stats.count` is "
                    "the total).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIST},
                    100,
                ),
            ],
            "responses": {
                "200": json_response(
                    "The frames and the store's figures.",
                    ref("FrameList"),
                    {"frames": [_FRAME_EXAMPLE], "stats": {"count": 1, "bytes": 184320}},
                )
            },
        }
    },
    "/exposures": {
        "get": {
            "summary": "The exposure journal, newest first",
            "description": "Each exposure from its start to its frame (`stored`), its "
            "failure (`failed`, with the error) or its loss (`lost`: the service stopped "
            "while it ran; noted when the service starts again), or its refusal before it "
            "started (`refused`: no room for the frame, with the reason). Empty, with `journal` "
            "false, when frames are kept in memory only.",
            "tags": ["frames"],
            "operationId": "list_exposures",
            "parameters": [
                query_param(
                    "state",
                    "Only entries in this state.",
                    {"type": "string", "enum": list(EXPOSURE_STATES)},
                    "lost",
                ),
                query_param(
                    "limit",
                    "At most this many entries (default 100).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIST},
                    100,
                ),
            ],
            "responses": {
                "200": json_response(
                    "The entries.",
                    {
                        "type": "object",
                        "required": ["exposures", "journal"],
                        "properties": {
                            "exposures": {"type": "array", "items": ref("Exposure")},
                            "journal": {"type": "boolean"},
                        },
                    },
                    {
                        "exposures": [
                            {
                                "id": 7,
                                "device": "CCD Simulator",
                                "started": "2025-11-24T23:59:01.402Z",
                                "ended": "2025-11-25T00:04:12.020Z",
                                "state": "lost",
                                "params": {"duration": 300.0, "object": "M42"},
                                "path": None,
                                "frame_id": None,
                                "error": "the service stopped during the exposure",
                            }
                        ],
                        "journal": True,
                    },
                ),
                **error_responses(400),
            },
        }
    },
    "/blobs/{id}": {
        "get": {
            "summary": "Download a frame as the driver sent it (FITS)",
            "description": "The content type follows the format (`.fits` → "
            "`application/fits`); `Content-Disposition` names the file.",
            "tags": ["frames"],
            "operationId": "get_frame",
            "parameters": [_ID],
            "responses": {
                "200": {
                    "description": "The frame's bytes.",
                    "content": {
                        "application/fits": _BINARY,
                        "application/octet-stream": _BINARY,
                    },
                },
                **_UNKNOWN,
            },
        }
    },
    "/blobs/{id}/preview.{format}": {
        "get": {
            "summary": "An auto-stretched 8-bit preview of a frame (PNG or JPEG)",
            "description": "The frame's size, or scaled down so that its longer side is "
            "`max_size`. Stretched like PixInsight's auto-STF (shadows clipped at "
            "median − 2.8 MAD, median at 25 % grey). Rendered once and cached.",
            "tags": ["frames"],
            "operationId": "get_frame_preview",
            "parameters": [
                _ID,
                path_param("format", "Image format.", "png", enum=("png", "jpg", "jpeg")),
                query_param(
                    "max_size",
                    "Longest side in pixels (default: the frame's size).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PREVIEW_SIZE},
                    800,
                ),
            ],
            "responses": {
                "200": {
                    "description": "The preview image.",
                    "content": {"image/png": _BINARY, "image/jpeg": _BINARY},
                },
                **error_responses(400),
                **_UNKNOWN,
                "422": json_response("The frame is not an image (`preview_failed`).", ref("Error")),
            },
        }
    },
    "/PAA/newest_{role}_jpg/": {
        "get": {
            "summary": "The newest frame of the camera or guider role, as a JPEG preview",
            "description": "lightAPT's later front end (cobalt-web) loads this after an "
            "exposure's `Image Stretch` signal; docs/lightapt.md.",
            "tags": ["frames"],
            "operationId": "get_newest_frame_preview",
            "parameters": [
                path_param("role", "The role.", "camera", enum=("camera", "guider")),
            ],
            "responses": {
                "200": {"description": "The preview image.", "content": {"image/jpeg": _BINARY}},
                "404": json_response("The role has no frame yet (`no_frame`).", ref("Error")),
                "422": json_response("The frame is not an image (`preview_failed`).", ref("Error")),
            },
        }
    },
}
