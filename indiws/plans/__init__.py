"""Imaging plans run by the service (docs/sequences.md): queued, journalled
in the state database, resumed after a restart, checked against what the
devices report before and after every frame."""

from .core import STATES, InvalidTransition, PlanRecord, next_state
from .engine import GuidingHooks, PlanEngine, PlanNotFound, PlanQueueFull
from .notify import Notifier

__all__ = [
    "STATES",
    "GuidingHooks",
    "InvalidTransition",
    "Notifier",
    "PlanEngine",
    "PlanNotFound",
    "PlanQueueFull",
    "PlanRecord",
    "next_state",
]
