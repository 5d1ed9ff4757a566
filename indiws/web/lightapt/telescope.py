"""lightAPT's ``telescope`` instructions, over `indiws.devices.Telescope`.

Each instruction is a call of a `Telescope` verb (or read) plus the shaping
of its reply as the original service answered (V2, ``indi_telescope.py``)
and as the later front end (cobalt-web) reads it.  An instruction that
calls a declared verb takes its params' types and ranges from the verb's
struct (`base.instruction`); the verbs check what the original checked
before acting (parked, moving, out of range); their refusals answer in the
original's words (`refusals.REFUSALS`, and the range words here).
"""

from __future__ import annotations

import logging
from typing import Any

from ...devices import InvalidValueError, Telescope
from .base import Context, LightAptError, Refusal, instruction

log = logging.getLogger("indiws.lightapt")

#: cobalt-web's arrow buttons → directions (up is north; left is west, as
#: INDI's own joystick and hand-controller panels have it).
BUTTONS = {"up": "north", "down": "south", "left": "west", "right": "east"}

#: The original's words for a value out of range, by the verb's field (or
#: INDI element) refused: type "message" for a goto's, "error" for the site's.
GOTO_RANGES = {
    "ra": Refusal("RA is not in range!"),
    "ha": Refusal("HA is not in range!"),
    "dec": Refusal("DEC is not in range!"),
    "az": Refusal("AZ is not in range!"),
    "alt": Refusal("ALT is not in range!"),
}
_LONGITUDE = LightAptError("longitude not in range!")
_LATITUDE = LightAptError("latitude not in range!")
_ELEVATION = LightAptError("evelation not in range!")
SITE_RANGES = {
    "longitude": _LONGITUDE,
    "LONG": _LONGITUDE,
    "latitude": _LATITUDE,
    "LAT": _LATITUDE,
    "elevation": _ELEVATION,
    "ELEV": _ELEVATION,
}


def _scope(ctx: Context) -> Telescope:
    return ctx.device()


# ---------------------------------------------------------------- queries


@instruction("telescope")
async def get_real_time_info(ctx: Context) -> dict[str, Any]:
    """Where the mount points (JNow) and whether it moves: V2's keys and V5's ``tracking``."""
    scope = _scope(ctx)
    status = scope.status()
    return {
        "ra": status.get("ra"),
        "dec": status.get("dec"),
        "state": scope.pointing_state(),
        "is_moving": bool(status.get("slewing")),
        "tracking": status.get("tracking"),
    }


@instruction("telescope")
async def get_static_info(ctx: Context) -> dict[str, Any]:
    """The site (longitude east positive, -180..180) and the mount's UTC offset (V5)."""
    settings = _scope(ctx).settings()
    site = settings["site"] or {}
    return {
        "long": site.get("longitude"),
        "lat": site.get("latitude"),
        "elev": site.get("elevation"),
        "time_zone": settings["utc_offset"],
    }


def _choice(settings: dict[str, Any], key: str) -> dict[str, Any]:
    # An object even when the driver lacks the property: cobalt-web reads
    # slew_rate.selections without a check.
    return settings[key] or {"value": None, "selections": []}


@instruction("telescope")
async def get_set_params(ctx: Context) -> dict[str, Any]:
    """V2's settings (INDI's element names and GEOGRAPHIC_COORD as INDI keeps
    it) plus V5's ``slew_rate``."""
    settings = _scope(ctx).settings()
    return {
        "mount_type": _choice(settings, "mount_type"),
        "on_coord_set": _choice(settings, "coord_mode"),
        "track_mode": _choice(settings, "track_mode"),
        "track_state": _choice(settings, "track_state"),
        "longitude": settings["longitude"],
        "latitude": settings["latitude"],
        "elevation": settings["elevation"],
        "slew_rate": _choice(settings, "slew_rate"),
    }


@instruction("telescope")
async def get_fits_file_format_data(ctx: Context) -> dict[str, Any] | None:
    """The last goto's target name and coordinates, or ``success`` without one."""
    target = ctx.state.get("target")
    return dict(target) if target else None


@instruction("telescope")
async def at_home(ctx: Context) -> None:
    """A stub in every version of the original (``success``); kept for its clients."""
    return None


# ---------------------------------------------------------------- site, time, optics


@instruction(
    "telescope",
    verb="telescope.set_site",
    params={"long": "longitude", "lat": "latitude", "elev": "elevation"},
    words=SITE_RANGES,
)
async def set_long_lat(
    ctx: Context, long: float | None = None, lat: float | None = None, elev: float | None = None
) -> None:
    """Set the site: longitude (east positive, -180..360), latitude, and
    elevation (m); a part left out (or null) is kept.  V2's checks, the right
    way round (the device's), in V2's words."""
    await _scope(ctx).set_site(latitude=lat, longitude=long, elevation=elev)


@instruction("telescope")
async def set_telescope_info(
    ctx: Context,
    telescope_aperture: float,
    telescope_focal_length: float,
    guider_aperture: float,
    guider_focal_length: float,
) -> None:
    """Apertures and focal lengths in mm (TELESCOPE_INFO)."""
    await _scope(ctx).set_optics(
        telescope_aperture, telescope_focal_length, guider_aperture, guider_focal_length
    )


@instruction("telescope", verb="telescope.set_time", params=("utc",))
async def set_time(ctx: Context, utc: str | None = None) -> None:
    """Set the mount's clock to this machine's UTC time (or an ISO 8601 time)."""
    await _scope(ctx).set_clock(utc)


# ---------------------------------------------------------------- tracking and rates


@instruction("telescope")
async def set_track(ctx: Context) -> None:
    """ON_COORD_SET TRACK: a write of coordinates (a property page's) slews and
    then tracks; the gotos here track anyway."""
    await _scope(ctx).set_coord_mode("track")


@instruction("telescope", verb="telescope.set_tracking")
async def start_track(ctx: Context) -> None:
    await _scope(ctx).set_tracking(True)


@instruction("telescope", verb="telescope.set_tracking")
async def stop_track(ctx: Context) -> None:
    await _scope(ctx).set_tracking(False)


@instruction("telescope", verb="telescope.set_track_mode", params={"track_mode": "mode"})
async def set_track_mode(ctx: Context, track_mode: str) -> None:
    """``sidereal``, ``solar`` or ``lunar`` (V2), or any mode the driver offers."""
    try:
        await _scope(ctx).set_track_mode(track_mode)
    except InvalidValueError:  # not a mode of this mount
        raise LightAptError("wrong tracking name!") from None


@instruction("telescope", verb="telescope.set_slew_rate", params=("rate",))
async def set_slew_rate(ctx: Context, rate: int | str) -> None:
    """The rate of manual moves: one of ``get_set_params``' ``slew_rate.selections``
    (or its index, 0 = slowest)."""
    await _scope(ctx).set_slew_rate(rate)


@instruction("telescope")
async def handle_move_button(ctx: Context, button: str, pressed: bool) -> None:
    """cobalt-web's arrows: a press starts a manual move, the release stops it.

    A socket that closes with a button held stops that move: its release
    will never come.
    """
    direction = BUTTONS.get(button.strip().lower())
    if direction is None:
        raise LightAptError(f"button must be one of up, down, left, right; got {button!r}")
    scope = _scope(ctx)
    held: set[str] | None = ctx.endpoint.memory.get("pressed")
    if held is None:
        held = ctx.endpoint.memory["pressed"] = set()
        ctx.when_closed(lambda: _release_all(scope, held))
    if pressed:
        await scope.move(direction)
        held.add(direction)
    else:
        held.discard(direction)
        await scope.stop(direction)


async def _release_all(scope: Telescope, held: set[str]) -> None:
    for direction in sorted(held):
        try:
            await scope.stop(direction)
        except Exception as exc:  # the socket is gone: the log is all that is left
            log.warning("could not stop the %s move of %s: %s", direction, scope.name, exc)
    held.clear()


# ---------------------------------------------------------------- gotos


def _remember(ctx: Context, name: str | None, coord: dict[str, float]) -> None:
    # For get_fits_file_format_data (file names of the frames that follow).
    ctx.state["target"] = None if name is None else {"name": name, "coord": coord}


# A goto the verb refuses (parked, parking, moving) is worded by
# `refusals.REFUSALS`; a coordinate out of the verb's range by GOTO_RANGES.


@instruction("telescope", verb="telescope.goto", params=("ra", "dec"), words=GOTO_RANGES)
async def goto(ctx: Context, ra: float, dec: float, target_name: str | None = None) -> None:
    """Slew to RA (hours) / Dec (degrees) of date (JNow, EQUATORIAL_EOD_COORD)
    and track there (the original's default); answers once the slew has started."""
    await ctx.start(_scope(ctx).goto(ra, dec, epoch="JNow", replace=False))
    _remember(ctx, target_name, {"ra": ra, "dec": dec})


@instruction("telescope", verb="telescope.goto_hadec", params=("ha", "dec"), words=GOTO_RANGES)
async def goto_ha_dec(ctx: Context, ha: float, dec: float, target_name: str | None = None) -> None:
    """Slew to hour angle (hours, positive west) / Dec of date (needs the site)."""
    await ctx.start(_scope(ctx).goto_hadec(ha, dec, replace=False))
    _remember(ctx, target_name, {"ha": ha, "dec": dec})


@instruction("telescope", verb="telescope.goto_altaz", params=("az", "alt"), words=GOTO_RANGES)
async def got_az_al(ctx: Context, az: float, alt: float, target_name: str | None = None) -> None:
    """Slew to azimuth (from north through east) / altitude, degrees (the
    original's spelling and order: the verb's is alt, az); the mount stops there."""
    await ctx.start(_scope(ctx).goto_altaz(alt, az, replace=False))
    _remember(ctx, target_name, {"az": az, "alt": alt})


@instruction("telescope", verb="telescope.abort")
async def abort(ctx: Context) -> None:
    """Stop every motion (TELESCOPE_ABORT_MOTION), gotos and held buttons alike."""
    await _scope(ctx).abort()
    ctx.endpoint.memory.get("pressed", set()).clear()


# ---------------------------------------------------------------- park and home


@instruction("telescope", verb="telescope.park")
async def park(ctx: Context) -> None:
    """Park; answers once parking has started."""
    await ctx.start(_scope(ctx).park())


@instruction("telescope", verb="telescope.unpark")
async def unpark(ctx: Context) -> None:
    await ctx.start(_scope(ctx).unpark())


@instruction("telescope")
async def set_park(ctx: Context, ha: float | None = None, dec: float | None = None) -> None:
    """Park here (no params), or at hour angle (hours) / Dec (degrees)."""
    scope = _scope(ctx)
    if (ha is None) != (dec is None):
        raise LightAptError("set_park takes no params (park here) or [ha, dec]")
    if ha is None:
        await scope.set_park_position("current")
    else:
        await scope.set_park_position(None, ha=ha, dec=dec)  # type: ignore[arg-type]


@instruction("telescope", verb="telescope.home")
async def go_home(ctx: Context) -> None:
    """Go to the home position where the driver has one (TELESCOPE_HOME)."""
    await ctx.start(_scope(ctx).home())
