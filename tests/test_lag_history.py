"""Lag history bookkeeping: the window's counters, folding, events, trends, series, forgetting.

Statuses themselves are in ``test_lag_status.py``; these tests are about what the history
remembers between snapshots and what the immutable view reports.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from deliverytui.lag import CommitWindow, LagHistory, LagSettings, time_lag_seconds
from deliverytui.model.lag import LagStatus, LagTrend
from tests.test_lag_status import SMALL_WINDOW, T0, group_snapshot, observe_sequence, partition_row


def recount(window: CommitWindow) -> tuple[int, int, int, int]:
    """The window's counters computed the slow way, from its entries."""
    entries = list(window.entries)
    pairs = list(zip(entries, entries[1:]))
    return (
        sum(1 for _, _, lag in entries if lag <= window.allowed_lag),
        sum(1 for older, newer in pairs if newer[1] < older[1]),
        sum(1 for older, newer in pairs if newer[1] != older[1]),
        sum(1 for older, newer in pairs if newer[2] < older[2]),
    )


def counters(window: CommitWindow) -> tuple[int, int, int, int]:
    return (window.caught_up, window.backward_steps, window.offset_changes, window.lag_decreases)


# -- the window --------------------------------------------------------------------------------


def test_window_counters_match_a_recount_through_evictions_and_folds() -> None:
    randomness = random.Random(20240501)
    window = CommitWindow(capacity=5, allowed_lag=2)
    now_s = 0.0
    for _ in range(2000):
        now_s += randomness.choice([0.5, 1.0, 3.0])
        offset = randomness.randint(0, 12)  # small ranges: many equal offsets, rewinds and zero lags
        lag = randomness.randint(0, 6)
        window.record(now_s, offset, lag, min_interval_s=2.0)
        assert counters(window) == recount(window)
        assert len(window) <= 5


def test_window_evicts_the_oldest_entry_when_full() -> None:
    window = CommitWindow(capacity=3)
    for at, offset in ((0.0, 1), (1.0, 2), (2.0, 3), (3.0, 4)):
        window.append(at, offset, 10)
    assert [entry[1] for entry in window.entries] == [2, 3, 4]
    assert window.span_s == 2.0
    assert window.is_full


def test_history_window_never_exceeds_the_window_size() -> None:
    views = observe_sequence(LagHistory(SMALL_WINDOW), [(at, at, at + 10) for at in range(0, 40, 2)])
    assert max(view.partitions["orders:0"].window_entries for view in views) == SMALL_WINDOW.window_size


def test_observations_closer_than_the_min_interval_fold_into_one_entry_keeping_its_time() -> None:
    history = LagHistory(LagSettings(window_size=4, min_entry_interval_s=5.0))
    views = observe_sequence(history, [(0, 0, 100), (2, 10, 100), (4, 20, 100), (6, 30, 100)])
    # 0, 2, 4 fold into the entry opened at 0; 6 opens a new one.
    assert [view.partitions["orders:0"].window_entries for view in views] == [1, 1, 1, 2]


def test_a_backward_step_is_never_folded_away() -> None:
    history = LagHistory(LagSettings(window_size=4, min_entry_interval_s=5.0))
    views = observe_sequence(history, [(0, 100, 300), (1, 50, 300)])
    assert views[-1].partitions["orders:0"].window_entries == 2
    assert views[-1].partitions["orders:0"].status is LagStatus.REWIND


# -- events ------------------------------------------------------------------------------------


def test_status_changes_are_reported_once_and_not_on_first_sight() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW), [(0, 500, 600), (2, 500, 610), (4, 500, 620), (6, 500, 630), (8, 500, 640)]
    )
    assert [len(view.status_changes) for view in views] == [0, 0, 0, 1, 0]
    change = views[3].status_changes[0]
    assert (change.key, change.previous, change.current) == ("orders:0", LagStatus.OK, LagStatus.STALL)
    assert change.at == views[3].taken_at
    assert change.describe() == "orders:0: OK → STALL"


def test_rewind_event_names_the_old_and_new_offsets() -> None:
    history = LagHistory(SMALL_WINDOW)
    history.observe(group_snapshot(0, [partition_row(900, 1000)]))
    view = history.observe(group_snapshot(2, [partition_row(400, 1000)]))
    (rewind,) = view.rewinds
    assert (rewind.key, rewind.previous_offset, rewind.current_offset) == ("orders:0", 900, 400)
    assert rewind.redelivered == 500
    assert rewind.describe() == (
        "reset seen on orders:0: committed 900 → 400 (500 records will be redelivered)"
    )


def test_rewind_is_seen_across_a_snapshot_without_a_committed_offset() -> None:
    # Offsets deleted (kafka-consumer-groups --delete-offsets), then committed again lower.
    views = observe_sequence(LagHistory(SMALL_WINDOW), [(0, 900, 1000), (2, None, 1000), (4, 100, 1000)])
    assert views[1].partitions["orders:0"].status is LagStatus.UNKNOWN
    assert [(r.previous_offset, r.current_offset) for r in views[2].rewinds] == [(900, 100)]


# -- per-partition values ----------------------------------------------------------------------


def test_trend_and_delta_compare_the_current_lag_with_the_window_oldest() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW), [(0, 0, 100), (2, 10, 120), (4, 60, 120), (6, 120, 160), (8, 140, 180)]
    )  # lags 100, 110, 60, 40, 40
    partitions = [view.partitions["orders:0"] for view in views]
    assert [p.lag_delta for p in partitions] == [0, 10, -40, -60, -70]  # window oldest is lag 110 at t=8
    assert [p.trend for p in partitions] == [
        LagTrend.FLAT,
        LagTrend.RISING,
        LagTrend.FALLING,
        LagTrend.FALLING,
        LagTrend.FALLING,
    ]
    assert str(LagTrend.RISING) == "rising"  # the table renders str(trend)


def test_seconds_since_commit_moved_is_a_lower_bound_until_a_move_is_seen() -> None:
    views = observe_sequence(LagHistory(SMALL_WINDOW), [(0, 10, 50), (3, 10, 50), (5, 20, 50), (12, 20, 50)])
    partitions = [view.partitions["orders:0"] for view in views]
    moved = [(p.seconds_since_commit_moved, p.commit_move_seen) for p in partitions]
    assert moved == [(0.0, False), (3.0, False), (0.0, True), (7.0, True)]


# -- sparklines and totals ---------------------------------------------------------------------


def test_series_are_bounded_and_the_selected_partition_series_is_carried_on_request() -> None:
    history = LagHistory(LagSettings(window_size=4, min_entry_interval_s=0.0, series_length=3))
    view = None
    for step in range(5):
        view = history.observe(
            group_snapshot(
                step * 2,
                [
                    partition_row(0, step, partition=0),
                    partition_row(0, 10 * step, partition=1),
                    partition_row(None, 9, partition=2),
                ],
            ),
            series_keys=("orders:1", "orders:9"),
        )
    assert view is not None
    assert view.total_lag_series == (22, 33, 44)  # unknown lag counts for nothing
    assert view.total_lag == 44
    assert dict(view.partition_lag_series) == {"orders:1": (20, 30, 40)}  # unknown keys are left out
    assert history.lag_series("orders:0") == (2, 3, 4)
    assert history.lag_series("orders:2") == (0, 0, 0)
    assert history.lag_series("nosuch:3") == () and history.lag_series("garbage") == ()


def test_negative_lag_is_reported_as_read_but_evaluated_and_summed_as_zero() -> None:
    view = LagHistory(SMALL_WINDOW).observe(group_snapshot(0, [partition_row(120, 100)]))
    assert view.partitions["orders:0"].lag == -20
    assert view.partitions["orders:0"].status is LagStatus.OK
    assert view.total_lag == 0


def test_the_view_cannot_be_changed_by_the_ui_thread() -> None:
    view = LagHistory(SMALL_WINDOW).observe(group_snapshot(0, [partition_row(1, 2)]))
    with pytest.raises(TypeError):
        view.partitions["orders:9"] = view.partitions["orders:0"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.partitions["orders:0"].status = LagStatus.STOP  # type: ignore[misc]


# -- partitions and groups coming and going ----------------------------------------------------


def test_absent_partitions_are_forgotten_after_forget_after_absent_snapshots() -> None:
    history = LagHistory(LagSettings(window_size=4, min_entry_interval_s=0.0, forget_after_absent=2))
    both = [partition_row(5, 5, partition=0), partition_row(5, 5, partition=1)]  # caught up: stays OK
    only_first = both[:1]
    history.observe(group_snapshot(0, both))
    history.observe(group_snapshot(2, only_first))
    assert len(history) == 2  # absent once: still remembered
    history.observe(group_snapshot(4, only_first))
    assert len(history) == 1 and history.lag_series("orders:1") == ()
    back = history.observe(group_snapshot(6, both))
    assert back.partitions["orders:1"].window_entries == 1  # starts afresh
    assert back.status_changes == ()  # a returning partition has no previous status to change from


def test_an_empty_snapshot_is_an_unknown_group_with_no_partitions() -> None:
    history = LagHistory(SMALL_WINDOW)
    history.observe(group_snapshot(0, [partition_row(5, 10)]))
    view = history.observe(group_snapshot(2, []))
    assert view.status is LagStatus.UNKNOWN
    assert dict(view.partitions) == {} and view.total_lag == 0
    assert view.total_lag_series == (5, 0)
    assert view.max_time_lag_seconds is None


def test_a_different_group_starts_the_history_afresh() -> None:
    history = LagHistory(SMALL_WINDOW)
    history.observe(group_snapshot(0, [partition_row(5, 10)], group_id="billing"))
    view = history.observe(group_snapshot(2, [partition_row(1, 10)], group_id="shipping"))
    assert view.group_id == "shipping"
    assert view.rewinds == () and view.total_lag_series == (9,)


def test_a_partition_listed_twice_in_one_snapshot_is_evaluated_once() -> None:
    view = LagHistory(SMALL_WINDOW).observe(group_snapshot(0, [partition_row(5, 10), partition_row(7, 10)]))
    assert list(view.partitions) == ["orders:0"] and view.partitions["orders:0"].lag == 5


# -- time lag ----------------------------------------------------------------------------------


def test_time_lag_is_the_age_of_the_record_at_the_committed_offset() -> None:
    now_s = 1_000.0
    assert time_lag_seconds(lag=10, record_timestamp_ms=990_500, now_s=now_s) == 9.5
    assert time_lag_seconds(lag=0, record_timestamp_ms=None, now_s=now_s) == 0.0  # caught up
    assert time_lag_seconds(lag=10, record_timestamp_ms=None, now_s=now_s) is None  # not fetched
    assert time_lag_seconds(lag=10, record_timestamp_ms=-1, now_s=now_s) is None  # broker had none
    assert time_lag_seconds(lag=None, record_timestamp_ms=990_000, now_s=now_s) is None
    assert time_lag_seconds(lag=10, record_timestamp_ms=1_005_000, now_s=now_s) == 0.0  # clock skew


def test_observe_fills_time_lag_where_a_timestamp_was_supplied() -> None:
    snapshot = group_snapshot(
        0,
        [
            partition_row(5, 10, partition=0),
            partition_row(5, 10, partition=1),
            partition_row(10, 10, partition=2),
        ],
    )
    record_ms = int(T0.timestamp() * 1000) - 42_000
    view = LagHistory(SMALL_WINDOW).observe(snapshot, record_timestamps_ms={"orders:0": record_ms})
    assert view.partitions["orders:0"].time_lag_seconds == 42.0
    assert view.partitions["orders:1"].time_lag_seconds is None
    assert view.partitions["orders:2"].time_lag_seconds == 0.0
    assert view.max_time_lag_seconds == 42.0


# -- layering ----------------------------------------------------------------------------------


def test_lag_modules_never_import_textual() -> None:
    probe = (
        "import sys, deliverytui.lag, deliverytui.model.lag\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
