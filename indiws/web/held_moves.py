"""Untimed manual moves (``telescope.move`` without a duration) held by one
``/ws/indi_client/`` socket, stopped when that socket closes.

A jog button is "press to move, release to stop": if the page's connection
drops while the button is held, the release never arrives and the mount
would keep moving until it hits something.  So the service, not only the
page, stops what a socket started and did not stop itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["HeldMoves"]

log = logging.getLogger(__name__)


def _axis_key(direction: str) -> str:
    # "n"/"north" → "n": both spellings name one direction.
    return direction[:1].lower()


class HeldMoves:
    """The untimed moves one socket started and has not stopped yet."""

    def __init__(
        self, spawn: Callable[[Any], asyncio.Future[Any]], owners: dict[tuple[str, str], Any]
    ) -> None:
        #: Runs a coroutine that outlives the socket (ClientHub.spawn).
        self._spawn = spawn
        #: (device, direction key) → the HeldMoves of the socket that started
        #: its latest move, shared by every socket: a socket that closes stops
        #: a direction only if no other socket has started it since.
        self._owners = owners
        #: direction key → (telescope device, the task that started the move)
        self._held: dict[str, tuple[Any, asyncio.Future[Any]]] = {}

    def started(self, telescope: Any, direction: str, task: asyncio.Future[Any]) -> None:
        """A move was asked for (``task`` sends it)."""
        key = _axis_key(direction)
        self._held[key] = (telescope, task)
        self._owners[(telescope.name, key)] = self

    def stopped(self, direction: str | None) -> None:
        """The socket stopped a direction itself (None: every direction)."""
        keys = list(self._held) if direction is None else [_axis_key(direction)]
        for key in keys:
            if (held := self._held.pop(key, None)) is not None:
                owner = (held[0].name, key)
                if self._owners.get(owner) is self:
                    del self._owners[owner]

    def release_all(self, why: str) -> None:
        """Stop every move still held (the socket closed)."""
        held, self._held = self._held, {}
        for key, (telescope, task) in held.items():
            if self._owners.get((telescope.name, key)) is not self:
                continue  # another socket moves it now: its move, its stop
            del self._owners[(telescope.name, key)]
            self._spawn(self._stop(telescope, key, task, why))

    @staticmethod
    async def _stop(telescope: Any, key: str, task: asyncio.Future[Any], why: str) -> None:
        direction = {"n": "north", "s": "south", "e": "east", "w": "west"}.get(key, key)
        try:
            await asyncio.shield(task)  # a move still being sent is stopped after it
        except Exception:
            return  # it never started
        try:
            await telescope.stop(direction)
            log.warning("stopped %s moving %s: %s", telescope.name, direction, why)
        except Exception as exc:  # e.g. indiserver gone as well
            log.error("could not stop %s moving %s (%s): %s", telescope.name, direction, why, exc)
