"""The one table of reset modes: the CLI's options, the reset screen and the lab's replay all read it,
and every target is built by kafka.reset_arguments.build_target (pure: no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deliverytui.cli import build_parser
from deliverytui.errors import ConfigError
from deliverytui.kafka.reset_arguments import build_target
from deliverytui.model.reset import RESET_MODES, ResetMode, ResetTarget


def test_every_mode_is_in_the_table_once() -> None:
    assert list(RESET_MODES) == list(ResetMode)


@pytest.mark.parametrize("spec", RESET_MODES.values(), ids=lambda spec: spec.mode.value)
def test_cli_offers_every_mode_as_an_option(spec) -> None:
    value = ["7"] if spec.takes_value else []
    args = build_parser().parse_args(["reset", "--group", "g", f"--{spec.mode.value}", *value])
    expected = (7 if spec.whole_number else "7") if spec.takes_value else True
    assert getattr(args, spec.mode.value.replace("-", "_")) == expected


def test_screens_offer_the_modes_built_from_text() -> None:
    from deliverytui.tui.screens.lab_dialogs import REPLAY_MODES
    from deliverytui.tui.screens.reset import SCREEN_MODES

    assert [s.mode for s in SCREEN_MODES] == [m for m in ResetMode if m is not ResetMode.FROM_FILE]
    assert [s.mode for s in REPLAY_MODES] == [ResetMode.TO_EARLIEST, ResetMode.TO_OFFSET, ResetMode.SHIFT_BY, ResetMode.TO_DATETIME]


def test_build_target_from_text() -> None:
    now = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    assert build_target("to-earliest") == ResetTarget.to_earliest()
    assert build_target(ResetMode.TO_OFFSET, "1200") == ResetTarget.to_offset(1200)
    assert build_target("shift-by", "-5") == ResetTarget.shift_by(-5)
    assert build_target("to-datetime", "2026-11-26T10:00:00").timestamp_ms == int(datetime(2026, 11, 26, 10, tzinfo=UTC).timestamp() * 1000)
    assert build_target("by-duration", "PT30M", now=now).timestamp_ms == int(datetime(2026, 11, 26, 10, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("mode", "text", "message"),
    [
        ("to-offset", "ten", "to-offset needs a whole number, not 'ten'"),
        ("to-datetime", "yesterday", "invalid --to-datetime 'yesterday'"),
        ("by-duration", "30m", "invalid --by-duration '30m'"),
        ("to-nowhere", "", "unknown reset mode 'to-nowhere'"),
    ],
)
def test_bad_text_is_one_line_config_error(mode: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_target(mode, text)
