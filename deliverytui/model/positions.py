"""Consumer positions as reported by the consumers themselves, and what their gap to the commit means.

Kafka's broker knows only *committed* offsets. Where a consumer actually *is* (its
position: the last message handed to the application, plus one) lives inside the
consumer process; consumers that run the :mod:`deliverytui.probe` helper publish it.
The gap between the two is the delivery story the TUI tells: a position ahead of the
commit is work that a crash would redeliver; a commit ahead of the position is work
that a crash would lose. Plain immutable data and pure functions only: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from deliverytui.model.group import MemberInfo, TopicPartitionId
from deliverytui.model.probe_topic import DEFAULT_PROBE_TOPIC as DEFAULT_PROBE_TOPIC

#: The topic :mod:`deliverytui.probe` publishes positions on (DEFAULT_PROBE_TOPIC, defined alone for the
#: CLI parser), and the version of its record format (here, below both the probe that writes it and
#: :mod:`deliverytui.kafka.probe_positions` that reads it).
PROBE_RECORD_VERSION = 1


class GapKind(Enum):
    """How a consumer's position relates to its committed offset on one partition."""

    IN_SYNC = "in-sync"
    PROCESSED_NOT_COMMITTED = "processed-not-committed"
    COMMITTED_NOT_PROCESSED = "committed-not-processed"
    UNKNOWN = "unknown"

    @property
    def explanation(self) -> str:
        """One sentence the TUI shows next to the coloured gap."""
        return _EXPLANATIONS[self]


_EXPLANATIONS: dict[GapKind, str] = {
    GapKind.IN_SYNC: "position equals the committed offset: nothing would be redelivered or lost after a crash",
    GapKind.PROCESSED_NOT_COMMITTED: (
        "position ahead of committed: processed but not committed; these would be redelivered after a crash"
    ),
    GapKind.COMMITTED_NOT_PROCESSED: (
        "committed ahead of position: committed but not processed; these would be lost after a crash"
    ),
    GapKind.UNKNOWN: "position or committed offset unknown: no gap to explain",
}


@dataclass(frozen=True, slots=True)
class PositionGap:
    """The classified gap on one partition: its kind and how many messages it spans.

    ``count`` is always ``>= 0``: ``position - committed`` for PROCESSED_NOT_COMMITTED,
    ``committed - position`` for COMMITTED_NOT_PROCESSED, 0 for IN_SYNC, ``None`` for UNKNOWN.
    """

    kind: GapKind
    count: int | None

    @property
    def explanation(self) -> str:
        return self.kind.explanation

    def describe(self) -> str:
        """A short label with the count, e.g. ``5 processed, not committed (redelivered after a crash)``."""
        if self.kind is GapKind.PROCESSED_NOT_COMMITTED:
            return f"{self.count} processed, not committed (redelivered after a crash)"
        if self.kind is GapKind.COMMITTED_NOT_PROCESSED:
            return f"{self.count} committed, not processed (lost after a crash)"
        if self.kind is GapKind.IN_SYNC:
            return "in sync"
        return "unknown"


def classify_gap(position: int | None, committed: int | None) -> PositionGap:
    """Classify the gap between a consumer's position and a committed offset.

    Negative values are librdkafka's logical offsets (``-1001`` = invalid/none) and
    count as unknown, as does ``None``.
    """
    if position is None or committed is None or position < 0 or committed < 0:
        return PositionGap(GapKind.UNKNOWN, None)
    if position > committed:
        return PositionGap(GapKind.PROCESSED_NOT_COMMITTED, position - committed)
    if committed > position:
        return PositionGap(GapKind.COMMITTED_NOT_PROCESSED, committed - position)
    return PositionGap(GapKind.IN_SYNC, 0)


@dataclass(frozen=True, slots=True)
class PartitionPosition:
    """The latest position one consumer reported for one partition.

    ``committed`` is the committed offset *the reporter* saw in the same report, so
    ``position`` and ``committed`` are sampled at the same instant; comparing a report
    that is a second old with a fresher broker-side commit would invent gaps on a busy
    consumer. ``age_seconds`` is measured when the view was taken, from the reporter's
    wall clock (clamped at 0 against clock skew). A ``stale`` report is older than the
    staleness limit: the consumer stopped reporting (stopped, stuck or not polling),
    so the position is shown but should not be trusted.
    """

    topic: str
    partition: int
    position: int | None
    committed: int | None
    client_id: str
    member_id: str | None
    reporter: str
    source: str
    reported_at: datetime
    age_seconds: float
    stale: bool
    #: Whether the reporter is a current member of the group (:func:`verify_reporters`); ``None`` until checked.
    #: Anyone with Write on the probe topic can publish a record under any client id: an unverified
    #: position is a claim, not a fact, and is shown as such.
    verified: bool | None = None

    @property
    def tp(self) -> TopicPartitionId:
        return TopicPartitionId(self.topic, self.partition)

    @property
    def gap(self) -> PositionGap:
        """The gap between this report's position and its own committed offset."""
        return classify_gap(self.position, self.committed)

    def to_json(self) -> dict[str, Any]:
        gap = self.gap
        return {
            "topic": self.topic,
            "partition": self.partition,
            "position": self.position,
            "committed": self.committed,
            "client_id": self.client_id,
            "member_id": self.member_id,
            "reporter": self.reporter,
            "source": self.source,
            "reported_at": self.reported_at.isoformat(),
            "age_seconds": round(self.age_seconds, 3),
            "stale": self.stale,
            "verified": self.verified,
            "gap": gap.kind.value,
            "gap_count": gap.count,
        }

    def describe_gap(self) -> str:
        """The gap as the screens and the CLI say it: an unverified report is never stated as fact."""
        if self.verified is False:
            return f"unverified: {self.client_id} is not a current member of the group (it claims {self.gap.describe()})"
        return self.gap.describe()


@dataclass(frozen=True, slots=True)
class PositionsView:
    """Every known position of one group's partitions at one instant, plus reader health.

    ``partitions`` holds one entry per partition (the freshest reporter wins), sorted by
    topic and partition. ``malformed_records`` and ``other_group_records`` count probe
    records skipped since the collector started. ``caught_up`` is false while the reader
    is still working through the probe topic's backlog. ``error`` is a one-line reason
    when the probe topic could not be read (missing, unauthorised, unreachable).
    """

    group_id: str
    probe_topic: str
    partitions: tuple[PartitionPosition, ...]
    taken_at: datetime
    caught_up: bool
    malformed_records: int
    other_group_records: int
    error: str | None = None

    @property
    def unverified_reporters(self) -> list[str]:
        """Client ids of the reporters that are not current members, sorted (for a one-line note)."""
        return sorted({entry.client_id for entry in self.partitions if entry.verified is False})

    def get(self, topic: str, partition: int) -> PartitionPosition | None:
        for entry in self.partitions:
            if entry.topic == topic and entry.partition == partition:
                return entry
        return None

    @property
    def by_key(self) -> dict[str, PartitionPosition]:
        """Entries by table row key ``topic:partition`` (as :attr:`TopicPartitionId.key`)."""
        return {entry.tp.key: entry for entry in self.partitions}

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "probe_topic": self.probe_topic,
            "partitions": [entry.to_json() for entry in self.partitions],
            "taken_at": self.taken_at.isoformat(),
            "caught_up": self.caught_up,
            "malformed_records": self.malformed_records,
            "other_group_records": self.other_group_records,
            "error": self.error,
        }


def partition_position_fields(entry: PartitionPosition | None) -> dict[str, Any]:
    """The position fields ``snapshot --json --positions`` adds to each partition, all ``None`` when no probe reports it.

    ``position_gap`` compares the position with ``position_committed``, the commit the same report carried (both
    sampled at one instant by the consumer), never with the partition's ``committed_offset``, which was read from
    the group coordinator at another moment: a busy in-sync consumer would otherwise flicker "lost after a crash".
    """
    if entry is None:
        return dict.fromkeys(
            ("position", "position_committed", "position_client_id", "position_stale", "position_verified", "position_gap")
        )
    return {
        "position": entry.position,
        "position_committed": entry.committed,
        "position_client_id": entry.client_id,
        "position_stale": entry.stale,
        "position_verified": entry.verified,
        "position_gap": entry.gap.kind.value,
    }


def reporter_is_member(position: PartitionPosition, members: Iterable[MemberInfo]) -> bool:
    """Whether ``position``'s reporter is one of ``members`` (the group as its coordinator describes it now).

    With a member id in the record (the probe sends librdkafka's ``memberid()``), that member must
    exist with the same client id; without one, some member must have the client id. The host is not
    compared: a record names its reporter's host name, the coordinator the address it sees.
    """
    for member in members:
        if member.client_id != position.client_id:
            continue
        if position.member_id is None or position.member_id == member.member_id:
            return True
    return False


def verify_reporters(view: PositionsView, members: Iterable[MemberInfo]) -> PositionsView:
    """``view`` with every position's ``verified`` set against the group's current ``members``."""
    members = tuple(members)
    checked = tuple(replace(entry, verified=reporter_is_member(entry, members)) for entry in view.partitions)
    return replace(view, partitions=checked)
