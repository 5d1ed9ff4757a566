"""Base classes shared by the HTTP handlers."""

from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web

from ..service import Service
from .errors import APIError, describe_error, invalid_params

log = logging.getLogger("indiws.web")


def error_body(err: APIError) -> dict[str, Any]:
    """``{"code": name, "message": ..., "data": {...}}`` for HTTP answers."""
    data = {k: v for k, v in err.data.items() if k != "error"}
    return {"code": err.name, "message": err.message, "data": data}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class JsonHandler(tornado.web.RequestHandler):
    """Answers JSON; every error is a JSON body ``{"error": {...}}``."""

    service: Service

    def initialize(self, service: Service) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(obj))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object ({} when empty)."""
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_params(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise invalid_params("request body must be a JSON object")
        return body

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError) or describe_error(value).status < 500:
            return  # client errors are answered, not logged as failures
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError):
            err = APIError(
                exc.status_code, -32600, "http_error", exc.log_message or self._reason, {}
            )
        elif exc is not None:
            err = describe_error(exc)
        else:
            err = APIError(status_code, -32603, "http_error", self._reason)
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps({"error": error_body(err)}))
