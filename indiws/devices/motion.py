"""Two shapes of long action the observatory roles share.

- `press`: turn a switch on (open a shutter, park a dome, close a dust cap)
  and wait until the driver says the motion it started has ended: the
  property goes Busy, then Ok with the switch still on.
- `move_number`: write a number (a dome azimuth, a rotator angle) and
  wait until the driver has reached it, reporting the value on the way.

Both end with the errors of every action: Alert → `ActionFailed`, the
device stopping short → `ActionAborted`, the deadline → `ActionTimeout`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol import SwitchState
from .base import ProgressCallback, RoleDevice, Update
from .follow import PropertyFollower, Step, follow

__all__ = ["START_TIMEOUT", "move_number", "press"]

#: The driver must show it took the command within this many seconds.
START_TIMEOUT = 10.0


async def press(
    owner: RoleDevice,
    verb: str,
    prop: str,
    element: str,
    *,
    timeout: float,
    progress: ProgressCallback | None = None,
    abort: Callable[[], Awaitable[Any]] | None = None,
    channel: str | None = None,
    state: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Turn ``prop.element`` on and return once the driver has done it.

    ``state`` names the progress state reported while the property is Busy
    (``opening``, ``parking``...).  Returns the action's result with
    ``prop``'s switches on at the end.
    """
    async with owner._action(
        verb,
        [prop],
        timeout=timeout,
        progress=progress,
        abort=abort,
        channel=channel,
        main=prop,
        params=params,
    ) as act:
        await act.send(prop, {element: True})

        def busy(u: Update, step: Step) -> None:
            if step.busy:
                act.report({"state": state or verb})

        await follow(
            act,
            PropertyFollower(
                prop,
                done=lambda u, _: u[element] is SwitchState.ON,
                start_within=START_TIMEOUT,
                # Some drivers answer at once with Ok (nothing to do, or a
                # device with no travel time): accept it if the switch is on.
                already=lambda: owner._switch_on(prop) == [element],
                failed=f"{verb} failed",
                stopped=f"{verb} stopped before it ended",
                not_started=f"{verb}: the driver did not take the command",
            ),
            busy,
        )
        return act.done({prop.lower(): owner._switch_on(prop)})


async def move_number(
    owner: RoleDevice,
    verb: str,
    prop: str,
    element: str,
    target: float,
    *,
    key: str,
    timeout: float,
    progress: ProgressCallback | None = None,
    abort: Callable[[], Awaitable[Any]] | None = None,
    channel: str | None = None,
    tolerance: float = 0.5,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``target`` to ``prop.element`` and return once reached.

    ``key`` names the value in progress reports and the result (``azimuth``,
    ``angle``); values within ``tolerance`` of the target count as reached
    when the driver ends Ok or Idle (angles wrap at 360).
    """
    start = owner._number(prop, element)

    def near(value: float) -> bool:
        diff = abs(value - target) % 360.0
        return min(diff, 360.0 - diff) <= tolerance

    async with owner._action(
        verb,
        [prop],
        timeout=timeout,
        progress=progress,
        abort=abort,
        channel=channel,
        main=prop,
        params=params,
    ) as act:
        act.where = lambda: {key: owner._number(prop, element)}
        await act.send(prop, {element: target})
        value = start

        def moved(u: Update, step: Step) -> None:
            nonlocal value
            value = float(u[element])
            act.details[key] = value
            if step.busy:
                act.report({"state": "moving", key: value, "target": target})

        await follow(
            act,
            PropertyFollower(
                prop,
                done=lambda u, _: near(float(u[element])),
                start_within=START_TIMEOUT,
                already=lambda: value is not None and near(value),  # nothing to move
                failed=f"{verb} failed",
                stopped=lambda u: f"{verb}: stopped at {float(u[element]):g}, before {target:g}",
                not_started=f"{verb}: the device did not start the move",
            ),
            moved,
        )
        return act.done({key: value, "target": target, "start": start})
