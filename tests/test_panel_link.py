"""The panel's link indicator in a real browser (Debian's chromium through
Playwright) when the service comes up before its indiserver: a page opened
then must show the link as soon as the service connects, as it does when a
lost indiserver comes back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from indiws.browser_testing import launch_chromium
from indiws.testing import NO_ALPACA, IndiServerProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def service_first(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`python -m indiws` pointed at an indiserver port where nothing
    listens yet: (its URL, that port)."""
    indi_port, port = free_port(), free_port()
    cmd = [sys.executable, "-m", "indiws", "--indi-port", str(indi_port), "--port", str(port)]
    cmd += ["--data-dir", str(tmp_path / "data"), "--phd2-port", "0", *NO_ALPACA]
    log_path = tmp_path / "indiws.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/get/all/devices/", timeout=2) as resp:
                    assert json.loads(resp.read()) == []
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        yield url, indi_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_page_opened_before_indiserver_shows_it_once_connected(
    service_first: tuple[str, int], tmp_path: Path
) -> None:
    url, indi_port = service_first
    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path / "chromium")
        try:
            page = context.new_page()
            page.goto(url + "/")
            link = page.locator("#link")
            expect(link).to_have_attribute("data-state", "Alert")
            expect(link).to_contain_text(f"indiserver localhost:{indi_port} unreachable")
            with IndiServerProcess(
                ["indi_simulator_telescope"], port=indi_port, workdir=tmp_path / "indi"
            ):
                expect(link).to_have_attribute("data-state", "Ok", timeout=30_000)
                expect(
                    page.locator('button.device[data-device="Telescope Simulator"]')
                ).to_be_visible(timeout=15_000)
        finally:
            context.close()
