"""The tornado application: every route of the service in one place.

The top floor of the web layer.  Below it, the fronts (JSON-RPC sockets,
lightAPT's envelope, REST, the seed's URLs, PHD2's HTTP, the panel); below
them, the core they share (`base`, `errors`, `limits`, `outbox`,
`jsonrpc`, `openapi`, `state`), which imports no front
(tests/test_imports.py).  `make_app` builds the per-service `WebState` and
hands it to every handler through the application's settings.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from ..service import Config, Service
from . import (
    aliases,
    blobs,
    guiding_rpc,
    highlevel,
    indi_socket,
    manager_api,
    openapi,
    panel,
    phd2_http,
    plans_api,
    rest,
    seed,
    streams,
    verb_routes,
)
from .base import JsonHandler
from .gate import GatedApplication
from .highlevel import ClientHub
from .server import connection_cap
from .state import SETTING, WebState
from .streams import StreamHub


class NotFoundHandler(JsonHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, f"no such endpoint: {self.request.path}")


#: Modules that contribute routes: each has ``routes(service) -> list``.
ROUTE_MODULES: list[Any] = [
    seed,
    streams,
    indi_socket,
    highlevel,
    guiding_rpc,
    phd2_http,
    blobs,
    rest,
    verb_routes,  # POST /api/v1/roles/{role}/{verb}, /api/v1/actions: from the verbs
    plans_api,
    manager_api,
    aliases,  # /indi/... and /indiweb/api/...: the routes above under lightAPT's prefixes
    openapi,
    panel,  # last: with --ui its catch-all route takes what no other route matched
]


def make_app(service: Service, **settings: Any) -> GatedApplication:
    """Every route, behind the request gate (web/gate.py): Host, cross-site, token.

    The application's `WebState` (``settings["web_state"]``, `state_of`)
    holds the fan-out hubs, subscribed from the start; close it
    (`WebState.close`) before the service stops."""
    state = WebState(service)
    state.add(StreamHub(service.client))
    state.add(ClientHub(service))
    settings[SETTING] = state
    handlers: list = []
    for module in ROUTE_MODULES:
        handlers.extend(module.routes(service))
    settings.setdefault("websocket_ping_interval", 20)
    settings["route_modules"] = tuple(ROUTE_MODULES)  # what the OpenAPI document merges
    # gzip where it pays: text (the panel's HTML, CSS, JS; JSON answers) of
    # 1 KiB or more, for a client that accepts it; never images or frames
    # (tornado's GZipContentEncoding picks by Content-Type).
    settings.setdefault("compress_response", True)
    return GatedApplication(
        handlers,
        service,
        default_handler_class=NotFoundHandler,
        default_handler_args={"service": service},
        **settings,
    )


def server_options(config: Config) -> dict[str, Any]:
    """Options of the HTTP server (``app.listen(port, host, **server_options(config))``).

    Handlers refuse a body over their own limit with 413 before reading it;
    this cap is for the others (a POST to a WebSocket URL).  The buffer holds
    one WebSocket message whole.  A client that sends no headers within
    ``header_timeout`` (also the keep-alive idle time), or its body at a
    trickle (5 min), is dropped; connections are capped
    (`indiws.web.server.GuardedHTTPServer`).
    """
    largest = max(config.max_message_bytes, config.max_upload_bytes)
    return {
        "max_body_size": largest,
        "max_buffer_size": largest + (1 << 20),
        "idle_connection_timeout": config.header_timeout,
        "header_timeout": config.header_timeout,
        "body_timeout": 300.0,
        "max_connections": connection_cap(config.max_connections),
        "max_connections_per_peer": config.max_connections_per_peer,
    }
