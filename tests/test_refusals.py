"""The device layer's typed refusals, and each front's one table for them.

Every `RefusalReason` must have its entry in the table of every front:
JSON-RPC codes and HTTP statuses (`indiws.web.errors.REFUSALS`), ASCOM
error numbers (`indiws.alpaca.protocol.REFUSALS`) and lightAPT's words
(`indiws.web.lightapt.refusals.REFUSALS`).  A reason added without them
fails here, before any front answers it as an internal error.  (PHD2's
front answers every failure with its one general code: no table.)
"""

from __future__ import annotations

import pytest

from indiws.alpaca import protocol as alpaca
from indiws.devices import (
    BelowHorizonError,
    CapabilityError,
    DeviceBusyError,
    DeviceError,
    DeviceNotConnectedError,
    DeviceStateError,
    NoDeviceError,
    RefusalReason,
    UnsafeError,
)
from indiws.devices.errors import ActionFailed
from indiws.web import errors as web_errors
from indiws.web.lightapt import INSTRUCTIONS
from indiws.web.lightapt import refusals as lightapt

TABLES = {
    "JSON-RPC and HTTP (indiws.web.errors.REFUSALS)": web_errors.REFUSALS,
    "ASCOM Alpaca (indiws.alpaca.protocol.REFUSALS)": alpaca.REFUSALS,
    "lightAPT (indiws.web.lightapt.refusals.REFUSALS)": lightapt.REFUSALS,
}


@pytest.mark.parametrize("front", TABLES)
def test_every_reason_has_an_entry_in_every_fronts_table(front: str) -> None:
    table = TABLES[front]
    missing = [r.value for r in RefusalReason if r not in table]
    assert not missing, f"{front} does not map the refusal reason(s) {missing}"
    assert set(table) == set(RefusalReason)


def _refusal_classes(cls: type[DeviceError]) -> list[type[DeviceError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_refusal_classes(sub))
    return out


def test_each_refusal_class_says_its_reason() -> None:
    reasons = {
        NoDeviceError: RefusalReason.NO_DEVICE,
        DeviceNotConnectedError: RefusalReason.NOT_CONNECTED,
        CapabilityError: RefusalReason.CAPABILITY_MISSING,
        DeviceStateError: RefusalReason.INVALID_STATE,
        DeviceBusyError: RefusalReason.BUSY,
        UnsafeError: RefusalReason.UNSAFE,
        BelowHorizonError: RefusalReason.BELOW_HORIZON,
    }
    for cls, reason in reasons.items():
        assert cls("refused").reason is reason, cls
    # Every state refusal has a reason; the outcomes of an action have none.
    for cls in _refusal_classes(DeviceStateError):
        assert isinstance(cls("refused").reason, RefusalReason), cls
    assert ActionFailed("failed").reason is None
    parked = DeviceStateError("Telescope is parked", reason=RefusalReason.PARKED)
    assert parked.reason is RefusalReason.PARKED
    assert parked.to_dict()["reason"] == "parked"


@pytest.mark.parametrize(
    ("error", "status", "code", "name"),
    [
        (DeviceStateError("parked", reason=RefusalReason.PARKED), 409, -32043, "invalid_state"),
        (DeviceStateError("parking", reason=RefusalReason.PARKING), 409, -32043, "invalid_state"),
        (DeviceBusyError("moving", reason=RefusalReason.MOVING), 409, -32044, "busy"),
        (DeviceBusyError("exposing"), 409, -32044, "busy"),
        (UnsafeError("unsafe"), 409, -32055, "unsafe"),
        (BelowHorizonError("low"), 409, -32059, "below_horizon"),
        (NoDeviceError("none"), 404, -32040, "no_device"),
        (DeviceNotConnectedError("off"), 409, -32041, "not_connected"),
        (CapabilityError("no park"), 409, -32042, "capability_missing"),
        (ActionFailed("alert"), 502, -32046, "action_failed"),  # no reason: by class
    ],
)
def test_json_rpc_and_http_answer_a_refusal_by_its_reason(
    error: DeviceError, status: int, code: int, name: str
) -> None:
    err = web_errors.describe_error(error)
    assert (err.status, err.code, err.name) == (status, code, name)
    if error.reason is not None:
        assert err.data["reason"] == error.reason.value
    assert web_errors.JSONRPC_CODES[name] == code


def test_alpaca_answers_a_refusal_by_its_reason() -> None:
    def number(exc: BaseException) -> int:
        err = alpaca.error_for(exc)
        assert err is not None
        return err.number

    # The text no longer decides: a parked refusal is 0x408 whatever it says.
    assert number(DeviceStateError("at rest", reason=RefusalReason.PARKED)) == (
        alpaca.INVALID_WHILE_PARKED
    )
    assert number(DeviceStateError("the word parked alone")) == alpaca.INVALID_OPERATION
    assert number(DeviceBusyError("moving", reason=RefusalReason.MOVING)) == (
        alpaca.INVALID_OPERATION
    )
    assert number(NoDeviceError("none")) == alpaca.NOT_CONNECTED
    assert number(CapabilityError("no park")) == alpaca.NOT_IMPLEMENTED


def test_lightapts_words_are_the_originals_and_name_real_instructions() -> None:
    parked = DeviceStateError("x", reason=RefusalReason.PARKED)
    moving = DeviceBusyError("x", reason=RefusalReason.MOVING)
    words = lightapt.words_for
    assert words(parked, "telescope", "goto") == "telescope is parked, please unpark first!"
    assert words(moving, "telescope", "got_az_al") == "telescope is moving, please wait!"
    assert words(moving, "focuser", "move_in_small") == "focus is in moving! Cannot move!"
    assert words(moving, "filter_wheel", "switch_filter") == "Filter wheel in rotating!"
    exposing = DeviceBusyError("x")
    assert words(exposing, "guider", "start_single_exposure") == (
        "Exposure is in progress. Cannot start exposure now!"
    )
    assert words(CapabilityError("x"), "telescope", "unpark") == "Telescope cannot park"
    # Not worded: answered as an error with the device's own text.
    assert words(parked, "telescope", "start_track") is None
    assert words(UnsafeError("x"), "telescope", "goto") is None
    assert words(ActionFailed("x"), "telescope", "goto") is None
    # Every key names a role, or an instruction function of that role.
    functions = {
        role: {i.func.__name__ for i in instructions.values()}
        for role, instructions in INSTRUCTIONS.items()
    }
    for reason, table in lightapt.REFUSALS.items():
        for key in table:
            role, _, function = key.partition(".")
            assert role in functions, (reason, key)
            assert not function or function in functions[role], (reason, key)
