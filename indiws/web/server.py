"""The HTTP server, guarded against connection floods.

With the file limit systemd gives a service (1024), about 1100 connections
that never finish their headers used up every descriptor: each new request
then timed out, and tornado logged a traceback on every attempt to accept
(hundreds of MB of log in a minute, most of a core).  This server:

- caps the connections open at once, in all and per peer address: one over
  the cap is accepted and closed at once (logged at most every 10 s), so the
  descriptors of the process are never used up by HTTP clients;
- when accepting fails anyway (``EMFILE``: descriptors used up by something
  else), logs one line every 10 s instead of a traceback per attempt, and
  stops accepting for a moment instead of spinning on the readable socket;
- times out a request whose headers do not arrive (``header_timeout``,
  also the idle time of a kept-alive connection; tornado's
  ``idle_connection_timeout``).

`raise_file_limit` raises the soft limit of open files to the hard one at
start-up.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

from ..security import QuietLog

__all__ = ["GuardedHTTPServer", "raise_file_limit"]

log = logging.getLogger("indiws.web")
_QUIET = QuietLog(log)

#: Accept errors that mean "out of descriptors or memory": wait, then retry.
_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
#: How long accepting pauses after such an error, in seconds.
ACCEPT_PAUSE = 0.25
#: Descriptors kept for everything but HTTP clients (indiserver's connection,
#: the frames, the state file, the INDI and PHD2 ports, ...).
RESERVED_FILES = 128


def raise_file_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard one (systemd gives
    services 1024 soft); returns the (soft, hard) limits now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, error)
    return soft, hard


def connection_cap(wanted: int) -> int:
    """``wanted``, but never more than the open-files limit allows."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - RESERVED_FILES))


class GuardedHTTPServer(HTTPServer):
    """tornado's HTTPServer with connection caps and a quiet accept loop."""

    def initialize(  # type: ignore[override]
        self,
        *args: Any,
        max_connections: int = 512,
        max_connections_per_peer: int = 128,
        header_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.max_connections_per_peer = max_connections_per_peer
        if header_timeout is not None:
            self.conn_params.header_timeout = header_timeout
        self._open: list[tuple[IOStream, str]] = []
        #: Connections closed at once for being over a cap, since the start.
        self.refused = 0

    def handle_stream(self, stream: IOStream, address: Any) -> None:  # type: ignore[override]
        peer = address[0] if isinstance(address, tuple) else str(address)
        self._open = [(s, p) for s, p in self._open if not s.closed()]
        per_peer = Counter(p for _, p in self._open)
        if (
            len(self._open) >= self.max_connections
            or per_peer[peer] >= self.max_connections_per_peer
        ):
            self.refused += 1
            _QUIET.warning(
                "connection_cap",
                "refused a connection from %s: %d open in all (cap %d), %d from it (cap %d)",
                peer,
                len(self._open),
                self.max_connections,
                per_peer[peer],
                self.max_connections_per_peer,
            )
            stream.close()
            return
        self._open.append((stream, peer))
        super().handle_stream(stream, address)

    def add_sockets(self, sockets: Any) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_on(sock)

    def _accept_on(self, sock: socket.socket) -> Callable[[], None]:
        """Accept connections on ``sock`` (tornado's ``add_accept_handler``,
        without a traceback and a busy loop when descriptors run out)."""
        io_loop = IOLoop.current()
        state = {"removed": False, "paused": False}

        def resume() -> None:
            state["paused"] = False
            if not state["removed"] and sock.fileno() != -1:
                io_loop.add_handler(sock, ready, IOLoop.READ)

        def ready(fd: Any, events: int) -> None:
            for _ in range(128):  # as tornado: let other callbacks run between bursts
                if state["removed"]:
                    return
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as error:
                    if error.errno not in _EXHAUSTED:
                        raise
                    _QUIET.warning(
                        "accept",
                        "cannot accept connections on %s: %s (open files used up?); "
                        "accepting again in %g s",
                        sock.getsockname(),
                        error.strerror,
                        ACCEPT_PAUSE,
                    )
                    io_loop.remove_handler(sock)
                    state["paused"] = True
                    io_loop.call_later(ACCEPT_PAUSE, resume)
                    return
                self._handle_connection(connection, address)

        def remove() -> None:
            state["removed"] = True
            if not state["paused"]:
                io_loop.remove_handler(sock)

        io_loop.add_handler(sock, ready, IOLoop.READ)
        return remove
