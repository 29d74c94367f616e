"""Committed offsets and log ends for the demo, read through plain consumers instead of the Admin API.

Why not ``GroupInspector.snapshot``: librdkafka's Admin ``ListConsumerGroupOffsets``
crashes the whole process (a NULL dereference in ``rd_kafka_cgrp_op`` from
``rd_kafka_handle_OffsetFetch``) when the coordinator answers with an error such as
"coordinator loading", which a fresh broker does for the first requests. The lab
audits every second inside the TUI, so it must not use that path. A ``Consumer``
that never subscribes sends the same OffsetFetch through its group machinery, which
handles those errors, and it never joins the group. Log ends come from
``get_watermark_offsets`` (ListOffsets, not group-bound).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from deliverytui.demo.kafka_access import kafka_failure, lab_client_config
from deliverytui.demo.ledger import EffectsLedger
from deliverytui.errors import UserFacingError
from deliverytui.kafka.admin import TRANSIENT_COORDINATOR_ERRORS
from deliverytui.kafka.client_config import silent_librdkafka_logger

_RETRIABLE = TRANSIENT_COORDINATOR_ERRORS | {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
}


#: Refusals: said at once, naming the ACL, instead of retried or reported as "failed".
_REFUSED = frozenset(
    {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)


class OffsetReader:
    """One cluster's committed offsets (per group) and log ends; thread-safe, keeps its consumers."""

    def __init__(self, bootstrap: str, request_timeout: float = 10.0, kafka_config: Mapping[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.request_timeout = request_timeout
        self.kafka_config = kafka_config
        """The ``--config`` login (SASL/SSL properties) its consumers use."""
        self._consumers: dict[str, Consumer] = {}
        self._lock = threading.Lock()

    def _consumer(self, group: str | None) -> Consumer:
        key = group or ""
        consumer = self._consumers.get(key)
        if consumer is None:
            consumer = Consumer(
                lab_client_config(
                    self.bootstrap,
                    self.kafka_config,
                    {
                        "group.id": group or f"deliverytui-demo-metadata-{uuid.uuid4().hex[:8]}",
                        "enable.auto.commit": False,
                        "enable.auto.offset.store": False,
                    },
                ),
                logger=silent_librdkafka_logger(),
            )
            self._consumers[key] = consumer
        return consumer

    def _retrying(self, what: str, call, acl: tuple[str, str, str] | None = None):  # noqa: ANN001, ANN202 - a small local helper
        """``call()``, retried on transient errors for ``request_timeout``; ``acl`` (operation, resource type, name)
        is what a refusal names."""
        deadline = time.monotonic() + self.request_timeout
        while True:
            try:
                return call()
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                code = error.code() if isinstance(error, KafkaError) else None
                if code in _REFUSED and acl is not None:
                    raise kafka_failure(
                        exc, self.bootstrap, self.kafka_config, doing=what, operation=acl[0], resource_type=acl[1], resource=acl[2]
                    ) from None
                if code not in _RETRIABLE or time.monotonic() > deadline:
                    reason = error.str() if isinstance(error, KafkaError) else str(exc)
                    raise UserFacingError(f"{what} failed: {reason}") from None
                time.sleep(0.2)

    def partitions(self, topic: str) -> list[int]:
        """The topic's partition ids (empty if it does not exist)."""
        with self._lock:
            consumer = self._consumer(None)
            meta = self._retrying(
                f"reading the metadata of {topic}", lambda: consumer.list_topics(topic, timeout=self.request_timeout),
                ("describe", "topic", topic),
            )
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                return []
            return sorted(info.partitions)

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of ``topic`` (partitions without one are left out)."""
        partitions = self.partitions(topic)
        if not partitions:
            return {}
        with self._lock:
            consumer = self._consumer(group)
            tps = self._retrying(
                f"fetching the committed offsets of group {group!r}",
                lambda: consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=self.request_timeout),
                ("describe", "group", group),
            )
        return {tp.partition: tp.offset for tp in tps if tp.error is None and tp.offset >= 0}

    def log_end(self, topic: str) -> dict[int, int]:
        """The log-end (high watermark) offset per partition."""
        partitions = self.partitions(topic)
        with self._lock:
            consumer = self._consumer(None)
            return {
                p: int(
                    self._retrying(
                        f"reading the end of {topic}:{p}",
                        lambda p=p: consumer.get_watermark_offsets(
                            TopicPartition(topic, p), timeout=self.request_timeout, cached=False
                        ),
                    )[1]
                )
                for p in partitions
            }

    def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        """Commit ``offsets`` for a group with no live member (used to start a fresh group at the log end)."""
        with self._lock:
            consumer = self._consumer(group)
            self._retrying(
                f"committing offsets for group {group!r}",
                lambda: consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False
                ),
                ("read", "group", group),
            )

    def drained(self, group: str, topic: str) -> bool:
        """True when the group's committed offset reached the log end on every partition of ``topic``."""
        end = self.log_end(topic)
        committed = self.committed(group, topic)
        return bool(end) and all(committed.get(p, 0) >= e for p, e in end.items())  # an empty partition needs no commit

    def forget_groups(self, groups: Iterable[str]) -> None:
        """Close the consumers kept for ``groups`` (a lab that closes is done with its groups' offsets)."""
        with self._lock:
            for group in groups:
                consumer = self._consumers.pop(group, None)
                if consumer is not None:
                    consumer.close()

    def close(self) -> None:
        with self._lock:
            for consumer in self._consumers.values():
                consumer.close()
            self._consumers.clear()


def start_group_at_log_end(reader: OffsetReader, ledger: EffectsLedger, group: str, topic: str) -> None:
    """Start a group with no offsets yet at the topic's current end, and record that start in the ledger.

    The group then reads only this story's events, and the audit counts nothing below its start
    as lost: a ledger reused across runs (one PostgreSQL ledger for many headless runs) holds the
    acknowledged sends of earlier runs, which were never this group's to process.
    """
    if reader.committed(group, topic):
        return  # an existing group (a resumed story, a chosen --group-prefix) keeps its offsets
    end = reader.log_end(topic)
    if any(end.values()):
        reader.commit(group, topic, end)
    ledger.record_stream_start(group, topic, end)


def wait_until_group_empty(admin, group: str, timeout: float, request_timeout: float) -> None:
    """Poll DescribeConsumerGroups (members only: no offset fetch) until ``group`` has no member.

    A replay resets offsets, which Kafka refuses while the group has members; a stopped static
    member leaves only when its session times out, so the caller waits here first.
    """
    deadline = time.monotonic() + timeout
    members = -1
    while time.monotonic() < deadline:
        future = admin.describe_consumer_groups([group], request_timeout=request_timeout)[group]
        try:
            members = len(future.result(timeout=request_timeout + 5).members)
        except Exception:  # noqa: BLE001 - a group that is gone (or not yet known) has no members
            members = 0
        if members == 0:
            return
        time.sleep(0.5)
    raise UserFacingError(f"group {group!r} still has {members} member(s) after {timeout:.0f} s; cannot replay it")
