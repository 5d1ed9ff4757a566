"""Screenshots of the web control panel for docs/panel.md.

Starts the service in embedded mode (its own indiserver with the simulators),
drives Debian's chromium through Playwright, and writes PNGs into
docs/images/: the devices view, the imaging view with a frame, the server
view, the console, night mode and a phone's width.

    .venv/bin/python scripts/panel_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

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
    camera.locator('input[data-input="duration"]').fill("1")
    camera.locator('button[data-action="expose"]').click()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-preview=camera] img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    expect(page.locator('ol.actions-log li[data-outcome="ok"]').first).to_be_visible()
    page.wait_for_timeout(500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="indiws-shots-") as tmp,
        ServiceProcess(Path(tmp)) as svc,
        sync_playwright() as pw,
    ):
        context = launch_chromium(pw, Path(tmp) / "chromium")
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.set_viewport_size({"width": 1280, "height": 860})

        def shot(name: str, full: bool = False) -> None:
            path = out / f"panel-{name}.png"
            page.screenshot(path=str(path), full_page=full)
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)

        devices(page, svc.url)
        shot("devices")
        imaging_with_frame(page, svc.url)
        shot("imaging", full=True)
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
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(svc.url + "/#imaging")
        expect(page.locator('section.card[data-role="telescope"]')).to_be_visible()
        page.wait_for_timeout(800)
        shot("phone")
        context.close()


if __name__ == "__main__":
    main()
