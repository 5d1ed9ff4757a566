"""lightAPT's protocol on ``/ws/indi_client/`` (docs/lightapt.md).

`base` holds the envelope and the dispatch; each role's instructions are in
a module of their own, registered on import.
"""

from __future__ import annotations

from . import camera, filter, focus, phd2, properties, telescope  # noqa: F401  (registration)
from .base import (
    INSTRUCTIONS,
    Context,
    LightAptEndpoint,
    LightAptError,
    Refusal,
    RoleMemory,
    frame,
    instruction,
    is_lightapt_request,
)
from .phd2 import phd2_frames

__all__ = [
    "INSTRUCTIONS",
    "Context",
    "LightAptEndpoint",
    "LightAptError",
    "Refusal",
    "RoleMemory",
    "frame",
    "instruction",
    "is_lightapt_request",
    "phd2_frames",
]
