"""A manual move started over ``/ws/indi_client/`` without a duration stops
when the socket that started it goes away (a jog button held while the
page's connection dropped), and only that socket's moves stop.

indiserver's own ``indi_getprop`` is the judge of whether the mount moves.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest
from ws_support import WsClient, client_frame, raw_websocket

from indiws.testing import IndiServerFactory, start_service

SCOPE = "Telescope Simulator"


def motion(port: int) -> dict[str, str]:
    """``MOTION_NORTH``... → ``On``/``Off`` as indiserver reports them now."""
    out = subprocess.run(
        [
            "indi_getprop",
            "-p",
            str(port),
            "-t",
            "1",
            f"{SCOPE}.TELESCOPE_MOTION_NS.*",
            f"{SCOPE}.TELESCOPE_MOTION_WE.*",
        ],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    ).stdout
    return {
        line.split(".")[-1].split("=")[0]: line.split("=")[1]
        for line in out.splitlines()
        if "=" in line
    }


async def wait_motion(port: int, element: str, value: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        now = await asyncio.to_thread(motion, port)
        if now.get(element) == value:
            return now
        assert time.monotonic() < deadline, f"{element} stayed {now.get(element)}: {now}"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_an_untimed_move_stops_when_its_socket_drops(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_telescope"])
    svc = await start_service(server, tmp_path / "data", status_interval=0)
    other = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    loop = asyncio.get_running_loop()
    try:
        await other.call("assign", {"role": "telescope", "device": SCOPE})
        if (await other.call("telescope.status")).get("parked"):
            await other.call("telescope.unpark")
        # Another client's move, on the other axis: it must go on.
        assert (await other.call("telescope.move", {"direction": "west"}))["moving"] is True

        sock = await raw_websocket(svc.port, "/ws/indi_client/")
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "telescope.move",
            "params": {"direction": "north"},
        }
        await loop.sock_sendall(sock, client_frame(json.dumps(request)))
        answer = b""
        while b'"moving"' not in answer and b'"error"' not in answer:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 15)
            assert chunk, answer
            answer += chunk
        assert b'"moving":true' in answer.replace(b" ", b""), answer
        await wait_motion(server.port, "MOTION_NORTH", "On")

        sock.close()  # dropped: no close frame, no telescope.stop
        now = await wait_motion(server.port, "MOTION_NORTH", "Off")
        assert now["MOTION_WEST"] == "On", now  # the other socket's move goes on

        # A socket that closes after stopping its own move stops nothing else.
        await other.call("telescope.stop", {"direction": "west"})
        await wait_motion(server.port, "MOTION_WEST", "Off")
        timed = await other.call("telescope.move", {"direction": "S", "duration": 0.5})
        assert timed["moving"] is False and timed["direction"] == "south"  # any case
    finally:
        await other.close()
        await svc.stop()
