"""The access token: required when the service listens beyond loopback (or
when asked for), accepted as a Bearer header, a cookie or ``?token=``."""

from __future__ import annotations

import logging
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from security_support import http, non_loopback_address, ws_open, ws_refused

from indiws.security import TOKEN_FILE, TOKEN_URL_FILE, TokenFileError, load_or_create_token
from indiws.service import Config, Service
from indiws.testing import NO_ALPACA, IndiServerProcess, RunningService, free_port, start_service


@pytest.fixture
async def lan_service(
    indiserver: IndiServerProcess, tmp_path: Path
) -> AsyncIterator[RunningService]:
    """Listening on every interface (0.0.0.0), reached here through 127.0.0.1."""
    running = await start_service(indiserver, tmp_path / "data", host="0.0.0.0")
    yield running
    await running.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_token_required_beyond_loopback(lan_service: RunningService) -> None:
    svc = lan_service
    token_file = svc.service.config.data_dir / TOKEN_FILE
    token = token_file.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # Even from this machine's loopback: the gate does not trust addresses.
    for method, path in [
        ("GET", "/api/v1/status"),
        ("GET", "/get/all/devices/"),
        ("POST", "/api/server/stop"),
        ("GET", "/FIFO/stop/focuser/x/"),
        ("GET", "/api/docs"),
        # The autoguider's verbs move the mount: gated as every moving verb.
        ("POST", "/api/v1/roles/guiding/start"),
        ("POST", "/api/v1/roles/guiding/pulse"),
    ]:
        answer = await http(svc.url + path, method)
        assert answer.code == 401, (path, answer.body)
        assert answer.error == "token_required"
        assert "Authorization: Bearer <token>" in answer.message
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    answer = await ws_refused(svc.ws_url + "/ws/indi_client/")
    assert answer.code == 401 and answer.error == "token_required"


async def test_bearer_header(lan_service: RunningService) -> None:
    svc = lan_service
    token = svc.service.access_token
    assert token is not None
    answer = await http(svc.url + "/api/v1/status", headers=bearer(token))
    assert answer.code == 200
    answer = await http(svc.url + "/api/v1/status", headers=bearer(token[:-1] + "x"))
    assert answer.code == 401 and answer.error == "token_invalid"
    assert "Authorization: Bearer header" in answer.message
    conn = await ws_open(svc.ws_url + "/ws/indi/", bearer(token))
    conn.close()


async def test_opening_the_url_once_sets_a_cookie(
    lan_service: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    svc = lan_service
    token = svc.service.access_token
    assert token is not None
    caplog.set_level(logging.INFO)
    answer = await http(svc.url + f"/api/docs?token={token}")
    assert answer.code == 200
    set_cookie = answer.headers["Set-Cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes
    assert "SameSite=Strict" in set_cookie
    jar: SimpleCookie = SimpleCookie(set_cookie)
    name = f"indiws_token_{svc.port}"
    assert jar[name].value == token
    # The browser then sends the cookie: no token in the URL any more.
    cookie = {"Cookie": f'other="a b"; json={{"x":[1]}}; {name}={token}'}
    answer = await http(svc.url + "/api/v1/status", headers=cookie)
    assert answer.code == 200
    assert "Set-Cookie" not in answer.headers
    answer = await http(svc.url + "/api/v1/roles/focuser", "DELETE", headers=cookie)
    assert answer.code == 204
    conn = await ws_open(svc.ws_url + "/ws/indi_client/", cookie)
    conn.close()
    # A cookie of a token since replaced is refused with what to do.
    answer = await http(svc.url + "/api/v1/status", headers={"Cookie": f"{name}={'x' * 43}"})
    assert answer.code == 401 and answer.error == "token_invalid"
    assert "?token=<token> again" in answer.message
    # The token never reaches the access log.
    assert token not in caplog.text


async def test_query_token_for_websocket_clients(lan_service: RunningService) -> None:
    svc = lan_service
    token = svc.service.access_token
    conn = await ws_open(svc.ws_url + f"/ws/debugging/?token={token}&device=CCD%20Simulator")
    conn.close()
    answer = await ws_refused(svc.ws_url + "/ws/debugging/?token=wrongwrongwrongwrong")
    assert answer.code == 401 and answer.error == "token_invalid"
    assert "token query parameter" in answer.message
    # Other query parameters are untouched.
    answer = await http(svc.url + f"/blobs?token={token}&device=CCD%20Simulator")
    assert answer.code == 200


async def test_gate_checks_come_before_the_token(lan_service: RunningService) -> None:
    """A foreign Host or Origin is refused for what it is, token or not; a CORS
    preflight (which never carries credentials) needs no token."""
    svc = lan_service
    token = svc.service.access_token
    assert token is not None
    answer = await http(
        svc.url + "/api/v1/status", headers={**bearer(token), "Host": "evil.example"}
    )
    assert answer.code == 421
    answer = await http(
        svc.url + "/api/v1/roles/focuser",
        "DELETE",
        headers={**bearer(token), "Origin": "https://evil.example"},
    )
    assert answer.code == 403
    answer = await http(svc.url + "/api/v1/roles/focuser", "OPTIONS")
    assert answer.code == 204


async def test_on_a_lan_address(indiserver: IndiServerProcess, tmp_path: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    svc = await start_service(indiserver, tmp_path / "data", host=address)
    try:
        assert svc.url.startswith(f"http://{address}:")
        answer = await http(svc.url + "/api/v1/status")
        assert answer.code == 401 and answer.error == "token_required"
        assert svc.service.access_token is not None
        answer = await http(svc.url + "/api/v1/status", headers=bearer(svc.service.access_token))
        assert answer.code == 200
    finally:
        await svc.stop()


async def test_loopback_needs_no_token_unless_asked(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    svc = await start_service(indiserver, tmp_path / "free")
    try:
        assert (await http(svc.url + "/api/v1/status")).code == 200
        assert not (tmp_path / "free" / TOKEN_FILE).exists()
    finally:
        await svc.stop()
    svc = await start_service(indiserver, tmp_path / "asked", require_token=True)
    try:
        answer = await http(svc.url + "/api/v1/status")
        assert answer.code == 401 and answer.error == "token_required"
        token = (tmp_path / "asked" / TOKEN_FILE).read_text().strip()
        assert (await http(svc.url + "/api/v1/status", headers=bearer(token))).code == 200
    finally:
        await svc.stop()
    given = "given-token-0123456789"
    svc = await start_service(indiserver, tmp_path / "given", token=given)
    try:
        assert (await http(svc.url + "/api/v1/status")).code == 401
        assert (await http(svc.url + "/api/v1/status", headers=bearer(given))).code == 200
        assert not (tmp_path / "given" / TOKEN_FILE).exists()
    finally:
        await svc.stop()


async def test_what_a_token_free_loopback_client_may_change(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    """Loopback without a token is trusted as the operator (docs/security.md):
    it turns the weather override on and assigns and releases roles, each
    logged with "no token"; with --require-token the same requests need it."""
    override = "/api/v1/safety/weather_override"
    on = '{"on": true, "note": "station broken"}'

    async def change(svc: RunningService, headers: dict[str, str]) -> list[int]:
        return [
            (await http(svc.url + override, "PUT", headers=headers, body=on)).code,
            (await http(svc.url + "/api/v1/roles/focuser", "DELETE", headers=headers)).code,
            (
                await http(
                    svc.url + "/api/v1/roles/focuser",
                    "PUT",
                    headers=headers,
                    body='{"device": "Focuser Simulator", "connect": false}',
                )
            ).code,
            (await http(svc.url + "/FIFO/stop/focuser/Focuser%20Simulator/", headers=headers)).code,
        ]

    svc = await start_service(indiserver, tmp_path / "free")
    try:
        await svc.service.roles.assign("focuser", "Focuser Simulator", connect=False)
        assert await change(svc, {}) == [200, 204, 201, 200]
        state = svc.service.safety.status()["weather_override"]
        assert state["by"].endswith("(REST, no token)") and state["note"] == "station broken"
        assert svc.service.roles.device_for("focuser") is None  # released by /FIFO/stop
    finally:
        await svc.stop()
    svc = await start_service(indiserver, tmp_path / "asked", require_token=True)
    try:
        await svc.service.roles.assign("focuser", "Focuser Simulator", connect=False)
        assert await change(svc, {}) == [401, 401, 401, 401]
        assert svc.service.safety.status()["weather_override"] is None
        assert svc.service.roles.device_for("focuser") == "Focuser Simulator"
        token = (tmp_path / "asked" / TOKEN_FILE).read_text().strip()
        assert await change(svc, bearer(token)) == [200, 204, 201, 200]
        assert "with the access token" in svc.service.safety.status()["weather_override"]["by"]
    finally:
        await svc.stop()


def test_token_file_is_kept_and_reused(tmp_path: Path) -> None:
    def service() -> Service:
        return Service(Config(indi_host="localhost", host="0.0.0.0", data_dir=tmp_path))

    first = service()
    first.db.close()
    assert first.token_source == "created"
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = service()
    second.db.close()
    assert second.token_source == "file"
    assert second.access_token == first.access_token
    # A file made readable by others is closed again.
    path.chmod(0o644)
    assert load_or_create_token(path) == (first.access_token, False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short\n")
    with pytest.raises(TokenFileError, match="delete it to have a new one made"):
        load_or_create_token(path)


def test_token_file_that_cannot_be_made(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(TokenFileError, match="give a token with --token"):
        load_or_create_token(not_a_dir / TOKEN_FILE)


# ------------------------------------------------------------ command line


def run_indiws(
    indi: IndiServerProcess, data_dir: Path, port: int, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    home = log.parent / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "INDIWS_TOKEN"}
    env["HOME"] = str(home)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "indiws",
                "--indi-host",
                "127.0.0.1",
                "--indi-port",
                str(indi.port),
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--phd2-port",
                "0",
                *NO_ALPACA,
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_for_log(proc: subprocess.Popen[bytes], log: Path, text: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        assert proc.poll() is None, content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


@pytest.mark.slow
async def test_command_line_prints_the_url_once(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    port = free_port()
    data = tmp_path / "data"
    proc = run_indiws(indiserver, data, port, tmp_path / "1.log", "--host", "0.0.0.0")
    try:
        text = wait_for_log(proc, tmp_path / "1.log", "listening on")
        text = wait_for_log(proc, tmp_path / "1.log", "an access token is required")
        token = (data / TOKEN_FILE).read_text().strip()
        assert stat.S_IMODE((data / TOKEN_FILE).stat().st_mode) == 0o600
        # The log (a file here) names the URL's file, never the whole token.
        assert token not in text and f"{token[:4]}…{token[-2:]}" in text, text
        url_file = data / TOKEN_URL_FILE
        assert str(url_file) in text
        match = re.fullmatch(rf"http://\S+:{port}/\?token=([A-Za-z0-9_-]+)\n", url_file.read_text())
        assert match and match.group(1) == token
        assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
        url = f"http://127.0.0.1:{port}/api/v1/status"
        assert (await http(url)).code == 401
        assert (await http(url, headers=bearer(token))).code == 200
    finally:
        stop(proc)
    # The next start uses the same token and does not print it again.
    proc = run_indiws(indiserver, data, port, tmp_path / "2.log", "--host", "0.0.0.0")
    try:
        text = wait_for_log(proc, tmp_path / "2.log", "an access token is required")
        assert token not in text
        assert str(data / TOKEN_FILE) in text
        assert (await http(url, headers=bearer(token))).code == 200
    finally:
        stop(proc)


def test_command_line_refuses_a_weak_token() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "indiws", "--token", "short"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "--token (or $INDIWS_TOKEN) is not usable" in bad.stderr
    assert "at least 16 characters" in bad.stderr


@pytest.mark.slow
async def test_command_line_require_token(indiserver: IndiServerProcess, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "indiws.log"
    proc = run_indiws(indiserver, tmp_path / "data", port, log, "--require-token")
    try:
        wait_for_log(proc, log, "an access token is required")
        url = f"http://127.0.0.1:{port}/api/v1/status"
        assert (await http(url)).code == 401
        token = (tmp_path / "data" / TOKEN_FILE).read_text().strip()
        assert (await http(url, headers=bearer(token))).code == 200
    finally:
        stop(proc)


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from indiws.__main__ import build_parser, check_args, config_from_args

    monkeypatch.setenv("INDIWS_TOKEN", "env-token-0123456789")
    parser = build_parser()
    assert "env-token" not in parser.format_help()  # --help must not show it
    args = parser.parse_args([])
    check_args(parser, args)
    config = config_from_args(args)
    assert config.token == "env-token-0123456789" and config.token_required
    config = config_from_args(parser.parse_args(["--token", "cli-token-0123456789"]))
    assert config.token == "cli-token-0123456789"
