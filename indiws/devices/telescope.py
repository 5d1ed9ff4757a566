"""The telescope (mount) role."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ..client import INDIClient, InvalidValueError, Property
from ..protocol import PropertyState, SwitchState
from ..verbs import (
    RA,
    UNSET,
    Dec,
    InvalidParamsError,
    IsoTime,
    Name,
    NoParams,
    Params,
    PulseMs,
    Result,
    Timeout,
    UnsetType,
    at_least_one_of,
    check_ranges,
    not_both,
    verb,
)
from . import astro
from .base import Action, ProgressCallback, RoleDevice, Update
from .errors import BelowHorizonError, CapabilityError, DeviceStateError, RefusalReason
from .follow import PropertyFollower, Step, follow

__all__ = [
    "AXES",
    "DIRECTIONS",
    "MEASURED_SLEW_RATES",
    "SIDEREAL_DEG_PER_S",
    "Telescope",
    "min_altitude",
    "pulse_guide",
    "set_min_altitude",
]

log = logging.getLogger("indiws.devices")

#: The site's lowest altitude for a goto target, per INDI client (the
#: service sets it from --min-altitude); no entry: no limit.
_MIN_ALTITUDE: weakref.WeakKeyDictionary[INDIClient, float] = weakref.WeakKeyDictionary()


def set_min_altitude(client: INDIClient, degrees: float | None) -> None:
    """Refuse goto targets below ``degrees`` of altitude on ``client``'s
    mounts (None: no limit)."""
    if degrees is None:
        _MIN_ALTITUDE.pop(client, None)
        return
    degrees = _finite(degrees, "min_altitude")
    if not -90.0 <= degrees <= 90.0:
        raise InvalidValueError(f"min_altitude must be within [-90, 90] degrees, got {degrees:g}")
    _MIN_ALTITUDE[client] = degrees


def min_altitude(client: INDIClient) -> float | None:
    """The lowest altitude a goto target may have (None: no limit)."""
    return _MIN_ALTITUDE.get(client)


#: A slew that ends Idle (not tracking) counts as arrived within this many degrees.
ARRIVED_TOLERANCE = 0.25
#: The driver must show it took a goto (Busy) within this many seconds.
START_TIMEOUT = 10.0

#: direction → (property, element) for manual moves and pulse guiding.
DIRECTIONS: dict[str, tuple[str, str, str, str]] = {
    # direction: (motion property, motion element, pulse property, pulse element)
    "north": ("TELESCOPE_MOTION_NS", "MOTION_NORTH", "TELESCOPE_TIMED_GUIDE_NS", "TIMED_GUIDE_N"),
    "south": ("TELESCOPE_MOTION_NS", "MOTION_SOUTH", "TELESCOPE_TIMED_GUIDE_NS", "TIMED_GUIDE_S"),
    "east": ("TELESCOPE_MOTION_WE", "MOTION_EAST", "TELESCOPE_TIMED_GUIDE_WE", "TIMED_GUIDE_E"),
    "west": ("TELESCOPE_MOTION_WE", "MOTION_WEST", "TELESCOPE_TIMED_GUIDE_WE", "TIMED_GUIDE_W"),
}
_SHORT_DIRECTIONS = {"n": "north", "s": "south", "e": "east", "w": "west"}

#: axis → (motion property, direction of a positive rate, of a negative one).
#: A positive rate moves the RA axis east (RA grows) and the Dec axis north
#: (Dec grows), as a hand box's "RA +"/"Dec +" do (docs/devices.md).
AXES: dict[str, tuple[str, str, str]] = {
    "ra": ("TELESCOPE_MOTION_WE", "east", "west"),
    "dec": ("TELESCOPE_MOTION_NS", "north", "south"),
}
SIDEREAL_DEG_PER_S = 360.0 / 86164.0905
#: INDI says nothing of how fast a TELESCOPE_SLEW_RATE switch moves.  Drivers
#: whose switches are not named in multiples of sidereal (``16x``), by driver
#: executable: switch name → degrees per second, measured with
#: ``bench/slew_rates.py`` (INDI 1.9.9; each axis, both directions).
MEASURED_SLEW_RATES: dict[str, dict[str, float]] = {
    "indi_simulator_telescope": {"1x": SIDEREAL_DEG_PER_S, "2x": 0.5, "3x": 2.5, "4x": 6.0},
}
#: A requested axis rate matches a slew rate within this fraction of it.
AXIS_RATE_TOLERANCE = 0.01


def _direction(direction: str) -> str:
    d = str(direction).strip().lower()
    d = _SHORT_DIRECTIONS.get(d, d)
    if d not in DIRECTIONS:
        raise InvalidValueError(f"direction must be north, south, east or west, got {direction!r}")
    return d


def _sidereal_multiple(element: Any) -> float | None:
    """The speed of a slew-rate switch named in multiples of sidereal
    (``16x``, label ``64x``), in degrees per second; None otherwise."""
    for text in (element.name, element.label or ""):
        head = text.strip().lower().removesuffix("x")
        if head != text.strip().lower():
            try:
                return float(head) * SIDEREAL_DEG_PER_S
            except ValueError:
                continue
    return None


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{what} must be a number, got {value!r}", param=what)
    if not math.isfinite(value):
        raise InvalidValueError(f"{what} must be finite, got {value!r}", param=what)
    return float(value)


def _check_radec(ra: Any, dec: Any) -> tuple[float, float]:
    ra, dec = _finite(ra, "ra"), _finite(dec, "dec")
    check_ranges(GotoParams, ra=ra, dec=dec)
    return ra % 24.0, dec


def _epoch(epoch: str) -> str:
    e = str(epoch).strip().upper()
    if e in ("J2000", "J2000.0", "ICRS", "FK5"):
        return "J2000"
    if e in ("JNOW", "EOD", "APPARENT"):
        return "JNow"
    raise InvalidValueError(f'epoch must be "J2000" or "JNow", got {epoch!r}')


def _choices(prop: Property | None) -> dict[str, Any] | None:
    """A switch property as {value: the element On, selections: [names]}."""
    if prop is None:
        return None
    on = prop.on_switches()
    return {"value": on[0] if on else None, "selections": list(prop.elements)}


def _number_element(prop: Property | None, element: str) -> dict[str, Any] | None:
    if prop is None or element not in prop.elements:
        return None
    el = prop.elements[element]
    return {"name": el.name, "value": el.value, "min": el.min, "max": el.max}


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

Epoch = Literal["J2000", "JNow"]
PierSide = Literal["east", "west"]
#: A direction of a manual move or a guide pulse, in any case.
Direction = Literal["north", "south", "east", "west", "n", "s", "e", "w"]
HourAngle = Annotated[
    float, Meta(ge=-24, le=24, description="hours, positive west", extra={"unit": "hours"})
]
Altitude = Annotated[float, Meta(ge=-90, le=90, description="degrees", extra={"unit": "degrees"})]
Azimuth = Annotated[
    float,
    Meta(ge=0, le=360, description="degrees from north through east", extra={"unit": "degrees"}),
]


class GotoParams(Params):
    ra: RA
    dec: Dec
    epoch: Epoch = "J2000"
    track: bool = True
    timeout: Timeout = 300.0
    force: bool = False


class GotoHaDecParams(Params):
    ha: HourAngle
    dec: Dec
    track: bool = True
    timeout: Timeout = 300.0
    force: bool = False


class GotoAltAzParams(Params):
    alt: Altitude
    az: Azimuth
    track: bool = False
    timeout: Timeout = 300.0
    force: bool = False


class SyncParams(Params):
    ra: RA
    dec: Dec
    epoch: Epoch = "J2000"


class ParkParams(Params):
    timeout: Timeout = 300.0


class UnparkParams(Params):
    timeout: Timeout = 60.0
    force: bool = False


class HomeParams(Params):
    timeout: Timeout = 300.0


#: The brief state of the mount (`Telescope._status`): name, type.
_STATE: list[tuple[str, Any]] = [
    ("ra", float | None),
    ("dec", float | None),
    ("slewing", bool),
    ("tracking", bool | None),
    ("parked", bool | None),
    ("parking", bool),
    ("pier_side", PierSide | None),
]
#: Where the mount points in the sky of the site (null without a site).
_LOCAL = ["ha", "lst", "alt", "az"]

MountState = msgspec.defstruct(
    "MountState",
    [*_STATE, *((n, float | None | UnsetType, UNSET) for n in _LOCAL)],
    bases=(Result,),
    kw_only=True,
)
MaybeMountState = msgspec.defstruct(
    "MaybeMountState",
    [(n, t | UnsetType, UNSET) for n, t in _STATE]
    + [(n, float | None | UnsetType, UNSET) for n in _LOCAL],
    bases=(Result,),
    kw_only=True,
)


class SlewTarget(Result):
    """What the slew aimed at: ra/dec/epoch, or alt/az (goto_altaz on HORIZONTAL_COORD)."""

    ra: float | UnsetType = UNSET
    dec: float | UnsetType = UNSET
    epoch: Epoch | UnsetType = UNSET
    alt: float | UnsetType = UNSET
    az: float | UnsetType = UNSET


class SlewResult(MaybeMountState):  # type: ignore[misc, valid-type]
    """Where the mount arrived."""

    action: str
    device: str
    elapsed: float
    ra: float
    dec: float
    ra_j2000: float
    dec_j2000: float
    alt: float | None
    az: float | None
    target: SlewTarget
    #: Degrees left to the target when the slew ended.
    distance: float
    tracking: bool | None
    pier_side: PierSide | None
    time: str | UnsetType = UNSET


class SyncResult(Result):
    """Where the mount now says it points."""

    action: str
    device: str
    elapsed: float
    ra: float
    dec: float
    ra_j2000: float
    dec_j2000: float


class AbortResult(MountState):  # type: ignore[misc, valid-type]
    """The mount stopped (or still moving after the timeout: stopped false)."""

    aborted: bool
    #: How many running actions were ended (with the aborted error).
    interrupted: int
    stopped: bool


class ParkResult(MaybeMountState):  # type: ignore[misc, valid-type]
    """Parked or unparked (already: it was, nothing was sent)."""

    action: str
    device: str
    parked: bool
    already: bool | UnsetType = UNSET
    elapsed: float | UnsetType = UNSET


class HomeResult(MountState):  # type: ignore[misc, valid-type]
    """At the home position."""

    action: str
    device: str
    elapsed: float
    homed: bool


class PositionResult(Result):
    """Where the mount points now."""

    ra: float
    dec: float
    ra_j2000: float
    dec_j2000: float
    ha: float | None
    lst: float | None
    alt: float | None
    az: float | None
    pier_side: PierSide | None
    slewing: bool
    tracking: bool | None
    parked: bool | None
    parking: bool
    #: ISO 8601 UTC.
    time: str


class Site(Result):
    """The site: degrees (longitude east positive, -180..180), metres."""

    latitude: float
    longitude: float
    elevation: float


#: A site's latitude, longitude and elevation (ASCOM's ranges too).
Latitude = Annotated[
    float, Meta(ge=-90, le=90, description="degrees, north positive", extra={"unit": "degrees"})
]
Longitude = Annotated[
    float,
    Meta(
        ge=-180,
        lt=360,
        description="degrees, east positive (-180..180, or 0..360)",
        extra={"unit": "degrees"},
    ),
]
Elevation = Annotated[
    float, Meta(ge=-300, le=10_000, description="metres above sea level", extra={"unit": "m"})
]


class SetSiteParams(Params):
    json_schema_extra = at_least_one_of("latitude", "longitude", "elevation")

    latitude: Latitude | None = None
    longitude: Longitude | None = None
    elevation: Elevation | None = None


class SetTimeParams(Params):
    #: ISO 8601 UTC; null: now.
    utc: IsoTime | None = None


class TimeResult(Result):
    """The mount's clock as set (ISO 8601 UTC, to the second)."""

    utc: str


#: A park position's axis: TELESCOPE_PARK_POSITION's element without PARK_ (ha, dec, az, ...).
ParkAxis = Annotated[
    str,
    Meta(pattern=r"^(?!(?:timeout|option)$)[A-Za-z][A-Za-z0-9_]*$", description="an axis name"),
]


class SetParkParams(Params):
    json_schema_extra = not_both("option", "position")

    option: Literal["current", "default"] | None = None
    #: Axis values named after TELESCOPE_PARK_POSITION's elements without PARK_.
    position: Annotated[dict[ParkAxis, float], Meta(min_length=1)] | None = None


class ParkPositionResult(Result):
    """Where the mount parks now (axis values, as the driver reports them)."""

    action: str
    device: str
    #: The option taken (PARK_CURRENT, PARK_DEFAULT).
    option: str | UnsetType = UNSET
    park_position: dict[str, float] | UnsetType = UNSET


class TrackingParams(Params):
    on: bool


class TrackingResult(Result):
    """Whether the mount tracks now."""

    tracking: bool


class Choice(Result):
    """An element of a switch the driver offers (name, label, on now)."""

    name: str
    label: str
    active: bool


class RateChoice(Choice):
    """A rate of manual moves the driver offers."""

    #: Slowest first, from 0.
    index: int


class TrackModeParams(Params):
    mode: Name


class TrackModeResult(Result):
    """The track mode now (its element name)."""

    track_mode: str | None


class RatesParams(Params):
    json_schema_extra = at_least_one_of("ra", "dec")

    ra: float | None = None
    dec: float | None = None


class TrackRateResult(Result):
    """Track rates in arcsec/s, and the track mode now."""

    ra: float
    dec: float
    track_mode: str | None


class SlewRateParams(Params):
    #: An index (0 = slowest) or a name or label.
    rate: Annotated[int, Meta(ge=0)] | Name


class SlewRateResult(Result):
    """The slew rate now (its element name)."""

    slew_rate: str | None


class GuideRate(Result):
    """Guide rates, fractions of sidereal."""

    ra: float
    dec: float


#: A timed manual move's length: at most an hour.
MoveDuration = Annotated[
    float, Meta(gt=0, le=3600, description="seconds, at most 3600", extra={"unit": "seconds"})
]


class MoveParams(Params):
    direction: Direction
    #: None: until telescope.stop (JSON-RPC only, held by the socket).
    duration: MoveDuration | None = None


class StopParams(Params):
    #: None: every direction.
    direction: Direction | None = None


class PulseGuideParams(Params):
    direction: Direction
    duration_ms: PulseMs
    timeout: Timeout | None = None


class PulseGuideResult(Result):
    """The pulse that was sent, once it ended."""

    action: str
    device: str
    elapsed: float
    direction: Literal["north", "south", "east", "west"]
    duration_ms: float


class ManualMove(Result):
    """A manual move (`Telescope.move`, `Telescope.stop`): the direction (none
    when every move was stopped), moving, and a timed move's duration (s);
    a timed move is an action: its ``action`` (move), ``device`` and
    ``elapsed`` (s) too."""

    moving: bool
    direction: str | UnsetType = UNSET
    duration: float | UnsetType = UNSET
    action: str | UnsetType = UNSET
    device: str | UnsetType = UNSET
    elapsed: float | UnsetType = UNSET


class SlewRateName(Result):
    """A slew-rate switch of the driver: its name and label."""

    name: str
    label: str


class TelescopeCapabilities(Result):
    """What the mount can do, from the properties it defines."""

    can_goto: bool
    can_goto_hadec: bool
    can_goto_altaz: bool
    can_sync: bool
    can_abort: bool
    can_park: bool
    can_set_park: bool
    #: TELESCOPE_PARK_OPTION's switches (PARK_CURRENT, PARK_DEFAULT, ...).
    park_options: list[str]
    #: TELESCOPE_PARK_POSITION's elements (PARK_RA, PARK_DEC or PARK_AZ, PARK_ALT).
    park_position_axes: list[str]
    can_home: bool
    can_track: bool
    track_modes: list[str]
    can_set_track_rate: bool
    slew_rates: list[SlewRateName]
    has_guide_rate: bool
    can_move: bool
    can_pulse_guide: bool
    has_pier_side: bool
    has_site: bool
    has_time: bool
    has_j2000_coords: bool
    has_horizontal_coords: bool


class Optics(Result):
    """TELESCOPE_INFO (millimetres; null where the driver leaves one out)."""

    aperture_mm: float | None
    focal_length_mm: float | None
    guider_aperture_mm: float | None
    guider_focal_length_mm: float | None


class TelescopeFacts(Result):
    """What `Telescope.info` adds while connected."""

    #: The epoch of the mount's own coordinates.
    coordinates: Literal["JNow", "J2000"]
    optics: Optics | UnsetType = UNSET
    site: Site | UnsetType = UNSET


class Telescope(RoleDevice):
    """A mount: gotos in RA/Dec (J2000 or JNow), HA/Dec and Alt/Az, sync,
    park, home, tracking, rates, manual motion, pulse guiding, site.

    Coordinates: RA and HA in hours, everything else in degrees; longitude
    east positive (-180..180; INDI's 0..360 is converted both ways).
    """

    role = "telescope"
    capabilities_shape = TelescopeCapabilities
    facts_shape = TelescopeFacts
    brief = MountState

    # Reading ------------------------------------------------------------

    def _eq_now(self) -> tuple[float, float] | None:
        """Current JNow RA/Dec from EQUATORIAL_EOD_COORD (None if undefined)."""
        prop = self._optional("EQUATORIAL_EOD_COORD")
        if prop is None:
            return None
        return float(prop["RA"]), float(prop["DEC"])

    def _site(self) -> tuple[float, float, float] | None:
        prop = self._optional("GEOGRAPHIC_COORD")
        if prop is None:
            return None
        return (
            float(prop["LAT"]),
            astro.longitude_east(float(prop["LONG"])),
            float(prop.values().get("ELEV", 0.0)),
        )

    def _parked(self) -> bool | None:
        """Parked: PARK on and the park done.  Drivers (the simulator among
        them) turn PARK on with state Busy as the park *starts*."""
        on = self._switch_on("TELESCOPE_PARK")
        if on is None:
            return None
        return "PARK" in on and not self._parking_busy()

    def _parking_busy(self) -> bool:
        park = self._optional("TELESCOPE_PARK")
        return park is not None and park.state is PropertyState.BUSY

    def _parking(self) -> bool:
        """On its way to the park position (PARK on, property Busy)."""
        on = self._switch_on("TELESCOPE_PARK")
        return bool(on) and "PARK" in on and self._parking_busy()

    def _tracking(self) -> bool | None:
        on = self._switch_on("TELESCOPE_TRACK_STATE")
        return None if on is None else "TRACK_ON" in on

    def _pier_side(self) -> str | None:
        on = self._switch_on("TELESCOPE_PIER_SIDE")
        if not on:
            return None
        return {"PIER_EAST": "east", "PIER_WEST": "west"}.get(on[0])

    def _slewing(self) -> bool:
        if self._parked():
            # Park done: the simulator's coordinates can stay Busy a tick
            # longer; a parked mount is not slewing.
            return False
        for name in ("EQUATORIAL_EOD_COORD", "EQUATORIAL_COORD", "HORIZONTAL_COORD"):
            prop = self._optional(name)
            if prop is not None and prop.state is PropertyState.BUSY:
                return True
        park = self._optional("TELESCOPE_PARK")
        return park is not None and park.state is PropertyState.BUSY

    def _require_site(self, what: str) -> tuple[float, float, float]:
        self._prop("GEOGRAPHIC_COORD", what)
        site = self._site()
        assert site is not None
        return site

    def _local(self, ra: float, dec: float, when: datetime | None = None) -> dict[str, Any]:
        site = self._site()
        if site is None:
            return {"ha": None, "lst": None, "alt": None, "az": None}
        lat, lon, _ = site
        lst = astro.local_sidereal_time(lon, when)
        ha = astro.hour_angle(ra, lst)
        alt, az = astro.altaz_from_hadec(ha, dec, lat)
        horizontal = self._optional("HORIZONTAL_COORD")
        if horizontal is not None:  # the driver knows better (refraction, model)
            alt, az = float(horizontal["ALT"]), float(horizontal["AZ"])
        return {"ha": ha, "lst": lst, "alt": alt, "az": az}

    @verb("telescope.position", NoParams, PositionResult)
    async def position(self) -> dict[str, Any]:
        """Where the mount points now.

        {ra, dec (JNow), ra_j2000, dec_j2000, ha, lst (hours), alt, az (degrees;
        null without a site), pier_side (east/west/null), slewing, tracking,
        parked (the park has ended), parking (slewing to park), time}."""
        self._connected()
        now = datetime.now(UTC)
        eq = self._eq_now()
        if eq is not None:
            ra, dec = eq
            ra2k, dec2k = await asyncio.to_thread(astro.jnow_to_j2000, ra, dec, now)
        else:
            j2k = self._prop("EQUATORIAL_COORD", "report its position")
            ra2k, dec2k = float(j2k["RA"]), float(j2k["DEC"])
            ra, dec = await asyncio.to_thread(astro.j2000_to_jnow, ra2k, dec2k, now)
        return {
            "ra": ra,
            "dec": dec,
            "ra_j2000": ra2k,
            "dec_j2000": dec2k,
            **self._local(ra, dec, now),
            "pier_side": self._pier_side(),
            "slewing": self._slewing(),
            "tracking": self._tracking(),
            "parked": self._parked(),
            "parking": self._parking(),
            "time": now.isoformat(timespec="seconds"),
        }

    def _status(self) -> dict[str, Any]:
        eq = self._eq_now()
        out: dict[str, Any] = {
            "ra": None,
            "dec": None,
            "slewing": self._slewing(),
            "tracking": self._tracking(),
            "parked": self._parked(),
            "parking": self._parking(),
            "pier_side": self._pier_side(),
        }
        if eq is not None:
            out.update(ra=eq[0], dec=eq[1], **self._local(*eq))
        return out

    def _capabilities(self) -> dict[str, Any]:
        eod = self._optional("EQUATORIAL_EOD_COORD")
        j2k = self._optional("EQUATORIAL_COORD")
        horizontal = self._optional("HORIZONTAL_COORD")
        coord_set = self._optional("ON_COORD_SET")
        site = self._optional("GEOGRAPHIC_COORD")
        park_option = self._optional("TELESCOPE_PARK_OPTION")
        park_position = self._optional("TELESCOPE_PARK_POSITION")
        track_mode = self._optional("TELESCOPE_TRACK_MODE")
        slew_rate = self._optional("TELESCOPE_SLEW_RATE")
        can_goto = self._writable(eod) or self._writable(j2k)
        return {
            "can_goto": can_goto,
            "can_goto_hadec": can_goto and site is not None,
            "can_goto_altaz": can_goto and (self._writable(horizontal) or site is not None),
            "can_sync": coord_set is not None and "SYNC" in coord_set.elements,
            "can_abort": self.has("TELESCOPE_ABORT_MOTION"),
            "can_park": self.has("TELESCOPE_PARK"),
            "can_set_park": park_option is not None or self._writable(park_position),
            "park_options": list(park_option.elements) if park_option else [],
            "park_position_axes": list(park_position.elements) if park_position else [],
            "can_home": self.has("TELESCOPE_HOME"),
            "can_track": self.has("TELESCOPE_TRACK_STATE"),
            "track_modes": list(track_mode.elements) if track_mode else [],
            "can_set_track_rate": self.has("TELESCOPE_TRACK_RATE"),
            "slew_rates": [
                {"name": el.name, "label": el.label} for el in slew_rate.elements.values()
            ]
            if slew_rate
            else [],
            "has_guide_rate": self.has("GUIDE_RATE"),
            "can_move": self.has("TELESCOPE_MOTION_NS", "TELESCOPE_MOTION_WE"),
            "can_pulse_guide": self.has("TELESCOPE_TIMED_GUIDE_NS", "TELESCOPE_TIMED_GUIDE_WE"),
            "has_pier_side": self.has("TELESCOPE_PIER_SIDE"),
            "has_site": site is not None,
            "has_time": self.has("TIME_UTC"),
            "has_j2000_coords": j2k is not None,
            "has_horizontal_coords": horizontal is not None,
        }

    def _facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        info = self._optional("TELESCOPE_INFO")
        if info is not None:
            v = info.values()
            out["optics"] = {
                "aperture_mm": v.get("TELESCOPE_APERTURE"),
                "focal_length_mm": v.get("TELESCOPE_FOCAL_LENGTH"),
                "guider_aperture_mm": v.get("GUIDER_APERTURE"),
                "guider_focal_length_mm": v.get("GUIDER_FOCAL_LENGTH"),
            }
        site = self._site()
        if site is not None:
            out["site"] = {"latitude": site[0], "longitude": site[1], "elevation": site[2]}
        out["coordinates"] = "JNow" if self.has("EQUATORIAL_EOD_COORD") else "J2000"
        return out

    def pointing_state(self) -> str | None:
        """The state the driver gives its coordinates: ``Busy`` while it
        slews, ``Alert`` after a failed slew, else ``Ok`` or ``Idle``; None
        without coordinates."""
        for name in ("EQUATORIAL_EOD_COORD", "EQUATORIAL_COORD"):
            prop = self._optional(name)
            if prop is not None:
                return prop.state.value
        return None

    def settings(self) -> dict[str, Any]:
        """The mount's settings under the names the driver gives them, for
        fronts that show INDI's own choices.  Never raises: what the driver
        does not define (or a disconnected mount) is None.

        ``mount_type`` (MOUNT_TYPE), ``coord_mode`` (ON_COORD_SET: what a
        write of coordinates does), ``track_mode``, ``track_state``,
        ``slew_rate``: ``{value: the element On (None if none), selections:
        [element names]}``.  ``latitude``, ``longitude``, ``elevation``:
        GEOGRAPHIC_COORD's elements ``{name, value, min, max}`` as INDI keeps
        them (longitude 0..360 east).  ``site``: as `site()`.  ``utc``:
        TIME_UTC's text; ``utc_offset``: its offset in hours (float).
        """
        geo = self._optional("GEOGRAPHIC_COORD")
        time_utc = self._optional("TIME_UTC")
        site = self._site() if geo is not None else None
        offset = None
        if time_utc is not None and "OFFSET" in time_utc.elements:
            try:
                offset = float(str(time_utc["OFFSET"]).strip())
            except ValueError:
                offset = None
        return {
            "mount_type": _choices(self._optional("MOUNT_TYPE")),
            "coord_mode": _choices(self._optional("ON_COORD_SET")),
            "track_mode": _choices(self._optional("TELESCOPE_TRACK_MODE")),
            "track_state": _choices(self._optional("TELESCOPE_TRACK_STATE")),
            "slew_rate": _choices(self._optional("TELESCOPE_SLEW_RATE")),
            "latitude": _number_element(geo, "LAT"),
            "longitude": _number_element(geo, "LONG"),
            "elevation": _number_element(geo, "ELEV"),
            "site": None
            if site is None
            else {"latitude": site[0], "longitude": site[1], "elevation": site[2]},
            "utc": None if time_utc is None else time_utc.values().get("UTC"),
            "utc_offset": offset,
        }

    # Site and time ------------------------------------------------------

    @verb("telescope.get_site", NoParams, Site)
    def site(self) -> dict[str, Any]:
        """The site: {latitude, longitude (east positive, -180..180), elevation (m)}."""
        self._prop("GEOGRAPHIC_COORD", "report its site")
        lat, lon, elev = self._site()  # type: ignore[misc]
        return {"latitude": lat, "longitude": lon, "elevation": elev}

    @verb("telescope.set_site", SetSiteParams, Site)
    async def set_site(
        self,
        latitude: float | None = None,
        longitude: float | None = None,
        elevation: float | None = None,
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Set the site (GEOGRAPHIC_COORD); a part left out keeps its value.

        Latitude -90..90, longitude east positive (-180..180, or 0..360),
        elevation in metres (-300..10000). Answers the site as get_site does."""
        prop = self._prop("GEOGRAPHIC_COORD", "set its site")
        given = {"latitude": latitude, "longitude": longitude, "elevation": elevation}
        site = {k: _finite(v, k) for k, v in given.items() if v is not None}
        check_ranges(SetSiteParams, **site)
        values: dict[str, Any] = {}
        if "latitude" in site:
            values["LAT"] = site["latitude"]
        if "longitude" in site:
            values["LONG"] = astro.longitude_indi(site["longitude"])
        if "elevation" in site and "ELEV" in prop.elements:
            values["ELEV"] = site["elevation"]
        if not site:
            raise InvalidParamsError("give latitude, longitude and/or elevation", param="latitude")
        if not values:  # only an elevation, which this mount does not take
            raise InvalidValueError(f"{self.name} takes no elevation: give latitude or longitude")
        # Send the whole vector: some drivers only act on a complete site.
        full = {n: prop[n] for n in ("LAT", "LONG", "ELEV") if n in prop.elements} | values
        await self._set("GEOGRAPHIC_COORD", full, verb="set_site", timeout=timeout)
        return self.site()

    @verb("telescope.set_time", SetTimeParams, TimeResult)
    async def set_clock(self, utc: str | None = None, *, timeout: float = 10.0) -> dict:
        """Set the mount's clock (TIME_UTC) to an ISO 8601 UTC time, or to now: {utc}."""
        try:
            when = None if utc is None else astro.parse_utc(utc)
        except ValueError as exc:
            raise InvalidParamsError(str(exc), param="utc") from None
        return await self.set_time(when, timeout=timeout)

    async def set_time(self, when: datetime | None = None, *, timeout: float = 10.0) -> dict:
        """Set the mount's clock (TIME_UTC) to ``when`` (default: now, UTC)."""
        prop = self._prop("TIME_UTC", "set its time")
        t = (when or datetime.now(UTC)).astimezone(UTC)
        values: dict[str, Any] = {"UTC": t.strftime("%Y-%m-%dT%H:%M:%S")}
        if "OFFSET" in prop.elements:
            values["OFFSET"] = "0.00"
        await self._set("TIME_UTC", values, verb="set_time", timeout=timeout)
        return {"utc": values["UTC"]}

    async def set_optics(
        self,
        aperture: float,
        focal_length: float,
        guider_aperture: float | None = None,
        guider_focal_length: float | None = None,
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Tell the driver the optics, in mm (TELESCOPE_INFO; the guide
        scope's parts left None keep their values); returns the optics as
        `info` reports them."""
        prop = self._prop("TELESCOPE_INFO", "take its optics")
        given = {
            "TELESCOPE_APERTURE": aperture,
            "TELESCOPE_FOCAL_LENGTH": focal_length,
            "GUIDER_APERTURE": guider_aperture,
            "GUIDER_FOCAL_LENGTH": guider_focal_length,
        }
        values = {
            element: _finite(value, element.lower())
            for element, value in given.items()
            if value is not None and element in prop.elements
        }
        # The whole vector: drivers read all four from one message.
        full = prop.values() | values
        prop = await self._set("TELESCOPE_INFO", full, verb="set_optics", timeout=timeout)
        v = prop.values()
        return {
            "aperture_mm": v.get("TELESCOPE_APERTURE"),
            "focal_length_mm": v.get("TELESCOPE_FOCAL_LENGTH"),
            "guider_aperture_mm": v.get("GUIDER_APERTURE"),
            "guider_focal_length_mm": v.get("GUIDER_FOCAL_LENGTH"),
        }

    # Gotos --------------------------------------------------------------

    def target_altitude(
        self,
        *,
        ra: float | None = None,
        dec: float | None = None,
        epoch: str = "JNow",
        ha: float | None = None,
        alt: float | None = None,
    ) -> float | None:
        """The altitude (degrees) of a goto target given as RA/Dec (``epoch``
        J2000 or JNow), HA/Dec (JNow) or altitude; None when the mount has
        no site to tell it."""
        if alt is not None:
            return float(alt)
        site = self._site()
        if site is None or dec is None:
            return None
        lat, lon, _ = site
        if ha is None:
            if ra is None:
                return None
            if _epoch(epoch) == "J2000":
                ra, dec = astro.j2000_to_jnow(ra, dec)
            ha = astro.hour_angle(ra, astro.local_sidereal_time(lon))
        return astro.altaz_from_hadec(ha, dec, lat)[0]

    def check_above_horizon(self, verb: str = "goto", force: bool = False, **target: Any) -> None:
        """Refuse (`BelowHorizonError`) a target (the keywords of
        `target_altitude`) below the site's minimum altitude; ``force``
        overrides (and is logged).  Every goto verb calls it, and so may a
        raw write of the mount's coordinates."""
        limit = min_altitude(self.client)
        if limit is None:
            return
        alt = self.target_altitude(**target)
        if alt is None or alt >= limit:
            return
        text = (
            f"{verb} refused: the target is at altitude {alt:.1f}°, below the minimum "
            f"{limit:g}° (--min-altitude); pass force to override"
        )
        if force:
            log.warning(
                "%s %s forced below the minimum altitude (%.1f° < %g°)", self.role, verb, alt, limit
            )
            return
        raise BelowHorizonError(text, device=self.name, role=self.role)

    def _check_unparked(self, verb: str) -> None:
        if self._parked():
            raise DeviceStateError(
                f"{self.name} is parked: unpark it before {verb}",
                device=self.name,
                role=self.role,
                reason=RefusalReason.PARKED,
            )
        if self._parking():
            raise DeviceStateError(
                f"{self.name} is parking: wait for the park to end, or abort it, before {verb}",
                device=self.name,
                role=self.role,
                reason=RefusalReason.PARKING,
            )

    async def set_coord_mode(self, mode: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Choose what a write of coordinates does (ON_COORD_SET): ``track``
        (slew, then track), ``slew`` (slew and stop) or ``sync``.  The verbs
        here set it for themselves; this is for clients that write
        coordinates as properties."""
        prop = self._prop("ON_COORD_SET", "choose what a goto does")
        element = self._choose(prop, mode, "coordinate mode")
        prop = await self._set(
            "ON_COORD_SET", {element: True}, verb="set_coord_mode", timeout=timeout
        )
        return {"coord_mode": (prop.on_switches() or [None])[0]}

    @verb("telescope.goto", GotoParams, SlewResult, moves=True, long=True, progress=True)
    async def goto(
        self,
        ra: float,
        dec: float,
        *,
        epoch: str = "J2000",
        track: bool = True,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
        force: bool = False,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Slew to RA (hours, 0..24) / Dec (degrees); answers once the mount arrived.

        epoch: what the coordinates are; J2000 is converted to JNow for drivers
        that take JNow (EQUATORIAL_EOD_COORD). track: track the target after the
        slew, or stop there. Progress: {state: slewing, ra, dec, target_ra,
        target_dec, distance (degrees left)}. Result: {ra, dec, ra_j2000,
        dec_j2000, alt, az, target: {ra, dec, epoch}, distance, tracking,
        pier_side, elapsed}. Errors: invalid_value, invalid_state (parked),
        aborted (telescope.abort, a newer goto), timeout (the mount is stopped),
        action_failed, unsafe (the safety policy refuses; force overrides)."""
        # replace (a device call's, not a param): false refuses a goto while
        # the mount moves (busy, reason moving) instead of superseding it.
        ra, dec = _check_radec(ra, dec)
        epoch = _epoch(epoch)
        params = {"ra": ra, "dec": dec, "epoch": epoch, "track": track}
        self._connected()
        self._check_unparked("a goto")
        self._check_still(self._slewing(), "a goto", replace)
        self._check_safe("goto", force)
        self.check_above_horizon("goto", force, ra=ra, dec=dec, epoch=epoch)
        j2k = self._optional("EQUATORIAL_COORD")
        if epoch == "J2000" and self._writable(j2k):
            return await self._slew(
                "goto", "EQUATORIAL_COORD", ra, dec, "J2000", track, timeout, progress, params
            )
        self._prop("EQUATORIAL_EOD_COORD", "goto")
        if epoch == "J2000":
            ra, dec = await asyncio.to_thread(astro.j2000_to_jnow, ra, dec)
        return await self._slew(
            "goto", "EQUATORIAL_EOD_COORD", ra, dec, "JNow", track, timeout, progress, params
        )

    @verb("telescope.goto_hadec", GotoHaDecParams, SlewResult, moves=True, long=True, progress=True)
    async def goto_hadec(
        self,
        ha: float,
        dec: float,
        *,
        track: bool = True,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
        force: bool = False,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Slew to hour angle (hours, positive west, -24..24) / Dec (JNow degrees).

        RA = LST - HA at the moment of the command (needs the site). Progress and
        result as for telescope.goto."""
        ha, dec = _finite(ha, "ha"), _finite(dec, "dec")
        check_ranges(GotoHaDecParams, ha=ha, dec=dec)
        self._connected()
        _, lon, _ = self._require_site("goto an hour angle (no site)")
        self._prop("EQUATORIAL_EOD_COORD", "goto")
        self._check_unparked("a goto")
        self._check_still(self._slewing(), "a goto", replace)
        self._check_safe("goto", force)
        self.check_above_horizon("goto", force, ha=ha, dec=dec)
        ra = (astro.local_sidereal_time(lon) - ha) % 24.0
        params = {"ha": ha, "dec": dec, "track": track}
        return await self._slew(
            "goto_hadec", "EQUATORIAL_EOD_COORD", ra, dec, "JNow", track, timeout, progress, params
        )

    @verb("telescope.goto_altaz", GotoAltAzParams, SlewResult, moves=True, long=True, progress=True)
    async def goto_altaz(
        self,
        alt: float,
        az: float,
        *,
        track: bool = False,
        timeout: float = 300.0,
        progress: ProgressCallback | None = None,
        force: bool = False,
        replace: bool = True,
    ) -> dict[str, Any]:
        """Slew to altitude (-90..90) / azimuth (0..360, from north through east), degrees.

        HORIZONTAL_COORD where the driver takes it, else converted to JNow RA/Dec
        for the site. track defaults to false: an Alt/Az target is a place.
        Progress and result as for telescope.goto."""
        alt, az = _finite(alt, "alt"), _finite(az, "az")
        check_ranges(GotoAltAzParams, alt=alt, az=az)
        az %= 360.0
        params = {"alt": alt, "az": az, "track": track}
        self._connected()
        self._check_unparked("a goto")
        self._check_still(self._slewing(), "a goto", replace)
        self._check_safe("goto", force)
        self.check_above_horizon("goto", force, alt=alt)
        horizontal = self._optional("HORIZONTAL_COORD")
        if self._writable(horizontal):
            return await self._slew_altaz(alt, az, track, timeout, progress, params)
        lat, lon, _ = self._require_site("goto Alt/Az (no site)")
        self._prop("EQUATORIAL_EOD_COORD", "goto")
        ha, dec = astro.hadec_from_altaz(alt, az, lat)
        ra = (astro.local_sidereal_time(lon) - ha) % 24.0
        return await self._slew(
            "goto_altaz", "EQUATORIAL_EOD_COORD", ra, dec, "JNow", track, timeout, progress, params
        )

    @contextlib.asynccontextmanager
    async def _coord_mode(self, act: Action, mode: str) -> AsyncIterator[None]:
        """Set ON_COORD_SET for one slew and put back what the caller had
        after it (ended, failed or aborted): a client that writes
        coordinates as properties later must not get slew-and-stop (or
        track) because of a goto it did not make."""
        coord_set = self._optional("ON_COORD_SET")
        if coord_set is None:
            yield
            return
        if mode not in coord_set.elements:
            mode = next((m for m in ("TRACK", "SLEW") if m in coord_set.elements), "")
        previous = coord_set.on_switches()
        if not mode or previous == [mode]:
            yield
            return
        await act.send("ON_COORD_SET", {mode: True})
        try:
            yield
        finally:
            restore = previous[0] if previous and previous[0] != "SYNC" else None
            if restore in coord_set.elements:
                await self._put_coord_mode_back(act, restore)

    async def _put_coord_mode_back(self, act: Action, mode: str) -> None:
        """ON_COORD_SET back to ``mode`` after a verb that changed it, waited
        for so the caller's mode is back when the verb returns; a failure
        here is logged and does not hide the verb's own outcome."""
        try:
            await self.client.set_property(
                act.device, "ON_COORD_SET", {mode: True}, wait=True, timeout=10.0
            )
        except Exception as exc:  # noqa: BLE001 - logged, the verb's result stands
            log.warning("%s: could not put ON_COORD_SET back to %s: %s", act.device, mode, exc)

    async def _slew(
        self,
        verb: str,
        prop_name: str,
        ra: float,
        dec: float,
        frame: str,
        track: bool,
        timeout: float | None,
        progress: ProgressCallback | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._action(
            verb,
            [prop_name],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main=prop_name,
            params=params,
        ) as act:
            act.details["target"] = {"ra": ra, "dec": dec, "epoch": frame}

            def where() -> dict[str, Any]:
                now = self.client.get_property(act.device, prop_name)
                cur_ra, cur_dec = float(now["RA"]), float(now["DEC"])
                return {
                    "ra": cur_ra,
                    "dec": cur_dec,
                    "distance": astro.angular_distance(cur_ra, cur_dec, ra, dec),
                }

            act.where = where
            async with self._coord_mode(act, "TRACK" if track else "SLEW"):
                left = await self._follow_slew(
                    act, verb, prop_name, ("RA", "DEC"), (ra, dec), {"epoch": frame}
                )
                await self._honour_tracking(track)
            pos = await self.position()
            return act.done(
                {
                    "ra": pos["ra"],
                    "dec": pos["dec"],
                    "ra_j2000": pos["ra_j2000"],
                    "dec_j2000": pos["dec_j2000"],
                    "alt": pos["alt"],
                    "az": pos["az"],
                    "target": {"ra": ra, "dec": dec, "epoch": frame},
                    "distance": left,
                    "tracking": pos["tracking"],
                    "pier_side": pos["pier_side"],
                }
            )

    async def _follow_slew(
        self,
        act: Any,
        verb: str,
        prop_name: str,
        axes: tuple[str, str],
        target: tuple[float, float],
        extra: dict[str, Any],
    ) -> float:
        """Send the target and follow ``prop_name`` until the slew has ended;
        returns the distance left (degrees).  ``axes`` are the elements: RA
        (hours) and DEC, or ALT and AZ (degrees), measured alike on the sphere."""
        first, second = axes
        keys = (first.lower(), second.lower())
        await act.send(prop_name, {first: target[0], second: target[1]})

        def distance(a: float, b: float) -> float:
            if first == "RA":
                return astro.angular_distance(a, b, target[0], target[1])
            # Alt/Az as Dec/RA on a sphere: the same great-circle formula.
            return astro.angular_distance(b / 15, a, target[1] / 15, target[0])

        def left_of(u: Update) -> float:
            return distance(float(u[first]), float(u[second]))

        def moved(u: Update, step: Step) -> None:
            if not step.tracked or u[first] is None:
                return
            cur = (float(u[first]), float(u[second]))
            left = distance(*cur)
            act.details.update({keys[0]: cur[0], keys[1]: cur[1], "distance": left})
            if step.busy:
                act.report(
                    {
                        "state": "slewing",
                        keys[0]: cur[0],
                        keys[1]: cur[1],
                        **extra,
                        f"target_{keys[0]}": target[0],
                        f"target_{keys[1]}": target[1],
                        "distance": left,
                    }
                )

        end = await follow(
            act,
            PropertyFollower(
                prop_name,
                done=lambda u, started: (
                    left_of(u) <= ARRIVED_TOLERANCE or (started and u.state is PropertyState.OK)
                ),
                start_within=START_TIMEOUT,
                failed=f"{verb} failed",
                stopped=lambda u: (
                    f"{verb}: the slew stopped {left_of(u):.2f}° before the target "
                    "(aborted by the driver or another client)"
                ),
                not_started=f"{verb}: the mount did not start the slew",
            ),
            moved,
        )
        assert end is not None  # no `already`: it ends on an update
        return left_of(end)

    async def _slew_altaz(
        self,
        alt: float,
        az: float,
        track: bool,
        timeout: float | None,
        progress: ProgressCallback | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        async with self._action(
            "goto_altaz",
            ["HORIZONTAL_COORD"],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main="HORIZONTAL_COORD",
            params=params,
        ) as act:
            async with self._coord_mode(act, "TRACK" if track else "SLEW"):
                left = await self._follow_slew(
                    act, "goto_altaz", "HORIZONTAL_COORD", ("ALT", "AZ"), (alt, az), {}
                )
                await self._honour_tracking(track)
            pos = await self.position()
            return act.done({**pos, "target": {"alt": alt, "az": az}, "distance": left})

    async def _honour_tracking(self, track: bool) -> None:
        # Some drivers (INDI's simulator among them) track after every slew,
        # even in SLEW mode: stop tracking when the caller asked for that.
        if not track and self._tracking():
            await self._set(
                "TELESCOPE_TRACK_STATE", {"TRACK_OFF": True}, verb="set_tracking", accept_busy=True
            )

    @verb("telescope.sync", SyncParams, SyncResult, long=True)
    async def sync(
        self, ra: float, dec: float, *, epoch: str = "J2000", timeout: float = 10.0
    ) -> dict[str, Any]:
        """Tell the mount it points at RA/Dec now (ON_COORD_SET SYNC).

        Result: {ra, dec, ra_j2000, dec_j2000} where the mount now says it points."""
        ra, dec = _check_radec(ra, dec)
        epoch = _epoch(epoch)
        self._connected()
        coord_set = self._prop("ON_COORD_SET", "sync")
        if "SYNC" not in coord_set.elements:
            raise CapabilityError(
                f"{self.name} cannot sync (ON_COORD_SET has no SYNC)",
                device=self.name,
                role=self.role,
                properties=["ON_COORD_SET"],
            )
        self._check_unparked("a sync")
        j2k = self._optional("EQUATORIAL_COORD")
        if epoch == "J2000" and self._writable(j2k):
            prop_name = "EQUATORIAL_COORD"
        else:
            prop_name = "EQUATORIAL_EOD_COORD"
            self._prop(prop_name, "sync")
            if epoch == "J2000":
                ra, dec = await asyncio.to_thread(astro.j2000_to_jnow, ra, dec)
        previous = coord_set.on_switches()
        async with self._action(
            "sync",
            [prop_name, "ON_COORD_SET"],
            timeout=timeout,
            params={"ra": ra, "dec": dec, "epoch": epoch},
        ) as act:
            await act.send("ON_COORD_SET", {"SYNC": True})
            await act.send(prop_name, {"RA": ra, "DEC": dec})
            try:
                await follow(act, PropertyFollower(prop_name, failed="sync failed"))
            finally:
                # Leave ON_COORD_SET as it was: a later coordinate write by
                # anyone must not sync by surprise.
                restore = previous[0] if previous and previous[0] != "SYNC" else "TRACK"
                if restore in coord_set.elements:
                    await self._put_coord_mode_back(act, restore)
            pos = await self.position()
            return act.done(
                {
                    "ra": pos["ra"],
                    "dec": pos["dec"],
                    "ra_j2000": pos["ra_j2000"],
                    "dec_j2000": pos["dec_j2000"],
                }
            )

    # Abort, park, home --------------------------------------------------

    async def _send_abort(self) -> None:
        if self.has("TELESCOPE_ABORT_MOTION"):
            await self.client.set_property(self.name, "TELESCOPE_ABORT_MOTION", {"ABORT": True})  # type: ignore[arg-type]

    @verb("telescope.abort", NoParams, AbortResult)
    async def abort(self, timeout: float = 15.0) -> dict[str, Any]:
        """Stop all motion now (TELESCOPE_ABORT_MOTION); answers once stopped.

        Running telescope actions (goto, park, timed move) end with the aborted
        error. Result: {aborted, interrupted (actions ended), stopped, ...brief
        state}."""
        self._prop("TELESCOPE_ABORT_MOTION", "abort")
        interrupted = self._interrupt_actions("aborted")
        await self._send_abort()
        await self._stop_all()  # manual moves too, whatever the driver's abort does
        stopped = await self._wait_not_busy(
            (
                "EQUATORIAL_EOD_COORD",
                "EQUATORIAL_COORD",
                "HORIZONTAL_COORD",
                "TELESCOPE_PARK",
                "TELESCOPE_MOTION_NS",
                "TELESCOPE_MOTION_WE",
            ),
            timeout,
        )
        return {"aborted": True, "interrupted": interrupted, "stopped": stopped, **self._status()}

    async def _wait_not_busy(self, names: tuple[str, ...], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        for name in names:
            if self._optional(name) is None:
                continue
            try:
                await self.client.wait_idle(self.name, name, max(0.1, until - loop.time()))  # type: ignore[arg-type]
            except TimeoutError:
                return False
        return True

    @verb("telescope.park", ParkParams, ParkResult, moves=True, long=True, progress=True)
    async def park(
        self, *, timeout: float = 300.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Park the mount; answers once parked: {parked: true, ...brief state}.

        Already parked: {parked: true, already: true}. Progress: {state: parking}."""
        self._prop("TELESCOPE_PARK", "park")
        if self._parked() and not self._slewing():
            return {"action": "park", "device": self.name, "parked": True, "already": True}
        return await self._park_switch("park", "PARK", timeout, progress)

    @verb("telescope.unpark", UnparkParams, ParkResult, moves=True, long=True)
    async def unpark(self, *, timeout: float = 60.0, force: bool = False) -> dict[str, Any]:
        """Unpark the mount; answers once unparked: {parked: false, ...}.

        Refused with the unsafe error while the safety policy says unsafe
        or its close-up still runs (docs/devices.md), unless force; with
        invalid_state while parking."""
        self._prop("TELESCOPE_PARK", "unpark")
        self._check_safe("unpark", force)
        if self._parking():
            # Drivers refuse it (the simulator aborts the park with Alert and
            # reports itself parked wherever it stopped): say so instead.
            raise DeviceStateError(
                f"{self.name} is parking: wait for the park to end, or abort it, before unparking",
                device=self.name,
                role=self.role,
                reason=RefusalReason.PARKING,
            )
        if self._parked() is False:
            return {"action": "unpark", "device": self.name, "parked": False, "already": True}
        return await self._park_switch("unpark", "UNPARK", timeout, None)

    async def _park_switch(
        self, verb: str, element: str, timeout: float, progress: ProgressCallback | None
    ) -> dict[str, Any]:
        async with self._action(
            verb,
            ["TELESCOPE_PARK", "EQUATORIAL_EOD_COORD"],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main="TELESCOPE_PARK",
        ) as act:
            await act.send("TELESCOPE_PARK", {element: True})

            def moving(u: Update, step: Step) -> None:
                if u.name == "EQUATORIAL_EOD_COORD":
                    if u.state is PropertyState.BUSY:
                        act.report({"state": verb + "ing", "ra": u["RA"], "dec": u["DEC"]})
                elif step.busy:
                    act.report({"state": verb + "ing"})

            await follow(
                act,
                PropertyFollower(
                    "TELESCOPE_PARK",
                    done=lambda u, _: u[element] is SwitchState.ON,
                    before_start="fail",
                    failed=f"{verb} failed",
                    stopped=f"{verb} stopped before it ended",
                    refused=f"{verb}: the driver did not take the command",
                ),
                moving,
            )
            return act.done({"parked": element == "PARK", **self._status()})

    @verb("telescope.set_park", SetParkParams, ParkPositionResult)
    async def set_park(
        self,
        option: str | None = None,
        position: dict[str, float] | None = None,
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Set where the mount parks: here, the driver's default, or a position.

        option "current" (the default: where it points now) or "default" (the
        driver's default position); or position: axis values named after
        TELESCOPE_PARK_POSITION's elements without PARK_ ({"ha": -1.5, "dec": 45}
        on most equatorial drivers), saved with PARK_WRITE_DATA where offered.
        Result: {option?, park_position: {axis: value}}."""
        if position is None:
            return await self.set_park_position(option or "current", timeout=timeout)
        if option is not None:
            raise InvalidParamsError("give either option or position, not both", param="position")
        if not position:
            raise InvalidParamsError("position needs axis values, e.g. {ha, dec}", param="position")
        if "timeout" in position or "option" in position:
            raise InvalidParamsError(
                "position takes axis names only (ha, dec, ...)", param="position"
            )
        return await self.set_park_position(None, timeout=timeout, **position)

    async def set_park_position(
        self,
        option: str | None = "current",
        *,
        timeout: float = 10.0,
        **axes: float,
    ) -> dict[str, Any]:
        """Set where the mount parks.

        ``option="current"`` (the position now, PARK_CURRENT) or
        ``"default"`` (the driver's default, PARK_DEFAULT); or
        ``option=None`` with axis values written to TELESCOPE_PARK_POSITION,
        named after its elements without ``PARK_`` (``ha=-1, dec=45`` for
        PARK_HA/PARK_DEC; drivers also use ra, az, alt).  The position is
        then saved (PARK_WRITE_DATA) where the driver offers it.
        """
        self._connected()
        # INDI::Telescope refuses it while parked (a message and an Alert):
        # say so now, as the refusal it is.
        self._check_unparked("changing its park position")
        result: dict[str, Any] = {"action": "set_park_position", "device": self.name}
        if option is not None:
            if axes:
                raise InvalidValueError("give either an option or axis values, not both")
            prop = self._prop("TELESCOPE_PARK_OPTION", "set its park position")
            element = self._choose(prop, option, "park option")
            await self._set(
                "TELESCOPE_PARK_OPTION",
                {element: True},
                verb="set_park_position",
                timeout=timeout,
                confirm=False,
            )
            result["option"] = element
        else:
            prop = self._prop("TELESCOPE_PARK_POSITION", "take a park position")
            axis_names = ", ".join(n.removeprefix("PARK_").lower() for n in prop.elements)
            if not axes:
                raise InvalidValueError(f"give axis values: {axis_names}")
            values = {}
            for key, value in axes.items():
                element = f"PARK_{key.upper()}"
                if element not in prop.elements:
                    raise InvalidValueError(
                        f"{self.name} park position has no axis {key!r} (it has {axis_names})"
                    )
                values[element] = _finite(value, key)
            await self._set(
                "TELESCOPE_PARK_POSITION", values, verb="set_park_position", timeout=timeout
            )
            option_prop = self._optional("TELESCOPE_PARK_OPTION")
            if option_prop is not None and "PARK_WRITE_DATA" in option_prop.elements:
                await self._set(
                    "TELESCOPE_PARK_OPTION",
                    {"PARK_WRITE_DATA": True},
                    verb="set_park_position",
                    timeout=timeout,
                    confirm=False,
                )
        position = self._optional("TELESCOPE_PARK_POSITION")
        if position is not None:
            result["park_position"] = {
                n.removeprefix("PARK_").lower(): v for n, v in position.values().items()
            }
        return result

    @verb("telescope.home", HomeParams, HomeResult, moves=True, long=True, progress=True)
    async def home(
        self, *, timeout: float = 300.0, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Go to the home position (TELESCOPE_HOME) where the driver has one.

        Answers once home: {homed: true, ...brief state}; capability_missing on a
        mount without TELESCOPE_HOME."""
        prop = self._prop("TELESCOPE_HOME", "go home")
        self._check_unparked("going home")
        element = next(
            (e for e in ("GO", "FIND", "HOME_GO", "HOME_FIND") if e in prop.elements),
            next(iter(prop.elements)),
        )
        async with self._action(
            "home",
            ["TELESCOPE_HOME", "EQUATORIAL_EOD_COORD"],
            timeout=timeout,
            progress=progress,
            abort=self._send_abort,
            channel="motion",
            main="TELESCOPE_HOME",
        ) as act:
            await act.send("TELESCOPE_HOME", {element: True})
            home = PropertyFollower(
                "TELESCOPE_HOME",
                # Ok, or an answer before any Busy: the mount was home already.
                done=lambda u, started: u.state is PropertyState.OK or not started,
                failed="home failed",
                stopped="home stopped before it ended",
            )

            def moving(u: Update, step: Step) -> None:
                if u.name == "EQUATORIAL_EOD_COORD" and home.started:
                    act.report({"state": "homing", "ra": u["RA"], "dec": u["DEC"]})

            await follow(act, home, moving)
            return act.done({"homed": True, **self._status()})

    # Tracking and rates ---------------------------------------------------

    @verb("telescope.set_tracking", TrackingParams, TrackingResult)
    async def set_tracking(self, on: bool, *, timeout: float = 10.0) -> dict[str, Any]:
        """Turn tracking on or off (TELESCOPE_TRACK_STATE): {tracking}."""
        if not isinstance(on, bool):
            raise InvalidValueError(f"tracking must be true or false, got {on!r}")
        self._prop("TELESCOPE_TRACK_STATE", "track")
        if on:
            self._check_unparked("tracking")
        element = "TRACK_ON" if on else "TRACK_OFF"
        prop = await self._set(
            "TELESCOPE_TRACK_STATE",
            {element: True},
            verb="set_tracking",
            timeout=timeout,
            accept_busy=True,
        )
        return {"tracking": "TRACK_ON" in prop.on_switches()}

    @verb("telescope.track_modes", NoParams, list[Choice])
    def track_modes(self) -> list[dict[str, Any]]:
        """The track modes the driver offers: [{name, label, active}]."""
        prop = self._prop("TELESCOPE_TRACK_MODE", "change its track mode")
        return [
            {"name": el.name, "label": el.label, "active": el.value is SwitchState.ON}
            for el in prop.elements.values()
        ]

    @verb("telescope.set_track_mode", TrackModeParams, TrackModeResult)
    async def set_track_mode(self, mode: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Choose the track mode by name or label: {track_mode}.

        The element name, its label, or the last part of the name: "sidereal",
        "lunar", "TRACK_SOLAR"; telescope.track_modes lists them."""
        prop = self._prop("TELESCOPE_TRACK_MODE", "change its track mode")
        element = self._choose(prop, mode, "track mode")
        # INDI::Telescope refuses this while parked with a message only, no
        # answer on the property: say so now rather than time out.
        self._check_unparked("changing the track mode")
        prop = await self._set(
            "TELESCOPE_TRACK_MODE",
            {element: True},
            verb="set_track_mode",
            timeout=timeout,
            accept_busy=True,
        )
        return {"track_mode": (prop.on_switches() or [None])[0]}

    @verb("telescope.set_track_rate", RatesParams, TrackRateResult)
    async def set_track_rate(
        self, ra: float | None = None, dec: float | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Custom track rates in arcsec/s (TELESCOPE_TRACK_RATE; sidereal is ~15.041 in RA).

        Switches the track mode to TRACK_CUSTOM where the driver has it.
        Result: {ra, dec, track_mode}."""
        prop = self._prop("TELESCOPE_TRACK_RATE", "take track rates")
        values: dict[str, Any] = {}
        if ra is not None:
            values["TRACK_RATE_RA"] = _finite(ra, "ra rate")
        if dec is not None:
            values["TRACK_RATE_DE"] = _finite(dec, "dec rate")
        if not values:
            raise InvalidParamsError("give an ra and/or dec rate", param="ra")
        full = prop.values() | values
        await self._set(
            "TELESCOPE_TRACK_RATE", full, verb="set_track_rate", timeout=timeout, accept_busy=True
        )
        mode = self._optional("TELESCOPE_TRACK_MODE")
        if mode is not None and "TRACK_CUSTOM" in mode.elements:
            if mode.on_switches() != ["TRACK_CUSTOM"]:
                await self._set(
                    "TELESCOPE_TRACK_MODE",
                    {"TRACK_CUSTOM": True},
                    verb="set_track_rate",
                    timeout=timeout,
                    accept_busy=True,
                )
        rates = self.client.get_property(self.name, "TELESCOPE_TRACK_RATE")  # type: ignore[arg-type]
        return {
            "ra": rates["TRACK_RATE_RA"],
            "dec": rates["TRACK_RATE_DE"],
            "track_mode": (self._switch_on("TELESCOPE_TRACK_MODE") or [None])[0],
        }

    @verb("telescope.slew_rates", NoParams, list[RateChoice])
    def slew_rates(self) -> list[dict[str, Any]]:
        """The rates of manual moves, slowest first: [{index, name, label, active}]."""
        prop = self._prop("TELESCOPE_SLEW_RATE", "change its slew rate")
        return [
            {"index": i, "name": el.name, "label": el.label, "active": el.value is SwitchState.ON}
            for i, el in enumerate(prop.elements.values())
        ]

    @verb("telescope.set_slew_rate", SlewRateParams, SlewRateResult)
    async def set_slew_rate(self, rate: str | int, *, timeout: float = 10.0) -> dict[str, Any]:
        """Choose the rate of manual moves: an index (0 = slowest) or a name or label.

        "guide", "centering", "find", "max" find SLEW_GUIDE, SLEW_CENTERING, ...
        on drivers that name them so. Result: {slew_rate}."""
        prop = self._prop("TELESCOPE_SLEW_RATE", "change its slew rate")
        names = list(prop.elements)
        if isinstance(rate, bool):
            raise InvalidValueError(f"slew rate must be an index or a name, got {rate!r}")
        if isinstance(rate, int):
            if not 0 <= rate < len(names):
                raise InvalidValueError(
                    f"slew rate index must be within [0, {len(names) - 1}], got {rate}"
                )
            element = names[rate]
        else:
            element = self._choose(prop, rate, "slew rate")
        prop = await self._set(
            "TELESCOPE_SLEW_RATE",
            {element: True},
            verb="set_slew_rate",
            timeout=timeout,
            accept_busy=True,
        )
        return {"slew_rate": (prop.on_switches() or [None])[0]}

    @verb("telescope.set_guide_rate", RatesParams, GuideRate)
    async def set_guide_rate(
        self, ra: float | None = None, dec: float | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Set the guide rates, fractions of sidereal (0..1 on most drivers): {ra, dec}."""
        prop = self._prop("GUIDE_RATE", "change its guide rate")
        values: dict[str, Any] = {}
        if ra is not None:
            values["GUIDE_RATE_WE"] = _finite(ra, "ra guide rate")
        if dec is not None:
            values["GUIDE_RATE_NS"] = _finite(dec, "dec guide rate")
        if not values:
            raise InvalidParamsError("give an ra and/or dec guide rate", param="ra")
        prop = await self._set(
            "GUIDE_RATE", prop.values() | values, verb="set_guide_rate", timeout=timeout
        )
        return {"ra": prop["GUIDE_RATE_WE"], "dec": prop["GUIDE_RATE_NS"]}

    @verb("telescope.guide_rate", NoParams, GuideRate)
    def guide_rate(self) -> dict[str, Any]:
        """Guide rates as a fraction of sidereal (GUIDE_RATE): {ra, dec}."""
        prop = self._prop("GUIDE_RATE", "report its guide rate")
        return {"ra": prop["GUIDE_RATE_WE"], "dec": prop["GUIDE_RATE_NS"]}

    # Manual motion and guiding ------------------------------------------

    @verb("telescope.move", MoveParams, ManualMove, moves=True, long=True, held="move")
    async def move(
        self,
        direction: str,
        *,
        duration: float | None = None,
        timeout: float = 10.0,
        force: bool = False,
    ) -> dict[str, Any]:
        """Move in a direction at the slew rate (TELESCOPE_MOTION_NS/WE).

        With duration (seconds, up to 3600) it moves that long, stops, and
        answers once stopped ({direction, moving: false, duration}): an action,
        abortable like any. Without duration it answers once moving
        ({direction, moving: true}) and moves until telescope.stop; only a
        front that holds the move for its connection offers that (JSON-RPC:
        the service stops it when the socket closes), so over REST the
        duration is required. Refused while parked, and while the safety
        policy says unsafe."""
        d = _direction(direction)
        prop_name, element, _, _ = DIRECTIONS[d]
        self._prop(prop_name, "move manually")
        self._check_unparked("moving")
        self._check_safe("move", force)
        if duration is None:
            await self._set(
                prop_name, {element: True}, verb="move", timeout=timeout, accept_busy=True
            )
            return {"direction": d, "moving": True}
        duration = _finite(duration, "duration")
        check_ranges(MoveParams, duration=duration)
        async with self._action(
            "move",
            [prop_name],
            timeout=duration + timeout,
            abort=self._stop_all,
            channel="motion",
            main=prop_name,
            params={"direction": d, "duration": duration},
        ) as act:
            await act.send(prop_name, {element: True})
            try:
                while (left := duration - act.elapsed) > 0:
                    u = await act.next(within=left)
                    if u is not None and u.state is PropertyState.ALERT:
                        raise act.fail("move failed")
            finally:
                await self.client.set_property(act.device, prop_name, {element: False})
            await act.settle(timeout)
            return act.done({"direction": d, "moving": False, "duration": duration})

    def axis_rates(self) -> list[dict[str, Any]]:
        """The rates of manual moves in degrees per second, slowest first:
        [{name, label, deg_per_s}].  A switch's speed comes from
        `MEASURED_SLEW_RATES` for the driver, else from a name or label in
        multiples of sidereal (``16x``); a switch of unknown speed (``MAX``)
        is left out.  Empty without TELESCOPE_SLEW_RATE or motion properties."""
        prop = self._optional("TELESCOPE_SLEW_RATE")
        if prop is None or not self.has("TELESCOPE_MOTION_NS", "TELESCOPE_MOTION_WE"):
            return []
        dev = self.client.devices.get(self.name) if self.name else None
        driver = (dev.driver_info.get("DRIVER_EXEC") if dev else None) or ""
        measured = MEASURED_SLEW_RATES.get(driver)
        out = []
        for el in prop.elements.values():
            speed = measured.get(el.name) if measured is not None else _sidereal_multiple(el)
            if speed is not None:
                out.append({"name": el.name, "label": el.label, "deg_per_s": speed})
        return sorted(out, key=lambda r: r["deg_per_s"])

    def axis_motion(self) -> dict[str, float]:
        """The signed rate (deg/s, `AXES`' signs) each axis moves at by a
        manual move now; an axis not moving manually is left out."""
        out: dict[str, float] = {}
        active = self._switch_on("TELESCOPE_SLEW_RATE") or []
        speed = next((r["deg_per_s"] for r in self.axis_rates() if r["name"] in active), math.nan)
        for axis, (prop_name, plus, minus) in AXES.items():
            on = self._switch_on(prop_name) or []
            for direction, sign in ((plus, 1.0), (minus, -1.0)):
                if DIRECTIONS[direction][1] in on:
                    out[axis] = sign * speed
        return out

    async def move_axis(
        self, axis: str, rate: float, *, force: bool = False, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Move one axis (``ra`` or ``dec``) at ``rate`` degrees per second
        until told otherwise: positive east / north, negative west / south,
        0 stops that axis (always allowed).  The speed must be one of
        `axis_rates` (within 1 %); the mount has one slew rate for both
        axes, so while the other axis moves at another speed it is refused.
        Refused while parked, and while unsafe unless ``force``."""
        if axis not in AXES:
            raise InvalidValueError(f"axis must be 'ra' or 'dec', got {axis!r}")
        rate = _finite(rate, "rate")
        prop_name, plus, minus = AXES[axis]
        self._prop(prop_name, "move manually")
        if rate == 0:
            await self._set(
                prop_name,
                {DIRECTIONS[plus][1]: False, DIRECTIONS[minus][1]: False},
                verb="move_axis",
                timeout=timeout,
            )
            return {"axis": axis, "rate": 0.0, "moving": False}
        rates = self.axis_rates()
        tolerance = AXIS_RATE_TOLERANCE
        speed = next(
            (r for r in rates if abs(abs(rate) - r["deg_per_s"]) <= tolerance * r["deg_per_s"]),
            None,
        )
        if speed is None:
            offered = ", ".join(f"{r['deg_per_s']:.6g}" for r in rates) or "none known"
            raise InvalidValueError(
                f"rate {rate:g} deg/s is not a rate of this mount (deg/s, either sign: {offered})"
            )
        other = {a: r for a, r in self.axis_motion().items() if a != axis}
        if any(abs(abs(r) - speed["deg_per_s"]) > 1e-9 for r in other.values()):
            raise DeviceStateError(
                f"{self.name} has one slew rate for both axes and moves the other axis at "
                f"{abs(next(iter(other.values()))):g} deg/s: stop it or use that rate",
                device=self.name,
                role=self.role,
                reason=RefusalReason.RATE_CONFLICT,
            )
        self._check_unparked("moving")
        self._check_safe("move", force)
        if speed["name"] not in (self._switch_on("TELESCOPE_SLEW_RATE") or []):
            await self.set_slew_rate(speed["name"], timeout=timeout)
        direction = plus if rate > 0 else minus
        await self.move(direction, timeout=timeout, force=force)
        return {
            "axis": axis,
            "rate": math.copysign(speed["deg_per_s"], rate),
            "moving": True,
            "direction": direction,
        }

    async def _stop_all(self) -> None:
        for name, elements in (
            ("TELESCOPE_MOTION_NS", ("MOTION_NORTH", "MOTION_SOUTH")),
            ("TELESCOPE_MOTION_WE", ("MOTION_WEST", "MOTION_EAST")),
        ):
            prop = self._optional(name)
            if prop is not None:
                await self.client.set_property(
                    self.name,  # type: ignore[arg-type]
                    name,
                    {e: False for e in elements if e in prop.elements},
                )

    @verb("telescope.stop", StopParams, ManualMove, held="stop")
    async def stop(self, direction: str | None = None, *, timeout: float = 10.0) -> dict:
        """Stop a manual move in one direction, or every manual move: {moving: false}."""
        self._connected()
        if direction is None:
            if not self.has("TELESCOPE_MOTION_NS") and not self.has("TELESCOPE_MOTION_WE"):
                self._prop("TELESCOPE_MOTION_NS", "move manually")
            self._interrupt_actions("stopped", channel=None)
            await self._stop_all()
            await self._wait_not_busy(("TELESCOPE_MOTION_NS", "TELESCOPE_MOTION_WE"), timeout)
            return {"moving": False}
        d = _direction(direction)
        prop_name, element, _, _ = DIRECTIONS[d]
        self._prop(prop_name, "move manually")
        await self._set(prop_name, {element: False}, verb="stop", timeout=timeout)
        return {"direction": d, "moving": False}

    @verb("telescope.pulse_guide", PulseGuideParams, PulseGuideResult, moves=True, long=True)
    async def pulse_guide(
        self, direction: str, duration_ms: float, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """A timed guide pulse (TELESCOPE_TIMED_GUIDE_NS/WE); answers when it ended.

        Result: {direction, duration_ms, elapsed}."""
        return await pulse_guide(self, direction, duration_ms, timeout=timeout)


async def pulse_guide(
    owner: RoleDevice,
    direction: str,
    duration_ms: float,
    *,
    timeout: float | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """A timed guide pulse through whichever device ``owner`` is (a mount, or
    a guide camera's ST4 port): both define TELESCOPE_TIMED_GUIDE_NS/WE.
    ``quiet``: not announced to every client (the guider's own pulses)."""
    d = _direction(direction)
    _, _, prop_name, element = DIRECTIONS[d]
    owner._prop(prop_name, "pulse guide")
    ms = _finite(duration_ms, "duration_ms")
    if ms <= 0:
        raise InvalidValueError(f"duration_ms must be positive, got {ms:g}")
    limit = timeout if timeout is not None else ms / 1000.0 + 10.0
    async with owner._action(
        "pulse_guide",
        [prop_name],
        timeout=limit,
        channel=f"pulse_{prop_name[-2:]}",
        main=prop_name,
        params={"direction": d, "duration_ms": ms},
        quiet=quiet,
    ) as act:
        await act.send(prop_name, {element: ms})
        await follow(act, PropertyFollower(prop_name, failed="pulse guide failed"))
        return act.done({"direction": d, "duration_ms": ms})
