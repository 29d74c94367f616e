"""Plain, immutable data shared by every layer: no I/O, no Textual.

Collectors build these; screens and the CLI render them. Field names follow
Kafka's own vocabulary (committed offset, log-end offset, last stable offset,
log start offset) so what deliverytui shows can be checked against Kafka's CLI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from deliverytui.model.text import visible, visible_or_none


@dataclass(frozen=True, slots=True)
class TopicPartitionId:
    """A partition of a topic; sorts by topic then partition number."""

    topic: str
    partition: int

    def __lt__(self, other: TopicPartitionId) -> bool:
        return (self.topic, self.partition) < (other.topic, other.partition)

    @property
    def key(self) -> str:
        """The row key used by tables: ``topic:partition``."""
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True, slots=True)
class BrokerNode:
    """A broker as clients address it (the group coordinator, a partition leader)."""

    node_id: int
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", visible(self.host))  # a broker advertises whatever it was configured with

    def __str__(self) -> str:
        return f"{self.host}:{self.port} (id {self.node_id})"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.node_id, "host": self.host, "port": self.port}


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One member of a consumer group, as the group coordinator describes it.

    Its names are chosen by whoever runs the consumer (``client.id``, ``group.instance.id``; a classic
    member id starts with the client id), so they are held in their visible form
    (:func:`deliverytui.model.text.visible`): a screen or a CLI line can show them as they are.
    deliverytui never sends them back to Kafka.
    """

    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None
    assignment: tuple[TopicPartitionId, ...]

    def __post_init__(self) -> None:
        for name in ("member_id", "client_id", "host"):
            object.__setattr__(self, name, visible(getattr(self, name)))
        object.__setattr__(self, "group_instance_id", visible_or_none(self.group_instance_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "client_id": self.client_id,
            "host": self.host,
            "group_instance_id": self.group_instance_id,
            "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in self.assignment],
        }


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """Everything known about one partition of a group at one instant.

    ``lag`` is ``log_end_offset - committed_offset`` (not clamped, as Kafka's CLI does) and is
    ``None`` when nothing is committed, which is what Kafka's ``kafka-consumer-groups --describe`` prints
    (``-``). Offsets are ``None`` when the broker could not say (topic deleted,
    leader unavailable).
    """

    topic: str
    partition: int
    committed_offset: int | None
    committed_metadata: str | None
    committed_leader_epoch: int | None
    log_end_offset: int | None
    last_stable_offset: int | None
    log_start_offset: int | None
    member_id: str | None
    client_id: str | None
    host: str | None
    #: Replication, from the topic metadata: the leader's node id (None: no leader, the
    #: partition is offline), the assigned replicas and the in-sync replicas. Empty
    #: ``replicas`` means unknown (no metadata for the topic, e.g. it was deleted).
    leader: int | None = None
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()

    @property
    def tp(self) -> TopicPartitionId:
        return TopicPartitionId(self.topic, self.partition)

    @property
    def under_replicated(self) -> bool:
        """Fewer in-sync replicas than assigned ones (what Kafka's ``--under-replicated-partitions`` lists)."""
        return bool(self.replicas) and len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        """Known replicas but no leader: nobody can read or write the partition."""
        return bool(self.replicas) and self.leader is None

    @property
    def lag(self) -> int | None:
        if self.committed_offset is None or self.log_end_offset is None:
            return None
        return self.log_end_offset - self.committed_offset

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed_offset": self.committed_offset,
            "committed_metadata": self.committed_metadata,
            "log_end_offset": self.log_end_offset,
            "last_stable_offset": self.last_stable_offset,
            "log_start_offset": self.log_start_offset,
            "lag": self.lag,
            "member_id": self.member_id,
            "client_id": self.client_id,
            "host": self.host,
            "leader": self.leader,
            "replicas": list(self.replicas),
            "isr": list(self.isr),
            "under_replicated": self.under_replicated,
            "offline": self.offline,
        }


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """A consumer group at one instant: who is in it and where every partition stands.

    ``protocol`` is ``"classic"`` or ``"consumer"`` (KIP-848). ``partitions`` holds every
    partition the group has committed or is assigned, sorted by topic and partition.
    ``group_id`` is the id exactly as it was asked for (what Kafka was called with, and what
    ``--json`` prints, JSON-escaped); screens show it through :func:`~deliverytui.model.text.shown_name`.
    """

    group_id: str
    state: str
    protocol: str
    coordinator: BrokerNode | None
    partition_assignor: str | None
    members: tuple[MemberInfo, ...]
    partitions: tuple[PartitionRow, ...]
    taken_at: datetime
    #: Node ids of the brokers in the cluster metadata (the live ones); empty when unknown.
    brokers: tuple[int, ...] = ()

    @property
    def multi_node(self) -> bool:
        """More than one broker, or a partition replicated more than once: replication is worth showing."""
        return len(self.brokers) > 1 or any(len(row.replicas) > 1 for row in self.partitions)

    @property
    def under_replicated(self) -> tuple[PartitionRow, ...]:
        return tuple(row for row in self.partitions if row.under_replicated)

    @property
    def offline(self) -> tuple[PartitionRow, ...]:
        return tuple(row for row in self.partitions if row.offline)

    @property
    def total_lag(self) -> int:
        """Sum of known lags (partitions with no commit do not count, as in Kafka's CLI)."""
        return sum(row.lag for row in self.partitions if row.lag is not None)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({row.topic for row in self.partitions}))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupSnapshot:
        """Rebuild a snapshot from :meth:`to_json` output (the isolated collector sends it over a pipe)."""
        coordinator = data.get("coordinator")
        return cls(
            group_id=data["group"],
            state=data["state"],
            protocol=data["protocol"],
            coordinator=BrokerNode(coordinator["id"], coordinator["host"], coordinator["port"]) if coordinator else None,
            partition_assignor=data.get("partition_assignor"),
            members=tuple(
                MemberInfo(
                    member_id=m["member_id"],
                    client_id=m["client_id"],
                    host=m["host"],
                    group_instance_id=m.get("group_instance_id"),
                    assignment=tuple(TopicPartitionId(a["topic"], a["partition"]) for a in m["assignment"]),
                )
                for m in data["members"]
            ),
            partitions=tuple(
                PartitionRow(
                    topic=p["topic"],
                    partition=p["partition"],
                    committed_offset=p["committed_offset"],
                    committed_metadata=p.get("committed_metadata"),
                    committed_leader_epoch=p.get("committed_leader_epoch"),
                    log_end_offset=p["log_end_offset"],
                    last_stable_offset=p["last_stable_offset"],
                    log_start_offset=p["log_start_offset"],
                    member_id=p["member_id"],
                    client_id=p["client_id"],
                    host=p["host"],
                    leader=p.get("leader"),
                    replicas=tuple(p.get("replicas") or ()),
                    isr=tuple(p.get("isr") or ()),
                )
                for p in data["partitions"]
            ),
            taken_at=datetime.fromisoformat(data["taken_at"]),
            brokers=tuple(data.get("brokers") or ()),
        )

    def to_json(self, *, partitions: bool = True) -> dict[str, Any]:
        """``partitions=False`` leaves out the partitions and the figures derived from them (a header only)."""
        header = {
            "group": self.group_id,
            "state": self.state,
            "protocol": self.protocol,
            "coordinator": self.coordinator.to_json() if self.coordinator else None,
            "partition_assignor": self.partition_assignor,
            "members": [m.to_json() for m in self.members],
        }
        if not partitions:
            return {**header, "taken_at": self.taken_at.isoformat(), "brokers": list(self.brokers)}
        return {
            **header,
            "partitions": [row.to_json() for row in self.partitions],
            "total_lag": self.total_lag,
            "taken_at": self.taken_at.isoformat(),
            "brokers": list(self.brokers),
            "under_replicated_partitions": len(self.under_replicated),
            "offline_partitions": len(self.offline),
        }


@dataclass(frozen=True, slots=True)
class GroupListing:
    """One line of ``deliverytui groups``: a group id with its state and type.

    ``protocol`` is the group's type as Kafka's ListGroups names it: ``classic``, ``consumer``
    (KIP-848) or ``share`` (KIP-932); ``--json`` prints it as ``"type"`` (and, for scripts written
    before share groups, as ``"protocol"`` too).

    Anybody who can join a group names it, so ``group_id`` may hold control characters: it is the
    exact id, kept to call Kafka with (the group picker switches to it, ``--json`` prints it
    JSON-escaped so that a script can pass it back to ``--group``). Screens and text show ``name``.
    """

    group_id: str
    state: str
    protocol: str
    is_simple: bool
    name: str = field(init=False)
    """``group_id`` with its control and bidi characters escaped (:func:`~deliverytui.model.text.visible`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", visible(self.group_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "type": self.protocol,
            "state": self.state,
            "protocol": self.protocol,
            "simple": self.is_simple,
        }


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """Where a running embedded broker can be reached and what it is built from."""

    bootstrap: str
    controller: str
    kafka_version: str
    libs_dir: str
    pid: int
    data_dir: str
    log_file: str
    running: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data
