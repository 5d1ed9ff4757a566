r"""An exposure's life as a state machine, without I/O.

An exposure follows two properties at once: CCD_EXPOSURE (Busy while it
counts down, then Ok, or Idle when stopped, or Alert) and the CCD1 BLOB
that carries the frame, which drivers send before or after the Ok.
`PropertyFollower` follows one property to its end, so the exposure has its
own machine, in the same shape: fed events (property updates, the frame,
its timers running out, the service's own errors), it answers a `Step`
(the phase it is in now, a progress report to send, why it ended), and one
asyncio driver (`Camera`'s) does the I/O.

The whole flow is `TRANSITIONS` below, with `ANY_PHASE` for the events that
end an exposure wherever it is.  In short::

    setting_up -sent-> starting -busy-> exposing -ok-> downloading -frame-> writing -stored-> done
                          |                |  \--frame-> ending -ok/idle/timer-> writing
                          |                \--idle-> aborted
                          \--idle/timer-> failed

- ``setting_up``: free space checked, the journal told, settings applied,
  delivery asked for; nothing sent yet.  A refusal (disk full) is ``error``.
- ``starting``: CCD_EXPOSURE sent; the driver must show Busy (or end, or
  send the frame) within `START_TIMEOUT` seconds.
- ``exposing``: Busy, counting down.  Idle now: stopped by the driver or
  another client (``aborted``).
- ``downloading``: the exposure ended (Ok); the frame must follow within
  `FRAME_GRACE` seconds.  Busy again: the Ok was a late one from before, or
  another exposure started: exposing again.
- ``ending``: the frame is here first; CCD_EXPOSURE has `END_GRACE` seconds
  to leave Busy, after which the frame is taken anyway.
- ``writing``: the frame is in hand: analysed and stored (``stored``), or
  the store fails (``error``).  A capture (a frame not stored) ends here.
- Anywhere before the end: CCD_EXPOSURE or CCD1 Alert fails it, and so does
  ``error`` (a refusal, the action's timeout, a lost connection, a write
  error); ``abort`` (an abort, a newer exposure replacing it, a cancelled
  caller) ends it aborted.

The phases' clocks are seconds given by the driver (``now``: since the
action started); a phase's window is counted from the event that entered it
(a repeated Ok or frame starts it again, a countdown update does not).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol import PropertyState

__all__ = [
    "ANY_PHASE",
    "END_GRACE",
    "FRAME_GRACE",
    "REASONS",
    "START_TIMEOUT",
    "TRANSITIONS",
    "WINDOWS",
    "Event",
    "ExposureMachine",
    "Phase",
    "Step",
]

#: The driver must show it started an exposure within this many seconds.
START_TIMEOUT = 10.0
#: After the exposure ended, the frame must arrive within this many seconds.
FRAME_GRACE = 60.0
#: After the frame arrived, CCD_EXPOSURE must leave Busy within this many seconds.
END_GRACE = 5.0


class Phase(enum.Enum):
    SETTING_UP = "setting_up"
    STARTING = "starting"
    EXPOSING = "exposing"
    DOWNLOADING = "downloading"
    ENDING = "ending"
    WRITING = "writing"
    DONE = "done"
    ABORTED = "aborted"
    FAILED = "failed"


class Event(enum.Enum):
    SENT = "sent"  # CCD_EXPOSURE went to the driver
    BUSY = "busy"  # CCD_EXPOSURE Busy (time left)
    OK = "ok"  # CCD_EXPOSURE Ok: the exposure ended
    IDLE = "idle"  # CCD_EXPOSURE Idle: stopped, or never started
    ALERT = "alert"  # CCD_EXPOSURE Alert
    FRAME = "frame"  # CCD1 with a frame
    UPLOAD_ALERT = "upload_alert"  # CCD1 Alert
    TIMER = "timer"  # the phase's window passed
    STORED = "stored"  # the frame is stored
    ERROR = "error"  # disk full, timeout, connection lost, write error, ...
    ABORT = "abort"  # aborted, replaced by a newer exposure, cancelled


P, E = Phase, Event

#: phase → event → next phase.  An event a phase does not list leaves it as it is.
TRANSITIONS: dict[Phase, dict[Event, Phase]] = {
    P.SETTING_UP: {E.SENT: P.STARTING},
    P.STARTING: {
        E.BUSY: P.EXPOSING,
        E.OK: P.DOWNLOADING,
        E.FRAME: P.ENDING,
        E.IDLE: P.FAILED,
        E.TIMER: P.FAILED,
    },
    P.EXPOSING: {E.BUSY: P.EXPOSING, E.OK: P.DOWNLOADING, E.FRAME: P.ENDING, E.IDLE: P.ABORTED},
    P.DOWNLOADING: {
        E.BUSY: P.EXPOSING,
        E.OK: P.DOWNLOADING,
        E.FRAME: P.WRITING,
        E.IDLE: P.ABORTED,
        E.TIMER: P.FAILED,
    },
    P.ENDING: {
        E.BUSY: P.ENDING,
        E.FRAME: P.ENDING,
        E.OK: P.WRITING,
        E.IDLE: P.WRITING,
        E.TIMER: P.WRITING,
    },
    P.WRITING: {E.STORED: P.DONE},
    P.DONE: {},
    P.ABORTED: {},
    P.FAILED: {},
}
#: Events that end an exposure in every phase before its end.
ANY_PHASE: dict[Event, Phase] = {
    E.ALERT: P.FAILED,
    E.UPLOAD_ALERT: P.FAILED,
    E.ERROR: P.FAILED,
    E.ABORT: P.ABORTED,
}
#: Seconds a phase may last without news (the others: the action's timeout).
WINDOWS: dict[Phase, float] = {
    P.STARTING: START_TIMEOUT,
    P.DOWNLOADING: FRAME_GRACE,
    P.ENDING: END_GRACE,
}
#: Why an exposure failed or was aborted, by (phase, event) or by event.
REASONS: dict[tuple[Phase, Event] | Event, str] = {
    (P.STARTING, E.IDLE): "the camera did not start the exposure",
    (P.STARTING, E.TIMER): "the camera did not start the exposure",
    E.IDLE: "the exposure stopped before it ended (aborted by the driver or another client)",
    (P.DOWNLOADING, E.TIMER): "the exposure ended but no frame arrived",
    E.ALERT: "the exposure failed",
    E.UPLOAD_ALERT: "the frame upload failed",
}
#: The phases an exposure ends in.
FINAL = frozenset({P.DONE, P.ABORTED, P.FAILED})


class Update(Protocol):
    """What the machine reads of `base.Update`."""

    kind: str
    name: str | None
    state: PropertyState | None
    formats: dict[str, str | None] | None

    def __getitem__(self, element: str) -> Any: ...


@dataclass(frozen=True)
class Step:
    """The machine's answer to one event."""

    phase: Phase
    #: The event fed (None: the update was not one of the exposure's).
    event: Event | None = None
    #: A progress report to send (``state``, ``time_left``, ``duration``, ...).
    report: dict[str, Any] | None = None
    #: Why it failed or was aborted.
    reason: str = ""


class ExposureMachine:
    """One exposure of ``duration`` seconds (see the module)."""

    def __init__(
        self,
        duration: float,
        *,
        windows: dict[Phase, float] | None = None,
    ) -> None:
        self.duration = duration
        self.windows = WINDOWS if windows is None else windows
        self.phase = Phase.SETTING_UP
        #: The frame and its format, once it arrived.
        self.frame: bytes | None = None
        self.format = ".fits"
        #: Seconds left of the exposure, from the last countdown update.
        self.time_left: float | None = None
        #: (phase, event, next phase) of every transition, in order.
        self.history: list[tuple[Phase, Event, Phase]] = []
        self._since = 0.0

    @property
    def ended(self) -> bool:
        return self.phase in FINAL

    # Events ---------------------------------------------------------------

    def fire(self, event: Event, now: float = 0.0, reason: str = "") -> Step:
        """Take ``event`` at ``now`` seconds: the phase it leads to."""
        phase = self.phase
        target = TRANSITIONS[phase].get(event)
        if target is None and phase not in FINAL:
            target = ANY_PHASE.get(event)
        if target is None:
            if event in (E.SENT, E.STORED):  # the driver's own steps, out of order
                raise RuntimeError(f"an exposure cannot be {event.value} while {phase.value}")
            return Step(phase, event)
        if target is not phase or event is not E.BUSY:
            self._since = now
        self.phase = target
        self.history.append((phase, event, target))
        if target in (P.FAILED, P.ABORTED) and not reason:
            reason = REASONS.get((phase, event)) or REASONS.get(event, "")
        return Step(target, event, self._report(event, target), reason)

    def sent(self, now: float) -> Step:
        """CCD_EXPOSURE was sent to the driver."""
        return self.fire(E.SENT, now)

    def feed(self, update: Update, now: float) -> Step:
        """An update of the watched properties (CCD_EXPOSURE, CCD1)."""
        event = self._event_of(update)
        if event is None:
            return Step(self.phase)
        return self.fire(event, now)

    def window(self, now: float) -> float | None:
        """Seconds to wait for the next update (None: as long as the action allows)."""
        limit = self.windows.get(self.phase)
        return None if limit is None else max(0.0, limit - (now - self._since))

    def expired(self, now: float) -> Step:
        """The `window` passed without an update."""
        return self.fire(E.TIMER, now)

    def stored(self) -> Step:
        """The frame is stored: the exposure is done."""
        return self.fire(E.STORED)

    def stop(self, event: Event, reason: str) -> Step:
        """End it from outside: `Event.ABORT` or `Event.ERROR`, for ``reason``."""
        return self.fire(event, self._since, reason)

    # Reading updates ------------------------------------------------------

    def _event_of(self, update: Update) -> Event | None:
        if update.kind != "updated":
            return None
        state = update.state
        if update.name == "CCD1":
            if state is PropertyState.ALERT:
                return E.UPLOAD_ALERT
            data = update["CCD1"]
            if not isinstance(data, bytes) or not data:
                return None
            self.frame = data
            self.format = (update.formats or {}).get("CCD1") or ".fits"
            return E.FRAME
        if update.name != "CCD_EXPOSURE":
            return None
        if state is PropertyState.BUSY:
            self.time_left = max(0.0, float(update["CCD_EXPOSURE_VALUE"] or 0.0))
            return E.BUSY
        return {PropertyState.OK: E.OK, PropertyState.ALERT: E.ALERT}.get(state, E.IDLE)  # type: ignore[arg-type]

    def _report(self, event: Event, target: Phase) -> dict[str, Any] | None:
        """The progress report of a transition (None: nothing to tell)."""
        state: dict[str, Any] | None = None
        if event is E.BUSY:
            left = self.time_left or 0.0
            state = {"state": "exposing" if left > 0 else "downloading", "time_left": left}
        elif event is E.OK and target is P.DOWNLOADING:
            state = {"state": "downloading", "time_left": 0.0}
        elif event is E.FRAME:
            state = {"state": "downloaded", "time_left": 0.0, "size": len(self.frame or b"")}
        return None if state is None else {**state, "duration": self.duration}
