"""The property stream ``/ws/debugging/`` and the BLOB download endpoint.

``/ws/debugging/`` shows every property of every device (or of one device,
or one property) with its current values: a ``snapshot`` notification
first, then one notification per definition, update, deletion, device
message and indiserver connection change, as JSON that maps INDI one to
one.  The filter comes from the URL query (``?device=..&property=..``) and
can be changed later with the JSON-RPC ``subscribe`` request.

The same socket answers lightAPT's text commands (``print``, ``list``
[role [PROPERTY]], see `debug_text`) in plain text, and a client that
speaks only those sees nothing else: the JSON stream starts when the URL
asks for it (``device``, ``property`` or ``stream=1``) or at the socket's
first JSON-RPC request, never at a bare connect.

Fan-out is done once per service by a `StreamHub`: it subscribes to the
INDI client once, serialises each event to JSON once, and hands the same
WebSocket frame (`outbox.Frame`) to the outbox of every socket whose filter
matches.  Updates carry the whole property, keyed by ``(device, property)``,
so the outbox of a slow client keeps only the latest state of each property
and loses nothing but intermediate values; the notification it gets then
says how many it missed (``"superseded": n`` in its params).

BLOB values never travel inside JSON: a BLOB element carries its ``format``,
``size`` and a ``url`` of ``GET /api/v1/devices/<device>/properties/<property>
/elements/<element>/blob``, which serves the bytes the mirror holds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Hashable
from typing import Any, Literal, Protocol
from urllib.parse import quote

from ..blobs import content_type
from ..client import Event, EventType, INDIClient, INDIError, Property, UnknownElementError
from ..protocol import PropertyKind
from ..service import Service
from ..verbs import UNSET, Described, Result, UnsetType
from . import debug_text
from .base import JsonHandler, dumps, error_body
from .errors import APIError, invalid_params, register
from .jsonrpc import JsonRpcSocket, rpc
from .outbox import Frame, Outbox

__all__ = [
    "OPENAPI_PATHS",
    "OPENAPI_TAGS",
    "BlobHandler",
    "DebuggingSocket",
    "ElementJson",
    "NoBlobDataError",
    "PropertyJson",
    "StreamHub",
    "StreamStatus",
    "WatchFilter",
    "blob_url",
    "property_json",
    "routes",
]

log = logging.getLogger("indiws.web")

BLOB_URL = "/api/v1/devices/{}/properties/{}/elements/{}/blob"


# ---------------------------------------------------------------- JSON shapes


class ElementJson(Result):
    """An element (`Element.to_dict`): a BLOB's format, size and url, or
    another's value; a number's format, range and formatted value too."""

    name: str
    label: str
    value: Described(
        str | float | None | UnsetType,
        "text: a string; number: a number (null: not finite); switch On/Off;"
        " light Idle/Ok/Busy/Alert; absent for a BLOB",
    ) = UNSET
    format: str | None | UnsetType = UNSET
    size: int | None | UnsetType = UNSET
    url: str | UnsetType = UNSET
    min: float | UnsetType = UNSET
    max: float | UnsetType = UNSET
    step: float | UnsetType = UNSET
    formatted: str | UnsetType = UNSET


class PropertyJson(Result):
    """A property as JSON (`property_json`), INDI's attributes one to one."""

    device: str
    name: str
    kind: Literal["Text", "Number", "Switch", "Light", "BLOB"]
    label: str
    group: str
    state: Literal["Idle", "Ok", "Busy", "Alert"]
    perm: Literal["ro", "wo", "rw"]
    rule: Literal["OneOfMany", "AtMostOne", "AnyOfMany"] | None
    timeout: float
    timestamp: str | None
    message: str | None
    elements: list[ElementJson]


class WatchFilter(Result):
    """A change-notification filter: a device (null: all), a property (null: all of it)."""

    device: str | None
    property: str | None


class StreamStatus(WatchFilter):
    """``/ws/debugging/``'s ``status``: the filter and the send queue."""

    connected: bool
    #: Messages waiting to be sent, and the most that may wait.
    pending: int
    max_pending: int
    sent: int
    coalesced: int


def blob_url(device: str, name: str, element: str) -> str:
    """Path of the HTTP endpoint serving a BLOB element's bytes (names URL-encoded)."""
    return BLOB_URL.format(quote(device, safe=""), quote(name, safe=""), quote(element, safe=""))


def property_json(prop: Property) -> dict[str, Any]:
    """A property as JSON: `Property.to_dict` plus a ``url`` on BLOB elements."""
    data = prop.to_dict()
    if prop.kind is PropertyKind.BLOB:
        for element in data["elements"]:
            element["url"] = blob_url(prop.device, prop.name, element["name"])
    return data


def notification(method: str, params: Any) -> str:
    """A JSON-RPC 2.0 notification, serialised."""
    return dumps({"jsonrpc": "2.0", "method": method, "params": params})


def snapshot_params(client: INDIClient, device: str | None, name: str | None) -> dict[str, Any]:
    """The ``snapshot`` notification's params for a filter."""
    if device is None:
        props = [p for d in client.devices.values() for p in d.properties.values()]
    else:
        dev = client.devices.get(device)
        if dev is None:
            props = []
        elif name is None:
            props = list(dev.properties.values())
        else:
            prop = dev.properties.get(name)
            props = [prop] if prop is not None else []
    return {
        "connected": client.connected,
        "indiserver": f"{client.host}:{client.port}",
        "indiserver_error": client.last_error,
        "device": device,
        "property": name,
        "devices": sorted(client.devices if device is None else {device} & client.devices.keys()),
        "properties": [property_json(p) for p in props],
    }


# ---------------------------------------------------------------- fan-out


class StreamSink(Protocol):
    """A consumer of the hub: anything with an `Outbox`."""

    outbox: Outbox


#: A sink's filter: (device, property); None means "all".
Filter = tuple[str | None, str | None]


class StreamHub:
    """One per application (its `WebState`): fans INDI events out to the
    property-stream sockets.

    Each event is serialised and framed once; the same bytes go to every
    matching sink's outbox.  Property events are keyed ``(device, name)`` so that a
    slow client's outbox coalesces them; device messages, whole-device
    deletions and connection events are not keyed (the outbox bounds them).
    """

    def __init__(self, client: INDIClient) -> None:
        self.client = client
        self._filters: dict[StreamSink, Filter] = {}
        # Indexes by filter, as insertion-ordered sets (dicts with None values).
        self._all: dict[StreamSink, None] = {}
        self._by_device: dict[str, dict[StreamSink, None]] = {}
        self._by_property: dict[tuple[str, str], dict[StreamSink, None]] = {}
        # Sinks with a device or property filter on a device: its messages
        # and its deletion reach them.
        self._device_any: dict[str, dict[StreamSink, None]] = {}
        self.stats = {"events": 0, "serialised": 0, "sends": 0}
        self._subscription = client.subscribe(self._on_event)

    def close(self) -> None:
        self._subscription.close()
        for sink in list(self._filters):
            self.remove(sink)

    # Registration -------------------------------------------------------

    @property
    def sinks(self) -> dict[StreamSink, Filter]:
        """Every registered sink and its filter (a copy)."""
        return dict(self._filters)

    def add(self, sink: StreamSink, device: str | None = None, name: str | None = None) -> None:
        """Register ``sink`` (or change its filter)."""
        if name is not None and device is None:
            raise ValueError("a property filter needs its device")
        self.remove(sink)
        self._filters[sink] = (device, name)
        if device is None:
            self._all[sink] = None
            return
        self._device_any.setdefault(device, {})[sink] = None
        if name is None:
            self._by_device.setdefault(device, {})[sink] = None
        else:
            self._by_property.setdefault((device, name), {})[sink] = None

    def remove(self, sink: StreamSink) -> None:
        old = self._filters.pop(sink, None)
        if old is None:
            return
        device, name = old
        self._all.pop(sink, None)
        if device is None:
            return
        _discard(self._device_any, device, sink)
        if name is None:
            _discard(self._by_device, device, sink)
        else:
            _discard(self._by_property, (device, name), sink)

    # Dispatch -----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.stats["events"] += 1
        kind = event.type
        device = event.device
        if kind is EventType.UPDATED or kind is EventType.DEFINED:
            assert device is not None and event.name is not None and event.property is not None
            groups = self._property_groups(device, event.name)
            if groups:
                text = notification(kind.value, property_json(event.property))
                self._send(groups, text, (device, event.name))
        elif kind is EventType.DELETED:
            assert device is not None
            params = {
                "device": device,
                "name": event.name,
                "timestamp": event.timestamp,
                "message": event.message,
            }
            if event.name is not None:
                groups = self._property_groups(device, event.name)
                key: Hashable | None = (device, event.name)
            else:
                groups = [g for g in (self._all, self._device_any.get(device)) if g]
                key = None  # whole device: never coalesced, keeps its place
            if groups:
                self._send(groups, notification("deleted", params), key)
        elif kind is EventType.MESSAGE:
            if device is None:
                groups = [self._filters] if self._filters else []
            else:
                groups = [g for g in (self._all, self._device_any.get(device)) if g]
            if groups:
                params = {"device": device, "timestamp": event.timestamp, "message": event.message}
                self._send(groups, notification("message", params), None)
        elif self._filters:  # connected, connection_lost, connection_restored
            params = {"devices": list(event.devices)}
            if kind is EventType.CONNECTION_RESTORED:
                params["missing"] = list(event.missing)
            self._send([self._filters], notification(kind.value, params), None)

    def _property_groups(self, device: str, name: str) -> list[dict[StreamSink, Any]]:
        groups: list[dict[StreamSink, Any]] = []
        if self._all:
            groups.append(self._all)
        by_device = self._by_device.get(device)
        if by_device:
            groups.append(by_device)
        by_property = self._by_property.get((device, name))
        if by_property:
            groups.append(by_property)
        return groups

    def _send(self, groups: list[dict[StreamSink, Any]], text: str, key: Hashable | None) -> None:
        self.stats["serialised"] += 1
        frame = Frame(text, counted=key is not None)
        sends = 0
        for group in groups:
            # A sink may close (and unregister) while we send: iterate a copy.
            for sink in tuple(group):
                try:
                    sink.outbox.send(frame, key)
                except Exception:  # one broken socket must not starve the others
                    log.exception("property stream: send failed")
                sends += 1
        self.stats["sends"] += sends


def _discard(index: dict[Any, dict[StreamSink, None]], key: Any, sink: StreamSink) -> None:
    group = index.get(key)
    if group is not None:
        group.pop(sink, None)
        if not group:
            del index[key]


# ---------------------------------------------------------------- handlers


def _filter_from(device: Any, name: Any) -> Filter:
    for label, value in (("device", device), ("property", name)):
        if value is not None and (not isinstance(value, str) or not value):
            raise invalid_params(f"{label!r} must be a non-empty string", param=label)
    if name is not None and device is None:
        raise invalid_params("a property filter needs its device", param="device")
    return device, name


_YES = ("", "1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


def _stream_flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise invalid_params(f"'stream' must be 1 or 0 (true or false), got {value!r}", param="stream")


def _is_text_command(message: str) -> bool:
    """A text frame that is not JSON-RPC: JSON-RPC frames are objects or
    arrays, lightAPT's commands are words (``print camera``)."""
    return not message.lstrip().startswith(("{", "["))


class DebuggingSocket(JsonRpcSocket):
    """``/ws/debugging/``: snapshot, then every change, of all devices, one
    device or one property; and lightAPT's text commands, answered in text."""

    hub: StreamHub

    def initialize(self, service: Service) -> None:  # type: ignore[override]
        super().initialize(service)
        self.hub = self.state.get(StreamHub)
        self.filter: Filter = (None, None)
        #: Send the snapshot at open (the URL asked for the stream).
        self.stream_at_open = False
        #: The snapshot went out and the hub sends this socket every change.
        self.streaming = False

    def prepare(self) -> None:
        # Reject a bad filter before the upgrade, with a JSON error.
        try:
            self.filter = _filter_from(
                self.get_query_argument("device", None) or None,
                self.get_query_argument("property", None) or None,
            )
            asked = {"device", "property"} & self.request.query_arguments.keys()
            self.stream_at_open = _stream_flag(
                self.get_query_argument("stream", None), default=bool(asked)
            )
        except APIError as err:
            self.set_status(err.status)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(dumps({"error": error_body(err)}))

    def opened(self) -> None:
        if self.stream_at_open:
            self._send_snapshot()

    def closed(self) -> None:
        self.hub.remove(self)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        if isinstance(message, str) and _is_text_command(message):
            # A text frame always gets a text answer, also once JSON flows.
            self.send_text(debug_text.answer(message, self.hub.client, self.service.roles))
            return self._next_message()
        # Tornado waits on what this returns before it reads the next message
        # (one message per turn of the loop, a batch started first): a burst
        # from one client never holds up the others.
        return super().on_message(message)

    def on_json(self, data: Any) -> None:
        # The first JSON-RPC request starts the stream; a subscribe starts it
        # itself, with the filter it asks for (one snapshot, not two).
        if not self.streaming and not (
            isinstance(data, dict) and data.get("method") == "subscribe"
        ):
            self._send_snapshot()
        super().on_json(data)

    def _send_snapshot(self) -> None:
        device, name = self.filter
        # Snapshot and registration in one step: no event can fall between.
        self.outbox.send(notification("snapshot", snapshot_params(self.hub.client, device, name)))
        self.hub.add(self, device, name)
        self.streaming = True

    @rpc("subscribe", events=("snapshot",), result=WatchFilter)
    async def rpc_subscribe(self, device: str | None = None, property: str | None = None) -> dict:
        """Change the filter: all devices, one device, or one property.

        Sends a fresh ``snapshot`` notification for the new filter (before
        this answer); every notification after it follows the new filter.
        """
        self.filter = _filter_from(device, property)
        self._send_snapshot()
        return {"device": device, "property": property}

    @rpc("status", result=StreamStatus)
    async def rpc_status(self) -> dict:
        """The current filter and this connection's send-queue figures."""
        device, name = self.filter
        return {
            "device": device,
            "property": name,
            "connected": self.hub.client.connected,
            "pending": self.outbox.pending,
            "max_pending": self.outbox.max_pending,
            **self.outbox.stats,
        }


class NoBlobDataError(INDIError, LookupError):
    """The BLOB element exists but no bytes have been received for it yet."""

    def __init__(self, device: str, name: str, element: str) -> None:
        super().__init__(
            f"no BLOB received yet for {device}.{name}.{element}"
            " (BLOBs flow after enable_blobs on /ws/indi/)"
        )
        self.device, self.name, self.element = device, name, element


register(NoBlobDataError, 404, -32016, "no_blob_data")


class BlobHandler(JsonHandler):
    """``GET /api/v1/devices/<device>/properties/<property>/elements/<element>/blob``:
    the bytes of the last BLOB the service received for that element."""

    async def get(self, device: str, name: str, element: str) -> None:
        # Tornado has already %-decoded the path arguments.
        prop = self.service.client.get_property(device, name)
        if prop.kind is not PropertyKind.BLOB:
            raise invalid_params(
                f"{device}.{name} is a {prop.kind.value} property, not a BLOB",
                device=device,
                property=name,
            )
        el = prop.elements.get(element)
        if el is None:
            raise UnknownElementError(device, name, element, prop.elements)
        data = el.value
        if not isinstance(data, bytes):
            raise NoBlobDataError(device, name, element)
        fmt = el.format or ""
        filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{name}_{element}")
        self.set_header("Content-Type", content_type(fmt))
        self.set_header("Content-Disposition", f'attachment; filename="{filename}{fmt}"')
        self.set_header("X-INDI-Format", fmt)
        if prop.timestamp:
            self.set_header("X-INDI-Timestamp", prop.timestamp)
        self.set_header("Content-Length", str(len(data)))
        view = memoryview(data)
        chunk = 1 << 20
        # Chunks with flushes: a 40 MB frame is never copied whole into the
        # write buffer, and a slow reader holds at most one chunk.
        for start in range(0, len(view), chunk):
            self.write(bytes(view[start : start + chunk]))
            await self.flush()
        self.finish()


def routes(service: Service) -> list:
    args = {"service": service}
    return [
        (r"/ws/debugging/?", DebuggingSocket, args),
        (
            r"/api/v1/devices/([^/]+)/properties/([^/]+)/elements/([^/]+)/blob/?",
            BlobHandler,
            args,
        ),
    ]


# ---------------------------------------------------------------- OpenAPI

_NAME_PARAMS = [
    ("device", "INDI device name, percent-encoded (`CCD%20Simulator`).", "CCD Simulator"),
    ("property", "INDI property (vector) name.", "CCD1"),
    ("element", "INDI element name.", "CCD1"),
]

OPENAPI_TAGS: list[dict[str, str]] = [
    {"name": "websocket", "description": "WebSockets; their messages are in docs/websockets.md."},
]

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/ws/debugging/": {
        "get": {
            "summary": "Property stream (WebSocket): snapshot, then every change",
            "description": "A WebSocket speaking JSON-RPC 2.0. A `snapshot` "
            "notification with the current properties of the filter (all devices, one "
            "device, one property), then `defined`, `updated`, `deleted`, `message`, "
            "`connection_lost` and `connection_restored` notifications. The stream starts "
            "at open when the URL has `device`, `property` or `stream=1`, else at the "
            "first JSON-RPC request (a bare connection sends nothing until asked). The "
            "`subscribe` request changes the filter. Text frames are lightAPT's commands "
            "(`print`, `list` [role [PROPERTY]]), answered in plain text. Messages are "
            "documented in docs/websockets.md and docs/lightapt.md.",
            "tags": ["websocket"],
            "operationId": "ws_debugging",
            "parameters": [
                {
                    "name": "device",
                    "in": "query",
                    "required": False,
                    "description": "Only this device (default: all devices).",
                    "schema": {"type": "string"},
                    "example": "Telescope Simulator",
                },
                {
                    "name": "property",
                    "in": "query",
                    "required": False,
                    "description": "Only this property of `device` (needs `device`).",
                    "schema": {"type": "string"},
                    "example": "EQUATORIAL_EOD_COORD",
                },
                {
                    "name": "stream",
                    "in": "query",
                    "required": False,
                    "description": "`1` (also `true`, `yes`, `on`, or empty): start the "
                    "stream at open; `0` (also `false`, `no`, `off`): wait for the first "
                    "JSON-RPC request. Default: start at open when `device` or `property` is "
                    "given, else wait (a bare connection sends nothing until asked).",
                    "schema": {"type": "string"},
                    "example": "1",
                },
            ],
            "responses": {
                "101": {"description": "Switching Protocols: the WebSocket is open."},
                "400": {
                    "description": "Not a WebSocket handshake, a property filter "
                    "without its device, or a bad `stream` value (JSON error body)."
                },
                "403": {"description": "Origin not allowed."},
            },
        }
    },
    "/api/v1/devices/{device}/properties/{property}/elements/{element}/blob": {
        "get": {
            "summary": "Download the last BLOB received for a BLOB element",
            "description": "The bytes of the last BLOB (e.g. a camera frame) the service "
            "received for this element, as they came from the driver. The content type "
            "follows the INDI format (`.fits` → `application/fits`, `.jpg` → "
            "`image/jpeg`, else `application/octet-stream`); the format is also in the "
            "`X-INDI-Format` header. BLOBs flow only after `enable_blobs` (on /ws/indi/) "
            "for the device; before the first one the answer is 404 `no_blob_data`. "
            "BLOB elements in the WebSocket JSON carry this URL.",
            "tags": ["devices"],
            "operationId": "get_blob",
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": text,
                    "schema": {"type": "string"},
                    "example": example,
                }
                for name, text, example in _NAME_PARAMS
            ],
            "responses": {
                "200": {
                    "description": "The BLOB's bytes.",
                    "headers": {
                        "X-INDI-Format": {
                            "description": "INDI format of the BLOB (`.fits`, ...).",
                            "schema": {"type": "string"},
                        }
                    },
                    "content": {
                        "application/fits": {"schema": {"type": "string", "format": "binary"}},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    },
}
