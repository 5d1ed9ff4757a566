"""Follow a property to its end: the one "wait until Busy ends" of the verbs.

A verb sends a command (a goto, a filter slot, a park switch) and then
watches one property until the driver says how the command ended.  The
rules are the same everywhere, with a few knobs:

- Alert: the command failed.
- Busy: the motion runs (the verb may report progress); with
  ``accept_busy`` Busy is an answer like Ok (properties that stay Busy while
  active: a cooler, tracking).
- Ok or Idle (*settled*) and ``done(update, started)``: the end we waited for.
- Settled but not done: before the motion was seen to start (Busy), most
  often an update sent before the driver took the command (``before_start``
  says what it means: wait on, fail, or give the driver ``grace`` seconds to
  send a matching one); after it started, the driver stopped short
  (``after_start``: ``stop`` is `ActionAborted`).
- No update within ``start_within`` seconds of the command while nothing
  started: the driver did not take it, unless ``already()`` says the device
  is where it was asked to be (a driver that answers nothing when there is
  nothing to do).

`PropertyFollower` holds those rules without I/O: fed updates (and told when
its window passed), it answers a `Step` (wait, done, failed, stopped, timed
out).  `follow` is the one asyncio driver, on an `Action`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..protocol import PropertyState

__all__ = ["Outcome", "PropertyFollower", "Step", "follow"]


class Update(Protocol):
    """What the follower reads of `base.Update` (base imports this module)."""

    kind: str
    name: str | None
    state: PropertyState | None

    def __getitem__(self, element: str) -> Any: ...


class Action(Protocol):
    """What `follow` uses of `base.Action`."""

    @property
    def elapsed(self) -> float: ...

    async def next(self, within: float | None = None) -> Any: ...

    def fail(self, text: str) -> Exception: ...

    def stopped(self, text: str) -> Exception: ...


#: What a settled update that is not the end means: wait on, fail, stop
#: (the driver ended the motion short), or seconds of grace for a matching one.
Mismatch = Literal["wait", "fail", "stop"] | float


class Outcome(enum.Enum):
    WAIT = "wait"  # keep waiting for the next update
    DONE = "done"  # the command ended as asked
    FAILED = "failed"  # the driver refused or failed (Alert, or no matching answer)
    STOPPED = "stopped"  # the motion ended before it was done
    TIMED_OUT = "timed_out"  # the driver did not take the command in time


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    reason: str = ""
    #: The update counted (it was of the followed property).
    tracked: bool = True
    #: The update says the motion runs (Busy).
    busy: bool = False


_WAIT = Step(Outcome.WAIT)
_OTHER = Step(Outcome.WAIT, tracked=False)
_BUSY = Step(Outcome.WAIT, busy=True)


def _settled(update: Update, started: bool) -> bool:
    return True


class PropertyFollower:
    """The rules of following one property after a command (see the module).

    ``name``: the property followed (None: every update fed counts).
    The reasons given for each end: ``failed`` (Alert), ``refused`` (a
    settled answer that is not the end, where that fails), ``stopped`` (may
    be a function of the last update), ``not_started``.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        done: Callable[[Update, bool], bool] = _settled,
        accept_busy: bool = False,
        before_start: Mismatch = "wait",
        after_start: Mismatch = "stop",
        start_within: float | None = None,
        already: Callable[[], bool] | None = None,
        failed: str = "failed",
        stopped: str | Callable[[Update], str] = "stopped before it ended",
        not_started: str = "the driver did not take the command",
        refused: str = "the driver did not apply it",
    ) -> None:
        self.name = name
        self._done = done
        self._accept_busy = accept_busy
        self._before = before_start
        self._after = after_start
        self._start_within = start_within
        self._already = already
        self._failed = failed
        self._stopped = stopped
        self._not_started = not_started
        self._refused = refused
        #: The driver was seen working on the command (Busy).
        self.started = False
        self._grace_until: float | None = None

    def window(self, elapsed: float) -> float | None:
        """Seconds to wait for the next update, ``elapsed`` seconds after the
        command (None: as long as the action allows)."""
        ends = []
        if self._grace_until is not None:
            ends.append(self._grace_until)
        if self._start_within is not None and not self.started:
            ends.append(self._start_within)
        return max(0.0, min(ends) - elapsed) if ends else None

    def feed(self, update: Update, elapsed: float = 0.0) -> Step:
        """What ``update`` (one of the action's watched changes) means."""
        if update.kind != "updated":
            return _OTHER
        if self.name is not None and update.name != self.name:
            return _OTHER
        state = update.state
        if state is PropertyState.ALERT:
            return Step(Outcome.FAILED, self._failed)
        if state is PropertyState.BUSY and not self._accept_busy:
            self.started = True
            return _BUSY
        if self._done(update, self.started):
            return Step(Outcome.DONE, busy=state is PropertyState.BUSY)
        mismatch = self._after if self.started else self._before
        if mismatch == "wait":
            return _WAIT
        if mismatch == "fail":
            return Step(Outcome.FAILED, self._refused)
        if mismatch == "stop":
            stopped = self._stopped
            return Step(Outcome.STOPPED, stopped(update) if callable(stopped) else stopped)
        if self._grace_until is None:  # a late answer from before, or a refusal
            self._grace_until = elapsed + float(mismatch)
        return _WAIT

    def expired(self) -> Step:
        """The `window` passed without an update."""
        if self._grace_until is not None:
            return Step(Outcome.FAILED, self._refused)
        if self._already is not None and self._already():
            return Step(Outcome.DONE)
        return Step(Outcome.TIMED_OUT, self._not_started)


async def follow(
    act: Action,
    follower: PropertyFollower,
    on_update: Callable[[Update, Step], None] | None = None,
) -> Update | None:
    """Wait on ``act``'s watched changes as ``follower`` says; return the
    update that ended the command (None when it ended without one: the
    device was already there).  ``on_update`` sees every updated property
    with its step first (to report progress, keep values).  Failures raise
    `ActionFailed`, a motion stopped short `ActionAborted`; the action's own
    deadline raises `ActionTimeout` as always."""
    while True:
        update = await act.next(follower.window(act.elapsed))
        if update is None:
            step = follower.expired()
        else:
            step = follower.feed(update, act.elapsed)
            if on_update is not None and update.kind == "updated":
                on_update(update, step)
        outcome = step.outcome
        if outcome is Outcome.WAIT:
            continue
        if outcome is Outcome.DONE:
            return update
        if outcome is Outcome.STOPPED:
            raise act.stopped(step.reason)
        raise act.fail(step.reason)  # FAILED, TIMED_OUT
