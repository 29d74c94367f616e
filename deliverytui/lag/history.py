"""Lag history: feed it every snapshot of a group, get back statuses, trends, sparklines and events.

Burrow is told about every commit a consumer makes; we only see snapshots, so a snapshot
counts as *evidence of a commit* for a partition when:

- its committed offset differs from the previous snapshot's (a commit certainly happened), or
- a group member owns the partition (an active consumer commits, even an unchanged offset,
  as Kafka's auto-commit does), or
- it is the first committed offset seen for the partition (the window must start somewhere).

Only evidence enters the partition's :class:`CommitWindow`. That split is what keeps STOP
and STALL apart as Burrow means them: a partition whose owner is still there but whose
offset does not move fills its window with equal offsets (STALL); a partition that nobody
owns and whose offset does not move gets no new entries, so the time since its last entry
grows past the window's span (STOP). Consumers that commit without joining the group
(``assign()``) are judged on their offset moves alone: stuck, they show STOP, not STALL.

:class:`LagHistory` is owned by one thread (the TUI's poll worker): it is mutable and not
locked. What it returns is immutable and safe to hand to the UI thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from types import MappingProxyType

from deliverytui.lag.evaluator import evaluate_partition_status
from deliverytui.lag.settings import LagSettings
from deliverytui.lag.time_lag import time_lag_seconds
from deliverytui.lag.window import CommitWindow
from deliverytui.model.group import GroupSnapshot
from deliverytui.model.lag import (
    GroupLagView,
    LagStatus,
    LagTrend,
    PartitionLagView,
    RewindEvent,
    StatusChange,
    worst_status,
)

_STATUS_BY_SEVERITY: tuple[LagStatus, ...] = tuple(sorted(LagStatus, key=lambda status: status.severity))
_EMPTY_SERIES: Mapping[str, tuple[int, ...]] = MappingProxyType({})


class _PartitionTrack:
    """Everything remembered about one partition between snapshots (bounded: two deques)."""

    __slots__ = (
        "key",
        "window",
        "series",
        "last_committed",
        "unmoved_since_s",
        "move_seen",
        "evidence_s",
        "status",
        "seen_seq",
    )

    def __init__(self, key: str, settings: LagSettings) -> None:
        self.key = key
        self.window = CommitWindow(settings.window_size, settings.allowed_lag)
        self.series: deque[int] = deque(maxlen=settings.series_length)
        self.last_committed: int | None = None  # last known, kept across snapshots without one
        self.unmoved_since_s: float | None = None  # when the current committed offset was first seen
        self.move_seen = False
        self.evidence_s: float | None = None
        self.status: LagStatus | None = None  # None until evaluated once: no change event on arrival
        self.seen_seq = 0


class LagHistory:
    """Per-partition commit windows and lag series for one consumer group.

    Call :meth:`observe` with each new snapshot (in ``taken_at`` order). Time comes only
    from ``GroupSnapshot.taken_at``, so a sequence of hand-built snapshots is evaluated the
    same way every time. A snapshot of a different group starts the history afresh.
    """

    def __init__(self, settings: LagSettings | None = None) -> None:
        self._settings = settings or LagSettings()
        self._tracks: dict[tuple[str, int], _PartitionTrack] = {}
        self._total_series: deque[int] = deque(maxlen=self._settings.series_length)
        self._group_id: str | None = None
        self._seq = 0

    @property
    def settings(self) -> LagSettings:
        return self._settings

    def __len__(self) -> int:
        """How many partitions are remembered: present, or absent for fewer than ``forget_after_absent``."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget everything (a different group, or the user asked to start over)."""
        self._tracks.clear()
        self._total_series.clear()
        self._group_id = None

    def lag_series(self, key: str) -> tuple[int, ...]:
        """The remembered lag series of partition ``topic:partition``, oldest first (empty if unknown)."""
        topic, _, partition = key.rpartition(":")
        track = self._tracks.get((topic, int(partition))) if partition.lstrip("-").isdigit() else None
        return tuple(track.series) if track is not None else ()

    def observe(
        self,
        snapshot: GroupSnapshot,
        *,
        series_keys: Collection[str] = (),
        record_timestamps_ms: Mapping[str, int | None] | None = None,
    ) -> GroupLagView:
        """Record ``snapshot`` and evaluate every partition in it.

        ``series_keys`` names the partitions (``topic:partition``) whose lag series the view
        should carry (the selected one): copying every partition's series each refresh would
        cost more than everything else here. ``record_timestamps_ms`` maps ``topic:partition``
        to the timestamp of the record at the committed offset, where a collector read it,
        for the time lag.
        """
        if self._group_id != snapshot.group_id:
            self.reset()
            self._group_id = snapshot.group_id
        settings = self._settings
        allowed_lag = settings.allowed_lag
        min_interval_s = settings.min_entry_interval_s
        tracks = self._tracks
        self._seq += 1
        seq = self._seq
        taken_at = snapshot.taken_at
        now_s = taken_at.timestamp()

        views: dict[str, PartitionLagView] = {}
        counts = [0] * len(_STATUS_BY_SEVERITY)  # indexed by LagStatus.severity
        changes: list[StatusChange] = []
        rewinds: list[RewindEvent] = []
        total_lag = 0
        max_time_lag: float | None = None
        previously_tracked = len(tracks)
        still_present = 0  # remembered partitions seen again in this snapshot
        UNKNOWN = LagStatus.UNKNOWN
        FLAT, RISING, FALLING = LagTrend.FLAT, LagTrend.RISING, LagTrend.FALLING
        new_view = tuple.__new__  # skips the named tuple's Python-level __new__: thousands per refresh
        # A group with no members has nobody to commit: a dead consumer must not stay green for a
        # whole window of old commits (see deliverytui.lag.evaluator).
        stopped_after_s = None if snapshot.members else 2 * min_interval_s

        for row in snapshot.partitions:
            ident = (row.topic, row.partition)
            track = tracks.get(ident)
            if track is None:
                track = tracks[ident] = _PartitionTrack(f"{row.topic}:{row.partition}", settings)
            elif track.seen_seq != seq:
                still_present += 1
            else:
                continue  # the same partition twice in one snapshot: keep the first
            track.seen_seq = seq
            key = track.key
            window = track.window

            committed = row.committed_offset
            evidence = False
            if committed is not None:
                previous = track.last_committed
                if previous is None:
                    track.unmoved_since_s = now_s
                    evidence = True
                elif committed != previous:
                    if committed < previous:
                        rewinds.append(RewindEvent(key, previous, committed, taken_at))
                    track.unmoved_since_s = now_s
                    track.move_seen = True
                    evidence = True
                track.last_committed = committed

            log_end = row.log_end_offset
            if committed is None or log_end is None:
                lag = None
                clamped = 0
                status = UNKNOWN
                trend = None
                delta = None
            else:
                lag = log_end - committed
                clamped = lag if lag > 0 else 0
                entries = window.entries
                if evidence or row.member_id is not None or not entries:
                    track.evidence_s = now_s
                    window.record(now_s, committed, clamped, min_interval_s)
                status = evaluate_partition_status(window, clamped, now_s, track.evidence_s, stopped_after_s)
                delta = clamped - entries[0][2]
                trend = FLAT if -allowed_lag <= delta <= allowed_lag else (RISING if delta > 0 else FALLING)
            total_lag += clamped
            track.series.append(clamped)

            previous_status = track.status
            if previous_status is not None and previous_status is not status:
                changes.append(StatusChange(key, previous_status, status, taken_at))
            track.status = status
            counts[status.severity] += 1

            if lag is not None and clamped == 0:
                time_lag: float | None = 0.0
            elif record_timestamps_ms is not None:
                time_lag = time_lag_seconds(lag, record_timestamps_ms.get(key), now_s)
            else:
                time_lag = None
            if time_lag is not None and (max_time_lag is None or time_lag > max_time_lag):
                max_time_lag = time_lag

            unmoved_since_s = track.unmoved_since_s
            since_moved_s = None if unmoved_since_s is None else now_s - unmoved_since_s
            views[key] = new_view(
                PartitionLagView,
                (key, row.topic, row.partition, status, lag, trend, delta,
                 since_moved_s, track.move_seen, len(window.entries), time_lag),
            )  # fmt: skip

        if still_present < previously_tracked:
            self._age_absent(seq)
        self._total_series.append(total_lag)

        series: Mapping[str, tuple[int, ...]] = _EMPTY_SERIES
        if series_keys:
            series = MappingProxyType({key: self.lag_series(key) for key in series_keys if key in views})
        return GroupLagView(
            group_id=snapshot.group_id,
            taken_at=taken_at,
            status=worst_status(status for status in _STATUS_BY_SEVERITY if counts[status.severity]),
            partitions=MappingProxyType(views),
            status_counts=MappingProxyType(
                {status: counts[status.severity] for status in _STATUS_BY_SEVERITY}
            ),
            total_lag=total_lag,
            total_lag_series=tuple(self._total_series),
            partition_lag_series=series,
            status_changes=tuple(changes),
            rewinds=tuple(rewinds),
            max_time_lag_seconds=max_time_lag,
        )

    def _age_absent(self, seq: int) -> None:
        """Forget partitions absent from the last ``forget_after_absent`` snapshots.

        Only runs when some remembered partition was missing, so a stable group costs nothing here.
        """
        forget_after = self._settings.forget_after_absent
        gone = [ident for ident, track in self._tracks.items() if seq - track.seen_seq >= forget_after]
        for ident in gone:
            del self._tracks[ident]
