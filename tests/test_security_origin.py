"""Cross-site requests: a page of another origin may not act through the service.

Every request that changes state (every method but GET/HEAD/OPTIONS, every
WebSocket upgrade, the seed's ``GET /FIFO/...``) is refused with 403 when the
browser says it comes from elsewhere; programs that send no ``Origin`` nor
``Sec-Fetch-Site`` (curl, Python) and the service's own pages pass.
"""

from __future__ import annotations

import json
from pathlib import Path

from security_support import IMG_FROM_OTHER_SITE, http, ws_open, ws_refused

from indiws.testing import IndiServerProcess, RunningService, start_service

FOCUSER = "Focuser Simulator"


async def assign_focuser(svc: RunningService) -> None:
    """As a script does it: no browser headers."""
    answer = await http(
        svc.url + "/api/v1/roles/focuser",
        "PUT",
        body=json.dumps({"device": FOCUSER, "connect": False}),
    )
    assert answer.code == 201, answer.body


async def focuser_role(svc: RunningService) -> str | None:
    answer = await http(svc.url + "/api/v1/roles/focuser")
    assert answer.code == 200
    return answer.body["device_name"]


async def test_img_tag_on_another_site_cannot_release_a_role(
    running_service: RunningService,
) -> None:
    svc = running_service
    await assign_focuser(svc)
    answer = await http(svc.url + "/FIFO/stop/focuser/x/", headers=IMG_FROM_OTHER_SITE)
    assert answer.code == 403
    assert answer.error == "cross_site_refused"
    assert "Sec-Fetch-Site: cross-site" in answer.message
    assert await focuser_role(svc) == FOCUSER
    # A link from a page of the same site (another port of this host) neither.
    answer = await http(
        svc.url + "/FIFO/stop/focuser/x/",
        headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},
    )
    assert answer.code == 403 and answer.error == "cross_site_refused"
    assert await focuser_role(svc) == FOCUSER
    # The operator typing the URL (Sec-Fetch-Site: none) acts.
    answer = await http(
        svc.url + "/FIFO/stop/focuser/x/",
        headers={"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"},
    )
    assert answer.code == 200 and answer.body == "Got!"
    assert await focuser_role(svc) is None


async def test_text_plain_post_from_another_site_is_refused(
    running_service: RunningService,
) -> None:
    """The CORS "simple request" that needs no preflight: the browser sends it
    and only hides the answer from the page, so the service must refuse it."""
    svc = running_service
    evil = {
        "Origin": "https://evil.example",
        "Content-Type": "text/plain",
        "Sec-Fetch-Site": "cross-site",
    }
    for method, path, body in [
        ("POST", "/api/server/stop", ""),
        ("POST", "/api/v1/drivers/start", '{"executable": "/bin/touch"}'),
        ("PUT", "/api/v1/roles/focuser", json.dumps({"device": FOCUSER, "connect": False})),
        ("POST", "/FIFO/start/focuser/Focuser%20Simulator/", ""),
    ]:
        answer = await http(svc.url + path, method, headers=evil, body=body)
        assert answer.code == 403, (path, answer.body)
        assert answer.error == "cross_site_refused"
        message = answer.message
        assert "Origin https://evil.example is not this service's" in message
        assert "--allow-origin https://evil.example" in message
        assert answer.body["error"]["data"] == {"origin": "https://evil.example"}
    assert await focuser_role(svc) is None
    # Without a Sec-Fetch-Site header (older browsers) the Origin alone refuses.
    answer = await http(
        svc.url + "/api/v1/roles/focuser", "DELETE", headers={"Origin": "http://evil.example"}
    )
    assert answer.code == 403 and answer.error == "cross_site_refused"


async def test_programs_and_own_pages_still_act(running_service: RunningService) -> None:
    svc = running_service
    own = f"http://127.0.0.1:{svc.port}"
    await assign_focuser(svc)  # no browser header at all
    answer = await http(
        svc.url + "/api/v1/roles/focuser",
        "DELETE",
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.code == 204
    assert await focuser_role(svc) is None
    # A same-origin page calling the seed's GET, with the headers a fetch() has.
    answer = await http(
        svc.url + "/FIFO/stop/camera/x/",
        headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Origin": own},
    )
    assert answer.code == 200
    # The page under the name "localhost" is its own origin too.
    answer = await http(
        svc.url + "/api/v1/roles/camera",
        "DELETE",
        headers={"Host": f"localhost:{svc.port}", "Origin": f"http://localhost:{svc.port}"},
    )
    assert answer.code == 204


async def test_reading_needs_no_origin_check(running_service: RunningService) -> None:
    """GETs that only read pass: the browser keeps their answer from a
    foreign page (no CORS header for it)."""
    answer = await http(
        running_service.url + "/api/v1/status",
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


async def test_another_port_of_this_host_is_another_origin(
    running_service: RunningService,
) -> None:
    """A page on localhost:8080 is same-site but not same-origin: refused
    (cookies and hostnames do not tell ports apart, so "same host" is not
    "ours")."""
    svc = running_service
    answer = await http(
        svc.url + "/api/v1/roles/focuser",
        "DELETE",
        headers={"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-site"},
    )
    assert answer.code == 403 and answer.error == "cross_site_refused"
    assert "--allow-origin http://127.0.0.1:8080" in answer.message
    for origin in ("null", "http://127.0.0.1", f"https://127.0.0.1:{svc.port}x"):
        answer = await http(svc.url + "/api/v1/roles/focuser", "DELETE", headers={"Origin": origin})
        assert answer.code == 403, origin


async def test_websocket_from_a_foreign_page_is_refused(running_service: RunningService) -> None:
    svc = running_service
    for path in ("/ws/indi_client/", "/ws/indi/", "/ws/debugging/"):
        answer = await ws_refused(svc.ws_url + path, {"Origin": "https://evil.example"})
        assert answer.code == 403 and answer.error == "cross_site_refused", path
        answer = await ws_refused(svc.ws_url + path, {"Origin": "http://localhost:8080"})
        assert answer.code == 403, path
    # Its own pages and programs (no Origin) connect.
    conn = await ws_open(svc.ws_url + "/ws/indi/", {"Origin": f"http://127.0.0.1:{svc.port}"})
    conn.close()
    conn = await ws_open(svc.ws_url + "/ws/indi/")
    conn.close()


async def test_allow_origin_lets_that_page_act(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    """lightAPT's pages are served by lightAPT (e.g. port 8080): the operator
    names their origin with --allow-origin."""
    svc = await start_service(
        indiserver, tmp_path / "data", allowed_origins=("http://localhost:8080",)
    )
    try:
        page = {"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-site"}
        conn = await ws_open(svc.ws_url + "/ws/indi_client/", page)
        conn.close()
        answer = await http(
            svc.url + "/api/v1/roles/focuser",
            "PUT",
            headers={**page, "Content-Type": "application/json"},
            body=json.dumps({"device": FOCUSER, "connect": False}),
        )
        assert answer.code == 201
        assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
        # Other origins stay refused.
        answer = await ws_refused(svc.ws_url + "/ws/indi/", {"Origin": "http://localhost:8081"})
        assert answer.code == 403
    finally:
        await svc.stop()
