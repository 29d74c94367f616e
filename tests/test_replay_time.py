"""``t`` in a replay: the time formats it takes, and the one-line reasons for what it refuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from deliverytui.tui.replay_time import clock_text, crosses_midnight, parse_instant

START = datetime(2026, 12, 1, 10, 0, 0).astimezone().timestamp()  # local 10:00:00
END = START + 3600  # local 11:00:00


def test_a_time_of_day_is_taken_on_the_recordings_day() -> None:
    assert parse_instant("10:30", START, END) == START + 1800
    assert parse_instant("10:30:15", START, END) == START + 1815
    assert clock_text(parse_instant("10:59:59", START, END), with_date=False) == "10:59:59"


def test_a_time_across_midnight_lands_inside_the_span() -> None:
    start = datetime(2026, 12, 1, 23, 30).astimezone().timestamp()
    end = start + 3600  # 00:30 the next day
    assert crosses_midnight(start, end)
    assert parse_instant("00:10", start, end) == start + 2400
    assert parse_instant("23:40", start, end) == start + 600
    assert clock_text(start + 2400, with_date=True) == "2026-12-02 00:10:00"


def test_an_iso_time_and_a_relative_time_from_the_end() -> None:
    assert parse_instant("2026-12-01T10:05:00", START, END) == START + 300
    assert parse_instant("-5m", START, END) == END - 300
    assert parse_instant("-90s", START, END) == END - 90
    assert parse_instant("-1h", START, END) == START
    assert parse_instant("- 1m30s", START, END) == END - 90


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "type a time"), ("25:00", "no time of day"), ("10:61", "no time of day"), ("-5x", "no time before the end"),
     ("-", "no time before the end"), ("yesterday", "no time"), ("10:3", "no time")],
)
def test_a_bad_time_is_one_line_saying_what_is_taken(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        parse_instant(text, START, END)
    assert "\n" not in str(caught.value)
