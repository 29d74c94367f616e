"""Read one record (the first one a group has not consumed): its timestamp for the time lag, or all of it.

The whole record (:meth:`RecordTimestampReader.peek`) is what "stuck on what?" shows for a STALL or
STOP partition: the record at the committed offset, usually the one its consumer fails on.

One fetch per call, so the live view asks only for the selected partition: offsets lag says
how many records are behind, time lag says how late delivery is. Read-only: the consumer
assigns the partition, never joins a group and never commits. librdkafka insists on a
``group.id`` and looks up its coordinator, which needs Describe on that group: the live view
passes the watched group's id, on which its principal already has Describe.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    TopicPartition,
)

from deliverytui.kafka.acl_errors import missing_acl, principal_of
from deliverytui.kafka.admin import silent_librdkafka_logger
from deliverytui.kafka.client_config import client_config
from deliverytui.model.stuck import VALUE_HEAD_BYTES, RecordPeek, RecordPeekResult


class RecordTimestampReader:
    """Timestamps of records by (topic, partition, offset), cached: a record's timestamp never changes."""

    def __init__(
        self, bootstrap: str, file_config: Mapping[str, str] | None = None, *, timeout: float = 2.0, group_id: str | None = None
    ) -> None:
        self.timeout = timeout
        self._principal = principal_of(file_config)
        self._group_id = group_id
        self._cache: dict[tuple[str, int, int], int | None] = {}
        self._consumer = Consumer(
            client_config(
                bootstrap,
                file_config,
                **{
                    "group.id": group_id or "deliverytui-time-lag-reader-never-commits",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "fetch.max.bytes": 1 << 20,
                    "max.partition.fetch.bytes": 1 << 20,
                    # One record is wanted: do not prefetch 64 MB behind it (1 MB records would fill it).
                    "queued.max.messages.kbytes": 2048,
                    # A new assign waits for the fetch in flight: with the default 500 ms long poll every read after
                    # the first took ~510 ms (27 ms with 20 ms). Each read unassigns after it (below), so the short
                    # long poll never turns into a stream of idle fetches at the log end.
                    "fetch.wait.max.ms": 20,
                    "client.id": "deliverytui-time-lag",
                },
            ),
            logger=silent_librdkafka_logger(),
        )

    def timestamp_ms(self, topic: str, partition: int, offset: int) -> int | None:
        """The record's timestamp in ms, or None when it cannot be read within the timeout."""
        key = (topic, partition, offset)
        if key in self._cache:
            return self._cache[key]
        message = self._read_one(topic, partition, offset)
        value: int | None = None
        if message is not None and not message.error() and message.offset() >= offset:
            kind, stamp = message.timestamp()
            value = stamp if kind and stamp >= 0 else None
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[key] = value
        return value

    def _read_one(self, topic: str, partition: int, offset: int):
        """The first message at or after ``offset`` (or an error, or None), then no more fetching until the next read."""
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        try:
            return self._consumer.poll(self.timeout)
        finally:
            self._consumer.unassign()

    def peek(self, topic: str, partition: int, offset: int) -> RecordPeekResult:
        """The record at ``offset`` (key, size, headers, timestamp, first bytes of the value), or why not.

        Same consumer as the timestamps (assigned, never committing, under the watched group's id):
        a second one would be a second connection and a second coordinator lookup for one fetch.
        """
        key = f"{topic}:{partition}"
        message = self._read_one(topic, partition, offset)
        if message is None:
            return RecordPeekResult(key, offset, problem=f"no record at offset {offset} within {self.timeout:.0f}s")
        error = message.error()
        if error is not None:
            if error.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED):
                kind, name = ("topic", topic) if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED else ("group", self._group_id or "")
                return RecordPeekResult(key, offset, problem=str(missing_acl(self._principal, "read", kind, name)))
            return RecordPeekResult(key, offset, problem=f"cannot read offset {offset}: {error.str()}")
        kind, stamp = message.timestamp()
        value = message.value() or b""
        record = RecordPeek(
            topic=topic,
            partition=partition,
            offset=message.offset(),
            key=message.key(),
            value_size=len(value),
            value_head=bytes(value[:VALUE_HEAD_BYTES]),
            headers=tuple((name, data) for name, data in (message.headers() or [])),
            timestamp_ms=stamp if kind and stamp >= 0 else None,
            timestamp_type={TIMESTAMP_CREATE_TIME: "create", TIMESTAMP_LOG_APPEND_TIME: "log-append"}.get(kind, "-"),
        )
        self._cache[(topic, partition, offset)] = record.timestamp_ms
        return RecordPeekResult(key, offset, record=record)

    def close(self) -> None:
        self._consumer.close()
