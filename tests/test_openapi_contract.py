"""The HTTP API keeps its OpenAPI contract (docs/http.md#the-contract).

schemathesis fuzzes every operation of ``/api/v1/openapi.json`` but the
verb routes (`test_openapi_contract_verbs.py` fuzzes those) of a real
service (embedded mode: its own indiserver with the simulators) with the
settings of ``schemathesis.toml`` (fixed seed, bounded examples, the
operations left out and why): every answer must match its documented
schema and status, a schema-valid request must not be refused, a
schema-violating one must not be accepted, and a 405 names the methods the
resource takes.  It runs as any local client does (no token, nothing
forced), with the safety policy refusing moves (the weather role's device
gives no reading), and the mount must not move.

Beside it, plain tests of the classes of disagreement the fuzzer found.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from contract_support import JSON, MOTION, call, expected_operations, fuzz, load_config
from security_support import http

from indiws.client import Event, PropertyState
from indiws.testing import RunningService, start_embedded_service

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCOPE = "Telescope Simulator"
#: Examples per operation in the fuzzing phase (the examples and coverage
#: phases add their own cases): enough to reach every class found so far.
MAX_EXAMPLES = 3


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_embedded_service(tmp_path_factory.mktemp("contract"))
    try:
        # An unknown device named in a role assignment is refused after this wait.
        running.service.roles.appear_timeout = 0.2
        yield running
    finally:
        await running.stop()


async def until(check: Callable[[], bool], timeout: float = 30) -> None:
    """Wait until ``check()`` holds (the simulators connect at their pace)."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"still not true after {timeout} s")


# ------------------------------------------------------------- the whole document


async def test_every_operation_but_the_verb_routes_keeps_its_contract_and_the_mount_does_not_move(
    svc: RunningService,
) -> None:
    service = svc.service
    await until(lambda: "TELESCOPE_PARK" in service.client.devices[SCOPE].properties)
    # The weather role's device is absent: the policy refuses gotos and
    # unparks until it gives a reading (nothing is closed meanwhile).
    service.db.set_role("weather", "Weather Simulator")
    assert service.safety.guard("telescope", "unpark") is not None
    busy: list[str] = []

    def watch(event: Event) -> None:
        prop = event.property
        if event.name in MOTION and prop is not None and prop.state is PropertyState.BUSY:
            busy.append(event.name)

    document = (await call(svc, "GET", "/api/v1/openapi.json")).body
    sub = service.client.subscribe(watch, device=SCOPE)
    parked_before = service.client.devices[SCOPE].properties["TELESCOPE_PARK"].to_dict()
    try:
        # The fuzzer's requests are blocking: they run in a thread while the
        # service answers on this loop.
        failures, cases, fuzzed = await asyncio.to_thread(
            fuzz,
            f"{svc.url}/api/v1/openapi.json",
            verb_routes=False,
            max_examples=MAX_EXAMPLES,
        )
    finally:
        sub.close()
    assert cases > 1000, cases
    # Every operation of its half of the document (the verb routes aside), none left out.
    assert fuzzed == expected_operations(document, verb_routes=False)
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)
    # Nothing the fuzzer sent moved the mount.
    assert busy == [], busy
    parked_after = service.client.devices[SCOPE].properties["TELESCOPE_PARK"].to_dict()
    assert [e["value"] for e in parked_after["elements"]] == [
        e["value"] for e in parked_before["elements"]
    ]


async def test_the_policy_still_refuses_after_the_fuzzer(svc: RunningService) -> None:
    """Whatever the fuzzer changed (roles, override, drivers), the policy
    refuses an unpark without force once its weather is unknown again."""
    service = svc.service
    answer = await call(svc, "DELETE", "/api/v1/safety/weather_override")
    assert answer.code == 200, answer
    service.db.set_role("weather", "Weather Simulator")
    path = f"/api/v1/devices/{SCOPE.replace(' ', '%20')}/properties/TELESCOPE_PARK"
    answer = await call(svc, "PUT", path, {"values": {"UNPARK": True}})
    assert (answer.code, answer.error) == (409, "unsafe"), answer


# ------------------------------------------------------------- the classes fixed


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/status", "GET"),
        ("PATCH", "/api/v1/roles/camera", "GET, DELETE, PUT"),
        ("TRACE", "/api/v1/drivers/start", "POST"),
        ("POST", "/api/v1/openapi.json", "GET"),
        ("PUT", "/get/all/devices/", "GET"),
        ("DELETE", "/ws/indi_client/", "GET"),
    ],
)
async def test_a_405_names_the_methods_the_resource_takes(
    svc: RunningService, method: str, path: str, allow: str
) -> None:
    answer = await call(svc, method, path)
    assert (answer.code, answer.error) == (405, "http_error"), answer
    methods = [m.strip() for m in answer.headers["Allow"].split(",")]
    assert set(allow.split(", ")) <= set(methods), answer.headers["Allow"]
    assert method not in methods


async def test_a_body_outside_its_schema_is_refused_naming_the_field_and_nothing_is_done(
    svc: RunningService,
) -> None:
    db = svc.service.db
    before = [p.name for p in db.list_profiles()]
    for body, field in (
        ({"name": "Contract", "port": 70000}, "port"),
        ({"name": "Contract", "auto_start": "yes"}, "auto_start"),
        ({"name": "Contract", "roles": {"telescop": "Telescope Simulator"}}, "roles"),
        ({"name": "Contract", "drivers": [{"name": "Wheel Two"}]}, "drivers"),
        ({"name": "Contract", "colour": "red"}, "colour"),
        ({"port": 7624}, "name"),
    ):
        answer = await call(svc, "POST", "/api/v1/profiles", body)
        assert (answer.code, answer.error) == (400, "invalid_params"), (body, answer)
        assert answer.body["error"]["data"].get("field") == field, (body, answer)
        assert field in answer.message, answer
    assert [p.name for p in db.list_profiles()] == before
    # A driver request that names neither an executable nor a label starts nothing.
    drivers = {d.executable for d in svc.service.supervisor.drivers()}
    answer = await call(svc, "POST", "/api/v1/drivers/start", {"name": "Wheel Two"})
    assert (answer.code, answer.error) == (400, "invalid_params"), answer
    assert {d.executable for d in svc.service.supervisor.drivers()} == drivers


async def test_names_the_schema_refuses_are_refused_where_they_were_ignored(
    svc: RunningService,
) -> None:
    """A label given beside an executable, a profile's role device and a
    remote driver are checked as names (each was once taken: with a control
    character, or a program name as a remote driver)."""
    drivers = {(d.executable, d.name) for d in svc.service.supervisor.drivers()}
    body = {"executable": "indi_simulator_wheel", "name": "Wheel Two", "label": "Wheel\x9b"}
    for action in ("start", "stop", "restart"):
        answer = await call(svc, "POST", f"/api/v1/drivers/{action}", body)
        assert (answer.code, answer.error) == (400, "invalid_params"), answer
        assert "\\x9b" in answer.message, answer
    assert {(d.executable, d.name) for d in svc.service.supervisor.drivers()} == drivers
    answer = await call(
        svc, "POST", "/api/v1/profiles", {"name": "Contract", "roles": {"camera": "CCD\x1bSim"}}
    )
    assert (answer.code, answer.error) == (400, "invalid_params"), answer
    assert svc.service.db.get_profile("Contract") is None
    # INDI Web Manager's "remote" takes devices of other servers, not a program.
    answer = await call(svc, "POST", "/api/profiles/Contract/drivers", [{"remote": "indi_x"}])
    assert (answer.code, answer.error) == (400, "invalid_params"), answer
    assert "Device@host" in answer.message, answer
    assert svc.service.db.get_profile("Contract") is None


async def test_an_answer_that_echoes_a_lone_surrogate_is_still_json(svc: RunningService) -> None:
    """JSON may carry a lone surrogate (``"\\ud822"``); the refusal that
    names it is still a JSON answer, the same escape in it."""
    answer = await http(
        svc.url + "/api/v1/plans?name=x", "POST", headers=JSON, body=b'{"\\ud822": 1}'
    )
    assert (answer.code, answer.error) == (400, "invalid_plan"), answer
    assert "\ud822" in json.dumps(answer.body["error"]["data"], ensure_ascii=False)


async def test_the_document_states_the_rules_the_handlers_apply(svc: RunningService) -> None:
    """The request bodies' schemas come from the structs the handlers decode
    with; a path's name parameters carry the same character rule as the check."""
    from indiws.db import PRINTABLE_PATTERN

    doc = (await call(svc, "GET", "/api/v1/openapi.json")).body
    schemas = doc["components"]["schemas"]
    new_profile = schemas["NewProfile"]
    assert new_profile["required"] == ["name"]
    assert new_profile["additionalProperties"] is False
    assert set(new_profile["properties"]["roles"]["anyOf"][0]["propertyNames"]["enum"]) == set(
        svc.service.roles.assignments()
    )
    assert {"required": ["executable"], "properties": {"executable": {"type": "string"}}} in (
        schemas["DriverRequest"]["anyOf"]
    )
    assert schemas["SetProperty"]["properties"]["force"]["type"] == "boolean"
    label = doc["paths"]["/api/drivers/stop/{label}"]["post"]["parameters"][0]["schema"]
    assert PRINTABLE_PATTERN.removeprefix("^[^").removesuffix("]*$") in label["pattern"]
    # Every operation that takes input documents its 400.
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if op.get("parameters") or op.get("requestBody"):
                if "101" not in op["responses"]:
                    assert "400" in op["responses"], (method, path)
    # Every error code the service answers is in the Error schema's list.
    codes = set(schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert {"invalid_plan", "not_supported", "length_required", "unknown_action"} <= codes


async def test_the_seed_calls_keep_the_original_answers(svc: RunningService) -> None:
    """A role lightAPT does not know is still answered as the original did
    (HTTP 200, plain text), and the document says so (no enum on the path)."""
    answer = await call(svc, "GET", "/FIFO/start/nosuchrole/CCD%20Simulator/")
    assert (answer.code, answer.body) == (200, "Wrong device name!")
    doc = (await call(svc, "GET", "/api/v1/openapi.json")).body
    param = doc["paths"]["/FIFO/start/{device_type}/{device_name}/"]["get"]["parameters"][0]
    assert "enum" not in param["schema"]


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_the_fuzzer_settings_are_fixed() -> None:
    """The run is the same every time: a seed, one worker, no example database."""
    project = load_config().projects.default
    assert project.seed is not None
    assert project.workers == 1
    assert project.generation.database == "none"
