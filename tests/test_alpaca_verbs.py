"""The Alpaca front follows the verb registry (indiws.verbs.VERBS): a member
that invokes a device verb maps its parameters onto the verb's fields, and
takes their types and ranges from the verb's params struct, so Alpaca
refuses with InvalidValue (0x401) exactly what the verb refuses.  No server
here: the tables and the verbs' structs (test_alpaca.py sends the same
refusals to a running service)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from indiws.alpaca.binding import Arg, Member, verb_member, verbs_of
from indiws.alpaca.members import COMMON, DEVICE_ROLES, MEMBERS
from indiws.alpaca.protocol import INVALID_VALUE, AlpacaError, Param, parse_params
from indiws.verbs import VERBS, Verb

DOCS = Path(__file__).resolve().parent.parent / "docs" / "alpaca.md"

#: PUT members that call no declared verb, and why: a value kept by the
#: front until a verb needs it, Alpaca's own connection, or a device call
#: with no verb of its own.  A new member that calls a device method without
#: going through a verb fails `test_every_put_member_calls_a_verb_or_is_the_fronts_own`.
FRONT_ONLY = {
    ("*", "action"): "no custom actions",
    ("*", "connected"): "Alpaca's view of the connection (RoleManager.connect)",
    ("*", "connect"): "Alpaca's view of the connection (RoleManager.connect)",
    ("*", "disconnect"): "Alpaca's view of the connection",
    ("Telescope", "slewsettletime"): "kept by the front",
    ("Telescope", "targetdeclination"): "kept until a slew or sync to the target",
    ("Telescope", "targetrightascension"): "kept until a slew or sync to the target",
    ("Telescope", "moveaxis"): "Telescope.move_axis: held manual motion, no verb (docs/verbs.md)",
    ("Camera", "binx"): "kept until StartExposure",
    ("Camera", "biny"): "kept until StartExposure",
    ("Camera", "numx"): "kept until StartExposure",
    ("Camera", "numy"): "kept until StartExposure",
    ("Camera", "startx"): "kept until StartExposure",
    ("Camera", "starty"): "kept until StartExposure",
    ("Camera", "readoutmode"): "one mode: 0 only",
    ("Camera", "abortexposure"): "ends the running camera.expose (which aborts the exposure)",
    ("Focuser", "tempcomp"): "False only",
    ("CoverCalibrator", "haltcover"): "ends the running open/close_cap (which sends CAP_ABORT)",
    ("ObservingConditions", "averageperiod"): "0 only",
}


def roles_of(device_type: str) -> tuple[str, ...]:
    return tuple(role for t, role in DEVICE_ROLES if t == device_type)


def verb_backed() -> list[tuple[str, Member, Verb]]:
    """(device type, member, verb) for every verb a member calls, per role."""
    return [
        (t, m, VERBS[name])
        for t, members in MEMBERS.items()
        for m in members
        for name in verbs_of(m, roles_of(t))
    ]


def test_verb_backed_members_map_onto_fields_their_verb_declares() -> None:
    found = verb_backed()
    assert len({(t, m.name) for t, m, _ in found}) >= 40  # the front is mostly verbs
    for device_type, m, verb in found:
        fields = {f.name for f in verb.fields()}
        where = f"{device_type}.{m.name} -> {verb.name}"
        for arg in m.args:
            assert arg.field in fields, f"{where}: {arg.name} fills no field ({arg.field})"
        for key, _ in m.fixed:
            assert key in fields, f"{where}: fixed {key} is no field"
        # The parameters are the verb's: derived again from the struct, for
        # each role's verb, they come out the same.
        assert m.params == tuple(arg.param(verb) for arg in m.args), where
        assert [p.name for p in m.params] == [a.name for a in m.args], where


def test_every_put_member_calls_a_verb_or_is_the_fronts_own() -> None:
    for device_type, members in MEMBERS.items():
        for m in members:
            if m.http != "PUT" or not m.implemented or m.verb:
                continue
            key = ("*", m.name) if m in COMMON else (device_type, m.name)
            assert key in FRONT_ONLY, f"{device_type}.{m.name} calls no declared verb"


def _bounds(verb: Verb, field: str) -> tuple[float | None, bool, float | None, bool]:
    """The field's range as the verb's JSON Schema says it (another path
    than the one the Alpaca front derives its parameters by)."""
    schema = verb.param_schema(field)
    options = schema.get("anyOf", [schema])
    number = next(o for o in options if o.get("type") in ("number", "integer"))
    low = number.get("minimum", number.get("exclusiveMinimum"))
    high = number.get("maximum", number.get("exclusiveMaximum"))
    return low, "exclusiveMinimum" in number, high, "exclusiveMaximum" in number


def _accepted_by_alpaca(param: Param, value: float) -> bool:
    try:
        parse_params((param,), {param.name: f"{value:g}"}, put=True)
    except AlpacaError as exc:
        assert exc.number == INVALID_VALUE
        return False
    return True


def _accepted_by_verb(verb: Verb, field: str, value: float) -> bool:
    fields = {f.name: f for f in verb.fields()}
    required = {
        name: _valid(verb, name) for name, f in fields.items() if f.required and name != field
    }
    try:
        msgspec.convert({**required, field: value}, verb.params)
    except msgspec.ValidationError:
        return False
    return True


def _valid(verb: Verb, field: str) -> Any:
    hint = typing.get_type_hints(verb.params)[field]
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)[0]
    return {bool: True, str: "x"}.get(hint, 1)


def test_a_range_in_the_verbs_struct_is_the_range_alpaca_enforces_with_0x401() -> None:
    checked = set()
    for device_type, m, verb in verb_backed():
        for arg, param in zip(m.args, m.params, strict=True):
            if arg.to_verb is not None or arg.choices is not None or param.type is bool:
                continue
            schema = verb.param_schema(arg.field)
            if not any(k in str(schema) for k in ("minimum", "maximum", "Minimum", "Maximum")):
                assert param.low is None and param.high is None, (m.name, arg.name)
                continue
            low, _, high, _ = _bounds(verb, arg.field)
            step = 1 if param.type is int else 0.5
            probes = [v for b in (low, high) if b is not None for v in (b - step, b, b + step)]
            for value in probes:
                alpaca = _accepted_by_alpaca(param, value)
                by_verb = _accepted_by_verb(verb, arg.field, value)
                where = f"{device_type}.{m.name} {arg.name}={value} ({verb.name}.{arg.field})"
                if arg.within is None:
                    assert alpaca == by_verb, where
                else:  # ASCOM's narrower range: never what the verb refuses
                    assert not alpaca or by_verb, where
                    lo, hi = arg.within
                    assert alpaca == (lo <= value <= hi), where
            checked.add((device_type, m.name, arg.name))
    # The ranges that used to be written twice are among them.
    for expected in [
        ("Telescope", "slewtocoordinatesasync", "RightAscension"),
        ("Telescope", "slewtoaltaz", "Altitude"),
        ("Telescope", "sitelatitude", "SiteLatitude"),
        ("Telescope", "siteelevation", "SiteElevation"),
        ("Telescope", "pulseguide", "Duration"),
        ("Camera", "startexposure", "Duration"),
        ("Camera", "setccdtemperature", "SetCCDTemperature"),
        ("Dome", "slewtoazimuth", "Azimuth"),
        ("Rotator", "moveabsolute", "Position"),
    ]:
        assert expected in checked, expected


def test_enumerations_map_every_ascom_value_and_refuse_others() -> None:
    pulse = next(m for m in MEMBERS["Telescope"] if m.name == "pulseguide")
    direction = pulse.params[0]
    assert direction.choices == (0, 1, 2, 3)
    assert [pulse.args[0].value(None, n) for n in range(4)] == [  # type: ignore[arg-type]
        "north",
        "south",
        "east",
        "west",
    ]
    for name in ("telescope.pulse_guide", "guider.pulse"):
        allowed = typing.get_args(typing.get_type_hints(VERBS[name].params)["direction"])
        assert set(pulse.args[0].choices.values()) <= set(allowed)  # type: ignore[union-attr]
    with pytest.raises(AlpacaError) as exc:
        parse_params(pulse.params, {"Direction": "4", "Duration": "100"}, put=True)
    assert exc.value.number == INVALID_VALUE


def test_a_member_cannot_name_what_its_verb_does_not_declare() -> None:
    with pytest.raises(ValueError, match="no field"):
        verb_member("slewtocoordinates", "telescope.goto", (Arg("RightAscension", "rightasc"),))
    with pytest.raises(ValueError, match="no field"):
        verb_member("slewtocoordinates", "telescope.goto", (), fixed={"equinox": "JNow"})
    with pytest.raises(ValueError, match="wider"):
        verb_member("sitelatitude", "telescope.set_site", (Arg("L", "latitude", within=(-91, 0)),))
    with pytest.raises(TypeError, match="map its values"):
        verb_member("pulseguide", "telescope.pulse_guide", (Arg("Direction", "direction", int),))


def test_docs_coverage_names_the_verb_each_member_calls() -> None:
    text = DOCS.read_text()
    rows: dict[tuple[str, str, str], str] = {}
    device_type = ""
    for line in text.splitlines():
        heading = re.match(r"### (\w+) \(interface version", line)
        if heading:
            device_type = heading.group(1)
        elif line.startswith("### Common members"):
            device_type = "*"
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[(device_type, cells[0].strip("`"), cells[1])] = cells[3]
    for t, members in MEMBERS.items():
        for m in members:
            key = ("*" if m in COMMON else t, m.name, m.http)
            named = re.findall(r"`([^`]+)`", rows[key])
            assert named == list(verbs_of(m, roles_of(t))), key
            assert all(name in VERBS for name in named), key
