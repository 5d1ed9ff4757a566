"""One Alpaca device's state beside the device verbs (docs/alpaca.md): whether
Alpaca clients connected it, the operations it started in the background,
a camera's frame settings and last image, a mount's target."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .protocol import NOT_CONNECTED, AlpacaError, error_for

if TYPE_CHECKING:
    from ..service import Service

__all__ = ["AlpacaDevice"]

log = logging.getLogger("indiws.alpaca")


@dataclass(eq=False)
class AlpacaDevice:
    """One Alpaca device: a role (or the safety policy) of the service, with
    the state Alpaca keeps beside the device verbs: whether Alpaca clients
    connected it, the operation started last, a camera's frame settings and
    last image, a mount's target."""

    service: Service
    device_type: str
    number: int
    role: str
    unique_id: str
    connected_flag: bool = False
    connecting: asyncio.Task[Any] | None = None
    #: Background operations by kind ("slew", "move", "shutter", "expose", ...).
    tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    image: tuple[str, np.ndarray] | None = None

    # The role's device ---------------------------------------------------

    @property
    def device_name(self) -> str | None:
        if self.role == "safety":
            return None
        return self.service.roles.device_for(self.role)

    def dev(self) -> Any:
        return self.service.role_device(self.role)

    def indi_connected(self) -> bool:
        if self.role == "safety":
            return True
        name = self.device_name
        dev = self.service.client.devices.get(name) if name else None
        return bool(dev and dev.connected)

    @property
    def connected(self) -> bool:
        return self.connected_flag and self.indi_connected()

    def require_connected(self) -> None:
        name = self.device_name
        if self.values.get("device", name) != name:
            # Another device plays the role now: the last one's frame, subframe
            # and targets are not its own.
            self.values.clear()
            self.errors.clear()
            self.image = None
        self.values["device"] = name
        if not self.connected_flag:
            raise AlpacaError(
                NOT_CONNECTED,
                f"{self.device_type} {self.number} is not connected: "
                "set Connected (or call Connect) first",
            )
        if not self.indi_connected():
            raise AlpacaError(
                NOT_CONNECTED,
                f"the {self.role} role has no device"
                if name is None
                else f"{name} ({self.role}) is not connected on indiserver",
            )

    def status(self) -> dict[str, Any]:
        return self.dev().status()

    def capabilities(self) -> dict[str, Any]:
        return self.dev().info().get("capabilities") or {}

    # Background operations ----------------------------------------------

    def running(self, kind: str) -> bool:
        task = self.tasks.get(kind)
        return task is not None and not task.done()

    async def start(self, kind: str, coro: Coroutine[Any, Any, Any], early: float = 0.3) -> None:
        """Start a device verb and answer at once: a refusal that comes at
        once (parked, unsafe, out of range) is the member's error; a later
        failure is logged and shows in the state members."""
        # An operation of the same kind still running is not cancelled here:
        # the device layer ends it when the newer one starts (a newer goto
        # replaces the older), as ASCOM's clients expect.
        self.errors.pop(kind, None)
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks[kind] = task
        task.add_done_callback(lambda t: self._ended(kind, t))
        done, _ = await asyncio.wait({task}, timeout=early)
        if done and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    def _ended(self, kind: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self.tasks.get(kind) is not task:
            return  # a newer operation of this kind reports for itself
        exc = task.exception()
        if exc is not None:
            self.errors[kind] = exc
            if error_for(exc) is None:
                log.error("%s %d: %s failed", self.device_type, self.number, kind, exc_info=exc)
            else:
                log.info("%s %d: %s failed: %s", self.device_type, self.number, kind, exc)

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
