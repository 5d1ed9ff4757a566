"""DNS rebinding: the service answers only under the names it is really reached by.

A page of evil.example whose name is made to resolve to 127.0.0.1 is
same-origin with itself, so Origin checks cannot see it; its ``Host`` header
(``evil.example``) gives it away.
"""

from __future__ import annotations

import socket
from pathlib import Path

from security_support import http, ws_open, ws_refused

from indiws.testing import IndiServerProcess, RunningService, start_service


async def test_foreign_host_name_is_refused_on_http(running_service: RunningService) -> None:
    svc = running_service
    for method, path in [
        ("GET", "/api/v1/status"),
        ("GET", "/get/all/devices/"),
        ("POST", "/api/server/stop"),
        ("GET", "/no/such/endpoint"),
    ]:
        answer = await http(svc.url + path, method, headers={"Host": f"evil.example:{svc.port}"})
        assert answer.code == 421, (path, answer.body)
        assert answer.error == "host_not_allowed"
        assert "'evil.example:" in answer.message
        assert "--allow-host evil.example" in answer.message
        assert answer.headers["Content-Type"].startswith("application/json")


async def test_rebound_websocket_is_refused(running_service: RunningService) -> None:
    """Origin and Host both evil.example: same-origin in the browser's eyes."""
    svc = running_service
    rebound = {"Host": f"evil.example:{svc.port}", "Origin": f"http://evil.example:{svc.port}"}
    for path in ("/ws/indi_client/", "/ws/indi/", "/ws/debugging/"):
        answer = await ws_refused(svc.ws_url + path, rebound)
        assert answer.code == 421 and answer.error == "host_not_allowed", path


async def test_own_names_and_addresses_pass(running_service: RunningService) -> None:
    svc = running_service
    hostname = socket.gethostname()
    for host in [
        f"127.0.0.1:{svc.port}",
        f"localhost:{svc.port}",
        f"LOCALHOST.:{svc.port}",
        f"[::1]:{svc.port}",
        "192.0.2.7",  # any IP address: a browser connects to exactly it, no rebinding
        f"{hostname}:{svc.port}",
        f"{hostname}.local:{svc.port}",
    ]:
        answer = await http(svc.url + "/api/v1/status", headers={"Host": host})
        assert answer.code == 200, (host, answer.body)
    conn = await ws_open(
        svc.ws_url + "/ws/indi/",
        {"Host": f"localhost:{svc.port}", "Origin": f"http://localhost:{svc.port}"},
    )
    conn.close()


async def test_malformed_host_is_refused(running_service: RunningService) -> None:
    svc = running_service
    for host in ("evil.example:port", "[::1", "localhost:99999", "localhost:7999:1"):
        answer = await http(svc.url + "/api/v1/status", headers={"Host": host})
        assert answer.code == 421, host
    # tornado itself answers 400 to a Host it cannot parse at all.
    for host in ("a b", "127.0.0.1@evil.example"):
        answer = await http(svc.url + "/api/v1/status", headers={"Host": host})
        assert answer.code in (400, 421), host


async def test_allow_host_adds_a_name(indiserver: IndiServerProcess, tmp_path: Path) -> None:
    svc = await start_service(indiserver, tmp_path / "data", allowed_hosts=("obs.example.org",))
    try:
        answer = await http(svc.url + "/api/v1/status", headers={"Host": "OBS.example.org"})
        assert answer.code == 200
        conn = await ws_open(
            svc.ws_url + "/ws/indi/",
            {"Host": "obs.example.org", "Origin": "https://obs.example.org"},
        )
        conn.close()
        answer = await http(svc.url + "/api/v1/status", headers={"Host": "other.example.org"})
        assert answer.code == 421
    finally:
        await svc.stop()
