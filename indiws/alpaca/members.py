"""The Alpaca members of each device type: ONE table per type.

A row names the member as the URL spells it, its HTTP verb, its parameters
(exact names, types, ranges) and the device verb or property it translates
to.  The request handler (`indiws.alpaca.server`), the protocol checker's
expectations (tests) and the coverage table of docs/alpaca.md all read these
tables; nothing else lists members.

A member's ``call`` gets the `AlpacaDevice` (the role's state as Alpaca sees
it) and the parsed parameters, and returns the value (or an awaitable).
Refusals are the device layer's own errors, turned into ASCOM errors by
`indiws.alpaca.protocol.ERROR_TABLE`; ``call=None`` answers NotImplemented.
Long operations (slews, moves, exposures) start the device verb in the
background and answer at once (`AlpacaDevice.start`); ``Slewing``,
``IsMoving``, ``ShutterStatus``, ``CameraState``... report them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..devices.telescope import SIDEREAL_DEG_PER_S
from .protocol import (
    ACTION_NOT_IMPLEMENTED,
    INVALID_OPERATION,
    INVALID_VALUE,
    INVALID_WHILE_PARKED,
    NOT_CONNECTED,
    NOT_IMPLEMENTED,
    VALUE_NOT_SET,
    AlpacaError,
    Param,
    error_for,
    image_array,
)

if TYPE_CHECKING:
    from ..service import Service

__all__ = [
    "DEVICE_ROLES",
    "INTERFACE_VERSIONS",
    "MEMBERS",
    "AlpacaDevice",
    "Member",
    "coverage_markdown",
]

log = logging.getLogger("indiws.alpaca")

Call = Callable[["AlpacaDevice", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Member:
    """One Alpaca member of a device type."""

    name: str
    http: str  # "GET" or "PUT"
    call: Call | None
    params: tuple[Param, ...] = ()
    #: What it translates to (docs/alpaca.md's coverage table).
    translates: str = ""
    #: Answered only while the Alpaca device is connected (else NotConnected).
    needs_connection: bool = True
    #: A method's answer has no Value.
    has_value: bool = True
    #: The answer may be ImageBytes (Accept: application/imagebytes).
    image: bool = False

    @property
    def implemented(self) -> bool:
        return self.call is not None


def _get(name: str, call: Call | None, translates: str = "", **kw: Any) -> Member:
    return Member(name, "GET", call, translates=translates, **kw)


def _put(
    name: str, params: tuple[Param, ...], call: Call | None, translates: str = "", **kw: Any
) -> Member:
    kw.setdefault("has_value", False)
    return Member(name, "PUT", call, params, translates, **kw)


# ----------------------------------------------------------------- device state


@dataclass(eq=False)
class AlpacaDevice:
    """One Alpaca device: a role (or the safety policy) of the service, with
    the state Alpaca keeps beside the device verbs: whether Alpaca clients
    connected it, the operation started last, a camera's frame settings and
    last image, a mount's target."""

    service: Service
    device_type: str
    number: int
    role: str
    unique_id: str
    connected_flag: bool = False
    connecting: asyncio.Task[Any] | None = None
    #: Background operations by kind ("slew", "move", "shutter", "expose", ...).
    tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    image: tuple[str, np.ndarray] | None = None

    # The role's device ---------------------------------------------------

    @property
    def device_name(self) -> str | None:
        if self.role == "safety":
            return None
        return self.service.roles.device_for(self.role)

    def dev(self) -> Any:
        return self.service.role_device(self.role)

    def indi_connected(self) -> bool:
        if self.role == "safety":
            return True
        name = self.device_name
        dev = self.service.client.devices.get(name) if name else None
        return bool(dev and dev.connected)

    @property
    def connected(self) -> bool:
        return self.connected_flag and self.indi_connected()

    def require_connected(self) -> None:
        name = self.device_name
        if self.values.get("device", name) != name:
            # Another device plays the role now: the last one's frame, subframe
            # and targets are not its own.
            self.values.clear()
            self.errors.clear()
            self.image = None
        self.values["device"] = name
        if not self.connected_flag:
            raise AlpacaError(
                NOT_CONNECTED,
                f"{self.device_type} {self.number} is not connected: "
                "set Connected (or call Connect) first",
            )
        if not self.indi_connected():
            raise AlpacaError(
                NOT_CONNECTED,
                f"the {self.role} role has no device"
                if name is None
                else f"{name} ({self.role}) is not connected on indiserver",
            )

    def status(self) -> dict[str, Any]:
        return self.dev().status()

    def capabilities(self) -> dict[str, Any]:
        return self.dev().info().get("capabilities") or {}

    # Background operations ----------------------------------------------

    def running(self, kind: str) -> bool:
        task = self.tasks.get(kind)
        return task is not None and not task.done()

    async def start(self, kind: str, coro: Coroutine[Any, Any, Any], early: float = 0.3) -> None:
        """Start a device verb and answer at once: a refusal that comes at
        once (parked, unsafe, out of range) is the member's error; a later
        failure is logged and shows in the state members."""
        # An operation of the same kind still running is not cancelled here:
        # the device layer ends it when the newer one starts (a newer goto
        # replaces the older), as ASCOM's clients expect.
        self.errors.pop(kind, None)
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks[kind] = task
        task.add_done_callback(lambda t: self._ended(kind, t))
        done, _ = await asyncio.wait({task}, timeout=early)
        if done and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    def _ended(self, kind: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self.tasks.get(kind) is not task:
            return  # a newer operation of this kind reports for itself
        exc = task.exception()
        if exc is not None:
            self.errors[kind] = exc
            if error_for(exc) is None:
                log.error("%s %d: %s failed", self.device_type, self.number, kind, exc_info=exc)
            else:
                log.info("%s %d: %s failed: %s", self.device_type, self.number, kind, exc)

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()


# ----------------------------------------------------------------- common members


def _connected(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return d.connected


async def _connect_now(d: AlpacaDevice) -> None:
    name = d.device_name
    if d.role != "safety":
        if name is None:
            raise AlpacaError(NOT_CONNECTED, f"no device plays the {d.role} role: assign one")
        await d.service.roles.connect(name)
    d.connected_flag = True


async def _set_connected(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if p["Connected"]:
        await _connect_now(d)
    else:
        await _disconnect(d, p)


async def _connect(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if d.connecting is not None and not d.connecting.done():
        return
    d.connecting = asyncio.get_running_loop().create_task(_connect_now(d))
    done, _ = await asyncio.wait({d.connecting}, timeout=0.3)
    if done and d.connecting.exception() is not None:
        raise d.connecting.exception()  # type: ignore[misc]


async def _disconnect(d: AlpacaDevice, p: dict[str, Any]) -> None:
    # Alpaca's view only: the device stays connected on indiserver for the
    # other fronts, plans and the guider (docs/alpaca.md).  But an axis that
    # an Alpaca client set moving is stopped: once it lets go, nobody will
    # send the MoveAxis(Axis, 0) of a released hand-box button.
    d.connected_flag = False
    for axis in list(d.values.get("moving_axes", ())):
        try:
            await d.dev().move_axis(axis, 0)
        except Exception as exc:  # e.g. indiserver gone: nothing moves then
            log.error("%s %d: could not stop the %s axis: %s", d.device_type, d.number, axis, exc)
        d.values["moving_axes"].discard(axis)


def _connecting(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return d.connecting is not None and not d.connecting.done()


def _description(d: AlpacaDevice, p: dict[str, Any]) -> str:
    if d.role == "safety":
        return "indiws safety policy (weather, lost indiserver)"
    return f"indiws {d.role.replace('_', ' ')} role: {d.device_name or 'no device assigned'}"


def _driver_info(d: AlpacaDevice, p: dict[str, Any]) -> str:
    name = d.device_name
    dev = d.service.client.devices.get(name) if name else None
    driver = ""
    if dev is not None:
        info = dev.driver_info
        driver = (
            f"; INDI driver {info.get('DRIVER_EXEC') or '?'} {info.get('DRIVER_VERSION') or ''}"
        )
    return f"indiws {__version__} Alpaca front over INDI{driver}".strip()


def _name(d: AlpacaDevice, p: dict[str, Any]) -> str:
    if d.role == "safety":
        return "indiws Safety"
    return d.device_name or f"indiws {d.role.replace('_', ' ')}"


def _device_state(d: AlpacaDevice, p: dict[str, Any]) -> Awaitable[list[dict[str, Any]]]:
    async def read() -> list[dict[str, Any]]:
        out = []
        for name in STATE_MEMBERS.get(d.device_type, ()):
            member = MEMBER_INDEX[d.device_type][(name, "GET")]
            try:
                value = member.call(d, {})  # type: ignore[misc]
                if isinstance(value, Awaitable):
                    value = await value
            except Exception:  # a state that cannot be read is left out, as the reference allows
                continue
            out.append({"Name": member_label(name), "Value": value})
        out.append({"Name": "TimeStamp", "Value": _utc_text(datetime.now(UTC))})
        return out

    return read()


def _action(d: AlpacaDevice, p: dict[str, Any]) -> None:
    raise AlpacaError(ACTION_NOT_IMPLEMENTED, f"action {p['Action']!r} is not supported")


def _not_impl(what: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        raise AlpacaError(NOT_IMPLEMENTED, f"{what} is not implemented")

    return call


_COMMAND = (Param("Command", str), Param("Raw", bool))

COMMON: tuple[Member, ...] = (
    _put(
        "action",
        (Param("Action", str), Param("Parameters", str)),
        _action,
        "none (SupportedActions is empty): ActionNotImplemented",
        needs_connection=False,
        has_value=True,
    ),
    _put("commandblind", _COMMAND, None, "not offered (deprecated in Platform 7)"),
    _put("commandbool", _COMMAND, None, "not offered (deprecated in Platform 7)"),
    _put("commandstring", _COMMAND, None, "not offered (deprecated in Platform 7)"),
    _get(
        "connected",
        _connected,
        "role's device connected (and Alpaca's own flag)",
        needs_connection=False,
    ),
    _put(
        "connected",
        (Param("Connected", bool),),
        _set_connected,
        "True: RoleManager.connect; False: as Disconnect",
        needs_connection=False,
    ),
    _put("connect", (), _connect, "RoleManager.connect, in the background", needs_connection=False),
    _put(
        "disconnect",
        (),
        _disconnect,
        "Alpaca's view only; axes it set moving (MoveAxis) are stopped",
        needs_connection=False,
    ),
    _get("connecting", _connecting, "the connect running", needs_connection=False),
    _get("description", _description, "role and device name", needs_connection=False),
    _get("devicestate", _device_state, "the type's state members"),
    _get("driverinfo", _driver_info, "DRIVER_INFO", needs_connection=False),
    _get(
        "driverversion",
        lambda d, p: ".".join(__version__.split(".")[:2]),
        "indiws version",
        needs_connection=False,
    ),
    _get(
        "interfaceversion",
        lambda d, p: INTERFACE_VERSIONS[d.device_type],
        "the Platform 7 interface version",
        needs_connection=False,
    ),
    _get("name", _name, "the role's device name", needs_connection=False),
    _get("supportedactions", lambda d, p: [], "none", needs_connection=False),
)

# ----------------------------------------------------------------- Telescope

DIRECTIONS = {0: "north", 1: "south", 2: "east", 3: "west"}
_RA = Param("RightAscension", float, 0, 24)
_DEC = Param("Declination", float, -90, 90)
_ALTAZ = (Param("Azimuth", float, 0, 360), Param("Altitude", float, -90, 90))


def _tel_status(d: AlpacaDevice, key: str) -> Any:
    value = d.status().get(key)
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, f"the mount does not report {key}")
    return value


def _slewing(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    st = d.status()
    return bool(
        st.get("slewing") or st.get("parking") or d.running("slew") or d.dev().axis_motion()
    )


def _parked_refusal(d: AlpacaDevice, what: str) -> None:
    if d.status().get("parked"):
        raise AlpacaError(INVALID_WHILE_PARKED, f"the mount is parked: unpark it before {what}")


async def _slew_to(d: AlpacaDevice, ra: float, dec: float, wait: bool) -> None:
    _parked_refusal(d, "a slew")
    if d.status().get("tracking") is False:
        raise AlpacaError(INVALID_OPERATION, "tracking is off: a slew to RA/Dec needs Tracking on")
    d.values["target"] = (ra, dec)
    coro = d.dev().goto(ra, dec, epoch="JNow", track=True)
    if wait:
        await coro
    else:
        await d.start("slew", coro)


def _slew_altaz(wait: bool) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        _parked_refusal(d, "a slew")
        if d.status().get("tracking"):
            # ITelescopeV4: an Alt/Az slew is for a mount that is not tracking.
            raise AlpacaError(
                INVALID_OPERATION, "tracking is on: a slew to Alt/Az needs Tracking off"
            )
        coro = d.dev().goto_altaz(p["Altitude"], p["Azimuth"], track=False)
        if wait:
            await coro
        else:
            await d.start("slew", coro)

    return call


def _target(d: AlpacaDevice) -> tuple[float, float]:
    ra, dec = d.values.get("target_ra"), d.values.get("target_dec")
    if ra is None or dec is None:
        raise AlpacaError(VALUE_NOT_SET, "set TargetRightAscension and TargetDeclination first")
    return ra, dec


def _get_target(key: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> float:
        value = d.values.get(key)
        if value is None:
            raise AlpacaError(VALUE_NOT_SET, f"{member_label(key)} has not been set")
        return value

    return call


def _set_value(key: str, param: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        d.values[key] = p[param]

    return call


async def _pulse_guide(d: AlpacaDevice, p: dict[str, Any]) -> None:
    direction = DIRECTIONS.get(p["Direction"])
    if direction is None:
        raise AlpacaError(
            INVALID_VALUE, f"Direction must be 0..3 (N, S, E, W), got {p['Direction']}"
        )
    dev = d.dev()
    # Drivers time the pulse themselves and may acknowledge it at once: it
    # lasts its duration whatever the property says.
    d.values["pulse_until"] = time.monotonic() + p["Duration"] / 1000
    if d.role == "guider":  # the guide camera's ST4 port, else the mount
        await d.start("pulse", dev.pulse(direction, p["Duration"]))
    elif d.role == "telescope":
        await d.start("pulse", dev.pulse_guide(direction, p["Duration"]))
    else:
        raise AlpacaError(NOT_IMPLEMENTED, "the main camera has no guide port: use the Telescope")


def _pulse_guiding(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return d.running("pulse") or time.monotonic() < d.values.get("pulse_until", 0)


def _camera_can_pulse(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    caps = d.capabilities()
    return d.role == "guider" and bool(caps.get("can_pulse_camera") or caps.get("can_pulse_mount"))


async def _abort_slew(d: AlpacaDevice, p: dict[str, Any]) -> None:
    _parked_refusal(d, "an abort")
    for kind in ("slew", "home"):
        if (task := d.tasks.get(kind)) is not None:
            task.cancel()
    await d.dev().abort()  # manual moves too
    d.values.pop("moving_axes", None)


def _site(key: str) -> Call:
    return lambda d, p: d.dev().site()[key]


def _set_site(key: str, param: str) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        await d.dev().set_site(**{key: p[param]})

    return call


def _side_of_pier(d: AlpacaDevice, p: dict[str, Any]) -> int:
    return {"east": 0, "west": 1}.get(d.status().get("pier_side") or "", -1)


def _guide_rate(axis: str) -> Call:
    # GUIDE_RATE is a fraction of sidereal; Alpaca wants degrees per second.
    return lambda d, p: float(d.dev().guide_rate()[axis]) * SIDEREAL_DEG_PER_S


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def _set_utc(d: AlpacaDevice, p: dict[str, Any]) -> None:
    text = p["UTCDate"].strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise AlpacaError(
            INVALID_VALUE, f"UTCDate must be ISO 8601, got {p['UTCDate']!r}"
        ) from None
    await d.dev().set_time(when if when.tzinfo else when.replace(tzinfo=UTC))


#: ASCOM's DriveRates and the TELESCOPE_TRACK_MODE switches they are.
DRIVE_RATES = {"TRACK_SIDEREAL": 0, "TRACK_LUNAR": 1, "TRACK_SOLAR": 2, "TRACK_KING": 3}


def _tracking_rates(d: AlpacaDevice, p: dict[str, Any]) -> list[int]:
    """The DriveRates among the mount's track modes (driveSidereal alone
    without TELESCOPE_TRACK_MODE: every mount tracks sidereal)."""
    if not d.dev().has("TELESCOPE_TRACK_MODE"):
        return [0]
    return sorted(DRIVE_RATES[m["name"]] for m in d.dev().track_modes() if m["name"] in DRIVE_RATES)


def _tracking_rate(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if not d.dev().has("TELESCOPE_TRACK_MODE"):
        return 0
    active = [m["name"] for m in d.dev().track_modes() if m["active"]]
    # TRACK_CUSTOM (set rates) has no DriveRate: sidereal plus offsets.
    return DRIVE_RATES.get(active[0], 0) if active else 0


async def _tracking_rate_set(d: AlpacaDevice, p: dict[str, Any]) -> None:
    rate, offered = p["TrackingRate"], _tracking_rates(d, p)
    if rate not in offered:
        raise AlpacaError(INVALID_VALUE, f"TrackingRate {rate} is not one of {offered}")
    name = next(n for n, r in DRIVE_RATES.items() if r == rate)
    if d.dev().has("TELESCOPE_TRACK_MODE"):
        await d.dev().set_track_mode(name)


async def _set_tracking(d: AlpacaDevice, p: dict[str, Any]) -> None:
    _parked_refusal(d, "tracking")
    await d.dev().set_tracking(p["Tracking"])


async def _park(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if d.status().get("parked"):
        return
    await d.start("slew", d.dev().park())


async def _sync(d: AlpacaDevice, ra: float, dec: float) -> None:
    _parked_refusal(d, "a sync")
    if d.status().get("tracking") is False:
        raise AlpacaError(INVALID_OPERATION, "tracking is off: a sync to RA/Dec needs Tracking on")
    d.values["target_ra"], d.values["target_dec"] = ra, dec
    await d.dev().sync(ra, dec, epoch="JNow")


def _cap(key: str) -> Call:
    return lambda d, p: bool(d.capabilities().get(key))


def _slew_target(wait: bool) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        await _slew_to(d, *_target(d), wait)

    return call


def _slew_coords(wait: bool) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        d.values["target_ra"], d.values["target_dec"] = p["RightAscension"], p["Declination"]
        await _slew_to(d, p["RightAscension"], p["Declination"], wait)

    return call


#: Alpaca's TelescopeAxes → the device verbs' axes (an equatorial mount's;
#: INDI's manual motion is in RA/Dec on every mount).
_AXES = {0: "ra", 1: "dec"}


def _axis(p: dict[str, Any]) -> str | None:
    """The verbs' axis of an Alpaca Axis (None: the tertiary axis)."""
    if p["Axis"] not in (0, 1, 2):
        raise AlpacaError(INVALID_VALUE, f"Axis must be 0, 1 or 2, got {p['Axis']}")
    return _AXES.get(p["Axis"])


def _axis_rates(d: AlpacaDevice, p: dict[str, Any]) -> list[dict[str, float]]:
    if _axis(p) is None:
        return []
    # Each of the mount's slew rates is one discrete rate (Minimum = Maximum).
    return [{"Minimum": r["deg_per_s"], "Maximum": r["deg_per_s"]} for r in d.dev().axis_rates()]


def _can_move_axis(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return _axis(p) is not None and bool(d.capabilities().get("can_move")) and bool(
        d.dev().axis_rates()
    )


async def _move_axis(d: AlpacaDevice, p: dict[str, Any]) -> None:
    axis = _axis(p)
    if axis is None or not _can_move_axis(d, p):
        raise AlpacaError(NOT_IMPLEMENTED, f"the mount cannot move axis {p['Axis']} (CanMoveAxis)")
    _parked_refusal(d, "MoveAxis")
    await d.dev().move_axis(axis, p["Rate"])
    moving = d.values.setdefault("moving_axes", set())
    (moving.add if p["Rate"] else moving.discard)(axis)


_AXIS = (Param("Axis", int),)

TELESCOPE: tuple[Member, ...] = (
    _get("alignmentmode", None, "not reported by INDI"),
    _get("altitude", lambda d, p: _tel_status(d, "alt"), "HORIZONTAL_COORD / computed from site"),
    _get("aperturearea", None, "not offered"),
    _get("aperturediameter", None, "not offered"),
    _get("athome", lambda d, p: False, "no home position reported"),
    _get("atpark", lambda d, p: bool(d.status().get("parked")), "TELESCOPE_PARK"),
    _get("azimuth", lambda d, p: _tel_status(d, "az"), "HORIZONTAL_COORD / computed from site"),
    _get("canfindhome", lambda d, p: False, "not offered"),
    _get("canpark", _cap("can_park"), "TELESCOPE_PARK defined"),
    _get("canpulseguide", _cap("can_pulse_guide"), "TELESCOPE_TIMED_GUIDE_NS/WE defined"),
    _get("cansetdeclinationrate", lambda d, p: False, "not offered"),
    _get("cansetguiderates", lambda d, p: False, "not offered"),
    _get("cansetpark", _cap("can_set_park"), "TELESCOPE_PARK_OPTION defined"),
    _get("cansetpierside", lambda d, p: False, "not offered"),
    _get("cansetrightascensionrate", lambda d, p: False, "not offered"),
    _get("cansettracking", _cap("can_track"), "TELESCOPE_TRACK_STATE defined"),
    _get("canslew", _cap("can_goto"), "EQUATORIAL_EOD_COORD writable"),
    _get("canslewaltaz", _cap("can_goto_altaz"), "HORIZONTAL_COORD writable, or a site"),
    _get("canslewaltazasync", _cap("can_goto_altaz"), "HORIZONTAL_COORD writable, or a site"),
    _get("canslewasync", _cap("can_goto"), "EQUATORIAL_EOD_COORD writable"),
    _get("cansync", _cap("can_sync"), "ON_COORD_SET SYNC"),
    _get("cansyncaltaz", lambda d, p: False, "not offered"),
    _get("canunpark", _cap("can_park"), "TELESCOPE_PARK defined"),
    _get(
        "canmoveaxis",
        _can_move_axis,
        "primary/secondary: TELESCOPE_MOTION_WE/NS and slew rates of known speed",
        params=_AXIS,
    ),
    _get(
        "axisrates",
        _axis_rates,
        "Telescope.axis_rates: each TELESCOPE_SLEW_RATE switch, deg/s (Minimum = Maximum)",
        params=_AXIS,
    ),
    _get("declination", lambda d, p: _tel_status(d, "dec"), "EQUATORIAL_EOD_COORD DEC (degrees)"),
    _get("declinationrate", lambda d, p: 0.0, "0 (offsets not offered)"),
    _put("declinationrate", (Param("DeclinationRate", float),), None, "not offered"),
    _get(
        "destinationsideofpier",
        None,
        "not offered",
        params=(Param("RightAscension", float), Param("Declination", float)),
    ),
    _get("doesrefraction", None, "not reported by INDI"),
    _get("equatorialsystem", lambda d, p: 1, "1 (topocentric: INDI's JNow)"),
    _get("focallength", None, "not offered"),
    _get("guideratedeclination", _guide_rate("dec"), "GUIDE_RATE_NS × sidereal (deg/s)"),
    _put("guideratedeclination", (Param("GuideRateDeclination", float),), None, "not offered"),
    _get("guideraterightascension", _guide_rate("ra"), "GUIDE_RATE_WE × sidereal (deg/s)"),
    _put(
        "guideraterightascension", (Param("GuideRateRightAscension", float),), None, "not offered"
    ),
    _get("ispulseguiding", _pulse_guiding, "Telescope.pulse_guide running, or its duration"),
    _get("rightascension", lambda d, p: _tel_status(d, "ra"), "EQUATORIAL_EOD_COORD RA (hours)"),
    _get("rightascensionrate", lambda d, p: 0.0, "0 (offsets not offered)"),
    _put("rightascensionrate", (Param("RightAscensionRate", float),), None, "not offered"),
    _get("sideofpier", _side_of_pier, "TELESCOPE_PIER_SIDE (east 0, west 1, unknown -1)"),
    _put("sideofpier", (Param("SideOfPier", int),), None, "not offered"),
    _get("siderealtime", lambda d, p: _tel_status(d, "lst"), "local sidereal time (hours)"),
    _get("siteelevation", _site("elevation"), "GEOGRAPHIC_COORD ELEV (m)"),
    _put(
        "siteelevation",
        (Param("SiteElevation", float, -300, 10000),),
        _set_site("elevation", "SiteElevation"),
        "Telescope.set_site",
    ),
    _get("sitelatitude", _site("latitude"), "GEOGRAPHIC_COORD LAT (degrees)"),
    _put(
        "sitelatitude",
        (Param("SiteLatitude", float, -90, 90),),
        _set_site("latitude", "SiteLatitude"),
        "Telescope.set_site",
    ),
    _get("sitelongitude", _site("longitude"), "GEOGRAPHIC_COORD LONG (degrees, east +)"),
    _put(
        "sitelongitude",
        (Param("SiteLongitude", float, -180, 180),),
        _set_site("longitude", "SiteLongitude"),
        "Telescope.set_site",
    ),
    _get("slewing", _slewing, "coordinates Busy, a slew/park running, or an axis moving"),
    _get("slewsettletime", lambda d, p: d.values.get("settle", 0), "kept by the front"),
    _put(
        "slewsettletime",
        (Param("SlewSettleTime", int, 0),),
        _set_value("settle", "SlewSettleTime"),
        "kept by the front",
    ),
    _get("targetdeclination", _get_target("target_dec"), "kept by the front"),
    _put(
        "targetdeclination",
        (Param("TargetDeclination", float, -90, 90),),
        _set_value("target_dec", "TargetDeclination"),
        "kept by the front",
    ),
    _get("targetrightascension", _get_target("target_ra"), "kept by the front"),
    _put(
        "targetrightascension",
        (Param("TargetRightAscension", float, 0, 24),),
        _set_value("target_ra", "TargetRightAscension"),
        "kept by the front",
    ),
    _get("tracking", lambda d, p: bool(d.status().get("tracking")), "TELESCOPE_TRACK_STATE"),
    _put("tracking", (Param("Tracking", bool),), _set_tracking, "Telescope.set_tracking"),
    _get(
        "trackingrate",
        _tracking_rate,
        "TELESCOPE_TRACK_MODE (SIDEREAL 0, LUNAR 1, SOLAR 2, KING 3)",
    ),
    _put(
        "trackingrate",
        (Param("TrackingRate", int),),
        _tracking_rate_set,
        "Telescope.set_track_mode",
    ),
    _get("trackingrates", _tracking_rates, "the DriveRates among TELESCOPE_TRACK_MODE's switches"),
    _get("utcdate", lambda d, p: _utc_text(datetime.now(UTC)), "the service's clock (UTC)"),
    _put("utcdate", (Param("UTCDate", str),), _set_utc, "Telescope.set_time (TIME_UTC)"),
    _put("abortslew", (), _abort_slew, "Telescope.abort"),
    _put("findhome", (), None, "not offered"),
    _put(
        "moveaxis",
        (Param("Axis", int), Param("Rate", float)),
        _move_axis,
        "Telescope.move_axis: TELESCOPE_SLEW_RATE + TELESCOPE_MOTION_WE (0, + east) / NS "
        "(1, + north); 0 stops",
    ),
    _put("park", (), _park, "Telescope.park, in the background"),
    _put(
        "pulseguide",
        (Param("Direction", int), Param("Duration", int, 0)),
        _pulse_guide,
        "Telescope.pulse_guide (N 0, S 1, E 2, W 3; ms), in the background",
    ),
    _put(
        "setpark",
        (),
        lambda d, p: d.dev().set_park_position("current"),
        "Telescope.set_park_position('current')",
    ),
    _put(
        "slewtoaltaz",
        _ALTAZ,
        _slew_altaz(True),
        "Telescope.goto_altaz (track=False; Tracking must be off), waits",
    ),
    _put(
        "slewtoaltazasync",
        _ALTAZ,
        _slew_altaz(False),
        "Telescope.goto_altaz (track=False; Tracking must be off), in the background",
    ),
    _put("slewtocoordinates", (_RA, _DEC), _slew_coords(True), "Telescope.goto (JNow), waits"),
    _put(
        "slewtocoordinatesasync",
        (_RA, _DEC),
        _slew_coords(False),
        "Telescope.goto (JNow), in the background",
    ),
    _put("slewtotarget", (), _slew_target(True), "Telescope.goto to the target, waits"),
    _put("slewtotargetasync", (), _slew_target(False), "Telescope.goto to the target"),
    _put("synctoaltaz", (Param("Azimuth", float), Param("Altitude", float)), None, "not offered"),
    _put(
        "synctocoordinates",
        (_RA, _DEC),
        lambda d, p: _sync(d, p["RightAscension"], p["Declination"]),
        "Telescope.sync (JNow)",
    ),
    _put("synctotarget", (), lambda d, p: _sync(d, *_target(d)), "Telescope.sync to the target"),
    _put("unpark", (), lambda d, p: d.dev().unpark(), "Telescope.unpark"),
)

# ----------------------------------------------------------------- Camera

CAMERA_IDLE, CAMERA_WAITING, CAMERA_EXPOSING, CAMERA_READING, CAMERA_DOWNLOAD, CAMERA_ERROR = range(
    6
)


def _sensor(d: AlpacaDevice, key: str) -> Any:
    value = d.dev().sensor_info().get(key)
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, f"the camera does not report {key}")
    return value


def _binning(d: AlpacaDevice) -> tuple[int, int]:
    return d.values.get("binx", 1), d.values.get("biny", 1)


def _max_bin(d: AlpacaDevice) -> tuple[int, int]:
    mb = d.capabilities().get("max_binning") or [1, 1]
    return int(mb[0] or 1), int(mb[1] or 1)


def _set_bin(axis: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        value = p["Bin" + axis.upper()]
        high = _max_bin(d)[0 if axis == "x" else 1]
        if not 1 <= value <= high:
            raise AlpacaError(INVALID_VALUE, f"Bin{axis.upper()} must be 1..{high}, got {value}")
        d.values["bin" + axis] = value

    return call


def _num(d: AlpacaDevice, axis: str) -> int:
    value = d.values.get("num" + axis)
    if value is not None:
        return value
    size = _sensor(d, "max_" + axis)
    return int(size) // _binning(d)[0 if axis == "x" else 1]


def _set_frame(key: str, param: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        d.values[key] = p[param]  # checked against the sensor at StartExposure, as ASCOM says

    return call


def _camera_state(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if d.running("expose"):
        return CAMERA_EXPOSING if d.status().get("state") == "exposing" else CAMERA_READING
    if "expose" in d.errors:
        return CAMERA_ERROR
    return CAMERA_IDLE


async def _start_exposure(d: AlpacaDevice, p: dict[str, Any]) -> None:
    duration = p["Duration"]
    caps = d.capabilities()
    low, high = caps.get("exposure_range") or [0, None]
    if duration < 0 or (high is not None and duration > high):
        raise AlpacaError(INVALID_VALUE, f"Duration {duration:g} s is outside 0..{high}")
    if d.running("expose"):
        raise AlpacaError(INVALID_OPERATION, "an exposure is running: wait or abort it first")
    bx, by = _binning(d)
    width, height = int(_sensor(d, "max_x")), int(_sensor(d, "max_y"))
    sx, sy = d.values.get("startx", 0), d.values.get("starty", 0)
    nx, ny = _num(d, "x"), _num(d, "y")
    if bx != by and not caps.get("can_asymmetric_bin", False):
        raise AlpacaError(
            INVALID_VALUE, f"BinX {bx} and BinY {by} differ (asymmetric binning is not offered)"
        )
    if sx < 0 or sy < 0 or nx < 1 or ny < 1 or (sx + nx) * bx > width or (sy + ny) * by > height:
        raise AlpacaError(
            INVALID_VALUE,
            f"the subframe StartX {sx} NumX {nx} StartY {sy} NumY {ny} at binning {bx}×{by} "
            f"is outside the {width}×{height} sensor",
        )
    if low is not None and duration < low:
        duration = low  # a bias: the shortest exposure the camera takes
    d.values["last_start"] = datetime.now(UTC)
    d.values["last_duration"] = p["Duration"]
    d.values["last_blob"] = None
    d.values["expose_t0"] = time.monotonic()

    async def expose() -> None:
        result = await d.dev().expose(
            duration,
            frame_type="light" if p["Light"] else "dark",
            binning=(bx, by),
            roi=(sx * bx, sy * by, nx * bx, ny * by),
        )
        d.values["last_blob"] = result["blob_id"]

    await d.start("expose", expose())


def _image_ready(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return not d.running("expose") and d.values.get("last_blob") is not None


def _last(key: str, what: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> Any:
        value = d.values.get(key)
        if value is None:
            raise AlpacaError(VALUE_NOT_SET, f"no exposure yet: {what} is not known")
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] if key == "last_start" else value

    return call


def _percent(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if not d.running("expose"):
        if d.values.get("last_blob") is not None:
            return 100
        raise AlpacaError(INVALID_OPERATION, "no exposure is running")
    total = max(float(d.values.get("last_duration") or 0), 1e-3)
    return int(min(100, 100 * (time.monotonic() - d.values["expose_t0"]) / total))


async def image_pixels(d: AlpacaDevice) -> np.ndarray:
    """The last exposure's frame in ImageArray order (`protocol.image_array`)."""
    blob_id = d.values.get("last_blob")
    if blob_id is None or d.running("expose"):
        raise AlpacaError(INVALID_OPERATION, "no image is ready: take an exposure first")
    if d.image is not None and d.image[0] == blob_id:
        return d.image[1]
    from ..analysis.frames import read_frame

    store = d.service.blobs
    data = await store.read(blob_id) if hasattr(store, "read") else store.get(blob_id).data
    info = store.info(blob_id)
    frame = await asyncio.to_thread(read_frame, data, info.format)
    pixels = image_array(np.asarray(frame.pixels))
    d.image = (blob_id, pixels)
    return pixels


async def _abort_exposure(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if (task := d.tasks.get("expose")) is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        d.values["last_blob"] = None


def _camera_control(key: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> Any:
        value = d.dev().settings().get(key)
        if value is None:
            raise AlpacaError(NOT_IMPLEMENTED, f"the camera has no {key}")
        return int(round(value))

    return call


def _camera_range(key: str, end: int) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> Any:
        rng = d.capabilities().get(f"{key}_range")
        if not rng or rng[end] is None:
            raise AlpacaError(NOT_IMPLEMENTED, f"the camera has no {key}")
        return int(rng[end])

    return call


def _set_camera_control(key: str, param: str) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        rng = d.capabilities().get(f"{key}_range")
        if not rng:
            raise AlpacaError(NOT_IMPLEMENTED, f"the camera has no {key}")
        if not rng[0] <= p[param] <= rng[1]:
            raise AlpacaError(INVALID_VALUE, f"{param} must be {rng[0]:g}..{rng[1]:g}")
        await d.dev().configure(**{key: p[param]})

    return call


def _temperature(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.dev().temperature().get("temperature")
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the camera reports no temperature")
    return float(value)


def _set_point(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.values.get("setpoint")
    if value is None:
        if not d.capabilities().get("can_set_temperature"):
            raise AlpacaError(NOT_IMPLEMENTED, "the camera cannot set its temperature")
        raise AlpacaError(VALUE_NOT_SET, "SetCCDTemperature has not been set")
    return value


async def _set_set_point(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if not d.capabilities().get("can_set_temperature"):
        raise AlpacaError(NOT_IMPLEMENTED, "the camera cannot set its temperature")
    value = p["SetCCDTemperature"]
    d.values["setpoint"] = value
    await d.start("cool", d.dev().set_temperature(value))


def _cooler_on(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    if not d.capabilities().get("has_cooler"):
        raise AlpacaError(NOT_IMPLEMENTED, "the camera has no cooler")
    return bool(d.status().get("cooler"))


def _set_cooler(d: AlpacaDevice, p: dict[str, Any]) -> Awaitable[Any]:
    if not d.capabilities().get("has_cooler"):
        raise AlpacaError(NOT_IMPLEMENTED, "the camera has no cooler")
    return d.dev().set_cooler(p["CoolerOn"])


def _max_adu(d: AlpacaDevice, p: dict[str, Any]) -> int:
    bits = int(_sensor(d, "bits_per_pixel"))
    return 2 ** min(bits, 31) - 1


def _readout_mode_set(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if p["ReadoutMode"] != 0:
        raise AlpacaError(INVALID_VALUE, "ReadoutModes offers only mode 0")


def _exposure_limit(end: int) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> float:
        rng = d.capabilities().get("exposure_range") or [None, None]
        if rng[end] is None:
            raise AlpacaError(NOT_IMPLEMENTED, "the camera gives no exposure range")
        return float(rng[end])

    return call


def _pixel_size(axis: str) -> Call:
    def call(d: AlpacaDevice, p: dict[str, Any]) -> float:
        info = d.dev().sensor_info()
        value = info.get(f"pixel_size_{axis}") or info.get("pixel_size")
        if value is None:
            raise AlpacaError(NOT_IMPLEMENTED, "the camera gives no pixel size")
        return float(value)

    return call


CAMERA: tuple[Member, ...] = (
    _get("bayeroffsetx", None, "monochrome sensor"),
    _get("bayeroffsety", None, "monochrome sensor"),
    _get("binx", lambda d, p: _binning(d)[0], "CCD_BINNING HOR_BIN at the next exposure"),
    _put("binx", (Param("BinX", int),), _set_bin("x"), "kept until StartExposure"),
    _get("biny", lambda d, p: _binning(d)[1], "CCD_BINNING VER_BIN at the next exposure"),
    _put("biny", (Param("BinY", int),), _set_bin("y"), "kept until StartExposure"),
    _get("camerastate", _camera_state, "Camera.expose running / CCD_EXPOSURE Busy"),
    _get("cameraxsize", lambda d, p: int(_sensor(d, "max_x")), "CCD_INFO CCD_MAX_X"),
    _get("cameraysize", lambda d, p: int(_sensor(d, "max_y")), "CCD_INFO CCD_MAX_Y"),
    _get("canabortexposure", _cap("can_abort"), "CCD_ABORT_EXPOSURE defined"),
    _get("canasymmetricbin", lambda d, p: False, "not offered"),
    _get("canfastreadout", lambda d, p: False, "not offered"),
    _get("cangetcoolerpower", lambda d, p: False, "not offered (CoolerPower)"),
    _get(
        "canpulseguide",
        _camera_can_pulse,
        "guide camera (Camera 1): its ST4 port or the mount; main camera: False",
    ),
    _get("cansetccdtemperature", _cap("can_set_temperature"), "CCD_TEMPERATURE writable"),
    _get("canstopexposure", lambda d, p: False, "INDI aborts, it cannot stop early"),
    _get("ccdtemperature", _temperature, "CCD_TEMPERATURE (°C)"),
    _get("cooleron", _cooler_on, "CCD_COOLER"),
    _put("cooleron", (Param("CoolerOn", bool),), _set_cooler, "Camera.set_cooler"),
    _get("coolerpower", None, "not offered"),
    _get("electronsperadu", None, "not reported by INDI"),
    _get("exposuremax", _exposure_limit(1), "CCD_EXPOSURE_VALUE max (s)"),
    _get("exposuremin", _exposure_limit(0), "CCD_EXPOSURE_VALUE min (s)"),
    _get("exposureresolution", lambda d, p: 0.001, "1 ms"),
    _get("fastreadout", None, "not offered"),
    _put("fastreadout", (Param("FastReadout", bool),), None, "not offered"),
    _get("fullwellcapacity", None, "not reported by INDI"),
    _get("gain", _camera_control("gain"), "CCD_CONTROLS/CCD_GAIN gain"),
    _put(
        "gain", (Param("Gain", int),), _set_camera_control("gain", "Gain"), "Camera.configure(gain)"
    ),
    _get("gainmax", _camera_range("gain", 1), "gain element max"),
    _get("gainmin", _camera_range("gain", 0), "gain element min"),
    _get("gains", None, "numeric gain (GainMin..GainMax)"),
    _get("hasshutter", lambda d, p: False, "no shutter reported by INDI"),
    _get("heatsinktemperature", None, "not reported by INDI"),
    _get("imagearray", None, "the last frame from the frame store, ImageArray[x][y]", image=True),
    _get("imagearrayvariant", None, "as ImageArray", image=True),
    _get("imageready", _image_ready, "the last exposure's frame stored"),
    _get("ispulseguiding", _pulse_guiding, "Guider.pulse running, or its duration"),
    _get(
        "lastexposureduration", _last("last_duration", "LastExposureDuration"), "kept by the front"
    ),
    _get(
        "lastexposurestarttime", _last("last_start", "LastExposureStartTime"), "kept by the front"
    ),
    _get("maxadu", _max_adu, "2^CCD_BITSPERPIXEL - 1"),
    _get("maxbinx", lambda d, p: _max_bin(d)[0], "CCD_BINNING HOR_BIN max"),
    _get("maxbiny", lambda d, p: _max_bin(d)[1], "CCD_BINNING VER_BIN max"),
    _get("numx", lambda d, p: _num(d, "x"), "CCD_FRAME WIDTH / BinX at the next exposure"),
    _put("numx", (Param("NumX", int),), _set_frame("numx", "NumX"), "kept until StartExposure"),
    _get("numy", lambda d, p: _num(d, "y"), "CCD_FRAME HEIGHT / BinY at the next exposure"),
    _put("numy", (Param("NumY", int),), _set_frame("numy", "NumY"), "kept until StartExposure"),
    _get("offset", _camera_control("offset"), "CCD_CONTROLS offset"),
    _put(
        "offset",
        (Param("Offset", int),),
        _set_camera_control("offset", "Offset"),
        "Camera.configure(offset)",
    ),
    _get("offsetmax", _camera_range("offset", 1), "offset element max"),
    _get("offsetmin", _camera_range("offset", 0), "offset element min"),
    _get("offsets", None, "numeric offset (OffsetMin..OffsetMax)"),
    _get("percentcompleted", _percent, "time since StartExposure"),
    _get("pixelsizex", _pixel_size("x"), "CCD_INFO CCD_PIXEL_SIZE_X (µm)"),
    _get("pixelsizey", _pixel_size("y"), "CCD_INFO CCD_PIXEL_SIZE_Y (µm)"),
    _get("readoutmode", lambda d, p: 0, "one mode"),
    _put("readoutmode", (Param("ReadoutMode", int),), _readout_mode_set, "one mode"),
    _get("readoutmodes", lambda d, p: ["Default"], "one mode"),
    _get("sensorname", lambda d, p: "", "not reported by INDI"),
    _get("sensortype", lambda d, p: 0, "0 (monochrome)"),
    _get("setccdtemperature", _set_point, "the last target given"),
    _put(
        "setccdtemperature",
        (Param("SetCCDTemperature", float, -273.15, 100),),
        _set_set_point,
        "Camera.set_temperature, in the background",
    ),
    _get(
        "startx", lambda d, p: d.values.get("startx", 0), "CCD_FRAME X / BinX at the next exposure"
    ),
    _put(
        "startx",
        (Param("StartX", int),),
        _set_frame("startx", "StartX"),
        "kept until StartExposure",
    ),
    _get(
        "starty", lambda d, p: d.values.get("starty", 0), "CCD_FRAME Y / BinY at the next exposure"
    ),
    _put(
        "starty",
        (Param("StartY", int),),
        _set_frame("starty", "StartY"),
        "kept until StartExposure",
    ),
    _get("subexposureduration", None, "not offered"),
    _put("subexposureduration", (Param("SubExposureDuration", float),), None, "not offered"),
    _put("abortexposure", (), _abort_exposure, "Camera.abort (the running expose is cancelled)"),
    _put(
        "pulseguide",
        (Param("Direction", int), Param("Duration", int, 0)),
        _pulse_guide,
        "guide camera: Guider.pulse (N 0, S 1, E 2, W 3; ms), in the background",
    ),
    _put(
        "startexposure",
        (Param("Duration", float), Param("Light", bool)),
        _start_exposure,
        "Camera.expose (light or dark, binning, ROI), in the background",
    ),
    _put("stopexposure", (), None, "INDI aborts, it cannot stop early"),
)

# ----------------------------------------------------------------- Focuser


def _focuser_max(d: AlpacaDevice, p: dict[str, Any]) -> int:
    value = d.dev().max()["max"]
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the focuser gives no maximum")
    return int(value)


def _focuser_position(d: AlpacaDevice, p: dict[str, Any]) -> int:
    value = d.dev().position()["position"]
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the focuser has no absolute position")
    return int(value)


async def _focuser_move(d: AlpacaDevice, p: dict[str, Any]) -> None:
    high = _focuser_max(d, p)
    if not 0 <= p["Position"] <= high:
        raise AlpacaError(INVALID_VALUE, f"Position must be 0..{high}, got {p['Position']}")
    await d.start("move", d.dev().move_to(p["Position"]))


async def _halt(d: AlpacaDevice, p: dict[str, Any]) -> None:
    for kind in ("move", "slew", "shutter", "cover"):
        if (task := d.tasks.get(kind)) is not None:
            task.cancel()
    await d.dev().abort()


def _moving(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return bool(d.status().get("moving") or d.running("move"))


def _temp_comp_set(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if p["TempComp"]:
        raise AlpacaError(NOT_IMPLEMENTED, "temperature compensation is not offered")


FOCUSER: tuple[Member, ...] = (
    _get(
        "absolute",
        lambda d, p: d.dev().position()["position"] is not None,
        "ABS_FOCUS_POSITION defined",
    ),
    _get("ismoving", _moving, "ABS/REL_FOCUS_POSITION Busy, or a move running"),
    _get("maxincrement", _focuser_max, "FOCUS_MAX"),
    _get("maxstep", _focuser_max, "FOCUS_MAX"),
    _get("position", _focuser_position, "ABS_FOCUS_POSITION (steps)"),
    _get("stepsize", None, "not reported by INDI"),
    _get("tempcomp", lambda d, p: False, "not offered"),
    _put("tempcomp", (Param("TempComp", bool),), _temp_comp_set, "False only"),
    _get("tempcompavailable", lambda d, p: False, "not offered"),
    _get(
        "temperature", lambda d, p: d.dev().temperature()["temperature"], "FOCUS_TEMPERATURE (°C)"
    ),
    _put("halt", (), _halt, "Focuser.abort"),
    _put("move", (Param("Position", int),), _focuser_move, "Focuser.move_to, in the background"),
)

# ----------------------------------------------------------------- FilterWheel


def _wheel_position(d: AlpacaDevice, p: dict[str, Any]) -> int:
    current = d.dev().current()
    if current["moving"] or d.running("move") or current["slot"] is None:
        return -1
    return int(current["slot"]) - 1


async def _wheel_select(d: AlpacaDevice, p: dict[str, Any]) -> None:
    count = len(d.dev().filters())
    if not 0 <= p["Position"] < count:
        raise AlpacaError(INVALID_VALUE, f"Position must be 0..{count - 1}, got {p['Position']}")
    await d.start("move", d.dev().select(p["Position"] + 1))


FILTERWHEEL: tuple[Member, ...] = (
    _get("focusoffsets", lambda d, p: [0] * len(d.dev().filters()), "none kept (zeros)"),
    _get(
        "names",
        lambda d, p: [f["name"] or f"Filter {f['slot']}" for f in d.dev().filters()],
        "FILTER_NAME",
    ),
    _get("position", _wheel_position, "FILTER_SLOT - 1 (-1 while moving)"),
    _put(
        "position",
        (Param("Position", int),),
        _wheel_select,
        "FilterWheel.select(Position + 1), in the background",
    ),
)

# ----------------------------------------------------------------- Dome

SHUTTER = {"open": 0, "closed": 1, "opening": 2, "closing": 3, "error": 4}


def _shutter_status(d: AlpacaDevice, p: dict[str, Any]) -> int:
    state = d.status().get("shutter")
    if state is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the dome has no shutter")
    if d.running("shutter"):
        return SHUTTER["opening"] if d.values.get("shutter") == "open" else SHUTTER["closing"]
    return SHUTTER[state]


def _shutter(to: str) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        d.values["shutter"] = to
        dome = d.dev()
        await d.start("shutter", dome.open() if to == "open" else dome.close())

    return call


async def _dome_goto(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if d.status().get("parked"):
        raise AlpacaError(INVALID_WHILE_PARKED, "the dome is parked")
    await d.start("slew", d.dev().goto(p["Azimuth"]))


def _dome_azimuth(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.status().get("azimuth")
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the dome reports no azimuth")
    return float(value)


async def _dome_park(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if d.status().get("parked"):
        return
    await d.start("slew", d.dev().park())


async def _set_slaved(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if not d.capabilities().get("can_follow"):
        if p["Slaved"]:
            raise AlpacaError(NOT_IMPLEMENTED, "the dome cannot follow the mount")
        return
    await d.dev().set_following(p["Slaved"])


DOME: tuple[Member, ...] = (
    _get("altitude", None, "no shutter altitude in INDI"),
    _get("athome", lambda d, p: False, "no home reported"),
    _get("atpark", lambda d, p: bool(d.status().get("parked")), "DOME_PARK"),
    _get("azimuth", _dome_azimuth, "ABS_DOME_POSITION (degrees)"),
    _get("canfindhome", lambda d, p: False, "not offered"),
    _get("canpark", _cap("can_park"), "DOME_PARK defined"),
    _get("cansetaltitude", lambda d, p: False, "not offered"),
    _get("cansetazimuth", _cap("can_goto"), "ABS_DOME_POSITION writable"),
    _get("cansetpark", lambda d, p: False, "not offered"),
    _get("cansetshutter", _cap("can_open"), "DOME_SHUTTER defined"),
    _get("canslave", _cap("can_follow"), "DOME_AUTOSYNC defined"),
    _get("cansyncazimuth", lambda d, p: False, "not offered"),
    _get("shutterstatus", _shutter_status, "DOME_SHUTTER (open 0, closed 1, opening 2, closing 3)"),
    _get("slaved", lambda d, p: bool(d.status().get("following")), "DOME_AUTOSYNC"),
    _put("slaved", (Param("Slaved", bool),), _set_slaved, "Dome.set_following"),
    _get(
        "slewing",
        lambda d, p: bool(d.status().get("moving") or d.running("slew")),
        "dome motion Busy, or a slew running",
    ),
    _put("abortslew", (), _halt, "Dome.abort"),
    _put("closeshutter", (), _shutter("closed"), "Dome.close, in the background"),
    _put("findhome", (), None, "not offered"),
    _put("openshutter", (), _shutter("open"), "Dome.open, in the background"),
    _put("park", (), _dome_park, "Dome.park, in the background"),
    _put("setpark", (), None, "not offered"),
    _put("slewtoaltitude", (Param("Altitude", float),), None, "not offered"),
    _put(
        "slewtoazimuth",
        (Param("Azimuth", float, 0, 359.999999),),
        _dome_goto,
        "Dome.goto, in the background",
    ),
    _put("synctoazimuth", (Param("Azimuth", float),), None, "not offered"),
)

# ----------------------------------------------------------------- Rotator


def _angle(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.status().get("angle")
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the rotator reports no angle")
    return float(value) % 360.0


async def _rotate_to(d: AlpacaDevice, angle: float) -> None:
    angle %= 360.0
    d.values["target_angle"] = angle
    await d.start("move", d.dev().move_to(angle))


async def _set_reverse(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if not d.capabilities().get("can_reverse"):
        raise AlpacaError(NOT_IMPLEMENTED, "the rotator cannot reverse")
    await d.dev().set_reverse(p["Reverse"])


def _reverse(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    if not d.capabilities().get("can_reverse"):
        raise AlpacaError(NOT_IMPLEMENTED, "the rotator cannot reverse")
    return bool(d.status().get("reversed"))


_POSITION = (Param("Position", float),)
_ABS_POSITION = (Param("Position", float, 0, 359.999999),)

ROTATOR: tuple[Member, ...] = (
    _get("canreverse", _cap("can_reverse"), "ROTATOR_REVERSE defined"),
    _get("ismoving", _moving, "ABS_ROTATOR_ANGLE Busy, or a move running"),
    _get("mechanicalposition", _angle, "ABS_ROTATOR_ANGLE (degrees)"),
    _get("position", _angle, "ABS_ROTATOR_ANGLE (degrees)"),
    _get("reverse", _reverse, "ROTATOR_REVERSE"),
    _put("reverse", (Param("Reverse", bool),), _set_reverse, "Rotator.set_reverse"),
    _get("stepsize", None, "not reported by INDI"),
    _get(
        "targetposition",
        lambda d, p: d.values.get("target_angle", _angle(d, p)),
        "the last target, else the angle",
    ),
    _put("halt", (), _halt, "Rotator.abort"),
    _put(
        "move",
        _POSITION,
        lambda d, p: _rotate_to(d, _angle(d, p) + p["Position"]),
        "Rotator.move_to(angle + Position), in the background",
    ),
    _put(
        "moveabsolute",
        _ABS_POSITION,
        lambda d, p: _rotate_to(d, p["Position"]),
        "Rotator.move_to, in the background",
    ),
    _put(
        "movemechanical",
        _ABS_POSITION,
        lambda d, p: _rotate_to(d, p["Position"]),
        "Rotator.move_to, in the background",
    ),
    _put("sync", _ABS_POSITION, lambda d, p: d.dev().sync(p["Position"]), "Rotator.sync"),
)

# ----------------------------------------------------------------- CoverCalibrator

COVER = {None: 0, "closed": 1, "opening": 2, "closing": 2, "open": 3, "error": 5}


def _cover_state(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if d.running("cover"):
        return 2
    return COVER.get(d.status().get("cap"), 4)


def _calibrator_state(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if not d.capabilities().get("has_light"):
        return 0
    if d.running("light"):
        return 2
    return 3 if d.status().get("light") else 1


def _max_brightness(d: AlpacaDevice, p: dict[str, Any]) -> int:
    rng = d.capabilities().get("brightness_range")
    if not d.capabilities().get("has_light"):
        raise AlpacaError(NOT_IMPLEMENTED, "the panel has no light")
    return int(rng[1]) if rng and rng[1] else 1


def _brightness(d: AlpacaDevice, p: dict[str, Any]) -> int:
    if not d.capabilities().get("has_light"):
        raise AlpacaError(NOT_IMPLEMENTED, "the panel has no light")
    if not d.status().get("light"):
        return 0
    return int(round(d.status().get("brightness") or _max_brightness(d, p)))


async def _calibrator_on(d: AlpacaDevice, p: dict[str, Any]) -> None:
    high = _max_brightness(d, p)
    if not 0 <= p["Brightness"] <= high:
        raise AlpacaError(INVALID_VALUE, f"Brightness must be 0..{high}, got {p['Brightness']}")
    brightness = p["Brightness"] if d.capabilities().get("can_dim") else None
    await d.start("light", d.dev().set_light(True, brightness=brightness))


async def _calibrator_off(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if not d.capabilities().get("has_light"):
        raise AlpacaError(NOT_IMPLEMENTED, "the panel has no light")
    await d.start("light", d.dev().set_light(False))


def _cover(to: str) -> Call:
    async def call(d: AlpacaDevice, p: dict[str, Any]) -> None:
        if not d.capabilities().get("has_cap"):
            raise AlpacaError(NOT_IMPLEMENTED, "the panel has no cover")
        panel = d.dev()
        await d.start("cover", panel.open_cap() if to == "open" else panel.close_cap())

    return call


async def _halt_cover(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if not d.capabilities().get("can_abort_cap"):
        raise AlpacaError(NOT_IMPLEMENTED, "the cover cannot be halted")
    await _halt(d, p)


COVERCALIBRATOR: tuple[Member, ...] = (
    _get("brightness", _brightness, "FLAT_LIGHT_INTENSITY (0 while off)"),
    _get("calibratorchanging", lambda d, p: d.running("light"), "a light change running"),
    _get("calibratorstate", _calibrator_state, "FLAT_LIGHT_CONTROL (NotPresent 0, Off 1, Ready 3)"),
    _get("covermoving", lambda d, p: _cover_state(d, p) == 2, "CAP_PARK Busy"),
    _get("coverstate", _cover_state, "CAP_PARK (NotPresent 0, Closed 1, Moving 2, Open 3)"),
    _get("maxbrightness", _max_brightness, "FLAT_LIGHT_INTENSITY max"),
    _put("calibratoroff", (), _calibrator_off, "FlatPanel.set_light(False)"),
    _put(
        "calibratoron",
        (Param("Brightness", int),),
        _calibrator_on,
        "FlatPanel.set_light(True, brightness), in the background",
    ),
    _put("closecover", (), _cover("closed"), "FlatPanel.close_cap, in the background"),
    _put("haltcover", (), _halt_cover, "FlatPanel abort (CAP_ABORT)"),
    _put("opencover", (), _cover("open"), "FlatPanel.open_cap, in the background"),
)

# ----------------------------------------------------------------- ObservingConditions

#: Alpaca sensor -> (the INDI weather parameters that hold it, as drivers
#: name them, first match wins; factor to Alpaca's unit).
SENSORS: dict[str, tuple[tuple[str, ...], float]] = {
    "cloudcover": (("WEATHER_CLOUD_COVER",), 1.0),  # %
    "dewpoint": (("WEATHER_DEWPOINT", "WEATHER_DEW_POINT"), 1.0),  # °C
    "humidity": (("WEATHER_HUMIDITY",), 1.0),  # %
    "pressure": (("WEATHER_PRESSURE",), 1.0),  # hPa
    "rainrate": (("WEATHER_RAIN_HOUR", "WEATHER_RAIN_RATE"), 1.0),  # mm/h
    "skybrightness": (("WEATHER_SKY_BRIGHTNESS",), 1.0),  # lux
    "skyquality": (("WEATHER_SQM", "WEATHER_SKY_QUALITY"), 1.0),  # mag/arcsec²
    "skytemperature": (("WEATHER_SKY_TEMPERATURE",), 1.0),  # °C
    "starfwhm": (("WEATHER_STAR_FWHM",), 1.0),  # arcsec
    "temperature": (("WEATHER_TEMPERATURE",), 1.0),  # °C
    "winddirection": (("WEATHER_WIND_DIRECTION",), 1.0),  # degrees
    "windgust": (("WEATHER_WIND_GUST",), 1 / 3.6),  # INDI km/h -> m/s
    "windspeed": (("WEATHER_WIND_SPEED",), 1 / 3.6),  # INDI km/h -> m/s
}


def _reading(d: AlpacaDevice, sensor: str) -> dict[str, Any]:
    names, _ = SENSORS[sensor]
    found = {param["name"]: param for param in d.dev().parameters()}
    for name in names:
        if name in found:
            return found[name]
    raise AlpacaError(NOT_IMPLEMENTED, f"the weather station has no {' or '.join(names)}")


def _sensor_value(sensor: str) -> Call:
    return lambda d, p: float(_reading(d, sensor)["value"]) * SENSORS[sensor][1]


def _sensor_name(p: dict[str, Any]) -> str:
    name = p["SensorName"].strip().lower()
    if name and name not in SENSORS:
        raise AlpacaError(INVALID_VALUE, f"unknown sensor {p['SensorName']!r}")
    return name


def _sensor_description(d: AlpacaDevice, p: dict[str, Any]) -> str:
    name = _sensor_name(p)
    if not name:
        raise AlpacaError(INVALID_VALUE, "give a SensorName")
    reading = _reading(d, name)
    return str(reading["label"] or reading["name"])


def _since_update(d: AlpacaDevice, p: dict[str, Any]) -> float:
    name = _sensor_name(p)
    if name:
        _reading(d, name)
    updated = d.dev().state().get("updated")
    if not updated:
        return 0.0
    try:
        when = datetime.fromisoformat(str(updated))
    except ValueError:
        return 0.0
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def _average_period_set(d: AlpacaDevice, p: dict[str, Any]) -> None:
    if p["AveragePeriod"] != 0:
        raise AlpacaError(INVALID_VALUE, "only AveragePeriod 0 (instantaneous readings) is offered")


OBSERVINGCONDITIONS: tuple[Member, ...] = (
    _get("averageperiod", lambda d, p: 0.0, "instantaneous readings (hours)"),
    _put("averageperiod", (Param("AveragePeriod", float, 0),), _average_period_set, "0 only"),
    *(
        _get(
            sensor,
            _sensor_value(sensor),
            " or ".join(names) + (" (km/h → m/s)" if factor != 1 else ""),
        )
        for sensor, (names, factor) in SENSORS.items()
    ),
    _get(
        "sensordescription",
        _sensor_description,
        "the parameter's label",
        params=(Param("SensorName", str),),
    ),
    _get(
        "timesincelastupdate",
        _since_update,
        "WEATHER_PARAMETERS timestamp (s)",
        params=(Param("SensorName", str),),
    ),
    _put("refresh", (), lambda d, p: d.dev().refresh(), "Weather.refresh"),
)

# ----------------------------------------------------------------- SafetyMonitor

SAFETYMONITOR: tuple[Member, ...] = (
    _get(
        "issafe",
        lambda d, p: d.connected and d.service.safety.safe,
        "the safety policy (weather, lost indiserver)",
        needs_connection=False,
    ),
)

# ----------------------------------------------------------------- the tables

#: Interface versions of ASCOM Platform 7.
INTERFACE_VERSIONS: dict[str, int] = {
    "Telescope": 4,
    "Camera": 4,
    "Focuser": 4,
    "FilterWheel": 3,
    "Dome": 3,
    "Rotator": 4,
    "CoverCalibrator": 2,
    "ObservingConditions": 2,
    "SafetyMonitor": 3,
}

#: Each device type's own members (the common ones are added to all).
_OWN: dict[str, tuple[Member, ...]] = {
    "Telescope": TELESCOPE,
    "Camera": CAMERA,
    "Focuser": FOCUSER,
    "FilterWheel": FILTERWHEEL,
    "Dome": DOME,
    "Rotator": ROTATOR,
    "CoverCalibrator": COVERCALIBRATOR,
    "ObservingConditions": OBSERVINGCONDITIONS,
    "SafetyMonitor": SAFETYMONITOR,
}

MEMBERS: dict[str, tuple[Member, ...]] = {t: COMMON + own for t, own in _OWN.items()}
MEMBER_INDEX: dict[str, dict[tuple[str, str], Member]] = {
    t: {(m.name, m.http): m for m in members} for t, members in MEMBERS.items()
}

#: The Alpaca devices, in the order their numbers are first given: device
#: type and the role it stands for ("safety": the safety policy).
DEVICE_ROLES: tuple[tuple[str, str], ...] = (
    ("Telescope", "telescope"),
    ("Camera", "camera"),
    ("Camera", "guider"),
    ("Focuser", "focuser"),
    ("FilterWheel", "filter_wheel"),
    ("Dome", "dome"),
    ("Rotator", "rotator"),
    ("CoverCalibrator", "flat_panel"),
    ("ObservingConditions", "weather"),
    ("SafetyMonitor", "safety"),
)

#: DeviceState's operational members per type (the reference's lists).
STATE_MEMBERS: dict[str, tuple[str, ...]] = {
    "Telescope": (
        "altitude",
        "atpark",
        "azimuth",
        "declination",
        "ispulseguiding",
        "rightascension",
        "sideofpier",
        "siderealtime",
        "slewing",
        "tracking",
        "utcdate",
    ),
    "Camera": (
        "camerastate",
        "ccdtemperature",
        "cooleron",
        "imageready",
        "ispulseguiding",
        "percentcompleted",
    ),
    "Focuser": ("ismoving", "position", "temperature"),
    "FilterWheel": ("position",),
    "Dome": ("altitude", "athome", "atpark", "azimuth", "shutterstatus", "slewing"),
    "Rotator": ("ismoving", "mechanicalposition", "position"),
    "CoverCalibrator": (
        "brightness",
        "calibratorchanging",
        "calibratorstate",
        "covermoving",
        "coverstate",
    ),
    "ObservingConditions": tuple(SENSORS),
    "SafetyMonitor": ("issafe",),
}

_LABELS = {
    "last_duration": "LastExposureDuration",
    "last_start": "LastExposureStartTime",
    "target_ra": "TargetRightAscension",
    "target_dec": "TargetDeclination",
}


def member_label(name: str) -> str:
    """A member's ASCOM spelling for messages and DeviceState ("slewing" ->
    "Slewing"); best effort from the lower-case URL name."""
    if name in _LABELS:
        return _LABELS[name]
    for members in MEMBERS.values():
        for m in members:
            for param in m.params:
                if param.name.lower() == name:
                    return param.name
    return _CAMEL.get(name, name[:1].upper() + name[1:])


_CAMEL = {
    "atpark": "AtPark",
    "athome": "AtHome",
    "ispulseguiding": "IsPulseGuiding",
    "rightascension": "RightAscension",
    "sideofpier": "SideOfPier",
    "siderealtime": "SiderealTime",
    "utcdate": "UTCDate",
    "camerastate": "CameraState",
    "ccdtemperature": "CCDTemperature",
    "cooleron": "CoolerOn",
    "imageready": "ImageReady",
    "percentcompleted": "PercentCompleted",
    "ismoving": "IsMoving",
    "shutterstatus": "ShutterStatus",
    "mechanicalposition": "MechanicalPosition",
    "calibratorchanging": "CalibratorChanging",
    "calibratorstate": "CalibratorState",
    "covermoving": "CoverMoving",
    "coverstate": "CoverState",
    "cloudcover": "CloudCover",
    "dewpoint": "DewPoint",
    "rainrate": "RainRate",
    "skybrightness": "SkyBrightness",
    "skyquality": "SkyQuality",
    "skytemperature": "SkyTemperature",
    "starfwhm": "StarFWHM",
    "winddirection": "WindDirection",
    "windgust": "WindGust",
    "windspeed": "WindSpeed",
    "issafe": "IsSafe",
}


def coverage_markdown() -> str:
    """docs/alpaca.md's coverage table, one section per device type (a test
    checks the document holds exactly this)."""
    lines: list[str] = []
    for device_type in MEMBERS:
        own = _OWN[device_type]
        done = sum(m.implemented for m in own)
        lines.append(
            f"### {device_type} (interface version {INTERFACE_VERSIONS[device_type]}): "
            f"{done} of {len(own)} members implemented, plus the common members"
        )
        lines.append("")
        lines.append("| Member | HTTP | Parameters | Translates to |")
        lines.append("|---|---|---|---|")
        for m in own:
            params = ", ".join(p.describe() for p in m.params) or "–"
            what = m.translates if m.implemented else f"NotImplemented (0x400): {m.translates}"
            lines.append(f"| `{m.name}` | {m.http} | {params} | {what} |")
        lines.append("")
    lines.append("### Common members (every device type)")
    lines.append("")
    lines.append("| Member | HTTP | Parameters | Translates to |")
    lines.append("|---|---|---|---|")
    for m in COMMON:
        params = ", ".join(p.describe() for p in m.params) or "–"
        what = m.translates if m.implemented else f"NotImplemented (0x400): {m.translates}"
        lines.append(f"| `{m.name}` | {m.http} | {params} | {what} |")
    return "\n".join(lines) + "\n"


def write_coverage(path: str) -> None:
    """Replace the coverage section of docs/alpaca.md (between its markers)
    with `coverage_markdown()`: ``python -m indiws.alpaca.members docs/alpaca.md``."""
    start, end = "<!-- coverage:start -->\n", "<!-- coverage:end -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.index(start) + len(start), text.index(end)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:i] + coverage_markdown() + text[j:])


if __name__ == "__main__":
    import sys

    write_coverage(sys.argv[1] if len(sys.argv) > 1 else "docs/alpaca.md")
