"""Requests as browsers and programs send them, for the security tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from indiws.safety import SafetyConfig
from indiws.testing import RunningService, start_embedded_service

#: What Chromium adds to an ``<img src=...>`` on a page of another site.
IMG_FROM_OTHER_SITE = {
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Dest": "image",
}


@dataclass
class Answer:
    code: int
    headers: Any
    body: Any

    @property
    def error(self) -> str | None:
        """The error's code name, or None."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]["code"]
        return None

    @property
    def message(self) -> str:
        return self.body["error"]["message"]


async def http(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
) -> Answer:
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    resp = await AsyncHTTPClient().fetch(
        HTTPRequest(
            url,
            method=method,
            headers=headers or {},
            body=body,
            follow_redirects=False,
            allow_nonstandard_methods=True,
        ),
        raise_error=False,
    )
    text = resp.body.decode() if resp.body else ""
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Answer(resp.code, resp.headers, parsed)


async def ws_open(url: str, headers: dict[str, str] | None = None) -> WebSocketClientConnection:
    return await websocket_connect(HTTPRequest(url, headers=headers or {}))


async def ws_refused(url: str, headers: dict[str, str] | None = None) -> Answer:
    """The HTTP answer to a WebSocket handshake that must be refused."""
    try:
        conn = await ws_open(url, headers)
    except HTTPClientError as exc:
        assert exc.response is not None
        return Answer(exc.code, exc.response.headers, json.loads(exc.response.body))
    conn.close()
    raise AssertionError(f"the WebSocket {url} opened")


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (None if it has none).

    A UDP socket "connected" to a documentation address sends nothing but
    makes the kernel pick the interface address it would use."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("203.0.113.1", 9))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def until(svc: RunningService, check: Callable[[], Any], timeout: float = 20.0) -> None:
    """Wait until ``check()`` holds, judged again on every INDI or safety event."""
    changed = asyncio.Event()

    def poke(*_: Any) -> None:
        changed.set()

    with svc.service.client.subscribe(poke):
        unsubscribe = svc.service.safety.subscribe(poke)
        try:
            async with asyncio.timeout(timeout):
                while not check():
                    await changed.wait()
                    changed.clear()
        finally:
            unsubscribe()


async def start_observatory(workdir: Path, **config: Any) -> RunningService:
    """An embedded service running the Observatory profile, returned once
    every device is connected and the weather reads ok; its safety policy
    does not call a reading stale or indiserver lost for 10 minutes."""
    config.setdefault("safety", SafetyConfig(weather_stale=600.0, indiserver_timeout=600.0))
    running = await start_embedded_service(workdir, profile="Observatory", **config)
    try:
        await until(
            running,
            lambda: (
                all(d.connected for d in running.service.client.devices.values())
                and running.service.safety.status()["weather"]["state"] == "ok"
            ),
            timeout=30,
        )
    except BaseException:
        await running.stop()
        raise
    return running


@contextlib.asynccontextmanager
async def observatory(workdir: Path, **config: Any) -> AsyncIterator[RunningService]:
    """`start_observatory`'s service, stopped on leaving."""
    running = await start_observatory(workdir, **config)
    try:
        yield running
    finally:
        await running.stop()
