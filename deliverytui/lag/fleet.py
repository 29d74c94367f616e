"""Turn fleet readings (every group, one refresh each) into ranked rows with what only history tells.

One reading says how far behind each group is *now*. Ranking groups for an on-call engineer
needs more, and all of it comes from the readings already taken, with no extra request:

- **Burrow status** of the worst partition: each group keeps its own :class:`LagHistory`, fed a
  minimal :class:`GroupSnapshot` built from the reading, so a group gets exactly the verdict the
  group view would give it (STOP for a stopped group, STALL for a stuck owner…).
- **Trend**: the sum of the partitions' lag changes over their windows, so one partition
  draining while another grows does not read as flat.
- **Max time lag (estimate)**: a :class:`LogEndTimeline` per partition, fed the log end at each
  refresh; the age of the oldest unconsumed record is interpolated from it. ``None`` until
  two refreshes have passed.
- **Drain ETA**: a :class:`RateWindow` per group over the summed committed offsets and log ends.

A group that disappears from the readings is forgotten (a re-created group with the same name
starts afresh), and a partition no longer read is dropped from the group's timelines.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from deliverytui.lag.drain import RateWindow
from deliverytui.lag.history import LagHistory
from deliverytui.lag.settings import LagSettings
from deliverytui.lag.time_estimate import LogEndTimeline
from deliverytui.model.fleet import FleetGroupReading, FleetReading, FleetRow, FleetSnapshot
from deliverytui.model.group import GroupSnapshot, PartitionRow
from deliverytui.model.lag import LagStatus, LagTrend, PartitionLagView

#: The owner the minimal snapshot names for a partition of a group with members: only "owned or
#: not" matters to the lag history (it tells STALL from STOP), never who.
FLEET_OWNER = "member"


class GroupTrack:
    """What the fleet remembers about one group between refreshes."""

    __slots__ = ("history", "timelines", "rates", "group_type")

    def __init__(self, group_type: str, settings: LagSettings | None) -> None:
        self.group_type = group_type
        self.history = LagHistory(settings)
        self.timelines: dict[tuple[str, int], LogEndTimeline] = {}
        self.rates = RateWindow()


class FleetTracker:
    """Feed it every :class:`FleetReading` in time order; get back a :class:`FleetSnapshot`, worst first.

    Owned by one thread (the fleet's poll worker): mutable and not locked. What it returns is
    immutable.
    """

    def __init__(self, settings: LagSettings | None = None) -> None:
        self._settings = settings
        self._groups: dict[str, GroupTrack] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def observe(self, reading: FleetReading) -> FleetSnapshot:
        now_s = reading.taken_at.timestamp()
        seen: set[str] = set()
        rows: list[FleetRow] = []
        for group in reading.groups:
            seen.add(group.group_id)
            track = self._groups.get(group.group_id)
            if track is None or track.group_type != group.group_type:
                track = self._groups[group.group_id] = GroupTrack(group.group_type, self._settings)
            rows.append(self._row(group, track, reading.taken_at, now_s))
        for gone in set(self._groups) - seen:
            del self._groups[gone]
        rows.sort(key=lambda row: row.sort_key)
        return FleetSnapshot(tuple(rows), reading.taken_at)

    def _row(self, group: FleetGroupReading, track: GroupTrack, taken_at: datetime, now_s: float) -> FleetRow:
        lags = group.partition_lags
        if group.error is not None and not lags:
            return FleetRow(
                group.group_id, group.group_type, group.state, group.members, group.topics,
                group.total_lag, None, LagStatus.UNKNOWN, "-", None, "-", group.error,
            )
        owned = group.owned_partitions or (frozenset(lags) if group.members else frozenset())
        view = track.history.observe(minimal_snapshot(group, owned, taken_at))
        max_time_lag, at_least = self._max_time_lag(track, lags, now_s)
        committed_sum = sum(c for c, e in lags.values() if c is not None and e is not None)
        end_sum = sum(e for c, e in lags.values() if c is not None and e is not None)
        if lags:
            track.rates.add(now_s, committed_sum, end_sum)
        drain = track.rates.estimate()
        if drain is None:
            drain_eta, drain_text = None, "-"
        else:
            drain_eta, drain_text = drain.eta_s, drain.describe()
        return FleetRow(
            group_id=group.group_id,
            group_type=group.group_type,
            state=group.state,
            members=group.members,
            topics=group.topics,
            total_lag=group.total_lag,
            max_time_lag_s=max_time_lag,
            status=view.status,
            trend=group_trend(view.partitions.values(), track.history.settings.allowed_lag),
            drain_eta_s=drain_eta if drain is not None and drain.lag > 0 else None,
            drain_text=drain_text,
            error=group.error,
            time_lag_at_least=at_least,
        )

    @staticmethod
    def _max_time_lag(
        track: GroupTrack, lags: dict[tuple[str, int], tuple[int | None, int | None]], now_s: float
    ) -> tuple[float | None, bool]:
        """The oldest unconsumed record's estimated age, and whether it is only a lower bound.

        A partition behind a log end that never moved while watched cannot be dated, but its
        record is at least as old as the watch: counting it as unknown would let a caught-up
        partition's 0 s speak for a stopped group. Before two samples such a partition makes the
        whole group's value unknown, for the same reason.
        """
        timelines = track.timelines
        for gone in set(timelines) - set(lags):
            del timelines[gone]
        worst: float | None = None
        at_least = unknown = False
        for key, (committed, log_end) in lags.items():
            timeline = timelines.get(key)
            if timeline is None:
                timeline = timelines[key] = LogEndTimeline()
            if log_end is not None:
                timeline.add(log_end, now_s)
            estimate, bound = timeline.time_lag_s(committed, now_s), False
            if estimate is None and committed is not None and log_end is not None and committed < log_end:
                estimate, bound = timeline.watched_for_s(now_s), True
                unknown = unknown or estimate is None
            if estimate is not None and (worst is None or estimate > worst):
                worst, at_least = estimate, bound
        return (None, False) if unknown else (worst, at_least)


def minimal_snapshot(group: FleetGroupReading, owned: frozenset[tuple[str, int]], taken_at: datetime) -> GroupSnapshot:
    """The least :class:`GroupSnapshot` the lag history needs: offsets, log ends and whether owned."""
    rows = tuple(
        PartitionRow(
            topic, partition, committed, None, None, log_end, log_end, None,
            FLEET_OWNER if (topic, partition) in owned else None, None, None,
        )
        for (topic, partition), (committed, log_end) in sorted(group.partition_lags.items())
    )
    return GroupSnapshot(group.group_id, group.state, group.group_type, None, None, (), rows, taken_at)


def group_trend(partitions: Iterable[PartitionLagView], allowed_lag: int) -> str:
    """``rising`` / ``falling`` / ``flat`` from the partitions' summed lag changes; ``-`` when none is known."""
    deltas = [view.lag_delta for view in partitions if view.lag_delta is not None]
    if not deltas:
        return "-"
    total = sum(deltas)
    if -allowed_lag <= total <= allowed_lag:
        return LagTrend.FLAT.value
    return (LagTrend.RISING if total > 0 else LagTrend.FALLING).value
