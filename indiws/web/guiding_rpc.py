"""The autoguider (`indiws.guiding.GuidingEngine`) on ``/ws/indi_client/``
and over HTTP, beside its verbs.

The ``guiding.*`` methods are declared verbs (`indiws.guiding.verbs`),
derived like every other (docs/verbs.md).  What is left here is not a verb:
the error codes of `GuidingError`, the engine's events (PHD2's names and
fields) that reach every socket through `ClientHub` as
``guiding.<event in snake_case>`` notifications (`event_method`), the
guider's brief state in the periodic status, and
``GET /api/v1/guiding/star.png`` (the guide star's cutout).
Documented in docs/indi_client.md and docs/guiding.md.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np

from ..guiding import GuidingError
from ..guiding.verbs import GUIDING_EVENTS, event_method
from .base import JsonHandler
from .errors import invalid_params, register_codes
from .openapi import error_responses, json_response, query_param, ref

__all__ = [
    "GUIDING_EVENTS",
    "OPENAPI_PATHS",
    "event_method",
    "guiding_brief",
    "routes",
    "star_png",
]

#: GuidingError.code → (HTTP status, JSON-RPC code, name).  Codes shared
#: with device errors keep those errors' numbers and names.
register_codes(
    GuidingError,
    {
        "not_connected": (409, -32041, "not_connected"),
        "busy": (409, -32044, "busy"),
        "unsafe": (409, -32055, "unsafe"),
        "invalid_value": (400, -32015, "invalid_value"),
        "no_star": (404, -32092, "no_star"),
        "not_calibrated": (409, -32093, "not_calibrated"),
        "not_guiding": (409, -32094, "not_guiding"),
        "settle_failed": (409, -32095, "settle_failed"),
        "calibration_failed": (409, -32096, "calibration_failed"),
        "stopped": (409, -32097, "guiding_stopped"),
        "mount_not_tracking": (409, -32099, "mount_not_tracking"),
    },
    (409, -32098, "guiding_error"),
)


def guiding_brief(engine: Any) -> dict[str, Any]:
    """The guider's state for the periodic ``status`` notification."""
    try:
        stats = engine.stats.summary(engine.pixel_scale())
    except Exception:  # the devices may be gone; the state still says something
        stats = {}
    return {
        "state": engine.state,
        "calibrated": engine.calibrated(),
        "settling": engine.settling,
        "rms": stats.get("pixels"),
        "rms_arcsec": stats.get("arcsec"),
    }


# ---------------------------------------------------------------- HTTP


def star_png(cutout: dict[str, Any], scale: int = 1) -> bytes:
    """The star's cutout as an 8-bit PNG, stretched from its background
    (median) to its peak, each pixel shown ``scale`` times as large."""
    from PIL import Image

    pixels = np.asarray(cutout["pixels"], dtype=np.float32)
    low = float(np.median(pixels))
    high = float(pixels.max())
    span = high - low if high > low else 1.0
    stretched = np.clip((pixels - low) / span, 0.0, 1.0) ** 0.5
    image = Image.fromarray((stretched * 255).astype(np.uint8), "L")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _query_int(handler: JsonHandler, name: str, default: int, low: int, high: int) -> int:
    raw = handler.get_query_argument(name, None)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid_params(
            f"{name} must be a whole number from {low} to {high}, got {raw!r}", field=name
        )
    return value


class StarImageHandler(JsonHandler):
    """``GET /api/v1/guiding/star.png``: the guide star's cutout."""

    async def get(self) -> None:
        size = _query_int(self, "size", 31, 15, 63)
        scale = _query_int(self, "scale", 1, 1, 16)
        cutout = self.service.guiding.star_image(size)  # GuidingError no_star → 404
        png = await asyncio.to_thread(star_png, cutout, scale)
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Star-Frame", str(cutout["frame"]))
        self.finish(png)


def routes(service: Any) -> list:
    return [(r"/api/v1/guiding/star\.png", StarImageHandler, {"service": service})]


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/guiding/star.png": {
        "get": {
            "summary": "The guide star's cutout, as a stretched 8-bit PNG",
            "description": "The newest guide frame's pixels around the star (PHD2's "
            "`get_star_image`), stretched from the background to the star's peak. "
            "Header `X-Star-Frame`: the guide frame's number. 404 `no_star` while no "
            "star is selected (guider stopped or only looping).",
            "tags": ["guiding"],
            "operationId": "get_guiding_star_image",
            "parameters": [
                query_param(
                    "size",
                    "Side of the cutout in frame pixels (odd; at most 63).",
                    {"type": "integer", "minimum": 15, "maximum": 63},
                    31,
                ),
                query_param(
                    "scale",
                    "Each frame pixel shown as scale x scale pixels.",
                    {"type": "integer", "minimum": 1, "maximum": 16},
                    1,
                ),
            ],
            "responses": {
                "200": {
                    "description": "The cutout.",
                    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                },
                **error_responses(400),
                "404": json_response("No guide star (`no_star`).", ref("Error")),
            },
        }
    }
}

OPENAPI_TAGS = [
    {"name": "guiding", "description": "The built-in autoguider (docs/indi_client.md)."}
]
