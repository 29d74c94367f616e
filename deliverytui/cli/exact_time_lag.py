"""``--time-lag``: the exact time lag of every partition of a snapshot, read in one fetch pass.

The partitions with lag are read at their committed offsets together
(:func:`~deliverytui.kafka.commit_timestamps.read_commit_timestamps`); the time lag is the snapshot's
``taken_at`` minus the record's timestamp (:func:`~deliverytui.lag.time_lag.time_lag_seconds`), so
it is the lag at the instant the offsets were read, not when the record arrived here. A caught-up
partition is 0 s (no record waits: that is exact, not unknown); a partition with no committed
offset, or whose record could not be read within the timeout, is ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI imports this module only with --time-lag
    from deliverytui.cli.connection import Connection
    from deliverytui.model import GroupSnapshot
    from deliverytui.model.fleet import FleetGroupReading


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


def fleet_max_time_lags(
    connection: Connection, groups: Sequence[FleetGroupReading], taken_at: datetime, timeout: float
) -> tuple[dict[str, float | None], list[str]]:
    """``groups --time-lag``: each group's exact max time lag (``None`` where any lagging partition could
    not be dated), and one line per group that could not be read at all.

    Each group's partitions with lag are read under its own id (the principal has Describe on it),
    a few groups at a time; a ``(topic, partition, offset)`` two groups share is read once.
    """
    from concurrent.futures import ThreadPoolExecutor

    from deliverytui.errors import UserFacingError
    from deliverytui.kafka.commit_timestamps import read_commit_timestamps
    from deliverytui.lag.time_lag import time_lag_seconds

    owner: dict[tuple[str, int, int], str] = {}
    wanted: dict[str, dict[tuple[str, int], int]] = {}
    for group in groups:
        for (topic, partition), (committed, log_end) in group.partition_lags.items():
            if committed is not None and log_end is not None and log_end > committed:
                owner.setdefault((topic, partition, committed), group.group_id)
                if owner[(topic, partition, committed)] == group.group_id:
                    wanted.setdefault(group.group_id, {})[(topic, partition)] = committed

    def read(group_id: str) -> tuple[str, dict[tuple[str, int], int | None] | str]:
        try:
            return group_id, read_commit_timestamps(connection.bootstrap, connection.config, wanted[group_id], group_id, timeout)
        except UserFacingError as exc:
            return group_id, str(exc)

    stamps: dict[tuple[str, int, int], int | None] = {}
    failures: list[str] = []
    failed: set[str] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for group_id, answer in pool.map(read, list(wanted)):
            if isinstance(answer, str):
                failures.append(f"{group_id}: {answer}")
                failed.add(group_id)
                continue
            for (topic, partition), stamp in answer.items():
                stamps[(topic, partition, wanted[group_id][(topic, partition)])] = stamp
    now = taken_at.timestamp()
    result: dict[str, float | None] = {}
    for group in groups:
        ages = [
            time_lag_seconds(log_end - committed, stamps.get((topic, partition, committed)), now)
            for (topic, partition), (committed, log_end) in group.partition_lags.items()
            if committed is not None and log_end is not None
        ]
        unreadable = group.group_id in failed or owner_failed(group, owner, failed)
        known = [age for age in ages if age is not None]
        # One lagging partition that could not be dated leaves the maximum unknown, not understated.
        result[group.group_id] = None if unreadable or not known or len(known) < len(ages) else max(known)
    return result, failures


def owner_failed(group: FleetGroupReading, owner: dict[tuple[str, int, int], str], failed: set[str]) -> bool:
    """True when a record this group waits on was to be read under another group's id, which failed."""
    return any(
        owner.get((topic, partition, committed)) in failed
        for (topic, partition), (committed, log_end) in group.partition_lags.items()
        if committed is not None and log_end is not None and log_end > committed
    )
