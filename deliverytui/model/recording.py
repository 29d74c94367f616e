"""A flight recording: what the live view saw of one group, poll by poll (issue #16).

Plain frozen data, no I/O. :mod:`deliverytui.recorder.store` writes and reads these to and from
SQLite; ``deliverytui replay`` renders them. A frame holds what one poll produced — the snapshot (or the
failure when the poll failed), the positions the probe topic reported, the lag statuses and the
event-log lines the live view computed — so that a replay shows what the operator would have seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deliverytui.model.dedup import DedupCounters
from deliverytui.model.group import GroupSnapshot
from deliverytui.model.positions import PositionsView
from deliverytui.model.text import visible

#: The storage format this version writes and reads; a reader refuses any other (1 stored positions as
#: plain deltas; it was written only by development builds, for an hour).
RECORDING_FORMAT_VERSION = 2


@dataclass(frozen=True)
class RecordingHeader:
    """Which cluster and group a recording describes, and since when: a recording has an identity."""

    format_version: int
    group: str  # sanitized
    bootstrap: str
    cluster_id: str | None  # the cluster the recording describes (state has an identity)
    started_at: float  # epoch seconds
    refresh_seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", visible(self.group))
        object.__setattr__(self, "bootstrap", visible(self.bootstrap))


@dataclass(frozen=True)
class RecordedFrame:
    """One poll of the recorded group, as the live view computed it."""

    index: int  # 0-based, ascending with `at`
    at: float  # epoch seconds: the snapshot's taken_at, or when the poll failed
    snapshot: GroupSnapshot | None  # None when this poll failed (e.g. broker outage)
    positions: PositionsView | None  # what the probe topic reported at that poll (None if not read)
    group_status: str | None  # the group's Burrow status as the live view showed it
    statuses: Mapping[str, str] = field(default_factory=dict)  # partition key -> status value
    events: tuple[tuple[str, str], ...] = ()  # (text, style): the event-log lines this poll added, in order
    dedup: DedupCounters | None = None  # the dedup store's counters at that poll, None without a store
    failure: str | None = None  # the one-line failure text when snapshot is None
