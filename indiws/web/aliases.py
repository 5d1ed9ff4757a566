"""The same handlers under the URL prefixes other lightAPT generations use.

- ``/indi/``: lightAPT's last version (V4) moved the seed's URLs there:
  ``/indi/get/all/devices/``, ``/indi/FIFO/...``, ``/indi/ws/debugging/``,
  ``/indi/ws/indi_client/``.
- ``/indiweb/api/``: lightAPT's port of INDI Web Manager's page calls its
  API under that prefix, each route also with a trailing ``/``; served by
  the handlers of ``/api/`` (`manager_api`), plus its older custom-driver
  path ``/indiweb/api/profiles/custom``.

Aliases are made from the other route modules' own routes and OpenAPI
entries, so they follow any change there.  Nothing here handles a request.
"""

from __future__ import annotations

import copy
from typing import Any

from ..service import Service
from . import highlevel, manager_api, seed, streams

__all__ = ["INDI_PREFIXED", "OPENAPI_PATHS", "routes"]

#: Path prefixes served again under ``/indi``.
INDI_PREFIXED = ("/get/all/devices/", "/FIFO/", "/ws/debugging/", "/ws/indi_client/")
#: INDI Web Manager's paths (ours under /api/v1/ are not aliased).
_INDIWEB = "/api/"
_OURS = "/api/v1/"
_ANY_TAIL = "(.+)"


def _indi_routes(service: Service) -> list[Any]:
    out = []
    for module in (seed, streams, highlevel):
        for pattern, handler, kwargs in module.routes(service):
            if pattern.startswith(INDI_PREFIXED):
                out.append(("/indi" + pattern, handler, kwargs))
    return out


def _indiweb_routes(service: Service) -> list[Any]:
    out = []
    for pattern, handler, kwargs in manager_api.routes(service):
        if not pattern.startswith(_INDIWEB) or pattern.startswith(_OURS):
            continue
        if pattern == "/api/profiles/([^/]+)/?":
            # Before the generic profile route: lightAPT's page posts custom
            # drivers here (INDI Web Manager now uses /custom/add).
            out.append(
                ("/indiweb/api/profiles/custom/?", manager_api.IndiwebCustomDriverHandler, kwargs)
            )
        if pattern.endswith(_ANY_TAIL):
            # A label to the end of the path: its trailing '/' is not part of it.
            pattern = pattern[: -len(_ANY_TAIL)] + "(.+?)/?"
        out.append(("/indiweb" + pattern, handler, kwargs))
    return out


def routes(service: Service) -> list[Any]:
    return _indi_routes(service) + _indiweb_routes(service)


def _aliased(
    paths: dict[str, dict[str, Any]], prefix: str, keep: Any, label: str
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path, item in paths.items():
        if not keep(path):
            continue
        item = copy.deepcopy(item)
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            op["summary"] = f"{op.get('summary', '')} ({label})"
            op["description"] = f"The same as `{path}`. " + op.get("description", "")
            if "operationId" in op:
                op["operationId"] += "_" + prefix.strip("/")
        out[prefix + path] = item
    return out


def _openapi_paths() -> dict[str, dict[str, Any]]:
    indi = {}
    for module in (seed, streams, highlevel):
        indi.update(
            _aliased(
                module.OPENAPI_PATHS,
                "/indi",
                lambda p: p.startswith(INDI_PREFIXED),
                "lightAPT V4 URL",
            )
        )
    indiweb = _aliased(
        manager_api.OPENAPI_PATHS,
        "/indiweb",
        lambda p: p.startswith(_INDIWEB) and not p.startswith(_OURS),
        "lightAPT's INDI Web Manager page",
    )
    custom = copy.deepcopy(indiweb["/indiweb/api/profiles/custom/add"])
    for op in custom.values():
        op["summary"] = "Add a custom driver (lightAPT's INDI Web Manager page, older path)"
        if "operationId" in op:
            op["operationId"] += "_custom"
    return {**indi, **indiweb, "/indiweb/api/profiles/custom": custom}


OPENAPI_PATHS: dict[str, dict[str, Any]] = _openapi_paths()
