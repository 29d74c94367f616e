"""Lag sparklines draw a lag, not a shape: zero-based with a floor, and nothing without data (#15)."""

from __future__ import annotations

from deliverytui.tui.widgets.lag_spark import columns, spark_rows


def test_no_data_draws_nothing() -> None:
    assert spark_rows([], width=8) == [" " * 8, " " * 8]


def test_a_lag_of_one_is_a_sliver_not_full_height() -> None:
    top, bottom = spark_rows([1], width=4)
    assert top == "    "
    assert bottom == "   ▂"  # right-aligned, a sliver: 1 of a floor of 10 is 2 of 16 eighths over two rows


def test_a_flat_small_lag_is_not_drawn_as_the_maximum() -> None:
    top, bottom = spark_rows([3, 3, 3, 3], width=4)
    assert top == "    " and set(bottom) == {"▅"}  # 3 of 10: under a third of the height


def test_a_real_backlog_fills_the_height_and_zero_shows_nothing() -> None:
    top, bottom = spark_rows([0, 500, 1000], width=3)
    assert top == "  █" and bottom == " ██"  # 500 of 1000 is exactly the lower row


def test_long_series_keep_each_buckets_spike() -> None:
    values = [0.0] * 100
    values[37] = 900.0
    assert max(columns(values, 10)) == 900.0
    assert sum(1 for value in columns(values, 10) if value) == 1
