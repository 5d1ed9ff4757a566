"""Camera verbs against INDI's CCD simulator.

The simulator runs on its own indiserver (one per module) with a small
sensor (SIMULATOR_SETTINGS 512x512), so frames are small and quick.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from PIL import Image

from indiws.blobs import BlobStore
from indiws.client import Element, INDIClient, InvalidValueError, Property
from indiws.devices import (
    ActionAborted,
    ActionTimeout,
    Camera,
    CapabilityError,
    DeviceBusyError,
)
from indiws.devices.camera import _toggle
from indiws.protocol import Permission, PropertyKind, PropertyState, SwitchRule, SwitchState
from indiws.testing import IndiServerProcess

CCD = "CCD Simulator"
SENSOR = 512


@pytest.fixture(scope="module")
def ccd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    server = IndiServerProcess(["indi_simulator_ccd"], workdir=tmp_path_factory.mktemp("ccd"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
async def client(ccd_server: IndiServerProcess) -> AsyncIterator[INDIClient]:
    async with INDIClient(ccd_server.host, ccd_server.port) as c:
        yield c


@pytest.fixture
def store() -> BlobStore:
    return BlobStore(max_count=10)


@pytest.fixture
async def camera(client: INDIClient, store: BlobStore) -> Camera:
    cam = Camera(client, CCD, store=store)
    await cam.connect()
    sim = client.get_property(CCD, "SIMULATOR_SETTINGS")
    if sim["SIM_XRES"] != SENSOR:
        await client.set_property(
            CCD, "SIMULATOR_SETTINGS", {"SIM_XRES": SENSOR, "SIM_YRES": SENSOR}, wait=True
        )
        await client.wait_for(CCD, "CCD_INFO", lambda p: p["CCD_MAX_X"] == SENSOR, 5)
    await cam.configure(roi="full", binning=1, frame_type="light")
    return cam


def header(store: BlobStore, blob_id: str) -> fits.Header:
    with fits.open(io.BytesIO(store.get(blob_id).data)) as hdus:
        return hdus[0].header.copy()


async def test_three_exposures_answer_with_their_frames(camera: Camera, store: BlobStore):
    plan = [(0.2, 1, "light"), (0.5, 2, "dark"), (0.3, [2, 2], "flat")]
    ids = []
    for duration, binning, frame_type in plan:
        reports: list[dict[str, Any]] = []
        result = await camera.expose(
            duration, binning=binning, frame_type=frame_type, progress=reports.append
        )
        # The answer comes after the frame: stored, and the exposure over.
        assert result["blob_id"] in store
        assert camera.client.get_property(CCD, "CCD_EXPOSURE").state is PropertyState.OK
        bx = binning if isinstance(binning, int) else binning[0]
        h = header(store, result["blob_id"])
        assert h["EXPTIME"] == pytest.approx(duration)
        assert h["XBINNING"] == bx and h["YBINNING"] == bx
        assert h["NAXIS1"] == SENSOR // bx
        assert h["FRAME"].strip().lower() == frame_type
        assert result["format"] == ".fits"
        assert result["content_type"] == "application/fits"
        assert result["size"] == len(store.get(result["blob_id"]).data)
        assert result["duration"] == duration and result["frame_type"] == frame_type
        assert result["binning"] == [bx, bx]
        assert result["roi"] == [0, 0, SENSOR, SENSOR]
        assert store.info(result["blob_id"]).metadata["frame_type"] == frame_type
        states = [r["state"] for r in reports]
        assert states[0] == "exposing" and reports[0]["time_left"] == pytest.approx(duration)
        assert "downloaded" in states and states[-1] == "saving"
        ids.append(result["blob_id"])
    assert len(set(ids)) == 3
    assert camera.status()["last_frame"] == ids[-1]


async def test_roi_gain_and_offset(camera: Camera, store: BlobStore) -> None:
    result = await camera.expose(0.1, roi=[10, 20, 100, 80], gain=50, offset=10)
    h = header(store, result["blob_id"])
    assert (h["NAXIS1"], h["NAXIS2"]) == (100, 80)
    assert h["GAIN"] == pytest.approx(50)
    assert result["roi"] == [10, 20, 100, 80] and result["gain"] == 50
    assert result["offset"] == 10
    settings = await camera.configure(roi="full", gain=90, offset=0)
    assert settings["roi"] == [0, 0, SENSOR, SENSOR]


async def test_bad_values_are_refused_before_anything_is_sent(camera: Camera) -> None:
    before = camera.settings()
    with pytest.raises(InvalidValueError, match="CCD_EXPOSURE_VALUE"):
        await camera.expose(-1)
    with pytest.raises(InvalidValueError, match="HOR_BIN"):
        await camera.expose(0.1, binning=8)
    with pytest.raises(InvalidValueError, match="frame_type"):
        await camera.expose(0.1, frame_type="sky")
    with pytest.raises(InvalidValueError, match="does not fit"):
        await camera.expose(0.1, roi=[500, 0, 100, 100])
    with pytest.raises(InvalidValueError, match="GAIN"):
        await camera.expose(0.1, binning=2, gain=1000)
    assert camera.settings() == before  # binning=2 was not applied either
    assert camera.client.get_property(CCD, "CCD_EXPOSURE").state is not PropertyState.BUSY


async def _start_exposure(camera: Camera, duration: float, **kw: Any) -> asyncio.Task:
    exposing = asyncio.Event()
    task = asyncio.create_task(camera.expose(duration, progress=lambda p: exposing.set(), **kw))
    await asyncio.wait_for(exposing.wait(), 10)
    return task


async def test_abort_ends_a_running_exposure(camera: Camera, store: BlobStore) -> None:
    count = len(store)
    task = await _start_exposure(camera, 5.0)
    assert camera.status()["state"] == "exposing"
    with pytest.raises(DeviceBusyError, match="already exposing"):
        await camera.expose(1.0)
    answer = await camera.abort()
    assert answer == {"aborted": True, "interrupted": 1, "stopped": True}
    with pytest.raises(ActionAborted) as err:
        await task
    assert err.value.details["reason"] == "abort"
    assert camera.client.get_property(CCD, "CCD_EXPOSURE").state is PropertyState.IDLE
    assert len(store) == count  # no frame
    assert camera.status()["state"] == "idle"


async def test_an_exposure_stopped_by_another_client_ends_aborted(
    ccd_server: IndiServerProcess, camera: Camera, store: BlobStore
) -> None:
    """Another INDI client aborts at the driver: the exposure sees CCD_EXPOSURE
    go Idle with no frame and ends aborted."""
    count = len(store)
    task = await _start_exposure(camera, 5.0)
    async with INDIClient(ccd_server.host, ccd_server.port) as other:
        await other.wait_for(CCD, "CCD_ABORT_EXPOSURE", lambda p: True, 5)
        await other.set_property(CCD, "CCD_ABORT_EXPOSURE", {"ABORT": True})
        with pytest.raises(ActionAborted, match="stopped before it ended") as err:
            await task
    assert err.value.code == "aborted"
    assert len(store) == count  # no frame


async def test_capture_answers_a_frame_it_does_not_store(camera: Camera, store: BlobStore):
    count = len(store)
    data, fmt = await camera.capture(0.1, binning=4)
    assert fmt == ".fits" and data.startswith(b"SIMPLE")
    with fits.open(io.BytesIO(data)) as hdus:
        assert hdus[0].data.shape == (SENSOR // 4, SENSOR // 4)
    assert len(store) == count
    await camera.configure(binning=1)


async def test_cancel_and_timeout_stop_the_exposure(camera: Camera) -> None:
    task = await _start_exposure(camera, 5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await camera.client.wait_idle(CCD, "CCD_EXPOSURE", 5)

    with pytest.raises(ActionTimeout, match="did not end within 1 s") as err:
        await camera.expose(5.0, timeout=1.0)
    assert err.value.details["stopped"] is True
    assert camera.client.get_property(CCD, "CCD_EXPOSURE").state is not PropertyState.BUSY


async def test_cooler_and_temperature(camera: Camera) -> None:
    assert (await camera.set_cooler(True))["cooler"] is True
    reports: list[dict[str, Any]] = []
    # The simulator ramps 0.5 °C per second.
    result = await camera.set_temperature(-1.0, wait=True, tolerance=0.3, progress=reports.append)
    assert result["reached"] is True
    assert result["temperature"] == pytest.approx(-1.0, abs=0.3)
    assert reports and reports[-1]["target"] == -1.0
    answer = await camera.set_temperature(0.0)  # no wait: answers once the driver took it
    assert answer["target"] == 0.0
    with pytest.raises(InvalidValueError, match="CCD_TEMPERATURE_VALUE"):
        await camera.set_temperature(-80)
    with pytest.raises(ActionTimeout):
        await camera.set_temperature(-20.0, wait=True, timeout=0.5)
    await camera.set_temperature(0.0)
    assert (await camera.set_cooler(False))["cooler"] is False
    assert set(camera.temperature()) == {"temperature", "ramping", "cooler", "cooler_power"}


async def test_info_and_sensor(camera: Camera) -> None:
    info = camera.info()
    caps = info["capabilities"]
    assert caps["frame_types"] == ["light", "dark", "flat", "bias"]
    assert caps["has_gain"] and caps["gain_range"] == [0, 100]
    assert caps["has_cooler"] and caps["can_abort"] and caps["has_filter_wheel"]
    assert caps["max_binning"] == [4, 4]
    assert info["sensor"]["max_x"] == SENSOR
    assert camera.sensor_info()["bits_per_pixel"] == 16
    assert caps["has_cooler_power"] is False  # not defined by the simulator


async def test_frames_written_to_a_folder(client: INDIClient, camera: Camera, tmp_path: Path):
    store = BlobStore(folder=tmp_path, max_count=2)
    cam = Camera(client, CCD, store=store)
    result = await cam.expose(0.1, binning=4, frame_type="bias", metadata={"object": "M42"})
    path = Path(result["path"])
    # The default pattern: a folder per night, the object first.
    assert path.parent.parent == tmp_path and len(path.parent.name) == len("2025-01-01")
    assert path.name.startswith("M42_") and "_bias_0.1s_" in path.name
    assert path.name.endswith(".fits")
    assert await asyncio.to_thread(path.read_bytes) == store.get(result["blob_id"]).data
    assert store.info(result["blob_id"]).metadata["object"] == "M42"
    png = await store.preview(result["blob_id"])
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == (SENSOR // 4, SENSOR // 4)


async def test_abort_while_settings_are_applied_stops_before_exposing(
    camera: Camera, store: BlobStore
) -> None:
    count = len(store)
    busy: list[str] = []
    sub = camera.client.subscribe(
        lambda e: busy.append(e.name) if e.property and e.property.busy else None,
        device=CCD,
        name="CCD_EXPOSURE",
    )
    try:
        # Binning and frame type must be sent first: abort in that moment.
        task = asyncio.create_task(camera.expose(2.0, binning=2, frame_type="dark"))
        await asyncio.sleep(0.001)
        answer = await camera.abort()
        assert answer["interrupted"] == 1
        with pytest.raises(ActionAborted):
            await task
        await asyncio.sleep(0.3)
        assert busy == []  # the exposure was never started
        assert len(store) == count
    finally:
        sub.close()
        await camera.configure(binning=1, frame_type="light")


async def test_options_list_and_set_the_frame_type(camera: Camera, client: INDIClient) -> None:
    options = camera.options()
    assert list(options) == ["frame_type"]  # the simulator has none of the vendor switches
    frame_type = options["frame_type"]
    assert frame_type["kind"] == "choice" and frame_type["value"] == "FRAME_LIGHT"
    assert [c["label"] for c in frame_type["choices"]] == ["Light", "Bias", "Dark", "Flat"]
    try:
        # By label, any case, or by the end of the element name.
        assert (await camera.set_option("frame_type", "flat"))["value"] == "FRAME_FLAT"
        assert client.get_property(CCD, "CCD_FRAME_TYPE").on_switches() == ["FRAME_FLAT"]
        with pytest.raises(InvalidValueError, match="Light"):
            await camera.set_option("frame_type", "infrared")
        with pytest.raises(CapabilityError, match="no fan setting"):
            await camera.set_option("fan", True)
        with pytest.raises(InvalidValueError, match="unknown camera option"):
            await camera.set_option("warp", True)
    finally:
        await camera.set_option("frame_type", "Light")


def test_on_off_switches_are_told_by_their_element_names() -> None:
    def switch(*names: str) -> Property:
        prop = Property(
            CCD, "X", PropertyKind.SWITCH, "X", "", PropertyState.IDLE,
            Permission.RW, SwitchRule.ONE_OF_MANY, 0, None, None,
        )  # fmt: skip
        for name in names:
            prop.elements[name] = Element(name, name, SwitchState.OFF)
        return prop

    # Either order (ToupTek's TC_HEAT_CONTROL lists OFF first).
    assert _toggle(switch("TC_HEAT_OFF", "TC_HEAT_ON")) == ("TC_HEAT_ON", "TC_HEAT_OFF")
    assert _toggle(switch("INDI_ENABLED", "INDI_DISABLED")) == ("INDI_ENABLED", "INDI_DISABLED")
    # Anything else is a choice, not a guess.
    assert _toggle(switch("GAIN_LOW", "GAIN_HIGH")) is None
    assert _toggle(switch("FAN_ON", "FAN_OFF", "FAN_AUTO")) is None
