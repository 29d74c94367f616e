"""Where every partition of a group's topics lives: leader, replicas and in-sync replicas.

Read on a helper thread alongside the offset requests, so a snapshot keeps its two round
trips; on a one-node cluster the answer is reused for a while (one node cannot move a
leader). A failed read leaves the placement unknown: the offsets still stand.
"""

from __future__ import annotations

import concurrent.futures
import time

from confluent_kafka import (
    KafkaError,
    KafkaException,
)

from deliverytui.errors import (
    ClusterUnreachableError,
)
from deliverytui.kafka.admin_requests import AdminRequests

#: Up to this many topics, replication metadata is requested per topic; more, for the whole cluster.
_METADATA_PER_TOPIC_MAX = 4
#: How long a long-lived inspector reuses the metadata of a one-node cluster (see _replication_later).
SINGLE_NODE_METADATA_MAX_AGE_S = 30.0
#: (leader, replicas, isr) of a partition missing from the metadata: unknown.
UNKNOWN_PLACEMENT: tuple = (None, (), ())


class ReplicationMetadata(AdminRequests):
    """The metadata requests of :class:`~deliverytui.kafka.group_inspector.GroupInspector`."""

    _metadata_pool: concurrent.futures.ThreadPoolExecutor | None
    _replication_cache: tuple[float, tuple[int, ...], frozenset[str], dict, bool] | None
    unauthorized_topics: frozenset[str] = frozenset()
    """Topics the last metadata read was refused (TOPIC_AUTHORIZATION_FAILED): the principal lacks Describe on them."""

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
        refused = set()
        for metadata in answers:
            brokers.update(metadata.brokers)
            for name, topic in metadata.topics.items():
                if name in wanted and topic.error is not None and topic.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                    refused.add(name)
                if name not in wanted or topic.error is not None:
                    continue
                for p in topic.partitions.values():
                    leader = p.leader if p.leader >= 0 else None
                    placement[(name, p.id)] = (leader, tuple(p.replicas), tuple(p.isrs))
        known = tuple(sorted(brokers))
        # One node, and every partition on at most one replica (not a bigger cluster with nodes down).
        single_node = len(known) <= 1 and all(len(placed[1]) <= 1 for placed in placement.values())
        self.unauthorized_topics = frozenset(refused)
        if not refused:  # a refusal is asked again next time (an ACL may be added meanwhile)
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
