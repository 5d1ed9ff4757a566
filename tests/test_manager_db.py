"""The state file: roles and profiles in SQLite, across reopening."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from indiws.db import (
    OBSERVATORY_PROFILE,
    ROLES,
    SCHEMA_VERSION,
    SIMULATORS_PROFILE,
    ProfileDriver,
    ProfileExistsError,
    ProfileNotFoundError,
    StateDB,
    StateDBError,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "indiws.sqlite3"


def test_new_file_has_schema_and_simulators_profile(tmp_path: Path) -> None:
    with StateDB.in_data_dir(tmp_path / "data") as db:
        assert db.path == tmp_path / "data" / "indiws.sqlite3"
        assert db.schema_version == SCHEMA_VERSION
        assert db.profile_names() == [OBSERVATORY_PROFILE, SIMULATORS_PROFILE]
        profile = db.require_profile(SIMULATORS_PROFILE)
        assert [d.executable for d in profile.drivers] == [
            "indi_simulator_telescope",
            "indi_simulator_ccd",
            "indi_simulator_focus",
            "indi_simulator_wheel",
        ]
        assert profile.roles == {
            "telescope": "Telescope Simulator",
            "camera": "CCD Simulator",
            "focuser": "Focuser Simulator",
            "filter_wheel": "Filter Simulator",
        }
        assert profile.port == 7624
        assert profile.auto_start
        # The whole observatory: ten simulators, every role, started on request.
        observatory = db.require_profile(OBSERVATORY_PROFILE)
        assert len(observatory.drivers) == 10 and set(observatory.roles) == set(ROLES)
        assert not observatory.auto_start and observatory.auto_connect
        # Global roles start empty: they are assigned when a profile starts.
        assert db.get_roles() == {}


def test_simulators_profile_is_seeded_only_once(db_path: Path) -> None:
    with StateDB(db_path) as db:
        db.delete_profile(SIMULATORS_PROFILE)
        db.delete_profile(OBSERVATORY_PROFILE)
    with StateDB(db_path) as db:
        assert db.profile_names() == []


def test_roles_set_replace_clear_and_survive_reopening(db_path: Path) -> None:
    with StateDB(db_path) as db:
        db.set_role("camera", "CCD Simulator")
        db.set_role("telescope", "Telescope Simulator")
        db.set_role("camera", "Guide Simulator")  # a newer start replaces the older one
        assert db.get_roles() == {"camera": "Guide Simulator", "telescope": "Telescope Simulator"}
        assert db.role_assigned_at("camera") is not None
    with StateDB(db_path) as db:
        assert db.get_role("camera") == "Guide Simulator"
        assert db.clear_role("camera") is True
        assert db.clear_role("camera") is False
        assert db.get_roles() == {"telescope": "Telescope Simulator"}


def test_unknown_role_is_refused_with_the_valid_ones(db_path: Path) -> None:
    with StateDB(db_path) as db:
        with pytest.raises(ValueError, match="unknown role 'spectrograph'.*filter_wheel"):
            db.set_role("spectrograph", "Spectrograph Simulator")
        with pytest.raises(ValueError, match="device name"):
            db.set_role("camera", "")
        assert set(ROLES) == {
            "telescope",
            "camera",
            "focuser",
            "filter_wheel",
            "guider",
            "dome",
            "rotator",
            "flat_panel",
            "weather",
            "gps",
        }


def test_profile_crud_round_trip_survives_reopening(db_path: Path) -> None:
    drivers = [
        ProfileDriver("indi_simulator_telescope", label="Telescope Simulator"),
        ProfileDriver("indi_simulator_wheel"),
        ProfileDriver("indi_simulator_wheel", name="Wheel Two"),
        ProfileDriver("Dome Simulator@observatory.local:7624"),
    ]
    with StateDB(db_path) as db:
        created = db.create_profile(
            "Backyard",
            port=7625,
            auto_connect=True,
            drivers=drivers,
            roles={"telescope": "Telescope Simulator", "filter_wheel": "Wheel Two"},
        )
        assert created.id is not None
        with pytest.raises(ProfileExistsError):
            db.create_profile("Backyard")

    with StateDB(db_path) as db:
        profile = db.require_profile("Backyard")
        assert profile.port == 7625
        assert profile.auto_connect is True
        assert profile.auto_start is False
        assert profile.drivers == drivers  # order and second instance kept
        assert profile.drivers[3].is_remote
        assert profile.roles == {"telescope": "Telescope Simulator", "filter_wheel": "Wheel Two"}
        assert profile.to_dict()["drivers"][2] == {
            "executable": "indi_simulator_wheel",
            "name": "Wheel Two",
            "label": None,
        }

        updated = db.update_profile(
            "Backyard",
            new_name="Backyard Pier",
            auto_start=True,
            drivers=["indi_simulator_ccd", {"executable": "indi_simulator_focus", "name": "F2"}],
            roles={"camera": "CCD Simulator"},
        )
        assert updated.name == "Backyard Pier"
        assert updated.port == 7625  # untouched fields stay
        assert [(d.executable, d.name) for d in updated.drivers] == [
            ("indi_simulator_ccd", None),
            ("indi_simulator_focus", "F2"),
        ]
        assert updated.roles == {"camera": "CCD Simulator"}
        assert db.get_profile("Backyard") is None

    with StateDB(db_path) as db:
        assert db.profile_names() == ["Backyard Pier", OBSERVATORY_PROFILE, SIMULATORS_PROFILE]
        auto = db.get_auto_start_profile()
        assert auto is not None and auto.name == "Backyard Pier"
        # Only one profile starts with the service.
        db.update_profile(SIMULATORS_PROFILE, auto_start=True)
        auto = db.get_auto_start_profile()
        assert auto is not None and auto.name == SIMULATORS_PROFILE
        assert db.require_profile("Backyard Pier").auto_start is False

        assert db.delete_profile("Backyard Pier") is True
        assert db.delete_profile("Backyard Pier") is False
        with pytest.raises(ProfileNotFoundError, match="Backyard Pier"):
            db.update_profile("Backyard Pier", port=1)

    # Deleting a profile deletes its drivers and roles too (4 + 10 of the seeded two).
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM profile_drivers").fetchone()[0] == 14
        assert raw.execute("SELECT COUNT(*) FROM profile_roles").fetchone()[0] == 14


def test_save_profile_creates_then_replaces(db_path: Path) -> None:
    with StateDB(db_path) as db:
        profile = db.require_profile(SIMULATORS_PROFILE)
        profile.name = "Copy"
        profile.drivers = profile.drivers[:2]
        saved = db.save_profile(profile)
        assert [d.executable for d in saved.drivers] == [
            "indi_simulator_telescope",
            "indi_simulator_ccd",
        ]
        saved.port = 9000
        assert db.save_profile(saved).port == 9000
        assert len(db.list_profiles()) == 3


@pytest.mark.parametrize(
    ("executable", "name", "message"),
    [
        ("", None, "non-empty"),
        ("indi simulator", None, "spaces"),
        ("indi_simulator_wheel", 'Wheel "2"', "must not contain"),
        ("indi_simulator_wheel", "Wheel@2", "must not contain"),
        ("indi_simulator_wheel", "  ", "empty"),
    ],
)
def test_driver_entries_that_indiserver_cannot_take_are_refused(
    executable: str, name: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProfileDriver(executable, name)


def test_bad_profile_fields_are_refused(db_path: Path) -> None:
    with StateDB(db_path) as db:
        with pytest.raises(ValueError, match="port"):
            db.create_profile("P", port=70000)
        with pytest.raises(ValueError, match="unknown role"):
            db.create_profile("P", roles={"spectrograph": "Spectrograph Simulator"})
        with pytest.raises(ValueError, match="profile name"):
            db.create_profile("")
        # Nothing half-written after a refusal.
        assert db.profile_names() == [OBSERVATORY_PROFILE, SIMULATORS_PROFILE]


def test_file_from_a_newer_version_is_refused(db_path: Path) -> None:
    StateDB(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateDBError, match="newer"):
        StateDB(db_path)


async def test_calls_from_threads_and_loop_are_safe(db_path: Path) -> None:
    db = StateDB(db_path)
    try:
        devices = [f"Camera {i}" for i in range(20)]
        await asyncio.gather(*(asyncio.to_thread(db.set_role, "camera", d) for d in devices))
        await asyncio.gather(
            *(asyncio.to_thread(db.create_profile, f"P{i}", port=7700 + i) for i in range(10))
        )
        assert db.get_role("camera") in devices
        assert len(db.profile_names()) == 12
    finally:
        db.close()


def test_version_1_file_is_migrated_and_keeps_its_roles(db_path: Path) -> None:
    """A file written before the guider role: its assignments stay, guider is accepted."""
    from indiws.db import _MIGRATIONS

    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        raw.executescript(_MIGRATIONS[0])
        raw.execute(
            "INSERT INTO roles VALUES ('camera', 'CCD Simulator', '2024-01-01T00:00:00+00:00')"
        )
        raw.execute("INSERT INTO profiles (name, created_at, updated_at) VALUES ('Old', 'x', 'x')")
        raw.execute("INSERT INTO profile_roles VALUES (1, 'focuser', 'Focuser Simulator')")
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("INSERT INTO roles VALUES ('guider', 'Guide Camera', 'x')")
        raw.execute("PRAGMA user_version = 1")
    with StateDB(db_path) as db:
        assert db.schema_version == SCHEMA_VERSION
        assert db.get_roles() == {"camera": "CCD Simulator"}
        assert db.require_profile("Old").roles == {"focuser": "Focuser Simulator"}
        db.set_role("guider", "Guide Camera")
        db.update_profile("Old", roles={"focuser": "Focuser Simulator", "guider": "Guide Camera"})
    with StateDB(db_path) as db:  # and again, with nothing left to migrate
        assert db.get_roles() == {"camera": "CCD Simulator", "guider": "Guide Camera"}
        assert db.require_profile("Old").roles["guider"] == "Guide Camera"
        with pytest.raises(ValueError, match="unknown role 'spectrograph'"):
            db.set_role("spectrograph", "Spectrograph Simulator")


def test_a_file_made_before_the_observatory_profile_gets_it(db_path: Path) -> None:
    """A version-3 file holding only the Simulators profile (made before the
    Observatory profile existed) gets Observatory at the next start, once:
    deleted by the user afterwards, it stays deleted."""
    from indiws.db import _MIGRATIONS

    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        for step in _MIGRATIONS[:3]:
            raw.executescript(step)
        raw.execute(
            "INSERT INTO profiles (name, auto_start, auto_connect, created_at, updated_at) "
            "VALUES ('Simulators', 1, 1, 'x', 'x')"
        )
        raw.execute("INSERT INTO profiles (name, created_at, updated_at) VALUES ('Mine', 'x', 'x')")
        raw.execute("PRAGMA user_version = 3")
    with StateDB(db_path) as db:
        assert db.profile_names() == ["Mine", OBSERVATORY_PROFILE, SIMULATORS_PROFILE]
        observatory = db.require_profile(OBSERVATORY_PROFILE)
        assert len(observatory.drivers) == 10 and set(observatory.roles) == set(ROLES)
        assert not observatory.auto_start  # the user's start-up profile stays the one that starts
        assert db.get_auto_start_profile().name == SIMULATORS_PROFILE  # type: ignore[union-attr]
        assert db.require_profile(SIMULATORS_PROFILE).drivers == []  # the user's own, untouched
        db.delete_profile(OBSERVATORY_PROFILE)
        db.delete_profile(SIMULATORS_PROFILE)
    with StateDB(db_path) as db:
        assert db.profile_names() == ["Mine"]
