"""An exposure's state machine without I/O: update sequences as the CCD
simulator sends them, and the phase, report and reason the machine answers.

The first two sequences were recorded from `indi_simulator_ccd` (INDI
1.9.9, a 512x512 frame, 1.5 s): the times are seconds since the command,
the frame's bytes stand in for its 529,920.  The others are what drivers
also do: the frame after the Ok, an Ok late from before the command, a
driver that never starts, a frame that never comes, Alerts.
"""

from __future__ import annotations

from typing import Any

import pytest

from indiws.devices.base import Update
from indiws.devices.exposure import (
    END_GRACE,
    FRAME_GRACE,
    START_TIMEOUT,
    TRANSITIONS,
    Event,
    ExposureMachine,
    Phase,
)
from indiws.protocol import PropertyState

OK, BUSY, IDLE, ALERT = (
    PropertyState.OK,
    PropertyState.BUSY,
    PropertyState.IDLE,
    PropertyState.ALERT,
)
FRAME = b"SIMPLE  =                    T" + bytes(100)


def exposure(state: PropertyState, left: float) -> Update:
    return Update("updated", "CCD_EXPOSURE", state, {"CCD_EXPOSURE_VALUE": left})


def blob(data: bytes = FRAME, state: PropertyState = OK, fmt: str = ".fits") -> Update:
    return Update("updated", "CCD1", state, {"CCD1": data}, formats={"CCD1": fmt})


#: Recorded: a 1.5 s exposure; the frame comes before the Ok.
RECORDED_FULL: list[tuple[float, Update]] = [
    (0.09, exposure(BUSY, 1.5)),
    (0.69, exposure(BUSY, 0.811)),
    (1.50, exposure(BUSY, 0.0)),
    (1.50, blob()),
    (1.50, exposure(OK, 0.0)),
]
#: Recorded: CCD_ABORT_EXPOSURE sent by another client after the first Busy.
RECORDED_ABORT: list[tuple[float, Update]] = [
    (0.05, exposure(BUSY, 1.5)),
    (0.09, exposure(IDLE, 0.0)),
]


def run(
    machine: ExposureMachine, updates: list[tuple[float, Update | None]]
) -> list[tuple[str, dict[str, Any] | None, str]]:
    """Feed ``updates`` (None: the window passed) after the command went out
    at 0 s; (phase, report, reason) of each, until the frame is in hand or
    the exposure ended."""
    machine.sent(0.0)
    out = []
    for now, update in updates:
        step = machine.expired(now) if update is None else machine.feed(update, now)
        out.append((step.phase.value, step.report, step.reason))
        if machine.ended or machine.phase is Phase.WRITING:
            break
    return out


def test_a_recorded_exposure_reports_its_countdown_and_hands_over_the_frame() -> None:
    machine = ExposureMachine(1.5)
    steps = run(machine, RECORDED_FULL)
    assert [s[0] for s in steps] == ["exposing", "exposing", "exposing", "ending", "writing"]
    assert [s[1]["state"] for s in steps if s[1]] == [
        "exposing",
        "exposing",
        "downloading",  # the countdown at 0: the camera reads out
        "downloaded",
    ]
    assert steps[1][1] == {"state": "exposing", "time_left": 0.811, "duration": 1.5}
    assert steps[3][1]["size"] == len(FRAME)
    assert machine.frame == FRAME and machine.format == ".fits"
    assert machine.stored().phase is Phase.DONE
    assert machine.ended


def test_a_recorded_abort_by_another_client_ends_it_aborted() -> None:
    machine = ExposureMachine(1.5)
    steps = run(machine, RECORDED_ABORT)
    assert steps[-1] == (
        "aborted",
        None,
        "the exposure stopped before it ended (aborted by the driver or another client)",
    )
    assert machine.frame is None


def test_the_frame_after_the_ok_ends_the_download() -> None:
    machine = ExposureMachine(2.0)
    steps = run(
        machine,
        [(0.1, exposure(BUSY, 2.0)), (2.0, exposure(OK, 0.0)), (2.4, blob(fmt=".fits.fz"))],
    )
    assert [s[0] for s in steps] == ["exposing", "downloading", "writing"]
    assert steps[1][1] == {"state": "downloading", "time_left": 0.0, "duration": 2.0}
    assert machine.format == ".fits.fz"


def test_windows_count_from_the_event_that_entered_the_phase() -> None:
    machine = ExposureMachine(30.0)
    machine.sent(0.0)
    assert machine.window(4.0) == START_TIMEOUT - 4.0
    machine.feed(exposure(BUSY, 30.0), 5.0)
    assert machine.window(20.0) is None  # exposing: only the action's own timeout
    machine.feed(exposure(OK, 0.0), 35.0)
    assert machine.window(40.0) == FRAME_GRACE - 5.0
    machine.feed(exposure(OK, 0.0), 40.0)  # the driver said it again: counted anew
    assert machine.window(40.0) == FRAME_GRACE
    machine.feed(blob(), 41.0)
    assert machine.phase is Phase.WRITING and machine.window(41.0) is None


def test_a_slow_ok_after_the_frame_is_not_waited_for_long() -> None:
    machine = ExposureMachine(1.0)
    machine.sent(0.0)
    machine.feed(exposure(BUSY, 1.0), 0.1)
    assert machine.feed(blob(), 1.0).phase is Phase.ENDING
    # Still Busy: reported, and the frame's clock goes on.
    step = machine.feed(exposure(BUSY, 0.0), 1.5)
    assert step.phase is Phase.ENDING and step.report["state"] == "downloading"
    assert machine.window(1.5) == END_GRACE - 0.5
    assert machine.expired(1.0 + END_GRACE).phase is Phase.WRITING  # taken anyway
    assert machine.frame == FRAME


def test_a_late_ok_from_before_the_command_does_not_end_the_exposure() -> None:
    machine = ExposureMachine(120.0)
    steps = run(
        machine,
        [
            (0.01, exposure(OK, 0.0)),  # the last exposure's Ok, late
            (0.1, exposure(BUSY, 120.0)),
            (61.0, exposure(BUSY, 59.0)),  # past FRAME_GRACE: still exposing
            (120.0, exposure(OK, 0.0)),
            (120.5, blob()),
        ],
    )
    assert [s[0] for s in steps] == [
        "downloading",
        "exposing",
        "exposing",
        "downloading",
        "writing",
    ]


@pytest.mark.parametrize(
    ("updates", "phase", "reason"),
    [
        ([(START_TIMEOUT, None)], "failed", "the camera did not start the exposure"),
        ([(0.1, exposure(IDLE, 0.0))], "failed", "the camera did not start the exposure"),
        (
            [(0.1, exposure(BUSY, 1.0)), (1.0, exposure(OK, 0.0)), (1.0 + FRAME_GRACE, None)],
            "failed",
            "the exposure ended but no frame arrived",
        ),
        (
            [(0.1, exposure(BUSY, 1.0)), (0.5, exposure(ALERT, 0.5))],
            "failed",
            "the exposure failed",
        ),
        (
            [(0.1, exposure(BUSY, 1.0)), (1.0, blob(b"", ALERT))],
            "failed",
            "the frame upload failed",
        ),
        (
            [(0.1, exposure(BUSY, 1.0)), (1.0, exposure(OK, 0.0)), (2.0, exposure(IDLE, 0.0))],
            "aborted",
            "the exposure stopped before it ended (aborted by the driver or another client)",
        ),
    ],
    ids=["never_busy", "idle_at_once", "no_frame", "alert", "upload_alert", "idle_downloading"],
)
def test_how_an_exposure_fails(
    updates: list[tuple[float, Update | None]], phase: str, reason: str
) -> None:
    machine = ExposureMachine(1.0)
    steps = run(machine, updates)
    assert steps[-1][0] == phase and steps[-1][2] == reason
    assert machine.ended


def test_other_updates_and_empty_blobs_change_nothing() -> None:
    machine = ExposureMachine(1.0)
    machine.sent(0.0)
    for update in (
        Update("updated", "CCD_TEMPERATURE", BUSY, {"CCD_TEMPERATURE_VALUE": -10.0}),
        Update("defined", "CCD_EXPOSURE", BUSY, {"CCD_EXPOSURE_VALUE": 1.0}),
        blob(b""),
    ):
        step = machine.feed(update, 0.5)
        assert (step.phase, step.event, step.report) == (Phase.STARTING, None, None)
    assert machine.history == [(Phase.SETTING_UP, Event.SENT, Phase.STARTING)]


def test_abort_and_errors_from_outside_end_it_in_any_phase_but_the_last() -> None:
    for phase in TRANSITIONS:
        if phase in (Phase.DONE, Phase.ABORTED, Phase.FAILED):
            continue
        machine = ExposureMachine(1.0)
        machine.phase = phase
        step = machine.stop(Event.ABORT, "expose aborted")
        assert (step.phase, step.reason) == (Phase.ABORTED, "expose aborted")
        machine = ExposureMachine(1.0)
        machine.phase = phase
        assert machine.stop(Event.ERROR, "disk full").phase is Phase.FAILED
    done = ExposureMachine(1.0)
    done.phase = Phase.DONE
    assert done.stop(Event.ABORT, "late").phase is Phase.DONE  # an ended exposure stays ended


def test_the_drivers_own_steps_out_of_order_are_refused() -> None:
    machine = ExposureMachine(1.0)
    with pytest.raises(RuntimeError, match="cannot be stored while setting_up"):
        machine.stored()
    machine.sent(0.0)
    with pytest.raises(RuntimeError, match="cannot be sent while starting"):
        machine.sent(1.0)


def test_every_phase_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(Phase)
    reachable = {Phase.SETTING_UP} | {t for moves in TRANSITIONS.values() for t in moves.values()}
    assert reachable | {Phase.ABORTED, Phase.FAILED} == set(Phase)
