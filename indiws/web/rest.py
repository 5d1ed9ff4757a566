"""The JSON REST API under ``/api/v1/``: devices, properties, roles, status.

- ``GET /api/v1/status``: the service and its indiserver connection.
- ``GET /api/v1/devices``: every device, its driver, interfaces and roles.
- ``GET /api/v1/devices/{device}``: one device with all its properties.
- ``GET /api/v1/devices/{device}/properties[/{name}]``: its properties, or one.
- ``PUT|POST /api/v1/devices/{device}/properties/{name}``: set values (checked
  against the definition first, nothing sent on error), wait until the
  property leaves Busy, answer its final state (Alert is a state, not an
  error; still Busy after ``timeout`` is a 504).
- ``GET /api/v1/roles``, ``GET|PUT|DELETE /api/v1/roles/{role}``.
- ``GET /api/v1/safety``: the safety policy (as JSON-RPC's ``safety.status``).
- ``PUT|DELETE /api/v1/safety/weather_override``: the operator's weather
  override on (``{"on": true, "note": ...}``) or off, logged with who.

Path arguments arrive decoded: tornado's router unescapes ``%XX`` once
(``CCD%20Simulator`` is ``CCD Simulator``, ``A%2FB`` is ``A/B``); decoding
again would misread a name that contains ``%``.  Every error is the JSON
body of `JsonHandler`, with the status and code of the shared error table.
Docs: ``docs/http.md`` and the OpenAPI document at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import binascii
import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import tornado.web
from msgspec import Meta

from .. import __version__
from ..client import Device, INDIClient, InvalidValueError, NotConnectedError
from ..devices.writes import check_hardware_write
from ..protocol import PropertyKind
from ..roles import ROLES
from ..service import Service
from .base import JsonHandler, requester
from .bodies import Body, decode_body, schema_components
from .errors import describe_error, invalid_params
from .openapi import error_responses, json_request, json_response, path_param, ref

__all__ = [
    "INTERFACES",
    "OPENAPI_COMPONENTS",
    "OPENAPI_PATHS",
    "decode_interfaces",
    "device_detail",
    "device_summary",
    "routes",
]

log = logging.getLogger("indiws.web")

PREFIX = "/api/v1"

#: DRIVER_INTERFACE bits (libindi's ``DRIVER_INTERFACE`` enum, INDI 2.x names
#: the last three).  A device usually implements several: the CCD simulator
#: is ccd + guider + filter (22).
INTERFACES: tuple[tuple[int, str], ...] = (
    (1 << 0, "telescope"),
    (1 << 1, "ccd"),
    (1 << 2, "guider"),
    (1 << 3, "focuser"),
    (1 << 4, "filter"),
    (1 << 5, "dome"),
    (1 << 6, "gps"),
    (1 << 7, "weather"),
    (1 << 8, "ao"),
    (1 << 9, "dustcap"),
    (1 << 10, "lightbox"),
    (1 << 11, "detector"),
    (1 << 12, "rotator"),
    (1 << 13, "spectrograph"),
    (1 << 14, "correlator"),
    (1 << 15, "aux"),
    (1 << 16, "output"),
    (1 << 17, "input"),
    (1 << 18, "power"),
)

#: Longest wait a caller may ask for on a set (a long exposure or slew).
MAX_TIMEOUT = 86400.0
DEFAULT_TIMEOUT = 60.0
#: Device messages included in the answer for one device.
DEVICE_MESSAGES = 20


def decode_interfaces(mask: int) -> list[str]:
    """Names of the interfaces in a DRIVER_INTERFACE bitmask, lowest bit first.

    A bit with no known name is kept as ``bitN`` rather than dropped.
    """
    names = [name for bit, name in INTERFACES if mask & bit]
    known = 0
    for bit, _ in INTERFACES:
        known |= bit
    extra = mask & ~known
    n = 0
    while extra >> n:
        if (extra >> n) & 1:
            names.append(f"bit{n}")
        n += 1
    return names


def device_summary(device: Device, roles: list[str]) -> dict[str, Any]:
    """One entry of ``GET /api/v1/devices``."""
    info = device.driver_info
    return {
        "name": device.name,
        "driver": {
            "name": info.get("DRIVER_NAME", ""),
            "exec": info.get("DRIVER_EXEC", ""),
            "version": info.get("DRIVER_VERSION", ""),
            "interface": device.interfaces,
        },
        "interfaces": decode_interfaces(device.interfaces),
        "connected": device.connected,
        "roles": roles,
        "property_count": len(device.properties),
    }


def device_detail(device: Device, roles: list[str]) -> dict[str, Any]:
    """``GET /api/v1/devices/{device}``: the summary, every property and the
    device's last messages (oldest first)."""
    out = device_summary(device, roles)
    out["properties"] = [p.to_dict() for p in device.properties.values()]
    out["messages"] = [
        {"timestamp": ts, "message": text} for ts, text in list(device.messages)[-DEVICE_MESSAGES:]
    ]
    return out


# ---------------------------------------------------------------- request bodies
# Declared once: each struct is the body's schema in the OpenAPI document and
# its check (indiws/web/bodies.py).


class SetProperty(Body):
    """New values for a property's elements; the values themselves are checked
    against the property's definition (nothing is sent on error)."""

    values: Annotated[
        dict[str, Any],
        Meta(
            min_length=1,
            description="Element name → value: text → string; number → number or "
            'sexagesimal string ("12:30:15"); switch → true/false or "On"/"Off"; '
            'BLOB → {"data": base64, "format": ".fits"}.',
        ),
    ]
    wait: Annotated[bool, Meta(description="Wait until the property leaves Busy.")] = True
    timeout: Annotated[
        float,
        Meta(gt=0, le=MAX_TIMEOUT, description="Seconds to wait before answering 504."),
    ] = DEFAULT_TIMEOUT
    force: Annotated[
        bool,
        Meta(
            description="Write a property that moves hardware although the safety policy "
            "refuses it now (docs/security.md); logged with who sent it."
        ),
    ] = False


class AssignRole(Body):
    """The device that plays the role from now on."""

    device: Annotated[str, Meta(min_length=1, pattern=r"\S", description="INDI device name.")]
    connect: Annotated[bool, Meta(description="Connect the device.")] = True


class SetWeatherOverride(Body):
    """The operator's weather override on (true) or off."""

    on: bool
    note: Annotated[str, Meta(max_length=200)] | None = None


_BODY_SCHEMAS = schema_components(SetProperty, AssignRole, SetWeatherOverride)


def _blob_values(values: dict[str, Any]) -> dict[str, Any]:
    """BLOB elements travel as ``{"data": base64, "format": ".fits"}`` in JSON."""
    out: dict[str, Any] = {}
    for element, value in values.items():
        if isinstance(value, dict) and set(value) <= {"data", "format"}:
            data, fmt = value.get("data"), value.get("format", "")
            if not isinstance(data, str) or not isinstance(fmt, str):
                raise invalid_params(
                    f'BLOB element {element!r}: give {{"data": base64 text, "format": ".ext"}}',
                    element=element,
                )
            try:
                out[element] = (binascii.a2b_base64(data.encode("ascii"), strict_mode=True), fmt)
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise invalid_params(
                    f"BLOB element {element!r}: data is not base64 ({exc})", element=element
                ) from None
        else:
            out[element] = value  # the client's check names the element and the fault
    return out


class ApiHandler(JsonHandler):
    """Base of the /api/v1 handlers."""

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # A timeout, an unreachable indiserver or a driver failure is an
        # answer (502/503/504), not a bug: one line, no traceback.
        if value is not None and not isinstance(value, tornado.web.HTTPError):
            err = describe_error(value)
            if err.name != "internal_error":
                if err.status >= 500:
                    log.warning(
                        "%s %s: %s %s", self.request.method, self.request.uri, err.status, err
                    )
                return
        super().log_exception(typ, value, tb)

    def indi(self) -> INDIClient:
        """The INDI client, or 503 when indiserver is not connected (so that
        an empty mirror is not mistaken for "no such device")."""
        client = self.service.client
        if not client.connected:
            detail = f": {client.last_error}" if client.last_error else ""
            raise NotConnectedError(
                f"not connected to indiserver {client.host}:{client.port}{detail}"
            )
        return client

    def roles_by_device(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for role, device in self.service.roles.assignments().items():
            if device is not None:
                out.setdefault(device, []).append(role)
        return out


class StatusHandler(ApiHandler):
    def initialize(self, service: Service, started: float) -> None:  # type: ignore[override]
        super().initialize(service)
        self.started = started

    def get(self) -> None:
        client = self.service.client
        devices = list(client.devices.values())
        self.write_json(
            {
                "service": "indiws",
                "version": __version__,
                "started_at": datetime.fromtimestamp(self.started, UTC).isoformat(
                    timespec="seconds"
                ),
                "uptime_s": round(time.time() - self.started, 3),
                "indiserver": {
                    "host": client.host,
                    "port": client.port,
                    "connected": client.connected,
                    "last_error": client.last_error,
                    "connections": client.stats["connections"],
                    "disconnections": client.stats["disconnections"],
                },
                "device_count": len(devices),
                "connected_devices": sum(1 for d in devices if d.connected),
                "roles": self.service.roles.assignments(),
                # A failing state file: what needs it answers 503, this says why.
                "state_db": {
                    "path": str(self.service.db.path),
                    "ok": self.service.db.error is None,
                    "error": self.service.db.error,
                },
            }
        )


class SafetyHandler(ApiHandler):
    def get(self) -> None:
        self.write_json(self.service.safety.status())


class WeatherOverrideHandler(ApiHandler):
    """The operator's weather override (docs/security.md#the-weather-override)."""

    def get(self) -> None:
        self.write_json(self.service.safety.status()["weather_override"])

    def put(self) -> None:
        body = decode_body(self, SetWeatherOverride)
        self._set(body.on, body.note)

    def delete(self) -> None:
        self._set(False, None)

    def _set(self, on: bool, note: str | None) -> None:
        who = requester(self.request, "REST")
        self.write_json(self.service.safety.set_weather_override(on, who=who, note=note))


class DevicesHandler(ApiHandler):
    def get(self) -> None:
        client = self.indi()
        roles = self.roles_by_device()
        self.write_json([device_summary(d, roles.get(d.name, [])) for d in client.devices.values()])


class DeviceHandler(ApiHandler):
    def get(self, device: str) -> None:
        dev = self.indi().get_device(device)
        self.write_json(device_detail(dev, self.roles_by_device().get(dev.name, [])))


class PropertiesHandler(ApiHandler):
    def get(self, device: str) -> None:
        dev = self.indi().get_device(device)
        self.write_json([p.to_dict() for p in dev.properties.values()])


class PropertyHandler(ApiHandler):
    def max_body_bytes(self) -> int:
        if self.request.method in ("PUT", "POST"):
            # An unknown name is answered (404, 503) before the body is read.
            prop = self.indi().get_property(*self.path_args)
            if prop.kind is PropertyKind.BLOB:  # its value travels in the body
                return self.service.config.max_upload_bytes
        return super().max_body_bytes()

    def get(self, device: str, name: str) -> None:
        self.write_json(self.indi().get_property(device, name).to_dict())

    async def put(self, device: str, name: str) -> None:
        body = decode_body(self, SetProperty)
        values, wait, timeout, force = body.values, body.wait, body.timeout, body.force
        client = self.indi()
        check_hardware_write(
            client, device, name, values, who=requester(self.request, "REST"), force=force
        )
        if client.get_property(device, name).kind is PropertyKind.BLOB:
            values = _blob_values(values)
        try:
            prop = await client.set_property(device, name, values, wait=wait, timeout=timeout)
        except InvalidValueError as exc:
            # The error table reports these attributes in the error's data.
            exc.device, exc.name = device, name  # type: ignore[attr-defined]
            raise
        # Without waiting, the values are sent but not yet applied: 202.
        self.write_json(prop.to_dict(), 200 if wait else 202)

    post = put


class RolesHandler(ApiHandler):
    def get(self) -> None:
        roles = self.service.roles
        self.write_json({role: roles.describe(role) for role in ROLES})


class RoleHandler(ApiHandler):
    def get(self, role: str) -> None:
        roles = self.service.roles
        self.write_json(roles.describe(roles.check_role(role)))

    async def put(self, role: str) -> None:
        roles = self.service.roles
        roles.check_role(role)
        body = decode_body(self, AssignRole)
        device, connect = body.device, body.connect
        self.indi()
        previous = roles.device_for(role)
        result = await roles.assign(role, device, connect=connect)
        # 201 when the role had no device, 200 when one was replaced (or kept).
        self.write_json({**result, "previous_device": previous}, 201 if previous is None else 200)

    def delete(self, role: str) -> None:
        self.service.roles.release(role)  # unknown role: 404; a free role: 204 all the same
        self.set_status(204)
        self.finish()


def routes(service: Service) -> list:
    args: dict[str, Any] = {"service": service}
    seg = r"([^/]+)"
    return [
        (rf"{PREFIX}/status/?", StatusHandler, {**args, "started": time.time()}),
        (rf"{PREFIX}/safety/?", SafetyHandler, args),
        (rf"{PREFIX}/safety/weather_override/?", WeatherOverrideHandler, args),
        (rf"{PREFIX}/devices/?", DevicesHandler, args),
        (rf"{PREFIX}/devices/{seg}/?", DeviceHandler, args),
        (rf"{PREFIX}/devices/{seg}/properties/?", PropertiesHandler, args),
        (rf"{PREFIX}/devices/{seg}/properties/{seg}/?", PropertyHandler, args),
        (rf"{PREFIX}/roles/?", RolesHandler, args),
        (rf"{PREFIX}/roles/{seg}/?", RoleHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI

_DEVICE = path_param(
    "device", "INDI device name, percent-encoded (`CCD%20Simulator`).", "CCD Simulator"
)
_PROPERTY = path_param("name", "INDI property name.", "CCD_EXPOSURE")
_ROLE = path_param("role", "One of the roles.", "camera", enum=ROLES)

_ELEMENT_EXAMPLE = {
    "name": "CCD_EXPOSURE_VALUE",
    "label": "Duration (s)",
    "value": 1.0,
    "format": "%5.2f",
    "min": 0.01,
    "max": 3600.0,
    "step": 1.0,
    "formatted": " 1.00",
}
_PROPERTY_EXAMPLE = {
    "device": "CCD Simulator",
    "name": "CCD_EXPOSURE",
    "kind": "Number",
    "label": "Expose",
    "group": "Main Control",
    "state": "Idle",
    "perm": "rw",
    "rule": None,
    "timeout": 60.0,
    "timestamp": "2024-05-01T21:30:00",
    "message": None,
    "elements": [_ELEMENT_EXAMPLE],
}
_SUMMARY_EXAMPLE = {
    "name": "CCD Simulator",
    "driver": {
        "name": "CCD Simulator",
        "exec": "indi_simulator_ccd",
        "version": "1.0",
        "interface": 22,
    },
    "interfaces": ["ccd", "guider", "filter"],
    "connected": True,
    "roles": ["camera"],
    "property_count": 77,
}
_ROLE_EXAMPLE = {
    "role": "camera",
    "device_name": "CCD Simulator",
    "present": True,
    "connected": True,
}
_NULLABLE_STRING = {"type": ["string", "null"]}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        **_BODY_SCHEMAS,
        "Element": {
            "type": "object",
            "description": 'One element. `value` is text, a number, "On"/"Off" (switch) or '
            "a state (light); numbers also carry format/min/max/step/formatted; BLOB "
            "elements carry `format` and `size` instead of a value (never the bytes).",
            "required": ["name", "label"],
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "value": {"type": ["string", "number", "null"]},
                "format": _NULLABLE_STRING,
                "min": {"type": "number"},
                "max": {"type": "number"},
                "step": {"type": "number"},
                "formatted": {"type": "string"},
                "size": {"type": ["integer", "null"]},
            },
        },
        "Property": {
            "type": "object",
            "description": "An INDI property, mapped one to one.",
            "required": ["device", "name", "kind", "state", "perm", "elements"],
            "properties": {
                "device": {"type": "string"},
                "name": {"type": "string"},
                "kind": {"enum": ["Text", "Number", "Switch", "Light", "BLOB"]},
                "label": {"type": "string"},
                "group": {"type": "string"},
                "state": {"enum": ["Idle", "Ok", "Busy", "Alert"]},
                "perm": {"enum": ["ro", "wo", "rw"]},
                "rule": {"enum": ["OneOfMany", "AtMostOne", "AnyOfMany", None]},
                "timeout": {"type": "number"},
                "timestamp": _NULLABLE_STRING,
                "message": _NULLABLE_STRING,
                "elements": {"type": "array", "items": ref("Element")},
            },
        },
        "DeviceSummary": {
            "type": "object",
            "required": ["name", "driver", "interfaces", "connected", "roles"],
            "properties": {
                "name": {"type": "string"},
                "driver": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "exec": {"type": "string"},
                        "version": {"type": "string"},
                        "interface": {
                            "type": "integer",
                            "description": "DRIVER_INTERFACE bitmask",
                        },
                    },
                },
                "interfaces": {
                    "type": "array",
                    "description": "The bitmask decoded: "
                    + ", ".join(f"{name} {bit}" for bit, name in INTERFACES),
                    "items": {"type": "string"},
                },
                "connected": {"type": "boolean"},
                "roles": {"type": "array", "items": {"enum": list(ROLES)}},
                "property_count": {"type": "integer"},
            },
        },
        "Device": {
            "allOf": [
                ref("DeviceSummary"),
                {
                    "type": "object",
                    "properties": {
                        "properties": {"type": "array", "items": ref("Property")},
                        "messages": {
                            "type": "array",
                            "description": f"The device's last {DEVICE_MESSAGES} messages.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "timestamp": _NULLABLE_STRING,
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            ]
        },
        "Role": {
            "type": "object",
            "required": ["role", "device_name", "present", "connected"],
            "properties": {
                "role": {"enum": list(ROLES)},
                "device_name": {**_NULLABLE_STRING, "description": "null: the role is free"},
                "present": {"type": "boolean", "description": "the device is on indiserver"},
                "connected": {"type": "boolean"},
            },
        },
        "WeatherOverride": {
            "type": ["object", "null"],
            "description": "The operator's weather override; null: off (the weather decides).",
            "required": ["since", "by", "note"],
            "properties": {
                "since": {"type": "string", "description": "UTC, ISO 8601"},
                "by": {"type": "string", "description": "who turned it on (address, front, token)"},
                "note": _NULLABLE_STRING,
            },
        },
        "Safety": {
            "type": "object",
            "description": "As JSON-RPC's safety.status (docs/indi_client.md).",
            "required": ["enabled", "safe", "reasons", "weather_override"],
            "properties": {
                "enabled": {"type": "boolean"},
                "safe": {"type": "boolean"},
                "reasons": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
                "weather": {"type": "object"},
                "actions": {"type": "array", "items": {"type": "string"}},
                "closing": {"type": "boolean"},
                "last_close_up": {"type": ["object", "null"]},
                "weather_override": ref("WeatherOverride"),
            },
        },
        "Status": {
            "type": "object",
            "properties": {
                "service": {"const": "indiws"},
                "version": {"type": "string"},
                "started_at": {"type": "string", "format": "date-time"},
                "uptime_s": {"type": "number"},
                "indiserver": {
                    "type": "object",
                    "properties": {
                        "host": {"type": "string"},
                        "port": {"type": "integer"},
                        "connected": {"type": "boolean"},
                        "last_error": _NULLABLE_STRING,
                        "connections": {"type": "integer"},
                        "disconnections": {"type": "integer"},
                    },
                },
                "device_count": {"type": "integer"},
                "connected_devices": {"type": "integer"},
                "roles": {
                    "type": "object",
                    "additionalProperties": _NULLABLE_STRING,
                    "description": "role → device name (null: free)",
                },
                "state_db": {
                    "type": "object",
                    "description": "The state file (roles, profiles). When it fails, `ok` is "
                    "false, `error` says why, calls that write it answer 503 "
                    "`state_db_unavailable`, and the roles shown are the last known.",
                    "properties": {
                        "path": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "error": _NULLABLE_STRING,
                    },
                },
            },
        },
    }
}

_PROPERTY_OPS_DESCRIPTION = (
    "Checks the values against the property's definition first (unknown element, "
    "read-only property, wrong type, out of range, more than one switch On in a "
    "OneOfMany: 4xx, nothing sent). Then sends them and, with `wait` (the default), "
    "answers when the driver has finished: the property's final state, `Ok`, `Idle` or "
    "`Alert` (a driver failure is a state, with the driver's `message`). Still `Busy` "
    "after `timeout` seconds: 504, with the current state in `error.data.current`. "
    'With `"wait": false` it answers 202 once the values are sent.'
)


def _set_op(method: str) -> dict[str, Any]:
    return {
        "summary": "Set a property's values" + (" (POST form)" if method == "post" else ""),
        "description": _PROPERTY_OPS_DESCRIPTION,
        "tags": ["devices"],
        "operationId": f"set_property_{method}",
        "parameters": [_DEVICE, _PROPERTY],
        "requestBody": json_request(
            ref("SetProperty"), {"values": {"CCD_EXPOSURE_VALUE": 2.5}, "wait": True}
        ),
        "responses": {
            "200": json_response(
                "The driver finished; its final state.",
                ref("Property"),
                {**_PROPERTY_EXAMPLE, "state": "Ok"},
            ),
            "202": json_response(
                'Sent ("wait": false); the property as it stood.', ref("Property")
            ),
            **error_responses(400, 404, 409, 503, 504),
        },
    }


_OVERRIDE_EXAMPLE = {
    "since": "2024-05-01T21:40:12Z",
    "by": "127.0.0.1 (REST, with the access token)",
    "note": "station broken, sky clear",
}
_SAFETY_EXAMPLE = {
    "enabled": True,
    "safe": True,
    "reasons": [],
    "weather": {"device": "Weather Simulator", "state": "Alert", "last_reading_age": 4.2},
    "actions": ["abort_exposure", "stop_guiding", "park_mount", "close_dome"],
    "closing": False,
    "last_close_up": None,
    "weather_override": _OVERRIDE_EXAMPLE,
}
_SAFETY_PATHS: dict[str, dict[str, Any]] = {
    f"{PREFIX}/safety": {
        "get": {
            "summary": "The safety policy now",
            "description": "Safe or not and why, the weather, the close-up, the operator's "
            "weather override: as JSON-RPC's `safety.status`.",
            "tags": ["service"],
            "operationId": "safety_status",
            "responses": {"200": json_response("The policy.", ref("Safety"), _SAFETY_EXAMPLE)},
        }
    },
    f"{PREFIX}/safety/weather_override": {
        "get": {
            "summary": "The operator's weather override",
            "tags": ["service"],
            "operationId": "get_weather_override",
            "responses": {
                "200": json_response(
                    "The override, or null when off.", ref("WeatherOverride"), _OVERRIDE_EXAMPLE
                )
            },
        },
        "put": {
            "summary": "Turn the weather override on or off",
            "description": "While on, the weather's verdict (alert, missing, stale) is ignored: "
            "unpark, gotos and opening the dome are allowed whatever the weather says (a lost "
            "indiserver still counts). Logged at WARNING with who (address, token or not), "
            "shown in `safety.status`, the `safety` notifications and the panel's banner. It "
            "changes what may move the hardware: with `--require-token` (or off loopback) it "
            "needs the access token, like every state-changing request. The weather device's "
            "own `WEATHER_OVERRIDE` never counts. Answers the safety status.",
            "tags": ["service"],
            "operationId": "set_weather_override",
            "requestBody": json_request(
                ref("SetWeatherOverride"), {"on": True, "note": "station broken, sky clear"}
            ),
            "responses": {
                "200": json_response("The safety status after.", ref("Safety"), _SAFETY_EXAMPLE),
                **error_responses(400),
            },
        },
        "delete": {
            "summary": "Turn the weather override off",
            "description": "The weather decides again (as PUT with `on: false`); logged with "
            "who. Answers the safety status.",
            "tags": ["service"],
            "operationId": "clear_weather_override",
            "responses": {
                "200": json_response(
                    "The safety status after.",
                    ref("Safety"),
                    {**_SAFETY_EXAMPLE, "weather_override": None},
                )
            },
        },
    },
}


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    f"{PREFIX}/status": {
        "get": {
            "summary": "Service and indiserver connection status",
            "description": "Always 200; `indiserver.connected` says whether the service "
            "reaches indiserver.",
            "tags": ["service"],
            "operationId": "status",
            "responses": {
                "200": json_response(
                    "The status.",
                    ref("Status"),
                    {
                        "service": "indiws",
                        "version": __version__,
                        "started_at": "2024-05-01T21:00:00+00:00",
                        "uptime_s": 1800.0,
                        "indiserver": {
                            "host": "localhost",
                            "port": 7624,
                            "connected": True,
                            "last_error": None,
                            "connections": 1,
                            "disconnections": 0,
                        },
                        "device_count": 4,
                        "connected_devices": 2,
                        "roles": {
                            "telescope": "Telescope Simulator",
                            "camera": "CCD Simulator",
                            "focuser": None,
                            "filter_wheel": None,
                        },
                        "state_db": {
                            "path": "/home/me/.local/share/indiws/indiws.sqlite3",
                            "ok": True,
                            "error": None,
                        },
                    },
                )
            },
        }
    },
    f"{PREFIX}/devices": {
        "get": {
            "summary": "List the devices",
            "description": "Every device on indiserver: driver, interfaces (the "
            "DRIVER_INTERFACE bitmask decoded), connection, roles held.",
            "tags": ["devices"],
            "operationId": "list_devices",
            "responses": {
                "200": json_response(
                    "The devices.",
                    {"type": "array", "items": ref("DeviceSummary")},
                    [_SUMMARY_EXAMPLE],
                ),
                **error_responses(503),
            },
        }
    },
    f"{PREFIX}/devices/{{device}}": {
        "get": {
            "summary": "One device with all its properties",
            "tags": ["devices"],
            "operationId": "get_device",
            "parameters": [_DEVICE],
            "responses": {
                "200": json_response(
                    "The device.",
                    ref("Device"),
                    {
                        **_SUMMARY_EXAMPLE,
                        "properties": [_PROPERTY_EXAMPLE],
                        "messages": [
                            {"timestamp": "2024-05-01T21:29:58", "message": "[INFO] connected"}
                        ],
                    },
                ),
                **error_responses(404, 503),
            },
        }
    },
    f"{PREFIX}/devices/{{device}}/properties": {
        "get": {
            "summary": "A device's properties",
            "tags": ["devices"],
            "operationId": "list_properties",
            "parameters": [_DEVICE],
            "responses": {
                "200": json_response(
                    "The properties.",
                    {"type": "array", "items": ref("Property")},
                    [_PROPERTY_EXAMPLE],
                ),
                **error_responses(404, 503),
            },
        }
    },
    f"{PREFIX}/devices/{{device}}/properties/{{name}}": {
        "get": {
            "summary": "One property",
            "tags": ["devices"],
            "operationId": "get_property",
            "parameters": [_DEVICE, _PROPERTY],
            "responses": {
                "200": json_response("The property.", ref("Property"), _PROPERTY_EXAMPLE),
                **error_responses(404, 503),
            },
        },
        "put": _set_op("put"),
        "post": _set_op("post"),
    },
    f"{PREFIX}/roles": {
        "get": {
            "summary": "Every role and its device",
            "tags": ["roles"],
            "operationId": "list_roles",
            "responses": {
                "200": json_response(
                    "Role name → role.",
                    {"type": "object", "additionalProperties": ref("Role")},
                    {
                        "telescope": {
                            "role": "telescope",
                            "device_name": None,
                            "present": False,
                            "connected": False,
                        },
                        "camera": _ROLE_EXAMPLE,
                    },
                )
            },
        }
    },
    f"{PREFIX}/roles/{{role}}": {
        "get": {
            "summary": "One role",
            "tags": ["roles"],
            "operationId": "get_role",
            "parameters": [_ROLE],
            "responses": {
                "200": json_response("The role.", ref("Role"), _ROLE_EXAMPLE),
                **error_responses(404),
            },
        },
        "put": {
            "summary": "Assign a device to the role (and connect it)",
            "description": "Same as the seed's `/FIFO/start/`: the newest assignment wins, "
            "one device may hold several roles, the assignment is stored and restored at "
            "the next start. With `connect` (the default) it answers once the device is "
            "connected; if the driver fails, 502 and the assignment stays.",
            "tags": ["roles"],
            "operationId": "assign_role",
            "parameters": [_ROLE],
            "requestBody": json_request(
                ref("AssignRole"), {"device": "CCD Simulator", "connect": True}
            ),
            "responses": {
                "200": json_response(
                    "The role had a device; it now has this one.",
                    {
                        "allOf": [
                            ref("Role"),
                            {"properties": {"previous_device": _NULLABLE_STRING}},
                        ]
                    },
                    {**_ROLE_EXAMPLE, "previous_device": "Filter Simulator"},
                ),
                "201": json_response(
                    "The role was free; it now has this device.",
                    {
                        "allOf": [
                            ref("Role"),
                            {"properties": {"previous_device": {"type": "null"}}},
                        ]
                    },
                    {**_ROLE_EXAMPLE, "previous_device": None},
                ),
                **error_responses(400, 404, 502, 503),
            },
        },
        "delete": {
            "summary": "Release the role",
            "description": "The device stays connected. 204 also when the role was free.",
            "tags": ["roles"],
            "operationId": "release_role",
            "parameters": [_ROLE],
            "responses": {
                "204": {"description": "The role is free."},
                **error_responses(404),
            },
        },
    },
}
OPENAPI_PATHS.update(_SAFETY_PATHS)
