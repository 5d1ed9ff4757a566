"""The focuser role."""

from __future__ import annotations

from typing import Any

from ..client import InvalidValueError
from ..protocol import PropertyKind, PropertyState
from ..verbs import UNSET, NoParams, Params, Result, Timeout, UnsetType, verb
from .base import ProgressCallback, Range, RoleDevice, Update
from .errors import CapabilityError, DeviceStateError, RefusalReason
from .follow import PropertyFollower, Step, follow

__all__ = ["Focuser"]

#: The driver must show it took a move within this many seconds.
START_TIMEOUT = 10.0
ABS = "ABS_FOCUS_POSITION"
REL = "REL_FOCUS_POSITION"


def _steps(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{what} must be a whole number of steps, got {value!r}")
    if value != int(value):
        raise InvalidValueError(f"{what} must be a whole number of steps, got {value!r}")
    return int(value)


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------


class MoveToParams(Params):
    position: int
    timeout: Timeout = 120.0


class MoveByParams(Params):
    steps: int
    timeout: Timeout = 120.0


class FocuserSyncParams(Params):
    position: int


class FocuserMoved(Result):
    """Where the focuser ended (steps; position null without absolute positions)."""

    action: str
    device: str
    elapsed: float
    position: int | None
    target: int | UnsetType = UNSET
    start: int | None | UnsetType = UNSET
    steps: int | UnsetType = UNSET


class FocuserAborted(Result):
    """The focuser stopped (stopped false: still moving after the timeout)."""

    aborted: bool
    #: How many running moves were ended (with the aborted error).
    interrupted: int
    stopped: bool
    position: int | None


class FocuserPosition(Result):
    """The position in steps (null without absolute positions)."""

    position: int | None
    moving: bool | UnsetType = UNSET


class FocuserBrief(Result):
    """The position (steps; null without absolute positions), moving, temperature (null: none)."""

    position: int | None
    moving: bool
    temperature: float | None


class FocuserTemperature(Result):
    """The focuser's temperature."""

    #: °C.
    temperature: float


class FocuserMax(Result):
    """The highest position in steps (null: the driver gives none)."""

    max: int | None


class FocuserCapabilities(Result):
    """What the focuser can do, from the properties it defines (ranges in steps)."""

    can_move_absolute: bool
    can_move_relative: bool
    can_abort: bool
    can_sync: bool
    has_temperature: bool
    has_max: bool
    can_reverse: bool
    has_backlash: bool
    position_range: Range | None
    relative_range: Range | None


class FocuserFacts(Result):
    """What `Focuser.info` adds while connected."""

    #: FOCUS_MAX in steps (null without it).
    max: int | None


class Focuser(RoleDevice):
    """A focuser: absolute and relative moves, abort, position, temperature, max."""

    role = "focuser"
    capabilities_shape = FocuserCapabilities
    facts_shape = FocuserFacts
    brief = FocuserBrief

    def _position(self) -> int | None:
        value = self._number(ABS, "FOCUS_ABSOLUTE_POSITION")
        return None if value is None else int(round(value))

    def _moving(self) -> bool:
        return any(
            (p := self._optional(n)) is not None and p.state is PropertyState.BUSY
            for n in (ABS, REL, "FOCUS_TIMER")
        )

    @verb("focuser.position", NoParams, FocuserPosition)
    def position(self) -> dict[str, Any]:
        """{position (steps; null without absolute positions), moving}."""
        self._connected()
        return {"position": self._position(), "moving": self._moving()}

    @verb("focuser.temperature", NoParams, FocuserTemperature)
    def temperature(self) -> dict[str, Any]:
        """Focuser temperature (FOCUS_TEMPERATURE): {temperature (°C)}."""
        prop = self._prop("FOCUS_TEMPERATURE", "report a temperature")
        return {"temperature": float(next(iter(prop.values().values())))}

    @verb("focuser.max", NoParams, FocuserMax)
    def max(self) -> dict[str, Any]:
        """The highest position (FOCUS_MAX, else the ABS_FOCUS_POSITION range): {max}."""
        self._connected()
        value = self._number("FOCUS_MAX", "FOCUS_MAX_VALUE")
        if value is None:
            prop = self._prop(ABS, "report its maximum position")
            value = prop.elements["FOCUS_ABSOLUTE_POSITION"].max
        return {"max": None if value is None else int(value)}

    def _number_info(self, name: str) -> dict[str, Any] | None:
        prop = self._optional(name)
        if prop is None or not prop.elements:
            return None
        el = next(iter(prop.elements.values()))
        value = prop[el.name]
        return {
            "name": el.name,
            "value": float(value) if isinstance(value, int | float) else None,
            "min": el.min,
            "max": el.max,
        }

    def settings(self) -> dict[str, Any]:
        """The focuser's settings and readings now; None for what it lacks.

        ``{max, state, speed, temperature, backlash_enabled, backlash}``:
        ``max`` as `max` gives it; ``state`` is the position property's
        INDI state (``Idle``, ``Ok``, ``Busy`` while any motion property is
        Busy, ``Alert`` after a failed move); ``speed`` (FOCUS_SPEED),
        ``temperature`` (FOCUS_TEMPERATURE) and ``backlash``
        (FOCUS_BACKLASH_STEPS) as ``{name, value, min, max}`` of their
        element; ``backlash_enabled`` from FOCUS_BACKLASH_TOGGLE.
        """
        self._connected()
        position = self._optional(ABS) or self._optional(REL)
        state = None if position is None else position.state.value
        if self._moving():
            state = PropertyState.BUSY.value
        toggle = self._switch_on("FOCUS_BACKLASH_TOGGLE")
        has_max = self.has("FOCUS_MAX") or self.has(ABS)
        return {
            "max": self.max()["max"] if has_max else None,
            "state": state,
            "speed": self._number_info("FOCUS_SPEED"),
            "temperature": self._number_info("FOCUS_TEMPERATURE"),
            "backlash_enabled": None if toggle is None else "INDI_ENABLED" in toggle,
            "backlash": self._number_info("FOCUS_BACKLASH_STEPS"),
        }

    async def configure(
        self,
        *,
        max_position: int | None = None,
        backlash: int | None = None,
        backlash_enabled: bool | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Change any of: the highest position (FOCUS_MAX), the backlash
        compensation in steps (FOCUS_BACKLASH_STEPS) and whether it is on
        (FOCUS_BACKLASH_TOGGLE).  None leaves one as it is; all are checked
        before any is sent.  Returns `settings()`."""
        dev = self._connected()
        plan: list[tuple[str, dict[str, Any], str]] = []
        for value, prop_name, what, verb_name in (
            (max_position, "FOCUS_MAX", "max_position", "set_max"),
            (backlash, "FOCUS_BACKLASH_STEPS", "backlash", "set_backlash"),
        ):
            if value is None:
                continue
            steps = _steps(value, what)
            prop = self._prop(prop_name, f"set its {what.replace('_', ' ')}")
            plan.append((prop_name, {next(iter(prop.elements)): steps}, verb_name))
        if backlash_enabled is not None:
            if not isinstance(backlash_enabled, bool):
                raise InvalidValueError(
                    f"backlash_enabled must be true or false, got {backlash_enabled!r}"
                )
            self._prop("FOCUS_BACKLASH_TOGGLE", "switch backlash compensation")
            element = "INDI_ENABLED" if backlash_enabled else "INDI_DISABLED"
            toggle = ("FOCUS_BACKLASH_TOGGLE", {element: True}, "set_backlash_enabled")
            # Drivers take backlash steps only while compensation is on.
            if backlash_enabled:
                plan.insert(0, toggle)
            else:
                plan.append(toggle)
        for name, values, _ in plan:
            self.client.validate(dev.name, name, values)
        for name, values, verb_name in plan:
            last = dev.messages[-1] if dev.messages else None
            prop = await self._set(name, values, verb=verb_name, timeout=timeout)
            if prop.kind is PropertyKind.NUMBER and any(prop[e] != v for e, v in values.items()):
                # Answered without Alert but not taken (the simulator keeps
                # the backlash while compensation is off, state Idle).
                said = dev.messages[-1] if dev.messages else None
                why = f" (driver said: {said[1]})" if said is not None and said is not last else ""
                raise DeviceStateError(
                    f"{dev.name} did not take {name} = {list(values.values())[0]}{why}",
                    device=dev.name,
                    role=self.role,
                    reason=RefusalReason.NOT_TAKEN,
                )
        return self.settings()

    async def _send_abort(self) -> None:
        if self.has("FOCUS_ABORT_MOTION"):
            await self.client.set_property(self.name, "FOCUS_ABORT_MOTION", {"ABORT": True})  # type: ignore[arg-type]

    @verb("focuser.move_to", MoveToParams, FocuserMoved, moves=True, long=True, progress=True)
    async def move_to(
        self,
        position: int,
        *,
        timeout: float = 120.0,
        progress: ProgressCallback | None = None,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Move to an absolute position (steps, within the driver's range); answers once there.

        Progress: {state: moving, position, target}. Result: {position, target,
        start, elapsed}."""
        # replace (a device call's, not a param): false refuses a move while
        # the focuser moves (busy, reason moving) instead of superseding it.
        target = _steps(position, "position")
        dev = self._connected()
        self._check_still(self._moving(), "a move", replace)
        self._prop(ABS, "move to an absolute position")
        self.client.validate(dev.name, ABS, {"FOCUS_ABSOLUTE_POSITION": target})
        return await self._move_abs("move_to", target, timeout, progress, {"position": target})

    async def _move_abs(
        self,
        verb: str,
        target: int,
        timeout: float,
        progress: ProgressCallback | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        start = self._position()
        async with self._action(
            verb,
            [ABS],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main=ABS,
            params=params,
        ) as act:
            act.where = lambda: {"position": self._position()}
            await act.send(ABS, {"FOCUS_ABSOLUTE_POSITION": target})
            pos = start

            def moved(u: Update, step: Step) -> None:
                nonlocal pos
                pos = _position_of(u)
                act.details["position"] = pos
                if step.busy:
                    act.report({"state": "moving", "position": pos, "target": target})

            await follow(
                act,
                PropertyFollower(
                    ABS,
                    done=lambda u, started: (
                        _position_of(u) == target or (started and u.state is PropertyState.OK)
                    ),
                    start_within=START_TIMEOUT,
                    failed=f"{verb} failed",
                    stopped=lambda u: (
                        f"{verb}: the focuser stopped at {_position_of(u)}, before {target}"
                    ),
                    not_started=f"{verb}: the focuser did not start the move",
                ),
                moved,
            )
            return act.done({"position": pos, "target": target, "start": start})

    @verb("focuser.move_by", MoveByParams, FocuserMoved, moves=True, long=True, progress=True)
    async def move_by(
        self,
        steps: int,
        *,
        timeout: float = 120.0,
        progress: ProgressCallback | None = None,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Move by steps (positive outward, negative inward); answers once done.

        Result: {position, target, start, steps, elapsed}."""
        n = _steps(steps, "steps")
        dev = self._connected()
        self._check_still(self._moving(), "a move", replace)
        params = {"steps": n}
        if self.has(REL, "FOCUS_MOTION"):
            self.client.validate(dev.name, REL, {"FOCUS_RELATIVE_POSITION": abs(n)})
            if n == 0:
                return {
                    "action": "move_by",
                    "device": dev.name,
                    "position": self._position(),
                    "steps": 0,
                    "elapsed": 0.0,
                }
            return await self._move_rel(n, timeout, progress, params)
        if self.has(ABS) and self._position() is not None:
            start = self._position()
            assert start is not None
            self.client.validate(dev.name, ABS, {"FOCUS_ABSOLUTE_POSITION": start + n})
            return await self._move_abs("move_by", start + n, timeout, progress, params)
        raise CapabilityError(
            f"{dev.name} cannot move by steps (it defines neither {REL} with FOCUS_MOTION "
            f"nor {ABS})",
            device=dev.name,
            role=self.role,
            properties=[REL, ABS],
        )

    async def _move_rel(
        self, n: int, timeout: float, progress: ProgressCallback | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        start = self._position()
        target = None if start is None else start + n
        direction = "FOCUS_OUTWARD" if n > 0 else "FOCUS_INWARD"
        async with self._action(
            "move_by",
            [REL, ABS],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main=REL,
            params=params,
        ) as act:
            act.where = lambda: {"position": self._position()}
            await act.send("FOCUS_MOTION", {direction: True})
            await act.send(REL, {"FOCUS_RELATIVE_POSITION": abs(n)})
            rel_started = rel_done = False
            pos = start
            while True:
                if rel_done and not self._abs_busy():
                    break
                u = await act.next(
                    None if rel_started or rel_done else max(0.0, START_TIMEOUT - act.elapsed)
                )
                if u is None:
                    raise act.fail("move_by: the focuser did not start the move")
                if u.kind != "updated":
                    continue
                if u.state is PropertyState.ALERT:
                    raise act.fail("move_by failed")
                if u.name == ABS:
                    pos = int(round(float(u["FOCUS_ABSOLUTE_POSITION"])))
                    act.details["position"] = pos
                    if u.state is PropertyState.BUSY:
                        rel_started = True
                        act.report({"state": "moving", "position": pos, "target": target})
                    continue
                if u.state is PropertyState.BUSY:
                    rel_started = True
                    act.report({"state": "moving", "position": pos, "target": target})
                    continue
                if u.state is PropertyState.IDLE and rel_started and pos != target:
                    raise act.stopped(
                        f"move_by: the focuser stopped at {pos}, before {target}",
                    )
                rel_done = True
            return act.done(
                {"position": self._position(), "target": target, "start": start, "steps": n}
            )

    def _abs_busy(self) -> bool:
        prop = self._optional(ABS)
        return prop is not None and prop.state is PropertyState.BUSY

    @verb("focuser.abort", NoParams, FocuserAborted)
    async def abort(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop the focuser (FOCUS_ABORT_MOTION); running moves end with the aborted error.

        Result: {aborted, interrupted, stopped, position}; capability_missing on
        a focuser without FOCUS_ABORT_MOTION."""
        self._prop("FOCUS_ABORT_MOTION", "abort a move")
        interrupted = self._interrupt_actions("aborted")
        await self._send_abort()
        stopped = True
        for name in (ABS, REL):
            if self.has(name):
                try:
                    await self.client.wait_idle(self.name, name, timeout)  # type: ignore[arg-type]
                except TimeoutError:
                    stopped = False
        return {
            "aborted": True,
            "interrupted": interrupted,
            "stopped": stopped,
            "position": self._position(),
        }

    @verb("focuser.sync", FocuserSyncParams, FocuserPosition)
    async def sync(self, position: int, *, timeout: float = 10.0) -> dict[str, Any]:
        """Declare the current position to be this one (FOCUS_SYNC): {position}."""
        p = _steps(position, "position")
        prop = self._prop("FOCUS_SYNC", "sync its position")
        element = next(iter(prop.elements))
        await self._set("FOCUS_SYNC", {element: p}, verb="sync", timeout=timeout)
        return {"position": self._position()}

    def _status(self) -> dict[str, Any]:
        temp = self._optional("FOCUS_TEMPERATURE")
        return {
            "position": self._position(),
            "moving": self._moving(),
            "temperature": float(next(iter(temp.values().values()))) if temp else None,
        }

    def _capabilities(self) -> dict[str, Any]:
        abs_prop = self._optional(ABS)
        rel_prop = self._optional(REL)
        abs_el = abs_prop.elements.get("FOCUS_ABSOLUTE_POSITION") if abs_prop else None
        rel_el = rel_prop.elements.get("FOCUS_RELATIVE_POSITION") if rel_prop else None
        return {
            "can_move_absolute": self._writable(abs_prop),
            "can_move_relative": self.has(REL, "FOCUS_MOTION") or self._writable(abs_prop),
            "can_abort": self.has("FOCUS_ABORT_MOTION"),
            "can_sync": self.has("FOCUS_SYNC"),
            "has_temperature": self.has("FOCUS_TEMPERATURE"),
            "has_max": self.has("FOCUS_MAX"),
            "can_reverse": self.has("FOCUS_REVERSE_MOTION"),
            "has_backlash": self.has("FOCUS_BACKLASH_STEPS"),
            "position_range": [abs_el.min, abs_el.max] if abs_el else None,
            "relative_range": [rel_el.min, rel_el.max] if rel_el else None,
        }

    def _facts(self) -> dict[str, Any]:
        value = self._number("FOCUS_MAX", "FOCUS_MAX_VALUE")
        return {"max": int(value) if value is not None else None}


def _position_of(update: Update) -> int:
    return int(round(float(update["FOCUS_ABSOLUTE_POSITION"])))
