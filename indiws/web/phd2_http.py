"""lightAPT's ``/phd2/*`` HTTP calls (cobalt-web's connection page and its
PHD2 services), answered by the built-in autoguider.

Every answer is ``{"success": true, "data": {"flag": ...}}``, the shape
cobalt-web reads (``res.data.flag``).  There is no PHD2 process: the guider
is part of the service, so ``start`` and ``process`` always say true, and
``connect_device`` connects the guider role's camera and the mount.
docs/lightapt.md.
"""

from __future__ import annotations

from typing import Any

from ..service import Service
from .base import JsonHandler
from .errors import invalid_params
from .openapi import error_responses, json_request, json_response

__all__ = ["OPENAPI_PATHS", "routes"]


class Phd2Handler(JsonHandler):
    def flag(self, value: Any) -> None:
        self.write_json({"success": True, "data": {"flag": value}})


class CheckProfileHandler(Phd2Handler):
    """``POST /phd2/check_profile/`` ``{camera, telescope}``: flag true when
    the guider would use these devices (the guider and telescope roles')."""

    def post(self) -> None:
        body = self.json_body()
        roles = self.service.roles
        same = True
        for key, role in (("camera", "guider"), ("telescope", "telescope")):
            value = body.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise invalid_params(f"{key!r} must be a device name, got {value!r}", param=key)
            same = same and value == roles.device_for(role)
        self.flag(same)


class StartHandler(Phd2Handler):
    """``POST /phd2/start/``: the guider is built in; always running."""

    def post(self) -> None:
        self.flag(True)


class ConnectDeviceHandler(Phd2Handler):
    """``POST /phd2/connect_device/``: connect the guide camera and the mount."""

    async def post(self) -> None:
        engine = self.service.guiding
        try:
            await engine.set_connected(True)
        except Exception:  # not connected, no device: the flag says it
            self.flag(False)
            return
        self.flag(engine.connected())


class StopHandler(Phd2Handler):
    """``POST /phd2/stop/``: stop guiding and looping (the guider stays)."""

    async def post(self) -> None:
        await self.service.guiding.stop_capture()
        self.flag(True)


class DisconnectDeviceHandler(Phd2Handler):
    """``POST /phd2/disconnect_device/``: stop guiding and looping; the
    devices stay connected (other fronts use them)."""

    async def post(self) -> None:
        await self.service.guiding.stop_capture()
        self.flag(True)


class ConnectionHandler(Phd2Handler):
    """``GET /phd2/connection/``: are the guide camera (and mount) connected?"""

    def get(self) -> None:
        self.flag(self.service.guiding.connected())


class ProcessHandler(Phd2Handler):
    """``GET /phd2/process/``: the guider runs (always)."""

    def get(self) -> None:
        self.flag(True)


class StatusHandler(Phd2Handler):
    """``GET /phd2/status/``: PHD2's application state (``Settling`` while settling)."""

    def get(self) -> None:
        engine = self.service.guiding
        self.flag("Settling" if engine.settling else engine.state)


class CurrentProfileHandler(JsonHandler):
    """``GET /phd2/current_profile/``: the devices and the guider's settings."""

    def get(self) -> None:
        engine = self.service.guiding
        data = {
            "name": "indiws",
            "camera": engine.camera_name,
            "telescope": engine.mount_name,
            "pixel_scale": engine.pixel_scale(),
            "settings": engine.settings(),
        }
        self.write_json({"success": True, "data": data})


def routes(service: Service) -> list:
    args = {"service": service}
    return [
        (r"/phd2/check_profile/?", CheckProfileHandler, args),
        (r"/phd2/start/?", StartHandler, args),
        (r"/phd2/stop/?", StopHandler, args),
        (r"/phd2/connect_device/?", ConnectDeviceHandler, args),
        (r"/phd2/disconnect_device/?", DisconnectDeviceHandler, args),
        (r"/phd2/connection/?", ConnectionHandler, args),
        (r"/phd2/process/?", ProcessHandler, args),
        (r"/phd2/status/?", StatusHandler, args),
        (r"/phd2/current_profile/?", CurrentProfileHandler, args),
    ]


# ---------------------------------------------------------------- OpenAPI


def _flag_op(
    method: str,
    summary: str,
    description: str,
    operation_id: str,
    flag: dict[str, Any],
    example: Any,
    *,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "tags": ["lightapt"],
        "operationId": operation_id,
        "responses": {
            "200": json_response(
                "`data.flag` answers.",
                {
                    "type": "object",
                    "required": ["success", "data"],
                    "properties": {
                        "success": {"type": "boolean"},
                        "data": {
                            "type": "object",
                            "required": ["flag"],
                            "properties": {"flag": flag},
                        },
                    },
                },
                {"success": True, "data": {"flag": example}},
            ),
            **error_responses(400),
        },
    }
    if body is not None:
        op["requestBody"] = body
    return {method: op}


_BOOL = {"type": "boolean"}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/phd2/check_profile/": _flag_op(
        "post",
        "Would the guider use these devices? (cobalt-web)",
        "Body `{camera, telescope}` (device names; either may be left out). `flag` "
        "true when they are the guider and telescope roles' devices, which the built-in "
        "guider uses; cobalt-web warns that the configuration changed when false.",
        "phd2_check_profile",
        _BOOL,
        True,
        body=json_request(
            {
                "type": "object",
                "properties": {
                    "camera": {"type": ["string", "null"]},
                    "telescope": {"type": ["string", "null"]},
                },
            },
            {"camera": "Guide Simulator", "telescope": "Telescope Simulator"},
            required=False,
        ),
    ),
    "/phd2/start/": _flag_op(
        "post",
        "Start PHD2 (cobalt-web): the guider is built in, always true",
        "There is no PHD2 process to start.",
        "phd2_start",
        _BOOL,
        True,
    ),
    "/phd2/stop/": _flag_op(
        "post",
        "Stop guiding and looping (cobalt-web)",
        "The built-in guider stops its exposures; `flag` true.",
        "phd2_stop",
        _BOOL,
        True,
    ),
    "/phd2/connect_device/": _flag_op(
        "post",
        "Connect the guide camera and the mount (cobalt-web)",
        "`flag` true once both are connected; false when a role holds no device or "
        "connecting failed.",
        "phd2_connect_device",
        _BOOL,
        True,
    ),
    "/phd2/disconnect_device/": _flag_op(
        "post",
        "Stop guiding and looping (cobalt-web)",
        "The devices stay connected: other fronts use them. `flag` true.",
        "phd2_disconnect_device",
        _BOOL,
        True,
    ),
    "/phd2/connection/": _flag_op(
        "get",
        "Are the guide camera and mount connected? (cobalt-web)",
        "`flag`: the guider's devices are connected.",
        "phd2_connection",
        _BOOL,
        True,
    ),
    "/phd2/process/": _flag_op(
        "get",
        "Does PHD2 run? (cobalt-web): the guider is built in, always true",
        "",
        "phd2_process",
        _BOOL,
        True,
    ),
    "/phd2/status/": _flag_op(
        "get",
        "The guider's state (cobalt-web)",
        "PHD2's application state, or `Settling` while a guide or dither settles.",
        "phd2_status",
        {
            "enum": [
                "Stopped",
                "Selected",
                "Calibrating",
                "Guiding",
                "LostLock",
                "Paused",
                "Looping",
                "Settling",
            ]
        },
        "Guiding",
    ),
    "/phd2/current_profile/": {
        "get": {
            "summary": "The guider's devices and settings (cobalt-web)",
            "description": "`data`: {name, camera, telescope, pixel_scale, settings} "
            "(settings as `guiding.settings`).",
            "tags": ["lightapt"],
            "operationId": "phd2_current_profile",
            "responses": {
                "200": json_response(
                    "The profile.",
                    {"type": "object", "required": ["success", "data"]},
                    {
                        "success": True,
                        "data": {
                            "name": "indiws",
                            "camera": "Guide Simulator",
                            "telescope": "Telescope Simulator",
                            "pixel_scale": 3.3,
                            "settings": {"exposure": 1.0},
                        },
                    },
                )
            },
        }
    },
}
