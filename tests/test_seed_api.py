"""The seed's HTTP calls, as lightAPT makes them."""

from __future__ import annotations

import json

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from indiws.testing import RunningService


async def fetch(url: str, method: str = "GET") -> tuple[int, object]:
    client = AsyncHTTPClient()
    try:
        resp = await client.fetch(url, method=method, body=b"" if method == "POST" else None)
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    return resp.code, json.loads(resp.body)


async def test_all_devices_lists_driver_info(running_service: RunningService) -> None:
    code, body = await fetch(running_service.url + "/get/all/devices/")
    assert code == 200
    by_name = {d["device_name"]: d for d in body}
    assert set(by_name) == {
        "Telescope Simulator",
        "CCD Simulator",
        "Focuser Simulator",
        "Filter Simulator",
    }
    assert by_name["CCD Simulator"] == {
        "device_name": "CCD Simulator",
        "device_driver_name": "CCD Simulator",
        "device_driver_exec": "indi_simulator_ccd",
        "driver_version": "1.0",
    }
