"""The ``indiws`` command line: its help, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indiws.__main__ import build_parser
from indiws.testing import IndiServerProcess, free_port

#: The options the service has promised since its first release.
CORE_OPTIONS = ("--indi-host", "--indi-port", "--host", "--port", "--data-dir", "--log-level")


def test_help_explains_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "indiws", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert out.startswith("usage: indiws")
    flat = " ".join(out.split())  # argparse wraps help text
    for option in CORE_OPTIONS:
        assert option in out, option
    for action in build_parser()._actions:
        if not action.option_strings:
            continue
        assert action.help and action.help.strip(), f"{action.option_strings} has no help"
        first_words = " ".join(action.help.split()[:3]).split("%(")[0]
        assert first_words in flat, f"help of {action.option_strings[0]} not shown"
        assert action.option_strings[-1] in out


def _devices(url: str) -> list[dict] | None:
    try:
        with urllib.request.urlopen(url + "/get/all/devices/", timeout=2) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_service_cleanly(
    sig: signal.Signals, indiserver: IndiServerProcess, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "indiws.log"
    cmd = [
        sys.executable,
        "-m",
        "indiws",
        "--indi-port",
        str(indiserver.port),
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        devices = None
        while time.monotonic() < deadline and proc.poll() is None:
            devices = _devices(url)
            if devices is not None and len(devices) == 4:
                break
            time.sleep(0.1)
        assert devices is not None and len(devices) == 4, log_path.read_text()
        proc.send_signal(sig)
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert output.rstrip().endswith("stopped"), output
    assert "Traceback" not in output, output
    assert (tmp_path / "data").is_dir()
