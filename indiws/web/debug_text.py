"""lightAPT's text commands on ``/ws/debugging/``: ``print`` / ``list``
[role [PROPERTY ...]], answered in the original service's plain text.

lightAPT's debug page sends the line its user typed and appends the answer
to a text area, so the words and layout are those of the service it
replaced (its ``indi_common_printing.py``)::

    List of Device Properties
    -- CCD Simulator
       > CONNECTION type switch
           CONNECT(Connect)= On
           DISCONNECT(Disconnect)= Off

Devices are addressed by role (``telescope``, ``camera``, ``focus``,
``filter``, ``guider``, and ours ``focuser``, ``filter_wheel``), never by
INDI device name.  Everything here reads the client's mirror; nothing is
sent to indiserver.
"""

from __future__ import annotations

from typing import Protocol

from ..client import Device, INDIClient, Property
from ..protocol import PropertyKind, PropertyState, SwitchState
from ..roles import role_named

__all__ = [
    "NOT_A_PROPERTY",
    "NOT_STARTED",
    "WRONG_COMMAND",
    "WRONG_ROLE",
    "answer",
    "device_block",
    "property_block",
]

#: The answers in the original's words (typos and spacing included).
WRONG_COMMAND = "wrong command! only support:\nprint list "
WRONG_ROLE = "Got Wrong device type!! Please check input!"
#: ``.format(args)`` with the Python tuple of the words after the command.
NOT_STARTED = "wrong connection! check your input {!r}"
NOT_A_PROPERTY = "       {} is not a valid property name\n"
HEADER = "List of Device Properties\n"

_COMMANDS = ("print", "list")  # the original treated them the same


class RoleLookup(Protocol):
    def device_for(self, role: str) -> str | None: ...


def answer(text: str, client: INDIClient, roles: RoleLookup) -> str:
    """The text answer to one command line.

    The line is split on any run of whitespace (the original split on single
    spaces only, so a double space or a trailing newline made a valid
    command fail).
    """
    words = text.split()
    if not words or words[0] not in _COMMANDS:
        return WRONG_COMMAND
    args = words[1:]
    if not args:
        return HEADER + "".join(device_block(d) for d in client.devices.values())
    role = role_named(args[0])
    if role is None:
        return WRONG_ROLE
    device_name = roles.device_for(role)
    device = client.devices.get(device_name) if device_name is not None else None
    if device is None:
        # The role holds no device, or its device is not on indiserver now.
        return NOT_STARTED.format(tuple(args))
    if len(args) == 1:
        return device_block(device)
    # One or more property names (the original answered nothing for more
    # than one, although its printing function takes several).
    return "".join(_property_or_complaint(device, prop) for prop in args[1:])


def device_block(device: Device) -> str:
    return f"-- {device.name}\n" + "".join(property_block(p) for p in device.properties.values())


def property_block(prop: Property) -> str:
    lines = [f"   > {prop.name} type {prop.kind.value.lower()}\n"]
    lines.extend(
        f"       {el.name}({el.label})= {_value(prop.kind, el.value, el.size)}\n"
        for el in prop.elements.values()
    )
    return "".join(lines)


def _property_or_complaint(device: Device, name: str) -> str:
    prop = device.properties.get(name)
    return NOT_A_PROPERTY.format(name) if prop is None else property_block(prop)


def _value(kind: PropertyKind, value: object, size: int | None) -> str:
    if kind is PropertyKind.NUMBER:
        return str(float(value))  # type: ignore[arg-type]  # Python's repr, as the original
    if kind is PropertyKind.SWITCH:
        return "On" if value is SwitchState.ON else "Off"
    if kind is PropertyKind.LIGHT:
        return value.value if isinstance(value, PropertyState) else str(value)
    if kind is PropertyKind.BLOB:
        if size is None:
            size = len(value) if isinstance(value, bytes) else 0
        return f"<blob {size} bytes>"
    return "" if value is None else str(value)
