"""Time lag for every partition without reading a record: interpolate on the log end's own history.

The exact time lag of a partition is the age of the record at the committed offset, which costs a
fetch per partition. The snapshots the live view takes anyway already say, every refresh, where
the log end was at what time. From those (log-end offset, time) samples, the time at which the log
end *was* the committed offset is an interpolation, and "now minus that time" is the time lag, as
kafka-lag-exporter estimates it. The rules, each for a reason:

- **Out-of-order or decreasing points are rejected.** A sample older than the newest one comes
  from a late answer; a log end lower than before means the topic was re-created or truncated, and
  the history describes another log: the timeline starts again from that point.
- **Flat runs collapse to their two ends.** While nothing is produced the log end repeats; only
  the first sample of a run says when that offset became the log end, and the last says it still
  was. Keeping both ends (not every sample) keeps the table small and the first time exact.
- **Edges extrapolate.** A committed offset older than the oldest sample extrapolates the rate of
  the oldest two points; the committed offset at (or past) the newest log end is caught up: 0 s.
- **Fewer than two points is unknown**, never a guess.

The estimate is only as fine as the sampling: it is exact at sample times and linear in between,
so at a steady produce rate its error stays within one refresh interval (a test measures it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass

#: Samples kept per partition: at a 2 s refresh, a flat-collapsed table of 120 points spans at
#: least four minutes, and usually far more (flat runs take two points whatever their length).
DEFAULT_POINTS = 120


@dataclass(frozen=True, slots=True)
class LogEndPoint:
    """The log end was ``offset`` at ``at_s`` (seconds, the caller's clock)."""

    offset: int
    at_s: float


class LogEndTimeline:
    """The (log end, time) samples of one partition, for :meth:`time_of` an offset became the log end."""

    __slots__ = ("_points", "_limit")

    def __init__(self, limit: int = DEFAULT_POINTS) -> None:
        if limit < 3:
            raise ValueError("a timeline needs room for at least 3 points (a flat run takes 2)")
        self._points: deque[LogEndPoint] = deque()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._points)

    @property
    def points(self) -> tuple[LogEndPoint, ...]:
        return tuple(self._points)

    def add(self, offset: int, at_s: float) -> None:
        """Record that the log end was ``offset`` at ``at_s`` (see the module's rules)."""
        points = self._points
        if points:
            newest = points[-1]
            if at_s <= newest.at_s:
                return  # out of order: an older answer than one already held
            if offset < newest.offset:
                points.clear()  # the log went backwards: another log's history, start again
            elif offset == newest.offset and len(points) >= 2 and points[-2].offset == offset:
                points.pop()  # the middle of a flat run says nothing the run's ends do not
        points.append(LogEndPoint(offset, at_s))
        while len(points) > self._limit:
            points.popleft()

    def time_of(self, offset: int) -> float | None:
        """When the log end was ``offset``: interpolated between samples, extrapolated before the oldest.

        ``None`` with fewer than two samples, or when the oldest two do not move (no rate to
        extrapolate with). An offset at or past the newest sample is the newest sample's time.
        """
        points = self._points
        if len(points) < 2:
            return None
        newest = points[-1]
        if offset >= newest.offset:
            return newest.at_s
        oldest, second = points[0], points[1]
        if offset <= oldest.offset:
            if second.offset == oldest.offset:
                return None if offset < oldest.offset else oldest.at_s
            rate = (second.offset - oldest.offset) / (second.at_s - oldest.at_s)
            return oldest.at_s - (oldest.offset - offset) / rate
        # The first point whose offset is >= ``offset``: the first time the log end reached it.
        offsets = [point.offset for point in points]
        right = bisect_left(offsets, offset)
        after, before = points[right], points[right - 1]
        if after.offset == offset:
            return after.at_s
        share = (offset - before.offset) / (after.offset - before.offset)
        return before.at_s + share * (after.at_s - before.at_s)

    def time_lag_s(self, committed: int | None, now_s: float) -> float | None:
        """The estimated time lag of a consumer at ``committed``: ``now_s`` minus when that offset was the log end.

        0 when the committed offset is at or past the newest log end seen (caught up); ``None`` when
        there is no committed offset or too little history.
        """
        if committed is None or not self._points:
            return None
        if committed >= self._points[-1].offset:
            return 0.0
        at = self.time_of(committed)
        return None if at is None else max(0.0, now_s - at)
