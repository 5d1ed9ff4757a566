"""Verbs declared once (indiws/verbs.py): the fronts derived from a verb's
declaration agree with it, and the device answers what it declares."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import msgspec
import pytest
from ws_support import WsClient

from indiws.devices import ROLE_CLASSES
from indiws.guiding.verbs import GuidingVerbs
from indiws.remote import Observatory, RemoteError
from indiws.remote import _methods as methods_module
from indiws.remote._methods import (
    METHODS,
    CameraMethods,
    DomeMethods,
    FilterWheelMethods,
    FlatPanelMethods,
    FocuserMethods,
    GpsMethods,
    GuiderMethods,
    GuidingMethods,
    RotatorMethods,
    SafetyMethods,
    TelescopeMethods,
    WeatherMethods,
)
from indiws.roles import ROLES
from indiws.safety import SafetyPolicy
from indiws.testing import RunningService, sync_mount_east_of_meridian
from indiws.verbs import VERBS, Verb
from indiws.web.highlevel import DECLARED_ROLES, IndiClientSocket

SCOPE = "Telescope Simulator"
DECLARED = [v for v in VERBS.values() if v.role in DECLARED_ROLES]
COMMON = ("connect", "disconnect", "status", "info")
DEVICES = {**ROLE_CLASSES, "safety": SafetyPolicy, "guiding": GuidingVerbs}
CLIENT = {
    "telescope": TelescopeMethods,
    "camera": CameraMethods,
    "guider": GuiderMethods,
    "focuser": FocuserMethods,
    "filter_wheel": FilterWheelMethods,
    "dome": DomeMethods,
    "rotator": RotatorMethods,
    "flat_panel": FlatPanelMethods,
    "weather": WeatherMethods,
    "gps": GpsMethods,
    "safety": SafetyMethods,
    "guiding": GuidingMethods,
}


def _result_fields(verb: Verb) -> set[str]:
    struct = verb.result
    if typing.get_origin(struct) is list:
        (struct,) = typing.get_args(struct)
    if dataclasses.is_dataclass(struct):  # guiding's settings: the GuiderConfig dataclass
        return {f.name for f in dataclasses.fields(struct)}
    return {f.name for f in msgspec.structs.fields(struct)}


def test_every_method_of_the_declared_roles_is_a_declared_verb() -> None:
    """A role is derived whole, but for the methods named here (docs/verbs.md)."""
    hand_written: set[str] = set()
    # connect, disconnect, status, info: declared for every role (its brief state is)
    assert all(ROLE_CLASSES[r].brief is not None for r in DECLARED_ROLES if r in ROLES)
    names = {v.name for v in DECLARED}
    for name in IndiClientSocket.methods:
        if name.partition(".")[0] in DECLARED_ROLES and name not in hand_written:
            assert name in names, name
    assert not hand_written & names
    for name in ("goto", "goto_hadec", "goto_altaz", "sync", "abort", "park", "unpark", "home"):
        assert f"telescope.{name}" in names
    for name in ("expose", "abort", "settings", "configure"):
        assert f"camera.{name}" in names and f"guider.{name}" in names
    for name in ("move", "stop"):  # held by the JSON-RPC socket; timed only on REST
        assert f"telescope.{name}" in names
    for role in ROLES:
        assert {f"{role}.{c}" for c in COMMON} <= names


@pytest.mark.parametrize("verb", DECLARED, ids=lambda v: v.name)
def test_rpc_discover_is_the_declaration(verb: Verb) -> None:
    described = IndiClientSocket.methods[verb.name].describe()
    fields = verb.fields()
    assert [p["name"] for p in described["params"]] == [f.name for f in fields]
    assert [p["name"] for p in described["params"] if p["required"]] == [
        f.name for f in fields if f.default is msgspec.NODEFAULT
    ]
    defaults = {p["name"]: p["schema"]["default"] for p in described["params"] if not p["required"]}
    assert defaults == verb.defaults()
    for p in described["params"]:  # the ranges are the struct's
        declared = verb.param_schema(p["name"])
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            assert p["schema"].get(key) == declared.get(key), (verb.name, p["name"], key)
    assert described.get("x-events", []) == list(verb.events)
    assert described["summary"] == verb.summary
    result = described["result"]["schema"]
    assert result == verb.result_schema()
    items = result["items"] if result.get("type") == "array" else result
    assert set(items["properties"]) == _result_fields(verb)
    assert "$ref" not in repr(result)


@pytest.mark.parametrize("verb", DECLARED, ids=lambda v: v.name)
def test_only_the_declaration_defines_the_method(verb: Verb) -> None:
    """No hand-written @rpc method of the same name is left in a mixin."""
    defined = [
        (klass.__name__, attr)
        for klass in IndiClientSocket.__mro__
        for attr in vars(klass).values()
        if getattr(attr, "__rpc_name__", None) == verb.name
    ]
    assert [k for k, _ in defined] == ["DeclaredVerbs"], defined


@pytest.mark.parametrize("verb", DECLARED, ids=lambda v: v.name)
def test_the_client_is_the_declaration(verb: Verb) -> None:
    spec = METHODS[verb.name]
    assert spec["params"] == [f.name for f in verb.fields()]
    assert spec["defaults"] == verb.defaults()
    assert spec["events"] == list(verb.events)
    call = getattr(CLIENT[verb.role], verb.name.split(".", 1)[1])
    params = inspect.signature(call).parameters
    for f in verb.fields():
        wanted = inspect.Parameter.empty if f.default is msgspec.NODEFAULT else f.default
        assert params[f.name].default == wanted, (verb.name, f.name)


@pytest.mark.parametrize("verb", DECLARED, ids=lambda v: v.name)
def test_the_device_method_takes_the_declared_params(verb: Verb) -> None:
    """Callers of the device itself (lightAPT, plans) get the same defaults;
    a procedure (autofocus, centering) takes the role's device first."""
    call = verb.function or getattr(DEVICES[verb.role], verb.method)
    params = inspect.signature(call).parameters
    for f in verb.fields():
        assert f.name in params, (verb.name, f.name)
        if f.default is not msgspec.NODEFAULT:
            assert params[f.name].default == f.default, (verb.name, f.name)
    for name in verb.extra:
        assert name in params


def _conforms(verb: str, result: dict[str, Any]) -> None:
    """The answer has only declared fields, each of its declared type."""
    msgspec.convert(result, VERBS[verb].result)


@pytest.mark.slow
async def test_answers_are_the_declared_results(running_service: RunningService) -> None:
    await running_service.service.roles.assign("telescope", SCOPE)
    async with Observatory(running_service.url) as obs:
        await obs.call("telescope.unpark", {})
        _conforms("telescope.unpark", await obs.call("telescope.unpark", {}))  # already
        # East of the meridian: the goto below then is no 30-40 s pier flip.
        await sync_mount_east_of_meridian(running_service.service.client, SCOPE)
        here = await obs.call("telescope.position", {})
        ra = (here["ra_j2000"] + 0.5) % 24
        dec = 30.0 if here["dec_j2000"] < 20 else 10.0
        seen: list[dict] = []
        result = await obs.telescope.goto(ra, dec, on_progress=seen.append)
        _conforms("telescope.goto", result)
        assert result["target"]["epoch"] == "JNow" or result["target"]["epoch"] == "J2000"
        # Positional params bind by the struct's field order.
        result = await obs.call("telescope.sync", [result["ra_j2000"], result["dec_j2000"]])
        _conforms("telescope.sync", result)
        _conforms("telescope.abort", await obs.call("telescope.abort", {}))
        _conforms("telescope.status", await obs.call("telescope.status", {}))
        _conforms("telescope.connect", await obs.call("telescope.connect", {}))
        parked = await obs.call("telescope.park", {"timeout": 120})
        _conforms("telescope.park", parked)
        assert parked["parked"] is True
        _conforms("telescope.park", await obs.call("telescope.park", {}))  # already
        unparked = await obs.call("telescope.unpark", {})
        _conforms("telescope.unpark", unparked)
        assert unparked["parked"] is False


async def test_bad_params_keep_their_errors(running_service: RunningService) -> None:
    await running_service.service.roles.assign("telescope", SCOPE)
    async with Observatory(running_service.url) as obs:
        with pytest.raises(RemoteError) as err:  # a type: bound by the front
            await obs.call("telescope.goto", {"ra": "x", "dec": 0})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "ra"
        with pytest.raises(RemoteError) as err:
            await obs.call("telescope.goto", {"dec": 0})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "ra"
        with pytest.raises(RemoteError) as err:
            await obs.call("telescope.goto", {"ra": 1, "dec": 0, "timeout": 0})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "timeout"
        with pytest.raises(RemoteError) as err:  # a range: the struct's, checked by the device
            await obs.call("telescope.goto", [25, 0])
        assert err.value.name == "invalid_value"
        assert err.value.message == "ra must be within [0, 24] hours, got 25"
        assert err.value.data["role"] == "telescope"
        with pytest.raises(RemoteError) as err:
            await obs.call("telescope.goto_altaz", {"alt": 10, "az": 400})
        assert err.value.message == "az must be within [0, 360] degrees, got 400"
        with pytest.raises(RemoteError) as err:
            await obs.call("telescope.goto", {"ra": 1, "dec": 0, "epoch": "B1950"})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "epoch"


@pytest.mark.slow
async def test_focuser_and_wheel_answer_their_declared_results(
    running_service: RunningService,
) -> None:
    roles = running_service.service.roles
    await roles.assign("focuser", "Focuser Simulator")
    await roles.assign("filter_wheel", "Filter Simulator")
    async with Observatory(running_service.url) as obs:
        for role in ("focuser", "filter_wheel"):
            _conforms(f"{role}.status", await obs.call(f"{role}.status", {}))
        start = await obs.call("focuser.position", {})
        _conforms("focuser.position", start)
        for name in ("focuser.temperature", "focuser.max"):
            _conforms(name, await obs.call(name, {}))
        _conforms("focuser.move_by", await obs.call("focuser.move_by", [20]))
        _conforms("focuser.move_by", await obs.call("focuser.move_by", {"steps": 0}))
        back = await obs.focuser.move_to(start["position"])
        _conforms("focuser.move_to", back)
        assert back["position"] == start["position"]
        # focuser.sync and focuser.abort: the simulator defines neither
        # FOCUS_SYNC nor FOCUS_ABORT_MOTION.

        filters = await obs.call("filter_wheel.filters", {})
        _conforms("filter_wheel.filters", filters)
        now = await obs.call("filter_wheel.current", {})
        _conforms("filter_wheel.current", now)
        other = 2 if now["slot"] != 2 else 3
        _conforms("filter_wheel.select", await obs.call("filter_wheel.select", [other]))
        _conforms("filter_wheel.select", await obs.filter_wheel.select(now["slot"]))
        first = filters[0]
        renamed = await obs.call("filter_wheel.rename", {"names": {"1": "Lum"}})
        _conforms("filter_wheel.rename", renamed)
        assert renamed[0]["name"] == "Lum"
        await obs.call("filter_wheel.rename", {"names": {"1": first["name"]}})


@pytest.mark.parametrize("verb", DECLARED, ids=lambda v: v.name)
def test_the_clients_result_type_is_the_declared_result(verb: Verb) -> None:
    """The client's calls return a TypedDict made from the result struct."""
    struct = verb.result
    listed = typing.get_origin(struct) is list
    if listed:
        (struct,) = typing.get_args(struct)
    call = getattr(CLIENT[verb.role], verb.name.split(".", 1)[1])
    name = struct.__name__
    assert inspect.signature(call).return_annotation == (f"list[{name}]" if listed else name)
    shape = getattr(methods_module, name)
    if dataclasses.is_dataclass(struct):  # guiding's settings (each with a default)
        missing = dataclasses.MISSING
        fields = {
            f.name: f.default is missing and f.default_factory is missing
            for f in dataclasses.fields(struct)
        }
    else:
        fields = {f.name: f.required for f in msgspec.structs.fields(struct)}
    # The module's annotations are strings (PEP 563): NotRequired is read from them.
    text = {k: getattr(t, "__forward_arg__", t) for k, t in shape.__annotations__.items()}
    optional = {k for k, t in text.items() if t.startswith("NotRequired[")}
    assert set(shape.__annotations__) == set(fields)
    assert optional == {name for name, required in fields.items() if not required}


@pytest.mark.slow
async def test_camera_and_guider_answer_their_declared_results(
    running_service: RunningService,
) -> None:
    roles = running_service.service.roles
    await roles.assign("camera", "CCD Simulator")
    await roles.assign("guider", "CCD Simulator")  # one device, two roles
    async with Observatory(running_service.url) as obs:
        settings = await obs.call("camera.configure", {"binning": 2, "roi": "full"})
        _conforms("camera.configure", settings)
        assert settings["binning"] == [2, 2]
        _conforms("camera.settings", await obs.call("camera.settings", {}))
        _conforms("camera.sensor_info", await obs.call("camera.sensor_info", {}))
        _conforms("camera.temperature", await obs.call("camera.temperature", {}))
        _conforms("camera.set_cooler", await obs.call("camera.set_cooler", [True]))
        now = (await obs.call("camera.temperature", {}))["temperature"]
        _conforms("camera.set_temperature", await obs.call("camera.set_temperature", [now]))
        seen: list[dict] = []
        frame = await obs.camera.expose(
            0.2, frame_type="dark", metadata={"object": "M 42"}, on_progress=seen.append
        )
        _conforms("camera.expose", frame)
        assert frame["frame_type"] == "dark" and frame["object"] == "M 42"
        assert frame["url"] == f"/blobs/{frame['blob_id']}"
        assert [p["state"] for p in seen][-2:] == ["analysing", "saving"]
        # Positional params bind by the struct's field order.
        guided = await obs.call("guider.expose", [0.2, "light", 2])
        _conforms("guider.expose", guided)
        assert guided["binning"] == [2, 2] and guided["preview_url"].endswith("preview.png")
        _conforms("guider.settings", await obs.call("guider.settings", {}))
        _conforms("guider.configure", await obs.call("guider.configure", {"binning": 1}))
        _conforms("camera.abort", await obs.call("camera.abort", {}))
        _conforms("guider.abort", await obs.call("guider.abort", {}))
        await obs.call("camera.set_cooler", [False])


async def test_camera_params_keep_their_errors(running_service: RunningService) -> None:
    await running_service.service.roles.assign("camera", "CCD Simulator")
    async with Observatory(running_service.url) as obs:
        with pytest.raises(RemoteError) as err:
            await obs.call("camera.expose", {"duration": 1, "frame_type": "sky"})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "frame_type"
        with pytest.raises(RemoteError) as err:
            await obs.call("camera.expose", {"duration": 1, "timeout": -1})
        assert err.value.name == "invalid_params" and err.value.data["param"] == "timeout"
        with pytest.raises(RemoteError) as err:  # the driver's range, checked by the device
            await obs.call("camera.expose", [-1])
        assert err.value.name == "invalid_value" and err.value.data["role"] == "camera"
        with pytest.raises(RemoteError) as err:
            await obs.call("guider.expose", {"duration": 1, "replace": True})
        assert err.value.name == "invalid_params"
        with pytest.raises(RemoteError) as err:
            await obs.call("camera.set_temperature", {"target": 0, "tolerance": 0})
        assert err.value.name == "invalid_value"


def test_every_jsonrpc_method_binds_through_a_struct() -> None:
    """A declared verb's JSON-RPC params are its `Params` struct (REST's too);
    a hand-written method's are a struct made from its signature."""
    from indiws.web.indi_socket import IndiSocket
    from indiws.web.streams import DebuggingSocket

    for socket in (IndiClientSocket, IndiSocket, DebuggingSocket):
        for name, method in socket.methods.items():
            if name in VERBS:
                assert method.params is VERBS[name].params, name
            assert tuple(f.name for f in msgspec.structs.fields(method.params)) == method.names
            msgspec.json.schema(method.params)  # every type is one msgspec checks


async def test_jsonrpc_binding_keeps_its_codes_and_leniency(
    running_service: RunningService,
) -> None:
    """Through the params struct, JSON-RPC answers as before: the wrong type,
    a missing or unknown param is invalid_params naming it, a number out of
    its declared range invalid_value with the role; names in any case and an
    integral 2.0 for an int are still taken."""
    roles = running_service.service.roles
    await roles.assign("telescope", SCOPE)
    await roles.assign("focuser", "Focuser Simulator")
    ws = await WsClient.open(f"{running_service.ws_url}/ws/indi_client/")
    try:
        # Lenient where it was: an integral float for an int, a list's name in any case.
        before = (await ws.call("focuser.position"))["position"]
        moved = await ws.call("focuser.move_by", {"steps": 0.0})
        assert moved["position"] == before
        assert (await ws.call("actions.recent", [2.0])) is not None
        assert (await ws.call("telescope.stop", {"direction": "North"}))["moving"] is False

        error = await ws.error("telescope.goto", {"ra": 2.5, "dec": -91})
        assert (
            error["code"] == -32015
            and error["message"] == "dec must be within [-90, 90] degrees, got -91"
        )
        assert error["data"] == {
            "error": "invalid_value",
            "param": "dec",
            "role": "telescope",
            "device": SCOPE,
        }
        error = await ws.error("telescope.pulse_guide", {"direction": "n", "duration_ms": 0})
        assert error["code"] == -32015 and error["data"]["param"] == "duration_ms"
        assert error["message"] == "duration_ms must be > 0 ms, got 0"
        error = await ws.error("telescope.goto", {"ra": 1, "dec": 0, "speed": 2, "fast": True})
        assert error["code"] == -32602 and error["data"]["params"] == ["speed", "fast"]
        error = await ws.error("telescope.goto", [1, 0, "J2000", True, 60, False, 7])
        assert error["code"] == -32602 and "at most 6 parameters" in error["message"]
        error = await ws.error("focuser.move_by", {"steps": 2.5})
        assert error["code"] == -32602 and error["data"]["param"] == "steps"
        # JSON's 1e999 is parsed as infinite: refused, as every non-finite number.
        answer = await ws.raw(
            '{"jsonrpc": "2.0", "id": "inf", "method": "telescope.goto",'
            ' "params": {"ra": 1e999, "dec": 0}}',
            rid="inf",
        )
        assert answer["error"]["code"] == -32602 and answer["error"]["data"]["param"] == "ra"
        # A hand-written method gets only the params given: null is no value.
        error = await ws.error("assign", {"role": "camera", "device": SCOPE, "connect": None})
        assert error["code"] == -32602 and error["data"]["param"] == "connect"
        assert (await ws.call("telescope.position"))["slewing"] is False
    finally:
        await ws.close()
