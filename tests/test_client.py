"""The asyncio client against a real indiserver running INDI's simulators."""

from __future__ import annotations

import asyncio
import io
import subprocess

import pytest
from astropy.io import fits

from indiws.client import (
    Event,
    EventType,
    INDIClient,
    InvalidValueError,
    NotConnectedError,
    PropertyDeletedError,
    PropertyTimeoutError,
    ReadOnlyPropertyError,
    UnknownDeviceError,
    UnknownElementError,
    UnknownPropertyError,
)
from indiws.protocol import PropertyKind, PropertyState, SwitchState
from indiws.testing import (
    DEFAULT_SIMULATORS,
    IndiServerFactory,
    IndiServerProcess,
    free_port,
    sync_mount_east_of_meridian,
)

TELESCOPE = "Telescope Simulator"
CCD = "CCD Simulator"


def getprop_lines(port: int) -> dict[str, str]:
    out = subprocess.run(
        ["indi_getprop", "-p", str(port), "-t", "2"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,  # exits 1 when asked for everything, even with output
    ).stdout
    lines = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        lines[key] = value
    return lines


async def test_mirror_holds_what_indi_getprop_lists(indiserver_factory: IndiServerFactory) -> None:
    server = indiserver_factory(DEFAULT_SIMULATORS)  # nothing connected yet
    async with INDIClient(server.host, server.port) as client:
        expected = await asyncio.to_thread(getprop_lines, server.port)
        assert len(expected) > 100
        mirror: dict[str, object] = {}
        for device in client.devices.values():
            for prop in device.properties.values():
                if prop.perm.value == "wo" or prop.kind is PropertyKind.BLOB:
                    continue  # indi_getprop lists neither
                for el in prop.elements.values():
                    mirror[f"{device.name}.{prop.name}.{el.name}"] = el.value
        assert set(mirror) == set(expected)
        for key, text in expected.items():
            value = mirror[key]
            if isinstance(value, float):
                assert value == pytest.approx(float(text), rel=1e-6, abs=1e-6), key
            else:
                assert str(value) == text, key


async def test_frame_arrives_as_fits(indiserver: IndiServerProcess) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        await client.enable_blobs(CCD)
        conn = await client.set_property(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        assert conn.state is PropertyState.OK
        await client.wait_for_property(CCD, "CCD_EXPOSURE")
        blobs: list[Event] = []
        client.subscribe(
            lambda e: blobs.append(e) if e.type is EventType.UPDATED else None,
            device=CCD,
            name="CCD1",
        )
        exposure = await client.set_property(
            CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.0}, wait=True, timeout=30
        )
        assert exposure.state is PropertyState.OK
        # The frame comes before the exposure is reported done.
        assert len(blobs) == 1
        element = blobs[0].property.elements["CCD1"]
        data = element.value
        assert data[:6] == b"SIMPLE"
        assert element.format == ".fits"
        assert element.size == len(data)
        assert len(data) % 2880 == 0
        frame = client.get_property(CCD, "CCD_FRAME")
        width, height = int(frame["WIDTH"]), int(frame["HEIGHT"])
        with fits.open(io.BytesIO(data)) as hdul:
            assert hdul[0].data.shape == (height, width)
            assert hdul[0].header["EXPTIME"] == pytest.approx(1.0)


async def test_slew_goes_busy_then_ok(indiserver: IndiServerProcess) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        await client.set_property(TELESCOPE, "CONNECTION", {"CONNECT": True}, wait=True)
        park = await client.wait_for_property(TELESCOPE, "TELESCOPE_PARK")
        if "UNPARK" not in park.on_switches():
            await client.set_property(TELESCOPE, "TELESCOPE_PARK", {"UNPARK": True}, wait=True)
        # East of the meridian, so a goto further east needs no pier flip.
        ra, _ = await sync_mount_east_of_meridian(client, TELESCOPE, hours_east=1.0)
        target_ra = (ra + 0.5) % 24
        states: list[PropertyState] = []
        client.subscribe(
            lambda e: states.append(e.property.state) if e.type is EventType.UPDATED else None,
            device=TELESCOPE,
            name="EQUATORIAL_EOD_COORD",
        )
        result = await client.set_property(
            TELESCOPE,
            "EQUATORIAL_EOD_COORD",
            {"RA": target_ra, "DEC": 15.0},
            wait=True,
            timeout=120,
        )
        assert result.state is PropertyState.OK
        assert PropertyState.BUSY in states
        assert states[-1] is PropertyState.OK
        assert states.index(PropertyState.BUSY) < len(states) - 1
        assert result["RA"] == pytest.approx(target_ra, abs=0.01)
        assert result["DEC"] == pytest.approx(15.0, abs=0.01)


async def test_server_restart_gives_lost_then_restored(
    indiserver_factory: IndiServerFactory,
) -> None:
    server = indiserver_factory(DEFAULT_SIMULATORS)
    client = INDIClient(server.host, server.port, reconnect_max=0.5)
    await client.connect()
    try:
        before = {d: set(dev.properties) for d, dev in client.devices.items()}
        assert len(before) == 4
        events: list[Event] = []
        client.subscribe(events.append)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(0.5)
        assert [e.type for e in events if e.type is not EventType.DELETED][-1:] == [
            EventType.CONNECTION_LOST
        ]
        lost = next(e for e in events if e.type is EventType.CONNECTION_LOST)
        assert set(lost.devices) == set(before)
        assert client.devices == {}
        with pytest.raises(NotConnectedError):
            await client.set_property(TELESCOPE, "CONNECTION", {"CONNECT": True})
        await asyncio.to_thread(server.restart_same_port)
        await client.wait_synced(timeout=15)
        restored = [e for e in events if e.type is EventType.CONNECTION_RESTORED]
        assert len(restored) == 1
        assert set(restored[0].devices) == set(before)
        assert restored[0].missing == ()
        after = {d: set(dev.properties) for d, dev in client.devices.items()}
        assert after == before
    finally:
        await client.close()


async def test_bad_values_are_refused_and_nothing_is_sent(indiserver: IndiServerProcess) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        sent = client.stats["bytes_out"]
        cases = [
            (("No Such Device", "CONNECTION", {"CONNECT": True}), UnknownDeviceError),
            ((TELESCOPE, "NO_SUCH_PROP", {"X": 1}), UnknownPropertyError),
            ((TELESCOPE, "CONNECTION", {"PLUG": True}), UnknownElementError),
            ((TELESCOPE, "DRIVER_INFO", {"DRIVER_NAME": "x"}), ReadOnlyPropertyError),
            ((TELESCOPE, "CONNECTION", {"CONNECT": "maybe"}), InvalidValueError),
            ((TELESCOPE, "CONNECTION", {"CONNECT": True, "DISCONNECT": True}), InvalidValueError),
            ((TELESCOPE, "CONNECTION", {"CONNECT": False}), InvalidValueError),
            ((TELESCOPE, "CONNECTION", {}), InvalidValueError),
            ((TELESCOPE, "POLLING_PERIOD", {"PERIOD_MS": "fast"}), InvalidValueError),
            ((TELESCOPE, "POLLING_PERIOD", {"PERIOD_MS": float("nan")}), InvalidValueError),
            ((TELESCOPE, "POLLING_PERIOD", {"PERIOD_MS": 10**9}), InvalidValueError),
            ((TELESCOPE, "ACTIVE_DEVICES", {"ACTIVE_GPS": 5}), InvalidValueError),
        ]
        for args, error in cases:
            with pytest.raises(error) as info:
                await client.set_property(*args)
            assert str(info.value), args
        assert client.stats["bytes_out"] == sent
        # The range is named in the error, so a user knows what is allowed.
        with pytest.raises(InvalidValueError, match=r"within \["):
            await client.set_property(TELESCOPE, "POLLING_PERIOD", {"PERIOD_MS": -5})


async def test_sexagesimal_values_are_accepted(indiserver: IndiServerProcess) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        await client.set_property(TELESCOPE, "CONNECTION", {"CONNECT": True}, wait=True)
        site = await client.set_property(
            TELESCOPE,
            "GEOGRAPHIC_COORD",
            {"LAT": "48:30:00", "LONG": "9 15", "ELEV": 400},
            wait=True,
            timeout=10,
        )
        assert site.state is PropertyState.OK
        assert site["LAT"] == pytest.approx(48.5)
        assert site["LONG"] == pytest.approx(9.25)


async def test_wait_times_out_with_the_property_still_busy(
    indiserver: IndiServerProcess,
) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        await client.set_property(CCD, "CONNECTION", {"CONNECT": True}, wait=True)
        await client.wait_for_property(CCD, "CCD_EXPOSURE")
        with pytest.raises(PropertyTimeoutError) as info:
            await client.set_property(
                CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 3}, wait=True, timeout=0.5
            )
        assert info.value.prop.state is PropertyState.BUSY
        assert "Busy" in str(info.value)
        await client.set_property(CCD, "CCD_ABORT_EXPOSURE", {"ABORT": True})
        done = await client.wait_idle(CCD, "CCD_EXPOSURE", timeout=10)
        assert done.state is not PropertyState.BUSY


async def test_subscriptions_filter_by_device_and_property(
    indiserver: IndiServerProcess,
) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        everything: list[Event] = []
        one_device: list[Event] = []
        one_prop: list[Event] = []
        client.subscribe(everything.append)
        client.subscribe(one_device.append, device="Focuser Simulator")
        sub = client.subscribe(one_prop.append, device="Focuser Simulator", name="CONNECTION")
        await client.set_property("Focuser Simulator", "CONNECTION", {"CONNECT": True}, wait=True)
        await client.set_property(TELESCOPE, "CONNECTION", {"CONNECT": True}, wait=True)
        assert {e.device for e in one_device} == {"Focuser Simulator"}
        assert {(e.device, e.name) for e in one_prop} == {("Focuser Simulator", "CONNECTION")}
        assert {e.device for e in everything} >= {"Focuser Simulator", TELESCOPE}
        assert one_prop[-1].property["CONNECT"] is SwitchState.ON
        sub.close()
        count = len(one_prop)
        await client.set_property(
            "Focuser Simulator", "CONNECTION", {"DISCONNECT": True}, wait=True
        )
        assert len(one_prop) == count


async def test_async_event_stream_and_device_messages(indiserver: IndiServerProcess) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        got: list[Event] = []

        async def collect() -> None:
            async for event in client.events(device="Filter Simulator"):
                got.append(event)
                if event.type is EventType.UPDATED and event.name == "CONNECTION":
                    return

        task = asyncio.create_task(collect())
        await asyncio.sleep(0)
        await client.set_property("Filter Simulator", "CONNECTION", {"CONNECT": True})
        await asyncio.wait_for(task, 10)
        assert got[-1].property["CONNECT"] is SwitchState.ON
        device = client.get_device("Filter Simulator")
        assert device.connected
        assert device.interfaces & 16
        assert device.driver_info["DRIVER_EXEC"] == "indi_simulator_wheel"


async def test_connect_to_nothing_fails_clearly() -> None:
    client = INDIClient("127.0.0.1", free_port(), reconnect_max=0.2)
    with pytest.raises(NotConnectedError, match="cannot reach indiserver"):
        await client.connect(timeout=1)


async def test_close_ends_waits_and_tells_subscribers(indiserver: IndiServerProcess) -> None:
    client = INDIClient(indiserver.host, indiserver.port)
    await client.connect()
    events: list[Event] = []
    client.subscribe(events.append)
    waiting = asyncio.create_task(
        client.wait_for(TELESCOPE, "CONNECTION", lambda p: False, timeout=None)
    )
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(PropertyDeletedError):
        await asyncio.wait_for(waiting, 5)
    assert [e.type for e in events][-1] is EventType.CONNECTION_LOST
    assert client.devices == {}
    with pytest.raises(NotConnectedError):
        client.validate(TELESCOPE, "CONNECTION", {"CONNECT": True})


async def test_a_subscription_closed_during_dispatch_is_not_called(
    indiserver: IndiServerProcess,
) -> None:
    async with INDIClient(indiserver.host, indiserver.port) as client:
        calls: list[str] = []
        second = None

        def first(event: Event) -> None:
            calls.append("first")
            if second is not None:
                second.close()

        client.subscribe(first)
        second = client.subscribe(lambda e: calls.append("second"))
        await client.set_property("Filter Simulator", "CONNECTION", {"CONNECT": True}, wait=True)
        assert "first" in calls and "second" not in calls
