"""The INDI port the operator's own INDI clients use (KStars/Ekos,
``indi_getprop``) in embedded mode, filtered by the service.

The embedded indiserver admits no connection but the service's own
(`indiws.manager.server.admit_only_source`), because indiserver skips
whatever precedes the first ``<`` of a connection: an HTTP request that a
web page sends to its port (``fetch("http://127.0.0.1:7624/", {method:
"POST", mode: "no-cors", body: "<newSwitchVector ...>"})``) would run its
body.  This listener stands in front of it:

- a connection whose first byte (after white space) is not ``<`` is closed
  before a byte reaches indiserver: every request a browser can make starts
  with an HTTP method (or a TLS handshake), every INDI client with an element;
- what a client sends is parsed and sent on re-encoded, element by element, so
  only well-formed INDI reaches indiserver, and each property write is put to
  the service's hardware-write policy (`indiws.devices.writes`): a write that
  moves hardware is refused while the observatory is unsafe (the client gets
  an INDI ``message`` saying why); INDI has no way to say "force", so the
  operator forces through the service's API instead;
- what indiserver sends passes unchanged;
- connections are capped (``max_connections``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from .protocol import (
    EnableBLOB,
    GetProperties,
    NewVector,
    OneBLOB,
    Parser,
    ProtocolError,
    enable_blob_bytes,
    get_properties_bytes,
    new_vector_bytes,
)
from .security import QuietLog

__all__ = ["IndiListener", "WriteCheck", "looks_like_indi"]

log = logging.getLogger("indiws.indi_listener")

#: Called with (a client's property write, who wrote it): None lets it
#: through, else the reason it is refused.
WriteCheck = Callable[[NewVector, str], str | None]

_READ_SIZE = 1 << 16
_WHITESPACE = b" \t\r\n"


def looks_like_indi(first: bytes) -> bool | None:
    """Whether a connection's first bytes are INDI (True), surely not (False:
    an HTTP request line, a TLS handshake, anything but an element), or not
    known yet (None: only white space so far)."""
    stripped = first.lstrip(_WHITESPACE)
    if not stripped:
        return None
    return stripped.startswith(b"<")


class IndiListener:
    """Serves ``host:port`` for INDI clients, forwarding to indiserver at
    ``upstream`` (connected from ``source``, the one address it admits)."""

    def __init__(
        self,
        host: str,
        port: int,
        upstream: tuple[str, int],
        *,
        source: str | None = None,
        check_write: WriteCheck | None = None,
        max_connections: int = 32,
        first_bytes_timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.upstream = upstream
        self.source = source
        self.check_write = check_write
        self.max_connections = max_connections
        self.first_bytes_timeout = first_bytes_timeout
        #: Connections refused (not INDI, or over the cap) since the start.
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._clients: set[_ClientSide] = set()
        self._quiet = QuietLog(log)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self), self.host, self.port, reuse_address=True
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    @property
    def connections(self) -> int:
        return len(self._clients)

    def refuse(self, kind: str, msg: str, *args: object) -> None:
        self.refused += 1
        self._quiet.warning(kind, msg, *args)

    def filter(self, messages: list, who: str) -> tuple[bytes, bytes]:
        """(bytes for indiserver, messages back to the client)."""
        out: list[bytes] = []
        back: list[bytes] = []
        skip = False
        for msg in messages:
            if skip:  # held characters XML cannot carry: never sent on
                skip = False
                log.warning(
                    "dropped a write from INDI client %s: %s", who, getattr(msg, "name", msg)
                )
                continue
            if isinstance(msg, ProtocolError) and msg.repaired:
                skip = True
            elif isinstance(msg, GetProperties):
                out.append(get_properties_bytes(msg.device, msg.name))
            elif isinstance(msg, EnableBLOB):
                out.append(enable_blob_bytes(msg.device, msg.mode, msg.name))
            elif isinstance(msg, NewVector):
                reason = None if self.check_write is None else self.check_write(msg, who)
                if reason is not None:
                    log.warning(
                        "refused %s.%s from INDI client %s: %s", msg.device, msg.name, who, reason
                    )
                    text = f"indiws refused {msg.name}: {reason}"
                    attrs = f"device={quoteattr(msg.device)} message={quoteattr(text)}"
                    back.append(f"<message {attrs}/>\n".encode())
                    # The property back to Alert: a client that showed it Busy
                    # (KStars does, once it has sent a write) shows it failed.
                    tag = f"set{msg.kind.value}Vector"
                    name = quoteattr(msg.name)
                    back.append(f'<{tag} {attrs} name={name} state="Alert"></{tag}>\n'.encode())
                    continue
                values = [
                    (e.name, (e.data, e.format) if isinstance(e, OneBLOB) else e.value)
                    for e in msg.elements
                ]
                try:
                    out.append(new_vector_bytes(msg.kind, msg.device, msg.name, values))
                except (ValueError, TypeError) as error:
                    log.warning(
                        "dropped %s.%s from INDI client %s: %s", msg.device, msg.name, who, error
                    )
            else:  # junk, or what only a server sends
                log.debug("dropped %r from INDI client %s", msg, who)
        return b"".join(out), b"".join(back)


class _ClientSide(asyncio.Protocol):
    """One INDI client's connection.  Protocol callbacks rather than streams:
    what a client sent just before it closed (``indi_setprop`` writes and
    quits) is handled as it arrives, never lost to a reset of the socket."""

    def __init__(self, listener: IndiListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.who = "?"
        self.first = b""
        self.admitted = False
        self.pending: list[bytes] = []  # sent on once indiserver is connected
        self.parser = Parser()
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._connecting: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.who = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        listener = self.listener
        if len(listener._clients) >= listener.max_connections:
            listener.refuse(
                "cap",
                "refused an INDI client %s: %d connections already",
                self.who,
                len(listener._clients),
            )
            self.closed = True
            transport.abort()
            return
        listener._clients.add(self)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(listener.first_bytes_timeout, self._no_first_bytes)

    def _no_first_bytes(self) -> None:
        if not self.admitted:
            self.listener.refuse(
                "silent",
                "closed an INDI client %s that sent nothing for %g s",
                self.who,
                self.listener.first_bytes_timeout,
            )
            self.close()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.admitted:
            self.first += data
            verdict = looks_like_indi(self.first)
            if verdict is None and len(self.first) <= _READ_SIZE:
                return
            if not verdict:
                self.listener.refuse(
                    "not_indi",
                    "refused a connection to the INDI port %d from %s: it began with %r, not an "
                    "INDI element (an HTTP request, as a web page sends, is never passed to "
                    "indiserver)",
                    self.listener.port,
                    self.who,
                    self.first.lstrip(_WHITESPACE)[:40],
                )
                self.close()
                return
            self.admitted = True
            data, self.first = self.first, b""
            if self._timer is not None:
                self._timer.cancel()
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        out, back = self.listener.filter(self.parser.feed(data), self.who)
        if back and self.transport is not None:
            self.transport.write(back)
        if out:
            if self.upstream is None:
                self.pending.append(out)
            else:
                self.upstream.write(out)

    async def _connect(self) -> None:
        listener = self.listener
        local = None if listener.source is None else (listener.source, 0)
        try:
            transport, _ = await asyncio.get_running_loop().create_connection(
                lambda: _UpstreamSide(self), *listener.upstream, local_addr=local
            )
        except OSError as error:
            log.warning("INDI client %s: indiserver cannot be reached: %s", self.who, error)
            self.close()
            return
        assert isinstance(transport, asyncio.Transport)
        if self.closed and not self.pending:
            transport.close()
            return
        self.upstream = transport
        log.info("INDI client %s connected (port %d)", self.who, listener.port)
        for chunk in self.pending:
            transport.write(chunk)
        self.pending.clear()
        if self.closed:  # the client sent its last words and left
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.admitted and not self.closed:
            # A write to a client that has left failed: what it sent last
            # (indi_setprop writes and quits) may still wait unread.
            for chunk in _unread(self.transport):
                self.data_received(chunk)
        self.closed = True
        self.listener._clients.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self.upstream is not None:
            self.upstream.close()  # after what is buffered for indiserver
            log.info("INDI client %s disconnected", self.who)

    # Flow control: a client that does not read holds indiserver's side.
    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and not self.upstream.is_closing():
            self.upstream.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self.upstream is not None:
            self.upstream.close()
        elif self._connecting is not None and not self.pending:
            self._connecting.cancel()


class _UpstreamSide(asyncio.Protocol):
    """indiserver's side of one client's connection: passed on unchanged."""

    def __init__(self, client: _ClientSide) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        transport = self.client.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        transport = self.client.transport
        if transport is not None:
            transport.close()  # indiserver went: so does the client

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        transport = self.client.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()


def _unread(transport: asyncio.BaseTransport | None) -> list[bytes]:
    """What the socket of a transport that asyncio closes on an error still
    holds unread (its socket is closed only after ``connection_lost``)."""
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is None:
        return []
    chunks: list[bytes] = []
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as dup:
            dup.setblocking(False)
            while chunk := dup.recv(_READ_SIZE):
                chunks.append(chunk)
    except OSError:
        pass
    return chunks
