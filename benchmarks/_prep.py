"""Broker, topic and group preparation shared by the benchmarks (real broker, no shortcuts)."""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from deliverytui.broker.embedded import EmbeddedBroker


@contextlib.contextmanager
def bootstrap_or_embedded(bootstrap: str | None, prefix: str, **start: Any) -> Iterator[str]:
    """``bootstrap`` if given; else an embedded broker in a fresh temp dir (``prefix``), stopped on exit.

    ``start`` goes to :meth:`EmbeddedBroker.start` (``distribution``, ``heap``). A broker that
    fails to start is not stopped, as before this helper.
    """
    if bootstrap:
        yield bootstrap
        return
    broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix=prefix)))
    started = broker.start(**start)[0].bootstrap
    try:
        yield started
    finally:
        broker.stop()


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
