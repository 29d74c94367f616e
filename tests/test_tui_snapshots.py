"""SVG snapshot tests of the live view at a fixed size, on snapshots recorded from a real broker.

Update the SVGs deliberately with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import time
from datetime import UTC
from pathlib import Path

import pytest

from deliverytui.tui.screens.reset import ResetOffsetsScreen
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
    for _ in range(600):
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


def _settle_then_press(key: str, pause: float):
    """A ``run_before`` that lets the replay settle, presses ``key`` and waits ``pause`` seconds."""

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press(key)
        await pilot.pause(pause)

    return run_before


def test_help_screen(snap_compare) -> None:
    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=_settle_then_press("question_mark", 0.2))


def test_reset_dialog(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("r")
        # The dialog opens with a warning toast (the group has an active member). The toast is posted before
        # the dialog is pushed, so it can show on the main screen first: wait until the dialog is the active
        # screen *and* carries the toast, rather than for a fixed time (a busy CI machine drew it late).
        for _ in range(400):
            screen = pilot.app.screen
            if isinstance(screen, ResetOffsetsScreen) and screen.query("Toast") and screen.query("Button"):
                break
            await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    assert snap_compare(replay_app(allow_writes=True), terminal_size=SIZE, run_before=run_before)


def test_disconnected_banner(snap_compare) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        for _ in range(600):
            if app.stale:
                break
            await pilot.pause(0.05)
        # The cursor follows its row through re-sorts, so where it ends up depends on timing: pin it.
        app.query_one("#partitions").move_cursor(row=0, animate=False)
        await pilot.pause(0.3)  # backoff is an hour here: no further poll changes the screen

    assert snap_compare(replay_app(fail_after=POLLS), terminal_size=SIZE, run_before=run_before)


class _FixedLab:
    """A lab with fixed figures (taken from a real after-effect crash run): what the screen renders."""

    semantics = ("at-most-once", "at-least-once", "idempotent", "upsert", "state-check", "exactly-once", "queue")
    bootstrap = "127.0.0.1:9092"

    def __init__(self) -> None:
        from datetime import datetime

        from deliverytui.demo.semantics import SEMANTICS
        from deliverytui.model.demo import (
            ArchivedEvent,
            AuditReport,
            ConsumerAudit,
            ConsumerProcessStatus,
            OffendingEvent,
        )

        at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
        self.ledger = None
        self._statuses = tuple(
            ConsumerProcessStatus(
                semantic=name, group=SEMANTICS[name].group, pid=None if name == "at-least-once" else 1000 + i,
                alive=name != "at-least-once", state="crashed" if name == "at-least-once" else "running",
                processed=1_180 + i, crashes=1 if name in ("at-least-once", "at-most-once") else 0,
                armed="after-commit" if name == "at-most-once" else None,
                exit_code=-9 if name == "at-least-once" else None, updated_at=at,
            )
            for i, name in enumerate(self.semantics)
        )
        audits = []
        for name in self.semantics:
            duplicates = 1 if name == "at-least-once" else 0
            lost = 1 if name == "at-most-once" else 0
            offending = ()
            if duplicates:
                offending = (OffendingEvent("5f1c2d7e-0d4b-4d0e-9a43-1f2e3d4c5b6a", 2, 417, "duplicate"),)
            if lost:
                offending = (OffendingEvent("9b8a7c6d-1e2f-4a3b-8c7d-6e5f4a3b2c1d", 0, 388, "lost"),)
            hits = 1 if name in ("idempotent", "upsert", "state-check") else 0
            audits.append(ConsumerAudit(
                semantic=name, group=SEMANTICS[name].group, produced=1_200, processed=1_180, effects=1_180 + duplicates - lost,
                unique_effects=1_180 - lost, duplicates=duplicates, lost=lost, unexpected=0, dedup_hits=hits,
                crashes=1 if name in ("at-least-once", "at-most-once") else 0, offending=offending,
                duplicate_event_ids=tuple(o.event_id for o in offending if o.kind == "duplicate"),
                lost_event_ids=tuple(o.event_id for o in offending if o.kind == "lost"),
                **self._queue(name, ArchivedEvent),
            ))
        self._audit = AuditReport(topic="task-events", produced=1_200, consumers=tuple(audits), taken_at=at)

    @staticmethod
    def _queue(name: str, archived) -> dict:
        """The queue row's own figures: one poison event archived after 5 deliveries."""
        if name != "queue":
            return {}
        poison = archived("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", 5, 5)
        return {"delivery_count_limit": 5, "archived_events": (poison,), "delivery_counts": {1: 1_179, 5: 1}, "max_delivery_count": 5}

    @property
    def settings(self):
        from deliverytui.demo.lab import LabSettings

        return LabSettings(state_dir=Path("/nonexistent"), semantics=self.semantics)

    def group_of(self, name: str) -> str:
        from deliverytui.demo.semantics import SEMANTICS

        return SEMANTICS[name].group

    def dedup_url_for(self, name: str) -> None:
        return None

    def poll(self):
        from deliverytui.model.demo import LabUpdate

        return LabUpdate(self._statuses, self._audit, produced=1_200, rate=10.0)


def test_demo_lab_after_crashes(snap_compare) -> None:
    from deliverytui.tui.demo_app import DemoLabScreen, demo_app
    from deliverytui.tui.fetch import GroupFetcher
    from tests.replay import ReplayInspector

    lab = _FixedLab()
    app = demo_app(lab)
    inspector = ReplayInspector()
    app._fetcher_factory = lambda config, group, cancel: GroupFetcher(
        config, group, cancel, inspector=_hold(inspector, cancel), read_positions=False
    )
    app._fetcher = app._fetcher_factory(app.config, app.group, app._cancel)
    first = inspector.snapshots[-1].taken_at
    app.clock = lambda: first

    async def run_before(pilot) -> None:
        for _ in range(200):
            if pilot.app.lab_polls >= 1 and isinstance(pilot.app.screen, DemoLabScreen):
                break
            await pilot.pause(0.05)
        table = pilot.app.screen.query_one("#lab-table")
        table.move_cursor(row=1, animate=False)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def _hold(inspector, cancel):
    inspector.cancel = cancel
    return inspector


def test_share_group_view(snap_compare) -> None:
    """The share-group view on recorded snapshots of a share group two console share consumers ran."""
    from deliverytui.tui.screens.share_group import ShareGroupScreen
    from tests.replay import share_replay_app

    async def run_before(pilot) -> None:
        app = pilot.app
        for _ in range(600):
            screen = app.screen
            if isinstance(screen, ShareGroupScreen) and screen.polls_completed >= len(app.shares.snapshots):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)

    assert snap_compare(share_replay_app(), terminal_size=SIZE, run_before=run_before)
