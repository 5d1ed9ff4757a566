"""The sans-I/O protocol core, fed recorded indiserver bytes.

``data/four_simulators_defs.xml`` is what indiserver 1.9.9 answered to
``getProperties`` with the telescope, CCD, focuser and wheel simulators;
``data/ccd_small_frames.xml`` is the CCD simulator taking two 64x48 frames
(the second with its compression on, format ``.fits.fz``).
"""

from __future__ import annotations

import base64
import random
import zlib
from pathlib import Path

import pytest

from indiws.protocol import (
    BLOBMode,
    DefNumber,
    DefSwitch,
    DefVector,
    DelProperty,
    EnableBLOB,
    GetProperties,
    Message,
    NewVector,
    OneBLOB,
    Parser,
    Permission,
    PropertyKind,
    PropertyState,
    ProtocolError,
    SetVector,
    SwitchRule,
    SwitchState,
    enable_blob_bytes,
    format_number,
    get_properties_bytes,
    new_vector_bytes,
    parse_number,
)

DATA = Path(__file__).parent / "data"
DEFS = (DATA / "four_simulators_defs.xml").read_bytes()
FRAMES = (DATA / "ccd_small_frames.xml").read_bytes()


def feed_in_chunks(data: bytes, sizes) -> list:
    parser = Parser()
    out: list = []
    pos = 0
    for size in sizes:
        if pos >= len(data):
            break
        out += parser.feed(data[pos : pos + size])
        pos += size
    out += parser.feed(data[pos:])
    assert parser.buffered == 0
    return out


def random_sizes(seed: int, most: int):
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, most)


@pytest.mark.parametrize("stream", [DEFS, FRAMES], ids=["defs", "frames"])
def test_chunking_does_not_change_the_messages(stream: bytes) -> None:
    whole = Parser().feed(stream)
    assert whole and not any(isinstance(m, ProtocolError) for m in whole)
    assert feed_in_chunks(stream, iter(lambda: 1, 0)) == whole
    for seed in range(3):
        assert feed_in_chunks(stream, random_sizes(seed, 700)) == whole


def test_definitions_of_the_four_simulators() -> None:
    messages = Parser().feed(DEFS)
    defs = {(m.device, m.name): m for m in messages if isinstance(m, DefVector)}
    assert {d for d, _ in defs} == {
        "Telescope Simulator",
        "CCD Simulator",
        "Focuser Simulator",
        "Filter Simulator",
    }
    conn = defs[("CCD Simulator", "CONNECTION")]
    assert conn.kind is PropertyKind.SWITCH
    assert conn.rule is SwitchRule.ONE_OF_MANY
    assert conn.perm is Permission.RW
    assert conn.state is PropertyState.IDLE
    assert conn.group == "Main Control"
    assert conn.timeout == 60
    assert [(e.name, e.value) for e in conn.elements if isinstance(e, DefSwitch)] == [
        ("CONNECT", SwitchState.OFF),
        ("DISCONNECT", SwitchState.ON),
    ]
    info = defs[("Filter Simulator", "DRIVER_INFO")]
    assert info.perm is Permission.RO
    assert {e.name: e.value for e in info.elements}["DRIVER_EXEC"] == "indi_simulator_wheel"
    assert defs[("Filter Simulator", "DRIVER_INFO")].timestamp.startswith("2026-")


def test_number_definitions_keep_range_and_format() -> None:
    messages = Parser().feed(DEFS)
    numbers = [
        e
        for m in messages
        if isinstance(m, DefVector) and m.kind is PropertyKind.NUMBER
        for e in m.elements
    ]
    assert numbers and all(isinstance(e, DefNumber) for e in numbers)
    assert all(e.format.startswith("%") for e in numbers)
    # The telescope's site is shown in sexagesimal (%m) by the driver.
    sexa = [e for e in numbers if e.format.endswith("m")]
    assert sexa, "expected %m formats among the definitions"


def test_frames_are_decoded_with_size_and_format() -> None:
    blobs = [
        e
        for m in Parser().feed(FRAMES)
        if isinstance(m, SetVector) and m.kind is PropertyKind.BLOB
        for e in m.elements
    ]
    assert [b.format for b in blobs] == [".fits", ".fits.fz"]
    plain, packed = blobs
    assert isinstance(plain, OneBLOB)
    assert plain.name == "CCD1"
    assert plain.data.startswith(b"SIMPLE")
    assert len(plain.data) == plain.size == 14400  # 64x48x16 bit, padded to FITS blocks
    assert packed.data.startswith(b"SIMPLE")  # fpack keeps a FITS primary header


def test_zlib_payload_is_inflated() -> None:
    raw = b"SIMPLE  =                    T" + bytes(5000)
    payload = base64.b64encode(zlib.compress(raw))
    stream = (
        b'<setBLOBVector device="Cam" name="CCD1" state="Ok">\n'
        b'<oneBLOB name="CCD1" size="%d" format=".fits.z">\n%s\n</oneBLOB>\n'
        b"</setBLOBVector>" % (len(raw), payload)
    )
    (msg,) = Parser().feed(stream)
    (blob,) = msg.elements
    assert blob.format == ".fits"
    assert blob.data == raw


def test_a_malformed_element_loses_only_itself() -> None:
    good = Parser().feed(DEFS)
    cut = DEFS.index(b"<defTextVector", 2000)
    end = DEFS.index(b"</defTextVector>", cut) + len(b"</defTextVector>")
    (victim,) = Parser().feed(DEFS[cut:end])
    rest = [m for m in good if m != victim]
    assert len(rest) == len(good) - 1
    cases = {
        "mismatched tag": (
            DEFS[:cut] + DEFS[cut:end].replace(b"</defText>", b"</defTex>", 1) + DEFS[end:],
            rest,
        ),
        "never closed": (DEFS[:cut] + DEFS[cut : end - 20] + DEFS[end:], rest),
        "garbage between elements": (DEFS[:cut] + b"garbage <<< & not xml >" + DEFS[cut:], good),
    }
    for name, (stream, expected) in cases.items():
        for sizes in (iter(lambda: 1, 0), random_sizes(7, 300), iter([len(stream)])):
            got = feed_in_chunks(stream, sizes)
            assert any(isinstance(m, ProtocolError) for m in got), name
            assert [m for m in got if not isinstance(m, ProtocolError)] == expected, name


def test_other_messages() -> None:
    stream = (
        b'<?xml version="1.0"?><!-- hello -->'
        b'<message device="Dome" timestamp="2026-01-01T00:00:00"'
        b' message="[WARNING] wind &amp; rain"/>'
        b'<message message="server says hi"/>'
        b'<delProperty device="Dome" name="DOME_SHUTTER"/>'
        b'<delProperty device="Dome"/>'
        b'<getProperties version="1.7" device="Dome"/>'
        b'<enableBLOB device="Cam" name="CCD1">Only</enableBLOB>'
        b'<setLightVector device="Dome" name="STATUS" state="Alert">'
        b'<oneLight name="RAIN">Alert</oneLight></setLightVector>'
        b'<setNumberVector device="F" name="ABS_FOCUS_POSITION" state="Busy">'
        b'<oneNumber name="FOCUS_ABSOLUTE_POSITION" min="0" max="50000" step="10">'
        b"1200</oneNumber></setNumberVector>"
        b'<setTextVector device="Dome" name="NOTE"><oneText name="T">  a &lt;b&gt;  </oneText>'
        b"</setTextVector>"
    )
    got = Parser().feed(stream)
    assert got[0] == Message("Dome", "2026-01-01T00:00:00", "[WARNING] wind & rain")
    assert got[1] == Message(None, None, "server says hi")
    assert got[2] == DelProperty("Dome", "DOME_SHUTTER", None, None)
    assert got[3] == DelProperty("Dome", None, None, None)
    assert got[4] == GetProperties("1.7", "Dome", None)
    assert got[5] == EnableBLOB("Cam", "CCD1", BLOBMode.ONLY)
    light = got[6]
    assert light.kind is PropertyKind.LIGHT and light.state is PropertyState.ALERT
    assert light.elements[0].value is PropertyState.ALERT
    focus = got[7]
    assert focus.state is PropertyState.BUSY
    one = focus.elements[0]
    assert (one.value, one.min, one.max, one.step) == (1200.0, 0.0, 50000.0, 10.0)
    assert got[8].elements[0].value == "a <b>"
    assert len(got) == 9


def test_latin1_text_is_accepted() -> None:
    stream = '<message device="Cam" message="Température"/>'.encode("latin-1")
    (msg,) = Parser().feed(stream)
    assert msg.message == "Température"


def test_unknown_elements_are_reported_and_skipped() -> None:
    got = Parser().feed(b"<foo a='1'>x</foo><message message='ok'/>")
    assert isinstance(got[0], ProtocolError) and "foo" in got[0].reason
    assert got[1] == Message(None, None, "ok")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12.5", 12.5),
        ("-3e-2", -0.03),
        ("12:30:15.5", 12 + 30 / 60 + 15.5 / 3600),
        ("12:30", 12.5),
        ("-5 30", -5.5),
        ("-0:30", -0.5),
        ("10;15;36", 10.26),
        ("  7  ", 7.0),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "1:2:3:4", "12:-5", "1:x"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (12.5042, "%010.6m", "  12:30:15"),
        (-0.5, "%9.6m", "  -0:30:00"),
        (5.25, "%6.3m", "  5:15"),
        (5.2625, "%8.5m", "  5:15.8"),
        (5.2625, "%11.8m", "   5:15:45.0"),
        (3.14159, "%.2f", "3.14"),
        (42.0, "%d", "42"),
        (1.5, "bogus", "1.5"),
    ],
)
def test_format_number(value: float, fmt: str, text: str) -> None:
    assert format_number(value, fmt).strip() == text.strip()


def test_commands_round_trip_through_the_parser() -> None:
    data = b"".join(
        [
            get_properties_bytes(),
            get_properties_bytes("CCD Simulator", "CCD1"),
            enable_blob_bytes("CCD Simulator", "Also"),
            new_vector_bytes(PropertyKind.NUMBER, "T", "EQ", {"RA": 5.5, "DEC": "-10:30"}),
            new_vector_bytes(PropertyKind.SWITCH, "T", "CONNECTION", {"CONNECT": True}),
            new_vector_bytes(PropertyKind.TEXT, "T", "NOTE", [("X", 'a <"b"> & c')]),
            new_vector_bytes(PropertyKind.BLOB, "T", "UP", {"F": (b"\x00\x01SIMPLE", ".fits")}),
        ]
    )
    got = Parser().feed(data)
    assert got[0] == GetProperties("1.7", None, None)
    assert got[1] == GetProperties("1.7", "CCD Simulator", "CCD1")
    assert got[2] == EnableBLOB("CCD Simulator", None, BLOBMode.ALSO)
    assert isinstance(got[3], NewVector)
    assert [(e.name, e.value) for e in got[3].elements] == [("RA", 5.5), ("DEC", -10.5)]
    assert got[4].elements[0].value is SwitchState.ON
    assert got[5].elements[0].value == 'a <"b"> & c'
    blob = got[6].elements[0]
    assert (blob.data, blob.format, blob.size) == (b"\x00\x01SIMPLE", ".fits", 8)


def test_lights_cannot_be_sent() -> None:
    with pytest.raises(ValueError):
        new_vector_bytes(PropertyKind.LIGHT, "D", "L", {"A": "Ok"})


def _blob_vector(*elements: tuple[str, str, bytes], wrap: int = 0, eol: bytes = b"\n") -> bytes:
    parts = [b'<setBLOBVector device="Cam" name="CCD1" state="Ok" timestamp="2026-01-01T00:00:00">']
    for name, fmt, payload in elements:
        encoded = base64.b64encode(payload)
        if wrap:
            encoded = eol.join(encoded[i : i + wrap] for i in range(0, len(encoded), wrap))
        parts.append(
            b'\n  <oneBLOB name="%s" size="%d" format="%s">\n%s\n  </oneBLOB>'
            % (name.encode(), len(payload), fmt.encode(), encoded)
        )
    parts.append(b"\n</setBLOBVector>\n")
    return b"".join(parts)


@pytest.mark.parametrize(("wrap", "eol"), [(0, b""), (76, b"\n"), (72, b"\r\n"), (61, b" \t ")])
def test_blob_payload_split_anywhere_decodes_the_same(wrap: int, eol: bytes) -> None:
    rng = random.Random(wrap)
    first = bytes(rng.getrandbits(8) for _ in range(3001))  # not a multiple of 3: padding
    second = zlib.compress(b"SIMPLE" + bytes(9000))
    stream = _blob_vector(("A", ".fits", first), ("B", ".fits.z", second), wrap=wrap, eol=eol)
    stream += b'<message message="after"/>'
    for sizes in (iter(lambda: 1, 0), random_sizes(wrap, 97), iter([len(stream)])):
        got = feed_in_chunks(stream, sizes)
        assert len(got) == 2, got
        blob_a, blob_b = got[0].elements
        assert (blob_a.name, blob_a.format, blob_a.data) == ("A", ".fits", first)
        assert (blob_b.name, blob_b.format, blob_b.data) == ("B", ".fits", b"SIMPLE" + bytes(9000))
        assert got[1] == Message(None, None, "after")


def test_a_broken_blob_loses_only_itself() -> None:
    good = _blob_vector(("A", ".fits", b"SIMPLE" * 100))
    bad_padding = good.replace(b"</oneBLOB>", b"A</oneBLOB>")
    never_closed = good[: len(good) // 2]
    bad_zlib = _blob_vector(("A", ".fits.z", b"not zlib at all"))
    after = b'<message message="after"/>'
    for broken in (bad_padding, never_closed, bad_zlib):
        stream = good + broken + after + good
        for sizes in (iter(lambda: 1, 0), random_sizes(3, 50), iter([len(stream)])):
            got = feed_in_chunks(stream, sizes)
            assert isinstance(got[1], ProtocolError), got[1]
            assert [type(m) for m in got] == [SetVector, ProtocolError, Message, SetVector]
            assert got[0] == got[3]


def test_an_unclosed_comment_or_unknown_element_does_not_hold_up_the_stream() -> None:
    sets = b"".join(
        b'<setNumberVector device="F" name="P"><oneNumber name="X">%d</oneNumber>'
        b"</setNumberVector>" % i
        for i in range(50)
    )
    for opener in (b"<!-- never closed ", b"<foo>", b"<ns:x a='1'>"):
        for sizes in (iter(lambda: 1, 0), random_sizes(5, 40), iter([10**6])):
            got = feed_in_chunks(opener + sets, sizes)
            assert isinstance(got[0], ProtocolError)
            assert [m.elements[0].value for m in got[1:]] == list(range(50))


def test_a_truncated_blob_is_cut_where_the_next_element_starts_at_any_split() -> None:
    broken = _blob_vector(("A", ".fits", b"SIMPLE" * 50))[:120]
    stream = broken + DEFS
    whole = Parser().feed(stream)
    assert isinstance(whole[0], ProtocolError)
    assert whole[1:] == Parser().feed(DEFS)
    for cut in range(len(broken), len(broken) + 40):  # every split near the resync point
        parser = Parser()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == whole, cut


def test_a_truncated_zlib_blob_is_an_error_not_a_short_frame() -> None:
    packed = zlib.compress(bytes(range(256)) * 100)
    stream = _blob_vector(("A", ".fits.z", packed[: len(packed) // 2]))
    (msg,) = Parser().feed(stream)
    assert isinstance(msg, ProtocolError) and "zlib" in msg.reason
