"""Command-line entry point (placeholder until the service is wired in)."""

from __future__ import annotations

import argparse

from indiws import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="indiws",
        description="Serve INDI devices over HTTP and WebSocket.",
    )
    parser.add_argument("--version", action="version", version=f"indiws {__version__}")
    parser.parse_args(argv)
    print(f"indiws {__version__}: the service is not wired in yet.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
