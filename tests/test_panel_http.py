"""How the panel's files are served: `/`, `/panel/`, lightAPT's debug-page
URLs, `--ui DIR`, and the access gate in front of them (the browser tests
are in test_panel_browser.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from security_support import http, ws_open, ws_refused

from indiws.__main__ import main
from indiws.testing import IndiServerProcess, RunningService, start_service
from indiws.web.gate import token_cookie_name

PAGE_URLS = ["/", "/panel/", "/panel", "/debug/indi", "/indi/debug/"]


async def test_panel_pages_and_files(running_service: RunningService) -> None:
    url = running_service.url
    first = await http(url + "/")
    assert first.code == 200
    assert first.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/panel/js/main.js">' in first.body
    # No page of another site may frame it (a hidden "Park" button under a click).
    assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
    assert first.headers["X-Frame-Options"] == "DENY"
    for path in PAGE_URLS[1:]:
        answer = await http(url + path)
        assert answer.code == 200 and answer.body == first.body, path
    script = await http(url + "/panel/js/main.js")
    assert script.code == 200
    assert "javascript" in script.headers["Content-Type"]
    style = await http(url + "/panel/panel.css")
    assert style.code == 200 and style.headers["Content-Type"].startswith("text/css")


async def test_panel_files_stay_in_their_folder(running_service: RunningService) -> None:
    url = running_service.url
    missing = await http(url + "/panel/nope.js")
    assert missing.code == 404 and missing.error == "http_error"
    assert "/panel/nope.js" in missing.message
    for path in (
        "/panel/%2e%2e/panel.py",
        "/panel/..%2f..%2fservice.py",
        "/panel/%2e%2e%2f__init__.py",
    ):
        answer = await http(url + path)
        assert answer.code in (403, 404), path
        assert answer.error == "http_error", path
    # Unknown URLs keep the JSON 404 of the API.
    other = await http(url + "/no/such/page")
    assert other.code == 404 and other.error == "http_error"


@pytest.fixture
async def ui_service(
    indiserver: IndiServerProcess, tmp_path: Path
) -> AsyncIterator[RunningService]:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>other front end</title>")
    (ui / "assets" / "app.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("not for the web")
    svc = await start_service(indiserver, tmp_path / "data", ui_dir=ui)
    yield svc
    await svc.stop()


async def test_ui_dir_is_served_at_root_and_the_panel_stays(ui_service: RunningService) -> None:
    url = ui_service.url
    html = {"Accept": "text/html,application/xhtml+xml"}
    root = await http(url + "/", headers=html)
    assert root.code == 200 and "other front end" in root.body
    asset = await http(url + "/assets/app.js")
    assert asset.code == 200 and asset.body == "console.log('app')"
    # A client-side route a browser navigates to gets index.html ...
    route = await http(url + "/sequences/42", headers=html)
    assert route.code == 200 and "other front end" in route.body
    # ... a missing file asked for by a script gets the API's JSON 404.
    missing = await http(url + "/assets/gone.js")
    assert missing.code == 404 and missing.error == "http_error"
    for path in ("/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        answer = await http(url + path, headers=html)
        assert "not for the web" not in json.dumps(answer.body), path
    panel = await http(url + "/panel/")
    assert panel.code == 200 and "/panel/js/main.js" in panel.body
    assert (await http(url + "/api/v1/status")).code == 200
    assert (await http(url + "/debug/indi")).body == panel.body


def test_ui_dir_without_index_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--ui", str(tmp_path)])
    assert exc.value.code == 2
    assert "index.html" in capsys.readouterr().err


async def test_panel_and_its_sockets_with_the_token_cookie(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    token = "panel-token-0123456789"
    svc = await start_service(indiserver, tmp_path / "data", token=token)
    try:
        assert (await http(svc.url + "/")).code == 401
        opened = await http(svc.url + f"/?token={token}")
        assert opened.code == 200
        cookie = opened.headers["Set-Cookie"].split(";", 1)[0]
        assert (await http(svc.url + "/panel/js/main.js", headers={"Cookie": cookie})).code == 200
        own = {"Cookie": cookie, "Origin": svc.url}
        for path in ("/ws/debugging/?stream=1", "/ws/indi_client/"):
            ws = await ws_open(svc.ws_url + path, own)
            first = json.loads(await ws.read_message())
            assert first["method"] in ("snapshot", "status"), path
            ws.close()
        # The cookie does not let a page of another site in.
        foreign = await ws_refused(
            svc.ws_url + "/ws/indi_client/", {"Cookie": cookie, "Origin": "http://evil.example"}
        )
        assert foreign.code == 403
    finally:
        await svc.stop()


async def test_a_browser_without_the_token_gets_a_page_saying_how_to_get_in(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    svc = await start_service(indiserver, tmp_path / "data", require_token=True)
    token = (tmp_path / "data" / "token").read_text().strip()
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    try:
        for path in PAGE_URLS:
            page = await http(svc.url + path, headers=browser)
            assert page.code == 401, path
            assert page.headers["Content-Type"].startswith("text/html"), path
            assert "?token=" in page.body and str(tmp_path / "data" / "token") in page.body
            assert token not in page.body
        # A program (no text/html) and the API keep the JSON error.
        assert (await http(svc.url + "/")).error == "token_required"
        api = await http(svc.url + "/api/v1/devices", headers=browser)
        assert api.code == 401 and api.error == "token_required"
        # A stale cookie: the page says so.
        stale = await http(
            svc.url + "/", headers={**browser, "Cookie": f"{token_cookie_name(svc.port)}=old"}
        )
        assert stale.code == 401 and "no longer" in stale.body and token not in stale.body
    finally:
        await svc.stop()


async def test_text_is_gzipped_for_a_client_that_accepts_it_and_frames_are_not(
    running_service: RunningService,
) -> None:
    import gzip

    import numpy as np
    from astropy.io import fits
    from tornado.httpclient import AsyncHTTPClient

    async def fetch(path: str, accept: str | None) -> tuple[str | None, bytes]:
        headers = {"Accept-Encoding": accept} if accept else {}
        resp = await AsyncHTTPClient().fetch(
            running_service.url + path, headers=headers, decompress_response=False
        )
        return resp.headers.get("Content-Encoding"), resp.body

    hdu = fits.PrimaryHDU(np.random.default_rng(1).integers(0, 4000, (64, 64), dtype=np.uint16))
    frame = await running_service.service.blobs.add(
        b"".join([hdu.header.tostring().encode(), hdu.data.byteswap().tobytes()]),
        device="CCD Simulator",
    )
    for path in ("/", "/panel/js/main.js", "/panel/panel.css", "/api/v1/openapi.json"):
        plain_encoding, plain = await fetch(path, None)
        encoding, body = await fetch(path, "gzip, deflate")
        assert plain_encoding is None, path
        assert encoding == "gzip", path
        assert gzip.decompress(body) == plain, path
        assert len(body) < len(plain), path
    for path in (f"/blobs/{frame.id}", f"/blobs/{frame.id}/preview.png"):
        encoding, body = await fetch(path, "gzip")
        assert encoding is None and body, path  # already compressed, or not worth it
