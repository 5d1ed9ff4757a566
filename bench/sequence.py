"""What ``/ws/indi_client/`` adds per call, against the same INDI commands sent bare.

The same sequence of small actions runs against INDI's simulators in two ways:

* ``api``: JSON-RPC calls on ``/ws/indi_client/`` of the service, which runs as
  its own process (``python -m indiws`` against the bench's indiserver), so it
  shares no event loop or GIL with the bench;
* ``bare``: the same INDI commands sent from this process by a bare
  `indiws.client.INDIClient`, waiting for the driver's answer the way any
  client must (``set_property(..., wait=True)``: until the property leaves
  Busy; for tracking, whose property stays Busy while on, the first answer;
  for an exposure, until the frame has arrived and CCD_EXPOSURE is Ok).

Actions, each timed from the request to the answer: filter wheel ``select``
(slot 1 ↔ 2), focuser ``move_to`` (10 steps back and forth), a 0.01 s
``expose`` of a 320×240 frame binned 4×4 (the API also stores it and
makes it downloadable), telescope ``set_tracking`` (on ↔ off), plus a
``focuser.position`` call that sends nothing to INDI (the WebSocket round trip
alone) and lightAPT's ``get_params`` of the focuser on another socket (the
same round trip in lightAPT's envelope, as its front ends poll).  Each round
runs every action once per way, alternating which way goes first, so that
drift in the simulators' timing falls on both.  The overhead of
an action is the median of ``api − bare`` over the rounds.

Both clients talk to the same indiserver, so both receive the other's BLOBs
and updates: the comparison is fair, the absolute times are the simulators'
(the filter wheel simulator takes 0.5 s per change; the CCD simulator's
polling period is set to 10 ms so that exposures end without its default
1 s timer in the way).
The last line is one JSON object with the figures.  The script reports; it
does not fail when the overhead is high.

    .venv/bin/python bench/sequence.py            # 15 rounds, about 40 s
    .venv/bin/python bench/sequence.py --quick    # 4 rounds, about 15 s
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tornado.websocket import WebSocketClientConnection, websocket_connect  # noqa: E402

from indiws.client import Event, EventType, INDIClient  # noqa: E402
from indiws.protocol import BLOBMode, PropertyState  # noqa: E402
from indiws.testing import DEFAULT_SIMULATORS, IndiServerProcess, free_port  # noqa: E402

SCOPE, CCD, FOCUSER, WHEEL = (
    "Telescope Simulator",
    "CCD Simulator",
    "Focuser Simulator",
    "Filter Simulator",
)
ROLES = {"telescope": SCOPE, "camera": CCD, "focuser": FOCUSER, "filter_wheel": WHEEL}
EXPOSURE = 0.01
ACTIONS = (
    "filter_select",
    "focuser_move_to",
    "expose",
    "set_tracking",
    "roundtrip",
    "lightapt_roundtrip",
)


# ---------------------------------------------------------------- the service


class Service:
    """``python -m indiws`` in its own process, against the bench's indiserver."""

    def __init__(self, indi: IndiServerProcess, workdir: Path) -> None:
        self.port = free_port()
        self.indi_port = indi.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "service.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "indiws",
                    "--indi-host",
                    "127.0.0.1",
                    "--indi-port",
                    str(indi.port),
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(workdir / "data"),
                    "--log-level",
                    "WARNING",
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            return json.load(resp)

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            return resp.read().decode()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                names = {d["device_name"] for d in self.get("/get/all/devices/")}
                if set(ROLES.values()) <= names:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not come up:\n" + self.log()[-2000:])
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Rpc:
    """A minimal JSON-RPC client: one request at a time, notifications skipped."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.ids = itertools.count(1)
        self.notifications = 0

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        rid = next(self.ids)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        await self.conn.write_message(json.dumps(msg))
        while True:
            text = await self.conn.read_message()
            if text is None:
                raise ConnectionError("the service closed the WebSocket")
            answer = json.loads(text)
            if answer.get("id") != rid:
                self.notifications += 1
                continue
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            return answer["result"]


class LightApt:
    """lightAPT's side of the socket: one request, its one reply."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn

    async def ask(self, device_name: str, instruction: str, params: list | None = None) -> Any:
        text = json.dumps(
            {"device_name": device_name, "instruction": instruction, "params": params or []}
        )
        await self.conn.write_message(text)
        while True:
            reply = await self.conn.read_message()
            if reply is None:
                raise ConnectionError("the service closed the WebSocket")
            frame = json.loads(reply)
            if frame.get("instruction") == instruction:
                if frame["type"] not in ("data", "message"):
                    raise RuntimeError(f"{instruction}: {frame}")
                return frame["data"]


# ---------------------------------------------------------------- bare INDI


async def answered(client: INDIClient, device: str, name: str, values: dict[str, Any]) -> None:
    """Send and wait for the driver's first answer (for properties that stay
    Busy while active, such as TELESCOPE_TRACK_STATE)."""
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(event: Event) -> None:
        if event.type is EventType.UPDATED and not fut.done():
            fut.set_result(None)

    with client.subscribe(check, device=device, name=name):
        await client.set_property(device, name, values)
        await asyncio.wait_for(fut, 10)


async def bare_expose(client: INDIClient) -> None:
    """Start an exposure; wait until the frame arrived and CCD_EXPOSURE is Ok."""
    loop = asyncio.get_running_loop()
    frame: asyncio.Future[None] = loop.create_future()
    ended: asyncio.Future[None] = loop.create_future()

    def check(event: Event) -> None:
        if event.type is not EventType.UPDATED or event.property is None:
            return
        if event.name == "CCD1" and not frame.done():
            frame.set_result(None)
        elif (
            event.name == "CCD_EXPOSURE"
            and event.property.state is PropertyState.OK
            and not ended.done()
        ):
            ended.set_result(None)

    with client.subscribe(check, device=CCD):
        await client.set_property(CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": EXPOSURE})
        await asyncio.wait_for(asyncio.gather(frame, ended), 30)


# ---------------------------------------------------------------- the sequence


def steps(
    rpc: Rpc, bare: INDIClient, start_focus: int, lightapt: LightApt
) -> dict[str, list[tuple]]:
    """Per action, two (api, bare) coroutine factories: there and back."""
    return {
        "filter_select": [
            (
                lambda: rpc.call("filter_wheel.select", {"filter": 2}),
                lambda: bare.set_property(
                    WHEEL, "FILTER_SLOT", {"FILTER_SLOT_VALUE": 2}, wait=True
                ),
            ),
            (
                lambda: rpc.call("filter_wheel.select", {"filter": 1}),
                lambda: bare.set_property(
                    WHEEL, "FILTER_SLOT", {"FILTER_SLOT_VALUE": 1}, wait=True
                ),
            ),
        ],
        "focuser_move_to": [
            (
                lambda: rpc.call("focuser.move_to", {"position": start_focus + 10}),
                lambda: bare.set_property(
                    FOCUSER,
                    "ABS_FOCUS_POSITION",
                    {"FOCUS_ABSOLUTE_POSITION": start_focus + 10},
                    wait=True,
                ),
            ),
            (
                lambda: rpc.call("focuser.move_to", {"position": start_focus}),
                lambda: bare.set_property(
                    FOCUSER,
                    "ABS_FOCUS_POSITION",
                    {"FOCUS_ABSOLUTE_POSITION": start_focus},
                    wait=True,
                ),
            ),
        ],
        "expose": [
            (
                lambda: rpc.call("camera.expose", {"duration": EXPOSURE}),
                lambda: bare_expose(bare),
            )
        ]
        * 2,
        "set_tracking": [
            (
                lambda: rpc.call("telescope.set_tracking", {"on": True}),
                lambda: answered(bare, SCOPE, "TELESCOPE_TRACK_STATE", {"TRACK_ON": True}),
            ),
            (
                lambda: rpc.call("telescope.set_tracking", {"on": False}),
                lambda: answered(bare, SCOPE, "TELESCOPE_TRACK_STATE", {"TRACK_OFF": True}),
            ),
        ],
        "roundtrip": [(lambda: rpc.call("focuser.position"), None)] * 2,
        "lightapt_roundtrip": [(lambda: lightapt.ask("focus", "get_params"), None)] * 2,
    }


async def timed(factory: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await factory()
    return (time.perf_counter() - t0) * 1000.0


async def run(args: argparse.Namespace, service: Service) -> dict[str, Any]:
    for role, device in ROLES.items():
        answer = service.get_text(f"/FIFO/start/{role}/{quote(device, safe='')}/")
        if answer != "Got!":
            raise RuntimeError(f"assigning {device} to {role}: {answer}")
    conn = await websocket_connect(f"ws://127.0.0.1:{service.port}/ws/indi_client/")
    rpc = Rpc(conn)
    lightapt_conn = await websocket_connect(f"ws://127.0.0.1:{service.port}/ws/indi_client/")
    lightapt = LightApt(lightapt_conn)
    bare = INDIClient("127.0.0.1", service.indi_port)
    await bare.connect()
    try:
        await bare.wait_synced(15)
        await bare.enable_blobs(CCD, BLOBMode.ALSO)
        # The CCD simulator ends exposures on its polling timer (1 s by
        # default), which would put up to a second of noise on each frame.
        await bare.set_property(CCD, "POLLING_PERIOD", {"PERIOD_MS": 10}, wait=True)
        # A small frame for both ways; the scope must be unparked to track.
        await rpc.call("camera.configure", {"binning": 4, "roi": [0, 0, 320, 240]})
        await rpc.call("telescope.unpark")
        await rpc.call("filter_wheel.select", {"filter": 1})
        start_focus = (await rpc.call("focuser.position"))["position"]
        plan = steps(rpc, bare, start_focus, lightapt)
        # Warm-up: one of each, not counted (first frames, first conversions).
        for pairs in plan.values():
            for api, bare_call in pairs:
                await api()
                if bare_call is not None:
                    await bare_call()
        api_ms: dict[str, list[float]] = {a: [] for a in ACTIONS}
        bare_ms: dict[str, list[float]] = {a: [] for a in ACTIONS}
        diffs: dict[str, list[float]] = {a: [] for a in ACTIONS}
        for rnd in range(args.rounds):
            for action, pairs in plan.items():
                for i, (api, bare_call) in enumerate(pairs):
                    if bare_call is None:
                        api_ms[action].append(await timed(api))
                        continue
                    # There with one way, back with the other; who goes
                    # first alternates by round.
                    if (rnd + i) % 2 == 0:
                        a = await timed(api)
                        b = await timed(bare_call)
                    else:
                        b = await timed(bare_call)
                        a = await timed(api)
                    api_ms[action].append(a)
                    bare_ms[action].append(b)
                    diffs[action].append(a - b)
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        conn.close()
        lightapt_conn.close()
        await bare.close()
    rows = {}
    for action in ACTIONS:
        rows[action] = {
            "api_ms": statistics.median(api_ms[action]),
            "bare_ms": statistics.median(bare_ms[action]) if bare_ms[action] else None,
            "overhead_ms": statistics.median(diffs[action]) if diffs[action] else None,
            "calls": len(api_ms[action]),
        }
    return {"rows": rows, "all_diffs": [d for a in ACTIONS for d in diffs[a]]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, help="rounds of the sequence (default 15, --quick 4)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 4 rounds")
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = 4 if args.quick else 15
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="indiws-sequence-") as tmp:
        work = Path(tmp)
        indi = IndiServerProcess(DEFAULT_SIMULATORS, workdir=work / "indi")
        indi.start()
        service: Service | None = None
        try:
            service = Service(indi, work)
            service.wait_ready()
            out = asyncio.run(run(args, service))
        finally:
            if service is not None:
                service.stop()
            indi.close()
    rows = out["rows"]
    print(
        "service: python -m indiws in its own process; bare: INDIClient in this process; "
        f"{args.rounds} rounds, each action there and back both ways"
    )
    print(f"{'action':<18}{'api ms':>10}{'bare ms':>10}{'added ms':>10}{'calls':>7}")
    for action, row in rows.items():
        bare = "-" if row["bare_ms"] is None else f"{row['bare_ms']:.2f}"
        added = "-" if row["overhead_ms"] is None else f"{row['overhead_ms']:.2f}"
        print(f"{action:<18}{row['api_ms']:>10.2f}{bare:>10}{added:>10}{row['calls']:>7}")
    overall = statistics.median(out["all_diffs"])
    print(f"median time the API adds per call: {overall:.2f} ms")
    summary: dict[str, Any] = {
        "service": "subprocess",
        "rounds": args.rounds,
        "median_overhead_ms": round(overall, 3),
        "ws_roundtrip_ms": round(rows["roundtrip"]["api_ms"], 3),
        "lightapt_roundtrip_ms": round(rows["lightapt_roundtrip"]["api_ms"], 3),
    }
    for action, row in rows.items():
        if row["bare_ms"] is None:
            continue
        summary[f"{action}_api_ms"] = round(row["api_ms"], 3)
        summary[f"{action}_bare_ms"] = round(row["bare_ms"], 3)
        summary[f"{action}_overhead_ms"] = round(row["overhead_ms"], 3)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
