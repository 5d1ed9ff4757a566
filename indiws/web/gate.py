"""The request gate: every request passes `indiws.security.AccessPolicy` before
its handler is even chosen.

`GatedApplication.find_handler` is where tornado turns a request into a
handler; judging the request there means no handler, present or future, can
forget the check, WebSocket upgrades included.  A refused request is answered
by `RefusedHandler` with the JSON error body of every other error, and its
body is discarded unread.
"""

from __future__ import annotations

import html
import logging
import socket
import sys
from typing import Any
from urllib.parse import parse_qsl, urlencode

import tornado.httputil
import tornado.web
import tornado.websocket
from tornado.netutil import bind_sockets

from ..security import (
    SAFE_METHODS,
    TOKEN_ENV,
    TOKEN_URL_FILE,
    AccessPolicy,
    QuietLog,
    Refusal,
    RequestFacts,
    write_private,
)
from ..service import Service
from .base import JsonHandler, allowed_methods
from .errors import GATE_ERRORS, APIError
from .server import GuardedHTTPServer

__all__ = ["GatedApplication", "RefusedHandler", "access_notes", "token_cookie_name"]

log = logging.getLogger("indiws.web")

#: The page whose URL (with ``?token=``) the log prints for browsers: the panel.
LANDING_PATH = "/"
_COOKIE_MAX_AGE = 365 * 24 * 3600


def token_cookie_name(port: int) -> str:
    """Cookies go to every port of a host: one name per port keeps two
    services on one machine from overwriting each other's token."""
    return f"indiws_token_{port}"


def changes_state(method: str, handler_class: type | None) -> bool:
    """Every method but GET/HEAD/OPTIONS, every WebSocket upgrade (a command
    channel), and a GET of a handler class that says ``get_changes_state = True``
    (the seed's ``GET /FIFO/...``)."""
    if handler_class is not None and issubclass(handler_class, tornado.websocket.WebSocketHandler):
        return method != "OPTIONS"
    if method not in SAFE_METHODS:
        return True
    return method != "OPTIONS" and bool(getattr(handler_class, "get_changes_state", False))


class RefusedHandler(JsonHandler):
    """Answers a request the gate refused, whatever its method."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(  # type: ignore[override]
        self, service: Service, refusal: Refusal, page: bool = False
    ) -> None:
        super().initialize(service)
        self.refusal = refusal
        self.page = page

    def prepare(self) -> None:
        r = self.refusal
        if r.status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="indiws"')
            if self.page:
                self.set_status(401)
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.set_header("Cache-Control", "no-store")
                self.finish(_token_page(self.service, r))
                return
        err = APIError(r.status, GATE_ERRORS[r.code], r.code, r.message, r.data)
        self.write_json(self.error_payload(err), r.status)

    def data_received(self, chunk: bytes) -> None:
        pass  # a refused body is dropped as it comes, never held


tornado.web.stream_request_body(RefusedHandler)


class _AnswerHeaders(tornado.web.OutputTransform):
    """Headers every answer gets from the gate, whatever its handler:

    - the token cookie, for a request that proved the token with ``?token=``
      (so a browser needs the URL only once), even on a 404;
    - on a 405, ``Allow`` (RFC 9110): the methods of the handler class that
      got the request (JSON, WebSocket and static-file handlers alike).
    """

    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        self.cookie: str | None = getattr(request, "indiws_set_cookie", None)
        self.handler_class: type | None = getattr(request, "indiws_handler_class", None)

    def transform_first_chunk(
        self,
        status_code: int,
        headers: tornado.httputil.HTTPHeaders,
        chunk: bytes,
        finishing: bool,
    ) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        if self.cookie is not None:
            headers.add("Set-Cookie", self.cookie)
        if status_code == 405 and self.handler_class is not None and "Allow" not in headers:
            headers["Allow"] = ", ".join(allowed_methods(self.handler_class))
        return status_code, headers, chunk


class GatedApplication(tornado.web.Application):
    """A tornado Application that judges each request before routing it."""

    def __init__(self, handlers: list, service: Service, **settings: Any) -> None:
        super().__init__(handlers, **settings)
        config = service.config
        self.service = service
        self.policy = AccessPolicy.build(
            bind_host=config.host,
            port=config.port,
            allow_hosts=config.allowed_hosts,
            allow_origins=config.allowed_origins,
            token=service.access_token,
        )
        self.cookie_name = token_cookie_name(config.port)
        self.add_transform(_AnswerHeaders)
        self._quiet = QuietLog(log)

    def listen(self, port: int, address: str | None = None, **kwargs: Any) -> GuardedHTTPServer:  # type: ignore[override]
        """Serve on ``port`` with the guarded server (caps, quiet accepts);
        ``kwargs`` are `indiws.web.app.server_options`."""
        return self.serve(bind_sockets(port, address or ""), **kwargs)

    def serve(self, sockets: list[socket.socket], **kwargs: Any) -> GuardedHTTPServer:
        """Serve on ``sockets`` already bound and listening (tornado's
        ``bind_sockets``), as `listen` does on a port."""
        server = GuardedHTTPServer(self, **kwargs)
        server.add_sockets(sockets)
        return server

    def find_handler(
        self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any
    ) -> tornado.web._HandlerDelegate:
        delegate = super().find_handler(request, **kwargs)
        handler_class = getattr(delegate, "handler_class", None)
        facts = RequestFacts(
            method=request.method or "GET",
            host=request.headers.get("Host", ""),
            origin=request.headers.get("Origin"),
            fetch_site=request.headers.get("Sec-Fetch-Site"),
            changes_state=changes_state(request.method or "GET", handler_class),
            authorization=request.headers.get("Authorization"),
            cookie_token=self._cookie(request),
            query_token=_take_query_token(request),
        )
        decision = self.policy.check(facts)
        if decision.refusal is not None:
            self._log_refusal(request, decision.refusal)
            # A person opening the panel in a browser reads a page, not JSON.
            page = bool(getattr(handler_class, "browser_page", False)) and _wants_html(request)
            return self.get_handler_delegate(
                request,
                RefusedHandler,
                {"service": self.service, "refusal": decision.refusal, "page": page},
            )
        # Whether this request proved the token (it passed the gate: it did
        # when one is required), for the log of what it forces
        # (indiws.web.base.requester).
        request.indiws_token_proven = self.policy.token is not None  # type: ignore[attr-defined]
        request.indiws_handler_class = handler_class  # type: ignore[attr-defined]
        if decision.set_cookie and not _is_upgrade(request):
            request.indiws_set_cookie = (  # type: ignore[attr-defined]
                f"{self.cookie_name}={self.policy.token}; Path=/; Max-Age={_COOKIE_MAX_AGE}; "
                "HttpOnly; SameSite=Strict"
            )
        return delegate

    def _cookie(self, request: tornado.httputil.HTTPServerRequest) -> str | None:
        header = request.headers.get("Cookie")
        if not header or self.policy.token is None:
            return None
        # tornado's parser reads like browsers write: other cookies of the host
        # with odd values do not hide ours (http.cookies stops at them).
        return tornado.httputil.parse_cookie(header).get(self.cookie_name)

    def _log_refusal(self, request: tornado.httputil.HTTPServerRequest, r: Refusal) -> None:
        # One line per kind of refusal every few seconds: a hostile page must
        # not be able to flood the log.
        self._quiet.warning(
            r.code,
            "refused %s %s from %s (%d %s): %s",
            request.method,
            request.path,
            request.remote_ip,
            r.status,
            r.code,
            r.message,
        )


def _wants_html(request: tornado.httputil.HTTPServerRequest) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def _token_page(service: Service, r: Refusal) -> str:
    """The 401 page a browser shows: how to get in, no token in it."""
    where = (
        f"in the file <code>{html.escape(str(service.token_path))}</code> on the service's machine"
        if service.token_source in ("created", "file") and service.token_path
        else f"the one the service was started with (--token or {TOKEN_ENV})"
    )
    wrong = (
        "<p>This browser sent a token that is no longer the service's.</p>"
        if r.code == "token_invalid"
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>indiws: access token required</title></head><body>"
        "<h1>Access token required</h1>"
        f"{wrong}<p>This service answers only browsers and programs that carry its access "
        "token. Open this page once with <code>?token=&lt;token&gt;</code> added to its "
        "address, as the service's log prints it at start-up; the browser then keeps a "
        "cookie and needs it no more.</p>"
        f"<p>The token is {where}.</p>"
        "<p>Programs send the header <code>Authorization: Bearer &lt;token&gt;</code>.</p>"
        "</body></html>"
    )


def _is_upgrade(request: tornado.httputil.HTTPServerRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _take_query_token(request: tornado.httputil.HTTPServerRequest) -> str | None:
    """The ``token`` query parameter, removed from the request so that no
    handler sees it and the access log does not show it."""
    values = request.query_arguments.pop("token", None)
    if values is None:
        return None
    request.arguments.pop("token", None)
    kept = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "token"]
    request.query = urlencode(kept)
    request.uri = request.path + ("?" + request.query if request.query else "")
    return values[-1].decode("utf-8", "replace")


def access_notes(service: Service) -> list[tuple[int, str]]:
    """The log lines (level, text) that tell the operator how the service is
    protected: printed once at start-up, with the token URL when it was made."""
    config = service.config
    notes: list[tuple[int, str]] = []
    if "*" in config.allowed_origins:
        notes.append(
            (
                logging.WARNING,
                "--allow-origin '*': pages of every web site may drive the hardware through "
                "this service",
            )
        )
    token = service.access_token
    if token is None:
        return notes
    url = f"http://{_url_host(config.host)}:{config.port}{LANDING_PATH}"
    if service.token_source == "created":
        # The whole token goes to a file of its own (and to a terminal), never
        # into the log: a log file is read by more people than the token file.
        url_file = service.token_path.with_name(TOKEN_URL_FILE)
        try:
            write_private(url_file, f"{url}?token={token}\n")
            where = f"the URL to open is in {url_file}"
        except OSError as error:
            where = f"the URL to open is {url}?token=<the token in that file> ({error})"
        if sys.stderr.isatty():
            print(
                f"indiws: open this URL once in each browser: {url}?token={token}", file=sys.stderr
            )
        notes.append(
            (
                logging.WARNING,
                f"an access token is required; it was made now ({token[:4]}…{token[-2:]}) and "
                f"kept in {service.token_path}; {where}: open it once in each browser (it sets "
                "a cookie); programs send 'Authorization: Bearer <token>'",
            )
        )
    elif service.token_source == "file":
        notes.append(
            (
                logging.INFO,
                f"an access token is required: the one kept in {service.token_path} "
                f"(open {url}?token=<token> once in each browser)",
            )
        )
    else:
        notes.append(
            (
                logging.INFO,
                f"an access token is required: the one given with --token/{TOKEN_ENV} "
                f"(open {url}?token=<token> once in each browser)",
            )
        )
    return notes


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return socket.gethostname() or "localhost"
    return f"[{host}]" if ":" in host else host
