"""Notifications of a plan's main events: a JSON POST to each URL.

Sent in the background, retried with backoff (1, 2, 4, ... s, at most
`ATTEMPTS` tries), through a bounded queue: a slow or dead receiver never
holds up the night, and when the queue is full the oldest notification is
dropped (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["EVENTS", "Notifier"]

log = logging.getLogger("indiws.plans")

#: Event types that are notified.
EVENTS = frozenset(
    {
        "plan_started",
        "plan_finished",
        "plan_failed",
        "target_skipped",
        "frame_failed",
        "meridian_flip",
        "meridian_flip_failed",
        "plan_aborted",
        "service_lost",
    }
)
ATTEMPTS = 5
QUEUE = 200
TIMEOUT = 10.0


class Notifier:
    """Posts ``{"event", "plan_id", "plan", "message", "time", ...}`` to URLs."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self.urls = list(urls)
        self._queue: deque[tuple[str, dict[str, Any], int]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="plan-notify")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def send(self, payload: dict[str, Any], urls: Iterable[str] = ()) -> None:
        """Queue ``payload`` for the service's URLs and ``urls`` (the plan's)."""
        for url in dict.fromkeys([*self.urls, *urls]):
            if len(self._queue) >= QUEUE:
                old = self._queue.popleft()
                self.dropped += 1
                log.warning("notification to %s dropped: too many waiting", old[0])
            self._queue.append((url, payload, 0))
        self._wake.set()

    async def _run(self) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        client = AsyncHTTPClient()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            url, payload, tries = self._queue.popleft()
            request = HTTPRequest(
                url,
                method="POST",
                body=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                request_timeout=TIMEOUT,
                connect_timeout=TIMEOUT,
                follow_redirects=False,
            )
            try:
                await client.fetch(request)
                self.sent += 1
            except Exception as exc:
                tries += 1
                if tries >= ATTEMPTS:
                    self.failed += 1
                    log.warning("notification to %s failed %d times: %s", url, tries, exc)
                    continue
                # Retried later, in its own task: the others are not held up.
                asyncio.get_running_loop().call_later(
                    2 ** (tries - 1), self._again, url, payload, tries
                )

    def _again(self, url: str, payload: dict[str, Any], tries: int) -> None:
        if len(self._queue) < QUEUE:
            self._queue.append((url, payload, tries))
            self._wake.set()
        else:
            self.dropped += 1
