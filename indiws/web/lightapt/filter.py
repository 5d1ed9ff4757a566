"""lightAPT's ``filter`` instructions, over `indiws.devices.FilterWheel`.

Slots are numbered from 1 everywhere, ``filters_info`` included (V2 gave
``slot`` from 0 there, but cobalt-web, the front end that reads it, switches
to ``filters_info[i].slot`` and compares it with ``filter_slot``).  Each
slot's ``focus_offset`` and ``af_exposure_time`` are the front end's
settings, kept by the service as the original kept them (in memory, per
role, here per wheel too); the names are the wheel's own (FILTER_NAME).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from ...client import INDIError
from ...devices import FilterWheel, InvalidValueError
from .base import Context, LightAptError, instruction

#: A slot's settings before anyone set them (V2's defaults).
DEFAULTS = {"focus_offset": 0, "af_exposure_time": 1}
OUT_OF_RANGE = "filter slot index value out of range!"
ALERT = "filter filter slot alert!"


Number = int | float
Positive = Annotated[int, Meta(gt=0)] | Annotated[float, Meta(gt=0)]


class SlotEntry(msgspec.Struct, forbid_unknown_fields=False):
    """A slot's new name and settings, as the front end sends them (its
    ``filters_info`` entries back: other keys are ignored, as the original
    did); what an entry leaves out is kept."""

    filter_name: Annotated[str, Meta(pattern=r"\S")] | None = None
    focus_offset: Number | UnsetType = UNSET
    af_exposure_time: Positive | UnsetType = UNSET

    def settings(self) -> dict[str, Any]:
        return {k: v for k in DEFAULTS if (v := getattr(self, k)) is not UNSET}


def _wheel(ctx: Context) -> FilterWheel:
    return ctx.device()


def _filters(wheel: FilterWheel) -> list[dict[str, Any]]:
    """[{slot, name}], empty while the wheel cannot say (disconnected, gone
    from indiserver, indiserver away, no FILTER_SLOT)."""
    try:
        return wheel.filters()
    except INDIError:
        return []


def _settings(ctx: Context) -> dict[int, dict[str, Any]]:
    """slot → the front end's settings, for the wheel that holds the role now."""
    return ctx.state.setdefault("slots", {}).setdefault(_wheel(ctx).name, {})


@instruction("filter_wheel")
async def get_filter_slot(ctx: Context) -> dict[str, Any]:
    """``{filter_slot, idle}`` (null while the wheel cannot say)."""
    wheel = _wheel(ctx)
    if wheel.slot_state() == "Alert":
        raise LightAptError(ALERT)
    status = wheel.status()
    slot = status.get("slot")
    return {"filter_slot": slot, "idle": None if slot is None else not status.get("moving")}


@instruction("filter_wheel")
async def get_all_params(ctx: Context) -> dict[str, Any]:
    """``{filter_slot, filters_info: [{slot, filter_name, focus_offset, af_exposure_time}]}``."""
    wheel = _wheel(ctx)
    settings = _settings(ctx)
    return {
        "filter_slot": wheel.status().get("slot"),
        "filters_info": [
            {
                "slot": f["slot"],
                "filter_name": f["name"],
                **DEFAULTS,
                **settings.get(f["slot"], {}),
            }
            for f in _filters(wheel)
        ],
    }


@instruction(
    "filter_wheel",
    verb="filter_wheel.select",
    params={"slot": "filter"},
    words={"filter": LightAptError(OUT_OF_RANGE)},
)
async def switch_filter(ctx: Context, slot: int) -> None:
    """Turn to a slot (from 1, as the verb's ``filter`` declares, in the
    original's words below it; without the verb's names); answers once the
    wheel has started turning (the wheel refuses while it turns, and a slot
    it has not)."""
    try:
        await ctx.start(_wheel(ctx).select(slot, replace=False))
    except InvalidValueError as exc:
        raise LightAptError(OUT_OF_RANGE) from exc


async def _update(ctx: Context, updates: dict[int, SlotEntry]) -> None:
    """Apply ``{slot: entry}`` (checked whole by the binder): names to the
    wheel, then the settings."""
    names = {slot: e.filter_name.strip() for slot, e in updates.items() if e.filter_name}
    if names:
        await _wheel(ctx).rename(names)
    settings = _settings(ctx)
    for slot, entry in updates.items():
        settings.setdefault(slot, {}).update(entry.settings())


@instruction("filter_wheel")
async def update_all_slot_data(ctx: Context, slots: list[SlotEntry]) -> None:
    """Every slot's ``{filter_name?, focus_offset?, af_exposure_time?}`` in
    slot order (one list inside params); what an entry leaves out is kept."""
    if len(slots) > len(_wheel(ctx).filters()):
        raise LightAptError(OUT_OF_RANGE)
    await _update(ctx, dict(enumerate(slots, start=1)))


@instruction("filter_wheel")
async def set_one_filter_solt_value(ctx: Context, slot: int, slot_info: SlotEntry) -> None:
    """One slot's (from 1) ``{filter_name?, focus_offset?, af_exposure_time?}``
    (the original's spelling)."""
    if not 1 <= slot <= len(_wheel(ctx).filters()):
        raise LightAptError(OUT_OF_RANGE)
    await _update(ctx, {slot: slot_info})
