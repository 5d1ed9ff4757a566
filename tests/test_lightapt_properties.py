"""The property pages of cobalt-web: ``get_parameter`` and ``set_any_one_parameter``
on every role, replayed as the page sends them (the whole ``property_info``
back, with one value edited).  What the devices did is read from the INDI
mirror."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightapt_support import CCD, ROLE_DEVICES, LightAptClient, assign_roles

from indiws.protocol import SwitchState
from indiws.testing import IndiServerFactory, RunningService, start_service

SCOPE, WHEEL = "Telescope Simulator", "Filter Simulator"
#: lightAPT's role names → the devices of the shared server.
ROLES = {
    "telescope": "Telescope Simulator",
    "camera": CCD,
    "guider": CCD,
    "focus": "Focuser Simulator",
    "filter": "Filter Simulator",
}
PERMISSIONS = {"ro": "ReadOnly", "wo": "WriteOnly", "rw": "ReadWrite"}


@pytest.fixture
async def shared(running_service: RunningService) -> RunningService:
    await assign_roles(running_service, {**ROLE_DEVICES, "guider": CCD})
    return running_service


@pytest.fixture
async def private(
    indiserver_factory: IndiServerFactory, tmp_path: Any
) -> AsyncIterator[RunningService]:
    """Its own telescope and wheel: these tests change their properties."""
    server = indiserver_factory(["indi_simulator_telescope", "indi_simulator_wheel"])
    running = await start_service(server, tmp_path / "data")
    try:
        await assign_roles(running, {"telescope": SCOPE, "filter_wheel": WHEEL})
        yield running
    finally:
        await running.stop()


def by_name(properties: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in properties if p["property_name"] == name)


def element(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in entry["property_info"]["data"] if e["name"] == name)


async def set_edited(client: LightAptClient, role: str, name: str, edit: Any) -> dict[str, Any]:
    """Do what the page does: take the property from get_parameter, edit a
    copy, send its property_info back."""
    entry = copy.deepcopy(by_name(await client.data(role, "get_parameter"), name))
    edit(entry["property_info"]["data"])
    text = json.dumps(
        {
            "device_name": role,
            "instruction": "set_any_one_parameter",
            "params": [name, entry["property_info"]],
        },
        separators=(",", ":"),
    )
    await client.send(text)
    reply = await client.reply()
    assert (reply["device_name"], reply["instruction"]) == (role, "set_any_one_parameter")
    return reply


async def test_get_parameter_lists_every_property_of_every_role(shared: RunningService) -> None:
    client = await LightAptClient.open(shared)
    try:
        for role, device in ROLES.items():
            listed = await client.data(role, "get_parameter", [])
            mirror = shared.service.client.devices[device].properties
            assert [p["property_name"] for p in listed] == list(mirror), role
            for entry in listed:
                prop = mirror[entry["property_name"]]
                info = entry["property_info"]
                assert info["type"] == prop.kind.value.upper()
                assert info["permission"] == PERMISSIONS[prop.perm.value]
                assert [e["name"] for e in info["data"]] == list(prop.elements)
                assert all(set(e) >= {"name", "label"} for e in info["data"])
        # Each type with the element keys the page reads.
        scope = await client.data("telescope", "get_parameter")
        assert element(by_name(scope, "TELESCOPE_INFO"), "TELESCOPE_APERTURE") == {
            "name": "TELESCOPE_APERTURE",
            "label": "Aperture (mm)",
            "value": 120,
            "max": 5000,
            "min": 10,
        }
        connection = by_name(scope, "CONNECTION")["property_info"]
        assert connection["data"][0] == {"name": "CONNECT", "label": "Connect", "switch": True}
        assert connection["type"] == "SWITCH" and connection["permission"] == "ReadWrite"
        driver = by_name(scope, "DRIVER_INFO")["property_info"]
        assert driver["permission"] == "ReadOnly"
        assert element(by_name(scope, "DRIVER_INFO"), "DRIVER_EXEC")["text"] == (
            "indi_simulator_telescope"
        )
        camera = await client.data("camera", "get_parameter")
        blob = by_name(camera, "CCD1")["property_info"]
        assert blob["type"] == "BLOB"
        assert set(blob["data"][0]) == {"name", "label", "size"}
    finally:
        await client.close()


async def test_set_any_one_parameter_sets_what_the_page_edited(private: RunningService) -> None:
    mirror = private.service.client
    client = await LightAptClient.open(private)
    try:
        # A number: the aperture edited, the other three sent back unchanged.
        reply = await set_edited(
            client, "telescope", "TELESCOPE_INFO", lambda data: data[0].update(value=150)
        )
        assert (reply["type"], reply["data"]) == ("data", True)
        assert mirror.get_property(SCOPE, "TELESCOPE_INFO")["TELESCOPE_APERTURE"] == 150
        again = await client.data("telescope", "get_parameter")
        assert element(by_name(again, "TELESCOPE_INFO"), "TELESCOPE_APERTURE")["value"] == 150

        # A switch: the page flips one and sends the others as they were
        # (the old one still true); only the flipped one is sent.
        assert mirror.get_property(SCOPE, "TELESCOPE_SLEW_RATE").on_switches() != ["1x"]
        reply = await set_edited(
            client, "telescope", "TELESCOPE_SLEW_RATE", lambda data: data[0].update(switch=True)
        )
        assert reply["data"] is True
        assert mirror.get_property(SCOPE, "TELESCOPE_SLEW_RATE").on_switches() == ["1x"]

        # A text, on another role.
        reply = await set_edited(
            client, "filter", "FILTER_NAME", lambda data: data[1].update(text="OIII-3nm")
        )
        assert reply["data"] is True
        assert mirror.get_property(WHEEL, "FILTER_NAME")["FILTER_SLOT_NAME_2"] == "OIII-3nm"

        # CONNECTION from the page: disconnect, then connect again.
        reply = await set_edited(
            client, "filter", "CONNECTION", lambda data: data[1].update(switch=True)
        )
        assert reply["data"] is True
        assert mirror.get_property(WHEEL, "CONNECTION")["DISCONNECT"] is SwitchState.ON
        listed = await client.data("filter", "get_parameter")
        assert element(by_name(listed, "CONNECTION"), "CONNECT")["switch"] is False
        reply = await set_edited(
            client, "filter", "CONNECTION", lambda data: data[0].update(switch=True)
        )
        assert reply["data"] is True
        assert mirror.get_property(WHEEL, "CONNECTION")["CONNECT"] is SwitchState.ON
    finally:
        await client.close()


async def test_bad_edits_are_refused_and_nothing_is_sent(shared: RunningService) -> None:
    mirror = shared.service.client
    client = await LightAptClient.open(shared)
    try:
        before = mirror.get_property(SCOPE, "TELESCOPE_INFO").values()
        reply = await set_edited(
            client, "telescope", "TELESCOPE_INFO", lambda data: data[0].update(value=5)
        )
        assert reply["type"] == "error"
        assert "TELESCOPE_APERTURE" in reply["message"] and "[10, 5000]" in reply["message"]
        reply = await set_edited(
            client, "telescope", "TELESCOPE_INFO", lambda data: data[1].update(value="long")
        )
        assert reply["type"] == "error" and "TELESCOPE_FOCAL_LENGTH" in reply["message"]
        assert mirror.get_property(SCOPE, "TELESCOPE_INFO").values() == before

        reply = await set_edited(
            client, "telescope", "DRIVER_INFO", lambda data: data[0].update(text="Evil")
        )
        assert reply["type"] == "error" and "read-only" in reply["message"]
        assert mirror.get_property(SCOPE, "DRIVER_INFO")["DRIVER_NAME"] == SCOPE

        # Turning off the one switch that is on in a OneOfMany property.
        reply = await set_edited(
            client, "telescope", "CONNECTION", lambda data: data[0].update(switch=False)
        )
        assert reply["type"] == "error" and "OneOfMany" in reply["message"]
        assert mirror.devices[SCOPE].connected

        reply = await set_edited(client, "camera", "CCD1", lambda data: data[0].update(size=1))
        assert reply["type"] == "error" and "BLOB" in reply["message"]

        for params, words in (
            (["NO_SUCH_PROPERTY", {"type": "NUMBER", "data": [{"name": "X", "value": 1}]}],
             "NO_SUCH_PROPERTY"),
            (["TELESCOPE_INFO", {"type": "NUMBER", "data": [{"name": "NOPE", "value": 1}]}],
             "NOPE"),
            (["TELESCOPE_INFO", {"type": "NUMBER", "data": []}], "list of elements"),
            (["TELESCOPE_INFO", {"type": "NUMBER", "data": [{"value": 1}]}], "name"),
            (["TELESCOPE_INFO", {"type": "NUMBER", "data": [{"name": "GUIDER_APERTURE"}]}],
             "value"),
            (["TELESCOPE_INFO"], "property_info"),
        ):  # fmt: skip
            reply = await client.ask("telescope", "set_any_one_parameter", params)
            assert reply["type"] == "error" and words in reply["message"], (params, reply)
        assert mirror.get_property(SCOPE, "TELESCOPE_INFO").values() == before
    finally:
        await client.close()
