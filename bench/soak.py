"""A night in fast motion: N exposures with slews, filter and focuser moves
and stream clients, against the simulators; is the service's memory flat,
is every frame on disk?

The service runs as its own process (``python -m indiws`` against an
indiserver with the four simulators, frames on disk in its data directory,
the default), like ``bench/stress.py``.  The night: an exposure after
another (``--duration``, binning ``--binning``, the object "Soak"), a goto
every ``--slew-every`` exposures (half an hour of RA east or west of the
meridian, J2000, so through the J2000 → JNow conversion), a filter change
every 5, a focuser move every 7, a frame and its preview downloaded every
10, while ``--clients`` stream clients follow every property on
``/ws/debugging/`` and one JSON-RPC client gets every action event.

Printed: the service's RSS at start (devices connected, nothing done),
after the first goto and exposure (with the frame cache's bytes beside it:
the working set is RSS less the cache), after warm-up (``--warmup``
exposures) and at the end, the slope per 100 exposures after warm-up (least
squares over one sample per exposure), file descriptors and threads at
start and end, frames on disk against frames taken, the exposure journal's
states, and failures.  Memory also as the main process and its whole
process tree (the analysis worker and multiprocessing's helpers), RSS and
PSS from /proc/PID/smaps_rollup, INDI processes apart.  ``--compare REF``
first measures the RSS after a goto and an exposure of the service of a
git revision (``git archive REF``), the peer for that figure.  The last
line is one JSON object.  The script reports; it does not fail when a
figure is bad.

    nice .venv/bin/python bench/soak.py --exposures 1000 --compare HEAD~8
    .venv/bin/python bench/soak.py --quick          # 30 exposures, a minute
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from stress import Service, archive, rss_mb  # noqa: E402

from indiws.testing import DEFAULT_SIMULATORS, SIMULATOR_DEVICES, IndiServerProcess  # noqa: E402

ROLES = {
    "telescope": "Telescope Simulator",
    "camera": "CCD Simulator",
    "focuser": "Focuser Simulator",
    "filter_wheel": "Filter Simulator",
}


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


#: Processes of the INDI side, listed apart from the service's own.
INDI_NAMES = ("indiserver", "indi_")


def _smaps(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB from /proc/PID/smaps_rollup; (0, 0) when gone."""
    rss = pss = 0.0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The name may hold spaces: the fields after its closing parenthesis.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _name(pid: int) -> str:
    """The program, and for a Python helper which one (multiprocessing's
    forkserver, resource tracker, or a worker it forked)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if comm.startswith("python"):
        for helper in ("forkserver", "resource_tracker"):
            if helper in cmdline:
                return helper
        if "-m indiws" not in cmdline:
            return "worker"
    return comm


def memory(pid: int) -> dict[str, Any]:
    """The service process and its whole process tree (the analysis worker,
    the forkserver and resource tracker of multiprocessing, solvers), RSS and
    PSS in MB; INDI processes (indiserver, drivers) in the tree are counted
    apart.  PSS shares each shared page among the processes mapping it, so
    the tree's PSS is what the service really costs; the RSS sum counts
    shared pages (the forked helpers' libraries) more than once."""
    kids = _children()
    tree, todo = [], [pid]
    names: dict[int, str] = {}
    while todo:
        p = todo.pop()
        tree.append(p)
        names.setdefault(p, _name(p))
        for kid in kids.get(p, []):
            todo.append(kid)
            # A process the forkserver forked carries its command line: a worker.
            names[kid] = "worker" if names[p] == "forkserver" else _name(kid)
    out: dict[str, Any] = {"processes": {}, "indi": {"rss_mb": 0.0, "pss_mb": 0.0}}
    own_rss = own_pss = 0.0
    for p in tree:
        rss, pss = _smaps(p)
        name = names[p]
        if name.startswith(INDI_NAMES):
            out["indi"]["rss_mb"] += rss
            out["indi"]["pss_mb"] += pss
            continue
        own_rss += rss
        own_pss += pss
        out["processes"][f"{p} {name}"] = {"rss_mb": round(rss, 1), "pss_mb": round(pss, 1)}
    main_rss, main_pss = _smaps(pid)
    out.update(main_rss_mb=main_rss, main_pss_mb=main_pss, tree_rss_mb=own_rss, tree_pss_mb=own_pss)
    return out


def show_memory(label: str, m: dict[str, Any]) -> None:
    others = ", ".join(
        f"{k.split(' ', 1)[1]} {v['rss_mb']:.1f}/{v['pss_mb']:.1f}"
        for k, v in list(m["processes"].items())[1:]
    )
    print(
        f"  {label}: main process RSS {m['main_rss_mb']:.1f} MB, PSS {m['main_pss_mb']:.1f} MB; "
        f"whole tree ({len(m['processes'])} processes) RSS {m['tree_rss_mb']:.1f} MB, "
        f"PSS {m['tree_pss_mb']:.1f} MB"
        + (f" [others RSS/PSS MB: {others}]" if others else "")
        + (
            f"; INDI processes apart: RSS {m['indi']['rss_mb']:.1f} MB, "
            f"PSS {m['indi']['pss_mb']:.1f} MB"
            if m["indi"]["rss_mb"]
            else ""
        )
    )


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of (exposure, MB), per exposure."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


class Rpc:
    """A JSON-RPC client of /ws/indi_client/ that counts the notifications it gets."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.notes = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, port: int) -> Rpc:
        return cls(await websocket_connect(f"ws://127.0.0.1:{port}/ws/indi_client/"))

    async def _read(self) -> None:
        while (text := await self.conn.read_message()) is not None:
            msg = json.loads(text)
            if "method" in msg:
                self.notes += 1
            elif (fut := self.waiting.pop(msg.get("id"), None)) and not fut.done():
                fut.set_result(msg)

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout=300.0) -> Any:
        rid = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = fut
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        await self.conn.write_message(json.dumps(msg))
        answer = await asyncio.wait_for(fut, timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error'].get('message')}")
        return answer["result"]

    def close(self) -> None:
        self.conn.close()
        self.reader.cancel()


async def streamer(port: int, counts: list[int], index: int) -> None:
    conn = await websocket_connect(f"ws://127.0.0.1:{port}/ws/debugging/?stream=1")
    try:
        while await conn.read_message() is not None:
            counts[index] += 1
    finally:
        conn.close()


def fetch(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
        return len(resp.read())


def get_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
        return json.load(resp)


async def prepare(rpc: Rpc) -> None:
    for role, device in ROLES.items():
        await rpc.call("assign", {"role": role, "device": device})
    if (await rpc.call("telescope.status")).get("parked"):
        await rpc.call("telescope.unpark")


async def goto_near_meridian(rpc: Rpc, east: bool) -> None:
    lst = (await rpc.call("telescope.position"))["lst"]
    ra = (lst + (0.5 if east else -0.5)) % 24
    await rpc.call("telescope.goto", {"ra": ra, "dec": 30.0})


def cache_bytes(port: int) -> int:
    stats = get_json(port, "/blobs?limit=1")["stats"]
    return int(stats.get("cached_bytes", stats.get("bytes", 0)))


async def first_goto_and_exposure(svc: Service, args: argparse.Namespace) -> dict[str, float]:
    rpc = await Rpc.open(svc.port)
    try:
        await prepare(rpc)
        start = rss_mb(svc.proc.pid)
        await goto_near_meridian(rpc, True)
        await rpc.call(
            "camera.expose",
            {"duration": args.duration, "binning": args.binning, "metadata": {"object": "Soak"}},
        )
        await asyncio.sleep(0.5)
        cache = cache_bytes(svc.port) / 2**20
        rss = rss_mb(svc.proc.pid)
        return {
            "start_mb": start,
            "after_mb": rss,
            "cache_mb": cache,
            "working_mb": rss - cache,
            "memory": memory(svc.proc.pid),
        }
    finally:
        rpc.close()


async def night(svc: Service, args: argparse.Namespace, data: Path) -> dict[str, Any]:
    pid = svc.proc.pid
    counts = [0] * args.clients
    streams = [asyncio.ensure_future(streamer(svc.port, counts, i)) for i in range(args.clients)]
    rpc, watcher = await Rpc.open(svc.port), await Rpc.open(svc.port)
    await prepare(rpc)
    await asyncio.sleep(1.0)
    start = {
        "rss_mb": rss_mb(pid),
        "fds": fds(pid),
        "threads": threads(pid),
        "memory": memory(pid),
    }
    tree: list[tuple[int, float]] = []
    first: dict[str, float] = {}
    samples: list[tuple[int, float]] = []
    failures: list[str] = []
    taken = 0
    slots = itertools.cycle(range(1, 6))
    began = time.monotonic()
    warm: float | None = None
    warm_memory: dict[str, Any] | None = None
    for i in range(1, args.exposures + 1):
        try:
            if i % args.slew_every == 1 or args.slew_every == 1:
                await goto_near_meridian(rpc, east=(i // args.slew_every) % 2 == 0)
            if i % 5 == 0:
                await rpc.call("filter_wheel.select", {"filter": next(slots)})
            if i % 7 == 0:
                await rpc.call("focuser.move_by", {"steps": 100 if i % 14 else -100})
            frame = await rpc.call(
                "camera.expose",
                {
                    "duration": args.duration,
                    "binning": args.binning,
                    "metadata": {"object": "Soak"},
                },
            )
            taken += 1
            if i % 10 == 0:
                await asyncio.to_thread(fetch, svc.port, frame["url"])
                await asyncio.to_thread(fetch, svc.port, frame["preview_jpg_url"] + "?max_size=512")
        except Exception as exc:  # a failure is a figure, not the end of the night
            failures.append(f"#{i}: {exc}")
        rss = rss_mb(pid)
        samples.append((i, rss))
        if i % 10 == 0 or i in (1, args.warmup, args.exposures):
            tree.append((i, memory(pid)["tree_pss_mb"]))
        if i == 1:
            first = {
                "rss_mb": rss,
                "cache_mb": cache_bytes(svc.port) / 2**20,
                "memory": memory(pid),
            }
        if i == args.warmup:
            warm = rss
            warm_memory = memory(pid)
        if i % 100 == 0 or i == args.exposures:
            print(
                f"  {i:5d} exposures  RSS {rss:6.1f} MB  fds {fds(pid)}  "
                f"failures {len(failures)}  {time.monotonic() - began:6.0f} s",
                flush=True,
            )
    end = {
        "rss_mb": rss_mb(pid),
        "fds": fds(pid),
        "threads": threads(pid),
        "memory": memory(pid),
    }
    tree_per = slope([t for t in tree if t[0] > args.warmup])
    journal = get_json(svc.port, f"/exposures?limit={args.exposures + 10}")
    states: dict[str, int] = {}
    for entry in journal.get("exposures", []):
        states[entry["state"]] = states.get(entry["state"], 0) + 1
    listed = get_json(svc.port, "/blobs?limit=1")["stats"]
    on_disk = sum(1 for p in (data / "frames").rglob("*.fits"))
    partial = sum(1 for p in (data / "frames").rglob("*.part"))
    per = slope([s for s in samples if s[0] > args.warmup])
    rpc.close()
    watcher.close()
    for task in streams:
        task.cancel()
    return {
        "exposures": args.exposures,
        "taken": taken,
        "on_disk": on_disk,
        "partial_files": partial,
        "listed": listed.get("count"),
        "journal": states,
        "failures": len(failures),
        "failure_samples": failures[:5],
        "start": start,
        "after_first": first,
        "after_warmup_mb": warm,
        "after_warmup_memory": warm_memory,
        "tree_pss_slope_mb_per_100": None if tree_per is None else tree_per * 100,
        "end": end,
        "slope_mb_per_100": None if per is None else per * 100,
        "stream_messages": sum(counts),
        "action_events": watcher.notes,
        "seconds": time.monotonic() - began,
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    indi = IndiServerProcess(DEFAULT_SIMULATORS, workdir=workdir / "indiserver")
    indi.start()
    devices = {SIMULATOR_DEVICES[d] for d in DEFAULT_SIMULATORS}
    report: dict[str, Any] = {}
    try:
        if args.compare:
            old_root = archive(args.compare, workdir / "old")
            (workdir / "old-run").mkdir()
            svc = Service(old_root, indi, workdir / "old-run", devices)
            try:
                figures = await first_goto_and_exposure(svc, args)
                report["compare"] = {"ref": args.compare, **figures}
            finally:
                svc.stop()
        (workdir / "run").mkdir()
        svc = Service(ROOT, indi, workdir / "run", devices)
        try:
            report["this"] = await first_goto_and_exposure(svc, args)
            report["night"] = await night(svc, args, workdir / "run" / "data")
        finally:
            svc.stop()
    finally:
        indi.close()
    return report


def show(report: dict[str, Any]) -> None:
    def mb(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} MB"

    for label in ("compare", "this"):
        r = report.get(label)
        if r:
            name = f"{r['ref']}" if label == "compare" else "this tree"
            print(
                f"{name:>12}: RSS connected {mb(r['start_mb'])}, after a goto and an exposure "
                f"{mb(r['after_mb'])} (frame cache {mb(r['cache_mb'])}, working set "
                f"{mb(r['working_mb'])})"
            )
    n = report["night"]
    print(
        f"night: {n['exposures']} exposures in {n['seconds']:.0f} s, {n['taken']} taken, "
        f"{n['on_disk']} on disk, {n['listed']} listed at /blobs, {n['partial_files']} partial "
        f"files, journal {n['journal']}, failures {n['failures']} {n['failure_samples']}"
    )
    print(
        f"RSS: start {mb(n['start']['rss_mb'])}, after the first exposure "
        f"{mb(n['after_first'].get('rss_mb'))}, after warm-up {mb(n['after_warmup_mb'])}, "
        f"end {mb(n['end']['rss_mb'])}; slope after warm-up "
        f"{n['slope_mb_per_100']:+.2f} MB per 100 exposures"
        if n["slope_mb_per_100"] is not None
        else "RSS: too few samples for a slope"
    )
    print("memory, the main process and the whole process tree (RSS and PSS):")
    for label in ("compare", "this"):
        r = report.get(label)
        if r and r.get("memory"):
            name = r["ref"] if label == "compare" else "this tree"
            show_memory(f"{name}, after a goto and an exposure", r["memory"])
    show_memory("night start", n["start"]["memory"])
    if n["after_first"].get("memory"):
        show_memory("after the first exposure", n["after_first"]["memory"])
    if n["after_warmup_memory"]:
        show_memory("after warm-up", n["after_warmup_memory"])
    show_memory("end", n["end"]["memory"])
    if n["tree_pss_slope_mb_per_100"] is not None:
        print(
            f"  tree PSS slope after warm-up {n['tree_pss_slope_mb_per_100']:+.2f} MB "
            "per 100 exposures"
        )
    print(
        f"fds {n['start']['fds']} -> {n['end']['fds']}, threads {n['start']['threads']} -> "
        f"{n['end']['threads']}; {n['stream_messages']} stream messages to {args_clients} "
        f"clients, {n['action_events']} action events"
    )


args_clients = 0


def main() -> None:
    global args_clients
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exposures", type=int, default=200)
    parser.add_argument("--duration", type=float, default=0.1, help="seconds per exposure")
    parser.add_argument("--binning", type=int, default=2)
    parser.add_argument("--slew-every", type=int, default=10)
    parser.add_argument("--clients", type=int, default=5, help="stream clients")
    parser.add_argument("--warmup", type=int, default=None, help="default: a tenth, at most 100")
    parser.add_argument("--compare", metavar="REF", help="git revision to compare memory with")
    parser.add_argument("--quick", action="store_true", help="30 exposures")
    args = parser.parse_args()
    if args.quick:
        args.exposures = 30
    if args.warmup is None:
        args.warmup = max(1, min(100, args.exposures // 10))
    args_clients = args.clients
    with tempfile.TemporaryDirectory(prefix="indiws-soak-") as tmp:
        report = asyncio.run(run(args, Path(tmp)))
    show(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
