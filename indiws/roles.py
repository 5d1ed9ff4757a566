"""Which device plays which role (telescope, camera, focuser, filter wheel,
guider, dome, rotator, flat panel, weather, GPS).

A role holds one device; a newer assignment replaces the older one.  The
assignments are stored in the state database, so that the next start of the
service needs no setup: when an assigned device appears on the indiserver
(at start, after a reconnect, after its driver restarted) it is connected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from .client import (
    Event,
    EventType,
    INDIClient,
    INDIError,
    PropertyTimeoutError,
    UnknownDeviceError,
)
from .db import ROLES, StateDB
from .protocol import Permission, PropertyState
from .verbs import Result

__all__ = [
    "ROLES",
    "ROLE_ALIASES",
    "ConnectFailedError",
    "Released",
    "RoleAssignment",
    "RoleTable",
    "RoleManager",
    "UnknownRoleError",
    "guess_role",
    "role_named",
]

log = logging.getLogger("indiws.roles")


class RoleAssignment(Result):
    """Which device holds a role (`RoleManager.describe`): null when none;
    whether it is on the indiserver now and connected."""

    role: str
    device_name: str | None
    present: bool
    connected: bool


class Released(Result):
    """A role freed: the device that held it (null: none did)."""

    role: str
    device_name: str | None
    released: bool


#: Every role's assignment (``roles``), one field per role.
RoleTable = msgspec.defstruct(
    "RoleTable", [(role, RoleAssignment) for role in ROLES], bases=(Result,), kw_only=True
)
RoleTable.__doc__ = "Which device holds each role."

#: The elements of a camera's ACTIVE_DEVICES that name the devices of other roles.
_ACTIVE_DEVICE_ELEMENTS = {
    "telescope": "ACTIVE_TELESCOPE",
    "focuser": "ACTIVE_FOCUSER",
    "filter_wheel": "ACTIVE_FILTER",
}


#: The other names lightAPT's front ends give the roles (its code says
#: ``focus`` and ``filter``; its documentation our ``focuser`` and
#: ``filter_wheel``).  Only its calls take them: the REST and JSON-RPC APIs
#: name roles by `ROLES` alone.
ROLE_ALIASES: dict[str, str] = {"focus": "focuser", "filter": "filter_wheel"}


def role_named(name: str) -> str | None:
    """The role ``name`` means, as a role name or one of `ROLE_ALIASES`; None
    for anything else."""
    if name in ROLES:
        return name
    return ROLE_ALIASES.get(name)


#: DRIVER_INTERFACE bits that suggest a role, in the order they are tried
#: (the CCD simulator is a CCD, a guider port and a filter wheel: a camera).
_ROLE_INTERFACES: tuple[tuple[int, str], ...] = (
    (1, "telescope"),
    (2, "camera"),
    (8, "focuser"),
    (16, "filter_wheel"),
    (32, "dome"),
    (4096, "rotator"),
    (1024, "flat_panel"),
    (512, "flat_panel"),
    (128, "weather"),
    (64, "gps"),
)


def guess_role(interfaces: int) -> str | None:
    """The role a device of this DRIVER_INTERFACE bitmask most likely plays:
    telescope (bit 1), CCD (2) → camera, focuser (8), filter (16) →
    filter_wheel, dome (32), rotator (4096), light box (1024) or dust cap
    (512) → flat_panel, weather (128), GPS (64), the first that matches;
    None for other devices."""
    for bit, role in _ROLE_INTERFACES:
        if interfaces & bit:
            return role
    return None


class UnknownRoleError(INDIError, LookupError):
    def __init__(self, role: str) -> None:
        super().__init__(f"unknown device type {role!r}: use one of {', '.join(ROLES)}")
        self.role = role


class ConnectFailedError(INDIError):
    """The driver refused or failed to connect its device."""


class RoleManager:
    """The role assignments.  ``profile`` tells the profile that runs now
    (embedded mode): an assignment made meanwhile is kept in that profile
    too, so that the roles follow the profile that is started."""

    def __init__(
        self,
        client: INDIClient,
        db: StateDB,
        *,
        connect_timeout: float = 30.0,
        appear_timeout: float = 5.0,
        profile: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.client = client
        self.db = db
        self.connect_timeout = connect_timeout
        self.appear_timeout = appear_timeout
        self._profile = profile
        self._auto: dict[str, asyncio.Task[None]] = {}
        self._sub = client.subscribe(self._on_event)

    def close(self) -> None:
        self._sub.close()
        for task in self._auto.values():
            task.cancel()

    @staticmethod
    def check_role(role: str) -> str:
        if role not in ROLES:
            raise UnknownRoleError(role)
        return role

    def device_for(self, role: str) -> str | None:
        return self.db.get_role(self.check_role(role))

    def assignments(self) -> dict[str, str | None]:
        roles = self.db.get_roles()
        return {role: roles.get(role) for role in ROLES}

    def roles_of(self, device: str) -> list[str]:
        return [role for role, dev in self.db.get_roles().items() if dev == device]

    async def assign(self, role: str, device: str, *, connect: bool = True) -> dict[str, Any]:
        """Give ``role`` to ``device`` (replacing any other) and connect it.

        The device must be known to the indiserver: one it has not defined
        yet (its driver still starting, the service just started) is waited
        for up to ``appear_timeout`` seconds, then refused with an
        `UnknownDeviceError` naming the devices it knows.  Answers once the
        device is connected; `ConnectFailedError` carries the driver's message if it
        could not connect (the assignment stays: it is retried when the
        device next appears).
        """
        self.check_role(role)
        await self._wait_device(device)
        previous = self.db.get_role(role)
        self.db.set_role(role, device)
        self._keep_in_profile()
        if previous and previous != device:
            log.info("role %s: %s replaces %s", role, device, previous)
        else:
            log.info("role %s: %s", role, device)
        if connect:
            await self.connect(device)
        await self.link_devices()
        return self.describe(role)

    async def _wait_device(self, device: str) -> None:
        if device in self.client.devices:
            return
        log.info("role assignment waits up to %g s for %r to appear", self.appear_timeout, device)
        try:
            await self.client.wait_for_device(device, timeout=self.appear_timeout)
        except TimeoutError:
            known = ", ".join(repr(name) for name in sorted(self.client.devices)) or "none"
            raise UnknownDeviceError(
                device,
                f"unknown device {device!r}: it did not appear on the indiserver within "
                f"{self.appear_timeout:g} s (devices known: {known})",
            ) from None

    def release(self, role: str) -> str | None:
        """Free ``role``; returns the device that held it (None if none)."""
        previous = self.db.get_role(self.check_role(role))
        self.db.clear_role(role)
        self._keep_in_profile()
        if previous:
            log.info("role %s released (was %s)", role, previous)
        return previous

    def _keep_in_profile(self) -> None:
        """Store the roles as they are now in the profile that runs."""
        name = self._profile()
        if name is None or self.db.get_profile(name) is None:
            return
        self.db.update_profile(name, roles=self.db.get_roles())
        log.info("roles kept in profile %r", name)

    def describe(self, role: str) -> dict[str, Any]:
        device = self.db.get_role(role)
        dev = self.client.devices.get(device) if device else None
        return {
            "role": role,
            "device_name": device,
            "present": dev is not None,
            "connected": bool(dev and dev.connected),
        }

    async def connect(self, device: str) -> None:
        """Connect ``device`` (no-op if connected); raise if the driver fails."""
        dev = self.client.get_device(device)
        if dev.connected:
            return
        if "CONNECTION" not in dev.properties:
            await self.client.wait_for_property(device, "CONNECTION", timeout=5)
        try:
            prop = await self.client.set_property(
                device, "CONNECTION", {"CONNECT": True}, wait=True, timeout=self.connect_timeout
            )
        except PropertyTimeoutError as exc:
            raise ConnectFailedError(
                f"{device} did not finish connecting within {exc.timeout:g} s"
            ) from None
        dev = self.client.devices.get(device)  # it may have gone meanwhile
        if prop.state is PropertyState.ALERT or dev is None or not dev.connected:
            detail = prop.message or _last_message(self.client, device)
            raise ConnectFailedError(
                f"{device} failed to connect" + (f": {detail}" if detail else "")
            )
        # Answer once the properties a connected device adds are defined.
        await self.client.wait_device_settled(device)

    async def link_devices(self) -> None:
        """Tell the camera which telescope, focuser and filter wheel it works
        with (its ACTIVE_DEVICES), so that the FITS headers it writes carry
        their pointing, focus and filter.  Best effort: a driver that refuses
        is logged, the roles stay as they are."""
        camera = self.db.get_role("camera")
        dev = self.client.devices.get(camera) if camera else None
        prop = dev.properties.get("ACTIVE_DEVICES") if dev else None
        if camera is None or prop is None or prop.perm is Permission.RO:
            return
        roles = self.db.get_roles()
        values = {
            element: roles[role]
            for role, element in _ACTIVE_DEVICE_ELEMENTS.items()
            if roles.get(role) and element in prop.elements and prop[element] != roles[role]
        }
        if not values:
            return
        try:
            await self.client.set_property(camera, "ACTIVE_DEVICES", values, wait=True, timeout=5)
        except (INDIError, TimeoutError) as exc:
            log.warning("could not link %s to %s: %s", camera, ", ".join(values.values()), exc)
        else:
            log.info("%s works with %s", camera, ", ".join(values.values()))

    def restore(self) -> None:
        """Connect every assigned device that is present and not connected."""
        for device in set(self.db.get_roles().values()):
            if device in self.client.devices:
                self._schedule_connect(device)

    def _on_event(self, event: Event) -> None:
        if event.type is EventType.DEFINED and event.name == "CONNECTION":
            if event.device in set(self.db.get_roles().values()):
                self._schedule_connect(event.device)

    def _schedule_connect(self, device: str) -> None:
        task = self._auto.get(device)
        if task is not None and not task.done():
            return
        self._auto[device] = asyncio.get_running_loop().create_task(self._auto_connect(device))

    async def _auto_connect(self, device: str) -> None:
        await asyncio.sleep(0)  # let the rest of the device's definitions arrive
        try:
            dev = self.client.devices.get(device)
            if dev is None:
                return
            if not dev.connected:
                log.info("connecting %s (assigned to %s)", device, ", ".join(self.roles_of(device)))
                await self.connect(device)
            await self.link_devices()
        except (INDIError, UnknownDeviceError, TimeoutError) as exc:
            log.warning("could not connect %s: %s", device, exc)


def _last_message(client: INDIClient, device: str) -> str | None:
    dev = client.devices.get(device)
    if dev and dev.messages:
        return dev.messages[-1][1]
    return None
