"""Deep-sky objects by name, offline: Messier, Caldwell and NGC/IC brighter
than magnitude 12, J2000.

The data is an extract of OpenNGC by Mattia Verga
(https://github.com/mattiaverga/OpenNGC, CC-BY-SA-4.0), made by
``scripts/extract_catalog.py`` from the copy ``pyongc`` ships; the licence
and source are in the header of ``data/catalog.csv``.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["CatalogObject", "lookup"]


@dataclass(frozen=True, slots=True)
class CatalogObject:
    name: str  # the first name (M31, C14, NGC7000)
    names: tuple[str, ...]
    kind: str  # OpenNGC's type: G, OCl, GCl, PN, Cl+N, ...
    ra: float  # hours, J2000
    dec: float  # degrees, J2000
    mag: float | None


def _key(name: str) -> str:
    """M 31, m31, M031, NGC 0224, ngc224 -> the same key."""
    text = re.sub(r"[\s_]+", "", name.strip().upper())
    m = re.fullmatch(r"(M|C|NGC|IC)0*(\d+)([A-Z]?)", text)
    if m:
        return f"{m.group(1)}{int(m.group(2))}{m.group(3)}"
    return text


@functools.cache
def _index() -> dict[str, CatalogObject]:
    index: dict[str, CatalogObject] = {}
    with resources.files(__package__).joinpath("data/catalog.csv").open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        for row in rows:
            names = tuple(row["names"].split("|"))
            obj = CatalogObject(
                names[0],
                names,
                row["type"],
                float(row["ra"]),
                float(row["dec"]),
                float(row["mag"]) if row["mag"] else None,
            )
            for name in names:
                index.setdefault(_key(name), obj)
    return index


def lookup(name: str) -> CatalogObject | None:
    """The object called ``name`` (M31, NGC 224, C14, "Orion Nebula"), or None."""
    return _index().get(_key(name))
