"""Roles belong to a profile: ``--profile Observatory`` once, then a plain
start (the auto-start profile) on the same data directory has that
profile's roles only, and the safety policy's status and its refusals
agree; a role whose device is absent is shown as absent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ws_support import WsClient

from indiws.testing import RunningService, start_embedded_service

EXTRA_ROLES = ("guider", "dome", "rotator", "flat_panel", "weather", "gps")
UNSAFE = -32055


async def _ws(running: RunningService) -> WsClient:
    return await WsClient.open(running.ws_url + "/ws/indi_client/")


async def _roles_connected(ws: WsClient, roles: tuple[str, ...]) -> dict:
    async with asyncio.timeout(60):
        while True:
            now = await ws.call("roles")
            if all(now[r]["connected"] for r in roles):
                return now
            await asyncio.sleep(0.2)


async def test_a_plain_start_after_the_observatory_profile_has_its_own_roles(
    tmp_path: Path,
) -> None:
    # 1. The whole observatory once.
    running = await start_embedded_service(tmp_path, profile="Observatory")
    ws = await _ws(running)
    try:
        roles = await _roles_connected(ws, EXTRA_ROLES)
        assert roles["weather"]["device_name"] == "Weather Simulator"
    finally:
        await ws.close()
        await running.stop()

    # 2. Then a plain start on the same data directory.
    running = await start_embedded_service(tmp_path)
    ws = await _ws(running)
    try:
        roles = await _roles_connected(ws, ("telescope", "camera"))
        for role in EXTRA_ROLES:
            assert roles[role]["device_name"] is None, roles[role]
        safety = await ws.call("safety.status")
        assert safety["safe"] is True and safety["reasons"] == [], safety
        assert (await ws.call("status"))["safety"]["safe"] is True
        # Nothing refuses what the status says is safe.
        await ws.call("telescope.unpark", timeout=30)
        arrived = await ws.call("telescope.goto_altaz", {"alt": 50.0, "az": 120.0}, 60)
        assert arrived["alt"] > 45
        # An assignment made now belongs to the profile that runs.
        await ws.call("release", {"role": "focuser"})
        kept = running.service.db.get_profile("Simulators")
        assert kept is not None and "focuser" not in kept.roles and "camera" in kept.roles
        observatory = running.service.db.get_profile("Observatory")
        assert observatory is not None and observatory.roles["weather"] == "Weather Simulator"
        # The Observatory profile, without its weather driver, for step 3.
        running.service.db.update_profile(
            "Observatory",
            drivers=[d for d in observatory.drivers if d.executable != "indi_simulator_weather"],
        )
    finally:
        await ws.close()
        await running.stop()

    # 3. A profile whose weather role names a device that is absent: shown
    # as absent, and the status says unsafe for the reason gotos are refused.
    running = await start_embedded_service(tmp_path, profile="Observatory")
    ws = await _ws(running)
    try:
        roles = await _roles_connected(ws, ("telescope", "dome"))
        assert roles["weather"] == {
            "role": "weather",
            "device_name": "Weather Simulator",
            "present": False,
            "connected": False,
        }
        safety = await ws.call("safety.status")
        assert safety["safe"] is False, safety
        [reason] = safety["reasons"]
        assert reason["code"] == "weather_unknown"
        assert "Weather Simulator is absent" in reason["message"], reason
        status = await ws.call("status")
        assert status["safety"] == {"safe": False, "reasons": ["weather_unknown"]}
        refused = await ws.error("telescope.unpark")
        assert refused["code"] == UNSAFE
        assert "Weather Simulator is absent" in refused["message"], refused
    finally:
        await ws.close()
        await running.stop()
