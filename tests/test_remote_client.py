"""The remote client library (indiws.remote) against a real service and simulators."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from remote_support import serve_on, vanish

from indiws.remote import (
    ConnectionLost,
    Observatory,
    RemoteError,
    ServiceUnavailable,
    SyncObservatory,
)
from indiws.remote._methods import METHODS, TelescopeMethods
from indiws.testing import IndiServerProcess, RunningService, free_port, start_service

CCD, WHEEL = "CCD Simulator", "Filter Simulator"


def _typed(obs: Observatory, name: str):
    ns, dot, verb = name.partition(".")
    owner = getattr(obs, ns) if dot else obs
    found = getattr(owner, (verb if dot else ns).replace(".", "_"), None)
    if not dot and found is not None and not inspect.ismethod(found):
        found = found.__call__  # a namespace's own call: obs.actions()
    return found


async def test_every_discovered_method_is_a_typed_call(running_service: RunningService) -> None:
    async with Observatory(running_service.url) as obs:
        discovered = {m["name"]: m for m in (await obs.discover())["methods"]}
        missing = sorted(set(discovered) - set(METHODS))
        assert not missing, f"not in the client, run scripts/gen_remote.py: {missing}"
        stale = sorted(set(METHODS) - set(discovered))
        assert not stale, f"the client has methods the service lacks: {stale}"
        for name, method in discovered.items():
            func = _typed(obs, name)
            assert func is not None and inspect.iscoroutinefunction(func), name
            params = [p for p in inspect.signature(func).parameters if p != "on_progress"]
            wanted = [p["name"] for p in method["params"]]
            assert [p.rstrip("_") for p in params] == wanted, name
            assert METHODS[name]["events"] == method.get("x-events", []), name


async def test_progress_arrives_and_the_frame_downloads(
    running_service: RunningService, tmp_path: Path
) -> None:
    await running_service.service.roles.assign("camera", CCD)
    async with Observatory(running_service.url) as obs:
        seen: list[dict] = []
        frame = await obs.camera.expose(0.5, binning=2, on_progress=seen.append)
        assert any(p.get("state") == "exposing" for p in seen), seen
        assert frame["binning"] == [2, 2]
        path = await obs.download(frame, tmp_path / "f.fits")
        assert path.read_bytes()[:6] == b"SIMPLE"
        mask = os.umask(0o022)
        os.umask(mask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600

        # The same as an async iterator over the call's progress.
        call = obs.start("camera.expose", {"duration": 0.3})
        states = [p.get("state") async for p in call.progress()]
        assert "exposing" in states
        assert (await call)["duration"] == pytest.approx(0.3)


async def test_errors_are_exceptions_with_code_and_data(running_service: RunningService) -> None:
    await running_service.service.roles.assign("camera", CCD)
    async with Observatory(running_service.url) as obs:
        with pytest.raises(RemoteError) as err:
            await obs.call("focuser.move_to", {"position": "far"})
        assert err.value.code == -32602 and err.value.name == "invalid_params"
        assert err.value.data["param"] == "position"
        with pytest.raises(RemoteError) as err:
            await obs.call("telescope.fly")
        assert err.value.code == -32601
        with pytest.raises(RemoteError) as err:
            await obs.camera.expose(5000.0)
        assert err.value.name == "invalid_value" and "3600" in err.value.message
        assert await obs.camera.settings()  # the connection is still fine


async def test_action_events_and_status_reach_listeners(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    running = await start_service(indiserver, tmp_path / "data", status_interval=0.2)
    try:
        await running.service.roles.assign("filter_wheel", WHEEL)
        async with Observatory(running.url) as obs:
            statuses: list = []
            obs.on("status", statuses.append)
            events = obs.events("action.started", "action.finished")
            current = await obs.filter_wheel.current()
            other = 2 if current["slot"] == 1 else 1
            first = asyncio.ensure_future(anext(events))
            await obs.filter_wheel.select(other)
            started = await asyncio.wait_for(first, 10)
            assert started.method == "action.started"
            assert (started.params["role"], started.params["action"]) == ("filter_wheel", "select")
            finished = await asyncio.wait_for(anext(events), 10)
            assert finished.method == "action.finished"
            events.close()
            for _ in range(50):
                if statuses:
                    break
                await asyncio.sleep(0.1)
            assert statuses and "filter_wheel" in statuses[-1].params["roles"]
            assert obs.last_status is not None
    finally:
        await running.stop()


@pytest.mark.slow
async def test_reconnects_after_the_service_restarts(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    port = free_port()
    first = await serve_on(indiserver, tmp_path / "data", port)
    obs = Observatory(f"http://127.0.0.1:{port}")
    await obs.connect()
    try:
        assert await obs.roles()
        await vanish(first)
        for _ in range(100):
            if not obs.connected:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(ConnectionLost):
            await obs.roles()
        second = await serve_on(indiserver, tmp_path / "data", port)
        try:
            await obs.wait_connected(20)
            assert "camera" in await obs.roles()
            assert obs.reconnects == 1
        finally:
            await second.stop()
    finally:
        await obs.close()


async def test_token_is_sent_and_a_missing_one_is_named(
    indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    running = await start_service(
        indiserver, tmp_path / "data", token="s3cret-token-for-tests", require_token=True
    )
    try:
        with pytest.raises(ServiceUnavailable, match="401"):
            await Observatory(running.url, token="").connect()
        async with Observatory(running.url, token="s3cret-token-for-tests") as obs:
            assert "camera" in await obs.roles()
    finally:
        await running.stop()


async def test_sync_wrapper_blocks_until_the_answer(running_service: RunningService) -> None:
    await running_service.service.roles.assign("filter_wheel", WHEEL)

    def script() -> tuple[list, dict]:
        with SyncObservatory(running_service.url) as obs:
            return obs.filter_wheel.filters(), obs.call("filter_wheel.current")

    filters, current = await asyncio.to_thread(script)
    assert filters[0]["slot"] == 1 and "slot" in current


def test_sync_wrapper_lists_the_typed_calls() -> None:
    """dir(), help() and editors' completion see the verbs, as on Observatory."""
    obs = SyncObservatory(f"http://127.0.0.1:{free_port()}")  # not connected
    try:
        assert {"goto", "park", "abort", "center"} <= set(dir(obs.telescope))
        assert {"expose", "solve"} <= set(dir(obs.camera))
        assert {"discover", "download", "actions", "call", "telescope"} <= set(dir(obs))
        params = inspect.signature(obs.telescope.goto).parameters
        assert list(params)[:3] == ["ra", "dec", "epoch"]
        assert not inspect.iscoroutinefunction(obs.telescope.goto)
        assert obs.telescope.goto.__doc__ == TelescopeMethods.goto.__doc__
    finally:
        obs.close()


def test_library_imports_nothing_server_side() -> None:
    code = (
        "import sys, indiws.remote, indiws.remote.runner, indiws.remote.cli;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'tornado'"
        " or m in ('indiws.client', 'indiws.service', 'indiws.protocol')"
        " or m.startswith(('indiws.web', 'indiws.devices', 'indiws.manager'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
