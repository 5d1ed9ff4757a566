"""Issue 9's reproductions replayed against the finished service, with the
variations of each class that the first round of fixes missed.

- A JSON string with a lone UTF-16 surrogate (``"\\ud800"``, valid JSON
  syntax but no character) in an ``id``, a lightAPT envelope or an HTTP
  body: the answer that echoed it could not be encoded, so the socket closed
  without a close frame or never answered, and HTTP errors lost their body.
- Deep JSON posted to ``/driver_connect/start_server/`` (lightAPT's route,
  parsed apart from the others) gave 500.
- ``/ws/debugging/`` dropped tornado's flow control: a burst of messages was
  read and started at once instead of one per turn of the event loop.
- A remote driver naming the embedded indiserver itself
  (``Device@127.0.0.1:<its port>``) made indiserver feed its messages back
  to itself: its CPU and memory grew without end.
- A state file that is SQLite but holds values indiws never writes (text in
  an integer column, a BLOB for a device name, a missing table) gave a
  traceback at start-up or 500s later; rows of a role this version does not
  know stopped the start.
- ``Sec-Fetch-Site`` values other than the four browsers send passed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from lightapt_support import LightAptClient, assign_roles
from test_security_statedb import assert_one_line_exit_2, run_indiws
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient

from indiws.db import DB_FILENAME, ROLES, StateDB
from indiws.security import AccessPolicy, RequestFacts
from indiws.testing import (
    IndiServerFactory,
    RunningService,
    start_embedded_service,
    start_service,
)
from indiws.web.streams import DebuggingSocket

SOCKETS = ["/ws/indi/", "/ws/debugging/", "/ws/indi_client/"]
SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}


async def call(rs: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; a str ``body`` is sent as it is.  The answer must be JSON."""
    if isinstance(body, str):
        payload = body.encode()
    else:
        payload = b"" if body is None else json.dumps(body).encode()
    resp = await AsyncHTTPClient().fetch(
        rs.url + path,
        method=method,
        body=payload if method in ("POST", "PUT") else None,
        headers={"Content-Type": "application/json"},
        raise_error=False,
        request_timeout=30,
    )
    assert resp.code != 599, resp.error
    return resp.code, json.loads(resp.body)


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service with its own indiserver (the four simulators), in-process."""
    running = await start_embedded_service(tmp_path)
    yield running
    await running.stop()


# ------------------------------------------------------- lone surrogates


@pytest.mark.parametrize("path", SOCKETS)
async def test_a_lone_surrogate_is_a_parse_error_and_the_socket_goes_on(
    running_service: RunningService, path: str
) -> None:
    client = await WsClient.open(running_service.ws_url + path)
    try:
        for text in (
            '{"jsonrpc": "2.0", "id": "\\ud800", "method": "rpc.discover"}',
            '{"jsonrpc": "2.0", "id": 1, "method": "get", "params": {"device": "\\uDC00"}}',
            '[{"jsonrpc": "2.0", "id": 2, "method": "rpc.discover", "params": {"\\udbff": 1}}]',
        ):
            answer = await client.raw(text)
            assert answer["id"] is None
            assert answer["error"]["code"] == -32700, answer
            assert "lone UTF-16 surrogate" in answer["error"]["message"]
        # An escaped pair is one character (an emoji), not refused.
        answer = await client.raw(
            '{"jsonrpc": "2.0", "id": "\\ud83d\\ude00", "method": "no.such"}', rid="\U0001f600"
        )
        assert answer["error"]["code"] == -32601
        assert (await client.call("rpc.discover"))["methods"]
    finally:
        await client.close()


async def test_a_lone_surrogate_in_a_lightapt_request_gets_a_lightapt_error(
    running_service: RunningService,
) -> None:
    await assign_roles(running_service)
    client = await LightAptClient.open(running_service)
    try:
        assert (await client.data("telescope", "get_real_time_info"))["ra"] is not None
        for text in (
            '{"device_name": "\\udc00", "instruction": "get_real_time_info", "params": []}',
            '{"device_name": "telescope", "instruction": "\\ud800", "params": []}',
        ):
            await client.send(text)
            reply = await client.reply()
            assert reply["type"] == "error", reply
            assert "lone UTF-16 surrogate" in reply["message"]
        assert (await client.data("telescope", "get_real_time_info"))["ra"] is not None
    finally:
        await client.close()


async def test_a_lone_surrogate_in_an_http_body_is_a_json_400(
    running_service: RunningService,
) -> None:
    for method, path, body in (
        ("POST", "/api/v1/profiles", '{"name": "\\ud800"}'),
        ("POST", "/api/profiles/Simulators/drivers", '[{"label": "\\ud800"}]'),
        (
            "PUT",
            "/api/v1/devices/CCD%20Simulator/properties/FITS_HEADER",
            '{"values": {"FITS_OBSERVER": "\\ud800"}}',
        ),
    ):
        status, answer = await call(running_service, method, path, body)
        assert status == 400, (path, status, answer)
        assert answer["error"]["code"] == "invalid_params"
        assert "lone UTF-16 surrogate" in answer["error"]["message"]
    # A pair is a character like any other.
    status, answer = await call(
        running_service, "POST", "/api/v1/profiles", '{"name": "Night \\ud83c\\udf19"}'
    )
    assert status in (200, 201), answer
    assert answer["name"] == "Night \U0001f319"


# ------------------------------------------------------------- deep JSON


@pytest.mark.slow
async def test_deep_json_to_start_server_is_a_400(embedded: RunningService) -> None:
    for body in (
        "[" * 100_000 + "]" * 100_000,
        '[{"en": ' + '{"a": ' * 5000 + "1" + "}" * 5001 + "]",
    ):
        status, answer = await call(embedded, "POST", "/driver_connect/start_server/", body)
        assert status == 400, answer
        assert answer["error"]["code"] == "invalid_params"
        assert "levels deep" in answer["error"]["message"]
    status, answer = await call(embedded, "POST", "/driver_connect/start_server/", "[NaN]")
    assert status == 400 and "NaN is not JSON" in answer["error"]["message"]
    assert embedded.service.server_running


# ------------------------------------------------- flow control per message


async def test_the_debugging_socket_keeps_tornados_flow_control(
    running_service: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tornado reads a connection's next message only once what ``on_message``
    returned is done: that is how one client's burst waits for the loop to
    serve the others (see JsonRpcSocket._next_message)."""
    returned: list[Any] = []
    original = DebuggingSocket.on_message

    def spy(self: DebuggingSocket, message: str | bytes) -> Any:
        result = original(self, message)
        returned.append(result)
        return result

    monkeypatch.setattr(DebuggingSocket, "on_message", spy)
    client = await WsClient.open(running_service.ws_url + "/ws/debugging/")
    try:
        assert (await client.call("rpc.discover"))["methods"]  # JSON-RPC
        await client.raw("[1]")  # a batch
        await client.conn.write_message("print telescope")  # a text command
        async with asyncio.timeout(10):
            while len(returned) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await client.close()
    assert len(returned) == 3
    assert all(inspect.isawaitable(r) for r in returned), returned


# --------------------------------------------- a remote driver that is us


@pytest.mark.slow
async def test_a_remote_driver_naming_this_indiserver_is_refused(
    embedded: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="indiws.manager.server")
    own = embedded.service.supervisor.port
    for host in ("127.0.0.1", "localhost", "127.0.0.2"):
        spec = f"Dome Simulator@{host}:{own}"
        status, answer = await call(embedded, "POST", "/api/v1/drivers/start", {"executable": spec})
        assert status == 400, answer
        assert answer["error"]["code"] == "invalid_params"
        assert "this indiserver itself" in answer["error"]["message"]
        status, answer = await call(embedded, "POST", f"/api/drivers/start_remote/{quote(spec)}")
        assert status == 400, answer
        assert "this indiserver itself" in answer["error"]["message"]
    # Nothing reached indiserver; it still serves its own drivers.
    fifo = [r.getMessage() for r in caplog.records if r.getMessage().startswith("FIFO <- ")]
    assert not [line for line in fifo if "@" in line], fifo
    status, drivers = await call(embedded, "GET", "/api/v1/drivers")
    assert not [d for d in drivers if d["remote"]], drivers
    assert SIMULATORS <= set(embedded.service.client.devices)


# ------------------------------------------------------------ state file


def _pristine(data: Path) -> Path:
    StateDB.in_data_dir(data).close()
    return data / DB_FILENAME


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("UPDATE profiles SET port = 'abc'", "column port holds 'abc'"),
        ("UPDATE profiles SET port = -5", "column port holds -5"),
        ("UPDATE profiles SET auto_start = 'yes'", "column auto_start holds 'yes'"),
        ("INSERT INTO roles VALUES ('guider', x'ff00', 'now')", "column device_name holds b'"),
        ("INSERT INTO profile_roles VALUES (1, 'guider', x'ff00')", "table profile_roles"),
        ("INSERT INTO profile_drivers VALUES (1, 9, x'00', NULL, NULL)", "column executable"),
        ("INSERT INTO profiles VALUES (5, x'ff', 7624, 0, 0, 'x', 'y')", "column name holds b'"),
        ("DROP TABLE profile_drivers", "lacks tables or columns"),
    ],
)
def test_values_indiws_never_writes_stop_the_start_in_one_line(
    tmp_path: Path, change: str, says: str
) -> None:
    data = tmp_path / "data"
    path = _pristine(data)
    with sqlite3.connect(path) as conn:
        conn.execute(change)
    conn.close()
    line = assert_one_line_exit_2(run_indiws(data, tmp_path), path, says)
    assert "restore it from a backup" in line or "move it away" in line


def test_rows_of_roles_this_version_does_not_know_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A later version may add a role without a schema change: its rows are
    left alone, and said once."""
    path = _pristine(tmp_path / "data")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO roles VALUES ('spectrograph', 'Spectrograph Simulator', 'now')")
        conn.execute(
            "INSERT INTO profile_roles VALUES (1, 'spectrograph', 'Spectrograph Simulator')"
        )
    conn.close()
    caplog.set_level(logging.WARNING, logger="indiws.db")
    db = StateDB(path)
    try:
        for _ in range(3):
            assert set(db.get_roles()) <= set(ROLES)
            profile = db.get_profile("Simulators")
            assert profile is not None and "spectrograph" not in profile.roles
            assert profile.roles["camera"] == "CCD Simulator"
        assert db.error is None
    finally:
        db.close()
    warnings = [r.getMessage() for r in caplog.records if "spectrograph" in r.getMessage()]
    assert len(warnings) == 2, warnings  # one per row, not one per read


async def test_a_bad_value_written_while_running_is_a_503_and_status_says_why(
    indiserver_factory: IndiServerFactory, tmp_path: Path
) -> None:
    server = indiserver_factory(["indi_simulator_focus"])
    data = tmp_path / "data"
    rs = await start_service(server, data)
    try:
        with sqlite3.connect(data / DB_FILENAME) as conn:
            conn.execute("UPDATE profiles SET port = 'abc'")
            conn.execute("INSERT INTO roles VALUES ('guider', x'ff00', 'now')")
        conn.close()
        for path in ("/api/v1/profiles", "/api/profiles", "/api/v1/profiles/Simulators"):
            status, answer = await call(rs, "GET", path)
            assert status == 503, (path, answer)
            assert answer["error"]["code"] == "state_db_unavailable"
            assert "column port holds 'abc'" in answer["error"]["message"]
        status, answer = await call(rs, "GET", "/api/v1/status")
        assert status == 200, answer
        assert answer["state_db"]["ok"] is False
        assert "holds a value indiws never writes" in answer["state_db"]["error"]
        status, answer = await call(rs, "GET", "/api/v1/roles")
        assert status == 200 and answer["guider"]["device_name"] is None
    finally:
        await rs.stop()


# ------------------------------------------------------- Sec-Fetch-Site


def test_sec_fetch_site_values_browsers_never_send_are_refused() -> None:
    policy = AccessPolicy.build(bind_host="127.0.0.1", port=7999)
    host = "127.0.0.1:7999"
    for site in ("CROSS-SITE", "same-origin,cross-site", "cross-site ", "", "whatever"):
        facts = RequestFacts(method="POST", host=host, fetch_site=site, changes_state=True)
        refusal = policy.check(facts).refusal
        assert refusal is not None and refusal.code == "cross_site_refused", site
    for site in ("same-origin", "none", None):
        facts = RequestFacts(method="POST", host=host, fetch_site=site, changes_state=True)
        assert policy.check(facts).refusal is None, site
    # A GET that only reads is never refused for it.
    facts = RequestFacts(method="GET", host=host, fetch_site="CROSS-SITE")
    assert policy.check(facts).refusal is None
