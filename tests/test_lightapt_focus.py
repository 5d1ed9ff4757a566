"""lightAPT's ``focus`` instructions, replayed as the front ends send them,
against a private indiserver with the focuser simulator (moves, maximum and
backlash changed here stay here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightapt_support import LightAptClient, module_indiserver

from indiws.devices import running_actions, subscribe_actions
from indiws.protocol import PropertyState, SwitchState
from indiws.testing import IndiServerProcess, RunningService, start_service

FOCUSER = "Focuser Simulator"
ABS = "ABS_FOCUS_POSITION"
MOVING = "focus is in moving! Cannot move!"


focus_server = module_indiserver("indi_simulator_focus")


@pytest.fixture
async def svc(focus_server: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await start_service(focus_server, tmp_path / "data")
    try:
        await running.service.roles.assign("focuser", FOCUSER)
        yield running
    finally:
        await running.stop()


def value(svc: RunningService, prop: str, element: str) -> object:
    return svc.service.client.devices[FOCUSER].properties[prop][element]


def position(svc: RunningService) -> int:
    return int(value(svc, ABS, "FOCUS_ABSOLUTE_POSITION"))  # type: ignore[call-overload]


async def settled_at(svc: RunningService, target: int) -> None:
    """Wait until the focuser stands at ``target`` (moves answer once started)."""
    client = svc.service.client
    await client.wait_for(
        FOCUSER,
        ABS,
        lambda p: p.state is not PropertyState.BUSY and int(p["FOCUS_ABSOLUTE_POSITION"]) == target,
        15,
    )
    await client.wait_idle(FOCUSER, "REL_FOCUS_POSITION", 15)
    # ... and the service has seen the move end (the next move is refused until then).
    ended = asyncio.Event()

    def on_action(_: dict) -> None:
        if not running_actions(client, FOCUSER):
            ended.set()

    with subscribe_actions(client, on_action):
        if running_actions(client, FOCUSER):
            await asyncio.wait_for(ended.wait(), 15)


async def test_get_params_has_both_generations_keys(
    svc: RunningService, client: LightAptClient
) -> None:
    params = await client.data("focus", "get_params")
    assert params["focus_position"] == position(svc)
    assert params["focus_max"] == value(svc, "FOCUS_MAX", "FOCUS_MAX_VALUE")
    # cobalt-web: "Idle"/"Ok" mean idle; V2 spelled the key foucser_state.
    assert params["focus_state"] in ("Idle", "Ok")
    assert params["foucser_state"] == params["focus_state"]
    assert params["backslash_switch"] is False
    assert params["backslash"] == 0
    assert (params["small_step"], params["large_step"]) == (100, 1000)
    assert params["move_speed"] == {"name": "FOCUS_SPEED_VALUE", "value": 1, "min": 1, "max": 5}
    assert params["temperature"]["name"] == "TEMPERATURE"
    assert isinstance(params["temperature"]["value"], float)
    # Our own role name answers too.
    assert (await client.data("focuser", "get_params"))["focus_max"] == params["focus_max"]
    assert await client.data("focus", "get_configuration") == {
        "has_speed": True,
        "has_temperature": True,
    }


async def test_move_to_position_acts_and_refuses_out_of_range(
    svc: RunningService, client: LightAptClient
) -> None:
    start = position(svc)
    target = start + 1000 if start < 90000 else start - 1000
    await client.success("focus", "move_to_position", [target])
    await settled_at(svc, target)
    assert (await client.data("focus", "get_params"))["focus_position"] == target

    reply = await client.ask("focus", "move_to_position", [-5])
    assert (reply["type"], reply["message"]) == ("error", "step value must be larger than 0!")
    reply = await client.ask("focus", "move_to_position", [200000])
    assert (reply["type"], reply["message"]) == (
        "error",
        "step value cannot be larger than max step!",
    )
    reply = await client.ask("focus", "move_to_position", [1.5])
    assert reply["type"] == "error" and "integer" in reply["message"]
    assert position(svc) == target
    await client.success("focus", "move_to_position", [start])
    await settled_at(svc, start)


async def test_relative_moves_and_their_steps(svc: RunningService, client: LightAptClient) -> None:
    await client.success("focus", "move_to_position", [50000])
    await settled_at(svc, 50000)
    moves = [
        ("move_out_small", 100),
        ("move_in_small", -100),
        ("move_out_large", 1000),
        ("move_in_large", -1000),
    ]
    for instruction, delta in moves:
        before = position(svc)
        await client.success("focus", instruction)
        await settled_at(svc, before + delta)

    await client.success("focus", "set_move_small_step", [250])
    await client.success("focus", "set_move_large_step", [4000])
    params = await client.data("focus", "get_params")
    assert (params["small_step"], params["large_step"]) == (250, 4000)
    await client.success("focus", "move_out_small")
    await settled_at(svc, 50250)
    await client.success("focus", "move_in_large")
    await settled_at(svc, 46250)
    for instruction in ("set_move_small_step", "set_move_large_step"):
        reply = await client.ask("focus", instruction, [0])
        assert (reply["type"], reply["message"]) == ("error", "step value must be larger than 0!")

    # cobalt-web's two relative moves: dashboard (move_relative_step) and device page.
    await client.success("focus", "move_relative_step", [-300])
    await settled_at(svc, 45950)
    await client.success("focus", "move_relative", [550])
    await settled_at(svc, 46500)


async def test_a_moving_focuser_refuses_moves_and_settings(
    svc: RunningService, client: LightAptClient
) -> None:
    await client.success("focus", "move_to_position", [50000])
    await settled_at(svc, 50000)
    # The simulator's relative moves take a while; the refusals come meanwhile.
    await client.success("focus", "move_relative", [5000])
    params = await client.data("focus", "get_params")
    assert params["focus_state"] == "Busy" == params["foucser_state"]
    for instruction, params_ in (
        ("move_in_small", []),
        ("move_to_position", [100]),
        ("move_relative_step", [10]),
        ("turn_on_backslash", []),
        ("set_backslash", [5]),
    ):
        reply = await client.ask("focus", instruction, params_)
        assert (reply["type"], reply["message"]) == ("message", MOVING), instruction
    await settled_at(svc, 55000)
    assert value(svc, "FOCUS_BACKLASH_TOGGLE", "INDI_ENABLED") is SwitchState.OFF


async def test_max_step_and_backlash_settings(svc: RunningService, client: LightAptClient) -> None:
    await client.success("focus", "move_to_position", [20000])
    await settled_at(svc, 20000)
    await client.success("focus", "set_max_step", [60000])
    assert value(svc, "FOCUS_MAX", "FOCUS_MAX_VALUE") == 60000
    assert (await client.data("focus", "get_params"))["focus_max"] == 60000
    reply = await client.ask("focus", "move_to_position", [60001])
    assert reply["message"] == "step value cannot be larger than max step!"
    reply = await client.ask("focus", "set_max_step", [0])
    assert (reply["type"], reply["message"]) == ("error", "max step must be larger than 0!")
    await client.success("focus", "set_max_step", [100000])

    await client.success("focus", "turn_on_backslash")
    assert value(svc, "FOCUS_BACKLASH_TOGGLE", "INDI_ENABLED") is SwitchState.ON
    await client.success("focus", "set_backslash", [25])
    assert value(svc, "FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE") == 25
    params = await client.data("focus", "get_params")
    assert (params["backslash_switch"], params["backslash"]) == (True, 25)
    reply = await client.ask("focus", "set_backslash", [-1])
    assert (reply["type"], reply["message"]) == ("error", "Backslash value cannot smaller than 0")
    await client.success("focus", "set_backslash", [0])  # 0 is valid: no compensation
    assert value(svc, "FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE") == 0
    # The original's turn_off_backslash always failed; here it acts.
    await client.success("focus", "turn_off_backslash")
    assert value(svc, "FOCUS_BACKLASH_TOGGLE", "INDI_DISABLED") is SwitchState.ON
    # The simulator keeps its backlash while compensation is off: said, not hidden.
    reply = await client.ask("focus", "set_backslash", [30])
    assert reply["type"] == "error" and "did not take FOCUS_BACKLASH_STEPS" in reply["message"]
    assert value(svc, "FOCUS_BACKLASH_STEPS", "FOCUS_BACKLASH_VALUE") == 0


async def test_stop_movement_names_what_the_simulator_lacks(client: LightAptClient) -> None:
    # The focuser simulator defines no FOCUS_ABORT_MOTION: a clear error, not a pretend stop.
    reply = await client.ask("focus", "stop_movement")
    assert reply["type"] == "error" and "FOCUS_ABORT_MOTION" in reply["message"]
