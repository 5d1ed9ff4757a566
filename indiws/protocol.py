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
import contextlib
import enum
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

try:
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - a declared dependency; binascii still works
    _pybase64 = None
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
    """Something in the stream that could not be understood; it was skipped
    (``repaired``: it was understood once characters XML cannot carry were
    replaced, and the message follows; ``device`` names its device)."""

    reason: str
    excerpt: bytes
    device: str | None = None
    repaired: bool = False


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
# ('<' cannot appear in a start tag, nor in an attribute value.)
_TAG_REST = re.compile(rb"""(?:[^<>"'/]|/(?!>)|"[^"<]*"|'[^'<]*')*(/?)>""")
_BLOB_VECTORS = (b"setBLOBVector", b"newBLOBVector")
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
        self._blob: _BlobStream | None = None  # a BLOB vector being received
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
            if tag in _BLOB_VECTORS:
                return self._blob_begin(tag, lt, rest.end(), out)
            self._body = rest.end()
            self._scan = rest.end()
            self._start = lt
        if self._blob is not None:
            return self._blob_step(out)
        return self._find_end(out)

    def _find_end(self, out: list) -> bool:
        buf = self._buf
        tag = self._tag
        assert tag is not None
        close = b"</" + tag + b">"
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
            # INDI elements never hold a top-level element: one starting
            # here means ours (known or not) was never closed.
            if _TOP_START.match(buf, lt):
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
                # A comment never closed must not hold up the stream for good.
                nxt = _TOP_START.search(buf, lt + 4)
                if nxt is not None:
                    return self._drop(lt, nxt.start(), out, "comment never closed")
                if len(buf) - lt > MAX_ELEMENT_BYTES:
                    return self._drop(lt, len(buf), out, "comment too long")
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
            if tag in TOP_LEVEL_TAGS:
                try:
                    element = _xml(view[start:stop])
                except RepairedXML as repaired:
                    element = repaired.element
                    out.append(
                        ProtocolError(
                            f"<{tag.decode()}> of device {element.get('device')!r} held "
                            "characters XML cannot carry; shown replaced with U+FFFD",
                            bytes(view[start : min(stop, start + 200)]),
                            device=element.get("device"),
                            repaired=True,
                        )
                    )
                out.append(_parse_element(element))
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

    # BLOB vectors, decoded while they stream in -------------------------

    def _blob_begin(self, tag: bytes, lt: int, body: int, out: list) -> bool:
        """Start of a set/newBLOBVector: its base64 is decoded as it arrives,
        so the frame is ready when the end tag comes and the buffer never
        holds the whole payload."""
        excerpt = bytes(self._buf[lt : min(body, lt + 200)])
        try:
            attrs = dict(_xml(bytes(self._buf[lt:body]) + b"</" + tag + b">").attrib)
        except ET.ParseError as exc:
            attrs = {}
            error: str | None = f"malformed <{tag.decode()}>: {exc}"
        else:
            error = None
        self._blob = _BlobStream(tag, attrs, excerpt, error)
        self._pos = body
        return True

    def _blob_step(self, out: list) -> bool:
        buf = self._buf
        st = self._blob
        assert st is not None
        while True:
            if st.name is not None:  # inside a <oneBLOB>: payload until '<'
                lt = buf.find(b"<", self._pos)
                end = len(buf) if lt < 0 else lt
                cut = end if lt >= 0 else _whole_quads_end(buf, self._pos, end)
                if cut > self._pos:
                    st.decode(buf, self._pos, cut, self.decode_blobs)
                    self._pos = cut
                if lt < 0 or len(buf) - lt < len(_ONE_BLOB_END):
                    return False
                if buf.startswith(_ONE_BLOB_END, lt):
                    st.finish_element()
                    self._pos = lt + len(_ONE_BLOB_END)
                    continue
                if len(buf) - lt < _LONGEST_START:
                    return False  # too short to tell what this '<' starts
                if _TOP_START.match(buf, lt):
                    return self._blob_abort(lt, out, f"<{st.tag.decode()}> never closed")
                st.fail("unexpected markup inside <oneBLOB>")
                st.finish_element()
                self._pos = lt
                continue
            lt = buf.find(b"<", self._pos)
            if lt < 0:
                self._pos = len(buf)  # whitespace between elements
                return False
            close = b"</" + st.tag + b">"
            if len(buf) - lt < len(close):
                self._pos = lt
                return False
            if buf.startswith(close, lt):
                self._pos = lt + len(close)
                self._tag = None
                self._blob = None
                out.append(st.result())
                return True
            if buf.startswith(b"<oneBLOB", lt):
                rest = _TAG_REST.match(buf, lt + 8)
                if rest is None:
                    self._pos = lt
                    nxt = buf.find(b"<", lt + 1)
                    if nxt >= 0:  # a start tag cut short by another element
                        return self._blob_abort(nxt, out, "<oneBLOB> start tag never closed")
                    if len(buf) - lt > 65536:
                        return self._blob_abort(lt, out, "<oneBLOB> start tag too long")
                    return False
                st.start_element(bytes(buf[lt : rest.end()]), bool(rest.group(1)))
                self._pos = rest.end()
                continue
            if len(buf) - lt < _LONGEST_START:
                self._pos = lt
                return False  # too short to tell what this '<' starts
            if _TOP_START.match(buf, lt):
                return self._blob_abort(lt, out, f"<{st.tag.decode()}> never closed")
            st.fail("unexpected element inside a BLOB vector")
            self._pos = lt + 1

    def _blob_abort(self, at: int, out: list, reason: str) -> bool:
        st = self._blob
        assert st is not None
        out.append(ProtocolError(reason, st.excerpt))
        self._blob = None
        self._tag = None
        self._pos = at
        return True


class _BlobStream:
    """State of one BLOB vector being received."""

    __slots__ = (
        "tag",
        "attrs",
        "excerpt",
        "error",
        "elements",
        "name",
        "attrs_one",
        "chunks",
        "inflate",
        "decoded",
    )

    def __init__(self, tag: bytes, attrs: dict[str, str], excerpt: bytes, error: str | None):
        self.tag = tag
        self.attrs = attrs
        self.excerpt = excerpt
        self.error = error
        self.elements: list[OneValue | OneBLOB] = []
        self.name: str | None = None  # the <oneBLOB> being received
        self.attrs_one: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.inflate: Any = None
        self.decoded = 0

    def fail(self, reason: str) -> None:
        if self.error is None:
            self.error = f"malformed <{self.tag.decode()}>: {reason}"

    def start_element(self, start_tag: bytes, self_closing: bool) -> None:
        try:
            attrs = _xml(start_tag if self_closing else start_tag + _ONE_BLOB_END).attrib
            name = attrs["name"]
        except (ET.ParseError, KeyError) as exc:
            self.fail(f"bad <oneBLOB> start tag: {exc}")
            attrs, name = {}, ""
        self.attrs_one = dict(attrs)
        self.name = name
        self.chunks = []
        fmt = self.attrs_one.get("format", "").strip()
        self.inflate = zlib.decompressobj() if fmt.endswith(".z") else None
        if self_closing:
            self.finish_element()

    def decode(self, buf: bytearray, start: int, stop: int, enabled: bool) -> None:
        if self.error is not None or not enabled:
            return
        try:
            data = _b64decode(memoryview(buf)[start:stop])
            if self.inflate is not None:
                data = self.inflate.decompress(data)
        except (binascii.Error, zlib.error) as exc:
            self.fail(f"bad BLOB payload: {exc}")
            return
        self.decoded += len(data)
        if self.decoded > MAX_BLOB_ELEMENT_BYTES:
            self.fail("BLOB too large")
            self.chunks = []
            return
        self.chunks.append(data)

    def finish_element(self) -> None:
        fmt = self.attrs_one.get("format", "").strip()
        try:
            size = int(self.attrs_one.get("size", "0") or 0)
        except ValueError:
            self.fail(f"bad size {self.attrs_one.get('size')!r}")
            size = 0
        if self.inflate is not None and self.error is None:
            try:
                self.chunks.append(self.inflate.flush())
            except zlib.error as exc:
                self.fail(f"bad zlib data: {exc}")
            if not self.inflate.eof:
                self.fail("truncated zlib data")
            fmt = fmt[:-2]
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        if self.error is None:
            self.elements.append(OneBLOB(self.name or "", size, fmt, data))
        self.name = None
        self.inflate = None

    def result(self) -> SetVector | NewVector | ProtocolError:
        if self.error is None:
            try:
                return _vector_from_attrs(self.tag, self.attrs, self.elements)
            except (KeyError, ValueError) as exc:
                self.fail(f"missing or bad attribute: {exc}")
        return ProtocolError(self.error or "", self.excerpt)


_WHITESPACE = b" \t\r\n"


def _b64decode(data: memoryview) -> bytes:
    """Decode base64; pybase64's SIMD decoder is about four times faster than
    binascii on the unwrapped payloads indiserver sends."""
    if _pybase64 is None:
        return binascii.a2b_base64(data)
    try:
        return _pybase64.b64decode(data, validate=True)
    except binascii.Error:
        # Wrapped (whitespace) or otherwise irregular: the lenient decoder.
        return binascii.a2b_base64(data)


def _whole_quads_end(buf: bytearray, start: int, end: int) -> int:
    """The largest stop <= end such that buf[start:stop] holds a multiple of
    four base64 characters (whitespace, which a2b_base64 skips, not counted),
    so that the part can be decoded now and the rest when more arrives."""
    spaces = 0
    for ch in _WHITESPACE:
        # find() is a memchr; count() only where wrapped payloads need it.
        if buf.find(ch, start, end) >= 0:
            spaces += buf.count(ch, start, end)
    extra = (end - start - spaces) % 4
    stop = end
    while extra:
        stop -= 1
        if buf[stop] not in _WHITESPACE:
            extra -= 1
    return stop


#: Characters XML 1.0 cannot carry (control characters but tab, newline and
#: carriage return; lone surrogates; U+FFFE, U+FFFF).  A text value holding
#: one cannot be sent to a driver, nor read back from it.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_REFERENCE = re.compile(r"&#(?:x([0-9a-fA-F]+)|([0-9]+));")


def first_xml_illegal(text: str) -> str | None:
    """The first character of ``text`` that XML cannot carry, or None."""
    found = XML_ILLEGAL.search(text)
    return None if found is None else found.group(0)


def _legal_reference(match: re.Match[str]) -> str:
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if code > 0x10FFFF or XML_ILLEGAL.match(chr(code)):
        return "\ufffd"
    return match.group(0)


class RepairedXML(ValueError):
    """Raised by `_xml` with the element it could parse only once the
    characters XML cannot carry were replaced (a driver sent them)."""

    def __init__(self, element: ET.Element) -> None:
        super().__init__("characters XML cannot carry were replaced with U+FFFD")
        self.element = element


def _xml(data: bytes | memoryview) -> ET.Element:
    raw = bytes(data)
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        # Some drivers send Latin-1 text; accept it rather than lose the property.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            with contextlib.suppress(ET.ParseError):
                return ET.fromstring(text)
        # A driver that took a value XML cannot carry (U+0001, U+FFFE) echoes
        # it: keep the property, with those characters replaced.
        repaired = _ILLEGAL_REFERENCE.sub(_legal_reference, XML_ILLEGAL.sub("\ufffd", text))
        if repaired == text:
            raise
        raise RepairedXML(ET.fromstring(repaired)) from None


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
        raise ValueError("BLOB elements are decoded by the streaming path")
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
            # Wrapped at 72 columns, as libindi sends it: a local driver under
            # indiserver 1.9.9 never got larger BLOBs sent as one line (nor
            # wrapped at 76).  enclen counts no newlines.
            flat = base64.b64encode(bytes(data))
            encoded = b"\n".join(flat[i : i + 72] for i in range(0, len(flat), 72))
            enclen = len(flat)
            attrs = _attrs(name=ename, size=str(len(data)), enclen=str(enclen), format=fmt)
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
