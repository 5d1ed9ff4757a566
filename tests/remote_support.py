"""Helpers for the remote client's tests: a service on a port of our choosing,
and a service that goes away as when its process ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indiws.testing import IndiServerProcess, RunningService


async def serve_on(indi: IndiServerProcess, data: Path, port: int, **config: Any) -> RunningService:
    """The service against ``indi`` on ``port`` (to restart it on the same one)."""
    from indiws.service import Config, Service
    from indiws.web.app import make_app, server_options

    config.setdefault("min_altitude", None)  # as in indiws.testing.start_service
    cfg = Config(
        indi_host=indi.host,
        indi_port=indi.port,
        host="127.0.0.1",
        port=port,
        data_dir=data,
        **config,
    )
    service = Service(cfg)
    await service.start()
    await service.client.wait_synced(timeout=15)
    server = make_app(service).listen(port, "127.0.0.1", **server_options(cfg))
    return RunningService(service, server, port)


async def vanish(running: RunningService) -> None:
    """Stop the service as when its process ends: every socket and the port close."""
    from indiws.web.highlevel import ClientHub

    for sock in list(running.state.get(ClientHub).sockets):
        sock.close()
    await running.stop()
