"""``/ws/indi_client/``: the high-level JSON-RPC API an imaging sequence calls.

Methods are named ``<role>.<verb>`` (``telescope.goto``, ``camera.expose``,
``focuser.move_to``, ``filter_wheel.select``, ...) and act on the device that
holds the role *at the moment of the call* (``service.roles``).  Each one is
a thin wrapper around a verb of `indiws.devices`: a long action (a slew, an
exposure, a focuser move) is answered only once it has really ended, with
its result or an error saying how it ended (``aborted``, ``timeout``,
``action_failed`` with the driver's messages, ...).  While it runs, the
caller gets ``progress`` notifications carrying its request id.

Fan-out is done once per service by a `ClientHub`:

- every action of every role (whoever started it, on any socket) is
  announced to every socket as ``action.started``, ``action.progress`` and
  ``action.finished`` notifications, each serialised once; a slow client's
  progress notifications coalesce per action;
- one timer sends a ``status`` notification (the brief state of each role
  that has a device) every ``config.status_interval`` seconds to every
  socket, serialised once and coalesced under one key.

An action outlives the socket that started it: if the caller's connection
drops (a reloaded page, a network blip), the exposure or slew runs on to its
end and its ``action.finished`` reaches the other sockets (the frame is
stored); ``<role>.abort`` stops it.  Documented in docs/indi_client.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Hashable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

import msgspec

from ..devices import (
    ProgressCallback,
    RoleDevice,
    abort_action,
    min_altitude,
    recent_actions,
    running_actions,
    subscribe_actions,
)
from ..devices.base import AbortedAction, ActionInfo, RecentAction
from ..guiding.results import GuidingBrief
from ..roles import ROLES, Released, RoleAssignment, RoleTable
from ..service import Service
from ..verbs import UNSET, VERBS, Result, UnsetType, Verb
from .base import dumps_lenient, requester
from .blobs import with_frame_urls
from .errors import INVALID_PARAMS, APIError, invalid_params
from .guiding_rpc import event_method, guiding_brief
from .held_moves import HeldMoves
from .jsonrpc import JsonRpcSocket, RpcMethod, rpc, rpc_from_verb
from .lightapt import LightAptEndpoint, RoleMemory, is_lightapt_request, phd2_frames
from .openapi import websocket_path
from .plans_rpc import PlanRpc
from .verb_routes import verb_call

__all__ = ["OPENAPI_PATHS", "ClientHub", "IndiClientSocket", "routes"]

log = logging.getLogger("indiws.web")

T = TypeVar("T")

#: Every role name (`indiws.roles.ROLES`), checked and listed by rpc.discover.
Role = Literal[ROLES]  # type: ignore[valid-type]


# ---------------------------------------------------------------- results


class LinkStatus(Result):
    """The connection to indiserver (`INDIClient.link_status`)."""

    host: str
    port: int
    connected: bool
    #: Why the last attempt to connect failed (null: none failed).
    last_error: str | None
    #: Seconds the attempts have been failing (null: connected).
    failing_for: float | None
    #: Failed attempts since.
    attempts: int


class SafetyBrief(Result):
    """The safety policy now: safe, and the codes of the reasons it is not."""

    safe: bool
    reasons: list[str]


#: Each role's status (``<role>.status``'s result), there for a role that has a device.
ServiceRoles = msgspec.defstruct(
    "ServiceRoles",
    [(role, VERBS[f"{role}.status"].result | UnsetType, UNSET) for role in ROLES],
    bases=(Result,),
    kw_only=True,
)
ServiceRoles.__doc__ = "The brief state of each role that has a device, as <role>.status answers."


class ServiceStatus(Result):
    """The service's state: what ``status`` answers and the periodic
    ``status`` notification carries (`ClientHub.status`)."""

    #: UTC, ISO 8601.
    time: str
    indiserver: LinkStatus
    roles: ServiceRoles
    #: Degrees; gotos below are refused (null: no limit).
    min_altitude: float | None
    safety: SafetyBrief
    guiding: GuidingBrief


# ---------------------------------------------------------------- JSON


def _notification(method: str, params: Any) -> str:
    return dumps_lenient({"jsonrpc": "2.0", "method": method, "params": params})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- fan-out


class ClientHub:
    """One per application (its `WebState`): the open ``/ws/indi_client/``
    sockets, the action events sent to all of them, and the one status timer."""

    def __init__(self, service: Service) -> None:
        self.client = service.client
        self.roles = service.roles
        self.blobs = service.blobs
        self.config = service.config
        self.guiding = service.guiding
        self._role_device = service.role_device
        #: lightAPT's memory of each role (step sizes, the goto's target, ...).
        self.lightapt_memory = RoleMemory()
        self.sockets: dict[IndiClientSocket, None] = {}
        self._listener = subscribe_actions(service.client, self._on_action)
        #: ``safety`` and ``weather.changed`` of the safety policy, to every socket.
        self.safety = service.safety
        self._safety_sub = service.safety.subscribe(self._on_safety)
        #: The autoguider's events, to every socket (`_on_guiding`).
        self.guiding = service.guiding
        self._guiding_sub = service.guiding.subscribe(self._on_guiding)
        #: ``plan.state``, ``plan.event``, ``plan.progress`` of the plan engine.
        self._plans_sub = service.plans.subscribe(self._on_plan)
        self._timer: asyncio.TimerHandle | None = None
        #: Device calls running on after their socket closed (kept referenced).
        self._calls: set[asyncio.Future[Any]] = set()
        #: Who started each untimed manual move (see `HeldMoves`).
        self.held_moves: dict[tuple[str, str], Any] = {}
        self.stats = {"action_events": 0, "status_sent": 0, "sends": 0}

    def close(self) -> None:
        """Stop the status timer and the event subscriptions before the
        service stops: sockets still open then must not read a closed state
        database (a false "cannot be used" error at every SIGTERM)."""
        self._listener.close()
        self._safety_sub()
        self._guiding_sub()
        self._plans_sub()
        self.sockets.clear()  # no status timer armed again
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def add(self, sock: IndiClientSocket) -> None:
        self.sockets[sock] = None
        self._schedule()

    def remove(self, sock: IndiClientSocket) -> None:
        self.sockets.pop(sock, None)
        if not self.sockets and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send(self, text: str, key: Hashable | None) -> None:
        for sock in tuple(self.sockets):
            if not sock.wants_notifications:
                continue
            try:
                sock.outbox.send(text, key)
            except Exception:  # one broken socket must not starve the others
                log.exception("/ws/indi_client/: send failed")
            self.stats["sends"] += 1

    # Action events ------------------------------------------------------

    def _on_action(self, event: dict[str, Any]) -> None:
        if not self.sockets:
            return
        self.stats["action_events"] += 1
        kind = event.get("event")
        params = {k: v for k, v in event.items() if k != "event"}
        if kind == "finished" and "result" in params:
            params["result"] = with_frame_urls(params["result"])
        key = ("action.progress", event.get("action_id")) if kind == "progress" else None
        self._send(_notification(f"action.{kind}", params), key)

    def _on_safety(self, method: str, params: dict[str, Any]) -> None:
        if self.sockets:
            self._send(_notification(method, params), None)

    def _on_guiding(self, event: str, fields: dict[str, Any]) -> None:
        """A guiding event: ``guiding.<event>`` to JSON-RPC sockets, and
        PHD2's event frames to lightAPT's (cobalt-web's guiding graph)."""
        if not self.sockets:
            return
        params = {**fields, "time": _now()}
        # Per-frame events of no lasting interest coalesce for a slow client;
        # guide steps do not (each is a point of the graph), and at one a
        # second the outbox's bound still holds for a client that stalls.
        key = ("guiding", event) if event in ("LoopingExposures", "Settling") else None
        text = _notification(event_method(event), params)
        lightapt = None
        for sock in tuple(self.sockets):
            try:
                if sock.wants_notifications:
                    sock.outbox.send(text, key)
                if sock.lightapt is not None:
                    if lightapt is None:
                        lightapt = phd2_frames(self.guiding, event, fields)
                    for frame_ in lightapt:
                        sock.lightapt.send(frame_)
            except Exception:  # one broken socket must not starve the others
                log.exception("/ws/indi_client/: guiding event send failed")

    def _on_plan(self, method: str, params: dict[str, Any]) -> None:
        if self.sockets:
            # Progress coalesces per plan in a slow socket's outbox; events never.
            key = ("plan.progress", params.get("plan_id")) if method == "plan.progress" else None
            self._send(_notification(method, params), key)

    def device(self, role: str, device: str | None) -> RoleDevice:
        """The role's device class for ``device`` (`Service.role_device`)."""
        return self._role_device(role, device)

    # Status -------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The brief state of each role that has a device."""
        roles: dict[str, Any] = {}
        for role, device in self.roles.assignments().items():
            if device is None:
                continue
            roles[role] = self.device(role, device).status()
        return {
            "time": _now(),
            "indiserver": self.client.link_status(),
            "roles": roles,
            "min_altitude": min_altitude(self.client),
            "safety": {"safe": self.safety.safe, "reasons": list(self.safety.current_reasons())},
            "guiding": guiding_brief(self.guiding),
        }

    def status_text(self) -> str:
        return _notification("status", self.status())

    def _schedule(self) -> None:
        interval = self.config.status_interval
        if self._timer is not None or not self.sockets or not interval or interval <= 0:
            return
        self._timer = asyncio.get_running_loop().call_later(interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self.sockets:
            return
        try:
            text = self.status_text()
        except Exception:  # a status push must never stop the timer
            log.exception("status notification failed")
        else:
            self.stats["status_sent"] += 1
            self._send(text, "status")
        self._schedule()

    # Calls that outlive their socket --------------------------------------

    async def detached(self, call: Awaitable[T]) -> T:
        """Await ``call`` in its own task: cancelling the waiter (its socket
        closed) leaves the device action running to its end."""
        return await asyncio.shield(self.spawn(call))

    def spawn(self, call: Awaitable[T]) -> asyncio.Future[T]:
        """Run ``call`` in its own task, kept referenced until it ends."""
        task = asyncio.ensure_future(call)
        self._calls.add(task)
        task.add_done_callback(self._call_done)
        return task

    def _call_done(self, task: asyncio.Future[Any]) -> None:
        self._calls.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its waiter may be gone


# ---------------------------------------------------------------- the socket


async def _call_verb(socket: IndiClientSocket, params: dict[str, Any], *, verb: Verb) -> Any:
    """Run a declared verb on the device that holds its role now.

    A manual move without a duration (`Verb.held`) is held by this socket:
    stopped by the service when the socket closes (`HeldMoves`)."""
    progress = socket._progress() if verb.progress else None
    who = requester(socket.request, "/ws/indi_client/")
    if verb.held == "stop":
        socket.held_moves.stopped(params["direction"])
    answer = verb_call(socket.service, verb, params, who=who, progress=progress)
    if not inspect.isawaitable(answer):
        return answer
    if verb.held == "move" and params["duration"] is None:
        task = socket.hub.spawn(answer)
        socket.held_moves.started(socket._device(verb.role), params["direction"], task)
        return await asyncio.shield(task)
    return await socket._run(answer)


#: The roles whose verbs are declared once (`indiws.verbs`) and derived here,
#: but for a few methods still written by hand (docs/verbs.md).
DECLARED_ROLES = tuple(dict.fromkeys(v.role for v in VERBS.values()))

#: The JSON-RPC methods derived from the declared verbs (every one of `VERBS`).
DeclaredVerbs = type(
    "DeclaredVerbs",
    (),
    {
        m.__name__: m
        for m in (rpc_from_verb(v, partial(_call_verb, verb=v)) for v in VERBS.values())
    },
)


class IndiClientSocket(PlanRpc, DeclaredVerbs, JsonRpcSocket):
    """``/ws/indi_client/``: high-level verbs on the devices that hold the roles."""

    hub: ClientHub

    def initialize(self, service: Service) -> None:  # type: ignore[override]
        super().initialize(service)
        self.hub = self.state.get(ClientHub)
        #: The lightAPT side of this socket, made at its first lightAPT request.
        self.lightapt: LightAptEndpoint | None = None
        self.jsonrpc_used = False
        #: Untimed telescope.move calls of this socket, stopped when it closes.
        self.held_moves = HeldMoves(self.hub.spawn, self.hub.held_moves)

    @property
    def wants_notifications(self) -> bool:
        """Action events and status go to JSON-RPC clients; a socket used
        only by lightAPT's front ends gets only the answers to its requests
        and its pushed frames, as from the original service."""
        return self.jsonrpc_used or self.lightapt is None

    def opened(self) -> None:
        # The current state at once, then every status_interval seconds.
        if self.service.config.status_interval > 0:
            self.outbox.send(self.hub.status_text(), "status")
        self.hub.add(self)

    def closed(self) -> None:
        self.hub.remove(self)
        self.held_moves.release_all("its /ws/indi_client/ socket closed")
        if self.lightapt is not None:
            self.lightapt.close()

    # Two protocols on one socket: JSON-RPC 2.0 and lightAPT's envelope -----

    def on_json(self, data: Any) -> None:
        if is_lightapt_request(data):
            self._lightapt().handle(data)
            return
        self.jsonrpc_used = True
        super().on_json(data)

    def on_parse_error(self, message: str | bytes, exc: Exception) -> None:
        if self.lightapt is not None and not self.jsonrpc_used:
            self.lightapt.handle(exc)  # answered in lightAPT's shape, in its turn
        else:
            super().on_parse_error(message, exc)

    def _lightapt(self) -> LightAptEndpoint:
        if self.lightapt is None:
            self.lightapt = LightAptEndpoint(
                self.service,
                self.hub,
                self.outbox.send,
                self.close,
                who=requester(self.request, "/ws/indi_client/"),
            )
        return self.lightapt

    # Helpers ------------------------------------------------------------

    def describe_error(self, method: RpcMethod, exc: Exception) -> APIError:
        """A ``<role>.<verb>``'s error names the role and its device where the
        error itself did not (a value out of range, a bad parameter)."""
        err = super().describe_error(method, exc)
        role = method.name.partition(".")[0]
        if role in ROLES and err.name not in ("internal_error", "no_device"):
            err.data.setdefault("role", role)
            device = self.service.roles.device_for(role)
            if device is not None:
                err.data.setdefault("device", device)
        return err

    def _device(self, role: str) -> Any:
        """The role's device object, for the device assigned *now*."""
        return self.hub.device(role, self.service.roles.device_for(role))

    def _progress(self) -> ProgressCallback:
        """A progress callback sending ``progress`` notifications with this request's id."""
        ctx = contextvars.copy_context()

        def report(data: dict[str, Any]) -> None:
            ctx.run(self.progress, **data)

        return report

    async def _run(self, call: Awaitable[T]) -> T:
        return await self.hub.detached(call)

    # Service-wide ---------------------------------------------------------

    @rpc("roles", result=RoleTable)
    async def rpc_roles(self) -> dict:
        """Which device holds each role: {role: {role, device_name, present, connected}}."""
        roles = self.service.roles
        return {role: roles.describe(role) for role in ROLES}

    @rpc("assign", result=RoleAssignment)
    async def rpc_assign(self, role: Role, device: str, connect: bool = True) -> dict:
        """Give a role to a device (replacing the one that held it) and connect it.

        Same as GET /FIFO/start/<role>/<device>/; remembered across restarts.
        Answers {role, device_name, present, connected} once connected.
        Errors: unknown_device, connect_failed."""
        return await self._run(self.service.roles.assign(role, device, connect=connect))

    @rpc("release", result=Released)
    async def rpc_release(self, role: Role) -> dict:
        """Free a role (the device stays connected): {role, device_name, released}."""
        previous = self.service.roles.release(role)
        return {"role": role, "device_name": previous, "released": previous is not None}

    @rpc("status", result=ServiceStatus)
    async def rpc_status(self) -> dict:
        """The same as the periodic status notification, now.

        {time, indiserver: {host, port, connected, last_error (why the last
        attempt to connect failed), failing_for (s), attempts}, roles: {role:
        brief state}} for every role that has a device (present: false when
        it is not on the indiserver), min_altitude (gotos below are refused;
        null: no limit), safety: {safe, reasons (codes)}, guiding: {state,
        calibrated, settling, rms, rms_arcsec}."""
        return self.hub.status()

    @rpc("actions", result=list[ActionInfo])
    async def rpc_actions(self, role: Role | None = None) -> list[dict]:
        """The actions running now (of every role, or of one), whoever started them.

        Each: {action_id, action, role, device, params, started (epoch s),
        elapsed, progress (the last progress, or null)}."""
        return running_actions(self.service.client, role=role)

    @rpc("actions.recent", result=list[RecentAction])
    async def rpc_actions_recent(self, limit: int = 50) -> list[dict]:
        """The actions running now and the last finished ones (of every client), newest first.

        At most limit (0..100). Each: {action_id, action, role, device, params,
        started, elapsed, progress, outcome (running, ok, aborted, timeout,
        cancelled, ...), ended (epoch s, null while running), error (when it
        failed)}. What a page shows as the actions of the last minutes."""
        if not 0 <= limit <= 100:
            raise invalid_params(f"limit must be within [0, 100], not {limit}")
        return recent_actions(self.service.client, limit)

    @rpc("actions.abort", result=AbortedAction)
    async def rpc_actions_abort(self, action_id: str) -> dict:
        """Abort one running action, whoever started it (action_id: from actions or its events).

        Any verb: a goto, an exposure, an autofocus, a centering. The device is
        told to stop (an autofocus or a centering stops the move, exposure or
        slew it is in); the action ends with the aborted error and its
        action.finished event says outcome aborted. Answers at once: {aborted:
        true, action_id, action, role, device, ...}. Errors: unknown_action (no
        action of that id runs: unknown, or ended)."""
        found = await abort_action(self.service.client, action_id)
        if found is None:
            raise APIError(
                404, INVALID_PARAMS, "unknown_action", f"no running action has id {action_id!r}"
            )
        return {"aborted": True, **found}


def routes(service: Service) -> list:
    return [(r"/ws/indi_client/?", IndiClientSocket, {"service": service})]


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/ws/indi_client/": websocket_path(
        "High-level WebSocket (JSON-RPC 2.0): every role of the observatory",
        "Methods `<role>.<verb>` (`telescope.goto`, `camera.expose`, `focuser.move_to`, "
        "`filter_wheel.select`, ...) on the devices that hold the roles; a long action "
        "answers once it has ended and sends `progress` notifications with the request "
        "id meanwhile. Every socket gets `action.started`/`action.progress`/"
        "`action.finished` of every action and a periodic `status`. `rpc.discover` lists "
        "every method with its parameters; docs/indi_client.md describes them.",
        operation_id="ws_indi_client",
    )
}
