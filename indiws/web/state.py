"""The web layer's state of one service, made once and handed to the handlers.

`make_app` builds one `WebState` per application: the send budget shared by
every socket's outbox, and the fronts' fan-out hubs (the property streams',
``/ws/indi_client/``'s), each added as a part by the module that defines
it.  The application's settings carry it (``settings["web_state"]``);
a handler reads it with `web_state`.  Nothing of it lives in a module-level
registry keyed by the service: two services in one process (the tests run
many) never share a hub, and stopping the application closes its parts.

This module is of the web layer's core floor: it imports no front.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypeVar

import tornado.web

from ..service import Service
from .outbox import SendBudget

__all__ = ["SETTING", "WebState", "state_of", "web_state"]

log = logging.getLogger("indiws.web")

T = TypeVar("T")

#: The application setting that holds the `WebState`.
SETTING = "web_state"


class _Closable(Protocol):
    def close(self) -> None: ...


class WebState:
    """What the web layer keeps for one service while its application runs."""

    def __init__(self, service: Service) -> None:
        self.service = service
        #: The bound on what all the service's sockets hold unsent (web/outbox.py).
        self.send_budget = SendBudget(service.config.max_total_pending_bytes)
        self._parts: dict[type, Any] = {}

    def add(self, part: T) -> T:
        """Keep ``part`` (one per class: a hub of a front) until `close`."""
        cls = type(part)
        if cls in self._parts:
            raise ValueError(f"the web state has a {cls.__name__} already")
        self._parts[cls] = part
        return part

    def get(self, cls: type[T]) -> T:
        """The part of class ``cls`` (`add` put it there)."""
        try:
            return self._parts[cls]  # type: ignore[no-any-return]
        except KeyError:
            raise LookupError(f"the web state has no {cls.__name__}: make_app adds it") from None

    def close(self) -> None:
        """Close every part (last added first): their event subscriptions
        and timers end before the service stops."""
        for part in reversed(list(self._parts.values())):
            closable: _Closable | None = part if hasattr(part, "close") else None
            if closable is None:
                continue
            try:
                closable.close()
            except Exception:  # one part must not keep the others open
                log.exception("closing %s failed", type(part).__name__)


def state_of(app: tornado.web.Application) -> WebState:
    """The `WebState` of an application made by `make_app`."""
    state = app.settings.get(SETTING)
    if not isinstance(state, WebState):
        raise LookupError("the application has no web state: make it with make_app")
    return state


def web_state(handler: tornado.web.RequestHandler) -> WebState:
    """The `WebState` of the handler's application."""
    return state_of(handler.application)
