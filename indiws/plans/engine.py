"""The service's plan engine: plans queued, run one at a time, journalled.

`PlanEngine` (owned by `indiws.service.Service`, like the safety policy)
keeps the queue, and runs the plan at its head with `PlanRun`, which calls
the device verbs of `indiws.devices` in-process (they apply the safety
policy).  Everything a restart needs is in the state database: the plan as
submitted, its state, each finished frame and its events.  After a crash
or a restart the plan that was running goes on by itself: a finished frame
is never taken again, an interrupted one is.

Nothing is assumed about the devices between frames: before each frame
the engine reads what the devices report (mount on the target and
tracking, the filter in the light path, the focuser's position, no
exposure left running) and puts right what is not; after the exposure it
checks what the camera recorded of the devices during the exposure (the
frame's FILTER, RA/DEC) against the plan.  A frame whose facts do not
match is not counted.  The header is written by the frame store from what
the devices reported (`Camera.expose`); the plan adds only its own cards.

A lost indiserver or device is waited for with backoff, with the reason
in the plan's state and events, at most the plan's ``on_failure.wait``;
such a wait costs no retry of the frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..client import INDIClient, NotConnectedError, UnknownDeviceError
from ..db import StateDB
from ..devices import (
    Camera,
    DeviceBusyError,
    DeviceNotConnectedError,
    FilterWheel,
    Focuser,
    NoDeviceError,
    Telescope,
    astro,
    min_altitude,
)
from ..guiding.control import SettleRule
from ..protocol import PropertyState
from ..remote.plan import (
    Frame,
    Guiding,
    Plan,
    PlanError,
    Problem,
    Target,
    frames,
    indiserver_unreachable,
    parse_plan,
)
from ..roles import RoleManager
from . import sky
from .core import (
    ACTIVE,
    TERMINAL,
    InvalidTransition,
    PlanRecord,
    frame_key,
    new_plan_id,
    next_state,
    now_text,
)
from .notify import EVENTS as NOTIFIED
from .notify import Notifier

__all__ = ["GuidingHooks", "PlanEngine", "PlanNotFound", "PlanQueueFull", "PlanRun"]

log = logging.getLogger("indiws.plans")

#: A mount further than this from where a frame is to be taken slews again (arcsec).
POINTING_TOLERANCE = 60.0
#: A frame whose recorded pointing is further than this from the aim is not counted (arcsec).
FRAME_POINTING_TOLERANCE = 120.0
#: Longest wait for the mount's reported position to settle on the target (s).
SETTLE_TIMEOUT = 20.0
#: A mount that has reported the same place off the target for this long
#: (s), not slewing, has stopped there: the frame's retry slews again at
#: once instead of waiting out SETTLE_TIMEOUT (the telescope simulator ends
#: long slews a few arcminutes off and stays there).
SETTLE_AT_REST = 3.0
#: "The same place" for SETTLE_AT_REST (arcsec).
AT_REST_TOLERANCE = 5.0
#: Hours west of the target a flip slews to first when a goto alone did not flip.
FLIP_DETOUR = 0.25
#: Longest text of a plan accepted (bytes).
MAX_PLAN_BYTES = 256 * 1024
#: Plans kept (finished ones beyond this are forgotten from memory, oldest first).
MAX_PLANS = 200
#: Plans queued, waiting, running or paused at most: a new one beyond is refused.
MAX_WAITING = 100
#: Events kept in memory per plan (all are in the database).
MAX_EVENTS = 1000
#: Backoff while the indiserver or a device is lost (seconds).
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
#: Cards the plan's metadata may not set: the devices report them.
DEVICE_CARDS = frozenset(
    {
        "FILTER",
        "RA",
        "DEC",
        "OBJCTRA",
        "OBJCTDEC",
        "EQUINOX",
        "PIERSIDE",
        "EXPTIME",
        "DATE-OBS",
        "IMAGETYP",
        "XBINNING",
        "YBINNING",
        "CCD-TEMP",
        "FOCPOS",
        "SITELAT",
        "SITELONG",
        "SITEELEV",
        "FRAMEID",
        "SIMPLE",
        "BITPIX",
        "NAXIS",
        "NAXIS1",
        "NAXIS2",
        "BZERO",
        "BSCALE",
        "END",
    }
)
#: Rough seconds per frame beyond its exposure (download, analysis, filter).
FRAME_OVERHEAD = 3.0
LOST_ERRORS = (NoDeviceError, DeviceNotConnectedError, NotConnectedError, UnknownDeviceError)


class PlanQueueFull(Exception):
    """Too many plans wait already (`MAX_WAITING`)."""


class PlanNotFound(LookupError):
    def __init__(self, plan_id: str) -> None:
        self.plan_id = plan_id
        super().__init__(f"no plan {plan_id!r}")


class GaveUp(Exception):
    """The plan cannot go on (a device lost for longer than on_failure.wait)."""


class TargetLost(Exception):
    """The target cannot be taken now (below its altitude, or after the plan's end)."""


class FrameMismatch(Exception):
    """What the devices recorded during the exposure is not what the plan asked."""


class GuidingHooks:
    """The one seam between the engine and the autoguider.

    With a target's ``guiding:`` set and the service's guider
    (`indiws.guiding.GuidingEngine`): guiding starts after the slew and
    centering and must settle before a light frame starts; it is stopped
    before a slew, a flip or autofocus and started again after (a new star
    there; the kept calibration, flipped by the pier side, is reused); a
    dither moves the guider's lock position and waits for its settle.
    Without (no ``guiding:``, or no guider): a dither is a small goto of the
    mount around the target, and settling is a wait."""

    def __init__(
        self,
        mount_dither: Callable[[float, bool], Awaitable[None]] | None = None,
        guider: Any = None,
        pixel_scale: float = 1.0,
        note: Callable[[str, str], None] | None = None,
    ) -> None:
        self._mount_dither = mount_dither
        self.guider = guider
        #: Arcseconds per pixel of the frames that dithers are measured on.
        self.pixel_scale = pixel_scale
        #: The target's ``guiding:`` (None: not guided).
        self.settings: Guiding | None = None
        self._note = note or (lambda kind, message: None)
        self._restart = False
        #: Guiding was started by the plan (and is stopped at its end).
        self._started = False

    @property
    def active(self) -> bool:
        return self.guider is not None and self.settings is not None

    def _rule(self) -> SettleRule:
        g = self.settings or Guiding()
        return SettleRule(g.settle_pixels, g.settle_time, g.settle_timeout)

    async def pause(self) -> None:
        """Before a slew, flip or autofocus: guiding stops (its star will be gone)."""
        if self.guider is not None and self.guider.capturing:
            self._restart = self.active
            self._note("guiding", "guiding stopped for the move")
            await self.guider.stop_capture()

    async def resume(self) -> None:
        """After the move: guiding starts again where it was wanted."""
        if self._restart:
            self._restart = False
            await self.guide()

    async def guide(self) -> None:
        """Guiding and settled (calibrating first when there is no
        calibration); GuidingError when it cannot: the frame is not started."""
        if not self.active:
            return
        if self.guider.state == "Guiding" and not self.guider.settling:
            return
        rule = self._rule()
        self._note("guiding", f"guiding: settling within {rule.pixels:g} px for {rule.time:g} s")
        self._started = True
        settled = await self.guider.guide(rule)
        # A calibration first can take minutes: the settle's own timeout follows it.
        await self.guider.wait_settled(settled, timeout=rule.timeout + 900.0)
        self._note("guiding", "guiding settled")

    async def stop(self) -> None:
        """The plan's end: guiding it started stops."""
        self._restart = False
        if self.guider is not None and self.guider.capturing and self._started:
            await self.guider.stop_capture()

    async def dither(self, arcsec: float, ra_only: bool = False, settle: float = 0.0) -> bool:
        """Move the frame by up to ``arcsec``; True once settled."""
        if self.active and self.guider.state in ("Guiding", "LostLock"):
            g = self.settings or Guiding()
            scale = self.guider.pixel_scale() or 1.0
            pixels = g.dither_pixels if g.dither_pixels is not None else arcsec / scale
            settled = await self.guider.dither(pixels, ra_only or g.ra_only, self._rule())
            result = await asyncio.wait_for(asyncio.shield(settled), g.settle_timeout + 60.0)
            return not result.get("Status")
        if self._mount_dither is None:
            return False
        await self._mount_dither(arcsec * self.pixel_scale, ra_only)
        if settle:
            await asyncio.sleep(settle)
        return True


Listener = Callable[[str, dict[str, Any]], None]


class PlanEngine:
    """The queue of plans and the one that runs; see the module's doc."""

    def __init__(
        self,
        client: INDIClient,
        roles: RoleManager,
        db: StateDB,
        store: Any,
        *,
        notify_urls: Sequence[str] = (),
        index_dir: Path | None = None,
        guider: Callable[[], Any] | None = None,
    ) -> None:
        self.client = client
        self.roles = roles
        self.db = db
        self.store = store
        self.index_dir = index_dir
        self.notifier = Notifier(notify_urls)
        #: The autoguider, when the service has one (``service.guiding``): asked
        #: for at each run, so that one added later is used.
        self.guider = guider or (lambda: None)
        self.plans: dict[str, PlanRecord] = {}
        self.current: PlanRun | None = None
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.stopping = False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Read the plans journalled before, then run the queue (the plan
        that was running goes on first)."""
        for row in self.db.plans():
            try:
                plan = parse_plan(str(row["source"]), str(row["name"]))
            except PlanError as exc:  # a plan this version no longer accepts
                log.error("plan %s cannot be read again: %s", row["id"], exc)
                continue
            rec = PlanRecord(
                id=str(row["id"]),
                name=str(row["name"]),
                source=str(row["source"]),
                plan=plan,
                frames=frames(plan),
                state=str(row["state"]),
                seq=int(row["seq"]),  # type: ignore[call-overload]
                created=str(row["created_at"]),
                message=row["message"],  # type: ignore[arg-type]
                context=json.loads(str(row["context"]) or "{}"),
            )
            for number, _status, record in self.db.plan_frames(rec.id):
                rec.done[number] = json.loads(record)
            for when, kind, message, data in self.db.plan_events(rec.id, MAX_EVENTS):
                rec.events.append(
                    {"time": when, "type": kind, "message": message, **json.loads(data)}
                )
            self.plans[rec.id] = rec
        self._forget_old()
        self.notifier.start()
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="plan-engine")

    async def stop(self) -> None:
        """Stop running (the running plan stays running in the journal: the
        next start goes on with it)."""
        self.stopping = True
        if self.current is not None and self.current.task is not None:
            self.current.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.current.task
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.notifier.stop()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(method, params)`` for each ``plan.*`` notification."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, method: str, params: dict[str, Any]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(method, params)
            except Exception:  # one listener must not stop the night
                log.exception("plan listener failed")

    # ------------------------------------------------------------ the API

    def submit(self, text: str, name: str | None = None) -> dict[str, Any]:
        """Check and queue a plan; `PlanError` (every problem with its line)."""
        if len(text.encode("utf-8", "replace")) > MAX_PLAN_BYTES:
            raise PlanError([Problem("", 0, f"the plan is over {MAX_PLAN_BYTES} bytes")], "plan")
        waiting = sum(1 for p in self.plans.values() if p.state not in TERMINAL)
        if waiting >= MAX_WAITING:
            raise PlanQueueFull(
                f"{waiting} plans are queued or running already: abort some, or wait"
            )
        source = _plan_name(name)
        plan = parse_plan(text, source)
        self._check(plan)
        rec = PlanRecord(
            id=new_plan_id(),
            name=source,
            source=text,
            plan=plan,
            frames=frames(plan),
            created=now_text(),
        )
        self.db.add_plan(rec.id, rec.name, text, rec.state, "{}")
        rec.seq = max((p.seq for p in self.plans.values()), default=0) + 1
        self.plans[rec.id] = rec
        self._forget_old()
        self.event(rec, "queued", f"plan {rec.name} queued: {len(rec.frames)} frames")
        self._wake.set()
        return rec.summary()

    def _check(self, plan: Plan) -> None:
        """What can be checked against the service before anything moves."""
        problems: list[Problem] = []
        assigned = self.roles.assignments()

        def need(role: str, why: str, path: str = "", line: int = 0) -> None:
            if not assigned.get(role):
                problems.append(
                    Problem(path, line, f"the service has no {role} ({why}): assign a device to it")
                )

        need("camera", "every frame needs one")
        sky_target = next((t for t in plan.targets if t.needs_sky and t.ra is not None), None)
        if sky_target is not None:
            need(
                "telescope",
                "light frames are taken on their target",
                sky_target.path,
                sky_target.line,
            )
        elif plan.park:
            need("telescope", "the plan parks the mount at the end", "park")
        if plan.filter_lines:
            need("filter_wheel", "the plan names filters")
            wheel = assigned.get("filter_wheel")
            if wheel and wheel in self.client.devices:
                try:
                    known = FilterWheel(self.client, wheel).filters()
                except Exception:  # not connected yet: checked when it is
                    known = []
                if known:
                    names = {str(f["name"]).casefold() for f in known}
                    listed = ", ".join(str(f["name"]) for f in known)
                    for fname, uses in plan.filter_lines.items():
                        slot = fname.isdigit() and 1 <= int(fname) <= len(known)
                        if fname.casefold() not in names and not slot:
                            for path, line in uses:
                                problems.append(
                                    Problem(
                                        path,
                                        line,
                                        f"the filter wheel has no filter {fname!r}"
                                        f" (it has: {listed})",
                                    )
                                )
        if plan.focuser_offsets or any(t.autofocus for t in plan.targets):
            need("focuser", "the plan moves the focuser")
        if any(t.center for t in plan.targets if t.needs_sky):
            need("telescope", "the plan centres its targets")
        if problems and not self.client.connected:
            # Likely the cause: without indiserver no device can be chosen.
            problems.insert(0, Problem("", 0, indiserver_unreachable(self.client.link_status())))
        if problems:
            raise PlanError(problems, plan.source)

    def get(self, plan_id: str) -> PlanRecord:
        rec = self.plans.get(plan_id)
        if rec is None:
            raise PlanNotFound(plan_id)
        return rec

    def list(self) -> list[dict[str, Any]]:
        return [p.summary() for p in sorted(self.plans.values(), key=lambda p: p.seq)]

    def pause(self, plan_id: str) -> dict[str, Any]:
        """A queued plan is held; the running one pauses before its next frame."""
        rec = self.get(plan_id)
        run = self.current
        if run is not None and run.rec is rec:
            next_state(rec.state, "pause")  # InvalidTransition when it cannot
            run.pause_requested = True
            run.resumed.clear()
            self.event(rec, "pause_requested", "the plan pauses before its next frame")
        else:
            self.set_state(rec, "pause", "paused by request")
            self.event(rec, "paused", "paused by request")
        return rec.summary()

    def resume(self, plan_id: str) -> dict[str, Any]:
        rec = self.get(plan_id)
        run = self.current
        if run is not None and run.rec is rec:
            if not run.pause_requested and rec.state != "paused":
                raise InvalidTransition(rec.state, "resume")
            run.pause_requested = False
            run.resumed.set()
        else:
            if rec.state != "paused":
                raise InvalidTransition(rec.state, "resume")
            self.set_state(rec, "requeue", "queued again")
            self.event(rec, "resumed", "resumed: queued again")
            self._wake.set()
        return rec.summary()

    def abort(self, plan_id: str) -> dict[str, Any]:
        rec = self.get(plan_id)
        run = self.current
        if run is not None and run.rec is rec and run.task is not None:
            next_state(rec.state, "abort")
            run.abort_requested = True
            run.task.cancel()
        else:
            self.set_state(rec, "abort", "aborted by request")
            self.event(rec, "plan_aborted", "aborted by request")
        return rec.summary()

    # ------------------------------------------------------------ journal

    def set_state(self, rec: PlanRecord, what: str, message: str | None = None) -> None:
        state = next_state(rec.state, what)
        rec.state, rec.message = state, message
        self.db.set_plan_state(rec.id, state, message, json.dumps(rec.context))
        self.publish("plan.state", {"plan_id": rec.id, "state": state, "message": message})

    def event(self, rec: PlanRecord, kind: str, message: str, **data: Any) -> None:
        entry = {"time": now_text(), "type": kind, "message": message, **data}
        rec.events.append(entry)
        del rec.events[:-MAX_EVENTS]
        try:
            self.db.add_plan_event(rec.id, entry["time"], kind, message, json.dumps(data))
        except Exception as exc:  # the night goes on without its journal line
            log.error("plan %s: event not journalled: %s", rec.id, exc)
        log.info("plan %s: %s", rec.name, message)
        self.publish("plan.event", {"plan_id": rec.id, **entry})
        if kind in NOTIFIED:
            self.notifier.send(
                {"event": kind, "plan_id": rec.id, "plan": rec.name, "state": rec.state, **entry},
                rec.plan.notify,
            )

    def _forget_old(self) -> None:
        finished = sorted(
            (p for p in self.plans.values() if p.state in TERMINAL), key=lambda p: p.seq
        )
        for rec in finished[: max(0, len(self.plans) - MAX_PLANS)]:
            del self.plans[rec.id]

    # ------------------------------------------------------------ the queue

    def _next(self) -> PlanRecord | None:
        ordered = sorted(self.plans.values(), key=lambda p: p.seq)
        for rec in ordered:
            if rec.state in ACTIVE:
                return rec
        for rec in ordered:
            if rec.state == "queued":
                return rec
        return None

    async def _work(self) -> None:
        while True:
            rec = self._next()
            if rec is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            run = PlanRun(self, rec)
            self.current = run
            run.task = asyncio.get_running_loop().create_task(run.run(), name=f"plan-{rec.id}")
            try:
                await asyncio.shield(run.task)
            except asyncio.CancelledError:
                if self.stopping:
                    raise
            except Exception:
                log.exception("plan %s ended with an error", rec.id)
            finally:
                if not self.stopping:
                    self.current = None
            if not self.stopping and (rec.state in ACTIVE or rec.state == "queued"):
                # A run that ended without saying how must not start again at once.
                with contextlib.suppress(InvalidTransition):
                    self.set_state(rec, "fail", "the plan's run ended unexpectedly")


def _plan_name(name: str | None) -> str:
    text = (name or "plan").strip()
    text = "".join(ch if ch.isprintable() else "?" for ch in text)[:80]
    return text or "plan"


class PlanRun:
    """One plan run by the engine, from where its journal left off."""

    def __init__(self, engine: PlanEngine, rec: PlanRecord) -> None:
        self.engine = engine
        self.rec = rec
        self.plan = rec.plan
        self.client = engine.client
        self.task: asyncio.Task[None] | None = None
        self.pause_requested = False
        self.abort_requested = False
        self.resumed = asyncio.Event()
        self.resumed.set()
        self._filter: str | None = None
        self._lights_since_dither = 0
        self._lights_since_focus = 0
        self._af_due: str | None = None
        self._af_filter: str | None = None
        #: Where the target's frames are taken: the target, or where the mount
        #: pointed once centred (a camera off the mount's axis); dithers around it.
        self._base: tuple[float, float] | None = None
        self._aim: tuple[float, float] | None = None  # the base plus the last dither
        self._centered: str | None = None  # the target centred since its last slew
        self._site_checked = False
        self._lost_since: float | None = None  # monotonic start of the outage
        self.guiding = GuidingHooks(self._mount_dither, guider=engine.guider(), note=self.event)

    # ------------------------------------------------------------ helpers

    def event(self, kind: str, message: str, **data: Any) -> None:
        self.engine.event(self.rec, kind, message, **data)

    def state(self, what: str, message: str | None = None) -> None:
        if self.rec.state == next_state(self.rec.state, what) and self.rec.message == message:
            return
        self.engine.set_state(self.rec, what, message)

    def device(self, role: str) -> Any:
        name = self.engine.roles.device_for(role)
        if role == "camera":
            return Camera(
                self.client,
                name,
                store=self.engine.store,
                filter_wheel=self.engine.roles.device_for("filter_wheel"),
                telescope=self.engine.roles.device_for("telescope"),
                focuser=self.engine.roles.device_for("focuser"),
                guiding=None if self.guiding.guider is None else self.guiding.guider.frame_stats,
            )
        return {"telescope": Telescope, "filter_wheel": FilterWheel, "focuser": Focuser}[role](
            self.client, name
        )

    def _roles_for(self, frame: Frame | None) -> list[str]:
        roles = ["camera"]
        if frame is not None:
            if frame.exposure.frame_type == "light" and frame.target.ra is not None:
                roles.append("telescope")
            if frame.exposure.filter:
                roles.append("filter_wheel")
        if self.plan.focuser_offsets:
            roles.append("focuser")
        return roles

    def lost_reason(self, roles: Sequence[str]) -> str | None:
        """Why the devices ``roles`` need cannot be used now (None: they can)."""
        if not self.client.connected:
            return indiserver_unreachable(self.client.link_status())
        for role in roles:
            name = self.engine.roles.device_for(role)
            if not name:
                return f"no device holds the {role} role"
            dev = self.client.devices.get(name)
            if dev is None:
                return f"{name} ({role}) is gone from the indiserver (driver restarting?)"
            if not dev.connected:
                return f"{name} ({role}) is not connected"
        return None

    async def wait_back(self, reason: str, roles: Sequence[str]) -> None:
        """Wait with backoff until ``roles`` can be used again; `GaveUp` past on_failure.wait."""
        limit = self.plan.on_failure.wait
        since = datetime.now(UTC)
        # One outage for on_failure.wait, however often the devices flicker back:
        # only a frame taken ends it.
        if self._lost_since is None:
            self._lost_since = time.monotonic()
        deadline = self._lost_since + limit
        left = max(0.0, deadline - time.monotonic())
        until = (since + timedelta(seconds=left)).strftime("%H:%M:%S")
        self.event("service_lost", f"waiting: {reason} (gives up at {until} UTC)", reason=reason)
        self.state("wait", f"waiting: {reason} (since {since:%H:%M:%S} UTC)")
        n = 0
        while True:
            await self.checkpoint()
            now_reason = self.lost_reason(roles)
            if now_reason is None:
                break
            if time.monotonic() > deadline:
                raise GaveUp(f"{now_reason} for more than {limit:g} s (on_failure.wait)")
            await asyncio.sleep(BACKOFF[min(n, len(BACKOFF) - 1)])
            n += 1
        # The mirror fills in after a device reappears: let its definitions arrive.
        await asyncio.sleep(1.0)
        self._filter = None
        self._centered = None
        self._site_checked = False
        self.event(
            "service_back", f"back after {reason}: checking the devices before the next frame"
        )
        self.state("go" if self.rec.state == "waiting" else "start", None)

    def camera_busy(self) -> str | None:
        """Why the camera cannot take a frame of the plan now: another
        client's exposure runs on it (None: it is free)."""
        if not self.engine.roles.device_for("camera"):
            return None
        act = self.device("camera").channel_action("exposure")
        if act is None:
            return None
        return (
            f"{act.device} is busy with another client's {act.verb}"
            f" (started {act.elapsed:.0f} s ago)"
        )

    async def wait_camera(self, frame: Frame, reason: str) -> None:
        """Wait until the camera is free (a camera busy with another client's
        exposure answers ``busy``); `GaveUp` past on_failure.wait."""
        limit = self.plan.on_failure.wait
        since = datetime.now(UTC)
        deadline = time.monotonic() + limit
        self.rec.current = {**frame_key(frame), "state": "waiting_camera", "reason": reason}
        self.engine.publish("plan.progress", {"plan_id": self.rec.id, **self.rec.current})
        self.event("waiting", f"{frame.file}: waiting for the camera: {reason}", reason=reason)
        self.state("wait", f"waiting for the camera: {reason} (since {since:%H:%M:%S} UTC)")
        while True:
            await self.checkpoint()
            now_reason = self.camera_busy()
            if now_reason is None:
                break
            if time.monotonic() > deadline:
                raise GaveUp(f"{now_reason} for more than {limit:g} s (on_failure.wait)")
            await asyncio.sleep(0.5)
        self.event("note", f"the camera is free: taking {frame.file}")
        self.state("go" if self.rec.state == "waiting" else "start", None)

    async def guarded(self, roles: Sequence[str], call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``, waiting for lost devices first and again after a failure they caused."""
        while True:
            reason = self.lost_reason(roles)
            if reason is not None:
                await self.wait_back(reason, roles)
                continue
            try:
                return await call()
            except (GaveUp, TargetLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                reason = await self._lost_after(exc, roles)
                if reason is None:
                    raise
                await self.wait_back(reason, roles)

    async def _lost_after(self, exc: BaseException, roles: Sequence[str]) -> str | None:
        """After a failure: was it a lost device?  (Its deletion may reach the mirror late.)"""
        await asyncio.sleep(0.5)
        reason = self.lost_reason(roles)
        if reason is None and isinstance(exc, LOST_ERRORS):
            reason = str(exc)
        return reason

    async def checkpoint(self) -> None:
        """Where a pause takes effect."""
        if not self.pause_requested:
            return
        self.engine.set_state(self.rec, "pause", "paused by request")
        self.event("paused", "paused by request")
        await self.resumed.wait()
        self.engine.set_state(self.rec, "resume", None)
        self.event("resumed", "resumed")
        self._centered = None

    async def wait_until(self, when: datetime, reason: str) -> None:
        """Wait for ``when`` with the reason in the plan's state."""
        self.state("wait", f"waiting: {reason}")
        self.event("waiting", f"waiting: {reason}", until=now_text(when))
        while True:
            await self.checkpoint()
            left = (when - datetime.now(UTC)).total_seconds()
            if left <= 0:
                break
            await asyncio.sleep(min(left, 5.0))
        self.state("go" if self.rec.state == "waiting" else "start", None)

    def site(self) -> tuple[float, float] | None:
        """(latitude, east longitude) of the plan, else of the mount."""
        if self.plan.site is not None:
            return self.plan.site.latitude, self.plan.site.longitude
        name = self.engine.roles.device_for("telescope")
        if name and name in self.client.devices:
            s = Telescope(self.client, name)._site()
            if s is not None:
                return s[0], s[1]
        return None

    def _eta(self) -> None:
        todo = self.rec.todo()
        seconds = sum(f.exposure.duration + FRAME_OVERHEAD for f in todo)
        self.rec.eta = now_text(datetime.now(UTC) + timedelta(seconds=seconds))

    # ------------------------------------------------------------ the run

    async def run(self) -> None:
        rec = self.rec
        try:
            restarted = rec.state in ACTIVE
            self.engine.set_state(rec, "start", None)
            if restarted:
                self.event(
                    "plan_resumed",
                    f"plan {rec.name} goes on after a restart of the service:"
                    f" {len(rec.todo())} of {len(rec.frames)} frames left",
                )
                self._note_unjournalled()
            elif "started" not in rec.context:
                rec.context["started"] = now_text()
                self.event("plan_started", f"plan {rec.name} started: {len(rec.frames)} frames")
            else:
                self.event(
                    "plan_resumed", f"plan {rec.name} resumed: {len(rec.todo())} frames left"
                )
            self._eta()
            await self._setup()
            for target in self.plan.targets:
                todo = [f for f in rec.todo() if f.target is target]
                if todo:
                    await self._target(target, todo)
            await self.guiding.stop()
            if self.plan.park and any(f.exposure.frame_type == "light" for f in rec.frames):
                await self._park()
            rec.current = None
            missing = rec.missing()
            if missing:
                text = f"plan ended with {len(missing)} of {len(rec.frames)} frames missing"
                self.engine.set_state(rec, "fail", text)
                self.event("plan_failed", text, missing=[frame_key(f) for f in missing])
            else:
                text = f"plan done: {len(rec.frames)} frames taken"
                self.engine.set_state(rec, "finish", text)
                self.event("plan_finished", text)
        except GaveUp as exc:
            rec.current = None
            self.engine.set_state(rec, "fail", f"the plan stopped: {exc}")
            self.event("plan_failed", f"the plan stopped: {exc}")
        except asyncio.CancelledError:
            rec.current = None
            if self.abort_requested:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.guiding.stop())
                self.engine.set_state(rec, "abort", "aborted by request")
                self.event("plan_aborted", "aborted by request: the running action was stopped")
            raise
        except Exception as exc:  # a bug: the plan fails visibly, the service goes on
            log.exception("plan %s failed", rec.id)
            rec.current = None
            with contextlib.suppress(InvalidTransition):
                self.engine.set_state(rec, "fail", f"the plan stopped: {exc}")
            self.event("plan_failed", f"the plan stopped: {type(exc).__name__}: {exc}")

    def _note_unjournalled(self) -> None:
        """Frames of this plan the store holds but the journal does not (stored
        in the instant before the service died): kept, listed, not counted."""
        rec = self.rec
        known = set(rec.context.get("unjournalled", []))
        for record in rec.done.values():
            known.add(record.get("file"))
            known.update(record.get("rejected_files", []))
        try:
            infos = self.engine.store.list(2000)
        except Exception as exc:  # the journal stays right; only the listing is lost
            log.warning("plan %s: the frame store could not be listed: %s", rec.id, exc)
            return
        stray = [
            str(i.path or i.id)
            for i in infos
            if i.metadata.get("plan_id") == rec.id and str(i.path or i.id) not in known
        ]
        if stray:
            rec.context.setdefault("unjournalled", []).extend(stray)
            self.engine.db.set_plan_state(rec.id, rec.state, rec.message, json.dumps(rec.context))
            self.event(
                "note",
                f"{len(stray)} frame(s) of this plan stored just before the service stopped"
                " were not journalled: kept in the frame store, not counted (taken again)",
                files=stray,
            )

    async def _setup(self) -> None:
        cam = self.plan.camera
        if cam.temperature is not None:
            self.event("cooling", f"camera to {cam.temperature:g} °C")

            async def cool() -> None:
                await self.device("camera").set_temperature(
                    cam.temperature,
                    wait=cam.wait_cooling,
                    tolerance=cam.tolerance,
                    timeout=cam.cooling_timeout if cam.wait_cooling else None,
                )

            try:
                await self.guarded(["camera"], cool)
            except (GaveUp, asyncio.CancelledError):
                raise
            except Exception as exc:  # frames at another temperature beat no frames
                self.event("note", f"cooling did not get there ({exc}); going on")
        if self.plan.start is not None and self.plan.start > datetime.now(UTC):
            await self.wait_until(
                self.plan.start, f"the plan's start at {self.plan.start:%H:%M} UTC"
            )
        if self.plan.focuser_offsets and "focus_base" not in self.rec.context:

            async def base() -> None:
                pos = self.device("focuser").position()
                self.rec.context["focus_base"] = pos.get("position")

            await self.guarded(["focuser"], base)

    def _too_late(self) -> bool:
        return self.plan.end is not None and datetime.now(UTC) >= self.plan.end

    def _skip(self, target: Target, todo: list[Frame], why: str) -> None:
        for f in todo:
            record = {**frame_key(f), "status": "skipped", "error": why, "time": now_text()}
            self.rec.done[f.number] = record
            self.engine.db.add_plan_frame(self.rec.id, f.number, "skipped", json.dumps(record))
        self.event(
            "target_skipped",
            f"{target.name} skipped: {why} ({len(todo)} frames)",
            target=target.name,
            reason=why,
        )

    def _lowest(self, target: Target) -> float:
        """The lowest altitude of the target's light frames: its own
        min_altitude, never below the site's (--min-altitude; the horizon
        without one): a goto lower would be refused."""
        site_min = min_altitude(self.client)
        floor = 0.0 if site_min is None else site_min
        return max(floor, target.min_altitude if target.min_altitude is not None else floor)

    def _constraint(self, target: Target) -> Callable[[datetime], bool] | None:
        """When the target's light frames may be taken (None: any time)."""
        site = self.site()
        if site is None or target.ra is None or target.dec is None:
            return None
        lat, lon = site
        min_alt = self._lowest(target)
        sun_max = self.plan.sun_max_altitude
        ra, dec = target.ra, target.dec

        def ok(when: datetime) -> bool:
            if sky.altitude(ra, dec, lat, lon, when) < min_alt:
                return False
            return sun_max is None or sky.sun_altitude(lat, lon, when) <= sun_max

        return ok

    def _why_not(self, target: Target, when: datetime) -> str:
        site = self.site()
        assert site is not None and target.ra is not None and target.dec is not None
        parts = []
        min_alt = self._lowest(target)
        alt = sky.altitude(target.ra, target.dec, site[0], site[1], when)
        if alt < min_alt:
            parts.append(f"{target.name} at {alt:.1f}°, below {min_alt:g}°")
        sun_max = self.plan.sun_max_altitude
        if sun_max is not None:
            sun = sky.sun_altitude(site[0], site[1], when)
            if sun > sun_max:
                parts.append(f"the Sun at {sun:.1f}°, above {sun_max:g}°")
        return " and ".join(parts) or "constraints"

    async def _target(self, target: Target, todo: list[Frame]) -> None:
        if target.start is not None and target.start > datetime.now(UTC):
            await self.wait_until(
                target.start, f"{target.name}'s start at {target.start:%H:%M} UTC"
            )
        sky_target = target.needs_sky and target.ra is not None
        if sky_target:
            if not await self._wait_for_sky(target, todo):
                return
        self.event("target", f"target {target.name}: {len(todo)} frames", target=target.name)
        self._lights_since_dither = 0
        self.guiding.settings = target.guiding if sky_target else None
        self._centered = None
        self._aim = (target.ra, target.dec) if sky_target else None  # type: ignore[assignment]
        self._base = self._aim
        at_start = target.autofocus is not None and target.autofocus.at_start
        self._af_due = "the target's start" if at_start else None
        for n, frame in enumerate(todo):
            try:
                await self._frame(frame)
            except TargetLost as exc:
                self._skip(target, todo[n:], str(exc))
                return

    async def _wait_for_sky(self, target: Target, todo: list[Frame]) -> bool:
        ok = self._constraint(target)
        if ok is None:
            if target.min_altitude is not None or self.plan.sun_max_altitude is not None:
                self.event("note", f"no site known: {target.name}'s altitude cannot be checked")
            return True
        now = datetime.now(UTC)
        within = timedelta(hours=24)
        if self.plan.end is not None:
            within = max(timedelta(0), self.plan.end - now)
        when = await asyncio.to_thread(sky.first_time, ok, now, within=within)
        if when is None:
            why = self._why_not(target, now)
            horizon = "before the plan's end" if self.plan.end is not None else "within 24 h"
            self._skip(target, todo, f"it cannot be taken {horizon} ({why})")
            return False
        if when > now:
            await self.wait_until(
                when, f"{target.name}: {self._why_not(target, now)}; possible at {when:%H:%M} UTC"
            )
        return True

    async def _park(self) -> None:
        self.event("parking", "parking the mount")

        async def park() -> None:
            await self.guiding.pause()
            await self.device("telescope").park()

        try:
            await self.guarded(["telescope"], park)
            self.event("parked", "the mount is parked")
        except (GaveUp, asyncio.CancelledError):
            raise
        except Exception as exc:
            self.event("park_failed", f"parking the mount failed: {exc}")

    # ------------------------------------------------------------ a frame

    async def _frame(self, frame: Frame) -> None:
        exp, target = frame.exposure, frame.target
        light = exp.frame_type == "light" and target.ra is not None
        if light and target.dither is not None:
            if self._lights_since_dither >= target.dither.every:
                self._dither_due = True
                self._lights_since_dither = 0
            self._lights_since_dither += 1
        attempts = 0
        retakes = 0
        rejected: list[str] = []
        error = ""
        roles = self._roles_for(frame)
        while True:
            await self.checkpoint()
            if self._too_late():
                raise TargetLost(f"the plan's end {self.plan.end:%H:%M} UTC has passed")
            reason = self.lost_reason(roles)
            if reason is not None:
                await self.wait_back(reason, roles)
                continue
            busy = self.camera_busy()
            if busy is not None:
                await self.wait_camera(frame, busy)
                continue
            self.rec.current = {**frame_key(frame), "state": "preparing", "attempt": attempts + 1}
            try:
                await self._ensure(frame)
                result = await self._expose(frame, attempts + 1)
                try:
                    self._verify(frame, result)
                except FrameMismatch as exc:
                    path = result.get("path") or result.get("blob_id")
                    raise FrameMismatch(str(exc), path) from None
            except (GaveUp, TargetLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                if isinstance(exc, DeviceBusyError) and self.camera_busy() is not None:
                    continue  # another client began exposing meanwhile: wait, no try lost
                if isinstance(exc, FrameMismatch) and exc.args[1:]:
                    rejected.append(str(exc.args[1]))  # the take is kept, not counted
                reason = await self._lost_after(exc, roles)
                if reason is not None:
                    self.event(
                        "frame_interrupted",
                        f"{frame.file}: interrupted ({exc}); taken again when"
                        f" {reason.split(' (')[0]} is back",
                        number=frame.number,
                    )
                    await self.wait_back(reason, roles)
                    continue
                attempts += 1
                error = (
                    f"the frame does not match the plan: {exc.args[0]}"
                    if isinstance(exc, FrameMismatch)
                    else str(exc)
                )
                last = attempts > self.plan.retries
                self.event(
                    "frame_retry" if not last else "frame_failed",
                    f"{frame.file}: try {attempts} failed: {error}"
                    + ("" if not last else "; no try left: recorded as failed"),
                    number=frame.number,
                )
                if last:
                    self._record(frame, "failed", attempts=attempts, error=error, rejected=rejected)
                    return
                await asyncio.sleep(min(30.0, 2.0**attempts))  # not every try in one second
                continue
            quality = target.quality if light else None
            why = quality.reject(result.get("analysis")) if quality is not None else None
            if why is not None and quality is not None:
                rejected.append(str(result.get("path") or result.get("blob_id")))
                retakes += 1
                last = retakes > quality.retakes
                self.event(
                    "frame_rejected",
                    f"{frame.file} rejected ({why})"
                    + ("; no retake left" if last else ": taken again"),
                    number=frame.number,
                    file=result.get("path"),
                )
                if last:
                    self._record(
                        frame,
                        "failed",
                        attempts=attempts + 1,
                        error=f"rejected: {why}",
                        rejected=rejected,
                    )
                    self.event(
                        "frame_failed",
                        f"{frame.file}: rejected {retakes} times",
                        number=frame.number,
                    )
                    return
                continue
            self._record(frame, "ok", attempts=attempts + 1, result=result, rejected=rejected)
            if light:
                self._lights_since_focus += 1
            return

    _dither_due = False

    def _record(
        self,
        frame: Frame,
        status: str,
        *,
        attempts: int,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        rejected: list[str] | None = None,
    ) -> None:
        record: dict[str, Any] = {**frame_key(frame), "status": status, "attempts": attempts}
        record["planned_filter"] = record.pop("filter")
        if result is not None:
            analysis = result.get("analysis") or {}
            record.update(
                file=result.get("path"),
                blob_id=result.get("blob_id"),
                filter=result.get("filter"),
                started=result.get("started"),
                ended=now_text(),
                ra=result.get("ra"),
                dec=result.get("dec"),
                pier_side=result.get("pier_side"),
                focuser_position=result.get("focuser_position"),
                temperature=result.get("temperature"),
                analysis={
                    k: analysis[k]
                    for k in ("stars", "hfr", "fwhm", "eccentricity")
                    if isinstance(analysis, dict) and analysis.get(k) is not None
                },
            )
        else:
            record["filter"] = None
        if error:
            record["error"] = error
        if rejected:
            record["rejected_files"] = rejected
        record["time"] = now_text()
        self.rec.done[frame.number] = record
        self.engine.db.add_plan_frame(self.rec.id, frame.number, status, json.dumps(record))
        self.rec.current = None
        self._eta()
        if status == "ok":
            self._lost_since = None
            left = len(self.rec.todo())
            self.event(
                "frame",
                f"[{frame.number}/{len(self.rec.frames)}] {frame.file} saved as {record['file']}"
                f" ({left} left)",
                number=frame.number,
                file=record["file"],
                blob_id=record.get("blob_id"),
            )

    # ------------------------------------------------------------ before a frame

    async def _ensure(self, frame: Frame) -> None:
        """Put the devices where the frame needs them, from what they report now."""
        exp, target = frame.exposure, frame.target
        camera = self.device("camera")
        exposing = camera._optional("CCD_EXPOSURE")
        if exposing is not None and exposing.state is PropertyState.BUSY:
            self.event(
                "note",
                "an exposure is running at the camera (left by an interrupted run): aborting it",
            )
            await camera.abort()
        if exp.frame_type == "light" and target.ra is not None and target.dec is not None:
            await self._ensure_mount(frame)
        if exp.filter:
            await self._ensure_filter(exp.filter)
        await self._ensure_focus(exp.filter)
        if exp.frame_type == "light" and target.ra is not None:
            await self._maybe_autofocus(frame)
            # Guided: a light frame starts only once the guider has settled.
            await self.guiding.guide()
            if self._dither_due and target.dither is not None:
                self._dither_due = False
                self.event("dither", f"dithering up to {target.dither.offset:g} arcsec")
                settled = await self.guiding.dither(
                    target.dither.offset / self.guiding.pixel_scale, False, target.dither.settle
                )
                if not settled:
                    self.event("note", "the dither did not settle")

    async def _ensure_mount(self, frame: Frame) -> None:
        target = frame.target
        scope: Telescope = self.device("telescope")
        if not self._site_checked:
            self._site_checked = True
            site = self.plan.site
            here = scope._site()
            if site is not None and (
                here is None
                or abs(here[0] - site.latitude) > 0.01
                or abs(((here[1] - site.longitude + 180) % 360) - 180) > 0.01
            ):
                self.event("site", f"the mount's site set to {site.latitude:g}, {site.longitude:g}")
                await scope.set_site(
                    latitude=site.latitude, longitude=site.longitude, elevation=site.elevation
                )
        # Never towards a target below its limit (or the horizon).
        ok = self._constraint(target)
        if ok is not None and not ok(datetime.now(UTC)):
            raise TargetLost(f"{self._why_not(target, datetime.now(UTC))}: it cannot be taken now")
        if scope._parked() or scope._parking():
            self.event("unpark", "unparking the mount")
            await scope.unpark()
        await self._maybe_flip(frame, scope)
        aim = self._aim or (target.ra, target.dec)
        eq = scope._eq_now()
        off = None
        if eq is not None:
            ra, dec = await asyncio.to_thread(astro.jnow_to_j2000, eq[0], eq[1])
            off = astro.angular_distance(ra, dec, aim[0], aim[1]) * 3600
        recenter = target.center is not None and self._centered != target.name
        if off is None or off > POINTING_TOLERANCE or recenter:
            why = "" if off is None else f" (the mount is {_angle(off)} away)"
            self.event("slew", f"slewing to {target.name}{why}", target=target.name)
            await self.guiding.pause()
            await scope.goto(aim[0] % 24, max(-90.0, min(90.0, aim[1])), track=True)
            if target.center is not None and self._centered != target.name:
                await self._center(target, scope)
            self._centered = target.name
            await self.guiding.resume()
        if scope._tracking() is False:
            self.event("tracking", "tracking was off: turning it on")
            await scope.set_tracking(True)
        await self._settled(scope, target.name, self._aim or aim)

    async def _settled(self, scope: Telescope, name: str, aim: tuple[float, float]) -> None:
        """Until the mount reports itself on ``aim`` (a driver may report the end of a
        slew before its coordinates settle): no frame is started off target."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        # Where the mount was first seen at rest off the aim, and when.
        rest: tuple[float, float, float] | None = None
        while True:
            eq = scope._eq_now()
            off = None
            now = time.monotonic()
            if eq is not None:
                ra, dec = await asyncio.to_thread(astro.jnow_to_j2000, eq[0], eq[1])
                off = astro.angular_distance(ra, dec, aim[0], aim[1]) * 3600
                slewing = scope._slewing()
                if off <= POINTING_TOLERANCE and not slewing:
                    return
                if slewing:
                    rest = None
                elif (
                    rest is None
                    or astro.angular_distance(ra, dec, rest[0], rest[1]) * 3600 > AT_REST_TOLERANCE
                ):
                    rest = (ra, dec, now)
                elif now - rest[2] >= SETTLE_AT_REST:
                    deadline = now  # stopped off the aim: waiting longer changes nothing
            if now >= deadline:
                where = "no position" if off is None else f"{_angle(off)} away"
                raise FrameMismatch(f"the mount did not settle on {name} ({where})")
            await asyncio.sleep(0.2)

    async def _center(self, target: Target, scope: Telescope) -> None:
        from ..devices.centering import center

        c = target.center
        assert c is not None and target.ra is not None and target.dec is not None
        self.event("centering", f"centering {target.name} to {c.tolerance:g} arcsec")
        try:
            result = await center(
                scope,
                self.device("camera"),
                self.engine.store,
                target.ra,
                target.dec,
                tolerance=c.tolerance,
                attempts=c.attempts,
                exposure=c.exposure,
                binning=c.binning,
                index_dir=self.engine.index_dir or Path("."),
            )
            self.event(
                "centered", f"centered {target.name}: {result.get('error', 0):.1f} arcsec off"
            )
            eq = scope._eq_now()
            if eq is not None:  # where the mount points with the target centred
                self._base = self._aim = await asyncio.to_thread(astro.jnow_to_j2000, *eq)
        except (asyncio.CancelledError, GaveUp):
            raise
        except Exception as exc:
            if c.on_failure == "skip":
                raise TargetLost(f"centering failed: {exc}") from None
            self.event(
                "note", f"centering failed ({exc}); the frames are taken where the mount points"
            )

    async def _ensure_filter(self, name: str) -> None:
        wheel: FilterWheel = self.device("filter_wheel")
        filters = wheel.filters()
        wanted = int(name) if name.isdigit() else None
        if wanted is None:
            wanted = next(
                (f["slot"] for f in filters if str(f["name"]).casefold() == name.casefold()), None
            )
        if wanted is None:
            raise FrameMismatch(f"the filter wheel has no filter {name!r}")
        slot = wheel._number("FILTER_SLOT", "FILTER_SLOT_VALUE")
        if slot is None or int(round(slot)) != wanted:
            now = next((f["name"] for f in filters if f["slot"] == int(round(slot or 0))), slot)
            self.event("filter", f"filter {name} (the wheel was on {now})", filter=name)
            await wheel.select(wanted)
        self._filter = name

    async def _ensure_focus(self, filter_name: str | None) -> None:
        base = self.rec.context.get("focus_base")
        if not self.plan.focuser_offsets or base is None:
            return
        offsets = {k.casefold(): v for k, v in self.plan.focuser_offsets.items()}
        key = (filter_name or self._filter or "").casefold()
        wanted = int(base) + int(offsets.get(key, 0))
        focuser: Focuser = self.device("focuser")
        here = focuser.position().get("position")
        if here is None or int(here) != wanted:
            self.event("focus", f"focuser to {wanted} (it was at {here})")
            await focuser.move_to(wanted)

    async def _maybe_autofocus(self, frame: Frame) -> None:
        af = frame.target.autofocus
        if af is None or not self.engine.roles.device_for("focuser"):
            return
        reason = self._af_due
        if reason is None and af.every and self._lights_since_focus >= af.every:
            reason = f"{af.every} light frames since the last autofocus"
        if reason is None and af.on_filter_change and frame.exposure.filter != self._af_filter:
            reason = "the filter changed"
        if reason is None:
            return
        from ..devices.autofocus import autofocus

        self._af_due = None
        self._lights_since_focus = 0
        self._af_filter = frame.exposure.filter
        self.event("autofocus", f"autofocus ({reason})")
        await self.guiding.pause()
        try:
            if af.filter:
                await self._ensure_filter(af.filter)
            result = await autofocus(self.device("focuser"), self.device("camera"), **af.params())
            self.event("focused", f"focused at {result.get('position')}: HFR {result.get('hfr')}")
            if self.plan.focuser_offsets and result.get("position") is not None:
                offsets = {k.casefold(): v for k, v in self.plan.focuser_offsets.items()}
                used = (af.filter or frame.exposure.filter or "").casefold()
                self.rec.context["focus_base"] = int(result["position"]) - int(offsets.get(used, 0))
        except (asyncio.CancelledError, GaveUp):
            raise
        except Exception as exc:  # noted; the night goes on
            self.event("autofocus_failed", f"autofocus failed: {exc}")
        finally:
            await self.guiding.resume()
        if af.filter and frame.exposure.filter:
            await self._ensure_filter(frame.exposure.filter)

    async def _maybe_flip(self, frame: Frame, scope: Telescope) -> None:
        flip = self.plan.meridian_flip
        target = frame.target
        if flip is None or target.ra is None or target.dec is None:
            return
        site = self.site()
        if site is None:
            return
        flipped = self.rec.context.setdefault("flipped", {})
        if flipped.get(target.name):
            return
        now = datetime.now(UTC)
        # The mount's hour angle is of the target's JNow RA (precession: minutes of time).
        ra_now, _ = await asyncio.to_thread(astro.j2000_to_jnow, target.ra, target.dec)
        ha_min = sky.hour_angle(ra_now, site[1], now) * 60
        end_min = ha_min + (frame.exposure.duration + FRAME_OVERHEAD) / 60
        if ha_min < flip.after_minutes:
            crosses = flip.max_minutes is not None and end_min > flip.max_minutes
            near = flip.pause_before > 0 and ha_min >= flip.after_minutes - flip.pause_before
            if not (crosses or near):
                return
            # Sidereal minutes to solar seconds: wait until the flip is due.
            wait = (flip.after_minutes - ha_min) * 60 / 1.0027379
            await self.wait_until(
                now + timedelta(seconds=wait),
                f"{target.name} reaches {flip.after_minutes:g} min past the meridian: flip first",
            )
            ha_min = sky.hour_angle(ra_now, site[1], datetime.now(UTC)) * 60
        before = scope._pier_side()
        self.event(
            "meridian_flip_started",
            f"meridian flip: {target.name} is {ha_min:.1f} min past the meridian"
            f" (pier side {before})",
            target=target.name,
        )
        await self.guiding.pause()
        aim = self._aim or (target.ra, target.dec)
        await scope.goto(aim[0] % 24, aim[1], track=True)
        if before is not None and scope._pier_side() == before:
            # A mount asked for where it points already may not move at all (the
            # simulator does not): away past the meridian, then back.
            self.event(
                "note", f"the mount stayed on pier side {before}: slewing away west and back"
            )
            await scope.goto((aim[0] - FLIP_DETOUR) % 24, aim[1], track=True)
            await scope.goto(aim[0] % 24, aim[1], track=True)
        if target.center is not None:
            await self._center(target, scope)
        after = scope._pier_side()
        if before is not None and after == before:
            # Tracking on past the meridian on the same side runs the telescope
            # into the pier: no more light frames of this target.
            await self.guiding.resume()
            self.event(
                "meridian_flip_failed",
                f"meridian flip failed: the mount stayed on pier side {before}",
                target=target.name,
                pier_side=before,
            )
            raise TargetLost(f"the meridian flip did not change the pier side ({before})")
        flipped[target.name] = True
        self._centered = target.name
        await self.guiding.resume()
        self.engine.db.set_plan_state(
            self.rec.id, self.rec.state, self.rec.message, json.dumps(self.rec.context)
        )
        self.event(
            "meridian_flip",
            f"meridian flip done: pier side {before} -> {after}",
            target=target.name,
            pier_side_before=before,
            pier_side_after=after,
        )

    async def _mount_dither(self, arcsec: float, ra_only: bool) -> None:
        """The fallback dither: a goto around the target by up to ``arcsec``."""
        if self._base is None:
            return
        ra, dec = self._base
        d_dec = 0.0 if ra_only else random.uniform(-arcsec, arcsec) / 3600
        cos_dec = max(math.cos(math.radians(dec)), 0.01)
        d_ra = random.uniform(-arcsec, arcsec) / 3600 / cos_dec / 15
        self._aim = (ra + d_ra, dec + d_dec)
        await self.device("telescope").goto(self._aim[0] % 24, max(-90.0, min(90.0, self._aim[1])))

    # ------------------------------------------------------------ the exposure

    def _cards(self, frame: Frame) -> dict[str, Any]:
        cards: dict[str, Any] = {
            "PLANID": (self.rec.id, "indiws plan id"),
            "PLANNAME": (Path(self.rec.name).name[:68], "plan"),
            "PLANFRM": (frame.number, "frame number in the plan"),
            "FRAMEIDX": (frame.index, "index of the frame of its kind"),
        }
        for source in (self.plan.metadata, frame.target.metadata):
            for key, value in source.items():
                if key.upper() not in DEVICE_CARDS:
                    cards[key.upper()] = value
        return cards

    async def _expose(self, frame: Frame, attempt: int) -> dict[str, Any]:
        exp = frame.exposure
        self.rec.current = {**frame_key(frame), "state": "exposing", "attempt": attempt}
        self.engine.publish("plan.progress", {"plan_id": self.rec.id, **self.rec.current})
        number = frame.number

        def progress(p: dict[str, Any]) -> None:
            if self.rec.current is not None:
                self.rec.current.update(
                    state=p.get("state", "exposing"), time_left=p.get("time_left")
                )
                self.engine.publish(
                    "plan.progress", {"plan_id": self.rec.id, "number": number, **p}
                )

        return await self.device("camera").expose(
            exp.duration,
            frame_type=exp.frame_type,
            binning=exp.binning,
            gain=exp.gain,
            offset=exp.offset,
            progress=progress,
            metadata={
                "object": frame.target.name,
                "plan_id": self.rec.id,
                "fits_cards": self._cards(frame),
            },
        )

    def _verify(self, frame: Frame, result: dict[str, Any]) -> None:
        """The frame's facts, as the devices reported them, against the plan."""
        exp, target = frame.exposure, frame.target
        if exp.filter:
            got = result.get("filter")
            wanted = exp.filter
            if wanted.isdigit():
                names = [f["name"] for f in self.device("filter_wheel").filters()]
                wanted = str(names[int(wanted) - 1]) if int(wanted) <= len(names) else wanted
            if got is None or str(got).casefold() != wanted.casefold():
                raise FrameMismatch(f"the filter in the light path was {got}, not {exp.filter}")
        if exp.frame_type == "light" and target.ra is not None and target.dec is not None:
            aim = self._aim or (target.ra, target.dec)
            ra, dec = result.get("ra"), result.get("dec")
            if ra is None or dec is None:
                raise FrameMismatch("the mount did not report where it pointed")
            off = astro.angular_distance(ra, dec, aim[0], aim[1]) * 3600
            if off > FRAME_POINTING_TOLERANCE:
                raise FrameMismatch(f"the mount pointed {_angle(off)} from {target.name}")
            # And it is still there (a mount that moved during the exposure).
            scope: Telescope = self.device("telescope")
            eq = scope._eq_now()
            if eq is None:
                raise FrameMismatch("the mount no longer reports its position")
            ra2, dec2 = astro.jnow_to_j2000(eq[0], eq[1])
            off2 = astro.angular_distance(ra2, dec2, aim[0], aim[1]) * 3600
            if off2 > FRAME_POINTING_TOLERANCE or scope._tracking() is False:
                raise FrameMismatch(
                    f"the mount moved off {target.name} during the exposure ({_angle(off2)})"
                )


def _angle(arcsec: float) -> str:
    if arcsec >= 3600:
        return f"{arcsec / 3600:.1f}°"
    if arcsec >= 60:
        return f"{arcsec / 60:.1f}'"
    return f'{arcsec:.0f}"'
