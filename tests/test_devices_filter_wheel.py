"""Filter wheel verbs against INDI's filter wheel simulator and the CCD
simulator's built-in wheel (shared indiserver; slot 1 and the original
names are restored)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from indiws.client import INDIClient, InvalidValueError
from indiws.devices import FilterWheel
from indiws.protocol import PropertyState
from indiws.testing import IndiServerProcess

NAMES = ["Red", "Green", "Blue", "H_Alpha", "SII", "OIII", "LPR", "Luminance"]


@pytest.fixture
async def client(indiserver: IndiServerProcess) -> AsyncIterator[INDIClient]:
    async with INDIClient(indiserver.host, indiserver.port) as c:
        yield c


@pytest.fixture(params=["Filter Simulator", "CCD Simulator"])
async def wheel(request: pytest.FixtureRequest, client: INDIClient) -> AsyncIterator[FilterWheel]:
    fw = FilterWheel(client, request.param)
    await fw.connect()
    names = {f["slot"]: f["name"] for f in fw.filters()}
    yield fw
    if {f["slot"]: f["name"] for f in fw.filters()} != names:
        await fw.rename(names)
    if fw.current()["slot"] != 1:
        await fw.select(1)


async def test_select_by_name_and_number(wheel: FilterWheel, client: INDIClient) -> None:
    reports: list[dict[str, Any]] = []
    result = await wheel.select("blue", progress=reports.append)
    assert result["slot"] == 3 and result["name"] == "Blue"
    assert wheel.current() == {"slot": 3, "name": "Blue", "moving": False}
    assert client.get_property(wheel.name, "FILTER_SLOT").state is not PropertyState.BUSY
    result = await wheel.select(5)
    assert (result["slot"], result["name"], result["previous_slot"]) == (5, "SII", 3)
    result = await wheel.select("  h_alpha ")
    assert result["slot"] == 4
    await wheel.select(1)
    assert wheel.status()["name"] == "Red"


async def test_list_and_rename(wheel: FilterWheel) -> None:
    assert [f["name"] for f in wheel.filters()] == NAMES
    assert [f["slot"] for f in wheel.filters()] == list(range(1, 9))
    renamed = await wheel.rename({2: "G2", 8: "L-Pro"})
    assert [f["name"] for f in renamed][:2] == ["Red", "G2"] and renamed[7]["name"] == "L-Pro"
    assert (await wheel.select("g2"))["slot"] == 2
    await wheel.rename({2: "Green", 8: "Luminance"})
    assert [f["name"] for f in wheel.filters()] == NAMES


async def test_bad_filters(wheel: FilterWheel) -> None:
    with pytest.raises(InvalidValueError, match="no filter named 'Hydrogen'"):
        await wheel.select("Hydrogen")
    with pytest.raises(InvalidValueError, match="FILTER_SLOT_VALUE"):
        await wheel.select(9)
    with pytest.raises(InvalidValueError):
        await wheel.select(True)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="no slot 12"):
        await wheel.rename({12: "X"})
    with pytest.raises(InvalidValueError, match="non-empty"):
        await wheel.rename({1: " "})
    caps = wheel.info()["capabilities"]
    assert caps == {"can_select": True, "slots": 8, "can_rename": True}
