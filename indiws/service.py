"""The running service: configuration and the long-lived objects the web
layer calls into (INDI client, state database, roles)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import INDIClient
from .db import StateDB
from .roles import RoleManager

__all__ = ["Config", "Service", "default_data_dir"]

log = logging.getLogger("indiws")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/indiws`` (``~/.local/share/indiws``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "indiws"


@dataclass(slots=True)
class Config:
    #: indiserver to connect to; None host means "start our own" (embedded).
    indi_host: str | None = "localhost"
    indi_port: int = 7624
    #: Where the HTTP/WebSocket server listens.
    host: str = "127.0.0.1"
    port: int = 7999
    data_dir: Path = field(default_factory=default_data_dir)
    #: Seconds between status notifications on /ws/indi_client/.
    status_interval: float = 2.0
    #: Per WebSocket client: messages waiting to be sent before the client
    #: is dropped as too slow (property updates coalesce before that).
    max_pending_messages: int = 5000
    #: Origins allowed to open WebSockets (besides same-host); "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Service:
    """Owns the INDI client, the state database and the role manager."""

    def __init__(self, config: Config) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = StateDB.in_data_dir(config.data_dir)
        self.client = INDIClient(config.indi_host or "localhost", config.indi_port)
        self.roles = RoleManager(self.client, self.db)

    async def start(self) -> None:
        """Start connecting to indiserver (in the background: the HTTP API
        answers even while indiserver is not reachable yet)."""
        log.info("data directory: %s", self.config.data_dir)
        self.client.start()

    async def stop(self) -> None:
        self.roles.close()
        await self.client.close()
        self.db.close()
