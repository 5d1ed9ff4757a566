"""The panel's imaging view in a real browser (Debian's chromium through
Playwright) against the service with the simulators: laid out for the work
(the camera's Expose with the filter wheel and the focuser beside it, the
roles folded into one line), at 1280 px and at a phone's width; an absent
role's device named; the preview saying when its frame was taken; the
camera's frame-name field saying what it does."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from indiws.browser_testing import ServiceProcess, launch_chromium
from indiws.testing import service_without_indiserver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("panel-imaging")).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path_factory.mktemp("chromium"))
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    p = browser.new_page()
    p.set_default_timeout(15_000)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield p
        assert not errors, errors
    finally:
        p.close()


def api(svc: ServiceProcess, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        svc.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def _open(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#imaging")
    camera = page.locator('section.card[data-role="camera"]')
    expect(camera.locator('[data-role-device="camera"]')).to_have_text("CCD Simulator")


def test_expose_filter_and_focuser_are_together_in_the_first_screen(
    page: Page, svc: ServiceProcess, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    _open(page, svc)
    expose = page.locator('section.card[data-role="camera"] button[data-action="expose"]')
    wheel = page.locator('section.card[data-role="filter_wheel"]')
    focuser = page.locator('section.card[data-role="focuser"]')
    for element in (expose, wheel.locator("select"), focuser.get_by_role("button", name="Out")):
        box = element.bounding_box()
        assert box is not None and box["y"] + box["height"] < 900, (element, box)
    # Beside the camera, not under a table of every role.
    expose_box, wheel_box = expose.bounding_box(), wheel.bounding_box()
    assert expose_box and wheel_box and abs(wheel_box["y"] - expose_box["y"]) < 300
    roles = page.locator('[data-card="roles"]')
    expect(roles.locator("[data-roles-line]")).to_contain_text("CCD Simulator")
    expect(page.locator('tr[data-role-row="gps"]')).to_be_hidden()
    roles.locator("summary").click()
    expect(page.locator('tr[data-role-row="gps"]')).to_be_visible()
    page.screenshot(path=str(tmp_path / "imaging-1280.png"), full_page=True)


def test_the_frame_name_field_and_when_the_preview_was_taken(
    page: Page, svc: ServiceProcess
) -> None:
    _open(page, svc)
    camera = page.locator('section.card[data-role="camera"]')
    name = camera.locator("label.object-field")
    expect(name).to_contain_text("Frame name (OBJECT)")
    expect(name).to_contain_text("does not move the mount")
    camera.locator('input[data-input="camera-object"]').fill("M42")
    camera.locator('input[data-input="duration"]').fill("1")
    camera.locator('button[data-action="expose"]').click()
    expect(camera.locator('[data-progress-text="camera"]')).to_have_text(
        "frame stored", timeout=30_000
    )
    expect(camera.locator("[data-taken=camera]")).to_contain_text("(just now)")
    # On the next visit the preview shows the stored frame and says it is that.
    page.reload()
    taken = page.locator('section.card[data-role="camera"] [data-taken=camera]')
    expect(taken).to_contain_text("M42: the newest stored frame, taken ")
    page.evaluate("localStorage.removeItem('indiws.object')")


def test_a_role_whose_device_is_absent_names_it(page: Page, svc: ServiceProcess) -> None:
    api(svc, "POST", "/api/drivers/stop/Filter%20Simulator")
    try:
        _open(page, svc)
        chip = page.locator('[data-role-chip="filter_wheel"]')
        expect(chip).to_contain_text("Filter Simulator (absent)")
        expect(chip).to_have_attribute("data-kind", "absent")
        card = page.locator('section.card[data-role="filter_wheel"]')
        expect(card.locator('[data-role-device="filter_wheel"]')).to_have_text(
            "Filter Simulator (absent)"
        )
        page.locator('[data-card="roles"] summary').click()
        select = page.locator('select[data-assign="filter_wheel"]')
        chosen = select.evaluate("s => s.selectedOptions[0].textContent")
        assert chosen == "Filter Simulator (absent)", chosen
        expect(page.locator('tr[data-role-row="filter_wheel"] .pill')).to_have_text("absent")
    finally:
        api(svc, "POST", "/api/drivers/start/Filter%20Simulator")


def test_on_a_phone_nothing_runs_off_the_side_and_expose_comes_early(
    browser: Any, svc: ServiceProcess, tmp_path: Path
) -> None:
    phone = browser.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    try:
        _open(phone, svc)
        width = phone.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, width
        expose = phone.locator('section.card[data-role="camera"] button[data-action="expose"]')
        box = expose.bounding_box()
        assert box is not None and box["y"] < 844, box  # in the first screen
        phone.screenshot(path=str(tmp_path / "imaging-phone.png"), full_page=True)
    finally:
        phone.close()


def test_the_header_names_an_unreachable_indiserver_and_why(browser: Any, tmp_path: Path) -> None:
    with service_without_indiserver(tmp_path) as (url, closed, _):
        page = browser.new_page()
        try:
            page.goto(url + "/#devices")
            link = page.locator("#link")
            expect(link).to_contain_text(
                f"indiserver 127.0.0.1:{closed} unreachable", timeout=20_000
            )
            expect(link).to_contain_text(re.compile("refused|Connect call failed"))
            expect(link).to_have_attribute("data-state", "Alert")
            expect(page.locator("#view-devices")).to_contain_text(
                f"the service cannot reach indiserver at 127.0.0.1:{closed}"
            )
        finally:
            page.close()
