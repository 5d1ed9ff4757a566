"""The Alpaca front's I/O: a tornado Application on its own port and the UDP
discovery responder (docs/alpaca.md).  Everything it answers comes from the
member tables (`indiws.alpaca.members`) and the wire rules
(`indiws.alpaca.protocol`)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import numpy as np
import tornado.web

from .. import __version__
from ..security import AccessPolicy, RequestFacts, binds_beyond_loopback
from ..web.server import GuardedHTTPServer, connection_cap
from .device import AlpacaDevice
from .members import DEVICE_ROLES, MEMBER_INDEX, MEMBERS, image_pixels
from .protocol import (
    DISCOVERY_MESSAGE,
    IMAGE_BYTES_TYPE,
    NOT_IMPLEMENTED,
    AlpacaError,
    BadRequest,
    RequestIds,
    TransactionCounter,
    discovery_answer,
    dumps,
    envelope,
    error_for,
    image_bytes,
    image_bytes_error,
    parse_ids,
    parse_params,
)

if TYPE_CHECKING:
    from ..service import Service

__all__ = ["AlpacaFront", "AlpacaServer", "DiscoveryResponder"]

log = logging.getLogger("indiws.alpaca")

#: Lower-case URL spelling of each device type.
URL_TYPES = {t.lower(): t for t in MEMBERS}


class AlpacaFront:
    """The Alpaca devices of a service (numbers and UniqueIDs from its state
    database) and the server transaction counter."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.counter = TransactionCounter()
        self.devices: dict[tuple[str, int], AlpacaDevice] = {}
        for device_type, role in DEVICE_ROLES:
            number, unique_id = service.db.alpaca_device(device_type, role)
            self.devices[(device_type, number)] = AlpacaDevice(
                service, device_type, number, role, unique_id
            )

    def configured(self) -> list[dict[str, Any]]:
        """The devices whose role has a device (the SafetyMonitor always)."""
        out = []
        for dev in sorted(self.devices.values(), key=lambda d: (d.device_type, d.number)):
            if dev.role != "safety" and dev.device_name is None:
                continue
            out.append(
                {
                    "DeviceName": _device_name(dev),
                    "DeviceType": dev.device_type,
                    "DeviceNumber": dev.number,
                    "UniqueID": dev.unique_id,
                }
            )
        return out

    def close(self) -> None:
        for dev in self.devices.values():
            dev.cancel_all()


def _device_name(dev: AlpacaDevice) -> str:
    if dev.role == "safety":
        return "indiws Safety"
    return f"{dev.device_name} ({dev.role.replace('_', ' ')})"


class _Handler(tornado.web.RequestHandler):
    front: AlpacaFront

    def initialize(self, front: AlpacaFront) -> None:
        self.front = front

    def prepare(self) -> None:
        # The HTTP server's Host and Origin rules (DNS rebinding, cross-site
        # pages); no token: Alpaca clients cannot send one (docs/alpaca.md).
        policy: AccessPolicy = self.settings["access_policy"]
        facts = RequestFacts(
            method=self.request.method or "GET",
            host=self.request.host or "",
            origin=self.request.headers.get("Origin"),
            fetch_site=self.request.headers.get("Sec-Fetch-Site"),
            changes_state=self.request.method == "PUT",
        )
        refusal = policy.check_host(facts.host) or policy.check_cross_site(facts)
        if refusal is not None:
            self.set_status(refusal.status)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(refusal.message)

    def form(self) -> dict[str, str]:
        """GET: the query; PUT: the form body (names exactly as sent)."""
        if self.request.method == "PUT":
            body = self.request.body.decode("utf-8", "replace")
            return dict(parse_qsl(body, keep_blank_values=True))
        return dict(parse_qsl(self.request.query, keep_blank_values=True))

    def bad_request(self, message: str) -> None:
        self.set_status(400)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)

    def answer(
        self, value: Any, ids: RequestIds, error: AlpacaError | None = None, has_value: bool = True
    ) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        body = envelope(value, ids, self.front.counter.next(), error, has_value=has_value)
        self.finish(dumps(body))


class ManagementHandler(_Handler):
    async def get(self, what: str) -> None:
        try:
            ids = parse_ids(self.form(), put=False)
        except BadRequest as exc:
            return self.bad_request(str(exc))
        if what == "apiversions":
            return self.answer([1], ids)
        if what == "v1/description":
            return self.answer(
                {
                    "ServerName": "indiws",
                    "Manufacturer": "indiws",
                    "ManufacturerVersion": __version__,
                    "Location": self.front.service.config.extra.get("location", ""),
                },
                ids,
            )
        if what == "v1/configureddevices":
            return self.answer(self.front.configured(), ids)
        self.bad_request(f"unknown management member {what!r}")


class DeviceHandler(_Handler):
    async def get(self, device_type: str, number: str, member: str) -> None:
        await self._handle("GET", device_type, number, member)

    async def put(self, device_type: str, number: str, member: str) -> None:
        await self._handle("PUT", device_type, number, member)

    async def _handle(self, http: str, url_type: str, number: str, name: str) -> None:
        put = http == "PUT"
        params = self.form()
        try:
            ids = parse_ids(params, put=put)
        except BadRequest as exc:
            return self.bad_request(str(exc))
        device_type = URL_TYPES.get(url_type)
        if device_type is None or url_type != url_type.lower():
            return self.bad_request(f"unknown device type {url_type!r} (lower case, e.g. camera)")
        if not number.isdigit():
            return self.bad_request(f"device number must be a non-negative integer, not {number!r}")
        dev = self.front.devices.get((device_type, int(number)))
        if dev is None:
            return self.bad_request(f"no {device_type} number {number}")
        member = MEMBER_INDEX[device_type].get((name, http))
        if member is None:
            other = MEMBER_INDEX[device_type].get((name, "PUT" if http == "GET" else "GET"))
            if other is not None:
                return self.bad_request(f"{name} is not a {http} member of {device_type}")
            return self.bad_request(f"unknown {device_type} member {name!r}")
        try:
            values = parse_params(member.params, params, put=put)
        except BadRequest as exc:
            return self.bad_request(str(exc))
        except AlpacaError as exc:
            return self.answer(None, ids, exc, member.has_value)
        wants_bytes = IMAGE_BYTES_TYPE in self.request.headers.get("Accept", "")
        try:
            if member.needs_connection:
                dev.require_connected()
            if member.image:
                return await self._image(dev, ids, wants_bytes)
            if member.call is None:
                raise AlpacaError(NOT_IMPLEMENTED, f"{device_type}.{name} is not implemented")
            value = member.call(dev, values)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            error = error_for(exc)
            if error is None:
                log.exception("Alpaca %s %s/%s/%s failed", http, device_type, number, name)
                error = AlpacaError(0x500, f"internal error: {exc}")
            if member.image and wants_bytes:
                return self._bytes(image_bytes_error(error, ids, self.front.counter.next()))
            return self.answer(None, ids, error, member.has_value)
        if isinstance(value, float) and not np.isfinite(value):
            value = None
        self.answer(value, ids, has_value=member.has_value)

    async def _image(self, dev: AlpacaDevice, ids: RequestIds, wants_bytes: bool) -> None:
        pixels = await image_pixels(dev)
        stid = self.front.counter.next()
        if wants_bytes:
            data = await asyncio.to_thread(image_bytes, pixels, ids, stid)
            return self._bytes(data)
        text = await asyncio.to_thread(_image_json, pixels, ids, stid)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(text)

    def _bytes(self, data: bytes) -> None:
        self.set_header("Content-Type", IMAGE_BYTES_TYPE)
        self.finish(data)


def _image_json(pixels: np.ndarray, ids: RequestIds, stid: int) -> str:
    """ImageArray as JSON: Type 2 (Int32; 3 Double for float frames), Rank,
    Value the nested list [x][y]."""
    head = {
        "Type": 3 if pixels.dtype.kind == "f" else 2,
        "Rank": pixels.ndim,
    }
    tail = envelope(None, ids, stid, has_value=False)
    # Column by column: a 4096² frame as one nested Python list would take
    # most of a gigabyte; one column's list at a time does not (and is faster).
    value = "[" + ",".join(json.dumps(c.tolist(), separators=(",", ":")) for c in pixels) + "]"
    return dumps(head)[:-1] + ',"Value":' + value + "," + dumps(tail)[1:]


class SetupHandler(_Handler):
    """The pages the ASCOM Chooser's "Properties..." button opens."""

    def get(self, *args: str) -> None:
        rows = "".join(
            f"<li>{d['DeviceType']} {d['DeviceNumber']}: {d['DeviceName']}</li>"
            for d in self.front.configured()
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><title>indiws Alpaca</title><h1>indiws Alpaca devices</h1>"
            f"<ul>{rows}</ul><p>Roles and devices are set up in indiws's panel "
            f"(port {self.front.service.config.port}).</p>"
        )


#: Caps of the Alpaca port (beside the HTTP API's own): a client keeps a few
#: keep-alive connections; ConformU and N.I.N.A. stay far below.
ALPACA_MAX_CONNECTIONS = 128
ALPACA_MAX_CONNECTIONS_PER_PEER = 64
#: Alpaca PUT bodies are short forms (a few parameters).
ALPACA_MAX_BODY = 1 << 20


def make_alpaca_app(front: AlpacaFront, host: str, port: int) -> tornado.web.Application:
    config = front.service.config
    policy = AccessPolicy.build(
        bind_host=host,
        port=port,
        allow_hosts=config.allowed_hosts,
        allow_origins=config.allowed_origins,
    )
    args = {"front": front}
    return tornado.web.Application(
        [
            (r"/management/(.*)", ManagementHandler, args),
            (r"/api/v1/([^/]+)/([^/]+)/([^/]+)", DeviceHandler, args),
            (r"/setup(?:/v1/([^/]+)/([^/]+)/setup)?/?", SetupHandler, args),
        ],
        access_policy=policy,
    )


class DiscoveryResponder(asyncio.DatagramProtocol):
    """Answers ``alpacadiscovery1`` datagrams with ``{"AlpacaPort": N}``."""

    def __init__(self, alpaca_port: int) -> None:
        self.answer = discovery_answer(alpaca_port)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if data.startswith(DISCOVERY_MESSAGE) and self.transport is not None:
            self.transport.sendto(self.answer, addr)


class AlpacaServer:
    """The Alpaca HTTP server and its discovery responder, started and
    stopped with the service."""

    def __init__(self, service: Service, host: str, port: int, discovery_port: int | None) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.discovery_port = discovery_port
        self.front = AlpacaFront(service)
        self._http: Any = None
        self._udp: asyncio.DatagramTransport | None = None

    async def start(self) -> bool:
        app = make_alpaca_app(self.front, self.host, self.port)
        try:
            # The same guarded server as the HTTP API: capped connections and
            # header timeout, so a flood on this port cannot take the
            # service's file descriptors (Alpaca requests are small forms).
            server = GuardedHTTPServer(
                app,
                xheaders=False,
                max_body_size=ALPACA_MAX_BODY,
                idle_connection_timeout=self.service.config.header_timeout,
                header_timeout=self.service.config.header_timeout,
                body_timeout=60.0,
                max_connections=connection_cap(ALPACA_MAX_CONNECTIONS),
                max_connections_per_peer=ALPACA_MAX_CONNECTIONS_PER_PEER,
            )
            server.listen(self.port, self.host)
            self._http = server
        except OSError as exc:
            log.warning(
                "Alpaca: cannot listen on %s:%d (%s); Alpaca clients cannot connect "
                "(choose another port with --alpaca-port)",
                self.host,
                self.port,
                exc,
            )
            return False
        log.info(
            "Alpaca devices on http://%s:%d/ (docs/alpaca.md)%s",
            self.host,
            self.port,
            "; open to the network, with no authentication"
            if binds_beyond_loopback(self.host)
            else "",
        )
        if self.discovery_port:
            loop = asyncio.get_running_loop()
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: DiscoveryResponder(self.port),
                    local_addr=(self.host, self.discovery_port),
                    family=socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                )
            except OSError as exc:
                log.warning(
                    "Alpaca discovery: cannot listen on UDP %s:%d (%s)",
                    self.host,
                    self.discovery_port,
                    exc,
                )
        return True

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._http is not None:
            self._http.stop()
        self.front.close()
