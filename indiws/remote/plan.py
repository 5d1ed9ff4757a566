"""Imaging plans: a YAML file, checked in full before anything moves.

`load_plan` reads a plan (docs/sequences.md describes every key) and returns
a `Plan`, or raises `PlanError` listing every problem with its key path and
line (``plan.yaml:7: targets[0].ra: 25:00:00 is not an hour angle ...``).
`frames` expands a plan into the frames it takes, each with the file name it
is written under; a run resumes by skipping the names its manifest holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .catalog import lookup

__all__ = [
    "FRAME_TYPES",
    "indiserver_unreachable",
    "CameraSetup",
    "Autofocus",
    "Center",
    "Dither",
    "Exposure",
    "Frame",
    "Guiding",
    "MeridianFlip",
    "OnFailure",
    "Plan",
    "PlanError",
    "Problem",
    "Quality",
    "Site",
    "Target",
    "check_notify_url",
    "frames",
    "load_plan",
    "parse_dec",
    "parse_plan",
    "parse_ra",
]

FRAME_TYPES = ("light", "dark", "flat", "bias")
#: Frame types taken with the telescope on the target (darks, flats and bias need no sky).
SKY_FRAMES = ("light",)


# ---------------------------------------------------------------- YAML with lines


class _Map(dict):
    """A mapping of the plan that remembers the line of each key."""

    line: int = 0
    lines: dict[Any, int]


class _Seq(list):
    line: int = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, keeping line numbers (1-based) for errors."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


# ---------------------------------------------------------------- errors


def indiserver_unreachable(link: dict[str, Any]) -> str:
    """Why no device can be used: the service has no indiserver (``link``
    is the status's ``indiserver``: host, port, last_error)."""
    where = f" at {link['host']}:{link['port']}" if link.get("host") else ""
    why = f" ({link['last_error']})" if link.get("last_error") else ""
    return (
        f"the service cannot reach its indiserver{where}{why}: start indiserver there, "
        "or give the service the right --indi-host/--indi-port"
    )


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    message: str

    def format(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PlanError(Exception):
    """A plan that cannot run; ``problems`` names each key, its line and what is wrong."""

    def __init__(self, problems: list[Problem], source: str = "plan") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(p.format(source) for p in problems))


class _Checker:
    """Collects problems while a plan is read."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, line: int, message: str) -> None:
        self.problems.append(Problem(path, line, message))

    def section(self, value: Any, path: str, line: int, keys: dict[str, str]) -> _Map | None:
        """A mapping with only known keys; None (and a problem) otherwise."""
        if not isinstance(value, dict):
            self.add(path, line, f"must be a mapping (keys: {', '.join(keys)}), not {_kind(value)}")
            return None
        for key in value:
            if key not in keys:
                self.add(
                    _join(path, key),
                    _line_of(value, key, line),
                    f"unknown key {key!r} (known: {', '.join(keys)})",
                )
        return value if isinstance(value, _Map) else _as_map(value, line)

    def number(
        self,
        m: _Map,
        key: str,
        path: str,
        *,
        default: Any = None,
        low: float | None = None,
        high: float | None = None,
        integer: bool = False,
        above: bool = False,
    ) -> Any:
        if key not in m or m[key] is None:
            return default
        value, line, where = m[key], _line_of(m, key, m.line), _join(path, key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.add(
                where, line, f"must be a {'whole ' if integer else ''}number, not {_kind(value)}"
            )
            return default
        if integer and value != int(value):
            self.add(where, line, f"must be a whole number, not {value}")
            return default
        if low is not None and (value <= low if above else value < low):
            self.add(
                where, line, f"must be {'above' if above else 'at least'} {low:g}, not {value:g}"
            )
            return default
        if high is not None and value > high:
            self.add(where, line, f"must be at most {high:g}, not {value:g}")
            return default
        return int(value) if integer else float(value)

    def boolean(self, m: _Map, key: str, path: str, default: bool) -> bool:
        if key not in m or m[key] is None:
            return default
        if not isinstance(m[key], bool):
            self.add(
                _join(path, key),
                _line_of(m, key, m.line),
                f"must be true or false, not {_kind(m[key])}",
            )
            return default
        return m[key]

    def text(self, m: _Map, key: str, path: str, *, required: bool = False) -> str | None:
        if key not in m or m[key] is None:
            if required:
                self.add(_join(path, key), m.line, "is required")
            return None
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(
                _join(path, key), _line_of(m, key, m.line), f"must be a text, not {_kind(value)}"
            )
            return None
        text = str(value).strip()
        if not text:
            self.add(_join(path, key), _line_of(m, key, m.line), "must not be empty")
            return None
        return text

    def time(self, m: _Map, key: str, path: str) -> datetime | None:
        if key not in m or m[key] is None:
            return None
        value = m[key]
        line, where = _line_of(m, key, m.line), _join(path, key)
        if isinstance(value, datetime):
            when = value
        else:
            try:
                when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                self.add(
                    where,
                    line,
                    f"must be an ISO 8601 time such as 2026-12-01T21:30:00Z, not {value!r}",
                )
                return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)  # a time without zone is UTC


def _as_map(value: dict, line: int) -> _Map:
    out = _Map(value)
    out.line, out.lines = line, {}
    return out


def _line_of(m: Any, key: Any, default: int) -> int:
    return getattr(m, "lines", {}).get(key, default) if isinstance(m, dict) else default


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


# ---------------------------------------------------------------- coordinates

_SEXAGESIMAL = re.compile(
    r"^\s*([+-])?\s*(\d+(?:\.\d*)?)\s*[:hHdD° ]\s*(\d+(?:\.\d*)?)\s*"
    r"(?:[:mM' ]\s*(\d+(?:\.\d*)?)\s*[sS\"]?)?\s*$"
)


def _sexagesimal(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = _SEXAGESIMAL.match(text)
    if not m:
        raise ValueError("not a number nor HH:MM:SS")
    sign, a, b, c = m.groups()
    minutes, seconds = float(b), float(c or 0)
    if minutes >= 60 or seconds >= 60:
        raise ValueError("minutes and seconds must be below 60")
    out = float(a) + minutes / 60 + seconds / 3600
    return -out if sign == "-" else out


def parse_ra(value: Any) -> float:
    """Right ascension in hours: "05:35:17.3", "5h35m17.3s", 5.588 (0 <= ra < 24)."""
    try:
        hours = _sexagesimal(value)
    except ValueError as exc:
        raise ValueError(
            f'{value!r} is not a right ascension ({exc}): give hours, e.g. "05:35:17.3" or 5.588'
        ) from None
    if not 0 <= hours < 24:
        raise ValueError(f"{value!r} is not a right ascension: hours must be from 0 to below 24")
    return hours


def parse_dec(value: Any) -> float:
    """Declination in degrees: "-05:23:28", "+41d16m09s", -5.39 (-90..90)."""
    try:
        degrees = _sexagesimal(value)
    except ValueError as exc:
        raise ValueError(
            f'{value!r} is not a declination ({exc}): give degrees, e.g. "-05:23:28" or -5.39'
        ) from None
    if not -90 <= degrees <= 90:
        raise ValueError(f"{value!r} is not a declination: degrees must be from -90 to 90")
    return degrees


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Site:
    latitude: float
    longitude: float
    elevation: float = 0.0


@dataclass(frozen=True, slots=True)
class CameraSetup:
    temperature: float | None = None
    wait_cooling: bool = False
    cooling_timeout: float = 900.0
    tolerance: float = 0.5


@dataclass(frozen=True, slots=True)
class Dither:
    every: int  # light frames between dithers
    offset: float = 30.0  # largest offset, arcseconds
    settle: float = 5.0  # seconds after the move


@dataclass(frozen=True, slots=True)
class Autofocus:
    """When to run ``focuser.autofocus`` and with what (docs/sequences.md)."""

    at_start: bool = True  # before the first light frame of each target
    every: int | None = None  # light frames between runs
    on_filter_change: bool = False
    hfr_rise: float | None = None  # percent over the HFR after the last focus
    exposure: float = 2.0
    step: int | None = None
    steps: int = 9
    binning: int | None = None
    filter: str | None = None  # the filter to focus with (default: the frame's)
    min_stars: int = 8

    def params(self) -> dict[str, Any]:
        """The arguments of ``focuser.autofocus``."""
        return {
            "exposure": self.exposure,
            "step": self.step,
            "steps": self.steps,
            "binning": self.binning,
            "min_stars": self.min_stars,
        }


@dataclass(frozen=True, slots=True)
class Center:
    """Plate-solve centering (``telescope.center``) after each slew to a target."""

    tolerance: float = 30.0  # arcsec
    attempts: int = 5
    exposure: float = 2.0
    binning: int | None = None
    on_failure: str = "continue"  # or "skip" the target


@dataclass(frozen=True, slots=True)
class Quality:
    """Per-frame rejection from the frame's analysis; a rejected frame is kept
    on disk, marked rejected, and taken again at most ``retakes`` times."""

    max_hfr: float | None = None  # pixels
    min_stars: int | None = None
    retakes: int = 2

    def reject(self, analysis: dict[str, Any] | None) -> str | None:
        """Why a frame with this analysis is rejected, or None."""
        a = analysis or {}
        stars, hfr = a.get("stars"), a.get("hfr")
        if self.min_stars is not None and (stars or 0) < self.min_stars:
            return f"{stars or 0} stars, fewer than min_stars {self.min_stars}"
        if self.max_hfr is not None and (hfr is None or hfr > self.max_hfr):
            shown = "no HFR" if hfr is None else f"HFR {hfr:.2f}"
            return f"{shown}, over max_hfr {self.max_hfr:g}"
        return None


@dataclass(frozen=True, slots=True)
class Exposure:
    duration: float
    count: int = 1
    filter: str | None = None
    binning: int = 1
    frame_type: str = "light"
    gain: float | None = None
    offset: float | None = None
    path: str = ""
    line: int = 0


@dataclass(slots=True)
class Target:
    name: str
    exposures: list[Exposure]
    ra: float | None = None  # hours, J2000
    dec: float | None = None  # degrees, J2000
    coordinates_from: str = "plan"  # or "catalogue"
    repeat: int = 1
    start: datetime | None = None
    min_altitude: float | None = None
    dither: Dither | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    autofocus: Autofocus | None = None
    center: Center | None = None
    quality: Quality | None = None
    guiding: Guiding | None = None
    path: str = ""
    line: int = 0

    @property
    def needs_sky(self) -> bool:
        return any(e.frame_type in SKY_FRAMES for e in self.exposures)


@dataclass(frozen=True, slots=True)
class Guiding:
    """Guide light frames with the service's autoguider (service plans):
    start guiding after each slew and centering, dither through it, and
    start a frame only once the guider settled within ``settle_pixels``
    for ``settle_time`` s (failing after ``settle_timeout`` s)."""

    settle_pixels: float = 1.5
    settle_time: float = 10.0
    settle_timeout: float = 120.0
    #: Dither amount in guide camera pixels (None: the dither's offset in
    #: arcseconds over the guide camera's scale).
    dither_pixels: float | None = None
    ra_only: bool = False


@dataclass(frozen=True, slots=True)
class MeridianFlip:
    """Flip when the target is ``after_minutes`` past the meridian (service plans)."""

    after_minutes: float = 5.0
    #: The latest the flip may happen (minutes past the meridian): an exposure
    #: that would end later is aborted and taken again after the flip.
    max_minutes: float | None = None
    #: Minutes before the flip to stop starting exposures (0: finish the one running).
    pause_before: float = 0.0


@dataclass(frozen=True, slots=True)
class OnFailure:
    """What the service's engine does when the indiserver or a device is lost."""

    wait: float = 1800.0  # seconds to wait for it to come back before the plan fails


@dataclass(slots=True)
class Plan:
    targets: list[Target]
    site: Site | None = None
    camera: CameraSetup = field(default_factory=CameraSetup)
    park: bool = False
    retries: int = 2
    dither: Dither | None = None
    autofocus: Autofocus | None = None
    center: Center | None = None
    quality: Quality | None = None
    guiding: Guiding | None = None
    focuser_offsets: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    #: Service plans: frames are not started after this time.
    end: datetime | None = None
    #: Service plans: light frames only while the Sun is at most this high (degrees).
    sun_max_altitude: float | None = None
    meridian_flip: MeridianFlip | None = None
    on_failure: OnFailure = field(default_factory=OnFailure)
    #: Service plans: URLs that get a JSON POST for the plan's main events.
    notify: list[str] = field(default_factory=list)
    source: str = "plan"
    #: Where each filter name is used (key path, line), for errors found against the service.
    filter_lines: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


TOP_KEYS = {
    "site": "",
    "camera": "",
    "targets": "",
    "park": "",
    "retries": "",
    "dither": "",
    "focuser_offsets": "",
    "metadata": "",
    "start": "",
    "min_altitude": "",
    "autofocus": "",
    "center": "",
    "quality": "",
    "end": "",
    "sun_max_altitude": "",
    "meridian_flip": "",
    "on_failure": "",
    "notify": "",
    "guiding": "",
}
GUIDING_KEYS = {"settle": "", "dither_pixels": "", "ra_only": ""}
SETTLE_KEYS = {"pixels": "", "time": "", "timeout": ""}
FLIP_KEYS = {"after_minutes": "", "max_minutes": "", "pause_before": ""}
ON_FAILURE_KEYS = {"wait": ""}
SITE_KEYS = {"latitude": "", "longitude": "", "elevation": ""}
CAMERA_KEYS = {"temperature": "", "wait_cooling": "", "cooling_timeout": "", "tolerance": ""}
DITHER_KEYS = {"every": "", "offset": "", "settle": ""}
AUTOFOCUS_KEYS = {
    k: ""
    for k in (
        "at_start",
        "every",
        "on_filter_change",
        "hfr_rise",
        "exposure",
        "step",
        "steps",
        "binning",
        "filter",
        "min_stars",
    )
}
CENTER_KEYS = {k: "" for k in ("tolerance", "attempts", "exposure", "binning", "on_failure")}
QUALITY_KEYS = {"max_hfr": "", "min_stars": "", "retakes": ""}
CENTER_FAILURE = ("continue", "skip")
TARGET_KEYS = {
    "name": "",
    "ra": "",
    "dec": "",
    "exposures": "",
    "repeat": "",
    "start": "",
    "min_altitude": "",
    "dither": "",
    "metadata": "",
    "autofocus": "",
    "center": "",
    "quality": "",
    "guiding": "",
}
EXPOSURE_KEYS = {
    "filter": "",
    "duration": "",
    "count": "",
    "binning": "",
    "frame_type": "",
    "gain": "",
    "offset": "",
}
_FITS_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; `PlanError` names every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(
            [Problem("", 0, f"cannot read the plan: {exc.strerror or exc}")], str(path)
        ) from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "plan") -> Plan:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        context, where = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and where is not None:
            problem = f"{context} (line {where.line + 1}): {problem}"
        raise PlanError([Problem("", line, f"not valid YAML: {problem}")], source) from None
    check = _Checker()
    top = check.section(data, "", 1, TOP_KEYS) if data is not None else None
    if top is None:
        if data is None:
            check.add("", 1, "the plan is empty: it needs at least 'targets'")
        raise PlanError(check.problems, source)
    plan = Plan(targets=[], source=source)
    if "site" in top and top["site"] is not None:
        s = check.section(top["site"], "site", _line_of(top, "site", 1), SITE_KEYS)
        if s is not None:
            lat = check.number(s, "latitude", "site", low=-90, high=90)
            lon = check.number(s, "longitude", "site", low=-180, high=360)
            elev = check.number(s, "elevation", "site", default=0.0, low=-500, high=10000)
            for key, value in (("latitude", lat), ("longitude", lon)):
                if value is None and key not in s:
                    check.add(f"site.{key}", s.line, "is required")
            if lat is not None and lon is not None:
                plan.site = Site(lat, lon - 360 if lon > 180 else lon, elev)
    if "camera" in top and top["camera"] is not None:
        c = check.section(top["camera"], "camera", _line_of(top, "camera", 1), CAMERA_KEYS)
        if c is not None:
            plan.camera = CameraSetup(
                temperature=check.number(c, "temperature", "camera", low=-100, high=50),
                wait_cooling=check.boolean(c, "wait_cooling", "camera", False),
                cooling_timeout=check.number(
                    c, "cooling_timeout", "camera", default=900.0, low=0, above=True
                ),
                tolerance=check.number(c, "tolerance", "camera", default=0.5, low=0, above=True),
            )
            if (
                plan.camera.wait_cooling
                and plan.camera.temperature is None
                and "temperature" not in c
            ):
                check.add(
                    "camera.wait_cooling",
                    _line_of(c, "wait_cooling", c.line),
                    "needs camera.temperature",
                )
    plan.park = check.boolean(top, "park", "", False)
    plan.retries = check.number(top, "retries", "", default=2, low=0, high=100, integer=True)
    plan.start = check.time(top, "start", "")
    plan.end = check.time(top, "end", "")
    if plan.start is not None and plan.end is not None and plan.end <= plan.start:
        check.add("end", _line_of(top, "end", 1), "must be after start")
    plan.sun_max_altitude = check.number(top, "sun_max_altitude", "", low=-90, high=90)
    if "meridian_flip" in top and top["meridian_flip"] not in (None, False):
        line = _line_of(top, "meridian_flip", 1)
        raw = {} if top["meridian_flip"] is True else top["meridian_flip"]
        f = check.section(raw, "meridian_flip", line, FLIP_KEYS)
        if f is not None:
            after = check.number(f, "after_minutes", "meridian_flip", default=5.0, low=0, high=120)
            latest = check.number(f, "max_minutes", "meridian_flip", low=0, high=240)
            if latest is not None and latest < after:
                check.add("meridian_flip.max_minutes", line, "must be at least after_minutes")
            plan.meridian_flip = MeridianFlip(
                after,
                latest,
                check.number(f, "pause_before", "meridian_flip", default=0.0, low=0, high=120),
            )
    if "on_failure" in top and top["on_failure"] is not None:
        o = check.section(
            top["on_failure"], "on_failure", _line_of(top, "on_failure", 1), ON_FAILURE_KEYS
        )
        if o is not None:
            plan.on_failure = OnFailure(
                check.number(o, "wait", "on_failure", default=1800.0, low=0, high=7 * 86400)
            )
    if "notify" in top and top["notify"] is not None:
        raw_urls = top["notify"]
        line = _line_of(top, "notify", 1)
        urls = [raw_urls] if isinstance(raw_urls, str) else raw_urls
        if not isinstance(urls, list):
            check.add("notify", line, f"must be a URL or a list of URLs, not {_kind(raw_urls)}")
        else:
            for n, url in enumerate(urls):
                problem = check_notify_url(url)
                if problem:
                    check.add(f"notify[{n}]", line, problem)
                else:
                    plan.notify.append(url)
    min_alt = check.number(top, "min_altitude", "", low=-90, high=90)
    plan.dither = _dither(check, top, "")
    plan.autofocus = _autofocus(check, top, "", plan)
    plan.center = _center(check, top, "")
    plan.guiding = _guiding(check, top, "")
    plan.quality = _quality(check, top, "")
    plan.metadata = _metadata(check, top, "")
    if "focuser_offsets" in top and top["focuser_offsets"] is not None:
        f = top["focuser_offsets"]
        line = _line_of(top, "focuser_offsets", 1)
        if not isinstance(f, dict):
            check.add("focuser_offsets", line, f"must map filter names to steps, not {_kind(f)}")
        else:
            for name in f:
                steps = check.number(
                    f, name, "focuser_offsets", integer=True, low=-1_000_000, high=1_000_000
                )
                if steps is not None:
                    plan.focuser_offsets[str(name)] = steps
                    plan.filter_lines.setdefault(str(name), []).append(
                        (f"focuser_offsets.{name}", _line_of(f, name, line))
                    )
    targets = top.get("targets")
    if targets is None:
        check.add(
            "targets",
            _line_of(top, "targets", 1),
            "is required: a list of targets, each with name and exposures",
        )
    elif not isinstance(targets, list) or not targets:
        check.add(
            "targets",
            _line_of(top, "targets", 1),
            f"must be a non-empty list, not {_kind(targets)}",
        )
    else:
        lines = getattr(targets, "lines", [0] * len(targets))
        for n, item in enumerate(targets):
            target = _target(check, item, f"targets[{n}]", lines[n], plan, min_alt)
            if target is not None:
                plan.targets.append(target)
        names = [t.name for t in plan.targets]
        for t in plan.targets:
            if names.count(t.name) > 1 and names.index(t.name) != plan.targets.index(t):
                check.add(
                    f"{t.path}.name",
                    t.line,
                    f"{t.name!r} names another target too: frame names would clash",
                )
    if check.problems:
        raise PlanError(check.problems, source)
    return plan


def check_notify_url(url: Any) -> str | None:
    """Why ``url`` cannot take notifications (None: it can): http(s) with a host."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url:
        return f"must be an http(s) URL, not {_kind(url)}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL with a host"
    return None


def _dither(check: _Checker, m: _Map, path: str) -> Dither | None:
    if "dither" not in m or m["dither"] is None or m["dither"] is False:
        return None
    where = _join(path, "dither")
    d = check.section(m["dither"], where, _line_of(m, "dither", m.line), DITHER_KEYS)
    if d is None:
        return None
    every = check.number(d, "every", where, integer=True, low=1, high=100000)
    if every is None:
        if "every" not in d:
            check.add(f"{where}.every", d.line, "is required (dither after this many light frames)")
        return None
    return Dither(
        every,
        check.number(d, "offset", where, default=30.0, low=0, high=3600, above=True),
        check.number(d, "settle", where, default=5.0, low=0, high=600),
    )


def _autofocus(check: _Checker, m: _Map, path: str, plan: Plan) -> Autofocus | None:
    """``autofocus:`` a mapping, ``true`` (at each target's start, defaults) or ``false``."""
    value = m.get("autofocus")
    if value is None or value is False:
        return None
    if value is True:
        return Autofocus()
    where = _join(path, "autofocus")
    a = check.section(value, where, _line_of(m, "autofocus", m.line), AUTOFOCUS_KEYS)
    if a is None:
        return None
    af = Autofocus(
        at_start=check.boolean(a, "at_start", where, True),
        every=check.number(a, "every", where, integer=True, low=1, high=100000),
        on_filter_change=check.boolean(a, "on_filter_change", where, False),
        hfr_rise=check.number(a, "hfr_rise", where, low=0, high=1000, above=True),
        exposure=check.number(a, "exposure", where, default=2.0, low=0, high=600, above=True),
        step=check.number(a, "step", where, integer=True, low=1, high=1_000_000),
        steps=check.number(a, "steps", where, default=9, integer=True, low=5, high=51),
        binning=check.number(a, "binning", where, integer=True, low=1, high=16),
        filter=check.text(a, "filter", where),
        min_stars=check.number(a, "min_stars", where, default=8, integer=True, low=1, high=100000),
    )
    if af.filter is not None:
        plan.filter_lines.setdefault(af.filter, []).append(
            (f"{where}.filter", _line_of(a, "filter", a.line))
        )
    if not (af.at_start or af.every or af.on_filter_change or af.hfr_rise):
        check.add(
            where,
            a.line,
            "never runs: at_start is false and no every, on_filter_change or hfr_rise is set",
        )
    return af


def _center(check: _Checker, m: _Map, path: str) -> Center | None:
    """``center:`` a mapping, ``true`` (the defaults) or ``false``."""
    value = m.get("center")
    if value is None or value is False:
        return None
    if value is True:
        return Center()
    where = _join(path, "center")
    c = check.section(value, where, _line_of(m, "center", m.line), CENTER_KEYS)
    if c is None:
        return None
    on_failure = "continue"
    if c.get("on_failure") is not None:
        on_failure = str(c["on_failure"]).lower()
        if on_failure not in CENTER_FAILURE:
            check.add(
                f"{where}.on_failure",
                _line_of(c, "on_failure", c.line),
                f"must be one of {', '.join(CENTER_FAILURE)}, not {c['on_failure']!r}",
            )
            on_failure = "continue"
    return Center(
        tolerance=check.number(c, "tolerance", where, default=30.0, low=0, high=36000, above=True),
        attempts=check.number(c, "attempts", where, default=5, integer=True, low=1, high=50),
        exposure=check.number(c, "exposure", where, default=2.0, low=0, high=600, above=True),
        binning=check.number(c, "binning", where, integer=True, low=1, high=16),
        on_failure=on_failure,
    )


def _guiding(check: _Checker, m: _Map, path: str) -> Guiding | None:
    """``guiding:`` a mapping, ``true`` (the defaults) or ``false``."""
    value = m.get("guiding")
    if value is None or value is False:
        return None
    if value is True:
        return Guiding()
    where = _join(path, "guiding")
    g = check.section(value, where, _line_of(m, "guiding", m.line), GUIDING_KEYS)
    if g is None:
        return None
    settle = Guiding()
    pixels, time_, timeout = settle.settle_pixels, settle.settle_time, settle.settle_timeout
    if g.get("settle") is not None:
        at = _join(where, "settle")
        st = check.section(g["settle"], at, _line_of(g, "settle", g.line), SETTLE_KEYS)
        if st is not None:
            pixels = check.number(st, "pixels", at, default=pixels, low=0, high=100, above=True)
            time_ = check.number(st, "time", at, default=time_, low=0, high=3600)
            timeout = check.number(st, "timeout", at, default=timeout, low=1, high=7200)
    ra_only = g.get("ra_only", False)
    if not isinstance(ra_only, bool):
        check.add(f"{where}.ra_only", _line_of(g, "ra_only", g.line), "must be true or false")
        ra_only = False
    return Guiding(
        settle_pixels=pixels,
        settle_time=time_,
        settle_timeout=timeout,
        dither_pixels=check.number(g, "dither_pixels", where, low=0, high=1000, above=True),
        ra_only=ra_only,
    )


def _quality(check: _Checker, m: _Map, path: str) -> Quality | None:
    value = m.get("quality")
    if value is None or value is False:
        return None
    where = _join(path, "quality")
    q = check.section(value, where, _line_of(m, "quality", m.line), QUALITY_KEYS)
    if q is None:
        return None
    quality = Quality(
        max_hfr=check.number(q, "max_hfr", where, low=0, high=1000, above=True),
        min_stars=check.number(q, "min_stars", where, integer=True, low=1, high=1_000_000),
        retakes=check.number(q, "retakes", where, default=2, integer=True, low=0, high=100),
    )
    if quality.max_hfr is None and quality.min_stars is None and "max_hfr" not in q:
        if "min_stars" not in q:
            check.add(where, q.line, "needs max_hfr or min_stars")
    return quality


def _metadata(check: _Checker, m: _Map, path: str) -> dict[str, Any]:
    if "metadata" not in m or m["metadata"] is None:
        return {}
    where = _join(path, "metadata")
    meta = m["metadata"]
    line = _line_of(m, "metadata", m.line)
    if not isinstance(meta, dict):
        check.add(where, line, f"must map FITS keywords to values, not {_kind(meta)}")
        return {}
    out: dict[str, Any] = {}
    for key, value in meta.items():
        key_line = _line_of(meta, key, line)
        name = str(key).upper()
        if not _FITS_KEY.match(name):
            check.add(
                f"{where}.{key}", key_line, "a FITS keyword has 1 to 8 letters, digits, - or _"
            )
        elif not isinstance(value, str | int | float | bool) or (
            isinstance(value, str) and len(value) > 68
        ):
            check.add(
                f"{where}.{key}",
                key_line,
                "must be a number, true/false or a text of up to 68 characters",
            )
        elif isinstance(value, str) and not value.isascii():
            check.add(f"{where}.{key}", key_line, "FITS headers hold ASCII text only")
        else:
            out[name] = value
    return out


def _target(
    check: _Checker, item: Any, path: str, line: int, plan: Plan, min_alt: float | None
) -> Target | None:
    t = check.section(item, path, line, TARGET_KEYS)
    if t is None:
        return None
    name = check.text(t, "name", path, required=True)
    exposures: list[Exposure] = []
    raw = t.get("exposures")
    if raw is None:
        check.add(
            f"{path}.exposures", t.line, "is required: a list of {duration, count, filter, ...}"
        )
    elif not isinstance(raw, list) or not raw:
        check.add(
            f"{path}.exposures",
            _line_of(t, "exposures", t.line),
            f"must be a non-empty list, not {_kind(raw)}",
        )
    else:
        lines = getattr(raw, "lines", [t.line] * len(raw))
        for n, e in enumerate(raw):
            exposure = _exposure(check, e, f"{path}.exposures[{n}]", lines[n], plan)
            if exposure is not None:
                exposures.append(exposure)
    target = Target(
        name=name or "",
        exposures=exposures,
        repeat=check.number(t, "repeat", path, default=1, low=1, high=10000, integer=True),
        start=check.time(t, "start", path),
        min_altitude=check.number(t, "min_altitude", path, default=min_alt, low=-90, high=90),
        dither=_dither(check, t, path) if "dither" in t else plan.dither,
        autofocus=_autofocus(check, t, path, plan) if "autofocus" in t else plan.autofocus,
        center=_center(check, t, path) if "center" in t else plan.center,
        guiding=_guiding(check, t, path) if "guiding" in t else plan.guiding,
        quality=_quality(check, t, path) if "quality" in t else plan.quality,
        metadata=_metadata(check, t, path),
        path=path,
        line=t.line,
    )
    ra = dec = None
    for key, parse in (("ra", parse_ra), ("dec", parse_dec)):
        if key in t and t[key] is not None:
            try:
                value = parse(t[key])
            except ValueError as exc:
                check.add(f"{path}.{key}", _line_of(t, key, t.line), str(exc))
                continue
            if key == "ra":
                ra = value
            else:
                dec = value
    if ("ra" in t) != ("dec" in t):
        missing = "dec" if "ra" in t else "ra"
        check.add(
            f"{path}.{missing}", t.line, f"is required with {'ra' if missing == 'dec' else 'dec'}"
        )
    elif "ra" not in t and name:
        found = lookup(name)
        if found is not None:
            ra, dec = found.ra, found.dec
            target.coordinates_from = "catalogue"
        elif target.needs_sky or _sky_asked(raw):
            check.add(
                f"{path}.name",
                _line_of(t, "name", t.line),
                f"{name!r} is not in the catalogue (Messier, Caldwell, NGC/IC brighter than"
                " mag 12): give ra and dec",
            )
    target.ra, target.dec = ra, dec
    return target


def _sky_asked(raw: Any) -> bool:
    """Some exposure as written (read or not: one with another problem
    counts too, so that every problem is said at once) is of the sky."""
    items = raw if isinstance(raw, list) else []
    return any(
        isinstance(e, dict) and str(e.get("frame_type") or "light").lower() in SKY_FRAMES
        for e in items
    )


def _exposure(check: _Checker, item: Any, path: str, line: int, plan: Plan) -> Exposure | None:
    e = check.section(item, path, line, EXPOSURE_KEYS)
    if e is None:
        return None
    duration = check.number(e, "duration", path, low=0, high=86400, above=True)
    if duration is None and "duration" not in e:
        check.add(f"{path}.duration", e.line, "is required (seconds)")
    frame_type = "light"
    if "frame_type" in e and e["frame_type"] is not None:
        value = str(e["frame_type"]).lower()
        if value not in FRAME_TYPES:
            check.add(
                f"{path}.frame_type",
                _line_of(e, "frame_type", e.line),
                f"must be one of {', '.join(FRAME_TYPES)}, not {e['frame_type']!r}",
            )
        else:
            frame_type = value
    filter_name = check.text(e, "filter", path)
    if filter_name is not None:
        plan.filter_lines.setdefault(filter_name, []).append(
            (f"{path}.filter", _line_of(e, "filter", e.line))
        )
    count = check.number(e, "count", path, default=1, low=1, high=100000, integer=True)
    binning = check.number(e, "binning", path, default=1, low=1, high=16, integer=True)
    gain = check.number(e, "gain", path)
    offset = check.number(e, "offset", path)
    if duration is None:
        return None
    return Exposure(
        duration=duration,
        count=count,
        filter=filter_name,
        binning=binning,
        frame_type=frame_type,
        gain=gain,
        offset=offset,
        path=path,
        line=e.line,
    )


# ---------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a plan, with the file name it is written under."""

    file: str
    target: Target
    exposure: Exposure
    index: int  # 1-based, per target, filter, duration, type and binning
    number: int  # 1-based position in the whole plan


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "x"


def frame_file(target: Target, exposure: Exposure, index: int) -> str:
    parts = [_safe(target.name)]
    if exposure.frame_type != "light":
        parts.append(exposure.frame_type)
    parts.append(_safe(exposure.filter) if exposure.filter else "nofilter")
    parts.append(f"{exposure.duration:g}s")
    if exposure.binning != 1:
        parts.append(f"bin{exposure.binning}")
    return "_".join(parts) + f"_{index:04d}.fits"


def frames(plan: Plan) -> list[Frame]:
    """Every frame of the plan in the order it is taken: per target, its
    exposure list ``repeat`` times, each entry ``count`` frames."""
    out: list[Frame] = []
    for target in plan.targets:
        counters: dict[tuple[Any, ...], int] = {}
        for _ in range(target.repeat):
            for exposure in target.exposures:
                key = (exposure.frame_type, exposure.filter, exposure.duration, exposure.binning)
                for _ in range(exposure.count):
                    counters[key] = counters.get(key, 0) + 1
                    index = counters[key]
                    out.append(
                        Frame(
                            frame_file(target, exposure, index),
                            target,
                            exposure,
                            index,
                            len(out) + 1,
                        )
                    )
    return out
