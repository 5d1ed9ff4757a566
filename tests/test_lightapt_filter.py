"""lightAPT's ``filter`` instructions, replayed as its front ends send them.

On their own indiserver with the filter wheel simulator (one per module):
the tests turn and rename the wheel, which other tests should not see.
What the wheel did is read from the INDI mirror.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightapt_support import LightAptClient, module_indiserver

from indiws.devices import (
    DeviceBusyError,
    FilterWheel,
    RefusalReason,
    running_actions,
    subscribe_actions,
)
from indiws.protocol import PropertyState
from indiws.testing import IndiServerProcess, RunningService, start_service
from indiws.web.lightapt import INSTRUCTIONS

WHEEL = "Filter Simulator"
NAMES = ["Red", "Green", "Blue", "H_Alpha", "SII", "OIII", "LPR", "Luminance"]


wheel_server = module_indiserver("indi_simulator_wheel")


@pytest.fixture
async def svc(wheel_server: IndiServerProcess, tmp_path: Any) -> AsyncIterator[RunningService]:
    running = await start_service(wheel_server, tmp_path / "data")
    try:
        await running.service.roles.assign("filter_wheel", WHEEL)
        wheel = FilterWheel(running.service.client, WHEEL)
        await wheel.select(1)
        await wheel.rename(dict(enumerate(NAMES, start=1)))
        yield running
    finally:
        await running.stop()


def slot_prop(svc: RunningService) -> Any:
    return svc.service.client.get_property(WHEEL, "FILTER_SLOT")


def names(svc: RunningService) -> list[str]:
    return list(svc.service.client.get_property(WHEEL, "FILTER_NAME").values().values())


async def settle(svc: RunningService) -> None:
    """Wait until the change a reply said had started has ended."""
    client = svc.service.client
    ended = asyncio.Event()

    def on_action(event: dict[str, Any]) -> None:
        if not running_actions(client, WHEEL):
            ended.set()

    with subscribe_actions(client, on_action):
        if running_actions(client, WHEEL):
            await asyncio.wait_for(ended.wait(), 30)


def test_every_instruction_is_there() -> None:
    assert {
        "get_filter_slot",
        "get_all_params",
        "switch_filter",
        "update_all_slot_data",
        "set_one_filter_solt_value",
        "get_parameter",
        "set_any_one_parameter",
    } <= set(INSTRUCTIONS["filter_wheel"])


async def test_queries_answer_every_field_the_pages_read(
    svc: RunningService, client: LightAptClient
) -> None:
    assert await client.data("filter", "get_filter_slot", []) == {"filter_slot": 1, "idle": True}
    params = await client.data("filter", "get_all_params", [])
    assert params["filter_slot"] == 1
    # Slots from 1, as cobalt-web switches to them and compares them with filter_slot.
    assert params["filters_info"] == [
        {"slot": i, "filter_name": name, "focus_offset": 0, "af_exposure_time": 1}
        for i, name in enumerate(NAMES, start=1)
    ]


async def test_switch_filter_turns_the_wheel(svc: RunningService, client: LightAptClient) -> None:
    # Byte for byte as cobalt-web sends it.
    await client.send('{"device_name":"filter","instruction":"switch_filter","params":[3]}')
    reply = await client.reply()
    assert (reply["type"], reply["message"], reply["instruction"]) == (
        "message",
        "success",
        "switch_filter",
    )
    await settle(svc)
    prop = slot_prop(svc)
    assert prop["FILTER_SLOT_VALUE"] == 3 and prop.state is PropertyState.OK
    assert await client.data("filter", "get_filter_slot") == {"filter_slot": 3, "idle": True}

    for slot in (0, 9, -1):
        reply = await client.ask("filter", "switch_filter", [slot])
        assert (reply["type"], reply["message"]) == (
            "error",
            "filter slot index value out of range!",
        )
    reply = await client.ask("filter", "switch_filter", ["Red"])
    assert reply["type"] == "error" and "slot" in reply["message"]
    assert slot_prop(svc)["FILTER_SLOT_VALUE"] == 3


async def test_switch_while_turning_is_refused(svc: RunningService, client: LightAptClient) -> None:
    await client.success("filter", "switch_filter", [8])
    await svc.service.client.wait_for(WHEEL, "FILTER_SLOT", lambda p: p.busy, 10)
    assert (await client.data("filter", "get_filter_slot"))["idle"] is False
    reply = await client.ask("filter", "switch_filter", [2])
    assert (reply["type"], reply["message"]) == ("message", "Filter wheel in rotating!")
    # The wheel's own refusal, typed, which the front words: a device call
    # that may not replace the turn under way.
    wheel = FilterWheel(svc.service.client, WHEEL)
    with pytest.raises(DeviceBusyError) as refused:
        await wheel.select(2, replace=False)
    assert refused.value.reason is RefusalReason.MOVING
    await settle(svc)
    assert slot_prop(svc)["FILTER_SLOT_VALUE"] == 8


async def test_names_and_focus_settings(svc: RunningService, client: LightAptClient) -> None:
    # cobalt-web's "update all": one list inside params.
    await client.success(
        "filter",
        "update_all_slot_data",
        [[{"filter_name": "L"}, {"filter_name": "R", "focus_offset": 12}, {"focus_offset": -5}]],
    )
    assert names(svc)[:4] == ["L", "R", "Blue", "H_Alpha"]
    await client.success(
        "filter", "set_one_filter_solt_value", [2, {"filter_name": "Ha", "af_exposure_time": 3}]
    )
    assert names(svc)[1] == "Ha"
    info = (await client.data("filter", "get_all_params"))["filters_info"]
    assert info[0] == {"slot": 1, "filter_name": "L", "focus_offset": 0, "af_exposure_time": 1}
    # What an update leaves out is kept.
    assert info[1] == {"slot": 2, "filter_name": "Ha", "focus_offset": 12, "af_exposure_time": 3}
    assert info[2] == {"slot": 3, "filter_name": "Blue", "focus_offset": -5, "af_exposure_time": 1}

    reply = await client.ask("filter", "set_one_filter_solt_value", [9, {"filter_name": "X"}])
    assert (reply["type"], reply["message"]) == ("error", "filter slot index value out of range!")
    reply = await client.ask("filter", "update_all_slot_data", [[{}] * 9])
    assert (reply["type"], reply["message"]) == ("error", "filter slot index value out of range!")
    for bad in ({"filter_name": ""}, {"focus_offset": "far"}, {"af_exposure_time": 0}):
        reply = await client.ask("filter", "set_one_filter_solt_value", [1, bad])
        assert reply["type"] == "error" and next(iter(bad)) in reply["message"], bad
    # A bad entry anywhere: nothing changes.
    reply = await client.ask(
        "filter", "update_all_slot_data", [[{"filter_name": "Z"}, {"filter_name": 5}]]
    )
    assert reply["type"] == "error" and "filter_name" in reply["message"]
    assert names(svc)[:2] == ["L", "Ha"]


async def test_queries_answer_nulls_while_indiserver_is_away(
    svc: RunningService, client: LightAptClient
) -> None:
    # lightAPT V4's /indi/server/disconnect/ (or indiserver gone): the filter
    # queries answer like every other role's, nulls rather than an error.
    assert await svc.service.disconnect_indiserver() is True
    try:
        assert await client.data("filter", "get_filter_slot") == {"filter_slot": None, "idle": None}
        assert await client.data("filter", "get_all_params") == {
            "filter_slot": None,
            "filters_info": [],
        }
        reply = await client.ask("filter", "switch_filter", [2])
        assert reply["type"] == "error" and "not connected" in reply["message"]
    finally:
        assert await svc.service.connect_indiserver() is True
    assert len((await client.data("filter", "get_all_params"))["filters_info"]) == len(NAMES)


async def test_a_disconnected_wheel_answers_nulls_and_clear_errors(
    svc: RunningService, client: LightAptClient
) -> None:
    wheel = FilterWheel(svc.service.client, WHEEL)
    await wheel.disconnect()
    try:
        assert await client.data("filter", "get_filter_slot") == {"filter_slot": None, "idle": None}
        assert await client.data("filter", "get_all_params") == {
            "filter_slot": None,
            "filters_info": [],
        }
        reply = await client.ask("filter", "switch_filter", [2])
        assert reply["type"] == "error" and "not connected" in reply["message"]
    finally:
        await wheel.connect()
