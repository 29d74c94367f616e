"""The chapter's "Task API": publishes ``task.created`` events to ``task-events``.

Each event is JSON ``{"event_id", "task_id", "title", "created_at"}``. The producer is
idempotent (``enable.idempotence``, acks=all), so the broker never stores a send twice:
any duplicate the lab later shows comes from the consumer side, which is the point.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from deliverytui.demo.kafka_access import kafka_failure, lab_client_config
from deliverytui.demo.ledger import AckedEvent, EffectsLedger
from deliverytui.kafka.client_config import silent_librdkafka_logger

TASK_EVENTS_TOPIC = "task-events"


POISON_FIELD = "poison"
"""``"poison": true`` in an event's JSON: the queue consumer always fails on it (the other consumers ignore it)."""


@dataclass(frozen=True, slots=True)
class TaskCreated:
    event_id: str
    task_id: str
    title: str
    created_at: str
    poison: bool = False
    """A poison event (the lab's ``P``, headless ``--poison``): only written to the JSON when true."""

    def to_bytes(self) -> bytes:
        value: dict[str, object] = {
            "event_id": self.event_id, "task_id": self.task_id, "title": self.title, "created_at": self.created_at,
        }  # fmt: skip
        if self.poison:
            value[POISON_FIELD] = True
        return json.dumps(value).encode()


def task_created_events(count: int, *, start: int = 0, task_prefix: str = "task") -> Iterator[TaskCreated]:
    """``count`` fresh events; ``task_prefix`` keeps task ids of separate demo runs apart.

    The upsert and state-check consumers key rows by ``task_id``, so a second run that
    reused ``task-0`` would find last run's row already completed and do nothing.
    """
    for n in range(start, start + count):
        yield TaskCreated(
            event_id=str(uuid.uuid4()),
            task_id=f"{task_prefix}-{n}",
            title=f"Task number {n}",
            created_at=datetime.now(UTC).isoformat(),
        )


def ensure_topic(
    bootstrap: str,
    topic: str = TASK_EVENTS_TOPIC,
    partitions: int = 3,
    replication: int = 1,
    *,
    wait: float = 30.0,
    config: dict[str, str] | None = None,
    kafka_config: Mapping[str, str] | None = None,
    request_timeout: float = 30.0,
) -> int:
    """Create ``topic`` if it does not exist (an existing topic is left as it is); returns its partition count.

    ``config``: topic configs for a topic created now (``{"min.insync.replicas": "2"}`` on a cluster).
    Waits (up to ``wait`` seconds) until every partition has a leader, so a producer
    or consumer started right after sees all of them. ``kafka_config``: the ``--config`` login.
    A refusal or no answer within ``request_timeout`` is one line naming the ACL or the cause.
    """
    admin = AdminClient(lab_client_config(bootstrap, kafka_config), logger=silent_librdkafka_logger())
    new_topic = NewTopic(topic, partitions, replication, config=dict(config or {}))
    future = admin.create_topics([new_topic], operation_timeout=request_timeout, request_timeout=request_timeout)[topic]
    try:
        future.result(timeout=request_timeout + 5)
    except (KafkaException, concurrent.futures.TimeoutError) as exc:
        error = exc.args[0] if exc.args else None
        if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise kafka_failure(
                exc, bootstrap, kafka_config, doing=f"creating topic {topic}", operation="create", resource_type="topic",
                resource=topic,
            ) from None
    deadline = time.monotonic() + wait
    while True:
        try:
            meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        except KafkaException as exc:
            raise kafka_failure(
                exc, bootstrap, kafka_config, doing=f"reading topic {topic}", operation="describe", resource_type="topic",
                resource=topic,
            ) from None
        if meta is not None and meta.error is not None and meta.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise kafka_failure(
                KafkaException(meta.error), bootstrap, kafka_config, doing=f"reading topic {topic}", operation="describe",
                resource_type="topic", resource=topic,
            )
        if meta is not None and meta.error is None and meta.partitions and all(
            p.leader >= 0 for p in meta.partitions.values()
        ):
            return len(meta.partitions)
        if time.monotonic() > deadline:
            return len(meta.partitions) if meta is not None else 0
        time.sleep(0.1)


class TaskApiProducer:
    """Publishes task.created events; ``acknowledged`` counts the sends the broker confirmed.

    With a ``ledger``, every acknowledged send is recorded there with the partition and
    offset from its delivery report (batched: written by :meth:`flush` and every
    ``ack_batch`` acknowledgements), which is what the auditor counts as "produced".
    Not thread-safe: use it from one thread.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = TASK_EVENTS_TOPIC,
        *,
        ledger: EffectsLedger | None = None,
        ack_batch: int = 500,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        self.topic = topic
        self.acknowledged = 0
        self.failed = 0
        self.ledger = ledger
        self.ack_batch = ack_batch
        self.bootstrap = bootstrap
        self.kafka_config = kafka_config
        self.last_error: KafkaError | None = None
        self._pending_acks: list[AckedEvent] = []
        self._producer = Producer(
            lab_client_config(bootstrap, kafka_config, {"enable.idempotence": True, "acks": "all", "linger.ms": 5}),
            logger=silent_librdkafka_logger(),
        )

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failed += 1
            self.last_error = error
            return
        self.acknowledged += 1
        if self.ledger is not None:
            try:
                event = json.loads(message.value() or b"{}")
            except ValueError:
                return
            self._pending_acks.append(
                AckedEvent(
                    event_id=str(event.get("event_id")),
                    task_id=event.get("task_id"),
                    topic=message.topic() or self.topic,
                    partition=int(message.partition() or 0),
                    offset=int(message.offset() or 0),
                    acked_at=time.time(),
                )
            )

    def publish(self, event: TaskCreated) -> None:
        self._producer.produce(self.topic, key=event.task_id.encode(), value=event.to_bytes(), on_delivery=self._on_delivery)
        self._producer.poll(0)
        if len(self._pending_acks) >= self.ack_batch:
            self.write_acks()

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports (and record their acks); returns how many were served."""
        served = self._producer.poll(timeout)
        self.write_acks()
        return served

    def failure(self, events: int):  # noqa: ANN201 - a UserFacingError of the right kind
        """The one-line error for sends that were not acknowledged: the missing ACL (Write on the topic), or the reason."""
        unconfirmed = max(self.failed, events - self.acknowledged)
        if self.last_error is None:
            return kafka_failure(
                TimeoutError(f"{unconfirmed} of {events} sends were not acknowledged"), self.bootstrap, self.kafka_config,
                doing=f"producing to {self.topic}", operation="write", resource_type="topic", resource=self.topic,
            )
        return kafka_failure(
            KafkaException(self.last_error), self.bootstrap, self.kafka_config,
            doing=f"producing to {self.topic} ({unconfirmed} of {events} sends not acknowledged)",
            operation="write", resource_type="topic", resource=self.topic,
        )

    def write_acks(self) -> int:
        """Write the acknowledgements received so far to the ledger (no-op without one)."""
        if self.ledger is None or not self._pending_acks:
            return 0
        written = self.ledger.record_acks(self._pending_acks)  # a ledger outage raises and keeps them pending
        self._pending_acks = []
        return written

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every delivery report and record the acks; returns how many sends are still unconfirmed."""
        left = self._producer.flush(timeout)
        self.write_acks()
        return left


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
