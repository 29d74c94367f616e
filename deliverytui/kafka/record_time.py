"""Read the timestamp of one record (the first one a group has not consumed) for the time lag.

One fetch per call, so the live view asks only for the selected partition: offsets lag says
how many records are behind, time lag says how late delivery is. Read-only: the consumer
assigns the partition, never joins a group and never commits. librdkafka insists on a
``group.id`` and looks up its coordinator, which needs Describe on that group: the live view
passes the watched group's id, on which its principal already has Describe.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import Consumer, TopicPartition

from deliverytui.kafka.admin import silent_librdkafka_logger
from deliverytui.kafka.client_config import client_config


class RecordTimestampReader:
    """Timestamps of records by (topic, partition, offset), cached: a record's timestamp never changes."""

    def __init__(
        self, bootstrap: str, file_config: Mapping[str, str] | None = None, *, timeout: float = 2.0, group_id: str | None = None
    ) -> None:
        self.timeout = timeout
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
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        message = self._consumer.poll(self.timeout)
        value: int | None = None
        if message is not None and not message.error() and message.offset() >= offset:
            kind, stamp = message.timestamp()
            value = stamp if kind and stamp >= 0 else None
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[key] = value
        return value

    def close(self) -> None:
        self._consumer.close()
