"""Small helpers that put real data into the test broker (topics, records, commits, live members)."""

from __future__ import annotations

import asyncio
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

_RETRIABLE_COMMIT = {
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError._TIMED_OUT,
}


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30)[topic].result(timeout=30)
    # Wait until every partition has a leader, so produce and list_offsets see them.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        if meta and meta.error is None and len(meta.partitions) == partitions and all(
            p.leader >= 0 for p in meta.partitions.values()
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} has no leaders after 30 s")


def produce(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    """Produce ``counts[p]`` records to each partition ``p`` (idempotent producer, acks=all)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for partition, count in counts.items():
        for i in range(count):
            producer.produce(topic, value=f"{partition}-{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int], metadata: str | None = None) -> None:
    """Commit offsets for a group with no live member (the way a stopped consumer left them)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = [
            TopicPartition(topic, partition, offset, metadata) if metadata else TopicPartition(topic, partition, offset)
            for (topic, partition), offset in offsets.items()
        ]
        deadline = time.monotonic() + 30
        while True:
            try:
                consumer.commit(offsets=tps, asynchronous=False)
                return
            except KafkaException as exc:
                # A coordinator still loading (fresh or busy broker) is retriable, as clients treat it.
                if exc.args[0].code() not in _RETRIABLE_COMMIT or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def seed_topics(
    bootstrap: str, records: dict[str, dict[int, int]], group: str, offsets: dict[tuple[str, int], int]
) -> None:
    """Create each topic with one partition per key of its counts, produce those counts, then commit ``offsets``."""
    for topic, counts in records.items():
        create_topic(bootstrap, topic, len(counts))
    for topic, counts in records.items():
        produce(bootstrap, topic, counts)
    commit(bootstrap, group, offsets)


def live_member(
    bootstrap: str, group: str, topics: list[str], *, client_id: str, protocol: str = "classic", timeout: float = 60.0
) -> Consumer:
    """A subscribed consumer that has received its assignment (caller closes it)."""
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "group.protocol": protocol,
    }
    if protocol == "classic":
        config["session.timeout.ms"] = 45000
    consumer = Consumer(config)
    consumer.subscribe(topics)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        consumer.poll(0.2)
        if consumer.assignment():
            return consumer
    consumer.close()
    raise AssertionError(f"consumer of {group} got no assignment within {timeout} s")


def consume_committing_once(consumer: Consumer, stop: threading.Event, commit_at: int) -> None:
    """Poll until ``stop`` is set, committing (synchronously) only at the ``commit_at``-th record:
    a member whose position runs ahead of its committed offset."""
    processed = 0
    while not stop.is_set():
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        processed += 1
        if processed == commit_at:
            consumer.commit(message=msg, asynchronous=False)


def start_probed_member(
    bootstrap: str, topic: str, group: str, *, interval_ms: int
) -> tuple[Consumer, dict[str, object], threading.Event, asyncio.Future[None]]:
    """A one-partition topic of 10 records and a probed member ``probed`` that processes all 10 and commits
    only the 5th, in the running loop's executor: stop it with :func:`stop_probed_member`."""
    from deliverytui.probe import attach_probe

    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    config = attach_probe(
        {"bootstrap.servers": bootstrap, "group.id": group, "client.id": "probed", "enable.auto.commit": False,
         "auto.offset.reset": "earliest"},
        interval_ms=interval_ms,
    )
    consumer = Consumer(config)
    consumer.subscribe([topic])
    stop = threading.Event()
    loop_done = asyncio.get_running_loop().run_in_executor(None, consume_committing_once, consumer, stop, 5)
    return consumer, config, stop, loop_done


async def stop_probed_member(
    stop: threading.Event, loop_done: asyncio.Future[None], consumer: Consumer, config: dict[str, object]
) -> None:
    """Stop a member's poll loop, close its consumer, then the probe publisher attached to its config (if any)."""
    from deliverytui.probe import probe_of

    stop.set()
    await loop_done
    consumer.close()
    publisher = probe_of(config)
    if publisher is not None:
        publisher.close()
