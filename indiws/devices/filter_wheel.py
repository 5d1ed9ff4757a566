"""The filter wheel role (also the built-in wheel of a camera)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from msgspec import Meta

from ..client import InvalidValueError, Property
from ..verbs import UNSET, Name, NoParams, Params, Result, Timeout, UnsetType, verb
from .base import ProgressCallback, RoleDevice, Update
from .follow import PropertyFollower, Step, follow

__all__ = ["FilterWheel"]

#: The driver must show it took a change within this many seconds.
START_TIMEOUT = 10.0
_SLOT_SUFFIX = re.compile(r"(\d+)$")


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------


#: A slot number, from 1.
Slot = Annotated[int, Meta(ge=1, description="a slot number, from 1")]
#: A slot number as a JSON object's key.
SlotKey = Annotated[str, Meta(pattern=r"^0*[1-9][0-9]*$", description="a slot number, from 1")]


class SelectParams(Params):
    #: A slot number (from 1) or a filter's name (any case).
    filter: Slot | Name
    timeout: Timeout = 60.0


class RenameParams(Params):
    #: {"<slot>": "<name>"}: one entry at least.
    names: Annotated[dict[SlotKey, Name], Meta(min_length=1)]


class Selected(Result):
    """The slot reached, its name, and the slot it came from."""

    action: str
    device: str
    elapsed: float
    slot: int
    name: str | None
    previous_slot: int | None


class Filter(Result):
    """A slot (from 1) and its name (null where the driver names none)."""

    slot: int
    name: str | None


class CurrentFilter(Result):
    """The slot now (from 1), its name, and whether the wheel turns."""

    slot: int | None
    name: str | None
    moving: bool


class FilterWheelCapabilities(Result):
    """What the filter wheel can do, from the properties it defines."""

    can_select: bool
    slots: int
    can_rename: bool


class FilterWheelFacts(Result):
    """What `FilterWheel.info` adds while connected (with FILTER_SLOT)."""

    filters: list[Filter] | UnsetType = UNSET


class FilterWheel(RoleDevice):
    """A filter wheel: slots are numbered from 1 (FILTER_SLOT); names come
    from FILTER_NAME (matched without regard to case)."""

    role = "filter_wheel"
    capabilities_shape = FilterWheelCapabilities
    facts_shape = FilterWheelFacts
    brief = CurrentFilter

    def _slot_prop(self) -> Property:
        return self._prop("FILTER_SLOT", "change filters")

    def _name_elements(self) -> dict[int, str]:
        """slot → FILTER_NAME element name."""
        names = self._optional("FILTER_NAME")
        if names is None:
            return {}
        out: dict[int, str] = {}
        for index, element in enumerate(names.elements, start=1):
            m = _SLOT_SUFFIX.search(element)
            out[int(m.group(1)) if m else index] = element
        return out

    def _slot_count(self) -> int:
        el = self._slot_prop().elements["FILTER_SLOT_VALUE"]
        if el.max is not None and el.max >= 1:
            return int(el.max)
        return len(self._name_elements())

    def _slot(self) -> int | None:
        value = self._number("FILTER_SLOT", "FILTER_SLOT_VALUE")
        return None if value is None else int(round(value))

    def _name_of(self, slot: int | None) -> str | None:
        if slot is None:
            return None
        element = self._name_elements().get(slot)
        names = self._optional("FILTER_NAME")
        return str(names[element]) if element and names is not None else None

    @verb("filter_wheel.filters", NoParams, list[Filter])
    def filters(self) -> list[dict[str, Any]]:
        """Every slot with its name: [{slot, name}]."""
        self._slot_prop()
        elements = self._name_elements()
        names = self._optional("FILTER_NAME")
        return [
            {
                "slot": slot,
                "name": str(names[elements[slot]]) if slot in elements and names else None,
            }
            for slot in range(1, self._slot_count() + 1)
        ]

    @verb("filter_wheel.current", NoParams, CurrentFilter)
    def current(self) -> dict[str, Any]:
        """The slot now: {slot, name, moving}."""
        prop = self._slot_prop()
        slot = self._slot()
        return {"slot": slot, "name": self._name_of(slot), "moving": prop.busy}

    def slot_state(self) -> str | None:
        """The state the driver gives FILTER_SLOT: ``Busy`` while turning,
        ``Alert`` after a failed change, else ``Ok`` or ``Idle``; None
        while the wheel does not define it (e.g. disconnected)."""
        prop = self._optional("FILTER_SLOT")
        return None if prop is None else prop.state.value

    def _resolve(self, filter: int | str) -> int:
        if isinstance(filter, bool):
            raise InvalidValueError(f"give a slot number or a filter name, got {filter!r}")
        if isinstance(filter, int):
            return filter
        if isinstance(filter, float) and filter.is_integer():
            return int(filter)
        if isinstance(filter, str):
            wanted = filter.strip().casefold()
            listing = self.filters()
            for entry in listing:
                if entry["name"] is not None and entry["name"].strip().casefold() == wanted:
                    return int(entry["slot"])
            known = ", ".join(f"{e['slot']}: {e['name']}" for e in listing)
            raise InvalidValueError(f"{self.name} has no filter named {filter!r} ({known})")
        raise InvalidValueError(f"give a slot number or a filter name, got {filter!r}")

    @verb("filter_wheel.select", SelectParams, Selected, moves=True, long=True, progress=True)
    async def select(
        self,
        filter: int | str,
        *,
        timeout: float = 60.0,
        progress: ProgressCallback | None = None,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Turn to a slot (integer, from 1) or a filter by name (any case); answers once there.

        Progress: {state: moving, slot, target_slot, target_name}. Result:
        {slot, name, previous_slot, elapsed}."""
        # replace (a device call's, not a param): false refuses a turn while
        # the wheel turns (busy, reason moving) instead of superseding it.
        dev = self._connected()
        self._check_still(self._slot_prop().busy, "turning it", replace)
        slot = self._resolve(filter)
        self.client.validate(dev.name, "FILTER_SLOT", {"FILTER_SLOT_VALUE": slot})
        name = self._name_of(slot)
        start = self._slot()
        async with self._action(
            "select",
            ["FILTER_SLOT"],
            timeout=timeout,
            progress=progress,
            channel="motion",
            main="FILTER_SLOT",
            params={"filter": filter, "slot": slot, "name": name},
        ) as act:
            act.where = lambda: {"slot": self._slot()}
            await act.send("FILTER_SLOT", {"FILTER_SLOT_VALUE": slot})

            def turned(u: Update, step: Step) -> None:
                now = _slot_of(u)
                act.details["slot"] = now
                if step.busy:
                    act.report(
                        {"state": "moving", "slot": now, "target_slot": slot, "target_name": name}
                    )

            await follow(
                act,
                PropertyFollower(
                    "FILTER_SLOT",
                    done=lambda u, _: _slot_of(u) == slot,
                    start_within=START_TIMEOUT,
                    failed="select failed",
                    stopped=lambda u: (
                        f"select: the wheel stopped at slot {_slot_of(u)}, not {slot}"
                    ),
                    not_started="select: the wheel did not start turning",
                ),
                turned,
            )
            return act.done({"slot": slot, "name": name, "previous_slot": start})

    @verb("filter_wheel.rename", RenameParams, list[Filter])
    async def rename(
        self, names: Mapping[int, str], *, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Rename filters: {"<slot>": "<name>"}, e.g. {"1": "L", "5": "Ha"}; answers the list."""
        dev = self._connected()
        prop = self._prop("FILTER_NAME", "rename filters")
        if not names:
            raise InvalidValueError("give {slot: name} for the filters to rename")
        elements = self._name_elements()
        values = {el: str(prop[el]) for el in prop.elements}
        for slot, new in names.items():
            try:
                s = int(slot)
            except (TypeError, ValueError):
                raise InvalidValueError(f"filter slots are numbers, got {slot!r}") from None
            if s not in elements:
                raise InvalidValueError(
                    f"{dev.name} has no slot {slot} to name (slots 1..{len(elements)})"
                )
            if not isinstance(new, str) or not new.strip():
                raise InvalidValueError(f"a filter name must be non-empty text, got {new!r}")
            values[elements[s]] = new.strip()
        # The whole vector: some drivers rewrite every name from one message.
        await self._set("FILTER_NAME", values, verb="rename", timeout=timeout)
        return self.filters()

    def _status(self) -> dict[str, Any]:
        prop = self._optional("FILTER_SLOT")
        slot = self._slot()
        return {
            "slot": slot,
            "name": self._name_of(slot),
            "moving": bool(prop and prop.busy),
        }

    def _capabilities(self) -> dict[str, Any]:
        has_slot = self.has("FILTER_SLOT")
        return {
            "can_select": self._writable(self._optional("FILTER_SLOT")),
            "slots": self._slot_count() if has_slot else 0,
            "can_rename": self._writable(self._optional("FILTER_NAME")),
        }

    def _facts(self) -> dict[str, Any]:
        return {"filters": self.filters()} if self.has("FILTER_SLOT") else {}


def _slot_of(update: Update) -> int:
    return int(round(float(update["FILTER_SLOT_VALUE"])))
