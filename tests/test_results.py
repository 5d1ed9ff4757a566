"""Every JSON-RPC method's result is typed (docs/verbs.md): ``rpc.discover``
shows a schema with its fields for each method of ``/ws/indi_client/``,
``/ws/indi/`` and ``/ws/debugging/``, and the answers of the simulators
(the Observatory profile: every role has a device) have only the declared
fields, each of its declared type (``msgspec.convert`` against the struct).

The long methods (autofocus, centering, solving, guiding) are checked where
their tests already call them: `ws_support.WsClient.call` checks every
answer against its method's declared result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from security_support import start_observatory
from ws_support import WsClient, declared_result

from indiws.roles import ROLES
from indiws.testing import RunningService
from indiws.verbs import result_schema
from indiws.web.highlevel import IndiClientSocket
from indiws.web.indi_socket import IndiSocket
from indiws.web.jsonrpc import JsonRpcSocket
from indiws.web.streams import DebuggingSocket

#: The live tests share the module's service and its event loop.
LIVE = pytest.mark.asyncio(loop_scope="module")

SOCKETS: dict[str, type[JsonRpcSocket]] = {
    "/ws/indi_client/": IndiClientSocket,
    "/ws/indi/": IndiSocket,
    "/ws/debugging/": DebuggingSocket,
}


def loose_parts(schema: Any, where: str = "result", explained: bool = False) -> list[str]:
    """Where ``schema`` has an object without fields or an Any that no
    description explains (its own, or that of a schema around it)."""
    if isinstance(schema, list):
        return [p for n, s in enumerate(schema) for p in loose_parts(s, f"{where}[{n}]", explained)]
    if not isinstance(schema, dict):
        return []
    explained = explained or bool(schema.get("description"))
    found: list[str] = []
    is_object = schema.get("type") == "object"
    typed_values = isinstance(schema.get("additionalProperties"), dict) and bool(
        schema["additionalProperties"]
    )
    if not explained and (
        schema == {} or (is_object and not schema.get("properties") and not typed_values)
    ):
        found.append(where)
    if schema.get("type") == "array" and "items" not in schema and not explained:
        found.append(f"{where}[]")
    for key, sub in schema.get("properties", {}).items():
        found += loose_parts(sub, f"{where}.{key}", False)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += loose_parts(schema[key], f"{where}[]", explained)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            found += loose_parts(schema[key], where, explained)
    return found


def test_the_walk_finds_a_bare_result() -> None:
    assert loose_parts({"type": "object"}) == ["result"]
    assert loose_parts({"type": "array", "items": {"type": "object"}}) == ["result[]"]
    assert loose_parts(
        {
            "type": "object",
            "properties": {"a": {}, "b": {"description": "free-form", "type": "object"}},
        }
    ) == ["result.a"]
    assert loose_parts({"anyOf": [{"type": "object"}, {"type": "null"}], "description": "x"}) == []


@pytest.mark.parametrize("path", SOCKETS)
def test_every_method_declares_its_result(path: str) -> None:
    """Each method has a result type; rpc.discover's schema is its schema."""
    for name, method in SOCKETS[path].methods.items():
        assert method.result_type is not None, f"{path} {name}: no declared result"
        assert method.describe()["result"]["schema"] == result_schema(method.result_type), name


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_observatory(tmp_path_factory.mktemp("results"), status_interval=0)
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def ws(svc: RunningService) -> AsyncIterator[WsClient]:
    client = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    yield client
    await client.close()


async def typed(ws: WsClient, method: str, params: Any = None, timeout: float = 30.0) -> Any:
    """Call ``method``; its answer converted to its declared result type
    (a `msgspec.ValidationError` names the field that is not as declared)."""
    result = await ws.call(method, params, timeout)
    msgspec.convert(result, declared_result(ws.path, method))
    return result


@LIVE
@pytest.mark.parametrize("path", SOCKETS)
async def test_rpc_discover_shows_every_results_fields(svc: RunningService, path: str) -> None:
    client = await WsClient.open(svc.ws_url + path)
    try:
        methods = (await client.call("rpc.discover"))["methods"]
    finally:
        await client.close()
    assert {m["name"] for m in methods} == set(SOCKETS[path].methods)
    loose = {m["name"]: loose_parts(m["result"]["schema"]) for m in methods}
    assert {name: parts for name, parts in loose.items() if parts} == {}
    for m in methods:  # the client's TypedDict is named after the struct
        schema = m["result"]["schema"]
        shape = schema.get("items", schema)
        assert shape.get("title"), m["name"]


@LIVE
async def test_service_wide_results(ws: WsClient) -> None:
    roles = await typed(ws, "roles")
    assert set(roles) == set(ROLES) and all(r["device_name"] for r in roles.values())
    status = await typed(ws, "status")
    assert set(status["roles"]) == set(ROLES)
    assert status["roles"]["camera"]["state"] == "idle"
    device = roles["rotator"]["device_name"]
    released = await typed(ws, "release", {"role": "rotator"})
    assert released == {"role": "rotator", "device_name": device, "released": True}
    assigned = await typed(ws, "assign", {"role": "rotator", "device": device})
    assert assigned["connected"] is True
    assert await typed(ws, "actions") == []


@LIVE
@pytest.mark.parametrize("role", ROLES)
async def test_info_of_every_role(ws: WsClient, role: str) -> None:
    info = await typed(ws, f"{role}.info")
    assert info["connected"] is True and info["capabilities"] is not None


@LIVE
async def test_camera_and_guider_status(ws: WsClient) -> None:
    for role in ("camera", "guider"):
        status = await typed(ws, f"{role}.status")
        assert status["connected"] is True and status["state"] in ("idle", "exposing")
        assert (await typed(ws, f"{role}.connect"))["connected"] is True
    frame = await ws.call("camera.expose", {"duration": 0.1, "frame_type": "dark"}, timeout=60)
    analysed = await typed(ws, "camera.analyse", {"blob_id": frame["blob_id"]}, timeout=60)
    assert analysed["blob_id"] == frame["blob_id"] and analysed["width"] > 0
    assert (await typed(ws, "camera.status"))["last_frame"] == frame["blob_id"]


@LIVE
async def test_manual_moves_and_actions(ws: WsClient) -> None:
    await ws.call("telescope.unpark", timeout=60)
    moving = await typed(ws, "telescope.move", {"direction": "north"})
    assert moving == {"direction": "north", "moving": True}
    assert (await typed(ws, "telescope.stop"))["moving"] is False
    timed = await typed(ws, "telescope.move", {"direction": "south", "duration": 0.3}, 30)
    assert timed["moving"] is False and timed["duration"] == 0.3 and timed["action"] == "move"
    timed = asyncio.ensure_future(
        ws.call("telescope.move", {"direction": "east", "duration": 30}, 60)
    )
    try:
        running = await _until_running(ws, "move")
        aborted = await typed(ws, "actions.abort", {"action_id": running["action_id"]})
        assert aborted["aborted"] is True and aborted["action"] == "move"
    finally:
        answer = await asyncio.gather(timed, return_exceptions=True)
    assert isinstance(answer[0], AssertionError)  # the move ended with the aborted error
    recent = await typed(ws, "actions.recent", {"limit": 5})
    assert recent[0]["action_id"] == running["action_id"] and recent[0]["outcome"] == "aborted"


async def _until_running(ws: WsClient, action: str) -> dict[str, Any]:
    for _ in range(200):
        running = [a for a in await typed(ws, "actions") if a["action"] == action]
        if running:
            return running[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {action} action started")


@LIVE
async def test_guiding_results_at_rest(ws: WsClient) -> None:
    status = await typed(ws, "guiding.status")
    assert status["state"] == "Stopped"
    settings = await typed(ws, "guiding.settings")
    changed = await typed(ws, "guiding.configure", {"exposure": settings["exposure"]})
    assert changed == settings
    assert (await typed(ws, "guiding.history", {"limit": 5}))["steps"] == []
    assert (await typed(ws, "guiding.clear_calibration"))["calibrated"] is False


@LIVE
async def test_plan_results(ws: WsClient) -> None:
    dark = {"targets": [{"name": "Darks", "exposures": [{"frame_type": "dark", "duration": 3}]}]}
    first = await typed(ws, "plans.submit", {"plan": dark, "name": "first"})
    second = await typed(ws, "plans.submit", {"plan": dark, "name": "second"})
    assert second["state"] == "queued"
    assert (await typed(ws, "plans.pause", {"id": second["id"]}))["state"] == "paused"
    assert (await typed(ws, "plans.resume", {"id": second["id"]}))["state"] == "queued"
    assert [p["id"] for p in await typed(ws, "plans.list")][-2:] == [first["id"], second["id"]]
    await typed(ws, "plans.abort", {"id": second["id"]})
    await typed(ws, "plans.abort", {"id": first["id"]})
    view = await typed(ws, "plans.get", {"id": second["id"]})
    assert view["state"] == "aborted" and view["events"][0]["type"] == "queued"


@LIVE
async def test_low_level_socket_results(svc: RunningService) -> None:
    indi = await WsClient.open(svc.ws_url + "/ws/indi/")
    try:
        devices = await typed(indi, "devices")
        assert {d["name"] for d in devices} >= {"Telescope Simulator", "CCD Simulator"}
        detail = await typed(indi, "device", {"device": "Rotator Simulator"})
        assert detail["property_count"] == len(detail["properties"])
        await typed(indi, "properties", {"device": "CCD Simulator"})
        debug = await typed(indi, "get", {"device": "Rotator Simulator", "property": "DEBUG"})
        now = {name: True for name, value in debug["values"].items() if value == "On"}
        written = await typed(
            indi, "set", {"device": "Rotator Simulator", "property": "DEBUG", "values": now}
        )
        assert written["waited"] is True and written["values"] == debug["values"]
        await typed(indi, "enable_blobs", {"device": "CCD Simulator"})
        watching = await typed(indi, "watch", {"device": "Rotator Simulator", "snapshot": False})
        assert watching == {"device": "Rotator Simulator", "property": None}
        assert await typed(indi, "unwatch") == {"watching": True}
    finally:
        await indi.close()
    debugging = await WsClient.open(svc.ws_url + "/ws/debugging/")
    try:
        await typed(debugging, "subscribe", {"device": "Rotator Simulator"})
        assert (await typed(debugging, "status"))["device"] == "Rotator Simulator"
    finally:
        await debugging.close()
