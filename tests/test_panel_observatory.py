"""The panel's observatory cards and safety banner in a real browser, against
the embedded "Observatory" simulator profile (ten simulators, every role
assigned) in its own process.

One service, one browser and one page serve the module; the tests run in
file order (the dome opened by the first is closed by the safety policy in
the last).  Whether the page reached the devices is checked with INDI's own
``indi_getprop``.  The page must end without a console error.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_panel_browser import panel_page

from indiws.browser_testing import ServiceProcess, service_process

TOKEN = "obs-" + secrets.token_urlsafe(16)
WEATHER, DOME = "Weather Simulator", "Dome Simulator"
CARDS = ["dome", "rotator", "guider", "flat_panel", "weather", "gps"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("panel-observatory")
    args = ("--profile", "Observatory", "--require-token", "--token", TOKEN)
    with service_process(folder, *args) as service:
        service.until_the_weather_reads()  # the dome opens only once it is known safe
        yield service


@pytest.fixture(scope="module")
def page(svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    url = f"{svc.url}/?token={TOKEN}#imaging"
    with panel_page(tmp_path_factory.mktemp("chromium-observatory"), url) as p:
        yield p


def getprop(svc: ServiceProcess, spec: str) -> str:
    out = subprocess.run(
        ["indi_getprop", "-p", str(svc.indi_port), "-1", spec],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip()


def wait_getprop(svc: ServiceProcess, spec: str, wanted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    value = ""
    while time.monotonic() < deadline:
        value = getprop(svc, spec)
        if value == wanted:
            return
        time.sleep(0.2)
    raise AssertionError(f"{spec}: wanted {wanted}, indi_getprop says {value!r}")


def set_weather(svc: ServiceProcess, precipitation: float) -> None:
    """The weather simulator's rain reading, read at once."""
    for spec in (
        f"{WEATHER}.WEATHER_CONTROL.Precip={precipitation}",
        f"{WEATHER}.WEATHER_REFRESH.REFRESH=On",
    ):
        subprocess.run(["indi_setprop", "-p", str(svc.indi_port), spec], check=True, timeout=10)


def card(page: Page, role: str) -> Any:
    return page.locator(f'section.card[data-role="{role}"]')


def test_a_card_for_each_observatory_role_and_the_dome_opens(
    page: Page, svc: ServiceProcess
) -> None:
    for role in CARDS:
        expect(card(page, role)).to_be_visible(timeout=30_000)
    # The generic card is not shown for roles that have their own.
    expect(page.locator(".extra-roles section.card")).to_have_count(0)
    dome = card(page, "dome")
    expect(dome.locator('[data-role-device="dome"]')).to_have_text(DOME)
    expect(page.locator("section.safety")).to_be_hidden(timeout=30_000)
    if page.locator('output[data-read="dome.parked"]').text_content() == "yes":
        dome.locator('button[data-action="dome-unpark"]').click()
        expect(page.locator('output[data-read="dome.parked"]')).to_have_text("no")
    dome.locator('button[data-action="dome-open"]').click()
    expect(page.locator('output[data-read="dome.shutter"]')).to_have_text("open", timeout=30_000)
    wait_getprop(svc, f"{DOME}.DOME_SHUTTER.SHUTTER_OPEN", "On")


def test_rotator_flat_panel_and_guider_from_the_page(page: Page, svc: ServiceProcess) -> None:
    rotator = card(page, "rotator")
    rotator.get_by_label("rotator angle (degrees)").fill("30")
    rotator.get_by_role("button", name="Move to").click()
    expect(page.locator('output[data-read="rotator.angle"]')).to_have_text("30.00°", timeout=30_000)
    assert float(getprop(svc, "Rotator Simulator.ABS_ROTATOR_ANGLE.ANGLE")) == 30

    panel = card(page, "flat_panel")
    panel.locator('input[data-input="brightness"]').fill("128")
    panel.get_by_role("button", name="Set", exact=True).click()
    panel.locator('button[data-action="light"]').click()
    expect(page.locator('output[data-read="flat_panel.light"]')).to_have_text("on")
    wait_getprop(svc, "Light Panel Simulator.FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON", "On")
    assert (
        float(getprop(svc, "Light Panel Simulator.FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE"))
        == 128
    )
    panel.locator('button[data-action="light"]').click()  # "Light off"
    wait_getprop(svc, "Light Panel Simulator.FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF", "On")

    guider = card(page, "guider")
    guider.locator('input[data-input="guider-duration"]').fill("0.5")
    guider.locator('button[data-action="guider-expose"]').click()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-preview=guider] img[data-frame]');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=20_000,
    )
    expect(guider.locator('[data-progress-text="guider"]')).to_have_text("frame stored")


def test_weather_parameters_show_their_state(page: Page) -> None:
    weather = card(page, "weather")
    expect(weather.locator(".weather-overall [data-weather]")).to_have_text("ok")
    rain = weather.locator('tr[data-param="WEATHER_RAIN_HOUR"]')
    expect(rain).to_be_visible()
    # The state is written out beside its colour.
    expect(rain.locator("[data-weather]")).to_have_text("ok")
    assert weather.locator("tbody tr").count() >= 3
    # Phone width: nothing scrolls sideways with the observatory's cards.
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        wide = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 0, f"the imaging view scrolls sideways by {wide} px at 390x844"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_safety_banner_follows_the_weather(page: Page, svc: ServiceProcess) -> None:
    banner = page.locator("section.safety")
    set_weather(svc, 10)
    try:
        expect(banner).to_be_visible(timeout=30_000)
        expect(banner).to_contain_text("WEATHER_RAIN_HOUR")
        expect(card(page, "weather").locator(".weather-overall [data-weather]")).to_have_text(
            "alert"
        )
        # The policy closes the dome; the page shows it, and the banner the outcome.
        expect(page.locator('output[data-read="dome.shutter"]')).to_have_text(
            "closed", timeout=60_000
        )
        expect(banner.locator(".safety-phase")).to_have_text("closed up", timeout=30_000)
        expect(banner.locator("ul.safety-actions")).to_contain_text("close_dome: done")
        # The banner is on every view.
        page.goto(svc.url + "/#devices")
        expect(banner).to_be_visible()
        page.goto(svc.url + "/#imaging")
        # Opening is refused while unsafe: the page asks before forcing it.
        card(page, "dome").locator('button[data-action="dome-open"]').click()
        confirm = page.locator("[data-confirm]")
        expect(confirm).to_contain_text("dome.open refused")
        expect(confirm.locator('button[data-action="force"]')).to_have_text("Force dome.open")
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_be_hidden()
        assert getprop(svc, f"{DOME}.DOME_SHUTTER.SHUTTER_CLOSE") == "On"
    finally:
        set_weather(svc, 0)
    expect(banner).to_be_hidden(timeout=30_000)
    expect(card(page, "weather").locator(".weather-overall [data-weather]")).to_have_text("ok")
