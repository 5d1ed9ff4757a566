"""Which low-level property writes move hardware, and the one check that
every path writing properties directly makes (REST ``PUT`` of a property,
``/ws/indi/`` ``set``, lightAPT's property page, the Python client's
``apply``, the filtered INDI port of `indiws.indi_listener`).

The high-level verbs (``telescope.goto``, ``dome.open``, ...) check the
safety policy themselves; a raw write of the property under them must not
be a way around that.  One table says which writes move hardware, whatever
the path: a write that does is refused while the safety policy says unsafe
(``unsafe``), unless the caller forces it, and every forced one is logged
with who wrote it.  Writes in the safe direction (park, close, abort, stop a
motion) always pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..client import INDIClient
from ..protocol import PropertyKind, PropertyState, SwitchState
from .errors import DeviceStateError, RefusalReason, UnsafeError
from .guard import _GUARDS

__all__ = ["MOVES_HARDWARE", "check_hardware_write", "hardware_move"]

log = logging.getLogger("indiws.devices.writes")

#: Property → what a write of it does to the hardware: for switches, the
#: elements whose turning On moves it (→ the verb, as the safety policy names
#: it); for numbers, ``"*"`` (any write).  Standard INDI names.
MOVES_HARDWARE: dict[str, dict[str, str]] = {
    # Mount
    "TELESCOPE_PARK": {"UNPARK": "unpark"},
    "EQUATORIAL_EOD_COORD": {"*": "goto"},  # unless ON_COORD_SET is SYNC
    "EQUATORIAL_COORD": {"*": "goto"},
    "HORIZONTAL_COORD": {"*": "goto"},
    "TELESCOPE_MOTION_NS": {"MOTION_NORTH": "move", "MOTION_SOUTH": "move"},
    "TELESCOPE_MOTION_WE": {"MOTION_WEST": "move", "MOTION_EAST": "move"},
    "TELESCOPE_TIMED_GUIDE_NS": {"*": "move"},
    "TELESCOPE_TIMED_GUIDE_WE": {"*": "move"},
    "TELESCOPE_TRACK_STATE": {"TRACK_ON": "track"},
    "TELESCOPE_HOME": {"FIND": "move", "GO": "move"},
    # Dome and roll-off roof (a roof's DOME_MOTION opens or closes it)
    "DOME_PARK": {"UNPARK": "unpark"},
    "DOME_SHUTTER": {"SHUTTER_OPEN": "open"},
    "DOME_MOTION": {"DOME_CW": "move", "DOME_CCW": "move"},
    "ABS_DOME_POSITION": {"*": "move"},
    "REL_DOME_POSITION": {"*": "move"},
    # Dust cap
    "CAP_PARK": {"UNPARK": "open"},
}

#: Coordinates written while ON_COORD_SET is SYNC only tell the mount where it is.
_COORDINATES = ("EQUATORIAL_EOD_COORD", "EQUATORIAL_COORD", "HORIZONTAL_COORD")


def _switch_on(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # SwitchState is a str too
        return value.strip().lower() == "on"
    return False


def _items(values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return list(values.items() if isinstance(values, Mapping) else values)


def hardware_move(
    client: INDIClient,
    device: str,
    name: str,
    values: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> str | None:
    """The verb a write of ``values`` to ``device.name`` makes the hardware
    do (``unpark``, ``goto``, ``move``, ``track``, ``open``), or None when it
    moves nothing (or only toward safety: park, close, abort)."""
    rule = MOVES_HARDWARE.get(name)
    if rule is None:
        return None
    items = _items(values)
    if "*" in rule:
        if name in _COORDINATES and _coord_set_is_sync(client, device):
            return None
        if name.startswith("TELESCOPE_TIMED_GUIDE"):
            # A pulse of 0 ms moves nothing.
            if not any(_nonzero(v) for _, v in items):
                return None
        return rule["*"] if items else None
    for element, value in items:
        verb = rule.get(element)
        if verb is not None and _switch_on(value):
            return verb
    return None


def _nonzero(value: Any) -> bool:
    try:
        return float(value) != 0
    except (TypeError, ValueError):
        return True  # not a number: the client's check refuses it anyway


def _coord_set_is_sync(client: INDIClient, device: str) -> bool:
    dev = client.devices.get(device)
    prop = dev.properties.get("ON_COORD_SET") if dev is not None else None
    if prop is None or prop.kind is not PropertyKind.SWITCH:
        return False
    sync = prop.elements.get("SYNC")
    return sync is not None and sync.value is SwitchState.ON


def _mount_parking(client: INDIClient, device: str) -> bool:
    dev = client.devices.get(device)
    prop = dev.properties.get("TELESCOPE_PARK") if dev is not None else None
    if prop is None or prop.state is not PropertyState.BUSY:
        return False
    park = prop.elements.get("PARK")
    return park is not None and park.value is SwitchState.ON


def check_hardware_write(
    client: INDIClient,
    device: str,
    name: str,
    values: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    who: str,
    force: bool = False,
) -> None:
    """Refuse a direct write of ``values`` to ``device.name`` that moves
    hardware while the safety policy says unsafe (`UnsafeError`, unless
    ``force``), and an unpark while the mount is parking (`DeviceStateError`,
    forced or not: abort the park first).  A forced write that the policy
    would refuse is logged with ``who`` wrote it (its address, and whether
    it carried the access token)."""
    verb = hardware_move(client, device, name, values)
    if verb is None:
        return
    if verb == "unpark" and name == "TELESCOPE_PARK" and _mount_parking(client, device):
        raise DeviceStateError(
            f"{device} is parking: a write of TELESCOPE_PARK UNPARK would leave it stranded "
            "half-way; wait for the park to end, or abort it (TELESCOPE_ABORT_MOTION) first",
            device=device,
            reason=RefusalReason.PARKING,
        )
    guard = _GUARDS.get(client)
    reason = None if guard is None else guard("", verb)
    if reason is None:
        return
    if force:
        log.warning("forced while unsafe (%s): %s.%s (%s) by %s", reason, device, name, verb, who)
        return
    raise UnsafeError(
        f"{verb} refused: writing {device}.{name} would {verb} while the observatory is "
        f"unsafe ({reason}); pass force to override",
        device=device,
    )
