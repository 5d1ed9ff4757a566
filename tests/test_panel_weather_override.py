"""The operator's weather override over REST (``PUT|DELETE
/api/v1/safety/weather_override``): the access token as for every request
that changes state, logged with who, and shown on the panel's safety banner
(who, since, note) in a real browser until it is turned off."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_panel_browser import panel_page

from indiws.browser_testing import ServiceProcess, service_process

TOKEN = "wo-" + secrets.token_urlsafe(16)
NOTE = "station broken, sky clear"
ROUTE = "/api/v1/safety/weather_override"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("panel-override")
    with service_process(folder, "--require-token", "--token", TOKEN) as service:
        yield service


@pytest.fixture(scope="module")
def page(svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    url = f"{svc.url}/?token={TOKEN}#imaging"
    with panel_page(tmp_path_factory.mktemp("chromium-override"), url) as p:
        yield p


def call(
    svc: ServiceProcess, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(svc.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_rest_override_needs_the_token_and_says_what_is_wrong(svc: ServiceProcess) -> None:
    status, body = call(svc, "PUT", ROUTE, {"on": True}, token=None)
    assert status == 401 and body["error"]["code"] == "token_required", body
    status, body = call(svc, "PUT", ROUTE, {"on": "yes"})
    # The body's declared shape (rest.SetWeatherOverride) names the field and the type.
    assert status == 400 and body["error"]["data"]["field"] == "on", body
    assert "bool" in body["error"]["message"], body
    status, body = call(svc, "PUT", ROUTE, {"on": True, "note": "x" * 201})
    assert status == 400 and body["error"]["data"]["field"] == "note", body
    assert "200" in body["error"]["message"], body
    status, body = call(svc, "GET", "/api/v1/safety")
    assert status == 200 and body["weather_override"] is None, body


def test_the_banner_shows_the_override_and_hides_when_it_is_off(
    svc: ServiceProcess, page: Page
) -> None:
    banner = page.locator("[data-safety]")
    expect(banner).to_be_hidden()

    status, body = call(svc, "PUT", ROUTE, {"on": True, "note": NOTE})
    assert status == 200, body
    override = body["weather_override"]
    who = "127.0.0.1 (REST, with the access token)"
    assert override["by"] == who and override["note"] == NOTE and override["since"], override
    assert call(svc, "GET", ROUTE) == (200, override)

    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-override", "on")
    expect(banner).to_contain_text("Weather override")
    expect(banner).to_contain_text(f"by {who} since {override['since']}: {NOTE}")
    expect(banner).not_to_contain_text("Unsafe")
    log = svc.log_path.read_text()
    assert f"weather override ON by {who} ({NOTE})" in log, svc.log_tail()

    status, body = call(svc, "DELETE", ROUTE)
    assert status == 200 and body["weather_override"] is None, body
    expect(banner).to_be_hidden()
    expect(banner).to_have_attribute("data-override", "off")
    assert f"weather override OFF by {who}" in svc.log_path.read_text(), svc.log_tail()
