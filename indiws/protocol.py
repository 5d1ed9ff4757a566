"""The INDI protocol, without I/O.

`Parser` turns a byte stream, split anywhere, into typed INDI messages;
the ``*_bytes`` functions turn commands into bytes.  Nothing here touches a
socket, an event loop or a logger: errors in the stream come back as
`ProtocolError` values beside the messages, so the caller decides what to do.

The stream of an INDI connection is a sequence of top-level XML elements
with no enclosing document.  We frame it ourselves (find where each
top-level element ends) and parse each element on its own, so that one
malformed element loses only that element.  BLOB vectors take a fast path:
the base64 payload is sliced out of the buffer with `bytes.find` and
decoded with one `binascii.a2b_base64` call, instead of letting an XML
parser build a tree around a string of tens of megabytes.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "BLOBMode",
    "DefBLOB",
    "DefLight",
    "DefNumber",
    "DefSwitch",
    "DefText",
    "DefVector",
    "DelProperty",
    "EnableBLOB",
    "GetProperties",
    "Message",
    "NewVector",
    "OneBLOB",
    "OneValue",
    "Parser",
    "Permission",
    "PropertyKind",
    "PropertyState",
    "ProtocolError",
    "SetVector",
    "SwitchRule",
    "SwitchState",
    "enable_blob_bytes",
    "format_number",
    "get_properties_bytes",
    "new_vector_bytes",
    "parse_number",
]

PROTOCOL_VERSION = "1.7"


class PropertyKind(enum.StrEnum):
    TEXT = "Text"
    NUMBER = "Number"
    SWITCH = "Switch"
    LIGHT = "Light"
    BLOB = "BLOB"


class PropertyState(enum.StrEnum):
    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


class Permission(enum.StrEnum):
    RO = "ro"
    WO = "wo"
    RW = "rw"


class SwitchRule(enum.StrEnum):
    ONE_OF_MANY = "OneOfMany"
    AT_MOST_ONE = "AtMostOne"
    ANY_OF_MANY = "AnyOfMany"


class SwitchState(enum.StrEnum):
    ON = "On"
    OFF = "Off"


class BLOBMode(enum.StrEnum):
    NEVER = "Never"
    ALSO = "Also"
    ONLY = "Only"


def _enum(cls: type[enum.StrEnum], text: str | None, default: enum.StrEnum) -> enum.StrEnum:
    if text is None:
        return default
    text = text.strip()
    try:
        return cls(text)
    except ValueError:
        # Drivers are not always exact about case ("ok", "BUSY").
        for member in cls:
            if member.value.lower() == text.lower():
                return member
        raise


# ---------------------------------------------------------------- numbers

_SEXA_SPLIT = re.compile(r"[:; ]+")


def parse_number(text: str) -> float:
    """Parse an INDI number: decimal (``12.5``, ``1e-3``) or sexagesimal.

    Sexagesimal forms are ``D:M:S``, ``D:M``, ``D M S`` or ``D;M;S``, each
    part possibly fractional; a leading ``-`` applies to the whole value
    (``-0:30`` is -0.5).  Raises `ValueError` for anything else.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty number")
    try:
        return float(s)
    except ValueError:
        pass
    parts = _SEXA_SPLIT.split(s)
    if len(parts) < 2 or len(parts) > 3:
        raise ValueError(f"not a number: {text!r}")
    negative = parts[0].startswith("-")
    try:
        values = [abs(float(parts[0]))] + [float(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if any(v < 0 or math.isnan(v) for v in values[1:]):
        raise ValueError(f"not a number: {text!r}")
    result = values[0] + values[1] / 60.0 + (values[2] / 3600.0 if len(values) == 3 else 0.0)
    return -result if negative else result


_FORMAT_M = re.compile(r"%(?P<width>\d*)\.(?P<frac>\d+)m")
_PRINTF = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgG]")


def format_number(value: float, fmt: str) -> str:
    """Format a number the way INDI's printf format (with ``%m``) says.

    ``%<w>.<f>m`` is INDI's sexagesimal format: f=3 gives ``:mm``, 5 gives
    ``:mm.m``, 6 ``:mm:ss``, 8 ``:mm:ss.s``, 9 ``:mm:ss.ss``.  Anything that
    is not understood falls back to ``repr``-like ``%g``.
    """
    m = _FORMAT_M.fullmatch(fmt.strip())
    if m:
        width = int(m.group("width") or 0)
        frac = int(m.group("frac"))
        return _format_sexagesimal(value, width, frac)
    if _PRINTF.fullmatch(fmt.strip()):
        try:
            if fmt.strip()[-1] in "diouxX":
                return fmt.strip() % int(round(value))
            return fmt.strip() % value
        except (TypeError, ValueError, OverflowError):
            pass
    return f"{value:g}"


def _format_sexagesimal(value: float, width: int, frac: int) -> str:
    # Same breakdown as libindi's fs_sexa().
    negative = value < 0
    a = abs(value)
    fracbase = {3: 60, 5: 600, 6: 3600, 8: 36000}.get(frac, 360000)
    n = round(a * fracbase)
    d = n // fracbase
    f = n % fracbase
    sign = "-" if negative and n != 0 else ""
    head = f"{sign}{d}".rjust(max(width - frac, 0))
    if fracbase == 60:
        return f"{head}:{f:02d}"
    if fracbase == 600:
        return f"{head}:{f // 10:02d}.{f % 10}"
    if fracbase == 3600:
        return f"{head}:{f // 60:02d}:{f % 60:02d}"
    if fracbase == 36000:
        return f"{head}:{f // 600:02d}:{(f // 10) % 60:02d}.{f % 10}"
    return f"{head}:{f // 6000:02d}:{(f // 100) % 60:02d}.{f % 100:02d}"


# ---------------------------------------------------------------- messages


@dataclass(slots=True)
class DefText:
    name: str
    label: str
    value: str


@dataclass(slots=True)
class DefNumber:
    name: str
    label: str
    format: str
    min: float
    max: float
    step: float
    value: float


@dataclass(slots=True)
class DefSwitch:
    name: str
    label: str
    value: SwitchState


@dataclass(slots=True)
class DefLight:
    name: str
    label: str
    value: PropertyState


@dataclass(slots=True)
class DefBLOB:
    name: str
    label: str


DefElement = DefText | DefNumber | DefSwitch | DefLight | DefBLOB


@dataclass(slots=True)
class OneValue:
    """One element of a set/new vector (text, number, switch or light).

    For numbers, ``min``/``max``/``step`` are set when the driver updates
    the range in a ``setNumberVector`` (libindi's ``IUUpdateMinMax``).
    """

    name: str
    value: str | float | SwitchState | PropertyState
    min: float | None = None
    max: float | None = None
    step: float | None = None


@dataclass(slots=True)
class OneBLOB:
    """A decoded BLOB: ``data`` is the raw bytes (already inflated for .z).

    ``format`` is the format after inflation (``.fits`` for ``.fits.z``);
    ``size`` is the size the sender declared, ``len(data)`` the real one.
    """

    name: str
    size: int
    format: str
    data: bytes


@dataclass(slots=True)
class DefVector:
    kind: PropertyKind
    device: str
    name: str
    label: str
    group: str
    state: PropertyState
    perm: Permission
    rule: SwitchRule | None
    timeout: float
    timestamp: str | None
    message: str | None
    elements: list[DefElement] = field(default_factory=list)


@dataclass(slots=True)
class SetVector:
    kind: PropertyKind
    device: str
    name: str
    state: PropertyState | None
    timeout: float | None
    timestamp: str | None
    message: str | None
    elements: list[OneValue | OneBLOB] = field(default_factory=list)


@dataclass(slots=True)
class NewVector:
    kind: PropertyKind
    device: str
    name: str
    timestamp: str | None
    elements: list[OneValue | OneBLOB] = field(default_factory=list)


@dataclass(slots=True)
class DelProperty:
    device: str
    name: str | None
    timestamp: str | None
    message: str | None


@dataclass(slots=True)
class Message:
    device: str | None
    timestamp: str | None
    message: str


@dataclass(slots=True)
class GetProperties:
    version: str | None
    device: str | None
    name: str | None


@dataclass(slots=True)
class EnableBLOB:
    device: str
    name: str | None
    mode: BLOBMode


@dataclass(slots=True)
class ProtocolError:
    """Something in the stream that could not be understood; it was skipped."""

    reason: str
    excerpt: bytes


INDIMessage = DefVector | SetVector | NewVector | DelProperty | Message | GetProperties | EnableBLOB


# ---------------------------------------------------------------- parsing

_VECTOR_TAGS: dict[bytes, tuple[str, PropertyKind]] = {}
for _kind in PropertyKind:
    for _verb in ("def", "set", "new"):
        if _verb == "new" and _kind is PropertyKind.LIGHT:
            continue
        _VECTOR_TAGS[f"{_verb}{_kind.value}Vector".encode()] = (_verb, _kind)
_OTHER_TAGS = (b"delProperty", b"message", b"getProperties", b"enableBLOB")
TOP_LEVEL_TAGS = frozenset([*_VECTOR_TAGS, *_OTHER_TAGS])

# Where the next top-level element may begin: used to resynchronise when an
# element is never closed.  The alternation starts with a literal '<', so
# the regex engine skips fast over base64 (which never contains '<').
_TOP_START = re.compile(
    rb"<(?:(?:def|set|new)(?:Text|Number|Switch|Light|BLOB)Vector|delProperty|message"
    rb"|getProperties|enableBLOB)[\s/>]"
)
_LONGEST_START = len("<defSwitchVector ")
_NAME = re.compile(rb"[A-Za-z_][\w.\-]*")
# A start tag's rest, quoted attribute values may contain '>'.
_TAG_REST = re.compile(rb"""(?:[^>"'/]|/(?!>)|"[^"]*"|'[^']*')*(/?)>""")
_ONE_BLOB_START = re.compile(rb"<oneBLOB\b")
_ONE_BLOB_END = b"</oneBLOB>"

# An element still open after this many bytes is given up on (protects
# memory against a broken peer); BLOB vectors may be much larger.
MAX_ELEMENT_BYTES = 16 << 20
MAX_BLOB_ELEMENT_BYTES = 2 << 30


class Parser:
    """Incremental INDI stream parser.

    >>> p = Parser()
    >>> p.feed(b'<message device="X" message="hi"/>')
    [Message(device='X', timestamp=None, message='hi')]

    `feed` returns the complete messages (and `ProtocolError` values for
    skipped input) found so far; a partial element stays buffered.
    """

    def __init__(self, *, decode_blobs: bool = True) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of unconsumed data in _buf
        self._scan = 0  # where the search for the current element's end resumes
        self._tag: bytes | None = None  # tag of the element being framed
        self._start = 0  # index of that element's '<'
        self._body = 0  # index just after its start tag
        self.decode_blobs = decode_blobs

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the end of an element."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> list[INDIMessage | ProtocolError]:
        if data:
            self._buf += data
        out: list[INDIMessage | ProtocolError] = []
        while self._next(out):
            pass
        # Compact once per feed rather than once per element.
        if self._pos:
            del self._buf[: self._pos]
            self._scan -= self._pos
            self._body -= self._pos
            self._start -= self._pos
            self._pos = 0
        return out

    # Framing -------------------------------------------------------------

    def _next(self, out: list) -> bool:
        """Consume one element (or junk) from the buffer; False when stuck."""
        buf = self._buf
        if self._tag is None:
            lt = buf.find(b"<", self._pos)
            if lt < 0:
                self._skip_text(len(buf), out)
                return False
            if lt > self._pos:
                self._skip_text(lt, out)
            if len(buf) - lt < 2:
                return False
            second = buf[lt + 1]
            if second in b"?!":
                return self._skip_special(lt, out)
            m = _NAME.match(buf, lt + 1)
            if m is None:
                return self._resync(lt + 1, out, "not an element start")
            if m.end() == len(buf):
                return False  # the name may go on
            rest = _TAG_REST.match(buf, m.end())
            if rest is None:
                # No '>' yet: incomplete, unless it is hopelessly long.
                nxt = _TOP_START.search(buf, m.end())
                if nxt is not None:
                    return self._drop(lt, nxt.start(), out, "start tag never closed")
                if len(buf) - lt > 65536:
                    return self._drop(lt, len(buf), out, "start tag too long")
                return False
            tag = bytes(m.group(0))
            if rest.group(1):  # self-closing
                self._emit(tag, lt, rest.end(), rest.end(), out)
                self._pos = rest.end()
                return True
            self._tag = tag
            self._body = rest.end()
            self._scan = rest.end()
            self._start = lt
        return self._find_end(out)

    def _find_end(self, out: list) -> bool:
        buf = self._buf
        tag = self._tag
        assert tag is not None
        close = b"</" + tag + b">"
        top_level = tag in TOP_LEVEL_TAGS
        # Walk the '<' in the body (a memchr-speed scan even over 40 MB of
        # base64, which has none): each is our end tag, the start of another
        # top-level element (so ours was never closed), or a child element.
        need = max(len(close), _LONGEST_START)
        lt = buf.find(b"<", self._scan)
        while lt >= 0:
            if buf.startswith(close, lt):
                stop = lt + len(close)
                self._tag = None
                self._emit(tag, self._start, self._body, stop, out)
                self._pos = stop
                return True
            if len(buf) - lt < need:
                break  # too short to tell what this '<' starts
            if top_level and _TOP_START.match(buf, lt):
                self._tag = None
                return self._drop(self._start, lt, out, f"<{tag.decode()}> never closed")
            lt = buf.find(b"<", lt + 1)
        self._scan = lt if lt >= 0 else len(buf)
        cap = MAX_BLOB_ELEMENT_BYTES if tag.endswith(b"BLOBVector") else MAX_ELEMENT_BYTES
        if len(buf) - self._start > cap:
            self._tag = None
            return self._drop(self._start, len(buf), out, f"<{tag.decode()}> too large")
        return False

    def _skip_text(self, upto: int, out: list) -> None:
        chunk = bytes(self._buf[self._pos : upto])
        if chunk.strip():
            out.append(ProtocolError("text outside any element", chunk[:200]))
        self._pos = upto

    def _skip_special(self, lt: int, out: list) -> bool:
        buf = self._buf
        if buf.startswith(b"<!--", lt):
            end = buf.find(b"-->", lt + 4)
            if end < 0:
                return False
            self._pos = end + 3
            return True
        end = buf.find(b">", lt)
        if end < 0:
            return False
        self._pos = end + 1  # <?xml ...?> or <!DOCTYPE ...>
        return True

    def _resync(self, frm: int, out: list, reason: str) -> bool:
        nxt = self._buf.find(b"<", frm)
        return self._drop(self._pos, len(self._buf) if nxt < 0 else nxt, out, reason)

    def _drop(self, start: int, stop: int, out: list, reason: str) -> bool:
        out.append(ProtocolError(reason, bytes(self._buf[start : min(stop, start + 200)])))
        self._pos = stop
        self._tag = None
        return True

    # Element parsing -----------------------------------------------------

    def _emit(self, tag: bytes, start: int, body: int, stop: int, out: list) -> None:
        view = memoryview(self._buf)
        try:
            if tag in (b"setBLOBVector", b"newBLOBVector") and stop > body:
                out.append(self._parse_blob_vector(tag, view, start, body, stop))
            elif tag in TOP_LEVEL_TAGS:
                out.append(_parse_element(_xml(view[start:stop])))
            else:
                out.append(
                    ProtocolError(
                        f"unknown element <{tag.decode()}>",
                        bytes(view[start : min(stop, start + 200)]),
                    )
                )
        except (ET.ParseError, ValueError, KeyError, zlib.error, binascii.Error) as exc:
            out.append(
                ProtocolError(
                    f"malformed <{tag.decode()}>: {exc}",
                    bytes(view[start : min(stop, start + 200)]),
                )
            )
        finally:
            view.release()

    def _parse_blob_vector(
        self, tag: bytes, view: memoryview, start: int, body: int, stop: int
    ) -> SetVector | NewVector:
        buf = self._buf
        head = _xml(bytes(view[start:body]) + b"</" + tag + b">")
        elements: list[OneValue | OneBLOB] = []
        pos = body
        close_outer = stop - len(tag) - 3
        while True:
            m = _ONE_BLOB_START.search(buf, pos, close_outer)
            if m is None:
                break
            rest = _TAG_REST.match(buf, m.end(), close_outer)
            if rest is None:
                raise ValueError("unterminated <oneBLOB> start tag")
            attrs = _xml(
                bytes(view[m.start() : rest.end()]) + (b"" if rest.group(1) else b"</oneBLOB>")
            ).attrib
            if rest.group(1):
                payload_end = rest.end()
                pos = rest.end()
            else:
                payload_end = buf.find(_ONE_BLOB_END, rest.end(), close_outer)
                if payload_end < 0:
                    raise ValueError("<oneBLOB> never closed")
                pos = payload_end + len(_ONE_BLOB_END)
            elements.append(self._decode_blob(attrs, view[rest.end() : payload_end]))
        return _vector_from_attrs(tag, head.attrib, elements)

    def _decode_blob(self, attrs: Mapping[str, str], payload: memoryview) -> OneBLOB:
        fmt = attrs.get("format", "").strip()
        size = int(attrs.get("size", "0") or 0)
        if not self.decode_blobs:
            return OneBLOB(attrs["name"], size, fmt, b"")
        data = binascii.a2b_base64(payload)
        if fmt.endswith(".z"):
            data = zlib.decompress(data)
            fmt = fmt[:-2]
        return OneBLOB(attrs["name"], size, fmt, data)


def _xml(data: bytes | memoryview) -> ET.Element:
    raw = bytes(data)
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        # Some drivers send Latin-1 text; accept it rather than lose the property.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return ET.fromstring(raw.decode("latin-1"))
        raise


def _text(el: ET.Element) -> str:
    return (el.text or "").strip()


def _float(text: str | None, default: float) -> float:
    if text is None or not text.strip():
        return default
    return parse_number(text)


def _parse_element(el: ET.Element) -> INDIMessage:
    tag = el.tag.encode()
    a = el.attrib
    kv = _VECTOR_TAGS.get(tag)
    if kv is not None:
        verb, kind = kv
        if verb == "def":
            return _parse_def(kind, el)
        elements: list[OneValue | OneBLOB] = []
        one = f"one{kind.value}"
        for child in el:
            if child.tag != one:
                raise ValueError(f"<{child.tag}> inside <{el.tag}>")
            elements.append(_parse_one(kind, child))
        return _vector_from_attrs(tag, a, elements)
    if tag == b"delProperty":
        return DelProperty(a["device"], a.get("name"), a.get("timestamp"), a.get("message"))
    if tag == b"message":
        return Message(a.get("device"), a.get("timestamp"), a.get("message", ""))
    if tag == b"getProperties":
        return GetProperties(a.get("version"), a.get("device"), a.get("name"))
    if tag == b"enableBLOB":
        return EnableBLOB(
            a["device"], a.get("name"), _enum(BLOBMode, _text(el) or "Also", BLOBMode.ALSO)
        )
    raise ValueError(f"unknown element <{el.tag}>")


def _vector_from_attrs(tag: bytes, a: Mapping[str, str], elements: list) -> SetVector | NewVector:
    verb, kind = _VECTOR_TAGS[tag]
    if verb == "new":
        return NewVector(kind, a["device"], a["name"], a.get("timestamp"), elements)
    state = a.get("state")
    timeout = a.get("timeout")
    return SetVector(
        kind,
        a["device"],
        a["name"],
        _enum(PropertyState, state, PropertyState.IDLE) if state else None,
        _float(timeout, 0.0) if timeout else None,
        a.get("timestamp"),
        a.get("message"),
        elements,
    )


def _parse_one(kind: PropertyKind, el: ET.Element) -> OneValue | OneBLOB:
    a = el.attrib
    name = a["name"]
    if kind is PropertyKind.NUMBER:
        mn, mx, st = a.get("min"), a.get("max"), a.get("step")
        return OneValue(
            name,
            parse_number(_text(el)),
            parse_number(mn) if mn else None,
            parse_number(mx) if mx else None,
            parse_number(st) if st else None,
        )
    if kind is PropertyKind.SWITCH:
        return OneValue(name, _enum(SwitchState, _text(el), SwitchState.OFF))
    if kind is PropertyKind.LIGHT:
        return OneValue(name, _enum(PropertyState, _text(el), PropertyState.IDLE))
    if kind is PropertyKind.BLOB:
        # Slow path, only for BLOB vectors embedded in an element we parsed whole.
        fmt = a.get("format", "")
        data = binascii.a2b_base64(_text(el))
        if fmt.endswith(".z"):
            data, fmt = zlib.decompress(data), fmt[:-2]
        return OneBLOB(name, int(a.get("size", "0") or 0), fmt, data)
    # Text keeps its inner spaces; only the pretty-printing newlines go.
    return OneValue(name, _text(el))


def _parse_def(kind: PropertyKind, el: ET.Element) -> DefVector:
    a = el.attrib
    child_tag = f"def{kind.value}"
    elements: list[DefElement] = []
    for child in el:
        if child.tag != child_tag:
            raise ValueError(f"<{child.tag}> inside <{el.tag}>")
        ca = child.attrib
        name = ca["name"]
        label = ca.get("label") or name
        if kind is PropertyKind.TEXT:
            elements.append(DefText(name, label, _text(child)))
        elif kind is PropertyKind.NUMBER:
            elements.append(
                DefNumber(
                    name,
                    label,
                    ca.get("format", "%g"),
                    _float(ca.get("min"), 0.0),
                    _float(ca.get("max"), 0.0),
                    _float(ca.get("step"), 0.0),
                    parse_number(_text(child)),
                )
            )
        elif kind is PropertyKind.SWITCH:
            elements.append(
                DefSwitch(name, label, _enum(SwitchState, _text(child), SwitchState.OFF))
            )
        elif kind is PropertyKind.LIGHT:
            elements.append(
                DefLight(name, label, _enum(PropertyState, _text(child), PropertyState.IDLE))
            )
        else:
            elements.append(DefBLOB(name, label))
    perm = a.get("perm")
    rule = a.get("rule")
    return DefVector(
        kind,
        a["device"],
        a["name"],
        a.get("label") or a["name"],
        a.get("group", ""),
        _enum(PropertyState, a.get("state"), PropertyState.IDLE),
        # Lights have no perm: they are read-only by nature.
        _enum(Permission, perm, Permission.RO) if perm else Permission.RO,
        _enum(SwitchRule, rule, SwitchRule.ANY_OF_MANY) if kind is PropertyKind.SWITCH else None,
        _float(a.get("timeout"), 0.0),
        a.get("timestamp"),
        a.get("message"),
        elements,
    )


# ---------------------------------------------------------------- commands


def _attrs(**attrs: str | None) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items() if v is not None)


def get_properties_bytes(device: str | None = None, name: str | None = None) -> bytes:
    return (
        f"<getProperties{_attrs(version=PROTOCOL_VERSION, device=device, name=name)}/>\n".encode()
    )


def enable_blob_bytes(
    device: str, mode: BLOBMode | str = BLOBMode.ALSO, name: str | None = None
) -> bytes:
    mode = BLOBMode(mode)
    return f"<enableBLOB{_attrs(device=device, name=name)}>{mode.value}</enableBLOB>\n".encode()


def new_vector_bytes(
    kind: PropertyKind,
    device: str,
    name: str,
    values: Mapping[str, object] | Iterable[tuple[str, object]],
    *,
    timestamp: str | None = None,
) -> bytes:
    """Serialize a ``new<kind>Vector``.

    Values: text → str, number → float (or a sexagesimal string), switch →
    `SwitchState`/bool/"On"/"Off", BLOB → ``(bytes, format)``.
    """
    kind = PropertyKind(kind)
    if kind is PropertyKind.LIGHT:
        raise ValueError("lights cannot be set by a client")
    items = values.items() if isinstance(values, Mapping) else values
    tag = f"new{kind.value}Vector"
    parts = [f"<{tag}{_attrs(device=device, name=name, timestamp=timestamp)}>\n"]
    if kind is PropertyKind.BLOB:
        head = parts[0].encode()
        chunks = [head]
        for ename, value in items:
            data, fmt = value  # type: ignore[misc]
            encoded = base64.b64encode(bytes(data))
            attrs = _attrs(name=ename, size=str(len(data)), enclen=str(len(encoded)), format=fmt)
            chunks.append(f"  <oneBLOB{attrs}>".encode())
            chunks.append(encoded)
            chunks.append(b"</oneBLOB>\n")
        chunks.append(f"</{tag}>\n".encode())
        return b"".join(chunks)
    one = f"one{kind.value}"
    for ename, value in items:
        parts.append(f"  <{one}{_attrs(name=ename)}>{escape(_value_text(kind, value))}</{one}>\n")
    parts.append(f"</{tag}>\n")
    return "".join(parts).encode()


def _value_text(kind: PropertyKind, value: object) -> str:
    if kind is PropertyKind.SWITCH:
        if isinstance(value, bool):
            return "On" if value else "Off"
        return SwitchState(value).value  # type: ignore[arg-type]
    if kind is PropertyKind.NUMBER:
        if isinstance(value, str):
            return repr(parse_number(value))
        return repr(float(value))  # type: ignore[arg-type]
    return str(value)
