"""A client that stops reading its WebSocket costs bounded memory and does
not delay the others; one that reads late gets the latest values.

The slow client is a raw TCP socket that does the WebSocket handshake by
hand and then never reads, with small socket buffers on both ends so that
the service's writes to it block within milliseconds.  Meanwhile the bench's
tick driver updates a property at 500 Hz and a normal client follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ws_support import WsClient, raw_websocket, tick_driver_command

from indiws.testing import IndiServerFactory, IndiServerProcess, RunningService, start_service
from indiws.web.streams import StreamHub

MAX_PENDING = 50
RATE = 500


def write_buffer_size(handler: Any) -> int:
    """Bytes tornado holds for this socket beyond the kernel (0 when closed)."""
    conn = handler.ws_connection
    stream = getattr(conn, "stream", None)
    return int(getattr(stream, "_write_buffer_size", 0) or 0)


@dataclass
class Clients:
    running: RunningService
    hub: StreamHub
    slow_sock: socket.socket  # the client's end of the slow socket, unread
    slow: Any  # the service's handler of that socket
    normal: WsClient  # follows TICK and reads everything


@contextlib.asynccontextmanager
async def slow_and_normal(
    server: IndiServerProcess, data: Path, slow_path: str, **config: Any
) -> AsyncIterator[Clients]:
    """A service on ``server`` with a slow client on ``slow_path`` (the hub's
    first socket) and a normal one on TICK, past its snapshot."""
    running = await start_service(server, data, **config)
    hub = running.state.get(StreamHub)
    slow_sock = await raw_websocket(running.port, slow_path)
    normal: WsClient | None = None
    try:
        async with asyncio.timeout(5):
            while not hub.sinks:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        (slow,) = hub.sinks
        # A small send buffer on the service's side too: the kernel stops
        # taking this client's bytes almost at once.
        slow.ws_connection.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        normal = await WsClient.open(running.ws_url + "/ws/debugging/?device=Tick&property=TICK")
        await normal.next_note("snapshot")
        yield Clients(running, hub, slow_sock, slow, normal)
    finally:
        slow_sock.close()
        if normal is not None:
            await normal.close()
        await running.stop()


async def test_a_client_that_never_reads_is_bounded_and_delays_nobody(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    path = "/ws/debugging/?device=Tick"
    config = {"max_pending_messages": MAX_PENDING}
    async with slow_and_normal(server, tmp_path / "data", path, **config) as clients:
        client = clients.running.service.client
        hub, slow, normal = clients.hub, clients.slow, clients.normal

        peak = {"pending": 0, "buffer": 0}
        sampling = True

        async def sample() -> None:
            while sampling:
                peak["pending"] = max(peak["pending"], slow.outbox.pending)
                peak["buffer"] = max(peak["buffer"], write_buffer_size(slow))
                await asyncio.sleep(0.002)

        async def follow(run: int, count: int) -> list[float]:
            """Latencies (s) of the normal client for every update of a run, in order."""
            latencies: list[float] = []
            seq = 0
            while seq < count:
                received, note = await asyncio.wait_for(normal.notes.get(), 5)
                if note["method"] != "updated":
                    continue
                values = {e["name"]: e["value"] for e in note["params"]["elements"]}
                if values["RUN"] != run:
                    continue
                assert values["SEQ"] == seq + 1, "the normal client missed an update"
                seq = int(values["SEQ"])
                latencies.append(received - values["SENT"])
            return latencies

        sampler = asyncio.ensure_future(sample())

        # 1. Property updates only: the slow client's queue coalesces them.
        count = RATE  # one second
        await client.set_property(
            "Tick", "TICK_RATE", {"RATE": RATE, "COUNT": count, "RUN": 1, "MESSAGE_EVERY": 0}
        )
        latencies = await follow(1, count)
        assert slow.outbox.stats["coalesced"] > 0
        assert not slow.outbox.closed, "coalescing updates is enough: no need to drop"
        assert peak["pending"] <= 3  # one entry per property (TICK, TICK_RATE)
        # "Delays nobody": the normal client got every update, in order (follow
        # checks each SEQ); how fast is bench/stress.py's nonreader figure.
        assert len(latencies) == count

        # 2. Device messages are never coalesced: the slow client is dropped
        #    once more than MAX_PENDING wait.
        await client.set_property(
            "Tick", "TICK_RATE", {"RATE": RATE, "COUNT": count, "RUN": 2, "MESSAGE_EVERY": 1}
        )
        latencies = await follow(2, count)
        assert slow.outbox.closed
        assert slow.outbox.pending == 0  # the queue was released at once
        assert len(latencies) == count
        sampling = False
        await sampler
        assert peak["pending"] <= MAX_PENDING
        # Tornado holds at most the outbox window (plus the message in hand).
        assert peak["buffer"] < slow.outbox.window + 64 * 1024, peak

        # The service ends the TCP connection by itself (tornado waits 5 s
        # for the close handshake the client never answers).
        async with asyncio.timeout(10):
            while slow in hub.sinks:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert slow.close_code == 1008 or slow.ws_connection is None


def _frame_size(buf: bytes) -> tuple[int, int] | None:
    """(header size, payload size) of the first frame in ``buf``, once it is all there."""
    if len(buf) < 2:
        return None
    size, head = buf[1] & 0x7F, 2
    if size == 126:
        if len(buf) < 4:
            return None
        (size,), head = struct.unpack_from("!H", buf, 2), 4
    elif size == 127:
        if len(buf) < 10:
            return None
        (size,), head = struct.unpack_from("!Q", buf, 2), 10
    return (head, size) if len(buf) >= head + size else None


async def read_ticks(sock: socket.socket, until: int, run: int) -> list[dict[str, Any]]:
    """Read the raw socket's frames until the TICK update of ``run`` with SEQ
    ``until``; every TICK update of that run read on the way."""
    loop = asyncio.get_running_loop()
    buf = b""
    ticks: list[dict[str, Any]] = []
    while True:
        while (frame := _frame_size(buf)) is None:
            buf += await loop.sock_recv(sock, 65536)
        head, size = frame
        opcode, payload, buf = buf[0] & 0x0F, buf[head : head + size], buf[head + size :]
        if opcode != 1:
            continue
        note = json.loads(payload)
        params = note.get("params", {})
        if note.get("method") != "updated" or params.get("name") != "TICK":
            continue
        values = {e["name"]: e["value"] for e in params["elements"]}
        if values["RUN"] == run:
            ticks.append(note)
            if values["SEQ"] == until:
                return ticks


async def test_a_client_that_reads_late_gets_the_latest_values_and_a_fast_one_gets_all(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    path = "/ws/debugging/?device=Tick&property=TICK"
    async with slow_and_normal(server, tmp_path / "data", path) as clients:
        count = RATE  # one second of updates; the slow client reads none meanwhile
        await clients.running.service.client.set_property(
            "Tick", "TICK_RATE", {"RATE": RATE, "COUNT": count, "RUN": 7, "MESSAGE_EVERY": 0}
        )
        seqs: list[int] = []
        while len(seqs) < count:
            _, note = await asyncio.wait_for(clients.normal.notes.get(), 5)
            params = note["params"]
            if note["method"] != "updated" or params["name"] != "TICK":
                continue
            values = {e["name"]: e["value"] for e in params["elements"]}
            if values["RUN"] == 7:
                assert "superseded" not in params  # it missed nothing
                seqs.append(int(values["SEQ"]))
        assert seqs == list(range(1, count + 1)), "the fast client gets every update, in order"

        # Now the slow client reads what waited for it.
        ticks = await asyncio.wait_for(read_ticks(clients.slow_sock, count, 7), 10)
        elements = [e for t in ticks for e in t["params"]["elements"]]
        got = [int(e["value"]) for e in elements if e["name"] == "SEQ"]
        assert got == sorted(set(got)), "values of a property never go back in time"
        assert got[-1] == count, "the slow client ends with the latest value"
        assert len(got) < count, "it did not get every intermediate value"
        # Every update it did not get is counted in the next one it got.
        assert sum(1 + t["params"].get("superseded", 0) for t in ticks) == count
        assert not clients.slow.outbox.closed
