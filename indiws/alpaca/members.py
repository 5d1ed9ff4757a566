"""The Alpaca members of each device type: ONE table per type.

A row names the member as the URL spells it, its HTTP verb, its parameters
and what it translates to.  The request handler (`indiws.alpaca.server`),
the protocol checker's expectations (tests) and the coverage table of
docs/alpaca.md all read these tables; nothing else lists members.

A member that invokes a device verb is a `verb_member`: it names the
declared verb (`indiws.verbs.VERBS`) and maps its Alpaca parameters onto the
verb's fields (`Arg`); their types and ranges are the verb's params struct's,
and the call is the generic one of `indiws.alpaca.binding` (waits, or starts
the verb in the background for ASCOM's asynchronous members).  What is left
here is translation: names, ASCOM's enumerations and units, the front's own
state (targets, the next exposure's binning and subframe) and the refusals
ASCOM asks beyond the device's (a slew needs Tracking on).

A member that reads state (``Slewing``, ``CameraState``, the capabilities)
has a ``call`` that gets the `AlpacaDevice` and the parsed parameters and
returns the value (or an awaitable).  Refusals are the device layer's own
errors, turned into ASCOM errors by `indiws.alpaca.protocol.REFUSALS` and
``ERROR_TABLE``; ``call=None`` answers NotImplemented.  Asynchronous
operations are reported by ``Slewing``, ``IsMoving``, ``ShutterStatus``,
``CameraState``...
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import __version__
from ..devices.telescope import SIDEREAL_DEG_PER_S
from ..verbs import VERBS
from .binding import NOTHING, Arg, Before, Call, Member, field_param, verb_member, verbs_of
from .device import AlpacaDevice, log
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
    image_array,
)

__all__ = [
    "DEVICE_ROLES",
    "INTERFACE_VERSIONS",
    "MEMBERS",
    "AlpacaDevice",
    "Member",
    "coverage_markdown",
]

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


def _get(name: str, call: Call | None, translates: str = "", **kw: Any) -> Member:
    return Member(name, "GET", call, translates=translates, **kw)


def _put(
    name: str, params: tuple[Param, ...], call: Call | None, translates: str = "", **kw: Any
) -> Member:
    kw.setdefault("has_value", False)
    return Member(name, "PUT", call, params, translates, **kw)


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

#: ASCOM's GuideDirections and the pulse verbs' directions.
DIRECTIONS = {0: "north", 1: "south", 2: "east", 3: "west"}
_RADEC = (Arg("RightAscension", "ra"), Arg("Declination", "dec"))
_ALTAZ = (Arg("Azimuth", "az"), Arg("Altitude", "alt"))
#: Pulse guiding, the mount's (telescope.pulse_guide) and the guide camera's (guider.pulse).
_PULSE = (Arg("Direction", "direction", choices=DIRECTIONS), Arg("Duration", "duration_ms", int))


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


def _unparked(what: str) -> Before:
    """ASCOM's InvalidWhileParked (the device's own refusal may be another)."""

    def before(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
        _parked_refusal(d, what)

    return before


def _radec(what: str) -> Before:
    """A slew or sync to RA/Dec (the coordinates given, else the target):
    refused while parked and while not tracking, as ITelescopeV4 says; the
    coordinates become the target."""

    def before(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        ra, dec = (fields["ra"], fields["dec"]) if "ra" in fields else _target(d)
        _parked_refusal(d, what)
        if d.status().get("tracking") is False:
            raise AlpacaError(
                INVALID_OPERATION, f"tracking is off: {what} to RA/Dec needs Tracking on"
            )
        d.values["target_ra"], d.values["target_dec"] = ra, dec
        return {"ra": ra, "dec": dec}

    return before


def _altaz(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
    _parked_refusal(d, "a slew")
    if d.status().get("tracking"):
        # ITelescopeV4: an Alt/Az slew is for a mount that is not tracking.
        raise AlpacaError(INVALID_OPERATION, "tracking is on: a slew to Alt/Az needs Tracking off")


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


def _pulse_started(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
    # Drivers time the pulse themselves and may acknowledge it at once: it
    # lasts its duration whatever the property says.
    d.values["pulse_until"] = time.monotonic() + p["Duration"] / 1000


def _pulse_guiding(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    return d.running("pulse") or time.monotonic() < d.values.get("pulse_until", 0)


def _camera_can_pulse(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    caps = d.capabilities()
    return d.role == "guider" and bool(caps.get("can_pulse_camera") or caps.get("can_pulse_mount"))


def _cancel(*kinds: str, parked: str = "") -> Before:
    """Halts: the front's background operations of these kinds end (refused
    while parked, with ``parked`` saying what)."""

    def before(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
        if parked:
            _parked_refusal(d, parked)
        for kind in kinds:
            if (task := d.tasks.get(kind)) is not None:
                task.cancel()

    return before


def _axes_stopped(d: AlpacaDevice, result: Any) -> None:
    d.values.pop("moving_axes", None)  # the mount's abort stops manual moves too


def _site(key: str) -> Call:
    return lambda d, p: d.dev().site()[key]


def _side_of_pier(d: AlpacaDevice, p: dict[str, Any]) -> int:
    return {"east": 0, "west": 1}.get(d.status().get("pier_side") or "", -1)


def _guide_rate(axis: str) -> Call:
    # GUIDE_RATE is a fraction of sidereal; Alpaca wants degrees per second.
    return lambda d, p: float(d.dev().guide_rate()[axis]) * SIDEREAL_DEG_PER_S


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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


def _track_mode(d: AlpacaDevice, rate: int) -> str:
    """The TELESCOPE_TRACK_MODE switch of a DriveRate the mount offers."""
    offered = _tracking_rates(d, {})
    if rate not in offered:
        raise AlpacaError(INVALID_VALUE, f"TrackingRate {rate} is not one of {offered}")
    return next(n for n, r in DRIVE_RATES.items() if r == rate)


def _has_track_modes(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> Any:
    # Without TELESCOPE_TRACK_MODE the mount tracks sidereal: nothing to set.
    return None if d.dev().has("TELESCOPE_TRACK_MODE") else NOTHING


def _cap(key: str) -> Call:
    return lambda d, p: bool(d.capabilities().get(key))


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
    return (
        _axis(p) is not None
        and bool(d.capabilities().get("can_move"))
        and bool(d.dev().axis_rates())
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
_HERE = {"option": "current"}
_JNOW = "JNow (topocentric); Tracking must be on"
_TARGET = "to TargetRightAscension/TargetDeclination, JNow; Tracking must be on"
_SLEW: dict[str, Any] = {"fixed": {"epoch": "JNow", "track": True}, "before": _radec("a slew")}
_SYNC: dict[str, Any] = {"fixed": {"epoch": "JNow"}, "before": _radec("a sync")}
_ALTAZ_DOC = "tracking off after it; Tracking must be off"
_ALTAZ_SLEW: dict[str, Any] = {"fixed": {"track": False}, "before": _altaz}

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
    verb_member(
        "siteelevation", "telescope.set_site", (Arg("SiteElevation", "elevation"),), "ELEV"
    ),
    _get("sitelatitude", _site("latitude"), "GEOGRAPHIC_COORD LAT (degrees)"),
    verb_member("sitelatitude", "telescope.set_site", (Arg("SiteLatitude", "latitude"),), "LAT"),
    _get("sitelongitude", _site("longitude"), "GEOGRAPHIC_COORD LONG (degrees, east +)"),
    verb_member(
        "sitelongitude",
        "telescope.set_site",
        (Arg("SiteLongitude", "longitude", within=(-180, 180)),),
        "LONG, east positive; ASCOM's -180..180 (the verb also takes 0..360)",
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
        (field_param("TargetDeclination", VERBS["telescope.goto"], "dec"),),
        _set_value("target_dec", "TargetDeclination"),
        "kept by the front (range: telescope.goto's dec)",
    ),
    _get("targetrightascension", _get_target("target_ra"), "kept by the front"),
    _put(
        "targetrightascension",
        (field_param("TargetRightAscension", VERBS["telescope.goto"], "ra"),),
        _set_value("target_ra", "TargetRightAscension"),
        "kept by the front (range: telescope.goto's ra)",
    ),
    _get("tracking", lambda d, p: bool(d.status().get("tracking")), "TELESCOPE_TRACK_STATE"),
    verb_member(
        "tracking",
        "telescope.set_tracking",
        (Arg("Tracking", "on"),),
        "TELESCOPE_TRACK_STATE",
        before=_unparked("tracking"),
    ),
    _get(
        "trackingrate",
        _tracking_rate,
        "TELESCOPE_TRACK_MODE (SIDEREAL 0, LUNAR 1, SOLAR 2, KING 3)",
    ),
    verb_member(
        "trackingrate",
        "telescope.set_track_mode",
        (Arg("TrackingRate", "mode", int, to_verb=_track_mode),),
        "the DriveRate's TELESCOPE_TRACK_MODE switch; one of TrackingRates",
        before=_has_track_modes,
    ),
    _get("trackingrates", _tracking_rates, "the DriveRates among TELESCOPE_TRACK_MODE's switches"),
    _get("utcdate", lambda d, p: _utc_text(datetime.now(UTC)), "the service's clock (UTC)"),
    verb_member("utcdate", "telescope.set_time", (Arg("UTCDate", "utc"),), "TIME_UTC"),
    verb_member(
        "abortslew",
        "telescope.abort",
        (),
        "slews, park, home and manual moves",
        before=_cancel("slew", "home", parked="an abort"),
        after=_axes_stopped,
    ),
    _put("findhome", (), None, "not offered"),
    _put(
        "moveaxis",
        (Param("Axis", int), Param("Rate", float)),
        _move_axis,
        "Telescope.move_axis: TELESCOPE_SLEW_RATE + TELESCOPE_MOTION_WE (0, + east) / NS "
        "(1, + north); 0 stops",
    ),
    verb_member("park", "telescope.park", (), "", background="slew"),
    verb_member(
        "pulseguide",
        "telescope.pulse_guide",
        _PULSE,
        "N 0, S 1, E 2, W 3",
        before=_pulse_started,
        background="pulse",
    ),
    verb_member("setpark", "telescope.set_park", (), "where it points now", fixed=_HERE),
    verb_member("slewtoaltaz", "telescope.goto_altaz", _ALTAZ, _ALTAZ_DOC, **_ALTAZ_SLEW),
    verb_member(
        "slewtoaltazasync",
        "telescope.goto_altaz",
        _ALTAZ,
        _ALTAZ_DOC,
        background="slew",
        **_ALTAZ_SLEW,
    ),
    verb_member("slewtocoordinates", "telescope.goto", _RADEC, _JNOW, **_SLEW),
    verb_member(
        "slewtocoordinatesasync", "telescope.goto", _RADEC, _JNOW, background="slew", **_SLEW
    ),
    verb_member("slewtotarget", "telescope.goto", (), _TARGET, **_SLEW),
    verb_member("slewtotargetasync", "telescope.goto", (), _TARGET, background="slew", **_SLEW),
    _put("synctoaltaz", (Param("Azimuth", float), Param("Altitude", float)), None, "not offered"),
    verb_member("synctocoordinates", "telescope.sync", _RADEC, _JNOW, **_SYNC),
    verb_member("synctotarget", "telescope.sync", (), _TARGET, **_SYNC),
    verb_member("unpark", "telescope.unpark"),
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


def _exposure(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The camera's own limits and the binning and subframe set before, as
    ASCOM checks them at StartExposure; the frame the verb takes."""
    duration = p["Duration"]
    caps = d.capabilities()
    low, high = caps.get("exposure_range") or [0, None]
    if high is not None and duration > high:
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
    d.values["last_start"] = datetime.now(UTC)
    d.values["last_duration"] = duration
    d.values["last_blob"] = None
    d.values["expose_t0"] = time.monotonic()
    return {
        # A bias: the shortest exposure the camera takes.
        "duration": max(duration, low) if low is not None else duration,
        "binning": [bx, by],
        "roi": [sx * bx, sy * by, nx * bx, ny * by],
    }


#: StartExposure's Light and the frame type it stands for.
_LIGHT = {True: "light", False: "dark"}


def _exposed(d: AlpacaDevice, result: Any) -> None:
    d.values["last_blob"] = result["blob_id"]


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


def _within_control(key: str, param: str) -> Before:
    """Gain and offset: within the camera's own range (its GainMin..GainMax)."""

    def before(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
        rng = d.capabilities().get(f"{key}_range")
        if not rng:
            raise AlpacaError(NOT_IMPLEMENTED, f"the camera has no {key}")
        if not rng[0] <= p[param] <= rng[1]:
            raise AlpacaError(INVALID_VALUE, f"{param} must be {rng[0]:g}..{rng[1]:g}")

    return before


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


def _set_point_kept(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
    if not d.capabilities().get("can_set_temperature"):  # before SetCCDTemperature keeps it
        raise AlpacaError(NOT_IMPLEMENTED, "the camera cannot set its temperature")
    d.values["setpoint"] = p["SetCCDTemperature"]


def _cooler_on(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    if not d.capabilities().get("has_cooler"):
        raise AlpacaError(NOT_IMPLEMENTED, "the camera has no cooler")
    return bool(d.status().get("cooler"))


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
    verb_member(
        "cooleron",
        "camera.set_cooler",
        (Arg("CoolerOn", "on"),),
        "CCD_COOLER",
    ),
    _get("coolerpower", None, "not offered"),
    _get("electronsperadu", None, "not reported by INDI"),
    _get("exposuremax", _exposure_limit(1), "CCD_EXPOSURE_VALUE max (s)"),
    _get("exposuremin", _exposure_limit(0), "CCD_EXPOSURE_VALUE min (s)"),
    _get("exposureresolution", lambda d, p: 0.001, "1 ms"),
    _get("fastreadout", None, "not offered"),
    _put("fastreadout", (Param("FastReadout", bool),), None, "not offered"),
    _get("fullwellcapacity", None, "not reported by INDI"),
    _get("gain", _camera_control("gain"), "CCD_CONTROLS/CCD_GAIN gain"),
    verb_member(
        "gain",
        "camera.configure",
        (Arg("Gain", "gain", int),),
        "within GainMin..GainMax",
        before=_within_control("gain", "Gain"),
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
    verb_member(
        "offset",
        "camera.configure",
        (Arg("Offset", "offset", int),),
        "within OffsetMin..OffsetMax",
        before=_within_control("offset", "Offset"),
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
    verb_member(
        "setccdtemperature",
        "camera.set_temperature",
        (Arg("SetCCDTemperature", "target"),),
        "CCD_TEMPERATURE (°C)",
        before=_set_point_kept,
        background="cool",
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
    verb_member(
        "pulseguide",
        "guider.pulse",
        _PULSE,
        "guide camera (Camera 1) only: its ST4 port, or the mount; N 0, S 1, E 2, W 3",
        roles=("guider",),
        missing="the main camera has no guide port: use the Telescope",
        before=_pulse_started,
        background="pulse",
    ),
    verb_member(
        "startexposure",
        "camera.expose",
        (Arg("Duration", "duration"), Arg("Light", "frame_type", choices=_LIGHT)),
        "light or dark; the binning and subframe set before (CCD_BINNING, CCD_FRAME)",
        before=_exposure,
        after=_exposed,
        background="expose",
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


def _within_max(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
    high = _focuser_max(d, p)
    if not 0 <= p["Position"] <= high:
        raise AlpacaError(INVALID_VALUE, f"Position must be 0..{high}, got {p['Position']}")


#: What a halt ends of the front's background operations.
_HALTED = ("move", "slew", "shutter", "cover")


def _halt(name: str, verb: str, translates: str = "") -> Member:
    return verb_member(name, verb, (), translates, before=_cancel(*_HALTED))


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
    _halt("halt", "focuser.abort"),
    verb_member(
        "move",
        "focuser.move_to",
        (Arg("Position", "position"),),
        "ABS_FOCUS_POSITION, within 0..MaxStep",
        before=_within_max,
        background="move",
    ),
)

# ----------------------------------------------------------------- FilterWheel


def _wheel_position(d: AlpacaDevice, p: dict[str, Any]) -> int:
    current = d.dev().current()
    if current["moving"] or d.running("move") or current["slot"] is None:
        return -1
    return int(current["slot"]) - 1


def _slot(d: AlpacaDevice, position: int) -> int:
    """FILTER_SLOT (1-based) of Alpaca's 0-based Position."""
    count = len(d.dev().filters())
    if not 0 <= position < count:
        raise AlpacaError(INVALID_VALUE, f"Position must be 0..{count - 1}, got {position}")
    return position + 1


FILTERWHEEL: tuple[Member, ...] = (
    _get("focusoffsets", lambda d, p: [0] * len(d.dev().filters()), "none kept (zeros)"),
    _get(
        "names",
        lambda d, p: [f["name"] or f"Filter {f['slot']}" for f in d.dev().filters()],
        "FILTER_NAME",
    ),
    _get("position", _wheel_position, "FILTER_SLOT - 1 (-1 while moving)"),
    verb_member(
        "position",
        "filter_wheel.select",
        (Arg("Position", "filter", int, to_verb=_slot),),
        "FILTER_SLOT = Position + 1",
        background="move",
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


def _shutter(to: str) -> Before:
    def before(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> None:
        d.values["shutter"] = to  # ShutterStatus says opening or closing meanwhile

    return before


def _dome_azimuth(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.status().get("azimuth")
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the dome reports no azimuth")
    return float(value)


def _can_follow(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> Any:
    if d.capabilities().get("can_follow"):
        return None
    if p["Slaved"]:
        raise AlpacaError(NOT_IMPLEMENTED, "the dome cannot follow the mount")
    return NOTHING  # not following already


_SHUTTER_OPENS: dict[str, Any] = {"before": _shutter("open"), "background": "shutter"}
_SHUTTER_CLOSES: dict[str, Any] = {"before": _shutter("closed"), "background": "shutter"}

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
    verb_member(
        "slaved",
        "dome.set_following",
        (Arg("Slaved", "on"),),
        "DOME_AUTOSYNC, snooping the telescope role's mount",
        before=_can_follow,
    ),
    _get(
        "slewing",
        lambda d, p: bool(d.status().get("moving") or d.running("slew")),
        "dome motion Busy, or a slew running",
    ),
    _halt("abortslew", "dome.abort"),
    verb_member("closeshutter", "dome.close", (), "DOME_SHUTTER", **_SHUTTER_CLOSES),
    _put("findhome", (), None, "not offered"),
    verb_member("openshutter", "dome.open", (), "DOME_SHUTTER", **_SHUTTER_OPENS),
    verb_member("park", "dome.park", (), "DOME_PARK", background="slew"),
    _put("setpark", (), None, "not offered"),
    _put("slewtoaltitude", (Param("Altitude", float),), None, "not offered"),
    verb_member(
        "slewtoazimuth",
        "dome.goto",
        (Arg("Azimuth", "azimuth"),),
        "ABS_DOME_POSITION; parked: the verb's refusal, 0x408",
        background="slew",
    ),
    _put("synctoazimuth", (Param("Azimuth", float),), None, "not offered"),
)

# ----------------------------------------------------------------- Rotator


def _angle(d: AlpacaDevice, p: dict[str, Any]) -> float:
    value = d.status().get("angle")
    if value is None:
        raise AlpacaError(NOT_IMPLEMENTED, "the rotator reports no angle")
    return float(value) % 360.0


def _relative(d: AlpacaDevice, offset: float) -> float:
    """The angle Move's Position (degrees from the current angle) reaches."""
    return (_angle(d, {}) + offset) % 360.0


def _target_angle(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    angle = fields["angle"] % 360.0  # 360 is 0
    d.values["target_angle"] = angle
    return {"angle": angle}


def _reverse(d: AlpacaDevice, p: dict[str, Any]) -> bool:
    if not d.capabilities().get("can_reverse"):
        raise AlpacaError(NOT_IMPLEMENTED, "the rotator cannot reverse")
    return bool(d.status().get("reversed"))


_ANGLE = (Arg("Position", "angle"),)
_TO_ANGLE: dict[str, Any] = {"before": _target_angle, "background": "move"}

ROTATOR: tuple[Member, ...] = (
    _get("canreverse", _cap("can_reverse"), "ROTATOR_REVERSE defined"),
    _get("ismoving", _moving, "ABS_ROTATOR_ANGLE Busy, or a move running"),
    _get("mechanicalposition", _angle, "ABS_ROTATOR_ANGLE (degrees)"),
    _get("position", _angle, "ABS_ROTATOR_ANGLE (degrees)"),
    _get("reverse", _reverse, "ROTATOR_REVERSE"),
    verb_member(
        "reverse",
        "rotator.set_reverse",
        (Arg("Reverse", "on"),),
        "ROTATOR_REVERSE",
    ),
    _get("stepsize", None, "not reported by INDI"),
    _get(
        "targetposition",
        lambda d, p: d.values.get("target_angle", _angle(d, p)),
        "the last target, else the angle",
    ),
    _halt("halt", "rotator.abort"),
    verb_member(
        "move",
        "rotator.move_to",
        (Arg("Position", "angle", float, to_verb=_relative),),
        "the angle + Position (degrees, modulo 360)",
        **_TO_ANGLE,
    ),
    verb_member("moveabsolute", "rotator.move_to", _ANGLE, "ABS_ROTATOR_ANGLE", **_TO_ANGLE),
    verb_member("movemechanical", "rotator.move_to", _ANGLE, "ABS_ROTATOR_ANGLE", **_TO_ANGLE),
    verb_member("sync", "rotator.sync", _ANGLE, "SYNC_ROTATOR_ANGLE"),
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


def _within_brightness(d: AlpacaDevice, p: dict[str, Any], fields: dict[str, Any]) -> Any:
    high = _max_brightness(d, p)
    if not 0 <= p["Brightness"] <= high:
        raise AlpacaError(INVALID_VALUE, f"Brightness must be 0..{high}, got {p['Brightness']}")
    return None if d.capabilities().get("can_dim") else {"brightness": None}


async def _halt_cover(d: AlpacaDevice, p: dict[str, Any]) -> None:
    # The cover's verbs abort (CAP_ABORT) when the call running them ends.
    if not d.capabilities().get("can_abort_cap"):
        raise AlpacaError(NOT_IMPLEMENTED, "the cover cannot be halted")
    if (task := d.tasks.get("cover")) is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


COVERCALIBRATOR: tuple[Member, ...] = (
    _get("brightness", _brightness, "FLAT_LIGHT_INTENSITY (0 while off)"),
    _get("calibratorchanging", lambda d, p: d.running("light"), "a light change running"),
    _get("calibratorstate", _calibrator_state, "FLAT_LIGHT_CONTROL (NotPresent 0, Off 1, Ready 3)"),
    _get("covermoving", lambda d, p: _cover_state(d, p) == 2, "CAP_PARK Busy"),
    _get("coverstate", _cover_state, "CAP_PARK (NotPresent 0, Closed 1, Moving 2, Open 3)"),
    _get("maxbrightness", _max_brightness, "FLAT_LIGHT_INTENSITY max"),
    verb_member(
        "calibratoroff",
        "flat_panel.set_light",
        (),
        "FLAT_LIGHT_CONTROL off",
        fixed={"on": False},
        background="light",
    ),
    verb_member(
        "calibratoron",
        "flat_panel.set_light",
        (Arg("Brightness", "brightness", int),),
        "FLAT_LIGHT_CONTROL on, FLAT_LIGHT_INTENSITY within 0..MaxBrightness",
        fixed={"on": True},
        before=_within_brightness,
        background="light",
    ),
    verb_member("closecover", "flat_panel.close_cap", (), "CAP_PARK", background="cover"),
    _put("haltcover", (), _halt_cover, "the running open or close ends, sending CAP_ABORT"),
    verb_member("opencover", "flat_panel.open_cap", (), "CAP_PARK", background="cover"),
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
    verb_member("refresh", "weather.refresh", (), "WEATHER_REFRESH"),
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


def _row(device_type: str, m: Member) -> str:
    roles = tuple(role for t, role in DEVICE_ROLES if t == device_type)
    params = ", ".join(p.describe() for p in m.params) or "–"
    verbs = ", ".join(f"`{v}`" for v in verbs_of(m, roles)) or "–"
    what = m.translates
    if m.background:
        what = f"{what}; in the background" if what else "in the background"
    if not m.implemented:
        what = f"NotImplemented (0x400): {what}"
    return f"| `{m.name}` | {m.http} | {params} | {verbs} | {what} |"


def coverage_markdown() -> str:
    """docs/alpaca.md's coverage table, one section per device type (a test
    checks the document holds exactly this): each member's parameters (a
    verb-backed member's as its verb declares them) and the verb it calls."""
    head = ["| Member | HTTP | Parameters | Verb | Translates to |", "|---|---|---|---|---|"]
    lines: list[str] = []
    for device_type in MEMBERS:
        own = _OWN[device_type]
        done = sum(m.implemented for m in own)
        lines.append(
            f"### {device_type} (interface version {INTERFACE_VERSIONS[device_type]}): "
            f"{done} of {len(own)} members implemented, plus the common members"
        )
        lines += ["", *head, *(_row(device_type, m) for m in own), ""]
    lines += ["### Common members (every device type)", "", *head]
    lines += [_row("", m) for m in COMMON]
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
