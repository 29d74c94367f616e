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
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

try:  # the C implementation under AdminClient.list_offsets (see _list_offsets)
    from confluent_kafka.cimpl import _AdminClientImpl
except ImportError:  # pragma: no cover - a confluent-kafka without it uses the public call
    _AdminClientImpl = None  # type: ignore[assignment,misc]

from deliverytui.errors import (
    MESSAGE_LIMIT,
    AuthenticationError,
    ClusterUnreachableError,
    ConfigError,
    NotAuthorizedError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.admin import admin_client
from deliverytui.kafka.client_config import client_config
from deliverytui.model import (
    BrokerNode,
    GroupListing,
    GroupSnapshot,
    MemberInfo,
    PartitionRow,
    TopicPartitionId,
)

#: librdkafka error codes that mean "nobody answered".
_UNREACHABLE_CODES = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._RESOLVE, KafkaError.REQUEST_TIMED_OUT}
)
_AUTH_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.ILLEGAL_SASL_STATE,
     KafkaError.UNSUPPORTED_SASL_MECHANISM, KafkaError._SSL}
)
_AUTHZ_CODES = frozenset(
    {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)

#: Kafka's own spelling of group states, as ``kafka-consumer-groups`` prints them.
_STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCE": "PreparingRebalance",
    "PREPARING_REBALANCING": "PreparingRebalance",  # confluent-kafka's enum spelling
    "COMPLETING_REBALANCE": "CompletingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "ASSIGNING": "Assigning",
    "RECONCILING": "Reconciling",
    "UNKNOWN": "Unknown",
}


def _enum_name(value: object) -> str:
    return getattr(value, "name", None) or str(value)


def state_name(state: object) -> str:
    name = _enum_name(state).upper()
    return _STATE_NAMES.get(name, name.title())


def _protocol_name(group_type: object) -> str:
    return _enum_name(group_type).lower() if group_type is not None else "unknown"


#: Partitions per ListOffsets request. librdkafka's cost per request grows faster than
#: linearly with its size (5,000 partitions in one request: ~130 ms of CPU; in ten requests
#: of 500: ~35 ms), and the chunks still travel together, so a snapshot keeps its two round trips.
_LIST_OFFSETS_CHUNK = 500


#: Up to this many topics, replication metadata is requested per topic; more, for the whole cluster.
_METADATA_PER_TOPIC_MAX = 4
#: How long a long-lived inspector reuses the metadata of a one-node cluster (see _replication_later).
SINGLE_NODE_METADATA_MAX_AGE_S = 30.0
#: (leader, replicas, isr) of a partition missing from the metadata: unknown.
_UNKNOWN_PLACEMENT: tuple = (None, (), ())


class CollectionCancelled(Exception):
    """Raised inside a wait when the owner (the TUI quitting) set the cancel event."""


class GroupInspector:
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
        self.cancel_event = cancel_event
        self.request_timeout = request_timeout
        self.log_start_max_age_s = log_start_max_age_s
        self._log_start_cache: dict[tuple[str, int], int] = {}
        self._log_start_read_at = float("-inf")
        self._fatal: KafkaError | None = None
        self._ever_answered = False
        self._lock = threading.Lock()
        self._metadata_pool: concurrent.futures.ThreadPoolExecutor | None = None
        #: (read at, broker ids, topics asked, placement, one node?) of the last metadata read (see _replication_later).
        self._replication_cache: tuple[float, tuple[int, ...], frozenset[str], dict, bool] | None = None
        config = client_config(
            bootstrap,
            file_config,
            **{
                "socket.connection.setup.timeout.ms": int(min(request_timeout, 10.0) * 1000),
                "error_cb": self._on_error,
            },
        )
        try:
            self.admin = admin_client(config)
        except KafkaException as exc:
            raise ConfigError(
                f"invalid client configuration: {_kafka_error_text(exc)}; fix or remove it in the --config file "
                "(it takes librdkafka properties)"
            ) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid client configuration: {exc}") from None

    # librdkafka calls this from its own thread for client-level errors.
    def _on_error(self, error: KafkaError) -> None:
        code = error.code()
        with self._lock:
            if code in _AUTH_CODES:
                self._fatal = error
            elif code == KafkaError._ALL_BROKERS_DOWN and not self._ever_answered and self._fatal is None:
                # Not over an authentication failure: a refused login also reports "all brokers down" next.
                self._fatal = error

    # -- public API ----------------------------------------------------------
    def list_groups(self) -> list[GroupListing]:
        future = self.admin.list_consumer_groups(request_timeout=self.request_timeout)
        result = self._await_one(future, "listing consumer groups")
        listings = [
            GroupListing(
                group_id=g.group_id,
                state=state_name(g.state),
                protocol=_protocol_name(getattr(g, "type", None)),
                is_simple=bool(g.is_simple_consumer_group),
            )
            for g in result.valid
        ]
        return sorted(listings, key=lambda g: g.group_id)

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
        self.await_all([describe, offsets], f"describing group {group_id!r}")
        description = self._result(describe, f"describing group {group_id!r}")
        committed_tps: list[TopicPartition] = list(self._result(offsets, f"fetching offsets of {group_id!r}").topic_partitions or [])

        state = state_name(description.state)
        members = tuple(self._member(m) for m in description.members)
        # Plain (topic, partition) tuples as keys: they hash in C, where TopicPartitionId's
        # dataclass __hash__ runs Python code (tens of thousands of lookups per snapshot).
        committed = {(tp.topic, tp.partition): tp for tp in committed_tps if tp.error is None and tp.offset >= 0}
        if state == "Dead" and not members and not committed:
            raise UnknownGroupError(f"consumer group {group_id!r} does not exist on {self.bootstrap}")
        owners: dict[tuple[str, int], MemberInfo] = {}
        for member in members:
            for tp in member.assignment:
                owners[(tp.topic, tp.partition)] = member
        partitions = sorted(committed.keys() | owners.keys())  # sorts as TopicPartitionId does
        # Replication (leader, replicas, ISR) comes from a metadata request, which confluent-kafka
        # only offers as a blocking call: it runs on a helper thread while the ListOffsets batches
        # travel, so a snapshot keeps its two round trips.
        replication = self._replication_later({key[0] for key in partitions})
        end, stable, start = self._log_offsets(partitions)
        brokers, placement = self._replication_result(replication)
        rows = []
        for key in partitions:
            commit = committed.get(key)
            owner = owners.get(key)
            placed = placement.get(key, _UNKNOWN_PLACEMENT)
            # PartitionRow's field order: topic, partition, committed offset, metadata and leader
            # epoch, log end, last stable, log start, member id, client id, host, leader, replicas, isr.
            rows.append([
                key[0],
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
            protocol=_protocol_name(getattr(description, "type", None)),
            coordinator=BrokerNode(coordinator.id, coordinator.host, coordinator.port) if coordinator else None,
            partition_assignor=description.partition_assignor or None,
            members=members,
            partitions=(),
            taken_at=datetime.now(UTC),
            brokers=brokers,
        )
        return header, rows

    # -- internals -----------------------------------------------------------
    def _replication_later(self, topics: set[str]) -> concurrent.futures.Future | None:
        """Start reading the topics' metadata on the helper thread (see :meth:`_read_replication`).

        On a one-node cluster the answer is reused for :data:`SINGLE_NODE_METADATA_MAX_AGE_S`: one
        node cannot move a leader or shrink an ISR, the live view hides those columns there, and
        the metadata of 5,000 partitions costs ~30 ms of a long-lived inspector's poll. A second
        node joining shows up at the next read.
        """
        if not topics:
            return None
        cached = self._replication_cache
        if (
            cached is not None
            and cached[4]
            and topics <= cached[2]
            and time.monotonic() - cached[0] <= SINGLE_NODE_METADATA_MAX_AGE_S
        ):
            done: concurrent.futures.Future = concurrent.futures.Future()
            done.set_result((cached[1], cached[3]))
            return done
        if self._metadata_pool is None:
            self._metadata_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliverytui-metadata")
        return self._metadata_pool.submit(self._read_replication, sorted(topics))

    def _read_replication(self, topics: list[str]) -> tuple[tuple[int, ...], dict[tuple[str, int], tuple]]:
        """Broker ids, and ``(leader, replicas, isr)`` by ``(topic, partition)``, from one or a few
        metadata requests: one per topic for a few topics, else one for the whole cluster."""
        timeout = self.request_timeout
        if len(topics) <= _METADATA_PER_TOPIC_MAX:
            answers = [self.admin.list_topics(topic, timeout=timeout) for topic in topics]
        else:
            answers = [self.admin.list_topics(timeout=timeout)]
        wanted = set(topics)
        brokers: set[int] = set()
        placement: dict[tuple[str, int], tuple] = {}
        for metadata in answers:
            brokers.update(metadata.brokers)
            for name, topic in metadata.topics.items():
                if name not in wanted or topic.error is not None:
                    continue
                for p in topic.partitions.values():
                    leader = p.leader if p.leader >= 0 else None
                    placement[(name, p.id)] = (leader, tuple(p.replicas), tuple(p.isrs))
        known = tuple(sorted(brokers))
        # One node, and every partition on at most one replica (not a bigger cluster with nodes down).
        single_node = len(known) <= 1 and all(len(placed[1]) <= 1 for placed in placement.values())
        self._replication_cache = (time.monotonic(), known, frozenset(wanted), placement, single_node)
        return known, placement

    def _replication_result(self, future: concurrent.futures.Future | None) -> tuple[tuple[int, ...], dict]:
        """The metadata read by :meth:`_replication_later`; nothing known if it failed (offsets still stand)."""
        if future is None:
            return (), {}
        try:
            self.await_all([future], "reading topic metadata")
            return future.result(timeout=0)
        except (KafkaException, ClusterUnreachableError):
            return (), {}

    @staticmethod
    def _member(member) -> MemberInfo:
        assigned = getattr(member.assignment, "topic_partitions", None) or []
        return MemberInfo(
            member_id=member.member_id,
            client_id=member.client_id,
            host=(member.host or "").lstrip("/"),
            group_instance_id=member.group_instance_id,
            assignment=tuple(sorted(TopicPartitionId(tp.topic, tp.partition) for tp in assigned)),
        )

    def _log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """Log-end, last stable and log start offsets by ``(topic, partition)``; missing when unknown."""
        partitions = list(partitions)
        if not partitions:
            return {}, {}, {}
        now = time.monotonic()
        cached_start = self._log_start_cache
        reuse_start = (
            self.log_start_max_age_s > 0
            and now - self._log_start_read_at <= self.log_start_max_age_s
            and all(tp in cached_start for tp in partitions)
        )
        specs = [
            (OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED),
            (OffsetSpec.latest(), IsolationLevel.READ_COMMITTED),
        ]
        if not reuse_start:
            specs.append((OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED))
        chunk = _LIST_OFFSETS_CHUNK
        batches = [
            [self._list_offsets(partitions[i : i + chunk], spec, isolation) for i in range(0, len(partitions), chunk)]
            for spec, isolation in specs
        ]
        self.await_all([f for batch in batches for f in batch], "listing partition offsets")
        results: list[dict[tuple[str, int], int]] = []
        for batch in batches:
            values: dict[tuple[str, int], int] = {}
            for part in batch:
                try:
                    answers = part.result(timeout=0)
                except KafkaException as exc:
                    # A request-level error: global ones (auth, unreachable) raise; otherwise every
                    # offset of the chunk is unknown, rows kept (as with per-partition errors).
                    self._raise_if_global(exc, "listing partition offsets")
                    continue
                self._collect_offsets(answers, values)
            results.append(values)
        self._ever_answered = True
        if reuse_start:
            start = {tp: cached_start[tp] for tp in partitions if tp in cached_start}
        else:
            start = results[2]
            if self.log_start_max_age_s > 0:
                self._log_start_cache = {tp: start[tp] for tp in partitions if tp in start}
                # Unknown ones (no leader) are not cached: the next snapshot asks again.
                self._log_start_read_at = now if len(self._log_start_cache) == len(partitions) else float("-inf")
        return results[0], results[1], start

    def _collect_offsets(self, answers: Mapping[TopicPartition, object], values: dict[tuple[str, int], int]) -> None:
        for tp, answer in answers.items():
            if isinstance(answer, KafkaError):
                self._raise_if_global(KafkaException(answer), "listing partition offsets")
                continue  # a deleted topic or a leaderless partition: offset unknown, row kept
            if isinstance(answer, BaseException):
                continue  # only from the fallback path: an unexpected per-partition failure
            values[(tp.topic, tp.partition)] = answer.offset  # type: ignore[attr-defined]

    def _list_offsets(
        self, partitions: list[tuple[str, int]], spec: OffsetSpec, isolation: IsolationLevel
    ) -> concurrent.futures.Future:
        """One ListOffsets batch as ONE future resolving to ``{TopicPartition: ListOffsetsResultInfo | KafkaError}``.

        ``AdminClient.list_offsets`` wraps the C call in a future per partition (creating,
        resolving and waiting on 5,000 futures costs more CPU than the request itself); the C
        call takes a single future and resolves it with exactly this mapping, so it is called
        directly. Should its signature change, the public call is used and its futures folded.
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        if _AdminClientImpl is not None:
            value = int(spec._value)
            request = [TopicPartition(topic, partition, value) for topic, partition in partitions]
            try:
                _AdminClientImpl.list_offsets(
                    self.admin, request, future,
                    isolation_level_value=isolation.value, request_timeout=self.request_timeout,
                )
                return future
            except TypeError:
                pass  # a different C signature: use the public API below
        futmap = self.admin.list_offsets(
            {TopicPartition(topic, partition): spec for topic, partition in partitions},
            isolation_level=isolation,
            request_timeout=self.request_timeout,
        )
        remaining = [len(futmap)]
        answers: dict[TopicPartition, object] = {}
        lock = threading.Lock()

        def collect(tp: TopicPartition, part: concurrent.futures.Future) -> None:
            exc = part.exception()
            answer = exc.args[0] if isinstance(exc, KafkaException) and exc.args else (exc or part.result())
            with lock:
                answers[tp] = answer
                remaining[0] -= 1
                done = remaining[0] == 0
            if done:
                future.set_result(answers)

        for tp, part in futmap.items():
            part.add_done_callback(lambda f, tp=tp: collect(tp, f))
        return future

    def await_all(self, futures: list[concurrent.futures.Future], what: str) -> None:
        deadline = time.monotonic() + self.request_timeout + 2.0
        pending = set(futures)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=0.05)
            self.admin.poll(0)  # serve error_cb so auth failures and dead bootstraps surface early
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise CollectionCancelled(what)
            with self._lock:
                fatal = self._fatal
            if fatal is not None:
                self.raise_for(fatal, what)
            if pending and time.monotonic() > deadline:
                raise ClusterUnreachableError(
                    f"no answer from Kafka at {self.bootstrap} within {self.request_timeout:.0f}s while {what}; "
                    "check --bootstrap and that the cluster is up"
                )

    def _await_one(self, future: concurrent.futures.Future, what: str):
        self.await_all([future], what)
        return self._result(future, what)

    def _result(self, future: concurrent.futures.Future, what: str):
        try:
            value = future.result(timeout=0)
        except KafkaException as exc:
            self.raise_for(exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None, what, exc)
        self._ever_answered = True
        return value

    def _raise_if_global(self, exc: KafkaException, what: str) -> None:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and (error.code() in _AUTH_CODES or error.code() in _UNREACHABLE_CODES):
            self.raise_for(error, what, exc)

    def raise_for(self, error: KafkaError | None, what: str, exc: Exception | None = None):
        code = error.code() if error is not None else None
        text = one_line(error.str() if error is not None else str(exc), limit=MESSAGE_LIMIT)
        if code in _AUTH_CODES:
            raise AuthenticationError(
                f"Kafka at {self.bootstrap} refused authentication: {text}; check the sasl.*/ssl.* settings in --config"
            ) from None
        if code in _UNREACHABLE_CODES:
            raise ClusterUnreachableError(
                f"cannot reach Kafka at {self.bootstrap} while {what}: {text}; check --bootstrap and that the cluster is up"
            ) from None
        if code == KafkaError.GROUP_ID_NOT_FOUND:
            raise UnknownGroupError(f"consumer group does not exist on {self.bootstrap} ({text})") from None
        if code in _AUTHZ_CODES:
            raise NotAuthorizedError(
                f"not authorized while {what} on {self.bootstrap}: {text}; the principal needs Describe on the group and its topics"
            ) from None
        raise UserFacingError(f"Kafka error while {what}: {text}") from None


def _kafka_error_text(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return one_line(error.str() if isinstance(error, KafkaError) else str(error), limit=MESSAGE_LIMIT)
