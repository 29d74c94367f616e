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
from deliverytui.model.group import GroupSnapshot, MemberInfo, PartitionRow
from deliverytui.model.lag import (
    GroupLagView,
    LagStatus,
    partition_ranges,
    summarize_status_changes,
    worst_status,
)

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


#: A member of the group that owns none of the partitions under test: its presence alone keeps
#: Burrow's window-span STOP rule in force (a group with no members is judged faster, see below).
BYSTANDER = MemberInfo(member_id="bystander", client_id="other", host="10.0.0.2", group_instance_id=None, assignment=())


def group_snapshot(
    at_seconds: float, rows: Iterable[PartitionRow], group_id: str = "billing", *, members_present: bool = True
) -> GroupSnapshot:
    """A snapshot taken ``at_seconds`` after :data:`T0`; the group has a member unless ``members_present`` is false."""
    rows = tuple(rows)
    return GroupSnapshot(
        group_id=group_id,
        state="Stable" if members_present else "Empty",
        protocol="classic",
        coordinator=None,
        partition_assignor="range",
        members=(BYSTANDER,) if members_present else (),
        partitions=rows,
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


def test_stop_wins_over_rewind() -> None:
    # Burrow checks "stopped" first: a consumer that rewound and then died is a stopped consumer.
    views = observe_sequence(
        LagHistory(SMALL_WINDOW), [(0, 100, 200), (1, 50, 200), (30, 50, 200)], owner=None
    )
    assert views[1].partitions["orders:0"].status is LagStatus.REWIND
    assert views[-1].partitions["orders:0"].status is LagStatus.STOP


def test_stop_wins_over_having_been_caught_up() -> None:
    # The at-least-once consumer was caught up, then crashed; the window still holds its lag-0 commits.
    views = observe_sequence(
        LagHistory(SMALL_WINDOW), [(0, 100, 100), (2, 110, 110), (4, 120, 120), (6, 120, 150), (11, 120, 300)], owner=None
    )
    assert statuses(views) == [LagStatus.OK] * 4 + [LagStatus.STOP]


# -- a group with no members: the verdict does not depend on when the view attached ---------------

DEFAULT_WINDOW = LagSettings()  # 10 entries, 5 s minimum interval (the default auto-commit interval)


def _dead_consumer_sequence(attach_at: float) -> list[LagStatus]:
    """A consumer commits every 5 s with lag 0 until it dies at 60 s; producers go on. The view
    attaches at ``attach_at``; the statuses from 70 s on are returned."""
    history = LagHistory(DEFAULT_WINDOW)
    seen: list[LagStatus] = []
    at = attach_at
    while at <= 90:
        alive = at < 60
        committed = int(min(at, 59) // 5 * 5) * 10  # its last commit is at 55 s
        log_end = committed if alive else int(at * 10)
        row = partition_row(committed, log_end, owner=OWNER if alive else None)
        view = history.observe(group_snapshot(at, [row], members_present=alive))
        if at >= 70:
            seen.append(view.partitions["orders:0"].status)
        at += 2
    return seen


def test_a_dead_consumer_is_stop_whenever_the_view_attached() -> None:
    before_the_crash = _dead_consumer_sequence(attach_at=0)
    after_the_crash = _dead_consumer_sequence(attach_at=64)
    assert set(before_the_crash) == {LagStatus.STOP}, before_the_crash
    assert before_the_crash == after_the_crash


def test_a_consumer_committing_every_five_seconds_without_joining_is_not_flagged() -> None:
    # assign()-style: no members, commits every 5 s (auto-commit), refreshes every 2 s.
    history = LagHistory(DEFAULT_WINDOW)
    seen = []
    for step in range(40):
        at = step * 2.0
        committed = int(at // 5) * 50
        view = history.observe(group_snapshot(at, [partition_row(committed, committed + 20, owner=None)], members_present=False))
        seen.append(view.partitions["orders:0"].status)
    # The first snapshots hold a one-entry window, which is STOP until the offset first moves
    # (Burrow's rule, and the reason a late-attached view agrees); after that, never.
    first_move = next(i for i, status in enumerate(seen) if i and status is LagStatus.OK)
    assert first_move <= 3 and LagStatus.STOP not in seen[first_move:], seen


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


# -- floods: simultaneous identical transitions are one line ------------------------------------


def test_a_thousand_partitions_going_stop_together_are_one_event_line() -> None:
    history = LagHistory(SMALL_WINDOW)
    rows = [partition_row(10, 50, topic="wide", partition=p, owner=None) for p in range(1000)]
    history.observe(group_snapshot(0, rows, members_present=False))
    view = history.observe(group_snapshot(2, rows, members_present=False))
    assert len(view.status_changes) == 1000
    lines = summarize_status_changes(view.status_changes)
    assert [(line, status) for line, status, _ in lines] == [("1,000 partitions OK → STOP: wide:0, wide:1, wide:2 and 997 more", LagStatus.STOP)]
    assert lines[0][2] == tuple(f"wide:{p}" for p in range(1000))  # every partition, for the log's e
    assert partition_ranges(lines[0][2]) == ["wide: 0–999"]


def test_a_few_transitions_keep_their_own_lines() -> None:
    history = LagHistory(SMALL_WINDOW)
    rows = [partition_row(10, 50, partition=p, owner=None) for p in range(2)]
    history.observe(group_snapshot(0, rows, members_present=False))
    view = history.observe(group_snapshot(2, rows, members_present=False))
    assert [(line, keys) for line, _, keys in summarize_status_changes(view.status_changes)] == [
        ("orders:0: OK → STOP", ()), ("orders:1: OK → STOP", ()),
    ]


def test_partition_ranges_compress_runs_per_topic() -> None:
    keys = ["b:3", "a:0", "a:1", "a:2", "a:7", "b:4", "a:9", "a:8", "odd:topic:12"]
    assert partition_ranges(keys) == ["a: 0–2, 7–9", "b: 3–4", "odd:topic: 12"]
