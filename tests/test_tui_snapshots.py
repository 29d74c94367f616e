"""SVG snapshot tests of the live view at a fixed size, on snapshots recorded from a real broker.

Update the SVGs deliberately with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.replay import ReplayInspector, replay_app

SIZE = (160, 48)
POLLS = len(ReplayInspector().snapshots)


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch: pytest.MonkeyPatch):
    """Event-log timestamps are local time: pin the zone so the SVGs do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _settle(pilot, polls: int = POLLS) -> None:
    app = pilot.app
    for _ in range(200):
        if app.polls_completed >= polls:
            break
        await pilot.pause(0.05)
    # Later polls replay the last snapshot again (same time, same offsets): the screen is stable.
    # The cursor follows its row through re-sorts, so where it ends up depends on timing: pin it.
    app.query_one("#partitions").move_cursor(row=0, animate=False)
    await pilot.pause(0.3)


def test_main_screen(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _settle(pilot)

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)


def test_reset_dialog(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("r")
        await pilot.pause(0.3)

    assert snap_compare(replay_app(allow_writes=True), terminal_size=SIZE, run_before=run_before)


def test_disconnected_banner(snap_compare) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        for _ in range(200):
            if app.stale:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)  # backoff is an hour here: no further poll changes the screen

    assert snap_compare(replay_app(fail_after=POLLS), terminal_size=SIZE, run_before=run_before)
