"""WebSocket close codes a client can read: 1007 for a text frame that is
not UTF-8, 1009 for a message past the size bound, even while the client is
still sending it (RFC 6455 section 7.4.1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, websocket_connect
from ws_support import WsClient, masked_frame, raw_websocket, read_close, tick_driver_command

from indiws.testing import IndiServerFactory, RunningService, start_service


@pytest.fixture
async def service(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> AsyncIterator[RunningService]:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data", max_upload_bytes=1 << 20)
    yield running
    await running.stop()


async def test_a_text_frame_that_is_not_utf8_closes_with_1007(service: RunningService) -> None:
    loop = asyncio.get_running_loop()
    for path in ("/ws/indi/", "/ws/indi_client/", "/ws/debugging/"):
        sock = await raw_websocket(service.port, path)
        try:
            await loop.sock_sendall(sock, masked_frame(0x1, b'{"method": "\xff\xfe"}'))
            closed = await read_close(sock)
            assert closed is not None, f"{path}: reset without a close frame"
            code, reason = closed
            assert code == 1007, path
            assert "UTF-8" in reason
        finally:
            sock.close()
    # Other clients are served meanwhile.
    other = await WsClient.open(service.ws_url + "/ws/indi/")
    try:
        assert any(d["name"] == "Tick" for d in await other.call("devices"))
    finally:
        await other.close()


async def test_a_frame_past_the_bound_closes_with_1009_while_the_client_still_sends(
    service: RunningService,
) -> None:
    """A client that sends a 16 MiB message where 1 MiB is the bound reads
    the 1009 close (the service reads and drops the rest of the frame instead
    of resetting the connection under the client's feet)."""
    conn = await websocket_connect(service.ws_url + "/ws/indi/", max_message_size=1 << 20)
    data = "x" * (16 << 20)
    message = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "devices", "params": [data]})
    sending = asyncio.ensure_future(conn.write_message(message))
    while await conn.read_message() is not None:
        pass
    assert conn.close_code == 1009
    assert "too big" in (conn.close_reason or "")
    with contextlib.suppress(StreamClosedError, WebSocketClosedError):
        await sending
    # A raw client with a tiny receive buffer, which has not yet read the
    # answers it asked for, sends the whole oversized frame before it reads:
    # after its answers it finds the close frame (the close frame waited
    # behind them; the connection was not reset with it unsent).
    loop = asyncio.get_running_loop()
    sock = await raw_websocket(service.port, "/ws/indi/")
    try:
        batch = [{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(50)]
        await loop.sock_sendall(sock, masked_frame(0x1, json.dumps(batch).encode()))
        size = 8 << 20
        await loop.sock_sendall(sock, struct.pack("!BBQ", 0x81, 0x80 | 127, size) + b"\0" * 4)

        async def send_rest() -> None:
            with contextlib.suppress(OSError):
                for _ in range(size // (1 << 16)):
                    await loop.sock_sendall(sock, b"a" * (1 << 16))

        await send_rest()  # all of it before reading: the close frame waits
        closed = await read_close(sock)
        assert closed is not None, "reset without a close frame"
        assert closed[0] == 1009
    finally:
        sock.close()
