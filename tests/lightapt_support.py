"""A lightAPT front end's side of ``/ws/indi_client/``: raw text frames out,
every frame in, as lightAPT's debug page and cobalt-web do."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from indiws.testing import IndiServerProcess, RunningService

#: The devices of the shared four-simulator indiserver, by lightAPT role.
SCOPE, CCD, FOCUSER, WHEEL = (
    "Telescope Simulator",
    "CCD Simulator",
    "Focuser Simulator",
    "Filter Simulator",
)
ROLE_DEVICES = {"telescope": SCOPE, "camera": CCD, "focuser": FOCUSER, "filter_wheel": WHEEL}


def module_indiserver(*drivers: str) -> Callable[..., Iterator[IndiServerProcess]]:
    """A module-scoped fixture: a private indiserver running ``drivers``, for
    tests that change what other modules' tests would see (a park, a move).
    The module pairs it with an ``svc`` fixture; ``client`` (tests/conftest.py)
    then opens a `LightAptClient` on that service."""

    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
        process = IndiServerProcess(list(drivers), workdir=tmp_path_factory.mktemp("lightapt"))
        try:
            process.start()
            yield process
        finally:
            process.close()

    return server


async def assign_roles(svc: RunningService, roles: dict[str, str] | None = None) -> None:
    """Give the service's roles to the simulators (connected), as /FIFO/start does."""
    for role, device in (roles or ROLE_DEVICES).items():
        await svc.service.roles.assign(role, device)


class LightAptClient:
    """Sends text frames as they are; keeps every frame received, in order.

    ``replies`` are the frames in lightAPT's shape (anything but JSON-RPC
    notifications, which the socket sends only before its first lightAPT
    request); `ask` sends one request and returns the next reply.
    """

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.frames: list[str] = []
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, svc: RunningService, path: str = "/ws/indi_client/") -> LightAptClient:
        return cls(await websocket_connect(svc.ws_url + path))

    async def _read(self) -> None:
        while True:
            text = await self.conn.read_message()
            if text is None:
                self.closed.set()
                return
            assert isinstance(text, str), "lightAPT's pages expect text frames only"
            self.frames.append(text)
            msg = json.loads(text)  # every frame must be JSON (the pages JSON.parse it)
            if not (isinstance(msg, dict) and msg.get("jsonrpc") == "2.0" and "method" in msg):
                self.replies.put_nowait(msg)

    async def send(self, text: str) -> None:
        await self.conn.write_message(text)

    async def reply(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def ask(
        self, device_name: str, instruction: str, params: list | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send ``{"device_name", "instruction", "params"}`` as JSON.stringify
        writes it and return the reply, which must echo both names."""
        text = json.dumps(
            {"device_name": device_name, "instruction": instruction, "params": params or []},
            separators=(",", ":"),
        )
        await self.send(text)
        reply = await self.reply(timeout)
        assert reply["device_name"] == device_name, reply
        assert reply["instruction"] == instruction, reply
        assert set(reply) >= {"type", "message", "data"}, reply
        return reply

    async def data(self, device_name: str, instruction: str, params: list | None = None) -> Any:
        """Ask and return ``data`` of a ``{"type": "data"}`` reply."""
        reply = await self.ask(device_name, instruction, params)
        assert reply["type"] == "data" and reply["message"] == "see data", reply
        return reply["data"]

    async def success(self, device_name: str, instruction: str, params: list | None = None) -> None:
        reply = await self.ask(device_name, instruction, params)
        assert (reply["type"], reply["message"]) == ("message", "success"), reply

    async def close(self) -> None:
        self.conn.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
