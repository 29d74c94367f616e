"""Burrow's lag statuses on synthetic snapshot sequences: one sequence per status, then rule order.

Every snapshot is built by hand with a controlled ``taken_at``, so each rule is exercised
exactly at its boundary. The window is 4 entries and folding is off unless a test says
otherwise, which keeps the sequences short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from deliverytui.lag import CommitWindow, LagHistory, LagSettings, evaluate_partition_status
from deliverytui.model.group import GroupSnapshot, PartitionRow
from deliverytui.model.lag import GroupLagView, LagStatus, worst_status

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SMALL_WINDOW = LagSettings(window_size=4, min_entry_interval_s=0.0, allowed_lag=0)
OWNER = "member-1"


def partition_row(
    committed: int | None,
    log_end: int | None,
    *,
    topic: str = "orders",
    partition: int = 0,
    owner: str | None = OWNER,
) -> PartitionRow:
    """A partition row with only what lag evaluation reads filled in."""
    return PartitionRow(
        topic=topic,
        partition=partition,
        committed_offset=committed,
        committed_metadata=None,
        committed_leader_epoch=None,
        log_end_offset=log_end,
        last_stable_offset=log_end,
        log_start_offset=0,
        member_id=owner,
        client_id="client-1" if owner else None,
        host="10.0.0.1" if owner else None,
    )


def group_snapshot(
    at_seconds: float, rows: Iterable[PartitionRow], group_id: str = "billing"
) -> GroupSnapshot:
    """A snapshot taken ``at_seconds`` after :data:`T0`."""
    return GroupSnapshot(
        group_id=group_id,
        state="Stable",
        protocol="classic",
        coordinator=None,
        partition_assignor="range",
        members=(),
        partitions=tuple(rows),
        taken_at=T0 + timedelta(seconds=at_seconds),
    )


def observe_sequence(
    history: LagHistory, steps: Sequence[tuple[float, int | None, int | None]], *, owner: str | None = OWNER
) -> list[GroupLagView]:
    """Feed one partition through ``steps`` of ``(at_seconds, committed, log_end)``; return every view."""
    return [
        history.observe(group_snapshot(at, [partition_row(committed, log_end, owner=owner)]))
        for at, committed, log_end in steps
    ]


def statuses(views: Sequence[GroupLagView], key: str = "orders:0") -> list[LagStatus]:
    return [view.partitions[key].status for view in views]


# -- one sequence per status ---------------------------------------------------------------


def test_ok_when_the_lag_reached_zero_inside_the_window() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        [(0, 0, 50), (2, 20, 60), (4, 70, 70), (6, 75, 90), (8, 80, 110)],  # lag 50, 40, 0, 15, 30
    )
    # The last window (lags 40, 0, 15, 30) holds a zero: OK even though the lag now grows.
    assert statuses(views) == [LagStatus.OK] * 5
    assert views[-1].status is LagStatus.OK


def test_allowed_lag_counts_a_small_lag_as_caught_up() -> None:
    # Offset stuck at 100 while 3 more records arrive: STALL with allowed lag 0, OK with 5.
    steps = [(0, 100, 101), (2, 100, 102), (4, 100, 103), (6, 100, 104)]
    strict = observe_sequence(LagHistory(SMALL_WINDOW), steps)
    tolerant = observe_sequence(
        LagHistory(LagSettings(window_size=4, min_entry_interval_s=0.0, allowed_lag=5)), steps
    )
    assert strict[-1].status is LagStatus.STALL
    assert tolerant[-1].status is LagStatus.OK


def test_warn_when_offsets_advance_but_lag_never_decreases() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        [(0, 0, 100), (2, 10, 115), (4, 20, 130), (6, 30, 145)],  # lag 100, 105, 110, 115
    )
    # Not judged before the window is full (two samples between commits look the same).
    assert statuses(views) == [LagStatus.OK, LagStatus.OK, LagStatus.OK, LagStatus.WARN]


def test_one_lag_decrease_in_the_window_is_enough_for_ok() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        [(0, 0, 100), (2, 10, 115), (4, 40, 130), (6, 50, 145)],  # lag 100, 105, 90, 95
    )
    assert views[-1].partitions["orders:0"].status is LagStatus.OK


def test_stall_when_an_owned_partition_never_moves_with_lag() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        [(0, 500, 600), (2, 500, 610), (4, 500, 620), (6, 500, 630), (8, 500, 640)],
    )
    assert statuses(views) == [LagStatus.OK, LagStatus.OK, LagStatus.OK, LagStatus.STALL, LagStatus.STALL]


def test_stop_when_nobody_owns_the_partition_and_commits_stopped_for_longer_than_the_window_span() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        # Commits at 0, 2, 4 (span 4 s), then the offset stays put with nobody owning the partition.
        [(0, 0, 100), (2, 10, 100), (4, 20, 100), (6, 20, 100), (8, 20, 100), (9, 20, 100)],
        owner=None,
    )
    # 8 - 4 = 4 s is not more than the 4 s span; 9 - 4 = 5 s is.
    assert statuses(views) == [LagStatus.OK] * 5 + [LagStatus.STOP]


def test_stop_after_the_owner_leaves_a_stalled_partition() -> None:
    history = LagHistory(SMALL_WINDOW)
    owned = observe_sequence(history, [(0, 500, 600), (2, 500, 610), (4, 500, 620), (6, 500, 630)])
    orphaned = observe_sequence(history, [(9, 500, 640), (13, 500, 650)], owner=None)
    # Owned: evidence every snapshot, so STALL, never STOP. Orphaned: 13 - 6 = 7 s > 6 s span.
    assert owned[-1].status is LagStatus.STALL
    assert statuses(orphaned) == [LagStatus.STALL, LagStatus.STOP]


def test_stop_on_a_group_nobody_consumes_from_the_second_snapshot() -> None:
    # One entry spans 0 s, so any time without a new commit exceeds it (as in Burrow).
    views = observe_sequence(LagHistory(SMALL_WINDOW), [(0, 40, 90), (2, 40, 95)], owner=None)
    assert statuses(views) == [LagStatus.OK, LagStatus.STOP]


def test_rewind_when_the_committed_offset_goes_backwards_until_the_step_leaves_the_window() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW),
        [(0, 100, 200), (2, 110, 200), (4, 50, 200), (6, 60, 200), (8, 70, 200), (10, 80, 200)],
    )
    # The step 110 -> 50 is the pair (entry 2, entry 3); it leaves when entry 2 is evicted at t=10.
    assert statuses(views) == [LagStatus.OK, LagStatus.OK] + [LagStatus.REWIND] * 3 + [LagStatus.OK]
    assert [(r.previous_offset, r.current_offset, r.redelivered) for r in views[2].rewinds] == [(110, 50, 60)]


def test_unknown_without_a_commit_or_without_a_log_end_offset() -> None:
    history = LagHistory(SMALL_WINDOW)
    view = history.observe(
        group_snapshot(0, [partition_row(None, 100, partition=0), partition_row(5, None, partition=1)])
    )
    for key in ("orders:0", "orders:1"):
        partition = view.partitions[key]
        assert partition.status is LagStatus.UNKNOWN
        assert partition.lag is None and partition.trend is None and partition.time_lag_seconds is None
    assert view.partitions["orders:0"].seconds_since_commit_moved is None
    assert view.status is LagStatus.UNKNOWN
    assert LagStatus.UNKNOWN.value == "-"


# -- rule order (Burrow's calculatePartitionStatus) -----------------------------------------


def test_caught_up_at_any_point_wins_over_rewind() -> None:
    views = observe_sequence(LagHistory(SMALL_WINDOW), [(0, 200, 200), (2, 50, 200)])
    assert views[-1].partitions["orders:0"].status is LagStatus.OK
    assert len(views[-1].rewinds) == 1  # the reset is still reported as an event


def test_rewind_wins_over_stop() -> None:
    views = observe_sequence(
        LagHistory(SMALL_WINDOW), [(0, 100, 200), (1, 50, 200), (30, 50, 200)], owner=None
    )
    assert views[-1].partitions["orders:0"].status is LagStatus.REWIND


def test_stop_wins_over_stall() -> None:
    window = CommitWindow(capacity=3)
    for at in (0.0, 1.0, 2.0):
        window.append(at, 10, 5)
    assert evaluate_partition_status(window, 5, now_s=2.5, last_commit_evidence_s=None) is LagStatus.STALL
    assert evaluate_partition_status(window, 5, now_s=4.5, last_commit_evidence_s=None) is LagStatus.STOP


def test_stall_wins_over_warn() -> None:
    window = CommitWindow(capacity=3)
    for at, lag in ((0.0, 5), (1.0, 6), (2.0, 7)):  # offset still, lag rising: both rules hold
        window.append(at, 10, lag)
    assert evaluate_partition_status(window, 7, now_s=2.0, last_commit_evidence_s=2.0) is LagStatus.STALL


def test_evaluator_on_an_empty_window_is_unknown() -> None:
    assert evaluate_partition_status(CommitWindow(3), 10, 0.0, None) is LagStatus.UNKNOWN
    assert evaluate_partition_status(CommitWindow(3), None, 0.0, None) is LagStatus.UNKNOWN


# -- the group ---------------------------------------------------------------------------------


def test_group_status_is_its_worst_partition_and_counts_every_status() -> None:
    history = LagHistory(SMALL_WINDOW)
    view = None
    for step, at in enumerate((0, 2, 4, 6)):
        view = history.observe(
            group_snapshot(
                at,
                [
                    partition_row(100 + step, 100 + step, partition=0),  # caught up: OK
                    partition_row(7, 50 + step, partition=1),  # owned, stuck: STALL
                    partition_row(None, 30, partition=2),  # nothing committed: UNKNOWN
                ],
            )
        )
    assert view is not None
    assert view.status is LagStatus.STALL
    assert view.status_counts[LagStatus.OK] == 1
    assert view.status_counts[LagStatus.STALL] == 1
    assert view.status_counts[LagStatus.UNKNOWN] == 1
    assert sum(view.status_counts.values()) == 3
    assert set(view.status_counts) == set(LagStatus)


def test_worst_status_orders_rewind_stop_stall_warn_ok_unknown() -> None:
    order = [
        LagStatus.UNKNOWN,
        LagStatus.OK,
        LagStatus.WARN,
        LagStatus.STALL,
        LagStatus.STOP,
        LagStatus.REWIND,
    ]
    assert [status.severity for status in order] == sorted(status.severity for status in order)
    for index, status in enumerate(order):
        assert worst_status(order[: index + 1]) is status
    assert worst_status([]) is LagStatus.UNKNOWN


@pytest.mark.parametrize("window_size", [0, 1])
def test_a_window_must_hold_at_least_two_entries(window_size: int) -> None:
    with pytest.raises(ValueError):
        LagSettings(window_size=window_size)
