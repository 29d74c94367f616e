"""Partitions table behaviour that needs no broker: in-place updates and calm re-ordering."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model import GroupSnapshot, PartitionRow
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.fetch import GroupFetcher
from deliverytui.tui.messages import CollectionFailed, SnapshotArrived
from tests.tui_helpers import cell, shown, wait_until


class ScriptedInspector:
    """Serves given log-end offsets per poll (committed 0), then holds until the app quits."""

    def __init__(self, polls: list[list[int]]) -> None:
        self.polls = polls
        self.served = 0
        self.cancel: threading.Event | None = None
        self.start = datetime(2026, 1, 1, tzinfo=UTC)

    def snapshot(self, group: str) -> GroupSnapshot:
        if self.served >= len(self.polls):
            assert self.cancel is not None
            self.cancel.wait()
            raise CollectionCancelled("done")
        ends = self.polls[self.served]
        self.served += 1
        rows = tuple(PartitionRow("t", p, 0, None, None, end, end, 0, None, None, None) for p, end in enumerate(ends))
        return GroupSnapshot(group, "Empty", "classic", None, None, (), rows, self.start + timedelta(seconds=2 * self.served))

    def close(self) -> None:
        pass


def scripted_app(polls: list[list[int]], resort_seconds: float) -> DeliveryApp:
    inspector = ScriptedInspector(polls)

    def factory(config: ViewerConfig, group: str, cancel: threading.Event) -> GroupFetcher:
        inspector.cancel = cancel
        return GroupFetcher(config, group, cancel, inspector=inspector, read_positions=False)

    config = ViewerConfig(bootstrap="scripted", group="g", refresh_seconds=0.05, resort_seconds=resort_seconds)
    return DeliveryApp(config, fetcher_factory=factory)


async def test_lag_changes_update_cells_in_place_and_reorder_only_when_due() -> None:
    polls = [[30, 20, 10], [5, 20, 40]]  # the lag order flips on the second poll
    calm = scripted_app(polls, resort_seconds=3600)
    async with calm.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: cell(calm, "t:2", "lag") == "40", what="second poll")
        assert cell(calm, "t:0", "lag") == "5"
        assert shown(calm) == ["t:0", "t:1", "t:2"]  # cells moved, rows did not (yet)
        await pilot.press("s", "s")  # choosing a sort re-orders at once
        assert shown(calm) == ["t:2", "t:1", "t:0"]

    eager = scripted_app(polls, resort_seconds=0)
    async with eager.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: cell(eager, "t:2", "lag") == "40", what="second poll")
        assert shown(eager) == ["t:2", "t:1", "t:0"]


async def test_cursor_keys_scroll_a_large_table_and_only_visible_rows_are_rendered() -> None:
    polls = [[1000 + p for p in range(2000)]]  # lag 1000 + p: the lag sort puts partition 1999 first
    app = scripted_app(polls, resort_seconds=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 2000, what="2,000 rows")
        table = app.query_one("#partitions")
        table.focus()
        assert table.selected_key == "t:1999"
        await pilot.press("down", "down")
        assert table.selected_key == "t:1997"
        await pilot.press("end")
        assert table.selected_key == "t:0"
        assert table.scroll_y > 1900  # the last row was scrolled into view
        await pilot.press("pageup")
        assert table.selected_key not in ("t:0", "t:1", "t:2")
        await pilot.pause(0.2)
        # The highlighted partition drives the side panel (the worker is told which series to keep).
        assert app._fetcher.selected_key == table.selected_key
        await pilot.press("home")
        assert table.selected_key == "t:1999" and table.scroll_y == 0
        # Strips are built for the screen, not for the table: at most a few screens' worth are cached.
        assert 0 < len(table._line_cache) <= 4 * max(table.size.height, 50)
        # A click on a row (below the header line) selects it.
        await pilot.click("#partitions", offset=(3, 3))
        assert table.selected_key == "t:1997"



async def test_a_poll_answered_while_textual_shuts_down_is_dropped_not_raised() -> None:
    """CI once failed with ScreenStackError: ``run_test`` shuts the app down while
    its message loop still runs, and a poll answer queued just before was shown to an app whose
    screens were already popped. Such an answer, or a failure, is now dropped."""
    app = scripted_app([[5]], resort_seconds=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.polls_completed == 1, what="first snapshot")
        assert not app.closing
        update = app.update
    assert update is not None and not app.screen_stack and app.closing
    app.show_snapshot(SnapshotArrived(update, "g"))
    app.show_failure(CollectionFailed("unreachable", "cannot reach Kafka", "g"))
    assert app.polls_completed == 1 and app.failures == 0
