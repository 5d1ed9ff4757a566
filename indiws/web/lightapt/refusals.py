"""lightAPT's words for the device layer's refusals: one table.

A device verb refuses with a typed reason (`indiws.devices.RefusalReason`);
the original service answered some of those refusals in words of its own,
as ``{"type": "message", "message": <words>}``.  `REFUSALS` gives, for each
reason, those words by instruction (``"<role>.<instruction function>"``,
e.g. ``"telescope.goto"``) or for every instruction of a role
(``"<role>"``); the guider's instructions are the camera's.  A refusal the
table has no words for is answered ``{"type": "error"}`` with the device's
own text, as every other error.

The words are kept byte for byte (../shared/docs/LIGHTAPT-PROTOCOL.md, §4.2
and §8.2): the original's V2 service and the later front end (cobalt-web)
compare them.
"""

from __future__ import annotations

from ...devices.errors import DeviceError, RefusalReason

__all__ = ["EXPOSING", "FOCUS_MOVING", "REFUSALS", "words_for"]

#: Refused while exposing (V2).
EXPOSING = "Exposure is in progress. Cannot start exposure now!"
#: Refused while the focuser moves: the later front end's words (V2 said
#: "Focuser is in moving! Cannot move!"; nothing reads those).
FOCUS_MOVING = "focus is in moving! Cannot move!"

_GOTOS = ("telescope.goto", "telescope.goto_ha_dec", "telescope.got_az_al")
_CANNOT_PARK = "Telescope cannot park"

REFUSALS: dict[RefusalReason, dict[str, str]] = {
    RefusalReason.NO_DEVICE: {},
    RefusalReason.NOT_CONNECTED: {},
    RefusalReason.CAPABILITY_MISSING: {
        "telescope.park": _CANNOT_PARK,
        "telescope.unpark": _CANNOT_PARK,
        "telescope.set_park": _CANNOT_PARK,
        "telescope.go_home": "This telescope do not support go home!",
        "camera.start_cool_camera": "No Cooler Available!",
        "camera.stop_cool_camera": "No Cooler Available!",
        "camera.start_fan": "No Fan Available",
        "camera.stop_fan": "No Fan Available",
        "camera.start_tc_heat": "No Heater Available",
        "camera.stop_tc_heat": "No Heater Available",
    },
    RefusalReason.PARKED: dict.fromkeys(_GOTOS, "telescope is parked, please unpark first!"),
    RefusalReason.PARKING: dict.fromkeys(_GOTOS, "telescope is parking, please wait!"),
    RefusalReason.MOVING: {
        **dict.fromkeys(_GOTOS, "telescope is moving, please wait!"),
        "focuser": FOCUS_MOVING,
        "filter_wheel.switch_filter": "Filter wheel in rotating!",
    },
    RefusalReason.BUSY: {"camera.start_single_exposure": EXPOSING},
    RefusalReason.UNSAFE: {},
    RefusalReason.BELOW_HORIZON: {},
    RefusalReason.RATE_CONFLICT: {},
    RefusalReason.NOT_TAKEN: {},
    RefusalReason.INVALID_STATE: {},
}


def words_for(exc: BaseException, role: str, function: str) -> str | None:
    """lightAPT's words for a refusal raised by instruction ``function`` of
    ``role`` (a service role name), or None: not a refusal it words."""
    reason = exc.reason if isinstance(exc, DeviceError) else None
    if reason is None:
        return None
    role = "camera" if role == "guider" else role
    words = REFUSALS[reason]
    return words.get(f"{role}.{function}", words.get(role))
