"""Bounded, coalescing send queue for one WebSocket client.

Up to ``window`` bytes of messages may be on their way at once (handed to
tornado and not yet flushed to the socket); more wait here.  A window
rather than one message at a time: indiserver often delivers a burst of
updates of a property in one read, and a client that keeps up must get
every one of them, not only the last.  While a client is slow, messages
with a coalescing key (a property's updates) replace the one waiting under
the same key, so a client that cannot keep up gets the latest state rather
than every intermediate one; the newer message takes the back of the
queue, so it never overtakes a message queued after the one it replaces.
Messages without a key (answers to requests, device messages) queue up.
When more than ``max_pending`` messages, or more than ``max_pending_bytes``
of them, wait, the client is disconnected (close code 1008): it never grows
the service's memory without bound, and it never delays other clients.
The count alone would not do: one answer listing every property is tens of
kilobytes, so a client that asks for it and never reads could hold
gigabytes within the count.  Sizes are ``len()``: characters of a text
message (ASCII in practice), bytes of a binary one or of a `Frame`.

A message sent to many clients (a property update) comes as a `Frame`: its
WebSocket frame is built once (header and UTF-8 payload) and the same bytes
go to every client.  A `Frame` made with ``counted=True`` is a JSON-RPC
notification whose params are an object; when superseded values of its key
were dropped for a lagging client, the one it gets says how many
(``"superseded": n`` in its params).

The write path is the cheapest one that keeps tornado's guarantees: while
tornado holds nothing for the socket, a frame goes straight to the kernel
with one ``send``; what the kernel does not take is handed to tornado's
stream, which writes it when the socket drains (and the window counts it).
Connections where tornado must transform frames (TLS, permessage-deflate)
use tornado's ``write_message``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import struct
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler, WebSocketProtocol13

log = logging.getLogger("indiws.web")

TOO_SLOW = 1008  # policy violation: the client does not read its messages


class SendBudget:
    """The bytes waiting in every outbox of a service, together.

    Each outbox is bounded on its own; without a shared bound, N clients that
    never read could still hold N times that.  Past ``limit``, a client that
    adds to its queue while holding more than ``share`` is closed as too
    slow: the total stays within ``limit`` plus ``share`` per connection,
    and clients that keep up (whose queues stay short) are never the ones
    closed.
    """

    __slots__ = ("limit", "share", "total")

    def __init__(self, limit: int, share: int = 1 << 20) -> None:
        self.limit = limit
        self.share = share
        self.total = 0


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final WebSocket frame (server to client) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size <= 0xFFFF:
        return struct.pack("!BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, size) + payload


class Frame:
    """A text message framed once, to be sent as is to many clients.

    ``counted``: the text is a JSON-RPC notification with object params, to
    which `superseded` may add how many earlier values a client missed.
    """

    __slots__ = ("text", "data", "counted")

    def __init__(self, text: str, counted: bool = False) -> None:
        self.text = text
        self.data = ws_frame(text.encode())
        self.counted = counted

    def __len__(self) -> int:
        return len(self.data)

    def superseded(self, count: int) -> Frame:
        """This notification, telling that ``count`` earlier ones were dropped."""
        if not self.counted or not self.text.endswith("}}"):
            return self
        return Frame(f'{self.text[:-2]},"superseded":{count}}}}}')


Message = str | bytes | Frame


def _direct_stream(handler: WebSocketHandler) -> IOStream | None:
    """The connection's stream when frames may be written to it as bytes:
    plain TCP (not TLS), no compression, server side (unmasked)."""
    conn = handler.ws_connection
    if not isinstance(conn, WebSocketProtocol13) or conn._compressor is not None:
        return None
    stream = conn.stream
    if type(stream) is not IOStream or conn.mask_outgoing:
        return None
    return stream


class Outbox:
    __slots__ = (
        "_handler",
        "_conn",
        "_stream",
        "_pending",
        "_superseded",
        "_inflight",
        "_seq",
        "_pending_bytes",
        "budget",
        "max_pending",
        "max_pending_bytes",
        "window",
        "closed",
        "stats",
    )

    def __init__(
        self,
        handler: WebSocketHandler,
        max_pending: int = 5000,
        window: int = 256 * 1024,
        max_pending_bytes: int = 32 << 20,
        budget: SendBudget | None = None,
    ) -> None:
        self._handler = handler
        self._conn = handler.ws_connection
        self._stream = _direct_stream(handler)
        self._pending: OrderedDict[Hashable, Message] = OrderedDict()
        self._superseded: dict[Hashable, int] = {}  # key → values dropped
        self._inflight = 0  # bytes written and not yet flushed
        self._seq = itertools.count()
        self._pending_bytes = 0
        self.budget = budget
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.window = max(1, window)
        self.closed = False
        self.stats = {"sent": 0, "coalesced": 0}

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Size of the messages waiting (not those already handed to tornado)."""
        return self._pending_bytes

    def send(self, message: Message, key: Hashable | None = None) -> None:
        if self.closed:
            return
        if self._inflight < self.window and not self._pending:
            self._write(message)
            return
        if key is None:
            key = ("_", next(self._seq))
        elif key in self._pending:
            self.stats["coalesced"] += 1
            self._superseded[key] = self._superseded.get(key, 0) + 1
            self._account(-len(self._pending[key]))
            # The replaced message goes to the back: it must not overtake a
            # message queued after the one it replaces (a device deletion).
            self._pending.move_to_end(key)
        self._pending[key] = message
        self._account(len(message))
        budget = self.budget
        if len(self._pending) > self.max_pending or self._pending_bytes > self.max_pending_bytes:
            reason = "client too slow: messages were not being read"
        elif (
            budget is not None
            and budget.total > budget.limit
            and (self._pending_bytes > budget.share)
        ):
            reason = "client too slow: the service's send budget is used up"
        else:
            return
        log.warning(
            "closing WebSocket %s: %d messages, %d bytes waiting (%s)",
            self._handler.request.remote_ip,
            len(self._pending),
            self._pending_bytes,
            reason,
        )
        self.close()
        self._handler.close(TOO_SLOW, reason)

    def _account(self, size: int) -> None:
        self._pending_bytes += size
        if self.budget is not None:
            self.budget.total += size

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        self._superseded.clear()
        self._account(-self._pending_bytes)

    def _write(self, message: Message) -> None:
        stream = self._stream
        if stream is None:
            self._write_message(message)
            return
        if self._conn.is_closing():  # type: ignore[union-attr]  (set with the stream)
            self.close()
            return
        if isinstance(message, Frame):
            data = message.data
        elif isinstance(message, str):
            data = ws_frame(message.encode())
        else:
            data = ws_frame(message, 0x2)
        self.stats["sent"] += 1
        sent = 0
        if not stream.writing():
            try:
                sent = stream.socket.send(data)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.close()  # reset by the peer: tornado's reader sees it too
                return
            if sent == len(data):
                return
        rest = memoryview(data)[sent:] if sent else data
        try:
            fut = stream.write(rest)
        except StreamClosedError:
            self.close()
            return
        self._track(len(rest), fut)

    def _write_message(self, message: Message) -> None:
        if isinstance(message, Frame):
            message = message.text
        try:
            fut = self._handler.write_message(message, binary=isinstance(message, bytes))
        except WebSocketClosedError:
            self.close()
            return
        self.stats["sent"] += 1
        self._track(len(message), fut)

    def _track(self, size: int, fut: Any) -> None:
        self._inflight += size
        # Runs via the loop, never recursively.
        fut.add_done_callback(functools.partial(self._flushed, size))

    def _flushed(self, size: int, fut: Any) -> None:
        self._inflight -= size
        if fut.cancelled() or fut.exception() is not None:
            self.close()
            return
        while self._pending and self._inflight < self.window and not self.closed:
            key, message = self._pending.popitem(last=False)
            self._account(-len(message))
            if self._superseded:
                count = self._superseded.pop(key, 0)
                if count and isinstance(message, Frame):
                    message = message.superseded(count)
            self._write(message)
