"""Text that a driver would take but XML cannot carry (U+0001, U+000B,
U+FFFE, NUL), replayed against an embedded service and its indiserver:

- every write path refuses it (400 / invalid_value, nothing sent): REST
  ``PUT``, ``/ws/indi/`` ``set``, ``filter_wheel.rename`` on
  ``/ws/indi_client/``, and the INDI port;
- a driver that holds such a value anyway (written to indiserver directly)
  does not make the property vanish: it stays, the characters shown
  replaced with U+FFFD, and a warning names the device; the filter wheel
  still turns by name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from tornado.httpclient import AsyncHTTPClient
from ws_support import WsClient

from indiws.testing import RunningService, start_embedded_service

pytestmark = pytest.mark.asyncio(loop_scope="module")

WHEEL = "Filter Simulator"
NAMES = "/api/v1/devices/Filter%20Simulator/properties/FILTER_NAME"
BAD = ["Re\x01d", "Re\x0bd", "Re\ufffed", "Re\x00d"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningService]:
    running = await start_embedded_service(tmp_path_factory.mktemp("xml-chars"))
    try:
        await running.service.client.wait_for(
            WHEEL, "FILTER_NAME", lambda p: True, 30, defined_only=True
        )
        yield running
    finally:
        await running.stop()


def first_name(svc: RunningService) -> Any:
    return svc.service.client.devices[WHEEL].properties["FILTER_NAME"]["FILTER_SLOT_NAME_1"]


async def put_names(svc: RunningService, names: dict[str, str]) -> tuple[int, Any]:
    resp = await AsyncHTTPClient().fetch(
        svc.url + NAMES,
        method="PUT",
        body=json.dumps({"values": names}),
        raise_error=False,
    )
    return resp.code, json.loads(resp.body)


async def test_every_write_path_refuses_characters_xml_cannot_carry(
    svc: RunningService,
) -> None:
    before = first_name(svc)
    for bad in BAD:
        status, answer = await put_names(svc, {"FILTER_SLOT_NAME_1": bad})
        assert status == 400 and answer["error"]["code"] == "invalid_value", answer
        assert "XML" in answer["error"]["message"]
    ws = await WsClient.open(svc.ws_url + "/ws/indi/")
    try:
        for bad in BAD:
            err = await ws.error(
                "set",
                {"device": WHEEL, "property": "FILTER_NAME", "values": {"FILTER_SLOT_NAME_1": bad}},
            )
            assert err["data"]["error"] == "invalid_value", err
    finally:
        await ws.close()
    hl = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        for bad in BAD:
            err = await hl.error("filter_wheel.rename", {"names": {"1": bad}})
            assert "XML" in err["message"], err
    finally:
        await hl.close()
    # Nothing reached the driver.
    assert first_name(svc) == before


def write_to_indiserver(svc: RunningService, xml: bytes) -> None:
    """What a local program could write to indiserver itself (from the one
    address its port admits), bypassing the service."""
    client = svc.service.client
    with socket.create_connection(
        (client.host, client.port),
        timeout=5,
        source_address=(getattr(client, "local_address", None) or "", 0),
    ) as conn:
        conn.sendall(xml)


async def test_a_driver_holding_such_a_value_keeps_its_property(
    svc: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="indiws.client")
    xml = (
        f'<newTextVector device="{WHEEL}" name="FILTER_NAME">'
        '<oneText name="FILTER_SLOT_NAME_1">Re\x01d\x0b</oneText></newTextVector>\n'
    ).encode()
    await asyncio.to_thread(write_to_indiserver, svc, xml)
    prop = await svc.service.client.wait_for(
        WHEEL, "FILTER_NAME", lambda p: "\ufffd" in p["FILTER_SLOT_NAME_1"], 15
    )
    assert prop["FILTER_SLOT_NAME_1"].startswith("Re\ufffdd")  # shown replaced
    assert any(
        WHEEL in r.getMessage() and "XML cannot carry" in r.getMessage() for r in caplog.records
    )
    # The property is still there for every client, and can be set right again.
    resp = await AsyncHTTPClient().fetch(svc.url + NAMES, raise_error=False)
    assert resp.code == 200
    status, answer = await put_names(svc, {"FILTER_SLOT_NAME_1": "Red"})
    assert status == 200, answer
    hl = await WsClient.open(svc.ws_url + "/ws/indi_client/")
    try:
        result = await hl.call("filter_wheel.select", {"filter": "Red"}, timeout=60)
        assert result["name"] == "Red" and result["slot"] == 1, result
    finally:
        await hl.close()
