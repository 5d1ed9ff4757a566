"""How fast each TELESCOPE_SLEW_RATE switch of the telescope simulator moves
the mount, measured: the figures behind `MEASURED_SLEW_RATES` (INDI says
nothing of a switch's speed) and so behind Alpaca's AxisRates.

An indiserver of its own runs `indi_simulator_telescope`; the mount tracks at
Dec 20°; for each switch and each direction (east, west, north, south) a
manual move (TELESCOPE_MOTION_WE/NS) runs for SECONDS after a settling second,
and the change of RA (× 15: the turn of the RA axis, in degrees) or Dec over
that time is printed in degrees per second, with the table's figure beside it.
The last line is one JSON object with the figures.

    .venv/bin/python bench/slew_rates.py               # 3 s per move
    .venv/bin/python bench/slew_rates.py --seconds 1   # quicker
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from indiws.devices.telescope import DIRECTIONS, MEASURED_SLEW_RATES
from indiws.testing import IndiServerProcess

DEVICE = "Telescope Simulator"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slew-rates-") as tmp:
        with IndiServerProcess(["indi_simulator_telescope"], workdir=tmp) as server:
            return run(server.port, args.seconds)


def run(port: int, seconds: float) -> int:
    def setp(setting: str) -> None:
        subprocess.run(["indi_setprop", "-p", str(port), f"{DEVICE}.{setting}"], check=True)

    def getp(prop: str) -> dict[str, str]:
        out = subprocess.run(
            ["indi_getprop", "-p", str(port), "-1", f"{DEVICE}.{prop}.*"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {
            line.split("=", 1)[0].rsplit(".", 1)[1]: line.split("=", 1)[1]
            for line in out.splitlines()
            if "=" in line
        }

    def coords() -> tuple[float, float]:
        values = getp("EQUATORIAL_EOD_COORD")
        return float(values["RA"]) * 15, float(values["DEC"])

    setp("CONNECTION.CONNECT=On")
    time.sleep(2)
    setp("TELESCOPE_TRACK_STATE.TRACK_ON=On")
    setp("ON_COORD_SET.TRACK=On")
    ra = float(getp("EQUATORIAL_EOD_COORD")["RA"])
    setp(f"EQUATORIAL_EOD_COORD.RA;DEC={ra};20")
    time.sleep(10)
    table = MEASURED_SLEW_RATES["indi_simulator_telescope"]
    figures: dict[str, dict[str, float]] = {}
    print(f"{'switch':8}{'direction':>10}{'deg/s':>10}{'table':>10}")
    for switch in getp("TELESCOPE_SLEW_RATE"):
        setp(f"TELESCOPE_SLEW_RATE.{switch}=On")
        figures[switch] = {}
        for direction in ("east", "west", "north", "south"):
            prop, element, _, _ = DIRECTIONS[direction]
            axis = 0 if prop.endswith("WE") else 1
            setp(f"{prop}.{element}=On")
            time.sleep(1.0)
            before, t0 = coords()[axis], time.monotonic()
            time.sleep(seconds)
            after, t1 = coords()[axis], time.monotonic()
            setp(f"{prop}.{element}=Off")
            time.sleep(1.0)
            rate = (after - before) / (t1 - t0)
            figures[switch][direction] = round(rate, 5)
            listed = table.get(switch, float("nan"))
            print(f"{switch:8}{direction:>10}{rate:>+10.4f}{listed:>10.4g}")
    print(json.dumps({"seconds": seconds, "deg_per_s": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
