"""lightAPT's ``camera`` and ``guider`` instructions, replayed as the front ends
send them, against a private indiserver with the CCD simulator (camera) and
the guide camera simulator (guider): settings changed here stay here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightapt_support import LightAptClient, module_indiserver
from tornado.httpclient import AsyncHTTPClient

from indiws.client import INDIClient
from indiws.devices import ActionAborted, ActionTimeout, GuideCamera
from indiws.protocol import PropertyState, SwitchState
from indiws.testing import IndiServerProcess, RunningService, start_service
from indiws.web.lightapt.camera import NO_HFR, _signal

CCD, GUIDE = "CCD Simulator", "Guide Simulator"
SENSOR = ["CCD_MAX_X", "CCD_MAX_Y", "CCD_PIXEL_SIZE", "CCD_PIXEL_SIZE_X"]
SENSOR += ["CCD_PIXEL_SIZE_Y", "CCD_BITSPERPIXEL"]


camera_server = module_indiserver("indi_simulator_ccd", "indi_simulator_guide")


@pytest.fixture
async def svc(camera_server: IndiServerProcess, tmp_path: Path) -> AsyncIterator[RunningService]:
    running = await start_service(camera_server, tmp_path / "data")
    try:
        await running.service.roles.assign("camera", CCD)
        await running.service.roles.assign("guider", GUIDE)
        yield running
    finally:
        await running.stop()


def mirror(svc: RunningService) -> INDIClient:
    return svc.service.client


def value(svc: RunningService, device: str, prop: str, element: str) -> object:
    return mirror(svc).devices[device].properties[prop][element]


async def until(svc: RunningService, device: str, prop: str, check, timeout: float = 15.0) -> None:
    await mirror(svc).wait_for(device, prop, check, timeout)


async def fetch(svc: RunningService, path: str) -> bytes:
    response = await AsyncHTTPClient().fetch(svc.url + path)
    return response.body


# ---------------------------------------------------------------- queries


async def test_camera_queries_answer_what_the_pages_read(
    svc: RunningService, client: LightAptClient
) -> None:
    assert await client.data("camera", "get_ccd_name") == {"device_name": CCD}

    info = await client.data("camera", "get_static_info")
    assert info["CCD_MAX_X"] == 1280 and info["CCD_MAX_Y"] == 1024
    assert info["CCD_PIXEL_SIZE_X"] == pytest.approx(5.2)
    # cobalt-web walks data.data for these names.
    assert [e["name"] for e in info["data"]] == SENSOR
    assert {e["name"]: e["value"] for e in info["data"]} == {k: info[k] for k in SENSOR}
    assert await client.data("camera", "gerestatic_info") == info  # V4's spelling

    params = await client.data("camera", "get_set_params")
    assert params == {
        "gain": value(svc, CCD, "CCD_GAIN", "GAIN"),
        "offset": value(svc, CCD, "CCD_OFFSET", "OFFSET"),
        "binning": value(svc, CCD, "CCD_BINNING", "HOR_BIN"),
        "cooler": False,
        "fan": None,
        "heater": None,
        "hcg": None,
        "low_noise_mode": None,
    }
    assert isinstance(params["gain"], float) and isinstance(params["binning"], int)
    assert await client.data("camera", "gereset_params") == params

    realtime = await client.data("camera", "get_real_time_info")
    assert realtime == {
        "temperature": value(svc, CCD, "CCD_TEMPERATURE", "CCD_TEMPERATURE_VALUE"),
        "in_exposure": False,
        "in_cooling": False,
    }

    config = await client.data("camera", "get_configuration")
    assert config["can_cool"] and config["can_binning"] and config["can_gain"]
    assert config["has_fan"] is False and config["has_hcg"] is False


async def test_guider_is_a_second_camera_with_nulls_for_what_it_lacks(
    client: LightAptClient,
) -> None:
    assert await client.data("guider", "get_ccd_name") == {"device_name": GUIDE}
    info = await client.data("guider", "get_static_info")
    assert info["CCD_PIXEL_SIZE_X"] == pytest.approx(2.4)
    assert len(info["data"]) == 6
    # The guide simulator has gain but no offset, cooler or temperature.
    params = await client.data("guider", "get_set_params")
    assert params["gain"] == 50 and params["binning"] == 1
    assert params["offset"] is None and params["cooler"] is None
    realtime = await client.data("guider", "get_real_time_info")
    assert realtime == {"temperature": None, "in_exposure": False, "in_cooling": None}


async def test_queries_of_a_disconnected_camera_answer_every_key_null(
    svc: RunningService, client: LightAptClient
) -> None:
    await GuideCamera(svc.service.client, GUIDE).disconnect()
    info = await client.data("guider", "get_static_info")
    assert all(info[k] is None for k in SENSOR) and info["data"] == []
    params = await client.data("guider", "get_set_params")
    assert set(params) >= {"gain", "offset", "binning", "cooler"}
    assert all(v is None for v in params.values())
    realtime = await client.data("guider", "get_real_time_info")
    assert realtime == {"temperature": None, "in_exposure": False, "in_cooling": None}
    assert await client.data("guider", "get_custom_settings") == []


# ---------------------------------------------------------------- settings


async def test_set_number_parameters_act_and_refuse_in_the_original_words(
    svc: RunningService, client: LightAptClient
) -> None:
    # As cobalt-web sends them: parseInt of the input field.
    await client.success("camera", "set_number_parameters", ["gain", 42])
    assert value(svc, CCD, "CCD_GAIN", "GAIN") == 42
    await client.success("camera", "set_number_parameters", ["offset", 15])
    assert value(svc, CCD, "CCD_OFFSET", "OFFSET") == 15
    await client.success("camera", "set_number_parameters", ["binning", 2])
    assert (
        value(svc, CCD, "CCD_BINNING", "HOR_BIN") == value(svc, CCD, "CCD_BINNING", "VER_BIN") == 2
    )
    params = await client.data("camera", "get_set_params")
    assert (params["gain"], params["offset"], params["binning"]) == (42, 15, 2)

    for name, bad in (("gain", 1000), ("offset", -1), ("binning", 9)):
        reply = await client.ask("camera", "set_number_parameters", [name, bad])
        assert (reply["type"], reply["message"]) == ("error", f"{name} value is out of range!")
    reply = await client.ask(
        "camera", "set_number_parameters", ["gain", None]
    )  # parseInt("") → NaN → null
    assert reply["type"] == "error" and "gain must be a number" in reply["message"]
    reply = await client.ask("camera", "set_number_parameters", ["exposure", 3])
    assert reply["type"] == "error" and "unknown parameter 'exposure'" in reply["message"]
    reply = await client.ask("camera", "set_number_parameters", ["hcg", "GAIN_HIGH"])
    assert reply["type"] == "error" and "conversion gain" in reply["message"]
    assert value(svc, CCD, "CCD_GAIN", "GAIN") == 42  # nothing changed

    await client.success("guider", "set_number_parameters", ["binning", 2])
    assert value(svc, GUIDE, "CCD_BINNING", "HOR_BIN") == 2
    await client.success("guider", "set_number_parameters", ["binning", 1])
    reply = await client.ask("guider", "set_number_parameters", ["offset", 10])
    assert reply["type"] == "error" and "offset" in reply["message"]
    await client.success("camera", "set_number_parameters", ["binning", 1])


async def test_guider_page_sends_its_number_fields_as_text(
    svc: RunningService, client: LightAptClient
) -> None:
    # cobalt-web's guider page (src/pages/device/guider.tsx) sends the value
    # of its <input type="number"> as it is: text.
    await client.success("guider", "set_number_parameters", ["binning", "2"])
    assert value(svc, GUIDE, "CCD_BINNING", "HOR_BIN") == 2
    await client.success("guider", "set_number_parameters", ["gain", "60"])
    assert value(svc, GUIDE, "CCD_GAIN", "GAIN") == 60
    assert (await client.data("guider", "get_set_params"))["gain"] == 60
    for bad in ("", "2x", "nan"):  # an empty field, text, not finite
        reply = await client.ask("guider", "set_number_parameters", ["binning", bad])
        assert reply["type"] == "error" and "binning must be a number" in reply["message"]
    reply = await client.ask("guider", "set_number_parameters", ["binning", "1.5"])
    assert reply["type"] == "error" and "whole number" in reply["message"]
    await client.success("guider", "set_number_parameters", ["binning", "1"])
    await client.success("guider", "set_number_parameters", ["gain", "50"])


async def test_cooler_and_target_temperature(svc: RunningService, client: LightAptClient) -> None:
    def cooler_on() -> bool:
        return value(svc, CCD, "CCD_COOLER", "COOLER_ON") is SwitchState.ON

    await client.success("camera", "start_cool_camera")
    assert cooler_on()
    assert (await client.data("camera", "get_real_time_info"))["in_cooling"] is True
    assert (await client.data("camera", "get_set_params"))["cooler"] is True
    await client.success("camera", "stop_cool_camera")
    assert not cooler_on()

    start = value(svc, CCD, "CCD_TEMPERATURE", "CCD_TEMPERATURE_VALUE")
    assert isinstance(start, float)
    await client.success("camera", "set_cool_target_temperature", [int(start) - 2])
    # The simulator ramps toward the target.
    await until(svc, CCD, "CCD_TEMPERATURE", lambda p: p["CCD_TEMPERATURE_VALUE"] < start)
    await client.success("camera", "cooling_to", [int(start)])  # V4's spelling
    reply = await client.ask("camera", "set_cool_target_temperature", [-100])
    assert (reply["type"], reply["message"]) == ("error", "Temperature is out of range!")

    # The guide camera has none of these: the original's refusals.
    for instruction, words in (
        ("start_cool_camera", "No Cooler Available!"),
        ("stop_cool_camera", "No Cooler Available!"),
        ("start_fan", "No Fan Available"),
        ("stop_fan", "No Fan Available"),
        ("start_tc_heat", "No Heater Available"),
        ("stop_tc_heat", "No Heater Available"),
    ):
        reply = await client.ask("guider", instruction)
        assert (reply["type"], reply["message"]) == ("message", words)
    reply = await client.ask("guider", "set_cool_target_temperature", [-10])
    assert reply["type"] == "error" and "temperature" in reply["message"]


async def test_custom_settings_list_and_set_the_frame_type(
    svc: RunningService, client: LightAptClient
) -> None:
    settings = await client.data("camera", "get_custom_settings")
    assert settings == [
        {
            "custom_name": "frame_type",
            "display_label": "Type",
            "data_type": "SELECT",
            "data": {"selections": ["Light", "Bias", "Dark", "Flat"], "selected": "Light"},
        }
    ]
    # cobalt-web sends back the selection it shows.
    await client.success("camera", "set_custom_setting", ["frame_type", "Dark"])
    assert value(svc, CCD, "CCD_FRAME_TYPE", "FRAME_DARK") is SwitchState.ON
    settings = await client.data("camera", "get_custom_settings")
    assert settings[0]["data"]["selected"] == "Dark"

    reply = await client.ask("camera", "set_custom_setting", ["frame_type", "Purple"])
    assert reply["type"] == "error" and "Light" in reply["message"]
    reply = await client.ask("camera", "set_custom_setting", ["fan", True])
    assert reply["type"] == "error" and "no fan setting" in reply["message"]
    reply = await client.ask("camera", "set_custom_setting", ["warp_drive", True])
    assert reply["type"] == "error" and "frame_type" in reply["message"]

    # An exposure keeps the chosen frame type.
    await client.success("camera", "start_single_exposure", [0.1])
    signal = await client.reply()
    assert signal["message"] == "Exposure Finished!", signal
    assert signal["data"]["frame_type"] == "dark"
    await client.success("camera", "set_custom_setting", ["frame_type", "light"])
    assert value(svc, CCD, "CCD_FRAME_TYPE", "FRAME_LIGHT") is SwitchState.ON


# ---------------------------------------------------------------- exposure


async def test_exposure_answers_success_then_pushes_one_frame(
    svc: RunningService, client: LightAptClient
) -> None:
    # cobalt-web's shoot button: [seconds, save].
    await client.success("camera", "start_single_exposure", [0.2, True])
    signal = await client.reply()
    assert signal["type"] == "signal" and signal["message"] == "Exposure Finished!"
    assert signal["device_name"] == "Signal" and signal["instruction"] == "Image Stretch"
    data = signal["data"]
    assert data["camera_type"] == "camera"
    # Every key of the record, measured by the frame's analysis.
    assert set(data["hfr_info"]) == set(NO_HFR)
    assert data["hfr_info"]["star_count"] == data["analysis"]["stars"]
    assert data["hfr_info"]["average_hfr"] == data["analysis"]["hfr"]
    assert data["device"] == CCD and data["exposure"] == 0.2 and data["save"] is True
    assert data["url"] == f"/blobs/{data['blob_id']}"
    fits = await fetch(svc, data["url"])
    assert fits.startswith(b"SIMPLE") and len(fits) == data["size"]
    assert (await fetch(svc, data["preview_url"])).startswith(b"\x89PNG")
    # What cobalt-web loads after the signal: the role's newest frame as JPEG.
    newest = await AsyncHTTPClient().fetch(svc.url + "/PAA/newest_camera_jpg/?1733000000000")
    assert newest.headers["Content-Type"] == "image/jpeg"
    assert newest.body.startswith(b"\xff\xd8\xff")
    # One frame only: the next one is the reply to the next request.
    realtime = await client.data("camera", "get_real_time_info")
    assert realtime["in_exposure"] is False
    assert sum(json.loads(f).get("type") == "signal" for f in client.frames) == 1

    # V4's spelling, and the original's frame count as the second parameter.
    await client.success("camera", "start_exposure", [0.1, 3])
    signal = await client.reply()
    assert signal["message"] == "Exposure Finished!" and signal["data"]["count"] == 3


@pytest.mark.slow
async def test_busy_exposure_refuses_a_second_and_aborts(
    svc: RunningService, client: LightAptClient
) -> None:
    await client.success("camera", "start_single_exposure", [30])
    # "success" comes once the driver took the exposure: it is exposing now.
    assert mirror(svc).devices[CCD].properties["CCD_EXPOSURE"].state is PropertyState.BUSY
    reply = await client.ask("camera", "start_single_exposure", [1])
    assert (reply["type"], reply["message"]) == (
        "message",
        "Exposure is in progress. Cannot start exposure now!",
    )
    assert (await client.data("camera", "get_real_time_info"))["in_exposure"] is True

    await client.send('{"device_name":"camera","instruction":"abort_exposure","params":[]}')
    frames = [await client.reply(), await client.reply()]  # the reply and the push, any order
    reply = next(f for f in frames if f["device_name"] == "camera")
    signal = next(f for f in frames if f["device_name"] == "Signal")
    assert (reply["type"], reply["message"]) == ("message", "Exposure aborted!")
    assert signal["type"] == "signal" and signal["message"] == "ERROR! Exposure aborted!"
    assert signal["instruction"] == "Image Process Failed!"
    assert signal["data"]["camera_type"] == "camera"
    assert mirror(svc).devices[CCD].properties["CCD_EXPOSURE"].state is not PropertyState.BUSY

    reply = await client.ask("camera", "abort_exposure")
    assert (reply["type"], reply["message"]) == ("message", "No exposure in progress!")


async def test_guider_exposure_pushes_a_guider_frame(
    svc: RunningService, client: LightAptClient
) -> None:
    await client.success("guider", "start_single_exposure", [0.1])
    signal = await client.reply()
    assert signal["instruction"] == "Image Stretch"
    assert signal["data"]["camera_type"] == "guider" and signal["data"]["device"] == GUIDE
    assert (await fetch(svc, signal["data"]["url"])).startswith(b"SIMPLE")
    assert (await fetch(svc, "/PAA/newest_guider_jpg/")).startswith(b"\xff\xd8\xff")


async def test_newest_jpg_of_a_role_without_frames_is_a_json_404(svc: RunningService) -> None:
    svc.service.roles.release("guider")
    response = await AsyncHTTPClient().fetch(svc.url + "/PAA/newest_guider_jpg/", raise_error=False)
    assert response.code == 404
    assert json.loads(response.body)["error"]["code"] == "no_frame"


async def test_exposure_refused_before_it_starts_pushes_nothing(
    client: LightAptClient,
) -> None:
    reply = await client.ask("camera", "start_single_exposure", [0.001])  # below the driver's 0.01
    assert reply["type"] == "error" and "CCD_EXPOSURE" in reply["message"]
    reply = await client.ask("camera", "start_single_exposure", ["2"])
    assert reply["type"] == "error" and "seconds" in reply["message"]
    # The next frame is the next reply: no signal came for the refused ones.
    await client.data("camera", "get_real_time_info")
    assert not any(json.loads(f).get("type") == "signal" for f in client.frames)


async def test_failure_signal_words() -> None:
    """The pushed frame for an exposure that timed out or failed, in the
    original's words (a simulator exposure never times out)."""
    loop = asyncio.get_running_loop()
    for error, words in (
        (ActionTimeout("expose did not end within 122 s"), "ERROR! Exposure Time Out Error!"),
        (ActionAborted("aborted"), "ERROR! Exposure aborted!"),
        (RuntimeError("the frame upload failed"), "ERROR! the frame upload failed"),
    ):
        done: asyncio.Future = loop.create_future()
        done.set_exception(error)
        message, data, instruction = _signal(done, "guider")
        assert message == words and instruction == "Image Process Failed!"
        assert data["camera_type"] == "guider" and data["hfr_info"] is None
