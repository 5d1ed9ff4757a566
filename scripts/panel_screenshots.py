"""Screenshots of the web control panel for docs/panel.md.

Starts the service in embedded mode (its own indiserver with the simulators),
drives Debian's chromium through Playwright, and writes PNGs into
docs/images/: the devices view, the imaging view with a frame, the server
view, the console, night mode and a phone's width; then, against the
"Observatory" simulator profile, the observatory's cards and the safety
banner with the weather set unsafe; and the guider card while it guides the
simulators (started from the card).

    .venv/bin/python scripts/panel_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from indiws.browser_testing import ServiceProcess, launch_chromium  # noqa: E402


def devices(
    page: Page, url: str, device: str = "Telescope Simulator", prop: str = "EQUATORIAL_EOD_COORD"
) -> None:
    page.goto(url + "/#devices")
    page.locator(f'button.device[data-device="{device}"]').click()
    page.locator('button.tab[data-group="Main Control"]').click()
    expect(page.locator(f'section.prop[data-prop="{prop}"]')).to_be_visible()


def imaging_with_frame(page: Page, url: str) -> None:
    page.goto(url + "/#imaging")
    camera = page.locator('section.card[data-role="camera"]')
    expect(camera.locator('[data-role-device="camera"]')).to_have_text("CCD Simulator")
    scope = page.locator('section.card[data-role="telescope"]')
    scope.locator('input[data-input="ra"]').fill("5:35:17")
    scope.locator('input[data-input="dec"]').fill("-5:23:28")
    scope.locator('button[data-action="goto"]').click()
    camera.locator('input[data-input="camera-object"]').fill("M42")
    camera.locator('input[data-input="duration"]').fill("1")
    camera.locator('button[data-action="expose"]').click()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-preview=camera] img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    expect(page.locator('ol.actions-log li[data-outcome="ok"]').first).to_be_visible()
    # From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
    page.evaluate("scrollTo(0, 0)")
    page.wait_for_timeout(500)


def set_rain(svc: ServiceProcess, mm: float) -> None:
    """The weather simulator's rain reading, read at once."""
    for spec in (
        f"Weather Simulator.WEATHER_CONTROL.Precip={mm}",
        "Weather Simulator.WEATHER_REFRESH.REFRESH=On",
    ):
        subprocess.run(["indi_setprop", "-p", str(svc.indi_port), spec], check=True, timeout=10)


def observatory(page: Page, url: str) -> None:
    """The imaging view's observatory cards after a few verbs from the page."""
    page.goto(url + "/#imaging")
    for role in ("dome", "rotator", "guider", "flat_panel", "weather", "gps"):
        expect(page.locator(f'section.card[data-role="{role}"]')).to_be_visible(timeout=30_000)
    expect(page.locator("section.safety")).to_be_hidden(timeout=30_000)
    dome = page.locator('section.card[data-role="dome"]')
    if page.locator('output[data-read="dome.parked"]').text_content() == "yes":
        dome.locator('button[data-action="dome-unpark"]').click()
        expect(page.locator('output[data-read="dome.parked"]')).to_have_text("no")
    dome.locator('button[data-action="dome-open"]').click()
    expect(page.locator('output[data-read="dome.shutter"]')).to_have_text("open", timeout=30_000)
    guider = page.locator('section.card[data-role="guider"]')
    guider.locator('input[data-input="guider-duration"]').fill("0.5")
    guider.locator('button[data-action="guider-expose"]').click()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-preview=guider] img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    panel = page.locator('section.card[data-role="flat_panel"]')
    panel.locator('input[data-input="brightness"]').fill("128")
    panel.get_by_role("button", name="Set", exact=True).click()
    panel.locator('button[data-action="light"]').click()
    expect(page.locator('output[data-read="flat_panel.light"]')).to_have_text("on")
    page.wait_for_timeout(2500)  # one periodic status: every readout filled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument(
        "--observatory-only", action="store_true", help="only the observatory's two screenshots"
    )
    parser.add_argument("--guiding-only", action="store_true", help="only the guiding screenshot")
    parser.add_argument(
        "--imaging-only", action="store_true", help="only the imaging view (1280 px, a phone)"
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.imaging_only:
        four_simulators(out, imaging_only=True)
        return
    if not args.guiding_only:
        if not args.observatory_only:
            four_simulators(out)
        observatory_shots(out)
    if not args.observatory_only:
        guiding_shot(out)


def browser_page(pw: Any, tmp: str) -> Page:
    context = launch_chromium(pw, Path(tmp) / "chromium")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1280, "height": 860})
    return page


def save(page: Page, out: Path, name: str, **options: Any) -> None:
    path = out / f"panel-{name}.png"
    page.screenshot(path=str(path), **options)
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def four_simulators(out: Path, imaging_only: bool = False) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="indiws-shots-") as tmp,
        ServiceProcess(Path(tmp)) as svc,
        sync_playwright() as pw,
    ):
        page = browser_page(pw, tmp)

        def shot(name: str, full: bool = False) -> None:
            save(page, out, name, full_page=full)

        if not imaging_only:
            devices(page, svc.url)
            shot("devices")
        imaging_with_frame(page, svc.url)
        shot("imaging", full=True)
        if imaging_only:
            phone(page, svc.url, shot)
            return
        page.goto(svc.url + "/#server")
        expect(page.locator('tr[data-driver="Telescope Simulator"]')).to_be_visible()
        page.get_by_label("filter the catalog").fill("simulator")
        page.wait_for_timeout(300)
        shot("server", full=True)
        page.goto(svc.url + "/debug/indi")
        expect(page.locator("#view-console .pill")).to_have_text("open")
        page.locator('button[data-action="send"]').click()
        box = page.locator('textarea[data-input="console"]')
        box.fill('{"device_name": "telescope", "instruction": "get_static_info", "params": []}')
        page.locator('button[data-action="send"]').click()
        page.wait_for_timeout(800)
        shot("console")
        devices(page, svc.url, "CCD Simulator", "CCD_EXPOSURE")
        page.locator("#night").click()
        page.wait_for_timeout(200)
        shot("night")
        page.locator("#night").click()
        phone(page, svc.url, shot)
        page.context.close()


def phone(page: Page, url: str, shot: Any) -> None:
    """The imaging view at a phone's width, from the top (its newest frame shown)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url + "/#imaging")
    expect(page.locator("[data-taken=camera]")).to_contain_text("taken")
    page.wait_for_timeout(800)
    shot("phone")


def observatory_shots(out: Path) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="indiws-shots-") as tmp,
        ServiceProcess(Path(tmp), "--profile", "Observatory") as svc,
        sync_playwright() as pw,
    ):
        page = browser_page(pw, tmp)
        observatory(page, svc.url)
        # The observatory's cards only: the four imaging roles' cards are above.
        box = page.evaluate(
            "(() => { const q = (r) => document.querySelector(`[data-role=${r}]`)"
            ".getBoundingClientRect(); const top = q('dome'), end = q('gps');"
            " return {y: top.top + scrollY - 8, bottom: end.bottom + scrollY + 8}; })()"
        )
        clip = {"x": 0, "y": box["y"], "width": 1280, "height": box["bottom"] - box["y"]}
        save(page, out, "observatory", full_page=True, clip=clip)
        # The weather turns: the policy closes up; opening the dome asks to force it.
        set_rain(svc, 10)
        expect(page.locator(".safety-phase")).to_have_text("closed up", timeout=90_000)
        page.locator('button[data-action="dome-open"]').click()
        expect(page.locator("[data-confirm]")).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        save(page, out, "safety")
        set_rain(svc, 0)
        page.context.close()


#: Guide settings under which the simulators guide well (docs/guiding.md).
GUIDE_SETTINGS = {"binning": 4, "exposure": 1.0, "calibration_step_ms": 600}


def guiding_shot(out: Path) -> None:
    """The guider card's autoguiding after guiding started from it: graph, RMS, star."""
    with tempfile.TemporaryDirectory(prefix="indiws-shots-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "guiding.json").write_text(json.dumps({"settings": GUIDE_SETTINGS}))
        with ServiceProcess(Path(tmp), "--profile", "Observatory") as svc, sync_playwright() as pw:
            page = browser_page(pw, tmp)
            page.goto(svc.url + "/#imaging")
            scope = page.locator('section.card[data-role="telescope"]')
            expect(scope).to_be_visible(timeout=30_000)
            scope.locator('button[data-action="unpark"]').click()
            expect(page.locator('output[data-read="telescope.parked"]')).to_have_text(
                "no", timeout=30_000
            )
            scope.locator('input[data-input="ra"]').fill("5:35:17")
            scope.locator('input[data-input="dec"]').fill("20")
            scope.locator('button[data-action="goto"]').click()
            expect(
                page.locator("ol.actions-log li[data-outcome=ok] strong", has_text="telescope.goto")
            ).to_be_visible(timeout=120_000)
            guider = page.locator('section.card[data-role="guider"]')
            guider.locator('input[data-input="settle-time"]').fill("3")
            guider.locator('button[data-action="guiding-start"]').click()
            page.wait_for_function(
                "() => Number(document.querySelector('canvas[data-graph=guiding]')"
                ".dataset.points) >= 30",
                timeout=300_000,
            )
            page.wait_for_timeout(1500)
            # The sticky header would stand over a card scrolled to the top.
            page.evaluate("document.querySelector('header.top').style.position = 'static'")
            part = guider.locator('[data-part="guiding"]')
            part.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            path = out / "panel-guiding.png"
            part.screenshot(path=str(path))
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            page.context.close()


if __name__ == "__main__":
    main()
