"""lightAPT's ``focus`` instructions, over `indiws.devices.Focuser`.

Moves answer ``success`` once started, as the original did; a focuser that
is moving refuses a move (the verb refuses, `refusals.REFUSALS` words it)
or a backlash setting in the later front end's words.  The
small and large steps of the in/out buttons are the service's memory of the
role (`Context.state`), as they were the original's.  docs/lightapt.md
("Instructions: focus") has the table.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from ...client import INDIError
from ...devices import ActionFailed, InvalidValueError
from .base import Context, LightAptError, Refusal, instruction
from .refusals import FOCUS_MOVING

ROLE = "focuser"

#: The original's step sizes of the in/out buttons.
DEFAULT_STEPS = {"small_step": 100, "large_step": 1000}


def _step(ctx: Context, which: str) -> int:
    return int(ctx.state.get(which, DEFAULT_STEPS[which]))


def _moving(focuser: Any) -> bool:
    """Moving now: the driver says so, or a move of this role is under way
    (for a backlash setting, which the device takes while moving)."""
    status = focuser.status()
    return bool(status.get("moving") or status.get("busy"))


#: The params of the settings (`Focuser.configure` is no declared verb; the
#: step sizes are the service's memory), with the original's ranges.
Positive = Annotated[int, Meta(gt=0)]
NotNegative = Annotated[int, Meta(ge=0)]
#: The original's words for a step size out of range.
STEP_WORDS = {"steps": LightAptError("step value must be larger than 0!")}


@instruction(ROLE)
async def get_params(ctx: Context) -> dict[str, Any]:
    """Position, maximum, state, backlash and step sizes: V2's keys
    (``foucser_state`` as spelled, ``move_speed``/``temperature`` as
    ``{name, value, max, min}``) and the later front end's (``focus_state``,
    ``backslash`` as a number, ``small_step``/``large_step``)."""
    focuser = ctx.device()
    try:
        settings = focuser.settings()
    except INDIError:  # not connected, or gone: every key, null
        settings = {}
    status = focuser.status()
    state = settings.get("state")
    if status.get("busy"):
        state = "Busy"
    backlash = settings.get("backlash")
    return {
        "move_speed": settings.get("speed"),
        "temperature": settings.get("temperature"),
        "focus_position": status.get("position"),
        "foucser_state": state,
        "focus_state": state,
        "focus_max": settings.get("max"),
        "backslash_switch": settings.get("backlash_enabled"),
        "backslash": None
        if backlash is None or backlash["value"] is None
        else int(backlash["value"]),
        "small_step": _step(ctx, "small_step"),
        "large_step": _step(ctx, "large_step"),
    }


@instruction(ROLE)
async def get_configuration(ctx: Context) -> dict[str, Any]:
    """What the focuser has, under the flag names lightAPT's V4 kept."""
    try:
        settings = ctx.device().settings()
    except INDIError:
        settings = {}
    return {
        "has_speed": settings.get("speed") is not None,
        "has_temperature": settings.get("temperature") is not None,
    }


# ---------------------------------------------------------------- settings


@instruction(ROLE, words={"steps": LightAptError("max step must be larger than 0!")})
async def set_max_step(ctx: Context, steps: Positive) -> None:
    """The highest position (FOCUS_MAX)."""
    await ctx.device().configure(max_position=steps)


@instruction(ROLE, words=STEP_WORDS)
async def set_move_small_step(ctx: Context, steps: Positive) -> None:
    """The step of move_in_small/move_out_small (kept by the service)."""
    ctx.state["small_step"] = steps


@instruction(ROLE, words=STEP_WORDS)
async def set_move_large_step(ctx: Context, steps: Positive) -> None:
    """The step of move_in_large/move_out_large (kept by the service)."""
    ctx.state["large_step"] = steps


async def _backlash(ctx: Context, **change: Any) -> None:
    focuser = ctx.device()
    if _moving(focuser):
        raise Refusal(FOCUS_MOVING)
    await focuser.configure(**change)


@instruction(ROLE)
async def turn_on_backslash(ctx: Context) -> None:
    await _backlash(ctx, backlash_enabled=True)


@instruction(ROLE)
async def turn_off_backslash(ctx: Context) -> None:
    await _backlash(ctx, backlash_enabled=False)


@instruction(ROLE, words={"steps": LightAptError("Backslash value cannot smaller than 0")})
async def set_backslash(ctx: Context, steps: NotNegative) -> None:
    """The backlash compensation in steps (0 is valid: none)."""
    await _backlash(ctx, backlash=steps)


# ---------------------------------------------------------------- moves


@instruction(ROLE, verb="focuser.move_to", params=("position",))
async def move_to_position(ctx: Context, position: int) -> None:
    """Move to an absolute position; answers once the move started (the
    device refuses a move while moving, and a position out of its range)."""
    try:
        await ctx.start(ctx.device().move_to(position, replace=False))
    except InvalidValueError as exc:
        if position < 0:
            raise LightAptError("step value must be larger than 0!") from exc
        raise LightAptError("step value cannot be larger than max step!") from exc
    except ActionFailed as exc:
        raise LightAptError(f"focuser absolute position alert! ({exc})") from exc


async def _move_by(ctx: Context, steps: int) -> None:
    await ctx.start(ctx.device().move_by(steps, replace=False))


MOVE_BY = "focuser.move_by"


@instruction(ROLE, verb=MOVE_BY)
async def move_in_small(ctx: Context) -> None:
    await _move_by(ctx, -_step(ctx, "small_step"))


@instruction(ROLE, verb=MOVE_BY)
async def move_out_small(ctx: Context) -> None:
    await _move_by(ctx, _step(ctx, "small_step"))


@instruction(ROLE, verb=MOVE_BY)
async def move_in_large(ctx: Context) -> None:
    await _move_by(ctx, -_step(ctx, "large_step"))


@instruction(ROLE, verb=MOVE_BY)
async def move_out_large(ctx: Context) -> None:
    await _move_by(ctx, _step(ctx, "large_step"))


@instruction(ROLE, "move_relative", "move_relative_step", verb=MOVE_BY, params=("steps",))
async def move_relative(ctx: Context, steps: int) -> None:
    """Move by ``steps``: positive outward, negative inward."""
    await _move_by(ctx, steps)


@instruction(ROLE, verb="focuser.abort")
async def stop_movement(ctx: Context) -> None:
    """Stop the focuser (FOCUS_ABORT_MOTION); answers once it stopped."""
    await ctx.device().abort()
