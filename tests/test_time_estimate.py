"""The time-lag estimate and the drain ETA, on histories whose true answer is known.

A producer at a known rate defines exactly when each offset became the log end, so the exact
time lag of any committed offset is arithmetic; the estimate, fed only refresh-time samples of
the log end, must stay within one refresh interval of it at a steady rate. (The comparison with
the timestamp of the real record at the committed offset, on a broker, is the live view's test.)
"""

from __future__ import annotations

import random

import pytest

from deliverytui.lag.drain import DrainEstimate, RateWindow, format_duration
from deliverytui.lag.time_estimate import LogEndPoint, LogEndTimeline


def test_fewer_than_two_points_is_unknown_and_caught_up_is_zero() -> None:
    timeline = LogEndTimeline()
    assert timeline.time_lag_s(5, now_s=10.0) is None
    timeline.add(100, 0.0)
    assert timeline.time_of(50) is None
    assert timeline.time_lag_s(100, now_s=10.0) == 0.0  # at the log end: nothing to wait for
    assert timeline.time_lag_s(None, now_s=10.0) is None


def test_interpolates_between_samples_and_keeps_the_first_time_of_a_flat_run() -> None:
    timeline = LogEndTimeline()
    for offset, at in [(0, 0.0), (100, 10.0), (100, 12.0), (100, 14.0), (100, 16.0), (200, 26.0)]:
        timeline.add(offset, at)
    # The flat run 10..16 s keeps its two ends only.
    assert timeline.points == (
        LogEndPoint(0, 0.0), LogEndPoint(100, 10.0), LogEndPoint(100, 16.0), LogEndPoint(200, 26.0),
    )  # fmt: skip
    assert timeline.time_of(50) == pytest.approx(5.0)
    assert timeline.time_of(100) == 10.0  # when 100 *became* the log end, not when it last was
    assert timeline.time_of(150) == pytest.approx(21.0)  # between 16 s (100) and 26 s (200)
    assert timeline.time_lag_s(150, now_s=30.0) == pytest.approx(9.0)


def test_rejects_late_samples_and_restarts_when_the_log_goes_backwards() -> None:
    timeline = LogEndTimeline()
    timeline.add(10, 1.0)
    timeline.add(20, 2.0)
    timeline.add(15, 1.5)  # an older answer arriving late: ignored
    assert [p.offset for p in timeline.points] == [10, 20]
    timeline.add(3, 3.0)  # re-created topic: the old history describes another log
    assert timeline.points == (LogEndPoint(3, 3.0),)


def test_extrapolates_before_the_oldest_sample_with_the_oldest_rate() -> None:
    timeline = LogEndTimeline(limit=3)
    for offset, at in [(0, 0.0), (10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]:
        timeline.add(offset, at)
    assert [p.offset for p in timeline.points] == [20, 30, 40]  # bounded
    assert timeline.time_of(5) == pytest.approx(0.5)  # 10 records/s back from 20 at 2 s


@pytest.mark.parametrize("refresh_s", [1.0, 2.0, 5.0])
def test_steady_rate_error_stays_within_one_refresh(refresh_s: float) -> None:
    """A producer at 250 records/s with jittered refreshes; consumers at many committed offsets."""
    rate = 250.0
    rng = random.Random(7)
    timeline = LogEndTimeline()
    now = 0.0
    worst = 0.0
    while now < 120.0:
        now += refresh_s * rng.uniform(0.8, 1.2)
        log_end = int(rate * now)
        timeline.add(log_end, now)
        if now < 3 * refresh_s:
            continue
        for committed in range(int(rate * (now - 60)), log_end, 97):
            if committed <= 0:
                continue
            exact = now - (committed + 1) / rate  # the record at `committed` was produced then
            estimate = timeline.time_lag_s(committed, now)
            if estimate is not None:
                worst = max(worst, abs(estimate - exact))
    assert worst <= refresh_s * 1.2 + 1 / rate, f"worst error {worst:.3f}s at refresh {refresh_s}s"


def test_drain_eta_falling_behind_and_caught_up() -> None:
    window = RateWindow(window_s=30.0)
    for second in range(0, 31):
        window.add(float(second), committed=1000 + 50 * second, log_end=2000 + 30 * second)
    estimate = window.estimate()
    assert estimate is not None
    assert estimate.consume_rate == pytest.approx(50.0)
    assert estimate.produce_rate == pytest.approx(30.0)
    assert estimate.lag == 2000 + 900 - (1000 + 1500)
    assert estimate.eta_s == pytest.approx(estimate.lag / 20.0)
    assert estimate.describe().startswith("drains in 20 s")

    behind = DrainEstimate(consume_rate=10.0, produce_rate=25.0, lag=500, window_s=30.0)
    assert behind.eta_s is None and behind.falling_behind
    assert behind.describe() == "falling behind +15.0/s"
    assert DrainEstimate(consume_rate=0.0, produce_rate=0.0, lag=0, window_s=30.0).describe() == "caught up"


def test_rate_window_forgets_old_samples_and_a_reset() -> None:
    window = RateWindow(window_s=10.0)
    for second in range(0, 60):
        window.add(float(second), committed=second * 10, log_end=second * 10 + 5)
    estimate = window.estimate()
    assert estimate is not None and estimate.window_s <= 11.0
    window.add(61.0, committed=0, log_end=600)  # an offset reset to the start: old rates mean nothing
    assert window.estimate() is None


@pytest.mark.parametrize("seconds, text", [(4.2, "4 s"), (185, "3 min 5 s"), (7800, "2 h 10 min")])
def test_durations_read_at_a_glance(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_bursty_producer_error_is_bounded_by_the_sample_gap() -> None:
    """Whatever the production pattern, the true time lies between the two samples that bracket the
    offset, so the estimate is never off by more than the gap between refreshes."""
    rng = random.Random(11)
    produced_at: list[float] = []  # produced_at[offset] = when that record was appended
    timeline = LogEndTimeline(limit=1000)
    now, next_sample, gap = 0.0, 0.0, 2.0
    while now < 200.0:
        now += rng.expovariate(40.0) if int(now / 7) % 2 == 0 else rng.uniform(0.5, 3.0)  # bursts and lulls
        produced_at.append(now)
        while next_sample <= now:
            timeline.add(sum(1 for at in produced_at if at <= next_sample), next_sample)
            next_sample += gap
    end = next_sample - gap
    log_end = timeline.points[-1].offset
    for committed in range(timeline.points[0].offset, log_end, 3):
        exact_became_log_end = produced_at[committed - 1] if committed else 0.0
        estimate = timeline.time_lag_s(committed, end)
        assert estimate is not None
        assert abs((end - estimate) - exact_became_log_end) <= gap + 1e-9
