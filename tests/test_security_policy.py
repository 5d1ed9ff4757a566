"""The gate's policy as pure functions, and the gate in front of every route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.httputil
import tornado.web
import tornado.websocket

from indiws.security import (
    AccessPolicy,
    RequestFacts,
    access_options_error,
    binds_beyond_loopback,
    normalize_origin,
    origin_listed,
    parse_host,
)
from indiws.service import Config, Service
from indiws.web import seed
from indiws.web.app import NotFoundHandler, make_app
from indiws.web.gate import GatedApplication, RefusedHandler, changes_state


def test_parse_host() -> None:
    assert parse_host("Example.ORG:7999") == ("example.org", 7999)
    assert parse_host("localhost.") == ("localhost", None)
    assert parse_host("[::1]:80") == ("::1", 80)
    assert parse_host("[::1]") == ("::1", None)
    assert parse_host("127.0.0.1") == ("127.0.0.1", None)
    for bad in ("", "a b", "[::1", "[::1]x", "host:", "host:0", "host:65536", "x:y:z", "@a"):
        with pytest.raises(ValueError):
            parse_host(bad)


def test_normalize_origin() -> None:
    assert normalize_origin("HTTP://LocalHost:8080") == "http://localhost:8080"
    assert normalize_origin("http://localhost:80/") == "http://localhost"
    assert normalize_origin("https://obs.example:443") == "https://obs.example"
    assert normalize_origin("http://[::1]:7999") == "http://[::1]:7999"
    for bad in ("null", "file://", "localhost:8080", "http://a/b", "ftp://a", "http://a:x"):
        assert normalize_origin(bad) is None, bad
    assert origin_listed("http://localhost:8080", ["HTTP://localhost:8080/"])
    assert origin_listed("https://x.example", ["*"])
    assert not origin_listed("http://localhost:8081", ["http://localhost:8080"])


def test_loopback_binding() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"):
        assert not binds_beyond_loopback(host), host
    for host in ("0.0.0.0", "", "::", "192.168.1.5", "fd00::2", "obs.lan"):
        assert binds_beyond_loopback(host), host


def acting(**kw: str | None) -> RequestFacts:
    return RequestFacts(method="POST", changes_state=True, **kw)  # type: ignore[arg-type]


def test_cross_site_rules() -> None:
    policy = AccessPolicy.build(
        bind_host="127.0.0.1", port=7999, allow_origins=["http://localhost:8080/"]
    )
    host = "127.0.0.1:7999"
    assert policy.check(acting(host=host)).refusal is None  # a program
    assert policy.check(acting(host=host, origin="http://127.0.0.1:7999")).refusal is None
    assert policy.check(acting(host=host, origin="http://localhost:8080")).refusal is None
    assert policy.check(acting(host=host, fetch_site="same-origin")).refusal is None
    assert policy.check(acting(host=host, fetch_site="none")).refusal is None
    for facts in [
        acting(host=host, origin="http://127.0.0.1:8080"),
        acting(host=host, origin="null"),
        acting(host=host, fetch_site="cross-site"),
        acting(host=host, fetch_site="same-site"),
        acting(host="evil.example:7999", origin="http://evil.example:7999"),
    ]:
        refusal = policy.check(facts).refusal
        assert refusal is not None and refusal.status in (403, 421), facts
    # Only acting requests are judged on their origin.
    reading = RequestFacts(method="GET", host=host, origin="https://evil.example")
    assert policy.check(reading).refusal is None


def test_own_origin_behind_a_tls_proxy() -> None:
    """Host without a port matches the origin's default port, whatever its scheme."""
    policy = AccessPolicy.build(bind_host="127.0.0.1", port=7999, allow_hosts=["obs.example"])
    facts = acting(host="obs.example", origin="https://obs.example")
    assert policy.check(facts).refusal is None
    facts = acting(host="obs.example", origin="https://obs.example:8443")
    assert policy.check(facts).refusal is not None


def test_token_rules() -> None:
    token = "t" * 20
    policy = AccessPolicy.build(bind_host="0.0.0.0", port=7999, token=token)
    base = {"method": "GET", "host": "127.0.0.1"}
    assert policy.check(RequestFacts(**base)).refusal.code == "token_required"  # type: ignore[union-attr]
    assert policy.check(RequestFacts(**base, authorization=f"Bearer {token}")).refusal is None
    assert policy.check(RequestFacts(**base, authorization=f"bearer  {token} ")).refusal is None
    wrong = policy.check(RequestFacts(**base, authorization="Bearer nope", cookie_token=token))
    assert wrong.refusal is not None and wrong.refusal.code == "token_invalid"
    by_query = policy.check(RequestFacts(**base, query_token=token))
    assert by_query.refusal is None and by_query.set_cookie
    again = policy.check(RequestFacts(**base, query_token=token, cookie_token=token))
    assert again.refusal is None and not again.set_cookie
    assert policy.check(RequestFacts(**base, cookie_token=token)).refusal is None
    # A CORS preflight never carries credentials.
    assert policy.check(RequestFacts(method="OPTIONS", host="127.0.0.1")).refusal is None
    # Other Authorization schemes are not ours: the cookie decides.
    basic = RequestFacts(**base, authorization="Basic eDp5", cookie_token=token)
    assert policy.check(basic).refusal is None


def test_what_changes_state() -> None:
    assert changes_state("POST", tornado.web.RequestHandler)
    assert changes_state("DELETE", None)
    assert not changes_state("GET", tornado.web.RequestHandler)
    assert not changes_state("OPTIONS", tornado.web.RequestHandler)
    assert changes_state("GET", seed.FifoHandler)
    assert changes_state("GET", tornado.websocket.WebSocketHandler)


# ------------------------------------------------- the gate covers every route


@pytest.fixture
def app(tmp_path: Path) -> Iterator[GatedApplication]:
    service = Service(Config(indi_host="localhost", data_dir=tmp_path))
    yield make_app(service)
    service.db.close()


def routes(app: GatedApplication) -> Iterator[tuple[str, type]]:
    """A sample path and the handler class of every route."""
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        path = pattern.replace("/?", "/").replace("\\.", ".")
        for group in ("([^/]+)", "(.+)"):
            path = path.replace(group, "x")
        while "(" in path:  # an alternation: its first choice
            start, end = path.index("("), path.index(")")
            path = path[:start] + path[start + 1 : end].split("|")[0] + path[end + 1 :]
        yield path, rule.target


def handler_for(app: GatedApplication, method: str, path: str, headers: dict) -> type:
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine(method, path, "HTTP/1.1"),
        headers=tornado.httputil.HTTPHeaders(headers),
    )
    return app.find_handler(request).handler_class  # type: ignore[attr-defined]


def test_no_route_escapes_the_gate(app: GatedApplication) -> None:
    """Every acting method of every route (and the 404 handler) is refused for a
    foreign page; a route added later is covered without knowing of the gate."""
    foreign = {"Host": "127.0.0.1:7999", "Origin": "https://evil.example"}
    checked = 0
    for path, handler in [*routes(app), ("/no/such/path", NotFoundHandler)]:
        # The sample path reaches its route.
        assert handler_for(app, "GET", path, {"Host": "localhost:7999"}) is handler, path
        assert handler_for(app, "GET", path, {"Host": "evil.example"}) is RefusedHandler, path
        methods = ["POST", "PUT", "DELETE", "PATCH"]
        if issubclass(handler, tornado.websocket.WebSocketHandler) or getattr(
            handler, "get_changes_state", False
        ):
            methods.append("GET")
        for method in methods:
            assert handler_for(app, method, path, foreign) is RefusedHandler, (method, path)
            checked += 1
    assert checked > 100


def test_access_options_are_checked() -> None:
    assert access_options_error(["http://localhost:8080", "*", "null"], ["obs.lan"], None) is None
    assert "is not an origin" in str(access_options_error(["localhost:8080"], [], None))
    assert "is not an origin" in str(access_options_error(["http://a/path"], [], None))
    assert "is not a host name" in str(access_options_error([], ["a b"], None))
    assert "at least 16" in str(access_options_error([], [], "short"))
    assert "only letters" in str(access_options_error([], [], "x" * 16 + ";"))
