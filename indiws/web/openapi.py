"""The OpenAPI 3.1 document of every HTTP endpoint, and a plain HTML page of it.

Served at ``GET /api/v1/openapi.json`` (also ``/openapi.json``) and, for
people, ``GET /api/docs`` (no scripts, no external assets).

How a route module documents its endpoints
------------------------------------------

The document is merged from the modules in ``app.ROUTE_MODULES``, in that
order (`make_app` hands them to the handlers below in the application's
``route_modules`` setting: this module sits below the app and does not
import it).  Each module that has routes exports, beside ``routes(service)``:

- ``OPENAPI_PATHS: dict[str, dict]``: OpenAPI path items keyed by path
  template (``/api/v1/devices/{device}``), one operation per HTTP method its
  handlers implement.  Every path parameter needs an ``example`` (or an
  ``enum``): the test suite builds a URL from it and checks that the app
  routes it to a handler that implements exactly the documented methods,
  and that every route of the app is documented.  A WebSocket is a ``get``
  path item; `websocket_path` builds one.
- optionally ``OPENAPI_COMPONENTS: dict`` (``{"schemas": {...}}``, merged
  into ``components``; a name defined twice differently is an error) and
  ``OPENAPI_TAGS: list[dict]``.

The helpers below (`ref`, `json_response`, `json_request`, `error_responses`,
`path_param`, `query_param`, `websocket_path`) keep those entries short and
point at the shared ``Error`` schema and error responses.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from .. import __version__
from ..db import ROLES
from .base import JsonHandler
from .errors import _BY_CODE as CODED_ERRORS
from .errors import _TABLE as ERROR_TABLE
from .errors import JSONRPC_CODES, REFUSALS

__all__ = [
    "OPENAPI_PATHS",
    "OPENAPI_VERSION",
    "build_document",
    "error_responses",
    "json_request",
    "json_response",
    "path_param",
    "query_param",
    "ref",
    "render_html",
    "routes",
    "websocket_path",
]

OPENAPI_VERSION = "3.1.0"

#: HTTP status → name of the shared error response in ``components/responses``.
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is malformed or a value does not fit (nothing was sent)."),
    404: ("NotFound", "Unknown device, property, element, role or endpoint."),
    405: ("MethodNotAllowed", "The endpoint does not take this HTTP method."),
    409: ("Conflict", "The property or device went away while waiting."),
    422: (
        "UnprocessableContent",
        "A schema-valid value the device refuses against its live range (`invalid_value`: "
        "the driver's exposure limits, the focuser's travel, the wheel's slots, the mount's "
        "track modes); nothing was sent.",
    ),
    502: ("BadGateway", "The driver failed (e.g. could not connect the device)."),
    503: ("ServiceUnavailable", "indiserver is not connected."),
    504: ("GatewayTimeout", "The property was still Busy when the timeout ran out."),
}

# Error names that do not come from the exception table.
_OTHER_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_params": (400, "the request body or a parameter is malformed"),
    "http_error": (0, "an HTTP-level error: unknown endpoint (404), method not allowed (405)"),
    "internal_error": (500, "a bug: the service could not answer"),
    "token_required": (401, "the service requires its access token and none was sent"),
    "token_invalid": (401, "the access token sent is wrong"),
    "cross_site_refused": (403, "a browser page of another origin tried to change state"),
    "host_not_allowed": (421, "the Host header is not a name of this service (DNS rebinding?)"),
    "length_required": (411, "a request body sent without a Content-Length"),
    "not_supported": (501, "INDI Web Manager's reboot/poweroff: indiws does not do that"),
    "invalid_plan": (400, "a plan that cannot run, with every problem and its line"),
    "unknown_action": (404, "action.abort: no running action has that id"),
}


# ---------------------------------------------------------------- helpers


def ref(name: str) -> dict[str, str]:
    """``{"$ref": "#/components/schemas/<name>"}``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(
    description: str, schema: Mapping[str, Any] | None = None, example: Any = None
) -> dict[str, Any]:
    """A response object with an ``application/json`` body."""
    media: dict[str, Any] = {"schema": dict(schema or {})}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def json_request(
    schema: Mapping[str, Any], example: Any = None, *, required: bool = True
) -> dict[str, Any]:
    """A ``requestBody`` taking JSON."""
    media: dict[str, Any] = {"schema": dict(schema)}
    if example is not None:
        media["example"] = example
    return {"required": required, "content": {"application/json": media}}


def error_responses(*statuses: int) -> dict[str, Any]:
    """The shared error responses for these HTTP statuses."""
    return {str(s): {"$ref": f"#/components/responses/{ERROR_RESPONSES[s][0]}"} for s in statuses}


def path_param(
    name: str,
    description: str,
    example: str,
    *,
    enum: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A path parameter (percent-encode names with spaces: ``CCD%20Simulator``)."""
    schema: dict[str, Any] = {"type": "string"}
    if enum is not None:
        schema["enum"] = list(enum)
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "example": example,
    }


def query_param(
    name: str, description: str, schema: Mapping[str, Any], example: Any = None
) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": dict(schema),
    }
    if example is not None:
        param["example"] = example
    return param


def websocket_path(
    summary: str,
    description: str,
    *,
    tags: Iterable[str] = ("websocket",),
    parameters: Iterable[Mapping[str, Any]] = (),
    operation_id: str | None = None,
) -> dict[str, Any]:
    """A path item for a WebSocket endpoint (an HTTP GET upgraded to a socket).

    OpenAPI cannot describe the messages; say in ``description`` where they
    are documented.
    """
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "tags": list(tags),
        "parameters": [dict(p) for p in parameters],
        "responses": {
            "101": {"description": "Switching Protocols: the WebSocket is open."},
            "400": {"description": "Not a WebSocket handshake."},
            "401": {"description": "The access token is required and missing or wrong."},
            "403": {"description": "A page of another origin (see --allow-origin)."},
            "421": {"description": "The Host header is not one of the service's names."},
        },
    }
    if operation_id:
        op["operationId"] = operation_id
    return {"get": op}


# ---------------------------------------------------------------- shared parts


def _error_names() -> list[str]:
    return sorted(set(JSONRPC_CODES) | set(_OTHER_ERRORS))


def error_table() -> list[dict[str, Any]]:
    """Every error name with its HTTP status and JSON-RPC code (for the docs).

    Read from the exception table in `errors`, so registered entries show up.
    """
    rows: dict[str, dict[str, Any]] = {}
    for exc_type, status, code, name in ERROR_TABLE:
        rows.setdefault(
            name,
            {"code": name, "status": status, "jsonrpc_code": code, "raised_for": []},
        )["raised_for"].append(exc_type.__name__)
    for reason, (status, code, name) in REFUSALS.items():
        rows.setdefault(
            name,
            {"code": name, "status": status, "jsonrpc_code": code, "raised_for": []},
        )["raised_for"].append(f"refusal {reason.value}")
    for exc_type, codes in CODED_ERRORS:
        for kind, (status, code, name) in codes.items():
            what = f"{exc_type.__name__} ({kind or 'other'})"
            rows.setdefault(
                name,
                {"code": name, "status": status, "jsonrpc_code": code, "raised_for": []},
            )["raised_for"].append(what)
    for name, (status, what) in _OTHER_ERRORS.items():
        rows.setdefault(
            name,
            {
                "code": name,
                "status": status or None,
                "jsonrpc_code": JSONRPC_CODES.get(name),
                "raised_for": [what],
            },
        )
    return sorted(rows.values(), key=lambda r: (r["status"] or 0, r["code"]))


def _base_components() -> dict[str, Any]:
    error_schema = {
        "type": "object",
        "description": "Every error answer: a stable code name, a message for people, details.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "data"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable name of the error; the table is in docs/http.md.",
                        "enum": _error_names(),
                    },
                    "message": {"type": "string"},
                    "data": {
                        "type": "object",
                        "description": "Details: device, property, element, role, field; "
                        "on a timeout the property's current state as `current`.",
                        "additionalProperties": True,
                    },
                },
            }
        },
    }
    examples = {
        400: {
            "code": "invalid_value",
            "message": "Focuser Simulator.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION must be "
            "within [0, 100000], got 200000",
            "data": {"device": "Focuser Simulator", "property": "ABS_FOCUS_POSITION"},
        },
        404: {
            "code": "unknown_device",
            "message": "unknown device 'CCD Simulatr'",
            "data": {"device": "CCD Simulatr"},
        },
        405: {"code": "http_error", "message": "Method Not Allowed", "data": {}},
        409: {
            "code": "property_gone",
            "message": "connection to indiserver lost",
            "data": {},
        },
        502: {
            "code": "connect_failed",
            "message": "Telescope Simulator failed to connect: port not found",
            "data": {},
        },
        422: {
            "code": "invalid_value",
            "message": "CCD Simulator.CCD_EXPOSURE.CCD_EXPOSURE_VALUE must be within [0.01, 3600],"
            " got 0",
            "data": {
                "device": "CCD Simulator",
                "property": "CCD_EXPOSURE",
                "element": "CCD_EXPOSURE_VALUE",
            },
        },
        503: {
            "code": "indiserver_unreachable",
            "message": "not connected to indiserver localhost:7624: Connect call failed",
            "data": {},
        },
        504: {
            "code": "timeout",
            "message": "property CCD Simulator.CCD_EXPOSURE still Busy after 1 s",
            "data": {"current": {"name": "CCD_EXPOSURE", "state": "Busy"}},
        },
    }
    responses = {
        name: json_response(text, ref("Error"), {"error": examples[status]})
        for status, (name, text) in ERROR_RESPONSES.items()
    }
    security_schemes = {
        "bearerToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The access token, when the service requires one "
            "(docs/security.md); browsers get it as a cookie by opening the URL with "
            "?token= once.",
        },
        "tokenQuery": {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "The access token as a query parameter (WebSocket clients).",
        },
    }
    return {
        "schemas": {"Error": error_schema},
        "responses": responses,
        "securitySchemes": security_schemes,
    }


_TAGS: list[dict[str, str]] = [
    {
        "name": "seed",
        "description": "The two calls lightAPT makes after INDI has started; URLs kept "
        "exactly, answered as the service lightAPT used before did (docs/lightapt.md).",
    },
    {"name": "devices", "description": "Devices and their INDI properties."},
    {
        "name": "roles",
        "description": f"Which device plays {', '.join(ROLES)}.",
    },
    {"name": "service", "description": "The service itself and this document."},
]

# ---------------------------------------------------------------- the document


def _merge_components(into: dict[str, Any], extra: Mapping[str, Any], source: str) -> None:
    for section, entries in extra.items():
        target = into.setdefault(section, {})
        for name, value in entries.items():
            if name in target and target[name] != value:
                raise ValueError(f"OpenAPI components/{section}/{name} defined twice ({source})")
            target[name] = copy.deepcopy(value)


def _add_bad_request(item: dict[str, Any]) -> None:
    """Every operation that takes parameters or a body can be answered 400
    (a malformed body, a value that does not fit): say so where the module
    did not."""
    for method in _METHODS:
        op = item.get(method)
        if op is None or "101" in op.get("responses", {}):
            continue
        if op.get("parameters") or op.get("requestBody"):
            op["responses"].setdefault("400", error_responses(400)["400"])


def build_document(modules: Iterable[ModuleType]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``modules`` (the app's: ``app.ROUTE_MODULES``).

    This is the one place path groups are added: a module listed there
    contributes its ``OPENAPI_PATHS``, ``OPENAPI_COMPONENTS`` and ``OPENAPI_TAGS``."""
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "indiws",
            "version": __version__,
            "summary": "INDI astronomy devices over HTTP and WebSocket.",
            "description": "Every HTTP endpoint of the service. Errors are JSON: "
            '`{"error": {"code", "message", "data"}}`; the codes are listed in the '
            "`Error` schema and, with their HTTP statuses, in docs/http.md and at "
            "`/api/docs`. Device and property names in paths are percent-encoded.",
        },
        "servers": [{"url": "/", "description": "this service"}],
        "tags": copy.deepcopy(_TAGS),
        "paths": {},
        "components": _base_components(),
        # No token on loopback by default ({}), else either of the two.
        "security": [{}, {"bearerToken": []}, {"tokenQuery": []}],
    }
    owner: dict[str, str] = {}
    for module in modules:
        name = getattr(module, "__name__", repr(module))
        paths = getattr(module, "OPENAPI_PATHS", {})
        components = getattr(module, "OPENAPI_COMPONENTS", {})
        for path, item in paths.items():
            if path in doc["paths"]:
                raise ValueError(f"OpenAPI path {path} documented by both {owner[path]} and {name}")
            owner[path] = name
            doc["paths"][path] = copy.deepcopy(item)
            _add_bad_request(doc["paths"][path])
        _merge_components(doc["components"], components, name)
        known = {t["name"] for t in doc["tags"]}
        for tag in getattr(module, "OPENAPI_TAGS", ()):
            if tag["name"] not in known:
                doc["tags"].append(dict(tag))
                known.add(tag["name"])
    return doc


# ---------------------------------------------------------------- the HTML page

_METHODS = ("get", "put", "post", "patch", "delete")
_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:64em;margin:1em auto;padding:0 1em;color:#222}
h1{margin-bottom:0} code,pre{font:13px ui-monospace,monospace;background:#f4f4f4}
pre{padding:.5em;overflow:auto} table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
.op{border-top:1px solid #ccc;padding:.4em 0} .m{font-weight:bold;text-transform:uppercase;
display:inline-block;min-width:4.5em} .tag{margin-top:2em}
"""


def _resolve(doc: dict[str, Any], obj: Any) -> Any:
    if isinstance(obj, dict) and "$ref" in obj:
        node: Any = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return node
    return obj


def _example(media: dict[str, Any]) -> str | None:
    if "example" not in media:
        return None
    return json.dumps(media["example"], indent=2, ensure_ascii=False)


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained page listing every endpoint of ``doc``."""
    e = html.escape
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(doc['info']['title'])} HTTP API</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(doc['info']['title'])} {e(doc['info']['version'])}: HTTP API</h1>",
        f"<p>{e(doc['info'].get('description', ''))}</p>",
        '<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> '
        "(OpenAPI 3.1).</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method, path, op))
    descriptions = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    out.append("<h2>Endpoints</h2><table><tr><th>method</th><th>path</th><th>summary</th></tr>")
    for ops in by_tag.values():
        for method, path, op in ops:
            out.append(
                f"<tr><td>{method.upper()}</td><td><code>{e(path)}</code></td>"
                f"<td>{e(op.get('summary', ''))}</td></tr>"
            )
    out.append("</table>")
    for tag, ops in by_tag.items():
        out.append(
            f'<h2 class=tag id="tag-{e(tag)}">{e(tag)}</h2><p>{e(descriptions.get(tag, ""))}</p>'
        )
        for method, path, op in ops:
            out.append(
                f"<div class=op><p><span class=m>{method}</span> <code>{e(path)}</code>"
                f" — {e(op.get('summary', ''))}</p>"
            )
            if op.get("description"):
                out.append(f"<p>{e(op['description'])}</p>")
            params = [_resolve(doc, p) for p in op.get("parameters", [])]
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p['in'])}</td>"
                        f"<td>{e(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            body = _resolve(doc, op.get("requestBody"))
            if body:
                example = _example(body.get("content", {}).get("application/json", {}))
                if example:
                    out.append(f"<p>Request body:</p><pre>{e(example)}</pre>")
            out.append("<table><tr><th>status</th><th>meaning</th></tr>")
            for status, resp in op.get("responses", {}).items():
                resp = _resolve(doc, resp)
                out.append(
                    f"<tr><td>{e(status)}</td><td>{e(resp.get('description', ''))}</td></tr>"
                )
            out.append("</table>")
            ok = next((r for s, r in op.get("responses", {}).items() if s.startswith("2")), None)
            ok = _resolve(doc, ok) if ok else None
            example = _example(ok.get("content", {}).get("application/json", {})) if ok else None
            if example:
                out.append(f"<p>Example answer:</p><pre>{e(example)}</pre>")
            out.append("</div>")
    out.append(
        "<h2>Error codes</h2><p>Every error answers "
        '<code>{"error": {"code", "message", "data"}}</code>.</p>'
        "<table><tr><th>code</th><th>HTTP</th><th>JSON-RPC</th><th>raised for</th></tr>"
    )
    for row in error_table():
        out.append(
            f"<tr><td><code>{e(row['code'])}</code></td><td>{row['status'] or 'as the HTTP error'}"
            f"</td><td>{row['jsonrpc_code'] if row['jsonrpc_code'] is not None else ''}</td>"
            f"<td>{e(', '.join(row['raised_for']))}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


# ---------------------------------------------------------------- handlers


def _app_document(handler: JsonHandler) -> dict[str, Any]:
    return build_document(handler.application.settings["route_modules"])


class OpenApiHandler(JsonHandler):
    def get(self) -> None:
        self.write_json(_app_document(self))


class DocsHandler(JsonHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(render_html(_app_document(self)))


_DOC_SCHEMA = {"type": "object", "description": "An OpenAPI 3.1 document."}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This OpenAPI document",
            "description": "Merged from every route module of the app.",
            "tags": ["service"],
            "operationId": "openapi_document",
            "responses": {"200": json_response("The OpenAPI 3.1 document.", _DOC_SCHEMA)},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This OpenAPI document (short URL)",
            "description": "The same document as `/api/v1/openapi.json`.",
            "tags": ["service"],
            "operationId": "openapi_document_short",
            "responses": {"200": json_response("The OpenAPI 3.1 document.", _DOC_SCHEMA)},
        }
    },
    "/api/docs": {
        "get": {
            "summary": "This document as an HTML page",
            "description": "Every endpoint, its parameters, answers and the error codes; "
            "no scripts and no external assets.",
            "tags": ["service"],
            "operationId": "api_docs_page",
            "responses": {
                "200": {
                    "description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def routes(service: Any) -> list:
    args = {"service": service}
    return [
        (r"/api/v1/openapi\.json", OpenApiHandler, args),
        (r"/openapi\.json", OpenApiHandler, args),
        (r"/api/docs/?", DocsHandler, args),
    ]
