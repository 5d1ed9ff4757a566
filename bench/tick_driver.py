#!/usr/bin/env python3
"""A tiny INDI driver that ticks: one number property updated at a set rate.

indiserver runs it like any driver (``indiserver bench/tick_driver.py``);
it speaks INDI XML on stdin/stdout and needs only the standard library.

Device ``Tick`` (``$TICK_DEVICE``) defines:

- ``DRIVER_INFO`` (text, ro), so tools that wait for drivers see it;
- ``TICK`` (number, ro): ``RUN``, ``SEQ`` (1, 2, ... within a run) and
  ``SENT``, the sender's ``time.time()`` when the update was written;
- ``TICK_RATE`` (number, rw): ``RATE`` (updates per second, 0 stops),
  ``COUNT`` (updates in the run, 0 = no end), ``RUN`` (run id, echoed in
  ``TICK``) and ``MESSAGE_EVERY`` (also send a device ``message`` every N
  updates; 0 = never).  Setting it starts a new run: ``TICK_RATE`` is Busy
  while the run lasts and Ok when its ``COUNT`` updates are out; a rate
  above 10000 Hz is refused with state Alert and a message.
- ``TICK_ECHO`` (BLOB, rw): a BLOB sent to element ``DATA`` comes back as
  the property's new value (for clients that enabled BLOBs).

``$TICK_RATE`` starts ticking at that rate as soon as indiserver asks for
the properties.  Updates are scheduled on absolute deadlines, so a late
update does not shift the ones after it (a backlog of more than a second is
dropped rather than sent in a burst).
"""

from __future__ import annotations

import array
import base64
import os
import re
import select
import socket
import sys
import time
from xml.sax.saxutils import quoteattr

DEVICE = os.environ.get("TICK_DEVICE", "Tick")
DEV = quoteattr(DEVICE)

_ELEMENT = re.compile(
    rb"<getProperties\b([^>]*?)/?>"
    rb"|<newNumberVector\b([^>]*)>(.*?)</newNumberVector>"
    rb"|<newBLOBVector\b[^>]*>(.*?)</newBLOBVector>",
    re.S,
)
_ONE_BLOB = re.compile(rb"<oneBLOB\b([^>]*?)(?:/>|>(.*?)</oneBLOB>)", re.S)
_BLOB_ATTR = re.compile(rb'\b(name|size|format)=["\']([^"\']*)["\']')
MAX_RATE = 10000.0
_ONE_NUMBER = re.compile(rb'<oneNumber\b[^>]*\bname=["\']([^"\']+)["\'][^>]*>\s*([^<]*?)\s*<')
_ATTR = re.compile(rb'\b(device|name)=["\']([^"\']*)["\']')


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"


class TickDriver:
    def __init__(self) -> None:
        self.rate = float(os.environ.get("TICK_RATE", "0") or 0)
        self.count = 0
        self.run = 0
        self.message_every = 0
        self.seq = 0
        self.next_at = 0.0
        self.running = False
        self.defined = False
        self.buffer = b""
        #: File descriptors passed with the input (shared-memory BLOBs).
        self.fds: list[int] = []

    # Output -----------------------------------------------------------

    @staticmethod
    def write(text: str) -> None:
        data = text.encode()
        while data:
            n = os.write(1, data)
            data = data[n:]

    def define(self) -> None:
        ts = _now()
        self.write(
            f'<defTextVector device={DEV} name="DRIVER_INFO" label="Driver Info" '
            f'group="General Info" state="Idle" perm="ro" timeout="0" timestamp="{ts}">\n'
            '<defText name="DRIVER_NAME" label="Name">Tick</defText>\n'
            '<defText name="DRIVER_EXEC" label="Exec">tick_driver.py</defText>\n'
            '<defText name="DRIVER_VERSION" label="Version">1.0</defText>\n'
            '<defText name="DRIVER_INTERFACE" label="Interface">0</defText>\n'
            "</defTextVector>\n"
            f'<defNumberVector device={DEV} name="TICK" label="Tick" group="Main" '
            f'state="Idle" perm="ro" timeout="0" timestamp="{ts}">\n'
            '<defNumber name="RUN" label="Run" format="%.0f" min="0" max="0" step="0">'
            f"{self.run}</defNumber>\n"
            '<defNumber name="SEQ" label="Sequence" format="%.0f" min="0" max="0" step="0">'
            f"{self.seq}</defNumber>\n"
            '<defNumber name="SENT" label="Sent (Unix time)" format="%.6f" min="0" max="0" '
            'step="0">0</defNumber>\n'
            "</defNumberVector>\n"
            + self._rate_vector("def")
            + f'<defBLOBVector device={DEV} name="TICK_ECHO" label="Echo" group="Main" '
            f'state="Idle" perm="rw" timeout="0" timestamp="{ts}">\n'
            '<defBLOB name="DATA" label="Data"/>\n'
            "</defBLOBVector>\n"
        )
        self.defined = True

    def _rate_vector(self, verb: str, state: str = "Idle") -> str:
        tag = "defNumber" if verb == "def" else "oneNumber"
        ranges = {
            "RATE": ("Rate (Hz)", "%.1f", 0, 100000),
            "COUNT": ("Updates per run", "%.0f", 0, 1e12),
            "RUN": ("Run id", "%.0f", 0, 1e12),
            "MESSAGE_EVERY": ("Message every N", "%.0f", 0, 1e12),
        }
        values = {
            "RATE": self.rate,
            "COUNT": self.count,
            "RUN": self.run,
            "MESSAGE_EVERY": self.message_every,
        }
        head = (
            f'<{verb}NumberVector device={DEV} name="TICK_RATE" state="{state}" '
            f'timestamp="{_now()}"'
        )
        if verb == "def":
            head += ' label="Tick rate" group="Main" perm="rw" timeout="0"'
        parts = [head + ">\n"]
        for name, (label, fmt, lo, hi) in ranges.items():
            attrs = f' label="{label}" format="{fmt}" min="{lo}" max="{hi}" step="1"'
            parts.append(
                f'<{tag} name="{name}"{attrs if verb == "def" else ""}>{values[name]:g}</{tag}>\n'
            )
        parts.append(f"</{verb}NumberVector>\n")
        return "".join(parts)

    def tick(self) -> None:
        self.seq += 1
        out = (
            f'<setNumberVector device={DEV} name="TICK" state="Ok" timestamp="{_now()}">\n'
            f'<oneNumber name="RUN">{self.run}</oneNumber>\n'
            f'<oneNumber name="SEQ">{self.seq}</oneNumber>\n'
            f'<oneNumber name="SENT">{time.time():.6f}</oneNumber>\n'
            "</setNumberVector>\n"
        )
        if self.message_every and self.seq % self.message_every == 0:
            out += (
                f'<message device={DEV} timestamp="{_now()}" '
                f'message="tick {self.run}/{self.seq}"/>\n'
            )
        self.write(out)

    # Input --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.buffer += data
        end = 0
        for match in _ELEMENT.finditer(self.buffer):
            end = match.end()
            get_attrs, new_attrs, body, blob_body = match.groups()
            if blob_body is not None:
                self.echo(blob_body)
            elif get_attrs is not None:
                device = dict(_ATTR.findall(get_attrs)).get(b"device", DEVICE.encode())
                if device == DEVICE.encode():
                    self.define()
                    if self.rate > 0 and not self.running and self.run == 0:
                        self.start_run()
            elif dict(_ATTR.findall(new_attrs)).get(b"name") == b"TICK_RATE":
                values = {k.decode(): v for k, v in _ONE_NUMBER.findall(body)}
                self.configure(values)
        # Keep only what may be the start of an element cut by the read.
        rest = self.buffer[end:]
        last_open = rest.find(b"<")
        self.buffer = rest[last_open:] if last_open >= 0 else b""
        if len(self.buffer) > 1 << 20:
            self.buffer = b""

    def echo(self, body: bytes) -> None:
        parts = []
        for attrs, data in _ONE_BLOB.findall(body):
            a = {k.decode(): v.decode() for k, v in _BLOB_ATTR.findall(attrs)}
            if b'attached="true"' in attrs and self.fds:
                # indiserver >= 1.9.9 hands local drivers BLOBs as a shared
                # memory buffer (a file descriptor) instead of base64.
                fd = self.fds.pop(0)
                try:
                    data = base64.b64encode(os.pread(fd, int(a.get("size", "0")), 0))
                finally:
                    os.close(fd)
            parts.append(
                f'<oneBLOB name={quoteattr(a.get("name", "DATA"))} size="{a.get("size", "0")}" '
                f"format={quoteattr(a.get('format', ''))}>{data.decode()}</oneBLOB>\n"
            )
        self.write(
            f'<setBLOBVector device={DEV} name="TICK_ECHO" state="Ok" timestamp="{_now()}">\n'
            + "".join(parts)
            + "</setBLOBVector>\n"
        )

    def configure(self, values: dict[str, bytes]) -> None:
        try:
            if "RATE" in values:
                rate = max(0.0, float(values["RATE"]))
                if rate > MAX_RATE:
                    self.write(
                        f'<message device={DEV} timestamp="{_now()}" '
                        f'message="refused: {rate:g} Hz is above {MAX_RATE:g} Hz"/>\n'
                        + self._rate_vector("set", "Alert")
                    )
                    return
                self.rate = rate
            if "COUNT" in values:
                self.count = max(0, int(float(values["COUNT"])))
            if "MESSAGE_EVERY" in values:
                self.message_every = max(0, int(float(values["MESSAGE_EVERY"])))
            self.run = int(float(values["RUN"])) if "RUN" in values else self.run + 1
        except ValueError:
            self.write(self._rate_vector("set", "Alert"))
            return
        self.start_run()

    def start_run(self) -> None:
        self.seq = 0
        self.running = self.rate > 0
        self.next_at = time.monotonic()
        self.write(self._rate_vector("set", "Busy" if self.running else "Ok"))

    # Loop -----------------------------------------------------------------

    def serve(self) -> None:
        stdin = sys.stdin.fileno()
        sock: socket.socket | None = None
        dup = os.dup(stdin)
        try:  # indiserver talks to local drivers over a Unix socket
            sock = socket.socket(fileno=dup)
        except OSError:  # a pipe or a terminal: plain reads
            os.close(dup)
        fd_space = socket.CMSG_SPACE(16 * 4)
        while True:
            timeout = None
            if self.running:
                timeout = max(0.0, self.next_at - time.monotonic())
            ready, _, _ = select.select([stdin], [], [], timeout)
            if ready:
                if sock is not None:
                    data, ancillary, _, _ = sock.recvmsg(65536, fd_space)
                    for level, kind, payload in ancillary:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            usable = len(payload) - len(payload) % 4
                            self.fds.extend(array.array("i", payload[:usable]))
                else:
                    data = os.read(stdin, 65536)
                if not data:
                    return  # indiserver went away
                self.feed(data)
            now = time.monotonic()
            if self.running and now - self.next_at > 1.0:
                self.next_at = now  # drop a backlog of more than a second
            while self.running and now >= self.next_at:
                self.tick()
                self.next_at += 1.0 / self.rate
                if self.count and self.seq >= self.count:
                    self.running = False
                    self.write(self._rate_vector("set", "Ok"))


if __name__ == "__main__":
    try:
        TickDriver().serve()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
