"""An asyncio INDI client with a live mirror of every device and property.

One `INDIClient` holds one TCP connection to an indiserver.  It asks for
every property, keeps the mirror (`client.devices`) up to date, publishes
`Event` values to subscribers, sends new values after checking them against
the property's definition, and waits for a property to leave ``Busy``.
When the server goes away it reconnects with backoff and rebuilds the
mirror, telling subscribers what was lost and what came back.

    async with INDIClient("localhost", 7624) as client:
        await client.set_property("Telescope Simulator", "CONNECTION", {"CONNECT": True})
        prop = await client.set_property(
            "Telescope Simulator", "EQUATORIAL_EOD_COORD", {"RA": 5.5, "DEC": 20},
            wait=True, timeout=120,
        )
        print(prop.state)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .protocol import (
    BLOBMode,
    DefBLOB,
    DefLight,
    DefNumber,
    DefSwitch,
    DefText,
    DefVector,
    DelProperty,
    Message,
    OneBLOB,
    Parser,
    Permission,
    PropertyKind,
    PropertyState,
    ProtocolError,
    SetVector,
    SwitchRule,
    SwitchState,
    enable_blob_bytes,
    first_xml_illegal,
    format_number,
    get_properties_bytes,
    new_vector_bytes,
    parse_number,
)

__all__ = [
    "Device",
    "Element",
    "Event",
    "EventType",
    "INDIClient",
    "INDIError",
    "InvalidValueError",
    "NotConnectedError",
    "Property",
    "PropertyDeletedError",
    "PropertyTimeoutError",
    "ReadOnlyPropertyError",
    "Subscription",
    "UnknownDeviceError",
    "UnknownElementError",
    "UnknownPropertyError",
    "ValueTooLargeError",
]

#: Longest text value `INDIClient.validate` passes (characters): names,
#: paths, FITS keywords and driver options are far shorter; anything longer
#: is refused before it is sent (BLOBs carry large data).
MAX_TEXT_LENGTH = 64 * 1024
#: Longest string taken as a number ("-12:30:45.5" needs a dozen).
_MAX_NUMBER_TEXT = 64

log = logging.getLogger("indiws.client")

# ---------------------------------------------------------------- errors


class INDIError(Exception):
    """Base of the errors this client raises."""


class NotConnectedError(INDIError, ConnectionError):
    """There is no connection to the indiserver right now."""


class UnknownDeviceError(INDIError, LookupError):
    def __init__(self, device: str, message: str | None = None) -> None:
        super().__init__(message or f"unknown device {device!r}")
        self.device = device


class UnknownPropertyError(INDIError, LookupError):
    def __init__(self, device: str, name: str) -> None:
        super().__init__(f"device {device!r} has no property {name!r}")
        self.device, self.name = device, name


class UnknownElementError(INDIError, LookupError):
    def __init__(self, device: str, name: str, element: str, known: Iterable[str]) -> None:
        super().__init__(
            f"property {device}.{name} has no element {element!r} (it has: {', '.join(known)})"
        )
        self.device, self.name, self.element = device, name, element


class ReadOnlyPropertyError(INDIError, PermissionError):
    def __init__(self, device: str, name: str) -> None:
        super().__init__(f"property {device}.{name} is read-only")
        self.device, self.name = device, name


class InvalidValueError(INDIError, ValueError):
    """A value does not fit the property's definition (type, range, switch rule).

    ``param``: the verb's parameter it concerns, where one does (``ra``),
    for a front that words each parameter its own way."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ValueTooLargeError(InvalidValueError):
    """A text value longer than any INDI property needs (`MAX_TEXT_LENGTH`)."""


class PropertyTimeoutError(INDIError, TimeoutError):
    """A wait on a property ran out; ``prop`` is its state at that moment."""

    def __init__(self, prop: Property, timeout: float) -> None:
        where = f"{prop.device}.{prop.name}"
        if prop.state is PropertyState.BUSY:
            text = f"property {where} still Busy after {timeout:g} s"
        else:
            text = (
                f"no answer from the driver for {where} within {timeout:g} s"
                f" (state {prop.state.value})"
            )
        super().__init__(text)
        self.prop = prop
        self.timeout = timeout


class PropertyDeletedError(INDIError):
    """The property (or its device, or the connection) went away during a wait."""


# ---------------------------------------------------------------- mirror


@dataclass(slots=True)
class Element:
    """One element of a property.

    ``value`` is a str (text), float (number), `SwitchState` (switch),
    `PropertyState` (light) or, for a BLOB, the last bytes received (None
    before any).  Number elements also carry ``format``, ``min``, ``max``,
    ``step``; BLOB elements carry ``format`` (``.fits``...) and ``size``.
    """

    name: str
    label: str
    value: Any
    format: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    size: int | None = None

    def formatted(self) -> str:
        """The value as the driver's format says to show it."""
        if isinstance(self.value, float) and self.format:
            return format_number(self.value, self.format)
        if isinstance(self.value, bytes):
            return f"<{len(self.value)} bytes {self.format or ''}>"
        return "" if self.value is None else str(self.value)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "label": self.label}
        if isinstance(self.value, bytes) or self.size is not None:
            d["format"] = self.format
            d["size"] = self.size
        else:
            v = self.value
            if isinstance(v, float) and not math.isfinite(v):
                v = None  # JSON has no NaN/inf
            d["value"] = v.value if isinstance(v, enum.Enum) else v
        if self.min is not None:
            d.update(format=self.format, min=self.min, max=self.max, step=self.step)
            d["formatted"] = self.formatted()
        return d


@dataclass(slots=True)
class Property:
    device: str
    name: str
    kind: PropertyKind
    label: str
    group: str
    state: PropertyState
    perm: Permission
    rule: SwitchRule | None
    timeout: float
    timestamp: str | None
    message: str | None
    elements: dict[str, Element] = field(default_factory=dict)

    def __getitem__(self, element: str) -> Any:
        return self.elements[element].value

    def values(self) -> dict[str, Any]:
        return {name: el.value for name, el in self.elements.items()}

    def on_switches(self) -> list[str]:
        """Names of the switch elements that are On."""
        return [n for n, el in self.elements.items() if el.value is SwitchState.ON]

    @property
    def busy(self) -> bool:
        return self.state is PropertyState.BUSY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form mapping INDI one to one (BLOB bytes left out)."""
        return {
            "device": self.device,
            "name": self.name,
            "kind": self.kind.value,
            "label": self.label,
            "group": self.group,
            "state": self.state.value,
            "perm": self.perm.value,
            "rule": self.rule.value if self.rule else None,
            "timeout": self.timeout,
            "timestamp": self.timestamp,
            "message": self.message,
            "elements": [el.to_dict() for el in self.elements.values()],
        }


@dataclass(slots=True)
class Device:
    name: str
    properties: dict[str, Property] = field(default_factory=dict)
    #: The last messages the device sent: (timestamp, text), oldest first.
    messages: collections.deque[tuple[str | None, str]] = field(
        default_factory=lambda: collections.deque(maxlen=200)
    )
    #: Event-loop time a property of the device was last defined or deleted.
    last_changed: float = 0.0

    def __getitem__(self, name: str) -> Property:
        return self.properties[name]

    @property
    def connected(self) -> bool:
        conn = self.properties.get("CONNECTION")
        return bool(conn and conn.elements.get("CONNECT") and conn["CONNECT"] is SwitchState.ON)

    @property
    def driver_info(self) -> dict[str, str]:
        prop = self.properties.get("DRIVER_INFO")
        return {n: str(v) for n, v in prop.values().items()} if prop else {}

    @property
    def interfaces(self) -> int:
        """DRIVER_INTERFACE bitmask (telescope 1, CCD 2, focuser 8, filter 16, ...)."""
        try:
            return int(self.driver_info.get("DRIVER_INTERFACE", "0"))
        except ValueError:
            return 0


# ---------------------------------------------------------------- events


class EventType(enum.StrEnum):
    DEFINED = "defined"
    UPDATED = "updated"
    DELETED = "deleted"  # a property, or a whole device when name is None
    MESSAGE = "message"
    CONNECTED = "connected"  # first connection, initial definitions received
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"


@dataclass(slots=True)
class Event:
    type: EventType
    device: str | None = None
    name: str | None = None
    #: The property (the live mirror object; for DELETED, its last state).
    property: Property | None = None
    #: Element names that changed (UPDATED).
    changed: tuple[str, ...] = ()
    message: str | None = None
    timestamp: str | None = None
    #: CONNECTION_LOST: devices lost; CONNECTED/RESTORED: devices present.
    devices: tuple[str, ...] = ()
    #: CONNECTION_RESTORED: devices present before the loss and not back.
    missing: tuple[str, ...] = ()


Listener = Callable[[Event], Any]
_CONNECTION_EVENTS = (EventType.CONNECTED, EventType.CONNECTION_LOST, EventType.CONNECTION_RESTORED)


class Subscription:
    """Handle returned by `INDIClient.subscribe`; `close()` stops delivery."""

    __slots__ = ("_client", "_key", "callback", "closed")

    def __init__(self, client: INDIClient, key: tuple[str | None, str | None], cb: Listener):
        self._client, self._key, self.callback = client, key, cb
        self.closed = False

    def close(self) -> None:
        self.closed = True
        listeners = self._client._listeners.get(self._key)
        if listeners and self in listeners:
            listeners.remove(self)
            if not listeners:
                del self._client._listeners[self._key]

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Protocol(asyncio.Protocol):
    def __init__(self, client: INDIClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.client._on_data(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


# ---------------------------------------------------------------- client


class INDIClient:
    """A connection to one indiserver, with a live mirror of its devices.

    Start it with `connect()` (waits for the connection and the initial
    definitions, raises if the server cannot be reached) or `start()` (keeps
    trying in the background, for a service whose indiserver may come up
    later).  Stop it with `close()`.  After a loss the client reconnects with
    backoff from ``reconnect_min`` to ``reconnect_max`` seconds.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 7624,
        *,
        reconnect: bool = True,
        reconnect_min: float = 0.25,
        reconnect_max: float = 5.0,
        settle: float = 0.3,
        local_address: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        #: The address this end of the connection is bound to (None: the
        #: system's choice); the embedded indiserver admits only its service's.
        self.local_address = local_address
        self.reconnect = reconnect
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.settle = settle
        self.devices: dict[str, Device] = {}
        self._listeners: dict[tuple[str | None, str | None], list[Subscription]] = {}
        self._blob_modes: dict[tuple[str, str | None], BLOBMode] = {}
        self._parser = Parser()
        self._protocol: _Protocol | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._synced = asyncio.Event()
        self._last_def = 0.0
        self._ever_synced = False
        self._lost_devices: tuple[str, ...] = ()
        self._closing = False
        self.last_error: str | None = None
        #: When the attempts to connect began failing (monotonic; None: not failing).
        self._failing_since: float | None = None
        self._failures = 0
        self._next_report = 0.0
        self.stats = collections.Counter[str]()

    # Lifecycle ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def link_status(self) -> dict[str, Any]:
        """The connection to indiserver: {host, port, connected, last_error
        (why the last attempt failed), failing_for (seconds the attempts have
        been failing), attempts (failed ones since)}."""
        failing = self._failing_since
        return {
            "host": self.host,
            "port": self.port,
            "connected": self.connected,
            "last_error": self.last_error,
            "failing_for": None if failing is None else round(time.monotonic() - failing, 1),
            "attempts": self._failures,
        }

    def _connect_failed(self, exc: OSError) -> None:
        """Say that an attempt failed: at once the first time (and when the
        reason changes), then less and less often (10 s, 20 s, 40 s, ... up
        to every 10 minutes), as a warning; the other attempts at debug level."""
        now = time.monotonic()
        reason = str(exc) or type(exc).__name__
        changed = reason != self.last_error
        self.last_error = reason
        self._failures += 1
        if self._failing_since is None:
            self._failing_since, self._next_report = now, now + 10.0
            log.warning(
                "cannot reach indiserver at %s:%s: %s (retrying)", self.host, self.port, reason
            )
            return
        if changed or now >= self._next_report:
            since = now - self._failing_since
            self._next_report = now + min(max(since, 10.0), 600.0)
            log.warning(
                "still cannot reach indiserver at %s:%s after %.0f s (%d attempts): %s",
                self.host,
                self.port,
                since,
                self._failures,
                reason,
            )
        else:
            log.debug("connect to %s:%s failed: %s", self.host, self.port, reason)

    def start(self) -> None:
        """Begin connecting in the background (and keep reconnecting)."""
        if self._runner is None or self._runner.done():
            self._closing = False
            self._runner = asyncio.create_task(
                self._run(), name=f"indi-client {self.host}:{self.port}"
            )

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and wait for the initial definitions.

        Raises `ConnectionError` when the server cannot be reached within
        ``timeout`` seconds; nothing is left running then.
        """
        self.start()
        try:
            await self.wait_synced(timeout)
        except TimeoutError:
            error = self.last_error
            await self.close()
            raise NotConnectedError(
                f"cannot reach indiserver at {self.host}:{self.port}: {error or 'timed out'}"
            ) from None

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until connected and the initial definitions have arrived."""
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    async def close(self) -> None:
        self._closing = True
        if self._protocol and self._protocol.transport:
            self._protocol.transport.close()
        if self._runner:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        self._connected.clear()
        self._synced.clear()

    async def __aenter__(self) -> INDIClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        delay = self.reconnect_min
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                _, protocol = await loop.create_connection(
                    lambda: _Protocol(self),
                    self.host,
                    self.port,
                    local_addr=None if self.local_address is None else (self.local_address, 0),
                )
            except OSError as exc:
                if not self.reconnect and self._ever_synced:
                    self.last_error = str(exc)
                    return
                self._connect_failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max)
                continue
            self._protocol = protocol
            self._parser = Parser()
            self.last_error = None
            self.stats["connections"] += 1
            if self._failing_since is not None:
                log.info(
                    "connected to indiserver %s:%s after %d failed attempts",
                    self.host,
                    self.port,
                    self._failures,
                )
            else:
                log.info("connected to indiserver %s:%s", self.host, self.port)
            self._failing_since, self._failures = None, 0
            self._connected.set()
            protocol.transport.write(get_properties_bytes())  # type: ignore[union-attr]
            for (device, name), mode in self._blob_modes.items():
                protocol.transport.write(enable_blob_bytes(device, mode, name))  # type: ignore[union-attr]
            self._last_def = loop.time()
            settle = asyncio.create_task(self._announce_when_settled())
            try:
                await protocol.closed
            finally:
                # Also on close(): waiters and subscribers learn the loss.
                settle.cancel()
                self._connection_lost()
            if self._closing or not self.reconnect:
                return
            # After a working connection, retry quickly; failures then back off.
            delay = self.reconnect_min
            await asyncio.sleep(delay)

    async def _announce_when_settled(self) -> None:
        loop = asyncio.get_running_loop()
        # Quiet for `settle` seconds after the last definition: INDI has no
        # end-of-definitions marker.
        while (left := self._last_def + self.settle - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
        present = tuple(self.devices)
        if self._ever_synced:
            missing = tuple(d for d in self._lost_devices if d not in self.devices)
            log.info("indiserver connection restored: %d devices back", len(present))
            self._dispatch(Event(EventType.CONNECTION_RESTORED, devices=present, missing=missing))
        else:
            self._dispatch(Event(EventType.CONNECTED, devices=present))
        self._ever_synced = True
        self._synced.set()

    def _connection_lost(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
        self._connected.clear()
        was_synced = self._synced.is_set()
        self._synced.clear()
        lost = tuple(self.devices)
        if was_synced:
            self._lost_devices = lost
        else:
            # Lost again before the mirror was rebuilt: keep every device
            # that has not come back yet.
            self._lost_devices = tuple(dict.fromkeys(self._lost_devices + lost))
        self.devices = {}
        self.stats["disconnections"] += 1
        if not self._closing:
            log.warning("lost connection to indiserver %s:%s", self.host, self.port)
        self._dispatch(Event(EventType.CONNECTION_LOST, devices=lost))

    # Incoming -----------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        self.stats["bytes_in"] += len(data)
        for msg in self._parser.feed(data):
            try:
                self._apply(msg)
            except Exception:  # one bad message must not kill the connection
                log.exception("error applying INDI message %r", type(msg).__name__)

    def _apply(self, msg: Any) -> None:
        if isinstance(msg, SetVector):
            self._apply_set(msg)
        elif isinstance(msg, DefVector):
            self._apply_def(msg)
        elif isinstance(msg, DelProperty):
            self._apply_del(msg)
        elif isinstance(msg, Message):
            if msg.device and msg.device in self.devices:
                self.devices[msg.device].messages.append((msg.timestamp, msg.message))
            self._dispatch(
                Event(
                    EventType.MESSAGE,
                    msg.device,
                    None,
                    message=msg.message,
                    timestamp=msg.timestamp,
                )
            )
        elif isinstance(msg, ProtocolError) and msg.repaired:
            self.stats["protocol_repairs"] += 1
            log.warning("device %s: %s: %r", msg.device, msg.reason, msg.excerpt[:120])
        elif isinstance(msg, ProtocolError):
            self.stats["protocol_errors"] += 1
            log.warning("skipped bad INDI input (%s): %r", msg.reason, msg.excerpt[:120])
        # getProperties/new*/enableBLOB are for servers; a client ignores them.

    def _apply_def(self, msg: DefVector) -> None:
        self._last_def = asyncio.get_running_loop().time()
        device = self.devices.get(msg.device)
        if device is None:
            device = self.devices[msg.device] = Device(msg.device)
        elements: dict[str, Element] = {}
        for el in msg.elements:
            if isinstance(el, DefNumber):
                elements[el.name] = Element(
                    el.name, el.label, el.value, el.format, el.min, el.max, el.step
                )
            elif isinstance(el, DefBLOB):
                elements[el.name] = Element(el.name, el.label, None, None, size=0)
            elif isinstance(el, DefText | DefSwitch | DefLight):
                elements[el.name] = Element(el.name, el.label, el.value)
        prop = Property(
            msg.device,
            msg.name,
            msg.kind,
            msg.label,
            msg.group,
            msg.state,
            msg.perm,
            msg.rule,
            msg.timeout,
            msg.timestamp,
            msg.message,
            elements,
        )
        device.properties[msg.name] = prop
        device.last_changed = self._last_def
        self.stats["defs"] += 1
        self._dispatch(
            Event(EventType.DEFINED, msg.device, msg.name, prop, timestamp=msg.timestamp)
        )
        if msg.message:
            self._device_message(device, msg.timestamp, msg.message)

    def _apply_set(self, msg: SetVector) -> None:
        device = self.devices.get(msg.device)
        prop = device.properties.get(msg.name) if device else None
        if prop is None or device is None:
            self.stats["orphan_sets"] += 1
            return
        if msg.state is not None:
            prop.state = msg.state
        if msg.timeout is not None:
            prop.timeout = msg.timeout
        prop.timestamp = msg.timestamp or prop.timestamp
        prop.message = msg.message
        changed = []
        elements = prop.elements
        for one in msg.elements:
            el = elements.get(one.name)
            if el is None:
                continue
            if isinstance(one, OneBLOB):
                el.value = one.data
                el.format = one.format
                el.size = len(one.data)
            else:
                el.value = one.value
                if one.min is not None:
                    el.min = one.min
                if one.max is not None:
                    el.max = one.max
                if one.step is not None:
                    el.step = one.step
            changed.append(one.name)
        self.stats["sets"] += 1
        self._dispatch(
            Event(
                EventType.UPDATED,
                msg.device,
                msg.name,
                prop,
                tuple(changed),
                msg.message,
                msg.timestamp,
            )
        )
        if msg.message:
            self._device_message(device, msg.timestamp, msg.message)

    def _device_message(self, device: Device, timestamp: str | None, text: str) -> None:
        device.messages.append((timestamp, text))
        self._dispatch(
            Event(EventType.MESSAGE, device.name, None, message=text, timestamp=timestamp)
        )

    def _apply_del(self, msg: DelProperty) -> None:
        device = self.devices.get(msg.device)
        if device is None:
            return
        if msg.name is None:
            del self.devices[msg.device]
            self._dispatch(
                Event(
                    EventType.DELETED,
                    msg.device,
                    None,
                    message=msg.message,
                    timestamp=msg.timestamp,
                )
            )
            return
        prop = device.properties.pop(msg.name, None)
        if prop is not None:
            device.last_changed = asyncio.get_running_loop().time()
            self._dispatch(
                Event(
                    EventType.DELETED,
                    msg.device,
                    msg.name,
                    prop,
                    message=msg.message,
                    timestamp=msg.timestamp,
                )
            )
        if not device.properties:
            # Drivers delete a device property by property when they stop.
            del self.devices[msg.device]
            self._dispatch(Event(EventType.DELETED, msg.device, None, timestamp=msg.timestamp))

    # Subscriptions ------------------------------------------------------

    def subscribe(
        self, callback: Listener, *, device: str | None = None, name: str | None = None
    ) -> Subscription:
        """Call ``callback(event)`` for events of all devices, one device, or one property.

        Connection events (connected, lost, restored) reach every
        subscriber.  The callback runs on the event loop and must not block;
        an exception in it is logged and does not reach other subscribers.
        """
        if name is not None and device is None:
            raise ValueError("a property subscription needs its device")
        sub = Subscription(self, (device, name), callback)
        self._listeners.setdefault((device, name), []).append(sub)
        return sub

    async def events(
        self, *, device: str | None = None, name: str | None = None, maxsize: int = 10000
    ) -> AsyncIterator[Event]:
        """Iterate over events (same filters as `subscribe`).

        The queue is bounded: a consumer that falls ``maxsize`` events behind
        loses the oldest ones, counted in ``stats['events_dropped']``.
        """
        queue: collections.deque[Event] = collections.deque(maxlen=maxsize)
        ready = asyncio.Event()

        def push(event: Event) -> None:
            if len(queue) == maxsize:
                self.stats["events_dropped"] += 1
            queue.append(event)
            ready.set()

        with self.subscribe(push, device=device, name=name):
            while True:
                while queue:
                    yield queue.popleft()
                ready.clear()
                await ready.wait()

    def _dispatch(self, event: Event) -> None:
        listeners = self._listeners
        if not listeners:
            return
        if event.type in _CONNECTION_EVENTS:
            targets = [s for subs in listeners.values() for s in subs]
        else:
            targets = list(listeners.get((None, None), ()))
            if event.device is not None:
                targets.extend(listeners.get((event.device, None), ()))
                if event.name is not None:
                    targets.extend(listeners.get((event.device, event.name), ()))
                elif event.type is EventType.DELETED:
                    # A whole device went: tell its property subscribers too.
                    for (dev, prop), subs in listeners.items():
                        if dev == event.device and prop is not None:
                            targets.extend(subs)
        for sub in targets:
            if sub.closed:  # closed by an earlier callback of this dispatch
                continue
            try:
                sub.callback(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.type)

    # Lookups ------------------------------------------------------------

    def get_device(self, device: str) -> Device:
        try:
            return self.devices[device]
        except KeyError:
            raise UnknownDeviceError(device) from None

    def get_property(self, device: str, name: str) -> Property:
        dev = self.get_device(device)
        try:
            return dev.properties[name]
        except KeyError:
            raise UnknownPropertyError(device, name) from None

    async def wait_for_property(self, device: str, name: str, timeout: float = 10.0) -> Property:
        """Wait until ``device.name`` is defined (returns at once if it is)."""
        return await self.wait_for(device, name, lambda p: True, timeout, defined_only=True)

    async def wait_for_device(self, device: str, timeout: float = 10.0) -> Device:
        if device in self.devices:
            return self.devices[device]
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Device] = loop.create_future()

        def check(event: Event) -> None:
            if event.type is EventType.DEFINED and event.device == device and not fut.done():
                fut.set_result(self.devices[device])

        with self.subscribe(check, device=device):
            try:
                async with asyncio.timeout(timeout):
                    return await fut
            except TimeoutError:
                raise TimeoutError(
                    f"device {device!r} did not appear within {timeout:g} s"
                ) from None

    async def wait_for(
        self,
        device: str,
        name: str,
        predicate: Callable[[Property], bool],
        timeout: float | None = 60.0,
        *,
        defined_only: bool = False,
    ) -> Property:
        """Wait until ``predicate(prop)`` holds for ``device.name``.

        Checks the current value first, then every definition and update.
        Raises `PropertyTimeoutError` (or `TimeoutError` if the property was
        never defined) and `PropertyDeletedError` if it goes away.
        """
        prop = self.devices.get(device, Device(device)).properties.get(name)
        if prop is not None and predicate(prop):
            return prop
        fut: asyncio.Future[Property] = asyncio.get_running_loop().create_future()

        def check(event: Event) -> None:
            if fut.done():
                return
            if event.type in (EventType.DEFINED, EventType.UPDATED) and event.name == name:
                if defined_only and event.type is not EventType.DEFINED:
                    return
                assert event.property is not None
                if predicate(event.property):
                    fut.set_result(event.property)
            elif event.type is EventType.DELETED and event.name in (None, name):
                fut.set_exception(PropertyDeletedError(f"{device}.{name} was deleted"))
            elif event.type is EventType.CONNECTION_LOST:
                fut.set_exception(PropertyDeletedError("connection to indiserver lost"))

        return await self._await(fut, check, device, name, timeout)

    async def _await(
        self,
        fut: asyncio.Future[Property],
        check: Listener,
        device: str,
        name: str,
        timeout: float | None,
    ) -> Property:
        with self.subscribe(check, device=device, name=name):
            try:
                async with asyncio.timeout(timeout):
                    return await fut
            except TimeoutError:
                prop = self.devices.get(device, Device(device)).properties.get(name)
                if prop is None:
                    raise TimeoutError(
                        f"{device}.{name} was not defined within {timeout} s"
                    ) from None
                raise PropertyTimeoutError(prop, timeout or 0) from None

    async def wait_device_settled(
        self, device: str, quiet: float = 0.2, timeout: float = 3.0, *, from_now: bool = True
    ) -> Device:
        """Wait until ``device`` has defined or deleted no property for
        ``quiet`` seconds, counted from this call (at most ``timeout``), or
        with ``from_now=False`` from its last change (no wait for a device
        quiet for long).  Drivers define their connected-only properties just
        after CONNECTION goes On (some 50 ms later for the simulators, more
        on a loaded machine), and delete them just after it goes Off; this
        waits for them."""
        loop = asyncio.get_running_loop()
        start = loop.time() if from_now else 0.0
        deadline = start + timeout
        while True:
            dev = self.get_device(device)
            now = loop.time()
            left = min(max(dev.last_changed, start) + quiet, deadline) - now
            if left <= 0:
                return dev
            await asyncio.sleep(left)  # noqa: ASYNC110 - the deadline moves with each change

    async def wait_idle(self, device: str, name: str, timeout: float | None = 60.0) -> Property:
        """Wait until the property is not Busy; returns it (state Ok, Idle or Alert)."""
        return await self.wait_for(
            device, name, lambda p: p.state is not PropertyState.BUSY, timeout
        )

    # Outgoing -----------------------------------------------------------

    def _write(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            raise NotConnectedError(f"not connected to indiserver {self.host}:{self.port}")
        protocol.transport.write(data)
        self.stats["bytes_out"] += len(data)

    async def _drain(self) -> None:
        if self._protocol is not None:
            await self._protocol.writable.wait()

    def validate(self, device: str, name: str, values: Mapping[str, Any]) -> tuple[Property, list]:
        """Check new values against the definition; return the property and
        the normalised ``(element, value)`` pairs.  Raises the client's
        errors (unknown names, read-only, `InvalidValueError`)."""
        if self._protocol is None:
            raise NotConnectedError(f"not connected to indiserver {self.host}:{self.port}")
        prop = self.get_property(device, name)
        if prop.perm is Permission.RO or prop.kind is PropertyKind.LIGHT:
            raise ReadOnlyPropertyError(device, name)
        if not values:
            raise InvalidValueError(f"no values given for {device}.{name}")
        items: list[tuple[str, Any]] = []
        for element, value in values.items():
            el = prop.elements.get(element)
            if el is None:
                raise UnknownElementError(device, name, element, prop.elements)
            try:
                items.append((element, _normalise(prop, el, value)))
            except InvalidValueError as exc:
                # Named in the error's data (device, property, element).
                exc.device, exc.name, exc.element = device, name, element  # type: ignore[attr-defined]
                raise
        if prop.kind in (PropertyKind.NUMBER, PropertyKind.TEXT) and len(items) < len(
            prop.elements
        ):
            # Drivers (libindi's IUUpdateNumber) take a number or text vector
            # whole: an element left out arrives as garbage (ELEV 1.6e-322,
            # saved in the config).  Like KStars, send every element, the
            # ones not given with their current value.
            given = dict(items)
            items = [
                (n, given[n] if n in given else _current(prop, el))
                for n, el in prop.elements.items()
            ]
        if prop.kind is PropertyKind.SWITCH and prop.rule is not SwitchRule.ANY_OF_MANY:
            on = [e for e, v in items if v is SwitchState.ON]
            if len(on) > 1:
                raise InvalidValueError(
                    f"{device}.{name} is {prop.rule.value if prop.rule else ''}: "
                    f"only one switch may be On, got {', '.join(on)}"
                )
            if prop.rule is SwitchRule.ONE_OF_MANY and not on:
                raise InvalidValueError(
                    f"{device}.{name} is OneOfMany: say which switch to turn On "
                    f"(one of {', '.join(prop.elements)})"
                )
        return prop, items

    async def set_property(
        self,
        device: str,
        name: str,
        values: Mapping[str, Any],
        *,
        wait: bool = False,
        timeout: float | None = 60.0,
    ) -> Property:
        """Send new values for ``device.name`` (validated first; nothing is
        sent on error).

        Values: text → str; number → int/float or a sexagesimal string;
        switch → bool or "On"/"Off"; BLOB → ``(bytes, format)``.

        With ``wait=True`` it returns once the driver has answered and the
        property is no longer Busy (state Ok, Idle or Alert: check
        ``prop.state``); `PropertyTimeoutError` if it is still Busy after
        ``timeout`` seconds.
        """
        prop, items = self.validate(device, name, values)
        data = new_vector_bytes(prop.kind, device, name, items)
        if not wait:
            self._write(data)
            await self._drain()
            return prop
        # The property keeps its old state until the driver answers, so the
        # wait looks at updates after sending, not at the current state.
        fut: asyncio.Future[Property] = asyncio.get_running_loop().create_future()

        def check(event: Event) -> None:
            if fut.done():
                return
            if event.type is EventType.UPDATED and event.name == name:
                assert event.property is not None
                if event.property.state is not PropertyState.BUSY:
                    fut.set_result(event.property)
            elif event.type is EventType.DELETED and event.name in (None, name):
                fut.set_exception(PropertyDeletedError(f"{device}.{name} was deleted"))
            elif event.type is EventType.CONNECTION_LOST:
                fut.set_exception(PropertyDeletedError("connection to indiserver lost"))

        with self.subscribe(check, device=device, name=name):
            self._write(data)
            await self._drain()
            return await self._await(fut, lambda e: None, device, name, timeout)

    async def enable_blobs(
        self, device: str, mode: BLOBMode | str = BLOBMode.ALSO, name: str | None = None
    ) -> None:
        """Ask the server to send this device's BLOBs (kept across reconnects)."""
        mode = BLOBMode(mode)
        self._blob_modes[(device, name)] = mode
        if self._protocol is not None:
            self._write(enable_blob_bytes(device, mode, name))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (for tools and tests)."""
        self._write(data)


def _current(prop: Property, el: Element) -> Any:
    """An element's current value as it is sent back (None: never set)."""
    if el.value is None:
        return 0.0 if prop.kind is PropertyKind.NUMBER else ""
    return el.value


def _normalise(prop: Property, el: Element, value: Any) -> Any:
    where = f"{prop.device}.{prop.name}.{el.name}"
    kind = prop.kind
    if kind is PropertyKind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidValueError(f"{where} is a number, got {type(value).__name__}")
        if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
            raise InvalidValueError(f"{where} is a number, got a text of {len(value)} characters")
        try:
            number = parse_number(value) if isinstance(value, str) else float(value)
        except (ValueError, OverflowError):  # OverflowError: an integer of 400 digits
            raise InvalidValueError(f"{where} is a number, got {value!r:.80}") from None
        if not math.isfinite(number):
            raise InvalidValueError(f"{where} must be finite, got {value!r:.80}")
        lo, hi = el.min, el.max
        if lo is not None and hi is not None and hi > lo and not lo <= number <= hi:
            raise InvalidValueError(f"{where} must be within [{lo:g}, {hi:g}], got {number:g}")
        return number
    if kind is PropertyKind.SWITCH:
        if isinstance(value, bool):
            return SwitchState.ON if value else SwitchState.OFF
        if isinstance(value, str):
            for state in SwitchState:
                if value.strip().lower() == state.value.lower():
                    return state
        raise InvalidValueError(
            f'{where} is a switch: give true/false or "On"/"Off", got {value!r:.80}'
        )
    if kind is PropertyKind.TEXT:
        if not isinstance(value, str):
            raise InvalidValueError(f"{where} is text, got {type(value).__name__}")
        if len(value) > MAX_TEXT_LENGTH:
            raise ValueTooLargeError(
                f"{where}: a text value may hold at most {MAX_TEXT_LENGTH} characters,"
                f" got {len(value)}"
            )
        bad = first_xml_illegal(value)
        if bad is not None:
            # The driver would keep it (in its config too), and its echo would
            # be unreadable: INDI is XML, which cannot carry it.
            raise InvalidValueError(
                f"{where}: the text holds U+{ord(bad):04X}, a character INDI (XML) cannot carry"
            )
        return value
    if kind is PropertyKind.BLOB:
        if (
            isinstance(value, tuple | list)
            and len(value) == 2
            and isinstance(value[0], bytes | bytearray | memoryview)
            and isinstance(value[1], str)
        ):
            return (bytes(value[0]), value[1])
        raise InvalidValueError(f"{where} is a BLOB: give (bytes, format)")
    raise ReadOnlyPropertyError(prop.device, prop.name)
