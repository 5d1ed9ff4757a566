"""The guider card's autoguiding in a real browser: start guiding from the
card against the simulators (the "Observatory" profile, in its own
process), and see the graph get points, the RMS appear and the star's
cutout load.  The page must end without a console error.

The guide settings that make the simulators guide well are in the
service's data directory before it starts (guiding.json), as a user's
would be after a `guiding.configure`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from guiding_support import GUIDE_SETTINGS, quicken_guide_camera_at
from playwright.sync_api import Page, expect, sync_playwright
from test_panel_browser import ConsoleWatch

from indiws.browser_testing import ServiceProcess, launch_chromium

pytestmark = pytest.mark.slow


def prepare(workdir: Path) -> Path:
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "guiding.json").write_text(json.dumps({"settings": GUIDE_SETTINGS}))
    return workdir


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    workdir = prepare(tmp_path_factory.mktemp("panel-guiding"))
    service = ServiceProcess(workdir, "--profile", "Observatory").start()
    try:
        service.until_the_weather_reads()
        quicken_guide_camera_at(service.indi_port)
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def page(svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path_factory.mktemp("chromium-guiding"))
        try:
            p = context.new_page()
            p.set_default_timeout(15_000)
            watch = ConsoleWatch(p)
            # A star cutout asked for just as the guider stops finds no star.
            watch.allowed.append(r"status of 404")
            p.goto(f"{svc.url}/#imaging")
            expect(p.locator("#link")).to_have_attribute("data-state", "Ok")
            yield p
            assert not watch.unexpected(), "console errors: " + "\n".join(watch.unexpected())
        finally:
            context.close()


def point_mount(page: Page) -> None:
    """Unpark, sync on a field with stars and track, from the telescope card
    (a sync, not a goto: the slew from the park position is not what this
    module tests, and at some hours it is a 30 s pier flip; the card's goto:
    test_panel_browser.py)."""
    scope = page.locator('section.card[data-role="telescope"]')
    expect(scope).to_be_visible(timeout=30_000)
    if page.locator('output[data-read="telescope.parked"]').text_content() != "no":
        scope.locator('button[data-action="unpark"]').click()
        expect(page.locator('output[data-read="telescope.parked"]')).to_have_text(
            "no", timeout=30_000
        )
    scope.locator('input[data-input="ra"]').fill("5:35:17")
    scope.locator('input[data-input="dec"]').fill("20")
    scope.get_by_role("button", name="Sync", exact=True).click()
    expect(
        page.locator("ol.actions-log li[data-outcome=ok] strong", has_text="telescope.sync")
    ).to_be_visible(timeout=30_000)
    tracking = page.locator('output[data-read="telescope.tracking"]')
    if tracking.text_content() != "yes":
        scope.locator('button[data-action="tracking"]').click()
        expect(tracking).to_have_text("yes", timeout=30_000)


def test_guiding_from_the_guider_card(page: Page) -> None:
    point_mount(page)
    guider = page.locator('section.card[data-role="guider"]')
    expect(guider.locator('[data-part="guiding"]')).to_be_visible()
    expect(guider.locator('output[data-read="guiding.state"]')).to_have_text("Stopped")
    guider.locator('input[data-input="settle-pixels"]').fill("2.5")
    guider.locator('input[data-input="settle-time"]').fill("3")
    guider.locator('input[data-input="settle-timeout"]').fill("90")
    guider.locator('button[data-action="guiding-start"]').click()
    # Calibration first (no calibration is kept yet), then guiding.
    expect(guider.locator('output[data-read="guiding.state"]')).to_contain_text(
        "Calibrating", timeout=60_000
    )
    expect(guider.locator('output[data-read="guiding.calibrated"]')).to_have_text(
        "yes", timeout=240_000
    )
    expect(guider.locator('output[data-read="guiding.state"]')).to_contain_text(
        "Guiding", timeout=60_000
    )
    graph = guider.locator('canvas[data-graph="guiding"]')
    expect(graph).not_to_have_attribute("data-points", "0", timeout=30_000)
    page.wait_for_function(
        "() => Number(document.querySelector('canvas[data-graph=guiding]').dataset.points) >= 3",
        timeout=60_000,
    )
    # The RMS in pixels and arcseconds, from the periodic status.
    expect(guider.locator('output[data-read="guiding.rms_ra"]')).to_contain_text(
        "px", timeout=30_000
    )
    expect(guider.locator('output[data-read="guiding.rms_total"]')).to_contain_text("″")
    page.wait_for_function(
        "() => { const i = document.querySelector('img[data-star=guiding]');"
        " return i && !i.hidden && i.complete && i.naturalWidth >= 60; }",
        timeout=30_000,
    )
    expect(page.get_by_text("guiding.start: settled")).to_be_visible(timeout=120_000)


def test_dither_and_stop_from_the_card(page: Page) -> None:
    guider = page.locator('section.card[data-role="guider"]')
    guider.locator('input[data-input="dither-amount"]').fill("2")
    guider.locator('button[data-action="guiding-dither"]').click()
    expect(page.get_by_text("guiding.dither: settled")).to_be_visible(timeout=120_000)
    guider.locator('button[data-action="guiding-stop"]').click()
    expect(guider.locator('output[data-read="guiding.state"]')).to_have_text(
        "Stopped", timeout=30_000
    )
