"""The send queue of one WebSocket client, without sockets.

`Outbox` writes through its handler's ``write_message`` and learns from the
returned future when a write is flushed; here a stand-in handler records
what is written and the test decides when the "socket" drains, so a client
that keeps up and one that lags are played step by step.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from indiws.web.outbox import TOO_SLOW, Frame, Outbox, ws_frame


class Request:
    remote_ip = "192.0.2.1"


class Handler:
    """Records writes; each write's future stays pending until `drain`."""

    ws_connection = None  # no direct stream: every write goes through write_message
    request = Request()

    def __init__(self) -> None:
        self.written: list[str | bytes] = []
        self.unflushed: list[asyncio.Future[None]] = []
        self.closed_with: tuple[int, str] | None = None

    def write_message(self, message: str | bytes, binary: bool = False) -> asyncio.Future[None]:
        assert binary == isinstance(message, bytes)
        self.written.append(message)
        fut = asyncio.get_running_loop().create_future()
        self.unflushed.append(fut)
        return fut

    def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    async def drain(self) -> None:
        """The socket takes everything written so far (and what that lets through)."""
        while self.unflushed:
            pending, self.unflushed = self.unflushed, []
            for fut in pending:
                fut.set_result(None)
            await asyncio.sleep(0)  # the flush callbacks run via the loop
            await asyncio.sleep(0)

    def notes(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.written]


def update(name: str, value: int) -> Frame:
    text = json.dumps(
        {"jsonrpc": "2.0", "method": "updated", "params": {"name": name, "value": value}},
        separators=(",", ":"),
    )
    return Frame(text, counted=True)


def summary(notes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for note in notes:
        params = note["params"]
        if note["method"] == "updated":
            out.append((params["name"], params["value"], params.get("superseded", 0)))
        else:
            out.append((note["method"],))
    return out


def message(text: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "message", "params": {"message": text}})


async def test_a_client_that_keeps_up_gets_every_message_in_order() -> None:
    handler = Handler()
    outbox = Outbox(handler, window=1 << 20)  # type: ignore[arg-type]
    for value in range(1, 51):
        outbox.send(update("A", value), ("dev", "A"))
        outbox.send(update("B", value), ("dev", "B"))
        if value % 10 == 0:
            outbox.send(message(f"m{value}"))
        await handler.drain()
    expected: list[tuple[Any, ...]] = []
    for value in range(1, 51):
        expected += [("A", value, 0), ("B", value, 0)]
        if value % 10 == 0:
            expected.append(("message",))
    assert summary(handler.notes()) == expected
    assert outbox.stats == {"sent": len(expected), "coalesced": 0}
    assert outbox.pending == 0 and not outbox.closed


async def test_a_lagging_client_gets_the_latest_value_of_each_property_and_how_many_it_missed() -> (
    None
):
    handler = Handler()
    outbox = Outbox(handler, window=1)  # type: ignore[arg-type]
    outbox.send(update("A", 0), ("dev", "A"))  # written: the window is now full
    outbox.send(update("A", 1), ("dev", "A"))
    outbox.send(update("B", 1), ("dev", "B"))
    outbox.send(update("A", 2), ("dev", "A"))  # supersedes A=1, goes to the back
    outbox.send(message("between"))  # never coalesced, keeps its place
    outbox.send(update("A", 3), ("dev", "A"))  # supersedes A=2, after the message
    outbox.send(update("B", 2), ("dev", "B"))  # supersedes B=1
    assert outbox.pending == 3  # message, A=3, B=2: bounded by the properties
    assert outbox.stats["coalesced"] == 3
    await handler.drain()
    assert summary(handler.notes()) == [
        ("A", 0, 0),
        ("message",),
        ("A", 3, 2),  # A=1 and A=2 were dropped for this client, and it is told
        ("B", 2, 1),
    ]
    # Caught up: the next updates go out as they come, with no count.
    outbox.send(update("A", 4), ("dev", "A"))
    await handler.drain()
    assert summary(handler.notes())[-1] == ("A", 4, 0)
    assert outbox.pending == 0 and outbox.pending_bytes == 0


async def test_values_of_one_property_never_go_back_in_time() -> None:
    handler = Handler()
    outbox = Outbox(handler, window=200)  # type: ignore[arg-type]
    for value in range(1, 2001):
        outbox.send(update(f"P{value % 7}", value), ("dev", value % 7))
        if value % 13 == 0:  # the socket drains now and then
            await handler.drain()
    await handler.drain()
    seen: dict[str, int] = {}
    counted = 0
    for name, value, superseded in summary(handler.notes()):
        assert value > seen.get(name, 0), (name, value, seen)
        seen[name] = value
        counted += 1 + superseded
    # The last value of every property arrives; nothing is lost uncounted.
    assert seen == {f"P{v % 7}": v for v in range(1994, 2001)}
    assert counted == 2000
    assert outbox.stats["coalesced"] > 0


async def test_a_client_that_stops_reading_is_closed_when_its_queue_is_full() -> None:
    handler = Handler()
    outbox = Outbox(handler, max_pending=10, window=1)  # type: ignore[arg-type]
    for value in range(1000):  # one property: coalesced, the queue stays short
        outbox.send(update("A", value), ("dev", "A"))
    assert not outbox.closed and outbox.pending == 1
    for n in range(11):  # messages queue up: past ten, the client is closed
        outbox.send(message(f"m{n}"))
    assert outbox.closed
    assert handler.closed_with is not None and handler.closed_with[0] == TOO_SLOW
    assert outbox.pending == 0 and outbox.pending_bytes == 0  # released at once
    written = len(handler.written)
    outbox.send(message("after"))
    await handler.drain()
    assert len(handler.written) == written  # nothing more for a closed client


def parse_frame(data: bytes) -> tuple[int, bytes]:
    """(first byte, payload) of one unmasked frame that is the whole of ``data``."""
    size = data[1]
    assert not size & 0x80, "server frames are not masked"
    head = 2
    if size == 126:
        (size,) = struct.unpack_from("!H", data, 2)
        head = 4
    elif size == 127:
        (size,) = struct.unpack_from("!Q", data, 2)
        head = 10
    assert len(data) == head + size
    return data[0], data[head:]


def test_frames_carry_the_message_once_whatever_its_size() -> None:
    for size in (0, 1, 125, 126, 65535, 65536, 200_000):
        text = "é" * (size // 2) + "x" * (size % 2)
        first, payload = parse_frame(Frame(text).data)
        assert first == 0x81  # final, text
        assert payload.decode() == text
    first, payload = parse_frame(ws_frame(b"\x00\x01", 0x2))
    assert (first, payload) == (0x82, b"\x00\x01")


def test_only_counted_notifications_say_what_was_superseded() -> None:
    assert json.loads(update("A", 1).superseded(4).text)["params"] == {
        "name": "A",
        "value": 1,
        "superseded": 4,
    }
    plain = Frame(message("x"))
    assert plain.superseded(4) is plain
