"""The web control panel: static files shipped inside the package (docs/panel.md).

The panel is plain HTML, CSS and ES modules in ``panel_static/``; it talks to
the service only through the public APIs, like any other client.  This module
only serves the files:

- ``/`` the panel, or with ``--ui DIR`` another front end's built files (the
  panel then stays at ``/panel/``);
- ``/panel/`` and its files;
- ``/debug/indi`` and ``/indi/debug/`` (where lightAPT had its debug page):
  the panel, opened on its console.

Every request passed the gate (web/gate.py) before it gets here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tornado.web

from ..service import Service
from .base import JsonHandler, dumps, error_body
from .errors import APIError

__all__ = ["PANEL_DIR", "OPENAPI_PATHS", "routes"]

#: Where the panel's files are, inside the installed package.
PANEL_DIR = Path(__file__).with_name("panel_static")

# The panel needs nothing from other origins; a foreign page may not frame it
# (clickjacking a "Park" or "Stop server" button).
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page_headers(handler: tornado.web.RequestHandler) -> None:
    handler.set_header("Content-Security-Policy", _CSP)
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")


class PanelFileHandler(tornado.web.StaticFileHandler):
    """The panel's files.  Revalidated on every load (ETag), so an upgraded
    package is seen at the next reload."""

    def set_extra_headers(self, path: str) -> None:
        _page_headers(self)
        self.set_header("Cache-Control", "no-cache")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        _json_error(self, status_code, f"no such file of the panel: {self.request.path}")


class PanelPageHandler(JsonHandler):
    """``index.html`` of the panel (at ``/``, ``/panel/``, ``/debug/indi``, ...)."""

    browser_page = True  # the gate answers a browser here with an HTML 401 page

    def initialize(self, service: Service, root: Path) -> None:  # type: ignore[override]
        super().initialize(service)
        self.root = root

    def get(self) -> None:
        index = self.root / "index.html"
        try:
            body = index.read_bytes()
        except OSError as exc:
            raise tornado.web.HTTPError(404, "the panel's page cannot be read: %s", exc) from None
        _page_headers(self)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(body)


class UiFileHandler(tornado.web.StaticFileHandler):
    """``--ui DIR``: a built front end at ``/``.  A path that names no file
    gets ``index.html`` when a browser navigates to it (a client-side route),
    else the JSON 404 of every unknown endpoint.  StaticFileHandler keeps
    every path inside DIR (``..`` out of it is refused; symbolic links in DIR
    are the operator's own and are followed)."""

    browser_page = True

    def parse_url_path(self, url_path: str) -> str:
        if url_path in ("", "/") or url_path.endswith("/"):
            return url_path + "index.html"
        return url_path

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        root = os.path.abspath(root)
        if os.path.isfile(absolute_path) or not _wants_html(self.request):
            return super().validate_absolute_path(root, absolute_path)
        inside = os.path.abspath(absolute_path)
        if not (inside + os.sep).startswith(root + os.sep):
            raise tornado.web.HTTPError(403, "%s is not in root static directory", self.path)
        return super().validate_absolute_path(root, os.path.join(root, "index.html"))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        _json_error(self, status_code, f"no such endpoint: {self.request.path}")


def _json_error(handler: tornado.web.RequestHandler, status: int, message: str) -> None:
    """The JSON error body of every other endpoint (StaticFileHandler writes HTML)."""
    handler.clear_header("Content-Disposition")
    handler.set_header("Content-Type", "application/json; charset=utf-8")
    handler.finish(dumps({"error": error_body(APIError(status, -32600, "http_error", message))}))


def _wants_html(request: Any) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def routes(service: Service) -> list:
    page = {"service": service, "root": PANEL_DIR}
    handlers: list = [
        (r"/panel/?", PanelPageHandler, page),
        (r"/debug/indi/?", PanelPageHandler, page),
        (r"/indi/debug/?", PanelPageHandler, page),
        (r"/panel/(.+)", PanelFileHandler, {"path": str(PANEL_DIR)}),
    ]
    ui_dir = service.config.ui_dir
    if ui_dir is None:
        handlers.insert(0, (r"/", PanelPageHandler, page))
    else:
        handlers.append((r"/(.*)", UiFileHandler, {"path": str(ui_dir)}))
    return handlers


def _page(summary: str, description: str, op_id: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": description,
            "tags": ["panel"],
            "operationId": op_id,
            "responses": {
                "200": {
                    "description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    }


OPENAPI_TAGS = [
    {
        "name": "panel",
        "description": "The web control panel: devices, imaging, server, console (docs/panel.md).",
    }
]

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/": _page(
        "The web control panel",
        "The panel's page (with `--ui DIR`, that front end's `index.html` instead).",
        "panel_root",
    ),
    "/panel/": _page("The web control panel", "Always the panel, also with `--ui`.", "panel"),
    "/debug/indi": _page(
        "The panel's console",
        "Where lightAPT had its debug page: the panel, opened on its console.",
        "panel_debug_indi",
    ),
    "/indi/debug/": _page(
        "The panel's console",
        "lightAPT's later URL of its debug page: the panel, opened on its console.",
        "panel_indi_debug",
    ),
    "/panel/{file}": {
        "get": {
            "summary": "A file of the panel",
            "description": "Scripts, styles and icons of the panel, from the package.",
            "tags": ["panel"],
            "operationId": "panel_file",
            "parameters": [
                {
                    "name": "file",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "example": "panel.css"},
                }
            ],
            "responses": {
                "200": {"description": "The file."},
                "404": {"description": "No such file."},
            },
        }
    },
}
