"""The guiding fronts' translations that need no device: event names, the
error table, cobalt-web's six arrays and the star cutout's PNG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from indiws.guiding import GuidingError
from indiws.web.errors import describe_error
from indiws.web.guiding_rpc import event_method, star_png
from indiws.web.lightapt.phd2 import guiding_data, phd2_frames


def test_event_names_are_phd2_names_in_snake_case() -> None:
    assert event_method("GuideStep") == "guiding.guide_step"
    assert event_method("SettleDone") == "guiding.settle_done"
    assert event_method("LoopingExposuresStopped") == "guiding.looping_exposures_stopped"
    assert event_method("Alert") == "guiding.alert"


def test_guiding_errors_keep_their_kind() -> None:
    cases = {
        "no_star": (404, -32092, "no_star"),
        "not_guiding": (409, -32094, "not_guiding"),
        "settle_failed": (409, -32095, "settle_failed"),
        "invalid_value": (400, -32015, "invalid_value"),
        "busy": (409, -32044, "busy"),
        "something_new": (409, -32098, "guiding_error"),
    }
    for kind, (status, code, name) in cases.items():
        err = describe_error(GuidingError("why", kind))
        assert (err.status, err.code, err.name, err.message) == (status, code, name, "why")
        assert err.data["error"] == name


def test_guiding_data_follows_cobalt_webs_sign_rule() -> None:
    steps = [
        {
            "dx": 1.0,
            "dy": -0.5,
            "RADistanceRaw": 0.8,
            "DECDistanceRaw": -0.3,
            "RADistanceGuide": 0.6,
            "DECDistanceGuide": 0.3,
            "RADirection": "East",
            "DECDirection": "South",
        },
        # No pulse: PHD2 leaves the directions out.
        {
            "dx": 0.1,
            "dy": 0.0,
            "RADistanceRaw": 0.1,
            "DECDistanceRaw": 0.0,
            "RADistanceGuide": 0.0,
            "DECDistanceGuide": 0.0,
        },
    ]
    data = guiding_data(steps)
    assert data["dx"] == [1.0, 0.1] and data["dy"] == [-0.5, 0.0]
    assert data["RaDistance"] == [0.8, 0.1] and data["DecDistance"] == [-0.3, 0.0]
    assert data["RaControl"] == [0.6, -0.0] and data["DecControl"] == [-0.3, -0.0]


def test_guide_steps_are_pushed_in_the_event_channel() -> None:
    step = {"Frame": 3, "dx": 0.1}
    assert phd2_frames(None, "GuideStep", step) == [
        {"device_name": "PHD2_event", "message": "GuideStep", "data": step}
    ]
    assert phd2_frames(None, "Settling", {}) == []


def test_star_png_is_stretched_and_scaled() -> None:
    pixels = np.full((15, 15), 1000, dtype=np.uint16)
    pixels[7, 7] = 30000
    png = star_png({"pixels": pixels, "frame": 1}, scale=4)
    image = Image.open(io.BytesIO(png))
    assert image.size == (60, 60) and image.mode == "L"
    assert image.getpixel((30, 30)) == 255 and image.getpixel((0, 0)) == 0
