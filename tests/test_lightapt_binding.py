"""lightAPT's params binder follows the verb registry (`indiws.verbs.VERBS`):
an instruction that names a verb binds its params to fields of it, with
their types, ranges and defaults; a refused param gets lightAPT's clear
error (or the original's words) and nothing is sent to the device."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator
from types import UnionType
from typing import Annotated, Any

import msgspec
import pytest
from lightapt_support import CCD, FOCUSER, SCOPE, WHEEL, LightAptClient, assign_roles
from msgspec import Meta
from ws_support import sent_to

from indiws.client import InvalidValueError
from indiws.testing import RunningService
from indiws.verbs import VERBS, Params, Result, Verb, result_schema
from indiws.web.lightapt import INSTRUCTIONS, Context, LightAptError, Refusal, instruction
from indiws.web.lightapt.binding import Instruction, declare

#: Every (role, name, instruction) that names a verb.
WITH_VERB = [
    (role, name, found)
    for role, instructions in INSTRUCTIONS.items()
    for name, found in instructions.items()
    if found.verb is not None
]


def _arms(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    return typing.get_args(hint) if origin in (typing.Union, UnionType) else (hint,)


def _schema_of(verb: Verb, field: str) -> dict[str, Any]:
    """A field's schema (its number arm, for ``float | None``)."""
    schema = verb.param_schema(field)
    return next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)


def _bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, inclusive, high, inclusive) of a number's schema."""
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    return low, "minimum" in schema, high, "maximum" in schema


def _ranged(schema: dict[str, Any]) -> bool:
    low, _, high, _ = _bounds(schema)
    return low is not None or high is not None


def _valid(found: Instruction, param: str) -> Any:
    """A value its struct takes, for the params around the one probed."""
    schema = result_schema(found.args)["prefixItems"][found.names.index(param)]
    schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)
    low, inclusive, high, _ = _bounds(schema)
    if schema.get("type") in ("number", "integer"):
        return 1 if low is None else low if inclusive else low + 1
    return {"string": "x", "boolean": True}[schema["type"]]


#: (role, instruction, param, verb field) of every param bound to a verb's
#: field that has a range: derived from the registry, so a range added to a
#: verb's struct is probed here too.
RANGED = [
    (role, name, param, field)
    for role, name, found in WITH_VERB
    for param, field in found.from_verb.items()
    if found.verb is not None and _ranged(_schema_of(found.verb, field))
]


def test_instructions_name_the_verbs_they_call() -> None:
    named = {(role, name): found.verb.name for role, name, found in WITH_VERB if found.verb}
    assert named[("telescope", "goto")] == "telescope.goto"
    assert named[("telescope", "got_az_al")] == "telescope.goto_altaz"
    assert named[("focuser", "move_to_position")] == "focuser.move_to"
    assert named[("camera", "start_exposure")] == named[("guider", "start_single_exposure")]
    assert named[("filter_wheel", "switch_filter")] == "filter_wheel.select"
    assert len(named) >= 25
    probed = {(role, name, field) for role, name, _, field in RANGED}
    assert {("telescope", "goto", "ra"), ("telescope", "got_az_al", "alt")} <= probed
    assert ("camera", "start_single_exposure", "duration") in probed


@pytest.mark.parametrize(("role", "name", "found"), WITH_VERB, ids=lambda x: str(x)[:40])
def test_each_verb_param_is_a_field_of_its_verb_with_its_type_and_default(
    role: str, name: str, found: Instruction
) -> None:
    verb = found.verb
    assert verb is not None and VERBS[verb.name] is verb
    fields = {f.name: f for f in verb.fields()}
    declared = typing.get_type_hints(verb.params, include_extras=True)
    bound = typing.get_type_hints(found.args, include_extras=True)
    ours = {f.name: f for f in msgspec.structs.fields(found.args)}
    for param, field in found.from_verb.items():
        assert field in fields, (name, param, field)
        # The verb's type, ranges included, or some of its arms: never another.
        assert set(_arms(bound[param])) <= set(_arms(declared[field])), (name, param)
        assert ours[param].default == fields[field].default, (name, param)


@pytest.mark.parametrize(("role", "name", "param", "field"), RANGED)
def test_the_range_lightapt_enforces_is_the_verbs(
    role: str, name: str, param: str, field: str
) -> None:
    found = INSTRUCTIONS[role][name]
    assert found.verb is not None
    schema = _schema_of(found.verb, field)
    low, low_in, high, high_in = _bounds(schema)
    # Past the edge by a value of the field's type (a slot 0, not 0.5).
    past = 1 if schema.get("type") == "integer" else 0.5
    required = len(found.names) - len(found.args.__struct_defaults__)
    at = found.names.index(param)
    params = [_valid(found, p) for p in found.names[: max(required, at + 1)]]

    def bind(value: float) -> list[Any]:
        params[at] = value
        return found.bind(params)

    for edge, inclusive, step in ((low, low_in, -past), (high, high_in, past)):
        if edge is None:
            continue
        if inclusive:
            assert bind(edge)[at] == edge
        with pytest.raises(InvalidValueError) as refused:
            bind(edge + step if inclusive else edge)
        assert refused.value.param == field
        assert str(refused.value).startswith(f"parameter {param} of {name} must be")


# ---------------------------------------------------------------- a verb of the test's own


def _verb(params: type[Params]) -> Verb:
    """A verb declared for the test alone (not in VERBS)."""
    return Verb("test.move", "move", params, Result, "Move.")


class Near(Params):
    position: Annotated[float, Meta(ge=0, le=10)]
    speed: int = 3


class Nearer(Params):
    position: Annotated[float, Meta(ge=0, le=5)]
    speed: int = 3


async def _move(ctx: Context, where: float, target_name: str | None = None) -> None:
    """An instruction whose first param is the verb's position."""


def test_a_range_changed_in_the_struct_is_the_range_bound() -> None:
    before = declare(_move, verb=_verb(Near), params={"where": "position"})
    after = declare(_move, verb=_verb(Nearer), params={"where": "position"})
    assert before.bind([7, "M1"]) == [7.0, "M1"]
    with pytest.raises(InvalidValueError) as refused:
        after.bind([7])
    assert refused.value.param == "position"
    assert str(refused.value) == "parameter where of _move must be a number within [0, 5], got 7"
    # A wrong type is a type error, named as the instruction names it.
    with pytest.raises(LightAptError, match=r'parameter where of _move must be .*, got "far"'):
        after.bind(["far"])


def test_a_signature_that_disagrees_with_its_verb_is_refused() -> None:
    async def wrong_type(ctx: Context, position: str) -> None: ...

    async def wrong_default(ctx: Context, speed: int = 4) -> None: ...

    async def fine(ctx: Context, speed: int = 3) -> None: ...

    async def starred(ctx: Context, *steps: int) -> None: ...

    with pytest.raises(TypeError, match="position is test.move's position"):
        declare(wrong_type, verb=_verb(Near), params=("position",))
    with pytest.raises(TypeError, match="= 3"):
        declare(wrong_default, verb=_verb(Near), params=("speed",))
    with pytest.raises(ValueError, match="no field 'pace'"):
        declare(fine, verb=_verb(Near), params={"speed": "pace"})
    with pytest.raises(ValueError, match="no parameter"):
        declare(fine, verb=_verb(Near), params=("position",))
    with pytest.raises(ValueError, match="onto no verb"):
        declare(fine, params=("speed",))
    with pytest.raises(ValueError, match="no verb 'focuser.teleport'"):
        instruction("focuser", verb="focuser.teleport")
    with pytest.raises(ValueError, match="positional"):
        declare(starred)
    assert declare(fine, verb=_verb(Near), params=("speed",)).bind([]) == [3]


def test_count_type_and_nested_errors_name_the_param() -> None:
    goto = INSTRUCTIONS["telescope"]["goto"]
    with pytest.raises(LightAptError, match=r"goto takes at most 3 parameter\(s\) \(ra, dec"):
        goto.bind([1, 2, "M1", 4])
    with pytest.raises(LightAptError, match=r"goto needs parameter 2 \(dec\)"):
        goto.bind([1])
    with pytest.raises(LightAptError) as wrong:
        goto.bind([True, 0])
    assert str(wrong.value) == "parameter ra of goto must be a number within [0, 24], got true"
    with pytest.raises(LightAptError, match="parameter ra of goto must be a number"):
        goto.bind([1e400, 0])  # JSON's 1e400: inf
    # A whole float is an integer where the verb takes one (JSON cannot tell).
    assert INSTRUCTIONS["focuser"]["move_to_position"].bind([2.0]) == [2]
    with pytest.raises(LightAptError, match="must be an integer, got 1.5"):
        INSTRUCTIONS["focuser"]["move_to_position"].bind([1.5])
    slots = INSTRUCTIONS["filter_wheel"]["update_all_slot_data"]
    with pytest.raises(LightAptError) as nested:
        slots.bind([[{"filter_name": "Z"}, {"filter_name": 5}]])
    assert str(nested.value).startswith("parameter slots of update_all_slot_data: Expected")
    assert str(nested.value).endswith("(at slots[1].filter_name)")


# ---------------------------------------------------------------- against the simulators


@pytest.fixture
async def svc(running_service: RunningService) -> AsyncIterator[RunningService]:
    await assign_roles(running_service)
    yield running_service


async def test_a_refused_param_gets_the_clear_reply_and_nothing_is_sent(
    svc: RunningService, client: LightAptClient
) -> None:
    refused: list[tuple[str, str, list[Any], str, str, str]] = [
        # role, instruction, params, device, reply type, message (or its start)
        ("telescope", "goto", [25, 0], SCOPE, "message", "RA is not in range!"),
        ("telescope", "goto_ha_dec", [1, -91], SCOPE, "message", "DEC is not in range!"),
        ("telescope", "got_az_al", [10, -100], SCOPE, "message", "ALT is not in range!"),
        (
            "telescope",
            "goto",
            ["5h", 0],
            SCOPE,
            "error",
            'parameter ra of goto must be a number within [0, 24], got "5h"',
        ),
        (
            "telescope",
            "set_long_lat",
            ["10E", 40],
            SCOPE,
            "error",
            'parameter long of set_long_lat must be a number within [-180, 360) or null, got "10E"',
        ),
        (
            "camera",
            "start_single_exposure",
            [-1],
            CCD,
            "error",
            "parameter seconds of start_single_exposure must be a number at least 0, got -1",
        ),
        ("focus", "set_max_step", [0], FOCUSER, "error", "max step must be larger than 0!"),
        ("focus", "set_backslash", [-1], FOCUSER, "error", "Backslash value cannot smaller than 0"),
        (
            "focus",
            "move_to_position",
            ["far"],
            FOCUSER,
            "error",
            'parameter position of move_to_position must be an integer, got "far"',
        ),
        (
            "filter",
            "switch_filter",
            ["Red"],
            WHEEL,
            "error",
            'parameter slot of switch_filter must be an integer at least 1, got "Red"',
        ),
        (
            "filter",
            "set_one_filter_solt_value",
            [1, {"filter_name": 5}],
            WHEEL,
            "error",
            "parameter slot_info of set_one_filter_solt_value: Expected",
        ),
    ]
    for role, name, params, device, kind, words in refused:
        with sent_to(svc, device) as sent:
            reply = await client.ask(role, name, params)
            assert reply["type"] == kind and reply["message"].startswith(words), reply
            assert reply["data"] is None
        assert sent == [], (name, params, sent)
    # The spy sees what a bound request sends (the mount's clock, to now).
    with sent_to(svc, SCOPE) as sent:
        await client.success("telescope", "set_time", [])
    assert sent and b"TIME_UTC" in sent[0]


async def test_words_apply_to_the_devices_refusal_of_the_same_field(
    svc: RunningService, client: LightAptClient
) -> None:
    """The site's range is the driver's (no range in telescope.set_site's
    struct): the device refuses, and the instruction's words name it."""
    reply = await client.ask("telescope", "set_long_lat", [10, 95])
    assert (reply["type"], reply["message"]) == ("error", "latitude not in range!")
    # The goto's words are a refusal (type "message"), the site's an error.
    assert isinstance(INSTRUCTIONS["telescope"]["goto"].words["ra"], Refusal)
    assert isinstance(INSTRUCTIONS["telescope"]["set_long_lat"].words["LAT"], LightAptError)
