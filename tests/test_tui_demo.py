"""The demo lab screen with real consumer processes: crash key, restart, the audit changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from deliverytui.demo.lab import Lab
from deliverytui.tui.demo_app import DemoLabScreen, demo_app
from deliverytui.tui.screens.lab_dialogs import CrashPointScreen
from deliverytui.tui.screens.share_group import ShareGroupScreen, ShareHeader
from tests.lab_helpers import audit_of, lab_settings
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka


def lab_cell(app, semantic: str, column: str) -> str:
    table = app.screen.query_one("#lab-table", DataTable) if isinstance(app.screen, DemoLabScreen) else None
    if table is None or semantic not in table.rows:
        return ""
    value = table.get_cell(semantic, column)
    return getattr(value, "plain", str(value))


async def test_crash_after_effect_duplicates_and_restart_recovers(bootstrap: str, unique: str, tmp_path: Path) -> None:
    lab = Lab(lab_settings(bootstrap, tmp_path / "state", unique, semantics=("at-least-once", "idempotent"))).open()
    try:
        app = demo_app(lab)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="lab screen")
            await wait_until(
                pilot, lambda: (audit_of(app, "at-least-once") or 0) and audit_of(app, "at-least-once").unique_effects >= 5,
                timeout=60, what="effects",
            )
            table = app.screen.query_one("#lab-table", DataTable)
            table.move_cursor(row=list(table.rows).index("at-least-once"))
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, CrashPointScreen), what="crash menu")
            menu = app.screen
            menu.query_one("#points").highlighted = list(menu.points).index("after-effect")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "DEAD" in lab_cell(app, "at-least-once", "state"), timeout=60, what="crash")
            crashed = audit_of(app, "at-least-once")
            assert crashed is not None and crashed.crashes >= 1
            await pilot.press("R")
            await wait_until(pilot, lambda: lab_cell(app, "at-least-once", "state").startswith("running"), timeout=60, what="restart")
            # The redelivered event after an after-effect crash is a second effect: the audit counts it.
            await wait_until(
                pilot, lambda: audit_of(app, "at-least-once").duplicates >= 1, timeout=60, what="duplicate counted"
            )
            after = audit_of(app, "at-least-once")
            assert after.lost == 0
            assert any(o.kind == "duplicate" for o in after.offending)
            log = "\n".join(app.screen.query_one("#lab-events").entries)
            assert "armed at-least-once" in log and "restarted at-least-once" in log and "died (signal 9)" in log
    finally:
        lab.close()


async def test_poison_key_archives_one_event_on_the_queue_row(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """``P`` marks the next event poison: the queue's two workers fail on it 5 times and the broker archives it."""
    lab = Lab(lab_settings(bootstrap, tmp_path / "state", unique, semantics=("queue", "at-least-once"), rate=5.0)).open()
    try:
        app = demo_app(lab)
        async with app.run_test(size=(200, 48)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="lab screen")
            await wait_until(
                pilot, lambda: (audit_of(app, "queue") or 0) and audit_of(app, "queue").unique_effects >= 3,
                timeout=60, what="queue effects",
            )
            assert lab_cell(app, "queue", "archived") == "0" and lab_cell(app, "at-least-once", "archived") == "-"
            await pilot.press("P")
            await wait_until(pilot, lambda: lab_cell(app, "queue", "archived") == "1", timeout=60, what="archived")
            queue = audit_of(app, "queue")
            assert queue.lost == 0 and queue.max_delivery_count == 5 and queue.delivery_counts.get(5) == 1, queue
            (archived,) = queue.archived_events
            assert archived.delivery_count == 5 and archived.failed_attempts == 5, archived
            at_least_once = audit_of(app, "at-least-once")
            assert at_least_once.lost == 0 and at_least_once.archived == 0  # the mark means nothing there
            table = app.screen.query_one("#lab-table", DataTable)
            table.move_cursor(row=list(table.rows).index("queue"))
            await pilot.pause(0.3)
            detail = str(app.screen.query_one("#offending").render())
            assert "delivery counts {1: " in detail and archived.event_id in detail, detail
            log = "\n".join(app.screen.query_one("#lab-events").entries)
            assert "the next event is poison" in log
            # w on the queue row: the share group's own view (start offsets, share lag, its two workers).
            await pilot.press("w")
            await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), timeout=60, what="share view")
            share_view = app.screen
            assert share_view.group == lab.group_of("queue")
            await wait_until(
                pilot, lambda: "share group" in str(share_view.query_one(ShareHeader).render())
                and share_view.query_one("#share-partitions", DataTable).row_count > 0,
                timeout=90, what="share rows",
            )
            await pilot.press("d")  # back to the lab
            await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="the lab again")
            table = app.screen.query_one("#lab-table", DataTable)
            table.move_cursor(row=list(table.rows).index("at-least-once"))
            await pilot.press("w")  # a consumer group now: the share view closes, the group view shows it
            await wait_until(pilot, lambda: app.group == lab.group_of("at-least-once") and app.share_screen is None
                             and not isinstance(app.screen, (DemoLabScreen, ShareGroupScreen)), what="the group view")
    finally:
        lab.close()
