"""Plans read and checked offline: coordinates, the catalogue, errors with
their key path and line, frame names, the manifest on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indiws.remote.catalog import lookup
from indiws.remote.plan import PlanError, frames, parse_dec, parse_plan, parse_ra
from indiws.remote.runner import Manifest, altitude, next_rise


@pytest.mark.parametrize(
    ("text", "hours"),
    [("05:35:17.3", 5.588139), ("5h35m17.3s", 5.588139), ("05 35 17.3", 5.588139), (5.5, 5.5)],
)
def test_ra_forms(text: object, hours: float) -> None:
    assert parse_ra(text) == pytest.approx(hours, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "degrees"),
    [("-05:23:28", -5.391111), ("+41d16m09s", 41.269167), ("-0:30", -0.5), (-5.39, -5.39)],
)
def test_dec_forms(text: object, degrees: float) -> None:
    assert parse_dec(text) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize("bad", ["25:00:00", "24:00:00", "05:61:00", "five", -1, True])
def test_bad_ra_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="not a right ascension"):
        parse_ra(bad)


@pytest.mark.parametrize(
    ("name", "first", "ra", "dec"),
    [
        ("M31", "M31", 0.7123, 41.269),
        ("m 42", "M42", 5.5879, -5.390),
        ("NGC 224", "M31", 0.7123, 41.269),
        ("NGC0224", "M31", 0.7123, 41.269),
        ("C14", "C14", 2.345, 57.14),
        ("ngc7000", "C20", 20.988, 44.529),
        ("Orion Nebula", "M42", 5.5879, -5.390),
    ],
)
def test_catalogue_names(name: str, first: str, ra: float, dec: float) -> None:
    obj = lookup(name)
    assert obj is not None and obj.name == first
    assert obj.ra == pytest.approx(ra, abs=0.01) and obj.dec == pytest.approx(dec, abs=0.05)


def test_catalogue_holds_messier_and_caldwell_in_full() -> None:
    assert all(lookup(f"M{n}") for n in range(1, 111) if n != 102)  # M102: a duplicate of M101
    assert all(lookup(f"C{n}") for n in range(1, 110))
    assert lookup("Nowhere 9") is None


def test_every_problem_is_named_with_key_path_and_line() -> None:
    text = (
        "park: yes please\n"  # 1
        "dither: {offset: 10}\n"  # 2
        "metadata: {OBSERVERNAME: me}\n"  # 3
        "targets:\n"  # 4
        "  - name: M42\n"  # 5
        "    ra: 5.5\n"  # 6
        "    exposures:\n"  # 7
        "      - {duration: 0, frame_type: science, binning: 1.5}\n"  # 8
        "  - name: Unknown Thing\n"  # 9
        "    exposures: []\n"  # 10
    )
    with pytest.raises(PlanError) as err:
        parse_plan(text, "p.yaml")
    lines = str(err.value).splitlines()
    expected = [
        "p.yaml:1: park: must be true or false",
        "p.yaml:2: dither.every: is required",
        "p.yaml:3: metadata.OBSERVERNAME: a FITS keyword has 1 to 8",
        "p.yaml:8: targets[0].exposures[0].duration: must be above 0",
        "p.yaml:8: targets[0].exposures[0].frame_type: must be one of light, dark, flat, bias",
        "p.yaml:8: targets[0].exposures[0].binning: must be a whole number",
        "p.yaml:5: targets[0].dec: is required with ra",
        "p.yaml:10: targets[1].exposures: must be a non-empty list",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(
        PlanError, match=r"^p.yaml:4: not valid YAML: while parsing a flow sequence \(line 3\)"
    ):
        parse_plan("targets:\n  - name: M1\n    exposures: [{duration: 1}\n", "p.yaml")


def test_calibration_targets_need_no_coordinates_and_names_count_across_repeats() -> None:
    plan = parse_plan(
        "targets:\n"
        "  - name: Night Darks\n"
        "    repeat: 2\n"
        "    exposures:\n"
        "      - {frame_type: dark, duration: 60, count: 2}\n"
        "      - {frame_type: bias, duration: 0.001, binning: 2}\n"
    )
    assert plan.targets[0].ra is None and not plan.targets[0].needs_sky
    assert [f.file for f in frames(plan)] == [
        "Night_Darks_dark_nofilter_60s_0001.fits",
        "Night_Darks_dark_nofilter_60s_0002.fits",
        "Night_Darks_bias_nofilter_0.001s_bin2_0001.fits",
        "Night_Darks_dark_nofilter_60s_0003.fits",
        "Night_Darks_dark_nofilter_60s_0004.fits",
        "Night_Darks_bias_nofilter_0.001s_bin2_0002.fits",
    ]


def test_manifest_cuts_a_torn_last_line(tmp_path: Path) -> None:
    good = json.dumps({"file": "a.fits", "status": "ok"}) + "\n"
    (tmp_path / Manifest.NAME).write_text(good + '{"file": "b.fi')
    (tmp_path / "a.fits").write_bytes(b"x")
    manifest = Manifest(tmp_path)
    manifest.load()
    assert manifest.done(tmp_path) == {"a.fits"}
    assert (tmp_path / Manifest.NAME).read_text() == good


def test_altitude_and_next_rise_offline() -> None:
    from indiws.remote.plan import Site

    munich = Site(48.1, 11.6, 520)
    when = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    # Polaris-like: always about the latitude high; M42 near its meridian at midnight in December.
    assert altitude(2.53, 89.26, munich, when) == pytest.approx(48.1, abs=1.5)
    assert altitude(5.588, -5.39, munich, when) == pytest.approx(36.5, abs=2)
    assert next_rise(6.0, -85.0, munich, 20, when) is None
    noon = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    rise = next_rise(5.588, -5.39, munich, 20, noon)
    assert rise is not None and noon < rise < noon + timedelta(hours=12)


def test_run_subcommand_has_its_own_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "indiws", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: indiws run")
    for option in ("--url", "--out", "--token", "--dry-run", "--retries", "--reconnect-timeout"):
        assert option in proc.stdout
