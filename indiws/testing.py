"""Run a real ``indiserver`` with simulator drivers, for tests and benchmarks.

Each :class:`IndiServerProcess` gets its own TCP port, FIFO, local (``-u``)
socket path and ``HOME`` (drivers keep their config in ``$HOME/.indi``), all
inside one working folder, so any number of servers can run side by side on a
machine without sharing state.  The server runs in its own process group, so
:meth:`IndiServerProcess.stop` ends it together with every driver it started,
including drivers started later through the FIFO.

This module talks raw bytes to the server on purpose: it must not depend on
the code it is used to test.

Typical use::

    with IndiServerProcess(["indi_simulator_ccd"]) as server:
        server.fifo_command("start indi_simulator_dome")
        server.wait_for_devices(present=["Dome Simulator"])
        ...  # connect to ("127.0.0.1", server.port)
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from tornado.netutil import bind_sockets

if TYPE_CHECKING:
    from .web.state import WebState

__all__ = [
    "FLOOD_FROM",
    "closed_by_peer",
    "slow_header_connections",
    "DEFAULT_SIMULATORS",
    "SIMULATOR_DEVICES",
    "IndiServerFactory",
    "IndiServerError",
    "IndiServerProcess",
    "NO_ALPACA",
    "longitude_for",
    "ra_east_of_meridian",
    "PROCESS_MARK_ENV",
    "free_port",
    "mark_processes",
    "marked_processes",
    "service_without_indiserver",
]

#: Device name defined by each simulator driver shipped in Debian's ``indi-bin``.
SIMULATOR_DEVICES: dict[str, str] = {
    "indi_simulator_telescope": "Telescope Simulator",
    "indi_simulator_ccd": "CCD Simulator",
    "indi_simulator_focus": "Focuser Simulator",
    "indi_simulator_wheel": "Filter Simulator",
    "indi_simulator_dome": "Dome Simulator",
    "indi_simulator_rotator": "Rotator Simulator",
    "indi_simulator_guide": "Guide Simulator",
    "indi_simulator_gps": "GPS Simulator",
    "indi_simulator_weather": "Weather Simulator",
    "indi_simulator_lightpanel": "Light Panel Simulator",
    "indi_simulator_sqm": "SQM",
    "indi_simulator_receiver": "Receiver Simulator",
}

#: The four simulators of a basic imaging set-up (mount, camera, focuser, wheel).
DEFAULT_SIMULATORS: tuple[str, ...] = (
    "indi_simulator_telescope",
    "indi_simulator_ccd",
    "indi_simulator_focus",
    "indi_simulator_wheel",
)

_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path holds 108 bytes on Linux
_GET_PROPERTIES = b'<getProperties version="1.7"/>\n'
_DEF_VECTOR = re.compile(rb"<def[A-Za-z]+Vector\b([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Only the TCP bind counts: "Local server: bind: ..." is the -u socket.
_TCP_PORT_IN_USE = re.compile(r"^\S+: bind: Address already in use", re.MULTILINE)


_DRIVER_GAVE_UP = re.compile(r"Driver \S+: Terminated after #\d+ restarts")


class IndiServerError(RuntimeError):
    """indiserver did not start, died, or did not answer in time."""


#: Arguments of ``python -m indiws`` for a service started by a test that is
#: not about Alpaca: the default port 11111 and discovery port 32227 are
#: fixed, so two such services (or one beside an Alpaca server of the
#: machine) would collide.
NO_ALPACA: tuple[str, ...] = ("--alpaca-port", "0", "--alpaca-discovery-port", "0")


#: The ports `free_port` handed out, each held by a bound socket for as long
#: as this process runs.
_reserved: list[socket.socket] = []


def free_port(host: str = "") -> int:
    """A TCP port nobody listens on, kept for the caller for as long as this
    process runs.

    The port stays bound (not listening: a connection to it is refused) with
    ``SO_REUSEADDR``, so the kernel hands it to no other test meanwhile
    (parallel workers, each asking for ports the same way), while a server
    started for it later, in this process or another, still binds and
    listens there: indiserver, tornado and asyncio all bind with
    ``SO_REUSEADDR``, and two such sockets may share a port while neither
    listens.  A bind without ``SO_REUSEADDR`` is refused.  By default the
    port is reserved on every interface, as indiserver listens on them all.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    _reserved.append(sock)
    return int(sock.getsockname()[1])


def _attributes(raw: bytes) -> dict[str, str]:
    return {
        name.decode("ascii"): unescape((dq if dq is not None else sq).decode("utf-8", "replace"))
        for name, dq, sq in _ATTRIBUTE.findall(raw)
    }


class _DriverInfoScanner:
    """Finds the devices that define DRIVER_INFO in a byte stream split anywhere."""

    _KEEP = 4096  # longest opening tag we expect to see split across reads

    def __init__(self) -> None:
        self.devices: set[str] = set()
        self._buffer = b""

    def feed(self, data: bytes) -> set[str]:
        """Add bytes; return the devices first seen in them."""
        self._buffer += data
        new: set[str] = set()
        consumed = 0
        for match in _DEF_VECTOR.finditer(self._buffer):
            consumed = match.end()
            attributes = _attributes(match.group(1))
            device = attributes.get("device")
            if attributes.get("name") == "DRIVER_INFO" and device and device not in self.devices:
                self.devices.add(device)
                new.add(device)
        # Keep only what may hold the start of a tag cut by the read boundary.
        self._buffer = self._buffer[max(consumed, len(self._buffer) - self._KEEP) :]
        return new


def _process_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


# ---------------------------------------------------------------- leftovers

#: Environment variable holding the mark of `mark_processes`.
PROCESS_MARK_ENV = "INDIWS_TEST_PROCESS_MARK"


def mark_processes() -> str:
    """Mark every process this one starts from now on (and their children,
    which inherit the environment), so that `marked_processes` finds them
    even once re-parented to init; returns the mark, unique to this process."""
    mark = f"{os.getpid()}-{secrets.token_hex(4)}"
    os.environ[PROCESS_MARK_ENV] = mark
    return mark


def marked_processes(mark: str) -> list[tuple[int, str]]:
    """(pid, command line) of the processes still there that were started
    with ``mark``: live ones, and children of this process that ended but
    were never reaped (zombies)."""
    needle = f"{PROCESS_MARK_ENV}={mark}".encode()
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        stat = _process_stat(pid)
        if stat is None or stat[0] == "X":
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        zombie = stat[0] == "Z"
        if (zombie and stat[1] == me) or (not zombie and needle in environ.split(b"\0")):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            found.append((pid, shown or "(zombie, never reaped)"))
    return found


def _live_group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _process_stat(int(entry))
        # Zombies are dead already; they only wait to be reaped by their parent.
        if stat is not None and stat[2] == pgid and stat[0] not in ("Z", "X"):
            members.append(int(entry))
    return sorted(members)


class IndiServerProcess:
    """One ``indiserver`` with its drivers, isolated in its own working folder.

    ``drivers`` are the executables given to indiserver on its command line
    (e.g. ``indi_simulator_ccd``).  ``port=None`` picks a free port.
    ``workdir=None`` makes a temporary folder that :meth:`close` removes; a
    given ``workdir`` is created if needed and kept (handy for reading the log
    after a failed test).  ``expected_devices`` is how many devices must have
    defined ``DRIVER_INFO`` before :meth:`start` returns; it defaults to one
    per driver.  ``sky=True`` (the default) puts the synthetic sky's ``gsc``
    first on the drivers' PATH, so the CCD simulator draws stars.
    """

    def __init__(
        self,
        drivers: Sequence[str] = (),
        *,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        expected_devices: int | None = None,
        startup_timeout: float = 30.0,
        indiserver: str = "indiserver",
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        sky: bool = True,
    ) -> None:
        self.drivers: tuple[str, ...] = tuple(drivers)
        self.sky = sky
        self.expected_devices = len(self.drivers) if expected_devices is None else expected_devices
        self.startup_timeout = startup_timeout
        self.extra_args: tuple[str, ...] = tuple(extra_args)
        self._indiserver = indiserver
        self._host = host
        self._port_fixed = port is not None
        self._port = port if port is not None else 0
        self._owns_workdir = workdir is None
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._workdir: Path | None = None
        self._extra_env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._socket_path: Path | None = None

    # ----------------------------------------------------------------- paths

    @property
    def host(self) -> str:
        """Address a client connects to."""
        return self._host

    @property
    def port(self) -> int:
        """TCP port of the server (0 until the first :meth:`start`)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self._port)

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            if self._workdir_arg is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="indiws-indiserver-"))
            else:
                self._workdir_arg.mkdir(parents=True, exist_ok=True)
                self._workdir = self._workdir_arg
        return self._workdir

    @property
    def fifo_path(self) -> Path:
        return self.workdir / "indiserver.fifo"

    @property
    def socket_path(self) -> Path:
        """Path given to ``indiserver -u`` (an abstract local socket on Linux)."""
        if self._socket_path is None:
            path = self.workdir / "indiserver.sock"
            if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
                # Deep pytest folders overflow sockaddr_un; any unique name will do.
                path = Path(tempfile.gettempdir()) / f"indiws-{secrets.token_hex(6)}.sock"
            self._socket_path = path
        return self._socket_path

    @property
    def log_path(self) -> Path:
        """indiserver's stdout and stderr (``-v``), appended across restarts."""
        return self.workdir / "indiserver.log"

    @property
    def home(self) -> Path:
        """``HOME`` of the server and drivers; drivers write ``.indi/`` here."""
        return self.workdir / "home"

    @property
    def pid(self) -> int | None:
        """PID of indiserver (also its process group id), None when not started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Start indiserver and wait until every expected device is defined.

        Raises :class:`IndiServerError` (with the end of the server log) when
        the server exits or the devices do not show up in time.
        """
        if self.running:
            raise IndiServerError(f"indiserver already running on port {self._port}")
        self.stop()  # collect a server that died on its own, and any driver left of it
        attempts = 1 if self._port_fixed else 5
        for attempt in range(attempts):
            if not self._port_fixed:
                self._port = free_port()
            try:
                self._launch_and_wait()
                return self
            except IndiServerError:
                port_taken = _TCP_PORT_IN_USE.search(self._log_of_last_launch())
                if self._port_fixed or not port_taken or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        """End indiserver and every driver of it (SIGTERM, then SIGKILL)."""
        proc = self._proc
        if proc is None:
            return
        # A live member (or the unreaped server) keeps the group id reserved.
        if proc.returncode is None or _live_group_members(proc.pid):
            self._signal_group(proc.pid, signal.SIGTERM)
        self._end_group(proc.pid, grace=timeout)
        proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL indiserver alone, as if it crashed.

        Its drivers then see end-of-file on their input and exit by
        themselves; any driver still there after two seconds is killed, so
        no process outlives the server.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
        self._end_group(proc.pid, grace=2.0)
        proc.wait()
        self._proc = None

    def restart_same_port(self) -> None:
        """Stop the server if it still runs, then start it again on the same
        port, FIFO, socket path and ``HOME`` with the original drivers."""
        self.stop()
        if not self._port:
            raise IndiServerError("restart_same_port() before the first start()")
        self._launch_and_wait()

    def close(self) -> None:
        """Stop the server and remove the working folder if this object made it."""
        self.stop()
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<IndiServerProcess {state} port={self._port} drivers={list(self.drivers)}>"

    # ------------------------------------------------------------------ FIFO

    def fifo_command(self, line: str, timeout: float = 5.0) -> None:
        """Write one command line to the server's FIFO, e.g.
        ``start indi_simulator_dome`` or ``stop indi_simulator_wheel -n "Wheel Two"``.

        Returns once indiserver has read it; the driver starts or stops
        shortly after (see :meth:`wait_for_devices`).
        """
        if "\n" in line.rstrip("\n"):
            raise ValueError("one FIFO command per call")
        from .manager.server import write_fifo_line_blocking

        if not self.running:
            raise IndiServerError("indiserver is not running; nobody reads the FIFO")
        write_fifo_line_blocking(
            self.fifo_path, line.rstrip("\n"), timeout, alive=lambda: self.running
        )

    def start_driver(self, driver: str, name: str | None = None) -> None:
        """Start a driver through the FIFO, optionally under another device name."""
        self.fifo_command(_fifo_line("start", driver, name))

    def stop_driver(self, driver: str, name: str | None = None) -> None:
        """Stop a driver through the FIFO."""
        self.fifo_command(_fifo_line("stop", driver, name))

    # --------------------------------------------------------------- queries

    def device_names(self, timeout: float = 5.0, quiet: float = 0.3) -> set[str]:
        """Devices that define ``DRIVER_INFO`` now, seen by a fresh connection.

        Reads the answer to ``getProperties`` until the stream has been quiet
        for ``quiet`` seconds (or ``timeout`` passed).
        """
        scanner = _DriverInfoScanner()
        deadline = time.monotonic() + timeout
        with socket.create_connection(self.address, timeout=timeout) as sock:
            sock.sendall(_GET_PROPERTIES)
            last_data = time.monotonic()
            while True:
                now = time.monotonic()
                if now - last_data >= quiet or now >= deadline:
                    return scanner.devices
                sock.settimeout(max(0.01, min(quiet - (now - last_data), deadline - now)))
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return scanner.devices
                scanner.feed(data)
                last_data = time.monotonic()

    def wait_for_devices(
        self,
        present: Iterable[str] = (),
        absent: Iterable[str] = (),
        timeout: float = 10.0,
    ) -> set[str]:
        """Wait until every device in ``present`` is defined and none in
        ``absent`` is; return the devices seen last."""
        want, gone = set(present), set(absent)
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while True:
            try:
                seen = self.device_names(timeout=max(0.5, deadline - time.monotonic()))
            except OSError:
                seen = set()
            if want <= seen and not gone & seen:
                return seen
            if time.monotonic() >= deadline:
                raise IndiServerError(
                    f"devices not as expected after {timeout:.1f}s: want {sorted(want)} "
                    f"present and {sorted(gone)} absent, saw {sorted(seen)}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def group_pids(self) -> list[int]:
        """Live processes in the server's process group: indiserver and its drivers."""
        return _live_group_members(self._proc.pid) if self._proc is not None else []

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no indiserver log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.log_path} ---\n{tail}"

    # -------------------------------------------------------------- internal

    def _launch_and_wait(self) -> None:
        executable = shutil.which(self._indiserver)
        if executable is None:
            raise IndiServerError(
                f"{self._indiserver!r} not found on PATH; install Debian's indi-bin "
                "(`make test` and `make run` do that)"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.fifo_path.exists():
            os.mkfifo(self.fifo_path)  # indiserver exits when its FIFO is missing
        cmd = [
            executable,
            "-v",
            "-p", str(self._port),
            "-f", str(self.fifo_path),
            "-u", str(self.socket_path),
            *self.extra_args,
            *self.drivers,
        ]  # fmt: skip
        env = {**os.environ, **self._extra_env, "HOME": str(self.home)}
        if self.sky:
            from .sky.gsc import sky_env

            env = sky_env(self.workdir / "bin", env)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"=== {time.strftime('%H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                start_new_session=True,  # own process group: stop() reaches every driver
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, quiet: float = 0.3, settle_cap: float = 3.0) -> None:
        """Block until the port answers and the expected devices are defined,
        then until the definitions stop flowing (``quiet`` seconds of silence,
        at most ``settle_cap`` seconds after the last expected device)."""
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        scanner = _DriverInfoScanner()
        while True:
            self._check_alive(scanner)
            if time.monotonic() >= deadline:
                self._fail(f"port {self._port} did not accept connections", scanner)
            try:
                sock = socket.create_connection(self.address, timeout=0.5)
                break
            except OSError:
                time.sleep(0.05)
        with sock:
            sock.sendall(_GET_PROPERTIES)
            last_data = time.monotonic()
            all_seen_at: float | None = None
            while True:
                now = time.monotonic()
                if len(scanner.devices) >= self.expected_devices:
                    all_seen_at = all_seen_at or now
                    if now - last_data >= quiet or now - all_seen_at >= settle_cap:
                        return
                if now >= deadline:
                    self._fail(
                        f"{len(scanner.devices)} of {self.expected_devices} devices defined "
                        f"DRIVER_INFO within {self.startup_timeout:.0f}s",
                        scanner,
                    )
                sock.settimeout(0.1)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    self._check_alive(scanner)
                    continue
                if not data:
                    self._check_alive(scanner)
                    self._fail("indiserver closed the connection during start-up", scanner)
                scanner.feed(data)
                last_data = time.monotonic()

    def _check_alive(self, scanner: _DriverInfoScanner) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._fail(f"indiserver exited with status {code} during start-up", scanner)
        # indiserver stays up when a driver keeps dying; no point waiting then.
        given_up = _DRIVER_GAVE_UP.search(self._log_of_last_launch())
        if given_up:
            self._fail(f"a driver failed to start ({given_up.group(0)!r})", scanner)

    def _fail(self, reason: str, scanner: _DriverInfoScanner) -> None:
        raise IndiServerError(
            f"indiserver on port {self._port} with drivers {list(self.drivers)}: {reason}; "
            f"devices seen: {sorted(scanner.devices)}\n{self.log_tail()}"
        )

    def _log_of_last_launch(self) -> str:
        """The log written by the last launch attempt."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def _end_group(self, pgid: int, grace: float) -> None:
        """Wait for the group's processes to exit; SIGKILL what is left after
        ``grace`` seconds.

        Callers reap indiserver only afterwards: until then its zombie keeps
        the group id reserved, so the SIGKILL can never reach a stranger that
        was given a recycled id.
        """
        deadline = time.monotonic() + grace
        while _live_group_members(pgid):
            if time.monotonic() >= deadline:
                self._signal_group(pgid, signal.SIGKILL)
                kill_deadline = time.monotonic() + 2.0
                while _live_group_members(pgid) and time.monotonic() < kill_deadline:
                    time.sleep(0.02)
                return
            time.sleep(0.02)


#: Type of the ``indiserver_factory`` pytest fixture: ``factory(drivers, **kwargs)``.
IndiServerFactory = Callable[..., IndiServerProcess]


def _fifo_line(verb: str, driver: str, name: str | None) -> str:
    if name is None:
        return f"{verb} {driver}"
    if '"' in name or "\n" in name:
        raise ValueError(f"device name not usable in a FIFO command: {name!r}")
    return f'{verb} {driver} -n "{name}"'


# ---------------------------------------------------------------- the service


class RunningService:
    """The service with its HTTP server, running in the test's event loop."""

    def __init__(self, service: Any, server: Any, port: int) -> None:
        self.service = service
        self.server = server
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    @property
    def state(self) -> WebState:
        """The application's `WebState` (its hubs, its send budget)."""
        from .web.state import state_of

        return state_of(self.server.request_callback)

    async def stop(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()
        self.state.close()
        await self.service.stop()


async def start_service(
    indi: IndiServerProcess, data_dir: Path, *, host: str = "127.0.0.1", **config: Any
) -> RunningService:
    """Start `indiws` (in-process) against ``indi`` and wait for the mirror.

    ``host`` is the address it listens on; with ``0.0.0.0`` it is reached
    through 127.0.0.1 (and then requires its access token)."""
    from .service import Config, Service
    from .web.app import make_app, server_options

    # Bound now, served once the service is up: a port only looked up here
    # (`free_port`) could be handed to another test meanwhile.
    sockets = bind_sockets(0, host)
    port = int(sockets[0].getsockname()[1])
    # Tests choose their targets without regard for the hour: no horizon
    # unless the test asks for one.
    config.setdefault("min_altitude", None)
    cfg = Config(
        indi_host=indi.host,
        indi_port=indi.port,
        host=host,
        port=port,
        data_dir=data_dir,
        **config,
    )
    service = Service(cfg)
    try:
        await service.start()
        await service.client.wait_synced(timeout=15)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    server = make_app(service).serve(sockets, **server_options(cfg))
    running = RunningService(service, server, port)
    if host not in ("", "0.0.0.0", "::", "127.0.0.1"):
        reach = f"[{host}]" if ":" in host else host
        running.url, running.ws_url = f"http://{reach}:{port}", f"ws://{reach}:{port}"
    return running


async def start_embedded_service(workdir: Path, **config: Any) -> RunningService:
    """`indiws` in embedded mode (its own indiserver, with the auto-start
    profile: the four simulators) in-process, with its own ports, data
    directory and drivers' HOME under ``workdir``; returns once the
    simulators' devices are in the mirror."""
    from .service import Config, Service
    from .web.app import make_app, server_options

    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    config.setdefault("min_altitude", None)  # as in start_service
    sockets = bind_sockets(0, "127.0.0.1")
    cfg = Config(
        indi_host=None,
        host="127.0.0.1",
        port=int(sockets[0].getsockname()[1]),
        data_dir=workdir / "data",
        embedded_indi_port=free_port(),
        indiserver_env={"HOME": str(home)},  # drivers write $HOME/.indi
        **config,
    )
    service = Service(cfg)
    server = make_app(service).serve(sockets, **server_options(cfg))
    running = RunningService(service, server, cfg.port)
    try:
        await service.start()
        wanted = {SIMULATOR_DEVICES[d] for d in DEFAULT_SIMULATORS}
        deadline = time.monotonic() + 15
        while not wanted <= set(service.client.devices):
            if time.monotonic() > deadline:
                raise TimeoutError("the simulators did not come up within 15 s")
            await asyncio.sleep(0.05)
    except BaseException:
        await running.stop()
        raise
    return running


@contextmanager
def service_without_indiserver(workdir: Path) -> Iterator[tuple[str, int, Path]]:
    """``python -m indiws --indi-host 127.0.0.1 --indi-port <a closed port>``
    in its own process: (its URL, the closed port, its log file), once its
    HTTP API answers; stopped on exit.  `free_port` keeps the closed port
    bound: no other test is handed it and listens there."""
    closed, port = free_port(), free_port()
    log_path = Path(workdir) / "indiws.log"
    cmd = [sys.executable, "-m", "indiws", "--indi-host", "127.0.0.1", "--indi-port", str(closed)]
    cmd += ["--port", str(port), "--data-dir", str(Path(workdir) / "data"), "--phd2-port", "0"]
    cmd += NO_ALPACA
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/api/v1/status", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"indiws exited ({proc.returncode}):\n{log_path.read_text()}")
        yield url, closed, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=20)


#: Where flood connections come from: another host, as far as a service on
#: 127.0.0.1 can tell (its per-address caps count it apart).
FLOOD_FROM = "127.0.0.2"


def slow_header_connections(port: int, count: int) -> list[socket.socket]:
    """Up to ``count`` connections from `FLOOD_FROM` to ``port`` that send half
    a request's headers and then nothing (the ones refused are left out)."""
    conns = []
    for _ in range(count):
        conn = socket.socket()
        try:
            conn.bind((FLOOD_FROM, 0))
            conn.settimeout(5)
            conn.connect(("127.0.0.1", port))
            conn.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
        except OSError:
            conn.close()
            continue
        conns.append(conn)
    return conns


def closed_by_peer(conn: socket.socket) -> bool:
    """Whether the other end has closed ``conn`` (without waiting)."""
    conn.settimeout(0)
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def ra_east_of_meridian(longitude: float, hours_east: float = 1.5) -> float:
    """The RA (JNow, hours) ``hours_east`` east of the meridian now, at east
    ``longitude``, kept 0.25 h from 0/24 so that small offsets around it stay
    valid RAs: a goto around it stays on one side of the pier at any hour."""
    from indiws.devices.astro import local_sidereal_time

    ra = (local_sidereal_time(longitude) + hours_east) % 24.0
    return min(max(ra, 0.25), 23.75)


def longitude_for(ra: float, hours_east: float = 1.5) -> float:
    """The east longitude (-180..180) at which ``ra`` (JNow, hours) stands
    ``hours_east`` east of the meridian now: a site chosen from the hour, for
    a test whose target is fixed."""
    from indiws.devices.astro import local_sidereal_time

    return ((ra - hours_east - local_sidereal_time(0.0)) * 15 + 180) % 360 - 180


async def sync_mount_east_of_meridian(
    client: Any, device: str = "Telescope Simulator", hours_east: float = 1.5, dec: float = 20.0
) -> tuple[float, float]:
    """Sync the (unparked) mount ``device`` to a point ``hours_east`` of the
    meridian at ``dec`` and return that (RA, DEC), JNow.

    A German-equatorial mount (the telescope simulator too) flips sides of
    the pier when a goto crosses the meridian: a 0.75° goto then becomes a
    30-40 s slew whose end the simulator reports off the target.  Where a
    shared mount was left is up to earlier tests (parked at the pole,
    tracking past the meridian, ...); a sync puts it on the east side, pier
    side included, without moving, so a short goto further east stays one.
    ``client`` is an :class:`indiws.indi.client.INDIClient`; ON_COORD_SET is
    left as it was.
    """
    site = client.get_property(device, "GEOGRAPHIC_COORD")
    ra = ra_east_of_meridian(float(site["LONG"]), hours_east)
    mode = client.get_property(device, "ON_COORD_SET").on_switches()
    await client.set_property(device, "ON_COORD_SET", {"SYNC": True}, wait=True)
    try:
        await client.set_property(
            device, "EQUATORIAL_EOD_COORD", {"RA": ra, "DEC": dec}, wait=True, timeout=15
        )
    finally:
        await client.set_property(device, "ON_COORD_SET", {mode[0]: True}, wait=True)
    return ra, dec
