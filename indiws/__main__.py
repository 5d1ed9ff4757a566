"""``indiws``: serve INDI devices over HTTP and WebSocket."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from . import __version__
from .analysis import worker as analysis_worker
from .blobs import DEFAULT_PATTERN, BlobStore
from .db import ProfileNotFoundError, StateDBError
from .frame_store import FrameIndexError
from .manager import DriverError, IndiServerError
from .manager.catalog import DEFAULT_INDI_DATA_DIR
from .manager.server import DEFAULT_INDI_PORT, check_driver_executable
from .remote.plan import check_notify_url
from .safety import ACTIONS, DEFAULT_ACTIONS, SafetyConfig, parse_actions
from .security import TOKEN_ENV, TokenFileError, access_options_error, normalize_origin
from .service import Config, Service, default_data_dir

log = logging.getLogger("indiws")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indiws",
        description="Serve INDI devices (telescopes, cameras, focusers, filter wheels, ...) "
        "over HTTP and WebSocket.",
        epilog="To run an imaging plan through a service: indiws run PLAN (indiws run --help).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"indiws {__version__}")
    indi = parser.add_argument_group(
        "INDI server",
        "With no --indi-host/--indi-port, indiws runs its own indiserver (embedded mode) and "
        "starts the auto-start profile (a new data directory has the simulators). With "
        "either option it only connects to that indiserver.",
    )
    indi.add_argument(
        "--indi-host",
        default=None,
        help="host of an indiserver to connect to (default: run our own; with only "
        "--indi-port: localhost)",
    )
    indi.add_argument(
        "--indi-port",
        type=int,
        default=None,
        help=f"port of that indiserver (default with --indi-host: {DEFAULT_INDI_PORT})",
    )
    indi.add_argument(
        "--embedded-indi-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"the INDI port INDI clients (KStars, indi_getprop) use in embedded mode "
        f"(default: {DEFAULT_INDI_PORT} when free, else a free port); served by indiws, "
        "filtered (no HTTP, writes that move hardware refused while unsafe); indiserver "
        "itself listens on an internal port that admits indiws only",
    )
    indi.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="profile the embedded indiserver starts (default: the auto-start profile)",
    )
    indi.add_argument(
        "--indiserver",
        default="indiserver",
        metavar="PATH",
        help="indiserver executable of the embedded mode",
    )
    indi.add_argument(
        "--embedded-indi-lan",
        action="store_true",
        help="open the INDI port to other hosts (INDI clients such as KStars elsewhere); it "
        "has no authentication. Default: this machine only",
    )
    indi.add_argument(
        "--no-indi-port",
        action="store_true",
        help="offer no INDI port to INDI clients: only indiws reaches the embedded indiserver",
    )
    indi.add_argument(
        "--custom-driver",
        action="append",
        default=[],
        metavar="LABEL=EXECUTABLE",
        help="a driver INDI's catalog lacks that may be started, by label (repeatable); "
        "EXECUTABLE is a program name on PATH",
    )
    indi.add_argument(
        "--indi-data-dir",
        type=Path,
        default=DEFAULT_INDI_DATA_DIR,
        metavar="DIR",
        help="folder of INDI's driver catalog drivers.xml (or $INDI_DATA_DIR)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the service listens on")
    parser.add_argument("--port", type=int, default=7999, help="HTTP/WebSocket port")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="folder for the state database (roles, profiles) and frames",
    )
    parser.add_argument(
        "--status-interval",
        type=float,
        default=2.0,
        help="seconds between status notifications on /ws/indi_client/ (0: none)",
    )
    frames = parser.add_argument_group(
        "camera frames",
        "Every frame is written to the frames folder and indexed, before it is announced; "
        "memory keeps a small cache. Served at /blobs/<id> (docs/frames.md).",
    )
    frames.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="frames kept in memory (None: 8 as a cache; 100 with --frames-dir none)",
    )
    frames.add_argument(
        "--max-frame-bytes",
        type=float,
        default=None,
        metavar="MB",
        help="memory for the frames kept, in MB (None: 256; 1024 with --frames-dir none; "
        "the newest frame is kept even if larger)",
    )
    frames.add_argument(
        "--frames-dir",
        default=None,
        metavar="DIR",
        help="folder every frame is written to (None: DATA_DIR/frames); 'none': keep "
        "frames in memory only (lost at exit, the oldest dropped past --max-frames)",
    )
    frames.add_argument(
        "--frames-min-free",
        type=float,
        default=200.0,
        metavar="MB",
        help="space that must stay free in the frames folder beside a new frame; an exposure "
        "that would pass it fails at once with disk_full",
    )
    frames.add_argument(
        "--frames-keep-days",
        type=float,
        default=None,
        metavar="DAYS",
        help="delete frames older than this (None: keep every frame)",
    )
    frames.add_argument(
        "--frames-keep-gb",
        type=float,
        default=None,
        metavar="GB",
        help="delete the oldest frames past this many GB of frames (None: keep every frame)",
    )
    frames.add_argument(
        "--journal-keep-days",
        type=float,
        default=365.0,
        metavar="DAYS",
        help="the exposure journal (GET /exposures) forgets finished entries older than this "
        "(0: keep all)",
    )
    frames.add_argument(
        "--journal-keep-entries",
        type=int,
        default=100_000,
        metavar="N",
        help="the exposure journal keeps at most the newest N finished entries (0: keep all)",
    )
    frames.add_argument(
        "--sky-index-keep-days",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="delete the synthetic sky's index tiles (DATA_DIR/sky/index, rebuilt on demand) "
        "unused for this long (0: keep all)",
    )
    frames.add_argument(
        "--sky-index-keep-gb",
        type=float,
        default=2.0,
        metavar="GB",
        help="delete the least recently used sky index tiles past this many GB (0: no bound)",
    )
    frames.add_argument(
        "--frames-pattern",
        default=DEFAULT_PATTERN,
        metavar="PATTERN",
        help="file name of a written frame; fields: night, date, object, filter, frame_type, "
        "exposure, timestamp, seq, id, device, ext, and any metadata key ('/' makes "
        "subfolders; docs/frames.md)",
    )
    access = parser.add_argument_group("access (docs/security.md)")
    access.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="origin of web pages served elsewhere that may act through the service "
        "(state-changing requests, WebSockets), e.g. http://localhost:8080 (repeatable; "
        "'*' for any web site, unsafe)",
    )
    access.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the service is reached by, besides localhost, IP addresses and "
        "this machine's name (repeatable; e.g. a DNS alias or a reverse proxy's name)",
    )
    access.add_argument(
        "--token",
        default=None,  # $INDIWS_TOKEN is read later: --help must not show it
        help=f"access token every request must carry (or ${TOKEN_ENV}); default with "
        "--host beyond loopback: one made on first start, kept in the data directory",
    )
    access.add_argument(
        "--require-token",
        action="store_true",
        help="require the token even when listening on loopback only",
    )
    safety = parser.add_argument_group(
        "safety policy (docs/devices.md)",
        "Close up when the weather role turns unsafe, its device goes or falls silent, "
        "or indiserver was lost; refuse unpark, goto and open meanwhile unless forced.",
    )
    safety.add_argument(
        "--no-safety", action="store_true", help="no safety policy: watch nothing, close nothing"
    )
    safety.add_argument(
        "--safety-actions",
        type=_safety_actions,
        default=DEFAULT_ACTIONS,
        metavar="LIST",
        help=f"close-up actions, comma-separated, from {', '.join(ACTIONS)} ('none': "
        f"announce only; default {','.join(DEFAULT_ACTIONS)})",
    )
    safety.add_argument(
        "--safety-weather-stale",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds without a weather reading before it counts as unsafe",
    )
    safety.add_argument(
        "--safety-indiserver-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="seconds without indiserver after which the close-up runs once it is back",
    )
    safety.add_argument(
        "--min-altitude",
        type=_min_altitude,
        default=0.0,
        metavar="DEG",
        help="refuse goto targets below this altitude, on every path, unless the call "
        "forces it ('none': no limit)",
    )
    phd2 = parser.add_argument_group(
        "PHD2 protocol (docs/phd2.md)",
        "The built-in autoguider speaks PHD2's event-server protocol, so N.I.N.A., Ekos and "
        "other PHD2 clients guide through it. The protocol has no authentication.",
    )
    phd2.add_argument(
        "--phd2-port",
        type=int,
        default=4400,
        metavar="PORT",
        help="port of the PHD2 protocol (0: do not serve it)",
    )
    phd2.add_argument(
        "--phd2-host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the PHD2 protocol listens on; beyond loopback (e.g. 0.0.0.0) anyone "
        "on the network can guide and move the mount, unauthenticated",
    )
    alpaca = parser.add_argument_group(
        "ASCOM Alpaca (docs/alpaca.md)",
        "Every role as an Alpaca device, for N.I.N.A., SharpCap and other ASCOM programs. "
        "Alpaca clients cannot send the access token: anyone who reaches the Alpaca port can "
        "move the hardware.",
    )
    alpaca.add_argument(
        "--alpaca-port",
        type=int,
        default=11111,
        metavar="PORT",
        help="HTTP port of the Alpaca devices (0: do not serve them)",
    )
    alpaca.add_argument(
        "--alpaca-discovery-port",
        type=int,
        default=32227,
        metavar="PORT",
        help="UDP port answering Alpaca discovery (0: do not answer)",
    )
    alpaca.add_argument(
        "--alpaca-host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the Alpaca devices and discovery listen on; beyond loopback (e.g. "
        "0.0.0.0, for N.I.N.A. on another PC) anyone on the network can move the hardware, "
        "unauthenticated",
    )
    parser.add_argument(
        "--notify-url",
        action="append",
        default=[],
        type=_notify_url,
        metavar="URL",
        help="POST a JSON notification of every plan's main events (started, finished, "
        "failed, target skipped, frame failed, meridian flip) to URL; repeatable "
        "(docs/sequences.md)",
    )
    parser.add_argument(
        "--ui",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve another front end's built files (DIR with its index.html) at / ; the "
        "control panel then stays at /panel/",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    embedded = args.indi_host is None and args.indi_port is None
    return Config(
        indi_host=None if embedded else (args.indi_host or "localhost"),
        indi_port=DEFAULT_INDI_PORT if args.indi_port is None else args.indi_port,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        status_interval=args.status_interval,
        allowed_origins=tuple(
            o if o in ("*", "null") else (normalize_origin(o) or o) for o in args.allow_origin
        ),
        allowed_hosts=tuple(args.allow_host),
        token=args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None),
        require_token=args.require_token,
        embedded_indi_port=args.embedded_indi_port,
        profile=args.profile,
        indiserver=args.indiserver,
        indi_data_dir=args.indi_data_dir,
        blob_max_count=args.max_frames,
        blob_max_bytes=None
        if args.max_frame_bytes is None
        else max(1, int(args.max_frame_bytes * 1024 * 1024)),
        frames_dir=None if _memory_only(args.frames_dir) else _path(args.frames_dir),
        frames_on_disk=not _memory_only(args.frames_dir),
        frames_pattern=args.frames_pattern,
        frames_min_free=int(args.frames_min_free * 1024 * 1024),
        frames_keep_days=args.frames_keep_days,
        frames_keep_bytes=None
        if args.frames_keep_gb is None
        else max(1, int(args.frames_keep_gb * 1024**3)),
        journal_keep_days=args.journal_keep_days or None,
        journal_keep_entries=args.journal_keep_entries or None,
        sky_index_keep_days=args.sky_index_keep_days or None,
        sky_index_keep_bytes=int(args.sky_index_keep_gb * 1024**3) or None,
        custom_drivers=tuple(_custom_driver(v) for v in args.custom_driver),
        embedded_indi_lan=args.embedded_indi_lan,
        indi_listener=not args.no_indi_port,
        ui_dir=args.ui,
        notify_urls=tuple(args.notify_url),
        phd2_port=args.phd2_port or None,
        phd2_host=args.phd2_host,
        alpaca_port=args.alpaca_port or None,
        alpaca_discovery_port=args.alpaca_discovery_port or None,
        alpaca_host=args.alpaca_host,
        min_altitude=args.min_altitude,
        safety=SafetyConfig(
            enabled=not args.no_safety,
            actions=args.safety_actions,
            weather_stale=args.safety_weather_stale,
            indiserver_timeout=args.safety_indiserver_timeout,
        ),
    )


def _notify_url(value: str) -> str:
    problem = check_notify_url(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _min_altitude(value: str) -> float | None:
    if value.strip().lower() == "none":
        return None
    try:
        degrees = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of degrees: {value!r}") from None
    if not -90.0 <= degrees <= 90.0:  # refuses NaN too
        raise argparse.ArgumentTypeError(f"must be from -90 to 90 degrees, not {value}")
    return degrees


def _safety_actions(value: str) -> tuple[str, ...]:
    try:
        return parse_actions(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _memory_only(frames_dir: str | None) -> bool:
    return frames_dir is not None and frames_dir.strip().lower() == "none"


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _custom_driver(value: str) -> tuple[str, str]:
    label, _, executable = value.rpartition("=")
    return label.strip(), executable.strip()


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    external = args.indi_host is not None or args.indi_port is not None
    if external:
        for option, value in (
            ("--embedded-indi-port", args.embedded_indi_port),
            ("--profile", args.profile),
        ):
            if value is not None:
                parser.error(
                    f"{option} is for the embedded indiserver; it cannot be used with "
                    "--indi-host/--indi-port, which connect to an indiserver run elsewhere"
                )
    for option, port in (
        ("--indi-port", args.indi_port),
        ("--embedded-indi-port", args.embedded_indi_port),
        ("--port", args.port),
    ):
        if port is not None and not 1 <= port <= 65535:
            parser.error(f"{option} must be from 1 to 65535, not {port}")
    for option, port in (
        ("--phd2-port", args.phd2_port),
        ("--alpaca-port", args.alpaca_port),
        ("--alpaca-discovery-port", args.alpaca_discovery_port),
    ):
        if not 0 <= port <= 65535:
            parser.error(f"{option} must be from 1 to 65535 (0: off), not {port}")
    if args.token is None:
        args.token = os.environ.get(TOKEN_ENV) or None
    if problem := access_options_error(args.allow_origin, args.allow_host, args.token):
        parser.error(problem)
    for option, value in (
        ("--safety-weather-stale", args.safety_weather_stale),
        ("--safety-indiserver-timeout", args.safety_indiserver_timeout),
    ):
        if not value > 0:  # refuses NaN too
            parser.error(f"{option} must be a positive number of seconds, not {value}")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error(f"--max-frames must be at least 1, not {args.max_frames}")
    if args.max_frame_bytes is not None and not args.max_frame_bytes > 0:
        parser.error(
            f"--max-frame-bytes must be a positive number of MB, not {args.max_frame_bytes}"
        )
    if args.ui is not None and not (args.ui / "index.html").is_file():
        parser.error(f"--ui {args.ui}: give a folder that holds the front end's index.html")
    if not args.frames_min_free >= 0:
        parser.error(f"--frames-min-free must be 0 MB or more, not {args.frames_min_free}")
    for option, value in (
        ("--frames-keep-days", args.frames_keep_days),
        ("--frames-keep-gb", args.frames_keep_gb),
    ):
        if value is not None and not value > 0:
            parser.error(f"{option} must be a positive number, not {value}")
    for option, value in (
        ("--journal-keep-days", args.journal_keep_days),
        ("--journal-keep-entries", args.journal_keep_entries),
        ("--sky-index-keep-days", args.sky_index_keep_days),
        ("--sky-index-keep-gb", args.sky_index_keep_gb),
    ):
        if not value >= 0:
            parser.error(f"{option} must be 0 (no bound) or a positive number, not {value}")
    try:
        BlobStore(pattern=args.frames_pattern)
    except ValueError as exc:
        parser.error(f"--frames-pattern: {exc}")
    for value in args.custom_driver:
        label, executable = _custom_driver(value)
        try:
            Service.check_label(label)
            check_driver_executable(executable)
        except (ValueError, DriverError) as exc:
            parser.error(f"--custom-driver {value!r}: give LABEL=EXECUTABLE ({exc})")


async def serve(config: Config) -> None:
    from .alpaca.server import AlpacaServer
    from .web.app import make_app, server_options
    from .web.gate import access_notes
    from .web.phd2 import PHD2Server
    from .web.server import raise_file_limit
    from .web.state import state_of

    # systemd gives services 1024 open files: too few under a connection flood.
    raise_file_limit()
    try:
        service = Service(config)
    except (StateDBError, TokenFileError, FrameIndexError) as exc:
        _setup_exit(exc)
    app = make_app(service)
    try:
        server = app.listen(config.port, config.host, **server_options(config))
    except OSError as exc:
        await service.stop()
        raise SystemExit(f"indiws: cannot listen on {config.host}:{config.port}: {exc}") from None
    phd2: PHD2Server | None = None
    alpaca: AlpacaServer | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if config.alpaca_port is not None:
            # Listening from the start, like the HTTP server: members answer
            # NotConnected until the devices are there.
            alpaca = AlpacaServer(
                service, config.alpaca_host, config.alpaca_port, config.alpaca_discovery_port
            )
            await alpaca.start()
        try:
            await service.start()
        except (IndiServerError, ProfileNotFoundError) as exc:
            raise SystemExit(f"indiws: cannot start: {exc}") from None
        except StateDBError as exc:
            _setup_exit(exc)
        log.info("indiws %s listening on http://%s:%d/", __version__, config.host, config.port)
        for level, note in access_notes(service):
            log.log(level, "%s", note)
        if config.phd2_port is not None:
            # A busy port is a warning: the rest of the service runs on.
            phd2 = PHD2Server(service, config.phd2_host, config.phd2_port)
            await phd2.start()
        await stop.wait()
    finally:
        log.info("stopping")
        server.stop()
        state_of(app).close()
        if phd2 is not None:
            await phd2.stop()
        if alpaca is not None:
            await alpaca.stop()
        await service.stop()
        await asyncio.to_thread(analysis_worker.stop_processes)
        log.info("stopped")


def _setup_exit(exc: Exception) -> NoReturn:
    """A state or token file that cannot be used is a set-up problem, like a
    bad option: one line naming the file and what to do, exit status 2."""
    print(f"indiws: {exc}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # `indiws run PLAN`: the plan runner, a client of a service
        from .remote.cli import main as run_plan

        return run_plan(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(config_from_args(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
