"""FITS header cards added to a stored frame: what the observer gave and
what the service knows, beside what the driver wrote.

Pure functions over bytes.  The primary header is edited in place: cards
go before ``END`` in the header's own 2880-byte blocks (a block is added
only when they do not fit), and the data that follows is not touched or
decoded.  A key the driver wrote already is kept as the driver wrote it,
except the observer's and the roles' own facts (`OVERRIDE`: OBJECT, FILTER,
and the pointing the telescope role's mount reported: RA, DEC, OBJCTRA,
OBJCTDEC, EQUINOX, PIERSIDE, TELESCOP, SITELAT, SITELONG, SITEELEV), the
cards of the frame's star analysis (``analysis``: STARCNT, HFR, ...) and
the cards given explicitly in the metadata's ``fits_cards`` (see
`cards_from_metadata`), which replace it.

The pointing: a camera driver writes RA/DEC of the mount it snoops (INDI's
ACTIVE_DEVICES, set in the driver, which may not be the mount of the
telescope role, and read when the frame is written, not when the exposure
started).  The role's mount wins; the driver's own RA and DEC stay in the
header as CAMRA and CAMDEC (`KEPT_AS`).  With no telescope role, the
driver's cards stay as it wrote them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BLOCK",
    "KEPT_AS",
    "OVERRIDE",
    "Card",
    "add_cards",
    "cards_from_metadata",
    "check_fits_cards",
    "enrich",
    "format_card",
    "is_fits",
]

BLOCK = 2880
CARD = 80
#: Keys whose value from the metadata replaces the driver's.
OVERRIDE = frozenset(
    {
        "OBJECT",
        "FILTER",
        "RA",
        "DEC",
        "OBJCTRA",
        "OBJCTDEC",
        "EQUINOX",
        "PIERSIDE",
        "TELESCOP",
        "SITELAT",
        "SITELONG",
        "SITEELEV",
    }
)
#: A driver's card replaced by ours is kept under this other key.
KEPT_AS = {"RA": "CAMRA", "DEC": "CAMDEC"}
#: (key, value, comment); a None value is left out.
Card = tuple[str, Any, str]

_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")
#: Keys that describe the file's structure (its data's size and type, its
#: extensions, the compression of a tile-compressed frame, checksums) or
#: the header itself: a card from the metadata may never replace them (an
#: ``NAXIS1`` of 100000 made a corrupt file).
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|END|XTENSION|PCOUNT|GCOUNT|GROUPS|BZERO|BSCALE|BLANK"
    r"|TFIELDS|T(FORM|TYPE|UNIT|SCAL|ZERO|NULL|DISP|DIM)\d+|THEAP|EXTNAME|EXTVER|EXTLEVEL"
    r"|Z[A-Z0-9_-]*|CHECKSUM|DATASUM|CONTINUE|COMMENT|HISTORY)$"
)


def check_fits_cards(cards: Any) -> None:
    """Refuse ``fits_cards`` of a frame's metadata that FITS cannot hold or
    that would change the file's structure (ValueError naming the key)."""
    if cards is None:
        return
    if not isinstance(cards, Mapping):
        raise ValueError("fits_cards must map FITS keys to values (or [value, comment])")
    for key, item in cards.items():
        name = str(key).upper()
        if not _KEY.match(name):
            raise ValueError(f"fits_cards: key {key!r}: a FITS key is 1-8 of A-Z 0-9 _ -")
        if _STRUCTURAL.match(name):
            raise ValueError(
                f"fits_cards: {name} describes the file's structure or the header itself; "
                "it cannot be set from metadata"
            )
        value, comment = item if isinstance(item, list | tuple) and len(item) == 2 else (item, "")
        try:
            format_card(name, value, str(comment))
        except (ValueError, TypeError) as error:
            raise ValueError(f"fits_cards: {name}: {error}") from None


_IMAGETYP = {
    "light": "Light Frame",
    "dark": "Dark Frame",
    "flat": "Flat Field",
    "bias": "Bias Frame",
}


def is_fits(data: bytes | memoryview, fmt: str = ".fits") -> bool:
    """A plain or tile-compressed FITS file (its primary header is editable)."""
    return bytes(data[:9]) == b"SIMPLE  =" and (".fit" in fmt.lower() or ".fts" in fmt.lower())


def format_card(key: str, value: Any, comment: str = "") -> bytes:
    """One 80-character header card (fixed format), ValueError for what FITS cannot hold."""
    key = key.upper()
    if not _KEY.match(key):
        raise ValueError(f"FITS key must be 1-8 of A-Z 0-9 _ -, got {key!r}")
    if isinstance(value, bool):
        text = ("T" if value else "F").rjust(20)
    elif isinstance(value, int):
        text = str(value).rjust(20)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"FITS card {key}: {value} is not a number FITS can hold")
        text = repr(value).upper()
        if "." not in text and "E" not in text:
            text += ".0"
        text = text.rjust(20)
    elif isinstance(value, str):
        clean = "".join(ch if " " <= ch <= "~" else "?" for ch in value)[:68]
        text = "'" + clean.replace("'", "''").ljust(8) + "'"
        if len(text) > 70:
            text = "'" + clean[:30].replace("'", "''") + "'"
    else:
        raise ValueError(f"FITS card {key}: {type(value).__name__} values cannot be stored")
    card = f"{key:<8}= {text}"
    if comment:
        card += " / " + "".join(ch if " " <= ch <= "~" else "?" for ch in comment)
    return card[:CARD].ljust(CARD).encode("ascii")


def _sexagesimal(value: float, hours: bool) -> str:
    sign = "-" if value < 0 else ("" if hours else "+")
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    if round(s, 2) >= 60:
        s, m = 0.0, m + 1
    if m >= 60:
        m, d = m - 60, d + 1
    return f"{sign}{d:02d} {m:02d} {s:05.2f}" if hours else f"{sign}{d:02d} {m:02d} {s:04.1f}"


def cards_from_metadata(meta: Mapping[str, Any], *, frame_id: str | None = None) -> list[Card]:
    """The cards a frame's metadata gives (see docs/frames.md for the list).

    ``meta["fits_cards"]``, a mapping key → value or (value, comment), is the
    place for cards computed elsewhere (image analysis: HFR, star count):
    they come last and replace any card of the same key.
    """
    m = meta
    frame_type = str(m.get("frame_type") or "").lower()
    binning = m.get("binning")
    bx, by = binning if isinstance(binning, list | tuple) and len(binning) == 2 else (None, None)
    ra, dec = m.get("ra"), m.get("dec")
    cards: list[Card] = [
        ("OBJECT", m.get("object"), "target, as the observer named it"),
        ("FILTER", m.get("filter"), "filter in the light path (filter wheel role)"),
        ("EXPTIME", m.get("exposure"), "[s] exposure time"),
        ("IMAGETYP", _IMAGETYP.get(frame_type), "frame type"),
        ("XBINNING", bx, "binning factor, x"),
        ("YBINNING", by, "binning factor, y"),
        ("GAIN", m.get("gain"), "sensor gain"),
        ("OFFSET", m.get("offset"), "sensor offset"),
        ("CCD-TEMP", m.get("temperature"), "[C] sensor temperature"),
        ("DATE-OBS", _fits_time(m.get("started")), "UTC start of the exposure"),
        ("INSTRUME", m.get("camera"), "camera"),
        ("TELESCOP", m.get("telescope"), "mount"),
        ("RA", None if ra is None else float(ra) * 15.0, "[deg] J2000 pointing (mount)"),
        ("DEC", None if dec is None else float(dec), "[deg] J2000 pointing (mount)"),
        ("OBJCTRA", None if ra is None else _sexagesimal(float(ra), True), "J2000 RA, h m s"),
        ("OBJCTDEC", None if dec is None else _sexagesimal(float(dec), False), "J2000 Dec"),
        ("EQUINOX", 2000.0 if ra is not None else None, "equinox of RA, DEC"),
        ("PIERSIDE", m.get("pier_side"), "side of the pier"),
        ("SITELAT", m.get("site_latitude"), "[deg] site latitude"),
        ("SITELONG", m.get("site_longitude"), "[deg] site longitude, east positive"),
        ("SITEELEV", m.get("site_elevation"), "[m] site elevation"),
        ("FOCUSER", m.get("focuser"), "focuser"),
        ("FOCPOS", m.get("focuser_position"), "[step] focuser position"),
        ("FOCTEMP", m.get("focuser_temperature"), "[C] focuser temperature"),
        ("FWHEEL", m.get("filter_wheel"), "filter wheel"),
        ("FRAMEID", frame_id, "indiws frame id (/blobs/<id>)"),
    ]
    cards.extend(_guiding_cards(m))
    cards.extend(_analysis_cards(m))
    extra = m.get("fits_cards")
    if isinstance(extra, Mapping):
        for key, item in extra.items():
            if _STRUCTURAL.match(str(key).upper()):
                continue  # refused where metadata comes in (check_fits_cards); never written
            value, comment = item if isinstance(item, list | tuple) else (item, "")
            cards.append((str(key).upper(), value, str(comment)))
    return cards


def _guiding_cards(meta: Mapping[str, Any]) -> list[Card]:
    """The guiding during the exposure (``meta["guiding"]``): RMS in
    arcseconds where the guide scale is known, else in guide pixels."""
    g = meta.get("guiding")
    if not isinstance(g, Mapping) or not g.get("frames"):
        return []
    arcsec = g.get("arcsec") if isinstance(g.get("arcsec"), Mapping) else None
    source, unit = (arcsec, "arcsec") if arcsec else (g, "guide px")
    return [
        ("GUIDRMS", source.get("rms_total"), f"[{unit}] guiding RMS, total"),
        ("GUIDRMSR", source.get("rms_ra"), f"[{unit}] guiding RMS, RA"),
        ("GUIDRMSD", source.get("rms_dec"), f"[{unit}] guiding RMS, Dec"),
        ("GUIDFRMS", g.get("frames"), "guide frames during the exposure"),
    ]


def _analysis_cards(meta: Mapping[str, Any]) -> list[Card]:
    """The cards of the frame's star analysis (``meta["analysis"]``: STARCNT,
    HFR, FWHM, ...), which replace stale ones of the same key."""
    analysis = meta.get("analysis")
    if not isinstance(analysis, Mapping):
        return []
    from .analysis.stars import fits_cards  # numpy/sep only when a frame was analysed

    return fits_cards(dict(analysis))


def _fits_time(text: Any) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    return text.removesuffix("Z").removesuffix("+00:00")


def add_cards(
    data: bytes,
    cards: Iterable[Card],
    *,
    replace: Iterable[str] = OVERRIDE,
    kept_as: Mapping[str, str] = KEPT_AS,
) -> bytes:
    """``data`` with ``cards`` in its primary header; the rest byte for byte.

    A card whose key is present already is skipped, unless the key is in
    ``replace`` (or is given twice, the later wins); a replaced card whose
    key is in ``kept_as`` stays under that other key.  Cards FITS cannot
    hold (a bad key, a value of another type) are skipped too.  Data that
    is not FITS, or a header without END, comes back unchanged.
    """
    end = _header_end(data)
    if end is None:
        return data
    header_len = -(-(end + CARD) // BLOCK) * BLOCK
    existing = [data[i : i + CARD] for i in range(0, end, CARD)]
    replace = {k.upper() for k in replace}
    new: dict[str, bytes] = {}
    for key, value, comment in cards:
        if value is None:
            continue
        try:
            card = format_card(key, value, comment)
        except ValueError:
            continue
        new[key.upper()] = card
    keep: list[bytes] = []
    for card in existing:
        key = card[:8].decode("ascii", "replace").strip()
        if key in new:
            if key in replace:
                other = kept_as.get(key)
                if other is not None and other not in new and _KEY.match(other):
                    keep.append(other.ljust(8).encode("ascii") + card[8:])
                continue  # ours replaces the driver's
            del new[key]  # the driver's stays
        keep.append(card)
    if not new:
        return data
    body = b"".join(keep) + b"".join(new.values()) + b"END".ljust(CARD)
    body += b" " * (-len(body) % BLOCK)
    return body + data[header_len:]


def enrich(data: bytes, fmt: str, meta: Mapping[str, Any], frame_id: str | None = None) -> bytes:
    """A FITS frame with the cards of its metadata added (`cards_from_metadata`);
    any other format unchanged.  The one place a stored frame's header grows."""
    if not is_fits(data, fmt):
        return data
    extra = meta.get("fits_cards")
    given = {str(k).upper() for k in extra} if isinstance(extra, Mapping) else set()
    replace = OVERRIDE | {key for key in given if not _STRUCTURAL.match(key)}
    replace |= {key for key, _, _ in _analysis_cards(meta)}
    return add_cards(data, cards_from_metadata(meta, frame_id=frame_id), replace=replace)


def _header_end(data: bytes) -> int | None:
    """Offset of the END card of the primary header, None if there is none."""
    if data[:9] != b"SIMPLE  =":
        return None
    limit = min(len(data), 200 * BLOCK)
    for i in range(0, limit - CARD + 1, CARD):
        if data[i : i + 3] == b"END" and data[i + 3 : i + CARD].strip() == b"":
            return i
    return None
