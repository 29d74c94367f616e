"""Topic and group preparation shared by the benchmarks (real broker, no shortcuts)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def topic_with_committed_group(
    bootstrap: str,
    partitions: int,
    prefix: str,
    *,
    records_per_partition: int = 0,
    committed: Callable[[int], int] = lambda partition: 0,
    timeout: float = 300.0,
) -> tuple[str, str]:
    """A fresh topic of ``partitions`` partitions, optionally filled, and a group with a commit on each.

    Waits until every partition has a leader, and retries the commit while a fresh broker
    is still electing the group coordinator. Returns ``(topic, group)``.
    """
    suffix = uuid.uuid4().hex[:6]
    topic, group = f"{prefix}-{partitions}-{suffix}", f"{prefix}-group-{suffix}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=timeout)[topic].result(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=30).topics[topic]
        if len(meta.partitions) == partitions and all(p.leader >= 0 for p in meta.partitions.values()):
            break
        time.sleep(0.5)
    if records_per_partition:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for p in range(partitions):
            for _ in range(records_per_partition):
                producer.produce(topic, value=b"x", partition=p)
        producer.flush(timeout)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        for attempt in range(30):
            try:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, committed(p)) for p in range(partitions)], asynchronous=False
                )
                break
            except KafkaException:
                if attempt == 29:
                    raise
                time.sleep(1)
    finally:
        consumer.close()
    return topic, group
