"""The ASCOM Alpaca front driven by alpyca (ASCOM's own Python client), as
N.I.N.A. would drive it, against one service running the Observatory profile
(every simulator, every role) in its own process, with its own ports."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from alpaca import management
from alpaca.camera import Camera
from alpaca.covercalibrator import CalibratorStatus, CoverCalibrator
from alpaca.dome import Dome, ShutterState
from alpaca.exceptions import (
    InvalidOperationException,
    InvalidValueException,
    ParkedException,
)
from alpaca.filterwheel import FilterWheel
from alpaca.focuser import Focuser
from alpaca.observingconditions import ObservingConditions
from alpaca.rotator import Rotator
from alpaca.safetymonitor import SafetyMonitor
from alpaca.telescope import GuideDirections, Telescope
from alpaca_checker import MOVES, check
from alpaca_support import alpaca_service, answers, connected, until, weather
from astropy.io import fits

from indiws.alpaca.members import MEMBERS, coverage_markdown
from indiws.alpaca.protocol import Param
from indiws.browser_testing import ServiceProcess

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parent.parent / "docs" / "alpaca.md"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with alpaca_service(tmp_path_factory.mktemp("alpaca")) as service:
        yield service


def test_discovery_answers_a_unicast_datagram_on_loopback(svc: ServiceProcess) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"alpacadiscovery1", ("127.0.0.1", svc.discovery_port))  # type: ignore[attr-defined]
        data, _ = sock.recvfrom(1024)
    assert json.loads(data) == {"AlpacaPort": int(svc.alpaca.split(":")[1])}  # type: ignore[attr-defined]


def test_management_lists_every_role_as_a_device(svc: ServiceProcess) -> None:
    assert management.apiversions(svc.alpaca) == [1]  # type: ignore[attr-defined]
    assert management.description(svc.alpaca)["ServerName"] == "indiws"  # type: ignore[attr-defined]
    devices = management.configureddevices(svc.alpaca)  # type: ignore[attr-defined]
    kinds = {(d["DeviceType"], d["DeviceNumber"]) for d in devices}
    assert kinds == {
        ("Telescope", 0),
        ("Camera", 0),
        ("Camera", 1),
        ("Focuser", 0),
        ("FilterWheel", 0),
        ("Dome", 0),
        ("Rotator", 0),
        ("CoverCalibrator", 0),
        ("ObservingConditions", 0),
        ("SafetyMonitor", 0),
    }
    assert len({d["UniqueID"] for d in devices}) == len(devices)
    names = {d["DeviceName"] for d in devices}
    assert "CCD Simulator (camera)" in names and "Guide Simulator (guider)" in names


def test_telescope_slews_tracks_and_guides_the_right_way(svc: ServiceProcess) -> None:
    t = connected(Telescope(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert t.InterfaceVersion == 4
    t.Park()
    until(lambda: t.AtPark and not t.Slewing, 120)
    with pytest.raises(ParkedException):
        t.SlewToCoordinatesAsync(t.SiderealTime, 20.0)
    t.Unpark()
    t.Tracking = True
    ra = (t.SiderealTime - 1.0) % 24  # an hour west of the meridian, well up
    t.SlewToCoordinatesAsync(ra, 20.0)
    assert t.Slewing  # the slew answers at once and reports through Slewing
    until(lambda: not t.Slewing, 120)
    assert abs(t.RightAscension - ra) * 15 < 0.05
    assert abs(t.Declination - 20.0) < 0.05
    assert t.Tracking is True
    with pytest.raises(InvalidValueException):
        t.TargetRightAscension = 25.0
    # North raises the declination, south lowers it (guideNorth = 0).
    dec = t.Declination
    t.PulseGuide(GuideDirections.guideNorth, 2000)
    until(lambda: not t.IsPulseGuiding, 30)
    north = t.Declination
    assert north > dec
    t.PulseGuide(GuideDirections.guideSouth, 2000)
    until(lambda: not t.IsPulseGuiding, 30)
    assert t.Declination < north


def _frame(svc: ServiceProcess) -> np.ndarray:
    """The newest stored frame, from the service's own HTTP API (FITS rows)."""
    frames = requests.get(f"{svc.url}/blobs/", timeout=10).json()["frames"]
    newest = max(frames, key=lambda f: f["seq"])
    data = requests.get(f"{svc.url}/blobs/{newest['id']}", timeout=30).content
    with fits.open(io.BytesIO(data)) as hdus:
        return np.asarray(hdus[0].data).astype(np.int64)


def test_camera_image_equals_the_stored_frame_in_json_and_imagebytes(
    svc: ServiceProcess,
) -> None:
    c = connected(Camera(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert c.InterfaceVersion == 4
    c.BinX = c.BinY = 2
    c.StartX, c.StartY = 10, 20
    c.NumX, c.NumY = 300, 200
    c.StartExposure(0.5, True)
    until(lambda: c.ImageReady, 60)
    assert c.CameraState == 0  # idle
    assert c.LastExposureDuration == 0.5
    stored = _frame(svc)
    assert stored.shape == (200, 300)  # FITS rows: NumY rows of NumX pixels
    # alpyca asks for ImageBytes; ImageArray[x][y] is FITS pixel (x, y).
    image = np.asarray(c.ImageArray, dtype=np.int64)
    assert c.ImageArrayInfo.TransmissionElementType in (1, 2, 6, 8)
    assert image.shape == (300, 200)
    assert np.array_equal(image, stored.T)
    # The same through JSON.
    r = requests.get(
        f"http://{svc.alpaca}/api/v1/camera/0/imagearray",  # type: ignore[attr-defined]
        params={"ClientTransactionID": "9"},
        timeout=60,
    )
    body = r.json()
    assert (body["Type"], body["Rank"], body["ErrorNumber"]) == (2, 2, 0)
    assert np.array_equal(np.asarray(body["Value"], dtype=np.int64), stored.T)


def test_guide_camera_pulses_through_its_guide_port(svc: ServiceProcess) -> None:
    g = connected(Camera(svc.alpaca, 1))  # type: ignore[attr-defined]
    assert g.Name == "Guide Simulator"
    assert g.CanPulseGuide is True
    g.PulseGuide(GuideDirections.guideWest, 1500)
    assert g.IsPulseGuiding  # answered at once, reported until the pulse ends
    until(lambda: not g.IsPulseGuiding, 30)
    main = connected(Camera(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert main.CanPulseGuide is False


def test_focuser_filter_wheel_rotator_dome_and_panel_do_what_they_are_told(
    svc: ServiceProcess,
) -> None:
    f = connected(Focuser(svc.alpaca, 0))  # type: ignore[attr-defined]
    target = min(f.MaxStep, f.Position + 500)
    f.Move(target)
    until(lambda: not f.IsMoving and f.Position == target, 60)

    w = connected(FilterWheel(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert len(w.Names) == len(w.FocusOffsets) >= 3
    w.Position = 2
    until(lambda: w.Position == 2, 60)

    r = connected(Rotator(svc.alpaca, 0))  # type: ignore[attr-defined]
    r.MoveAbsolute(45.0)
    until(lambda: not r.IsMoving and abs(r.Position - 45.0) < 0.2, 120)

    d = connected(Dome(svc.alpaca, 0))  # type: ignore[attr-defined]
    d.OpenShutter()
    until(lambda: d.ShutterStatus == ShutterState.shutterOpen, 120)
    d.CloseShutter()
    until(lambda: d.ShutterStatus == ShutterState.shutterClosed, 120)
    d.SlewToAzimuth(30.0)
    until(lambda: not d.Slewing and abs(d.Azimuth - 30.0) < 1, 120)
    d.Park()
    until(lambda: d.AtPark and not d.Slewing, 120)
    with pytest.raises(ParkedException):  # dome.goto's own refusal, through REFUSALS
        d.SlewToAzimuth(60.0)

    p = connected(CoverCalibrator(svc.alpaca, 0))  # type: ignore[attr-defined]
    level = max(1, p.MaxBrightness // 2)
    p.CalibratorOn(level)
    until(lambda: p.CalibratorState == CalibratorStatus.Ready, 30)
    assert p.Brightness == level
    p.CalibratorOff()
    until(lambda: p.CalibratorState == CalibratorStatus.Off, 30)


def test_observing_conditions_and_safety(svc: ServiceProcess) -> None:
    o = connected(ObservingConditions(svc.alpaca, 0))  # type: ignore[attr-defined]
    assert -60 < o.Temperature < 60
    assert o.WindSpeed >= 0  # m/s
    assert o.RainRate >= 0  # WEATHER_RAIN_HOUR, mm/h
    assert o.SensorDescription("Temperature")
    s = connected(SafetyMonitor(svc.alpaca, 0))  # type: ignore[attr-defined]
    # The Observatory's weather simulator starts in the green.
    assert s.IsSafe is True
    s.Connected = False
    assert s.IsSafe is False  # ISafetyMonitor: not connected is not safe


def test_2000_concurrent_calls_have_distinct_server_transaction_ids(
    svc: ServiceProcess,
) -> None:
    url = f"http://{svc.alpaca}/api/v1/telescope/0/rightascension"  # type: ignore[attr-defined]

    def one(i: int) -> tuple[int, int]:
        body = requests.get(url, params={"ClientTransactionID": str(i)}, timeout=60).json()
        return body["ClientTransactionID"], body["ServerTransactionID"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(one, range(1, 2001)))
    assert [c for c, _ in answers] == list(range(1, 2001))
    assert len({s for _, s in answers}) == 2000


def test_protocol_checker_finds_no_issue(svc: ServiceProcess) -> None:
    served = {t: {(m.name, m.http) for m in members} for t, members in MEMBERS.items()}
    checker = check(f"http://{svc.alpaca}", served)  # type: ignore[attr-defined]
    assert checker.issues == []
    # Every member of every type was called, but those that move hardware.
    for device_type, members in served.items():
        for name, http in members:
            if not (http == "PUT" and name in MOVES):
                assert (device_type.lower(), http, name) in checker.reached, (device_type, name)
    print(f"protocol checker: {checker.calls} requests, 0 issues")


def test_values_outside_a_verbs_declared_range_are_invalid_values(svc: ServiceProcess) -> None:
    """Every verb-backed member with a ranged parameter, sent a value just
    outside the range its verb declares: 0x401 InvalidValue, ids echoed,
    and nothing done (the mount's site stays where it was)."""
    base = f"http://{svc.alpaca}/api/v1"  # type: ignore[attr-defined]
    site_before = requests.get(f"{base}/telescope/0/sitelatitude", timeout=10).json()
    sent = 0
    for device_type, members in MEMBERS.items():
        numbers = [0, 1] if device_type == "Camera" else [0]
        for m in members:
            ranged = [p for p in m.params if p.low is not None or p.high is not None]
            if not m.verb or not ranged:
                continue
            for bad in ranged:
                outside = bad.low - 1 if bad.low is not None else bad.high + 1  # type: ignore[operator]
                form = {p.name: _inside(p) for p in m.params} | {bad.name: f"{outside:g}"}
                for number in numbers:
                    url = f"{base}/{device_type.lower()}/{number}/{m.name}"
                    body = requests.put(url, data={**form, "ClientTransactionID": "7"}, timeout=30)
                    answer = body.json()
                    assert answer["ErrorNumber"] == 0x401, (url, form, answer)
                    assert answer["ClientTransactionID"] == 7
                    sent += 1
    assert sent >= 15
    site_after = requests.get(f"{base}/telescope/0/sitelatitude", timeout=10).json()
    assert site_after.get("Value") == site_before.get("Value")


def _inside(param: Param) -> str:
    """A value ``param`` takes (its choices' first, its range's lowest)."""
    if param.choices:
        return str(param.choices[0])
    if param.type is bool:
        return "True"
    low = param.low if param.low is not None else 0
    return f"{low + 1 if param.low_open else low:g}"


def test_docs_coverage_table_is_the_member_tables() -> None:
    text = DOCS.read_text()
    start, end = "<!-- coverage:start -->\n", "<!-- coverage:end -->"
    section = text[text.index(start) + len(start) : text.index(end)]
    assert section == coverage_markdown(), (
        "docs/alpaca.md is out of date: .venv/bin/python -m indiws.alpaca.members docs/alpaca.md"
    )


def test_unsafe_weather_refuses_an_unpark_with_an_ascom_error(svc: ServiceProcess) -> None:
    s = connected(SafetyMonitor(svc.alpaca, 0))  # type: ignore[attr-defined]
    t = connected(Telescope(svc.alpaca, 0))  # type: ignore[attr-defined]
    weather(svc, 10)
    try:
        until(lambda: s.IsSafe is False, 60)
        with pytest.raises(InvalidOperationException, match="unsafe"):
            t.Unpark()
    finally:
        weather(svc, 0)
    until(lambda: s.IsSafe is True, 60)


def test_the_unique_id_stays_with_the_role_when_another_device_plays_it(
    svc: ServiceProcess,
) -> None:
    def cameras() -> dict[int, dict[str, object]]:
        devices = management.configureddevices(svc.alpaca)  # type: ignore[attr-defined]
        return {d["DeviceNumber"]: d for d in devices if d["DeviceType"] == "Camera"}

    before = cameras()
    r = requests.get(f"{svc.url}/FIFO/start/camera/Guide%20Simulator/", timeout=60)
    try:
        assert r.ok, r.text
        after = cameras()
        assert after[0]["UniqueID"] == before[0]["UniqueID"]
        assert after[0]["DeviceName"] == "Guide Simulator (camera)"
        assert connected(Camera(svc.alpaca, 0)).Name == "Guide Simulator"  # type: ignore[attr-defined]
    finally:
        requests.get(f"{svc.url}/FIFO/start/camera/CCD%20Simulator/", timeout=60)


def test_foreign_host_names_and_cross_site_pages_are_refused(svc: ServiceProcess) -> None:
    base = f"http://{svc.alpaca}/api/v1/telescope/0"  # type: ignore[attr-defined]
    r = requests.get(f"{base}/description", headers={"Host": "rebound.example"}, timeout=10)
    assert r.status_code == 421  # a DNS-rebinding page
    t = connected(Telescope(svc.alpaca, 0))  # type: ignore[attr-defined]
    t.TargetRightAscension = 3.0
    r = requests.put(
        f"{base}/targetrightascension",
        data={"TargetRightAscension": "7"},
        headers={"Origin": "http://evil.example"},
        timeout=10,
    )
    assert r.status_code == 403  # a page of another origin may not act
    assert t.TargetRightAscension == 3.0


def test_unique_ids_survive_a_restart(svc: ServiceProcess) -> None:
    before = management.configureddevices(svc.alpaca)  # type: ignore[attr-defined]
    svc.restart()
    until(lambda: answers(svc.alpaca), 30)  # type: ignore[attr-defined]
    after = management.configureddevices(svc.alpaca)  # type: ignore[attr-defined]
    key = lambda d: (d["DeviceType"], d["DeviceNumber"])  # noqa: E731
    assert sorted(before, key=key) == sorted(after, key=key)  # type: ignore[arg-type]


def _get_from(source: str, address: str, path: str) -> bytes:
    """One HTTP/1.0 GET sent from ``source`` (another loopback address)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_connection_flood_on_the_alpaca_port_is_capped_and_others_are_served(
    svc: ServiceProcess,
) -> None:
    host, port = svc.alpaca.split(":")  # type: ignore[attr-defined]
    flood = [socket.create_connection((host, int(port)), timeout=10) for _ in range(90)]
    try:
        closed = 0
        for s in flood:  # over the per-address cap: closed at once, headers never sent
            s.settimeout(0.5)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except TimeoutError:
                pass
        assert closed >= 90 - 64
        # Another address is served meanwhile, and so is the HTTP API.
        answer = _get_from("127.0.0.2", svc.alpaca, "/management/apiversions")  # type: ignore[attr-defined]
        assert answer.startswith(b"HTTP/1.1 200") and b'"Value":[1]' in answer.replace(b" ", b"")
        assert requests.get(f"{svc.url}/api/v1/status", timeout=10).status_code == 200
    finally:
        for s in flood:
            s.close()
    until(lambda: answers(svc.alpaca), 30)  # type: ignore[attr-defined]
