"""lightAPT's ``phd2`` instructions (cobalt-web's guiding panel), over the
built-in autoguider (`indiws.guiding.GuidingEngine`), and the PHD2 event
frames pushed to lightAPT sockets.

cobalt-web sends ``loop_exposure``, ``start_guide [recalibrate]``,
``stop_guide`` and, once at start, ``get_guiding_data`` (the only reply it
reads: six arrays of the last 100 guide steps).  It draws its graph from
pushed ``{"device_name": "PHD2_event", "message": "GuideStep", "data":
<PHD2's GuideStep>}`` frames, and keeps ``get_calibration_data`` pushed
the same way after a calibration.  docs/lightapt.md.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Context, _retrieve, instruction

__all__ = ["HISTORY", "guiding_data", "phd2_calibration", "phd2_frames"]

#: Guide steps cobalt-web keeps (and `get_guiding_data` answers).
HISTORY = 100


def _engine(ctx: Context) -> Any:
    return ctx.service.guiding


def _control(step: dict[str, Any], distance: str, direction: str, positive: str) -> float:
    """cobalt-web's own sign rule for its "control" series."""
    value = float(step.get(distance, 0.0))
    return value if step.get(direction) == positive else -value


def guiding_data(steps: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The six arrays cobalt-web's graph keeps, oldest first, computed from
    the guide steps as it computes them from pushed GuideStep frames."""
    return {
        "dx": [s["dx"] for s in steps],
        "dy": [s["dy"] for s in steps],
        "RaControl": [_control(s, "RADistanceGuide", "RADirection", "East") for s in steps],
        "DecControl": [_control(s, "DECDistanceGuide", "DECDirection", "North") for s in steps],
        "RaDistance": [s["RADistanceRaw"] for s in steps],
        "DecDistance": [s["DECDistanceRaw"] for s in steps],
    }


def phd2_calibration(engine: Any) -> dict[str, Any]:
    """PHD2's ``get_calibration_data`` result: angles in degrees, rates in
    pixels per second; y parity from the Dec axis' turn relative to RA."""
    cal = engine.calibration()
    if cal is None:
        return {"calibrated": False}
    turn = math.sin(cal.dec_angle - cal.ra_angle)
    return {
        "calibrated": True,
        "xAngle": round(math.degrees(cal.ra_angle), 1),
        "xRate": round(cal.ra_rate * 1000.0, 3),
        "xParity": "+",
        "yAngle": round(math.degrees(cal.dec_angle), 1),
        "yRate": round(cal.dec_rate * 1000.0, 3),
        "yParity": "+" if turn >= 0 else "-",
        "declination": cal.declination,
    }


def phd2_frames(engine: Any, event: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames pushed to lightAPT sockets for one guiding event."""
    if event == "GuideStep":
        return [{"device_name": "PHD2_event", "message": "GuideStep", "data": fields}]
    if event == "CalibrationComplete":
        return [
            {
                "device_name": "PHD2_event",
                "message": "get_calibration_data",
                "data": phd2_calibration(engine),
            }
        ]
    return []


@instruction("phd2")
async def loop_exposure(ctx: Context) -> None:
    """Loop guide exposures."""
    await _engine(ctx).loop()


@instruction("phd2")
async def start_guide(ctx: Context, recalibrate: bool = False) -> None:
    """Guide (``[true]``: calibrate anew first), settling by the guider's
    settle settings; answers at once (the settle's end is a pushed event)."""
    engine = _engine(ctx)
    future = await engine.guide(None, recalibrate=recalibrate)
    future.add_done_callback(_retrieve)


@instruction("phd2")
async def stop_guide(ctx: Context) -> None:
    """Stop guiding and looping exposures."""
    await _engine(ctx).stop_capture()


def _no_guiding_data(role: str) -> dict[str, list[float]]:
    return guiding_data([])


@instruction("phd2", unassigned=_no_guiding_data)
async def get_guiding_data(ctx: Context) -> dict[str, list[float]]:
    """``{dx, dy, RaControl, DecControl, RaDistance, DecDistance}``: the last
    100 guide steps, oldest first."""
    return guiding_data(_engine(ctx).guide_steps(HISTORY))


@instruction("phd2")
async def get_calibration_data(ctx: Context) -> dict[str, Any]:
    """PHD2's calibration data (also pushed after each calibration)."""
    return phd2_calibration(_engine(ctx))
