"""The worker side of the share-group view: a :class:`ShareGroupSnapshot` in, one immutable update out.

As for consumer groups (:mod:`deliverytui.tui.fetch`), the poll worker takes the snapshot (through
the session's :class:`~deliverytui.kafka.share_collector.ShareGroupCollector`), judges it with the
lag history (the start offset in place of a committed offset: :mod:`deliverytui.lag.share`) and
builds plain rows; the UI thread only renders what :meth:`ShareFetcher.fetch` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from deliverytui.lag import LagHistory
from deliverytui.lag.observer import STATUS_EVENT_STYLES
from deliverytui.lag.share import as_commit_snapshot
from deliverytui.model.lag import LagStatus, summarize_status_changes
from deliverytui.model.share import ShareGroupSnapshot, SharePartitionRow
from deliverytui.model.text import shown_name
from deliverytui.tui.rows import STATUS_STYLES
from deliverytui.tui.widgets.lag_spark import spark_rows

#: (column key, header label) in display order.
SHARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("topic", "Topic"),
    ("partition", "Part"),
    ("start", "Start offset"),
    ("lag", "Share lag"),
    ("log_end", "Log-end"),
    ("spark", "Share lag history"),
    ("owners", "Owners (client ids)"),
    ("status", "Status"),
)
SPARK_WIDTH = 16


class ShareSnapshots(Protocol):
    """What :class:`ShareFetcher` needs: the collector, or a replay of recorded snapshots in tests."""

    def snapshot(self, group_id: str) -> ShareGroupSnapshot: ...


@dataclass(frozen=True, slots=True)
class ShareRowView:
    """One table row as plain values: ``cells[i]`` is ``(text, style)`` for ``SHARE_COLUMNS[i]``."""

    key: str
    cells: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ShareViewUpdate:
    """Everything one poll of a share group produced, ready to render."""

    snapshot: ShareGroupSnapshot
    rows: dict[str, ShareRowView]
    group_status: str
    events: tuple[tuple[str, str], ...] = ()
    group_lag_series: tuple[float, ...] = ()
    partition_lag_series: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


def sparkline(series: tuple[float, ...] | list[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as one row of bars, scaled from zero with the lag floor (as the live
    view's sparklines: :func:`~deliverytui.tui.widgets.lag_spark.spark_rows`): a lag of 1 is a
    sliver, not the full height; a lag of zero is blank."""
    values = list(series)[-width:]
    return spark_rows(values, len(values), height=1)[0]


def owner_names(snapshot: ShareGroupSnapshot, row: SharePartitionRow) -> str:
    """The owners' client ids, each once, with a count where several members share one (``c1 ×2, c2``)."""
    counts: dict[str, int] = {}
    for member in snapshot.owners_of(row):
        counts[member.client_id] = counts.get(member.client_id, 0) + 1
    return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in sorted(counts.items())) or "-"


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def build_share_rows(
    snapshot: ShareGroupSnapshot, statuses: Mapping[str, LagStatus], series: Mapping[str, tuple[float, ...]]
) -> dict[str, ShareRowView]:
    """Rows keyed ``topic:partition`` (the order the table shows them in)."""
    rows: dict[str, ShareRowView] = {}
    for row in snapshot.partitions:
        key = f"{row.topic}:{row.partition}"
        status = statuses.get(key, LagStatus.UNKNOWN).value
        lag_style = "" if row.lag is None or row.lag == 0 else "bold yellow"
        rows[key] = ShareRowView(
            key,
            (
                (row.topic, ""),
                (str(row.partition), ""),
                (_num(row.start_offset), ""),
                (_num(row.lag), lag_style),
                (_num(row.log_end_offset), ""),
                (sparkline(series.get(key, ())), "cyan"),
                (owner_names(snapshot, row), "" if row.owners else "dim"),
                (status, STATUS_STYLES.get(status, "")),
            ),
        )
    return rows


def share_membership_events(previous: ShareGroupSnapshot | None, current: ShareGroupSnapshot) -> list[tuple[str, str]]:
    """Arrivals, departures, state and assignment-epoch changes, read off two consecutive snapshots."""
    if previous is None:
        return [(f"attached to share group {shown_name(current.group_id)}: {current.state}, "
                 f"{len(current.members)} member(s)", "bold")]
    events: list[tuple[str, str]] = []
    if previous.state != current.state:
        events.append((f"share group state {previous.state} → {current.state}", "yellow"))
    before = {m.member_id: m for m in previous.members}
    after = {m.member_id: m for m in current.members}
    for member_id in sorted(after.keys() - before.keys()):
        events.append((f"member joined: {after[member_id].client_id}@{after[member_id].host}", "cyan"))
    for member_id in sorted(before.keys() - after.keys()):
        events.append((f"member left: {before[member_id].client_id}@{before[member_id].host}", "cyan"))
    if previous.assignment_epoch != current.assignment_epoch:
        events.append((f"assignment epoch {previous.assignment_epoch} → {current.assignment_epoch}", "bold cyan"))
    return events


class ShareFetcher:
    """The lag history and the last snapshot of one watched share group; :meth:`fetch` runs in the poll worker."""

    def __init__(self, snapshots: ShareSnapshots, group: str) -> None:
        self.snapshots = snapshots
        self.group = group
        self._previous: ShareGroupSnapshot | None = None
        self._lag = LagHistory()

    def fetch(self) -> ShareViewUpdate:
        snapshot = self.snapshots.snapshot(self.group)
        events = share_membership_events(self._previous, snapshot)
        self._previous = snapshot
        # Share groups have few partitions (a queue's parallelism is its members, not its partitions):
        # every partition's series is carried, for the sparkline column.
        keys = [f"{row.topic}:{row.partition}" for row in snapshot.partitions]
        view = self._lag.observe(as_commit_snapshot(snapshot), series_keys=keys)
        events += [
            (f"start offset of {rewind.key} went back {rewind.previous_offset} → {rewind.current_offset}", "bold magenta")
            for rewind in view.rewinds
        ]
        events += [
            (line, STATUS_EVENT_STYLES.get(status.value, "")) for line, status, _ in summarize_status_changes(view.status_changes)
        ]
        statuses = {key: part.status for key, part in view.partitions.items()}
        series = {key: tuple(float(v) for v in values) for key, values in view.partition_lag_series.items()}
        return ShareViewUpdate(
            snapshot=snapshot,
            rows=build_share_rows(snapshot, statuses, series),
            group_status=view.status.value,
            events=tuple(events),
            group_lag_series=tuple(float(v) for v in view.total_lag_series),
            partition_lag_series=series,
        )
