"""Bad or oversized input is refused with a clear error, the connection goes
on, and one client's load never harms another client.

Deep JSON, bad JSON-RPC ids, oversized batches, bodies, values and
messages; a client that asks for much and never reads is closed by the
byte bound of its send queue while another client's updates keep flowing;
the HTTP answers of the WebSocket URLs are JSON.  See docs/security.md,
"Input limits".
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect
from ws_support import WsClient, client_frame, raw_websocket, read_close, tick_driver_command

from indiws.client import MAX_TEXT_LENGTH
from indiws.testing import IndiServerFactory, RunningService, start_service
from indiws.web.jsonrpc import MAX_RUNNING
from indiws.web.limits import MAX_BATCH, MAX_DEPTH
from indiws.web.streams import StreamHub

SOCKETS = ["/ws/indi/", "/ws/debugging/", "/ws/indi_client/"]
SCOPE = "Telescope Simulator"
SCOPE_URL = "Telescope%20Simulator"


async def http(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None
) -> tuple[int, Any, str]:
    """(status, decoded JSON body or None, content type); never raises on a status."""
    if body is None and method in ("PUT", "POST"):
        body = b""
    resp = await AsyncHTTPClient().fetch(
        url, method=method, body=body, headers=headers, raise_error=False
    )
    if resp.code == 599:
        raise resp.error  # type: ignore[misc]
    ctype = resp.headers.get("Content-Type", "")
    return resp.code, json.loads(resp.body) if resp.body else None, ctype


async def still_answers(client: WsClient) -> None:
    """The socket is open and serves the next request."""
    result = await client.call("rpc.discover")
    assert result["methods"]


@pytest.fixture(params=SOCKETS)
async def sock(request: pytest.FixtureRequest, running_service: RunningService) -> AsyncIterator:
    client = await WsClient.open(running_service.ws_url + request.param)
    yield client
    await client.close()


# ---------------------------------------------------------------- deep JSON


async def test_deep_json_is_a_parse_error_and_the_socket_goes_on(sock: WsClient) -> None:
    for text in (
        "[" * 100_000 + "]" * 100_000,
        '{"jsonrpc": "2.0", "id": 7, "method": "get", "params": ' + "[" * 5000 + "]" * 5000 + "}",
        # Within what Python's parser takes, but past any need: refused too.
        '{"jsonrpc": "2.0", "id": 8, "method": "get", "params": {"device": '
        + "[" * (MAX_DEPTH + 5)
        + "]" * (MAX_DEPTH + 5)
        + "}}",
    ):
        answer = await sock.raw(text)
        assert answer["id"] is None
        assert answer["error"]["code"] == -32700
        assert answer["error"]["data"]["error"] == "parse_error"
        assert f"more than {MAX_DEPTH} levels deep" in answer["error"]["message"]
        await still_answers(sock)
    # Brackets inside strings are text, not depth.
    answer = await sock.request("no.such.method", {"x": "[" * 1000})
    assert answer["error"]["code"] == -32601


async def test_nan_and_infinity_are_not_json(sock: WsClient) -> None:
    for token in ("NaN", "Infinity", "-Infinity"):
        answer = await sock.raw(
            f'{{"jsonrpc": "2.0", "id": 1, "method": "x", "params": [{token}]}}'
        )
        assert answer["id"] is None and answer["error"]["code"] == -32700
        assert f"{token} is not JSON" in answer["error"]["message"]
    await still_answers(sock)


async def test_deep_json_in_an_http_body_is_a_400(running_service: RunningService) -> None:
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    deep_values = json.dumps({"values": {"X": 1}}).replace("1", "[" * 5000 + "]" * 5000).encode()
    for url, method, body in (
        (f"/api/v1/devices/{SCOPE_URL}/properties/POLLING_PERIOD", "PUT", deep),
        (f"/api/v1/devices/{SCOPE_URL}/properties/POLLING_PERIOD", "POST", deep_values),
        ("/api/v1/roles/telescope", "PUT", deep),
        ("/api/v1/profiles", "POST", deep),  # the server-management endpoints
    ):
        status, answer, ctype = await http(running_service.url + url, method, body)
        assert status == 400, (url, status, answer)
        assert ctype.startswith("application/json")
        assert answer["error"]["code"] == "invalid_params"
        assert "levels deep" in answer["error"]["message"]


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("bad_id", ["1e999", "-1e999", "true", "false", "{}", '{"a": 1}', "[]"])
async def test_a_bad_id_gets_invalid_request_with_id_null(sock: WsClient, bad_id: str) -> None:
    answer = await sock.raw(f'{{"jsonrpc": "2.0", "id": {bad_id}, "method": "rpc.discover"}}')
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600
    assert "id" in answer["error"]["message"] and "finite number" in answer["error"]["message"]
    await still_answers(sock)


async def test_an_invalid_request_never_echoes_a_bad_id(sock: WsClient) -> None:
    # Two faults (no method, a bad id): the answer's id is null all the same.
    answer = await sock.raw('{"jsonrpc": "2.0", "id": [1, 2]}')
    assert answer["id"] is None and answer["error"]["code"] == -32600
    # In a batch too.
    await sock.conn.write_message('[{"jsonrpc": "2.0", "id": {"x": 1}, "method": "rpc.discover"}]')
    answer = await asyncio.wait_for(sock.anonymous.get(), 5)
    assert answer["id"] is None and answer["error"]["code"] == -32600
    # A good id is still echoed with an invalid request.
    answer = await sock.raw('{"jsonrpc": "1.0", "id": "a"}', rid="a")
    assert answer["error"]["code"] == -32600
    await still_answers(sock)


# ---------------------------------------------------------------- batches


async def test_a_batch_over_the_cap_is_refused_with_one_clear_error(sock: WsClient) -> None:
    def batch(n: int, first: int) -> str:
        return json.dumps(
            [{"jsonrpc": "2.0", "id": first + i, "method": "rpc.discover"} for i in range(n)]
        )

    answer = await sock.raw(batch(MAX_BATCH + 1, 1000))
    assert answer["id"] is None and answer["error"]["code"] == -32600
    assert f"at most {MAX_BATCH} requests" in answer["error"]["message"]
    assert str(MAX_BATCH + 1) in answer["error"]["message"]
    # A batch at the cap is served, in one array.
    count = len(sock.log)
    await sock.conn.write_message(batch(MAX_BATCH, 5000))
    # The array is the answer; a stream's notifications may come before it.
    async with asyncio.timeout(10):
        while not any(isinstance(m, list) for _, m in sock.log[count:]):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    answers = next(m for _, m in sock.log[count:] if isinstance(m, list))
    assert [a["id"] for a in answers] == list(range(5000, 5000 + MAX_BATCH))
    assert all("result" in a for a in answers)


# ---------------------------------------------------------------- sizes


async def test_a_text_value_longer_than_indi_needs_is_refused_before_sending(
    running_service: RunningService,
) -> None:
    client = running_service.service.client
    long_text = "x" * (MAX_TEXT_LENGTH + 1)
    bytes_out = client.stats["bytes_out"]

    indi = await WsClient.open(running_service.ws_url + "/ws/indi/")
    try:
        values = {"SCOPE_CONFIG_NAME": long_text}
        error = await indi.error(
            "set", {"device": SCOPE, "property": "SCOPE_CONFIG_NAME", "values": values}
        )
        assert error["code"] == -32002 and error["data"]["error"] == "too_large"
        assert f"at most {MAX_TEXT_LENGTH} characters" in error["message"]
        assert len(error["message"]) < 300  # the value is not echoed back
        # A number given as a huge string is refused without echoing it either.
        error = await indi.error(
            "set",
            {"device": SCOPE, "property": "POLLING_PERIOD", "values": {"PERIOD_MS": "1" * 10**5}},
        )
        assert error["data"]["error"] == "invalid_value" and len(error["message"]) < 300
    finally:
        await indi.close()

    url = f"{running_service.url}/api/v1/devices/{SCOPE_URL}/properties/SCOPE_CONFIG_NAME"
    status, answer, _ = await http(url, "PUT", json.dumps({"values": values}).encode())
    assert status == 413, answer
    assert answer["error"]["code"] == "too_large"
    assert client.stats["bytes_out"] == bytes_out  # nothing reached indiserver


async def test_an_http_body_over_the_limit_is_a_413_before_it_is_read(
    running_service: RunningService,
) -> None:
    limit = running_service.service.config.max_message_bytes
    url = f"{running_service.url}/api/v1/devices/{SCOPE_URL}/properties/SCOPE_CONFIG_NAME"
    body = json.dumps({"values": {"SCOPE_CONFIG_NAME": "x" * limit}}).encode()
    status, answer, ctype = await http(url, "PUT", body)
    assert status == 413 and ctype.startswith("application/json")
    assert answer["error"]["code"] == "too_large"
    assert f"({len(body)} bytes)" in answer["error"]["message"]
    assert answer["error"]["data"]["limit"] == limit
    # An unknown property is said so first, whatever the body.
    status, answer, _ = await http(url.replace("SCOPE_CONFIG_NAME", "NO_SUCH"), "PUT", body)
    assert status == 404 and answer["error"]["code"] == "unknown_property"

    # 200 MB announced, none sent: the answer comes from the headers alone.
    reader, writer = await asyncio.open_connection("127.0.0.1", running_service.port)
    try:
        path = f"/api/v1/devices/{SCOPE_URL}/properties/SCOPE_CONFIG_NAME"
        writer.write(
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {200 * 1000 * 1000}\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 413"), head
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        answer = json.loads(await reader.readexactly(length))
        assert answer["error"]["code"] == "too_large"
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then the connection closes
    finally:
        writer.close()

    # A body of unknown length is refused too.
    reader, writer = await asyncio.open_connection("127.0.0.1", running_service.port)
    try:
        writer.write(
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 411"), head
    finally:
        writer.close()


async def test_a_blob_upload_may_be_larger_than_other_bodies(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data", max_message_bytes=64 * 1024)
    try:
        data = base64.b64encode(os.urandom(100 * 1024)).decode()
        values = {"DATA": {"data": data, "format": ".bin"}}
        body = json.dumps({"values": values, "wait": False}).encode()
        url = f"{running.url}/api/v1/devices/Tick/properties/TICK_ECHO"
        status, answer, _ = await http(url, "PUT", body)
        assert status == 202, answer  # sent to the driver
        # The same size to a number property is over its limit.
        url = f"{running.url}/api/v1/devices/Tick/properties/TICK_RATE"
        status, answer, _ = await http(url, "PUT", body)
        assert status == 413 and answer["error"]["code"] == "too_large"
        # On the WebSockets: /ws/indi/ takes uploads, the others close with 1009.
        indi = await WsClient.open(running.ws_url + "/ws/indi/")
        try:
            params = {"device": "Tick", "property": "TICK_ECHO", "values": values, "wait": False}
            assert (await indi.call("set", params))["waited"] is False
        finally:
            await indi.close()
        conn = await websocket_connect(running.ws_url + "/ws/debugging/?stream=1")
        await conn.read_message()  # the snapshot
        await conn.write_message(json.dumps({"jsonrpc": "2.0", "method": "x", "params": [data]}))
        while await conn.read_message() is not None:
            pass
        assert conn.close_code == 1009
    finally:
        await running.stop()


@pytest.mark.slow
async def test_requests_running_at_once_on_one_connection_are_capped(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    running = await start_service(server, tmp_path / "data")
    indi = await WsClient.open(running.ws_url + "/ws/indi/")
    try:
        # Each `set` starts a long run of the tick driver: TICK_RATE stays Busy,
        # so every request waits until its timeout, long enough for all of
        # them to arrive while the first still run, even on a loaded machine.
        values = {"RATE": 1, "COUNT": 1000, "RUN": 1, "MESSAGE_EVERY": 0}
        params = {"device": "Tick", "property": "TICK_RATE", "values": values, "timeout": 10}
        answers = await asyncio.gather(
            *(indi.request("set", params, timeout=60) for _ in range(MAX_RUNNING + 10))
        )
        codes = [a["error"]["data"]["error"] for a in answers]
        assert codes.count("too_many_requests") == 10
        assert codes.count("timeout") == MAX_RUNNING
        refused = next(a for a in answers if a["error"]["code"] == -32001)
        assert f"{MAX_RUNNING} requests are running" in refused["error"]["message"]
        # Once they have ended, the connection serves again.
        values["RATE"] = 0
        assert (await indi.call("set", params))["state"] in ("Ok", "Idle")
    finally:
        await indi.close()
        await running.stop()


# ---------------------------------------------------------------- slow readers


@pytest.mark.slow
async def test_a_client_that_asks_much_and_never_reads_is_closed_by_the_byte_bound(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    bound = 512 * 1024
    server = indiserver_factory([tick_driver_command(tmp_path / "driver")])
    # The message count alone would never close it: a batch's answer is one message.
    running = await start_service(server, tmp_path / "data", max_pending_bytes=bound)
    hub = running.state.get(StreamHub)
    loop = asyncio.get_running_loop()
    slow_sock = await raw_websocket(running.port, "/ws/indi/")
    normal: WsClient | None = None
    try:
        # `watch` registers the slow socket with the hub: the test finds it there.
        watch = {"device": "Tick", "property": "DRIVER_INFO", "snapshot": False}
        await loop.sock_sendall(
            slow_sock,
            client_frame(
                json.dumps({"jsonrpc": "2.0", "id": 0, "method": "watch", "params": watch})
            ),
        )
        async with asyncio.timeout(5):
            while not hub.sinks:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        (slow,) = hub.sinks
        slow.ws_connection.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        normal = await WsClient.open(running.ws_url + "/ws/debugging/?device=Tick&property=TICK")
        await normal.next_note("snapshot")
        rate, count = 200, 400
        await running.service.client.set_property(
            "Tick", "TICK_RATE", {"RATE": rate, "COUNT": count, "RUN": 1, "MESSAGE_EVERY": 0}
        )
        batch = json.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": "properties"} for i in range(MAX_BATCH)]
        )
        for _ in range(40):
            await loop.sock_sendall(slow_sock, client_frame(batch))

        seq = 0
        while seq < count:  # every update of the run, in order
            _, note = await asyncio.wait_for(normal.notes.get(), 5)
            if note["method"] != "updated":
                continue
            values = {e["name"]: e["value"] for e in note["params"]["elements"]}
            if values["RUN"] != 1:
                continue
            assert values["SEQ"] == seq + 1, "the normal client missed an update"
            seq = int(values["SEQ"])

        async with asyncio.timeout(10):
            while not slow.outbox.closed:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert slow.outbox.pending_bytes == 0  # released at once
        code, reason = await read_close(slow_sock) or (None, "")
        assert code == 1008 and "too slow" in reason
    finally:
        slow_sock.close()
        if normal is not None:
            await normal.close()
        await running.stop()


@pytest.mark.slow
async def test_slow_clients_together_are_bounded_by_the_service_budget(
    indiserver: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each client alone stays under its own 32 MiB bound; two of them are
    dropped once all queues together pass the service's budget."""
    budget = 2 << 20
    running = await start_service(indiserver, tmp_path / "data", max_total_pending_bytes=budget)
    loop = asyncio.get_running_loop()
    slow = [await raw_websocket(running.port, "/ws/indi/") for _ in range(2)]
    try:
        batch = json.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": "properties"} for i in range(MAX_BATCH)]
        )
        for _ in range(10):
            for sock in slow:
                await loop.sock_sendall(sock, client_frame(batch))

        def dropped() -> list[str]:
            return [r.getMessage() for r in caplog.records if "send budget" in r.getMessage()]

        async with asyncio.timeout(10):
            while len(dropped()) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # Each was dropped holding far less than its own 32 MiB bound.
        for line in dropped():
            held = int(line.split(" bytes waiting")[0].rsplit(" ", 1)[1])
            assert held < 8 << 20, line
        assert running.state.send_budget.total == 0  # every queue released
        # The service still serves.
        fresh = await WsClient.open(running.ws_url + "/ws/indi/")
        try:
            assert await fresh.call("devices")
        finally:
            await fresh.close()
    finally:
        for sock in slow:
            sock.close()
        await running.stop()


# ---------------------------------------------------------------- HTTP on WebSocket URLs


@pytest.mark.parametrize("path", SOCKETS)
async def test_a_plain_get_of_a_websocket_url_answers_json(
    running_service: RunningService, path: str
) -> None:
    status, answer, ctype = await http(running_service.url + path)
    assert status == 400 and ctype.startswith("application/json")
    assert "WebSocket" in answer["error"]["message"] and "Upgrade" in answer["error"]["message"]
    # Upgrade without "Connection: Upgrade" (a proxy ate it).
    status, answer, ctype = await http(
        running_service.url + path, headers={"Upgrade": "websocket", "Connection": "close"}
    )
    assert status == 400 and ctype.startswith("application/json")
    assert "Connection: Upgrade" in answer["error"]["message"]


async def test_a_query_argument_that_is_not_utf8_answers_json(
    running_service: RunningService,
) -> None:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    status, answer, ctype = await http(
        running_service.url + "/ws/debugging/?device=%ff", headers=headers
    )
    assert status == 400 and ctype.startswith("application/json")
    assert "device" in answer["error"]["message"]
