"""The verb routes keep the OpenAPI contract (docs/http.md#the-contract).

schemathesis fuzzes every verb route of ``/api/v1/openapi.json``
(``POST /api/v1/roles/{role}/{verb}``, every role's, whatever verbs the
document has) with the settings of ``schemathesis.toml``, against a service
of its own whose roles all hold connected simulators (the Observatory
profile), so that the verbs reach their devices: a schema-valid body is not
refused 400 (a value the device's live range refuses is 422
``invalid_value``), a schema-violating one is.  `test_openapi_contract.py`
fuzzes the rest of the document, the two together every operation.

The fuzz must never move the mount: it is parked first, the weather role
names an absent device (the safety policy refuses gotos and unparks), the
hooks send no ``"force": true``, and afterwards the mount's park is what it
was, nothing it sent is still moving or exposing.  The plain tests of the
classes the fuzzer found come first (the fuzzer disconnects devices).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from contract_support import MOTION, call, expected_operations, fuzz
from security_support import observatory, until
from ws_support import sent_to

from indiws.devices import running_actions
from indiws.protocol import PropertyState, SwitchState
from indiws.remote import Observatory, RemoteError
from indiws.testing import RunningService

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCOPE = "Telescope Simulator"
#: Examples per operation in the fuzzing phase, as the other contract module.
MAX_EXAMPLES = 3
#: The properties that are Busy while a device moves or exposes.
WORKING = (*MOTION, "CCD_EXPOSURE", "ABS_FOCUS_POSITION", "REL_FOCUS_POSITION",
           "FILTER_SLOT", "DOME_SHUTTER", "ABS_ROTATOR_ANGLE")  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    async with observatory(tmp_path_factory.mktemp("contract-verbs")) as running:
        yield running


async def rest(svc: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    answer = await call(svc, method, path, body)
    return answer.code, answer.body


def verb_commands(sent: list[bytes]) -> list[bytes]:
    """What was sent to the device but the service's own wiring of the roles
    (ACTIVE_DEVICES, which it sends as devices come and go)."""
    return [command for command in sent if b'name="ACTIVE_DEVICES"' not in command]


def busy(svc: RunningService) -> list[str]:
    """``device.property`` of every property Busy now that a move or exposure makes so."""
    return [
        f"{device.name}.{name}"
        for device in svc.service.client.devices.values()
        for name, prop in device.properties.items()
        if name in WORKING and prop.state is PropertyState.BUSY
    ]


# ------------------------------------------------------------- the classes fixed

CCD, FOCUSER, WHEEL = "CCD Simulator", "Focuser Simulator", "Filter Simulator"


@pytest.mark.parametrize(
    ("route", "body", "device", "field", "words"),
    [
        ("camera/configure", {"roi": []}, CCD, "roi", "length >= 4"),
        ("camera/configure", {"roi": [0, 0, 10, 10, 10]}, CCD, "roi", "length <= 4"),
        ("camera/configure", {"binning": [2, 2, 2]}, CCD, "binning", ""),
        ("camera/expose", {"duration": 1, "binning": 0}, CCD, "binning", ""),
        ("telescope/set_site", {}, SCOPE, "latitude", "give latitude, longitude and/or"),
        ("telescope/set_park", {"position": {"": 1.0}}, SCOPE, "position", "regex"),
        ("telescope/set_park", {"position": {"timeout": 1.0}}, SCOPE, "position", "regex"),
        ("telescope/set_park", {"option": "current", "position": {"ha": 1}}, SCOPE, "position",
         "either option or position"),
        ("telescope/set_track_mode", {"mode": ""}, SCOPE, "mode", ""),
        ("telescope/set_slew_rate", {"rate": " "}, SCOPE, "rate", ""),
        ("telescope/set_slew_rate", {"rate": -1}, SCOPE, "rate", ""),
        ("filter_wheel/select", {"filter": 0}, WHEEL, "filter", ""),
        ("filter_wheel/rename", {"names": {}}, WHEEL, "names", "length >= 1"),
        ("filter_wheel/rename", {"names": {"0": "L"}}, WHEEL, "names", "regex"),
        ("filter_wheel/rename", {"names": {"1": "  "}}, WHEEL, "names", "regex"),
    ],
)  # fmt: skip
async def test_what_the_schema_refuses_is_400_naming_the_field_and_nothing_is_sent(
    svc: RunningService, route: str, body: dict[str, Any], device: str, field: str, words: str
) -> None:
    """The document states these rules (the fuzzer generates no body that
    breaks them as valid): a 400 ``invalid_params`` naming the field, before
    the device is asked."""
    with sent_to(svc, device) as sent:
        status, answer = await rest(svc, "POST", f"/api/v1/roles/{route}", body)
    assert (status, answer["error"]["code"]) == (400, "invalid_params"), answer
    data = answer["error"]["data"]
    assert field in (data.get("field"), data.get("param")), answer
    assert words in answer["error"]["message"], answer
    assert verb_commands(sent) == []
    # The document says so: the body's schema refuses it too.
    assert field in json.dumps(await request_schema(svc, route))


async def request_schema(svc: RunningService, route: str) -> dict[str, Any]:
    _, document = await rest(svc, "GET", "/api/v1/openapi.json")
    ref = document["paths"][f"/api/v1/roles/{route}"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    return document["components"]["schemas"][ref.rpartition("/")[2]]


@pytest.mark.parametrize(
    ("route", "body", "device", "words"),
    [
        ("camera/expose", {"duration": 0}, CCD, "CCD_EXPOSURE_VALUE must be within [0.01, 3600]"),
        ("camera/set_temperature", {"target": 99}, CCD, "must be within [-50, 50], got 99"),
        ("camera/configure", {"roi": [0, 0, 100000, 10]}, CCD, "does not fit the"),
        ("focuser/move_by", {"steps": 2017499}, FOCUSER, "within [0, 100000]"),
        ("filter_wheel/select", {"filter": 9}, WHEEL, "within [1, 8], got 9"),
        ("filter_wheel/rename", {"names": {"9": "Ha"}}, WHEEL, "no slot 9 to name (slots 1..8)"),
        ("telescope/set_track_mode", {"mode": "warp"}, SCOPE, "warp"),
        ("telescope/set_slew_rate", {"rate": 40}, SCOPE, "slew rate index must be within"),
    ],
)  # fmt: skip
async def test_a_value_the_device_s_live_range_refuses_is_422_naming_it_and_nothing_is_sent(
    svc: RunningService, route: str, body: dict[str, Any], device: str, words: str
) -> None:
    """Schema-valid, refused against the device's live range (which the
    document cannot know): 422 ``invalid_value`` with the range, not 400."""
    with sent_to(svc, device) as sent:
        status, answer = await rest(svc, "POST", f"/api/v1/roles/{route}", {**body, "wait": True})
    assert (status, answer["error"]["code"]) == (422, "invalid_value"), answer
    assert words in answer["error"]["message"], answer
    assert verb_commands(sent) == []


async def test_json_rpc_keeps_its_code_for_what_the_device_s_range_refuses(
    svc: RunningService,
) -> None:
    """The 422 is REST's: JSON-RPC answers the same refusal ``invalid_value``
    (-32015), in the same words, nothing sent."""
    with sent_to(svc, CCD) as sent:
        async with Observatory(svc.url) as obs:
            with pytest.raises(RemoteError) as err:
                await obs.camera.expose(0)
    assert (err.value.code, err.value.name) == (-32015, "invalid_value")
    assert "must be within [0.01, 3600], got 0" in err.value.message
    assert verb_commands(sent) == []


async def test_every_verb_route_documents_its_422(svc: RunningService) -> None:
    _, document = await rest(svc, "GET", "/api/v1/openapi.json")
    routes = [p for p in document["paths"] if p.startswith("/api/v1/roles/") and p.count("/") == 5]
    assert len(routes) > 50
    for path in routes:
        responses = document["paths"][path]["post"]["responses"]
        assert {"400", "422"} <= set(responses), path


# ------------------------------------------------------------- every verb route, fuzzed


async def test_every_verb_route_keeps_its_contract_and_the_mount_does_not_move(
    svc: RunningService,
) -> None:
    service = svc.service
    client = service.client
    assert all(service.role_device(role) is not None for role in ("telescope", "camera"))
    # The weather role's device is absent: the policy refuses gotos, unparks
    # and openings until it gives a reading (nothing is closed meanwhile).
    # The simulator starts unparked (no park data yet): parked first, so a
    # fuzzed park finds nothing to do and a reconnect finds it parked.
    status, answer = await rest(svc, "POST", "/api/v1/roles/telescope/park", {"wait": True})
    assert status == 200, answer
    assert client.devices[SCOPE].properties["TELESCOPE_PARK"]["PARK"] is SwitchState.ON
    service.db.set_role("weather", "Weather Absent")
    await until(svc, lambda: service.safety.guard("telescope", "unpark") is not None)
    moved: list[str] = []

    def watch(event: Any) -> None:
        prop = event.property
        if event.name in MOTION and prop is not None and prop.state is PropertyState.BUSY:
            moved.append(event.name)

    status, document = await rest(svc, "GET", "/api/v1/openapi.json")
    assert status == 200
    sub = client.subscribe(watch, device=SCOPE)
    parked_before = client.devices[SCOPE].properties["TELESCOPE_PARK"].to_dict()
    try:
        # The fuzzer's requests are blocking: they run in a thread while the
        # service answers on this loop.
        failures, cases, fuzzed = await asyncio.to_thread(
            fuzz, f"{svc.url}/api/v1/openapi.json", verb_routes=True, max_examples=MAX_EXAMPLES
        )
    finally:
        sub.close()
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)
    # Every verb route of the document, none left out (the turned-off aside).
    assert fuzzed == expected_operations(document, verb_routes=True)
    assert cases > 1000, cases
    # Nothing the fuzzer sent moved the mount.
    assert moved == [], moved
    # The fuzzer disconnects devices: the mount, connected again, is parked where it was.
    status, answer = await rest(svc, "POST", "/api/v1/roles/telescope/connect", {"wait": True})
    assert status == 200, answer
    await until(svc, lambda: "TELESCOPE_PARK" in client.devices[SCOPE].properties)
    parked_after = client.devices[SCOPE].properties["TELESCOPE_PARK"].to_dict()
    assert [e["value"] for e in parked_after["elements"]] == [
        e["value"] for e in parked_before["elements"]
    ]
    # What the fuzzer started and left running (a long exposure) is aborted
    # as a client would; then nothing keeps exposing or moving.
    for action in running_actions(client):
        status, _ = await rest(svc, "DELETE", f"/api/v1/actions/{action['action_id']}")
        assert status in (200, 404), action
    await until(svc, lambda: not running_actions(client) and not busy(svc), timeout=60)
    assert service.safety.guard("telescope", "unpark") is not None
