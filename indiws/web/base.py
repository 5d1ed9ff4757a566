"""Base classes shared by the HTTP handlers."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import tornado.httputil
import tornado.web

from ..security import origin_listed
from ..service import Service
from .errors import INTERNAL_ERROR, TOO_LARGE, APIError, describe_error, invalid_params
from .limits import JsonLimitError, loads

log = logging.getLogger("indiws.web")


def requester(request: tornado.httputil.HTTPServerRequest, front: str) -> str:
    """Who sent ``request``, for the log of a forced write: its address, the
    front (``REST``, ``/ws/indi/``) and whether it proved the access token."""
    token = getattr(request, "indiws_token_proven", False)
    return f"{request.remote_ip} ({front}, {'with the access token' if token else 'no token'})"


def allowed_methods(handler_class: type) -> list[str]:
    """The HTTP methods ``handler_class`` implements (its ``Allow`` header):
    those of its ``SUPPORTED_METHODS`` it defines."""
    unimplemented = tornado.web.RequestHandler._unimplemented_method
    return [
        m
        for m in getattr(handler_class, "SUPPORTED_METHODS", ())
        if getattr(handler_class, m.lower(), unimplemented) is not unimplemented
    ]


def error_body(err: APIError) -> dict[str, Any]:
    """``{"code": name, "message": ..., "data": {...}}`` for HTTP answers."""
    data = {k: v for k, v in err.data.items() if k != "error"}
    return {"code": err.name, "message": err.message, "data": data}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode(text: str) -> bytes:
    """JSON text as UTF-8: a lone surrogate (JSON allows ``"\\ud822"``, so a
    request can carry one back into an answer) stays the same escape."""
    return text.encode("utf-8", "backslashreplace")


def dumps_lenient(obj: Any) -> str:
    """`dumps` for what devices report: a NaN or infinity from a driver
    becomes null (JSON has neither), an unknown type its ``str``."""
    try:
        return dumps(obj)
    except ValueError:
        return dumps(_finite(obj))
    except TypeError:
        return json.dumps(obj, default=str, separators=(",", ":"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def http_error(status_code: int, exc: BaseException | None, reason: str) -> APIError:
    """The `APIError` of an HTTP error answer (tornado's `HTTPError` or another)."""
    if isinstance(exc, tornado.web.HTTPError):
        # log_message is a %-format: with no args tornado has doubled its "%".
        message = exc.log_message % exc.args if exc.log_message else reason
        return APIError(exc.status_code, -32600, "http_error", message, {})
    if exc is not None:
        return describe_error(exc)
    return APIError(status_code, -32603, "http_error", reason)


@tornado.web.stream_request_body
class JsonHandler(tornado.web.RequestHandler):
    """Answers JSON; every error is a JSON body ``{"error": {...}}``.

    The body is streamed in so that one over the endpoint's limit
    (`max_body_bytes`) is refused with 413 from its headers, before a byte
    of it is read; ``self.request.body`` holds it whole as usual once the
    method runs.
    """

    service: Service

    def initialize(self, service: Service) -> None:
        self.service = service
        self._cors_headers()
        self._body = bytearray()
        self._body_length = 0

    def max_body_bytes(self) -> int:
        """Longest request body this endpoint takes (those taking uploads say more)."""
        return self.service.config.max_message_bytes

    def prepare(self) -> None:
        self.limit_body()

    def limit_body(self) -> None:
        """Refuse a body over `max_body_bytes` (413), or one of unknown length (411)."""
        headers = self.request.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            raise APIError(
                411, -32600, "length_required", "send the request body with a Content-Length"
            )
        length = headers.get("Content-Length", "0").strip()
        self._body_length = int(length) if length.isdigit() else 0
        limit = self.max_body_bytes()
        if self._body_length > limit:
            # Tornado's own cap must not fail the read first (it would add a
            # bare 400 after this answer): the connection closes once it is sent.
            self.request.connection.set_max_body_size(self._body_length)
            raise APIError(
                413,
                TOO_LARGE,
                "too_large",
                f"the request body ({self._body_length} bytes) is larger than this endpoint"
                f" takes ({limit} bytes)",
                {"limit": limit},
            )

    def data_received(self, chunk: bytes) -> None:
        # At most Content-Length bytes come (checked above): keep them.
        self._body += chunk
        if len(self._body) >= self._body_length:
            self.request.body = bytes(self._body)
            self._body = bytearray()

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
        self.finish(encode(dumps(obj)))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object ({} when empty)."""
        if not self.request.body:
            return {}
        try:
            body = loads(self.request.body)
        except JsonLimitError as exc:
            raise invalid_params(f"request body refused: {exc}") from None
        except ValueError as exc:
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
        err = http_error(status_code, exc, self._reason)
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(encode(dumps(self.error_payload(err))))

    def error_payload(self, err: APIError) -> dict[str, Any]:
        """The JSON body of an error answer (subclasses may add keys)."""
        return {"error": error_body(err)}
