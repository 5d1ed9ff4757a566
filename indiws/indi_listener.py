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
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from .protocol import (
    EnableBLOB,
    GetProperties,
    NewVector,
    OneBLOB,
    Parser,
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
        self._tasks: set[asyncio.Task[None]] = set()
        self._quiet = QuietLog(log)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    @property
    def connections(self) -> int:
        return len(self._tasks)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        who = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if len(self._tasks) >= self.max_connections:
            self.refused += 1
            self._quiet.warning(
                "cap", "refused an INDI client %s: %d connections already", who, len(self._tasks)
            )
            await _close(writer)
            return
        self._tasks.add(task)
        try:
            await self._relay(reader, writer, who)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._tasks.discard(task)
            await _close(writer)

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, who: str
    ) -> None:
        first = b""
        async with asyncio.timeout(self.first_bytes_timeout):
            while (verdict := looks_like_indi(first)) is None:
                chunk = await reader.read(_READ_SIZE)
                if not chunk:
                    return
                first += chunk
                if len(first) > _READ_SIZE:  # white space without end
                    verdict = False
                    break
        if not verdict:
            self.refused += 1
            self._quiet.warning(
                "not_indi",
                "refused a connection to the INDI port %d from %s: it began with %r, not an INDI "
                "element (an HTTP request, as a web page sends, is never passed to indiserver)",
                self.port,
                who,
                first.lstrip(_WHITESPACE)[:40],
            )
            return
        local = None if self.source is None else (self.source, 0)
        up_reader, up_writer = await asyncio.open_connection(*self.upstream, local_addr=local)
        log.info("INDI client %s connected (port %d)", who, self.port)
        down = asyncio.create_task(_pipe(up_reader, writer))
        try:
            parser = Parser()
            data = first
            while data:
                out, refusals = self._filter(parser.feed(data), who)
                if refusals:
                    writer.write(refusals)
                if out:
                    up_writer.write(out)
                    await up_writer.drain()
                if down.done():
                    break
                data = await reader.read(_READ_SIZE)
        finally:
            down.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await down
            await _close(up_writer)
            log.info("INDI client %s disconnected", who)

    def _filter(self, messages: list, who: str) -> tuple[bytes, bytes]:
        """(bytes for indiserver, messages back to the client)."""
        out: list[bytes] = []
        back: list[bytes] = []
        for msg in messages:
            if isinstance(msg, GetProperties):
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


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(_READ_SIZE):
            writer.write(data)
            await writer.drain()
    # indiserver closed: so does the client's connection.
    with contextlib.suppress(OSError):
        writer.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.CancelledError, Exception):
        await writer.wait_closed()
