"""Close codes a WebSocket client can read (RFC 6455 section 7.4.1).

Tornado drops a text frame that is not UTF-8 with the TCP connection, and
after its 1009 close ("message too big") it closes the socket at once, with
the rest of the client's frame unread: the kernel then resets the
connection, and a close frame still waiting in the send buffer (behind
answers the client has not read yet) is lost with it.  `CleanCloseProtocol`
closes with 1007 for a text frame that is not UTF-8, and after a 1009 it
reads and drops what the client still sends (at most `LINGER_BYTES`, for
`LINGER_SECONDS`) until the close frame is out and the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import TYPE_CHECKING

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketProtocol13

if TYPE_CHECKING:
    from asyncio import Future

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "CleanCloseProtocol"]

#: After a 1009 close: the most the service reads (and drops) of the rest of
#: the client's frame, and for how long, before it closes the connection anyway.
LINGER_BYTES = 256 << 20
LINGER_SECONDS = 30.0

_TEXT = 0x1
_BINARY = 0x2


class CleanCloseProtocol(WebSocketProtocol13):
    """Tornado's RFC 6455 protocol, with 1007 and a 1009 the client reads."""

    _linger = False
    _draining: asyncio.Task[None] | None = None

    def _handle_message(self, opcode: int, data: bytes) -> Future[None] | None:
        if opcode in (_TEXT, _BINARY) and self.server_terminated:
            return None  # sent after our close frame: read and dropped
        if opcode != _TEXT or self.client_terminated or self._frame_compressed:
            return super()._handle_message(opcode, data)
        self._message_bytes_in += len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.close(1007, f"a text frame must be UTF-8 (byte {exc.start} is not)")
            return None
        return self._run_callback(self.handler.on_message, text)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self._draining is not None:
            return
        if code == 1009 and not self.server_terminated:
            self._linger = True  # tornado aborts next: drain instead (see _abort)
        super().close(code, reason)

    def _abort(self) -> None:
        if self._draining is not None:
            return
        stream = self.stream
        if not self._linger or stream is None or stream.closed():
            super()._abort()
            return
        self.client_terminated = self.server_terminated = True
        if self._waiting is not None:
            stream.io_loop.remove_timeout(self._waiting)
            self._waiting = None
        if self._ping_coroutine:
            self._ping_coroutine.cancel()
            self._ping_coroutine = None
        self._draining = asyncio.ensure_future(_drain(stream))


async def _drain(stream: IOStream) -> None:
    """Send what is queued (the close frame last), say we send no more, and
    read and drop the client's bytes until it hangs up or the bounds pass."""

    async def discard() -> None:
        left = LINGER_BYTES
        while left > 0:
            left -= len(await stream.read_bytes(min(left, 1 << 20), partial=True))

    reading = asyncio.ensure_future(discard())
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            await stream.write(b"")  # resolves once the write buffer is flushed
            with contextlib.suppress(OSError):
                stream.socket.shutdown(socket.SHUT_WR)
            await reading
    except (TimeoutError, StreamClosedError, OSError):
        pass
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, StreamClosedError, OSError):
            await reading
        stream.close()
