"""The examples of README.md and docs/ run as written, after the README's
set-up (``source .venv/bin/activate`` in the project's folder).

A fenced block preceded by one of these comments is an example:

- ``<!-- example -->``: a shell block (``sh``) or a ``console`` block (its
  ``$ `` lines, with their ``\\`` continuations) run in bash after the
  README's ``source .venv/bin/activate``;
- ``<!-- example: service -->``: the same, with a service running: the test
  starts one as ``make run`` does (its own indiserver with the four
  simulators and their roles), on free ports, and the docs' address
  ``localhost:7999`` / ``127.0.0.1:7999`` is changed to its port;
- ``<!-- example: file NAME -->``: the block is saved as NAME (a plan, a
  Python script) for the examples after it.

The examples of one file run in order in one folder (the README's in the
project's folder, the others in a temporary one).  A command must end with
status 0 and answer no error (a JSON ``error`` object, ``Wrong device
name!``).  The test service has no horizon (``min_altitude`` None): the
first session's goto to M42 must not depend on the hour; its mount is
parked where M42 stands when the service starts, so that the session's
goto and park are short and neither crosses the meridian, whatever the
hour (the telescope simulator's pier flip is a 30 s slew).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from astropy.io import fits

from indiws.devices import Telescope
from indiws.testing import RunningService, start_embedded_service

ROOT = Path(__file__).resolve().parent.parent
ACTIVATE = Path(sys.executable).parent / "activate"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = re.compile(r"^<!-- example(?::\s*(service|file\s+(\S+)))?\s*-->$")
FENCE = re.compile(r"^```(\w*)")


@dataclass
class Example:
    path: Path
    line: int
    lang: str
    text: str
    service: bool = False
    file: str | None = None

    def commands(self) -> list[str]:
        if self.lang != "console":
            return [self.text]
        out: list[str] = []
        lines = iter(self.text.splitlines())
        for line in lines:
            if not line.startswith("$ "):
                continue  # the output shown
            command = line[2:]
            while command.endswith("\\"):
                command += "\n" + next(lines)  # bash reads the continuation
            out.append(command)
        return out


SCOPE = "Telescope Simulator"
#: Where the first session's goto goes (docs/client.md): M42, J2000.
M42 = (5.588, -5.391)


async def _park_at_m42(service: RunningService) -> None:
    """The service's mount parked where M42 stands now (a sync, then the
    park position set there: nothing slews far)."""
    client = service.service.client
    for _ in range(150):
        device = client.devices.get(SCOPE)
        if device is not None and device.connected and "TELESCOPE_PARK" in device.properties:
            break
        await asyncio.sleep(0.1)
    scope = Telescope(client, SCOPE)
    if (await scope.position()).get("parked"):
        await scope.unpark()
    await scope.sync(*M42)
    await scope.set_park_position("current")
    await scope.park()


def examples(path: Path) -> Iterator[Example]:
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        mark = MARK.match(line.strip())
        if not mark or n + 1 >= len(lines):
            continue
        fence = FENCE.match(lines[n + 1])
        assert fence, f"{path.name}:{n + 1}: an example mark must stand right before a fence"
        end = next(i for i in range(n + 2, len(lines)) if lines[i].startswith("```"))
        yield Example(
            path,
            n + 2,
            fence.group(1),
            "\n".join(lines[n + 2 : end]) + "\n",
            service=mark.group(1) == "service",
            file=mark.group(2),
        )


def _documented() -> list[Path]:
    return [path for path in DOCS if any(examples(path))]


def test_the_readme_says_how_to_enter_the_environment_and_the_docs_have_examples() -> None:
    readme = list(examples(ROOT / "README.md"))
    assert any("source .venv/bin/activate" in e.text for e in readme), "README: no set-up"
    names = {p.name for p in _documented()}
    # The newcomer's path: the first Python session, a plan's dry run, curl.
    assert {"README.md", "client.md", "sequences.md", "http.md"} <= names, names
    client = list(examples(ROOT / "docs" / "client.md"))
    assert any(e.file == "first_session.py" for e in client)
    assert any("python3 first_session.py" in e.text for e in client)


def _refused(output: str) -> str | None:
    """The error an answer carries, if any."""
    if "Wrong device name!" in output or "Traceback (most recent call last)" in output:
        return output
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "error" in value:
            return line
    return None


def _to(service: RunningService | None, text: str) -> str:
    """The docs' address of the service changed to the test service's."""
    if service is None:
        return text
    return re.sub(r"(localhost|127\.0\.0\.1):7999", f"127.0.0.1:{service.port}", text)


async def _run(example: Example, command: str, cwd: Path, service: RunningService | None) -> str:
    command = _to(service, command)
    activate = "source .venv/bin/activate" if cwd == ROOT else f"source '{ACTIVATE}'"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "INDIWS_URL")}
    # A shell as a newcomer has it: the project's environment not active yet.
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != ACTIVATE.parent
    )
    # Not blocking: the service under test runs in this event loop.
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"set -e\n{activate}\n{command}",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    stdout, stderr = out.decode(), err.decode()
    where = f"{example.path.name}:{example.line}: {command!r}"
    assert proc.returncode == 0, f"{where} ended {proc.returncode}:\n{stdout}\n{stderr}"
    refused = _refused(stdout)
    assert refused is None, f"{where} answered an error: {refused}"
    return stdout


@pytest.mark.parametrize("doc", _documented(), ids=lambda p: p.name)
async def test_the_examples_run_as_written(doc: Path, tmp_path: Path) -> None:
    work = ROOT if doc.name == "README.md" else tmp_path / "work"
    work.mkdir(exist_ok=True)
    todo = list(examples(doc))
    service = None
    if any(e.service for e in todo):
        service = await start_embedded_service(tmp_path / "service")
    try:
        if service is not None:
            await _park_at_m42(service)
        for example in todo:
            if example.file is not None:
                (work / example.file).write_text(_to(service, example.text))
                continue
            assert example.lang in ("sh", "console"), f"{doc.name}:{example.line}: {example.lang}"
            for command in example.commands():
                await _run(example, command, work, service if example.service else None)
    finally:
        if service is not None:
            await service.stop()
    if doc.name == "client.md":
        # The first session's frame names what it shows.
        with fits.open(work / "m42-red.fits") as hdul:
            assert hdul[0].header["OBJECT"] == "M42"
            assert hdul[0].header["FILTER"] == "Red"
