"""The catalog of installed INDI drivers, read from INDI's ``drivers.xml``.

INDI installs ``drivers.xml`` (Debian: ``/usr/share/indi/drivers.xml``) and
third-party driver packages add their own ``*.xml`` in the same folder, all in
this shape::

    <driversList>
      <devGroup group="CCDs">
        <device label="CCD Simulator" manufacturer="Simulator" mdpd="true">
          <driver name="CCD Simulator">indi_simulator_ccd</driver>
          <version>1.0</version>
        </device>
      </devGroup>
    </driversList>

The same folder also holds driver *skeleton* files (``*_sk.xml``, root
``<INDIDriver>``); those, and any other XML with another root element, are not
catalogs and are skipped quietly.  A catalog file that does not parse, or an
entry that lacks its label or executable, is skipped with a warning: one broken
third-party file must not hide every other driver.

This mirrors INDI Web Manager's driver collection; :meth:`DriverInfo.to_indiweb_dict`
gives its JSON form so that its HTTP API can be served as is.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_INDI_DATA_DIR",
    "DriverCatalog",
    "DriverInfo",
]

log = logging.getLogger(__name__)

#: Where Debian's ``indi-bin`` installs ``drivers.xml``; ``INDI_DATA_DIR`` overrides it.
DEFAULT_INDI_DATA_DIR = Path(os.environ.get("INDI_DATA_DIR", "/usr/share/indi"))


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """One catalog entry: a device model and the driver that runs it.

    Several entries may share one executable (``indi_lx200gps`` serves the
    "LX200 GPS", "LX90", "ETX125" ... entries).
    """

    label: str
    """What users pick the driver by, e.g. "CCD Simulator"; unique in practice."""
    executable: str
    """The driver binary, e.g. ``indi_simulator_ccd``."""
    name: str
    """The ``name`` attribute of ``<driver>`` (INDI's driver name)."""
    group: str
    """Device family, e.g. "Telescopes", "CCDs", "Focusers", "Filter Wheels"."""
    version: str = "0.0"
    manufacturer: str = ""
    skeleton: Path | None = None
    """Skeleton file for drivers that need one (``skel`` attribute)."""
    mdpd: bool = False
    """Multiple devices per driver: one process defines several devices."""
    source: Path | None = None
    """The XML file the entry came from."""

    @property
    def family(self) -> str:
        """INDI Web Manager's name for :attr:`group`."""
        return self.group

    @property
    def binary(self) -> str:
        """INDI Web Manager's name for :attr:`executable`."""
        return self.executable

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "executable": self.executable,
            "name": self.name,
            "group": self.group,
            "version": self.version,
            "manufacturer": self.manufacturer,
            "skeleton": str(self.skeleton) if self.skeleton else None,
            "mdpd": self.mdpd,
        }

    def to_indiweb_dict(self) -> dict[str, object]:
        """The driver as INDI Web Manager's ``GET /api/drivers`` lists it.

        Same keys and meanings as its ``DeviceDriver`` object: ``name`` is the
        driver name, ``binary`` the executable, ``family`` the group,
        ``skeleton`` the skeleton path or null; ``custom``, ``rule`` and
        ``role`` are always false / null / "" here (no custom drivers or
        start-up scripts).
        """
        return {
            "name": self.name,
            "label": self.label,
            "skeleton": str(self.skeleton) if self.skeleton else None,
            "version": self.version,
            "binary": self.executable,
            "family": self.group,
            "mdpd": self.mdpd,
            "custom": False,
            "rule": None,
            "role": "",
        }


class DriverCatalog:
    """Every driver listed by the catalog files found at ``paths``.

    Each path is a folder (every ``*.xml`` in it is read, skeletons skipped)
    or one XML file.  Entries are sorted by label; when two files list the same
    label, the first one read wins (``drivers.xml`` is read first).
    """

    def __init__(self, paths: Iterable[str | Path] | str | Path = DEFAULT_INDI_DATA_DIR) -> None:
        if isinstance(paths, str | Path):
            paths = [paths]
        self.paths: list[Path] = [Path(p) for p in paths]
        self.files: list[Path] = []
        self._drivers: list[DriverInfo] = []
        self._by_label: dict[str, DriverInfo] = {}
        self.reload()

    # ------------------------------------------------------------- building

    def reload(self) -> None:
        """Read the catalog files again (after drivers were installed)."""
        drivers: list[DriverInfo] = []
        files: list[Path] = []
        for path in self.paths:
            for file in _catalog_files(path):
                entries = parse_catalog_file(file)
                if entries is not None:
                    files.append(file)
                    drivers.extend(entries)
        by_label: dict[str, DriverInfo] = {}
        for driver in drivers:
            if driver.label in by_label:
                log.debug("driver label %r listed twice; keeping the first", driver.label)
                continue
            by_label[driver.label] = driver
        self.files = files
        self._by_label = by_label
        self._drivers = sorted(by_label.values(), key=lambda d: d.label.casefold())
        log.debug("driver catalog: %d drivers from %d files", len(self._drivers), len(files))

    # -------------------------------------------------------------- queries

    @property
    def drivers(self) -> list[DriverInfo]:
        """All entries, sorted by label."""
        return list(self._drivers)

    def __iter__(self) -> Iterator[DriverInfo]:
        return iter(self._drivers)

    def __len__(self) -> int:
        return len(self._drivers)

    def __contains__(self, label: object) -> bool:
        return label in self._by_label

    def by_label(self, label: str) -> DriverInfo | None:
        """The entry with exactly this label, or None."""
        return self._by_label.get(label)

    def find_label(self, label: str) -> DriverInfo | None:
        """Like INDI Web Manager: the exact label, else the longest catalog
        label that ``label`` starts with (e.g. "CCD Simulator 2")."""
        exact = self._by_label.get(label)
        if exact is not None:
            return exact
        prefixes = [d for d in self._drivers if label.startswith(d.label)]
        return max(prefixes, key=lambda d: len(d.label), default=None)

    def by_executable(self, executable: str) -> DriverInfo | None:
        """The first entry (by label) run by ``executable``; the one whose label
        equals its driver name is preferred, as that is the driver's own entry."""
        matches = self.all_by_executable(executable)
        for driver in matches:
            if driver.label == driver.name:
                return driver
        return matches[0] if matches else None

    def all_by_executable(self, executable: str) -> list[DriverInfo]:
        """Every entry run by ``executable`` (e.g. all LX200 GPS clones)."""
        return [d for d in self._drivers if d.executable == executable]

    def by_name(self, name: str) -> DriverInfo | None:
        """The first entry whose driver name is ``name``."""
        return next((d for d in self._drivers if d.name == name), None)

    def groups(self) -> dict[str, list[str]]:
        """Family name -> labels in it, both sorted."""
        groups: dict[str, list[str]] = {}
        for driver in self._drivers:
            groups.setdefault(driver.group, []).append(driver.label)
        return dict(sorted(groups.items()))

    def to_indiweb_list(self) -> list[dict[str, object]]:
        """``GET /api/drivers`` of INDI Web Manager."""
        return [d.to_indiweb_dict() for d in self._drivers]


def _catalog_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p for p in path.glob("*.xml") if p.is_file() and not p.name.endswith("_sk.xml")
        )
        # INDI's own file first, so its entries win over third-party duplicates.
        files.sort(key=lambda p: p.name != "drivers.xml")
        return files
    if path.is_file():
        return [path]
    log.warning("driver catalog path %s does not exist", path)
    return []


def parse_catalog_file(path: str | Path) -> list[DriverInfo] | None:
    """The entries of one catalog file; None if it is not a catalog at all.

    A file that cannot be read or parsed gives None with a warning; a bad
    entry inside a good file is skipped with a warning.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        log.warning("skipping driver catalog %s: %s", path, error)
        return None
    if root.tag != "driversList":
        log.debug("skipping %s: root <%s> is not a driver catalog", path, root.tag)
        return None
    entries: list[DriverInfo] = []
    for group in root.iter("devGroup"):
        family = (group.get("group") or "").strip()
        for device in group.iter("device"):
            entry = _parse_device(path, family, device)
            if entry is not None:
                entries.append(entry)
    return entries


def _parse_device(path: Path, family: str, device: ET.Element) -> DriverInfo | None:
    label = (device.get("label") or "").strip()
    driver = device.find("driver")
    executable = (driver.text or "").strip() if driver is not None else ""
    if not label or not executable or not family:
        missing = [
            what
            for what, value in (("label", label), ("driver", executable), ("group", family))
            if not value
        ]
        log.warning(
            "skipping a device in %s without %s: %s",
            path,
            " and ".join(missing),
            ET.tostring(device, encoding="unicode").strip()[:200],
        )
        return None
    assert driver is not None
    skel = device.get("skel")
    return DriverInfo(
        label=label,
        executable=executable,
        name=(driver.get("name") or label).strip(),
        group=family,
        version=(device.findtext("version") or "0.0").strip() or "0.0",
        manufacturer=(device.get("manufacturer") or "").strip(),
        skeleton=path.parent / skel if skel else None,
        mdpd=device.get("mdpd") == "true",
        source=path,
    )
