"""The running service: configuration and the long-lived objects the web
layer calls into (INDI client, state database, roles, and in embedded mode
the indiserver supervisor).

Two modes:

- **embedded** (``Config.indi_host is None``, the command line's default): the
  service runs its own ``indiserver`` under an
  :class:`~indiws.manager.IndiServerSupervisor`, starts the auto-start profile
  (or the one asked for) and assigns its roles.  Server and driver control
  (start/stop server, start/stop/restart drivers, start profiles) is offered.
- **external** (``indi_host`` set): the service only connects to an indiserver
  run by someone else; server and driver control raise
  :class:`IndiServerNotManagedError`.

The driver operations here also wait, briefly, until the INDI client's mirror
shows the change (the started driver's devices defined, the stopped driver's
devices deleted), so that a caller who reads ``/get/all/devices/`` right after
sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis import worker as analysis_worker
from .blobs import DEFAULT_PATTERN, BlobStore
from .client import INDIClient, INDIError
from .db import Profile, ProfileDriver, StateDB, check_label
from .devices import ROLE_CLASSES, Camera, DeviceError, Guider, RoleDevice, set_min_altitude
from .devices.writes import check_hardware_write
from .frame_store import INDEX_FILENAME, FrameStore
from .guiding import GuidingEngine
from .guiding.verbs import GuidingVerbs
from .indi_listener import IndiListener
from .manager import (
    DriverCatalog,
    DriverError,
    DriverInfo,
    DriverInstance,
    DriverState,
    IndiServerError,
    IndiServerSupervisor,
    ProfileStartError,
    SupervisorEvent,
    choose_port,
)
from .manager.catalog import DEFAULT_INDI_DATA_DIR
from .manager.server import (
    DEFAULT_INDI_PORT,
    DriverNotAllowedError,
    InvalidDriverNameError,
    PortInUseError,
    check_driver_executable,
    find_free_port,
    private_loopback_address,
)
from .plans import PlanEngine
from .protocol import NewVector
from .roles import RoleManager
from .safety import SafetyConfig, SafetyPolicy
from .security import TOKEN_FILE, binds_beyond_loopback, load_or_create_token
from .sky.gsc import sky_env
from .sky.index import prune_index_cache

__all__ = [
    "Config",
    "DriverNotRunningError",
    "IndiServerNotManagedError",
    "IndiServerStoppedError",
    "Service",
    "UnknownDriverError",
    "default_data_dir",
]

log = logging.getLogger("indiws")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/indiws`` (``~/.local/share/indiws``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "indiws"


def make_frame_store(config: Config) -> BlobStore:
    """The frame store ``config`` asks for: on disk (indexed), or memory only.

    Raises `~indiws.frame_store.FrameIndexError` (one line) when the frames
    folder or its index cannot be used."""
    if not config.frames_on_disk:
        return BlobStore(
            max_count=config.blob_max_count or 100,
            max_bytes=config.blob_max_bytes or 1 << 30,
            pattern=config.frames_pattern,
        )
    return FrameStore(
        config.frames_dir or config.data_dir / "frames",
        config.data_dir / INDEX_FILENAME,
        max_count=config.blob_max_count or 8,
        max_bytes=config.blob_max_bytes or 256 << 20,
        pattern=config.frames_pattern,
        min_free=config.frames_min_free,
        keep_days=config.frames_keep_days,
        keep_bytes=config.frames_keep_bytes,
        journal_keep_days=config.journal_keep_days,
        journal_keep_entries=config.journal_keep_entries,
    )


class IndiServerNotManagedError(RuntimeError):
    """Server or driver control asked of a service that only connects to an
    indiserver run by someone else."""


class UnknownDriverError(LookupError):
    """No driver with that label in the catalog (nor among the custom drivers)."""

    def __str__(self) -> str:  # LookupError shows the repr of a lone argument
        return str(self.args[0]) if self.args else "unknown driver"


class DriverNotRunningError(DriverError, LookupError):
    """The driver instance asked for is not running."""


class IndiServerStoppedError(IndiServerError):
    """A driver operation while the managed indiserver is stopped."""


@dataclass(slots=True)
class Config:
    #: indiserver to connect to; None host means "start our own" (embedded).
    indi_host: str | None = "localhost"
    indi_port: int = DEFAULT_INDI_PORT
    #: Where the HTTP/WebSocket server listens.
    host: str = "127.0.0.1"
    port: int = 7999
    data_dir: Path = field(default_factory=default_data_dir)
    #: Seconds between status notifications on /ws/indi_client/.
    status_interval: float = 2.0
    #: Per WebSocket client: messages waiting to be sent before the client
    #: is dropped as too slow (property updates coalesce before that).
    max_pending_messages: int = 5000
    #: ... and their size in bytes, whatever their count (docs/security.md).
    max_pending_bytes: int = 32 << 20
    #: ... and of every client together: past it, the slow clients (those
    #: holding more than 1 MiB) are dropped first (docs/security.md).
    max_total_pending_bytes: int = 256 << 20
    #: Longest WebSocket message or HTTP request body a client may send; those
    #: that may carry a BLOB upload (/ws/indi/, setting a BLOB property) get
    #: the larger limit.
    max_message_bytes: int = 1 << 20
    max_upload_bytes: int = 64 << 20
    #: HTTP/WebSocket connections open at once, in all and from one address
    #: (docs/security.md, connection floods); the total never passes what the
    #: open-files limit allows.
    max_connections: int = 512
    max_connections_per_peer: int = 128
    #: Seconds a connection may take to send a request's headers (also the
    #: idle time of a kept-alive connection).
    header_timeout: float = 20.0
    #: Origins besides the service's own whose pages may act (state-changing
    #: requests, WebSockets; docs/security.md); "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    #: Host names accepted besides localhost, IP addresses and the machine's own.
    allowed_hosts: tuple[str, ...] = ()
    #: The access token; None: when one is required, the one kept in the data
    #: directory (made on first start).  Giving one requires it.
    token: str | None = None
    #: Require the token even when listening on loopback only.
    require_token: bool = False
    #: Embedded mode: port of our indiserver; None takes 7624 when it is free,
    #: else any free port.
    embedded_indi_port: int | None = None
    #: Embedded mode: profile started with the service; None takes the
    #: profile marked auto-start.
    profile: str | None = None
    #: Embedded mode: the indiserver executable (name on PATH, or a path).
    indiserver: str = "indiserver"
    #: Embedded mode: variables set for indiserver and the drivers on top of
    #: this process's environment (tests give drivers their own HOME here).
    indiserver_env: dict[str, str] = field(default_factory=dict)
    #: Folder (or file) of INDI's driver catalog, ``drivers.xml``.
    indi_data_dir: Path = DEFAULT_INDI_DATA_DIR
    #: How long a driver operation waits for the mirror to show its devices.
    device_wait: float = 5.0
    #: Camera frames kept in memory (served at /blobs/<id>): the oldest go
    #: first when either limit is passed.  None: 8 frames and 256 MiB as a
    #: cache in front of the frames folder, 100 and 1 GiB when memory only.
    blob_max_count: int | None = None
    blob_max_bytes: int | None = None
    #: Every frame is written to ``frames_dir`` (None: ``<data_dir>/frames``)
    #: and indexed (docs/frames.md); ``frames_on_disk=False`` keeps frames
    #: in memory only (``--frames-dir none``).  File name pattern: see
    #: `indiws.blobs.DEFAULT_PATTERN`.
    frames_dir: Path | None = None
    frames_on_disk: bool = True
    frames_pattern: str = DEFAULT_PATTERN
    #: Bytes that must stay free in the frames folder beside a new frame;
    #: an exposure that would pass it fails at once with disk_full.
    frames_min_free: int = 200 << 20
    #: Retention, off by default: delete frames older than this many days,
    #: or the oldest past this many bytes of frames.
    frames_keep_days: float | None = None
    frames_keep_bytes: int | None = None
    #: The exposure journal keeps finished entries this many days, and at
    #: most this many of them (None: no bound).
    journal_keep_days: float | None = 365.0
    journal_keep_entries: int | None = 100_000
    #: The synthetic sky's index cache (``<data_dir>/sky/index``, rebuilt on
    #: demand): tiles unused this many days go, then the least recently used
    #: past this many bytes (None: no bound); checked at start and every 6 h.
    sky_index_keep_days: float | None = 30.0
    sky_index_keep_bytes: int | None = 2 << 30
    #: Drivers the catalog lacks that may be started, as (label, executable):
    #: the operator's choice (``--custom-driver``), never an HTTP client's.
    custom_drivers: tuple[tuple[str, str], ...] = ()
    #: Embedded mode: the INDI port offered to INDI clients (``embedded_indi_port``,
    #: filtered by the service: `indiws.indi_listener`) listens on every
    #: interface (else this machine only); see docs/security.md.
    embedded_indi_lan: bool = False
    #: Embedded mode: offer that INDI port at all (``--no-indi-port``: only
    #: the service reaches indiserver).
    indi_listener: bool = True
    #: Another front end's built files served at ``/`` (``--ui``); the panel
    #: then stays at ``/panel/`` (docs/panel.md).
    ui_dir: Path | None = None
    #: URLs that get a JSON POST for every plan's main events (``--notify-url``).
    notify_urls: tuple[str, ...] = ()
    #: The safety policy: on/off, close-up actions, timeouts (`indiws.safety`).
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    #: Goto targets below this altitude (degrees) are refused unless forced
    #: (``--min-altitude``); None: no limit.
    min_altitude: float | None = 0.0
    #: How long a role assignment waits for a device the indiserver has not
    #: defined yet (a driver still starting) before refusing it, in seconds.
    role_appear_timeout: float = 5.0
    #: PHD2's event-server protocol for guiding clients (docs/phd2.md): its
    #: port (None: not served; the command line serves 4400) and address.
    #: It has no authentication (docs/security.md).
    phd2_port: int | None = None
    phd2_host: str = "127.0.0.1"
    #: ASCOM Alpaca (docs/alpaca.md): its HTTP port (None: not served; the
    #: command line serves 11111), the UDP discovery port (None: no
    #: discovery; the command line answers on 32227) and the address both
    #: listen on.  Alpaca clients cannot send the access token.
    alpaca_port: int | None = None
    alpaca_discovery_port: int | None = None
    alpaca_host: str = "127.0.0.1"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.indi_host is None

    @property
    def token_required(self) -> bool:
        """Asked for, given, or listening beyond loopback (the LAN can reach us)."""
        return self.require_token or self.token is not None or binds_beyond_loopback(self.host)


class Service:
    """Owns the INDI client, the state database, the role manager, the frame
    store and, in embedded mode, the indiserver supervisor."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Creates the data directory; StateDBError (one line) when it cannot.
        self.db = StateDB.in_data_dir(config.data_dir)
        #: The token every request must carry (None: none), and where it came
        #: from: "given" (Config.token), "file" or "created" (now, in token_path).
        self.access_token: str | None = config.token
        self.token_source: str | None = "given" if config.token is not None else None
        self.token_path = config.data_dir / TOKEN_FILE
        if self.access_token is None and config.token_required:
            self.access_token, created = load_or_create_token(self.token_path)
            self.token_source = "created" if created else "file"
        #: Profile started last (by the service or over HTTP); None when stopped.
        self.active_profile: str | None = None
        #: Drivers the catalog lacks, by label: the operator's (``--custom-driver``)
        #: and labels given to catalog drivers by INDI Web Manager clients
        #: (``/api/profiles/custom/add``); kept for the life of the process.
        self.custom_drivers: dict[str, DriverInfo] = {}
        self.supervisor: IndiServerSupervisor | None = None
        #: Embedded mode: the filtered INDI port for INDI clients (KStars).
        self.indi_listener: IndiListener | None = None
        self._catalog: DriverCatalog | None = None
        for label, executable in config.custom_drivers:
            self.add_custom_driver(label, label, "Custom", executable, operator=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client_started = False
        self._port_note = ""
        if config.embedded:
            port = config.embedded_indi_port
            if port is None:
                port = choose_port(DEFAULT_INDI_PORT)
                if port != DEFAULT_INDI_PORT:
                    self._port_note = (
                        f"port {DEFAULT_INDI_PORT} is in use (another indiserver?); "
                        f"the embedded indiserver uses free port {port} instead "
                        "(choose one with --embedded-indi-port)"
                    )
            # indiserver itself listens on a port of its own that admits the
            # service's connection only (made from an address of 127/8 nobody
            # else uses): a web page's request to it never arrives.  INDI
            # clients get `port`, filtered by the service (docs/security.md).
            source = private_loopback_address()
            internal = find_free_port()
            self.supervisor = IndiServerSupervisor(
                internal,
                indiserver=config.indiserver,
                run_dir=config.data_dir / "indiserver",
                env=sky_env(config.data_dir / "sky" / "bin", config.indiserver_env),
                driver_policy=self.check_driver,
                admit_source=source,
            )
            self.supervisor.own_ports.add(port)  # a remote driver must not lead back here either
            self.supervisor.subscribe(self._on_supervisor_event)
            self.client = INDIClient("127.0.0.1", internal, local_address=source)
            if config.indi_listener:
                self.indi_listener = IndiListener(
                    "0.0.0.0" if config.embedded_indi_lan else "127.0.0.1",
                    port,
                    ("127.0.0.1", internal),
                    source=source,
                    check_write=self._check_indi_client_write,
                )
        else:
            self.client = INDIClient(config.indi_host or "localhost", config.indi_port)
        self.roles = RoleManager(
            self.client,
            self.db,
            appear_timeout=self.config.role_appear_timeout,
            profile=lambda: self.active_profile,
        )
        #: Closes up when the weather turns or indiserver was lost (docs/devices.md).
        self.safety = SafetyPolicy(
            self.client, self.roles, config.safety, expected_connected=lambda: self._client_started
        )
        #: Camera frames, shared by every client (served at /blobs/<id>).
        self.blobs = make_frame_store(config)
        #: The autoguider over the guider role (docs/guiding.md).
        self.guiding = GuidingEngine(
            self.client, self.roles, config.data_dir, is_safe=lambda: self.safety.safe
        )
        self.safety.autoguider = self.guiding
        #: Its verbs (``guiding.*``: `indiws.guiding.verbs`), what every front calls.
        self.guiding_verbs = GuidingVerbs(self.guiding)
        #: Imaging plans queued and run by the service, journalled in ``db``.
        self.plans = PlanEngine(
            self.client,
            self.roles,
            self.db,
            self.blobs,
            notify_urls=config.notify_urls,
            index_dir=self.sky_index_dir,
            # The autoguider, once the service has one: the plans pause it around
            # slews and dither through it (indiws.plans.GuidingHooks).
            guider=lambda: getattr(self, "guiding", None),
        )

    def role_device(self, role: str, device: str | None = None) -> RoleDevice:
        """The role's device class for ``device`` (None: the role's device now),
        wired to the rest of the observatory: a camera stores into the
        service's frame store and knows the wheel, mount and focuser of the
        other roles; the guider pulses through the mount."""
        if device is None:
            device = self.roles.device_for(role)
        if role == "camera":
            return Camera(
                self.client,
                device,
                store=self.blobs,
                filter_wheel=self.roles.device_for("filter_wheel"),
                telescope=self.roles.device_for("telescope"),
                focuser=self.roles.device_for("focuser"),
                guiding=self.guiding.frame_stats,
            )
        if role == "guider":
            mount = self.roles.device_for("telescope")
            return Guider(self.client, device, store=self.blobs, mount=mount)
        return ROLE_CLASSES[self.roles.check_role(role)](self.client, device)

    # ------------------------------------------------------------ lifecycle

    @property
    def managed(self) -> bool:
        """True when this service runs the indiserver (embedded mode)."""
        return self.supervisor is not None

    @property
    def catalog(self) -> DriverCatalog:
        """INDI's driver catalog (read on first use)."""
        if self._catalog is None:
            self._catalog = DriverCatalog(self.config.indi_data_dir)
        return self._catalog

    async def start(self) -> None:
        """Start connecting to indiserver (in the background: the HTTP API
        answers even while indiserver is not reachable yet).

        In embedded mode, first start indiserver and then the start-up
        profile.  Raises :class:`~indiws.manager.IndiServerError` when
        indiserver cannot run (not installed, port taken) and
        :class:`~indiws.db.ProfileNotFoundError` for an unknown ``profile``.
        """
        log.info("data directory: %s", self.config.data_dir)
        log.info("%s", self.blobs.destination())
        set_min_altitude(self.client, self.config.min_altitude)
        self.safety.start()
        # The plan that was running when the service stopped (or crashed) goes
        # on: it waits, with its reason, until its devices are there.
        self.plans.start()
        # Every stored frame is analysed: its worker process starts now, not on the first frame.
        self._analysis_warm_up = asyncio.get_running_loop().create_task(analysis_worker.warm_up())
        self._spawn(self._prune_sky_index(), "sky-index-prune")
        supervisor = self.supervisor
        if supervisor is None:
            log.info("connecting to the indiserver at %s:%d", self.client.host, self.client.port)
            self._start_client()
            return
        profile = self._startup_profile()
        if self._port_note:
            log.warning("%s", self._port_note)
        if self.indi_listener is not None:
            # The INDI port first: a port taken is said before indiserver starts.
            try:
                await self.indi_listener.start()
            except OSError as error:
                raise PortInUseError(self.indi_listener.port, str(error)) from None
        log.info("starting the embedded indiserver on port %d", supervisor.port)
        await self._start_embedded_indiserver(supervisor)
        log.info(
            "embedded indiserver (pid %s) listens on internal port %d (the service only)",
            supervisor.pid,
            supervisor.port,
        )
        if supervisor.network_exposure:
            log.error(
                "indiserver's internal port %d admits other connections than the service's (%s): "
                "a web page opened on this machine could reach it",
                supervisor.port,
                supervisor.network_exposure,
            )
        if self.indi_listener is not None:
            log.info(
                "INDI clients (KStars, indi_getprop): port %d on %s, filtered (no HTTP; "
                "writes that move hardware refused while unsafe)",
                self.indi_listener.port,
                self.indi_listener.host,
            )
            if self.config.embedded_indi_lan:
                log.warning(
                    "the INDI port %d is open to every host on the network (--embedded-indi-lan), "
                    "without authentication: anyone there can drive the devices",
                    self.indi_listener.port,
                )
        self._start_client()
        if profile is None:
            log.warning(
                "no profile is marked auto-start: indiserver runs with no driver; start one "
                "with POST /api/server/start/<profile> or run with --profile NAME"
            )
            return
        try:
            await self.start_profile(profile.name, replace=False, wait=False)
        except DriverError as error:
            # The server and the other drivers run; the listing shows what failed.
            log.error("%s", error)

    async def stop(self) -> None:
        """Stop everything this service started: no indiserver or driver is left."""
        await self.plans.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.guiding.close()
        await self.safety.stop()
        self.roles.close()
        if self.indi_listener is not None:
            await self.indi_listener.close()
        await self.client.close()
        if self.supervisor is not None:
            await self.supervisor.stop()
        self.db.close()
        if isinstance(self.blobs, FrameStore):
            self.blobs.close()

    def _check_indi_client_write(self, vector: NewVector, who: str) -> str | None:
        """The hardware-write policy for a write from an INDI client of the
        INDI port: None lets it through, else why it is refused.  INDI cannot
        say "force": an operator forces through the service's API."""
        values = [(e.name, getattr(e, "value", None)) for e in vector.elements]
        try:
            check_hardware_write(
                self.client, vector.device, vector.name, values, who=f"INDI client {who}"
            )
        except DeviceError as error:
            return str(error)
        return None

    def _startup_profile(self) -> Profile | None:
        if self.config.profile is not None:
            return self.db.require_profile(self.config.profile)
        return self.db.get_auto_start_profile()

    async def _start_embedded_indiserver(self, supervisor: IndiServerSupervisor) -> None:
        """Start the embedded indiserver on its internal port; that port was
        free when the service chose it, and if another program has taken it
        since, the service chooses another (twice at most) rather than fail."""
        for attempt in range(3):
            try:
                await supervisor.start()
                return
            except PortInUseError:
                if attempt == 2:
                    raise
            taken, supervisor.port = supervisor.port, find_free_port()
            log.info("internal port %d was taken meanwhile: using %d", taken, supervisor.port)
            self.client.port = supervisor.port
            if self.indi_listener is not None:
                self.indi_listener.upstream = ("127.0.0.1", supervisor.port)

    def _start_client(self) -> None:
        self._client_started = True
        self.client.start()

    @property
    def sky_index_dir(self) -> Path:
        """The synthetic sky's index cache (built on demand by solving)."""
        return self.config.data_dir / "sky" / "index"

    async def _prune_sky_index(self, every: float = 6 * 3600.0) -> None:
        keep_days, keep_bytes = self.config.sky_index_keep_days, self.config.sky_index_keep_bytes
        if keep_days is None and keep_bytes is None:
            return
        while True:
            done = await asyncio.to_thread(
                prune_index_cache, self.sky_index_dir, keep_days=keep_days, keep_bytes=keep_bytes
            )
            if done["deleted"]:
                log.info(
                    "sky index cache: %d tiles (%.1f MB) pruned, %d left (%.1f MB)",
                    done["deleted"],
                    done["freed"] / 1e6,
                    done["tiles"],
                    done["bytes"] / 1e6,
                )
            await asyncio.sleep(every)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_supervisor_event(self, event: SupervisorEvent) -> None:
        if event.kind in ("server_started", "server_restarted") and self._client_started:
            self._spawn(self._reconnect_client(), "indi-client-reconnect")

    async def _reconnect_client(self) -> None:
        """Connect at once to a (re)started indiserver instead of waiting for
        the client's reconnect backoff (up to several seconds)."""
        if self.client.connected:
            return
        await self.client.close()
        self.client.start()

    async def connect_indiserver(self, timeout: float = 5.0) -> bool:
        """Connect the INDI client again after `disconnect_indiserver` (no-op
        while it is connected or trying to).  True once connected; False when
        indiserver did not answer within ``timeout`` seconds (the client keeps
        trying in the background, as at start-up)."""
        if not self.client.connected:
            self._start_client()
        with contextlib.suppress(TimeoutError):
            # Connected and the definitions in: a device list asked next is whole.
            await self.client.wait_synced(timeout)
        return self.client.connected

    async def disconnect_indiserver(self) -> bool:
        """Close the INDI client's connection and stop reconnecting, until
        `connect_indiserver`.  indiserver and its drivers keep running (in
        embedded mode too).  True if it was connected."""
        was_connected = self.client.connected
        self._client_started = False  # a restarted indiserver is not rejoined either
        await self.client.close()
        if was_connected:
            log.info(
                "disconnected from indiserver %s:%d on request", self.client.host, self.client.port
            )
        return was_connected

    # -------------------------------------------------------------- status

    def require_supervisor(self) -> IndiServerSupervisor:
        if self.supervisor is None:
            raise IndiServerNotManagedError(
                "indiserver is not managed by this service: it connects to the indiserver at "
                f"{self.client.host}:{self.client.port} run by someone else; start and stop "
                "drivers there, or run indiws without --indi-host/--indi-port"
            )
        return self.supervisor

    def require_running_supervisor(self) -> IndiServerSupervisor:
        supervisor = self.require_supervisor()
        if not supervisor.running:
            raise IndiServerStoppedError(
                "indiserver is stopped; start it first (POST /api/server/start/<profile> "
                "or /api/v1/server/start)"
            )
        return supervisor

    @property
    def server_running(self) -> bool:
        """The managed indiserver listens; for an external one: we are connected."""
        if self.supervisor is None:
            return self.client.connected
        return self.supervisor.running

    def server_status(self) -> dict[str, Any]:
        """A JSON-ready summary: mode, indiserver, drivers and their devices, roles."""
        status: dict[str, Any] = {
            "managed": self.managed,
            "running": self.server_running,
            "host": self.client.host,
            "port": self.client.port,
            "connected": self.client.connected,
            "active_profile": self.active_profile,
        }
        if self.supervisor is not None:
            sup = self.supervisor.status()
            listener = self.indi_listener
            status.update(
                indi_port=None if listener is None else listener.port,
                indi_port_host=None if listener is None else listener.host,
                pid=sup["pid"],
                fifo=sup["fifo"],
                started_at=sup["started_at"],
                server_restarts=sup["server_restarts"],
                # indiserver's own port admits others, or the INDI port listens beyond loopback.
                open_to_network=sup["open_to_network"]
                or (listener is not None and binds_beyond_loopback(listener.host)),
                drivers=[self.describe_driver(d) for d in self.supervisor.drivers()],
            )
        status["roles"] = {role: self.roles.describe(role) for role in self.roles.assignments()}
        return status

    def describe_driver(self, driver: DriverInstance) -> dict[str, Any]:
        """The instance as the supervisor lists it, plus its devices in the mirror."""
        return {**driver.to_dict(), "present_devices": self.devices_of(driver)}

    # ------------------------------------------------------------- devices

    def devices_of(self, driver: DriverInstance) -> list[str]:
        """Devices of ``driver`` defined in the mirror now (by their DRIVER_INFO)."""
        if driver.state not in (DriverState.RUNNING, DriverState.STARTING, DriverState.STOPPING):
            return []
        if driver.is_remote:
            device = driver.executable.rpartition("@")[0]
            return [device] if device in self.client.devices else []
        if driver.name is not None:
            dev = self.client.devices.get(driver.name)
            ok = dev is not None and dev.driver_info.get("DRIVER_EXEC") == driver.executable
            return [driver.name] if ok else []
        others = {
            d.name
            for d in (self.supervisor.drivers() if self.supervisor else ())
            if d.executable == driver.executable and d.name is not None
        }
        return sorted(
            name
            for name, dev in self.client.devices.items()
            if dev.driver_info.get("DRIVER_EXEC") == driver.executable and name not in others
        )

    async def _wait_devices(
        self, drivers: Iterable[DriverInstance], *, present: bool, gone: Iterable[str] = ()
    ) -> bool:
        """Wait (``config.device_wait`` at most) until every driver shows a
        device in the mirror (``present``), and until the ``gone`` devices are
        deleted from it."""
        drivers = [d for d in drivers if d.state is DriverState.RUNNING]
        gone = set(gone)
        deadline = time.monotonic() + self.config.device_wait

        def done() -> bool:
            if gone & self.client.devices.keys():
                return False
            return not present or all(self.devices_of(d) for d in drivers)

        # Polling the mirror: simpler than subscribing to every device, and a
        # driver defines its properties within a few hundred milliseconds.
        while not done():  # noqa: ASYNC110
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # ------------------------------------------------------------- drivers

    @staticmethod
    def check_label(label: str) -> str:
        """A label as a driver's name: printable, no quote (it may become the
        ``-n`` device name in a FIFO line), no ``@`` (a remote driver is
        ``Device@host[:port]``, taken only where an API asks for one)."""
        try:
            check_label(label)
        except ValueError as exc:
            raise InvalidDriverNameError(str(exc)) from None
        if "@" in label:
            raise InvalidDriverNameError(
                f"driver label {label!r} must not contain '@'; a driver of another indiserver "
                "('Device@host[:port]') is started with /api/drivers/start_remote/ or listed "
                'as "remote" in a profile'
            )
        return label

    def allowed_executables(self) -> set[str]:
        """The programs a driver start may run: the catalog's and the operator's."""
        return {d.executable for d in self.catalog} | {
            d.executable for d in self.custom_drivers.values()
        }

    def check_driver(self, driver: ProfileDriver) -> None:
        """Refuse (:class:`~indiws.manager.DriverNotAllowedError`) a driver whose
        program neither INDI's driver catalog nor the operator names.  The
        supervisor calls this before every start; remote drivers run no program."""
        if driver.is_remote:
            return
        check_driver_executable(driver.executable)
        if driver.executable not in self.allowed_executables():
            raise DriverNotAllowedError(
                f"driver executable {driver.executable!r} is not allowed: only drivers listed in "
                f"INDI's driver catalog ({self.config.indi_data_dir}; GET /api/v1/drivers/catalog) "
                "may be started; the operator can add one when starting the service with "
                f"--custom-driver 'LABEL={driver.executable}'"
            )

    def find_driver(self, label: str) -> DriverInfo | None:
        """The catalog (or custom) driver for ``label``, matched like INDI Web
        Manager does: the exact label first, else the longest label that
        ``label`` starts with ("CCD Simulator 2" -> "CCD Simulator")."""
        self.check_label(label)
        exact = self.catalog.by_label(label) or self.custom_drivers.get(label)
        if exact is not None:
            return exact
        candidates = [
            d for d in (*self.catalog, *self.custom_drivers.values()) if label.startswith(d.label)
        ]
        return max(candidates, key=lambda d: len(d.label), default=None)

    def require_driver(self, label: str) -> DriverInfo:
        driver = self.find_driver(label)
        if driver is None:
            raise UnknownDriverError(
                f"driver {label!r} not found in the driver catalog (GET /api/drivers lists the "
                "labels); a driver the catalog lacks is added with --custom-driver "
                "'LABEL=EXECUTABLE' when starting the service"
            )
        return driver

    def driver_info_for(self, executable: str, label: str | None = None) -> DriverInfo | None:
        """Catalog entry of a running driver: by its label, else by its executable."""
        if label:
            info = self.custom_drivers.get(label) or self.catalog.by_label(label)
            if info is not None and info.executable == executable:
                return info
        for info in self.custom_drivers.values():
            if info.executable == executable:
                return info
        return self.catalog.by_executable(executable)

    def profile_driver_for_label(self, label: str, *, remote: bool = False) -> ProfileDriver:
        """How INDI Web Manager runs the driver it knows by ``label``: a local
        driver that is not multi-device gets the label as its device name
        (``-n "<label>"``).  With ``remote``, ``label`` is ``Device@host[:port]``
        and runs as given."""
        try:
            if remote:
                return ProfileDriver(label)
            info = self.require_driver(label)
            return ProfileDriver(info.executable, None if info.mdpd else label, label)
        except ValueError as exc:
            raise InvalidDriverNameError(str(exc)) from None

    def find_instance(self, label: str) -> DriverInstance | None:
        """The running (or crashed) instance INDI Web Manager's ``label`` means."""
        drivers = self.require_supervisor().drivers()
        for driver in drivers:
            if driver.name == label or (driver.is_remote and driver.executable == label):
                return driver
        for driver in drivers:
            if driver.name is None and driver.label == label:
                return driver
        info = None if "@" in label else self.find_driver(label)
        if info is not None:
            for driver in drivers:
                if driver.executable == info.executable and driver.name is None:
                    if info.mdpd or label in self.devices_of(driver):
                        return driver
        return None

    async def start_driver(
        self, executable: str, name: str | None = None, *, label: str | None = None
    ) -> DriverInstance:
        """Start a driver (a second instance when ``name`` is given) and wait
        until its devices are defined in the mirror.

        A driver that runs the same device already (started by its label
        without a name, or with the name its label gives) is returned, not
        started again: two processes would open the same hardware."""
        supervisor = self.require_running_supervisor()
        device = name or label
        existing = self.find_instance(device) if device and "@" not in device else None
        if existing is not None and existing.running and existing.executable == executable:
            log.info("driver %s runs %s already", existing.describe(), device)
            return existing
        driver = await supervisor.start_driver(executable, name, label=label)
        if not await self._wait_devices([driver], present=True):
            log.warning("driver %s runs but defined no device yet", driver.describe())
        return driver

    async def stop_driver(self, executable: str, name: str | None = None) -> DriverInstance:
        """Stop a driver and wait until its devices are gone from the mirror."""
        supervisor = self.require_supervisor()
        driver = supervisor.get_driver(executable, name)
        if driver is None:
            described = f"{executable} ({name})" if name else executable
            raise DriverNotRunningError(f"driver {described} is not running")
        devices = self.devices_of(driver)
        await supervisor.stop_driver(executable, name, device=devices[0] if devices else None)
        await self._wait_devices((), present=False, gone=devices)
        return driver

    async def restart_driver(self, executable: str, name: str | None = None) -> DriverInstance:
        """Stop the driver if it runs (forget it if it crashed), then start it."""
        supervisor = self.require_supervisor()
        existing = supervisor.get_driver(executable, name)
        label = existing.label if existing is not None else None
        if existing is not None:
            await self.stop_driver(executable, name)
        return await self.start_driver(executable, name, label=label)

    async def start_driver_by_label(self, label: str, *, remote: bool = False) -> DriverInstance:
        """INDI Web Manager's ``/api/drivers/start/<label>`` (``start_remote``
        with ``remote``); a driver that runs under that label already is
        returned, not started twice."""
        self.require_supervisor()
        spec = self.profile_driver_for_label(label, remote=remote)
        existing = self.find_instance(label)
        if existing is not None and existing.running:
            return existing
        return await self.start_driver(spec.executable, spec.name, label=spec.label)

    async def stop_driver_by_label(self, label: str) -> DriverInstance:
        """INDI Web Manager's ``/api/drivers/stop/<label>``."""
        self.require_supervisor()
        driver = self.find_instance(label)
        if driver is None:
            if "@" not in label:
                self.require_driver(label)  # unknown_driver rather than not running
            raise DriverNotRunningError(f"driver {label!r} is not running")
        return await self.stop_driver(driver.executable, driver.name)

    async def restart_driver_by_label(self, label: str) -> DriverInstance:
        """INDI Web Manager's ``/api/drivers/restart/<label>`` (starts it if it
        is not running)."""
        self.require_supervisor()
        driver = self.find_instance(label)
        if driver is None:
            return await self.start_driver_by_label(label)
        return await self.restart_driver(driver.executable, driver.name)

    # ------------------------------------------------------------- profiles

    async def start_server(self) -> None:
        """Start the managed indiserver with no driver (no-op if it runs)."""
        supervisor = self.require_supervisor()
        await supervisor.start()

    async def stop_server(self) -> None:
        """Stop the managed indiserver and every driver."""
        supervisor = self.require_supervisor()
        await supervisor.stop()
        self.active_profile = None

    async def start_profile(
        self, name: str, *, replace: bool = True, wait: bool = True
    ) -> list[DriverInstance]:
        """Start indiserver if needed, then the drivers of profile ``name``;
        assign its roles (connected when their devices appear).

        ``replace`` first stops running drivers that are not in the profile.
        ``wait`` waits until the drivers' devices are in the mirror.  Raises
        :class:`~indiws.manager.ProfileStartError` after starting every
        driver that could start.
        """
        supervisor = self.require_supervisor()
        profile = self.db.require_profile(name)
        if not supervisor.running:
            await supervisor.start()
        listener = self.indi_listener
        if listener is not None and profile.port != listener.port:
            # The embedded indiserver's own port is internal (the service's
            # only); what an operator needs is the port INDI clients use.
            log.info(
                "profile %r names INDI port %d, which is not used: INDI clients "
                "(KStars, indi_getprop) connect to port %d (--embedded-indi-port)",
                profile.name,
                profile.port,
                listener.port,
            )
        if replace:
            wanted = {(d.executable, d.name) for d in profile.drivers}
            for driver in supervisor.running_drivers():
                if driver.key not in wanted:
                    await self.stop_driver(driver.executable, driver.name)
        self.active_profile = profile.name
        self._apply_roles(profile.roles)
        log.info("starting profile %r (%d drivers)", profile.name, len(profile.drivers))
        failure: ProfileStartError | None = None
        try:
            started = await supervisor.start_profile(profile)
        except ProfileStartError as error:
            started, failure = error.started, error
        if profile.auto_connect:
            self._spawn(self._connect_all(started), f"auto-connect {profile.name}")
        if wait:
            await self._wait_devices(started, present=True)
        if failure is not None:
            raise failure
        return started

    def _apply_roles(self, roles: Mapping[str, str]) -> None:
        """The profile's roles become the roles: the others are released
        (roles belong to a profile; docs/manager.md)."""
        for role, device in self.db.get_roles().items():
            if role not in roles:
                log.info("role %s released: the profile does not have it (was %s)", role, device)
                self.db.clear_role(role)
        for role, device in roles.items():
            if self.db.get_role(role) != device:
                log.info("role %s: %s (from the profile)", role, device)
            self.db.set_role(role, device)
        # Devices defined already are connected now; the others when they appear.
        self.roles.restore()

    async def _connect_all(self, drivers: list[DriverInstance]) -> None:
        """Connect every device of ``drivers`` (a profile's auto-connect)."""
        await self._wait_devices(drivers, present=True)
        devices = sorted({name for d in drivers for name in self.devices_of(d)})
        results = await asyncio.gather(
            *(self.roles.connect(device) for device in devices), return_exceptions=True
        )
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, INDIError | TimeoutError):
                log.warning("could not connect %s: %s", device, result)
            elif isinstance(result, BaseException):
                log.error("connecting %s failed: %r", device, result)

    # -------------------------------------------------------- custom drivers

    def add_custom_driver(
        self,
        label: str,
        name: str,
        family: str,
        executable: str,
        version: str = "1.0",
        *,
        operator: bool = False,
    ) -> DriverInfo:
        """A driver known by ``label`` from now on.

        Registering a custom driver decides which program may run, so only the
        operator (``operator=True``: the command line) may name a new program;
        anyone else (INDI Web Manager's ``/api/profiles/custom/add``) may only
        give another label to a program that may run already.
        """
        self.check_label(label)
        for what, value in (("name", name), ("family", family), ("version", version)):
            try:
                if value:
                    check_label(value)
            except ValueError as exc:
                raise InvalidDriverNameError(f"custom driver {what}: {exc}") from None
        check_driver_executable(executable)
        if not operator and executable not in self.allowed_executables():
            raise DriverNotAllowedError(
                f"custom driver {label!r}: executable {executable!r} is not in INDI's driver "
                "catalog; over HTTP a custom driver can only give another label to a catalog "
                "driver. The operator adds a new driver program when starting the service: "
                f"--custom-driver '{label}={executable}'"
            )
        info = DriverInfo(
            label=label,
            executable=executable,
            name=name or label,
            group=family or "Custom",
            version=version or "1.0",
        )
        self.custom_drivers[label] = info
        return info
