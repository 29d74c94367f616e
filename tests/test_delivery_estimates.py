"""Edge cases of the time-lag estimate and the drain, through the live view's own code path.

Hand-built snapshots (whose true answers are arithmetic) go through :class:`GroupFetcher` exactly as
real ones do: lag history, :class:`DeliveryEstimates`, the row builder. Only the Kafka client is
replaced, as in the SVG tests' replay. What is asserted is what the table and the header would show.
(The estimate against the exact value on a real broker is tests/test_time_lag.py.)
"""

from __future__ import annotations

import threading

from deliverytui.tui.fetch import GroupFetcher
from deliverytui.tui.rows import COLUMN_KEYS
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import drain_phrase
from tests.replay import replay_app
from tests.test_lag_status import group_snapshot, partition_row
from tests.tui_helpers import shown, wait_until


class HandFed:
    """The inspector's one call, answered from a list the test appends to."""

    def __init__(self) -> None:
        self.queue: list = []

    def snapshot(self, group_id: str):
        return self.queue.pop(0)

    def close(self) -> None:
        pass


def fetcher() -> tuple[GroupFetcher, HandFed]:
    fed = HandFed()
    config = ViewerConfig(bootstrap="127.0.0.1:9", group="billing")
    return GroupFetcher(config, "billing", threading.Event(), inspector=fed, read_positions=False), fed


def time_lag_cell(update, key: str) -> str:
    return update.rows[key].cells[COLUMN_KEYS.index("time_lag")][0]


def feed(fetch: GroupFetcher, fed: HandFed, at: float, rows):
    fed.queue.append(group_snapshot(at, rows))
    return fetch.fetch()


def test_unknown_with_one_sample_then_interpolated_caught_up_and_uncommitted() -> None:
    fetch, fed = fetcher()
    first = feed(fetch, fed, 0.0, [
        partition_row(50, 100, partition=0), partition_row(80, 80, partition=1), partition_row(None, 30, partition=2),
    ])  # fmt: skip
    assert time_lag_cell(first, "orders:0") == "-"  # one sample of the log end: no rate, never a guess
    assert time_lag_cell(first, "orders:1") == "0s"  # caught up: nothing waits, exactly
    assert time_lag_cell(first, "orders:2") == "-"  # nothing committed
    assert first.group_drain is None and drain_phrase(first.group_drain) == "measuring…"

    # 2 s later the log end is 200 (50 records/s) and the consumer committed 150: offset 150 was the
    # log end at 1 s, so the record there has waited ~1 s, and the cell says so.
    second = feed(fetch, fed, 2.0, [
        partition_row(150, 200, partition=0), partition_row(80, 80, partition=1), partition_row(None, 40, partition=2),
    ])  # fmt: skip
    assert second.rows["orders:0"].time_lag == 1.0
    assert time_lag_cell(second, "orders:0") == "~1.0s"
    assert time_lag_cell(second, "orders:1") == "0s"
    assert time_lag_cell(second, "orders:2") == "-"
    # Consumed 50/s and produced 50/s on partition 0; partition 1 idle: the backlog of 50 holds.
    drain = second.group_drain
    assert drain is not None and drain.consume_rate == 50.0 and drain.produce_rate == 50.0
    assert drain_phrase(drain) == "not draining (net 0/s)"


def test_a_consumer_stopped_long_ago_ages_with_the_clock_and_a_recreated_topic_forgets() -> None:
    fetch, fed = fetcher()
    for at, log_end in [(0.0, 0), (10.0, 100), (20.0, 200)]:
        update = feed(fetch, fed, at, [partition_row(100, log_end)])
    assert update.rows["orders:0"].time_lag == 10.0  # offset 100 was the log end at 10 s
    for at in (80.0, 200.0, 7210.0):  # nothing produced or consumed since: the record only gets older
        update = feed(fetch, fed, at, [partition_row(100, 200)])
    assert time_lag_cell(update, "orders:0") == "~2.0h"  # 7,200 s
    assert drain_phrase(update.group_drain) == "not draining (net 0/s)"
    # The topic is re-created: the log end goes back to 5. Its history described another log.
    update = feed(fetch, fed, 7212.0, [partition_row(0, 5)])
    assert time_lag_cell(update, "orders:0") == "-"
    assert update.group_drain is None


def test_falling_behind_and_draining_from_the_rates() -> None:
    fetch, fed = fetcher()
    fetch.selected_key = "orders:0"
    feed(fetch, fed, 0.0, [partition_row(0, 100, partition=0), partition_row(0, 100, partition=1)])
    update = feed(fetch, fed, 10.0, [partition_row(0, 300, partition=0), partition_row(300, 350, partition=1)])
    # Partition 0: nobody consumes, 20/s produced. Partition 1: 30/s consumed, 25/s produced.
    assert update.selected_drain is not None and update.selected_drain[0] == "orders:0"
    assert drain_phrase(update.selected_drain[1]) == "falling behind +20.0/s"
    group = update.group_drain  # 30/s consumed, 45/s produced over the group: the backlog grows 15/s
    assert drain_phrase(group) == "falling behind +15.0/s"
    update = feed(fetch, fed, 20.0, [partition_row(300, 300, partition=0), partition_row(350, 350, partition=1)])
    assert drain_phrase(update.group_drain) == "caught up"


async def test_s_sorts_by_estimated_time_lag_on_the_third_press() -> None:
    """Replayed snapshots of a real group: ``s`` cycles lag → partition → time lag, and the header says which."""
    app = replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.polls_completed >= 3, what="the replay")
        table = app.query_one("#partitions")
        await pilot.press("s", "s")
        assert "Time lag↓" in table.render_line(0).text  # the header line as drawn
        rows = app.update.rows
        ages = [rows[key].time_lag for key in shown(app)]
        assert ages == sorted(ages, reverse=True) and ages[0] > 0
