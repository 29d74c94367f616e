"""Where every partition of a group's topics lives: leader, replicas and in-sync replicas.

Read with one metadata request just before the ListOffsets batches, never alongside them on
the same client: librdkafka 2.16 races when a metadata answer lands while ListOffsets is
looking up its partitions' leaders (the lookup's first pass runs on the calling thread, and a
metadata-cache update re-runs it on librdkafka's own thread; the two then share and free the
same state), and the process dies of a segmentation fault. It did, in CI and in a reproduction,
when this read ran on a helper thread. Read first, the answer also fills librdkafka's metadata
cache, so ListOffsets finds the leaders there and asks for no metadata of its own: a cold
snapshot costs the same round trips as before. On a one-node cluster the answer is reused for
a while (one node cannot move a leader). A failed read leaves the placement unknown: the
offsets still stand.
"""

from __future__ import annotations

import time

from confluent_kafka import (
    KafkaError,
    KafkaException,
)

from deliverytui.kafka.admin_requests import AdminRequests

#: Up to this many topics, replication metadata is requested per topic; more, for the whole cluster.
_METADATA_PER_TOPIC_MAX = 4
#: How long a long-lived inspector reuses the metadata of a one-node cluster (see ReplicationMetadata.read_replication).
SINGLE_NODE_METADATA_MAX_AGE_S = 30.0
#: (leader, replicas, isr) of a partition missing from the metadata: unknown.
UNKNOWN_PLACEMENT: tuple = (None, (), ())


class ReplicationMetadata(AdminRequests):
    """The metadata requests of :class:`~deliverytui.kafka.group_inspector.GroupInspector`."""

    _replication_cache: tuple[float, tuple[int, ...], frozenset[str], dict, bool] | None
    unauthorized_topics: frozenset[str] = frozenset()
    """Topics the last metadata read was refused (TOPIC_AUTHORIZATION_FAILED): the principal lacks Describe on them."""

    def read_replication(self, topics: set[str]) -> tuple[tuple[int, ...], dict[tuple[str, int], tuple]]:
        """Broker ids, and ``(leader, replicas, isr)`` by ``(topic, partition)``; nothing known if the read failed.

        Called before the snapshot's ListOffsets batches and never concurrently with them (see the
        module docstring). On a one-node cluster the answer is reused for
        :data:`SINGLE_NODE_METADATA_MAX_AGE_S`: one node cannot move a leader or shrink an ISR, the
        live view hides those columns there, and the metadata of 5,000 partitions costs ~30 ms of a
        long-lived inspector's poll. A second node joining shows up at the next read.
        """
        if not topics:
            return (), {}
        cached = self._replication_cache
        if (
            cached is not None
            and cached[4]
            and topics <= cached[2]
            and time.monotonic() - cached[0] <= SINGLE_NODE_METADATA_MAX_AGE_S
        ):
            return cached[1], cached[3]
        try:
            return self._read_replication(sorted(topics))
        except KafkaException:
            return (), {}

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
