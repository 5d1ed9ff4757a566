"""PHD2's event-server protocol (docs/phd2.md), through the protocol only,
with a small client written from PHD2's wire format, against a real
indiserver running the telescope and guide camera simulators.

One indiserver, one service and one PHD2 server serve the whole module;
the tests run in file order: first the protocol's rules (no guiding
needed), then guide, dither, star lost, and a meridian flip.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from guiding_support import GUIDE_SETTINGS, quicken_guide_camera

from indiws.devices import Telescope
from indiws.devices.astro import local_sidereal_time
from indiws.testing import IndiServerProcess, RunningService, start_service
from indiws.web.phd2 import MAX_LINE, PHD2Server

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SCOPE, GUIDE = "Telescope Simulator", "Guide Simulator"
SETTLE = {"pixels": 1.5, "time": 3, "timeout": 60}
#: Praesepe (JNow, near enough): guide stars on both sides of the pier.
TARGET = (8.67, 19.67)


class Phd2Client:
    """A PHD2 client as the protocol describes it: lines of JSON; events
    carry "Event", responses "id"."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.events: list[dict[str, Any]] = []
        self.responses: list[Any] = []
        self.raw: list[bytes] = []
        self._changed = asyncio.Event()
        self._next_id = 1
        self._task = asyncio.get_running_loop().create_task(self._read())
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Phd2Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                self.raw.append(line)
                msg = json.loads(line)
                if isinstance(msg, dict) and "Event" in msg:
                    self.events.append(msg)
                else:
                    self.responses.append(msg)
                self._changed.set()
        finally:
            self.closed = True
            self._changed.set()

    async def _until(self, check: Any, timeout: float, what: str) -> Any:
        async def wait() -> Any:
            while True:
                found = check()
                if found is not None:
                    return found
                if self.closed:
                    raise ConnectionError(f"connection closed while waiting for {what}")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            quiet = ("LoopingExposures", "GuideStep", "Settling")
            seen = [e for e in self.events if e["Event"] not in quiet][-15:]
            raise AssertionError(f"no {what} within {timeout} s; last events: {seen}") from None

    async def send_line(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, request: Any) -> None:
        await self.send_line(json.dumps(request).encode() + b"\r\n")

    async def request(
        self, method: str, params: Any = None, *, id_: Any = None, timeout: float = 30
    ) -> dict[str, Any]:
        """The whole response to one request."""
        if id_ is None:
            id_, self._next_id = self._next_id, self._next_id + 1
        req: dict[str, Any] = {"method": method, "id": id_}
        if params is not None:
            req["params"] = params
        await self.send(req)
        return await self.response(id_, timeout)

    async def response(self, id_: Any, timeout: float = 30) -> dict[str, Any]:
        def find() -> Any:
            for r in self.responses:
                if isinstance(r, dict) and r.get("id") == id_ and type(r["id"]) is type(id_):
                    return r
            return None

        return await self._until(find, timeout, f"response to id {id_!r}")

    async def call(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """The result; AssertionError on an error response."""
        resp = await self.request(method, params, timeout=timeout)
        assert "error" not in resp, (method, resp)
        return resp["result"]

    def mark(self) -> int:
        return len(self.events)

    async def event(
        self, name: str, since: int = 0, timeout: float = 60, **fields: Any
    ) -> dict[str, Any]:
        """The first event ``name`` (with those fields) from index ``since``."""

        def find() -> Any:
            for e in self.events[since:]:
                if e["Event"] == name and all(e.get(k) == v for k, v in fields.items()):
                    return e
            return None

        return await self._until(find, timeout, f"{name} {fields or ''}")

    def names(self, since: int = 0) -> list[str]:
        return [e["Event"] for e in self.events[since:]]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServerProcess]:
    process = IndiServerProcess(
        ["indi_simulator_telescope", "indi_simulator_guide"],
        workdir=tmp_path_factory.mktemp("phd2-indi"),
    )
    try:
        process.start()
        yield process
    finally:
        process.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(
    server: IndiServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:
    running = await start_service(server, tmp_path_factory.mktemp("phd2-data"))
    try:
        service = running.service
        await service.roles.assign("telescope", SCOPE)
        await service.roles.assign("guider", GUIDE)
        # The simulated sky has few stars per field: a smaller search box and
        # calibration distance let stars nearer the edges be chosen.
        service.guiding.configure(**GUIDE_SETTINGS, search_region=10)
        await quicken_guide_camera(service.client)
        scope = Telescope(service.client, SCOPE)
        await scope.unpark()
        # The target on the meridian (the site's longitude chosen so), and the
        # simulator's flip hour angle 10 degrees past it: pointing east, on
        # the west side of the pier, until the flip test moves FLIP_HA.
        lon = ((TARGET[0] - local_sidereal_time(0.0)) * 15 + 180) % 360 - 180
        await scope.set_site(longitude=lon)
        await set_flip_ha(running, 10.0)
        # Synced there (the pier side follows the hour angle) rather than
        # slewed: no slew from the park position, none across the meridian.
        await scope.sync(*TARGET, epoch="JNow")
        await scope.set_tracking(True)
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phd2(svc: RunningService) -> AsyncIterator[PHD2Server]:
    srv = PHD2Server(svc.service, "127.0.0.1", 0)
    assert await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def guider(phd2: PHD2Server) -> AsyncIterator[Phd2Client]:
    """The client the guiding tests share (as N.I.N.A. keeps one open)."""
    client = await Phd2Client.open(phd2.port)
    await client.event("AppState", timeout=10)
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def client(phd2: PHD2Server) -> AsyncIterator[Phd2Client]:
    c = await Phd2Client.open(phd2.port)
    await c.event("AppState", timeout=10)
    try:
        yield c
    finally:
        await c.close()


async def set_flip_ha(svc: RunningService, degrees: float) -> None:
    """The telescope simulator's meridian: it takes the east side of the
    pier (pointing west) for hour angles past it."""
    await svc.service.client.set_property(
        SCOPE, "FLIP_HA", {"FLIP_HA": degrees}, wait=True, timeout=10
    )


async def guide(guider: Phd2Client, params: Any, timeout: float = 300) -> dict[str, Any]:
    """``guide`` until its SettleDone; again (as N.I.N.A. does) when no
    suitable star was in the frame, as may happen in the sparse simulated sky."""
    for _ in range(4):
        since = guider.mark()
        assert await guider.call("guide", params) == 0
        done = await guider.event("SettleDone", since, timeout=timeout)
        if "suitable guide star" not in done.get("Error", ""):
            break
    return done


def pier_side(svc: RunningService) -> list[str]:
    return svc.service.client.devices[SCOPE].properties["TELESCOPE_PIER_SIDE"].on_switches()


# ---------------------------------------------------------------- connecting


async def test_version_first_then_appstate_last(phd2: PHD2Server) -> None:
    c = await Phd2Client.open(phd2.port)
    try:
        await c.event("AppState", timeout=10)
        first, last = c.events[0], c.events[-1]
        assert first["Event"] == "Version"
        assert first["PHDVersion"] == "2.6.13" and first["MsgVersion"] == 1
        assert last == c.events[len(c.events) - 1] and last["State"] == "Stopped"
        for e in c.events:
            assert list(e)[:4] == ["Event", "Timestamp", "Host", "Inst"]
            assert "jsonrpc" not in e
        assert all(line.endswith(b"\r\n") for line in c.raw)
    finally:
        await c.close()


async def test_profile_exposure_and_equipment(client: Phd2Client) -> None:
    assert await client.call("get_profiles") == [{"id": 1, "name": "indiws", "selected": True}]
    assert await client.call("get_profile") == {"id": 1, "name": "indiws"}
    assert await client.call("set_profile", [1]) == 0
    assert await client.call("get_connected") is True
    assert await client.call("set_connected", [True]) == 0
    assert await client.call("set_exposure", [1000]) == 0
    assert await client.call("get_exposure") == 1000
    assert 1000 in await client.call("get_exposure_durations")
    equipment = await client.call("get_current_equipment")
    assert equipment["camera"] == {"name": GUIDE, "connected": True}
    assert equipment["mount"] == {"name": SCOPE, "connected": True}
    assert await client.call("get_camera_frame_size") == [320, 256]  # 1280x1024 binned 4
    assert await client.call("get_camera_binning") == 4
    scale = await client.call("get_pixel_scale")
    assert scale == pytest.approx(206.265 * 2.4 * 4 / 900, rel=1e-3)
    assert await client.call("get_dec_guide_mode") == "Auto"
    assert await client.call("set_dec_guide_mode", ["auto"]) == 0
    names = await client.call("get_algo_param_names", ["ra"])
    assert names[0] == "algorithmName" and "aggression" in names
    assert await client.call("get_algo_param", ["ra", "algorithmName"]) == "Hysteresis"
    assert await client.call("set_algo_param", ["ra", "aggression", 0.7]) == 0
    assert await client.call("get_algo_param", ["ra", "aggression"]) == 0.7
    assert await client.call("get_app_state") == "Stopped"
    assert await client.call("get_lock_position") is None
    assert await client.call("get_paused") is False
    assert await client.call("get_settling") is False
    assert await client.call("get_guide_output_enabled") is True
    assert await client.call("get_lock_shift_params") == {"enabled": False}


# ---------------------------------------------------------------- protocol rules


async def test_bad_json_answered_with_null_id(client: Phd2Client) -> None:
    await client.send_line(b'{"method": "get_app_state", "id": 7\r\n')
    resp = await client.response(None)
    assert resp["error"]["code"] == -32700
    assert resp["error"]["message"].startswith("invalid JSON request")
    assert list(resp) == ["jsonrpc", "error", "id"]
    assert await client.call("get_app_state") == "Stopped"  # still served


async def test_ids_echoed_with_their_type(client: Phd2Client) -> None:
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"  # N.I.N.A. sends GUID strings
    resp = await client.request("get_app_state", id_=guid)
    assert resp == {"jsonrpc": "2.0", "result": "Stopped", "id": guid}
    resp = await client.request("get_app_state", id_=42)  # Ekos sends ints
    assert resp["id"] == 42 and isinstance(resp["id"], int)


async def test_unknown_method(client: Phd2Client) -> None:
    resp = await client.request("no_such_method", id_=5)
    assert resp == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "method not found"},
        "id": 5,
    }


async def test_request_without_id_is_done_but_not_answered(client: Phd2Client) -> None:
    before = len(client.responses)
    await client.send({"method": "no_such_method"})
    await client.send({"method": "set_exposure", "params": [1500]})
    assert await client.call("get_exposure") == 1500  # the notification was done
    assert len(client.responses) == before + 1  # and only the last request answered
    assert await client.call("set_exposure", [1000]) == 0


async def test_batch(client: Phd2Client) -> None:
    before = len(client.responses)
    await client.send(
        [
            {"method": "get_app_state", "id": "a"},
            {"method": "get_exposure", "id": "b"},
            {"method": "get_paused"},  # no id: no answer in the batch
            {"method": "nope", "id": "c"},
        ]
    )
    await client._until(
        lambda: client.responses[-1] if len(client.responses) > before else None, 10, "batch"
    )
    batch = client.responses[-1]
    assert isinstance(batch, list)
    assert [r["id"] for r in batch] == ["a", "b", "c"]
    assert batch[0]["result"] == "Stopped" and batch[1]["result"] == 1000
    assert batch[2]["error"]["code"] == -32601


async def test_invalid_requests(client: Phd2Client) -> None:
    for request, message in (
        ({"id": 1}, "invalid request - missing method"),
        ({"method": 5, "id": 2}, "invalid request - missing method"),
        ({"method": "get_exposure", "params": 5, "id": 3}, "params must be an array"),
        ([1], "invalid request - missing method"),
    ):
        before = len(client.responses)
        await client.send(request)
        resp = await client._until(
            lambda b=before: client.responses[-1] if len(client.responses) > b else None,
            10,
            f"answer to {request}",
        )
        if isinstance(resp, list):
            resp = resp[0]
        assert resp["error"]["code"] == -32600 and message in resp["error"]["message"]
        assert resp["id"] is None


async def test_line_over_the_limit(client: Phd2Client, phd2: PHD2Server) -> None:
    other = await Phd2Client.open(phd2.port)
    try:
        await other.event("AppState", timeout=10)
        padding = "x" * (MAX_LINE * 3)
        await client.send_line(f'{{"method":"get_app_state","pad":"{padding}","id":9}}\n'.encode())
        resp = await client.response(None)
        assert resp["error"] == {"code": -32603, "message": "too big"}
        assert await client.call("get_app_state") == "Stopped"  # the next line is read
        assert await other.call("get_app_state") == "Stopped"  # nobody else noticed
    finally:
        await other.close()


@pytest.mark.parametrize(
    "method, params, code",
    [
        ("set_exposure", [1000.0], -32602),  # an int is required
        ("set_exposure", [], -32602),
        ("set_connected", [1], -32602),  # a real bool is required
        ("guide", [], -32602),
        ("guide", [{"pixels": 1.5, "time": 10}], -32602),  # timeout missing
        ("guide", {"settle": SETTLE, "recalibrate": "yes"}, -32602),
        ("guide", {"settle": SETTLE, "roi": [1, 2, 3]}, -32602),
        ("dither", [], -32602),
        ("dither", [5, False], -32602),  # settle missing
        ("dither", {"amount": 5, "raOnly": "no", "settle": SETTLE}, -32602),
        ("set_paused", ["yes"], -32602),
        ("set_lock_position", [10], -32602),
        ("get_star_image", [3], -32602),
        ("clear_calibration", ["everything"], -32602),
        ("find_star", {"roi": "all"}, -32602),
        ("dither", [5, False, SETTLE], 1),  # not guiding
        ("get_star_image", [], 2),  # no star
        ("flip_calibration", [], 1),  # not calibrated
        ("get_algo_param_names", [], 1),
        ("guide_pulse", [100], 1),  # no direction
        ("set_profile", [2], 1),
    ],
)
async def test_parameter_errors(client: Phd2Client, method: str, params: Any, code: int) -> None:
    resp = await client.request(method, params)
    assert "error" in resp, resp
    assert resp["error"]["code"] == code, resp
    assert await client.call("get_app_state") == "Stopped"  # nothing started


async def test_shutdown_refused(client: Phd2Client) -> None:
    resp = await client.request("shutdown")
    assert resp["error"]["code"] == 1
    assert "does not exit" in resp["error"]["message"]
    assert await client.call("get_app_state") == "Stopped"


async def test_client_that_does_not_read_is_dropped(svc: RunningService) -> None:
    srv = PHD2Server(svc.service, "127.0.0.1", 0, max_pending=20)
    assert await srv.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        good = await Phd2Client.open(srv.port)
        await good.event("AppState", timeout=10)
        good.events.clear()
        # Events for every client; the one that never reads falls behind.
        for i in range(1, 100000):
            srv.broadcast("Alert", {"Msg": "x" * 1000 + str(i), "Type": "info"})
            if i % 10 == 0:  # the reading client keeps up
                await good._until(
                    lambda n=i: True if len(good.events) >= n else None, 10, f"alert {i}"
                )
            if len(srv.clients) == 1:
                break
        assert len(srv.clients) == 1  # only the reading client is left
        assert await good.call("get_app_state") == "Stopped"
        writer.close()
        await good.close()
    finally:
        await srv.stop()


async def test_busy_port_is_a_warning(phd2: PHD2Server, svc: RunningService) -> None:
    srv = PHD2Server(svc.service, "127.0.0.1", phd2.port)
    assert await srv.start() is False  # no exception: the service goes on
    await srv.stop()


# ---------------------------------------------------------------- guiding


async def test_guide_calibrates_guides_and_settles(guider: Phd2Client) -> None:
    assert await guider.call("clear_calibration", ["Both"]) == 0
    assert await guider.call("get_calibrated") is False
    since = guider.mark()
    done = await guide(guider, {"settle": SETTLE, "recalibrate": False})
    assert done["Status"] == 0, str(done)
    await guider.event("StartCalibration", since, timeout=1)
    await guider.event("CalibrationComplete", since, timeout=1)
    await guider.event("StartGuiding", since, timeout=1)
    names = guider.names(since)
    assert names.index("StarSelected") < names.index("StartCalibration")
    assert "SettleBegin" in names
    assert await guider.call("get_app_state") == "Guiding"
    assert await guider.call("get_calibrated") is True
    data = await guider.call("get_calibration_data")
    assert data["calibrated"] is True and data["xRate"] > 0 and data["yRate"] > 0
    assert await guider.call("get_lock_position") is not None
    step = await guider.event("GuideStep", guider.mark(), timeout=30)
    assert step["Mount"] == SCOPE and "RADistanceRaw" in step
    image = await guider.call("get_star_image", [31])
    pixels = base64.b64decode(image["pixels"])
    assert len(pixels) == 2 * image["width"] * image["height"]
    # A second guide while guiding: straight to settling.
    since = guider.mark()
    assert await guider.call("guide", [SETTLE, False]) == 0
    done = await guider.event("SettleDone", since, timeout=90)
    assert done["Status"] == 0, str(done)
    assert "StartCalibration" not in guider.names(since)


async def test_catchup_while_guiding(phd2: PHD2Server) -> None:
    c = await Phd2Client.open(phd2.port)
    try:
        await c.event("AppState", timeout=10)
        names = c.names()
        assert names[0] == "Version" and names[-1] == "AppState"
        assert "CalibrationComplete" in names and "StartGuiding" in names
        assert "LockPositionSet" in names
        assert c.events[-1]["State"] in ("Guiding", "LostLock")
    finally:
        await c.close()


async def test_dither_settles(guider: Phd2Client) -> None:
    lock = await guider.call("get_lock_position")
    since = guider.mark()
    assert await guider.call("dither", {"amount": 5, "raOnly": False, "settle": SETTLE}) == 0
    dithered = await guider.event("GuidingDithered", since, timeout=10)
    assert abs(dithered["dx"]) > 0 or abs(dithered["dy"]) > 0
    done = await guider.event("SettleDone", since, timeout=60)
    assert done["Status"] == 0, str(done)
    assert await guider.call("get_lock_position") != lock
    assert await guider.call("get_app_state") == "Guiding"


async def test_dither_while_settling_is_refused(guider: Phd2Client) -> None:
    since = guider.mark()
    assert await guider.call("dither", [3, True, SETTLE]) == 0
    resp = await guider.request("dither", [3, True, SETTLE])
    assert resp["error"]["code"] == 1
    assert "Cannot initiate dither while dither is in progress" in resp["error"]["message"]
    done = await guider.event("SettleDone", since, timeout=60)
    assert done["Status"] == 0, str(done)


async def test_star_lost_and_found_again(guider: Phd2Client, svc: RunningService) -> None:
    client = svc.service.client
    since = guider.mark()
    # Cover the guide camera: no star brighter than magnitude 0 is drawn.
    await client.set_property(
        GUIDE, "SIMULATOR_SETTINGS", {"SIM_LIMITINGMAG": 0.0}, wait=True, timeout=10
    )
    try:
        lost = await guider.event("StarLost", since, timeout=30)
        assert lost["Frame"] > 0
        assert await guider.call("get_app_state") in ("LostLock", "Guiding")
    finally:
        await client.set_property(
            GUIDE, "SIMULATOR_SETTINGS", {"SIM_LIMITINGMAG": 17.0}, wait=True, timeout=10
        )
    uncovered = guider.mark()
    await guider.event("GuideStep", uncovered, timeout=60)
    since = guider.mark()
    assert await guider.call("guide", [SETTLE]) == 0
    done = await guider.event("SettleDone", since, timeout=90)
    assert done["Status"] == 0, str(done)
    assert await guider.call("get_app_state") == "Guiding"


async def test_pause_and_resume(guider: Phd2Client) -> None:
    since = guider.mark()
    assert await guider.call("set_paused", [True]) == 0
    await guider.event("Paused", since, timeout=10)
    assert await guider.call("get_app_state") == "Paused"
    assert await guider.call("get_paused") is True
    assert await guider.call("set_paused", [False]) == 0
    await guider.event("Resumed", since, timeout=10)
    await guider.event("GuideStep", guider.mark(), timeout=30)
    assert await guider.call("get_app_state") == "Guiding"


async def test_meridian_flip_guides_without_recalibrating(
    guider: Phd2Client, svc: RunningService
) -> None:
    before = await guider.call("get_calibration_data")
    side = pier_side(svc)
    since = guider.mark()
    assert await guider.call("stop_capture") == 0
    await guider.event("GuidingStopped", since, timeout=10)
    await guider.event("LoopingExposuresStopped", since, timeout=30)
    assert await guider.call("get_app_state") == "Stopped"
    # The target passed the meridian: the mount is on the other side of the
    # pier, pointing at it again (same stars, the camera turned over).  A
    # sync puts it there as the flip's slew would, without the simulator's
    # 30 s slew, which is not what this test is about (a plan's flip slews:
    # test_plans.py).
    await set_flip_ha(svc, -10.0)
    await Telescope(svc.service.client, SCOPE).sync(*TARGET, epoch="JNow")
    for _ in range(100):  # the pier side follows the coordinates' update
        if pier_side(svc) != side:
            break
        await asyncio.sleep(0.1)
    assert pier_side(svc) != side

    since = guider.mark()
    done = await guide(guider, {"settle": SETTLE})
    assert done["Status"] == 0, str(done)
    await guider.event("CalibrationDataFlipped", since, timeout=1)
    assert "StartCalibration" not in guider.names(since)
    flipped = await guider.call("get_calibration_data")
    assert flipped["xAngle"] != before["xAngle"] or flipped["yAngle"] != before["yAngle"]

    # The flipped calibration guides the right way: a dither settles.
    since = guider.mark()
    assert await guider.call("dither", [5, False, SETTLE]) == 0
    done = await guider.event("SettleDone", since, timeout=60)
    assert done["Status"] == 0, str(done)

    # ... and it matches what a fresh calibration on this side measures.
    since = guider.mark()
    assert await guider.call("guide", {"settle": SETTLE, "recalibrate": True}) == 0
    await guider.event("CalibrationComplete", since, timeout=240)
    done = await guider.event("SettleDone", since, timeout=90)
    assert done["Status"] == 0, str(done)
    fresh = await guider.call("get_calibration_data")
    for axis in ("xAngle", "yAngle"):
        diff = (fresh[axis] - flipped[axis] + 180) % 360 - 180
        assert abs(diff) < 20, (axis, fresh, flipped)
    assert await guider.call("stop_capture") == 0


async def test_capture_single_frame(guider: Phd2Client) -> None:
    assert await guider.call("get_app_state") == "Stopped"
    since = guider.mark()
    assert await guider.call("capture_single_frame", {"exposure": 500}) == 0
    done = await guider.event("SingleFrameComplete", since, timeout=30)
    assert done["Success"] is True, done


async def test_command_line_options() -> None:
    """The command line serves PHD2's port 4400 on loopback; 0 turns it off."""
    from indiws.__main__ import build_parser, config_from_args
    from indiws.service import Config

    args = build_parser().parse_args(["--phd2-port", "0"])
    assert config_from_args(args).phd2_port is None
    args = build_parser().parse_args([])
    cfg = config_from_args(args)
    assert (cfg.phd2_port, cfg.phd2_host) == (4400, "127.0.0.1")
    assert Config().phd2_port is None  # services made in programs do not listen
