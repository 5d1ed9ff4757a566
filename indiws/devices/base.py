"""What every role device shares: finding the device, connecting it,
checking capabilities, and the action engine.

An *action* is an INDI command whose end is only known from what the driver
sends afterwards: a slew, an exposure, a focuser move.  `Action` subscribes
to the device before the command is sent, queues snapshots of the watched
properties as they change, and lets a verb walk through them until the
action has really ended.  It also carries what every long action needs:

- a deadline (`ActionTimeout`; the device is told to stop where it can),
- abort from elsewhere (`RoleDevice.abort` flags the running actions of its
  role; they wait until the driver has stopped, then raise `ActionAborted`),
- supersession (a newer action on the same channel, e.g. a second goto,
  ends the older one with `ActionAborted`),
- cancellation of the awaiting task (the device is told to stop, then the
  `CancelledError` goes on),
- progress reports to the caller's callback and to every action listener
  (`subscribe_actions`), so a second client can follow the same action.

A *procedure* (`run_procedure`: autofocus, centering) is an action made of
other actions (moves, exposures, slews): it has its own id, events and
progress, and its own abort (`abort_action`), which stops the step running
and ends the procedure with `ActionAborted`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import inspect
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

from ..client import (
    Device,
    Event,
    EventType,
    INDIClient,
    InvalidValueError,
    NotConnectedError,
    Property,
)
from ..protocol import Permission, PropertyKind, PropertyState, SwitchState
from ..verbs import UNSET, Described, Result, UnsetType
from .errors import (
    ActionAborted,
    ActionFailed,
    ActionTimeout,
    CapabilityError,
    DeviceBusyError,
    DeviceError,
    DeviceNotConnectedError,
    NoDeviceError,
    RefusalReason,
    UnsafeError,
)
from .follow import PropertyFollower, follow
from .guard import _GUARDS, REQUESTER, SafetyGuard, set_safety_guard
from .writes import check_hardware_write

__all__ = [
    "Action",
    "ActionListener",
    "ProgressCallback",
    "RoleDevice",
    "Update",
    "SafetyGuard",
    "abort_action",
    "recent_actions",
    "run_procedure",
    "running_actions",
    "set_safety_guard",
    "subscribe_actions",
    "until_started",
]

log = logging.getLogger("indiws.devices")

#: Called with a progress dict while a long action runs.  It runs on the
#: event loop and must not block; an awaitable it returns is scheduled.
ProgressCallback = Callable[[dict[str, Any]], Any]
#: Called with every action event (started, progress, finished) of a client.
ActionListener = Callable[[dict[str, Any]], Any]

#: A number element's range [min, max] (null where the driver gives none).
Range = list[float | None]


class DriverInfo(Result):
    """The device's DRIVER_INFO (null where the driver leaves one out)."""

    name: str | None
    exec: str | None
    version: str | None
    #: DRIVER_INTERFACE: the bitmask of the interfaces the device implements.
    interface: int


class ActionInfo(Result):
    """An action running now (`Action.describe`)."""

    action_id: str
    #: The verb (``goto``, ``expose``, ``autofocus``, ...).
    action: str
    role: str
    device: str
    params: Described(dict[str, Any], "the verb's params as the caller gave them")
    #: Epoch seconds.
    started: float
    #: Seconds since it started.
    elapsed: float
    progress: Described(
        dict[str, Any] | None,
        "the last progress report (its fields are the verb's, as its progress"
        " notifications); null before the first",
    )


class RecentAction(ActionInfo):
    """An action running now or one of the last finished (`recent_actions`)."""

    #: running, ok, aborted, timeout, cancelled, error, or a device error's code.
    outcome: str
    #: Epoch seconds; null while running.
    ended: float | None
    error: (
        Described(dict[str, Any], "how it failed: {code, message, ...} of the device error")
        | UnsetType
    ) = UNSET


class AbortedAction(ActionInfo):
    """The action told to stop (`abort_action`)."""

    aborted: bool


#: DRIVER_INTERFACE bits (INDI's DeviceInterface).
INTERFACES: dict[int, str] = {
    1: "telescope",
    2: "ccd",
    4: "guider",
    8: "focuser",
    16: "filter",
    32: "dome",
    64: "gps",
    128: "weather",
    256: "ao",
    512: "dustcap",
    1024: "lightbox",
    2048: "detector",
    4096: "rotator",
    8192: "spectrograph",
    16384: "correlator",
    32768: "aux",
}

#: How long an aborted action waits for the driver to leave Busy.
SETTLE_TIMEOUT = 15.0
#: A switch answered otherwise than asked, with no better answer this many
#: seconds later, was refused by the driver.
REFUSED_AFTER = 2.0
_MAX_MESSAGES = 50


@dataclass(slots=True)
class Update:
    """A snapshot of one watched change, taken when it arrived.

    ``kind`` is ``defined``, ``updated``, ``deleted`` (the property or the
    whole device went) or ``lost`` (the indiserver connection dropped).
    """

    kind: str
    name: str | None
    state: PropertyState | None = None
    values: dict[str, Any] | None = None
    changed: tuple[str, ...] = ()
    message: str | None = None
    #: BLOB properties: the format of each element (``.fits``, ...).
    formats: dict[str, str | None] | None = None

    def __getitem__(self, element: str) -> Any:
        return (self.values or {}).get(element)


#: Finished actions a client's registry remembers (`recent_actions`).
RECENT_ACTIONS = 100


class _Registry:
    """Running actions, the last finished ones and action listeners of one client."""

    def __init__(self) -> None:
        self.actions: dict[str, set[Action]] = {}
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_ACTIONS)
        #: The results of the last finished actions, by id (as many as ``recent``).
        self.results: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self.listeners: list[ActionListener] = []

    def emit(self, event: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            _call_safely(listener, event, "action listener")


_REGISTRIES: weakref.WeakKeyDictionary[INDIClient, _Registry] = weakref.WeakKeyDictionary()
_PENDING: set[asyncio.Future[Any]] = set()  # awaitables returned by callbacks


def _registry(client: INDIClient) -> _Registry:
    reg = _REGISTRIES.get(client)
    if reg is None:
        reg = _REGISTRIES[client] = _Registry()
    return reg


def _call_safely(
    callback: Callable[[dict[str, Any]], Any], data: dict[str, Any], what: str
) -> None:
    try:
        result = callback(data)
    except Exception:
        log.exception("%s failed", what)
        return
    if inspect.isawaitable(result):
        fut = asyncio.ensure_future(result)
        _PENDING.add(fut)
        fut.add_done_callback(_PENDING.discard)


class _ListenerHandle:
    def __init__(self, client: INDIClient, callback: ActionListener) -> None:
        self._client, self._callback = client, callback

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            _registry(self._client).listeners.remove(self._callback)

    def __enter__(self) -> _ListenerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def subscribe_actions(client: INDIClient, callback: ActionListener) -> _ListenerHandle:
    """Call ``callback(event)`` for every action started on ``client``.

    Events are dicts with ``event`` = ``started`` (with ``params``),
    ``progress`` (the same dict the caller's progress callback gets) or
    ``finished`` (with ``outcome``: ``ok``, an error code such as
    ``aborted``/``timeout``/``action_failed``, or ``cancelled``; plus
    ``result`` or ``error``), and always ``action_id``, ``action``,
    ``role``, ``device``.  ``close()`` the handle to stop.
    """
    _registry(client).listeners.append(callback)
    return _ListenerHandle(client, callback)


def running_actions(
    client: INDIClient, device: str | None = None, role: str | None = None
) -> list[dict[str, Any]]:
    """The actions running now (optionally of one device and/or role)."""
    reg = _registry(client)
    out = []
    for dev, actions in reg.actions.items():
        if device is not None and dev != device:
            continue
        out.extend(a.describe() for a in actions if role is None or a.role == role)
    return sorted(out, key=lambda a: a["started"])


def recent_actions(client: INDIClient, limit: int = 50) -> list[dict[str, Any]]:
    """The actions running now and the last finished ones (at most ``limit``
    in all, newest start first): `Action.describe` with ``outcome``
    (``running``, ``ok``, ``aborted``, ...), ``ended`` (epoch s, or None)
    and, when it failed, ``error``."""
    running = [{**a, "outcome": "running", "ended": None} for a in running_actions(client)]
    out = sorted([*running, *_registry(client).recent], key=lambda a: a["started"])
    return out[::-1][: max(0, limit)]


#: Set by a front that answers "started" before the action ends (REST's 202):
#: a future given the first action that the call running in this context starts.
ACTION_STARTED: contextvars.ContextVar[asyncio.Future[Action] | None] = contextvars.ContextVar(
    "indiws_action_started", default=None
)


def finished_action(client: INDIClient, action_id: str) -> dict[str, Any] | None:
    """One of the last finished actions (`recent_actions`' entry, with its
    ``result`` when it ended well), or None: unknown, running, or too old."""
    reg = _registry(client)
    for entry in reversed(reg.recent):
        if entry["action_id"] == action_id:
            if action_id in reg.results:
                return {**entry, "result": reg.results[action_id]}
            return dict(entry)
    return None


def find_action(client: INDIClient, action_id: str) -> Action | None:
    """The running action ``action_id`` (None: unknown, or ended)."""
    for actions in _registry(client).actions.values():
        for action in actions:
            if action.id == action_id:
                return action
    return None


async def abort_action(client: INDIClient, action_id: str) -> dict[str, Any] | None:
    """Abort one running action, whoever started it: its device is told to
    stop (a procedure stops the step it is in), and the action ends with
    `ActionAborted`.  Returns what was aborted (`Action.describe`), or None
    when no action of that id runs."""
    action = find_action(client, action_id)
    if action is None:
        return None
    action.interrupt("abort", f"{action.verb} aborted")
    if action._abort is not None and action._sent:
        try:
            await action._abort()
        except Exception as err:  # the action ends aborted all the same
            log.warning("%s: could not stop %s: %s", action.verb, action.device, err)
    return action.describe()


async def run_procedure(
    owner: RoleDevice,
    verb: str,
    body: Callable[[Action], Awaitable[dict[str, Any]]],
    *,
    params: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    supersede: bool = True,
) -> dict[str, Any]:
    """Run ``body(action)`` as one action of ``owner``'s role (``verb``), made
    of other actions: ``action.report`` sends its progress, its result goes
    through ``action.done``.  Its abort (`abort_action`, the role's
    ``abort``, a newer procedure of the same verb unless not ``supersede``)
    cancels the step running (whose device is told to stop) and ends it with
    `ActionAborted`."""
    task = asyncio.current_task()
    assert task is not None
    channel = verb if supersede else None
    async with owner._action(
        verb, (), timeout=None, progress=progress, channel=channel, params=params
    ) as act:
        act.on_interrupt = task.cancel
        try:
            result = await body(act)
            # Done: an abort from now on must not cancel the task that returns it.
            act.on_interrupt = None
            return act.done(result)
        except asyncio.CancelledError:
            if act._interrupt is None or task.uncancel() > 0:
                raise  # cancelled from outside: not an abort
            reason, text = act._interrupt
            raise ActionAborted(
                text,
                device=act.device,
                role=act.role,
                action=verb,
                details=dict(act.details, reason=reason, last=act.last_progress),
            ) from None


async def wait_acknowledged(client: INDIClient, action_id: str, timeout: float) -> bool:
    """Wait until the running action ``action_id`` has sent its command and
    the driver shows it working (a watched property turned Busy), or the
    action has ended; False if ``timeout`` passed first.  A caller that
    answers "started" then sees the device busy when it looks."""
    for actions in _registry(client).actions.values():
        for action in actions:
            if action.id == action_id:
                try:
                    async with asyncio.timeout(timeout):
                        await action.acknowledged.wait()
                except TimeoutError:
                    return False
                return True
    return True  # ended already


async def until_started(
    client: INDIClient,
    device: str | None,
    task: asyncio.Future[Any],
    *,
    start_wait: float,
    ack_wait: float,
) -> None:
    """Wait until ``task``, running one action of ``device``, has started it
    (within ``start_wait`` s) and the driver has taken its command
    (`wait_acknowledged`, within ``ack_wait`` s), or until ``task`` has
    ended (refused before it started, or over at the driver's first
    answer).  What a front that answers "started" at once waits for, so
    that a poll right after its answer sees the device busy (or the
    refusal).  Call it right after making ``task``, before it first runs."""
    started = asyncio.Event()
    ended = asyncio.Event()
    action_ids: list[str] = []

    def on_action(event: dict[str, Any]) -> None:
        if event.get("device") != device:
            return
        if event.get("event") == "started":
            action_ids.append(event["action_id"])
            started.set()
        elif event.get("event") == "finished" and event.get("action_id") in action_ids[:1]:
            ended.set()

    listener = subscribe_actions(client, on_action)
    waiter = asyncio.ensure_future(started.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=start_wait, return_when="FIRST_COMPLETED")
        if action_ids and not task.done():
            await wait_acknowledged(client, action_ids[0], ack_wait)
            if ended.is_set():
                # The action ended with the driver's first answer (a refusal,
                # e.g. an unpark while parking): its outcome is a few loop
                # turns away, through ``task``.
                await asyncio.wait({task}, timeout=ack_wait)
    finally:
        listener.close()
        waiter.cancel()


class Action:
    """One running action; use as ``async with owner._action(...) as act``."""

    def __init__(
        self,
        owner: RoleDevice,
        verb: str,
        watch: Iterable[str] | None,
        *,
        timeout: float | None,
        progress: ProgressCallback | None = None,
        abort: Callable[[], Awaitable[Any]] | None = None,
        channel: str | None = None,
        main: str | None = None,
        params: dict[str, Any] | None = None,
        quiet: bool = False,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise InvalidValueError(f"timeout must be positive, got {timeout:g}")
        self.owner = owner
        self.client = owner.client
        self.device: str = owner._device().name
        self.role = owner.role
        self.verb = verb
        self.id = secrets.token_hex(4)
        self.watch = None if watch is None else frozenset(watch)
        self.timeout = timeout
        self.channel = channel
        self.main = main
        self.params = dict(params or {})
        #: A quiet action (a setting) is neither listed nor announced.
        self.quiet = quiet
        #: Updated by the verb as it learns where the action is; goes into errors.
        self.details: dict[str, Any] = {}
        #: Set by the verb: where the device is now (merged into ``details``
        #: when the action ends early, after the device stopped).
        self.where: Callable[[], dict[str, Any]] | None = None
        self.messages: list[str] = []
        self.last_progress: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self._progress = progress
        self._abort = abort
        self._queue: collections.deque[Update] = collections.deque()
        self._wakeup = asyncio.Event()
        self._interrupt: tuple[str, str] | None = None
        self._sent = False
        #: Set once the driver answered the command (`wait_acknowledged`).
        self.acknowledged = asyncio.Event()
        #: Called once when the action is interrupted (a procedure cancels its step).
        self.on_interrupt: Callable[[], Any] | None = None
        self._sub: Any = None
        self._loop = asyncio.get_running_loop()
        self.started = time.time()
        self._t0 = self._loop.time()
        self._deadline = None if timeout is None else self._t0 + timeout

    # Lifecycle ----------------------------------------------------------

    async def __aenter__(self) -> Action:
        reg = _registry(self.client)
        if self.channel is not None:
            for other in list(reg.actions.get(self.device, ())):
                if other.channel == self.channel:
                    other.interrupt("superseded", f"{other.verb} superseded by a newer {self.verb}")
        self._sub = self.client.subscribe(self._on_event, device=self.device)
        if not self.quiet:
            reg.actions.setdefault(self.device, set()).add(self)
            reg.emit(self._event("started", params=self.params))
            started = ACTION_STARTED.get()
            if started is not None and not started.done():
                started.set_result(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sub.close()
        self.acknowledged.set()
        reg = _registry(self.client)
        actions = reg.actions.get(self.device)
        if actions is not None:
            actions.discard(self)
            if not actions:
                del reg.actions[self.device]
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if self.quiet:
            return
        if cancelled and self._sent and self._abort and self.owner.abort_on_cancel:
            # The caller gave up waiting: stop the device rather than leave it
            # moving with nobody watching.
            try:
                await asyncio.wait_for(asyncio.shield(self._abort()), 5)
            except Exception as err:  # best effort while cancelling
                log.warning("%s: could not stop %s after cancel: %s", self.verb, self.device, err)
        error: dict[str, Any] | None = None
        if exc is None:
            outcome = "ok"
        elif cancelled:
            outcome = "cancelled"
        else:
            outcome = exc.code if isinstance(exc, DeviceError) else "error"
            error = exc.to_dict() if isinstance(exc, DeviceError) else {"message": str(exc)}
        ended = {"outcome": outcome, "ended": time.time()}
        reg.recent.append({**self.describe(), **ended, **({"error": error} if error else {})})
        if exc is None:
            reg.results[self.id] = self.result
            while len(reg.results) > RECENT_ACTIONS:
                reg.results.popitem(last=False)
        if exc is None:
            reg.emit(self._event("finished", outcome=outcome, result=self.result))
        elif error is None:
            reg.emit(self._event("finished", outcome=outcome))
        else:
            reg.emit(self._event("finished", outcome=outcome, error=error))

    def _event(self, kind: str, **data: Any) -> dict[str, Any]:
        return {
            "event": kind,
            "action_id": self.id,
            "action": self.verb,
            "role": self.role,
            "device": self.device,
            **data,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "action_id": self.id,
            "action": self.verb,
            "role": self.role,
            "device": self.device,
            "params": self.params,
            "started": self.started,
            "elapsed": round(self.elapsed, 3),
            "progress": self.last_progress,
        }

    @property
    def elapsed(self) -> float:
        return self._loop.time() - self._t0

    # Events -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        etype = event.type
        if etype is EventType.MESSAGE:
            if event.message:
                self.messages.append(event.message)
                del self.messages[:-_MAX_MESSAGES]
            return
        if etype is EventType.CONNECTION_LOST:
            self._queue.append(Update("lost", None))
        elif etype is EventType.DELETED:
            if event.name is None or self.watch is None or event.name in self.watch:
                self._queue.append(Update("deleted", event.name))
            else:
                return
        elif etype in (EventType.UPDATED, EventType.DEFINED):
            if self.watch is not None and event.name not in self.watch:
                return
            if (
                self._sent
                and event.property is not None
                and event.property.state is PropertyState.BUSY
            ):
                self.acknowledged.set()  # the driver is working on it
            prop = event.property
            assert prop is not None
            formats = None
            if prop.kind is PropertyKind.BLOB:
                formats = {n: el.format for n, el in prop.elements.items()}
            self._queue.append(
                Update(
                    etype.value,
                    event.name,
                    prop.state,
                    prop.values(),
                    event.changed,
                    event.message,
                    formats,
                )
            )
        else:
            return
        self._wakeup.set()

    def interrupt(self, reason: str, text: str) -> None:
        """End the action from outside: ``reason`` is ``abort`` or ``superseded``."""
        if self._interrupt is None:
            self._interrupt = (reason, text)
            self._wakeup.set()
            if self.on_interrupt is not None:
                self.on_interrupt()

    # For verbs ----------------------------------------------------------

    async def send(self, name: str, values: dict[str, Any]) -> None:
        """Send new values (checked against the definition first); nothing is
        sent once the action has been aborted."""
        if self._interrupt is not None:
            await self._end_interrupted()
        await self.client.set_property(self.device, name, values)
        self._sent = True

    async def next(self, within: float | None = None) -> Update | None:
        """The next watched change.

        Returns None when ``within`` seconds pass without one.  Raises
        `ActionTimeout` at the action's deadline, `ActionAborted` when
        aborted or superseded, `ActionFailed` when the device or the
        indiserver connection goes away.
        """
        until = None if within is None else self._loop.time() + within
        while True:
            if self._interrupt is not None:
                await self._end_interrupted()
            if self._queue:
                update = self._queue.popleft()
                if update.kind == "lost":
                    raise self.fail(f"{self.verb}: lost the connection to indiserver")
                if update.kind == "deleted":
                    what = "the device" if update.name is None else update.name
                    raise self.fail(f"{self.verb}: {what} went away (device disconnected?)")
                return update
            now = self._loop.time()
            if self._deadline is not None and now >= self._deadline:
                await self._end_timed_out()
            if until is not None and now >= until:
                return None
            limits = [t for t in (self._deadline, until) if t is not None]
            self._wakeup.clear()
            try:
                async with asyncio.timeout(min(limits) - now if limits else None):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def report(self, progress: dict[str, Any]) -> None:
        """Send a progress dict to the caller and to the action listeners."""
        data = {
            "action": self.verb,
            "action_id": self.id,
            "role": self.role,
            "device": self.device,
            "elapsed": round(self.elapsed, 3),
            **progress,
        }
        self.last_progress = data
        if self._progress is not None:
            _call_safely(self._progress, data, f"progress callback of {self.verb}")
        if not self.quiet:
            _registry(self.client).emit({"event": "progress", **data})

    def fail(self, text: str) -> ActionFailed:
        """An `ActionFailed` carrying the driver's messages."""
        return ActionFailed(
            text + _last_words(self.messages),
            device=self.device,
            role=self.role,
            action=self.verb,
            messages=self._messages_for_error(),
            details=self.details,
        )

    def stopped(self, text: str) -> ActionAborted:
        """An `ActionAborted` for an action the driver (or another client)
        ended before it was done, with its last messages."""
        return ActionAborted(
            text,
            device=self.device,
            role=self.role,
            action=self.verb,
            messages=self.messages[-5:],
            details=self.details,
        )

    def done(self, result: dict[str, Any]) -> dict[str, Any]:
        """Record and return the verb's result (adds action, device, elapsed)."""
        self.result = {
            "action": self.verb,
            "device": self.device,
            "elapsed": round(self.elapsed, 3),
            **result,
        }
        return self.result

    def main_busy(self) -> bool:
        prop = self._mirror(self.main)
        return prop is not None and prop.state is PropertyState.BUSY

    # Endings ------------------------------------------------------------

    def _mirror(self, name: str | None) -> Property | None:
        if name is None:
            return None
        dev = self.client.devices.get(self.device)
        return dev.properties.get(name) if dev else None

    def _messages_for_error(self) -> list[str]:
        if self.messages:
            return self.messages[-5:]
        dev = self.client.devices.get(self.device)
        return [text for _, text in list(dev.messages)[-3:]] if dev else []

    async def settle(self, limit: float = SETTLE_TIMEOUT) -> bool:
        """Wait (at most ``limit`` s) until the main property is not Busy."""
        until = self._loop.time() + limit
        while self.main_busy():
            left = until - self._loop.time()
            if left <= 0:
                return False
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._wakeup.wait()
        return True

    def _where(self) -> dict[str, Any]:
        if self.where is None:
            return {}
        try:
            return self.where()
        except Exception:  # the device may be gone; the error matters more
            return {}

    async def _end_interrupted(self) -> None:
        assert self._interrupt is not None
        reason, text = self._interrupt
        stopped = True
        if reason == "abort":
            stopped = await self.settle()
        details = dict(self.details, **self._where(), reason=reason)
        if not stopped:
            details["still_busy"] = True
        raise ActionAborted(
            text,
            device=self.device,
            role=self.role,
            action=self.verb,
            messages=self.messages[-5:],
            details=details,
        )

    async def _end_timed_out(self) -> None:
        told = stopped = False
        if self._abort is not None and self._sent:
            try:
                await self._abort()
                told = True
                stopped = await self.settle()
            except Exception as err:  # report the timeout, not this
                log.warning("%s: could not stop %s after timeout: %s", self.verb, self.device, err)
        text = f"{self.verb} did not end within {self.timeout:g} s"
        if told:
            text += "; the device was told to stop" + ("" if stopped else " (still busy)")
        raise ActionTimeout(
            text,
            device=self.device,
            role=self.role,
            action=self.verb,
            messages=self.messages[-5:],
            details=dict(self.details, **self._where(), stopped=stopped),
        )


def _last_words(messages: list[str]) -> str:
    return f" (driver said: {messages[-1]})" if messages else ""


class RoleDevice:
    """A device playing a role, as seen through one `INDIClient`.

    Cheap to create: it holds the client and the device name, nothing else,
    so make one per call (``Telescope(client, name)``).  Everything is read
    from the client's live mirror when a verb runs.  ``device`` may be None
    for a role with no device assigned: every verb then raises
    `NoDeviceError` (and `status()` says so).

    ``abort_on_cancel``: when the task awaiting a long action is cancelled,
    tell the device to stop (default).  The web layer may pass False to let
    an action run on after its caller went away.
    """

    role: ClassVar[str] = "device"
    #: The struct of `_status()` (the role's brief state), from which the
    #: role's ``connect``, ``disconnect`` and ``status`` verbs are declared
    #: (`indiws.devices.common`); None: not declared.
    brief: ClassVar[type[Any] | None] = None
    #: The struct of `_capabilities()` and of `_facts()` (what `info` adds
    #: while connected), from which ``<role>.info``'s result is made.
    capabilities_shape: ClassVar[type[Any] | None] = None
    facts_shape: ClassVar[type[Any] | None] = None

    def __init__(
        self, client: INDIClient, device: str | None, *, abort_on_cancel: bool = True
    ) -> None:
        self.client = client
        self.name = device
        self.abort_on_cancel = abort_on_cancel

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # Lookups ------------------------------------------------------------

    def _device(self) -> Device:
        if self.name is None:
            raise NoDeviceError(f"no device is assigned to the {self.role} role", role=self.role)
        dev = self.client.devices.get(self.name)
        if dev is None:
            if not self.client.connected:
                raise NotConnectedError(
                    f"not connected to indiserver {self.client.host}:{self.client.port}"
                )
            raise NoDeviceError(
                f"device {self.name!r} ({self.role}) is not on the indiserver",
                device=self.name,
                role=self.role,
            )
        return dev

    def _connected(self) -> Device:
        dev = self._device()
        if not dev.connected:
            raise DeviceNotConnectedError(
                f"device {dev.name!r} ({self.role}) is not connected: connect it first",
                device=dev.name,
                role=self.role,
            )
        return dev

    def _check_safe(self, verb: str, force: bool = False) -> None:
        """Raise `UnsafeError` when the safety policy refuses ``verb`` now;
        ``force`` overrides it (and is logged)."""
        guard = _GUARDS.get(self.client)
        reason = None if guard is None else guard(self.role, verb)
        if reason is None:
            return
        if force:
            log.warning(
                "%s %s forced while unsafe (%s) by %s", self.role, verb, reason, REQUESTER.get()
            )
            return
        raise UnsafeError(
            f"{verb} refused: the observatory is unsafe ({reason}); pass force to override",
            device=self.name,
            role=self.role,
        )

    def has(self, *names: str) -> bool:
        """True if the device defines every named property now."""
        dev = self.client.devices.get(self.name) if self.name else None
        return dev is not None and all(n in dev.properties for n in names)

    def _prop(self, name: str, what: str) -> Property:
        """The property, or `CapabilityError` saying the device cannot ``what``."""
        dev = self._connected()
        prop = dev.properties.get(name)
        if prop is None:
            raise CapabilityError(
                f"{dev.name} cannot {what} (it does not define {name})",
                device=dev.name,
                role=self.role,
                properties=[name],
            )
        return prop

    def _optional(self, name: str) -> Property | None:
        dev = self.client.devices.get(self.name) if self.name else None
        return dev.properties.get(name) if dev else None

    def _number(self, name: str, element: str) -> float | None:
        prop = self._optional(name)
        if prop is None or element not in prop.elements:
            return None
        value = prop[element]
        return float(value) if isinstance(value, int | float) else None

    def _switch_on(self, name: str) -> list[str] | None:
        prop = self._optional(name)
        return None if prop is None else prop.on_switches()

    @staticmethod
    def _writable(prop: Property | None) -> bool:
        return prop is not None and prop.perm is not Permission.RO

    @staticmethod
    def _choose(prop: Property, wanted: str, what: str) -> str:
        """The switch element meant by ``wanted``: its name or label (any
        case), or the last part of its name (``"centering"`` for
        ``SLEW_CENTERING``, ``"sidereal"`` for ``TRACK_SIDEREAL``)."""
        if not isinstance(wanted, str) or not wanted.strip():
            raise InvalidValueError(f"{what}: give a name, got {wanted!r}")
        w = wanted.strip().lower()
        for el in prop.elements.values():
            if w in (el.name.lower(), el.label.lower()):
                return el.name
        for el in prop.elements.values():
            if el.name.lower().endswith("_" + w):
                return el.name
        choices = ", ".join(f"{el.name} ({el.label})" for el in prop.elements.values())
        raise InvalidValueError(f"{prop.device} has no {what} {wanted!r}: choose one of {choices}")

    # Actions ------------------------------------------------------------

    def _action(
        self,
        verb: str,
        watch: Iterable[str] | None,
        *,
        timeout: float | None,
        progress: ProgressCallback | None = None,
        abort: Callable[[], Awaitable[Any]] | None = None,
        channel: str | None = None,
        main: str | None = None,
        params: dict[str, Any] | None = None,
        quiet: bool = False,
    ) -> Action:
        return Action(
            self,
            verb,
            watch,
            timeout=timeout,
            progress=progress,
            abort=abort,
            channel=None if channel is None else f"{self.role}.{channel}",
            main=main,
            params=params,
            quiet=quiet,
        )

    def _interrupt_actions(self, text: str, channel: str | None = None) -> int:
        """Flag this role's running actions on the device as aborted."""
        if self.name is None:
            return 0
        wanted = None if channel is None else f"{self.role}.{channel}"
        count = 0
        for act in list(_registry(self.client).actions.get(self.name, ())):
            if act.role == self.role and (wanted is None or act.channel == wanted):
                act.interrupt("abort", text)
                count += 1
        return count

    def _check_channel_free(
        self, channel: str, verb: str, replace: bool, doing: str = "busy"
    ) -> None:
        """`DeviceBusyError` when an action of ``channel`` (e.g. another
        client's exposure) runs on the device, unless ``replace``: then the
        newer action supersedes it, as it starts."""
        if replace:
            return
        act = self.channel_action(channel)
        if act is not None:
            raise DeviceBusyError(
                f"{self.name} is already {doing} (another {act.verb}, started "
                f"{act.elapsed:.1f} s ago): wait for it, abort it, or {verb} "
                "with replace to cancel it",
                device=self.name,
                role=self.role,
            )

    def _check_still(self, moving: bool, verb: str, replace: bool) -> None:
        """Unless ``replace`` (then the newer motion supersedes the one under
        way, as it starts): `DeviceBusyError` with reason ``moving`` when the
        device moves (``moving``: its driver says so) or a motion of this
        role runs."""
        if replace:
            return
        if moving or self.channel_action("motion") is not None:
            raise DeviceBusyError(
                f"{self.name} is moving: wait for it to stop, or abort it, before {verb}",
                device=self.name,
                role=self.role,
                reason=RefusalReason.MOVING,
            )

    def channel_action(self, channel: str) -> Action | None:
        """The action of ``channel`` (e.g. ``exposure``) of this role running
        on the device now (another client's, say); None when it is free."""
        if self.name is None:
            return None
        wanted = f"{self.role}.{channel}"
        for act in _registry(self.client).actions.get(self.name, ()):
            if act.channel == wanted:
                return act
        return None

    def running(self) -> list[dict[str, Any]]:
        """This role's actions running now on the device."""
        if self.name is None:
            return []
        return running_actions(self.client, self.name, self.role)

    async def _set(
        self,
        name: str,
        values: dict[str, Any],
        *,
        verb: str | None = None,
        timeout: float = 10.0,
        accept_busy: bool = False,
        confirm: bool = True,
    ) -> Property:
        """Send values and wait for the driver's answer.

        Returns once the driver answered with a state other than Busy (or
        any state but Alert with ``accept_busy``, for properties such as
        CCD_COOLER or TELESCOPE_TRACK_STATE that stay Busy while active).
        Alert raises `ActionFailed` with the driver's message.  For a switch
        the answer must show the switches turned as asked: an update that
        does not is taken as a late one from before, unless no matching
        update follows within `REFUSED_AFTER` seconds (then the driver
        refused: `ActionFailed`).  ``confirm=False`` skips that check, for
        buttons that the driver turns off again at once (TELESCOPE_PARK_OPTION).
        """
        prop = self.client.get_property(self._device().name, name)
        wanted: dict[str, SwitchState] = {}
        if prop.kind is PropertyKind.SWITCH and confirm:
            _, items = self.client.validate(prop.device, name, values)
            wanted = dict(items)
        async with self._action(verb or f"set {name}", [name], timeout=timeout, quiet=True) as act:
            await act.send(name, values)
            await follow(
                act,
                PropertyFollower(
                    name,
                    done=lambda u, _: all(u[e] is v for e, v in wanted.items()),
                    accept_busy=accept_busy,
                    before_start=REFUSED_AFTER,
                    after_start=REFUSED_AFTER,
                    failed=f"{act.device} refused {name}",
                    refused=f"{act.device} did not apply {name}",
                ),
            )
            return self.client.get_property(act.device, name)

    # Common verbs -------------------------------------------------------

    async def connect(self, timeout: float = 30.0) -> dict[str, Any]:
        """Connect the device (CONNECTION switch); returns `status()`.

        Ends once the driver reports the device connected and has finished
        defining the properties that come with the connection.
        """
        dev = self._device()
        if dev.connected:
            # Connected already (by the service at start, or by another
            # client) maybe a moment ago: its connected-only properties may
            # still be on their way.
            await self.client.wait_device_settled(dev.name, quiet=0.3, timeout=5, from_now=False)
            return self.status()
        if "CONNECTION" not in dev.properties:
            raise CapabilityError(
                f"{dev.name} has no CONNECTION property",
                device=dev.name,
                role=self.role,
                properties=["CONNECTION"],
            )
        async with self._action("connect", None, timeout=timeout) as act:
            await act.send("CONNECTION", {"CONNECT": True})
            await follow(
                act,
                PropertyFollower(
                    "CONNECTION",
                    done=lambda u, _: u["CONNECT"] is SwitchState.ON,
                    before_start="fail",
                    after_start="fail",
                    failed=f"{act.device} failed to connect",
                    refused=f"{act.device} did not connect",
                ),
            )
            # INDI has no "all properties defined" marker: wait for a quiet spell.
            await self.client.wait_device_settled(act.device, quiet=0.3, timeout=5)
            act.done({"connected": True})
        return self.status()

    async def disconnect(self, timeout: float = 30.0) -> dict[str, Any]:
        """Disconnect the device; returns `status()`."""
        dev = self._device()
        if not dev.connected:
            return self.status()
        self._interrupt_actions(f"{dev.name} is being disconnected")
        async with self._action("disconnect", ["CONNECTION"], timeout=timeout) as act:
            await act.send("CONNECTION", {"DISCONNECT": True})
            await follow(
                act,
                PropertyFollower(
                    done=lambda u, _: u["DISCONNECT"] is SwitchState.ON,
                    after_start="wait",
                    failed=f"{act.device} failed to disconnect",
                ),
            )
            # The driver deletes its connected-only properties just after:
            # answer once it has, so that a connect may follow at once.
            await self.client.wait_device_settled(act.device, quiet=0.3, timeout=5)
            act.done({"connected": False})
        return self.status()

    def status(self) -> dict[str, Any]:
        """A brief state for periodic status pushes; never raises for an
        absent or disconnected device (``present``/``connected`` say so)."""
        out: dict[str, Any] = {"role": self.role, "device": self.name}
        dev = self.client.devices.get(self.name) if self.name else None
        out["present"] = dev is not None
        out["connected"] = bool(dev and dev.connected)
        if dev is not None and dev.connected:
            try:
                out.update(self._status())
            except Exception as exc:  # a status push must not fail on odd drivers
                log.exception("status of %s failed", self.name)
                out["error"] = str(exc)
            out["busy"] = bool(self.running())
        return out

    def _status(self) -> dict[str, Any]:
        return {}

    def info(self) -> dict[str, Any]:
        """Static facts and capabilities.

        Capabilities are derived from the properties the device defines
        now; most drivers define them only once connected, so
        ``capabilities`` is None while the device is not connected.
        """
        dev = self._device()
        bits = dev.interfaces
        out: dict[str, Any] = {
            "role": self.role,
            "device": dev.name,
            "connected": dev.connected,
            "driver": {
                "name": dev.driver_info.get("DRIVER_NAME"),
                "exec": dev.driver_info.get("DRIVER_EXEC"),
                "version": dev.driver_info.get("DRIVER_VERSION"),
                "interface": bits,
            },
            "interfaces": [name for bit, name in INTERFACES.items() if bits & bit],
            "capabilities": self._capabilities() if dev.connected else None,
        }
        if dev.connected:
            out.update(self._facts())
        return out

    def _capabilities(self) -> dict[str, Any]:
        return {}

    def _facts(self) -> dict[str, Any]:
        return {}

    # Properties as the driver defines them ----------------------------------
    # For fronts that show INDI's own property pages (lightAPT's get_parameter).

    def properties(self) -> list[Property]:
        """Every property the device defines now, in the order the driver
        defined them (a disconnected device still lists CONNECTION and the
        other properties it keeps)."""
        return list(self._device().properties.values())

    async def apply(
        self,
        name: str,
        values: Mapping[str, Any],
        *,
        timeout: float = 10.0,
        who: str = "a property page",
        force: bool = False,
    ) -> Property:
        """Set one property to values edited on a property page; returns it
        once the driver has answered.

        ``values`` maps element names to new values (text: str; number:
        int/float or a sexagesimal str; switch: bool or "On"/"Off"), checked
        against the definition before anything is sent: unknown names,
        read-only properties, lights and BLOBs, out-of-range numbers and
        switch rules raise the client's errors.  Numbers and texts are sent
        as the whole vector, the elements not given with their values now
        (drivers act on whole vectors), even when nothing changed (writing a
        number again can mean "do it again": an exposure, a goto).  Switches
        are sent only where they differ from the state now, since a page
        sends the whole vector back with one switch flipped; nothing is sent
        when none differs.  The driver's
        first answer counts, Busy included (a goto written as coordinates
        stays Busy while it slews); Alert raises `ActionFailed`.
        """
        dev = self._device()
        prop = self.client.get_property(dev.name, name)
        if prop.kind is PropertyKind.BLOB:
            raise InvalidValueError(f"{dev.name}.{name} is a BLOB: it cannot be set from values")
        # A property page must not move what the safety policy holds still.
        check_hardware_write(self.client, dev.name, name, values, who=who, force=force)
        # Elements not given keep their values: drivers act on a whole
        # vector (the telescope simulator refuses a site without LONG).
        send: dict[str, Any] = {n: el.value for n, el in prop.elements.items()} | dict(values)
        if prop.kind is PropertyKind.SWITCH:
            send = {
                element: value
                for element, value in values.items()
                if element not in prop.elements
                or _switch_state(value) is not prop.elements[element].value
            }
            if not send:
                self.client.validate(dev.name, name, values)  # still refuse read-only
                return prop
        self.client.validate(dev.name, name, send)
        return await self._set(
            name, send, verb=f"set {name}", timeout=timeout, accept_busy=True, confirm=False
        )


def _switch_state(value: Any) -> SwitchState | None:
    """A switch value as the client takes it (None if it is not one)."""
    if isinstance(value, bool):
        return SwitchState.ON if value else SwitchState.OFF
    if isinstance(value, str) and value.strip().lower() in ("on", "off"):
        return SwitchState(value.strip().capitalize())
    return None
