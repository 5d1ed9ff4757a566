"""Server, driver and profile management over HTTP.

Two families of endpoints:

- ``/api/...``: INDI Web Manager's (``indiweb`` 1.2.0) paths, methods and JSON
  shapes, so that scripts and programs written for it (``curl`` one-liners,
  KStars/Ekos) work against this service: server status/start/stop, running
  drivers, profiles, the driver catalog, driver start/stop/restart by label,
  devices.  Errors carry INDI Web Manager's ``{"detail": ...}`` next to our
  ``{"error": {...}}``.
- ``/api/v1/server``, ``/api/v1/profiles``, ``/api/v1/drivers``: our own
  equivalents with JSON bodies (a driver is named by executable and optional
  device name), described in :data:`OPENAPI_PATHS`.

When the service only connects to an indiserver run by someone else, every
endpoint that controls the server or its drivers answers 409
``indiserver_not_managed``; profiles and the catalog still work.
"""

from __future__ import annotations

import logging
import platform
import socket
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from msgspec import Meta

from .. import __version__
from ..db import (
    DEFAULT_PORT,
    ROLES,
    Profile,
    ProfileDriver,
    ProfileExistsError,
    ProfileNotFoundError,
    check_label,
    check_remote_spec,
)
from ..manager import DriverInstance, IndiServerError
from ..service import Service
from . import bodies
from .base import JsonHandler, error_body
from .bodies import (
    UNSET,
    Body,
    DeviceName,
    DriverLabel,
    Executable,
    Flag,
    Port,
    ProfileName,
    Role,
    UnsetType,
    decode_body,
    flag,
    port,
)
from .errors import INVALID_PARAMS, APIError, invalid_params
from .openapi import json_request, json_response, ref

log = logging.getLogger("indiws.web")

__all__ = ["OPENAPI_PATHS", "routes"]


# ---------------------------------------------------------------- helpers


# ---------------------------------------------------------------- request bodies
# Declared once: each struct is the body's schema in the OpenAPI document and
# its check (indiws/web/bodies.py).


class DriverRequest(Body):
    """A driver by `executable` (with `name`, a device name for another
    instance), or by catalog `label`."""

    executable: Executable | UnsetType = UNSET
    name: DeviceName | UnsetType = UNSET
    label: DriverLabel | UnsetType = UNSET


class ProfileDriverEntry(Body):
    """A driver of a profile: `executable` (with `name`, `label`), or a catalog `label`."""

    executable: Executable | UnsetType = UNSET
    name: DeviceName | None = None
    label: DriverLabel | None = None


class ProfileInput(Body):
    """Fields of a profile to change (`drivers` and `roles` replace the old
    ones; `name` renames it). `drivers` entries: an executable,
    `{"executable", "name"?, "label"?}` or `{"label"}` (from the catalog)."""

    name: ProfileName | None = None
    port: Port | None = None
    auto_start: Flag | None = None
    auto_connect: Flag | None = None
    drivers: list[Executable | ProfileDriverEntry] | None = None
    roles: dict[Role, DeviceName] | None = None


class NewProfile(ProfileInput):
    """A new profile: `name` is required."""

    name: ProfileName


class ServerActionInput(Body):
    """Which profile to start with (start, restart)."""

    profile: ProfileName | None = None


class ProfileStartInput(Body):
    """`replace`: stop running drivers the profile does not list."""

    replace: Flag = True


class IndiwebProfileUpdate(msgspec.Struct, kw_only=True):
    """INDI Web Manager's profile update; a field left out takes its default,
    `scripts` and other keys are ignored."""

    port: Port = DEFAULT_PORT
    autostart: Flag = 0
    autoconnect: Flag = 0


class IndiwebDriverEntry(msgspec.Struct, kw_only=True):
    """`{"label": ...}` (a catalog label) or `{"remote": "Dev@host[:port],..."}`."""

    label: DriverLabel | UnsetType = UNSET
    remote: (
        Annotated[
            str,
            Meta(
                extra_json_schema={
                    "format": bodies.REMOTE_DRIVERS_FORMAT,
                    "pattern": bodies.REMOTE_LIST_PATTERN,
                }
            ),
        ]
        | UnsetType
    ) = UNSET


_CUSTOM_TEXT = Annotated[
    str, Meta(max_length=128, extra_json_schema={"pattern": bodies.PRINTABLE_OR_EMPTY})
]


class IndiwebCustomDriver(msgspec.Struct, kw_only=True):
    """INDI Web Manager's custom driver: another label for a catalog program."""

    Label: DriverLabel
    Exec: Executable
    Name: _CUSTOM_TEXT = ""
    Family: _CUSTOM_TEXT = ""
    Version: _CUSTOM_TEXT = ""


def _one_of_required(schema: dict[str, Any], *alternatives: str) -> dict[str, Any]:
    """``schema`` that needs one of ``alternatives`` (a string) present."""
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in alternatives
    ]
    return schema


_BODY_SCHEMAS = bodies.schema_components(
    DriverRequest,
    ProfileInput,
    NewProfile,
    ServerActionInput,
    ProfileStartInput,
    IndiwebProfileUpdate,
    list[IndiwebDriverEntry],
    IndiwebCustomDriver,
)
_one_of_required(_BODY_SCHEMAS["DriverRequest"], "executable", "label")
_one_of_required(_BODY_SCHEMAS["ProfileDriverEntry"], "executable", "label")
_one_of_required(_BODY_SCHEMAS["IndiwebDriverEntry"], "label", "remote")


def _profile_not_found(name: str) -> ProfileNotFoundError:
    # INDI Web Manager's wording ("... not found"), which scripts look for.
    return ProfileNotFoundError(f"Profile {name!r} not found")


def _bad_value(exc: Exception) -> APIError:
    return invalid_params(str(exc))


class ManagerHandler(JsonHandler):
    """Base of every handler here."""

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # indiserver or a driver refusing is an answer, not a bug: one line, no traceback.
        if isinstance(value, IndiServerError):
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


class IndiwebHandler(ManagerHandler):
    """INDI Web Manager compatible: errors also carry its ``detail`` key."""

    def error_payload(self, err: APIError) -> dict[str, Any]:
        return {"detail": err.message, "error": error_body(err)}


def _indiweb_profile(profile: Profile) -> dict[str, Any]:
    """A profile as INDI Web Manager's ``GET /api/profiles`` lists it."""
    return {
        "id": profile.id,
        "name": profile.name,
        "port": profile.port,
        "autostart": int(profile.auto_start),
        "autoconnect": int(profile.auto_connect),
        "scripts": None,
    }


def _driver_label(service: Service, driver: ProfileDriver) -> str:
    if driver.label:
        return driver.label
    if driver.name:
        return driver.name
    info = service.driver_info_for(driver.executable)
    return info.label if info is not None else driver.executable


def _remote_entry(remote: str) -> dict[str, Any]:
    return {
        "name": remote,
        "label": remote,
        "skeleton": None,
        "version": "1.0",
        "binary": remote,
        "family": "Remote",
        "mdpd": False,
        "custom": False,
        "rule": None,
        "role": "",
    }


def _indiweb_driver(
    service: Service, executable: str, label: str | None, shown_label: str
) -> dict[str, Any]:
    """A running driver as INDI Web Manager's ``GET /api/server/drivers`` shows it."""
    if "@" in executable:
        return _remote_entry(executable)
    info = service.driver_info_for(executable, label)
    if info is not None:
        entry = info.to_indiweb_dict()
        entry["custom"] = info.label in service.custom_drivers
    else:
        entry = {
            **_remote_entry(executable),
            "version": "0.0",
            "family": "",
        }
    entry["label"] = shown_label
    return entry


def _running_drivers(service: Service) -> list[dict[str, Any]]:
    if service.supervisor is None:
        # An indiserver run elsewhere: tell the drivers from the devices' DRIVER_INFO.
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for name, device in service.client.devices.items():
            exe = device.driver_info.get("DRIVER_EXEC")
            if exe and (exe, name) not in seen:
                seen[(exe, name)] = _indiweb_driver(service, exe, None, name)
        return list(seen.values())
    if not service.supervisor.running:
        return []
    return [
        _indiweb_driver(
            service,
            d.executable,
            d.label,
            d.name or d.label or _driver_label(service, ProfileDriver(d.executable)),
        )
        for d in service.supervisor.running_drivers()
    ]


def _catalog_entries(service: Service) -> list[dict[str, Any]]:
    entries = [d.to_indiweb_dict() for d in service.catalog]
    for info in service.custom_drivers.values():
        entries.append({**info.to_indiweb_dict(), "custom": True})
    return sorted(entries, key=lambda e: str(e["label"]))


def _families(service: Service) -> dict[str, list[str]]:
    families = service.catalog.groups()
    for info in service.custom_drivers.values():
        families.setdefault(info.group, []).append(info.label)
    return families


# ------------------------------------------------------ INDI Web Manager API


class IndiwebServerStatusHandler(IndiwebHandler):
    def get(self) -> None:
        self.write_json(
            [
                {
                    "status": str(self.service.server_running),
                    "active_profile": self.service.active_profile or "",
                }
            ]
        )


class IndiwebServerDriversHandler(IndiwebHandler):
    def get(self) -> None:
        self.write_json(_running_drivers(self.service))


class IndiwebServerStartHandler(IndiwebHandler):
    async def post(self, profile: str) -> None:
        self.service.require_supervisor()
        if self.service.db.get_profile(profile) is None:
            raise _profile_not_found(profile)
        await self.service.start_profile(profile)
        self.write_json({"message": f"INDI server started for profile {profile}"})


class IndiwebServerStopHandler(IndiwebHandler):
    async def post(self) -> None:
        await self.service.stop_server()
        self.write_json({"message": "INDI server stopped"})


class IndiwebProfilesHandler(IndiwebHandler):
    def get(self) -> None:
        profiles = sorted(self.service.db.list_profiles(), key=lambda p: p.id or 0)
        self.write_json([_indiweb_profile(p) for p in profiles])


class IndiwebProfileHandler(IndiwebHandler):
    def get(self, name: str) -> None:
        profile = self.service.db.get_profile(name)
        if profile is None:
            raise _profile_not_found(name)
        self.write_json(_indiweb_profile(profile))

    def post(self, name: str) -> None:
        """Add a profile; one that exists already is left as it is."""
        db = self.service.db
        if db.get_profile(name) is None:
            try:
                db.create_profile(name)
            except ValueError as exc:
                raise _bad_value(exc) from None
        self.write_json({"message": f"Profile {name} added"})

    def put(self, name: str) -> None:
        """INDI Web Manager's update: a field left out takes its default
        (port 7624, autostart and autoconnect off); ``scripts`` is ignored."""
        db = self.service.db
        if db.get_profile(name) is None:
            raise _profile_not_found(name)
        data = decode_body(self, IndiwebProfileUpdate)
        try:
            db.update_profile(
                name,
                port=port(data.port),
                auto_start=flag(data.autostart),
                auto_connect=flag(data.autoconnect),
            )
        except ValueError as exc:
            raise _bad_value(exc) from None
        self.write_json({"message": f"Profile {name} updated"})

    def delete(self, name: str) -> None:
        self.service.db.delete_profile(name)
        self.write_json({"message": f"Profile {name} deleted"})


class IndiwebProfileDriversHandler(IndiwebHandler):
    def get(self, name: str) -> None:
        """The profile's drivers in the form ``POST`` takes."""
        profile = self.service.db.get_profile(name)
        if profile is None:
            raise _profile_not_found(name)
        entries: list[dict[str, str]] = [
            {"label": _driver_label(self.service, d)} for d in profile.drivers if not d.is_remote
        ]
        remote = [d.executable for d in profile.drivers if d.is_remote]
        if remote:
            entries.append({"remote": ",".join(remote)})
        self.write_json(entries)

    def post(self, name: str) -> None:
        """Replace the profile's drivers with ``[{"label": L}, {"remote": "Dev@host,..."}]``;
        the profile is created if needed."""
        entries = decode_body(self, list[IndiwebDriverEntry], empty=[])
        drivers: list[ProfileDriver] = []
        try:
            for i, entry in enumerate(entries):
                if isinstance(entry.label, str):
                    # A label names a catalog driver; other indiservers' devices go in "remote".
                    drivers.append(self.service.profile_driver_for_label(entry.label))
                elif isinstance(entry.remote, str):
                    # Each a Device@host[:port]: a plain word here is no remote driver.
                    drivers.extend(
                        ProfileDriver(check_remote_spec(r.strip()))
                        for r in entry.remote.split(",")
                        if r.strip()
                    )
                else:
                    raise invalid_params(f'driver entry {i} needs "label" or "remote"', entry=i)
            db = self.service.db
            if db.get_profile(name) is None:
                db.create_profile(name, drivers=drivers)
            else:
                db.update_profile(name, drivers=drivers)
        except ValueError as exc:
            raise _bad_value(exc) from None
        self.write_json({"message": f"Drivers saved for profile {name}"})


class IndiwebProfileLabelsHandler(IndiwebHandler):
    def get(self, name: str) -> None:
        profile = self.service.db.get_profile(name)
        drivers = profile.drivers if profile is not None else []
        self.write_json(
            [{"label": _driver_label(self.service, d)} for d in drivers if not d.is_remote]
        )


class IndiwebProfileRemoteHandler(IndiwebHandler):
    def get(self, name: str) -> None:
        profile = self.service.db.get_profile(name)
        remote = [d.executable for d in (profile.drivers if profile else []) if d.is_remote]
        self.write_json({"drivers": ",".join(remote)} if remote else {})


class IndiwebCustomDriverHandler(IndiwebHandler):
    def post(self) -> None:
        """``{"Label", "Name", "Family", "Exec", "Version"}``: a driver the
        catalog does not list (kept until the service stops)."""
        data = decode_body(self, IndiwebCustomDriver)
        # Only another label for a program the catalog lists: naming a new
        # program is the operator's (--custom-driver), not an HTTP client's.
        self.service.add_custom_driver(
            data.Label.strip(),
            data.Name.strip(),
            data.Family.strip(),
            data.Exec.strip(),
            data.Version.strip(),
        )
        self.write_json({"message": "Custom driver saved and collection updated"})


class IndiwebDriversHandler(IndiwebHandler):
    def get(self) -> None:
        self.write_json(_catalog_entries(self.service))


class IndiwebDriverGroupsHandler(IndiwebHandler):
    def get(self) -> None:
        self.write_json(sorted(_families(self.service)))


class IndiwebDriverActionHandler(IndiwebHandler):
    """``/api/drivers/(start|stop|restart|start_remote|stop_remote)/<label>``.

    As INDI Web Manager: a local driver that is not multi-device runs with the
    label as its device name (``-n "<label>"``); a label that only starts with
    a catalog label ("Filter Simulator 2") runs that driver as another
    instance named after it.  A driver running under the label already is not
    started twice."""

    async def post(self, action: str, label: str) -> None:
        service = self.service
        service.require_supervisor()
        if action.endswith("_remote") and "@" not in label:
            raise invalid_params(f"a remote driver is named 'Device@host[:port]', not {label!r}")
        if action in ("start", "start_remote"):
            # Only start_remote takes Device@host; start refuses a label with '@'.
            await service.start_driver_by_label(label, remote=action == "start_remote")
            message = (
                "Remote driver {} started" if action == "start_remote" else "Driver {} started"
            )
        elif action in ("stop", "stop_remote"):
            await service.stop_driver_by_label(label)
            message = "Remote driver {} stopped" if action == "stop_remote" else "Driver {} stopped"
        else:
            await service.restart_driver_by_label(label)
            message = "Driver {} restarted"
        self.write_json({"message": message.format(label)})


class IndiwebDevicesHandler(IndiwebHandler):
    def get(self) -> None:
        self.write_json(
            [
                {"device": name, "connected": device.connected}
                for name, device in self.service.client.devices.items()
                if "CONNECTION" in device.properties
            ]
        )


class IndiwebInfoHandler(IndiwebHandler):
    def get(self, what: str) -> None:
        if what == "version":
            self.write_json({"version": __version__})
        elif what == "hostname":
            self.write_json({"hostname": socket.gethostname()})
        else:
            arch = platform.machine()
            self.write_json({"aarch64": "arm64", "armv7l": "armhf"}.get(arch, arch))


class IndiwebSystemHandler(IndiwebHandler):
    def post(self, what: str) -> None:
        raise APIError(
            501,
            INVALID_PARAMS,
            "not_supported",
            f"indiws does not {what} the computer; use the operating system's tools",
        )


# ------------------------------------------------------------ our /api/v1


def _profile_driver(service: Service, entry: str | ProfileDriverEntry) -> ProfileDriver:
    """``"exe"``, ``{"executable", "name"?, "label"?}`` or ``{"label"}`` (catalog)."""
    if isinstance(entry, ProfileDriverEntry) and entry.executable is UNSET:
        if entry.label is None:
            raise invalid_params('drivers: an entry needs "executable" or "label"', field="drivers")
        info = service.require_driver(entry.label)
        return ProfileDriver(info.executable, entry.name, info.label)
    value = entry if isinstance(entry, str) else msgspec.to_builtins(entry)
    driver = ProfileDriver.from_value(value)
    service.check_driver(driver)  # refuse now what could never start
    return driver


def _profile_fields(service: Service, body: ProfileInput) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if body.port is not None:
        fields["port"] = port(body.port)
    for key in ("auto_start", "auto_connect"):
        if getattr(body, key) is not None:
            fields[key] = flag(getattr(body, key))
    if body.drivers is not None:
        fields["drivers"] = [_profile_driver(service, d) for d in body.drivers]
    if body.roles is not None:
        fields["roles"] = dict(body.roles)
    return fields


class ServerHandler(ManagerHandler):
    def get(self) -> None:
        self.write_json(self.service.server_status())


class ServerActionHandler(ManagerHandler):
    """``POST /api/v1/server/(start|stop|restart)``, body ``{"profile": name}``
    optional for start and restart."""

    async def post(self, action: str) -> None:
        service = self.service
        service.require_supervisor()
        profile = decode_body(self, ServerActionInput).profile
        if profile is not None and service.db.get_profile(profile) is None:
            raise _profile_not_found(profile)
        if action == "restart":
            profile = profile or service.active_profile
            await service.stop_server()
        if action == "stop":
            await service.stop_server()
        elif profile is not None:
            await service.start_profile(profile)
        else:
            await service.start_server()
        self.write_json(service.server_status())


class ProfilesV1Handler(ManagerHandler):
    def get(self) -> None:
        self.write_json([p.to_dict() for p in self.service.db.list_profiles()])

    def post(self) -> None:
        body = decode_body(self, NewProfile)
        try:
            fields = _profile_fields(self.service, body)
            profile = self.service.db.create_profile(body.name, **fields)
        except ProfileExistsError:
            raise
        except ValueError as exc:
            raise _bad_value(exc) from None
        # A header holds Latin-1 only: the name goes in as the URL would carry it.
        self.set_header("Location", f"/api/v1/profiles/{quote(profile.name, safe='')}")
        self.write_json(profile.to_dict(), status=201)


class ProfileV1Handler(ManagerHandler):
    def _profile(self, name: str) -> Profile:
        profile = self.service.db.get_profile(name)
        if profile is None:
            raise _profile_not_found(name)
        return profile

    def get(self, name: str) -> None:
        self.write_json(self._profile(name).to_dict())

    def put(self, name: str) -> None:
        """Change the given fields (``drivers`` and ``roles`` replace the old
        ones); ``name`` renames the profile."""
        self._profile(name)
        body = decode_body(self, ProfileInput)
        new_name = body.name
        try:
            fields = _profile_fields(self.service, body)
            profile = self.service.db.update_profile(name, new_name=new_name, **fields)
        except ProfileExistsError:
            raise
        except ValueError as exc:
            raise _bad_value(exc) from None
        if self.service.active_profile == name and new_name:
            self.service.active_profile = new_name
        self.write_json(profile.to_dict())

    def delete(self, name: str) -> None:
        self._profile(name)
        self.service.db.delete_profile(name)
        self.write_json({"deleted": name})


class ProfileStartV1Handler(ManagerHandler):
    """``POST /api/v1/profiles/<name>/start``, body ``{"replace": true}``
    (default: stop running drivers the profile does not list)."""

    async def post(self, name: str) -> None:
        service = self.service
        service.require_supervisor()
        if service.db.get_profile(name) is None:
            raise _profile_not_found(name)
        replace = flag(decode_body(self, ProfileStartInput).replace)
        await service.start_profile(name, replace=replace)
        self.write_json(service.server_status())


class DriversV1Handler(ManagerHandler):
    def get(self) -> None:
        service = self.service
        service.require_supervisor()
        assert service.supervisor is not None
        self.write_json([service.describe_driver(d) for d in service.supervisor.drivers()])


class DriverActionV1Handler(ManagerHandler):
    """``POST /api/v1/drivers/(start|stop|restart)`` with
    ``{"executable": "indi_simulator_wheel", "name": "Wheel Two"}`` (``name``
    optional: a second instance under another device name), or
    ``{"label": "Dome Simulator"}`` (a catalog label; for stop and restart,
    the running instance INDI Web Manager's label means)."""

    async def post(self, action: str) -> None:
        service = self.service
        service.require_supervisor()
        body = decode_body(self, DriverRequest)
        executable = None if body.executable is UNSET else body.executable
        name = None if body.name is UNSET else body.name
        label = None if body.label is UNSET else body.label
        if label is not None:
            try:
                check_label(label)  # also where only the executable is used
            except ValueError as exc:
                raise _bad_value(exc) from None
        driver: DriverInstance
        if executable is None:
            if label is None:
                raise invalid_params("give the driver's 'executable' (or its catalog 'label')")
            if action == "start":
                info = service.require_driver(label)
                driver = await service.start_driver(info.executable, name, label=info.label)
            elif action == "stop":
                driver = await service.stop_driver_by_label(name or label)
            else:
                driver = await service.restart_driver_by_label(name or label)
        elif action == "start":
            driver = await service.start_driver(executable, name, label=label)
        elif action == "stop":
            driver = await service.stop_driver(executable, name)
        else:
            driver = await service.restart_driver(executable, name)
        self.write_json(service.describe_driver(driver))


class CatalogV1Handler(ManagerHandler):
    def get(self) -> None:
        group = self.get_query_argument("group", None)
        service = self.service
        entries = [d.to_dict() for d in service.catalog]
        entries += [{**d.to_dict(), "custom": True} for d in service.custom_drivers.values()]
        if group is not None:
            entries = [e for e in entries if e["group"] == group]
        self.write_json(entries)


class GroupsV1Handler(ManagerHandler):
    def get(self) -> None:
        self.write_json(_families(self.service))


def routes(service: Service) -> list[Any]:
    args = {"service": service}
    return [
        # INDI Web Manager
        (r"/api/server/status/?", IndiwebServerStatusHandler, args),
        (r"/api/server/drivers/?", IndiwebServerDriversHandler, args),
        (r"/api/server/start/([^/]+)/?", IndiwebServerStartHandler, args),
        (r"/api/server/stop/?", IndiwebServerStopHandler, args),
        (r"/api/profiles/?", IndiwebProfilesHandler, args),
        (r"/api/profiles/custom/add/?", IndiwebCustomDriverHandler, args),
        (r"/api/profiles/([^/]+)/drivers/?", IndiwebProfileDriversHandler, args),
        (r"/api/profiles/([^/]+)/labels/?", IndiwebProfileLabelsHandler, args),
        (r"/api/profiles/([^/]+)/remote/?", IndiwebProfileRemoteHandler, args),
        (r"/api/profiles/([^/]+)/?", IndiwebProfileHandler, args),
        (r"/api/drivers/?", IndiwebDriversHandler, args),
        (r"/api/drivers/groups/?", IndiwebDriverGroupsHandler, args),
        (
            r"/api/drivers/(start|stop|restart|start_remote|stop_remote)/(.+)",
            IndiwebDriverActionHandler,
            args,
        ),
        (r"/api/devices/?", IndiwebDevicesHandler, args),
        (r"/api/info/(version|arch|hostname)/?", IndiwebInfoHandler, args),
        (r"/api/system/(reboot|poweroff)/?", IndiwebSystemHandler, args),
        # ours
        (r"/api/v1/server/?", ServerHandler, args),
        (r"/api/v1/server/(start|stop|restart)/?", ServerActionHandler, args),
        (r"/api/v1/profiles/?", ProfilesV1Handler, args),
        (r"/api/v1/profiles/([^/]+)/start/?", ProfileStartV1Handler, args),
        (r"/api/v1/profiles/([^/]+)/?", ProfileV1Handler, args),
        (r"/api/v1/drivers/?", DriversV1Handler, args),
        (r"/api/v1/drivers/(start|stop|restart)/?", DriverActionV1Handler, args),
        (r"/api/v1/drivers/catalog/?", CatalogV1Handler, args),
        (r"/api/v1/drivers/groups/?", GroupsV1Handler, args),
    ]


# ---------------------------------------------------------------- OpenAPI

_TAG_INDIWEB = "indiweb"
_TAG_MANAGER = "manager"

#: Tags of the paths below.
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": _TAG_INDIWEB,
        "description": "INDI Web Manager's HTTP API (indiweb 1.2.0): same paths, methods and "
        "JSON, so its scripts and clients (curl, KStars/Ekos) work unchanged. Errors also carry "
        "its `detail` key. Server and driver control answers 409 `indiserver_not_managed` when "
        "the service only connects to an indiserver run elsewhere.",
    },
    {
        "name": _TAG_MANAGER,
        "description": "Our own management API: the embedded indiserver, its drivers (by "
        "executable and optional device name) and profiles, with JSON bodies.",
    },
]


_NOT_MANAGED = "`indiserver_not_managed`: the service only connects to an indiserver run elsewhere"


def _errors(legacy: bool, **by_status: str) -> dict[str, Any]:
    """Error responses ``{"404": "why", ...}`` (keys written ``e404``)."""
    schema = ref("IndiwebError" if legacy else "Error")
    return {key.lstrip("e"): json_response(text, schema) for key, text in by_status.items()}


def _param(name: str, description: str, example: str, schema: Any) -> dict[str, Any]:
    """A path parameter whose schema is that of ``schema`` (a `bodies` type)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description + " Percent-encode spaces (`Dome%20Simulator`).",
        "schema": msgspec.json.schema(schema),
        "example": example,
    }


_PROFILE_PARAM = _param("name", "Profile name.", "Simulators", ProfileName)
_LABEL_PARAM = _param(
    "label",
    "Driver label from the catalog (`GET /api/drivers`), or the device name of a running instance.",
    "Dome Simulator",
    DriverLabel,
)
_REMOTE_PARAM = _param(
    "label",
    "A device of another indiserver: `Device@host[:port]`.",
    "Dome Simulator@pi:7624",
    Annotated[
        str,
        Meta(
            pattern=bodies.REMOTE_PATTERN,
            extra_json_schema={"format": bodies.REMOTE_DRIVER_FORMAT},
        ),
    ],
)


def _op(
    summary: str,
    description: str,
    *,
    tag: str,
    ok: dict[str, Any],
    errors: dict[str, Any] | None = None,
    params: tuple[dict[str, Any], ...] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": list(params),
        "responses": {"200": ok, **(errors or {})},
    }
    if body is not None:
        op["requestBody"] = body
    return op


def _message(example: str) -> dict[str, Any]:
    return json_response("Done.", ref("IndiwebMessage"), {"message": example})


_SERVER_STATUS_EXAMPLE = {
    "managed": True,
    "running": True,
    "host": "127.0.0.1",
    "port": 7624,
    "connected": True,
    "active_profile": "Simulators",
    "pid": 4242,
    "fifo": "/home/me/.local/share/indiws/indiserver/indiserver.fifo",
    "started_at": "2026-01-01T20:00:00+00:00",
    "server_restarts": 0,
    "open_to_network": False,
    "drivers": [],
    "roles": {
        "camera": {
            "role": "camera",
            "device_name": "CCD Simulator",
            "present": True,
            "connected": True,
        }
    },
}
_DRIVER_EXAMPLE = {
    "executable": "indi_simulator_wheel",
    "name": "Wheel Two",
    "label": None,
    "state": "running",
    "running": True,
    "pid": 4321,
    "remote": False,
    "started_at": "2026-01-01T20:00:00+00:00",
    "stopped_at": None,
    "restarts": 0,
    "devices": [],
    "last_error": None,
    "present_devices": ["Wheel Two"],
}
_PROFILE_EXAMPLE = {
    "id": 1,
    "name": "Simulators",
    "port": 7624,
    "auto_start": True,
    "auto_connect": True,
    "drivers": [
        {
            "executable": "indi_simulator_telescope",
            "name": None,
            "label": "Telescope Simulator",
        },
        {"executable": "indi_simulator_ccd", "name": None, "label": "CCD Simulator"},
    ],
    "roles": {"telescope": "Telescope Simulator", "camera": "CCD Simulator"},
}
_INDIWEB_DRIVER_EXAMPLE = {
    "name": "Dome Simulator",
    "label": "Dome Simulator",
    "skeleton": None,
    "version": "1.0",
    "binary": "indi_simulator_dome",
    "family": "Domes",
    "mdpd": False,
    "custom": False,
    "rule": None,
    "role": "",
}

_NULLABLE_STRING = {"type": ["string", "null"]}

#: Schemas of the paths below, merged into the document's ``components``.
OPENAPI_COMPONENTS: dict[str, dict[str, Any]] = {
    "schemas": {
        "IndiwebError": {
            "description": "An error as INDI Web Manager gives it (`detail`), with ours.",
            "allOf": [
                ref("Error"),
                {"type": "object", "properties": {"detail": {"type": "string"}}},
            ],
        },
        "IndiwebMessage": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
        },
        "IndiwebProfile": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "port": {"type": "integer"},
                "autostart": {"type": "integer", "enum": [0, 1]},
                "autoconnect": {"type": "integer", "enum": [0, 1]},
                "scripts": {"type": "null", "description": "Not supported; always null."},
            },
        },
        "IndiwebDriver": {
            "type": "object",
            "description": "INDI Web Manager's DeviceDriver. In `/api/server/drivers` the "
            "label is the instance's device name.",
            "properties": {
                "name": {"type": "string", "description": "Driver name."},
                "label": {"type": "string"},
                "skeleton": _NULLABLE_STRING,
                "version": {"type": "string"},
                "binary": {"type": "string", "description": "Executable."},
                "family": {"type": "string", "description": "Group, e.g. CCDs."},
                "mdpd": {"type": "boolean", "description": "Several devices per driver."},
                "custom": {"type": "boolean"},
                "rule": {"type": "null"},
                "role": {"type": "string"},
            },
        },
        "ManagedDriver": {
            "type": "object",
            "description": "One driver instance run by the embedded indiserver.",
            "properties": {
                "executable": {"type": "string"},
                "name": {**_NULLABLE_STRING, "description": "Device name given with -n."},
                "label": _NULLABLE_STRING,
                "state": {
                    "type": "string",
                    "enum": ["starting", "running", "stopping", "stopped", "crashed"],
                },
                "running": {"type": "boolean"},
                "pid": {"type": ["integer", "null"]},
                "remote": {"type": "boolean"},
                "started_at": {"type": "string", "format": "date-time"},
                "stopped_at": {"type": ["string", "null"], "format": "date-time"},
                "restarts": {"type": "integer"},
                "devices": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Devices indiserver reported when the driver died.",
                },
                "last_error": _NULLABLE_STRING,
                "present_devices": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Its devices defined on the indiserver now.",
                },
            },
        },
        "ServerStatus": {
            "type": "object",
            "description": "The indiserver this service uses. `pid`, `fifo`, `started_at`, "
            "`server_restarts` and `drivers` only when it is managed (embedded).",
            "properties": {
                "managed": {"type": "boolean"},
                "running": {"type": "boolean"},
                "host": {"type": "string"},
                "port": {"type": "integer"},
                "connected": {"type": "boolean", "description": "Our INDI client is connected."},
                "active_profile": _NULLABLE_STRING,
                "pid": {"type": ["integer", "null"]},
                "fifo": _NULLABLE_STRING,
                "started_at": {"type": ["string", "null"], "format": "date-time"},
                "server_restarts": {"type": "integer"},
                "open_to_network": {
                    "type": "boolean",
                    "description": "indiserver's port accepts connections from other hosts "
                    "(`--embedded-indi-lan`, or it could not be restricted: see the log); "
                    "false: this machine only.",
                },
                "drivers": {"type": "array", "items": ref("ManagedDriver")},
                "roles": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
        "ProfileDriver": {
            "type": "object",
            "properties": {
                "executable": {
                    "type": "string",
                    "description": "Driver executable, or `Device@host[:port]` for a device "
                    "of another indiserver.",
                },
                "name": {**_NULLABLE_STRING, "description": "Device name (another instance)."},
                "label": {**_NULLABLE_STRING, "description": "Catalog label."},
            },
        },
        "Profile": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "port": {"type": "integer"},
                "auto_start": {"type": "boolean"},
                "auto_connect": {"type": "boolean"},
                "drivers": {"type": "array", "items": ref("ProfileDriver")},
                "roles": {
                    "type": "object",
                    "description": f"Role ({', '.join(ROLES)}) -> device.",
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "CatalogDriver": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "executable": {"type": "string"},
                "name": {"type": "string"},
                "group": {"type": "string"},
                "version": {"type": "string"},
                "manufacturer": {"type": "string"},
                "skeleton": _NULLABLE_STRING,
                "mdpd": {"type": "boolean"},
            },
        },
        **_BODY_SCHEMAS,
    }
}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


def _indiweb_driver_op(action: str, remote: bool = False) -> dict[str, Any]:
    what = {
        "start": "Start a driver",
        "stop": "Stop a driver",
        "restart": "Restart a driver (stop if it runs, then start)",
    }[action]
    if remote:
        what = what.replace("a driver", "a device of another indiserver (chained)")
    description = (
        "As INDI Web Manager: a local driver that is not multi-device runs with the label as "
        'its device name (`-n "<label>"`). A label that only begins with a catalog label '
        '("Filter Simulator 2") runs that driver again under that name. A driver running '
        "under the label already is not started twice; stop and restart also take the "
        "device name of a running instance. Answers once its devices are defined "
        "(or gone), so `/get/all/devices/` shows the change."
    )
    if remote:
        description = (
            "indiserver connects to the other server first; an unreachable one is refused "
            "(indiserver 1.9.9 would exit)."
        )
    label_text = "Dome Simulator@pi:7624" if remote else "Dome Simulator"
    verb = {"start": "started", "stop": "stopped", "restart": "restarted"}[action]
    return {
        "post": _op(
            what,
            description,
            tag=_TAG_INDIWEB,
            params=(_REMOTE_PARAM if remote else _LABEL_PARAM,),
            ok=_message(f"{'Remote driver' if remote else 'Driver'} {label_text} {verb}"),
            errors=_errors(
                True,
                e400="`invalid_params`: a label with a control character (newline, ...), "
                "a double quote or (but for a remote driver, which needs one) an `@`; a "
                "malformed `Device@host[:port]`.",
                e404="`unknown_driver` (label not in the catalog), `driver_not_installed`, "
                "`driver_not_running` (stop).",
                e409=f"{_NOT_MANAGED}; `driver_error` (did not start or stop).",
                e503="`fifo_error`, `indiserver_error`: indiserver does not run.",
            ),
        )
    }


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    # ----------------------------------------------------------- indiweb
    "/api/server/status": {
        "get": _op(
            "Is indiserver running",
            "INDI Web Manager's status: a one-element list, `status` the string "
            '"True" or "False". For an external indiserver: whether we are connected.',
            tag=_TAG_INDIWEB,
            ok=json_response(
                "Status.",
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": ["True", "False"]},
                            "active_profile": {"type": "string"},
                        },
                    },
                },
                [{"status": "True", "active_profile": "Simulators"}],
            ),
        )
    },
    "/api/server/drivers": {
        "get": _op(
            "Running drivers",
            "The drivers indiserver runs (empty when it is stopped). For an external "
            "indiserver: one entry per device, from its DRIVER_INFO.",
            tag=_TAG_INDIWEB,
            ok=json_response(
                "Running drivers.", _list_of("IndiwebDriver"), [_INDIWEB_DRIVER_EXAMPLE]
            ),
        )
    },
    "/api/server/start/{name}": {
        "post": _op(
            "Start a profile",
            "Starts indiserver if it is stopped, stops the drivers the profile does not list, "
            "starts its drivers, assigns its roles (connected once their devices appear) and "
            "connects every device when the profile has autoconnect. Answers when the devices "
            "are defined. The embedded indiserver keeps its port (the profile's port is not "
            "used).",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=_message("INDI server started for profile Simulators"),
            errors=_errors(
                True,
                e404="`unknown_profile`.",
                e409=_NOT_MANAGED,
                e502="`profile_start_failed`: some drivers did not start (the others run), "
                "or `indiserver_start_failed`.",
                e503="`indiserver_not_installed`.",
            ),
        )
    },
    "/api/server/stop": {
        "post": _op(
            "Stop indiserver",
            "Stops indiserver and every driver.",
            tag=_TAG_INDIWEB,
            ok=_message("INDI server stopped"),
            errors=_errors(True, e409=_NOT_MANAGED),
        )
    },
    "/api/profiles": {
        "get": _op(
            "All profiles",
            "Every profile, in creation order.",
            tag=_TAG_INDIWEB,
            ok=json_response(
                "Profiles.",
                _list_of("IndiwebProfile"),
                [
                    {
                        "id": 1,
                        "name": "Simulators",
                        "port": 7624,
                        "autostart": 1,
                        "autoconnect": 1,
                        "scripts": None,
                    }
                ],
            ),
        )
    },
    "/api/profiles/{name}": {
        "get": _op(
            "One profile",
            "",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=json_response("The profile.", ref("IndiwebProfile")),
            errors=_errors(True, e404="`unknown_profile`."),
        ),
        "post": _op(
            "Add a profile",
            "Adds an empty profile; one that exists already is left as it is.",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=_message("Profile foo added"),
            errors=_errors(True, e400="Bad name (empty, or with '/')."),
        ),
        "put": _op(
            "Update a profile",
            "As INDI Web Manager: a field left out takes its default (port 7624, autostart "
            "and autoconnect 0). `scripts` is accepted and ignored. Setting autostart clears "
            "it on the other profiles.",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            body=json_request(
                ref("IndiwebProfileUpdate"),
                {"port": 7624, "autostart": 1, "autoconnect": 1},
                required=False,
            ),
            ok=_message("Profile foo updated"),
            errors=_errors(True, e400="Bad value.", e404="`unknown_profile`."),
        ),
        "delete": _op(
            "Delete a profile",
            "Deletes the profile (no error if there is none).",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=_message("Profile foo deleted"),
        ),
    },
    "/api/profiles/{name}/drivers": {
        "get": _op(
            "A profile's drivers",
            "In the form the POST takes.",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=json_response(
                "Drivers.",
                {"type": "array", "items": {"type": "object"}},
                [{"label": "Telescope Simulator"}, {"remote": "Dome Simulator@pi:7624"}],
            ),
            errors=_errors(True, e404="`unknown_profile`."),
        ),
        "post": _op(
            "Set a profile's drivers",
            'Replaces the drivers with `[{"label": ...}, {"remote": "Dev@host,Dev2@host"}]`; '
            "creates the profile if needed. A label must be in the catalog.",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            body=json_request(
                _list_of("IndiwebDriverEntry"),
                [{"label": "Telescope Simulator"}, {"label": "CCD Simulator"}],
                required=False,
            ),
            ok=_message("Drivers saved for profile foo"),
            errors=_errors(True, e400="Malformed list.", e404="`unknown_driver`."),
        ),
    },
    "/api/profiles/{name}/labels": {
        "get": _op(
            "A profile's driver labels",
            "Local drivers only; empty for an unknown profile.",
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=json_response(
                "Labels.",
                {"type": "array", "items": {"type": "object"}},
                [{"label": "Telescope Simulator"}, {"label": "CCD Simulator"}],
            ),
        )
    },
    "/api/profiles/{name}/remote": {
        "get": _op(
            "A profile's remote drivers",
            '`{"drivers": "Dev@host,..."}`, or `{}` when it has none.',
            tag=_TAG_INDIWEB,
            params=(_PROFILE_PARAM,),
            ok=json_response(
                "Remote drivers.", {"type": "object"}, {"drivers": "Dome Simulator@pi:7624"}
            ),
        )
    },
    "/api/profiles/custom/add": {
        "post": _op(
            "Add a custom driver",
            "Another label for a program of the catalog, usable from then on. Kept until the "
            "service stops (not stored). A program the catalog does not list is refused (403): "
            "choosing which programs may run is the operator's, with `--custom-driver` on the "
            "service's command line.",
            tag=_TAG_INDIWEB,
            body=json_request(
                ref("IndiwebCustomDriver"),
                {
                    "Label": "My Focuser",
                    "Name": "My Focuser",
                    "Family": "Focusers",
                    "Exec": "indi_myfocuser",
                    "Version": "1.0",
                },
            ),
            ok=_message("Custom driver saved and collection updated"),
            errors=_errors(
                True,
                e400="Label or Exec missing, or holds a control character or a double quote.",
                e403="`driver_not_allowed`: Exec is not a program of the catalog; a new driver "
                "program is the operator's to add (`--custom-driver LABEL=EXECUTABLE`).",
            ),
        )
    },
    "/api/drivers": {
        "get": _op(
            "Driver catalog",
            "Every driver of INDI's drivers.xml (and the custom ones), by label.",
            tag=_TAG_INDIWEB,
            ok=json_response("Drivers.", _list_of("IndiwebDriver"), [_INDIWEB_DRIVER_EXAMPLE]),
        )
    },
    "/api/drivers/groups": {
        "get": _op(
            "Driver families",
            "The catalog's groups, sorted.",
            tag=_TAG_INDIWEB,
            ok=json_response(
                "Groups.",
                {"type": "array", "items": {"type": "string"}},
                ["CCDs", "Domes", "Focusers"],
            ),
        )
    },
    "/api/drivers/start/{label}": _indiweb_driver_op("start"),
    "/api/drivers/stop/{label}": _indiweb_driver_op("stop"),
    "/api/drivers/restart/{label}": _indiweb_driver_op("restart"),
    "/api/drivers/start_remote/{label}": _indiweb_driver_op("start", remote=True),
    "/api/drivers/stop_remote/{label}": _indiweb_driver_op("stop", remote=True),
    "/api/devices": {
        "get": _op(
            "Devices and whether they are connected",
            "Every device that has a CONNECTION property.",
            tag=_TAG_INDIWEB,
            ok=json_response(
                "Devices.",
                {"type": "array", "items": {"type": "object"}},
                [{"device": "CCD Simulator", "connected": True}],
            ),
        )
    },
    "/api/info/version": {
        "get": _op(
            "Version",
            "The version of indiws.",
            tag=_TAG_INDIWEB,
            ok=json_response("Version.", {"type": "object"}, {"version": __version__}),
        )
    },
    "/api/info/arch": {
        "get": _op(
            "Machine architecture",
            "As INDI Web Manager: a JSON string, arm64/armhf for ARM.",
            tag=_TAG_INDIWEB,
            ok=json_response("Architecture.", {"type": "string"}, "x86_64"),
        )
    },
    "/api/info/hostname": {
        "get": _op(
            "Host name",
            "",
            tag=_TAG_INDIWEB,
            ok=json_response("Host name.", {"type": "object"}, {"hostname": "observatory"}),
        )
    },
    **{
        f"/api/system/{what}": {
            "post": {
                "summary": f"{what.capitalize()} the computer (not supported)",
                "description": "INDI Web Manager can do this; indiws does not. Always 501.",
                "tags": [_TAG_INDIWEB],
                "parameters": [],
                "responses": _errors(True, e501="`not_supported`."),
            }
        }
        for what in ("reboot", "poweroff")
    },
    # ---------------------------------------------------------------- ours
    "/api/v1/server": {
        "get": _op(
            "indiserver, drivers, roles",
            "Whether the service runs the indiserver (`managed`), its state, its drivers "
            "with the devices they define now, and the role assignments.",
            tag=_TAG_MANAGER,
            ok=json_response("Status.", ref("ServerStatus"), _SERVER_STATUS_EXAMPLE),
        )
    },
    **{
        f"/api/v1/server/{action}": {
            "post": _op(
                {
                    "start": "Start indiserver (and a profile)",
                    "stop": "Stop indiserver and every driver",
                    "restart": "Restart indiserver",
                }[action],
                {
                    "start": 'Body `{"profile": name}` optional: without it indiserver starts '
                    "with no driver (no-op if it runs).",
                    "stop": "",
                    "restart": 'Stops indiserver, then starts it with `{"profile": name}` or '
                    "else the active profile.",
                }[action],
                tag=_TAG_MANAGER,
                body=None
                if action == "stop"
                else json_request(
                    ref("ServerActionInput"),
                    {"profile": "Simulators"},
                    required=False,
                ),
                ok=json_response("The new status.", ref("ServerStatus")),
                errors=_errors(
                    False,
                    e404="`unknown_profile`.",
                    e409=_NOT_MANAGED + "; `port_in_use`.",
                    e502="`profile_start_failed`, `indiserver_start_failed`.",
                    e503="`indiserver_not_installed`.",
                ),
            )
        }
        for action in ("start", "stop", "restart")
    },
    "/api/v1/profiles": {
        "get": _op(
            "All profiles",
            "",
            tag=_TAG_MANAGER,
            ok=json_response("Profiles.", _list_of("Profile"), [_PROFILE_EXAMPLE]),
        ),
        "post": {
            **_op(
                "Create a profile",
                "`name` is required.",
                tag=_TAG_MANAGER,
                body=json_request(
                    ref("NewProfile"),
                    {
                        "name": "Backyard",
                        "auto_connect": True,
                        "drivers": [
                            "indi_simulator_telescope",
                            {"executable": "indi_simulator_wheel", "name": "Wheel Two"},
                            {"label": "Dome Simulator"},
                        ],
                        "roles": {"filter_wheel": "Wheel Two"},
                    },
                ),
                ok={},
                errors=_errors(
                    False,
                    e400="Bad field.",
                    e403="`driver_not_allowed`: a driver no start could run.",
                    e404="`unknown_driver` (a label).",
                    e409="`profile_exists`.",
                ),
            ),
        },
    },
    "/api/v1/profiles/{name}": {
        "get": _op(
            "One profile",
            "",
            tag=_TAG_MANAGER,
            params=(_PROFILE_PARAM,),
            ok=json_response("The profile.", ref("Profile"), _PROFILE_EXAMPLE),
            errors=_errors(False, e404="`unknown_profile`."),
        ),
        "put": _op(
            "Change a profile",
            "Only the given fields change; `drivers` and `roles` replace the old ones; "
            "`name` renames it.",
            tag=_TAG_MANAGER,
            params=(_PROFILE_PARAM,),
            body=json_request(ref("ProfileInput"), {"auto_start": True}, required=False),
            ok=json_response("The profile.", ref("Profile")),
            errors=_errors(
                False,
                e400="Bad field.",
                e403="`driver_not_allowed`: a driver no start could run.",
                e404="`unknown_profile`, `unknown_driver`.",
                e409="`profile_exists` (rename).",
            ),
        ),
        "delete": _op(
            "Delete a profile",
            "",
            tag=_TAG_MANAGER,
            params=(_PROFILE_PARAM,),
            ok=json_response("Deleted.", {"type": "object"}, {"deleted": "Backyard"}),
            errors=_errors(False, e404="`unknown_profile`."),
        ),
    },
    "/api/v1/profiles/{name}/start": {
        "post": _op(
            "Start a profile",
            'Like `/api/server/start/{name}`; `{"replace": false}` keeps running drivers the '
            "profile does not list.",
            tag=_TAG_MANAGER,
            params=(_PROFILE_PARAM,),
            body=json_request(
                ref("ProfileStartInput"),
                {"replace": True},
                required=False,
            ),
            ok=json_response("The new status.", ref("ServerStatus")),
            errors=_errors(
                False,
                e404="`unknown_profile`.",
                e409=_NOT_MANAGED,
                e502="`profile_start_failed`: some drivers did not start (the others run).",
            ),
        )
    },
    "/api/v1/drivers": {
        "get": _op(
            "Driver instances",
            "Every driver the embedded indiserver runs, is starting or stopping, and the "
            "ones that crashed (until restarted or stopped), with their devices.",
            tag=_TAG_MANAGER,
            ok=json_response("Drivers.", _list_of("ManagedDriver"), [_DRIVER_EXAMPLE]),
            errors=_errors(False, e409=_NOT_MANAGED),
        )
    },
    **{
        f"/api/v1/drivers/{action}": {
            "post": _op(
                {
                    "start": "Start a driver",
                    "stop": "Stop a driver",
                    "restart": "Restart a driver",
                }[action],
                {
                    "start": "By executable; `name` runs another instance under that device "
                    "name. Or by catalog `label` (no `-n` unless `name` is given). An instance "
                    "that runs already is returned as it is. Answers once its devices are "
                    "defined.",
                    "stop": "By executable and `name` (the instance), or by `label` (as "
                    "`/api/drivers/stop/{label}`). Answers once its devices are gone.",
                    "restart": "Stops the instance if it runs (a crashed one is forgotten), "
                    "then starts it.",
                }[action],
                tag=_TAG_MANAGER,
                body=json_request(
                    ref("DriverRequest"),
                    {"executable": "indi_simulator_wheel", "name": "Wheel Two"},
                ),
                ok=json_response("The instance.", ref("ManagedDriver"), _DRIVER_EXAMPLE),
                errors=_errors(
                    False,
                    e400="Missing executable/label, unknown field, a name or label with a "
                    "control character or a double quote.",
                    e403="`driver_not_allowed`: a path, or a program neither the catalog nor "
                    "`--custom-driver` names.",
                    e404="`driver_not_installed`, `unknown_driver`, `driver_not_running`.",
                    e409=f"{_NOT_MANAGED}; `driver_error`.",
                    e503="`fifo_error`, `indiserver_error`: indiserver does not run.",
                ),
            )
        }
        for action in ("start", "stop", "restart")
    },
    "/api/v1/drivers/catalog": {
        "get": _op(
            "Driver catalog",
            "INDI's drivers.xml (and custom drivers), by label.",
            tag=_TAG_MANAGER,
            params=(
                {
                    "name": "group",
                    "in": "query",
                    "required": False,
                    "description": "Only this group (e.g. `CCDs`).",
                    "schema": {"type": "string"},
                    "example": "Domes",
                },
            ),
            ok=json_response("Drivers.", _list_of("CatalogDriver")),
        )
    },
    "/api/v1/drivers/groups": {
        "get": _op(
            "Driver groups",
            "Group -> labels.",
            tag=_TAG_MANAGER,
            ok=json_response(
                "Groups.",
                {"type": "object", "additionalProperties": {"type": "array"}},
                {"Domes": ["Dome Simulator", "RollOff Simulator"]},
            ),
        )
    },
}
# Creation answers 201, not 200.
OPENAPI_PATHS["/api/v1/profiles"]["post"]["responses"].pop("200")
OPENAPI_PATHS["/api/v1/profiles"]["post"]["responses"]["201"] = json_response(
    "Created.", ref("Profile"), _PROFILE_EXAMPLE
)
