"""The driver catalog read from INDI's drivers.xml (the real one, and broken ones)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from indiws.manager.catalog import DEFAULT_INDI_DATA_DIR, DriverCatalog

REAL_CATALOG = DEFAULT_INDI_DATA_DIR / "drivers.xml"

needs_indi = pytest.mark.skipif(
    not REAL_CATALOG.exists(), reason=f"{REAL_CATALOG} missing (install indi-bin)"
)


@needs_indi
def test_real_catalog_lists_the_simulators() -> None:
    catalog = DriverCatalog()
    assert REAL_CATALOG in catalog.files
    assert len(catalog) > 100

    ccd = catalog.by_executable("indi_simulator_ccd")
    assert ccd is not None
    assert ccd.label == "CCD Simulator"
    assert ccd.group == "CCDs"
    assert ccd.manufacturer == "Simulator"
    assert ccd.version == "1.0"
    assert ccd.mdpd is True
    assert catalog.by_label("CCD Simulator") == ccd

    expected = {
        "indi_simulator_telescope": ("Telescope Simulator", "Telescopes"),
        "indi_simulator_focus": ("Focuser Simulator", "Focusers"),
        "indi_simulator_wheel": ("Filter Simulator", "Filter Wheels"),
        "indi_simulator_dome": ("Dome Simulator", "Domes"),
    }
    for executable, (label, group) in expected.items():
        entry = catalog.by_executable(executable)
        assert entry is not None, executable
        assert (entry.label, entry.group) == (label, group)

    assert "CCD Simulator" in catalog.groups()["CCDs"]
    labels = [d.label.casefold() for d in catalog]
    assert labels == sorted(labels)


@needs_indi
def test_one_executable_serves_several_models() -> None:
    catalog = DriverCatalog()
    lx200gps = catalog.all_by_executable("indi_lx200gps")
    assert {"LX200 GPS", "LX90"} <= {d.label for d in lx200gps}
    # The driver's own entry comes first.
    first = catalog.by_executable("indi_lx200gps")
    assert first is not None and first.label == "LX200 GPS"


@needs_indi
def test_indiweb_json_shape() -> None:
    ccd = DriverCatalog().by_label("CCD Simulator")
    assert ccd is not None
    assert ccd.to_indiweb_dict() == {
        "name": "CCD Simulator",
        "label": "CCD Simulator",
        "skeleton": None,
        "version": "1.0",
        "binary": "indi_simulator_ccd",
        "family": "CCDs",
        "mdpd": True,
        "custom": False,
        "rule": None,
        "role": "",
    }


GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<driversList>
  <devGroup group="Telescopes">
    <device label="Scope A" manufacturer="Acme">
      <driver name="Scope A">indi_scope_a</driver>
      <version>2.3</version>
    </device>
    <device label="No Driver Here" manufacturer="Acme">
      <version>1.0</version>
    </device>
    <device manufacturer="Acme">
      <driver name="Nameless">indi_nameless</driver>
    </device>
  </devGroup>
  <devGroup group="Focusers">
    <device label="Focuser A" skel="focuser_a_sk.xml">
      <driver name="Focuser A Driver">indi_focuser_a</driver>
    </device>
  </devGroup>
</driversList>
"""

THIRD_PARTY = """<driversList>
  <devGroup group="CCDs">
    <device label="Camera X" manufacturer="X Corp">
      <driver name="Camera X">indi_camera_x</driver>
      <version>0.9</version>
    </device>
    <device label="Scope A" manufacturer="Impostor">
      <driver name="Scope A">indi_other</driver>
    </device>
  </devGroup>
</driversList>
"""


def _write_catalog_dir(folder: Path) -> None:
    folder.mkdir()
    (folder / "drivers.xml").write_text(GOOD)
    (folder / "x_corp.xml").write_text(THIRD_PARTY)
    (folder / "broken.xml").write_text("<driversList><devGroup group='Oops'>")
    (folder / "focuser_a_sk.xml").write_text("<INDIDriver></INDIDriver>")
    (folder / "other.xml").write_text("<INDIDriver><defSwitchVector/></INDIDriver>")
    (folder / "notes.txt").write_text("not xml")


def test_malformed_files_and_entries_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "indi"
    _write_catalog_dir(folder)
    with caplog.at_level(logging.WARNING, logger="indiws.manager.catalog"):
        catalog = DriverCatalog(folder)

    assert [d.label for d in catalog] == ["Camera X", "Focuser A", "Scope A"]
    assert catalog.files == [folder / "drivers.xml", folder / "x_corp.xml"]
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert "broken.xml" in warnings
    assert "without driver" in warnings  # "No Driver Here"
    assert "without label" in warnings
    assert "focuser_a_sk.xml" not in warnings and "other.xml" not in warnings

    scope = catalog.by_label("Scope A")
    assert scope is not None
    assert scope.executable == "indi_scope_a"  # drivers.xml wins over a duplicate label
    assert scope.version == "2.3"
    focuser = catalog.by_executable("indi_focuser_a")
    assert focuser is not None
    assert focuser.name == "Focuser A Driver"
    assert focuser.version == "0.0"  # missing version, as INDI Web Manager reports it
    assert focuser.skeleton == folder / "focuser_a_sk.xml"
    assert catalog.find_label("Scope A 2") == scope
    assert catalog.find_label("Unknown") is None
    assert catalog.by_executable("indi_missing") is None
    assert catalog.groups() == {
        "CCDs": ["Camera X"],
        "Focusers": ["Focuser A"],
        "Telescopes": ["Scope A"],
    }


def test_single_file_and_missing_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "indi"
    _write_catalog_dir(folder)
    assert [d.label for d in DriverCatalog(folder / "x_corp.xml")] == ["Camera X", "Scope A"]
    with caplog.at_level(logging.WARNING, logger="indiws.manager.catalog"):
        empty = DriverCatalog(tmp_path / "nowhere")
    assert len(empty) == 0
    assert "does not exist" in caplog.text


def test_reload_sees_new_files(tmp_path: Path) -> None:
    folder = tmp_path / "indi"
    folder.mkdir()
    catalog = DriverCatalog(folder)
    assert len(catalog) == 0
    (folder / "drivers.xml").write_text(GOOD)
    catalog.reload()
    assert "Scope A" in catalog
