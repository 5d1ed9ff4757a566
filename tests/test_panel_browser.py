"""The web control panel in a real browser (Debian's chromium through
Playwright), against the service in its own process with the simulators.

One service and one browser serve the whole module.  The service requires
its access token, so every test also shows that the cookie set by opening
``/?token=...`` once carries the page and its WebSockets.  Every page must
end its test without a console error.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from playwright.sync_api import Page, expect, sync_playwright
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from indiws.browser_testing import ServiceProcess, chromium_page, launch_chromium

TOKEN = "panel-" + secrets.token_urlsafe(16)
DEVICES = ["CCD Simulator", "Filter Simulator", "Focuser Simulator", "Telescope Simulator"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        tmp_path_factory.mktemp("panel"), "--require-token", "--token", TOKEN
    ).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(svc: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_playwright() as pw:
        context = launch_chromium(pw, tmp_path_factory.mktemp("chromium"))
        try:
            # The URL with the token, once: the cookie does the rest.
            page = context.new_page()
            page.goto(f"{svc.url}/?token={TOKEN}")
            expect(page.locator("#link")).to_have_attribute("data-state", "Ok")
            assert "token" not in page.url, "the token stays out of the address bar"
            page.close()
            yield context
        finally:
            context.close()


class ConsoleWatch:
    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(f"{msg.type}: {msg.text}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(a, e) for a in self.allowed)]


@contextmanager
def panel_page(user_data_dir: Path, url: str) -> Iterator[Page]:
    """The panel at ``url`` in a fresh chromium, once it reached the service;
    by the end the page must have logged no console error."""
    with chromium_page(user_data_dir) as p:
        watch = ConsoleWatch(p)
        p.goto(url)
        expect(p.locator("#link")).to_have_attribute("data-state", "Ok")
        yield p
        assert not watch.unexpected(), "console errors: " + "\n".join(watch.unexpected())


@pytest.fixture
def page(browser: Any, svc: ServiceProcess) -> Iterator[Page]:
    p = browser.new_page()
    p.set_default_timeout(10_000)
    watch = ConsoleWatch(p)
    p.console_watch = watch  # type: ignore[attr-defined]
    try:
        yield p
        assert not watch.unexpected(), "console errors: " + "\n".join(watch.unexpected())
    finally:
        p.close()


# ---------------------------------------------------------------- helpers


def api(svc: ServiceProcess, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        svc.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def getprop(svc: ServiceProcess, spec: str) -> str:
    """The value of one element, as indi_getprop prints it (-1: the value alone)."""
    out = subprocess.run(
        ["indi_getprop", "-p", str(svc.indi_port), "-1", spec],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip()


def setprop(svc: ServiceProcess, spec: str) -> None:
    subprocess.run(["indi_setprop", "-p", str(svc.indi_port), spec], check=True, timeout=10)


def open_devices(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#devices")
    for name in DEVICES:
        expect(page.locator(f'button.device[data-device="{name}"]')).to_be_visible()


def open_property(page: Page, svc: ServiceProcess, device: str, prop: str) -> Any:
    """Select the device and the tab of the property's group; its card."""
    group = api(svc, "GET", f"/api/v1/devices/{_q(device)}/properties/{prop}")["group"]
    page.locator(f'button.device[data-device="{device}"]').click()
    page.locator(f'button.tab[data-group="{group}"]').click()
    card = page.locator(f'section.prop[data-prop="{prop}"]')
    expect(card).to_be_visible()
    return card


def _same_number(a: str, b: str) -> bool:
    try:
        return abs(float(a) - float(b)) < 1e-6
    except ValueError:
        return False


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def wait_getprop(svc: ServiceProcess, spec: str, wanted: str, timeout: float = 10) -> str:
    import time

    deadline = time.monotonic() + timeout
    value = ""
    while time.monotonic() < deadline:
        value = getprop(svc, spec)
        if value == wanted or _same_number(value, wanted):
            return value
        time.sleep(0.1)
    raise AssertionError(f"{spec}: wanted {wanted}, indi_getprop says {value!r}")


# ---------------------------------------------------------------- devices


def test_page_shows_every_device_and_its_properties(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    expect(page.locator("#link")).to_have_attribute("data-state", "Ok")
    expect(page.locator("#link")).to_contain_text("indiserver")
    for device, prop in [
        ("Telescope Simulator", "EQUATORIAL_EOD_COORD"),
        ("CCD Simulator", "CCD_EXPOSURE"),
        ("Focuser Simulator", "ABS_FOCUS_POSITION"),
        ("Filter Simulator", "FILTER_SLOT"),
    ]:
        card = open_property(page, svc, device, prop)
        # State light with its name (not colour alone), label, permission.
        expect(card.locator(".state")).to_have_text(re.compile("^(Idle|Ok|Busy|Alert)$"))
        expect(card.locator(".perm")).to_have_text("rw")
        expect(card.locator("output.value").first).not_to_be_empty()
        connection = open_property(page, svc, device, "CONNECTION")
        expect(connection.locator('[data-elem="CONNECT"]')).to_have_attribute(
            "aria-checked", "true"
        )
    # Sexagesimal numbers are shown as the driver's %m format says.
    card = open_property(page, svc, "Telescope Simulator", "EQUATORIAL_EOD_COORD")
    expect(card.locator('output[data-elem="RA"]')).to_have_text(re.compile(r"^\d+:\d\d:\d\d"))


def test_indi_setprop_shows_on_the_page_without_a_reload(page: Page, svc: ServiceProcess) -> None:
    """A value another INDI client sets arrives on the open page by itself
    (how fast: bench/panel.py, "change → page")."""
    open_devices(page, svc)
    card = open_property(page, svc, "Filter Simulator", "FILTER_NAME")
    draft = card.locator('input[data-input="FILTER_SLOT_NAME_2"]')
    draft.fill("being typed")
    name = "Ha-" + secrets.token_hex(3)
    setprop(svc, f"Filter Simulator.FILTER_NAME.FILTER_SLOT_NAME_3={name}")
    expect(card.locator('output[data-elem="FILTER_SLOT_NAME_3"]')).to_have_text(name)
    # A live update never overwrites what the user is typing.
    expect(draft).to_have_value("being typed")


def test_number_typed_on_the_page_reaches_the_driver(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    card = open_property(page, svc, "Focuser Simulator", "ABS_FOCUS_POSITION")
    card.locator('input[data-input="FOCUS_ABSOLUTE_POSITION"]').fill("42000")
    card.locator('button[data-set="ABS_FOCUS_POSITION"]').click()
    wait_getprop(svc, "Focuser Simulator.ABS_FOCUS_POSITION.FOCUS_ABSOLUTE_POSITION", "42000")
    expect(card.locator('output[data-elem="FOCUS_ABSOLUTE_POSITION"]')).to_have_text("42000")
    # A %m number takes sexagesimal input: 48:30:00 is 48.5 degrees.
    # The field left empty (ELEV) keeps its value: the driver gets the whole vector.
    setprop(svc, "Telescope Simulator.GEOGRAPHIC_COORD.LAT;LONG;ELEV=40;10;250")
    elev = wait_getprop(svc, "Telescope Simulator.GEOGRAPHIC_COORD.ELEV", "250")
    site = open_property(page, svc, "Telescope Simulator", "GEOGRAPHIC_COORD")
    site.locator('input[data-input="LAT"]').fill("48:30:00")
    site.locator('input[data-input="LONG"]').fill("7.25")
    site.locator('button[data-set="GEOGRAPHIC_COORD"]').click()
    wait_getprop(svc, "Telescope Simulator.GEOGRAPHIC_COORD.LAT", "48.5")
    assert _same_number(getprop(svc, "Telescope Simulator.GEOGRAPHIC_COORD.LONG"), "7.25")
    assert _same_number(getprop(svc, "Telescope Simulator.GEOGRAPHIC_COORD.ELEV"), elev), elev
    expect(site.locator('output[data-elem="LAT"]')).to_have_text(re.compile("^48:30"))


def test_sexagesimal_input_and_formats(page: Page, svc: ServiceProcess) -> None:
    """What an observer types for RA/Dec, and INDI's %m formats, in the page's own code."""
    page.goto(svc.url + "/")
    result = page.evaluate(
        """async () => {
          const s = await import('/panel/js/sexa.js');
          const p = (t) => Math.round(s.parseSexagesimal(t) * 1e6) / 1e6;
          return {
            colon: p('5:35:17'), spaces: p('-5 23 28'), degrees: p("48°30'"),
            hms: p('5h35m17s'), decimal: p('83.8'), bad: String(s.parseSexagesimal('12:61')),
            word: String(s.parseSexagesimal('north')),
            ra: s.formatNumber(17.161188, '%010.6m'), dec: s.formatNumber(-5.391, '%9.6m'),
            hm: s.formatNumber(1.5, '%6.3m'), tenths: s.formatNumber(5.588, '%10.8m'),
            zero: s.formatSexagesimal(-0.000001, 6), fixed: s.formatNumber(15.041067, '%.2f'),
          };
        }"""
    )
    assert result == {
        "colon": 5.588056,
        "spaces": -5.391111,
        "degrees": 48.5,
        "hms": 5.588056,
        "decimal": 83.8,
        "bad": "NaN",
        "word": "NaN",
        "ra": "17:09:40",
        "dec": "-5:23:28",
        "hm": "1:30",
        "tenths": "5:35:16.8",
        "zero": "0:00:00",
        "fixed": "15.04",
    }


def test_bad_number_is_refused_with_a_message(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    card = open_property(page, svc, "Filter Simulator", "FILTER_SLOT")
    card.locator('input[data-input="FILTER_SLOT_VALUE"]').fill("99")
    card.locator('button[data-set="FILTER_SLOT"]').click()
    expect(card.locator("p.error")).to_contain_text("outside")
    card.locator('input[data-input="FILTER_SLOT_VALUE"]').fill("two")
    card.locator('button[data-set="FILTER_SLOT"]').click()
    expect(card.locator("p.error")).to_contain_text("not a number")


def test_switch_toggled_on_the_page_changes(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    card = open_property(page, svc, "Focuser Simulator", "DEBUG")
    enable = card.locator('button[data-elem="ENABLE"]')
    disable = card.locator('button[data-elem="DISABLE"]')
    expect(disable).to_have_attribute("aria-checked", "true")
    enable.click()
    expect(enable).to_have_attribute("aria-checked", "true")
    expect(disable).to_have_attribute("aria-checked", "false")
    wait_getprop(svc, "Focuser Simulator.DEBUG.ENABLE", "On")
    disable.click()
    expect(disable).to_have_attribute("aria-checked", "true")
    wait_getprop(svc, "Focuser Simulator.DEBUG.DISABLE", "On")


def test_device_messages_are_logged(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    open_property(page, svc, "Focuser Simulator", "ABS_FOCUS_POSITION")
    api(
        svc,
        "PUT",
        "/api/v1/devices/Focuser%20Simulator/properties/ABS_FOCUS_POSITION",
        {"values": {"FOCUS_ABSOLUTE_POSITION": 41000}},
    )
    expect(page.locator("ol.log li").first).to_contain_text("Focuser Simulator")


# ---------------------------------------------------------------- imaging


def test_exposure_shows_progress_then_the_preview(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#imaging")
    camera = page.locator('section.card[data-role="camera"]')
    expect(camera.locator('[data-role-device="camera"]')).to_have_text("CCD Simulator")
    camera.locator('input[data-input="duration"]').fill("2")
    camera.locator('button[data-action="expose"]').click()
    text = camera.locator('[data-progress-text="camera"]')
    expect(text).to_contain_text("left")
    assert page.eval_on_selector('progress[data-progress="camera"]', "p => p.max") == 2
    img = camera.locator("[data-preview=camera] img[data-frame]")
    expect(img).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-preview=camera] img[data-frame]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    expect(text).to_have_text("frame stored")
    # The frame's star analysis under the preview: the simulated sky has stars.
    caption = camera.locator("[data-analysis=camera]")
    expect(caption).to_contain_text("HFR")
    stars = int(re.match(r"(\d+) stars", caption.inner_text()).group(1))
    assert stars > 20, caption.inner_text()
    expect(camera.locator("ol.frames li").first).to_contain_text(".fits")
    expect(page.locator('ol.actions-log li[data-outcome="ok"]').first).to_contain_text(
        "camera.expose"
    )
    # The devices view offers the frame's BLOB for download, with its preview.
    page.goto(svc.url + "/#devices")
    blob = open_property(page, svc, "CCD Simulator", "CCD1")
    expect(blob.locator("a.button")).to_have_text("Download")
    expect(blob.locator(".blob-preview img")).to_be_visible()


def test_object_names_the_frame_and_the_newest_frame_shows_on_load(
    page: Page, svc: ServiceProcess
) -> None:
    page.goto(svc.url + "/#imaging")
    camera = page.locator('section.card[data-role="camera"]')
    expect(camera.locator('[data-role-device="camera"]')).to_have_text("CCD Simulator")
    camera.locator('input[data-input="camera-object"]').fill("M 42")
    camera.locator('input[data-input="duration"]').fill("1")
    camera.locator('button[data-action="expose"]').click()
    expect(camera.locator('[data-progress-text="camera"]')).to_have_text(
        "frame stored", timeout=20_000
    )
    frame = api(svc, "GET", "/blobs?device=CCD%20Simulator&limit=1")["frames"][0]
    assert frame["metadata"]["object"] == "M 42"
    assert frame["path"] and Path(frame["path"]).name.startswith("M_42_"), frame["path"]
    header = fits.getheader(Path(frame["path"]))
    assert header["OBJECT"] == "M 42"
    # Another visit: the Object is remembered, and the preview shows the newest
    # frame with its analysis instead of an empty box.
    page.reload()
    camera = page.locator('section.card[data-role="camera"]')
    expect(camera.locator('input[data-input="camera-object"]')).to_have_value("M 42")
    expect(camera.locator("[data-preview=camera] img")).to_have_attribute("data-frame", frame["id"])
    expect(camera.locator("[data-analysis=camera]")).to_contain_text("stars")
    page.evaluate("localStorage.removeItem('indiws.object')")


def test_exposure_started_by_a_script_shows_here(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#imaging")
    camera = page.locator('section.card[data-role="camera"]')
    expect(page.locator('[data-role-chip="camera"]')).to_be_visible()
    results: list[Any] = []
    script = threading.Thread(target=lambda: results.append(asyncio.run(_expose(svc, 2.0))))
    script.start()
    try:
        expect(camera.locator('[data-progress-text="camera"]')).to_contain_text("exposing 2")
        expect(camera.locator("[data-preview=camera] img[data-frame]")).to_have_attribute(
            "data-frame", re.compile("."), timeout=20_000
        )
    finally:
        script.join(30)
    assert results and results[0]["blob_id"]
    expect(camera.locator("[data-preview=camera] img")).to_have_attribute(
        "data-frame", results[0]["blob_id"]
    )


async def _expose(svc: ServiceProcess, duration: float) -> Any:
    req = HTTPRequest(
        svc.url.replace("http", "ws") + "/ws/indi_client/",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    ws = await websocket_connect(req)
    try:
        ws.write_message(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "camera.expose",
                    "params": {"duration": duration},
                }
            )
        )
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("id") == 1:
                return msg["result"]
    finally:
        ws.close()


def test_roles_are_assigned_and_released_from_the_page(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#imaging")
    # The guider's card shows only while the role has a device.
    guider = page.locator('section.card[data-role="guider"]')
    page.locator('[data-card="roles"] summary').click()  # the roles' table, folded
    row = page.locator('tr[data-role-row="guider"]')
    expect(row.locator(".pill")).to_have_text("free")
    expect(guider).to_be_hidden()
    row.locator('select[data-assign="guider"]').select_option("CCD Simulator")
    row.get_by_role("button", name="Assign").click()
    # The assignment connects the device: seconds on a loaded machine.
    expect(page.locator('tr[data-role-row="guider"] .pill')).to_have_text(
        "connected", timeout=30_000
    )
    assert api(svc, "GET", "/api/v1/roles/guider")["device_name"] == "CCD Simulator"
    expect(guider.locator('[data-role-device="guider"]')).to_have_text("CCD Simulator")
    page.locator('tr[data-role-row="guider"]').get_by_role("button", name="Release").click()
    expect(page.locator('tr[data-role-row="guider"] .pill')).to_have_text("free", timeout=30_000)
    assert api(svc, "GET", "/api/v1/roles/guider")["device_name"] is None
    expect(guider).to_be_hidden()


def test_telescope_goto_from_the_imaging_view(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#imaging")
    scope = page.locator('section.card[data-role="telescope"]')
    expect(scope.locator('[data-read="telescope.ra"]')).not_to_have_text("—")
    if scope.locator('[data-read="telescope.parked"]').inner_text() == "yes":
        scope.locator('button[data-action="unpark"]').click()
        expect(scope.locator('[data-read="telescope.parked"]')).to_have_text("no")
    scope.locator('input[data-input="ra"]').fill("5:35:17")
    # Synced half a degree off first (the card's Sync), so that the goto is
    # short and at the same RA: from the park position it is a long slew,
    # and at some hours a 30 s pier flip.
    scope.locator('input[data-input="dec"]').fill("-4.89")
    scope.get_by_role("button", name="Sync", exact=True).click()
    expect(
        page.locator('ol.actions-log li[data-outcome="ok"]', has_text="telescope.sync")
    ).to_be_visible(timeout=30_000)
    scope.locator('input[data-input="dec"]').fill("-5.39")
    scope.locator('button[data-action="goto"]').click()
    expect(
        page.locator('ol.actions-log li[data-outcome="ok"]', has_text="telescope.goto")
    ).to_be_visible(timeout=30_000)
    pos = api(svc, "GET", "/api/v1/roles/telescope")
    assert pos["connected"]


def test_jog_moves_the_mount_while_held(page: Page, svc: ServiceProcess) -> None:
    api(
        svc,
        "PUT",
        "/api/v1/devices/Telescope%20Simulator/properties/TELESCOPE_PARK",
        {"values": {"UNPARK": True}},
    )
    page.goto(svc.url + "/#imaging")
    expect(page.locator('tr[data-role-row="telescope"] .pill')).to_have_text("connected")
    north = page.locator('button[data-jog="north"]')
    north.hover()
    page.mouse.down()
    try:
        wait_getprop(svc, "Telescope Simulator.TELESCOPE_MOTION_NS.MOTION_NORTH", "On")
    finally:
        page.mouse.up()
    wait_getprop(svc, "Telescope Simulator.TELESCOPE_MOTION_NS.MOTION_NORTH", "Off")


# ---------------------------------------------------------------- server


def test_driver_started_from_the_server_view_appears(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#server")
    expect(page.locator('tr[data-driver="Telescope Simulator"]')).to_be_visible()
    page.get_by_label("filter the catalog").fill("Dome Simulator")
    entry = page.locator('li[data-label="Dome Simulator"]')
    expect(entry).to_be_visible()
    entry.get_by_role("button", name="Start").click()
    expect(page.locator('tr[data-driver="Dome Simulator"]')).to_be_visible()
    try:
        page.goto(svc.url + "/#devices")
        expect(page.locator('button.device[data-device="Dome Simulator"]')).to_be_visible()
    finally:
        api(svc, "POST", "/api/v1/drivers/stop", {"label": "Dome Simulator"})
    expect(page.locator('button.device[data-device="Dome Simulator"]')).to_have_count(0)


def test_server_buttons_follow_indiserver_state(page: Page, svc: ServiceProcess) -> None:
    """indiserver runs: Start is disabled (it would do nothing), Stop is offered."""
    page.goto(svc.url + "/#server")
    expect(page.locator('[data-read="server.Running"]')).to_have_text("yes")
    expect(page.locator('button[data-action="server-start"]')).to_be_disabled()
    expect(page.locator('button[data-action="server-stop"]')).to_be_enabled()
    # The port INDI clients (KStars, indi_getprop) use, not indiserver's internal one.
    server = api(svc, "GET", "/api/v1/server")
    expect(page.locator('[data-read="server.INDI clients"]')).to_have_text(
        f"{server['indi_port_host']}:{server['indi_port']}"
    )
    expect(page.locator('[data-read="server.indiserver"]')).to_contain_text("internal port")


# ---------------------------------------------------------------- console


@pytest.mark.parametrize("path", ["/#console", "/debug/indi", "/indi/debug/"])
def test_console_sends_a_request_and_shows_the_reply(
    page: Page, svc: ServiceProcess, path: str
) -> None:
    page.goto(svc.url + path)
    view = page.locator("#view-console")
    expect(view).to_be_visible()
    expect(view.locator(".pill")).to_have_text("open")
    box = view.locator('textarea[data-input="console"]')
    box.fill('{"jsonrpc": "2.0", "id": 7, "method": "roles"}')
    view.locator('button[data-action="send"]').click()
    expect(view.locator('li[data-dir="in"]', has_text='"id": 7')).to_contain_text("telescope")
    if path == "/debug/indi":
        # lightAPT's envelope, on the same socket.
        box.fill('{"device_name": "focus", "instruction": "get_params", "params": []}')
        box.press("Control+Enter")
        expect(view.locator('li[data-dir="in"]').first).to_contain_text("focus")


# ---------------------------------------------------------------- observers


def test_night_mode_applies_and_is_remembered(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/")
    night = page.locator("#night")
    expect(night).to_have_attribute("aria-pressed", "false")
    night.click()
    expect(page.locator("html")).to_have_class(re.compile("night"))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
    # Red on black: even an Ok light is red now (its name still says Ok).
    ok = page.locator('section.prop .state[data-state="Ok"]').first
    expect(ok).to_have_text("Ok")
    r, g, b = map(int, re.findall(r"\d+", ok.evaluate("e => getComputedStyle(e).color"))[:3])
    assert r > 100 and g < 60 and b < 60, (r, g, b)
    page.reload()
    expect(page.locator("html")).to_have_class(re.compile("night"))
    expect(page.locator("#night")).to_have_attribute("aria-pressed", "true")
    page.locator("#night").click()
    expect(page.locator("html")).not_to_have_class(re.compile("night"))


def test_phone_width_has_no_horizontal_scroll(browser: Any, svc: ServiceProcess) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    watch = ConsoleWatch(page)
    try:
        for view in ("devices", "imaging", "server", "console"):
            page.goto(f"{svc.url}/#{view}")
            expect(page.locator(f"#view-{view}")).to_be_visible()
            if view == "devices":
                open_property(page, svc, "Telescope Simulator", "EQUATORIAL_EOD_COORD")
            else:
                page.wait_for_timeout(300)
            wide = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, f"#{view} scrolls sideways by {wide} px at 390x844"
        assert not watch.unexpected(), watch.unexpected()
    finally:
        page.close()


def test_keyboard_reaches_the_views(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/")
    expect(page.locator('button.device[data-device="CCD Simulator"]')).to_be_visible()
    focused = set()
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert {"Devices", "Imaging", "Server", "Console"} <= focused


# ------------------------------------------------- restarts (keep this last)


def test_panel_reconnects_when_the_service_restarts(page: Page, svc: ServiceProcess) -> None:
    open_devices(page, svc)
    link = page.locator("#link")
    expect(link).to_have_attribute("data-state", "Ok")
    # The browser reports each refused connection while the service is away.
    page.console_watch.allowed += [  # type: ignore[attr-defined]
        "WebSocket connection to .* failed",
        "Failed to load resource: net::ERR_CONNECTION_REFUSED",
    ]
    svc.stop()
    expect(link).to_have_attribute("data-state", "Alert")
    expect(link).to_contain_text("reconnecting")
    svc.start()
    expect(link).to_have_attribute("data-state", "Ok", timeout=20_000)
    for name in DEVICES:
        expect(page.locator(f'button.device[data-device="{name}"]')).to_be_visible()


def test_panel_says_when_its_access_is_refused(
    page: Page, browser: Any, svc: ServiceProcess
) -> None:
    """The browser's cookie no longer opens the service (its token changed):
    the page says so instead of "reconnecting" forever."""
    open_devices(page, svc)
    page.console_watch.allowed += [  # type: ignore[attr-defined]
        "WebSocket connection to .* failed",
        "Failed to load resource: .*(401|ERR_CONNECTION_REFUSED)",
    ]
    browser.clear_cookies()
    try:
        svc.restart()
        expect(page.locator("#link")).to_contain_text("access refused", timeout=20_000)
        assert "token" in (page.locator("#link").get_attribute("title") or "")
    finally:
        page.goto(f"{svc.url}/?token={TOKEN}")
    expect(page.locator("#link")).to_have_attribute("data-state", "Ok")


def test_page_source_has_no_external_assets(svc: ServiceProcess) -> None:
    """Observatories are often offline: nothing is loaded from elsewhere."""
    page = (
        urllib.request.urlopen(
            urllib.request.Request(svc.url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
        )
        .read()
        .decode()
    )
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    static = Path(__file__).resolve().parent.parent / "indiws" / "web" / "panel_static"
    for f in static.rglob("*"):
        if f.is_file() and f.suffix in (".js", ".css", ".html"):
            assert not re.search(r"https?://", f.read_text()), f


def test_plans_view_submits_a_plan_and_follows_it(page: Page, svc: ServiceProcess) -> None:
    page.goto(svc.url + "/#plans")
    submit = page.locator('section.card[data-card="plan-submit"]')
    # A plan with a mistake: every problem with its line, nothing queued.
    submit.locator("textarea").fill(
        "targets:\n  - name: Darks\n    exposures:\n      - {frame_type: dark, duration: -1}\n"
    )
    submit.locator('button[data-action="plan-submit"]').click()
    expect(submit.locator("ul.problems li")).to_contain_text(
        "line 4: targets[0].exposures[0].duration"
    )
    page.console_watch.allowed.append("400")  # type: ignore[attr-defined]
    submit.locator("input[aria-label='plan name']").fill("darks.yaml")
    submit.locator("textarea").fill(
        "targets:\n  - name: Darks\n    exposures:\n"
        "      - {frame_type: dark, duration: 0.2, count: 2}\n"
    )
    submit.locator('button[data-action="plan-submit"]').click()
    row = page.locator("table.plans tbody tr").first
    expect(row).to_contain_text("darks.yaml")
    expect(row.locator("[data-plan-state]")).to_have_text("completed", timeout=30_000)
    expect(row).to_contain_text("2/2")
    detail = page.locator('[data-card="plan-detail"]')
    expect(detail.locator('tr[data-status="ok"]')).to_have_count(2)
    expect(detail.locator("tr[data-frame] a").first).to_contain_text(".fits")
    expect(detail.locator('li[data-type="plan_finished"]')).to_contain_text("2 frames taken")
    expect(detail.locator("button", has_text="Abort")).to_be_disabled()
