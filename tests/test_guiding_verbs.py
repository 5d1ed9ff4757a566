"""The autoguider's verbs follow the registry (`indiws.guiding.verbs`), and so
do PHD2's bindings of them (`indiws.web.phd2`): its params map onto fields
the verbs declare, and the ranges it refuses are the verbs' structs'.

No server is needed here; the fronts run end to end against the simulators
in tests/test_guiding_fronts.py (JSON-RPC, REST) and tests/test_phd2.py.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import msgspec
import pytest

from indiws.guiding.engine import _LIMITS, GuiderConfig
from indiws.guiding.verbs import GuidingVerbs
from indiws.verbs import VERBS
from indiws.web import phd2
from indiws.web.highlevel import IndiClientSocket
from indiws.web.verb_routes import OPENAPI_PATHS, REQUESTS, ROUTED

GUIDING = {n: v for n, v in VERBS.items() if v.role == "guiding"}
#: The verbs that pulse the mount.
MOVING = {"guiding.start", "guiding.calibrate", "guiding.dither", "guiding.pulse", "guiding.resume"}
#: The ones that run until settled: actions (REST answers 202).
LONG = {"guiding.start", "guiding.calibrate", "guiding.dither"}


def test_every_guiding_method_is_a_declared_verb_with_a_rest_route() -> None:
    jsonrpc = {n for n in IndiClientSocket.methods if n.startswith("guiding.")}
    # The engine's events are notifications, not methods.
    assert jsonrpc == set(GUIDING)
    assert set(GUIDING) <= set(ROUTED)
    assert {n for n, v in GUIDING.items() if v.moves} == MOVING
    assert {n for n, v in GUIDING.items() if v.long} == LONG
    paths = OPENAPI_PATHS
    for name in GUIDING:
        post = paths[f"/api/v1/roles/guiding/{name.partition('.')[2]}"]["post"]
        assert ("202" in post["responses"]) == (name in LONG), name
        if name in MOVING:
            assert "Moves hardware" in post["description"], name


def test_the_settings_ranges_are_the_engines() -> None:
    """guiding.configure's fields are GuiderConfig's, ranged from `_LIMITS`."""
    verb = VERBS["guiding.configure"]
    assert [f.name for f in verb.fields()] == list(GuiderConfig.__dataclass_fields__)
    for name, rule in _LIMITS.items():
        if isinstance(rule, tuple) and not isinstance(rule[0], str):
            schema = verb.param_schema(name)["anyOf"][0]
            assert (schema["minimum"], schema["maximum"]) == rule[1:], name


def _phd2_bindings() -> list[tuple[str, str | None, str]]:
    """(PHD2 method, verb, field) of every `_field`, `_roi`, `_settle` and
    `_verb` call in phd2.py: the fields it binds PHD2's params to."""
    tree = ast.parse(Path(inspect.getfile(phd2)).read_text())
    found = []
    for method in ast.walk(tree):
        if not isinstance(method, ast.AsyncFunctionDef) or not method.name.startswith("m_"):
            continue
        for call in ast.walk(method):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
            args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
            if name in ("_field", "_roi", "_settle", "_verb"):
                verb = args[0] if args else None
                if verb is None and call.args and isinstance(call.args[0], ast.Name):
                    verb = _assigned(method, call.args[0].id)
                fields = {"_field": [args[1] if len(args) > 1 else None], "_roi": ["roi"]}
                fields["_settle"] = ["settle"]
                fields["_verb"] = [k.arg for k in call.keywords if k.arg] or [None]
                for f in fields[name]:
                    found.append((method.name[2:], verb, f))
    return found


def _assigned(method: ast.AsyncFunctionDef, var: str) -> str | None:
    """The string constant last assigned to ``var`` in ``method`` (``verb = "guiding.start"``)."""
    value = None
    for node in ast.walk(method):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for t, v in zip(names, values, strict=False):
                    if getattr(t, "id", None) == var and isinstance(v, ast.Constant):
                        value = v.value
    return value


def test_phd2_params_map_onto_the_verbs_fields() -> None:
    bindings = _phd2_bindings()
    methods = {m for m, _, _ in bindings}
    # Every PHD2 method that invokes a guiding operation goes through a verb.
    assert {
        "set_exposure",
        "set_paused",
        "set_lock_position",
        "loop",
        "stop_capture",
        "guide",
        "dither",
        "find_star",
        "flip_calibration",
        "clear_calibration",
        "set_algo_param",
        "set_dec_guide_mode",
        "guide_pulse",
    } <= methods
    for method, verb, field in bindings:
        assert verb in GUIDING, (method, verb)
        if field is not None:
            assert field in {f.name for f in GUIDING[verb].fields()}, (method, verb, field)
    # set_algo_param binds the engine's setting names (`_ALGO`), each a configure field.
    configure = {f.name for f in VERBS["guiding.configure"].fields()}
    for _, settings in phd2._ALGO.values():
        assert {s for s in settings.values() if s} <= configure


@pytest.mark.parametrize(
    ("verb", "field", "phd2_name"),
    [("guiding.dither", "amount", "dither amount"), ("guiding.pulse", "duration_ms", "amount")],
)
def test_phd2_refuses_the_range_the_verb_declares(verb: str, field: str, phd2_name: str) -> None:
    schema = VERBS[verb].param_schema(field)
    high = schema["maximum"]
    assert phd2._field(verb, field, high, "x") == high
    with pytest.raises(phd2.RpcError) as refused:
        phd2._field(verb, field, high + 1, f"expected {phd2_name} param")
    message = refused.value.message
    assert message.startswith(f"expected {phd2_name} param: {field} must be within "), message
    assert f"{high:g}]" in message and message.endswith(f"got {high + 1:g}"), message
    with pytest.raises(phd2.RpcError):
        phd2._field(verb, field, "many", "x")


def test_phd2_settle_is_the_verbs_settle() -> None:
    """PHD2's settle object becomes the verb's `Settle`; what its fields'
    ranges refuse PHD2 refuses with its own words (-32602)."""
    settle_type = msgspec.convert({"settle": {}}, VERBS["guiding.start"].params).settle
    ok = phd2._settle("guiding.start", True, {"pixels": 2.5, "time": 3.7, "timeout": 60})
    assert type(ok) is type(settle_type) and (ok.pixels, ok.time, ok.timeout) == (2.5, 3, 60)
    hints = VERBS["guiding.start"].param_schema("settle")["anyOf"][0]["properties"]
    over = hints["timeout"]["maximum"] + 1
    for bad in ({"pixels": 0, "time": 1, "timeout": 5}, {"pixels": 1, "time": 1, "timeout": over}):
        with pytest.raises(phd2.RpcError) as refused:
            phd2._settle("guiding.start", True, bad)
        assert (refused.value.code, refused.value.message) == (-32602, "invalid settle params")
    with pytest.raises(phd2.RpcError) as refused:
        phd2._roi("guiding.start", [0, 0, 0, 10])  # the struct's width > 0
    assert refused.value.message == "invalid ROI param"


def test_rest_bodies_are_the_verbs_params_and_wait() -> None:
    for name, verb in GUIDING.items():
        body = {f.name for f in msgspec.structs.fields(REQUESTS[name])}
        assert body == {f.name for f in verb.fields()} | {"wait"}, name
    # The facade takes every declared param (configure: each setting).
    for name, verb in GUIDING.items():
        params = inspect.signature(getattr(GuidingVerbs, verb.method)).parameters
        assert {f.name for f in verb.fields()} <= set(params), name
