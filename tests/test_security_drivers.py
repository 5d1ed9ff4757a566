"""Which programs a driver start may run: only the drivers INDI's catalog (or
the operator, on the command line) names, by the bare name of their program;
and nothing that could break a line of indiserver's FIFO ever reaches it.

Every refusal is checked the way a user would: the answer is a 4xx JSON error
naming the value, the program did not run (the file a script would touch is
not there), no line went to the FIFO, no driver was added to the listing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tornado.httpclient import AsyncHTTPClient

from indiws.manager import (
    DriverError,
    DriverState,
    IndiServerSupervisor,
    InvalidDriverNameError,
)
from indiws.service import Config, Service
from indiws.testing import RunningService, free_port
from indiws.web.app import make_app

SIMULATORS = {"Telescope Simulator", "CCD Simulator", "Focuser Simulator", "Filter Simulator"}
SIM_EXECUTABLES = {
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_focus",
    "indi_simulator_wheel",
}

Factory = Callable[..., Awaitable[RunningService]]


async def call(rs: RunningService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; a str ``body`` is sent as is, with a text/plain type (what a
    page can send cross-site without a preflight), anything else as JSON."""
    if isinstance(body, str):
        payload, ctype = body.encode(), "text/plain"
    else:
        payload = b"" if body is None else json.dumps(body).encode()
        ctype = "application/json"
    resp = await AsyncHTTPClient().fetch(
        rs.url + path,
        method=method,
        body=payload if method in ("POST", "PUT") else None,
        headers={"Content-Type": ctype},
        raise_error=False,
        request_timeout=30,
    )
    return resp.code, json.loads(resp.body) if resp.body else None


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Factory]:
    """Start the service with its own indiserver (the four simulators)."""
    running: list[RunningService] = []

    async def start(**config: Any) -> RunningService:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = {"HOME": str(home), **config.pop("indiserver_env", {})}
        cfg = Config(
            indi_host=None,
            host="127.0.0.1",
            port=free_port(),
            data_dir=tmp_path / "data",
            embedded_indi_port=free_port(),
            indiserver_env=env,
            **config,
        )
        service = Service(cfg)
        server = make_app(service).listen(cfg.port, "127.0.0.1")
        rs = RunningService(service, server, cfg.port)
        running.append(rs)
        await service.start()
        deadline = time.monotonic() + 15
        while not SIMULATORS <= set(service.client.devices):
            assert time.monotonic() < deadline, "simulators did not come up"
            await asyncio.sleep(0.05)
        return rs

    yield start
    for rs in running:
        await rs.stop()


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    """A script that would leave a file behind if it ever ran, and that file."""
    marker = tmp_path / "PWNED"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "x.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    return script, marker


def fifo_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every line the supervisor wrote to indiserver's FIFO."""
    return [
        r.getMessage().removeprefix("FIFO <- ")
        for r in caplog.records
        if r.name == "indiws.manager.server" and r.getMessage().startswith("FIFO <- ")
    ]


def assert_nothing_ran(rs: RunningService, marker: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert not marker.exists(), "the script ran"
    assert fifo_lines(caplog) == [], "a line reached the FIFO"
    supervisor = rs.service.supervisor
    assert supervisor is not None
    assert {d.executable for d in supervisor.drivers()} == SIM_EXECUTABLES
    assert {d.name for d in supervisor.drivers()} == {None}
    assert set(rs.service.client.devices) == SIMULATORS


async def test_forbidden_executables_are_refused_before_anything_runs(
    embedded: Factory, evil: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    script, marker = evil
    # The script's folder is even on indiserver's PATH: being found is not enough.
    path = f"{script.parent}:{os.environ['PATH']}"
    rs = await embedded(indiserver_env={"PATH": path})
    caplog.set_level(logging.DEBUG, logger="indiws")
    climb = "../" * len(Path.cwd().parts) + str(script).lstrip("/")
    for executable in (
        str(script),
        climb,
        "x.sh",
        "sh",
        "/bin/touch",
        "touch",
        "indi_getprop",  # an INDI tool, not a driver the catalog lists
    ):
        for body in (
            json.dumps({"executable": executable}),  # text/plain: no CORS preflight
            {"executable": executable, "name": "Wheel Two"},
        ):
            status, answer = await call(rs, "POST", "/api/v1/drivers/start", body)
            assert (status, answer["error"]["code"]) == (403, "driver_not_allowed"), answer
            assert repr(executable) in answer["error"]["message"]
        status, answer = await call(
            rs, "POST", "/api/v1/drivers/restart", {"executable": executable}
        )
        assert status == 403, answer
        # Nor through a profile that would start it later.
        profile = {"name": "Evil", "drivers": [executable]}
        status, answer = await call(rs, "POST", "/api/v1/profiles", profile)
        assert (status, answer["error"]["code"]) == (403, "driver_not_allowed"), answer
    # How to add a driver the catalog lacks is said, for a program name.
    _, answer = await call(rs, "POST", "/api/v1/drivers/start", {"executable": "sh"})
    assert "--custom-driver 'LABEL=sh'" in answer["error"]["message"]
    # An HTTP client cannot register a new program as a custom driver either.
    custom = {"Label": "Evil", "Exec": str(script)}
    status, answer = await call(rs, "POST", "/api/profiles/custom/add", custom)
    assert (status, answer["error"]["code"]) == (403, "driver_not_allowed"), answer
    status, answer = await call(rs, "POST", "/api/profiles/custom/add", {**custom, "Exec": "x.sh"})
    assert status == 403 and "--custom-driver" in answer["detail"]
    status, _ = await call(rs, "POST", "/api/drivers/start/Evil")
    assert status == 404
    # A profile stored by an older version that checked less: its start refuses
    # the program all the same (the supervisor asks the policy before each start).
    rs.service.db.create_profile("Old", drivers=[str(script), "x.sh"])
    status, answer = await call(rs, "POST", "/api/v1/profiles/Old/start", {"replace": False})
    assert (status, answer["error"]["code"]) == (502, "profile_start_failed"), answer
    assert "not allowed" in answer["error"]["message"]
    await asyncio.sleep(0.3)  # a started script would have run by now
    assert_nothing_ran(rs, marker, caplog)
    assert rs.service.db.get_profile("Evil") is None


@pytest.mark.parametrize("bad", ["\n", "\r", "\x00", '"', "\x1b", "\u2028"])
async def test_labels_and_names_that_would_break_a_fifo_line_are_400(
    embedded: Factory, evil: tuple[Path, Path], caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    rs = await embedded()
    caplog.set_level(logging.DEBUG, logger="indiws")
    label = f"Dome Simulator{bad}start indi_simulator_rotator"
    requests: list[tuple[str, Any]] = [
        (f"/api/drivers/start/{quote(label)}", None),
        (f"/api/drivers/restart/{quote(label)}", None),
        (f"/api/drivers/start/{quote('CCD Simulator' + bad + 'start indi_simulator_dome')}", None),
        ("/api/v1/drivers/start", {"label": label}),
        ("/api/v1/drivers/start", json.dumps({"label": label})),
        ("/api/v1/drivers/start", {"executable": "indi_simulator_dome", "name": label}),
        ("/api/v1/drivers/start", {"executable": f"indi_simulator_dome{bad}"}),
        ("/api/profiles/Evil/drivers", [{"label": label}]),
        ("/api/profiles/Evil/drivers", [{"remote": f"Dome{bad}@localhost:7624"}]),
        ("/api/v1/profiles", {"name": "Evil", "drivers": [{"label": label}]}),
        (
            "/api/v1/profiles",
            {"name": "Evil", "drivers": [{"executable": "indi_simulator_dome", "name": label}]},
        ),
        ("/api/profiles/custom/add", {"Label": label, "Exec": "indi_simulator_dome"}),
    ]
    for path, body in requests:
        status, answer = await call(rs, "POST", path, body)
        assert (status, answer["error"]["code"]) in ((400, "invalid_params"),), (path, answer)
        # The answer names the value (as Python writes it, escapes and all).
        assert repr(bad)[1:-1] in answer["error"]["message"], (path, answer)
    await asyncio.sleep(0.3)
    assert_nothing_ran(rs, evil[1], caplog)
    assert rs.service.db.get_profile("Evil") is None
    assert "Dome Simulator" not in rs.service.client.devices


async def test_remote_specs_only_where_the_api_takes_one(
    embedded: Factory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    rs = await embedded()
    caplog.set_level(logging.DEBUG, logger="indiws")
    unreachable = f"Dome Simulator@127.0.0.1:{free_port()}"
    for path, body in (
        (f"/api/drivers/start/{quote(unreachable)}", None),
        (f"/api/drivers/restart/{quote(unreachable)}", None),
        ("/api/v1/drivers/start", {"label": unreachable}),
        ("/api/profiles/Evil/drivers", [{"label": unreachable}]),
    ):
        status, answer = await call(rs, "POST", path, body)
        assert (status, answer["error"]["code"]) == (400, "invalid_params"), (path, answer)
        assert "start_remote" in answer["error"]["message"]
    # A malformed remote spec is refused where one is taken.
    for spec in ("Dome@", "Dome@host:99999", "Dome@ho st", "@host", "Dome@a@b"):
        status, answer = await call(rs, "POST", f"/api/drivers/start_remote/{quote(spec)}")
        assert status == 400, (spec, answer)
        status, _ = await call(rs, "POST", "/api/profiles/Evil/drivers", [{"remote": spec}])
        assert status == 400, spec
    assert fifo_lines(caplog) == []
    # Where it is taken, it still works (the chained server must answer first).
    status, answer = await call(rs, "POST", f"/api/drivers/start_remote/{quote(unreachable)}")
    assert (status, answer["error"]["code"]) == (409, "driver_error"), answer
    status, _ = await call(rs, "POST", "/api/profiles/Fine/drivers", [{"remote": unreachable}])
    assert status == 200


async def test_catalog_drivers_still_start(embedded: Factory) -> None:
    rs = await embedded()
    status, answer = await call(rs, "POST", "/api/drivers/start/Dome%20Simulator")
    assert status == 200, answer
    assert "Dome Simulator" in rs.service.client.devices
    body = {"executable": "indi_simulator_wheel", "name": "Wheel Two"}
    status, answer = await call(rs, "POST", "/api/v1/drivers/start", json.dumps(body))
    assert status == 200 and answer["state"] == "running", answer
    assert "Wheel Two" in rs.service.client.devices
    status, answer = await call(rs, "POST", "/api/v1/drivers/start", {"label": "Rotator Simulator"})
    assert status == 200 and "Rotator Simulator" in rs.service.client.devices


async def test_the_operator_names_a_driver_the_catalog_lacks(
    embedded: Factory, tmp_path: Path
) -> None:
    # A driver program the catalog does not list (here: the wheel simulator
    # under another name), installed in a folder on PATH.
    bin_dir = tmp_path / "opt-bin"
    bin_dir.mkdir()
    wheel = shutil.which("indi_simulator_wheel")
    assert wheel is not None
    (bin_dir / "indi_my_wheel").symlink_to(wheel)
    path = f"{bin_dir}:{os.environ['PATH']}"
    rs = await embedded(
        indiserver_env={"PATH": path}, custom_drivers=(("My Wheel", "indi_my_wheel"),)
    )
    status, answer = await call(rs, "POST", "/api/drivers/start/My%20Wheel")
    assert status == 200, answer
    assert rs.service.client.devices["My Wheel"].driver_info["DRIVER_EXEC"] == "indi_my_wheel"
    listed = {d["label"]: d for d in (await call(rs, "GET", "/api/drivers"))[1]}
    assert listed["My Wheel"]["custom"] is True


async def test_an_unlisted_driver_on_path_is_refused_without_the_operator(
    embedded: Factory, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "opt-bin"
    bin_dir.mkdir()
    wheel = shutil.which("indi_simulator_wheel")
    assert wheel is not None
    (bin_dir / "indi_my_wheel").symlink_to(wheel)
    rs = await embedded(indiserver_env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    status, answer = await call(
        rs, "POST", "/api/v1/drivers/start", {"executable": "indi_my_wheel"}
    )
    assert (status, answer["error"]["code"]) == (403, "driver_not_allowed")
    assert "--custom-driver 'LABEL=indi_my_wheel'" in answer["error"]["message"]


# ----------------------------------------------- the supervisor, last line of defence


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[IndiServerSupervisor]:
    home = tmp_path / "home"
    home.mkdir()
    sup = IndiServerSupervisor(free_port(), run_dir=tmp_path / "run", env={"HOME": str(home)})
    await sup.start()
    yield sup
    await sup.stop()


async def test_the_fifo_writer_refuses_any_line_that_is_not_one_command(
    supervisor: IndiServerSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="indiws")
    for name in ('Wheel"\nstart indi_simulator_dome', "Wheel\rTwo", "Wheel\x00", 'a" -c "/etc'):
        with pytest.raises(InvalidDriverNameError, match="must not contain"):
            await supervisor.start_driver("indi_simulator_wheel", name)
    for executable in ("/bin/touch", "../x", "indi_simulator_dome\nstart sh", "a b"):
        with pytest.raises(DriverError):
            await supervisor.start_driver(executable)
    # Even a line built by hand does not get through.
    for line in ("start indi_simulator_dome\nstart sh", 'start x -n "a"b"', "start sh\x00"):
        with pytest.raises(InvalidDriverNameError, match="refusing to write"):
            await supervisor._fifo_write(line)
    assert fifo_lines(caplog) == []
    assert supervisor.drivers() == []
    # A well-formed start still goes through, quoted.
    await supervisor.start_driver("indi_simulator_wheel", "Wheel 'Two'")
    assert fifo_lines(caplog) == ["start indi_simulator_wheel -n \"Wheel 'Two'\""]


# ---------------------------------------------------- a crashed driver's last_error


async def test_crashed_driver_last_error_is_its_own_line(
    supervisor: IndiServerSupervisor, tmp_path: Path
) -> None:
    # The CCD simulator logs "snooping on ..." lines (indiserver's, not its own)
    # and the telescope simulator prints a line of its own at start.
    await supervisor.start_driver("indi_simulator_telescope")
    ccd = await supervisor.start_driver("indi_simulator_ccd")
    await asyncio.sleep(0.5)
    assert ccd.pid is not None
    os.kill(ccd.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while ccd.state is not DriverState.CRASHED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert ccd.last_error == (
        "exited without an error message (indiserver: Terminated after #0 restarts.)"
    )


async def test_a_driver_that_dies_with_a_message_shows_that_message(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    driver = bin_dir / "indi_test_failing"
    # (indiserver 1.9.9 drops stderr it has not read yet when a driver's
    # output ends, hence the pause before the exit.)
    driver.write_text(
        "#!/bin/sh\necho 'starting up' >&2\nsleep 0.3\n"
        "echo 'cannot open /dev/ttyUSB9: No such file or directory' >&2\nsleep 0.3\nexit 1\n"
    )
    driver.chmod(0o755)
    env = {"HOME": str(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    async with IndiServerSupervisor(free_port(), run_dir=tmp_path / "run", env=env) as sup:
        await sup.start_driver("indi_simulator_wheel")
        failing = await sup.start_driver("indi_test_failing")
        deadline = time.monotonic() + 5
        while failing.state is not DriverState.CRASHED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert failing.last_error == "cannot open /dev/ttyUSB9: No such file or directory"
        # Restarted, it starts from a clean slate: the old line is not its error.
        again = await sup.restart_driver("indi_test_failing")
        assert again.last_error is None
