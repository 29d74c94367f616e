"""How late, and will it catch up? Time-lag estimates and drain rates for every partition of a group.

The live view takes a snapshot every refresh; each one says where the log end and the committed
offset of every partition were at ``taken_at``. Fed those snapshots, :class:`DeliveryEstimates`
keeps per partition a :class:`~deliverytui.lag.time_estimate.LogEndTimeline` (for the time lag
of the committed offset, without reading a record) and a :class:`~deliverytui.lag.drain.RateWindow`
(consume and produce rates), and per group the sum of those rates, which is the group's drain
ETA. No request is made here: everything comes from samples the view holds already.

Time comes only from ``GroupSnapshot.taken_at`` (as in :class:`~deliverytui.lag.history.LagHistory`),
so recorded snapshots replay to the same figures every run. Owned by one thread (the poll worker).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deliverytui.lag.drain import DEFAULT_WINDOW_S, DrainEstimate, RateWindow
from deliverytui.lag.time_estimate import DEFAULT_POINTS, LogEndTimeline
from deliverytui.model.group import GroupSnapshot


@dataclass(frozen=True)
class EstimatesView:
    """One refresh's estimates, immutable, for the UI thread."""

    #: ``topic:partition`` → estimated time lag in seconds, ``None`` while unknown (fewer than two
    #: samples, or no committed offset). Every partition of the snapshot has an entry.
    time_lag_s: Mapping[str, float | None] = field(default_factory=dict)
    #: The group's rates: sums over its partitions, with the snapshot's total lag.
    group_drain: DrainEstimate | None = None
    #: ``(key, estimate)`` of the selected partition (the panel shows it), or ``None``.
    selected_drain: tuple[str, DrainEstimate | None] | None = None


class _Track:
    __slots__ = ("timeline", "rates")

    def __init__(self, points: int, window_s: float) -> None:
        self.timeline = LogEndTimeline(points)
        self.rates = RateWindow(window_s)


class DeliveryEstimates:
    """Per-partition log-end timelines and rate windows of one group, fed one snapshot at a time."""

    def __init__(self, *, window_s: float = DEFAULT_WINDOW_S, points: int = DEFAULT_POINTS) -> None:
        self.window_s = window_s
        self.points = points
        self._tracks: dict[str, _Track] = {}

    def __len__(self) -> int:
        return len(self._tracks)

    def observe(self, snapshot: GroupSnapshot, selected: str | None = None) -> EstimatesView:
        """Add ``snapshot``'s samples and estimate every partition's time lag and the group's drain."""
        now = snapshot.taken_at.timestamp()
        old = self._tracks
        tracks: dict[str, _Track] = {}
        time_lags: dict[str, float | None] = {}
        consume = produce = span = 0.0
        measured = False
        for row in snapshot.partitions:
            key = f"{row.topic}:{row.partition}"
            track = old.get(key)
            if track is None:
                track = _Track(self.points, self.window_s)
            tracks[key] = track
            log_end, committed = row.log_end_offset, row.committed_offset
            if log_end is None:
                time_lags[key] = None
                continue
            track.timeline.add(log_end, now)
            time_lags[key] = track.timeline.time_lag_s(committed, now)
            if committed is None:
                continue
            track.rates.add(now, committed, log_end)
            rates = track.rates.rates()
            if rates is not None:
                consume += rates[0]
                produce += rates[1]
                span = max(span, rates[3])
                measured = True
        self._tracks = tracks  # partitions gone from the group forget their history
        group = DrainEstimate(consume, produce, snapshot.total_lag, span) if measured else None
        chosen = None
        if selected is not None:
            track = tracks.get(selected)
            chosen = (selected, track.rates.estimate() if track is not None else None)
        return EstimatesView(time_lag_s=time_lags, group_drain=group, selected_drain=chosen)
