"""Imaging plans run by the service, over HTTP: ``/api/v1/plans``.

- ``POST /api/v1/plans``: the plan as YAML (``Content-Type: application/yaml``)
  or JSON (the same keys); ``?name=m42.yaml`` names it.  201 ``{id, name,
  state, ...}``; 400 ``invalid_plan`` with every problem and its line.
- ``GET /api/v1/plans``: every plan, in queue order (summaries).
- ``GET /api/v1/plans/{id}``: one plan with its frames and events.
- ``POST /api/v1/plans/{id}/pause|resume|abort``.

Thin handlers over `indiws.plans.PlanEngine` (``service.plans``); the same
as the ``plans.*`` JSON-RPC methods of ``/ws/indi_client/``.  docs/http.md.
"""

from __future__ import annotations

import json
from typing import Any

from ..plans import STATES, InvalidTransition, PlanNotFound, PlanQueueFull
from ..remote.plan import PlanError
from ..service import Service
from .base import JsonHandler
from .errors import APIError, invalid_params, register
from .openapi import error_responses, json_response, path_param, ref

__all__ = ["OPENAPI_COMPONENTS", "OPENAPI_PATHS", "plan_error", "routes"]

PREFIX = "/api/v1"
#: Media types taken as YAML (anything else with a body is read as JSON).
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
INVALID_PLAN = -32100

register(PlanNotFound, 404, -32101, "unknown_plan")
register(InvalidTransition, 409, -32102, "invalid_plan_state")
register(PlanQueueFull, 409, -32103, "plan_queue_full")


def plan_error(exc: PlanError) -> APIError:
    """400 ``invalid_plan``: every problem with its key path and line."""
    problems = [{"path": p.path, "line": p.line, "message": p.message} for p in exc.problems]
    return APIError(
        400,
        INVALID_PLAN,
        "invalid_plan",
        f"the plan cannot run: {len(problems)} problem(s)\n{exc}",
        {"error": "invalid_plan", "problems": problems},
    )


def read_plan_text(body: bytes, content_type: str) -> str:
    """The plan's text from a request body (YAML, or JSON checked as JSON first)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _problem(0, f"the plan is not UTF-8 text: {exc}") from None
    media = content_type.split(";")[0].strip().lower()
    if media not in YAML_TYPES and text.strip():
        try:
            json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", 0)
            raise _problem(line, f"not valid JSON: {exc}") from None
    return text


def _problem(line: int, message: str) -> APIError:
    from ..remote.plan import Problem

    return plan_error(PlanError([Problem("", line, message)], "plan"))


class PlansHandler(JsonHandler):
    def max_body_bytes(self) -> int:
        return min(super().max_body_bytes(), 256 * 1024)

    def get(self) -> None:
        self.write_json(self.service.plans.list())

    def post(self) -> None:
        text = read_plan_text(self.request.body, self.request.headers.get("Content-Type", ""))
        name = self.get_query_argument("name", None)
        try:
            summary = self.service.plans.submit(text, name)
        except PlanError as exc:
            raise plan_error(exc) from None
        self.set_header("Location", f"{PREFIX}/plans/{summary['id']}")
        self.write_json(summary, 201)


class PlanHandler(JsonHandler):
    def get(self, plan_id: str) -> None:
        try:
            events = int(self.get_query_argument("events", "200"))
        except ValueError:
            events = -1
        if not 0 <= events <= 1000:
            raise invalid_params("events must be a whole number within [0, 1000]", param="events")
        self.write_json(self.service.plans.get(plan_id).view(events))


class PlanActionHandler(JsonHandler):
    def post(self, plan_id: str, action: str) -> None:
        engine = self.service.plans
        do = {"pause": engine.pause, "resume": engine.resume, "abort": engine.abort}[action]
        self.write_json(do(plan_id))


def routes(service: Service) -> list:
    args: dict[str, Any] = {"service": service}
    seg = r"([^/]+)"  # an unknown id is a 404 unknown_plan, as any other
    return [
        (rf"{PREFIX}/plans/?", PlansHandler, args),
        (rf"{PREFIX}/plans/{seg}/?", PlanHandler, args),
        (rf"{PREFIX}/plans/{seg}/(pause|resume|abort)/?", PlanActionHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI

_ID = path_param("id", "The plan's id (from POST /api/v1/plans).", "p0a1b2c3d4e")
_SUMMARY_EXAMPLE = {
    "id": "p0a1b2c3d4e",
    "name": "m42.yaml",
    "state": "running",
    "message": None,
    "created": "2026-12-01T21:30:00.000Z",
    "frames_total": 6,
    "frames_done": 2,
    "frames_failed": 0,
    "current": {
        "number": 3,
        "name": "M42_Red_2s_0003.fits",
        "target": "M42",
        "filter": "Red",
        "exposure": 2.0,
        "state": "exposing",
        "time_left": 1.2,
    },
    "eta": "2026-12-01T21:31:20.000Z",
}
_FRAME_EXAMPLE = {
    "number": 1,
    "name": "M42_Red_2s_0001.fits",
    "target": "M42",
    "planned_filter": "Red",
    "filter": "Red",
    "exposure": 2.0,
    "frame_type": "light",
    "binning": 1,
    "index": 1,
    "status": "ok",
    "attempts": 1,
    "file": "/data/frames/2026-12-01/M42_Red_Light_2s_20261201T213321_0001.fits",
    "blob_id": "XIZp4jDz",
    "started": "2026-12-01T21:33:21.003Z",
    "ended": "2026-12-01T21:33:23.424Z",
    "ra": 5.58814,
    "dec": -5.39111,
    "pier_side": "west",
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "PlanSummary": {
            "type": "object",
            "required": ["id", "name", "state"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "state": {"enum": list(STATES)},
                "message": {"type": ["string", "null"], "description": "why it waits, ..."},
                "created": {"type": "string"},
                "frames_total": {"type": "integer"},
                "frames_done": {"type": "integer"},
                "frames_failed": {"type": "integer"},
                "current": {"type": ["object", "null"], "description": "the frame running"},
                "eta": {"type": ["string", "null"], "description": "expected end (UTC)"},
            },
        },
        "Plan": {
            "allOf": [
                ref("PlanSummary"),
                {
                    "type": "object",
                    "properties": {
                        "frames": {
                            "type": "array",
                            "description": "Finished frames: status ok (file: absolute path on "
                            "the service's host), failed or skipped; FILTER, RA/DEC and pier "
                            "side as the devices reported them during the exposure.",
                            "items": {"type": "object"},
                        },
                        "missing": {"type": "array", "items": {"type": "object"}},
                        "events": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["time", "type", "message"],
                                "properties": {
                                    "time": {"type": "string"},
                                    "type": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            ]
        },
    }
}

_ACTIONS = {
    "pause": "Pause: a queued plan is held; the running one pauses before its next frame.",
    "resume": "Resume a paused plan (a held one is queued again).",
    "abort": "Abort: the running exposure, slew or move is stopped; the plan ends aborted.",
}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    f"{PREFIX}/plans": {
        "get": {
            "summary": "Every plan, in queue order",
            "tags": ["plans"],
            "operationId": "list_plans",
            "responses": {
                "200": json_response(
                    "The plans.", {"type": "array", "items": ref("PlanSummary")}, [_SUMMARY_EXAMPLE]
                )
            },
        },
        "post": {
            "summary": "Queue a plan (YAML or JSON, docs/sequences.md)",
            "description": "The plan is checked whole first: 400 `invalid_plan` lists every "
            "problem with its line in `data.problems`. One plan runs at a time; others queue.",
            "tags": ["plans"],
            "operationId": "submit_plan",
            "parameters": [
                {
                    "name": "name",
                    "in": "query",
                    "required": False,
                    "description": "The plan's name (e.g. its file name).",
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "201": json_response("Queued.", ref("PlanSummary"), _SUMMARY_EXAMPLE),
                **error_responses(400, 409),
            },
        },
    },
    f"{PREFIX}/plans/{{id}}": {
        "get": {
            "summary": "One plan: state, frames, events",
            "tags": ["plans"],
            "operationId": "get_plan",
            "parameters": [_ID],
            "responses": {
                "200": json_response(
                    "The plan.",
                    ref("Plan"),
                    {**_SUMMARY_EXAMPLE, "frames": [_FRAME_EXAMPLE], "missing": [], "events": []},
                ),
                **error_responses(404),
            },
        }
    },
    **{
        f"{PREFIX}/plans/{{id}}/{action}": {
            "post": {
                "summary": text,
                "tags": ["plans"],
                "operationId": f"{action}_plan",
                "parameters": [_ID],
                "responses": {
                    "200": json_response("The plan's summary.", ref("PlanSummary")),
                    **error_responses(404, 409),
                },
            }
        }
        for action, text in _ACTIONS.items()
    },
}
