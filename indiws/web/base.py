"""Base classes shared by the HTTP handlers."""

from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web

from ..security import origin_listed
from ..service import Service
from .errors import INTERNAL_ERROR, APIError, describe_error, invalid_params

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
        self._cors_headers()

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if hasattr(self, "service"):  # not yet on the first call, from __init__
            self._cors_headers()

    def _cors_headers(self) -> None:
        origin = self.request.headers.get("Origin")
        allowed = self.service.config.allowed_origins
        if origin and origin_listed(origin, allowed):
            # Pages served elsewhere (--allow-origin) may call the API.
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
            if "*" not in allowed:  # the token cookie, for the origins named
                self.set_header("Access-Control-Allow-Credentials", "true")

    def options(self, *args: Any) -> None:
        """CORS preflight: allowed origins may use every method with JSON."""
        self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

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
        if isinstance(value, tornado.web.HTTPError):
            return
        err = describe_error(value)
        if err.code == INTERNAL_ERROR:
            super().log_exception(typ, value, tb)  # a bug: keep the traceback
        elif err.status >= 500:
            # Expected failures of the devices or indiserver: one line.
            log.warning("%s %s: %s", self.request.method, self.request.path, err.message)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError):
            # log_message is a %-format: with no args tornado has doubled its "%".
            message = exc.log_message % exc.args if exc.log_message else self._reason
            err = APIError(exc.status_code, -32600, "http_error", message, {})
        elif exc is not None:
            err = describe_error(exc)
        else:
            err = APIError(status_code, -32603, "http_error", self._reason)
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps(self.error_payload(err)))

    def error_payload(self, err: APIError) -> dict[str, Any]:
        """The JSON body of an error answer (subclasses may add keys)."""
        return {"error": error_body(err)}
