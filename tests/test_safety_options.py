"""The safety policy's options: command line to `SafetyConfig`, and what is refused."""

from __future__ import annotations

import pytest

from indiws.__main__ import build_parser, check_args, config_from_args
from indiws.safety import ACTIONS, DEFAULT_ACTIONS, parse_actions


def config(*argv: str):
    parser = build_parser()
    args = parser.parse_args(list(argv))
    check_args(parser, args)
    return config_from_args(args).safety


def test_safety_is_on_by_default_with_the_close_up_of_a_night() -> None:
    safety = config()
    assert safety.enabled
    assert (
        safety.actions
        == DEFAULT_ACTIONS
        == (
            "abort_exposure",
            "stop_guiding",
            "park_mount",
            "close_dome",
        )
    )
    assert (safety.weather_stale, safety.indiserver_timeout) == (300.0, 120.0)


def test_safety_options_reach_the_config() -> None:
    safety = config(
        "--no-safety",
        "--safety-actions",
        "close_dome, park_mount,close_cap",
        "--safety-weather-stale",
        "90",
        "--safety-indiserver-timeout",
        "30",
    )
    assert not safety.enabled
    assert safety.actions == ("park_mount", "close_dome", "close_cap")  # in the order they run
    assert (safety.weather_stale, safety.indiserver_timeout) == (90.0, 30.0)
    assert config("--safety-actions", "none").actions == ()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--safety-actions", "park_mount,open_roof"], "unknown safety action open_roof"),
        (["--safety-weather-stale", "0"], "--safety-weather-stale must be a positive"),
        (["--safety-indiserver-timeout", "nan"], "--safety-indiserver-timeout must be"),
    ],
)
def test_bad_safety_options_are_refused_by_name(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        config(*argv)
    assert words in capsys.readouterr().err


def test_parse_actions_names_the_choices() -> None:
    assert parse_actions(ACTIONS) == ACTIONS
    with pytest.raises(ValueError, match="choose from abort_exposure, stop_guiding"):
        parse_actions("sing")
