"""The chapter's "Task API": publishes ``task.created`` events to ``task-events``.

Each event is JSON ``{"event_id", "task_id", "title", "created_at"}``. The producer is
idempotent (``enable.idempotence``, acks=all), so the broker never stores a send twice:
any duplicate the lab later shows comes from the consumer side, which is the point.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from deliverytui.kafka.client_config import silent_librdkafka_logger

TASK_EVENTS_TOPIC = "task-events"


@dataclass(frozen=True, slots=True)
class TaskCreated:
    event_id: str
    task_id: str
    title: str
    created_at: str

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"event_id": self.event_id, "task_id": self.task_id, "title": self.title, "created_at": self.created_at}
        ).encode()


def task_created_events(count: int, *, start: int = 0) -> Iterator[TaskCreated]:
    for n in range(start, start + count):
        yield TaskCreated(
            event_id=str(uuid.uuid4()),
            task_id=f"task-{n}",
            title=f"Task number {n}",
            created_at=datetime.now(timezone.utc).isoformat(),
        )


def ensure_topic(bootstrap: str, topic: str = TASK_EVENTS_TOPIC, partitions: int = 3, replication: int = 1) -> None:
    """Create ``topic`` if it does not exist (an existing topic is left as it is)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    future = admin.create_topics([NewTopic(topic, partitions, replication)], operation_timeout=30)[topic]
    try:
        future.result(timeout=30)
    except Exception as exc:  # noqa: BLE001 - confluent-kafka wraps the KafkaError
        error = exc.args[0] if exc.args else None
        if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise


class TaskApiProducer:
    """Publishes task.created events; ``acknowledged`` counts the sends the broker confirmed."""

    def __init__(self, bootstrap: str, topic: str = TASK_EVENTS_TOPIC) -> None:
        self.topic = topic
        self.acknowledged = 0
        self.failed = 0
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5},
            logger=silent_librdkafka_logger(),
        )

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.acknowledged += 1
        else:
            self.failed += 1

    def publish(self, event: TaskCreated) -> None:
        self._producer.produce(self.topic, key=event.task_id.encode(), value=event.to_bytes(), on_delivery=self._on_delivery)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> int:
        return self._producer.flush(timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish task.created events to task-events.")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args(argv)
    ensure_topic(args.bootstrap, partitions=args.partitions)
    producer = TaskApiProducer(args.bootstrap)
    for event in task_created_events(args.events):
        producer.publish(event)
    producer.flush()
    print(f"published {producer.acknowledged} task.created events to {TASK_EVENTS_TOPIC} ({producer.failed} failed)")
    return 0 if producer.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
