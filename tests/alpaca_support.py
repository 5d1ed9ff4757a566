"""What the Alpaca tests share: one service running the Observatory profile
(every simulator, every role) in its own process with its own Alpaca and
discovery ports, and the waits and settings its tests use."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alpaca import management

from indiws.browser_testing import ServiceProcess
from indiws.testing import free_port

__all__ = ["alpaca_service", "answers", "connected", "until", "weather"]


@contextmanager
def alpaca_service(workdir: Path, *extra: str) -> Iterator[ServiceProcess]:
    """The Observatory profile's service (``extra``: more command-line
    options); ``.alpaca`` is its Alpaca address (host:port),
    ``.discovery_port`` its discovery port."""
    alpaca_port, discovery_port = free_port(), free_port()
    service = ServiceProcess(
        workdir,
        "--profile",
        "Observatory",
        "--phd2-port",
        "0",
        "--alpaca-port",
        str(alpaca_port),
        "--alpaca-discovery-port",
        str(discovery_port),
        *extra,
    ).start()
    service.alpaca = f"127.0.0.1:{alpaca_port}"  # type: ignore[attr-defined]
    service.discovery_port = discovery_port  # type: ignore[attr-defined]
    until(lambda: answers(service.alpaca), 30)  # type: ignore[attr-defined]
    service.until_the_weather_reads()
    try:
        yield service
    finally:
        service.stop()


def until(what: Callable[[], object], timeout: float = 60.0, step: float = 0.2) -> object:
    """Poll until ``what()`` is truthy (a simulator's action ends), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not reached in {timeout} s: {what}")


def answers(address: str) -> bool:
    """The Alpaca server at ``address`` answers its management API."""
    try:
        return management.apiversions(address) == [1]
    except OSError:
        return False


def connected(device):  # type: ignore[no-untyped-def]
    device.Connected = True
    assert device.Connected is True
    return device


def weather(svc: ServiceProcess, precip: float) -> None:
    """Set the weather simulator's rain and make it read it (WEATHER_CONTROL)."""
    for setting in (
        f"Weather Simulator.WEATHER_CONTROL.Precip={precip}",
        "Weather Simulator.WEATHER_REFRESH.REFRESH=On",
    ):
        subprocess.run(["indi_setprop", "-p", str(svc.indi_port), setting], check=True)
