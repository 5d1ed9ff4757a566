"""``indiws``: serve INDI devices over HTTP and WebSocket."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from . import __version__
from .service import Config, Service, default_data_dir

log = logging.getLogger("indiws")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indiws",
        description="Serve INDI devices (telescopes, cameras, focusers, filter wheels, ...) "
        "over HTTP and WebSocket.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"indiws {__version__}")
    parser.add_argument(
        "--indi-host",
        default="localhost",
        help="host of the indiserver to connect to",
    )
    parser.add_argument("--indi-port", type=int, default=7624, help="port of that indiserver")
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
        help="seconds between status notifications on /ws/indi_client/",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an extra origin allowed to open WebSockets (repeatable; '*' for any)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        indi_host=args.indi_host,
        indi_port=args.indi_port,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        status_interval=args.status_interval,
        allowed_origins=tuple(args.allow_origin),
    )


async def serve(config: Config) -> None:
    from .web.app import make_app

    service = Service(config)
    await service.start()
    app = make_app(service)
    try:
        server = app.listen(config.port, config.host, max_body_size=256 << 20)
    except OSError as exc:
        await service.stop()
        raise SystemExit(f"indiws: cannot listen on {config.host}:{config.port}: {exc}") from None
    log.info("indiws %s listening on http://%s:%d/", __version__, config.host, config.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        server.stop()
        await service.stop()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(config_from_args(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
