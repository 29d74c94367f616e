"""What ``t`` in a replay accepts: a wall-clock time, an ISO time, or a time before the recording's end.

Pure functions (no Textual), so the formats are tested on their own. Times without a zone are local,
as the event log and the time bar show them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_RELATIVE = re.compile(r"^-\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s)?$")

TIME_FORMATS = "HH:MM[:SS], an ISO time (2026-12-01T10:05:00), or -5m / -90s / -1h30m from the end"


def parse_instant(text: str, start: float, end: float) -> float:
    """The epoch second ``text`` names in a recording spanning ``start``..``end`` (epoch seconds).

    ``HH:MM[:SS]`` is taken on the day (of the span's days, local time) that puts it inside the
    span, else the nearest one. Raises ValueError with a one-line reason for anything else.
    """
    text = text.strip()
    if not text:
        raise ValueError(f"type a time: {TIME_FORMATS}")
    if text.startswith("-"):
        match = _RELATIVE.match(text)
        if not match or not any(match.groups()):
            raise ValueError(f"{text!r} is no time before the end: write -5m, -90s or -1h30m")
        hours, minutes, seconds = (float(part or 0) for part in match.groups())
        return end - (hours * 3600 + minutes * 60 + seconds)
    match = _CLOCK.match(text)
    if match:
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{text!r} is no time of day (HH:MM[:SS], 24-hour)")
        return _on_span_day(hour, minute, second, start, end)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is no time: {TIME_FORMATS}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local, as the screen shows times
    return moment.timestamp()


def _on_span_day(hour: int, minute: int, second: int, start: float, end: float) -> float:
    first = datetime.fromtimestamp(start).astimezone()
    last = datetime.fromtimestamp(end).astimezone()
    candidates = []
    day = first.date()
    while day <= last.date():
        naive = datetime(day.year, day.month, day.day, hour, minute, second)
        candidates.append(naive.astimezone().timestamp())
        day += timedelta(days=1)
    inside = [c for c in candidates if start <= c <= end]
    if inside:
        return inside[0]
    return min(candidates, key=lambda c: min(abs(c - start), abs(c - end)))


def clock_text(at: float, *, with_date: bool) -> str:
    """``HH:MM:SS`` local (with the date first when the recording crosses midnight)."""
    moment = datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def crosses_midnight(start: float, end: float) -> bool:
    return datetime.fromtimestamp(start).astimezone().date() != datetime.fromtimestamp(end).astimezone().date()
