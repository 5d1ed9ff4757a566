"""A client that stops reading its WebSocket costs bounded memory and does
not delay the others.

The slow client is a raw TCP socket that does the WebSocket handshake by
hand and then never reads, with small socket buffers on both ends so that
the service's writes to it block within milliseconds.  Meanwhile the bench's
tick driver updates a property at 500 Hz and a normal client follows it.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from pathlib import Path
from typing import Any

from ws_support import WsClient, raw_websocket, tick_driver_command

from indiws.testing import IndiServerFactory, start_service
from indiws.web.streams import hub_for

MAX_PENDING = 50
RATE = 500


def write_buffer_size(handler: Any) -> int:
    """Bytes tornado holds for this socket beyond the kernel (0 when closed)."""
    conn = handler.ws_connection
    stream = getattr(conn, "stream", None)
    return int(getattr(stream, "_write_buffer_size", 0) or 0)


async def test_a_client_that_never_reads_is_bounded_and_delays_nobody(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data", max_pending_messages=MAX_PENDING)
    client = running.service.client
    hub = hub_for(running.service)
    slow_sock = await raw_websocket(running.port, "/ws/debugging/?device=Tick")
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
        assert statistics.quantiles(latencies, n=100)[98] < 0.25

        # 2. Device messages are never coalesced: the slow client is dropped
        #    once more than MAX_PENDING wait.
        started = time.monotonic()
        await client.set_property(
            "Tick", "TICK_RATE", {"RATE": RATE, "COUNT": count, "RUN": 2, "MESSAGE_EVERY": 1}
        )
        latencies = await follow(2, count)
        assert slow.outbox.closed
        assert slow.outbox.pending == 0  # the queue was released at once
        assert statistics.quantiles(latencies, n=100)[98] < 0.25
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
        assert time.monotonic() - started < 10
        assert slow.close_code == 1008 or slow.ws_connection is None
    finally:
        slow_sock.close()
        if normal is not None:
            await normal.close()
        await running.stop()
