"""A small JSON-RPC WebSocket client for the WebSocket tests (tornado's client)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import socket
import stat
import struct
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgspec
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

#: The bench's own INDI driver: device "Tick", property TICK updated at a set rate.
TICK_DRIVER = Path(__file__).resolve().parent.parent / "bench" / "tick_driver.py"


def tick_driver_command(folder: Path) -> str:
    """A path indiserver can run: the tick driver under this test's interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "tick_driver"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TICK_DRIVER}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return os.fspath(wrapper)


async def http(svc: Any, path: str) -> HTTPResponse:
    """GET ``path`` of a `RunningService`, whatever its status."""
    return await AsyncHTTPClient().fetch(svc.url + path, raise_error=False)


async def http_json(svc: Any, path: str) -> Any:
    """GET ``path`` of a `RunningService`, which must answer 200 with JSON."""
    resp = await http(svc, path)
    assert resp.code == 200, (path, resp.code, resp.body[:300])
    return json.loads(resp.body)


def declared_result(path: str, method: str) -> Any:
    """The result type the JSON-RPC socket at ``path`` declares for ``method``
    (its `RpcMethod.result_type`); None for another path or an unknown method."""
    from indiws.web.highlevel import IndiClientSocket
    from indiws.web.indi_socket import IndiSocket
    from indiws.web.streams import DebuggingSocket

    sockets = {
        "/ws/indi_client": IndiClientSocket,
        "/ws/indi": IndiSocket,
        "/ws/debugging": DebuggingSocket,
    }
    socket_class = sockets.get(path.rstrip("/"))
    found = socket_class.methods.get(method) if socket_class is not None else None
    return None if found is None else found.result_type


def check_result(path: str, method: str, result: Any) -> None:
    """Fail unless ``result`` has only the fields its method declares, each
    of its declared type (docs/verbs.md): every `WsClient.call` checks this."""
    declared = declared_result(path, method)
    if declared is not None:
        try:
            msgspec.convert(result, declared)
        except msgspec.ValidationError as exc:
            raise AssertionError(f"{method} answered outside its result schema: {exc}") from None


class WsClient:
    """Sends requests, matches answers by id, queues notifications.

    ``notes`` receives every notification with the time it arrived;
    `next_note` takes them in order.  Every result of `call` is checked
    against the type its method declares (`check_result`).
    """

    def __init__(self, conn: WebSocketClientConnection, path: str = "") -> None:
        self.conn = conn
        #: The socket's path (``/ws/indi_client/``): which methods' results to check.
        self.path = path
        self._ids = itertools.count(1)
        self._waiting: dict[Any, asyncio.Future[dict]] = {}
        #: Answers without an id (parse errors, invalid requests), in order.
        self.anonymous: asyncio.Queue[dict] = asyncio.Queue()
        self.notes: asyncio.Queue[tuple[float, dict]] = asyncio.Queue()
        #: Every message, in arrival order: (time.time(), message).
        self.log: list[tuple[float, dict]] = []
        self.closed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str) -> WsClient:
        # A batch of 100 rpc.discover answers is ~23 MB: over tornado's 10 MiB default.
        return cls(await websocket_connect(url, max_message_size=64 << 20), urlparse(url).path)

    async def _read(self) -> None:
        while True:
            text = await self.conn.read_message()
            if text is None:
                self.closed.set()
                for fut in self._waiting.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("WebSocket closed"))
                return
            data = json.loads(text)
            now = time.time()
            self.log.append((now, data))
            # A batch's answers come as one array: each item is handled alone.
            for msg in data if isinstance(data, list) else [data]:
                self._dispatch(now, msg)

    def _dispatch(self, now: float, msg: dict) -> None:
        if "method" in msg:
            self.notes.put_nowait((now, msg))
        elif msg.get("id") is None:
            self.anonymous.put_nowait(msg)
        else:
            fut = self._waiting.pop(msg["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def request(self, method: str, params: Any = None, timeout: float = 10.0) -> dict:
        """Send a request; return the whole answer (with ``result`` or ``error``)."""
        rid = next(self._ids)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        fut: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.conn.write_message(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    async def call(self, method: str, params: Any = None, timeout: float = 10.0) -> Any:
        """Send a request; return its result (AssertionError on an error answer)."""
        answer = await self.request(method, params, timeout)
        assert "error" not in answer, answer
        check_result(self.path, method, answer["result"])
        return answer["result"]

    async def error(self, method: str, params: Any = None, timeout: float = 10.0) -> dict:
        """Send a request that must fail; return its ``error`` object."""
        answer = await self.request(method, params, timeout)
        assert "error" in answer, answer
        return answer["error"]

    async def raw(self, text: str, rid: Any = None, timeout: float = 5.0) -> dict:
        """Send text as it is; return the answer with id ``rid`` (next one without an id
        by default)."""
        if rid is None:
            await self.conn.write_message(text)
            return await asyncio.wait_for(self.anonymous.get(), timeout)
        fut: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.conn.write_message(text)
        return await asyncio.wait_for(fut, timeout)

    async def next_note(
        self,
        method: str | None = None,
        where: Callable[[dict], bool] | None = None,
        timeout: float = 10.0,
    ) -> dict:
        """The next notification of ``method`` (skipping others) that satisfies ``where``."""
        async with asyncio.timeout(timeout):
            while True:
                _, msg = await self.notes.get()
                if method is not None and msg["method"] != method:
                    continue
                if where is None or where(msg["params"]):
                    return msg

    async def connect_device(self, device: str, *needs: str, timeout: float = 15.0) -> None:
        """Connect ``device`` (INDI CONNECTION) and wait until the properties
        it defines once connected (``needs``) are there."""
        await self.call(
            "set", {"device": device, "property": "CONNECTION", "values": {"CONNECT": True}}
        )
        async with asyncio.timeout(timeout):
            for name in needs:
                while "error" in await self.request(  # noqa: ASYNC110 (polling over the socket)
                    "get", {"device": device, "property": name}
                ):
                    await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.conn.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


async def raw_websocket(port: int, path: str) -> socket.socket:
    """A WebSocket opened by hand, with a tiny receive buffer, never read
    until the test says so."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode(),
    )
    head = b""
    while b"\r\n\r\n" not in head:  # the answer's head only: not one frame more
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


# ------------------------------------------------------- raw WebSocket frames


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client's frame (masked with a zero mask: the payload goes as it is)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


def client_frame(text: str) -> bytes:
    """A client's text frame."""
    return masked_frame(0x1, text.encode())


async def read_close(sock: socket.socket, timeout: float = 20.0) -> tuple[int, str] | None:
    """The server's frames until its close frame: (code, reason); None if the
    connection ended (or was reset) without one."""
    loop = asyncio.get_running_loop()
    buf = b""
    async with asyncio.timeout(timeout):
        while True:
            try:
                chunk = await loop.sock_recv(sock, 1 << 16)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
            while len(buf) >= 2:
                opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
                start = 2
                if n == 126:
                    n, start = struct.unpack("!H", buf[2:4])[0], 4
                elif n == 127:
                    n, start = struct.unpack("!Q", buf[2:10])[0], 10
                if len(buf) < start + n:
                    break
                payload, buf = buf[start : start + n], buf[start + n :]
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()


@contextlib.contextmanager
def sent_to(svc: Any, device: str) -> Iterator[list[bytes]]:
    """The commands (``new*Vector``) the service sends ``device`` meanwhile
    (a spy on its connection to indiserver: every byte still goes there)."""
    client = svc.service.client
    write = client._write
    seen: list[bytes] = []
    # A command *to* the device (the device's name also appears in other
    # devices' texts, e.g. the CCD's ACTIVE_DEVICES naming the mount).
    to_device = re.compile(rb'<new\w+Vector device="' + re.escape(device.encode()) + rb'"')

    def spy(data: bytes) -> None:
        if to_device.search(data):
            seen.append(data)
        write(data)

    client._write = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del client._write
