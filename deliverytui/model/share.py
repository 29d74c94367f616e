"""A share group (KIP-932) at one instant: plain, immutable data, no I/O.

A share group is a queue over a topic's partitions: members share partitions (several
may own one), each record is acquired under a time lock and acknowledged one by one,
and a record whose lock expires, or that is released, is delivered again with a higher
delivery count. There is no committed offset per consumer: the group keeps one
*share-partition start offset* per partition (every record below it is acknowledged or
archived), and Kafka's *share lag* is how many records at or above it are not yet
acknowledged. Field names follow ``kafka-share-groups --describe`` so the two can be
compared line by line; ``None`` is what that tool prints as ``-`` (a partition the group
has not fetched from yet has no share-partition state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deliverytui.model.group import BrokerNode, TopicPartitionId
from deliverytui.model.text import visible, visible_or_none

SHARE_TYPE = "share"
"""The ``"type"`` of a share group in ``deliverytui groups`` and ``snapshot --json``."""


@dataclass(frozen=True, slots=True)
class ShareMember:
    """One member of a share group. Its names are chosen by whoever runs it: held in their visible form."""

    member_id: str
    client_id: str
    host: str
    rack_id: str | None
    member_epoch: int
    assignment: tuple[TopicPartitionId, ...]

    def __post_init__(self) -> None:
        for name in ("member_id", "client_id", "host"):
            object.__setattr__(self, name, visible(getattr(self, name)))
        object.__setattr__(self, "rack_id", visible_or_none(self.rack_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "client_id": self.client_id,
            "host": self.host,
            "rack_id": self.rack_id,
            "member_epoch": self.member_epoch,
            "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in self.assignment],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShareMember:
        return cls(
            member_id=data["member_id"],
            client_id=data["client_id"],
            host=data["host"],
            rack_id=data.get("rack_id"),
            member_epoch=data["member_epoch"],
            assignment=tuple(TopicPartitionId(a["topic"], a["partition"]) for a in data["assignment"]),
        )


@dataclass(frozen=True, slots=True)
class SharePartitionRow:
    """One partition of a share group: where the queue starts, how much of it is unacknowledged, who owns it.

    ``start_offset`` is the share-partition start offset, ``lag`` Kafka's share lag (both ``None``
    before the group first fetches from the partition), ``log_end_offset`` the partition's
    high watermark (``None`` when the broker could not say). ``owners`` are the member ids
    assigned the partition: a share group may give one partition to several members.
    """

    topic: str
    partition: int
    start_offset: int | None
    leader_epoch: int | None
    lag: int | None
    log_end_offset: int | None
    owners: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", visible(self.topic))
        object.__setattr__(self, "owners", tuple(visible(owner) for owner in self.owners))

    @property
    def tp(self) -> TopicPartitionId:
        return TopicPartitionId(self.topic, self.partition)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "start_offset": self.start_offset,
            "leader_epoch": self.leader_epoch,
            "lag": self.lag,
            "log_end_offset": self.log_end_offset,
            "owners": list(self.owners),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SharePartitionRow:
        return cls(
            topic=data["topic"],
            partition=data["partition"],
            start_offset=data["start_offset"],
            leader_epoch=data.get("leader_epoch"),
            lag=data["lag"],
            log_end_offset=data["log_end_offset"],
            owners=tuple(data.get("owners") or ()),
        )


@dataclass(frozen=True, slots=True)
class ShareGroupSnapshot:
    """A share group at one instant: its state, epochs, members, and every partition it has state for or is assigned.

    ``group_id`` is the id exactly as asked for (what Kafka was called with); screens show it
    through :func:`~deliverytui.model.text.shown_name`.
    """

    group_id: str
    state: str
    coordinator: BrokerNode | None
    group_epoch: int
    assignment_epoch: int
    members: tuple[ShareMember, ...]
    partitions: tuple[SharePartitionRow, ...]
    taken_at: datetime

    @property
    def group_type(self) -> str:
        return SHARE_TYPE

    @property
    def total_lag(self) -> int:
        """Sum of known share lags (partitions the group has not fetched from do not count, as ``-`` in Kafka's tool)."""
        return sum(row.lag for row in self.partitions if row.lag is not None)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({row.topic for row in self.partitions}))

    def owners_of(self, row: SharePartitionRow) -> tuple[ShareMember, ...]:
        """The members that own ``row``'s partition (share groups may give it to several)."""
        return tuple(member for member in self.members if member.member_id in row.owners)

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "type": SHARE_TYPE,
            "state": self.state,
            "coordinator": self.coordinator.to_json() if self.coordinator else None,
            "group_epoch": self.group_epoch,
            "assignment_epoch": self.assignment_epoch,
            "members": [member.to_json() for member in self.members],
            "partitions": [row.to_json() for row in self.partitions],
            "total_lag": self.total_lag,
            "taken_at": self.taken_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShareGroupSnapshot:
        """Rebuild a snapshot from :meth:`to_json` output (a collector child sends it over a pipe)."""
        coordinator = data.get("coordinator")
        return cls(
            group_id=data["group"],
            state=data["state"],
            coordinator=BrokerNode(coordinator["id"], coordinator["host"], coordinator["port"]) if coordinator else None,
            group_epoch=data["group_epoch"],
            assignment_epoch=data["assignment_epoch"],
            members=tuple(ShareMember.from_json(member) for member in data["members"]),
            partitions=tuple(SharePartitionRow.from_json(row) for row in data["partitions"]),
            taken_at=datetime.fromisoformat(data["taken_at"]),
        )
