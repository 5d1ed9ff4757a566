"""The safety policy's hook into the devices: one guard per INDI client,
asked before a verb or a property write that opens the observatory to the sky,
and who asks (for the log of what is forced).  Below `base` and `writes`,
which both read it."""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable

from ..client import INDIClient

__all__ = ["REQUESTER", "SafetyGuard", "set_safety_guard"]

#: Asked before a verb that opens the observatory to the sky (unpark, goto,
#: open the shutter): ``guard(role, verb)`` returns None to allow it, or why
#: it is refused.  Set by the safety policy (`indiws.safety`), one per client.
SafetyGuard = Callable[[str, str], str | None]
#: Who asks for the verb running in this context (its address, front, token
#: or not), for the log of what it forces; set by the fronts per request.
REQUESTER: contextvars.ContextVar[str] = contextvars.ContextVar(
    "indiws_requester", default="the service"
)
_GUARDS: weakref.WeakKeyDictionary[INDIClient, SafetyGuard] = weakref.WeakKeyDictionary()


def set_safety_guard(client: INDIClient, guard: SafetyGuard | None) -> None:
    """Install (or with None remove) the safety check of ``client``'s devices."""
    if guard is None:
        _GUARDS.pop(client, None)
    else:
        _GUARDS[client] = guard
