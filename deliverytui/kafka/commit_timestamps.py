"""The timestamp of the record at each committed offset, for many partitions in one fetch pass.

The exact time lag of a partition is the age of the first record its group has not consumed:
the record at the committed offset. :class:`~deliverytui.kafka.record_time.RecordTimestampReader`
reads one partition per call (the live view's selected partition); ``snapshot --time-lag`` and
``groups --time-lag`` want every partition that has lag, and a fetch per partition would cost a
round trip each. Here one consumer assigns them all at their committed offsets, and the fetches
go out together (librdkafka batches partitions per leader): each partition stops (``pause``) as
soon as it has given its first record, and the pass ends when every partition has answered or
the timeout is spent.

Read-only: the consumer assigns, never joins a group and never commits (auto-commit and offset
store off). librdkafka still insists on a ``group.id`` and looks up its coordinator, which needs
Describe on that group: callers pass the inspected group's id, on which the principal has
Describe already (as :mod:`~deliverytui.kafka.record_time` explains). Reading the record needs
Read on the topic; without it the pass raises a :class:`~deliverytui.errors.NotAuthorizedError`
naming the ACL, rather than answering "unknown" for every partition.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaError, TopicPartition

from deliverytui.kafka.acl_errors import missing_acl, principal_of
from deliverytui.kafka.admin import silent_librdkafka_logger
from deliverytui.kafka.client_config import client_config

#: Records a ``consume()`` call may return: enough to drain many partitions' first fetches at once.
_BATCH = 1000


def read_commit_timestamps(
    bootstrap: str,
    file_config: Mapping[str, str] | None,
    offsets: Mapping[tuple[str, int], int],
    group_id: str,
    timeout: float,
) -> dict[tuple[str, int], int | None]:
    """``(topic, partition) → timestamp in ms`` of the first record at or after each offset.

    ``None`` for a partition that has no record to give (its end reached: the offset is the log end,
    or only a transaction marker or an open transaction's records follow it), that gave none within
    ``timeout`` (a leader that did not answer), or whose record has no timestamp. Every key of ``offsets``
    is in the answer. Raises :class:`~deliverytui.errors.NotAuthorizedError` when a topic may
    not be read.
    """
    answers: dict[tuple[str, int], int | None] = dict.fromkeys(offsets)
    if not offsets:
        return answers
    consumer = Consumer(
        client_config(
            bootstrap,
            file_config,
            **{
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # A committed offset below the log start (retention deleted it): the first record that
                # remains is the first one the group will get, so its timestamp is the time lag's.
                "auto.offset.reset": "earliest",
                # One record per partition is wanted: small fetches, no deep prefetch behind it.
                "max.partition.fetch.bytes": 64 * 1024,
                "fetch.max.bytes": 8 << 20,
                "queued.max.messages.kbytes": 1024,
                "client.id": "deliverytui-time-lag",
                # The end of a partition with no record to give (the committed offset sits on a transaction's
                # commit marker, or past what read_committed may see) is an answer, not a reason to wait.
                "enable.partition.eof": True,
            },
        ),
        logger=silent_librdkafka_logger(),
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()])
        waiting = set(offsets)
        deadline = time.monotonic() + timeout
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for message in consumer.consume(_BATCH, min(remaining, 0.5)):
                error = message.error()
                if error is not None:
                    _raise_if_denied(error, message.topic(), group_id, file_config)
                    if error.code() == KafkaError._PARTITION_EOF:
                        waiting.discard((message.topic(), message.partition()))  # nothing there: None
                    continue
                key = (message.topic(), message.partition())
                if key not in waiting or message.offset() < offsets[key]:
                    continue
                kind, stamp = message.timestamp()
                answers[key] = stamp if kind and stamp >= 0 else None
                waiting.discard(key)
                consumer.pause([TopicPartition(key[0], key[1])])  # its answer is in: fetch nothing more there
    finally:
        consumer.close()
    return answers


def _raise_if_denied(error: KafkaError, topic: str | None, group_id: str, file_config: Mapping[str, str] | None) -> None:
    code = error.code()
    if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
        raise missing_acl(
            principal_of(file_config), "read", "topic", topic or "?",
            context="the time lag reads the record at each committed offset",
        )
    if code == KafkaError.GROUP_AUTHORIZATION_FAILED:
        raise missing_acl(
            principal_of(file_config), "describe", "group", group_id,
            context="the time-lag reader looks up the group's coordinator",
        )
