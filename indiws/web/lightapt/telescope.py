"""lightAPT's ``telescope`` instructions, over `indiws.devices.Telescope`."""

from __future__ import annotations

from typing import Any

from .base import Context, instruction


@instruction("telescope")
async def get_real_time_info(ctx: Context) -> dict[str, Any]:
    """Where the mount points (JNow) and whether it moves: V2's keys and V5's ``tracking``."""
    status = ctx.device().status()
    slewing = status.get("slewing")
    return {
        "ra": status.get("ra"),
        "dec": status.get("dec"),
        "state": "Busy" if slewing else ("Ok" if status.get("connected") else "Idle"),
        "is_moving": bool(slewing),
        "tracking": status.get("tracking"),
    }
