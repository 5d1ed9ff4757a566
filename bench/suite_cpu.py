"""Where the test suite's CPU goes: runs a command (``make test`` by default)
and samples ``/proc`` while it runs, adding up the CPU seconds (user + sys)
of every process under it by kind of process (the pytest workers and the
service inside them, indiserver, each simulator, ``gsc``, the analysis
worker, chromium, ...) and by the test module its pytest worker was running
(tests/conftest.py names it in ``INDIWS_SUITE_CPU_DIR`` when that is set).

    python bench/suite_cpu.py                       # CI=true make test
    python bench/suite_cpu.py --json cpu.json -- make test PYTEST_ARGS=-x

A process that ends between two samples is still counted: its CPU reaches
its parent's ``cutime``/``cstime`` when it is reaped, and what the samples
did not see of it is booked as ``<parent kind>'s short children``.
CPU seconds are the figure to compare between runs on a shared machine;
wall time moves with the other users' load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    pid: int
    ppid: int
    start: int
    kind: str
    own: float = 0.0  # utime + stime, seconds
    reaped: float = 0.0  # cutime + cstime, seconds
    dead_children: float = 0.0  # what seen children had when last sampled


def _stat(pid: int) -> tuple[int, int, float, float] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17, starttime 22
    ppid = int(rest[1])
    own = (int(rest[11]) + int(rest[12])) / TICK
    reaped = (int(rest[13]) + int(rest[14])) / TICK
    return ppid, int(rest[19]), own, reaped


def _kind(pid: int, parent_kind: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
    line = " ".join(a.decode(errors="replace") for a in argv)
    exe = os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else comm
    if "chrom" in exe or "chrom" in comm:
        return "chromium"
    if exe == "node" or comm == "node":
        return "playwright driver (node)"
    if exe.startswith("indi_") or exe in {"indiserver", "solve-field", "astrometry-engine"}:
        return exe
    if "indiws.sky.gsc" in line or exe == "gsc":
        return "gsc (sky catalogue, per frame)"
    if "multiprocessing.forkserver" in line:
        if parent_kind.startswith(("forkserver", "analysis")):
            return "analysis worker"
        return "forkserver"
    if "resource_tracker" in line:
        return "resource_tracker"
    if " -m indiws" in line or exe == "indiws":
        return "indiws service (subprocess)"
    if "sys.stdin.readline" in line:
        return "pytest worker (+ in-process service)"
    if " -m pytest" in line or exe == "pytest":
        return "pytest main"
    if exe.startswith("python"):
        return "python: " + " ".join(a.decode(errors="replace") for a in argv[1:3])[:40]
    return exe or comm


class Sampler:
    def __init__(self, root: int, module_dir: Path) -> None:
        self.root = root
        self.module_dir = module_dir
        self.procs: dict[int, Proc] = {}
        self.by_kind: dict[str, float] = defaultdict(float)
        self.by_module: dict[str, float] = defaultdict(float)
        self.by_module_kind: dict[tuple[str, str], float] = defaultdict(lambda: 0.0)
        #: (worker pid, module) -> [first, last] seconds since the start it was seen running.
        self.spans: dict[tuple[int, str], list[float]] = {}
        self.started = time.monotonic()

    def _modules(self) -> dict[int, str]:
        out = {}
        for path in self.module_dir.glob("*"):
            try:
                out[int(path.name)] = path.read_text().strip() or "(between modules)"
            except (OSError, ValueError):
                pass
        return out

    def _module_of(self, pid: int, modules: dict[int, str], table: dict[int, int]) -> str:
        seen = 0
        while pid and seen < 64:
            if pid in modules:
                return modules[pid]
            pid = table.get(pid, 0)
            seen += 1
        return "(outside a module)"

    def _book(self, kind: str, module: str, seconds: float) -> None:
        if seconds <= 0:
            return
        self.by_kind[kind] += seconds
        self.by_module[module] += seconds
        self.by_module_kind[(module, kind)] += seconds

    def sample(self) -> None:
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = _stat(int(entry.name))
                if st is not None:
                    stats[int(entry.name)] = st
        parent = {pid: st[0] for pid, st in stats.items()}
        # Keep the dead's parents so a re-parented process stays under its worker.
        for pid, proc in self.procs.items():
            parent.setdefault(pid, proc.ppid)
        modules = self._modules()
        now = time.monotonic() - self.started
        for worker, module in modules.items():
            span = self.spans.setdefault((worker, module), [now, now])
            span[1] = now
        ours: set[int] = set()
        for pid in stats:
            p, hops = pid, 0
            while p and hops < 64:
                if p == self.root or (p in self.procs and p != pid):
                    ours.add(pid)
                    break
                p = parent.get(p, 0)
                hops += 1
        # The ones gone since the last sample: what they had goes to their parent's "expected".
        for pid in [
            pid for pid in self.procs if pid not in stats or stats[pid][1] != self.procs[pid].start
        ]:
            gone = self.procs.pop(pid)
            if gone.ppid in self.procs:
                self.procs[gone.ppid].dead_children += gone.own + gone.reaped
        for pid in sorted(ours):
            ppid, start, own, reaped = stats[pid]
            module = self._module_of(pid, modules, parent)
            proc = self.procs.get(pid)
            if proc is None:
                parent_kind = self.procs[ppid].kind if ppid in self.procs else ""
                proc = Proc(pid, ppid, start, _kind(pid, parent_kind))
                self.procs[pid] = proc
                # A process first seen already had CPU: it was used since the last sample.
            self._book(proc.kind, module, own - proc.own)
            unseen = (reaped - proc.reaped) - proc.dead_children
            if unseen > 0:
                self._book(f"{proc.kind}'s short children", module, unseen)
            proc.dead_children = max(0.0, proc.dead_children - (reaped - proc.reaped))
            proc.own, proc.reaped, proc.ppid = own, reaped, ppid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("command", nargs="*", default=["make", "test"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="suite-cpu-") as module_dir:
        env = dict(os.environ, INDIWS_SUITE_CPU_DIR=module_dir)
        env.setdefault("CI", "true")
        started = time.monotonic()
        cpu0 = os.times()
        child = subprocess.Popen(args.command, env=env)
        sampler = Sampler(child.pid, Path(module_dir))
        while child.poll() is None:
            sampler.sample()
            time.sleep(args.interval)
        wall = time.monotonic() - started
        cpu1 = os.times()
    # Everything reaped under the command, the truth the samples approximate.
    reaped_total = (cpu1.children_user - cpu0.children_user) + (
        cpu1.children_system - cpu0.children_system
    )
    sampled_total = sum(sampler.by_kind.values())
    print(
        f"\nwall {wall:.0f} s; CPU {reaped_total:.0f} s (user+sys of every process"
        " under the command,"
        f" reaped); sampled {sampled_total:.0f} s; exit {child.returncode}"
    )
    print("\nCPU seconds by kind of process:")
    for kind, sec in sorted(sampler.by_kind.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {sec:8.1f}  {kind}")
    print("\nCPU seconds by test module (with its three biggest kinds):")
    for module, sec in sorted(sampler.by_module.items(), key=lambda kv: -kv[1])[: args.top]:
        kinds = sorted(
            ((k, s) for (m, k), s in sampler.by_module_kind.items() if m == module),
            key=lambda ks: -ks[1],
        )
        detail = ", ".join(f"{k} {s:.0f}" for k, s in kinds[:3])
        print(f"  {sec:8.1f}  {module}: {detail}")
    print("\nModules by worker (seconds from the start: first and last seen):")
    workers: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    for (worker, module), (first, last) in sampler.spans.items():
        workers[worker].append((first, last, module))
    for worker, spans in sorted(workers.items(), key=lambda kv: -max(s[1] for s in kv[1])):
        spans.sort()
        line = ", ".join(f"{m} {a:.0f}-{b:.0f}" for a, b, m in spans if b - a >= 10)
        print(f"  worker {worker} ends {max(b for _, b, _ in spans):.0f}: {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "wall_s": wall,
                    "cpu_s": reaped_total,
                    "sampled_s": sampled_total,
                    "exit": child.returncode,
                    "spans": [[w, m, a, b] for (w, m), (a, b) in sampler.spans.items()],
                    "by_kind": sampler.by_kind,
                    "by_module": sampler.by_module,
                    "by_module_kind": [[m, k, s] for (m, k), s in sampler.by_module_kind.items()],
                },
                indent=1,
            )
        )
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
