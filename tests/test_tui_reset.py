"""Offset reset from the live view: dry run first, execute only with --allow-writes and no active members."""

from __future__ import annotations

import pytest
from textual.widgets import Button, DataTable, Input, Select, Static

from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.tui.screens.reset import DeleteOffsetsScreen, ResetOffsetsScreen
from deliverytui.tui.widgets.panels import EventLog
from tests.kafka_helpers import commit, create_topic, live_member, produce
from tests.test_tui_live import SIZE, viewer
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka


def summary_text(screen) -> str:
    return str(screen.query_one("#plan-summary", Static).render())


async def open_dialog(pilot, app, key: str, screen_type: type, what: str):
    """Press ``key`` and return the dialog once it is the active screen."""
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen_type), what=what)
    return app.screen


async def dry_run(pilot, screen) -> None:
    await pilot.click("#dry-run")
    await wait_until(pilot, lambda: screen.plan is not None, what="dry run")


async def test_reset_dry_run_then_execute(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-tui-{unique}", f"reset-tui-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 50, 1: 30})
    commit(bootstrap, group, {(topic, 0): 50, (topic, 1): 30})
    app = viewer(bootstrap, group, allow_writes=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 2, what="rows")
        screen = await open_dialog(pilot, app, "r", ResetOffsetsScreen, "reset dialog")
        screen.query_one("#mode", Select).value = "shift-by"
        await pilot.pause(0.1)
        screen.query_one("#value", Input).value = "-10"
        await dry_run(pilot, screen)
        assert "20 record(s) will be redelivered" in summary_text(screen)
        assert screen.query_one("#plan-table", DataTable).row_count == 2
        # Nothing written by the dry run.
        committed = {r.partition: r.committed_offset for r in GroupInspector(bootstrap).snapshot(group).partitions}
        assert committed == {0: 50, 1: 30}
        assert not screen.query_one("#execute", Button).disabled
        await pilot.click("#execute")
        await wait_until(pilot, lambda: not isinstance(app.screen, ResetOffsetsScreen), what="dialog to close")
        await wait_until(pilot, lambda: cell(app, f"{topic}:0", "committed") == "40", what="new committed offset")
        assert cell(app, f"{topic}:1", "committed") == "20"
        log = "\n".join(app.query_one(EventLog).entries)
        assert "you: offsets of" in log and "reset seen on" in log


async def test_reset_is_blocked_while_the_group_has_members(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-busy-{unique}", f"reset-busy-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 5})
    consumer = live_member(bootstrap, group, [topic], client_id="busy")
    try:
        app = viewer(bootstrap, group, allow_writes=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.update is not None and app.update.snapshot.members, what="member")
            screen = await open_dialog(pilot, app, "r", ResetOffsetsScreen, "reset dialog")
            screen.query_one("#topics", Input).value = topic
            await dry_run(pilot, screen)
            assert "1 active member(s)" in summary_text(screen) and "stop its consumers first" in summary_text(screen)
            assert screen.query_one("#execute", Button).disabled
    finally:
        consumer.close()


async def test_delete_offsets_of_one_topic(bootstrap: str, unique: str) -> None:
    keep, stale, group = f"keep-{unique}", f"stale-{unique}", f"cleanup-{unique}"
    create_topic(bootstrap, keep, 1)
    create_topic(bootstrap, stale, 1)
    commit(bootstrap, group, {(keep, 0): 0, (stale, 0): 0})
    app = viewer(bootstrap, group, allow_writes=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 2, what="rows")
        screen = await open_dialog(pilot, app, "x", DeleteOffsetsScreen, "delete dialog")
        screen.query_one("#topics", Input).value = stale
        await dry_run(pilot, screen)
        await pilot.click("#execute")
        await wait_until(pilot, lambda: shown(app) == [f"{keep}:0"], what="stale topic gone")
