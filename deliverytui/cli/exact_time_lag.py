"""``--time-lag``: the exact time lag of every partition of a snapshot, read in one fetch pass.

The partitions with lag are read at their committed offsets together
(:func:`~deliverytui.kafka.commit_timestamps.read_commit_timestamps`); the time lag is the snapshot's
``taken_at`` minus the record's timestamp (:func:`~deliverytui.lag.time_lag.time_lag_seconds`), so
it is the lag at the instant the offsets were read, not when the record arrived here. A caught-up
partition is 0 s (no record waits: that is exact, not unknown); a partition with no committed
offset, or whose record could not be read within the timeout, is ``None``.
"""

from __future__ import annotations

from deliverytui.cli.connection import Connection
from deliverytui.model import GroupSnapshot


def exact_time_lags(connection: Connection, snapshot: GroupSnapshot, timeout: float) -> dict[tuple[str, int], float | None]:
    """``(topic, partition) → seconds`` for every partition of ``snapshot`` (``None`` where unknown)."""
    from deliverytui.kafka.commit_timestamps import read_commit_timestamps
    from deliverytui.lag.time_lag import time_lag_seconds

    behind = {
        (row.topic, row.partition): row.committed_offset
        for row in snapshot.partitions
        if row.committed_offset is not None and row.lag is not None and row.lag > 0
    }
    stamps = read_commit_timestamps(connection.bootstrap, connection.config, behind, snapshot.group_id, timeout)
    now = snapshot.taken_at.timestamp()
    return {
        (row.topic, row.partition): time_lag_seconds(row.lag, stamps.get((row.topic, row.partition)), now)
        for row in snapshot.partitions
    }
