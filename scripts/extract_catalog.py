"""Extract the plan runner's object catalogue from OpenNGC (as shipped by ``pyongc``).

Writes ``indiws/remote/data/catalog.csv``: every Messier and Caldwell object and
every NGC/IC object brighter than magnitude 12 (V, else B), with J2000 RA
(hours), Dec (degrees) and the names a plan may use (M31, NGC224, NGC 224,
C14, common names).  Run it again to refresh the file from a newer OpenNGC:

    pip install pyongc && python scripts/extract_catalog.py

OpenNGC (https://github.com/mattiaverga/OpenNGC) by Mattia Verga is licensed
CC-BY-SA-4.0; the extract carries that attribution and licence in its header.
"""

from __future__ import annotations

import csv
import math
import sqlite3
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "indiws" / "remote" / "data" / "catalog.csv"
MAG_LIMIT = 12.0


def _db_path() -> Path:
    try:
        import pyongc
    except ImportError:
        sys.exit("pyongc is needed: pip install pyongc")
    return Path(pyongc.__file__).parent / "ongc.db"


def _catalogue_names(name: str) -> list[str]:
    """NGC0224 -> NGC224, NGC 224 (the padded form is kept too)."""
    for prefix in ("NGC", "IC"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            number = str(int(name[len(prefix) :]))
            return [name, f"{prefix}{number}", f"{prefix} {number}"]
    return [name]


def main() -> None:
    db = sqlite3.connect(_db_path())
    version = __import__("pyongc").__version__
    caldwell: dict[str, str] = {}
    for obj, ident in db.execute(
        "SELECT name, identifier FROM objIdentifiers WHERE identifier GLOB 'C[0-9][0-9][0-9]'"
    ):
        caldwell[obj] = f"C{int(ident[1:])}"
    rows = []
    for name, kind, ra, dec, messier, common, vmag, bmag in db.execute(
        "SELECT name, type, ra, dec, messier, commonnames, vmag, bmag FROM objects"
        " WHERE ra IS NOT NULL AND type NOT IN ('Dup', 'NonEx') ORDER BY name"
    ):
        mag = vmag if vmag is not None else bmag
        bright = mag is not None and mag < MAG_LIMIT and name.startswith(("NGC", "IC"))
        if not (messier or name in caldwell or bright):
            continue
        names = []
        if messier:
            names.append(f"M{int(messier)}")
        if name in caldwell:
            names.append(caldwell[name])
        names += _catalogue_names(name)
        names += [c.strip() for c in (common or "").split(",") if c.strip()]
        rows.append(
            [
                "|".join(dict.fromkeys(names)),
                kind,
                f"{math.degrees(ra) / 15:.6f}",
                f"{math.degrees(dec):.5f}",
                "" if mag is None else f"{mag:.2f}",
            ]
        )
    with OUT.open("w", newline="", encoding="utf-8") as f:
        f.write(
            f"# Extract of OpenNGC (pyongc {version}): Messier, Caldwell and NGC/IC objects"
            f" brighter than mag {MAG_LIMIT:g}.\n"
            "# Source: OpenNGC by Mattia Verga, https://github.com/mattiaverga/OpenNGC\n"
            "# Licence: CC-BY-SA-4.0 (https://creativecommons.org/licenses/by-sa/4.0/);"
            " made by scripts/extract_catalog.py\n"
            "# Coordinates J2000: ra in hours, dec in degrees.\n"
        )
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["names", "type", "ra", "dec", "mag"])
        writer.writerows(rows)
    print(f"{len(rows)} objects written to {OUT}")


if __name__ == "__main__":
    main()
