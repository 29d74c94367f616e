"""The queue consumer: one worker of the share group ``queue-workers`` (KIP-932), explicit acknowledgements.

Why a loop of its own: a share group has no offsets to commit. Each record is *acquired* by one
worker for the broker's record lock (4 s in the embedded broker) and then acknowledged on its own:
ACCEPT (done), RELEASE (give it back) — or not at all, when the worker dies, and the lock expires.
Either way the broker hands the record out again with its delivery count one higher, to whichever
worker polls next, and after ``group.share.delivery.count.limit`` deliveries (5) it archives it.

So the order is: poll, effect, ``acknowledge`` (ACCEPT), ``commit_sync`` — and the crash points are
``after-effect`` (effect done, not acknowledged: redelivered with count 2, a duplicate; a queue is
at-least-once) and ``after-ack`` (harmless). Every effect records the delivery count that did it.

A *poison* event (``"poison": true`` in its payload, marked by the lab's ``P`` or ``--poison``) always
fails here: it is released each time, its failed attempt recorded with its count, until the broker
archives it. The other semantics ignore the flag: poison is a queue lesson.

Why the group config is set here: ``share.auto.offset.reset`` is a *group* config (not a client one),
and a new share group starts at the log end by default, which would skip the events the headless
run produced before starting its workers. librdkafka's ``incremental_alter_configs`` accepts a
``GROUP`` resource (checked against Kafka 4.4), so each worker sets it before subscribing; setting
it twice is harmless. Reading from the earliest record would also redo an earlier story's events on a
reused topic (effects the audit could only call unexpected); a share group cannot be positioned by
committing offsets, so the workers accept the records below the story's start (the ledger's
``stream_starts``, which the lab records) without an effect.
"""

from __future__ import annotations

import sys
from typing import Any

from confluent_kafka import AcknowledgeType, KafkaException, Message, ShareConsumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from deliverytui.demo.consumer.commit import close_within
from deliverytui.demo.consumer.core import ConsumerCore
from deliverytui.demo.consumer.events import parse_event
from deliverytui.demo.kafka_access import lab_client_config
from deliverytui.demo.semantics import AFTER_ACK, AFTER_EFFECT
from deliverytui.demo.task_api import POISON_FIELD
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger

SHARE_OFFSET_RESET = "share.auto.offset.reset"
COMMIT_TIMEOUT = 10.0
SHARE_POLL_RECORDS = 5


def is_poison(event: dict[str, Any]) -> bool:
    """True for an event marked poison (only ``true`` itself counts: a string "true" is not a mark)."""
    return event.get(POISON_FIELD) is True


def read_from_earliest(c: ConsumerCore) -> None:
    """Set the share group's ``share.auto.offset.reset=earliest`` (a group config, before the first member joins)."""
    admin = AdminClient(lab_client_config(c.options.bootstrap, c.options.kafka_config), logger=silent_librdkafka_logger())
    resource = ConfigResource(
        ResourceType.GROUP,
        c.group,
        incremental_configs=[ConfigEntry(SHARE_OFFSET_RESET, "earliest", incremental_operation=AlterConfigOpType.SET)],
    )
    try:
        admin.incremental_alter_configs([resource], request_timeout=15)[resource].result(20)
    except KafkaException as exc:  # refused (an ACL) or unreachable: one line, and the supervisor restarts us
        raise UserFacingError(f"cannot set {SHARE_OFFSET_RESET}=earliest on share group {c.group}: {exc.args[0]}") from None


def share_consumer_config(c: ConsumerCore) -> dict[str, Any]:
    """Explicit acknowledgements: nothing is accepted unless this worker says so, after its effect.

    Small batches (``max.poll.records``): the two workers then share a short topic instead of one
    acquiring it all, and a crashed worker strands at most a few locked records.
    """
    settings = {
        "group.id": c.group,
        "client.id": f"{c.semantic}-{c.instance}",
        "share.acknowledgement.mode": "explicit",
        "max.poll.records": SHARE_POLL_RECORDS,
    }
    return dict(lab_client_config(c.options.bootstrap, c.options.kafka_config, settings))


def run_queue(c: ConsumerCore) -> None:
    """Poll batches, handle each record, acknowledge it and commit the acknowledgement, until stopped."""
    read_from_earliest(c)
    starts = c.ledger.stream_starts(c.group, c.topic)
    consumer = ShareConsumer(share_consumer_config(c))
    consumer.subscribe([c.topic])
    batch = 0
    try:
        while not c.stopping.is_set():
            c.idle()
            try:
                messages = consumer.poll(0.3)
            except KafkaException as exc:
                print(f"{c.semantic}: poll failed: {exc}", file=sys.stderr)
                c.stopping.wait(0.5)
                continue
            if not messages:
                continue
            c.check_crash_file()
            batch += 1
            for message in messages:
                if message.error():
                    print(f"{c.semantic}: {message.error()}", file=sys.stderr)
                    continue
                if c.stopping.is_set():
                    consumer.acknowledge(message, AcknowledgeType.RELEASE)  # not started: another worker takes it
                    continue
                if (message.offset() or 0) < starts.get(message.partition() or 0, 0):
                    consumer.acknowledge(message)  # an earlier story's record: accepted, no effect (see below)
                    continue
                handle(c, consumer, message, batch)
            _commit(c, consumer)
    finally:
        _commit(c, consumer)
        close_within(consumer, 10.0)  # type: ignore[arg-type]  # a ShareConsumer closes the same way


def handle(c: ConsumerCore, consumer: ShareConsumer, message: Message, batch: int) -> None:
    """One record: effect, acknowledge, commit — or, for a poison event, a recorded failure and a RELEASE.

    ``batch`` is recorded as the effect's epoch: the poll checker (Jepsen's nonmonotonic-poll and
    poll-skip) compares offsets within one epoch, and a share group hands out any record to either
    worker at every poll — a redelivered lower offset, or a gap the other worker took, is the queue
    working, not an anomaly — so only a batch's own records are compared with each other.
    """
    c.handled += 1
    partition, offset = message.partition() or 0, message.offset() or 0
    count = int(message.delivery_count() or 1)
    event, problem = parse_event(message.value())
    if event is None:
        c.record_malformed(message, problem or "")
        consumer.acknowledge(message)  # nothing to process: accepted, never redelivered
        return
    if is_poison(event):
        c.queue_failure(event["event_id"], partition, offset, count)
        print(f"{c.semantic}: poison event {event['event_id']} (delivery {count}): released", file=sys.stderr)
        consumer.acknowledge(message, AcknowledgeType.RELEASE)
        _commit(c, consumer)
        return
    c.effect(event["event_id"], partition, offset, delivery_count=count, epoch=batch)
    c.crash_if(AFTER_EFFECT)
    consumer.acknowledge(message)
    _commit(c, consumer)
    c.crash_if(AFTER_ACK)
    c.processed += 1
    c.state = "running"


def _commit(c: ConsumerCore, consumer: ShareConsumer) -> None:
    """Send the acknowledgements now; a refused one is logged (the record comes back when its lock expires)."""
    try:
        results = consumer.commit_sync(COMMIT_TIMEOUT)
    except KafkaException as exc:
        print(f"{c.semantic}: acknowledgement commit failed: {exc}", file=sys.stderr)
        return
    for partition, error in (results or {}).items():
        if error is not None:
            print(f"{c.semantic}: acknowledgement for {partition} refused: {error}", file=sys.stderr)
