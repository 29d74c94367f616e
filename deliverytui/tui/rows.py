"""Turn a snapshot (plus lag history and positions) into plain row values, off the UI thread.

The poll worker calls :func:`build_rows`; the UI thread only diffs the result against
what it shows and updates the cells that changed. Nothing here touches Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deliverytui.model import GroupSnapshot, PartitionRow

#: (column key, header label) in display order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("topic", "Topic"),
    ("partition", "Part"),
    ("committed", "Committed"),
    ("position", "Position"),
    ("log_end", "Log-end"),
    ("lso", "Last stable"),
    ("lag", "Lag"),
    ("time_lag", "Time lag~"),
    ("trend", "Trend"),
    ("since_move", "Moved"),
    ("owner", "Owner"),
    ("status", "Status"),
    ("leader", "Leader"),
    ("isr", "ISR"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
#: The replication columns: last in COLUMNS, shown only when the cluster has more than one node.
REPLICATION_COLUMN_KEYS = ("leader", "isr")

STATUS_STYLES = {
    "OK": "green",
    "WARN": "yellow",
    "STALL": "bold yellow",
    "STOP": "bold red",
    "REWIND": "bold magenta",
    "ERR": "red",
    "-": "dim",
}


@dataclass(frozen=True, slots=True)
class RowView:
    """One table row as plain values: ``cells[i]`` is ``(text, style)`` for ``COLUMNS[i]``."""

    key: str
    topic: str
    partition: int
    lag: int  # -1 when unknown, for sorting
    cells: tuple[tuple[str, str], ...]
    #: The estimated time lag in seconds, -1.0 when unknown, for sorting.
    time_lag: float = -1.0


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _age(seconds: float | None) -> str:
    """Coarse ages: a stuck partition matters by the minute, not the second.

    Coarse buckets also mean the cell changes rarely, so a refresh of 5,000 rows
    touches only the rows whose offsets moved.
    """
    if seconds is None:
        return "-"
    if seconds < 10:
        return "<10s"
    if seconds < 60:
        return f"{int(seconds // 10) * 10}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{seconds / 3600:.1f}h"


def estimate_text(seconds: float | None) -> str:
    """An estimated time lag, marked ``~`` as an estimate: ``~0.8s``, ``~12s``, ``~4m``, ``~1.5h``; ``0s`` caught up.

    Seconds under a minute, then whole minutes: a partition a minute behind or more changes
    its cell once a minute, so a refresh of 5,000 stuck partitions rebuilds few rows.
    """
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "0s"
    if seconds < 10:
        return f"~{seconds:.1f}s"
    if seconds < 60:
        return f"~{int(seconds)}s"
    if seconds < 3600:
        return f"~{int(seconds // 60)}m"
    return f"~{seconds / 3600:.1f}h"


def _estimate_style(seconds: float | None) -> str:
    if seconds is None:
        return "dim"
    return "" if seconds < 60 else ("yellow" if seconds < 600 else "bold red")


def _owner(row: PartitionRow) -> str:
    if not row.client_id:
        return "-"
    return f"{row.client_id}@{row.host}" if row.host else row.client_id


def _leader_cell(row: PartitionRow) -> tuple[str, str]:
    """The leader's node id; yellow when it is not the preferred replica (it moved), red "none" when offline."""
    if not row.replicas:
        return "-", "dim"
    if row.leader is None:
        return "none", "bold red"
    return str(row.leader), "" if row.leader == row.replicas[0] else "yellow"


def _isr_cell(row: PartitionRow) -> tuple[str, str]:
    """The in-sync replicas; under-replicated ones say how many of the replicas are in sync."""
    if not row.replicas:
        return "-", "dim"
    isr = ",".join(map(str, sorted(row.isr))) or "none"
    if row.under_replicated:
        return f"{isr} ({len(row.isr)}/{len(row.replicas)})", "bold red" if len(row.isr) <= 1 else "bold yellow"
    return isr, ""


def build_row(
    row: PartitionRow, lag_info: Any | None = None, position: Any | None = None, key: str | None = None,
    since_text: str | None = None, time_lag: float | None = None, time_lag_text: str | None = None,
) -> RowView:
    """One row. ``lag_info`` and ``position`` are optional per-partition views (duck-typed).

    ``key``, ``since_text`` and ``time_lag_text`` save recomputing what :class:`RowBuilder` already has.
    """
    committed, log_end = row.committed_offset, row.log_end_offset
    lag = None if committed is None or log_end is None else log_end - committed
    lag_style = "" if lag is None or lag == 0 else ("yellow" if lag < 1000 else "bold red")
    if lag_info is not None:
        status = lag_info.status
        trend = lag_info.trend or "-"
        if since_text is None:
            since_text = _age(lag_info.seconds_since_commit_moved)
    else:
        status, trend = None, "-"
    status_text = getattr(status, "value", None) or (str(status) if status else "-")
    if since_text is None:
        since_text = "-"
    pos_text, pos_style = "-", "dim"
    if position is not None and getattr(position, "position", None) is not None:
        reported = position.position
        # A report read after the snapshot's log end can be ahead of it; a position past the log end
        # is impossible, so it is shown clamped and marked (the partition panel says why).
        clamped = log_end is not None and reported > log_end
        pos_text = f"{_num(log_end)}*" if clamped else _num(reported)
        gap = getattr(getattr(position, "gap", None), "kind", None)
        gap_name = getattr(gap, "name", "")
        pos_style = {
            "PROCESSED_NOT_COMMITTED": "bold yellow",
            "COMMITTED_NOT_PROCESSED": "bold red",
            "IN_SYNC": "green",
        }.get(gap_name, "")
        if getattr(position, "stale", False):
            pos_style = "dim"
        if getattr(position, "verified", None) is False:
            # A claim by a reporter that is not a member: never coloured as fact. The column is narrow;
            # the partition panel and the positions note spell "unverified" out.
            pos_text, pos_style = f"{pos_text}?", "dim italic"
    cells = (
        (row.topic, ""),
        (str(row.partition), ""),
        (_num(row.committed_offset), "" if row.committed_offset is not None else "dim"),
        (pos_text, pos_style),
        (_num(row.log_end_offset), ""),
        (_num(row.last_stable_offset), "yellow" if row.last_stable_offset != row.log_end_offset else ""),
        (_num(lag), lag_style),
        (estimate_text(time_lag) if time_lag_text is None else time_lag_text, _estimate_style(time_lag)),
        (str(trend), {"rising": "red", "falling": "green"}.get(str(trend), "")),
        (since_text, ""),
        (_owner(row), "" if row.client_id else "dim"),
        (status_text, STATUS_STYLES.get(status_text, "")),
        _leader_cell(row),
        _isr_cell(row),
    )
    return RowView(
        key or f"{row.topic}:{row.partition}", row.topic, row.partition, -1 if lag is None else lag, cells,
        -1.0 if time_lag is None else time_lag,
    )


def build_rows(
    snapshot: GroupSnapshot,
    lag_by_key: Mapping[str, Any] | None = None,
    positions_by_key: Mapping[str, Any] | None = None,
    time_lags: Mapping[str, float | None] | None = None,
) -> dict[str, RowView]:
    return RowBuilder().build(snapshot, lag_by_key, positions_by_key, time_lags)[0]


class RowBuilder:
    """:func:`build_rows` with memory: a partition whose inputs did not change keeps its RowView.

    The inputs of a row are the snapshot's PartitionRow, the lag status and trend, the
    "since move" text (coarse, so it rarely changes), the estimated time lag's text (coarse too)
    and the position. The isolated
    inspector reuses the PartitionRow object of a partition that did not change, so the
    common case is an identity check; anything else falls back to equality. Reusing the
    RowView object also lets the table skip the row with an identity check. Owned by the
    poll worker (one thread), like the lag history.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[PartitionRow, object, object, str, object, str, RowView]] = {}

    def build(
        self,
        snapshot: GroupSnapshot,
        lag_by_key: Mapping[str, Any] | None = None,
        positions_by_key: Mapping[str, Any] | None = None,
        time_lags: Mapping[str, float | None] | None = None,
    ) -> tuple[dict[str, RowView], dict[str, PartitionRow]]:
        """Rows by key, and the snapshot's PartitionRows by key (the UI looks the selected one up).

        ``time_lags``: estimated time lag by key (:class:`~deliverytui.lag.delivery_estimates.DeliveryEstimates`).
        """
        lag_by_key = lag_by_key or {}
        positions_by_key = positions_by_key or {}
        time_lags = time_lags or {}
        old = self._cache
        cache: dict[str, tuple[PartitionRow, object, object, str, object, str, RowView]] = {}
        rows: dict[str, RowView] = {}
        by_key: dict[str, PartitionRow] = {}
        for row in snapshot.partitions:
            key = f"{row.topic}:{row.partition}"
            lag_info = lag_by_key.get(key)
            position = positions_by_key.get(key)
            status = getattr(lag_info, "status", None)
            trend = getattr(lag_info, "trend", None)
            since = _age(getattr(lag_info, "seconds_since_commit_moved", None))
            time_lag = time_lags.get(key)
            estimate = estimate_text(time_lag)
            hit = old.get(key)
            if (
                hit is not None
                and (hit[0] is row or hit[0] == row)
                and hit[1] == status
                and hit[2] == trend
                and hit[3] == since
                and (hit[4] is position or hit[4] == position)
                and hit[5] == estimate
            ):
                view = hit[6]
            else:
                view = build_row(row, lag_info, position, key, since, time_lag, estimate)
            cache[key] = (row, status, trend, since, position, estimate, view)
            rows[key] = view
            by_key[key] = row
        self._cache = cache
        return rows, by_key
