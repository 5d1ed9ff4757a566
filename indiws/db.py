"""Persistent state of the service in one SQLite file: role assignments and profiles.

One :class:`StateDB` owns one ``sqlite3`` connection to a file under the data
directory (see :meth:`StateDB.in_data_dir`).  Every method is one short
transaction on a local file (well under a millisecond to a few milliseconds),
so callers on the event loop may call the methods directly; code that does many
of them in a row, or runs on a slow disk, can use ``asyncio.to_thread``: a lock
serialises access, so calls from several threads are safe.

The schema version is kept in SQLite's ``user_version`` pragma and migrated
forward step by step when the file is opened; a file written by a newer
version of the service is refused rather than guessed at.

A new file is seeded with the "Simulators" profile (telescope, CCD, focuser and
filter wheel simulators, with the four roles assigned to their devices), so
that a first start of the service has something to run, and with the
"Observatory" profile (all ten simulators, every role assigned), started on
request.  A file made before a built-in profile existed gets it at the next
start (`builtin_profiles` remembers which were given, so a deleted one stays
deleted).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "DB_FILENAME",
    "DEFAULT_PORT",
    "ROLES",
    "SCHEMA_VERSION",
    "OBSERVATORY_PROFILE",
    "SIMULATORS_PROFILE",
    "Profile",
    "ProfileDriver",
    "ProfileExistsError",
    "ProfileNotFoundError",
    "StateDB",
    "StateDBError",
    "StateDBUnavailableError",
    "check_device_name",
    "check_label",
    "check_remote_spec",
]

log = logging.getLogger(__name__)

#: The roles a device can play; one device per role.  ``guider`` is a second
#: camera (the guide camera).  Checked here, not by the schema, so that a new
#: role needs no migration.
ROLES: tuple[str, ...] = (
    "telescope",
    "camera",
    "focuser",
    "filter_wheel",
    "guider",
    "dome",
    "rotator",
    "flat_panel",
    "weather",
    "gps",
)

#: Name of the state file inside the data directory.
DB_FILENAME = "indiws.sqlite3"

#: indiserver's own default port, the default of a new profile.
DEFAULT_PORT = 7624

#: Version of the schema this code writes (``PRAGMA user_version``).
SCHEMA_VERSION = 5

#: Name of the profile seeded into a new file.
SIMULATORS_PROFILE = "Simulators"
#: The whole observatory in simulators: every role assigned.
OBSERVATORY_PROFILE = "Observatory"


class StateDBError(Exception):
    """The state file cannot be used (e.g. written by a newer version)."""


class StateDBUnavailableError(StateDBError):
    """The state file failed while the service runs (disk error, made
    read-only, overwritten); the message names the file and the cause."""


class _BadValueError(sqlite3.DatabaseError):
    """A row holds a value of the wrong type or out of range: the file was
    edited or damaged (this code never writes one).  An sqlite3 error, so it
    is reported like a damaged file: one line at start-up, 503 later."""


def _bad(table: str, column: str, value: object, want: str) -> _BadValueError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return _BadValueError(f"table {table}, column {column} holds {shown}, not {want}")


def _text(row: sqlite3.Row, table: str, column: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        raise _bad(table, column, value, "text")
    return value


def _optional_text(row: sqlite3.Row, table: str, column: str) -> str | None:
    return None if row[column] is None else _text(row, table, column)


def _integer(row: sqlite3.Row, table: str, column: str, low: int, high: int) -> int:
    value = row[column]
    if not isinstance(value, int) or not low <= value <= high:
        raise _bad(table, column, value, f"an integer from {low} to {high}")
    return value


class ProfileExistsError(StateDBError, ValueError):
    """A profile with that name exists already."""


class ProfileNotFoundError(StateDBError, KeyError):
    """No profile has that name."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else "profile not found"


@dataclass(frozen=True, slots=True)
class ProfileDriver:
    """One driver of a profile.

    ``executable`` is the driver binary (``indi_simulator_wheel``) or, for a
    driver on another indiserver, ``"Device Name@host[:port]"`` (chained
    server, see :attr:`is_remote`).  ``name`` starts a local driver under
    another device name (indiserver's ``-n``), which is how a second instance
    of the same driver is told apart.  ``label`` is the catalog label it was
    chosen by, if any (INDI Web Manager refers to drivers by label).
    """

    executable: str
    name: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        # These values end up in a line of indiserver's FIFO: nothing that could
        # end the line or the quoted name early may pass (see docs/security.md).
        if not isinstance(self.executable, str) or not self.executable:
            raise ValueError(f"driver executable must be a non-empty string: {self.executable!r}")
        if self.is_remote:
            check_remote_spec(self.executable)
        else:
            _check_executable_text(self.executable)
        if self.name is not None:
            check_device_name(self.name)
            if self.is_remote:
                raise ValueError("a remote driver takes its device name from 'Device@host'")
        if self.label is not None:
            check_label(self.label)

    @property
    def is_remote(self) -> bool:
        """True for ``Device@host[:port]``: a device served by another indiserver."""
        return "@" in self.executable

    def to_dict(self) -> dict[str, str | None]:
        return {"executable": self.executable, "name": self.name, "label": self.label}

    @classmethod
    def from_value(cls, value: ProfileDriver | str | Mapping[str, str | None]) -> ProfileDriver:
        """Accept a ``ProfileDriver``, an executable, or a dict with ``executable``
        (and optional ``name``, ``label``)."""
        if isinstance(value, ProfileDriver):
            return value
        if isinstance(value, str):
            return cls(value)
        executable = value.get("executable")
        if not isinstance(executable, str):
            raise ValueError(f"driver entry without an executable: {dict(value)!r}")
        for key in ("name", "label"):
            if value.get(key) is not None and not isinstance(value.get(key), str):
                raise ValueError(f"driver {key!r} must be a string, not {value.get(key)!r}")
        return cls(executable, value.get("name"), value.get("label"))


#: INDI keeps a device name in 64 bytes with its final NUL (MAXINDIDEVICE).
MAX_DEVICE_NAME_BYTES = 63
_MAX_LABEL = 128
_MAX_EXECUTABLE = 128
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


#: What a name or label may not hold: control characters (C0, C1), ``"``,
#: invisible format characters, line and paragraph separators, spaces other
#: than the plain one, surrogates, private-use and non-characters of the
#: basic plane.  One class, so the OpenAPI document states the same rule
#: (`PRINTABLE_PATTERN`) that `_printable` applies.
_CONTROL_CLASS = (
    r"\x00-\x1f\x7f-\xa0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u1680"
    r"\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ud800-\uf8ff\ufeff\ufff9-\ufffb"
    r"\ufffe\uffff"
)
_UNPRINTABLE_CLASS = _CONTROL_CLASS + '"'
_UNPRINTABLE = re.compile(f"[{_UNPRINTABLE_CLASS}]")
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")


def has_control_character(text: str) -> bool:
    """``text`` holds a character a name may not (`_printable`), quotes aside."""
    return _CONTROL.search(text) is not None


#: JSON Schema ``pattern`` of a printable name (`_printable`).  Without the
#: surrogates (a lone one is no character: valid JSON text never holds one,
#: and regex engines of other languages refuse the range).
PRINTABLE_PATTERN = "^[^{}]*$".format(
    _UNPRINTABLE_CLASS.replace(r"\ud800-\uf8ff", r"\ue000-\uf8ff")
)


def _printable(value: str, what: str) -> None:
    """No control character (newline, carriage return, NUL, ...) nor ``"``: each
    would end a FIFO line or the quoted device name in it."""
    found = _UNPRINTABLE.search(value)
    if found is None:
        return
    if found.group() == '"':
        raise ValueError(f"{what} must not contain a double quote: {value!r}")
    raise ValueError(f"{what} must not contain the control character {found.group()!r}: {value!r}")


def _check_executable_text(executable: str) -> None:
    if len(executable) > _MAX_EXECUTABLE:
        raise ValueError(f"driver executable is longer than {_MAX_EXECUTABLE} characters")
    _printable(executable, "driver executable")
    if any(c.isspace() for c in executable) or "'" in executable:
        raise ValueError(
            f"driver executable must be one word, without spaces or quotes: {executable!r}"
        )


def check_device_name(name: str) -> str:
    """A device name given to a driver with ``-n``: printable, no ``"`` nor ``@``,
    at most 63 bytes (INDI's limit)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"device name must be a non-empty string: {name!r}")
    _printable(name, "device name")
    if "@" in name:
        # indiserver reads any FIFO line with an '@' as a remote driver.
        raise ValueError(f"device name must not contain '@': {name!r}")
    if len(name.encode()) > MAX_DEVICE_NAME_BYTES:
        raise ValueError(
            f"device name is longer than INDI's {MAX_DEVICE_NAME_BYTES} bytes: {name!r}"
        )
    return name


def check_label(label: str) -> str:
    """A driver label (INDI Web Manager names drivers by label): printable, no ``"``."""
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"driver label must be a non-empty string: {label!r}")
    if len(label) > _MAX_LABEL:
        raise ValueError(f"driver label is longer than {_MAX_LABEL} characters: {label[:40]!r}...")
    _printable(label, "driver label")
    return label


def check_remote_spec(spec: str) -> str:
    """``Device@host[:port]``, a device of another indiserver."""
    device, at, address = spec.partition("@")
    host, colon, port = address.partition(":")
    problem = None
    if not at or "@" in address:
        problem = "needs exactly one '@'"
    elif not _HOST.fullmatch(host):
        problem = "needs a host name or IPv4 address after '@'"
    elif colon and not (port.isdigit() and port.isascii() and 1 <= int(port) <= 65535):
        problem = "needs a port from 1 to 65535 after ':'"
    if problem is not None:
        raise ValueError(f"a remote driver is 'Device@host[:port]'; {spec!r} {problem}")
    try:
        check_device_name(device)
    except ValueError as exc:
        raise ValueError(f"remote driver {spec!r}: {exc}") from None
    return spec


@dataclass(slots=True)
class Profile:
    """A named set of drivers to run on one indiserver, with optional roles.

    ``auto_start``: start this profile when the service starts (at most one
    profile has it).  ``auto_connect``: connect every device once its driver is
    up.  ``roles`` maps a role (see :data:`ROLES`) to the device name that plays
    it once the profile runs.
    """

    name: str
    port: int = DEFAULT_PORT
    auto_start: bool = False
    auto_connect: bool = False
    drivers: list[ProfileDriver] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "port": self.port,
            "auto_start": self.auto_start,
            "auto_connect": self.auto_connect,
            "drivers": [driver.to_dict() for driver in self.drivers],
            "roles": dict(self.roles),
        }


def _simulators_profile() -> Profile:
    return Profile(
        name=SIMULATORS_PROFILE,
        port=DEFAULT_PORT,
        # A first start with no arguments runs the simulators.
        auto_start=True,
        auto_connect=True,
        drivers=[
            ProfileDriver("indi_simulator_telescope", label="Telescope Simulator"),
            ProfileDriver("indi_simulator_ccd", label="CCD Simulator"),
            ProfileDriver("indi_simulator_focus", label="Focuser Simulator"),
            ProfileDriver("indi_simulator_wheel", label="Filter Simulator"),
        ],
        roles={
            "telescope": "Telescope Simulator",
            "camera": "CCD Simulator",
            "focuser": "Focuser Simulator",
            "filter_wheel": "Filter Simulator",
        },
    )


def _observatory_profile() -> Profile:
    """All ten simulators with every role assigned (not started by default:
    the four-device "Simulators" profile stays the one that starts)."""
    drivers = [
        ("indi_simulator_telescope", "Telescope Simulator", "telescope"),
        ("indi_simulator_ccd", "CCD Simulator", "camera"),
        ("indi_simulator_focus", "Focuser Simulator", "focuser"),
        ("indi_simulator_wheel", "Filter Simulator", "filter_wheel"),
        ("indi_simulator_guide", "Guide Simulator", "guider"),
        ("indi_simulator_dome", "Dome Simulator", "dome"),
        ("indi_simulator_rotator", "Rotator Simulator", "rotator"),
        ("indi_simulator_lightpanel", "Light Panel Simulator", "flat_panel"),
        ("indi_simulator_weather", "Weather Simulator", "weather"),
        ("indi_simulator_gps", "GPS Simulator", "gps"),
    ]
    return Profile(
        name=OBSERVATORY_PROFILE,
        port=DEFAULT_PORT,
        auto_connect=True,
        drivers=[ProfileDriver(exe, label=label) for exe, label, _ in drivers],
        roles={role: label for _, label, role in drivers},
    )


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return role


def _check_device(device: str) -> str:
    """The device a role names: as any device name (`check_device_name`)."""
    return check_device_name(device)


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer from 1 to 65535, not {port!r}")
    return port


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _role_list(roles: Iterable[str]) -> str:
    return ", ".join(f"'{role}'" for role in roles)


#: The roles of schema version 1 (its CHECK constraints name them).
_ROLES_V1 = ("telescope", "camera", "focuser", "filter_wheel")


# Each entry brings the schema from version i to i + 1.  An entry is never
# changed once released.
_MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE roles (
        role TEXT PRIMARY KEY CHECK (role IN ({_role_list(_ROLES_V1)})),
        device_name TEXT NOT NULL,
        assigned_at TEXT NOT NULL
    );
    CREATE TABLE profiles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        port INTEGER NOT NULL DEFAULT {DEFAULT_PORT},
        auto_start INTEGER NOT NULL DEFAULT 0,
        auto_connect INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE profile_drivers (
        profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        executable TEXT NOT NULL,
        device_name TEXT,
        label TEXT,
        PRIMARY KEY (profile_id, position)
    );
    CREATE TABLE profile_roles (
        profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ({_role_list(_ROLES_V1)})),
        device_name TEXT NOT NULL,
        PRIMARY KEY (profile_id, role)
    );
    """,
    # 2: role names are checked in Python (`ROLES`), not by CHECK constraints.
    """
    CREATE TABLE roles_v2 (
        role TEXT PRIMARY KEY,
        device_name TEXT NOT NULL,
        assigned_at TEXT NOT NULL
    );
    INSERT INTO roles_v2 SELECT role, device_name, assigned_at FROM roles;
    DROP TABLE roles;
    ALTER TABLE roles_v2 RENAME TO roles;
    CREATE TABLE profile_roles_v2 (
        profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        device_name TEXT NOT NULL,
        PRIMARY KEY (profile_id, role)
    );
    INSERT INTO profile_roles_v2 SELECT profile_id, role, device_name FROM profile_roles;
    DROP TABLE profile_roles;
    ALTER TABLE profile_roles_v2 RENAME TO profile_roles;
    """,
    # 3: imaging plans run by the service (indiws.plans): the plan as
    # submitted, its state, each finished frame and the plan's events.
    """
    CREATE TABLE plans (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        message TEXT,
        context TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE plan_frames (
        plan_id TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (plan_id, number)
    );
    CREATE TABLE plan_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        plan_id TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        time TEXT NOT NULL,
        type TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX plan_events_by_plan ON plan_events (plan_id, id);
    """,
    # 4: the ASCOM Alpaca devices (indiws.alpaca): per device type a number
    # and a UniqueID, given once to a role and kept for good.
    """
    CREATE TABLE alpaca_devices (
        device_type TEXT NOT NULL,
        device_number INTEGER NOT NULL,
        role TEXT NOT NULL UNIQUE,
        unique_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (device_type, device_number)
    );
    """,
    # 5: the built-in profiles this file was given once (a newer version's
    # new built-in is added at start; one the user deleted stays deleted).
    """
    CREATE TABLE builtin_profiles (
        name TEXT PRIMARY KEY,
        added_at TEXT NOT NULL
    );
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION


class StateDB:
    """Role assignments and profiles, in one SQLite file at ``path``.

    The parent folder is created if needed.  Open once per process and keep it
    for the life of the service; :meth:`close` (or ``with``) releases the file.

    A file that cannot be opened, read or written at start (not a database,
    damaged, read-only, a data directory that is a file) raises
    :class:`StateDBError` with one line naming the file and what to do.  A
    failure later (disk error, file made read-only or overwritten) raises
    :class:`StateDBUnavailableError` from the call that needed the file, and
    :attr:`error` says why until such a call succeeds again (a write, after a
    failed write); the role assignments stay readable from memory meanwhile,
    so that assigned devices are still connected when they reappear.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        #: Why the last use of the file failed (None while it works).
        self.error: str | None = None
        self._write_failed = False
        self._roles: dict[str, str] = {}
        #: Rows of another version already warned about (said once, not per read).
        self._ignored: set[tuple[str, str, str]] = set()
        self._opened = False  # failures while opening are raised, not logged
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StateDBError(
                f"data directory {self.path.parent} is a file, not a folder; move the file "
                "away or give another --data-dir"
            ) from None
        except OSError as exc:
            raise StateDBError(
                f"cannot create the data directory {self.path.parent}: {exc.strerror or exc}; "
                "create it writable for this user or give another --data-dir"
            ) from None
        if self.path.exists() and not self.path.is_file():
            raise StateDBError(
                f"state database {self.path} is not a file; move it away or give another --data-dir"
            )
        try:
            # Autocommit mode: transactions are opened explicitly in _transaction().
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
        except sqlite3.Error as exc:
            raise StateDBError(self._explain(exc)) from None
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys = ON")
            check = self._conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed ({check})")
            # Always writes (user_version), so a read-only file or folder shows here.
            self._migrate()
            # Read everything once: a missing table or a value of the wrong
            # type shows now, in one line, not as a failure later.
            self._roles = self._read_roles(self._conn)
            for name in self._read_profile_names(self._conn):
                self._read_profile(self._conn, name)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StateDBError(self._explain(exc)) from None
        except StateDBError:
            self._conn.close()
            raise
        self._opened = True

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> StateDB:
        """Open (or create) the state file ``indiws.sqlite3`` in ``data_dir``."""
        return cls(Path(data_dir) / DB_FILENAME)

    def _explain(self, exc: sqlite3.Error) -> str:
        """One line: the file, what went wrong, what to do."""
        text = str(exc)
        lowered = text.lower()
        if isinstance(exc, _BadValueError):
            what = "holds a value indiws never writes (edited or damaged)"
            todo = (
                "restore it from a backup, or move it away (indiws makes a new one, with the "
                "Simulators profile, when it starts)"
            )
        elif "no such table" in lowered or "no such column" in lowered:
            what = "lacks tables or columns of indiws's schema"
            todo = (
                "restore it from a backup, or move it away (indiws makes a new one, with the "
                "Simulators profile, when it starts)"
            )
        elif "not a database" in lowered:
            what = "is not an SQLite database"
            todo = (
                "move it away (indiws makes a new one, with the Simulators profile, when it starts)"
            )
        elif "malformed" in lowered or "corrupt" in lowered:
            what = "is damaged"
            todo = "restore it from a backup, or move it away and start indiws again"
        elif "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
            what = "cannot be written"
            todo = "make the file and its folder writable for this user"
        elif "locked" in lowered or "busy" in lowered:
            what = "is locked by another program (another indiws on the same data directory?)"
            todo = "stop that program"
        else:
            what = "cannot be used"
            todo = "check the file and the disk"
        return f"state database {self.path} {what} ({text}); {todo}, or give another --data-dir"

    def _failed(self, exc: sqlite3.Error, *, writing: bool) -> StateDBUnavailableError:
        if self._closed:
            # A late caller while the service stops: nothing wrong with the file.
            log.debug("state database %s used after close (%s)", self.path, exc)
            return StateDBUnavailableError(f"state database {self.path} is closed")
        message = self._explain(exc)
        if self._opened and self.error is None:
            log.error("%s", message)  # once per failure, not once per call
        elif self._opened and message != self.error:
            log.warning("%s", message)
        self.error = message
        self._write_failed = writing
        return StateDBUnavailableError(message)

    def _succeeded(self, *, writing: bool) -> None:
        # A read that works says nothing of writes (a folder made read-only).
        if self.error is not None and (writing or not self._write_failed):
            log.info("state database %s works again", self.path)
            self.error = None

    # ------------------------------------------------------------- lifecycle

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._failed(exc, writing=False) from None
            self._succeeded(writing=False)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed(exc, writing=True) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc, writing=True) from None
                raise
            self._succeeded(writing=True)

    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StateDBError(
                    f"{self.path} has schema version {version}, newer than this "
                    f"version of indiws understands ({SCHEMA_VERSION}); upgrade indiws "
                    "or point it at another data directory"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            # PRAGMA takes no parameters; the value is our own integer.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
            if 0 < version < 5:
                # Every file got the Simulators profile when it was made.
                self._note_builtin(conn, SIMULATORS_PROFILE)
            self._add_builtin_profiles(conn, upgrade=version > 0)

    @staticmethod
    def _note_builtin(conn: sqlite3.Connection, name: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO builtin_profiles (name, added_at) VALUES (?, ?)", (name, _now())
        )

    def _add_builtin_profiles(self, conn: sqlite3.Connection, *, upgrade: bool) -> None:
        """Give the file each built-in profile it never had (a state file made
        before that profile existed gets it at the next start); a built-in
        the user deleted, or a profile of the user's with its name, is left."""
        offered = {row[0] for row in conn.execute("SELECT name FROM builtin_profiles")}
        for profile in (_simulators_profile(), _observatory_profile()):
            if profile.name in offered:
                continue
            taken = conn.execute("SELECT 1 FROM profiles WHERE name = ?", (profile.name,))
            if taken.fetchone() is None:
                if upgrade:
                    # Only the first start of a file makes Simulators start by itself.
                    profile.auto_start = False
                    log.info(
                        "state database %s: added the built-in profile %r", self.path, profile.name
                    )
                self._insert_profile(conn, profile)
            self._note_builtin(conn, profile.name)

    # ----------------------------------------------------------------- roles

    def _read_roles(self, conn: sqlite3.Connection) -> dict[str, str]:
        roles = {}
        for row in conn.execute("SELECT role, device_name FROM roles ORDER BY role"):
            role, device = _text(row, "roles", "role"), _text(row, "roles", "device_name")
            if self._usable_role(role, device, "role assignment"):
                roles[role] = device
        return roles

    def _usable_role(self, role: str, device: str, where: str) -> bool:
        """A role this version knows, held by a device name: a row of another
        version (a role added later) is left alone, and said once."""
        if role in ROLES and device.strip():
            return True
        key = (where, role, device)
        if key not in self._ignored:
            self._ignored.add(key)
            log.warning(
                "state database %s: ignoring the %s %r -> %r (not a role of this version, "
                "or no device)",
                self.path,
                where,
                role,
                device,
            )
        return False

    def get_roles(self) -> dict[str, str]:
        """The current role assignments: ``{"camera": "CCD Simulator", ...}``.

        When the file cannot be read, the assignments as last read or written
        (this process is the file's only writer), and :attr:`error` says why.
        """
        try:
            with self._reading() as conn:
                self._roles = self._read_roles(conn)
        except StateDBUnavailableError:
            pass
        return dict(self._roles)

    def get_role(self, role: str) -> str | None:
        """The device assigned to ``role``, or None."""
        _check_role(role)
        return self.get_roles().get(role)

    def set_role(self, role: str, device: str) -> None:
        """Assign ``device`` to ``role``, replacing any earlier assignment."""
        _check_role(role)
        _check_device(device)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO roles (role, device_name, assigned_at) VALUES (?, ?, ?) "
                "ON CONFLICT(role) DO UPDATE SET device_name = excluded.device_name, "
                "assigned_at = excluded.assigned_at",
                (role, device, _now()),
            )
        self._roles[role] = device

    def clear_role(self, role: str) -> bool:
        """Release ``role``; True if it was assigned."""
        _check_role(role)
        with self._transaction() as conn:
            cleared = conn.execute("DELETE FROM roles WHERE role = ?", (role,)).rowcount > 0
        self._roles.pop(role, None)
        return cleared

    def role_assigned_at(self, role: str) -> datetime | None:
        """When ``role`` was last assigned (UTC), or None."""
        _check_role(role)
        with self._reading() as conn:
            row = conn.execute("SELECT assigned_at FROM roles WHERE role = ?", (role,)).fetchone()
            if row is None:
                return None
            text = _text(row, "roles", "assigned_at")
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                raise _bad("roles", "assigned_at", text, "a date and time") from None

    # -------------------------------------------------------------- profiles

    def list_profiles(self) -> list[Profile]:
        """Every profile, by name."""
        with self._reading() as conn:
            names = self._read_profile_names(conn)
            return [profile for name in names if (profile := self._read_profile(conn, name))]

    def profile_names(self) -> list[str]:
        with self._reading() as conn:
            return self._read_profile_names(conn)

    def get_profile(self, name: str) -> Profile | None:
        """The profile called ``name``, or None."""
        with self._reading() as conn:
            return self._read_profile(conn, name)

    @staticmethod
    def _read_profile_names(conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute("SELECT name FROM profiles ORDER BY name")
        return [_text(row, "profiles", "name") for row in rows]

    def _read_profile(self, conn: sqlite3.Connection, name: str) -> Profile | None:
        row = conn.execute("SELECT * FROM profiles WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        profile_id = _integer(row, "profiles", "id", 1, 2**63 - 1)
        drivers = []
        for d in conn.execute(
            "SELECT executable, device_name, label FROM profile_drivers "
            "WHERE profile_id = ? ORDER BY position",
            (profile_id,),
        ):
            executable = _text(d, "profile_drivers", "executable")
            device_name = _optional_text(d, "profile_drivers", "device_name")
            label = _optional_text(d, "profile_drivers", "label")
            try:
                drivers.append(ProfileDriver(executable, device_name, label))
            except ValueError as exc:
                # Stored by an older version that checked less: never run it.
                log.warning("profile %r: skipping stored driver: %s", name, exc)
        roles = {}
        for r in conn.execute(
            "SELECT role, device_name FROM profile_roles WHERE profile_id = ? ORDER BY role",
            (profile_id,),
        ):
            role = _text(r, "profile_roles", "role")
            device = _text(r, "profile_roles", "device_name")
            if self._usable_role(role, device, f"role of profile {name!r}"):
                roles[role] = device
        return Profile(
            name=name,
            port=_integer(row, "profiles", "port", 1, 65535),
            auto_start=bool(_integer(row, "profiles", "auto_start", 0, 1)),
            auto_connect=bool(_integer(row, "profiles", "auto_connect", 0, 1)),
            drivers=drivers,
            roles=roles,
            id=profile_id,
        )

    def require_profile(self, name: str) -> Profile:
        """Like :meth:`get_profile`, but raise :class:`ProfileNotFoundError`."""
        profile = self.get_profile(name)
        if profile is None:
            raise ProfileNotFoundError(f"no profile named {name!r}")
        return profile

    def create_profile(
        self,
        name: str,
        *,
        port: int = DEFAULT_PORT,
        auto_start: bool = False,
        auto_connect: bool = False,
        drivers: Iterable[ProfileDriver | str | Mapping[str, str | None]] = (),
        roles: Mapping[str, str] | None = None,
    ) -> Profile:
        """Add a profile; :class:`ProfileExistsError` if the name is taken."""
        profile = Profile(
            name=name,
            port=port,
            auto_start=auto_start,
            auto_connect=auto_connect,
            drivers=[ProfileDriver.from_value(d) for d in drivers],
            roles=dict(roles or {}),
        )
        with self._transaction() as conn:
            self._insert_profile(conn, profile)
        return self.require_profile(name)

    def update_profile(
        self,
        name: str,
        *,
        new_name: str | None = None,
        port: int | None = None,
        auto_start: bool | None = None,
        auto_connect: bool | None = None,
        drivers: Iterable[ProfileDriver | str | Mapping[str, str | None]] | None = None,
        roles: Mapping[str, str] | None = None,
    ) -> Profile:
        """Change the given fields of a profile (None leaves a field as it is).

        ``drivers`` and ``roles`` replace the whole list / mapping.
        """
        driver_list = None if drivers is None else [ProfileDriver.from_value(d) for d in drivers]
        if new_name is not None:
            _check_profile_name(new_name)
        if port is not None:
            _check_port(port)
        if roles is not None:
            for role, device in roles.items():
                _check_role(role)
                _check_device(device)
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM profiles WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ProfileNotFoundError(f"no profile named {name!r}")
            profile_id = int(row["id"])
            if new_name is not None and new_name != name:
                taken = conn.execute("SELECT 1 FROM profiles WHERE name = ?", (new_name,))
                if taken.fetchone():
                    raise ProfileExistsError(f"a profile named {new_name!r} exists already")
            if auto_start:
                conn.execute("UPDATE profiles SET auto_start = 0")
            assignments = {
                "name": new_name,
                "port": port,
                "auto_start": None if auto_start is None else int(auto_start),
                "auto_connect": None if auto_connect is None else int(auto_connect),
            }
            for column, value in assignments.items():
                if value is not None:
                    # Column names come from the fixed dict above, never from input.
                    conn.execute(
                        f"UPDATE profiles SET {column} = ? WHERE id = ?", (value, profile_id)
                    )
            conn.execute("UPDATE profiles SET updated_at = ? WHERE id = ?", (_now(), profile_id))
            if driver_list is not None:
                self._write_drivers(conn, profile_id, driver_list)
            if roles is not None:
                self._write_roles(conn, profile_id, roles)
        return self.require_profile(new_name or name)

    def save_profile(self, profile: Profile) -> Profile:
        """Create ``profile`` or replace the stored one of the same name."""
        if self.get_profile(profile.name) is None:
            return self.create_profile(
                profile.name,
                port=profile.port,
                auto_start=profile.auto_start,
                auto_connect=profile.auto_connect,
                drivers=profile.drivers,
                roles=profile.roles,
            )
        return self.update_profile(
            profile.name,
            port=profile.port,
            auto_start=profile.auto_start,
            auto_connect=profile.auto_connect,
            drivers=profile.drivers,
            roles=profile.roles,
        )

    def delete_profile(self, name: str) -> bool:
        """Remove a profile with its drivers and roles; True if it existed."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM profiles WHERE name = ?", (name,)).rowcount > 0

    def get_auto_start_profile(self) -> Profile | None:
        """The profile to start with the service, if one is marked."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT name FROM profiles WHERE auto_start = 1 ORDER BY id LIMIT 1"
            ).fetchone()
            return None if row is None else self._read_profile(conn, _text(row, "profiles", "name"))

    # -------------------------------------------------------------- internal

    def _insert_profile(self, conn: sqlite3.Connection, profile: Profile) -> None:
        _check_profile_name(profile.name)
        _check_port(profile.port)
        for role, device in profile.roles.items():
            _check_role(role)
            _check_device(device)
        if conn.execute("SELECT 1 FROM profiles WHERE name = ?", (profile.name,)).fetchone():
            raise ProfileExistsError(f"a profile named {profile.name!r} exists already")
        if profile.auto_start:
            conn.execute("UPDATE profiles SET auto_start = 0")
        now = _now()
        cursor = conn.execute(
            "INSERT INTO profiles (name, port, auto_start, auto_connect, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                profile.name,
                profile.port,
                int(profile.auto_start),
                int(profile.auto_connect),
                now,
                now,
            ),
        )
        profile_id = cursor.lastrowid
        assert profile_id is not None
        self._write_drivers(conn, profile_id, profile.drivers)
        self._write_roles(conn, profile_id, profile.roles)

    @staticmethod
    def _write_drivers(
        conn: sqlite3.Connection, profile_id: int, drivers: Iterable[ProfileDriver]
    ) -> None:
        conn.execute("DELETE FROM profile_drivers WHERE profile_id = ?", (profile_id,))
        conn.executemany(
            "INSERT INTO profile_drivers (profile_id, position, executable, device_name, label) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (profile_id, position, d.executable, d.name, d.label)
                for position, d in enumerate(drivers)
            ],
        )

    @staticmethod
    def _write_roles(conn: sqlite3.Connection, profile_id: int, roles: Mapping[str, str]) -> None:
        conn.execute("DELETE FROM profile_roles WHERE profile_id = ?", (profile_id,))
        conn.executemany(
            "INSERT INTO profile_roles (profile_id, role, device_name) VALUES (?, ?, ?)",
            [(profile_id, role, device) for role, device in roles.items()],
        )

    # ----------------------------------------------------------------- plans

    def add_plan(self, plan_id: str, name: str, source: str, state: str, context: str) -> None:
        """A new plan (its text as submitted), last in the queue."""
        now = _now()
        with self._transaction() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM plans").fetchone()[0]
            conn.execute(
                "INSERT INTO plans (id, name, source, state, seq, created_at, updated_at, context)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (plan_id, name, source, state, seq, now, now, context),
            )

    def set_plan_state(
        self, plan_id: str, state: str, message: str | None = None, context: str | None = None
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE plans SET state = ?, message = ?, updated_at = ?,"
                " context = COALESCE(?, context) WHERE id = ?",
                (state, message, _now(), context, plan_id),
            )

    def plans(self) -> list[dict[str, object]]:
        """Every plan's row (id, name, source, state, seq, created_at, updated_at,
        message, context), in queue order."""
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM plans ORDER BY seq").fetchall()
        return [dict(row) for row in rows]

    def add_plan_frame(self, plan_id: str, number: int, status: str, record: str) -> None:
        """A frame of the plan that is finished (taken, or failed for good)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO plan_frames (plan_id, number, status, record)"
                " VALUES (?, ?, ?, ?)",
                (plan_id, number, status, record),
            )

    def plan_frames(self, plan_id: str) -> list[tuple[int, str, str]]:
        """(number, status, record) of the plan's finished frames, in order."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT number, status, record FROM plan_frames WHERE plan_id = ? ORDER BY number",
                (plan_id,),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def add_plan_event(self, plan_id: str, time: str, type: str, message: str, data: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO plan_events (plan_id, time, type, message, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (plan_id, time, type, message, data),
            )

    def plan_events(self, plan_id: str, limit: int = 500) -> list[tuple[str, str, str, str]]:
        """The plan's last ``limit`` events: (time, type, message, data), oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT time, type, message, data FROM plan_events WHERE plan_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (plan_id, limit),
            ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in reversed(rows)]

    # ---------------------------------------------------------------- alpaca

    def alpaca_device(self, device_type: str, role: str) -> tuple[int, str]:
        """The Alpaca device number and UniqueID of ``role`` as a
        ``device_type``: given on first use (the next free number of that
        type, a new UUID) and kept for good, whatever device plays the role."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT device_number, unique_id FROM alpaca_devices"
                " WHERE device_type = ? AND role = ?",
                (device_type, role),
            ).fetchone()
            if row is not None:
                return int(row[0]), str(row[1])
            number = conn.execute(
                "SELECT COALESCE(MAX(device_number) + 1, 0) FROM alpaca_devices"
                " WHERE device_type = ?",
                (device_type,),
            ).fetchone()[0]
            unique_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO alpaca_devices (device_type, device_number, role, unique_id)"
                " VALUES (?, ?, ?, ?)",
                (device_type, number, role, unique_id),
            )
            return int(number), unique_id


def _check_profile_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("profile name must be a non-empty string")
    if "/" in name:
        # Names appear in URL paths (/api/profiles/<name>).
        raise ValueError(f"profile name must not contain '/': {name!r}")
    return name
