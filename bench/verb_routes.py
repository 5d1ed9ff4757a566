"""A declared verb through REST and through JSON-RPC: what each front costs.

1. **Checking a goto's params** (no I/O), ``--checks`` times each way:

   * ``msgspec``: the REST route's check, `msgspec.convert` of the body into
     the verb's request struct (`web/verb_routes.py`);
   * ``jsonrpc`` (the peer): JSON-RPC's binder (`RpcMethod.bind`, which
     converts into the verb's params struct too, positional params mapped
     by name) of the same params for the same verb;
   * ``lightapt``: lightAPT's binder of its ``goto [ra, dec, target_name]``
     (`web/lightapt/binding.py`: an array-like struct made from the verb's
     fields), whose ratio to JSON-RPC's is printed too.

2. **A quick verb end to end** (``telescope.position``) on an embedded
   service (its own indiserver with the simulators), ``--calls`` calls one
   after the other on one kept-alive connection each:

   * ``rest``: ``POST /api/v1/roles/telescope/position``;
   * ``jsonrpc`` (the peer): the method of the same name on ``/ws/indi_client/``.

Medians (µs per check, ms per call), calls per second and the ratios are
printed; the last line is one JSON object with the figures.

    .venv/bin/python bench/verb_routes.py            # 20000 checks, 1000 calls
    .venv/bin/python bench/verb_routes.py --quick    # 2000 checks, 100 calls
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from indiws.testing import start_embedded_service  # noqa: E402
from indiws.verbs import VERBS  # noqa: E402
from indiws.web.highlevel import IndiClientSocket  # noqa: E402
from indiws.web.lightapt import INSTRUCTIONS  # noqa: E402
from indiws.web.verb_routes import REQUESTS  # noqa: E402

GOTO = {"ra": 5.5881, "dec": -5.3911, "epoch": "J2000", "timeout": 120, "force": False}
#: lightAPT's goto: positional, with the target's name.
LIGHTAPT_GOTO = [5.5881, -5.3911, "M42"]


def checks(count: int) -> dict[str, float]:
    """Median µs of one check of a goto's params, each way (7 rounds)."""
    struct = REQUESTS["telescope.goto"]
    method = IndiClientSocket.methods["telescope.goto"]
    assert VERBS["telescope.goto"].params is not None

    def rest() -> None:
        for _ in range(count):
            msgspec.convert(GOTO, struct)

    def jsonrpc() -> None:
        for _ in range(count):
            method.bind(GOTO)

    goto = INSTRUCTIONS["telescope"]["goto"]

    def lightapt() -> None:
        for _ in range(count):
            goto.bind(LIGHTAPT_GOTO)

    out: dict[str, list[float]] = {"msgspec": [], "jsonrpc": [], "lightapt": []}
    for _ in range(7):
        for name, run in (("msgspec", rest), ("jsonrpc", jsonrpc), ("lightapt", lightapt)):
            t0 = time.perf_counter()
            run()
            out[name].append((time.perf_counter() - t0) / count * 1e6)
    return {name: statistics.median(times) for name, times in out.items()}


async def rest_calls(port: int, count: int) -> list[float]:
    """``count`` POSTs on one HTTP/1.1 connection; seconds each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        "POST /api/v1/roles/telescope/position HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}"
    ).encode()
    times = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            json.loads(await reader.readexactly(length))
            times.append(time.perf_counter() - t0)
    finally:
        writer.close()
    return times


async def jsonrpc_calls(port: int, count: int) -> list[float]:
    """``count`` calls on one WebSocket; seconds each (notifications skipped)."""
    ws = await websocket_connect(f"ws://127.0.0.1:{port}/ws/indi_client/")
    times = []
    try:
        for n in range(count):
            t0 = time.perf_counter()
            await ws.write_message(
                json.dumps({"jsonrpc": "2.0", "id": n, "method": "telescope.position"})
            )
            while True:
                answer = json.loads(await ws.read_message())
                if answer.get("id") == n:
                    break
            assert "result" in answer, answer
            times.append(time.perf_counter() - t0)
    finally:
        ws.close()
    return times


async def calls(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="indiws-bench-") as tmp:
        svc = await start_embedded_service(Path(tmp), status_interval=0)
        try:
            await svc.service.roles.assign("telescope", "Telescope Simulator")
            out: dict[str, float] = {}
            for name, run in (("rest", rest_calls), ("jsonrpc", jsonrpc_calls)):
                await run(svc.port, min(20, count))  # warm up
                times = await run(svc.port, count)
                out[f"{name}_ms"] = statistics.median(times) * 1000
                out[f"{name}_per_s"] = count / sum(times)
            return out
        finally:
            await svc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2000 checks, 100 calls")
    args = parser.parse_args()
    if args.quick:
        args.checks, args.calls = 2000, 100
    check = checks(args.checks)
    print(f"goto params checked, {args.checks} times, median of 7 rounds:")
    print(f"  msgspec (REST)      {check['msgspec']:8.2f} µs")
    print(f"  bind (JSON-RPC)     {check['jsonrpc']:8.2f} µs")
    print(f"  ratio msgspec/bind  {check['msgspec'] / check['jsonrpc']:8.3f}")
    print(f"  lightAPT goto bind  {check['lightapt']:8.2f} µs")
    print(f"  ratio lightAPT/bind {check['lightapt'] / check['jsonrpc']:8.3f}")
    call = asyncio.run(calls(args.calls))
    print(f"telescope.position, {args.calls} calls one after the other:")
    print(f"  REST POST           {call['rest_ms']:8.3f} ms   {call['rest_per_s']:8.0f} /s")
    print(f"  JSON-RPC over WS    {call['jsonrpc_ms']:8.3f} ms   {call['jsonrpc_per_s']:8.0f} /s")
    print(f"  ratio REST/JSON-RPC {call['rest_ms'] / call['jsonrpc_ms']:8.3f}")
    summary = {
        "checks": args.checks,
        "calls": args.calls,
        "check_msgspec_us": round(check["msgspec"], 3),
        "check_jsonrpc_us": round(check["jsonrpc"], 3),
        "check_ratio": round(check["msgspec"] / check["jsonrpc"], 3),
        "check_lightapt_us": round(check["lightapt"], 3),
        "check_lightapt_ratio": round(check["lightapt"] / check["jsonrpc"], 3),
        "rest_ms": round(call["rest_ms"], 3),
        "jsonrpc_ms": round(call["jsonrpc_ms"], 3),
        "rest_per_s": round(call["rest_per_s"], 1),
        "jsonrpc_per_s": round(call["jsonrpc_per_s"], 1),
        "call_ratio": round(call["rest_ms"] / call["jsonrpc_ms"], 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
