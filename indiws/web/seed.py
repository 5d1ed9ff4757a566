"""lightAPT's HTTP calls, answered as the service it replaced answered them.

- ``GET /get/all/devices/``: one object per INDI device, from DRIVER_INFO
  and DRIVER_INTERFACE, with the keys of every lightAPT generation.
- ``GET|POST /FIFO/<start|stop>/<role>/<device_name>/``: assign a device to
  a role (and connect it), or release the role; plain-text answers ``Got!``,
  ``Wrong device name!``, ``Wrong Command!``, always HTTP 200.
- ``GET /indi/server/connect/``, ``/disconnect/``, ``/connected/`` (its last
  generation, "V4"): the INDI client's connection, ``{"status": bool}``.
- ``/driver_connect/...`` and ``/device_connect/<start|stop>/<role>/<name>/``
  (its later React front end, "V5"): ``{"data": ...}`` answers; and that
  front end's ``/PAA/update_paa_running_status/`` (always false).

Roles go by lightAPT's names (``focus``, ``filter``, ``guider``) or ours;
see `indiws.roles.role_named`.  The V4 ``/indi/`` aliases of the first two
are made in `aliases`.  docs/lightapt.md describes every call.
"""

from __future__ import annotations

import re
from typing import Any

from ..client import Device, INDIError, UnknownDeviceError
from ..db import ROLES
from ..manager import DriverInfo
from ..roles import ROLE_ALIASES, guess_role, role_named
from ..service import Service, UnknownDriverError
from .base import JsonHandler
from .errors import invalid_params
from .limits import JsonLimitError, loads
from .openapi import error_responses, json_request, json_response, path_param, ref

__all__ = [
    "CONNECT_FAILED",
    "GOT",
    "OPENAPI_COMPONENTS",
    "OPENAPI_PATHS",
    "OPENAPI_TAGS",
    "WRONG_COMMAND",
    "WRONG_DEVICE",
    "lightapt_role_name",
    "routes",
    "seed_device",
    "start_or_stop",
]

#: The original's answers, word for word.
GOT = "Got!"
WRONG_DEVICE = "Wrong device name!"
WRONG_COMMAND = "Wrong Command!"
#: Ours, when the driver could not connect the device (the original said
#: ``Got!`` before trying).
CONNECT_FAILED = "Connect failed! {}"

#: Role → the name lightAPT's code gives it (``focuser`` → ``focus``).
_LIGHTAPT_NAMES = {role: alias for alias, role in ROLE_ALIASES.items()}
#: The roles of lightAPT's later front end, in its order.
V5_ROLES = ("telescope", "camera", "guider", "focus", "filter")
#: Driver catalog group(s) offered for each of its roles.
_BRAND_GROUPS = {
    "telescope": ("Telescopes",),
    "camera": ("CCDs",),
    "guider": ("CCDs",),
    "focus": ("Focusers",),
    "filter": ("Filter Wheels",),
}


def lightapt_role_name(role: str) -> str:
    """The name lightAPT's code uses for one of our roles."""
    return _LIGHTAPT_NAMES.get(role, role)


def seed_device(device: Device) -> dict[str, Any]:
    """One device as every lightAPT generation read it: the documented keys
    (``device_driver_name``, ``device_driver_exec``, ``driver_version``) and
    the original code's (``device_driver``, and ``device_type``, a role guess
    from DRIVER_INTERFACE in lightAPT's names, null for other devices)."""
    info = device.driver_info
    role = guess_role(device.interfaces)
    return {
        "device_name": device.name,
        "device_driver_name": info.get("DRIVER_NAME", ""),
        "device_driver_exec": info.get("DRIVER_EXEC", ""),
        "driver_version": info.get("DRIVER_VERSION", ""),
        "device_driver": info.get("DRIVER_NAME"),
        "device_type": lightapt_role_name(role) if role else None,
    }


async def start_or_stop(service: Service, action: str, role_name: str, device: str) -> str:
    """``/FIFO/`` and ``/device_connect/``: the original's text answer.

    ``start`` assigns the role (remembered across restarts) and answers once
    the device is connected and has defined its connected-only properties,
    so the next call can use it.  ``stop`` releases the role whatever
    ``device`` says; the device stays connected.
    """
    if action not in ("start", "stop"):
        return WRONG_COMMAND
    role = role_named(role_name)
    if role is None:
        return WRONG_DEVICE  # the original's answer to a type it did not know
    if action == "stop":
        service.roles.release(role)
        return GOT
    try:
        await service.roles.assign(role, device)
    except UnknownDeviceError:
        return WRONG_DEVICE
    except (INDIError, TimeoutError) as exc:
        # The assignment stays: the device is connected when it next appears.
        return CONNECT_FAILED.format(exc)
    return GOT


# ---------------------------------------------------------------- the seed's calls


class TextHandler(JsonHandler):
    """Answers plain text (errors that are not part of the original's
    protocol stay JSON)."""

    def write_text(self, text: str) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text)


class AllDevicesHandler(JsonHandler):
    def get(self) -> None:
        self.write_json([seed_device(d) for d in self.service.client.devices.values()])


class FifoHandler(TextHandler):
    """``/FIFO/<start|stop>/<role>/<device_name>/``."""

    get_changes_state = True

    async def get(self, action: str, role: str, device_name: str) -> None:
        # Tornado has already %-decoded the path arguments.
        self.write_text(await start_or_stop(self.service, action, role, device_name))

    post = get


# ---------------------------------------------------------------- lightAPT V4: /indi/server/


class IndiServerConnectHandler(JsonHandler):
    """``/indi/server/connect/``: connect the INDI client (again)."""

    get_changes_state = True

    async def get(self) -> None:
        self.write_json({"status": await self.service.connect_indiserver()})


class IndiServerDisconnectHandler(JsonHandler):
    """``/indi/server/disconnect/``: close the INDI client's connection."""

    get_changes_state = True

    async def get(self) -> None:
        self.write_json({"status": await self.service.disconnect_indiserver()})


class IndiServerConnectedHandler(JsonHandler):
    def get(self) -> None:
        self.write_json({"status": self.service.client.connected})


# ---------------------------------------------------------------- lightAPT V5


def _brand(info: DriverInfo) -> dict[str, str]:
    # No Chinese names in drivers.xml: both names are the catalog label.
    return {"zh": info.label, "en": info.label, "driver": info.executable}


class DeviceBrandHandler(JsonHandler):
    """``GET /driver_connect/device_brand/``: catalog drivers by role."""

    def get(self) -> None:
        catalog = list(self.service.catalog) + list(self.service.custom_drivers.values())
        self.write_json(
            {
                "data": {
                    role: [_brand(d) for d in catalog if d.group in groups]
                    for role, groups in _BRAND_GROUPS.items()
                }
            }
        )


class DeviceListHandler(JsonHandler):
    def get(self) -> None:
        devices = self.service.client.devices.values()
        self.write_json({"data": [seed_device(d) for d in devices]})


class ServerStatusHandler(JsonHandler):
    def get(self) -> None:
        self.write_json({"data": self.service.server_running})


class StartServerHandler(JsonHandler):
    """``POST /driver_connect/start_server/`` with a list of
    ``{"zh", "en", "driver"}`` entries (as ``device_brand`` lists them):
    start indiserver if it is stopped, then each catalog driver."""

    async def post(self) -> None:
        service = self.service
        service.require_supervisor()
        labels = [self._label(entry, i) for i, entry in enumerate(self._entries())]
        await service.start_server()
        for label in labels:
            await service.start_driver_by_label(label)
        self.write_json({"data": True})

    def _entries(self) -> list[Any]:
        try:
            body = loads(self.request.body or b"null")  # the limits of every front
        except JsonLimitError as exc:
            raise invalid_params(f"request body refused: {exc}") from None
        except ValueError as exc:  # UnicodeDecodeError too
            raise invalid_params(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, list):
            raise invalid_params('the body must be a list of {"en": label, "driver": executable}')
        return body

    def _label(self, entry: Any, index: int) -> str:
        """The catalog label of one entry, checked before anything starts."""
        label = entry.get("en") if isinstance(entry, dict) else None
        if not isinstance(label, str) or not label:
            raise invalid_params(f"entry {index} has no driver label 'en'", index=index)
        info = self.service.catalog.by_label(label) or self.service.custom_drivers.get(label)
        if info is None:
            raise UnknownDriverError(f"driver {label!r} not found in the driver catalog")
        executable = entry.get("driver")
        if executable not in (None, "", info.executable):
            raise invalid_params(
                f"entry {index}: driver {label!r} runs {info.executable!r}, not {executable!r}",
                index=index,
            )
        return label


class CloseServerHandler(JsonHandler):
    async def post(self) -> None:
        await self.service.stop_server()
        self.write_json({"data": True})


class DeviceStatusHandler(JsonHandler):
    """``POST /driver_connect/device_status/`` ``{"device": role}``:
    ``Connected``, ``Disconnected`` (its device is not connected, or not on
    indiserver) or ``Not started`` (the role holds no device)."""

    def post(self) -> None:
        name = self.json_body().get("device")
        role = role_named(name) if isinstance(name, str) else None
        if role is None:
            raise invalid_params(
                f"'device' must be a role ({', '.join(V5_ROLES)}), got {name!r}", param="device"
            )
        described = self.service.roles.describe(role)
        if described["device_name"] is None:
            status = "Not started"
        else:
            status = "Connected" if described["connected"] else "Disconnected"
        self.write_json({"data": status})


class CurrentProfileHandler(JsonHandler):
    """``GET /driver_connect/current_profile/``: the running profile's
    drivers (as ``device_brand`` entries; null when no profile runs) and the
    device of each role."""

    def get(self) -> None:
        service = self.service
        profile = service.db.get_profile(service.active_profile) if service.active_profile else None
        drivers = None
        if profile is not None:
            drivers = []
            for driver in profile.drivers:
                if driver.is_remote:
                    continue
                info = service.driver_info_for(driver.executable, driver.label)
                if info is not None:
                    drivers.append(_brand(info))
        data: dict[str, Any] = {"all_drivers": drivers}
        for role in ROLES:
            name = lightapt_role_name(role)
            if name in V5_ROLES:  # the original's keys only: its pages know no others
                data[name] = {"device_name": service.roles.device_for(role)}
        self.write_json({"data": data})


class DeviceConnectHandler(JsonHandler):
    """``GET /device_connect/<start|stop>/<role>/<device_name>/``: as
    ``/FIFO/``, answered ``{"data": bool, "message": <the FIFO text>}``."""

    get_changes_state = True

    async def get(self, action: str, role: str, device_name: str) -> None:
        message = await start_or_stop(self.service, action, role, device_name)
        self.write_json({"data": message == GOT, "message": message})


class PaaRunningStatusHandler(JsonHandler):
    """``GET /PAA/update_paa_running_status/``: whether one of the React front
    end's scripted procedures ("PAA": goto and center, polar alignment,
    autofocus) runs.  Its shoot button takes a frame only after this says
    false; indiws runs no such procedure, so it always does."""

    def get(self) -> None:
        self.write_json({"success": True, "data": False})


def routes(service: Service) -> list:
    args = {"service": service}
    seg = r"([^/]+)"
    return [
        (r"/get/all/devices/?", AllDevicesHandler, args),
        (rf"/FIFO/{seg}/{seg}/{seg}/?", FifoHandler, args),
        (r"/indi/server/connect/?", IndiServerConnectHandler, args),
        (r"/indi/server/disconnect/?", IndiServerDisconnectHandler, args),
        (r"/indi/server/connected/?", IndiServerConnectedHandler, args),
        (r"/driver_connect/device_brand/?", DeviceBrandHandler, args),
        (r"/driver_connect/device_list/?", DeviceListHandler, args),
        (r"/driver_connect/server_status/?", ServerStatusHandler, args),
        (r"/driver_connect/start_server/?", StartServerHandler, args),
        (r"/driver_connect/close_server/?", CloseServerHandler, args),
        (r"/driver_connect/device_status/?", DeviceStatusHandler, args),
        (r"/driver_connect/current_profile/?", CurrentProfileHandler, args),
        (rf"/device_connect/{seg}/{seg}/{seg}/?", DeviceConnectHandler, args),
        (r"/PAA/update_paa_running_status/?", PaaRunningStatusHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI

OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": "lightapt",
        "description": "The other HTTP calls of lightAPT's front ends: its last version's "
        "/indi/server/* and its later React front end's /driver_connect/* and "
        "/device_connect/*. docs/lightapt.md describes them.",
    },
]

_DEVICE_NAME = path_param(
    "device_name",
    "INDI device name, percent-encoded (`CCD%20Simulator`).",
    "CCD Simulator",
)
#: lightAPT's names first, then ours (`ROLES`).
_ROLE_NAMES = ["focus", "filter", *ROLES]
_DEVICE_TYPE = path_param(
    "device_type",
    "The role: lightAPT's names (`focus`, `filter`, `guider`) or ours ("
    + ", ".join(f"`{r}`" for r in _ROLE_NAMES)
    + "). Any other answers `Wrong device name!` (HTTP 200, as the original).",
    "camera",
)
_ACTION = path_param(
    "action",
    "`start` or `stop`; any other word answers `Wrong Command!` (HTTP 200, as the original).",
    "start",
)
_SEED_DEVICE_EXAMPLE = {
    "device_name": "CCD Simulator",
    "device_driver_name": "CCD Simulator",
    "device_driver_exec": "indi_simulator_ccd",
    "driver_version": "1.0",
    "device_driver": "CCD Simulator",
    "device_type": "camera",
}


def _text_response(description: str, answers: list[str]) -> dict[str, Any]:
    """A plain-text answer, one of ``answers`` (``<why>``: any text)."""
    pattern = "|".join(re.escape(a).replace(re.escape("<why>"), ".*") for a in answers)
    schema = {"type": "string", "pattern": f"^({pattern})$", "examples": answers}
    return {"description": description, "content": {"text/plain": {"schema": schema}}}


def _fifo_op(action: str, method: str) -> dict[str, Any]:
    if action == "start":
        summary = "Assign a device to a role and connect it"
        description = (
            "Gives the role to the device (a newer start replaces the device that held "
            "the role, which stays connected; one device may hold several roles), "
            "remembers it in the state database (restored and connected again at the next "
            "start of the service), switches the device's INDI `CONNECTION` to CONNECT and "
            "answers once it is connected, as plain text, always HTTP 200: `Got!`; "
            "`Wrong device name!` for a device indiserver does not know or a role that "
            "does not exist; `Connect failed! <why>` when the driver could not connect "
            "(the assignment stays and is retried when the device next appears). The "
            "JSON form is `PUT /api/v1/roles/{role}`."
        )
        answers = ["Got!", "Wrong device name!", "Connect failed! <why>"]
    else:
        summary = "Release a role"
        description = (
            "Frees the role (the device stays connected) and answers `Got!`, whichever "
            "device held it and also when it was free; `Wrong device name!` for a role "
            "that does not exist. The JSON form is `DELETE /api/v1/roles/{role}`."
        )
        answers = ["Got!", "Wrong device name!"]
    return {
        "summary": summary + ("" if method == "get" else " (POST form)"),
        "description": description,
        "tags": ["seed"],
        "operationId": f"fifo_{action}_{method}",
        "parameters": [_DEVICE_TYPE, _DEVICE_NAME],
        "responses": {"200": _text_response("The original's answer.", answers)},
    }


def _status_op(summary: str, description: str, operation_id: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": description,
            "tags": ["lightapt"],
            "operationId": operation_id,
            "responses": {
                "200": json_response("The status.", ref("LightaptStatus"), {"status": True})
            },
        }
    }


def _data_op(
    method: str,
    summary: str,
    description: str,
    operation_id: str,
    data_schema: dict[str, Any],
    example: Any,
    *,
    errors: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "tags": ["lightapt"],
        "operationId": operation_id,
        "responses": {
            "200": json_response(
                "The answer, under `data`.",
                {"type": "object", "required": ["data"], "properties": {"data": data_schema}},
                {"data": example},
            ),
            **error_responses(*errors),
        },
    }
    if body is not None:
        op["requestBody"] = body
    if parameters:
        op["parameters"] = parameters
    return {method: op}


_BRAND_EXAMPLE = {"zh": "CCD Simulator", "en": "CCD Simulator", "driver": "indi_simulator_ccd"}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/get/all/devices/": {
        "get": {
            "summary": "List every INDI device (the seed's device list)",
            "description": "One object per device known to indiserver, from its "
            "`DRIVER_INFO` property, with the keys every lightAPT generation read; "
            "`device_type` is a role guess from `DRIVER_INTERFACE` (telescope 1 → "
            "`telescope`, CCD 2 → `camera`, focuser 8 → `focus`, filter 16 → `filter`, "
            "the first that matches; null otherwise). Empty while indiserver is not "
            "connected.",
            "tags": ["seed"],
            "operationId": "get_all_devices",
            "responses": {
                "200": json_response(
                    "The devices.",
                    {"type": "array", "items": ref("SeedDevice")},
                    [_SEED_DEVICE_EXAMPLE],
                )
            },
        }
    },
    "/FIFO/start/{device_type}/{device_name}/": {m: _fifo_op("start", m) for m in ("get", "post")},
    "/FIFO/stop/{device_type}/{device_name}/": {m: _fifo_op("stop", m) for m in ("get", "post")},
    "/indi/server/connect/": _status_op(
        "Connect to indiserver (lightAPT V4)",
        "Connects the service's INDI client if it is not connected (after "
        "`/indi/server/disconnect/`) and answers once the device definitions are in, "
        "within 5 s: `status` true when connected. indiserver itself is never started "
        "here (the embedded one runs with the service).",
        "indi_server_connect",
    ),
    "/indi/server/disconnect/": _status_op(
        "Disconnect from indiserver (lightAPT V4)",
        "Closes the INDI client's connection and stops reconnecting until "
        "`/indi/server/connect/`; indiserver and its drivers keep running. `status`: "
        "whether it was connected.",
        "indi_server_disconnect",
    ),
    "/indi/server/connected/": _status_op(
        "Is the service connected to indiserver? (lightAPT V4)",
        "`status`: the INDI client's connection.",
        "indi_server_connected",
    ),
    "/driver_connect/device_brand/": _data_op(
        "get",
        "Catalog drivers by role (lightAPT's React front end)",
        "Drivers of the catalog (`drivers.xml`, and custom ones) for each of its roles: "
        "`telescope` (Telescopes), `camera` and `guider` (CCDs), `focus` (Focusers), "
        "`filter` (Filter Wheels). `zh` and `en` are both the catalog label.",
        "driver_connect_device_brand",
        {"type": "object", "additionalProperties": {"type": "array", "items": ref("Brand")}},
        {role: [_BRAND_EXAMPLE] if role in ("camera", "guider") else [] for role in V5_ROLES},
    ),
    "/driver_connect/device_list/": _data_op(
        "get",
        "Every INDI device (lightAPT's React front end)",
        "The same objects as `/get/all/devices/`, under `data`.",
        "driver_connect_device_list",
        {"type": "array", "items": ref("SeedDevice")},
        [_SEED_DEVICE_EXAMPLE],
    ),
    "/driver_connect/server_status/": _data_op(
        "get",
        "Does indiserver run? (lightAPT's React front end)",
        "`data`: the embedded indiserver runs; with an external one, the service is "
        "connected to it.",
        "driver_connect_server_status",
        {"type": "boolean"},
        True,
    ),
    "/driver_connect/start_server/": _data_op(
        "post",
        "Start indiserver and drivers (lightAPT's React front end)",
        "Body: a list of `device_brand` entries. Each `en` must be a catalog label "
        "(and `driver`, if given, its executable): all are checked before anything "
        "starts. Starts the embedded indiserver if it is stopped, then each driver (one "
        "that runs already is left as it is).",
        "driver_connect_start_server",
        {"const": True},
        True,
        errors=(400, 404, 409, 502),
        body=json_request({"type": "array", "items": ref("Brand")}, [_BRAND_EXAMPLE]),
    ),
    "/driver_connect/close_server/": _data_op(
        "post",
        "Stop indiserver and every driver (lightAPT's React front end)",
        "Stops the embedded indiserver with its drivers; 409 with an external one.",
        "driver_connect_close_server",
        {"const": True},
        True,
        errors=(409,),
    ),
    "/driver_connect/device_status/": _data_op(
        "post",
        "Is a role's device connected? (lightAPT's React front end)",
        'Body `{"device": <role>}` (its names or ours). `Connected`; `Disconnected` '
        "(the role's device is not connected, or not on indiserver); `Not started` (the "
        "role holds no device).",
        "driver_connect_device_status",
        {"enum": ["Connected", "Disconnected", "Not started"]},
        "Connected",
        errors=(400,),
        body=json_request(
            {
                "type": "object",
                "required": ["device"],
                "properties": {"device": {"enum": [*dict.fromkeys([*V5_ROLES, *ROLES])]}},
            },
            {"device": "camera"},
        ),
    ),
    "/driver_connect/current_profile/": _data_op(
        "get",
        "The running profile and the roles (lightAPT's React front end)",
        "`all_drivers`: the drivers of the profile started last, as `device_brand` "
        "entries (null when none runs); and for each role, in lightAPT's names, "
        "`{device_name}` (null: no device).",
        "driver_connect_current_profile",
        {"type": "object", "properties": {"all_drivers": {"type": ["array", "null"]}}},
        {
            "all_drivers": [_BRAND_EXAMPLE],
            "telescope": {"device_name": "Telescope Simulator"},
            "camera": {"device_name": "CCD Simulator"},
            "focus": {"device_name": None},
            "filter": {"device_name": None},
            "guider": {"device_name": None},
        },
    ),
    "/device_connect/{action}/{device_type}/{device_name}/": _data_op(
        "get",
        "Assign or release a role (lightAPT's React front end)",
        "As `/FIFO/...`: `data` true when the answer is `Got!`, and `message` the FIFO "
        "answer (`Got!`, `Wrong device name!`, `Wrong Command!`, `Connect failed! ...`).",
        "device_connect",
        {"type": "boolean"},
        True,
        parameters=[_ACTION, _DEVICE_TYPE, _DEVICE_NAME],
    ),
    "/PAA/update_paa_running_status/": _data_op(
        "get",
        "Does a scripted procedure run? (lightAPT's React front end)",
        "Its shoot button takes a frame only when `data` is false. indiws runs none of "
        "that front end's procedures (PAA scripts), so `data` is always false; `success` "
        "is true.",
        "paa_update_running_status",
        {"type": "boolean"},
        False,
    ),
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "SeedDevice": {
            "type": "object",
            "required": [
                "device_name",
                "device_driver_name",
                "device_driver_exec",
                "driver_version",
                "device_driver",
                "device_type",
            ],
            "properties": {
                "device_name": {"type": "string", "description": "INDI device name"},
                "device_driver_name": {"type": "string", "description": "DRIVER_INFO.DRIVER_NAME"},
                "device_driver_exec": {
                    "type": "string",
                    "description": "DRIVER_INFO.DRIVER_EXEC, the driver binary",
                },
                "driver_version": {"type": "string", "description": "DRIVER_INFO.DRIVER_VERSION"},
                "device_driver": {
                    "type": ["string", "null"],
                    "description": "DRIVER_INFO.DRIVER_NAME again (null without DRIVER_INFO), "
                    "as the original's code answered",
                },
                "device_type": {
                    "enum": [*dict.fromkeys(lightapt_role_name(r) for r in ROLES), None],
                    "description": "The role the device most likely plays, from "
                    "DRIVER_INTERFACE; null for other devices",
                },
            },
        },
        "LightaptStatus": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "boolean"}},
        },
        "Brand": {
            "type": "object",
            "required": ["en"],
            "properties": {
                "zh": {"type": "string"},
                "en": {"type": "string", "minLength": 1, "description": "The catalog label"},
                "driver": {"type": "string", "description": "The driver executable"},
            },
        },
    }
}
