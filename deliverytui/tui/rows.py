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
    ("trend", "Trend"),
    ("since_move", "Since move"),
    ("owner", "Owner"),
    ("status", "Status"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)

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


def _owner(row: PartitionRow) -> str:
    if not row.client_id:
        return "-"
    return f"{row.client_id}@{row.host}" if row.host else row.client_id


def build_row(row: PartitionRow, lag_info: Any | None = None, position: Any | None = None) -> RowView:
    """One row. ``lag_info`` and ``position`` are optional per-partition views (duck-typed)."""
    lag = row.lag
    lag_style = "" if lag is None or lag == 0 else ("yellow" if lag < 1000 else "bold red")
    status = getattr(lag_info, "status", None)
    status_text = getattr(status, "value", None) or (str(status) if status else "-")
    trend = getattr(lag_info, "trend", None) or "-"
    since = getattr(lag_info, "seconds_since_commit_moved", None)
    pos_text, pos_style = "-", "dim"
    if position is not None and getattr(position, "position", None) is not None:
        pos_text = _num(position.position)
        gap = getattr(getattr(position, "gap", None), "kind", None)
        gap_name = getattr(gap, "name", "")
        pos_style = {
            "PROCESSED_NOT_COMMITTED": "bold yellow",
            "COMMITTED_NOT_PROCESSED": "bold red",
            "IN_SYNC": "green",
        }.get(gap_name, "")
        if getattr(position, "stale", False):
            pos_style = "dim"
    cells = (
        (row.topic, ""),
        (str(row.partition), ""),
        (_num(row.committed_offset), "" if row.committed_offset is not None else "dim"),
        (pos_text, pos_style),
        (_num(row.log_end_offset), ""),
        (_num(row.last_stable_offset), "yellow" if row.last_stable_offset != row.log_end_offset else ""),
        (_num(lag), lag_style),
        (str(trend), {"rising": "red", "falling": "green"}.get(str(trend), "")),
        (_age(since), ""),
        (_owner(row), "" if row.client_id else "dim"),
        (status_text, STATUS_STYLES.get(status_text, "")),
    )
    return RowView(row.tp.key, row.topic, row.partition, -1 if lag is None else lag, cells)


def build_rows(
    snapshot: GroupSnapshot,
    lag_by_key: Mapping[str, Any] | None = None,
    positions_by_key: Mapping[str, Any] | None = None,
) -> dict[str, RowView]:
    lag_by_key = lag_by_key or {}
    positions_by_key = positions_by_key or {}
    rows: dict[str, RowView] = {}
    for row in snapshot.partitions:
        key = row.tp.key
        rows[key] = build_row(row, lag_by_key.get(key), positions_by_key.get(key))
    return rows
