"""Every group on a cluster at once: the fleet view's rows and the ``groups --json`` fields.

The on-call engineer's first question is *which* group is in trouble, so one row carries what
ranks a group (its worst partition's Burrow status, its total lag, its oldest unconsumed record)
and what says whether it will recover (trend and drain ETA). Rows are plain data built by the
fleet collector (``kafka/fleet_collector``) and the fleet tracker (``lag/fleet``); the screen and
the CLI only render them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from deliverytui.model.lag import LagStatus

GROUP_TYPES = ("classic", "consumer", "share")


@dataclass(frozen=True)
class FleetGroupReading:
    """One group as read in one fleet refresh (no history yet).

    ``partition_lags`` maps ``(topic, partition)`` to ``(committed, log_end)`` for every partition
    the group has a committed offset on (``committed`` is ``None`` where it has none); it feeds the
    tracker that turns readings into Burrow status, trend, time lag and drain ETA.
    """

    group_id: str
    group_type: str  # one of GROUP_TYPES
    state: str
    members: int
    topics: tuple[str, ...]
    total_lag: int | None  # None: not readable (no Describe on the group, or a share group's lag unknown)
    partition_lags: dict[tuple[str, int], tuple[int | None, int | None]]
    error: str | None = None  # one line when this group alone could not be read
    owned_partitions: frozenset[tuple[str, int]] = frozenset()
    simple: bool = False  # a "simple" classic group (offsets committed without ever joining), as ListGroups says


@dataclass(frozen=True)
class FleetReading:
    """All groups, read together in one refresh (batched Admin requests, never one per partition)."""

    groups: tuple[FleetGroupReading, ...]
    taken_at: datetime


@dataclass(frozen=True)
class FleetRow:
    """One group's line in the fleet view, with what only history can tell.

    ``max_time_lag_s`` is an estimate from the log-end samples the fleet already took (``None``
    until two refreshes have passed, and a lower bound, ``time_lag_at_least``, when a lagging
    partition's log end has not moved since it was first seen); ``drain_eta_s`` is ``None`` when the group is not draining,
    and ``drain_text`` then says why ("falling behind +12/s", "caught up", "-" without data).
    """

    group_id: str
    group_type: str
    state: str
    members: int
    topics: tuple[str, ...]
    total_lag: int | None
    max_time_lag_s: float | None
    status: LagStatus
    trend: str  # a LagTrend value, or "-" before two samples
    drain_eta_s: float | None
    drain_text: str
    error: str | None = None
    time_lag_at_least: bool = False  # max_time_lag_s is a lower bound: a lagging log end never moved while watched

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Worst first: the highest status rank, then the largest lag, then the name."""
        return (-self.status.severity, -(self.total_lag or 0), self.group_id)


@dataclass(frozen=True)
class FleetSnapshot:
    """What the fleet screen renders: rows worst first."""

    rows: tuple[FleetRow, ...]
    taken_at: datetime

    @property
    def total_lag(self) -> int:
        return sum(row.total_lag or 0 for row in self.rows)
