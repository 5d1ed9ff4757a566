"""The OpenAPI document: valid, served, and covering every route the app has."""

from __future__ import annotations

import json
import re
import types
from typing import Any
from urllib.parse import quote

import pytest
import tornado.web
from openapi_spec_validator import validate
from tornado.httpclient import AsyncHTTPClient

from indiws.testing import RunningService
from indiws.web import openapi

HTTP_METHODS = ("get", "put", "post", "patch", "delete")


async def get(url: str) -> tuple[int, str, str]:
    resp = await AsyncHTTPClient().fetch(url, raise_error=False)
    return resp.code, resp.headers.get("Content-Type", ""), resp.body.decode()


async def served_document(svc: RunningService) -> dict[str, Any]:
    code, ctype, body = await get(svc.url + "/api/v1/openapi.json")
    assert code == 200 and ctype.startswith("application/json")
    return json.loads(body)


def implemented_methods(handler: type) -> set[str]:
    base = tornado.web.RequestHandler
    return {m for m in HTTP_METHODS if getattr(handler, m) is not getattr(base, m)}


def sample_path(path: str, item: dict[str, Any]) -> str:
    """A concrete URL path for a documented template, from its parameters' examples."""
    params: dict[str, Any] = {}
    for op in [item, *(item[m] for m in HTTP_METHODS if m in item)]:
        for p in op.get("parameters", []):
            if p.get("in") == "path":
                params[p["name"]] = p
    out = path
    for name in re.findall(r"{([^}]+)}", path):
        assert name in params, f"{path}: path parameter {name!r} is not described"
        p = params[name]
        value = p.get("example", p.get("schema", {}).get("example"))
        if value is None and p.get("schema", {}).get("enum"):
            value = p["schema"]["enum"][0]
        assert value is not None, f"{path}: parameter {name!r} needs an example or an enum"
        out = out.replace("{" + name + "}", quote(str(value), safe=""))
    return out


async def test_document_validates(running_service: RunningService) -> None:
    doc = await served_document(running_service)
    validate(doc)  # raises with the first violation
    assert doc["openapi"].startswith("3.1")
    code, _, short = await get(running_service.url + "/openapi.json")
    assert code == 200 and json.loads(short) == doc


async def test_every_route_is_documented(running_service: RunningService) -> None:
    """Both ways: each route of the app has a documented path with exactly the
    methods its handler implements, and each documented path reaches a handler.
    A new endpoint without an OPENAPI_PATHS entry fails here."""
    doc = await served_document(running_service)
    app = running_service.server.request_callback
    rules = [(rule.matcher.regex, rule.target) for rule in app.wildcard_router.rules]
    covered: set[str] = set()
    problems: list[str] = []
    for path, item in doc["paths"].items():
        url = sample_path(path, item)
        match = next(((rx, h) for rx, h in rules if rx.match(url)), None)
        if match is None:
            problems.append(f"documented {path} ({url}) reaches no route")
            continue
        regex, handler = match
        covered.add(regex.pattern)
        documented = {m for m in HTTP_METHODS if m in item}
        if documented != implemented_methods(handler):
            problems.append(
                f"{path}: documented {sorted(documented)}, "
                f"{handler.__module__}.{handler.__name__} implements "
                f"{sorted(implemented_methods(handler))}"
            )
    for regex, handler in rules:
        if regex.pattern not in covered:
            problems.append(
                f"route {regex.pattern} ({handler.__module__}.{handler.__name__}) is not in the "
                "OpenAPI document: add it to its module's OPENAPI_PATHS (see indiws/web/openapi.py)"
            )
    assert not problems, "\n".join(problems)


async def test_every_operation_is_described(running_service: RunningService) -> None:
    doc = await served_document(running_service)
    ids: list[str] = []
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = item[method]
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            assert op.get("tags"), f"{method.upper()} {path} has no tag"
            assert op.get("responses"), f"{method.upper()} {path} has no responses"
            if "operationId" in op:
                ids.append(op["operationId"])
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    # Every error code the service can answer is listed in the Error schema.
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert {"unknown_device", "invalid_params", "timeout", "http_error"} <= set(codes["enum"])


async def test_docs_page_lists_every_endpoint(running_service: RunningService) -> None:
    doc = await served_document(running_service)
    code, ctype, page = await get(running_service.url + "/api/docs")
    assert code == 200 and ctype.startswith("text/html")
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                assert f"<td>{method.upper()}</td><td><code>{path}</code>" in page, (method, path)
    assert "unknown_device" in page  # the error table
    # Works without internet: no scripts, no external assets.
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_route_modules_are_merged_generically() -> None:
    mod = types.ModuleType("indiws.web.example_extension")
    mod.OPENAPI_PATHS = {  # type: ignore[attr-defined]
        "/ws/example/": openapi.websocket_path("An example socket", "Messages: docs/x.md."),
        "/api/v1/example/{thing}": {
            "get": {
                "summary": "A thing",
                "tags": ["example"],
                "parameters": [openapi.path_param("thing", "which", "one")],
                "responses": {
                    "200": openapi.json_response("It.", openapi.ref("Thing")),
                    **openapi.error_responses(404),
                },
            }
        },
    }
    mod.OPENAPI_COMPONENTS = {"schemas": {"Thing": {"type": "object"}}}  # type: ignore[attr-defined]
    mod.OPENAPI_TAGS = [{"name": "example", "description": "An example."}]  # type: ignore[attr-defined]
    from indiws.web import seed

    doc = openapi.build_document([seed, mod])
    validate(doc)
    assert "/ws/example/" in doc["paths"] and "/api/v1/example/{thing}" in doc["paths"]
    assert "/FIFO/start/{device_type}/{device_name}/" in doc["paths"]
    assert doc["components"]["schemas"]["Thing"] == {"type": "object"}
    assert "example" in {t["name"] for t in doc["tags"]}

    twice = types.ModuleType("indiws.web.twice")
    twice.OPENAPI_PATHS = {"/get/all/devices/": {}}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="/get/all/devices/"):
        openapi.build_document([seed, twice])
