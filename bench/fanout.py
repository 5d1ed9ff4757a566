"""Fan-out of property updates to many WebSocket clients, against a floor.

The bench's own INDI driver (``bench/tick_driver.py``, run by a real
``indiserver``) updates one number property, ``Tick.TICK``, at a set rate;
each update carries the driver's ``time.time()`` at the moment it was
written (``SENT``) and its sequence number.  Then:

* ``ws``: N WebSocket clients on ``/ws/debugging/?device=Tick&property=TICK``
  of the service, which runs as its own process (``python -m indiws``
  against that indiserver), so that it does not share a GIL with anybody;
* ``floor``: N plain TCP clients reading indiserver directly, the least any
  fan-out can cost (indiserver's own fan-out, in C).

All clients live in one worker process (asyncio, a minimal hand-written
WebSocket reader, so that the clients cost as little as possible), apart
from the service.  Latency is from the driver's ``SENT`` to the client's
read (same machine, same clock).  A run sends a fixed number of updates;
"delivered" is the fraction of (client, update) pairs that arrived.

Runs: 10 and 100 clients at 100 Hz for both; then, with 100 clients, rates
step up until an update is lost or p99 reaches 50 ms (the highest rate that
holds is ``max_rate_hz_100c``).  A step also fails when the driver itself
could not keep the rate (the machine is saturated).

The targets: at 100 clients and 100 Hz, the service takes at most 10 % of
a core with p99 under 10 ms; with 100 clients, 1,000 Hz holds.  The ratios
of the service to the floor (CPU at 100 clients and 100 Hz, highest rate)
are printed with the figures of the same run.  The CPU time of
the service process and of indiserver per step are printed as shares of
one core (in the floor's rows the service only reads the updates, with no
client, and indiserver's CPU is mostly its own fan-out to the 100 plain
clients: the cost of the floor itself).

The last line is one JSON object with the figures.  The script reports; it
does not fail when a target is missed.

    .venv/bin/python bench/fanout.py            # about a minute
    .venv/bin/python bench/fanout.py --quick    # about 25 seconds
    .venv/bin/python bench/fanout.py --rates 500 --profile /tmp/service.prof
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import multiprocessing as mp
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from indiws.testing import IndiServerProcess, free_port  # noqa: E402

TARGET_P99_MS = 10.0  # at 100 clients, 100 Hz
TARGET_CPU = 0.10  # share of one core, at 100 clients, 100 Hz
TARGET_RATE_HZ = 1000  # with 100 clients
STEP_P99_MS = 50.0  # a rate step holds below this
DEVICE = "Tick"
WS_PATH = "/ws/debugging/?device=Tick&property=TICK"

# ---------------------------------------------------------------- clients
# (run in the worker process)

_WS_VALUE = re.compile(rb'"name":"(RUN|SEQ|SENT)","label":"[^"]*","value":([-+0-9.eE]+)')
_WS_TICK = b'"method":"updated","params":{"device":"Tick","name":"TICK",'
_XML_VALUE = re.compile(rb'<oneNumber name="(RUN|SEQ|SENT)">\s*([-+0-9.eE]+)\s*<')
_XML_END = b"</setNumberVector>"


@dataclass
class Reader:
    """What one client received: (run, seq, received at, sent at) per update."""

    samples: list[tuple[int, int, float, float]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    last: dict[int, int] = field(default_factory=dict)  # run → highest seq seen


class WsProtocol(asyncio.Protocol):
    """A minimal WebSocket client: handshake, unmasked server frames, pongs."""

    def __init__(self, reader: Reader, host: str, port: int) -> None:
        self.reader = reader
        self.request = (
            f"GET {WS_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: "
            f"{base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.buffer = bytearray()
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buffer
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {bytes(buf[:200])!r}")
            del buf[: end + 4]
            self.open = True
        pos = 0
        size = len(buf)
        reader = self.reader
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = struct.unpack_from(">H", buf, pos + 2)[0]
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = struct.unpack_from(">Q", buf, pos + 2)[0]
                head = 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if opcode == 1:
                if _WS_TICK in payload:
                    values = dict(_WS_VALUE.findall(payload))
                    run, seq = int(float(values[b"RUN"])), int(float(values[b"SEQ"]))
                    reader.samples.append((run, seq, now, float(values[b"SENT"])))
                    reader.last[run] = seq
                elif not reader.ready.is_set() and b'"method":"snapshot"' in payload:
                    reader.ready.set()
            elif opcode == 9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                assert self.transport is not None
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
            elif opcode == 8:
                reader.closed = True
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.closed = True


class TcpProtocol(asyncio.Protocol):
    """A plain indiserver client that only picks the TICK updates out."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(f'<getProperties version="1.7" device="{DEVICE}"/>\n'.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buffer + data
        reader = self.reader
        if not reader.ready.is_set() and b'name="TICK"' in buf:
            reader.ready.set()
        start = 0
        while (end := buf.find(_XML_END, start)) >= 0:
            segment = buf[start:end]
            start = end + len(_XML_END)
            if b'name="TICK"' not in segment:
                continue
            values = dict(_XML_VALUE.findall(segment))
            if len(values) == 3:
                run, seq = int(float(values[b"RUN"])), int(float(values[b"SEQ"]))
                reader.samples.append((run, seq, now, float(values[b"SENT"])))
                reader.last[run] = seq
        self.buffer = buf[start:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.closed = True


async def _worker(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    readers: list[Reader] = []
    transports: list[asyncio.BaseTransport] = []
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            kind, count, host, port = args
            readers = [Reader() for _ in range(count)]
            transports = []
            for reader in readers:
                factory = (
                    functools.partial(WsProtocol, reader, host, port)
                    if kind == "ws"
                    else functools.partial(TcpProtocol, reader)
                )
                transport, _ = await loop.create_connection(factory, host, port)
                transports.append(transport)
            await asyncio.wait_for(asyncio.gather(*(r.ready.wait() for r in readers)), 30)
            conn.send(len(readers))
        elif command == "run":
            run, count, timeout = args
            deadline = loop.time() + timeout
            while loop.time() < deadline and any(  # noqa: ASYNC110 (polling the readers)
                r.last.get(run, 0) < count for r in readers
            ):
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)  # stragglers
            conn.send(_summarise(readers, run, count))
            for reader in readers:
                reader.samples = [s for s in reader.samples if s[0] > run]
        elif command == "close":
            for transport in transports:
                transport.close()
            await asyncio.sleep(0.2)
            readers, transports = [], []
            conn.send(True)
        elif command == "exit":
            return


def _summarise(readers: list[Reader], run: int, count: int) -> dict[str, Any]:
    latencies: list[float] = []
    received = 0
    worst = 1.0
    sent: dict[int, float] = {}  # seq → the driver's SENT, for its achieved rate
    for reader in readers:
        seen: set[int] = set()
        for r, seq, received_at, sent_at in reader.samples:
            if r == run and 1 <= seq <= count and seq not in seen:
                seen.add(seq)
                latencies.append(received_at - sent_at)
                sent[seq] = sent_at
        received += len(seen)
        worst = min(worst, len(seen) / count)
    latencies.sort()
    first, last = (min(sent), max(sent)) if sent else (0, 0)
    span = sent[last] - sent[first] if last > first else 0.0
    return {
        "clients": len(readers),
        "delivered_fraction": received / (count * len(readers)) if readers else 0.0,
        "worst_client_fraction": worst,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "achieved_hz": (last - first) / span if span > 0 else float("nan"),
    }


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def worker_main(conn: Connection) -> None:
    asyncio.run(_worker(conn))


# ---------------------------------------------------------------- the bench


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.run_id = 0
        wrapper = workdir / "tick_driver"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "tick_driver.py"}" "$@"\n')
        wrapper.chmod(0o755)
        self.indi = IndiServerProcess([str(wrapper)], workdir=workdir / "indi")
        self.ws_port = free_port()
        self.service: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.worker = ctx.Process(target=worker_main, args=(child,), daemon=True)

    def start(self) -> None:
        self.indi.start()
        log = open(self.workdir / "service.log", "wb")  # noqa: SIM115 (kept for the process)
        self.service = subprocess.Popen(
            [
                sys.executable,
                *(["-m", "cProfile", "-o", str(self.args.profile)] if self.args.profile else []),
                "-m",
                "indiws",
                "--indi-host",
                "127.0.0.1",
                "--indi-port",
                str(self.indi.port),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ws_port),
                "--data-dir",
                str(self.workdir / "data"),
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        url = f"http://127.0.0.1:{self.ws_port}/get/all/devices/"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if any(d["device_name"] == DEVICE for d in json.load(resp)):
                        break
            except OSError:
                pass
            if self.service.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "the service did not come up:\n"
                    + (self.workdir / "service.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        self.control = socket.create_connection(self.indi.address)
        self.worker.start()

    def close(self) -> None:
        try:
            self.conn.send(("exit",))
        except OSError:
            pass
        self.worker.join(5)
        if self.worker.is_alive():
            self.worker.kill()
        if self.control is not None:
            self.control.close()
        if self.service is not None:
            self.service.terminate()
            try:
                self.service.wait(10)
            except subprocess.TimeoutExpired:
                self.service.kill()
        self.indi.close()

    def connect(self, kind: str, clients: int) -> None:
        host, port = ("127.0.0.1", self.ws_port) if kind == "ws" else self.indi.address
        self.conn.send(("connect", kind, clients, host, port))
        self.conn.recv()

    def disconnect(self) -> None:
        self.conn.send(("close",))
        self.conn.recv()

    def measure(self, rate: float, duration: float) -> dict[str, Any]:
        """One run of ``duration`` seconds at ``rate``; the connected clients' figures."""
        assert self.control is not None and self.service is not None
        self.run_id += 1
        count = max(20, int(rate * duration))
        indi_pid = self.indi.pid
        assert indi_pid is not None
        cpu0, indi0, t0 = cpu_seconds(self.service.pid), cpu_seconds(indi_pid), time.monotonic()
        self.control.sendall(
            (
                f'<newNumberVector device="{DEVICE}" name="TICK_RATE">'
                f'<oneNumber name="RATE">{rate:g}</oneNumber>'
                f'<oneNumber name="COUNT">{count}</oneNumber>'
                f'<oneNumber name="RUN">{self.run_id}</oneNumber>'
                '<oneNumber name="MESSAGE_EVERY">0</oneNumber>'
                "</newNumberVector>\n"
            ).encode()
        )
        self.conn.send(("run", self.run_id, count, 2 * count / rate + 3))
        result = self.conn.recv()
        elapsed = time.monotonic() - t0
        result["service_cpu"] = (cpu_seconds(self.service.pid) - cpu0) / elapsed
        result["indiserver_cpu"] = (cpu_seconds(indi_pid) - indi0) / elapsed
        result["rate_hz"] = rate
        result["updates"] = count
        return result


def holds(result: dict[str, Any], p99_ms: float = STEP_P99_MS) -> bool:
    # The driver shares the machine: when it cannot keep the rate (within
    # 10 %), the machine is saturated and the step does not hold either.
    return (
        result["delivered_fraction"] == 1.0
        and result["p99_ms"] < p99_ms
        and result["achieved_hz"] >= 0.9 * result["rate_hz"]
    )


def show(kind: str, result: dict[str, Any]) -> None:
    print(
        f"{kind:>5} {result['clients']:>4} clients {result['rate_hz']:>6g} Hz: "
        f"delivered {result['delivered_fraction']:.4f} "
        f"(worst client {result['worst_client_fraction']:.4f})  "
        f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
        f"max {result['max_ms']:7.2f} ms  sent at {result['achieved_hz']:6.0f} Hz  "
        f"service CPU {result['service_cpu'] * 100:5.1f}%  "
        f"indiserver CPU {result['indiserver_cpu'] * 100:5.1f}%",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer steps")
    parser.add_argument("--duration", type=float, help="seconds per run (default 3, quick 1.5)")
    parser.add_argument(
        "--rates",
        default=None,
        help="comma-separated rates (Hz) to step through with 100 clients",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run the service under cProfile and write its stats to FILE",
    )
    args = parser.parse_args()
    duration = args.duration or (1.5 if args.quick else 3.0)
    if args.rates:
        rates = [int(r) if float(r).is_integer() else float(r) for r in args.rates.split(",")]
    elif args.quick:
        rates = [100, 250, 500, 1000]
    else:
        rates = [100, 200, 300, 500, 700, 1000, 1500, 2000]

    print(
        f"fan-out of one INDI number property; {duration:g} s per run; "
        f"targets: 100 clients at 100 Hz all delivered, p99 < {TARGET_P99_MS:g} ms, "
        f"CPU <= {TARGET_CPU:.0%}; {TARGET_RATE_HZ} Hz holds (p99 < {STEP_P99_MS:g} ms); "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="indiws-fanout-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.start()
            for kind in ("ws", "floor"):
                label = "ws" if kind == "ws" else "tcp"
                bench.connect(label, 10)
                if kind == "ws":
                    bench.measure(100, 0.5)  # warm-up, not counted
                result = bench.measure(100, duration)
                show(kind, result)
                summary[f"{kind}_10c_100hz"] = result
                bench.disconnect()

                bench.connect(label, 100)
                best = 0.0
                for rate in sorted({100, *rates}):
                    result = bench.measure(rate, duration)
                    show(kind, result)
                    summary[f"{kind}_100c_{rate:g}hz"] = result
                    if not holds(result):
                        break
                    best = rate
                summary[f"{kind}_max_rate_hz_100c"] = best
                bench.disconnect()
        finally:
            bench.close()

    ws100, floor100 = summary["ws_100c_100hz"], summary["floor_100c_100hz"]
    ws10, floor10 = summary["ws_10c_100hz"], summary["floor_10c_100hz"]
    cpu_ratio = ws100["service_cpu"] / max(floor100["service_cpu"], 1e-3)
    # indiserver's own fan-out to the 100 plain clients, less what it spends
    # on one client (the service) in the ws rows.
    floor_fanout = max(floor100["indiserver_cpu"] - ws100["indiserver_cpu"], 1e-3)
    best, floor_best = summary["ws_max_rate_hz_100c"], summary["floor_max_rate_hz_100c"]
    met = (
        holds(ws100, TARGET_P99_MS)
        and ws100["service_cpu"] <= TARGET_CPU
        and best >= TARGET_RATE_HZ
    )
    print(
        f"service / floor at 100 clients, 100 Hz: CPU {ws100['service_cpu'] * 100:.1f}% / "
        f"{floor100['service_cpu'] * 100:.1f}% = {cpu_ratio:.1f}x, "
        f"p99 {ws100['p99_ms']:.2f} / {floor100['p99_ms']:.2f} ms; "
        f"indiserver's own fan-out to 100 clients {floor_fanout * 100:.1f}% "
        f"(service {ws100['service_cpu'] / floor_fanout:.1f}x); "
        f"highest rate {best:g} / {floor_best:g} Hz; targets {'met' if met else 'missed'}",
        flush=True,
    )
    line = {
        "delivered_fraction_100c_100hz": ws100["delivered_fraction"],
        "p50_ms_100c_100hz": round(ws100["p50_ms"], 3),
        "p99_ms_100c_100hz": round(ws100["p99_ms"], 3),
        "floor_delivered_fraction_100c_100hz": floor100["delivered_fraction"],
        "floor_p50_ms_100c_100hz": round(floor100["p50_ms"], 3),
        "floor_p99_ms_100c_100hz": round(floor100["p99_ms"], 3),
        "delivered_fraction_10c_100hz": ws10["delivered_fraction"],
        "p50_ms_10c_100hz": round(ws10["p50_ms"], 3),
        "p99_ms_10c_100hz": round(ws10["p99_ms"], 3),
        "floor_p50_ms_10c_100hz": round(floor10["p50_ms"], 3),
        "floor_p99_ms_10c_100hz": round(floor10["p99_ms"], 3),
        "service_cpu_100c_100hz": round(ws100["service_cpu"], 3),
        "floor_service_cpu_100c_100hz": round(floor100["service_cpu"], 3),
        "cpu_ratio_to_floor_100c_100hz": round(cpu_ratio, 2),
        "indiserver_fanout_cpu_100c_100hz": round(floor_fanout, 3),
        "max_rate_hz_100c": best,
        "floor_max_rate_hz_100c": floor_best,
        "target_met": met,
    }
    print(json.dumps({k: _finite(v) for k, v in line.items()}))


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    return None if isinstance(value, float) and value != value else value


if __name__ == "__main__":
    main()
