"""Abusive clients against the service: its peak memory, and what the others feel.

The service runs as its own process (``python -m indiws`` against an
indiserver with the four simulators, connected, and the bench's tick
driver), started afresh for each scenario so that one's memory does not
carry into the next.  While a scenario's load runs, an observer (its own
process, a minimal WebSocket reader) follows ``Tick.TICK`` on
``/ws/debugging/`` at ``--rate`` Hz; its **worst gap** is the longest time
between two updates it received (ideally 1000/rate ms), its **worst
latency** the longest from the driver's write to its read.  The service's
**peak RSS** is sampled every 10 ms from /proc.

Scenarios:

* ``nonreader``: a client on ``/ws/indi/`` with a 4 KB receive buffer sends
  ``--batches`` batches of 100 ``properties`` requests (every property of
  every device, tens of kB each) and never reads.  Its send queue is
  bounded in bytes: the service closes it with 1008 (reported as
  ``closed``: the close code found once the bench reads the socket at the
  end).
* ``batch_10000``: one batch of 10000 ``rpc.discover`` requests (refused
  at once by the batch cap).
* ``discover_100x100``: the same work within the cap: 100 batches of 100
  ``rpc.discover``, from a client that reads its answers.
* ``previews`` (not with ``--quick``): one 6000x4000 frame of the CCD
  simulator (48 MB), then 30 previews of it at sizes from 200 to 6000
  pixels, 6 at a time (what a page of ``<img>`` tags asks): the peak RSS
  is the figure (renders are bounded in number, the cache in bytes).
* ``flood``: the service runs with the open-files limit systemd gives
  services (``ulimit -n 1024``); another host (127.0.0.2) opens ``--flood``
  (1100) connections that send half a request's headers and hold them.
  Reported: how many the service closed at once (``closed_at_once``), how
  long a ``GET /api/v1/status`` from this host took meanwhile
  (``status_s``), and how many bytes the log grew (``log_growth``).

``--compare REF`` runs every scenario against the code of a git revision
too (the service from ``git archive REF``), for figures before and after a
change.  The last line is one JSON object with the figures.  The script
reports; it does not fail when a figure is bad.

    .venv/bin/python bench/stress.py                 # about a minute
    .venv/bin/python bench/stress.py --quick         # about 25 seconds
    .venv/bin/python bench/stress.py --compare HEAD~1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from indiws.testing import (  # noqa: E402
    DEFAULT_SIMULATORS,
    SIMULATOR_DEVICES,
    IndiServerProcess,
    closed_by_peer,
    free_port,
    slow_header_connections,
)

OBSERVED = "/ws/debugging/?device=Tick&property=TICK"
_TICK = b'"method":"updated","params":{"device":"Tick","name":"TICK",'
_VALUE = re.compile(rb'"name":"(RUN|SEQ|SENT)","label":"[^"]*","value":([-+0-9.eE]+)')


# ---------------------------------------------------------------- WebSocket by hand


def handshake(path: str, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(text: str) -> bytes:
    """A client text frame, masked with a zero key (the payload goes as it is)."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0xFF, n)
    return head + b"\0\0\0\0" + data


def frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Complete server frames at the start of ``buf`` (removed from it)."""
    out = []
    pos = 0
    while len(buf) - pos >= 2:
        opcode, n, head = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
        if n == 126:
            if len(buf) - pos < 4:
                break
            n, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
        elif n == 127:
            if len(buf) - pos < 10:
                break
            n, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
        if len(buf) - pos < head + n:
            break
        out.append((opcode, bytes(buf[pos + head : pos + head + n])))
        pos += head + n
    del buf[:pos]
    return out


async def open_raw(port: int, path: str, rcvbuf: int | None = None) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, handshake(path, port))
    head = b""
    while b"\r\n\r\n" not in head:  # the head only, not one byte of a frame
        head += await loop.sock_recv(sock, 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:200]!r}")
    return sock


async def read_frames(sock: socket.socket, want: int, timeout: float) -> tuple[int, int | None]:
    """Read until ``want`` data frames or a close frame: (frames, close code)."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    count = 0
    try:
        async with asyncio.timeout(timeout):
            while count < want:
                chunk = await loop.sock_recv(sock, 1 << 20)
                if not chunk:
                    return count, None
                buf += chunk
                for opcode, payload in frames(buf):
                    if opcode == 0x8:
                        return count, struct.unpack("!H", payload[:2])[0] if payload else None
                    if opcode in (0x1, 0x2):
                        count += 1
    except TimeoutError:
        pass
    return count, None


# ---------------------------------------------------------------- the observer
# (its own process: the load's work in this one must not delay its reads)


class Observer(asyncio.Protocol):
    def __init__(self, port: int) -> None:
        self.port = port
        self.buf = bytearray()
        self.open = False
        self.samples: list[tuple[int, int, float, float]] = []  # run, seq, received, sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(handshake(OBSERVED, self.port))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del self.buf[: end + 4]
            self.open = True
        for opcode, payload in frames(self.buf):
            if opcode == 1 and _TICK in payload:
                v = {k: float(x) for k, x in _VALUE.findall(payload)}
                self.samples.append((int(v[b"RUN"]), int(v[b"SEQ"]), now, v[b"SENT"]))


async def _observe(conn: Connection, port: int) -> None:
    loop = asyncio.get_running_loop()
    _, obs = await loop.create_connection(lambda: Observer(port), "127.0.0.1", port)
    conn.send("ready")
    while True:
        msg = await loop.run_in_executor(None, conn.recv)
        if msg[0] == "exit":
            return
        _, run, count, timeout = msg
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for s in obs.samples if s[0] == run) >= count:
                break
            await asyncio.sleep(0.05)
        got = sorted((s for s in obs.samples if s[0] == run), key=lambda s: s[1])
        obs.samples.clear()
        times = sorted(s[2] for s in got)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        conn.send(
            {
                "updates": len(got),
                "worst_gap_ms": max(gaps) * 1000 if gaps else None,
                "worst_latency_ms": max(s[2] - s[3] for s in got) * 1000 if got else None,
            }
        )


def observer_main(conn: Connection, port: int) -> None:
    asyncio.run(_observe(conn, port))


# ---------------------------------------------------------------- the service


class RssSampler:
    """Peak resident memory of a process, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = self.baseline = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _systemd_file_limit() -> None:
    """In the service's process: the open-files limit systemd gives services."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


class Service:
    """``python -m indiws`` from ``root`` (this checkout, or an archived revision)."""

    def __init__(
        self, root: Path, indi: IndiServerProcess, workdir: Path, devices: set[str]
    ) -> None:
        self.port = free_port()
        self.log = workdir / f"service-{self.port}.log"
        env = {**os.environ, "PYTHONPATH": str(root)}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                preexec_fn=_systemd_file_limit,
                args=[sys.executable, "-m", "indiws", "--indi-host", "127.0.0.1"]
                + ["--indi-port", str(indi.port), "--port", str(self.port)]
                + ["--data-dir", str(workdir / "data"), "--log-level", "WARNING"],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url("/get/all/devices/"), timeout=2) as resp:
                    if devices <= {d["device_name"] for d in json.load(resp)}:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not come up:\n" + self.log.read_text()[-2000:])
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def put(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.url(path), data=json.dumps(body).encode(), method="PUT")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- scenarios


async def nonreader(port: int, batches: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sock = await open_raw(port, "/ws/indi/", rcvbuf=4096)
    batch = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "properties"} for i in range(100)])
    try:
        for _ in range(batches):
            await loop.sock_sendall(sock, frame(batch))
        await asyncio.sleep(duration)  # never reading meanwhile
        _, code = await read_frames(sock, 10**9, 3)
    finally:
        sock.close()
    return {"closed": code}


def _flood(port: int, count: int, duration: float, log: Path) -> dict[str, Any]:
    before = os.path.getsize(log)
    conns = slow_header_connections(port, count)
    try:
        started = time.monotonic()
        try:
            url = f"http://127.0.0.1:{port}/api/v1/status"
            with urllib.request.urlopen(url, timeout=30) as resp:
                resp.read()
            status_s: float | None = round(time.monotonic() - started, 3)
        except OSError:
            status_s = None  # not answered within 30 s
        time.sleep(duration)
        closed = sum(closed_by_peer(c) for c in conns)
    finally:
        for conn in conns:
            conn.close()
    return {
        "connected": len(conns),
        "closed_at_once": closed,
        "status_s": status_s,
        "log_growth": os.path.getsize(log) - before,
    }


async def flood(port: int, count: int, duration: float, log: Path) -> dict[str, Any]:
    return await asyncio.to_thread(_flood, port, count, duration, log)


def _http(port: int, path: str, method: str = "GET", body: Any = None, timeout: float = 60) -> Any:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = resp.read()
    return json.loads(data) if resp.headers.get_content_type() == "application/json" else data


async def preview_flood(port: int, pid: int, sizes: int, at_once: int) -> dict[str, Any]:
    """One 6000x4000 frame of the CCD simulator (48 MB of FITS), then
    ``sizes`` previews of it at different sizes, ``at_once`` at a time (what
    a page of ``<img>`` tags asks)."""
    ccd = quote("CCD Simulator")
    await asyncio.to_thread(_http, port, f"/FIFO/start/camera/{ccd}/")
    settings = f"/api/v1/devices/{ccd}/properties/SIMULATOR_SETTINGS"
    for _ in range(100):  # until the camera role has connected it
        try:
            await asyncio.to_thread(
                _http, port, settings, "PUT", {"values": {"SIM_XRES": 6000, "SIM_YRES": 4000}}
            )
            break
        except OSError:
            await asyncio.sleep(0.2)
    sock = await open_raw(port, "/ws/indi_client/")
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "camera.expose", "params": [0.1]}
        await asyncio.get_running_loop().sock_sendall(sock, frame(json.dumps(request)))
        for _ in range(600):
            listing = await asyncio.to_thread(_http, port, "/blobs?limit=1")
            if listing["frames"]:
                break
            await asyncio.sleep(0.1)
        else:
            return {"previews": 0, "error": "no frame"}
    finally:
        sock.close()
    blob = listing["frames"][0]["id"]
    await asyncio.sleep(1)  # the frame's analysis and storing are over
    before = rss_mb(pid)
    semaphore = asyncio.Semaphore(at_once)

    async def one(size: int) -> bool:
        async with semaphore:
            try:
                path = f"/blobs/{blob}/preview.jpg?max_size={size}"
                await asyncio.to_thread(_http, port, path, timeout=300)
                return True
            except OSError:
                return False

    started = time.monotonic()
    done = await asyncio.gather(*(one(200 + 200 * i) for i in range(sizes)))
    return {
        "frame_mb": round(listing["frames"][0]["size"] / 1e6, 1),
        "rss_before_previews_mb": round(before, 1),
        "previews": sum(done),
        "previews_s": round(time.monotonic() - started, 1),
    }


async def big_batch(port: int, size: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sock = await open_raw(port, "/ws/indi/")
    try:
        batch = json.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(size)]
        )
        started = time.monotonic()
        await loop.sock_sendall(sock, frame(batch))
        got, _ = await read_frames(sock, 1, duration + 30)
        answered = time.monotonic() - started
        # The answer: one error (refused) or one array of `size` answers.
        return {"answered_s": round(answered, 3), "answers": got}
    finally:
        sock.close()


async def many_batches(port: int, count: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sock = await open_raw(port, "/ws/indi/")
    try:
        batch = frame(
            json.dumps([{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(100)])
        )
        started = time.monotonic()
        reading = asyncio.ensure_future(read_frames(sock, count, duration + 30))
        for _ in range(count):
            await loop.sock_sendall(sock, batch)
        got, _ = await reading
        return {"answered_s": round(time.monotonic() - started, 3), "answers": got}
    finally:
        sock.close()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        wrapper = workdir / "tick_driver"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "tick_driver.py"}" "$@"\n')
        wrapper.chmod(0o755)
        drivers = [str(wrapper)] if args.quick else [*DEFAULT_SIMULATORS, str(wrapper)]
        self.indi = IndiServerProcess(drivers, workdir=workdir / "indi")
        self.control: socket.socket | None = None
        self.run_id = 0

    def start(self) -> None:
        self.indi.start()
        self.devices = self.indi.device_names()
        self.control = socket.create_connection(self.indi.address)

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
        self.indi.close()

    def connect_devices(self, root: Path) -> None:
        """Connected simulators define many more properties (the answers grow)."""
        service = Service(root, self.indi, self.workdir, self.devices)
        try:
            for driver in DEFAULT_SIMULATORS:
                device = SIMULATOR_DEVICES[driver]
                if device in self.devices:
                    service.put(
                        f"/api/v1/devices/{quote(device)}/properties/CONNECTION",
                        {"values": {"CONNECT": True}, "timeout": 20},
                    )
            time.sleep(1)  # the properties defined on connection follow the answer
        finally:
            service.stop()

    def tick(self, rate: float, count: int) -> int:
        assert self.control is not None
        self.run_id += 1
        self.control.sendall(
            (
                '<newNumberVector device="Tick" name="TICK_RATE">'
                f'<oneNumber name="RATE">{rate:g}</oneNumber>'
                f'<oneNumber name="COUNT">{count}</oneNumber>'
                f'<oneNumber name="RUN">{self.run_id}</oneNumber>'
                '<oneNumber name="MESSAGE_EVERY">0</oneNumber>'
                "</newNumberVector>\n"
            ).encode()
        )
        return self.run_id

    def scenario(self, root: Path, name: str, load: Any) -> dict[str, Any]:
        rate, duration = self.args.rate, self.args.duration
        service = Service(root, self.indi, self.workdir, self.devices)
        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        observer = ctx.Process(target=observer_main, args=(child, service.port), daemon=True)
        observer.start()
        try:
            assert conn.recv() == "ready"
            time.sleep(0.3)  # the observer's snapshot is in
            with RssSampler(service.proc.pid) as rss:
                count = int(rate * duration)
                run = self.tick(rate, count)
                conn.send(("run", run, count, duration * 2 + 10))
                time.sleep(0.3)  # a few updates before the load
                result = asyncio.run(load(service, duration))
                seen = conn.recv()
            result.update(seen)
            result["baseline_rss_mb"] = round(rss.baseline, 1)
            result["peak_rss_mb"] = round(rss.peak, 1)
            result["service_alive"] = service.proc.poll() is None
        finally:
            conn.send(("exit",))
            observer.join(5)
            if observer.is_alive():
                observer.kill()
            service.stop()
        return result

    def run_all(self, root: Path, label: str) -> dict[str, Any]:
        args = self.args
        scenarios = {
            "nonreader": lambda svc, d: nonreader(svc.port, args.batches, d),
            "batch_10000": lambda svc, d: big_batch(svc.port, 10000, d),
            "discover_100x100": lambda svc, d: many_batches(svc.port, 100, d),
            "flood": lambda svc, d: flood(svc.port, args.flood, d, svc.log),
        }
        if not args.quick:  # the CCD simulator is there
            scenarios["previews"] = lambda svc, d: preview_flood(svc.port, svc.proc.pid, 30, 6)
        if args.only:
            scenarios = {k: v for k, v in scenarios.items() if k in args.only}
        out = {}
        for name, load in scenarios.items():
            result = self.scenario(root, name, load)
            out[name] = result
            show(label, name, result)
        return out


def show(label: str, name: str, r: dict[str, Any]) -> None:
    extra = ", ".join(
        f"{k} {r[k]}"
        for k in (
            "closed",
            "answers",
            "answered_s",
            "connected",
            "closed_at_once",
            "status_s",
            "log_growth",
            "frame_mb",
            "rss_before_previews_mb",
            "previews",
            "previews_s",
            "service_alive",
        )
        if k in r
    )
    gap = r.get("worst_gap_ms")
    lat = r.get("worst_latency_ms")
    print(
        f"{label:>4} {name:<17} RSS {r['baseline_rss_mb']:6.1f} -> peak {r['peak_rss_mb']:7.1f} MB"
        f"  observer: {r['updates']:4d} updates, worst gap "
        f"{'-' if gap is None else f'{gap:7.1f}'} ms, worst latency "
        f"{'-' if lat is None else f'{lat:7.1f}'} ms  ({extra})",
        flush=True,
    )


def archive(ref: str, into: Path) -> Path:
    """The files of a git revision, for running its service."""
    into.mkdir()
    data = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=data, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tick driver only, short runs")
    parser.add_argument("--rate", type=float, default=100.0, help="observed updates per second")
    parser.add_argument("--duration", type=float, help="seconds of load per scenario")
    parser.add_argument("--batches", type=int, help="batches of 100 the non-reader sends")
    parser.add_argument("--compare", metavar="REF", help="also run the service of this revision")
    parser.add_argument("--flood", type=int, default=1100, help="connections of the flood")
    parser.add_argument(
        "--only", action="append", metavar="SCENARIO", help="run this scenario only (repeatable)"
    )
    args = parser.parse_args()
    # Room for the flood's connections in this process.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args.duration = args.duration or (2.0 if args.quick else 6.0)
    args.batches = args.batches or (10 if args.quick else 50)

    print(
        f"stress: observer at {args.rate:g} Hz on {OBSERVED}; {args.duration:g} s per scenario; "
        f"non-reader: {args.batches} batches of 100 'properties'; {os.cpu_count()} CPUs",
        flush=True,
    )
    line: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="indiws-stress-") as tmp:
        workdir = Path(tmp)
        bench = Bench(args, workdir)
        try:
            bench.start()
            if not args.quick:
                bench.connect_devices(ROOT)
            roots = [("new", ROOT)]
            if args.compare:
                roots.append(("old", archive(args.compare, workdir / "old")))
            for label, root in roots:
                results = bench.run_all(root, label)
                prefix = "" if label == "new" else "old_"
                for name, r in results.items():
                    line[f"{prefix}{name}_peak_rss_mb"] = r["peak_rss_mb"]
                    line[f"{prefix}{name}_worst_gap_ms"] = _round(r["worst_gap_ms"])
                    line[f"{prefix}{name}_worst_latency_ms"] = _round(r["worst_latency_ms"])
                if "nonreader" in results:
                    line[f"{prefix}nonreader_closed_code"] = results["nonreader"]["closed"]
                    line[f"{prefix}baseline_rss_mb"] = results["nonreader"]["baseline_rss_mb"]
                if "batch_10000" in results:
                    line[f"{prefix}batch_10000_answered_s"] = results["batch_10000"]["answered_s"]
                for key in ("closed_at_once", "status_s", "log_growth"):
                    if "flood" in results:
                        line[f"{prefix}flood_{key}"] = results["flood"][key]
                if "previews" in results:
                    line[f"{prefix}previews_s"] = results["previews"].get("previews_s")
        finally:
            bench.close()
    line["rate_hz"] = args.rate
    print(json.dumps(line))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    main()
