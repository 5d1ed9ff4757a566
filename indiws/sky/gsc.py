"""``gsc``: the Guide Star Catalog's command-line look-up, answered from the
synthetic catalogue, for the CCD simulator.

The simulator runs ``gsc -c RA DEC -r RADIUS_ARCMIN -m MAG_MIN MAG_MAX -n
COUNT`` through the shell and reads twelve whitespace-separated fields a
line: ``id ra dec pos_err mag mag_err band class plate origin dist dir``
(RA/Dec J2000 degrees, ``dist`` arcminutes from the centre).  Run it as
``python -m indiws.sky.gsc``; :func:`install_gsc` writes a tiny ``gsc``
shell wrapper that does so, and :func:`sky_env` puts its folder first on
the ``PATH`` given to indiserver (its drivers inherit it).
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .catalog import MAG_LIMIT, cone

__all__ = ["install_gsc", "main", "parse_args", "sky_env"]

USAGE = "usage: gsc -c RA_DEG DEC_DEG -r RADIUS_ARCMIN [-m MAG_MIN MAG_MAX] [-n COUNT]"


def parse_args(argv: Sequence[str]) -> dict[str, float]:
    """gsc's options as numbers; ValueError naming what was wrong."""
    out: dict[str, float] = {"mag_min": -5.0, "mag_max": MAG_LIMIT, "count": 3000}
    wants = {"-c": ("ra", "dec"), "-r": ("radius",), "-m": ("mag_min", "mag_max"), "-n": ("count",)}
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag not in wants:
            raise ValueError(f"unknown option {flag!r}")
        names = wants[flag]
        values = argv[i + 1 : i + 1 + len(names)]
        if len(values) < len(names):
            raise ValueError(f"{flag} needs {len(names)} value(s)")
        for name, text in zip(names, values, strict=True):
            try:
                out[name] = float(text)
            except ValueError:
                raise ValueError(f"{flag}: {text!r} is not a number") from None
            if not math.isfinite(out[name]):
                raise ValueError(f"{flag}: {text!r} is not a finite number")
        i += 1 + len(names)
    if "ra" not in out or "radius" not in out:
        raise ValueError("-c RA DEC and -r RADIUS are required")
    return out


def lines(args: Mapping[str, float]) -> list[str]:
    """The output lines for parsed options, brightest star first."""
    radius = min(max(args["radius"], 0.01), 1800.0) / 60.0
    stars, dist = cone(
        args["ra"],
        args["dec"],
        radius,
        mag_min=args["mag_min"],
        mag_max=args["mag_max"],
        limit=max(0, int(args["count"])),
    )
    return [
        f"{sid:010d} {ra:10.6f} {dec:+10.6f}  0.2 {mag:5.2f} 0.20 0 0 SYNT SY {d * 60:7.2f} 0"
        for sid, ra, dec, mag, d in zip(
            stars.ids, stars.ra, stars.dec, stars.mag, dist, strict=True
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        out = lines(args)
    except ValueError as exc:
        print(f"gsc: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0


def install_gsc(bin_dir: Path, python: str | None = None) -> Path:
    """Write the ``gsc`` wrapper into ``bin_dir`` (made if needed); returns its path.

    A shell script rather than a package data file: data files may lose their
    exec bit on install, and the wrapper must run this very interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "gsc"
    python = python or sys.executable
    root = Path(__file__).resolve().parents[2]  # where the indiws package is
    # -S: no site-packages (the catalogue is plain Python); starting in tens
    # of milliseconds matters, the simulator waits for it before exposing.
    text = (
        "#!/bin/sh\n"
        "# Star look-up for the INDI CCD simulator, from indiws' synthetic sky.\n"
        f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}} "
        f'exec {shlex.quote(python)} -S -m indiws.sky.gsc "$@"\n'
    )
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(path)
    return path


def sky_env(bin_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` with ``gsc`` installed in ``bin_dir`` and that folder first on PATH."""
    install_gsc(bin_dir)
    out = dict(env or {})
    path = out.get("PATH", os.environ.get("PATH", os.defpath))
    out["PATH"] = os.pathsep.join([str(bin_dir), path])
    return out


if __name__ == "__main__":
    sys.exit(main())
