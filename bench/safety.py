"""How fast the safety policy tells every client that the weather turned.

Against INDI's weather, dome and telescope simulators, each round makes the
weather unsafe (WEATHER_CONTROL Precip, then WEATHER_REFRESH) and times,
from the moment the command is sent:

* ``indi``: until a bare `indiws.client.INDIClient` in this process sees
  WEATHER_STATUS turn Alert (the peer: the floor any client has);
* ``safety``: until a ``/ws/indi_client/`` socket gets the ``safety``
  notification (phase ``unsafe``) of the service, which runs in its own
  process (``python -m indiws``).

Then the weather is made safe again and the next round starts.  (On the
development machine the bare client, idle on its socket, saw the Alert
about 40 ms after the service's socket got the notification: a TCP
delayed-acknowledgement stall between indiserver's two small writes, which
the service's busier connection did not meet.  The figures are printed
side by side, not subtracted.)  The service runs with
``--safety-actions none`` (announce only) so that rounds do not wait on
simulated motors; one last round with the default close-up times it whole
(abort exposure, stop guiding, park the mount, close the dome: the time is
the simulators').

The last line is one JSON object with the figures; the script reports, it
does not fail.

    .venv/bin/python bench/safety.py            # 10 rounds, about 40 s
    .venv/bin/python bench/safety.py --quick    # 3 rounds, about 25 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tornado.websocket import websocket_connect  # noqa: E402

from indiws.client import Event, INDIClient  # noqa: E402
from indiws.protocol import PropertyState  # noqa: E402
from indiws.testing import IndiServerProcess, free_port  # noqa: E402

WEATHER, DOME, SCOPE = "Weather Simulator", "Dome Simulator", "Telescope Simulator"
DRIVERS = ["indi_simulator_weather", "indi_simulator_dome", "indi_simulator_telescope"]


def start_service(server: IndiServerProcess, data: Path, actions: str) -> tuple[Any, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "indiws", "--indi-host", "127.0.0.1"]
        + ["--indi-port", str(server.port), "--port", str(port), "--data-dir", str(data)]
        + ["--safety-actions", actions, "--status-interval", "0", "--log-level", "WARNING"],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=1)
            return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the service did not start") from None
            time.sleep(0.1)


class Socket:
    def __init__(self, conn: Any) -> None:
        self.conn, self.ids = conn, 0
        self.notes: asyncio.Queue[tuple[float, dict]] = asyncio.Queue()
        self.answers: dict[int, asyncio.Future[dict]] = {}
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        while (text := await self.conn.read_message()) is not None:
            now, msg = time.perf_counter(), json.loads(text)
            if "method" in msg:
                self.notes.put_nowait((now, msg))
            elif msg.get("id") in self.answers:
                self.answers.pop(msg["id"]).set_result(msg)

    async def call(self, method: str, params: dict | None = None, timeout: float = 120) -> dict:
        self.ids += 1
        fut = self.answers[self.ids] = asyncio.get_running_loop().create_future()
        await self.conn.write_message(
            json.dumps({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params or {}})
        )
        return await asyncio.wait_for(fut, timeout)

    async def safety(self, phase: str, timeout: float = 120) -> float:
        async with asyncio.timeout(timeout):
            while True:
                at, msg = await self.notes.get()
                if msg["method"] == "safety" and msg["params"]["phase"] == phase:
                    return at


async def set_weather(client: INDIClient, precip: float) -> float:
    await client.set_property(WEATHER, "WEATHER_CONTROL", {"Precip": precip}, wait=True)
    sent = time.perf_counter()
    await client.set_property(WEATHER, "WEATHER_REFRESH", {"REFRESH": True})
    return sent


async def until_alert(client: INDIClient, alert: bool) -> float:
    """When the update turning WEATHER_STATUS Alert (or not) was dispatched."""
    fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def check(event: Event) -> None:
        prop = event.property
        if event.name == "WEATHER_STATUS" and prop is not None and not fut.done():
            if (prop.state is PropertyState.ALERT) == alert:
                fut.set_result(time.perf_counter())

    with client.subscribe(check, device=WEATHER):
        return await asyncio.wait_for(fut, 30)


async def run_service(server: IndiServerProcess, data: Path, actions: str) -> tuple[Any, Socket]:
    proc, port = start_service(server, data, actions)
    sock = Socket(await websocket_connect(f"ws://127.0.0.1:{port}/ws/indi_client/"))
    for role, device in (("weather", WEATHER), ("dome", DOME), ("telescope", SCOPE)):
        await sock.call("assign", {"role": role, "device": device})
    # The policy reads the newly assigned weather device within a second.
    while (await sock.call("safety.status"))["result"]["weather"]["state"] != "ok":  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return proc, sock


async def bench(rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="indiws-bench-safety-"))
    with IndiServerProcess(DRIVERS, workdir=work / "indi") as server:
        client = INDIClient(server.host, server.port)
        await client.connect()
        proc, sock = await run_service(server, work / "data", "none")
        indi_ms, safety_ms = [], []
        try:
            for _ in range(rounds):
                sent = await set_weather(client, 10)
                seen, told = await asyncio.gather(until_alert(client, True), sock.safety("unsafe"))
                indi_ms.append((seen - sent) * 1000)
                safety_ms.append((told - sent) * 1000)
                await set_weather(client, 0)
                await asyncio.gather(until_alert(client, False), sock.safety("safe"))
        finally:
            proc.terminate()
            proc.wait(10)
        # One round with the whole close-up: dome opened and mount unparked first.
        proc, sock = await run_service(
            server, work / "data2", "abort_exposure,park_mount,close_dome"
        )
        try:
            await sock.call("dome.unpark")
            await sock.call("dome.open")
            await sock.call("telescope.unpark")
            sent = await set_weather(client, 10)
            closed = await sock.safety("closed")
            close_up_s = closed - sent
        finally:
            proc.terminate()
            proc.wait(10)
        await client.close()
    return {
        "rounds": rounds,
        "median_indi_ms": round(statistics.median(indi_ms), 2),
        "median_safety_event_ms": round(statistics.median(safety_ms), 2),
        "max_safety_event_ms": round(max(safety_ms), 2),
        "close_up_s": round(close_up_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    result = asyncio.run(bench(3 if args.quick else args.rounds))
    print(f"weather Alert seen by a bare INDI client: {result['median_indi_ms']:8.2f} ms (median)")
    print(f"safety notification on /ws/indi_client/: {result['median_safety_event_ms']:8.2f} ms")
    print(f"  (slowest round:                         {result['max_safety_event_ms']:8.2f} ms)")
    print(f"whole close-up (park mount, close dome):  {result['close_up_s']:8.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
