"""The service in its own process and Debian's chromium, for the panel's
browser tests, its benchmark and its screenshots (docs/panel.md).

`ServiceProcess` runs ``python -m indiws`` in embedded mode (its own
indiserver with the four simulators) with its own ports, data directory and
drivers' HOME under one folder, and can restart it on the same ports: a page
open in the browser then sees the service go away and come back.

`launch_chromium` starts the system chromium through Playwright's Python
package; no browser is ever downloaded.  A missing chromium is an error
that says how to install it, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .testing import DEFAULT_SIMULATORS, NO_ALPACA, SIMULATOR_DEVICES, free_port

__all__ = [
    "CHROMIUM_ARGS",
    "ServiceProcess",
    "chromium_page",
    "chromium_path",
    "launch_chromium",
    "service_process",
]

#: Flags for a quiet headless chromium: no sandbox (root in CI), no network
#: of its own (updates, sync, QUIC).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system chromium; RuntimeError naming the fix when there is none."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "chromium not found (neither /usr/bin/chromium nor 'chromium' on PATH): the panel's "
        "browser tests need it; `make setup` installs Debian's chromium"
    )


def launch_chromium(playwright: Any, user_data_dir: Path | None = None) -> Any:
    """A persistent Playwright browser context of the system chromium, with an
    empty profile (a fresh temporary folder unless one is given)."""
    folder = user_data_dir or Path(tempfile.mkdtemp(prefix="indiws-chromium-"))
    return playwright.chromium.launch_persistent_context(
        str(folder),
        executable_path=chromium_path(),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
    )


@contextmanager
def chromium_page(user_data_dir: Path, timeout_ms: float = 15_000) -> Iterator[Any]:
    """A Playwright page of a fresh system chromium (nothing opened yet),
    with ``timeout_ms`` as its default timeout; the browser ends on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = launch_chromium(pw, user_data_dir)
        try:
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            context.close()


@contextmanager
def service_process(workdir: Path, *args: str) -> Iterator[ServiceProcess]:
    """A started `ServiceProcess` (``args`` as its command line's), stopped on exit."""
    service = ServiceProcess(workdir, *args).start()
    try:
        yield service
    finally:
        service.stop()


class ServiceProcess:
    """``indiws`` in embedded mode, in its own process."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.indi_port = free_port()
        self.args = list(args)
        if "--min-altitude" not in self.args:
            # The pages' gotos pick their targets without regard for the hour.
            self.args += ["--min-altitude", "none"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "indiws.log"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HOME=str(home))  # drivers write $HOME/.indi
        env.pop("INDIWS_TOKEN", None)
        cmd = [
            sys.executable,
            "-m",
            "indiws",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--embedded-indi-port",
            str(self.indi_port),
            "--data-dir",
            str(self.workdir / "data"),
            "--phd2-port",
            "0",  # not PHD2's fixed 4400: tests run side by side (``args`` may say otherwise)
            *NO_ALPACA,  # nor Alpaca's 11111 and 32227 (``args`` may say otherwise)
            *self.args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        wanted = {SIMULATOR_DEVICES[d] for d in DEFAULT_SIMULATORS}
        deadline = time.monotonic() + timeout
        headers = self._headers()
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"indiws exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                req = urllib.request.Request(self.url + "/get/all/devices/", headers=headers)
                with urllib.request.urlopen(req, timeout=2) as resp:
                    names = {d["device_name"] for d in json.loads(resp.read())}
                if wanted <= names:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"indiws did not show the simulators in {timeout} s:\n{self.log_tail()}")

    def until_the_weather_reads(self, timeout: float = 60.0) -> None:
        """Until the safety policy has an "ok" weather reading: the profile's
        drivers connect on their own time after start, and until the
        weather station reads, a goto or an unpark is refused as unsafe."""
        headers = self._headers()
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            try:
                req = urllib.request.Request(self.url + "/api/v1/safety", headers=headers)
                with urllib.request.urlopen(req, timeout=5) as resp:
                    state = json.loads(resp.read())["weather"]["state"]
                if state == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"no ok weather reading in {timeout} s (last: {state}):\n{self.log_tail()}"
        )

    def _headers(self) -> dict[str, str]:
        """The access token's header, when the service was given one."""
        token = self._token_arg()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _token_arg(self) -> str | None:
        if "--token" in self.args:
            return self.args[self.args.index("--token") + 1]
        return None

    def stop(self) -> None:
        """SIGTERM (the service stops indiserver and its drivers), then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same ports and data."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
