"""``/ws/indi_client/`` methods of the service's plans (``plans.*``).

A mixin of `IndiClientSocket`: each method is one call of
`indiws.plans.PlanEngine` (``service.plans``), the same as the REST
endpoints of `indiws.web.plans_api`.  The engine's notifications go to
every socket as ``plan.state``, ``plan.event`` and ``plan.progress``
(coalesced per plan).  Documented in docs/indi_client.md.
"""

from __future__ import annotations

from typing import Any

from ..plans.core import PlanSummary, PlanView
from ..remote.plan import PlanError
from .errors import invalid_params
from .jsonrpc import rpc
from .plans_api import plan_error

__all__ = ["PLAN_EVENTS", "PlanRpc"]

#: Notifications of the plan engine, sent to every socket.
PLAN_EVENTS = ("plan.state", "plan.event", "plan.progress")


class PlanRpc:
    """The ``plans.*`` JSON-RPC methods (mixed into IndiClientSocket)."""

    service: Any

    @rpc("plans.submit", events=PLAN_EVENTS, result=PlanSummary)
    async def plans_submit(self, plan: str | dict, name: str | None = None) -> dict:
        """Queue a plan; answers {id, name, state, ...} at once.

        ``plan``: the plan's YAML text, or the same keys as an object
        (docs/sequences.md). Errors: invalid_plan (data.problems: each
        {path, line, message})."""
        if isinstance(plan, dict):
            import json

            text = json.dumps(plan, indent=1)
        elif isinstance(plan, str):
            text = plan
        else:
            raise invalid_params("plan must be the plan's YAML text or an object", param="plan")
        try:
            return self.service.plans.submit(text, name)
        except PlanError as exc:
            raise plan_error(exc) from None

    @rpc("plans.list", result=list[PlanSummary])
    async def plans_list(self) -> list:
        """Every plan's summary, in queue order."""
        return self.service.plans.list()

    @rpc("plans.get", events=PLAN_EVENTS, result=PlanView)
    async def plans_get(self, id: str, events: int = 200) -> dict:
        """One plan: state, frames (absolute file paths on the service's host), events.

        Errors: unknown_plan."""
        if not isinstance(events, int) or not 0 <= events <= 1000:
            raise invalid_params("events must be within [0, 1000]", param="events")
        return self.service.plans.get(id).view(events)

    @rpc("plans.pause", result=PlanSummary)
    async def plans_pause(self, id: str) -> dict:
        """Pause a plan (the running one before its next frame). Errors: unknown_plan,
        invalid_plan_state."""
        return self.service.plans.pause(id)

    @rpc("plans.resume", result=PlanSummary)
    async def plans_resume(self, id: str) -> dict:
        """Resume a paused plan. Errors: unknown_plan, invalid_plan_state."""
        return self.service.plans.resume(id)

    @rpc("plans.abort", result=PlanSummary)
    async def plans_abort(self, id: str) -> dict:
        """Abort a plan; what runs at the devices is stopped. Errors: unknown_plan,
        invalid_plan_state."""
        return self.service.plans.abort(id)
