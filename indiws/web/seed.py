"""The seed's two HTTP calls, kept exactly as lightAPT calls them.

- ``GET /get/all/devices/``: one object per INDI device, from DRIVER_INFO.
- ``GET|POST /FIFO/start/<device_type>/<device_name>/`` and ``/FIFO/stop/...``:
  assign a device to a role (and connect it), or release the role.
"""

from __future__ import annotations

from typing import Any

from ..client import Device
from .base import JsonHandler


def seed_device(device: Device) -> dict[str, Any]:
    info = device.driver_info
    return {
        "device_name": device.name,
        "device_driver_name": info.get("DRIVER_NAME", ""),
        "device_driver_exec": info.get("DRIVER_EXEC", ""),
        "driver_version": info.get("DRIVER_VERSION", ""),
    }


class AllDevicesHandler(JsonHandler):
    def get(self) -> None:
        self.write_json([seed_device(d) for d in self.service.client.devices.values()])


class FifoHandler(JsonHandler):
    """``/FIFO/(start|stop)/<device_type>/<device_name>/``."""

    get_changes_state = True  # the gate refuses a cross-site GET (an <img> tag)

    async def get(self, action: str, device_type: str, device_name: str) -> None:
        roles = self.service.roles  # tornado has already %-decoded the path arguments
        roles.check_role(device_type)
        if action == "start":
            result = await roles.assign(device_type, device_name)
            self.write_json({"result": "started", **result})
        else:
            previous = roles.release(device_type)
            self.write_json(
                {
                    "result": "stopped",
                    "role": device_type,
                    "device_name": previous,
                    "released": previous is not None,
                    "requested_device": device_name,
                }
            )

    post = get


def routes(service: Any) -> list:
    args = {"service": service}
    return [
        (r"/get/all/devices/?", AllDevicesHandler, args),
        (r"/FIFO/(start|stop)/([^/]+)/([^/]+)/?", FifoHandler, args),
    ]
