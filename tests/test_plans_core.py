"""The plan engine's pure parts: the state table, the sky, the new plan keys,
and the notifier's retries (against a local HTTP receiver)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import tornado.web

from indiws.plans import InvalidTransition, Notifier, next_state
from indiws.plans.core import STATES, TERMINAL, TRANSITIONS
from indiws.plans.sky import altitude, first_time, hour_angle, sun_altitude
from indiws.remote.plan import PlanError, parse_plan
from indiws.testing import free_port

TARGETS = "targets: [{name: M42, exposures: [{duration: 1}]}]\n"


def test_the_state_table_is_closed_and_terminal_states_stay() -> None:
    for (state, _), new in TRANSITIONS.items():
        assert state in STATES and new in STATES
        assert state not in TERMINAL
    assert next_state("queued", "start") == "running"
    assert next_state("running", "pause") == "paused"
    assert next_state("paused", "requeue") == "queued"
    for state in TERMINAL:
        for what in ("start", "pause", "resume", "abort", "requeue"):
            with pytest.raises(InvalidTransition, match=f"the plan is {state}"):
                next_state(state, what)


def test_sun_and_target_altitudes() -> None:
    # Munich at the June solstice: the Sun culminates at 90 - 48.1 + 23.44 degrees.
    noon = datetime(2026, 6, 21, 11, 14, tzinfo=UTC)
    assert sun_altitude(48.1, 11.6, noon) == pytest.approx(65.3, abs=0.3)
    assert sun_altitude(48.1, 11.6, noon + timedelta(hours=12)) < -18
    # A star on the meridian culminates at 90 - |lat - dec|.
    when = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    from indiws.devices import astro

    ra = astro.local_sidereal_time(11.6, when)
    assert abs(hour_angle(ra, 11.6, when)) < 1e-9
    assert altitude(ra, 30.0, 48.1, 11.6, when) == pytest.approx(71.9, abs=0.01)


def test_first_time_finds_the_edge_or_none() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    edge = start + timedelta(hours=3, minutes=7, seconds=30)
    found = first_time(lambda t: t >= edge, start)
    assert found is not None and timedelta(0) <= found - edge <= timedelta(seconds=5)
    assert first_time(lambda t: False, start) is None
    assert first_time(lambda t: True, start) == start


def test_new_plan_keys_are_checked_with_their_lines() -> None:
    plan = parse_plan(
        TARGETS + "end: 2026-12-02T05:00:00Z\nsun_max_altitude: -12\n"
        "meridian_flip: {after_minutes: 5, max_minutes: 15}\n"
        "on_failure: {wait: 600}\nnotify: [http://127.0.0.1:9/hook, https://ntfy.sh/x]\n"
    )
    assert plan.sun_max_altitude == -12 and plan.on_failure.wait == 600
    assert plan.meridian_flip is not None and plan.meridian_flip.max_minutes == 15
    assert plan.notify == ["http://127.0.0.1:9/hook", "https://ntfy.sh/x"]
    with pytest.raises(PlanError) as err:
        parse_plan(
            TARGETS + "meridian_flip: {after_minutes: 5, max_minutes: 2}\n"
            "notify: ftp://x\non_failure: {wait: -1}\nsun_max_altitude: 100\n"
        )
    text = str(err.value)
    assert "plan:2: meridian_flip.max_minutes: must be at least after_minutes" in text
    assert "plan:3: notify[0]: 'ftp://x' is not an http(s) URL with a host" in text
    assert "plan:4: on_failure.wait: must be at least 0" in text
    assert "plan:5: sun_max_altitude: must be at most 90" in text


async def test_notifications_are_retried_and_never_block() -> None:
    got: list[dict] = []
    calls = {"n": 0}
    arrived = asyncio.Event()

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                self.set_status(503)  # the first try fails: tried again
                return
            got.append(json.loads(self.request.body))
            arrived.set()

    port = free_port()
    server = tornado.web.Application([("/hook", Hook)]).listen(port, "127.0.0.1")
    dead = free_port()  # nothing listens there
    notifier = Notifier([f"http://127.0.0.1:{dead}/nobody"])
    notifier.start()
    try:
        notifier.send({"event": "plan_started", "plan_id": "p1"}, [f"http://127.0.0.1:{port}/hook"])
        await asyncio.wait_for(arrived.wait(), 20)
    finally:
        await notifier.stop()
        server.stop()
    assert got == [{"event": "plan_started", "plan_id": "p1"}]
    assert calls["n"] == 2
