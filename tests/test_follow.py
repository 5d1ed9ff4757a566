"""Following a property to its end, without I/O: sequences of updates as
drivers send them, and what `PropertyFollower` answers to each.

The sequences are those the simulators send (a slew of the telescope
simulator: a late Ok from before the goto, then Busy while it slews, then
Ok; a park it refuses; a focuser stopped by another client; a switch set
the driver answers late), written out by hand as `Update`s.
"""

from __future__ import annotations

from typing import Any

import pytest

from indiws.devices.base import Update
from indiws.devices.follow import Outcome, PropertyFollower
from indiws.protocol import PropertyState, SwitchState

OK, BUSY, IDLE, ALERT = (
    PropertyState.OK,
    PropertyState.BUSY,
    PropertyState.IDLE,
    PropertyState.ALERT,
)
ON, OFF = SwitchState.ON, SwitchState.OFF


def up(name: str, state: PropertyState, **values: Any) -> Update:
    return Update("updated", name, state, values)


def run(follower: PropertyFollower, updates: list[Update]) -> list[tuple[str, str]]:
    """(outcome, reason) for each update, until the first that ends."""
    out = []
    for update in updates:
        step = follower.feed(update, 0.0)
        out.append((step.outcome.value, step.reason))
        if step.outcome is not Outcome.WAIT:
            break
    return out


def slew(target: float = 5.0) -> PropertyFollower:
    return PropertyFollower(
        "EQUATORIAL_EOD_COORD",
        done=lambda u, started: abs(u["RA"] - target) < 0.01 or (started and u.state is OK),
        start_within=10.0,
        failed="goto failed",
        stopped=lambda u: f"goto: stopped at {u['RA']:g}",
        not_started="goto: the mount did not start the slew",
    )


def test_a_slew_waits_past_a_late_update_and_ends_on_ok() -> None:
    follower = slew()
    steps = run(
        follower,
        [
            up("EQUATORIAL_EOD_COORD", OK, RA=1.0),  # sent before the driver took the goto
            up("TELESCOPE_TRACK_STATE", OK, TRACK_ON=ON),  # another property
            up("EQUATORIAL_EOD_COORD", BUSY, RA=2.0),
            up("EQUATORIAL_EOD_COORD", BUSY, RA=4.0),
            up("EQUATORIAL_EOD_COORD", OK, RA=4.999),
            up("EQUATORIAL_EOD_COORD", OK, RA=5.0),  # never fed: it had ended
        ],
    )
    assert [s[0] for s in steps] == ["wait", "wait", "wait", "wait", "done"]
    assert follower.started


def test_progress_is_flagged_on_busy_updates_of_the_property_only() -> None:
    follower = slew()
    other = follower.feed(up("TELESCOPE_PARK", BUSY, PARK=ON))
    assert (other.outcome, other.tracked, other.busy) == (Outcome.WAIT, False, False)
    assert not follower.started
    busy = follower.feed(up("EQUATORIAL_EOD_COORD", BUSY, RA=2.0))
    assert (busy.outcome, busy.tracked, busy.busy) == (Outcome.WAIT, True, True)
    deleted = follower.feed(Update("deleted", "EQUATORIAL_EOD_COORD"))
    assert (deleted.outcome, deleted.tracked) == (Outcome.WAIT, False)


def test_alert_fails_with_the_reason() -> None:
    steps = run(
        slew(),
        [up("EQUATORIAL_EOD_COORD", BUSY, RA=2.0), up("EQUATORIAL_EOD_COORD", ALERT, RA=2.1)],
    )
    assert steps[-1] == ("failed", "goto failed")


def test_a_motion_that_settles_short_after_it_started_was_stopped() -> None:
    focuser = PropertyFollower(
        "ABS_FOCUS_POSITION",
        done=lambda u, started: u["POS"] == 3000,
        stopped=lambda u: f"stopped at {u['POS']}, before 3000",
    )
    steps = run(
        focuser,
        [
            up("ABS_FOCUS_POSITION", IDLE, POS=1000),  # before the command: wait on
            up("ABS_FOCUS_POSITION", BUSY, POS=1500),
            up("ABS_FOCUS_POSITION", IDLE, POS=2000),  # aborted by another client
        ],
    )
    assert steps == [("wait", ""), ("wait", ""), ("stopped", "stopped at 2000, before 3000")]


def test_a_switch_the_driver_refuses_at_once_fails() -> None:
    park = PropertyFollower(
        "TELESCOPE_PARK",
        done=lambda u, _: u["PARK"] is ON,
        before_start="fail",
        refused="park: the driver did not take the command",
    )
    steps = run(park, [up("TELESCOPE_PARK", OK, PARK=OFF, UNPARK=ON)])
    assert steps == [("failed", "park: the driver did not take the command")]


def test_the_start_window_then_nothing() -> None:
    follower = slew()
    assert follower.window(0.0) == 10.0
    assert follower.window(4.0) == 6.0
    assert follower.window(12.0) == 0.0
    step = follower.expired()
    assert (step.outcome, step.reason) == (
        Outcome.TIMED_OUT,
        "goto: the mount did not start the slew",
    )
    # Once the motion runs, the wait is the action's own deadline.
    follower.feed(up("EQUATORIAL_EOD_COORD", BUSY, RA=2.0))
    assert follower.window(12.0) is None


def test_a_driver_that_answers_nothing_when_already_there() -> None:
    there = PropertyFollower("DOME_SHUTTER", start_within=10.0, already=lambda: True)
    assert there.expired().outcome is Outcome.DONE
    elsewhere = PropertyFollower("DOME_SHUTTER", start_within=10.0, already=lambda: False)
    assert elsewhere.expired().outcome is Outcome.TIMED_OUT


def test_a_late_answer_gets_a_grace_period_then_the_matching_one_ends_it() -> None:
    track = PropertyFollower(
        "TELESCOPE_TRACK_STATE",
        done=lambda u, _: u["TRACK_ON"] is ON,
        before_start=1.0,
        after_start=1.0,
        refused="did not apply TELESCOPE_TRACK_STATE",
    )
    assert track.window(0.0) is None
    assert track.feed(up("TELESCOPE_TRACK_STATE", OK, TRACK_ON=OFF), 0.2).outcome is Outcome.WAIT
    # The grace started at the mismatch, not at each update.
    assert track.window(0.5) == pytest.approx(0.7)
    assert track.feed(up("TELESCOPE_TRACK_STATE", OK, TRACK_ON=OFF), 0.6).outcome is Outcome.WAIT
    assert track.window(0.6) == pytest.approx(0.6)
    assert track.feed(up("TELESCOPE_TRACK_STATE", OK, TRACK_ON=ON), 0.9).outcome is Outcome.DONE


def test_no_matching_answer_within_the_grace_period_is_a_refusal() -> None:
    track = PropertyFollower(
        "TELESCOPE_TRACK_STATE",
        done=lambda u, _: u["TRACK_ON"] is ON,
        before_start=1.0,
        refused="did not apply TELESCOPE_TRACK_STATE",
    )
    track.feed(up("TELESCOPE_TRACK_STATE", OK, TRACK_ON=OFF), 0.0)
    step = track.expired()
    assert (step.outcome, step.reason) == (Outcome.FAILED, "did not apply TELESCOPE_TRACK_STATE")


def test_accept_busy_takes_a_busy_answer_as_the_end() -> None:
    cooler = PropertyFollower(
        "CCD_TEMPERATURE",
        done=lambda u, _: abs(u["T"] - -10.0) <= 0.5,
        accept_busy=True,
        after_start="wait",
    )
    steps = run(
        cooler,
        [
            up("CCD_TEMPERATURE", BUSY, T=15.0),
            up("CCD_TEMPERATURE", BUSY, T=0.0),
            up("CCD_TEMPERATURE", BUSY, T=-9.8),
        ],
    )
    assert [s[0] for s in steps] == ["wait", "wait", "done"]
    assert not cooler.started  # Busy is no start for it: it is its normal state


def test_a_home_that_answers_ok_before_any_busy_was_home_already() -> None:
    def home() -> PropertyFollower:
        return PropertyFollower(
            "TELESCOPE_HOME",
            done=lambda u, started: u.state is OK or not started,
            stopped="home stopped before it ended",
        )

    assert run(home(), [up("TELESCOPE_HOME", IDLE, GO=OFF)]) == [("done", "")]
    assert run(home(), [up("TELESCOPE_HOME", BUSY, GO=ON), up("TELESCOPE_HOME", OK, GO=OFF)])[
        -1
    ] == ("done", "")
    assert run(home(), [up("TELESCOPE_HOME", BUSY, GO=ON), up("TELESCOPE_HOME", IDLE, GO=OFF)])[
        -1
    ] == ("stopped", "home stopped before it ended")
