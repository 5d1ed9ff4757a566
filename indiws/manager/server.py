"""``indiserver`` as a supervised child process, with drivers started through its FIFO.

:class:`IndiServerSupervisor` starts ``indiserver -v -p PORT -f FIFO -u SOCKET -r N``
in its own session (so the server and every driver it forks share one process
group), reads the server's output line by line into the ``indiws.indiserver``
logger, and restarts the server with backoff when it dies, restarting the
drivers that were running.  Drivers are started and stopped with FIFO commands
(``start indi_simulator_wheel -n "Wheel Two"``), never on the command line, so
that every driver is handled the same way and can carry a device name.

What the supervisor knows about the drivers comes from indiserver's ``-v`` log,
checked against INDI 1.9.9 (see ``docs/manager.md``)::

    Driver indi_simulator_ccd: pid=2204 rfd=8 wfd=8 efd=9      <- started
    Driver indi_simulator_ccd: read EOF                        <- died ...
    <delProperty device="CCD Simulator"/>                      <- ... its devices
    Driver indi_simulator_ccd: Terminated after #0 restarts.   <- given up
    Driver indi_simulator_ccd: restart #0                      <- or restarted

By default the server runs with ``-r 0``: a driver that crashes stays down and
is listed as :attr:`DriverState.CRASHED` until someone restarts it.  With
``driver_restarts=N`` indiserver itself restarts a crashed driver up to N times
(over the life of the server), and the listing follows the new process.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import ctypes
import enum
import errno
import fcntl
import html
import ipaddress
import logging
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import termios
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from indiws.db import Profile, ProfileDriver, has_control_character

__all__ = [
    "DEFAULT_INDI_PORT",
    "DriverError",
    "DriverInstance",
    "DriverNotAllowedError",
    "DriverNotFoundError",
    "DriverState",
    "FifoError",
    "IndiServerError",
    "IndiServerNotFoundError",
    "IndiServerStartError",
    "IndiServerSupervisor",
    "InvalidDriverNameError",
    "PortInUseError",
    "ProfileStartError",
    "SupervisorEvent",
    "check_driver_executable",
    "choose_port",
    "find_free_port",
    "write_fifo_line",
    "write_fifo_line_blocking",
    "port_is_free",
]

log = logging.getLogger(__name__)
#: indiserver's own output (its ``-v`` log and the drivers' stderr) goes here.
server_log = logging.getLogger("indiws.indiserver")

DEFAULT_INDI_PORT = 7624
_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path holds 108 bytes on Linux
_MAX_LINE = 64 * 1024  # longer output lines are cut (a driver dumping binary junk)
_PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------- errors


class IndiServerError(RuntimeError):
    """Base class of the errors raised by the supervisor."""


class IndiServerNotFoundError(IndiServerError):
    """The ``indiserver`` executable is not installed (or not where it was said to be)."""


class PortInUseError(IndiServerError):
    """Another program listens on the port indiserver was to use."""

    def __init__(self, port: int, detail: str = "") -> None:
        self.port = port
        message = (
            f"TCP port {port} is already in use by another program (another indiserver?); "
            f"stop that program or choose another port for indiserver"
        )
        super().__init__(f"{message}: {detail}" if detail else message)


class IndiServerStartError(IndiServerError):
    """indiserver exited, or did not listen in time, while starting."""


class FifoError(IndiServerError):
    """A command could not be written to indiserver's FIFO."""


class DriverError(IndiServerError):
    """A driver could not be started, stopped or found."""


class DriverNotFoundError(DriverError):
    """The driver executable is not installed."""


class DriverNotAllowedError(DriverError):
    """Not a program this service may start: a path instead of a bare name, or a
    program that neither INDI's driver catalog nor the operator names."""


class InvalidDriverNameError(DriverError, ValueError):
    """A driver, device name or label that cannot be written to indiserver's
    FIFO (a newline, a quote, a control character, ...)."""


class ProfileStartError(DriverError):
    """Some drivers of a profile did not start; the others did.

    ``started`` holds the instances that run, ``failures`` maps each driver
    that failed to its error.
    """

    def __init__(
        self,
        profile: str,
        started: list[DriverInstance],
        failures: dict[ProfileDriver, Exception],
    ) -> None:
        self.profile = profile
        self.started = started
        self.failures = failures
        details = "; ".join(f"{d.executable}: {e}" for d, e in failures.items())
        super().__init__(
            f"profile {profile!r}: {len(failures)} of {len(started) + len(failures)} "
            f"drivers did not start ({details})"
        )


# -------------------------------------------------------------------- drivers


class DriverState(enum.StrEnum):
    """Where a driver instance is in its life."""

    STARTING = "starting"  # start command sent, no process seen yet
    RUNNING = "running"  # indiserver reported its process (or remote connection)
    STOPPING = "stopping"  # stop command sent, process not gone yet
    STOPPED = "stopped"  # stopped on request
    CRASHED = "crashed"  # died on its own and was not restarted; stopped, too


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class DriverInstance:
    """One driver process run by indiserver (or one remote device chained in).

    ``(executable, name)`` identifies it: ``name`` is the device name given
    with ``-n`` (None for the driver's default name).
    """

    executable: str
    name: str | None = None
    label: str | None = None
    state: DriverState = DriverState.STARTING
    pid: int | None = None
    started_at: datetime = field(default_factory=_utcnow)
    stopped_at: datetime | None = None
    restarts: int = 0
    """Times it was started again after a crash (by indiserver) or a server restart."""
    devices: set[str] = field(default_factory=set)
    """Devices it defined, as far as indiserver's log told (learned when it dies)."""
    last_error: str | None = None
    order: int = 0
    """Position in indiserver's driver list (start order); FIFO ``stop`` picks the oldest."""
    output_from: int = field(default=0, repr=False)
    """Sequence number of the first output line of the current process."""

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.executable, self.name)

    @property
    def is_remote(self) -> bool:
        return "@" in self.executable

    @property
    def running(self) -> bool:
        """Starting or running: the supervisor wants it up."""
        return self.state in (DriverState.STARTING, DriverState.RUNNING)

    @property
    def stopped(self) -> bool:
        """Stopped on request or crashed."""
        return self.state in (DriverState.STOPPED, DriverState.CRASHED)

    def describe(self) -> str:
        return f"{self.executable} ({self.name})" if self.name else self.executable

    def to_dict(self) -> dict[str, object]:
        return {
            "executable": self.executable,
            "name": self.name,
            "label": self.label,
            "state": self.state.value,
            "running": self.running,
            "pid": self.pid,
            "remote": self.is_remote,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "stopped_at": self.stopped_at.isoformat(timespec="seconds")
            if self.stopped_at
            else None,
            "restarts": self.restarts,
            "devices": sorted(self.devices),
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """Something that happened to the server or a driver.

    ``kind`` is one of ``server_started``, ``server_exited``,
    ``server_restarted``, ``server_stopped``, ``driver_started``,
    ``driver_stopped``, ``driver_crashed``, ``driver_restarted``.
    """

    kind: str
    driver: DriverInstance | None = None
    detail: str = ""


# ---------------------------------------------------------------------- ports


def port_is_free(port: int, host: str = "") -> bool:
    """True if nobody listens on ``port``.

    Binds the way indiserver does (all interfaces, ``SO_REUSEADDR``), so a port
    left in TIME_WAIT by an earlier server counts as free, as it is for indiserver.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _unread_bytes(fd: int) -> int:
    """Bytes written to the pipe ``fd`` that its reader has not read yet."""
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return int(count[0])


def _fifo_steps(
    path: Path, line: str, timeout: float, alive: Callable[[], bool]
) -> Iterator[float]:
    """`write_fifo_line` as steps: each yield is how long to wait before the
    next (the async and the blocking writers sleep their own way)."""
    data = (line + "\n").encode()
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise FifoError(f"indiserver is not running; cannot send {line!r}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno not in (errno.ENXIO, errno.EAGAIN, errno.EINTR):
                raise FifoError(f"cannot open FIFO {path}: {error}") from error
        else:
            try:
                if os.write(fd, data) == len(data):
                    while _unread_bytes(fd) and time.monotonic() < deadline and alive():
                        yield 0.002
                    return
            except (BlockingIOError, BrokenPipeError):
                pass  # nothing was written
            except OSError as error:
                raise FifoError(f"cannot write to FIFO {path}: {error}") from error
            finally:
                os.close(fd)
        if time.monotonic() >= deadline:
            raise FifoError(
                f"indiserver did not read its FIFO {path} within {timeout:.1f}s; "
                f"command {line!r} not sent"
            )
        yield 0.02


async def write_fifo_line(
    path: Path, line: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> None:
    """Write ``line`` to indiserver's command FIFO ``path`` without blocking
    the loop, and return once indiserver has read it.

    indiserver (1.9.9) opens its end read-only and non-blocking, and after
    each writer has gone (EOF) closes and reopens it.  Hence:
    * no reader at all: the open fails (ENXIO): again, until ``timeout``;
    * a full pipe: the write fails (EAGAIN): again;
    * the open came just before indiserver closed its end: the write finds
      no reader (EPIPE) and wrote nothing: again;
    * the write came just before indiserver closed its end: the line is in
      the pipe with no reader, and a pipe both of whose ends are closed
      loses what it holds.  So this end stays open until the pipe is empty
      (indiserver's reopened end read it), ``timeout`` at most.
    A line is shorter than PIPE_BUF: it is written whole or not at all.
    ``alive`` says whether indiserver still runs (else `FifoError` at once).
    """
    for pause in _fifo_steps(path, line, timeout, alive):
        await asyncio.sleep(pause)


def write_fifo_line_blocking(
    path: Path, line: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> None:
    """`write_fifo_line` for a caller without an event loop (it sleeps)."""
    for pause in _fifo_steps(path, line, timeout, alive):
        time.sleep(pause)


def find_free_port(host: str = "") -> int:
    """A port nobody listens on now (another program may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def private_loopback_address() -> str:
    """A random address of 127.0.0.0/8 other than 127.0.0.x: every one is this
    machine's, but nothing connects from one unless it binds to it (a browser
    never does)."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def choose_port(preferred: int = DEFAULT_INDI_PORT) -> int:
    """``preferred`` when it is free, else any free port."""
    return preferred if port_is_free(preferred) else find_free_port()


# ------------------------------------------------------------------ processes


def _process_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def _pid_alive(pid: int) -> bool:
    """True while the process runs (a zombie is dead: it only waits to be reaped)."""
    if os.path.isdir("/proc"):
        stat = _process_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (Linux /proc; else a best guess)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _process_stat(int(entry))
            if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel send SIGTERM to indiserver when we die.

    Covers the case no ``stop()`` can: this process killed with SIGKILL (or
    crashing).  indiserver then exits, and its drivers exit on end-of-file of
    their input.  Linux only; the function is resolved here, before the fork,
    so the child does nothing but one system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call
            os._exit(1)

    return set_parent_death_signal


# ---------------------------------------------------- indiserver's TCP port

# pidfd_getfd(2): one number on every Linux architecture that has it (new
# system calls share the generic table), except the MIPS ABIs and alpha.
_SYS_PIDFD_GETFD = 438
_TCP_LISTEN, _TCP_ESTABLISHED = "0A", "01"


def _pidfd_getfd(pid: int, fd: int) -> int:
    """A duplicate, in this process, of file descriptor ``fd`` of process ``pid``."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = int(libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))
        if dup < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return dup
    finally:
        os.close(pidfd)


def _tcp_sockets(pid: int, port: int) -> list[tuple[str, str, int]]:
    """(state, remote address, fd) of the IPv4 TCP sockets of ``pid`` on local ``port``."""
    inodes: dict[str, tuple[str, str]] = {}
    with open(f"/proc/{pid}/net/tcp") as table:
        next(table)
        for row in table:
            cols = row.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if int(local.rpartition(":")[2], 16) == port:
                inodes[f"socket:[{inode}]"] = (state, remote.partition(":")[0])
    found = []
    for entry in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
            if target in inodes:
                state, remote = inodes[target]
                found.append((state, remote, int(entry)))
    return found


def _hex_address(address: str) -> str:
    # /proc/net/tcp shows an IPv4 address as 8 hex digits in host byte order.
    return socket.inet_ntoa(int(address, 16).to_bytes(4, sys.byteorder))


def _is_loopback_hex(address: str) -> bool:
    return _hex_address(address).startswith("127.")


# Classic BPF (SO_ATTACH_FILTER): no privilege needed, and a filter on a TCP
# listening socket is run on every packet that reaches it, SYNs included.
_SO_ATTACH_FILTER, _SO_LOCK_FILTER = 26, 44
_SKF_NET_OFF = -0x100000  # loads relative to the IP header


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def admit_only_source(listener: socket.socket, source: str) -> None:
    """Make the IPv4 TCP ``listener`` drop every packet whose source address
    is not ``source``: connections from anywhere else never complete (their
    SYN is dropped, as by a firewall).

    The embedded indiserver admits only the service's own connection this way,
    made from an address of 127.0.0.0/8 that nothing else uses: a browser page's
    ``fetch("http://127.0.0.1:7624/", {method: "POST"})`` comes from
    127.0.0.1 and never reaches indiserver (docs/security.md).
    """
    wanted = int.from_bytes(socket.inet_aton(source), "big")
    program = (_SockFilter * 4)(
        _SockFilter(0x20, 0, 0, (_SKF_NET_OFF + 12) & 0xFFFFFFFF),  # ld [ip src]
        _SockFilter(0x15, 0, 1, wanted),  # jeq #source, accept, drop
        _SockFilter(0x06, 0, 0, 0xFFFFFFFF),  # ret: the whole packet
        _SockFilter(0x06, 0, 0, 0),  # ret 0: dropped
    )
    fprog = _SockFprog(len(program), program)
    listener.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, bytes(fprog))  # type: ignore[call-overload]
    listener.setsockopt(socket.SOL_SOCKET, _SO_LOCK_FILTER, 1)


def restrict_to_loopback(pid: int, port: int, admit_source: str | None = None) -> str | None:
    """Make the TCP listener of indiserver ``pid`` accept connections from this
    machine only; None when done, else why it could not be done.

    indiserver 1.9.9 has no option for its listening address: it binds every
    interface (0.0.0.0).  The supervisor takes a duplicate of that socket
    (``pidfd_getfd``, allowed for a parent on its own child) and binds it to the
    loopback interface (``SO_BINDTODEVICE``, allowed without privileges on an
    unbound socket since Linux 5.7): from then on the kernel refuses connections
    that arrive on any other interface.  Connections another host made in the
    few milliseconds before are shut down.  With ``admit_source``, the port
    also drops every connection not made from that address
    (:func:`admit_only_source`).
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return "restricting indiserver's port needs Linux"
    if platform.machine().lower().startswith(("mips", "alpha")):
        return f"restricting indiserver's port is not supported on {platform.machine()}"
    try:
        sockets = _tcp_sockets(pid, port)
        listeners = [fd for state, _, fd in sockets if state == _TCP_LISTEN]
        if not listeners:
            return f"indiserver's listening socket on port {port} was not found in /proc/{pid}"
        for fd in listeners:
            with socket.socket(fileno=_pidfd_getfd(pid, fd)) as listener:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
                if admit_source is not None:
                    admit_only_source(listener, admit_source)
        for state, remote, fd in sockets:
            foreign = not _is_loopback_hex(remote) or (
                admit_source is not None and _hex_address(remote) != admit_source
            )
            if state == _TCP_ESTABLISHED and foreign:
                with socket.socket(fileno=_pidfd_getfd(pid, fd)) as early:
                    early.shutdown(socket.SHUT_RDWR)
                log.warning("closed a connection to indiserver not made by the service")
    except OSError as error:
        return f"could not restrict indiserver's port {port} to this machine: {error}"
    return None


# ----------------------------------------------------------------- log lines

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: ")
# "Driver <exe>: <message>"; an exe has no ": " (a remote one has "host:port").
_DRIVER_LINE = re.compile(r"^Driver (?P<exe>.+?): (?P<msg>.*)$")
_PID = re.compile(r"^pid=(?P<pid>\d+) ")
_REMOTE_UP = re.compile(r"^socket=\d+")
_RESTART = re.compile(r"^restart #(?P<n>\d+)")
_GAVE_UP = re.compile(r"^Terminated after #(?P<n>\d+) restarts")
_DEL_DEVICE = re.compile(r'^<delProperty device="(?P<device>[^"]*)"/>')
_LISTENING = re.compile(r"^listening to port (?P<port>\d+)")
# Only the TCP bind: a failure of the -u socket reads "Local server: bind: ...".
_TCP_BIND_FAILED = re.compile(r"^bind: (?P<why>.*)")
_QUIET = re.compile(r"^(Client \d+: |FIFO: |With name: )|: snooping on ")
# What indiserver itself says about a driver ("Driver X: read EOF", ...), as
# opposed to what the driver printed on its stderr.
_BOOKKEEPING = re.compile(
    r"^(pid=|socket=|snooping on |restart #|Terminated after |read EOF$|stderr EOF$|"
    r"read: |write: |queuing |read <|sending |dp->name: |name: )"
)
#: A driver's output line older than this when it dies is not taken for its error.
_ERROR_RECENT = 10.0


#: A local driver: the bare name of its program, looked up on PATH as
#: indiserver's execlp() does; never a path.
_BARE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
#: Every line the supervisor may write to the FIFO (see :func:`_check_fifo_line`).
_LOCAL_LINE = re.compile(r'(?:start|stop) [A-Za-z0-9_][A-Za-z0-9_.+-]*(?: -n "[^"@]+")?')
_REMOTE_LINE = re.compile(r"(?:start|stop) [^\"@]+@[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


def check_driver_executable(executable: str) -> str:
    """Refuse (:class:`DriverNotAllowedError`) anything but the bare name of a program."""
    if not _BARE_NAME.fullmatch(executable):
        raise DriverNotAllowedError(
            f"driver executable {executable!r} is not allowed: name an INDI driver by the bare "
            "name of its program (like indi_simulator_ccd), which is looked up on PATH; "
            "never by a path"
        )
    return executable


def _fifo_line(verb: str, driver: ProfileDriver) -> str:
    """``start EXE``, ``start EXE -n "Device Name"`` or ``start Device@host:port``.

    indiserver reads the device name up to the next double quote and has no
    escape for it, so the name is quoted and may hold no quote; ProfileDriver
    refuses such names, and :func:`_check_fifo_line` checks the line again.
    """
    if driver.is_remote or driver.name is None:
        # indiserver takes the rest of a remote line and drops any quotes.
        return f"{verb} {driver.executable}"
    return f'{verb} {driver.executable} -n "{driver.name}"'


def _check_fifo_line(line: str) -> None:
    """The last check before indiserver: one command, no line break, no NUL,
    no stray quote, nothing but the shapes :func:`_fifo_line` makes."""
    if not has_control_character(line) and (
        _LOCAL_LINE.fullmatch(line) or _REMOTE_LINE.fullmatch(line)
    ):
        return
    raise InvalidDriverNameError(
        f"refusing to write {line!r} to indiserver's FIFO: a driver, device name or label "
        "holds a character that would break the command (newline, quote, control character)"
    )


# ----------------------------------------------------------------- supervisor


class IndiServerSupervisor:
    """Run one ``indiserver``, keep it running, and control its drivers.

    Parameters:

    - ``port``: TCP port of the server (see :func:`choose_port`).
    - ``indiserver``: executable name (looked up on ``PATH``) or path.
    - ``run_dir``: folder for the FIFO (and the name of the ``-u`` socket);
      None makes a temporary one, removed by :meth:`stop`.
    - ``env``: variables set for the server and drivers over ``os.environ``
      (drivers keep their configuration in ``$HOME/.indi``).
    - ``driver_restarts``: indiserver's ``-r``; 0 (default) leaves a crashed
      driver down and listed as crashed.
    - ``max_client_mb`` / ``max_stream_mb``: indiserver's ``-m`` / ``-d``.
    - ``backoff_initial`` / ``backoff_max`` / ``stable_after``: the server is
      restarted after ``backoff_initial`` seconds, doubling up to
      ``backoff_max`` while it keeps dying; a server that stayed up
      ``stable_after`` seconds starts again from ``backoff_initial``.
    - ``driver_policy``: called with each driver to start (a
      :class:`~indiws.db.ProfileDriver`); raises (e.g.
      :class:`DriverNotAllowedError`) to refuse it.  Without one, any bare
      program name found on ``PATH`` may run.
    - ``loopback_only``: make indiserver's TCP port accept connections from
      this machine only (indiserver 1.9.9 itself always listens on every
      interface); :attr:`network_exposure` says why when that failed.
    - ``start_timeout``: how long :meth:`start` waits for the port to listen;
      ``driver_timeout``: how long a driver start or stop waits for its process;
      ``fifo_timeout``: how long a FIFO write may wait for indiserver to read.

    Use ``async with`` or call :meth:`start` and, always, :meth:`stop`.
    """

    def __init__(
        self,
        port: int = DEFAULT_INDI_PORT,
        *,
        indiserver: str = "indiserver",
        run_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        driver_restarts: int = 0,
        max_client_mb: int | None = None,
        max_stream_mb: int | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
        driver_timeout: float = 5.0,
        fifo_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        stable_after: float = 30.0,
        parent_death_signal: bool = True,
        driver_policy: Callable[[ProfileDriver], None] | None = None,
        loopback_only: bool = True,
        admit_source: str | None = None,
    ) -> None:
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be from 1 to 65535, not {port}")
        if driver_restarts < 0:
            raise ValueError("driver_restarts must be 0 or more")
        self.port = port
        self.indiserver = indiserver
        self.driver_restarts = driver_restarts
        self.max_client_mb = max_client_mb
        self.max_stream_mb = max_stream_mb
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.driver_timeout = driver_timeout
        self.fifo_timeout = fifo_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self._parent_death_signal = parent_death_signal
        #: Called with every driver before it starts; raises to refuse it.
        self.driver_policy = driver_policy
        self.loopback_only = loopback_only
        #: With ``loopback_only``: the one address of 127.0.0.0/8 from which
        #: indiserver's port accepts connections (the service's client binds
        #: to it); every other connection is dropped (:func:`admit_only_source`).
        self.admit_source = admit_source
        #: Other ports of this machine that lead to this indiserver (the
        #: service's filtered INDI port): a remote driver may not name them.
        self.own_ports: set[int] = set()
        #: Why indiserver's TCP port is open to other hosts (None: loopback only,
        #: or not started yet); see :func:`restrict_to_loopback`.
        self.network_exposure: str | None = None
        self._env = {**os.environ, **(env or {})}
        self._run_dir_arg = Path(run_dir) if run_dir is not None else None
        self._run_dir: Path | None = None
        self._socket_path: Path | None = None

        self._proc: asyncio.subprocess.Process | None = None
        self._executable = indiserver
        self._reader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._op_lock = asyncio.Lock()
        self._fifo_lock = asyncio.Lock()
        self._stopping = False
        self._launched_at = 0.0
        self._listening = asyncio.Event()
        self._bind_failure: str | None = None
        self._output_tail: deque[str] = deque(maxlen=40)
        self._changed = asyncio.Event()

        self._drivers: dict[tuple[str, str | None], DriverInstance] = {}
        self._awaiting_pid: dict[str, deque[DriverInstance]] = {}
        self._recently_deleted: list[str] = []
        # Per executable: (sequence number, time, line) of what drivers printed.
        self._driver_output: dict[str, deque[tuple[int, float, str]]] = {}
        self._output_seq = 0
        self._next_order = 0
        self._subscribers: list[Callable[[SupervisorEvent], None]] = []

        #: Times the server was started again after dying.
        self.server_restarts = 0
        #: When the current server process started (None while stopped).
        self.started_at: datetime | None = None

    # ------------------------------------------------------------ properties

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            if self._run_dir_arg is None:
                self._run_dir = Path(tempfile.mkdtemp(prefix="indiws-indiserver-"))
            else:
                self._run_dir_arg.mkdir(parents=True, exist_ok=True)
                self._run_dir = self._run_dir_arg
        return self._run_dir

    @property
    def fifo_path(self) -> Path:
        return self.run_dir / "indiserver.fifo"

    @property
    def socket_path(self) -> Path:
        """Path given to ``-u`` (on Linux an abstract socket: no file is made)."""
        if self._socket_path is None:
            path = self.run_dir / "indiserver.sock"
            if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
                path = Path(tempfile.gettempdir()) / f"indiws-{secrets.token_hex(6)}.sock"
            self._socket_path = path
        return self._socket_path

    @property
    def pid(self) -> int | None:
        """PID of the running indiserver (also its process group), or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        """True while the server process runs and listens."""
        return self.pid is not None and self._listening.is_set()

    def status(self) -> dict[str, object]:
        """A JSON-ready summary of the server and its drivers."""
        return {
            "running": self.running,
            "port": self.port,
            "pid": self.pid,
            "fifo": str(self.fifo_path) if self._run_dir else None,
            "started_at": self.started_at.isoformat(timespec="seconds")
            if self.started_at
            else None,
            "server_restarts": self.server_restarts,
            "driver_restarts": self.driver_restarts,
            "open_to_network": self.network_exposure is not None,
            "drivers": [d.to_dict() for d in self.drivers()],
        }

    def server_output(self) -> list[str]:
        """The last lines indiserver printed (for error reports)."""
        return list(self._output_tail)

    # ------------------------------------------------------------- listeners

    def subscribe(self, callback: Callable[[SupervisorEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on every :class:`SupervisorEvent` (on the
        event loop; keep it short).  Returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, driver: DriverInstance | None = None, detail: str = "") -> None:
        event = SupervisorEvent(kind, driver, detail)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("supervisor event listener failed on %s", kind)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))
        return True

    # ------------------------------------------------------------- lifecycle

    async def start(self, drivers: Iterable[ProfileDriver | str] = ()) -> None:
        """Start indiserver (if not running) and then ``drivers``.

        Returns when the port accepts connections and each driver's process
        runs.  Raises :class:`IndiServerNotFoundError`, :class:`PortInUseError`
        or :class:`IndiServerStartError`; a driver that fails raises
        :class:`DriverError` after the server is up (it stays up).
        """
        if self._watcher is not None and not self._watcher.done() and not self._stopping:
            # The server died and the watcher is bringing it back: wait for that.
            limit = self.start_timeout + self.backoff_max
            if not await self._wait_until(lambda: self.running, limit):
                raise IndiServerStartError(
                    f"indiserver on port {self.port} died and did not come back within "
                    f"{limit:.0f}s{self._tail_text()}"
                )
        async with self._op_lock:
            if self._proc is None or self._proc.returncode is not None:
                self._stopping = False
                self._executable = self._find_indiserver()
                await self._launch(self._executable)
                self.server_restarts = 0
                self._watcher = asyncio.create_task(self._watch(), name="indiserver-watch")
                self._emit("server_started", detail=f"port {self.port}")
        for driver in drivers:
            spec = ProfileDriver.from_value(driver)
            await self.start_driver(spec.executable, spec.name, label=spec.label)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop every driver and indiserver; no process of theirs is left after.

        SIGTERM to the whole process group, SIGKILL to what is still alive
        after ``timeout`` seconds.  Safe to call more than once, and before
        :meth:`start`.
        """
        self._stopping = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        async with self._op_lock:
            proc = self._proc
            if proc is not None:
                await self._terminate(proc, timeout)
                self._proc = None
                self.started_at = None
                self.network_exposure = None  # nothing listens any more
                self._listening.clear()
                self._emit("server_stopped")
            now = _utcnow()
            for driver in self._drivers.values():
                if not driver.stopped:
                    driver.state = DriverState.STOPPED
                    driver.pid = None
                    driver.stopped_at = now
            self._drivers.clear()
            self._awaiting_pid.clear()
            if self._run_dir is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.fifo_path.unlink()
                if self._run_dir_arg is None:
                    shutil.rmtree(self._run_dir, ignore_errors=True)
                    self._run_dir = None
                    self._socket_path = None
            self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until the server listens and every wanted driver runs (e.g. after
        the server was restarted); False on timeout."""
        return await self._wait_until(
            lambda: (
                self.running
                and all(d.state is DriverState.RUNNING for d in self._drivers.values() if d.running)
            ),
            timeout,
        )

    # --------------------------------------------------------------- drivers

    def drivers(self) -> list[DriverInstance]:
        """Every driver instance known: running, starting, stopping, crashed."""
        return list(self._drivers.values())

    def running_drivers(self) -> list[DriverInstance]:
        """The instances that are starting or running."""
        return [d for d in self._drivers.values() if d.running]

    def get_driver(self, executable: str, name: str | None = None) -> DriverInstance | None:
        return self._drivers.get((executable, name))

    async def start_driver(
        self,
        executable: str,
        name: str | None = None,
        *,
        label: str | None = None,
        timeout: float | None = None,
    ) -> DriverInstance:
        """Start a driver through the FIFO; ``name`` runs it under another device
        name (a second instance).  Returns once indiserver reports its process.

        Starting an instance that already runs returns it unchanged.  Raises
        :class:`DriverNotFoundError` when the executable is not installed,
        :class:`FifoError`, or :class:`DriverError` when it did not come up.
        """
        spec = _spec(executable, name, label)
        if not spec.is_remote:
            check_driver_executable(spec.executable)
        if self.driver_policy is not None:
            self.driver_policy(spec)  # raises to refuse, before anything runs
        self._require_running()
        existing = self._drivers.get((spec.executable, spec.name))
        if existing is not None and existing.state in (DriverState.STARTING, DriverState.RUNNING):
            log.info("driver %s is already %s", existing.describe(), existing.state.value)
            return existing
        if existing is not None and existing.state is DriverState.STOPPING:
            raise DriverError(f"driver {existing.describe()} is stopping; start it afterwards")
        if not spec.is_remote and shutil.which(spec.executable, path=self._env.get("PATH")) is None:
            raise DriverNotFoundError(
                f"driver {spec.executable!r} is not installed (not found on PATH); "
                "install its package, e.g. indi-bin or indi-<name> from your distribution"
            )
        if spec.is_remote:
            problem = await _remote_unreachable(
                spec.executable, own_ports={self.port, *self.own_ports}
            )
            if problem is not None:
                raise DriverError(problem)
        driver = DriverInstance(spec.executable, spec.name, spec.label)
        self._drivers[driver.key] = driver
        try:
            await self._send_start(driver)
        except BaseException:
            self._forget_pending(driver)
            if self._drivers.get(driver.key) is driver:
                del self._drivers[driver.key]
            raise
        wait = self.driver_timeout if timeout is None else timeout
        await self._wait_until(lambda: driver.state is not DriverState.STARTING, wait)
        if driver.state is DriverState.CRASHED:
            raise DriverError(
                f"driver {driver.describe()} exited right after start"
                + (f": {driver.last_error}" if driver.last_error else "")
            )
        if driver.state is DriverState.STARTING:
            raise DriverError(
                f"indiserver did not report driver {driver.describe()} within {wait:.1f}s"
            )
        log.info("driver %s started (pid %s)", driver.describe(), driver.pid)
        self._emit("driver_started", driver)
        return driver

    async def stop_driver(
        self,
        executable: str,
        name: str | None = None,
        *,
        device: str | None = None,
        timeout: float | None = None,
    ) -> DriverInstance:
        """Stop a driver through the FIFO and wait until its process is gone.

        A crashed instance is just removed from the listing.  ``device``, a
        device name the instance defines, is only needed to stop the unnamed
        instance of a driver while an older named instance of it runs
        (indiserver's plain ``stop exe`` picks the oldest).  Raises
        :class:`DriverError` when no such instance runs or it does not exit.
        """
        driver = self._drivers.get((executable, name))
        if driver is None:
            raise DriverError(f"driver {_describe(executable, name)} is not running")
        if driver.stopped:
            del self._drivers[driver.key]
            self._notify()
            return driver
        self._require_running()
        line = _fifo_line("stop", _spec(executable, name, None))
        if name is None and not driver.is_remote:
            line = self._stop_line_for_default_instance(driver, line, device)
        wait = self.driver_timeout if timeout is None else timeout
        previous_state = driver.state
        driver.state = DriverState.STOPPING
        self._forget_pending(driver)
        try:
            deadline = time.monotonic() + wait
            await self._fifo_write(line)
            gone = await self._wait_gone(driver, min(wait, 0.5))
            # indiserver matches -n against the devices a driver has defined, and
            # ignores the command if it has defined none yet (it just started):
            # send it again.  Never for a plain "stop exe", which would stop the
            # next instance of exe.
            resend = " -n " in line and not driver.is_remote
            while not gone and resend and time.monotonic() < deadline:
                await self._fifo_write(line)
                gone = await self._wait_gone(driver, min(0.5, deadline - time.monotonic()))
            if not gone:
                gone = await self._wait_gone(driver, deadline - time.monotonic())
        except BaseException:
            if driver.state is DriverState.STOPPING:
                driver.state = previous_state
            raise
        if not gone:
            driver.state = previous_state
            raise DriverError(
                f"driver {driver.describe()} (pid {driver.pid}) did not exit within {wait:.1f}s"
            )
        driver.state = DriverState.STOPPED
        driver.pid = None
        driver.stopped_at = _utcnow()
        if self._drivers.get(driver.key) is driver:
            del self._drivers[driver.key]
        log.info("driver %s stopped", driver.describe())
        self._emit("driver_stopped", driver)
        return driver

    async def restart_driver(
        self,
        executable: str,
        name: str | None = None,
        *,
        label: str | None = None,
        device: str | None = None,
    ) -> DriverInstance:
        """Stop the driver if it runs (or forget it if it crashed), then start it.

        ``device`` as for :meth:`stop_driver`."""
        existing = self._drivers.get((executable, name))
        if existing is not None:
            label = label or existing.label
            await self.stop_driver(executable, name, device=device)
        return await self.start_driver(executable, name, label=label)

    async def start_profile(
        self, profile: Profile, *, replace: bool = False
    ) -> list[DriverInstance]:
        """Start the server if needed, then every driver of ``profile``.

        The server keeps the port it was made with (``profile.port`` is for
        whoever creates the supervisor).  ``replace=True`` first stops running
        drivers that are not in the profile.  Roles are not assigned here
        (that needs an INDI client; see the roles layer).  Raises
        :class:`ProfileStartError` after trying every driver if some failed.
        """
        if not self.running:
            await self.start()
        wanted = {(d.executable, d.name) for d in profile.drivers}
        if replace:
            for driver in self.running_drivers():
                if driver.key not in wanted:
                    await self.stop_driver(driver.executable, driver.name)
        started: list[DriverInstance] = []
        failures: dict[ProfileDriver, Exception] = {}
        for spec in profile.drivers:
            try:
                started.append(
                    await self.start_driver(spec.executable, spec.name, label=spec.label)
                )
            except DriverError as error:
                log.error("profile %r: %s", profile.name, error)
                failures[spec] = error
        if failures:
            raise ProfileStartError(profile.name, started, failures)
        return started

    # ------------------------------------------------------- process control

    def _find_indiserver(self) -> str:
        found = shutil.which(self.indiserver, path=self._env.get("PATH"))
        if found is None:
            raise IndiServerNotFoundError(
                f"indiserver executable {self.indiserver!r} was not found"
                + ("" if os.sep in self.indiserver else " on PATH")
                + "; install INDI (Debian/Ubuntu: apt-get install indi-bin) "
                "or give the path to indiserver"
            )
        return found

    def _command(self, executable: str) -> list[str]:
        cmd = [
            executable,
            "-v",
            "-p", str(self.port),
            "-f", str(self.fifo_path),
            "-u", str(self.socket_path),
            "-r", str(self.driver_restarts),
        ]  # fmt: skip
        if self.max_client_mb is not None:
            cmd += ["-m", str(self.max_client_mb)]
        if self.max_stream_mb is not None:
            cmd += ["-d", str(self.max_stream_mb)]
        return cmd + list(self.extra_args)

    async def _launch(self, executable: str) -> None:
        """Spawn indiserver and wait until it listens; on failure nothing is left."""
        if not port_is_free(self.port):
            raise PortInUseError(self.port)
        fifo = self.fifo_path
        with contextlib.suppress(FileNotFoundError):
            fifo.unlink()  # a fresh FIFO: no stale bytes from an earlier server
        os.mkfifo(fifo, 0o600)  # must exist before indiserver starts, or it exits
        self._listening.clear()
        self._bind_failure = None
        self._output_tail.clear()
        self._recently_deleted.clear()
        cmd = self._command(executable)
        log.info("starting %s", " ".join(cmd))
        preexec = _parent_death_signal() if self._parent_death_signal else None
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,  # one stream keeps the log lines in order
            cwd=self.run_dir,
            env=self._env,
            start_new_session=True,  # own process group: the server and all drivers
            preexec_fn=preexec,
        )
        self._proc = proc
        self._launched_at = time.monotonic()
        assert proc.stdout is not None
        self._reader = asyncio.create_task(self._read_output(proc.stdout), name="indiserver-log")
        try:
            await self._wait_listening(proc)
        except asyncio.CancelledError:
            raise  # stop() is in charge of the process then
        except BaseException:
            await self._terminate(proc, 1.0)
            self._proc = None
            raise
        self.started_at = _utcnow()
        if self.loopback_only:
            self.network_exposure = restrict_to_loopback(proc.pid, self.port, self.admit_source)
        else:
            self.network_exposure = "asked for (loopback_only=False)"
        if self.network_exposure and self.loopback_only:
            log.warning(
                "indiserver's port %d is open to every host on the network, without "
                "authentication: %s",
                self.port,
                self.network_exposure,
            )
        scope = "every interface" if self.network_exposure else "this machine only"
        log.info("indiserver pid %d listens on port %d (%s)", proc.pid, self.port, scope)

    async def _wait_listening(self, proc: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._bind_failure is not None or proc.returncode is not None:
                # Let the reader take in the last lines before judging.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 1.0)
                if self._reader is not None:
                    await asyncio.wait([self._reader], timeout=1.0)
                raise self._start_failure(proc)
            if self._listening.is_set() and await self._accepts_connections():
                return
            if time.monotonic() >= deadline:
                raise IndiServerStartError(
                    f"indiserver did not listen on port {self.port} within "
                    f"{self.start_timeout:.0f}s{self._tail_text()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), 0.05)

    def _start_failure(self, proc: asyncio.subprocess.Process) -> IndiServerError:
        why = self._bind_failure
        if why is not None and "in use" in why.lower():
            return PortInUseError(self.port, f"indiserver said 'bind: {why}'")
        status = f"exited with status {proc.returncode}" if proc.returncode is not None else ""
        reason = f"bind: {why}" if why else status or "failed"
        return IndiServerStartError(
            f"indiserver on port {self.port} did not start ({reason}){self._tail_text()}"
        )

    def _tail_text(self) -> str:
        if not self._output_tail:
            return ""
        return "; its last output:\n" + "\n".join(list(self._output_tail)[-8:])

    async def _accepts_connections(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1",
                    self.port,
                    local_addr=(self.admit_source, 0) if self.admit_source else None,
                ),
                timeout=1.0,
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _terminate(self, proc: asyncio.subprocess.Process, timeout: float) -> None:
        """End indiserver and every process of its group; reap indiserver."""
        pgid = proc.pid  # session leader: its pid is the group id
        if proc.returncode is None:
            # indiserver still holds the group id, so the group is surely ours.
            _signal_group(pgid, signal.SIGTERM)
        await self._end_group(pgid, timeout)
        # The group is gone (SIGKILL after the grace); asyncio's child watcher
        # reaps indiserver.  No `proc.kill()` here: Popen.send_signal polls
        # (waitpid) first and would reap the zombie before the watcher, which
        # then logs "Unknown child process pid ..." and reports status 255.
        if proc.returncode is None and _pid_alive(proc.pid):
            _signal_group(pgid, signal.SIGKILL)
        await proc.wait()
        reader = self._reader
        if reader is not None:
            done, _ = await asyncio.wait([reader], timeout=1.0)
            if not done:
                reader.cancel()
            self._reader = None

    async def _end_group(self, pgid: int, grace: float) -> None:
        """Wait up to ``grace`` seconds for the group to exit, then SIGKILL the rest."""
        deadline = time.monotonic() + grace
        while _live_group_members(pgid):
            if time.monotonic() >= deadline:
                left = _live_group_members(pgid)
                log.warning("killing processes %s left of indiserver's group %d", left, pgid)
                _signal_group(pgid, signal.SIGKILL)
                kill_deadline = time.monotonic() + 2.0
                # Polling: no event tells when processes that are not our children exit.
                while _live_group_members(pgid) and time.monotonic() < kill_deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                return
            await asyncio.sleep(0.02)

    async def _watch(self) -> None:
        """Restart indiserver with backoff whenever it dies unexpectedly."""
        try:
            await self._watch_forever()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("indiserver supervision failed; indiserver will not be restarted")

    async def _watch_forever(self) -> None:
        delay = self.backoff_initial
        executable = self._executable
        while True:
            proc = self._proc
            assert proc is not None
            await proc.wait()
            if self._reader is not None:
                await asyncio.wait([self._reader], timeout=1.0)
            if self._stopping:
                return
            uptime = time.monotonic() - self._launched_at
            log.warning(
                "indiserver (pid %d, port %d) exited with status %s after %.1fs%s",
                proc.pid,
                self.port,
                proc.returncode,
                uptime,
                self._tail_text(),
            )
            # Drivers normally exit on end-of-file of their input; a driver that
            # does not would keep its device (a serial port...) busy.
            await self._end_group(proc.pid, 1.0)
            self._listening.clear()
            self.started_at = None
            for driver in list(self._drivers.values()):
                if driver.state is DriverState.STOPPING:
                    del self._drivers[driver.key]
                elif driver.running:
                    driver.state = DriverState.STARTING
                    driver.pid = None
            self._awaiting_pid.clear()
            self._emit("server_exited", detail=f"status {proc.returncode}")
            if uptime >= self.stable_after:
                delay = self.backoff_initial
            while True:
                log.info("restarting indiserver in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                if self._stopping:
                    return
                try:
                    async with self._op_lock:
                        if self._stopping:
                            return
                        # Counted before the launch: the status that shows the
                        # new process already shows its restart number.
                        self.server_restarts += 1
                        try:
                            await self._launch(executable)
                        except BaseException:
                            self.server_restarts -= 1
                            raise
                    break
                except (IndiServerError, OSError) as error:
                    log.error("could not restart indiserver: %s", error)
            self._emit("server_restarted", detail=f"restart #{self.server_restarts}")
            await self._restart_drivers()

    async def _restart_drivers(self) -> None:
        """Start again the drivers that ran when the server died."""
        for driver in list(self._drivers.values()):
            if driver.state is not DriverState.STARTING or self._stopping:
                continue
            driver.restarts += 1
            try:
                problem = (
                    await _remote_unreachable(
                        driver.executable, own_ports={self.port, *self.own_ports}
                    )
                    if driver.is_remote
                    else None
                )
            except InvalidDriverNameError as error:
                problem = str(error)
            if problem is not None:
                driver.state = DriverState.CRASHED
                driver.stopped_at = _utcnow()
                driver.last_error = problem
                log.error("not restarting driver %s: %s", driver.describe(), problem)
                self._emit("driver_crashed", driver, problem)
                continue
            try:
                await self._send_start(driver)
            except FifoError as error:
                log.error("could not restart driver %s: %s", driver.describe(), error)
        for driver in list(self._drivers.values()):
            if driver.state is DriverState.STARTING:
                await self._wait_until(
                    lambda d=driver: d.state is not DriverState.STARTING, self.driver_timeout
                )
            if driver.state is DriverState.RUNNING:
                self._emit("driver_restarted", driver)

    def _require_running(self) -> None:
        if self._proc is None or self._proc.returncode is not None:
            raise IndiServerError("indiserver is not running; start it first")

    # ------------------------------------------------------------------ FIFO

    async def _send_start(self, driver: DriverInstance) -> None:
        spec = ProfileDriver(driver.executable, driver.name)
        # Queue for the pid line under the FIFO lock, so queue order = command order.
        async with self._fifo_lock:
            self._awaiting_pid.setdefault(driver.executable, deque()).append(driver)
            try:
                await self._fifo_write_locked(_fifo_line("start", spec))
            except BaseException:
                self._forget_pending(driver)
                raise

    async def _fifo_write(self, line: str) -> None:
        async with self._fifo_lock:
            await self._fifo_write_locked(line)

    async def _fifo_write_locked(self, line: str) -> None:
        """Write one command line to indiserver's FIFO (`write_fifo_line`)."""
        _check_fifo_line(line)
        log.debug("FIFO <- %s", line)
        await write_fifo_line(
            self.fifo_path,
            line,
            self.fifo_timeout,
            alive=lambda: self._proc is not None and self._proc.returncode is None,
        )

    def _stop_line_for_default_instance(
        self, driver: DriverInstance, line: str, device: str | None
    ) -> str:
        """indiserver's ``stop exe`` without ``-n`` stops the *oldest* instance of
        ``exe``.  When a named instance is older, address this one by a device
        name it is known to define."""
        older = [
            d
            for d in self._drivers.values()
            if d.executable == driver.executable
            and d is not driver
            and not d.stopped
            and d.order < driver.order
        ]
        if not older:
            return line
        device = device or min(driver.devices, default=None)
        if device is not None:
            return _fifo_line("stop", _spec(driver.executable, device, None))
        raise DriverError(
            f"cannot stop the unnamed instance of {driver.executable}: indiserver would stop "
            f"the older instance {older[0].describe()} instead; give the name of a device it "
            "defines, or stop the other instance first"
        )

    def _forget_pending(self, driver: DriverInstance) -> None:
        queue = self._awaiting_pid.get(driver.executable)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(driver)

    async def _wait_gone(self, driver: DriverInstance, timeout: float) -> bool:
        if driver.pid is None:
            # A remote driver (or one never seen running): nothing to watch.
            await asyncio.sleep(0.1)
            return True
        deadline = time.monotonic() + timeout
        while _pid_alive(driver.pid):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # ------------------------------------------------------------- log lines

    async def _read_output(self, stream: asyncio.StreamReader) -> None:
        pending = b""
        try:
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._handle_line(raw[:_MAX_LINE].decode("utf-8", "replace").rstrip("\r"))
                if len(pending) > _MAX_LINE:
                    self._handle_line(pending[:_MAX_LINE].decode("utf-8", "replace"))
                    pending = b""
            if pending:
                self._handle_line(pending.decode("utf-8", "replace"))
        except Exception:
            log.exception("reading indiserver's output failed")

    def _handle_line(self, line: str) -> None:
        if not line.strip():
            return
        self._output_tail.append(line)
        body = _TIMESTAMP.sub("", line, count=1)
        deleted = _DEL_DEVICE.match(body)
        if deleted:
            # Printed by indiserver for each device of a driver that goes away,
            # just before it says why (restart, terminated, or FIFO stop).
            self._recently_deleted.append(html.unescape(deleted["device"]))
            server_log.debug("%s", body)
            return
        try:
            self._parse_line(body)
        except Exception:
            log.exception("could not interpret indiserver line %r", line)
        finally:
            self._recently_deleted = []

    def _parse_line(self, body: str) -> None:
        match = _DRIVER_LINE.match(body)
        if match is None:
            if bind := _TCP_BIND_FAILED.match(body):
                self._bind_failure = bind["why"]
                server_log.error("%s", body)
            elif _LISTENING.match(body):
                self._listening.set()
                server_log.info("%s", body)
            elif _QUIET.search(body):
                server_log.debug("%s", body)
            else:
                server_log.info("%s", body)
            return
        exe, message = match["exe"], match["msg"]
        if pid := _PID.match(message):
            self._on_driver_process(exe, int(pid["pid"]))
            server_log.debug("%s", body)
        elif _REMOTE_UP.match(message):
            self._on_driver_process(exe, None)
            server_log.info("%s", body)
        elif _RESTART.match(message):
            server_log.warning("%s", body)
            self._on_driver_died(exe, restarting=True, detail=message)
        elif _GAVE_UP.match(message):
            server_log.warning("%s", body)
            self._on_driver_died(exe, restarting=False, detail=message)
        else:
            if not _BOOKKEEPING.match(message):
                self._output_seq += 1
                output = self._driver_output.setdefault(exe, deque(maxlen=10))
                output.append((self._output_seq, time.monotonic(), message))
            if _QUIET.search(body) or message in ("read EOF", "stderr EOF"):
                server_log.debug("%s", body)
            else:
                server_log.info("%s", body)

    def _on_driver_process(self, exe: str, pid: int | None) -> None:
        queue = self._awaiting_pid.get(exe)
        driver = queue.popleft() if queue else None
        if driver is None:
            # Started by someone else (another program writing to our FIFO).
            key = (exe, None)
            if key in self._drivers and self._drivers[key].running:
                log.warning("indiserver started an unexpected instance of %s (pid %s)", exe, pid)
                return
            driver = DriverInstance(exe)
            self._drivers[key] = driver
            log.info("indiserver started driver %s (pid %s) not started by us", exe, pid)
        self._next_order += 1
        driver.order = self._next_order
        driver.pid = pid
        driver.started_at = _utcnow()
        driver.last_error = None
        driver.output_from = self._output_seq + 1
        if driver.state is DriverState.STARTING:
            driver.state = DriverState.RUNNING
        self._notify()

    def _on_driver_died(self, exe: str, *, restarting: bool, detail: str) -> None:
        driver = self._dead_instance(exe)
        if driver is None:
            log.debug("indiserver reports %r for %s, which is not in the listing", detail, exe)
            return
        driver.devices.update(self._recently_deleted)
        # The driver's last line, printed by this process (not an earlier one of
        # the same executable) shortly before it died; never indiserver's own
        # bookkeeping ("snooping on ...", "read EOF").  With two instances of one
        # executable alive, indiserver's log cannot tell whose line it is.
        recent = time.monotonic() - _ERROR_RECENT
        error = next(
            (
                line
                for seq, at, line in reversed(self._driver_output.get(exe, ()))
                if seq >= driver.output_from and at >= recent
            ),
            None,
        )
        driver.pid = None
        if restarting:
            # indiserver forks the new process right away and logs its pid next.
            driver.restarts += 1
            driver.state = DriverState.STARTING
            self._awaiting_pid.setdefault(exe, deque()).appendleft(driver)
            log.warning("driver %s died; indiserver restarts it (%s)", driver.describe(), detail)
            self._notify()
            return
        if driver.state is DriverState.STOPPING:
            self._notify()  # it died while being stopped: that is what was asked
            return
        driver.state = DriverState.CRASHED
        driver.stopped_at = _utcnow()
        driver.last_error = error or f"exited without an error message (indiserver: {detail})"
        log.warning(
            "driver %s crashed and is stopped (%s)%s",
            driver.describe(),
            detail,
            f"; last output: {error}" if error else "",
        )
        self._emit("driver_crashed", driver, detail)

    def _dead_instance(self, exe: str) -> DriverInstance | None:
        """Which instance of ``exe`` did indiserver just lose?"""
        candidates = [
            d
            for d in self._drivers.values()
            if d.executable == exe
            and d.state in (DriverState.RUNNING, DriverState.STOPPING, DriverState.STARTING)
            and (d.pid is not None or d.is_remote)
        ]
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # The devices it took away name it ...
        deleted = set(self._recently_deleted)
        if deleted:
            for driver in candidates:
                if driver.name is not None and driver.name in deleted:
                    return driver
            named = {d.name for d in candidates if d.name is not None}
            unnamed = [d for d in candidates if d.name is None]
            if unnamed and not deleted & named:
                return unnamed[0]
        # ... else the process that is gone.
        dead = [d for d in candidates if d.pid is not None and not _pid_alive(d.pid)]
        if dead:
            return dead[0]
        return candidates[0]


async def _remote_unreachable(
    remote: str, timeout: float = 3.0, *, own_ports: Iterable[int] = ()
) -> str | None:
    """Why ``Device@host[:port]`` cannot be chained in, or None if its server answers.

    indiserver 1.9.9 exits altogether ("good bye") when it cannot connect to a
    remote driver's server, taking every local driver down with it, so the
    connection is tried here first.  Raises `InvalidDriverNameError` when the
    address is one of this machine's ``own_ports``, that is this indiserver itself:
    chained to itself, indiserver passes every message back to itself without
    end (its CPU and memory grow until it dies).
    """
    host, _, port_text = remote.rpartition("@")[2].partition(":")
    try:
        port = int(port_text) if port_text else DEFAULT_INDI_PORT
    except ValueError:
        return f"remote driver {remote!r}: port {port_text!r} is not a number"
    own = set(own_ports)
    if port in own:
        # Judged before connecting: indiserver's own port admits the service only.
        with contextlib.suppress(OSError):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
            if any(_is_this_machine(str(info[4][0])) for info in infos):
                _refuse_self_loop(remote, host, port)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return (
            f"remote driver {remote!r}: no INDI server answers at {host}:{port} "
            f"({error or 'timed out'}); indiserver would exit on that"
        )
    # The address connected to, whatever name led there (localhost, the host
    # name, an address of any interface).
    peer = writer.get_extra_info("peername")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    if peer and peer[1] in own and _is_this_machine(peer[0]):
        _refuse_self_loop(remote, host, port)
    return None


def _refuse_self_loop(remote: str, host: str, port: int) -> None:
    raise InvalidDriverNameError(
        f"remote driver {remote!r} names this indiserver itself ({host}:{port} is port "
        f"{port} of this machine); chained to itself indiserver would pass its own "
        "messages back to itself without end. A remote driver is a device of another "
        "indiserver"
    )


def _is_this_machine(address: str) -> bool:
    """``address`` is one of this machine's own (binding a socket to it works)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _spec(executable: str, name: str | None, label: str | None) -> ProfileDriver:
    try:
        return ProfileDriver(executable, name, label)
    except ValueError as error:
        raise InvalidDriverNameError(str(error)) from None


def _describe(executable: str, name: str | None) -> str:
    return f"{executable} ({name})" if name else executable
