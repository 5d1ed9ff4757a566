"""The panel's actions list in a real browser (Debian's chromium through
Playwright): a page opened after actions ran shows them, from the service's
recent actions, and goes on with the live events."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from indiws.browser_testing import ServiceProcess, launch_chromium

TOKEN = "panel-actions-token-0123456789"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        tmp_path_factory.mktemp("panel-actions"), "--require-token", "--token", TOKEN
    ).start()
    try:
        yield service
    finally:
        service.stop()


async def _calls(svc: ServiceProcess, calls: list[tuple[str, dict[str, Any]]]) -> list[dict]:
    """JSON-RPC requests on /ws/indi_client/, one after the other: their answers."""
    req = HTTPRequest(
        svc.url.replace("http", "ws") + "/ws/indi_client/",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    ws = await websocket_connect(req)
    answers = []
    try:
        for n, (method, params) in enumerate(calls, 1):
            ws.write_message(
                json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params})
            )
            while True:
                msg = json.loads(await ws.read_message())
                if msg.get("id") == n:
                    answers.append(msg)
                    break
    finally:
        ws.close()
    return answers


def calls(svc: ServiceProcess, *calls: tuple[str, dict[str, Any]]) -> list[dict]:
    # In a thread of its own: Playwright's sync API keeps an event loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _calls(svc, list(calls))).result(timeout=60)


def test_a_page_opened_later_shows_the_actions_that_ran_before(
    svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The focuser connects shortly after the service starts: retry its first move.
    deadline = time.monotonic() + 30
    while "error" in (moved := calls(svc, ("focuser.move_to", {"position": 31000}))[0]):
        assert time.monotonic() < deadline, moved
        time.sleep(0.5)
    (bad,) = calls(svc, ("focuser.move_to", {"position": -5}))
    assert "error" in bad  # refused before it starts: not an action
    (recent,) = calls(svc, ("actions.recent", {"limit": 10}))
    done = [a for a in recent["result"] if a["action"] == "move_to"]
    assert done and done[0]["outcome"] == "ok" and done[0]["params"]["position"] == 31000

    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path_factory.mktemp("chromium"))
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{svc.url}/?token={TOKEN}#imaging")
            log = page.locator("ol.actions-log")
            line = log.locator('li[data-outcome="ok"]', has_text="focuser.move_to")
            expect(line).to_have_count(1)
            expect(line).to_contain_text("done")
            # Live events go on after the list was loaded.
            calls(svc, ("focuser.move_to", {"position": 32000}))
            expect(line).to_have_count(2)
            assert errors == []
        finally:
            context.close()
