"""Group inspection: build a :class:`GroupSnapshot` from a constant number of batched AdminClient requests.

One snapshot costs two round trips whatever the partition count:

1. ``DescribeConsumerGroups`` and ``OffsetFetch`` (all committed offsets of the group),
   sent together to the group coordinator;
2. three ``ListOffsets`` batches sent together (latest read_uncommitted = log-end
   offset, latest read_committed = last stable offset, earliest = log start offset),
   which librdkafka splits per partition leader; alongside them, a ``Metadata`` request
   for the group's topics (leader, replicas and ISR of every partition).

Every call carries a request timeout, and waiting is bounded by a deadline, so an
unreachable cluster is reported in bounded time instead of hanging the caller.

Cost at scale: confluent-kafka's public ``AdminClient.list_offsets`` makes one Python
future per partition (15,000 futures for three batches over 5,000 partitions: most of a
snapshot's CPU). The batches are sent through the client's C call with one future per
batch instead (:meth:`GroupInspector._list_offsets`), falling back to the public call if
that signature ever changes. A long-lived caller that refreshes often (the live view) may
also reuse log start offsets for ``log_start_max_age_s``; the default (0) reads them every
time, so ``deliverytui snapshot`` stays exact.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from deliverytui.errors import (
    ConfigError,
    UnknownGroupError,
)
from deliverytui.kafka.acl_errors import (
    CLUSTER_RESOURCE,
    authenticates,
    hidden_topics_error,
    missing_acl,
    principal_of,
)
from deliverytui.kafka.admin import admin_client, weak_callback
from deliverytui.kafka.admin_requests import CollectionCancelled, kafka_error_text
from deliverytui.kafka.client_config import client_config
from deliverytui.kafka.group_states import protocol_name, state_name
from deliverytui.kafka.log_offsets import LogOffsetReader
from deliverytui.kafka.replication_metadata import (
    SINGLE_NODE_METADATA_MAX_AGE_S,
    UNKNOWN_PLACEMENT,
    ReplicationMetadata,
)
from deliverytui.model import (
    BrokerNode,
    GroupListing,
    GroupSnapshot,
    MemberInfo,
    PartitionRow,
    TopicPartitionId,
)
from deliverytui.model.text import quoted, visible

__all__ = ["SINGLE_NODE_METADATA_MAX_AGE_S", "CollectionCancelled", "GroupInspector", "group_listings", "state_name"]


#: librdkafka waits reconnect.backoff.ms / 2 (default 50 ms) between two new connections. The first
#: snapshot needs two: the bootstrap address, then the coordinator's broker id, which librdkafka
#: connects to afresh once the metadata names it; half of ``deliverytui snapshot``'s runs waited
#: those 50 ms (time to the group's description: ~70 ms instead of ~20). 20 ms makes the wait 11 ms
#: (librdkafka's floor); reconnects still back off exponentially up to reconnect.backoff.max.ms.
#: A --config that sets either backoff keeps its own.
FIRST_CONNECT_BACKOFF_MS = 20


def clamp_to_log_end(stable: dict[tuple[str, int], int], end: Mapping[tuple[str, int], int]) -> None:
    """Lower every last stable offset above its log end to the log end, in place.

    The two come from two ListOffsets batches answered at slightly different instants: a last
    stable offset above the log end only means the log grew in between (the view once showed
    Last stable 5,286 above Log-end 5,285). Clamped, the two read as one instant's values.
    """
    for key, last_stable in stable.items():
        log_end = end.get(key)
        if log_end is not None and last_stable > log_end:
            stable[key] = log_end


class GroupInspector(LogOffsetReader, ReplicationMetadata):
    """A long-lived AdminClient that takes group snapshots.

    Keep one per cluster: its connections and metadata cache make later ("warm")
    snapshots cheap. It is not thread-safe for concurrent snapshots; the TUI calls it
    from one worker at a time.
    """

    def __init__(
        self,
        bootstrap: str,
        file_config: Mapping[str, str] | None = None,
        *,
        request_timeout: float = 10.0,
        cancel_event: threading.Event | None = None,
        log_start_max_age_s: float = 0.0,
    ) -> None:
        """``log_start_max_age_s`` > 0 lets snapshots reuse log start offsets read at most that long ago.

        Log start offsets only move when retention or DeleteRecords removes segments (or a
        topic is re-created), and the live view does not show them, so re-reading them every
        two seconds costs a third of the ListOffsets work for nothing. With a positive value a
        snapshot's ``log_start_offset`` may be up to that many seconds old; partitions not
        seen before always trigger a fresh read of all of them. 0 (the default, and what the
        CLI uses) reads them on every snapshot.
        """
        self.bootstrap = bootstrap
        self.principal = principal_of(file_config)
        self.authenticates = authenticates(file_config)
        self.cancel_event = cancel_event
        self.request_timeout = request_timeout
        self.log_start_max_age_s = log_start_max_age_s
        self._log_start_cache: dict[tuple[str, int], int] = {}
        self._log_start_read_at = float("-inf")
        self._fatal: KafkaError | None = None
        self._ever_answered = False
        self._lock = threading.Lock()
        #: (read at, broker ids, topics asked, placement, one node?) of the last metadata read (see read_replication).
        self._replication_cache: tuple[float, tuple[int, ...], frozenset[str], dict, bool] | None = None
        settings: dict[str, object] = {
            "socket.connection.setup.timeout.ms": int(min(request_timeout, 10.0) * 1000),
            "error_cb": weak_callback(self._on_error),
        }
        if not {"reconnect.backoff.ms", "reconnect.backoff.max.ms"} & set(file_config or ()):
            settings["reconnect.backoff.ms"] = FIRST_CONNECT_BACKOFF_MS
        config = client_config(bootstrap, file_config, **settings)
        try:
            self.admin = admin_client(config)
        except KafkaException as exc:
            raise ConfigError(
                f"invalid client configuration: {kafka_error_text(exc)}; fix or remove it in the --config file "
                "(it takes librdkafka properties)"
            ) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid client configuration: {exc}") from None

    # librdkafka calls this from its own thread for client-level errors.
    # -- public API ----------------------------------------------------------
    def list_groups(self) -> list[GroupListing]:
        future = self.admin.list_consumer_groups(request_timeout=self.request_timeout)
        result = self._await_one(future, "listing consumer groups")
        listings = group_listings(result.valid)
        if not listings and self.authenticates:
            self._require_cluster_describe()
        return sorted(listings, key=lambda g: g.group_id)

    def _require_cluster_describe(self) -> None:
        """An empty list is "none you may see" for a principal without Describe on the cluster: say so.

        ListGroups answers such a principal with only the groups it may describe, silently;
        the cluster's authorized operations (DescribeCluster, which needs no ACL) tell which it was.
        """
        from confluent_kafka.admin import AclOperation

        future = self.admin.describe_cluster(include_authorized_operations=True, request_timeout=self.request_timeout)
        cluster = self._await_one(future, "describing the cluster")
        allowed = set(cluster.authorized_operations or ())
        if not allowed & {AclOperation.DESCRIBE, AclOperation.ALTER, AclOperation.ALL}:
            if self._may_describe_any_group():
                return  # Describe on every group (a wildcard ACL): the empty list is the whole truth
            raise missing_acl(
                self.principal, "describe", "cluster", CLUSTER_RESOURCE,
                context="without it Kafka lists only the groups it may describe, and it may describe none",
            )

    def _may_describe_any_group(self) -> bool:
        """Whether the principal may describe a group it could not know the name of in advance.

        A read-only principal with Describe on every group (``--group '*'``, as the secured broker's
        ``reader``) needs no Describe on the cluster to see every group, so its empty list is the
        truth. Describing a random, absent group tells the two apart: only a principal without
        that wildcard is refused with GROUP_AUTHORIZATION_FAILED.
        """
        absent = f"deliverytui-acl-check-{uuid.uuid4().hex}"
        future = self.admin.describe_consumer_groups([absent], request_timeout=self.request_timeout)[absent]
        try:
            future.result(timeout=self.request_timeout + 1)
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            return error is None or error.code() != KafkaError.GROUP_AUTHORIZATION_FAILED
        except concurrent.futures.TimeoutError:
            return False
        return True

    def snapshot(self, group_id: str) -> GroupSnapshot:
        """Take one :class:`GroupSnapshot` of ``group_id`` (raises :class:`UnknownGroupError` if absent)."""
        header, fields = self.snapshot_fields(group_id)
        return dataclasses.replace(header, partitions=tuple(PartitionRow(*row) for row in fields))

    def snapshot_fields(self, group_id: str) -> tuple[GroupSnapshot, list[list[Any]]]:
        """The snapshot with no partitions, and each partition as a list of :class:`PartitionRow`'s
        fields in order: what the isolated child sends (building 5,000 frozen dataclasses there
        only to take them apart again cost ~25 ms a poll)."""
        describe = self.admin.describe_consumer_groups([group_id], request_timeout=self.request_timeout)[group_id]
        offsets = self.admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group_id)], request_timeout=self.request_timeout
        )[group_id]
        self.await_all([describe, offsets], f"describing group {quoted(group_id)}")
        description = self._group_result(describe, group_id)
        committed_tps: list[TopicPartition] = list(self._result(offsets, f"fetching offsets of {quoted(group_id)}").topic_partitions or [])
        for tp in committed_tps:
            if tp.error is not None and tp.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                raise missing_acl(self.principal, "describe", "topic", tp.topic, context=f"cannot read group {quoted(group_id)}'s offsets")

        state = state_name(description.state)
        members = tuple(self._member(m) for m in description.members)
        # Plain (topic, partition) tuples as keys: they hash in C, where TopicPartitionId's
        # dataclass __hash__ runs Python code (tens of thousands of lookups per snapshot).
        committed = {(tp.topic, tp.partition): tp for tp in committed_tps if tp.error is None and tp.offset >= 0}
        if state == "Dead" and not members and not committed:
            raise UnknownGroupError(f"consumer group {quoted(group_id)} does not exist on {self.bootstrap}")
        owners: dict[tuple[str, int], MemberInfo] = {}
        for member in members:
            for tp in member.assignment:
                owners[(tp.topic, tp.partition)] = member
        partitions = sorted(committed.keys() | owners.keys())  # sorts as TopicPartitionId does
        if not partitions and not members and state == "Empty" and self.authenticates:
            # An Empty group lives on its committed offsets; none visible means they are on topics
            # this principal may not describe (OffsetFetch leaves those out without a word).
            raise hidden_topics_error(self.principal, group_id)
        # Replication (leader, replicas, ISR) first, then ListOffsets, which finds its leaders in
        # the metadata just read: never the two at once on one client (replication_metadata).
        brokers, placement = self.read_replication({key[0] for key in partitions})
        end, stable, start = self._log_offsets(partitions)
        refused = sorted(self.unauthorized_topics & {key[0] for key in partitions})
        if refused:  # librdkafka reports ListOffsets on such a topic as "no leaders found": name the ACL instead
            raise missing_acl(
                self.principal, "describe", "topic", ",".join(refused), context="its offsets and lag cannot be read"
            )
        # Topic names in offset commits and in a classic group's assignment are whatever the
        # committing or leading client wrote: shown in their visible form, as member names are.
        topic_names = {topic: visible(topic) for topic in {key[0] for key in partitions}}
        clamp_to_log_end(stable, end)
        rows = []
        for key in partitions:
            commit = committed.get(key)
            owner = owners.get(key)
            placed = placement.get(key, UNKNOWN_PLACEMENT)
            # PartitionRow's field order: topic, partition, committed offset, metadata and leader
            # epoch, log end, last stable, log start, member id, client id, host, leader, replicas, isr.
            rows.append([
                topic_names[key[0]],
                key[1],
                commit.offset if commit else None,
                (commit.metadata or None) if commit else None,
                getattr(commit, "leader_epoch", None) if commit else None,
                end.get(key),
                stable.get(key),
                start.get(key),
                owner.member_id if owner else None,
                owner.client_id if owner else None,
                owner.host if owner else None,
                placed[0],
                placed[1],
                placed[2],
            ])  # fmt: skip
        coordinator = description.coordinator
        header = GroupSnapshot(
            group_id=group_id,
            state=state,
            protocol=protocol_name(getattr(description, "type", None)),
            coordinator=BrokerNode(coordinator.id, coordinator.host, coordinator.port) if coordinator else None,
            partition_assignor=description.partition_assignor or None,
            members=members,
            partitions=(),
            taken_at=datetime.now(UTC),
            brokers=brokers,
        )
        return header, rows

    def log_offsets(
        self, partitions: list[tuple[str, int]]
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """Log-end, last stable and log start offsets of ``partitions`` (one batched round trip), for
        collectors of other group types (a share group's log end comes from here, its start offset from Java)."""
        return self._log_offsets(partitions)

    def _group_result(self, describe: concurrent.futures.Future, group_id: str):
        """The group's description; a refusal names the ACL it lacks (on the group, or on its members' topics)."""
        exc = describe.exception(timeout=0)
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError) else None
        code = error.code() if error is not None else None
        if code == KafkaError.GROUP_AUTHORIZATION_FAILED:
            raise missing_acl(self.principal, "describe", "group", group_id)
        if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:  # KIP-848: Describe on every assigned topic is needed
            raise missing_acl(
                self.principal, "describe", "topic", f"<each topic assigned in {quoted(group_id)}>",
                context=f"the broker refused to describe group {quoted(group_id)}'s assignment",
            )
        return self._result(describe, f"describing group {quoted(group_id)}")

    @staticmethod
    def _member(member) -> MemberInfo:
        assigned = getattr(member.assignment, "topic_partitions", None) or []
        return MemberInfo(
            member_id=member.member_id,
            client_id=member.client_id,
            host=(member.host or "").lstrip("/"),
            group_instance_id=member.group_instance_id,
            assignment=tuple(sorted(TopicPartitionId(visible(tp.topic), tp.partition) for tp in assigned)),
        )


def group_listings(valid) -> list[GroupListing]:
    """librdkafka's ListGroups answer (``result.valid``) as plain listings, protocol and state named."""
    return [
        GroupListing(
            group_id=g.group_id,
            state=state_name(g.state),
            protocol=protocol_name(getattr(g, "type", None)),
            is_simple=bool(g.is_simple_consumer_group),
        )
        for g in valid or []
    ]
