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

from array import array
from bisect import bisect_left
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
    """The (log end, time) samples of one partition, for :meth:`time_of` an offset became the log end.

    The samples live in two typed arrays, not in a ``LogEndPoint`` per sample: the live view keeps
    one timeline per partition, and 5,000 partitions × 120 points as objects were ~600,000 objects
    (~65 MB, each one traversed by every full garbage collection); as arrays they are 16 bytes a
    point and invisible to the collector.
    """

    __slots__ = ("_offsets", "_times", "_limit")

    def __init__(self, limit: int = DEFAULT_POINTS) -> None:
        if limit < 3:
            raise ValueError("a timeline needs room for at least 3 points (a flat run takes 2)")
        self._offsets = array("q")
        self._times = array("d")
        self._limit = limit

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def points(self) -> tuple[LogEndPoint, ...]:
        return tuple(LogEndPoint(offset, at) for offset, at in zip(self._offsets, self._times))

    def add(self, offset: int, at_s: float) -> None:
        """Record that the log end was ``offset`` at ``at_s`` (see the module's rules)."""
        offsets, times = self._offsets, self._times
        if offsets:
            if at_s <= times[-1]:
                return  # out of order: an older answer than one already held
            if offset < offsets[-1]:
                del offsets[:], times[:]  # the log went backwards: another log's history, start again
            elif offset == offsets[-1] and len(offsets) >= 2 and offsets[-2] == offset:
                offsets.pop()  # the middle of a flat run says nothing the run's ends do not
                times.pop()
        offsets.append(offset)
        times.append(at_s)
        if len(offsets) > self._limit:
            drop = len(offsets) - self._limit
            del offsets[:drop], times[:drop]

    def time_of(self, offset: int) -> float | None:
        """When the log end was ``offset``: interpolated between samples, extrapolated before the oldest.

        ``None`` with fewer than two samples, or when the oldest two do not move (no rate to
        extrapolate with). An offset at or past the newest sample is the newest sample's time.
        """
        offsets, times = self._offsets, self._times
        if len(offsets) < 2:
            return None
        if offset >= offsets[-1]:
            return times[-1]
        if offset <= offsets[0]:
            if offsets[1] == offsets[0]:
                return None if offset < offsets[0] else times[0]
            rate = (offsets[1] - offsets[0]) / (times[1] - times[0])
            return times[0] - (offsets[0] - offset) / rate
        # The first point whose offset is >= ``offset``: the first time the log end reached it.
        right = bisect_left(offsets, offset)
        if offsets[right] == offset:
            return times[right]
        before, after = offsets[right - 1], offsets[right]
        share = (offset - before) / (after - before)
        return times[right - 1] + share * (times[right] - times[right - 1])

    def time_lag_s(self, committed: int | None, now_s: float) -> float | None:
        """The estimated time lag of a consumer at ``committed``: ``now_s`` minus when that offset was the log end.

        0 when the committed offset is at or past the newest log end seen (caught up); ``None`` when
        there is no committed offset or too little history.
        """
        if committed is None or not self._offsets:
            return None
        if committed >= self._offsets[-1]:
            return 0.0
        at = self.time_of(committed)
        return None if at is None else max(0.0, now_s - at)

    def watched_for_s(self, now_s: float) -> float | None:
        """How long this partition's log end has been watched (``None`` before two samples).

        When the log end has not moved since watching began, :meth:`time_lag_s` cannot date a
        committed offset behind it; the record there is at least this old, though: it was
        already written when the first sample was taken.
        """
        if len(self._times) < 2:
            return None
        return max(0.0, now_s - self._times[0])
