"""FleetTracker: every group's verdict, trend, time-lag estimate and drain ETA from readings alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliverytui.lag.fleet import FleetTracker
from deliverytui.model.fleet import FleetGroupReading, FleetReading
from deliverytui.model.lag import LagStatus

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def group(name: str, lags: dict[int, tuple[int | None, int | None]], *, members: int = 0, state: str = "Empty",
          group_type: str = "classic", error: str | None = None) -> FleetGroupReading:
    partition_lags = {("t", p): v for p, v in lags.items()}
    known = [e - c for c, e in lags.values() if c is not None and e is not None]
    return FleetGroupReading(name, group_type, state, members, ("t",), sum(known) if known else None, partition_lags, error)


def reading(at_s: float, *groups: FleetGroupReading) -> FleetReading:
    return FleetReading(groups, START + timedelta(seconds=at_s))


def test_a_stopped_group_with_a_running_producer_is_stop_rising_and_falling_behind() -> None:
    tracker = FleetTracker()
    snapshot = None
    for step in range(12):  # every 5 s, the producer writes 50 records; nobody commits
        snapshot = tracker.observe(reading(5 * step, group("stopped", {0: (100, 100 + 50 * step)})))
    assert snapshot is not None
    (row,) = snapshot.rows
    assert row.status is LagStatus.STOP
    assert row.trend == "rising"
    assert row.drain_eta_s is None
    assert row.drain_text == "falling behind +10.0/s"
    # Committed 100 was the log end at t=0, 55 s before the last reading.
    assert row.max_time_lag_s == pytest.approx(55.0)


def test_a_draining_consumer_gets_an_eta_of_lag_over_net_rate() -> None:
    tracker = FleetTracker()
    snapshot = None
    for step in range(6):  # produce 10/s, consume 30/s from 1,000 behind
        end = 2000 + 10 * 5 * step
        committed = 1000 + 30 * 5 * step
        snapshot = tracker.observe(reading(5 * step, group("drainer", {0: (committed, end)}, members=1, state="Stable")))
    assert snapshot is not None
    (row,) = snapshot.rows
    assert row.status is LagStatus.OK
    assert row.trend == "falling"
    assert row.total_lag == 2250 - 1750
    assert row.drain_eta_s == pytest.approx(500 / 20)
    assert row.drain_text.startswith("drains in 25 s")


def test_caught_up_is_zero_time_lag_and_says_so() -> None:
    tracker = FleetTracker()
    for step in range(3):
        snapshot = tracker.observe(reading(5 * step, group("idle", {0: (40, 40), 1: (7, 7)}, members=1, state="Stable")))
    (row,) = snapshot.rows
    assert (row.status, row.total_lag, row.max_time_lag_s, row.drain_text) == (LagStatus.OK, 0, 0.0, "caught up")


def test_rows_are_worst_first_then_by_lag_then_by_name() -> None:
    tracker = FleetTracker()
    for step in range(12):
        snapshot = tracker.observe(reading(
            5 * step,
            group("b-ok-small", {0: (10 + step, 12 + step)}, members=1, state="Stable"),
            group("a-ok-big", {0: (10 + step, 500 + step)}, members=1, state="Stable"),
            group("z-stop", {0: (5, 6 + step)}),
            group("m-ok-small", {0: (10 + step, 12 + step)}, members=1, state="Stable"),
        ))
    assert [row.group_id for row in snapshot.rows] == ["z-stop", "a-ok-big", "b-ok-small", "m-ok-small"]


def test_before_two_readings_nothing_is_estimated() -> None:
    (row,) = FleetTracker().observe(reading(0, group("new", {0: (0, 30)}))).rows
    assert (row.max_time_lag_s, row.drain_eta_s, row.drain_text, row.trend) == (None, None, "-", "flat")


def test_a_group_that_could_not_be_read_is_unknown_with_its_error_and_others_still_rank() -> None:
    snapshot = FleetTracker().observe(reading(
        0, group("denied", {}, error="not authorized to describe group 'denied'"), group("fine", {0: (1, 2)}),
    ))
    by_name = {row.group_id: row for row in snapshot.rows}
    assert by_name["denied"].status is LagStatus.UNKNOWN
    assert by_name["denied"].error == "not authorized to describe group 'denied'"
    assert by_name["fine"].total_lag == 1


def test_a_group_that_disappears_is_forgotten_and_a_recreated_one_starts_afresh() -> None:
    tracker = FleetTracker()
    for step in range(12):
        tracker.observe(reading(5 * step, group("g", {0: (0, 10 + 10 * step)})))
    tracker.observe(reading(60, group("other", {0: (1, 1)})))
    assert len(tracker) == 1
    (row,) = tracker.observe(reading(65, group("g", {0: (0, 10)}), group("other", {0: (1, 1)}))).rows[:1]
    assert row.group_id == "g" and row.status is not LagStatus.STOP and row.max_time_lag_s is None


def test_an_owned_partition_that_does_not_move_is_stall_not_stop() -> None:
    tracker = FleetTracker()
    for step in range(12):  # a member owns it, the commit never moves, the log grows
        snapshot = tracker.observe(reading(5 * step, group("stuck", {0: (3, 10 + step)}, members=1, state="Stable")))
    assert snapshot.rows[0].status is LagStatus.STALL


def test_a_stopped_group_behind_a_log_end_that_never_moves_shows_a_lower_bound_not_zero() -> None:
    """Found on the fleet screen: a caught-up partition's 0 s spoke for a group stuck 30 records behind."""
    tracker = FleetTracker()
    for step in range(7):  # no producer: log end flat at 50; partition 0 stuck at 20, partition 1 caught up
        snapshot = tracker.observe(reading(5 * step, group("stuck", {0: (20, 50), 1: (50, 50)})))
    (row,) = snapshot.rows
    assert row.total_lag == 30
    assert row.time_lag_at_least is True
    assert row.max_time_lag_s == pytest.approx(30.0)  # watched for 30 s: the record is at least that old


def test_one_reading_of_a_lagging_group_is_unknown_not_zero() -> None:
    (row,) = FleetTracker().observe(reading(0, group("stuck", {0: (20, 50), 1: (50, 50)}))).rows
    assert (row.max_time_lag_s, row.time_lag_at_least) == (None, False)
