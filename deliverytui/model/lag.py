"""Lag status and lag history results: immutable, built off the UI thread, only rendered by it.

:class:`deliverytui.lag.LagHistory` produces one :class:`GroupLagView` per snapshot. The
statuses are LinkedIn Burrow's consumer statuses (OK, WARN, STALL, STOP, REWIND) evaluated
over a sliding window of committed-offset observations; see :mod:`deliverytui.lag.evaluator`
for the rules and why each one exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class LagStatus(StrEnum):
    """One partition's (or the group's) delivery health, named as Burrow names it.

    ``UNKNOWN`` (shown ``-``, as Kafka's CLI shows a missing lag) means nothing can be
    judged: no committed offset, or the log-end offset could not be read.
    """

    # Values carry their severity (higher is worse): the group shows its worst partition's
    # status. Burrow checks the failing rules "in order of severity starting with the worst":
    # REWIND, STOP, STALL, WARN. UNKNOWN ranks below OK so a partition nothing has been
    # committed for cannot hide a healthy group, and an all-unknown group says so.
    UNKNOWN = "-", 0
    OK = "OK", 1
    WARN = "WARN", 2
    STALL = "STALL", 3
    STOP = "STOP", 4
    REWIND = "REWIND", 5

    severity: int

    def __new__(cls, value: str, severity: int) -> LagStatus:
        # A plain attribute rather than a lookup table: the history reads it for every
        # partition on every refresh, and Enum hashing runs in Python.
        member = str.__new__(cls, value)
        member._value_ = value
        member.severity = severity
        return member


def worst_status(statuses: Iterable[LagStatus]) -> LagStatus:
    """The most severe status of ``statuses``; ``UNKNOWN`` when there are none."""
    return max(statuses, key=lambda status: status.severity, default=LagStatus.UNKNOWN)


class LagTrend(StrEnum):
    """Which way lag went over the evaluation window (current lag against the window's oldest)."""

    RISING = "rising"
    FALLING = "falling"
    FLAT = "flat"


class PartitionLagView(NamedTuple):
    """One partition's lag status at one snapshot, for the partitions table.

    A named tuple rather than a frozen dataclass because one is built per partition per
    refresh (thousands every two seconds) and tuples are several times cheaper to build;
    it is just as immutable.

    - ``lag``: ``log_end_offset - committed_offset`` exactly as the snapshot row has it (``None``
      when either is unknown); evaluation uses it clamped at 0.
    - ``trend`` / ``lag_delta``: current lag minus the lag of the window's oldest entry, and its
      direction (``FLAT`` when within the allowed lag); ``None`` when the lag is unknown.
    - ``seconds_since_commit_moved``: seconds since a snapshot first showed the committed offset
      at its current value. When ``commit_move_seen`` is False the offset has not moved since
      the history started watching, so the value is a lower bound (render it as ``≥``);
      ``None`` when nothing is committed.
    - ``window_entries``: how many entries the evaluation window holds (of ``window_size``);
      STALL and WARN are only judged on a full window.
    - ``time_lag_seconds``: age of the first unconsumed record, when its timestamp was supplied
      (see :func:`deliverytui.lag.time_lag_seconds`); ``None`` when not available.
    """

    key: str
    topic: str
    partition: int
    status: LagStatus
    lag: int | None
    trend: LagTrend | None
    lag_delta: int | None
    seconds_since_commit_moved: float | None
    commit_move_seen: bool
    window_entries: int
    time_lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A partition's status differs from the previous snapshot's (the event log's ``OK → STOP``)."""

    key: str
    previous: LagStatus
    current: LagStatus
    at: datetime

    def describe(self) -> str:
        return f"{self.key}: {self.previous.value} → {self.current.value}"


#: Simultaneous identical transitions above this many become one event line (see :func:`summarize_status_changes`).
STATUS_CHANGE_LINES = 3


def summarize_status_changes(
    changes: Sequence[StatusChange], limit: int = STATUS_CHANGE_LINES
) -> list[tuple[str, LagStatus, tuple[str, ...]]]:
    """The event log's lines for one snapshot's status changes, with floods folded.

    Attached to an Empty 1,000-partition group, every partition goes OK → STOP in the same
    refresh: 1,000 lines in one second bury everything else. Changes with the same
    (previous, current) pair are one line when there are more than ``limit`` of them:
    ``1,000 partitions OK → STOP: wide:0, wide:1, wide:2 and 997 more``. Each line comes with
    the status it changed to (the log colours it) and, for a folded line, every partition it
    stands for (the log's ``e`` expands it); ``()`` for a line about one partition.
    """
    by_pair: dict[tuple[LagStatus, LagStatus], list[StatusChange]] = {}
    for change in changes:
        by_pair.setdefault((change.previous, change.current), []).append(change)
    lines: list[tuple[str, LagStatus, tuple[str, ...]]] = []
    for (previous, current), group in by_pair.items():
        if len(group) <= limit:
            lines.extend((change.describe(), current, ()) for change in group)
            continue
        shown = ", ".join(change.key for change in group[:limit])
        lines.append((
            f"{len(group):,} partitions {previous.value} → {current.value}: {shown} and {len(group) - limit:,} more",
            current,
            tuple(change.key for change in group),
        ))
    return lines


def partition_ranges(keys: Iterable[str]) -> list[str]:
    """``topic: 0–999, 1003`` per topic: a folded event's partitions, short enough to read."""
    by_topic: dict[str, list[int]] = {}
    for key in keys:
        topic, _, partition = key.rpartition(":")
        if partition.isdigit():
            by_topic.setdefault(topic, []).append(int(partition))
    lines = []
    for topic, partitions in sorted(by_topic.items()):
        runs: list[str] = []
        ordered = sorted(set(partitions))
        start = previous = ordered[0]
        for partition in [*ordered[1:], None]:
            if partition is not None and partition == previous + 1:
                previous = partition
                continue
            runs.append(str(start) if start == previous else f"{start}–{previous}")
            if partition is not None:
                start = previous = partition
        lines.append(f"{topic}: {', '.join(runs)}")
    return lines


@dataclass(frozen=True, slots=True)
class RewindEvent:
    """The committed offset went backwards between two snapshots: an offset reset or a replay.

    ``redelivered`` records (``previous_offset - current_offset``) will be delivered again.
    """

    key: str
    previous_offset: int
    current_offset: int
    at: datetime

    @property
    def redelivered(self) -> int:
        return self.previous_offset - self.current_offset

    def describe(self) -> str:
        return (
            f"reset seen on {self.key}: committed {self.previous_offset} → {self.current_offset} "
            f"({self.redelivered} records will be redelivered)"
        )


@dataclass(frozen=True, slots=True)
class GroupLagView:
    """Everything the lag history knows about a group after one snapshot.

    - ``status``: the worst partition status (``UNKNOWN`` for a group with no partitions).
    - ``status_counts``: partitions per status, every status present (zeros included).
    - ``total_lag``: sum of known lags, each clamped at 0.
    - ``total_lag_series``: the last ``series_length`` total lags, oldest first (group sparkline).
    - ``partition_lag_series``: the last ``series_length`` lags of the partitions asked for in
      ``observe(series_keys=...)`` (the selected partition's sparkline); unknown lag counts as 0.
    - ``status_changes`` / ``rewinds``: what changed since the previous snapshot, in partition order.
    - ``max_time_lag_seconds``: the largest known ``time_lag_seconds``, ``None`` if none is known.
    """

    group_id: str
    taken_at: datetime
    status: LagStatus
    partitions: Mapping[str, PartitionLagView]
    status_counts: Mapping[LagStatus, int]
    total_lag: int
    total_lag_series: tuple[int, ...]
    partition_lag_series: Mapping[str, tuple[int, ...]]
    status_changes: tuple[StatusChange, ...]
    rewinds: tuple[RewindEvent, ...]
    max_time_lag_seconds: float | None
