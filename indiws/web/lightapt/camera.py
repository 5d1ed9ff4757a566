"""lightAPT's ``camera`` and ``guider`` instructions, over `indiws.devices.Camera`.

Every instruction is registered for both roles: the guider is a second
camera (`indiws.devices.GuideCamera`) and the later front end sends it the
same requests.  Queries never fail for what a camera lacks: its keys are
null.  docs/lightapt.md ("Instructions: camera and guider") has the table.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

from ...analysis import hfr_info
from ...client import INDIError
from ...devices import ActionAborted, ActionTimeout, InvalidValueError
from ..blobs import frame_urls
from ..errors import describe_error
from .base import Context, LightAptError, instruction

T = TypeVar("T")

ROLES = ("camera", "guider")

#: The frame pushed when an exposure ends: its ``device_name`` and
#: ``instruction`` are what the later front end listens for.
SIGNAL = "Signal"
FINISHED, FAILED = "Image Stretch", "Image Process Failed!"
#: ``hfr_info`` of a frame not measured: the later front end's HFR record with
#: every key null (its reducer reads ``hfr_info.average_hfr``, so a bare null
#: would throw in the page); measured frames fill it (`analysis.hfr_info`).
NO_HFR: dict[str, None] = {
    "star_count": None,
    "average_hfr": None,
    "max_star": None,
    "min_star": None,
    "average_star": None,
}
#: ``get_static_info``: CCD_INFO's element names (the original's keys) → `Camera.sensor_info` keys.
SENSOR_KEYS = {
    "CCD_MAX_X": "max_x",
    "CCD_MAX_Y": "max_y",
    "CCD_PIXEL_SIZE": "pixel_size",
    "CCD_PIXEL_SIZE_X": "pixel_size_x",
    "CCD_PIXEL_SIZE_Y": "pixel_size_y",
    "CCD_BITSPERPIXEL": "bits_per_pixel",
}


def _read(read: Callable[[], T], default: T) -> T:
    """A device read, or ``default`` when the camera lacks it (not connected,
    no such property, gone from the server): queries answer nulls, not errors."""
    try:
        return read()
    except INDIError:
        return default


def _in_exposure(camera: Any) -> bool:
    """Exposing now: the driver says so, or an exposure of this role is under
    way (it may not have reached the driver yet)."""
    if camera.status().get("state") == "exposing":
        return True
    return any(action["action"] == "expose" for action in camera.running())


def _toggle(options: dict[str, dict[str, Any]], name: str) -> bool | None:
    option = options.get(name)
    return option["on"] if option is not None and option["kind"] == "toggle" else None


# ---------------------------------------------------------------- queries


def _no_device_name(role: str) -> dict[str, Any]:
    return {"device_name": f"(no {role} assigned)"}


def _no_real_time_info(role: str) -> dict[str, Any]:
    return {"temperature": None, "in_exposure": False, "in_cooling": None}


def _no_static_info(role: str) -> dict[str, Any]:
    return {"name": "CCD_INFO", "type": "number", **dict.fromkeys(SENSOR_KEYS), "data": []}


def _no_set_params(role: str) -> dict[str, Any]:
    keys = ("gain", "offset", "binning", "cooler", "fan", "heater", "hcg", "low_noise_mode")
    return dict.fromkeys(keys)


@instruction(ROLES, unassigned=_no_device_name)
async def get_ccd_name(ctx: Context) -> dict[str, Any]:
    """The INDI name of the role's device (the later front end's title)."""
    return {"device_name": ctx.device().name}


@instruction(ROLES, unassigned=_no_real_time_info)
async def get_real_time_info(ctx: Context) -> dict[str, Any]:
    """Temperature (°C), whether an exposure runs, and whether the cooler is on."""
    camera = ctx.device()
    status = camera.status()
    return {
        "temperature": status.get("temperature"),
        "in_exposure": _in_exposure(camera),
        "in_cooling": status.get("cooler"),
    }


@instruction(ROLES, "get_static_info", "gerestatic_info", unassigned=_no_static_info)
async def get_static_info(ctx: Context) -> dict[str, Any]:
    """The sensor: the original's flat CCD_* keys, and the later front end's
    ``data: [{name, value}]`` (only the values the camera has, as the page
    formats each one it finds)."""
    sensor = _read(ctx.device().sensor_info, {})
    flat = {key: sensor.get(ours) for key, ours in SENSOR_KEYS.items()}
    return {
        "name": "CCD_INFO",
        "type": "number",
        **flat,
        "data": [{"name": k, "value": v} for k, v in flat.items() if v is not None],
    }


@instruction(ROLES, "get_set_params", "gereset_params", unassigned=_no_set_params)
async def get_set_params(ctx: Context) -> dict[str, Any]:
    """Gain, offset and binning as plain numbers (the later front end shows
    them as such), the cooler, and the vendor switches of the original."""
    camera = ctx.device()
    settings = _read(camera.settings, {})
    options = _read(camera.options, {})
    binning = settings.get("binning")
    hcg = options.get("conversion_gain")
    return {
        "gain": settings.get("gain"),
        "offset": settings.get("offset"),
        "binning": binning[0] if binning else None,
        "cooler": camera.status().get("cooler"),
        "fan": _toggle(options, "fan"),
        "heater": _toggle(options, "heater"),
        "hcg": {"value": hcg["value"], "selections": [c["name"] for c in hcg["choices"]]}
        if hcg is not None and hcg["kind"] == "choice"
        else None,
        "low_noise_mode": _toggle(options, "low_noise"),
    }


@instruction(ROLES)
async def get_configuration(ctx: Context) -> dict[str, Any]:
    """What the camera can do, under the flag names lightAPT's V4 kept."""
    camera = ctx.device()
    caps = _read(lambda: camera.info().get("capabilities"), None) or {}
    options = _read(camera.options, {})
    return {
        "can_cool": caps.get("has_cooler"),
        "can_binning": caps.get("can_bin"),
        "can_gain": caps.get("has_gain"),
        "can_offset": caps.get("has_offset"),
        "can_abort": caps.get("can_abort"),
        "can_subframe": caps.get("can_subframe"),
        "has_fan": "fan" in options,
        "has_heater": "heater" in options,
        "has_hcg": "conversion_gain" in options,
        "has_low_noise": "low_noise" in options,
    }


@instruction(ROLES)
async def get_custom_settings(ctx: Context) -> list[dict[str, Any]]:
    """The camera's optional settings (`Camera.options`) as the later front
    end's settings panel lists them: ``SWITCH`` (on/off) or ``SELECT``."""
    out: list[dict[str, Any]] = []
    for name, option in _read(ctx.device().options, {}).items():
        entry: dict[str, Any] = {"custom_name": name, "display_label": option["label"]}
        if option["kind"] == "toggle":
            entry.update(data_type="SWITCH", data=option["on"])
        else:
            labels = {c["name"]: c["label"] for c in option["choices"]}
            entry.update(
                data_type="SELECT",
                data={
                    "selections": list(labels.values()),
                    "selected": labels.get(option["value"]),
                },
            )
        out.append(entry)
    return out


# ---------------------------------------------------------------- settings


@instruction(ROLES)
async def set_custom_setting(ctx: Context, name: str, value: bool | str) -> None:
    """Set one of `get_custom_settings`: true/false for a SWITCH, one of the
    selections for a SELECT."""
    await ctx.device().set_option(name, value)


@instruction(
    ROLES,
    "set_cool_target_temperature",
    "cooling_to",
    verb="camera.set_temperature",
    params={"celsius": "target"},
)
async def set_cool_target_temperature(ctx: Context, celsius: float) -> None:
    """The cooler's target (°C); answers once the driver took it."""
    try:
        await ctx.device().set_temperature(celsius)
    except InvalidValueError as exc:
        raise LightAptError("Temperature is out of range!") from exc


# A camera without a cooler, fan or heater: worded by `refusals.REFUSALS`.


@instruction(ROLES, verb="camera.set_cooler")
async def start_cool_camera(ctx: Context) -> None:
    await ctx.device().set_cooler(True)


@instruction(ROLES, verb="camera.set_cooler")
async def stop_cool_camera(ctx: Context) -> None:
    await ctx.device().set_cooler(False)


@instruction(ROLES)
async def start_fan(ctx: Context) -> None:
    await ctx.device().set_option("fan", True)


@instruction(ROLES)
async def stop_fan(ctx: Context) -> None:
    await ctx.device().set_option("fan", False)


@instruction(ROLES)
async def start_tc_heat(ctx: Context) -> None:
    await ctx.device().set_option("heater", True)


@instruction(ROLES)
async def stop_tc_heat(ctx: Context) -> None:
    await ctx.device().set_option("heater", False)


def _number(name: str, value: Any) -> float:
    if isinstance(value, str):
        # cobalt-web's guider page sends its number fields' text ("2"); its
        # camera page sends parseInt of them.
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LightAptError(f"the value of {name} must be a number, got {value!r}")
    return float(value)


NUMBER_PARAMETERS = ("gain", "offset", "binning", "hcg", "low_noise_mode")


@instruction(ROLES)
async def set_number_parameters(ctx: Context, name: str, value: Any) -> None:
    """``["gain"|"offset"|"binning", number]``, ``["hcg", <choice name>]``,
    ``["low_noise_mode", 1|0]``; out of range in the original's words."""
    camera = ctx.device()
    try:
        if name in ("gain", "offset"):
            await camera.configure(**{name: _number(name, value)})
        elif name == "binning":
            number = _number(name, value)
            if not number.is_integer():
                raise LightAptError(f"binning must be a whole number, got {value!r}")
            await camera.configure(binning=int(number))
        elif name == "hcg":
            await camera.set_option("conversion_gain", value)
        elif name == "low_noise_mode":
            await camera.set_option("low_noise", value in (1, True))
        else:
            raise LightAptError(
                f"unknown parameter {name!r}: choose one of {', '.join(NUMBER_PARAMETERS)}"
            )
    except InvalidValueError as exc:
        words = (
            "hcg setting name is incorrect!" if name == "hcg" else f"{name} value is out of range!"
        )
        raise LightAptError(words) from exc


# ---------------------------------------------------------------- exposure


def _signal(done: asyncio.Future[dict[str, Any]], camera_type: str) -> tuple[str, Any, str]:
    """(message, data, instruction) of the frame pushed when an exposure ends."""
    error = done.exception() if not done.cancelled() else asyncio.CancelledError()
    if error is None:
        result = done.result()
        data = {
            "camera_type": camera_type,
            **result,
            "hfr_info": hfr_info(result.get("analysis")),
            **frame_urls(result["blob_id"]),
        }
        return "Exposure Finished!", data, FINISHED
    if isinstance(error, ActionTimeout):
        text = "Exposure Time Out Error!"
    elif isinstance(error, ActionAborted):
        text = "Exposure aborted!"
    elif isinstance(error, asyncio.CancelledError):
        text = "Exposure cancelled!"
    else:
        text = str(error) or type(error).__name__
    data = {"camera_type": camera_type, "hfr_info": None}
    if isinstance(error, Exception):
        data["error"] = describe_error(error).data or {"message": str(error)}
    return f"ERROR! {text}", data, FAILED


@instruction(
    ROLES,
    "start_single_exposure",
    "start_exposure",
    verb="camera.expose",
    params={"seconds": "duration"},
)
async def start_single_exposure(
    ctx: Context, seconds: float, save_or_count: bool | int | None = None
) -> None:
    """Start one exposure; answers once it started, then pushes one
    ``signal`` frame to this socket when it ends (docs/lightapt.md).

    The second parameter is the later front end's ``save`` flag or the
    original's frame ``count``; both are kept with the frame, which is
    stored like every frame and downloadable at ``/blobs/<id>``.  The
    camera refuses while it exposes (`refusals.EXPOSING`)."""
    camera = ctx.device()
    metadata: dict[str, Any] = {}
    if isinstance(save_or_count, bool):
        metadata["save"] = save_or_count
    elif save_or_count is not None:
        metadata["count"] = save_or_count
    camera_type = "guider" if ctx.role == "guider" else "camera"
    answered = False

    def on_end(done: asyncio.Future[dict[str, Any]]) -> None:
        if not answered:
            return  # it failed before it started: the reply said so
        message, data, name = _signal(done, camera_type)
        ctx.push("signal", message, data, device_name=SIGNAL, instruction=name)

    # frame_type None: the camera's own (a custom setting may have chosen dark).
    await ctx.start(camera.expose(seconds, frame_type=None, metadata=metadata), on_end)
    answered = True


@instruction(ROLES, verb="camera.abort")
async def abort_exposure(ctx: Context) -> str:
    """Abort the exposure; answers once the camera stopped."""
    camera = ctx.device()
    if not _in_exposure(camera):
        return "No exposure in progress!"
    await camera.abort()
    return "Exposure aborted!"
