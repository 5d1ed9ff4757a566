"""The safety policy of an observatory left alone: close up when the
weather turns, or when the service cannot know the weather, and tell
every client why.

Above the devices, below the web.  One `SafetyPolicy` per service watches:

- the weather role's overall state (WEATHER_STATUS): Alert is unsafe
  (``weather_alert``); Ok, Busy (a warning) and Idle are not;
- the weather device itself: once seen, its disappearance (driver stopped,
  device disconnected) is unsafe at once (``weather_missing``), and so is
  no new reading (WEATHER_PARAMETERS) for ``weather_stale`` seconds
  (``weather_stale``; a device never seen counts from the policy's start);
- the indiserver connection: lost for longer than ``indiserver_timeout``
  seconds is unsafe (``indiserver_lost``); nothing can be moved while it is
  gone, so the close-up runs once it is back, and the reason then clears
  (the weather decides again).

When a new reason appears it announces ``safety`` to its listeners (the
web layer sends it to every client), then runs the close-up actions that
are configured, in this order: ``abort_exposure`` (camera), ``stop_guiding``
(guider pulses and exposure), ``park_mount``, ``close_dome`` (shutter
closed, then parked), ``close_cap`` (flat panel's dust cap).  The mount
parks while the dome closes, unless the dome's MOUNT_POLICY says the mount
locks it (a roll-off roof must not close on a telescope): then one after
the other.  Every action is logged and reported (``safety`` with phase
``closed`` and each action's outcome).

While unsafe, the devices refuse what would open up (telescope unpark and
gotos, dome open and unpark) with the ``unsafe`` error unless the caller
forces it; while the weather is not known yet (a weather role assigned,
no reading yet) they refuse too, without closing anything.  The close-up
is finished before anything opens again: when the reasons clear while it
still runs, the policy stays unsafe ("closing up") and announces ``safe``
only once it has ended (an unpark then would cancel a park half-way and
leave the mount stranded).

Listeners also get ``weather.changed`` on every change of the overall
weather state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from msgspec import Meta

from .client import Event, EventType, INDIClient
from .devices import (
    Camera,
    DeviceError,
    Dome,
    FlatPanel,
    Guider,
    Telescope,
    Weather,
    set_safety_guard,
)
from .devices.weather import PARAMETERS, STATUS
from .roles import RoleManager
from .verbs import UNSET, InvalidParamsError, NoParams, Params, Result, UnsetType, verb

__all__ = [
    "ACTIONS",
    "DEFAULT_ACTIONS",
    "SafetyConfig",
    "SafetyListener",
    "SafetyPolicy",
    "parse_actions",
]

log = logging.getLogger("indiws.safety")

#: Every close-up action, in the order they run.
ACTIONS: tuple[str, ...] = (
    "abort_exposure",
    "stop_guiding",
    "park_mount",
    "close_dome",
    "close_cap",
)
#: The close-up when none is configured (the dust cap is left alone: on
#: most rigs it is closed by the operator with the flats).
DEFAULT_ACTIONS: tuple[str, ...] = ("abort_exposure", "stop_guiding", "park_mount", "close_dome")

#: Called with (notification name, params): ``safety`` or ``weather.changed``.
SafetyListener = Callable[[str, dict[str, Any]], Any]

_REASONS = {
    "weather_alert": "the weather is unsafe",
    "weather_missing": "the weather device is gone",
    "weather_stale": "no weather reading",
    "indiserver_lost": "indiserver was lost",
}


def parse_actions(text: str | Iterable[str]) -> tuple[str, ...]:
    """Close-up actions from a comma-separated list (or names); ``none`` for
    none.  ValueError names an unknown one."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n and n != "none"]
    unknown = [n for n in names if n not in ACTIONS]
    if unknown:
        raise ValueError(
            f"unknown safety action {', '.join(unknown)}: choose from {', '.join(ACTIONS)}"
        )
    return tuple(a for a in ACTIONS if a in names)


@dataclass(slots=True)
class SafetyConfig:
    #: Watch and act at all.
    enabled: bool = True
    #: Close-up actions (see `ACTIONS`).
    actions: tuple[str, ...] = DEFAULT_ACTIONS
    #: Seconds without a weather reading before it counts as unsafe (INDI
    #: weather drivers send one every WEATHER_UPDATE period, 60 s by default).
    weather_stale: float = 300.0
    #: Seconds without indiserver before a close-up is due once it is back.
    indiserver_timeout: float = 120.0
    #: Longest wait of one close-up action (a slow park, a dome closing).
    action_timeout: float = 300.0
    #: How often staleness and the indiserver loss are checked.
    check_interval: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Verbs' params and results (indiws/verbs.py; docs/verbs.md) ---------------

#: Notifications the safety policy sends to every socket.
SAFETY_EVENTS = ("safety", "weather.changed")


class WeatherOverrideParams(Params):
    on: bool
    note: Annotated[str, Meta(max_length=200)] | None = None


class SafetyReason(Result):
    code: str
    message: str


class WeatherWatch(Result):
    """The weather role's device, its overall state, and how old its last reading is (s)."""

    device: str | None
    state: str
    last_reading_age: float | None


class WeatherOverride(Result):
    """The operator's weather override: since (ISO 8601), by whom, why."""

    since: str
    by: str
    note: str | None


class CloseUpStep(Result):
    """One action of a close-up: outcome done, already, skipped, or how it failed."""

    action: str
    outcome: str
    device: str | UnsetType = UNSET
    detail: str | UnsetType = UNSET
    error: str | UnsetType = UNSET
    interrupted: int | UnsetType = UNSET
    exposure_aborted: bool | UnsetType = UNSET
    autoguider_stopped: bool | UnsetType = UNSET


class CloseUpReport(Result):
    """Why, when, and each action's outcome (finished: once done)."""

    reasons: list[str]
    started: str
    actions: list[CloseUpStep]
    finished: str | UnsetType = UNSET


class SafetyStatus(Result):
    """The safety policy now."""

    enabled: bool
    safe: bool
    reasons: list[SafetyReason]
    weather: WeatherWatch
    #: The close-up's actions, as configured.
    actions: list[str]
    weather_stale: float
    indiserver_timeout: float
    #: A close-up runs now.
    closing: bool
    last_close_up: CloseUpReport | None
    weather_override: WeatherOverride | None


class SafetyPolicy:
    """Watches the weather and the indiserver connection; closes up when unsafe.

    ``expected_connected``: whether the service means to be connected to
    indiserver now (an operator's disconnect is not a loss).
    """

    def __init__(
        self,
        client: INDIClient,
        roles: RoleManager,
        config: SafetyConfig | None = None,
        *,
        expected_connected: Callable[[], bool] = lambda: True,
    ) -> None:
        self.client = client
        self.roles = roles
        self.config = config or SafetyConfig()
        #: The service's autoguider (`indiws.guiding.GuidingEngine`), stopped
        #: by the ``stop_guiding`` close-up action; set by the service.
        self.autoguider: Any = None
        self._expected = expected_connected
        self._listeners: list[SafetyListener] = []
        self._sub: Any = None
        self._timer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        #: Close-ups running now (the policy's own and `close_up` calls).
        self._running_close_ups = 0
        #: Unsafe reasons now: code → text.
        self.reasons: dict[str, str] = {}
        #: The weather's overall state as last announced.
        self.weather_state = "unknown"
        self._weather_device: str | None = None
        self._seen = False
        self._last_reading: float | None = None
        self._started = time.monotonic()
        self._lost_at: float | None = None
        #: The last close-up: {reasons, started, finished, actions: [...]}.
        self.last_close_up: dict[str, Any] | None = None
        #: The operator's weather override: {since, by, note} while on (the
        #: weather's verdict is then ignored), None when off.  Only the
        #: service sets it (`set_weather_override`); the weather device's own
        #: WEATHER_OVERRIDE does not count (`Weather.overall`).
        self.weather_override: dict[str, Any] | None = None

    # Lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Begin watching (needs the running loop)."""
        if not self.config.enabled or self._sub is not None:
            return
        self._started = time.monotonic()
        self._sub = self.client.subscribe(self._on_event)
        set_safety_guard(self.client, self.guard)
        self._timer = asyncio.get_running_loop().create_task(self._watch(), name="safety")
        self._evaluate()
        log.info(
            "safety policy on: actions %s; weather stale after %g s; indiserver lost after %g s",
            ", ".join(self.config.actions) or "none",
            self.config.weather_stale,
            self.config.indiserver_timeout,
        )

    async def stop(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        set_safety_guard(self.client, None)
        for task in (self._timer, self._closing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._timer = self._closing = None

    def subscribe(self, listener: SafetyListener) -> Callable[[], None]:
        """Call ``listener(name, params)`` for each ``safety`` and
        ``weather.changed`` event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, name: str, params: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, params)
            except Exception:  # one listener must not silence the others
                log.exception("safety listener failed")

    # What is known ------------------------------------------------------

    @property
    def closing(self) -> bool:
        """A close-up runs now."""
        return self._running_close_ups > 0

    @property
    def safe(self) -> bool:
        """Nothing is refused: what the status says and what the devices'
        guard decides are one and the same."""
        return self.guard("", "") is None

    def _weather_name(self) -> str | None:
        return self.roles.db.get_role("weather")

    def waiting(self) -> str | None:
        """Why the policy cannot say safe yet, without closing anything:
        the weather role's device has given no reading yet (or is absent
        from the indiserver, which the text says); None otherwise."""
        name = self._weather_name()
        if (
            not self.config.enabled
            or name is None
            or self.weather_state != "unknown"
            or self.weather_override is not None
        ):
            return None
        if self.reasons:
            return None  # the reasons say more
        dev = self.client.devices.get(name)
        if dev is None:
            return (
                f"no weather reading yet: the weather role's device {name} is absent "
                "(not on the indiserver); start its driver, or release or reassign the role"
            )
        if not dev.connected:
            return f"no weather reading yet: the weather role's device {name} is not connected"
        return f"no weather reading yet from {name}"

    def current_reasons(self) -> dict[str, str]:
        """Every reason the policy refuses now: code → text (``weather_unknown``
        while `waiting`, beside the unsafe reasons)."""
        pending = self.waiting()
        return dict(self.reasons) | ({"weather_unknown": pending} if pending else {})

    @verb(
        "safety.override_weather",
        WeatherOverrideParams,
        SafetyStatus,
        needs=("who",),
        events=SAFETY_EVENTS,
    )
    def set_weather_override(
        self, on: bool, *, who: str, note: str | None = None
    ) -> dict[str, Any]:
        """The operator's weather override: with on true the weather's verdict
        (alert, missing, stale) is ignored until it is turned off; logged
        with who asked, shown in safety.status (weather_override: {since, by,
        note}) and on the panel's banner.  The weather device's own
        WEATHER_OVERRIDE never counts.  Result: safety.status."""
        if note is not None and len(note) > 200:
            raise InvalidParamsError("note must be a text of at most 200 characters", param="note")
        if on:
            self.weather_override = {"since": _now_iso(), "by": who, "note": note}
            log.warning(
                "safety: weather override ON by %s%s: the weather's verdict is ignored until it "
                "is turned off",
                who,
                f" ({note})" if note else "",
            )
        elif self.weather_override is not None:
            self.weather_override = None
            log.warning("safety: weather override OFF by %s: the weather decides again", who)
        self._evaluate(cleared=True)
        return self.status()

    def guard(self, role: str, verb: str) -> str | None:
        """The devices' check before unpark/goto/open: None when allowed."""
        if not self.config.enabled:
            return None
        if self.reasons:
            return "; ".join(self.reasons.values())
        if self.closing:
            return "closing up: the safety close-up has not finished"
        return self.waiting()

    @verb("safety.status", NoParams, SafetyStatus, events=SAFETY_EVENTS)
    def status(self) -> dict[str, Any]:
        """The safety policy now.

        {enabled, safe, reasons: [{code, message}], weather: {device, state,
        last_reading_age}, actions, weather_stale, indiserver_timeout,
        closing, last_close_up}. Every socket gets safety {phase: unsafe|
        closing|closed|safe, safe, reason, reasons, time, actions?} as it
        changes, and weather.changed."""
        age = None
        if self._last_reading is not None:
            age = round(time.monotonic() - self._last_reading, 1)
        return {
            "enabled": self.config.enabled,
            "safe": self.safe,
            "reasons": [{"code": c, "message": m} for c, m in self.current_reasons().items()],
            "weather": {
                "device": self._weather_name(),
                "state": self.weather_state,
                "last_reading_age": age,
            },
            "actions": list(self.config.actions),
            "weather_stale": self.config.weather_stale,
            "indiserver_timeout": self.config.indiserver_timeout,
            "closing": self.closing,
            "last_close_up": self.last_close_up,
            "weather_override": self.weather_override,
        }

    # Watching -----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        etype = event.type
        if etype is EventType.CONNECTION_LOST:
            if self._lost_at is None and self._expected():
                self._lost_at = time.monotonic()
                log.warning("safety: indiserver connection lost")
            return
        if etype in (EventType.CONNECTED, EventType.CONNECTION_RESTORED):
            self._on_reconnected()
            return
        weather = self._weather_name()
        if weather is None or event.device != weather:
            return
        if etype in (EventType.DEFINED, EventType.UPDATED) and event.name in (PARAMETERS, STATUS):
            self._seen = True
            self._last_reading = time.monotonic()
        elif etype is EventType.DELETED and event.name not in (None, STATUS, PARAMETERS):
            return
        elif etype not in (EventType.DEFINED, EventType.UPDATED, EventType.DELETED):
            return
        if event.name in (None, STATUS, PARAMETERS, "CONNECTION"):
            self._evaluate()

    def _on_reconnected(self) -> None:
        lost_at, self._lost_at = self._lost_at, None
        if lost_at is None:
            return
        # The drivers may have restarted with the server: give the weather
        # device the stale window to come back (its role reconnects it)
        # before it counts as gone; until then nothing may open.
        self._seen, self._last_reading, self._started = False, None, time.monotonic()
        gone = time.monotonic() - lost_at
        if gone >= self.config.indiserver_timeout:
            log.warning("safety: indiserver is back after %.0f s without it", gone)
            self.reasons["indiserver_lost"] = f"{_REASONS['indiserver_lost']} for {gone:.0f} s"
            self._announce("unsafe")
            self._close_up(clear_after=("indiserver_lost",))
        else:
            log.info("safety: indiserver is back after %.1f s", gone)
        self._evaluate()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_interval)
            try:
                self._check_time()
            except Exception:  # the watch must go on
                log.exception("safety check failed")

    def _check_time(self) -> None:
        now = time.monotonic()
        if (
            self._lost_at is not None
            and now - self._lost_at >= self.config.indiserver_timeout
            and "indiserver_lost" not in self.reasons
        ):
            self.reasons["indiserver_lost"] = (
                f"{_REASONS['indiserver_lost']} for more than {self.config.indiserver_timeout:g} s"
            )
            log.warning("safety: %s", self.reasons["indiserver_lost"])
            self._announce("unsafe")  # the close-up runs once it is back
        if self.client.connected:
            self._evaluate()

    def _weather_reasons(self) -> dict[str, str]:
        name = self._weather_name()
        if name != self._weather_device:
            # Another device took the role: start over with it.
            self._weather_device, self._seen, self._last_reading = name, False, None
            self._started = time.monotonic()
        if name is None:
            self._set_weather_state("unknown")
            return {}
        weather = Weather(self.client, name)
        state = weather.overall()
        self._set_weather_state(state)
        out: dict[str, str] = {}
        if state == "alert":
            attention = []
            with contextlib.suppress(DeviceError):
                attention = [p["name"] for p in weather.parameters() if p["state"] == "alert"]
            detail = f" ({', '.join(attention)})" if attention else ""
            out["weather_alert"] = f"{_REASONS['weather_alert']}{detail} on {name}"
        elif state == "unknown" and self._seen:
            out["weather_missing"] = f"{_REASONS['weather_missing']}: {name} is not connected"
        since = self._last_reading if self._seen else self._started
        if since is not None and "weather_missing" not in out:
            age = time.monotonic() - since
            if age >= self.config.weather_stale:
                out["weather_stale"] = f"{_REASONS['weather_stale']} from {name} for {age:.0f} s"
        return out

    def _set_weather_state(self, state: str) -> None:
        if state == self.weather_state:
            return
        previous, self.weather_state = self.weather_state, state
        params: dict[str, Any] = {
            "device": self._weather_name(),
            "state": state,
            "previous": previous,
            "time": _now_iso(),
        }
        with contextlib.suppress(DeviceError):
            if state != "unknown":
                params["parameters"] = Weather(self.client, self._weather_name()).parameters()
        log.info("weather %s: %s (was %s)", params["device"], state, previous)
        self._emit("weather.changed", params)

    def _evaluate(self, cleared: bool = False) -> None:
        """Recompute the reasons; announce a change (``cleared``: reasons
        were just dropped or a close-up just ended, announce even if none
        is new)."""
        if not self.config.enabled or not self.client.connected or self._lost_at is not None:
            return  # while indiserver is gone (or coming back), _check_time decides
        fresh = self._weather_reasons()
        if self.weather_override is not None:
            fresh = {}  # the operator's decision (set_weather_override), logged and shown
        kept = {c: t for c, t in self.reasons.items() if c == "indiserver_lost"}
        new = kept | fresh
        if new == self.reasons and not cleared:
            return
        added = set(new) - set(self.reasons)
        self.reasons = new
        if added:
            log.warning("safety: unsafe: %s", "; ".join(new.values()))
            self._announce("unsafe")
            self._close_up()
        elif not new and self.closing:
            # Safe is announced (and the guard lifted) once the close-up ends.
            log.info("safety: the reasons cleared; still unsafe until the close-up has finished")
        elif not new:
            log.info("safety: %s", "safe again" if self.safe else self.waiting())
            self._announce("safe" if self.safe else "unsafe")
        else:
            self._announce("unsafe")

    def _announce(self, phase: str, **extra: Any) -> None:
        current = self.current_reasons()
        reasons = [{"code": c, "message": m} for c, m in current.items()]
        self._emit(
            "safety",
            {
                "phase": phase,
                "safe": self.safe,
                "reason": "; ".join(current.values()) or None,
                "reasons": reasons,
                "weather_override": self.weather_override,
                "time": _now_iso(),
                **extra,
            },
        )

    # Closing up ---------------------------------------------------------

    def _close_up(self, clear_after: tuple[str, ...] = ()) -> None:
        if not self.config.actions:
            return
        if self._closing is not None and not self._closing.done():
            return  # one close-up at a time; it is idempotent anyway
        self._closing = asyncio.get_running_loop().create_task(
            self._run_close_up(clear_after), name="safety-close-up"
        )

    @verb("safety.close_up", NoParams, CloseUpReport, events=SAFETY_EVENTS)
    async def close_up(self) -> dict[str, Any]:
        """Run the configured close-up now, safe or not (abort exposure, stop
        guiding, park the mount, close the dome, ...).

        Result: {reasons, started, finished, actions: [{action, outcome,
        device?, error?}]}."""
        await self._run_close_up(())
        assert self.last_close_up is not None
        return self.last_close_up

    async def _run_close_up(self, clear_after: tuple[str, ...]) -> None:
        self._running_close_ups += 1
        try:
            report = await self._close_up_steps()
        finally:
            self._running_close_ups -= 1
        cleared = [code for code in clear_after if self.reasons.pop(code, None)]
        self._announce("closed", actions=report["actions"])
        self._evaluate(cleared=bool(cleared) or not self.reasons)

    async def _close_up_steps(self) -> dict[str, Any]:
        reasons = list(self.reasons.values())
        report: dict[str, Any] = {"reasons": reasons, "started": _now_iso(), "actions": []}
        self.last_close_up = report
        self._announce("closing", actions=list(self.config.actions))
        wanted = self.config.actions
        steps: list[tuple[str, Callable[[], Any]]] = []
        if "abort_exposure" in wanted:
            steps.append(("abort_exposure", self._abort_exposure))
        if "stop_guiding" in wanted:
            steps.append(("stop_guiding", self._stop_guiding))
        for name, step in steps:
            report["actions"].append(await self._step(name, step))
        motion: list[tuple[str, Callable[[], Any]]] = []
        if "park_mount" in wanted:
            motion.append(("park_mount", self._park_mount))
        if "close_dome" in wanted:
            motion.append(("close_dome", self._close_dome))
        if "close_cap" in wanted:
            motion.append(("close_cap", self._close_cap))
        if self._mount_locks_dome():
            for name, step in motion:
                report["actions"].append(await self._step(name, step))
        else:
            report["actions"].extend(
                await asyncio.gather(*(self._step(name, step) for name, step in motion))
            )
        report["finished"] = _now_iso()
        return report

    async def _step(self, name: str, step: Callable[[], Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"action": name}
        try:
            async with asyncio.timeout(self.config.action_timeout):
                result = await step()
        except TimeoutError:
            entry.update(
                outcome="timeout",
                error=f"{name} did not end within {self.config.action_timeout:g} s",
            )
            log.error("safety: %s: %s", name, entry["error"])
        except DeviceError as exc:
            entry.update(outcome=exc.code, error=str(exc))
            log.error("safety: %s failed: %s", name, exc)
        except Exception as exc:  # report it, and let the other steps run
            entry.update(outcome="error", error=str(exc))
            log.exception("safety: %s failed", name)
        else:
            entry.update(result)
            log.warning(
                "safety: %s: %s%s",
                name,
                entry["outcome"],
                f" ({entry['device']})" if entry.get("device") else "",
            )
        return entry

    async def _connected_device(self, role: str) -> str | None:
        """The role's device once connected (it may just be coming back
        after indiserver returned); None when the role has none."""
        name = self.roles.db.get_role(role)
        if name is None:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while True:
                    dev = self.client.devices.get(name)
                    if dev is not None and dev.connected:
                        break
                    await asyncio.sleep(0.2)
        return name

    async def _abort_exposure(self) -> dict[str, Any]:
        name = await self._connected_device("camera")
        if name is None:
            return {"outcome": "skipped", "detail": "no camera"}
        camera = Camera(self.client, name)
        exposure = camera._optional("CCD_EXPOSURE")
        if exposure is None or not (exposure.busy or camera.running()):
            return {"outcome": "skipped", "device": name, "detail": "not exposing"}
        await camera.abort()
        return {"outcome": "done", "device": name}

    async def _stop_guiding(self) -> dict[str, Any]:
        # The built-in autoguider first: else its loop would start the next
        # guide exposure (and pulse) right after the device was stopped.
        autoguider = self.autoguider
        was_guiding = autoguider is not None and autoguider.capturing
        if was_guiding:
            await autoguider.stop_capture()
        name = await self._connected_device("guider")
        if name is None:
            return {"outcome": "skipped", "detail": "no guider"}
        guider = Guider(self.client, name, mount=self.roles.db.get_role("telescope"))
        result = await guider.stop_guiding()
        busy = result["interrupted"] or result["exposure_aborted"] or was_guiding
        return {
            "outcome": "done" if busy else "skipped",
            "device": name,
            **result,
            "autoguider_stopped": was_guiding,
        }

    async def _park_mount(self) -> dict[str, Any]:
        name = await self._connected_device("telescope")
        if name is None:
            return {"outcome": "skipped", "detail": "no telescope"}
        result = await Telescope(self.client, name).park(timeout=self.config.action_timeout)
        return {"outcome": "already" if result.get("already") else "done", "device": name}

    async def _close_dome(self) -> dict[str, Any]:
        name = await self._connected_device("dome")
        if name is None:
            return {"outcome": "skipped", "detail": "no dome"}
        dome = Dome(self.client, name)
        already = True
        if dome.has("DOME_SHUTTER"):
            already = bool((await dome.close(timeout=self.config.action_timeout)).get("already"))
        if dome.has("DOME_PARK"):
            parked = await dome.park(timeout=self.config.action_timeout)
            already = already and bool(parked.get("already"))
        return {"outcome": "already" if already else "done", "device": name}

    async def _close_cap(self) -> dict[str, Any]:
        name = await self._connected_device("flat_panel")
        if name is None:
            return {"outcome": "skipped", "detail": "no flat panel"}
        panel = FlatPanel(self.client, name)
        if not panel.has("CAP_PARK"):
            return {"outcome": "skipped", "device": name, "detail": "no dust cap"}
        result = await panel.close_cap(timeout=self.config.action_timeout)
        return {"outcome": "already" if result.get("already") else "done", "device": name}

    def _mount_locks_dome(self) -> bool:
        name = self.roles.db.get_role("dome")
        dev = self.client.devices.get(name) if name else None
        prop = dev.properties.get("MOUNT_POLICY") if dev else None
        return prop is not None and "MOUNT_LOCKS" in prop.on_switches()
