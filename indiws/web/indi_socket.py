"""The low-level WebSocket ``/ws/indi/``: any INDI property, by name.

JSON-RPC 2.0 methods to list devices and properties, read a property, and
set any text, number, switch or BLOB property by device, property and
element names.  ``set`` checks the values against the property's definition
first (nothing is sent when they do not fit), then by default waits until
the driver has answered and the property is no longer Busy, sending
``progress`` notifications meanwhile.  ``watch`` turns on the same change
notifications as ``/ws/debugging/`` on this socket.
"""

from __future__ import annotations

import binascii
import contextvars
import math
from collections import deque
from typing import Any

from ..client import Element, Event, EventType, InvalidValueError, ReadOnlyPropertyError
from ..devices.writes import check_hardware_write
from ..protocol import BLOBMode, Permission, PropertyKind
from ..service import Service
from ..verbs import Described, Result
from .base import requester
from .errors import describe_error, invalid_params
from .jsonrpc import JsonRpcSocket, rpc
from .streams import (
    PropertyJson,
    StreamHub,
    WatchFilter,
    blob_url,
    notification,
    property_json,
    snapshot_params,
)

__all__ = ["OPENAPI_PATHS", "IndiSocket", "routes"]

#: Longest wait a ``set`` may ask for, in seconds.
MAX_TIMEOUT = 24 * 3600.0
#: Device messages kept in a ``set`` answer (the latest ones).
MAX_SET_MESSAGES = 20


class DeviceSummary(Result):
    """A device on the indiserver (`device_summary`)."""

    name: str
    connected: bool
    driver_info: Described(
        dict[str, str], "DRIVER_INFO's elements by name (DRIVER_NAME, DRIVER_EXEC, ...)"
    )
    #: DRIVER_INTERFACE's bitmask (telescope 1, CCD 2, guider 4, focuser 8, ...).
    interfaces: int
    #: The property groups, in the order the driver defined them.
    groups: list[str]
    property_count: int


class DeviceMessage(Result):
    """A message the device sent (its timestamp, null where it gave none)."""

    timestamp: str | None
    message: str


class DeviceDetail(DeviceSummary):
    """One device: its summary, every property, its latest messages (oldest first)."""

    properties: list[PropertyJson]
    messages: list[DeviceMessage]


#: An element's value in ``values`` (what `element_value` gives).
ELEMENT_VALUES = (
    "each element's value by name: text a string, number a number (null: not"
    " finite), switch On/Off, light Idle/Ok/Busy/Alert, BLOB {format, size, url}"
)


class PropertyValues(PropertyJson):
    """A property with its values by element name."""

    values: Described(dict[str, Any], ELEMENT_VALUES)


class SetAnswer(PropertyValues):
    """A property as the driver answered a ``set``, and the device's messages meanwhile."""

    waited: bool
    messages: list[DeviceMessage]
    #: The newest of them, else the property's own message.
    last_message: str | None


class BlobModeSet(Result):
    """BLOBs asked for (Also) or stopped (Never) for a device (and property: null, all)."""

    device: str
    property: str | None
    mode: str


class Unwatched(Result):
    """Whether the socket was watching before."""

    watching: bool


def element_value(prop_device: str, prop_name: str, el: Element) -> Any:
    """An element's value as JSON (a BLOB gives its metadata and URL, never bytes)."""
    value = el.value
    if isinstance(value, bytes) or el.size is not None:
        return {
            "format": el.format,
            "size": el.size,
            "url": blob_url(prop_device, prop_name, el.name),
        }
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return getattr(value, "value", value)  # enums → their INDI spelling


def device_summary(service: Service, name: str) -> dict[str, Any]:
    dev = service.client.get_device(name)
    groups: dict[str, None] = {}
    for prop in dev.properties.values():
        groups.setdefault(prop.group, None)
    return {
        "name": dev.name,
        "connected": dev.connected,
        "driver_info": dev.driver_info,
        "interfaces": dev.interfaces,
        "groups": list(groups),
        "property_count": len(dev.properties),
    }


def _blob_values(device: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """``{"data": base64, "format": ".fits"}`` per element → ``(bytes, format)``."""
    out: dict[str, Any] = {}
    for element, value in values.items():
        where = f"{device}.{name}.{element}"
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("data"), str)
            or not isinstance(value.get("format", ""), str)
            or set(value) - {"data", "format"}
        ):
            raise InvalidValueError(
                f'{where} is a BLOB: give {{"data": "<base64>", "format": ".fits"}}'
            )
        try:
            data = binascii.a2b_base64(value["data"].encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise InvalidValueError(f"{where}: data is not valid base64 ({exc})") from None
        out[element] = (data, value.get("format", ""))
    return out


class IndiSocket(JsonRpcSocket):
    """``/ws/indi/``: JSON-RPC access to every INDI property."""

    hub: StreamHub

    def initialize(self, service: Service) -> None:  # type: ignore[override]
        super().initialize(service)
        self.hub = self.state.get(StreamHub)

    @property
    def max_message_size(self) -> int:
        return self.service.config.max_upload_bytes  # ``set`` may carry a BLOB

    def closed(self) -> None:
        self.hub.remove(self)

    # Reading ------------------------------------------------------------

    @rpc("devices", result=list[DeviceSummary])
    async def rpc_devices(self) -> list:
        """Every device on the indiserver: name, connected, DRIVER_INFO, interfaces."""
        return [device_summary(self.service, name) for name in self.service.client.devices]

    @rpc("device", result=DeviceDetail)
    async def rpc_device(self, device: str) -> dict:
        """One device: its summary, every property and its latest messages."""
        summary = device_summary(self.service, device)
        dev = self.service.client.get_device(device)
        summary["properties"] = [property_json(p) for p in dev.properties.values()]
        summary["messages"] = [
            {"timestamp": ts, "message": text} for ts, text in list(dev.messages)[-50:]
        ]
        return summary

    @rpc("properties", result=list[PropertyJson])
    async def rpc_properties(self, device: str | None = None) -> list:
        """Every property of one device, or of every device when none is given."""
        client = self.service.client
        if device is None:
            devs = list(client.devices.values())
        else:
            devs = [client.get_device(device)]
        return [property_json(p) for d in devs for p in d.properties.values()]

    @rpc("get", result=PropertyValues)
    async def rpc_get(self, device: str, property: str) -> dict:
        """One property with its current state and values."""
        prop = self.service.client.get_property(device, property)
        answer = property_json(prop)
        answer["values"] = {
            n: element_value(device, property, el) for n, el in prop.elements.items()
        }
        return answer

    # Writing ------------------------------------------------------------

    @rpc("set", events=("progress",), result=SetAnswer)
    async def rpc_set(
        self,
        device: str,
        property: str,
        values: dict,
        wait: bool = True,
        timeout: float = 60.0,
        force: bool = False,
    ) -> dict:
        """Set elements of a text, number, switch or BLOB property.

        ``values`` maps element names to values: text → string; number →
        number or sexagesimal string ("5:30:00"); switch → true/false or
        "On"/"Off"; BLOB → {"data": base64, "format": ".fits"}.  The values
        are checked against the definition and nothing is sent if one does
        not fit.  With ``wait`` (the default) the answer comes once the
        property has left Busy (state Ok, Idle or Alert), with ``progress``
        notifications for each Busy update meanwhile; an error ``timeout``
        (-32030) if it is still Busy after ``timeout`` seconds.  A write that
        moves hardware (unpark, coordinates, motion, dome open, ...) is refused
        with ``unsafe`` while the safety policy says unsafe, unless ``force``
        (logged).
        """
        if not 0 < timeout <= MAX_TIMEOUT:  # also refuses NaN
            raise invalid_params(
                f"timeout must be within (0, {MAX_TIMEOUT:g}] seconds", param="timeout"
            )
        client = self.service.client
        prop = client.get_property(device, property)
        try:
            if prop.kind is PropertyKind.BLOB:
                if prop.perm is Permission.RO:
                    raise ReadOnlyPropertyError(device, property)
                values = _blob_values(device, property, values)
            client.validate(device, property, values)  # errors before anything is sent
            check_hardware_write(
                client,
                device,
                property,
                values,
                who=requester(self.request, "/ws/indi/"),
                force=force,
            )
        except InvalidValueError as exc:
            err = describe_error(exc)
            err.data.update(device=device, property=property)
            raise err from None

        messages: deque[dict[str, Any]] = deque(maxlen=MAX_SET_MESSAGES)
        ctx = contextvars.copy_context()  # progress() finds this request's id in it

        def on_event(event: Event) -> None:
            if event.type is EventType.MESSAGE:
                messages.append({"timestamp": event.timestamp, "message": event.message})
            elif (
                wait
                and event.type is EventType.UPDATED
                and event.name == property
                and event.property is not None
                and event.property.busy
            ):
                p = event.property
                ctx.run(
                    self.progress,
                    device=device,
                    name=property,
                    state=p.state.value,
                    values={n: element_value(device, property, el) for n, el in p.elements.items()},
                    timestamp=p.timestamp,
                )

        with client.subscribe(on_event, device=device):
            result = await client.set_property(device, property, values, wait=wait, timeout=timeout)
        return self._answer(result, waited=wait, messages=messages)

    def _answer(self, prop: Any, *, waited: bool, messages: Any) -> dict:
        answer = property_json(prop)
        answer["values"] = {
            n: element_value(prop.device, prop.name, el) for n, el in prop.elements.items()
        }
        msgs = list(messages)
        answer["waited"] = waited
        answer["messages"] = msgs
        answer["last_message"] = msgs[-1]["message"] if msgs else prop.message
        return answer

    @rpc("enable_blobs", result=BlobModeSet)
    async def rpc_enable_blobs(
        self, device: str, mode: str = "Also", property: str | None = None
    ) -> dict:
        """Ask indiserver for a device's BLOBs ("Also"), or stop them ("Never").

        This is for the service's one connection to indiserver, so it holds
        for every client.  Received BLOBs are served by URL (see a BLOB
        element's ``url``), never sent inside JSON.
        """
        try:
            blob_mode = BLOBMode(mode)
        except ValueError:
            raise invalid_params(
                f"mode must be one of {', '.join(m.value for m in BLOBMode)}", param="mode"
            ) from None
        self.service.client.get_device(device)
        await self.service.client.enable_blobs(device, blob_mode, property)
        return {"device": device, "property": property, "mode": blob_mode.value}

    # Change notifications ------------------------------------------------

    @rpc(
        "watch",
        events=(
            "snapshot",
            "defined",
            "updated",
            "deleted",
            "message",
            "connection_lost",
            "connection_restored",
        ),
        result=WatchFilter,
    )
    async def rpc_watch(
        self, device: str | None = None, property: str | None = None, snapshot: bool = True
    ) -> dict:
        """Send change notifications on this socket, as ``/ws/debugging/`` does.

        All devices, one device or one property; a new ``watch`` replaces
        the filter.  With ``snapshot`` a ``snapshot`` notification comes
        first (before this answer).
        """
        if property is not None and device is None:
            raise invalid_params("a property filter needs its device", param="device")
        if snapshot:
            params = snapshot_params(self.service.client, device, property)
            self.outbox.send(notification("snapshot", params))
        self.hub.add(self, device, property)
        return {"device": device, "property": property}

    @rpc("unwatch", result=Unwatched)
    async def rpc_unwatch(self) -> dict:
        """Stop the change notifications started by ``watch``."""
        was = self.hub.sinks.get(self)
        self.hub.remove(self)
        return {"watching": was is not None}


def routes(service: Service) -> list:
    return [(r"/ws/indi/?", IndiSocket, {"service": service})]


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/ws/indi/": {
        "get": {
            "summary": "Low-level WebSocket (JSON-RPC 2.0): read and set any INDI property",
            "description": "Methods `devices`, `device`, `properties`, `get`, `set`, "
            "`enable_blobs`, `watch`, `unwatch` and `rpc.discover`; `set` validates "
            "the values, waits until the property leaves Busy and sends `progress` "
            "notifications meanwhile. Messages are documented in docs/websockets.md.",
            "tags": ["websocket"],
            "operationId": "ws_indi",
            "parameters": [],
            "responses": {
                "101": {"description": "Switching Protocols: the WebSocket is open."},
                "400": {"description": "Not a WebSocket handshake."},
                "403": {"description": "Origin not allowed."},
            },
        }
    }
}
