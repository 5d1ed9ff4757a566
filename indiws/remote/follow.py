"""``indiws run PLAN`` with the service running the plan: submit, then follow.

The plan's text goes to ``POST /api/v1/plans``; the service checks it,
queues it and runs it (docs/sequences.md).  This client only shows what
happens (the plan's events as lines, a progress display on a terminal)
by polling ``GET /api/v1/plans/{id}``, so that a dropped connection or a
restarted service costs nothing: the plan goes on there, and the client
picks up where the events are.  Ctrl-C aborts the plan
(``POST /api/v1/plans/{id}/abort``); ``--detach`` returns once it is queued.

Talks HTTP only; imports nothing of the service.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PLAN",
    "EXIT_SERVICE",
    "FollowOptions",
    "PlanFollower",
    "ServiceError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PLAN = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130
#: Seconds between polls of the plan.
POLL = 0.5


class ServiceError(Exception):
    """The service answered with an error (its JSON body in ``body``)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        nested = body.get("error")
        #: The error object: ``{code, message, data}`` (the API's JSON error body).
        self.error: dict[str, Any] = nested if isinstance(nested, dict) else body
        super().__init__(str(self.error.get("message") or nested or status))


@dataclass(slots=True)
class FollowOptions:
    url: str = "http://127.0.0.1:7999"
    token: str | None = None
    detach: bool = False
    #: How long the service may be unreachable before giving up following.
    reconnect_timeout: float = 300.0
    connect_timeout: float = 30.0


class PlanFollower:
    """Submits a plan and follows it; ``report(kind, **data)`` shows it."""

    def __init__(self, options: FollowOptions, report: Callable[..., None]) -> None:
        self.options = options
        self.report = report
        self.http = AsyncHTTPClient()
        self.plan_id: str | None = None
        self.view: dict[str, Any] = {}
        self._keys: set[tuple[Any, ...]] = set()

    async def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Content-Type": content_type}
        if self.options.token:
            headers["Authorization"] = f"Bearer {self.options.token}"
        request = HTTPRequest(
            self.options.url.rstrip("/") + path,
            method=method,
            body=body if method == "POST" else None,
            headers=headers,
            request_timeout=30,
            allow_nonstandard_methods=True,
        )
        try:
            response = await self.http.fetch(request)
        except HTTPClientError as exc:
            if exc.response is None:
                raise ConnectionError(str(exc)) from None
            try:
                payload = json.loads(exc.response.body or b"{}")
            except ValueError:
                payload = {"message": exc.response.body.decode("utf-8", "replace")[:200]}
            raise ServiceError(exc.code, payload) from None
        return json.loads(response.body or b"null")

    async def submit(self, text: bytes, name: str) -> dict[str, Any]:
        """Queue the plan (its file's bytes) under ``name``; its summary."""
        deadline = time.monotonic() + self.options.connect_timeout
        while True:
            try:
                summary = await self._call(
                    "POST",
                    f"/api/v1/plans?name={quote(name)}",
                    text,
                    "application/yaml",
                )
                break
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        self.plan_id = summary["id"]
        return summary

    async def follow(self) -> int:
        """Until the plan ends: its exit status (0 every frame exists)."""
        assert self.plan_id is not None
        lost_since: float | None = None
        while True:
            try:
                view = await self._call("GET", f"/api/v1/plans/{self.plan_id}?events=1000")
            except (ConnectionError, OSError) as exc:
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    self.report("lost", error=str(exc))
                if now - lost_since > self.options.reconnect_timeout:
                    return EXIT_SERVICE
                await asyncio.sleep(1.0)
                continue
            if lost_since is not None:
                lost_since = None
                self.report("back")
            self.view = view
            events = view.get("events") or []
            # Events are appended; the view holds the last ones.
            new = self._new_events(events)
            for event in new:
                self.report("event", event=event, view=view)
            self.report("status", view=view)
            state = view.get("state")
            if state in ("completed", "failed", "aborted"):
                if state == "completed":
                    return EXIT_OK
                return EXIT_INTERRUPTED if state == "aborted" else EXIT_FAILED
            await asyncio.sleep(POLL)

    def _new_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        key = [(e.get("time"), e.get("type"), e.get("message")) for e in events]
        out = [e for e, k in zip(events, key, strict=True) if k not in self._keys]
        self._keys.update(key)
        return out

    async def abort(self) -> None:
        if self.plan_id is not None:
            await self._call("POST", f"/api/v1/plans/{self.plan_id}/abort", b"")
