"""REST routes of the declared verbs (`indiws.verbs`), and of the actions they start.

- ``POST /api/v1/roles/{role}/{verb}``: run the verb on the device that holds
  the role now.  The JSON body is the verb's params struct (and ``wait``),
  checked by msgspec before anything is sent: a wrong type, a value out of
  range or an unknown field is a 400 naming the field (``data.field``,
  ``data.path``).  A verb that is an action (``long``) answers **202** once
  the action has started, with ``{action_id, ...}`` and ``Location:
  /api/v1/actions/{id}``; with ``"wait": true``, or for a verb that is not
  an action, it answers **200** with the verb's result once it has ended.
  An action that had nothing to do (already parked) answers 200 at once.
- ``GET /api/v1/actions``: the running and last finished actions (of every
  front), newest first.
- ``GET /api/v1/actions/{id}``: one action: ``state`` (running, finished),
  ``progress``, and once finished ``outcome`` with ``result`` or ``error``.
- ``DELETE /api/v1/actions/{id}`` or ``POST /api/v1/actions/{id}/abort``:
  abort it, as JSON-RPC's ``actions.abort`` (whoever started it).

The routes, their request and response schemas and their OpenAPI entries
all come from the registry: nothing here names a verb.  The request gate
(token, Host, Origin: web/gate.py) judges these requests as every other
POST, and the devices apply the safety policy (a verb that moves hardware
is refused while unsafe unless ``force``).  Docs: docs/verbs.md, docs/http.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import inspect
import re
import typing
from collections.abc import Awaitable
from typing import Any

import msgspec

from ..analysis.solve import SolveError, SolveFailed
from ..client import InvalidValueError
from ..devices import (
    ACTION_STARTED,
    Action,
    ProgressCallback,
    abort_action,
    finished_action,
    recent_actions,
    running_actions,
)
from ..devices.autofocus import AutofocusError
from ..devices.centering import CenteringError
from ..devices.guard import REQUESTER
from ..roles import ROLES
from ..service import Service
from ..verbs import VERBS, InvalidParamsError, Params, Result, Verb
from .base import JsonHandler, error_body, requester
from .blobs import with_frame_urls
from .bodies import integral
from .errors import (
    INVALID_PARAMS,
    APIError,
    describe_error,
    invalid_params,
    register,
    validation_error_path,
)
from .openapi import error_responses, json_request, json_response, path_param, query_param, ref

__all__ = [
    "OPENAPI_COMPONENTS",
    "OPENAPI_PATHS",
    "VerbCalls",
    "request_struct",
    "routes",
    "verb_call",
]

# The errors of the procedures declared as verbs (autofocus, solving, centering).
register(SolveError, 503, -32051, "solver_unavailable")
register(SolveFailed, 422, -32050, "solve_failed")
register(AutofocusError, 422, -32052, "autofocus_failed")
register(CenteringError, 422, -32053, "centering_failed")

PREFIX = "/api/v1"
#: Finished REST calls whose outcome `GET /api/v1/actions/{id}` still knows.
KEEP_FINISHED = 100


# ---------------------------------------------------------------- shapes


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[._]", name))


def request_struct(verb: Verb) -> type[Params]:
    """The REST body of ``verb``: its params and ``wait`` (one struct per verb,
    named after it, e.g. ``TelescopeGotoRequest``).

    A manual move (`Verb.held`) needs its ``duration`` here: no connection
    holds a REST move, so nothing would stop an untimed one once its client
    went away."""
    fields: list[Any] = [("wait", bool, False)]
    if verb.held == "move":
        hint = typing.get_type_hints(verb.params, include_extras=True)["duration"]
        fields.append(("duration", next(a for a in typing.get_args(hint) if a is not type(None))))
    return msgspec.defstruct(
        f"{_camel(verb.name)}Request",
        fields,
        bases=(verb.params,),
        kw_only=True,
        forbid_unknown_fields=True,
    )


#: The verbs of the service itself rather than of a role's device: their
#: "role" → the `Service` attribute that has them.
SERVICE_VERBS = {"safety": "safety", "guiding": "guiding_verbs"}
#: The "roles" of REST's verb routes: the device roles, and the autoguider.
ROUTED_ROLES = (*ROLES, "guiding")
#: The verbs with a REST route: those of the roles and the autoguider's
#: (the safety policy's have their own routes under /api/v1/safety).
ROUTED: dict[str, Verb] = {name: v for name, v in VERBS.items() if v.role in ROUTED_ROLES}
#: verb name → its REST body struct.
REQUESTS: dict[str, type[Params]] = {name: request_struct(v) for name, v in ROUTED.items()}


class _Started(Result):
    """Which action it is, on which device, started when."""

    action_id: str
    action: str
    role: str
    device: str
    params: dict[str, Any]
    #: Epoch seconds.
    started: float


class ActionStarted(_Started):
    """An action started by a REST verb call: follow it at ``location``."""

    #: ``/api/v1/actions/{action_id}``.
    location: str


class ActionError(Result):
    """Why an action failed: the error body of every HTTP error."""

    code: str
    message: str
    data: dict[str, Any]


class _Action(_Started):
    """What every front tells of an action (`Action.describe`)."""

    elapsed: float
    #: The last progress report (null before the first).
    progress: dict[str, Any] | None


class ActionState(_Action):
    """One action, running or finished."""

    state: typing.Literal["running", "finished"]
    #: ``running``, ``ok``, or how it ended: ``aborted``, ``timeout``, ``action_failed``, ...
    outcome: str
    #: Epoch seconds; null while running.
    ended: float | None
    #: The verb's result, once it ended well.
    result: Any = msgspec.UNSET
    error: ActionError | msgspec.UnsetType = msgspec.UNSET


class ActionAbort(_Action):
    """The action was told to stop; it ends with the aborted error."""

    aborted: bool


# ---------------------------------------------------------------- state


class VerbCalls:
    """One per app: the REST calls that answered 202, by action id, so that
    ``GET /api/v1/actions/{id}`` has the verb's own result or error."""

    def __init__(self) -> None:
        self.tasks: collections.OrderedDict[str, asyncio.Task[Any]] = collections.OrderedDict()
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(
        self, call: typing.Coroutine[Any, Any, Any], ctx: contextvars.Context
    ) -> asyncio.Task[Any]:
        """Run ``call`` in its own task (it outlives the request that started it)."""
        task = asyncio.get_running_loop().create_task(call, context=ctx)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody may await it
        finished = [k for k, t in self.tasks.items() if t.done()]
        for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.tasks[key]

    def follow(self, action_id: str, task: asyncio.Task[Any]) -> None:
        self.tasks[action_id] = task


# ---------------------------------------------------------------- calling


def verb_call(
    service: Service,
    verb: Verb,
    params: dict[str, Any],
    *,
    who: str,
    progress: ProgressCallback | None = None,
    target: Any = None,
) -> Any:
    """Call ``verb`` with ``params`` (every one, defaults filled in) on what
    holds its role now (the safety policy for ``safety.*``), or on
    ``target`` (Alpaca's guide camera calls the camera's verbs on the
    guider role's device): what every front runs.  The API's timeout check
    applies; the verb's `needs` are given.  Returns the method's answer
    (awaitable for an async verb), an exposure's with its frame's URLs
    (`with_frame_urls`).

    ``params`` are checked already (the verb's `Params` struct: REST's body,
    JSON-RPC's `RpcMethod.bind`, Alpaca's binding)."""
    kwargs = dict(params)
    if verb.progress:
        kwargs["progress"] = progress
    for need in verb.needs:
        kwargs[need] = _need(service, need, who)
    if target is None:
        service_wide = SERVICE_VERBS.get(verb.role)
        if service_wide is not None:
            target = getattr(service, service_wide)
        else:
            target = service.role_device(verb.role)
    if verb.function is not None:  # a procedure over the role's device
        answer = verb.function(target, **kwargs)
    else:
        answer = getattr(target, verb.method)(**kwargs)
    return _frame_urls_added(answer) if inspect.isawaitable(answer) else with_frame_urls(answer)


def _need(service: Service, need: str, who: str) -> Any:
    """What the front gives a verb beside its params (`verbs.NEEDS`)."""
    if need == "who":
        return who
    if need == "blobs":
        return service.blobs
    if need == "index_dir":
        return service.sky_index_dir
    return service.role_device(need)


async def _frame_urls_added(answer: Awaitable[Any]) -> Any:
    return with_frame_urls(await answer)


# ---------------------------------------------------------------- handlers


def _validation_error(verb: Verb, exc: msgspec.ValidationError) -> APIError:
    """msgspec's message with the field it names (``data.field``, ``data.path``)."""
    text, path, field = validation_error_path(exc)
    if verb.held == "move" and field == "duration" and text.startswith("Object missing"):
        text = (
            "a move needs a duration over REST (seconds, at most 3600): nothing would"
            " stop an untimed one once this client went away (JSON-RPC holds one for"
            " its WebSocket)"
        )
    return invalid_params(
        f"{verb.name}: {text} (at {path} of the request body)", field=field, path=path
    )


#: REST's status for a schema-valid value the device refuses against its
#: live range (docs/http.md#errors): 400 stays for what the document's own
#: rules refuse.
LIVE_RANGE_STATUS = 422


def _out_of_live_range(exc: InvalidValueError) -> InvalidValueError | APIError:
    """A device's `InvalidValueError` on a body the verb's schema took
    (the driver's exposure range, the focuser's travel, the wheel's slots,
    the mount's track modes: what the document cannot know) as **422**
    ``invalid_value``; params that do not go together (`InvalidParamsError`,
    a rule the schema states) stay 400.  JSON-RPC keeps its codes."""
    if isinstance(exc, InvalidParamsError):
        return exc
    error = describe_error(exc)
    return APIError(LIVE_RANGE_STATUS, error.code, error.name, error.message, error.data)


def _find(role: str, name: str) -> Verb:
    verb = ROUTED.get(f"{role}.{name}")
    if verb is not None:
        return verb
    if role not in ROUTED_ROLES:
        raise APIError(
            404,
            INVALID_PARAMS,
            "unknown_role",
            f"unknown role {role!r} (roles: {', '.join(ROUTED_ROLES)})",
        )
    known = sorted(v.name.partition(".")[2] for v in ROUTED.values() if v.role == role)
    raise APIError(
        404,
        INVALID_PARAMS,
        "unknown_verb",
        f"{role} has no verb {name!r}"
        + (f" (verbs: {', '.join(known)})" if known else " reachable over REST yet"),
    )


class _Handler(JsonHandler):
    """Answers 405 with the ``Allow`` header; ``calls``: the app's `VerbCalls`."""

    ALLOW = "OPTIONS"

    def initialize(self, service: Service, calls: VerbCalls) -> None:  # type: ignore[override]
        super().initialize(service)
        self.calls = calls

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.set_header("Allow", self.ALLOW)
        super().write_error(status_code, **kwargs)


class VerbHandler(_Handler):
    """``POST /api/v1/roles/{role}/{verb}``."""

    ALLOW = "OPTIONS, POST"

    async def post(self, role: str, name: str) -> None:
        verb = _find(role, name)
        value = self.json_body()
        try:
            body = msgspec.convert(value, REQUESTS[verb.name])
        except msgspec.ValidationError:
            # In JSON Schema an integral 2.0 is an integer, as 2 is.
            try:
                body = msgspec.convert(integral(value), REQUESTS[verb.name])
            except msgspec.ValidationError as exc:
                raise _validation_error(verb, exc) from None
        params = {f.name: getattr(body, f.name) for f in verb.fields()}
        if "wait" in params:  # a verb's own wait (guiding.start's) is REST's: 202 or 200
            params["wait"] = True
        who = requester(self.request, "REST")
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Action] = loop.create_future()
        ctx = contextvars.copy_context()
        ctx.run(REQUESTER.set, who)
        ctx.run(ACTION_STARTED.set, started)
        call = ctx.run(verb_call, self.service, verb, params, who=who)
        task = self.calls.spawn(_awaited(call), ctx)
        if verb.long and not body.wait:
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            if started.done() and not task.done():
                self._accepted(started.result(), task)
                return
        try:
            answer = await asyncio.shield(task)
        except InvalidValueError as exc:
            raise _out_of_live_range(exc) from None
        self.write_json(answer)

    def _accepted(self, action: Action, task: asyncio.Task[Any]) -> None:
        self.calls.follow(action.id, task)
        location = f"{PREFIX}/actions/{action.id}"
        self.set_header("Location", location)
        described = action.describe()
        answer = {k: described[k] for k in ("action_id", "action", "role", "device", "params")}
        self.write_json({**answer, "started": described["started"], "location": location}, 202)


async def _awaited(answer: Any) -> Any:
    return await answer if inspect.isawaitable(answer) else answer


class ActionsHandler(_Handler):
    """``GET /api/v1/actions``."""

    ALLOW = "GET, OPTIONS"

    def get(self) -> None:
        limit = self.get_argument("limit", "50")
        if not limit.isdigit() or not 0 <= int(limit) <= 100:
            raise invalid_params(f"limit must be an integer within [0, 100], not {limit!r}")
        tasks = self.calls.tasks
        found = [
            _state(self.service, a["action_id"], tasks.get(a["action_id"]))
            for a in recent_actions(self.service.client, int(limit))
        ]
        self.write_json([state for state in found if state is not None])


class ActionHandler(_Handler):
    """``GET|DELETE /api/v1/actions/{id}``."""

    ALLOW = "DELETE, GET, OPTIONS"

    def get(self, action_id: str) -> None:
        state = _state(self.service, action_id, self.calls.tasks.get(action_id))
        if state is None:
            raise _unknown_action(action_id, "")
        self.write_json(state)

    async def delete(self, action_id: str) -> None:
        self.write_json(await _abort(self.service, action_id))


class AbortHandler(_Handler):
    """``POST /api/v1/actions/{id}/abort``."""

    ALLOW = "OPTIONS, POST"

    async def post(self, action_id: str) -> None:
        self.json_body()  # none is needed; a malformed one is still refused
        self.write_json(await _abort(self.service, action_id))


def _unknown_action(action_id: str, which: str) -> APIError:
    return APIError(404, INVALID_PARAMS, "unknown_action", f"no {which}action has id {action_id!r}")


async def _abort(service: Service, action_id: str) -> dict[str, Any]:
    found = await abort_action(service.client, action_id)
    if found is None:
        raise _unknown_action(action_id, "running ")
    return {"aborted": True, **found}


def _state(
    service: Service, action_id: str, task: asyncio.Task[Any] | None
) -> dict[str, Any] | None:
    """`ActionState` of an action (None: unknown)."""
    client = service.client
    running = next((a for a in running_actions(client) if a["action_id"] == action_id), None)
    if running is not None:
        return {**running, "state": "running", "outcome": "running", "ended": None}
    entry = finished_action(client, action_id)
    if entry is None:
        return None
    out = {**entry, "state": "finished"}
    out.pop("error", None)
    if "result" in out:  # an action of another front: an exposure's frame URLs too
        out["result"] = with_frame_urls(out["result"])
    if task is not None and task.done() and not task.cancelled():
        exc = task.exception()
        if exc is None:
            out["result"] = task.result()
        else:
            out.pop("result", None)
            out["error"] = error_body(describe_error(exc))
    elif entry.get("error") is not None:
        error = dict(entry["error"])
        code = error.pop("error", entry["outcome"])
        message = error.pop("message", code)
        out["error"] = {"code": code, "message": message, "data": error}
    return out


def routes(service: Service) -> list:
    args: dict[str, Any] = {"service": service, "calls": VerbCalls()}
    seg = r"([^/]+)"
    return [
        (rf"{PREFIX}/roles/{seg}/{seg}/?", VerbHandler, args),
        (rf"{PREFIX}/actions/?", ActionsHandler, args),
        (rf"{PREFIX}/actions/{seg}/?", ActionHandler, args),
        (rf"{PREFIX}/actions/{seg}/abort/?", AbortHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI


def _components() -> dict[str, Any]:
    """Every request and result struct's JSON Schema, generated by msgspec."""
    types = [*REQUESTS.values(), *(v.result for v in ROUTED.values())]
    types += [ActionStarted, ActionState, ActionAbort]
    _, schemas = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    for name, request in REQUESTS.items():
        # A rule between fields (`Params.json_schema_extra`), in the body's schema.
        schemas[request.__name__].update(ROUTED[name].params.json_schema_extra)
    return {"schemas": schemas}


def _schema_of(kind: Any) -> dict[str, Any]:
    (schema,), _ = msgspec.json.schema_components(
        [kind], ref_template="#/components/schemas/{name}"
    )
    return schema


def _verb_path(verb: Verb) -> dict[str, Any]:
    required = any(f.required for f in verb.fields())
    request = REQUESTS[verb.name]
    responses: dict[str, Any] = {
        "200": json_response(
            "The verb's result, once it has ended"
            + (" (with `wait: true`, or when there was nothing to do)." if verb.long else "."),
            _schema_of(verb.result),
        )
    }
    if verb.long:
        responses["202"] = json_response(
            "The action has started: follow it at `Location` (`/api/v1/actions/{id}`).",
            ref("ActionStarted"),
        )
        responses["202"]["headers"] = {
            "Location": {"description": "The action's URL.", "schema": {"type": "string"}}
        }
    responses.update(error_responses(400, 404, 409, LIVE_RANGE_STATUS, 502, 503, 504))
    notes = [verb.description] if verb.description else []
    if verb.moves and any(f.name == "force" for f in verb.fields()):
        notes.append(
            "Moves hardware: refused (409 `unsafe`) while the safety policy says unsafe, "
            "unless `force` is true (logged with who forced it)."
        )
    elif verb.moves:
        notes.append("Moves hardware.")
    return {
        "post": {
            "summary": verb.summary,
            **({"description": "\n\n".join(notes)} if notes else {}),
            "tags": ["verbs"],
            "operationId": f"verb_{verb.name.replace('.', '_')}",
            "requestBody": json_request(ref(request.__name__), required=required),
            "responses": responses,
        }
    }


_ACTION_ID = path_param("action_id", "An action's id (from a 202, or `actions`).", "1a2b3c4d")

OPENAPI_TAGS = [
    {
        "name": "verbs",
        "description": "The verbs of the roles, declared once (docs/verbs.md), and the actions "
        "they start.",
    }
]

OPENAPI_COMPONENTS: dict[str, Any] = _components()

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    f"{PREFIX}/roles/{v.role}/{v.name.partition('.')[2]}": _verb_path(v) for v in ROUTED.values()
}
OPENAPI_PATHS[f"{PREFIX}/actions"] = {
    "get": {
        "summary": "The running and last finished actions, newest first",
        "tags": ["verbs"],
        "operationId": "list_actions",
        "parameters": [
            query_param(
                "limit",
                "How many (0..100).",
                {"type": "integer", "minimum": 0, "maximum": 100, "default": 50},
            )
        ],
        "responses": {
            "200": json_response("The actions.", {"type": "array", "items": ref("ActionState")}),
            **error_responses(400),
        },
    }
}
OPENAPI_PATHS[f"{PREFIX}/actions/{{action_id}}"] = {
    "get": {
        "summary": "Follow an action: its state, progress, and result or error",
        "tags": ["verbs"],
        "operationId": "get_action",
        "parameters": [_ACTION_ID],
        "responses": {
            "200": json_response("The action.", ref("ActionState")),
            **error_responses(404),
        },
    },
    "delete": {
        "summary": "Abort a running action",
        "description": "As JSON-RPC's `actions.abort`: the device is told to stop and the "
        "action ends with the `aborted` error. Answers at once.",
        "tags": ["verbs"],
        "operationId": "delete_action",
        "parameters": [_ACTION_ID],
        "responses": {
            "200": json_response("It was told to stop.", ref("ActionAbort")),
            **error_responses(404),
        },
    },
}
OPENAPI_PATHS[f"{PREFIX}/actions/{{action_id}}/abort"] = {
    "post": {
        "summary": "Abort a running action",
        "description": "The same as `DELETE /api/v1/actions/{action_id}`.",
        "tags": ["verbs"],
        "operationId": "abort_action",
        "parameters": [_ACTION_ID],
        "responses": {
            "200": json_response("It was told to stop.", ref("ActionAbort")),
            **error_responses(404),
        },
    }
}
