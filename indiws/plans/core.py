"""The plan's state machine and its journal records, without I/O.

A plan moves through the states of `TRANSITIONS` (h11's way: a table
tested on its own).  What the engine journals is built here too: the view
of a plan the APIs answer with, a finished frame's record, an event.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..remote.plan import Frame, Plan
from ..verbs import Described, Result

__all__ = [
    "ACTIVE",
    "STATES",
    "TERMINAL",
    "TRANSITIONS",
    "InvalidTransition",
    "PlanRecord",
    "new_plan_id",
    "next_state",
    "now_text",
]

STATES = ("queued", "waiting", "running", "paused", "completed", "failed", "aborted")
#: States a plan never leaves.
TERMINAL = frozenset({"completed", "failed", "aborted"})
#: States of the plan that holds the engine (after a restart it goes on by itself).
ACTIVE = frozenset({"waiting", "running"})

#: (state, what happens) -> the next state.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("queued", "start"): "running",
    ("queued", "pause"): "paused",
    ("queued", "abort"): "aborted",
    ("running", "wait"): "waiting",
    ("running", "pause"): "paused",
    ("running", "abort"): "aborted",
    ("running", "finish"): "completed",
    ("running", "fail"): "failed",
    ("running", "start"): "running",  # resumed after a restart of the service
    ("waiting", "go"): "running",
    ("waiting", "wait"): "waiting",
    ("waiting", "pause"): "paused",
    ("waiting", "abort"): "aborted",
    ("waiting", "fail"): "failed",
    ("waiting", "finish"): "completed",
    ("waiting", "start"): "running",  # resumed after a restart of the service
    ("paused", "resume"): "running",
    ("paused", "requeue"): "queued",
    ("paused", "abort"): "aborted",
    ("paused", "fail"): "failed",
}


class InvalidTransition(ValueError):
    """What was asked cannot happen in the plan's state (e.g. resume a completed plan)."""

    def __init__(self, state: str, event: str) -> None:
        self.state, self.event = state, event
        super().__init__(f"the plan is {state}: it cannot {event}")


def next_state(state: str, event: str) -> str:
    """The state after ``event``; `InvalidTransition` when it cannot happen now."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def new_plan_id() -> str:
    return "p" + secrets.token_hex(5)


def now_text(when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PlanSummary(Result):
    """A plan's summary (`PlanRecord.summary`): what ``plans.list`` lists."""

    id: str
    name: str
    #: queued, running, waiting, paused, completed, failed, aborted, ...
    state: str
    message: str | None
    created: str
    frames_total: int
    frames_done: int
    frames_failed: int
    current: Described(
        dict[str, Any] | None,
        "the frame running now (a frame key: number, name, target, filter, exposure,"
        " frame_type, binning, index) and what it does (state, reason, ...); null between frames",
    )
    eta: str | None


class FrameKey(Result):
    """A frame as the plan asks for it (`frame_key`)."""

    number: int
    name: str
    target: str
    filter: str | None
    exposure: float
    frame_type: str
    binning: int
    index: int


class PlanEvent(Result, forbid_unknown_fields=False):
    """One entry of a plan's journal; an event may add its own fields
    (``reason``, ``frame``, ...) beside these."""

    time: str
    #: plan_started, frame_done, waiting, paused, plan_aborted, ...
    type: str
    message: str


class PlanView(PlanSummary):
    """One plan (`PlanRecord.view`): the summary, its frames, its journal."""

    frames: list[
        Described(
            dict[str, Any],
            "a finished frame's record: its frame key, status (ok or failed), its file"
            " (absolute path on the service's host) and what the camera answered",
        )
    ]
    missing: list[FrameKey]
    unjournalled_files: list[str]
    events: list[PlanEvent]


@dataclass(slots=True)
class PlanRecord:
    """One plan as the engine keeps it (the database holds the same)."""

    id: str
    name: str
    source: str
    plan: Plan
    frames: list[Frame]
    state: str = "queued"
    seq: int = 0
    created: str = ""
    message: str | None = None
    #: What a run needs to go on after a restart (e.g. the focuser's base position).
    context: dict[str, Any] = field(default_factory=dict)
    #: Finished frames by number: their records (status ok or failed).
    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Frame number running now and what it does (None between frames).
    current: dict[str, Any] | None = None
    eta: str | None = None

    def todo(self) -> list[Frame]:
        """Frames not finished yet (an interrupted one included)."""
        return [f for f in self.frames if f.number not in self.done]

    def missing(self) -> list[Frame]:
        """Frames without a good file: never taken, failed, or skipped."""
        return [f for f in self.frames if (self.done.get(f.number) or {}).get("status") != "ok"]

    def summary(self) -> dict[str, Any]:
        ok = sum(1 for r in self.done.values() if r.get("status") == "ok")
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "message": self.message,
            "created": self.created,
            "frames_total": len(self.frames),
            "frames_done": ok,
            "frames_failed": sum(1 for r in self.done.values() if r.get("status") != "ok"),
            "current": self.current,
            "eta": self.eta,
        }

    def view(self, events: int = 200) -> dict[str, Any]:
        """What GET /api/v1/plans/{id} answers."""
        frames = []
        for f in self.frames:
            rec = self.done.get(f.number)
            if rec is not None:
                frames.append(rec)
        return {
            **self.summary(),
            "frames": frames,
            "missing": [frame_key(f) for f in self.missing() if f.number in self.done],
            # Stored just before the service died, not journalled: not counted.
            "unjournalled_files": list(self.context.get("unjournalled", [])),
            "events": self.events[-events:],
        }


def frame_key(frame: Frame) -> dict[str, Any]:
    """A frame as the plan asks for it (before it is taken)."""
    exp = frame.exposure
    return {
        "number": frame.number,
        "name": frame.file,
        "target": frame.target.name,
        "filter": exp.filter,
        "exposure": exp.duration,
        "frame_type": exp.frame_type,
        "binning": exp.binning,
        "index": frame.index,
    }
