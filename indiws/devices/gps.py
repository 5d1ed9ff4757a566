"""The gps role: the site and the time from a GPS, refreshed on request and
given to the telescope on request (never on its own: a mount's site is the
operator's choice)."""

from __future__ import annotations

from typing import Any

from ..client import InvalidValueError
from ..protocol import PropertyState
from ..verbs import UNSET, InvalidParamsError, NoParams, Params, Result, UnsetType, verb
from . import astro
from .base import RoleDevice
from .telescope import Site, Telescope

__all__ = ["GPS"]

# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------


class GpsFix(Result):
    """The GPS's site (degrees, longitude east positive; metres) and time (ISO 8601)."""

    latitude: float | None
    longitude: float | None
    elevation: float | None
    utc: str | None
    #: Hours.
    utc_offset: float | None
    #: The fix's INDI state (Ok once it has one).
    state: str | None


class GpsApplyParams(Params):
    site: bool = True
    time: bool = True
    refresh: bool = True


class GpsApplied(Result):
    """The fix, and what the mount was given."""

    fix: GpsFix
    #: The telescope role's device.
    telescope: str
    #: The mount's site, as set.
    site: Site | UnsetType = UNSET
    #: The mount's clock, as set.
    utc: str | UnsetType = UNSET


#: Seconds the fix may take to follow the driver's answer to GPS_REFRESH.
_FIX_AFTER_ANSWER = 5.0


class GpsCapabilities(Result):
    """What the GPS can do, from the properties it defines."""

    has_site: bool
    has_time: bool
    can_refresh: bool


class GPS(RoleDevice):
    """A GPS: the fix (GEOGRAPHIC_COORD, TIME_UTC) and GPS_REFRESH."""

    role = "gps"
    capabilities_shape = GpsCapabilities
    brief = GpsFix

    @verb("gps.fix", NoParams, GpsFix)
    def fix(self) -> dict[str, Any]:
        """The GPS's site and time: {latitude, longitude (east positive), elevation, utc,
        utc_offset, state}.

        longitude -180..180, elevation in metres, utc ISO 8601 as the GPS last
        said, utc_offset in hours, state the fix's INDI state (Ok once it has one)."""
        self._connected()
        return self._status()

    def _status(self) -> dict[str, Any]:
        site = self._optional("GEOGRAPHIC_COORD")
        time = self._optional("TIME_UTC")
        values = site.values() if site else {}
        lon = values.get("LONG")
        offset = time.values().get("OFFSET") if time else None
        try:
            offset_h = None if offset is None else float(offset)
        except ValueError:
            offset_h = None
        return {
            "latitude": values.get("LAT"),
            "longitude": None if lon is None else astro.longitude_east(float(lon)),
            "elevation": values.get("ELEV"),
            "utc": time.values().get("UTC") if time else None,
            "utc_offset": offset_h,
            "state": site.state.value if site else None,
        }

    def _capabilities(self) -> dict[str, Any]:
        return {
            "has_site": self.has("GEOGRAPHIC_COORD"),
            "has_time": self.has("TIME_UTC"),
            "can_refresh": self.has("GPS_REFRESH"),
        }

    @verb("gps.refresh", NoParams, GpsFix)
    async def refresh(self, *, timeout: float = 60.0) -> dict[str, Any]:
        """Ask for a new fix (GPS_REFRESH); answers gps.fix.

        It answers once the driver sent the fix: GPS_REFRESH no longer Busy and
        a new TIME_UTC and GEOGRAPHIC_COORD (those it defines) since the request.

        The driver answers GPS_REFRESH before it sends the new fix, so the
        answer alone would leave the previous (possibly minutes old) fix."""
        self._prop("GPS_REFRESH", "refresh")
        fresh = {n for n in ("TIME_UTC", "GEOGRAPHIC_COORD") if self.has(n)}
        async with self._action(
            "refresh", ["GPS_REFRESH", *fresh], timeout=timeout, quiet=True
        ) as act:
            await act.send("GPS_REFRESH", {"REFRESH": True})
            answered = False
            grace: float | None = None
            while not answered or fresh:
                within = None if grace is None else max(0.0, grace - act.elapsed)
                u = await act.next(within)
                if u is None:
                    missing = " and ".join(sorted(fresh))
                    raise act.fail(f"{act.device} answered the refresh but sent no new {missing}")
                if u.kind != "updated":
                    continue
                if u.state is PropertyState.ALERT:
                    raise act.fail(f"{act.device} could not get a fix ({u.name})")
                if u.state is PropertyState.BUSY:
                    continue  # still looking for a fix
                if u.name == "GPS_REFRESH":
                    answered = True
                    # The fix follows the answer at once; a driver that sends
                    # none must not leave the caller waiting for the timeout.
                    grace = act.elapsed + _FIX_AFTER_ANSWER
                else:
                    fresh.discard(u.name)
        return self.fix()

    @verb("gps.apply", GpsApplyParams, GpsApplied, needs=("telescope",))
    async def apply_to(
        self,
        telescope: Telescope,
        *,
        site: bool = True,
        time: bool = True,
        refresh: bool = True,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Set the telescope role's site (GEOGRAPHIC_COORD) and/or clock (TIME_UTC) from the GPS.

        After a refresh unless refresh is false. Result: {fix, telescope,
        site (the mount's, as set), utc (as set)}."""
        if not site and not time:
            raise InvalidParamsError("give site and/or time", param="site")
        self._connected()
        if site:
            self._prop("GEOGRAPHIC_COORD", "give a site")
            telescope._prop("GEOGRAPHIC_COORD", "take a site")
        if time:
            self._prop("TIME_UTC", "give the time")
            telescope._prop("TIME_UTC", "take the time")
        if refresh and self.has("GPS_REFRESH"):
            fix = await self.refresh(timeout=timeout)
        else:
            fix = self.fix()
        out: dict[str, Any] = {"fix": fix, "telescope": telescope.name}
        if site:
            if fix["latitude"] is None or fix["longitude"] is None:
                raise InvalidValueError(f"{self.name} has no position yet")
            out["site"] = await telescope.set_site(
                fix["latitude"], fix["longitude"], fix["elevation"]
            )
        if time:
            if not fix["utc"]:
                raise InvalidValueError(f"{self.name} has no time yet")
            try:
                when = astro.parse_utc(fix["utc"])
            except ValueError as exc:
                raise InvalidValueError(f"{self.name} gave an unreadable time: {exc}") from None
            out.update(await telescope.set_time(when))
        return out
