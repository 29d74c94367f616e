"""Exactly-once: consume, produce the result and commit the offsets in one Kafka transaction.

Why its own module: this semantic has no per-message commit at all. Its effect is a record
in ``<topic>.processed`` written inside a transaction together with the input offsets
(``send_offsets_to_transaction``), so output and progress commit together or not at all;
the auditor reads that topic with read_committed. Up to ``commit_every`` messages (default
``EOS_BATCH``) go into one transaction. A fatal producer error (a zombie fenced by a newer
producer with the same ``transactional.id``) ends the process with exit code 3.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from deliverytui.demo.consumer.commit import classify_commit_error
from deliverytui.demo.consumer.core import ConsumerCore
from deliverytui.demo.consumer.events import NO_EVENT_ID, parse_event
from deliverytui.demo.kafka_access import lab_client_config
from deliverytui.demo.ledger import LedgerError
from deliverytui.demo.semantics import AFTER_COMMIT, MID_TRANSACTION, output_topic, transactional_id
from deliverytui.demo.task_api import ensure_topic
from deliverytui.kafka.client_config import silent_librdkafka_logger

COMMIT_TRANSACTION_ATTEMPTS = 5


def transactional_producer(c: ConsumerCore) -> Producer:
    """The producer whose ``transactional.id`` is stable per semantic, prefix and instance."""
    return Producer(
        lab_client_config(c.options.bootstrap, c.options.kafka_config, {
            "transactional.id": transactional_id(c.semantic, c.options.group_prefix)
            + (f"-{c.instance}" if c.instance > 1 else ""),
            "enable.idempotence": True,
            "linger.ms": 5,
            "transaction.timeout.ms": 30000,
            # Right after a commit the coordinator answers the next transaction's first
            # AddPartitions with CONCURRENT_TRANSACTIONS until the previous one is fully
            # written; librdkafka then waits its default 100 ms retry pause, which capped a
            # transaction per message at ~10/s. The Java client retries this case after
            # 20 ms for the same reason; 10 ms here (exponential back-off still applies).
            "retry.backoff.ms": 10,
        }),
        logger=silent_librdkafka_logger(),
    )


def run_transactional(c: ConsumerCore) -> None:
    """Consume, produce the result and commit the offsets in one Kafka transaction per batch."""
    assert c.consumer is not None
    member = c.member
    out_topic = output_topic(c.topic)
    partitions = ensure_topic(c.options.bootstrap, c.topic, kafka_config=c.options.kafka_config)
    # An existing output topic keeps its own partition count (it may predate this run).
    partitions = ensure_topic(c.options.bootstrap, out_topic, partitions=max(1, partitions), kafka_config=c.options.kafka_config)
    producer = transactional_producer(c)
    producer.init_transactions(60)  # fences a zombie with the same transactional.id and aborts its transaction
    while not c.stopping.is_set():
        c.idle()
        member.rejoin_if_fenced()  # the transaction holding its offsets was aborted: nothing to keep
        limit = c.commit_every
        remaining = c.options.crash_after - c.handled
        if c.options.crash_at and remaining > 0:
            # Messages before the Nth commit in earlier batches; the crash batch holds message N alone.
            limit = min(limit, remaining - 1) if remaining > 1 else 1
        messages = member.usable(member.consumer.consume(num_messages=limit, timeout=0.2))  # type: ignore[union-attr]
        if not messages:
            continue
        c.check_crash_file()
        first: dict[int, int] = {}
        next_offsets: dict[int, int] = {}
        outputs: list[tuple[str, int, int]] = []
        malformed: list[tuple[Message, str]] = []
        # Where this transaction's outputs landed (its own list: a late delivery report of an earlier,
        # committed transaction must never be recorded as aborted with this one).
        delivered: list[tuple[str, int, int, str | None]] = []
        on_delivery = delivery_recorder(delivered, out_topic)
        try:
            producer.begin_transaction()
            for message in messages:
                c.handled += 1
                partition, offset = message.partition() or 0, message.offset() or 0
                first.setdefault(partition, offset)
                next_offsets[partition] = offset + 1
                event, problem = parse_event(message.value())
                if problem is not None:
                    malformed.append((message, problem))
                    if problem == NO_EVENT_ID:  # processed anyway: its result goes out in the transaction
                        producer.produce(
                            out_topic,
                            value=json.dumps(
                                {"event_id": None, "source_partition": partition, "source_offset": offset,
                                 "processed_by": c.group}
                            ).encode(),
                            partition=partition % max(1, partitions),
                            on_delivery=on_delivery,
                        )
                    continue
                value = {
                    "event_id": event["event_id"],
                    "task_id": event.get("task_id"),
                    "source_partition": partition,
                    "source_offset": offset,
                    "processed_by": c.group,
                }
                producer.produce(
                    out_topic,
                    key=str(event["event_id"]).encode(),
                    value=json.dumps(value).encode(),
                    partition=partition % max(1, partitions),
                    on_delivery=on_delivery,
                )
                outputs.append((str(event["event_id"]), partition, offset))
            if c.file_point == MID_TRANSACTION or (
                c.options.crash_at == MID_TRANSACTION and c.handled >= c.options.crash_after
            ):
                producer.flush(10)  # the output really is in the log, uncommitted: read_committed hides it
                # Never committed: the restarted producer's init_transactions aborts it.
                record_aborted(c, delivered)
            c.crash_if(MID_TRANSACTION)
            producer.send_offsets_to_transaction(
                [TopicPartition(c.topic, p, o) for p, o in next_offsets.items()],
                member.consumer.consumer_group_metadata(),  # type: ignore[union-attr]
                30,
            )
            commit_transaction(producer)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.fatal():
                print(f"{c.semantic}: fatal transaction error (fenced?): {error}", file=sys.stderr)
                raise SystemExit(3) from None
            print(f"{c.semantic}: transaction aborted: {error}", file=sys.stderr)
            if classify_commit_error(error) == "fenced":
                # The group refused the offsets (FENCED_INSTANCE_ID is abortable for the
                # producer): the consumer, not the producer, was fenced. Abort — read_committed
                # hides the outputs — and rejoin; the batch is consumed again from the
                # committed offsets. A stale generation needs no new consumer: the next
                # consume() rejoins by itself.
                member.fenced = True
            try:
                producer.abort_transaction(30)
            except KafkaException:
                pass  # not known to be aborted: nothing recorded
            else:
                producer.poll(0)  # serve the delivery reports of what the aborted transaction wrote
                record_aborted(c, delivered)
            member.seek(first)
            c.stopping.wait(0.5)
            continue
        for event_id, partition, offset in outputs:
            c.effect(event_id, partition, offset)  # for the live view; the audit reads the output topic
        for message, problem in malformed:  # recorded once the transaction committed them
            c.record_malformed(message, problem)
        for partition, offset in next_offsets.items():
            c.report(partition, offset, offset)
        c.processed += len(messages)
        c.crash_if(AFTER_COMMIT)
    producer.flush(5)


def delivery_recorder(
    delivered: list[tuple[str, int, int, str | None]], out_topic: str
) -> Callable[[KafkaError | None, Message], None]:
    """A delivery callback that appends where each output landed (topic, partition, offset, event id)."""

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            key = message.key()
            event_id = key.decode("utf-8", "replace") if key else None
            delivered.append((message.topic() or out_topic, message.partition() or 0, message.offset() or 0, event_id))

    return on_delivery


def record_aborted(c: ConsumerCore, delivered: list[tuple[str, int, int, str | None]]) -> None:
    """Tell the ledger where an aborted transaction's outputs lie: a read_committed reader that
    ever returns one of them has made an aborted read (G1a, :mod:`deliverytui.demo.anomalies`)."""
    with contextlib.suppress(LedgerError):  # a ledger that is down must not stop the abort or the crash
        c.ledger.record_aborted_outputs(c.group, list(delivered))


def commit_transaction(producer: Producer) -> None:
    """Commit the open transaction, retrying a retriable error a few times 0.2 s apart."""
    for attempt in range(COMMIT_TRANSACTION_ATTEMPTS):
        try:
            producer.commit_transaction(30)
            return
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.retriable() and attempt < COMMIT_TRANSACTION_ATTEMPTS - 1:
                time.sleep(0.2)
                continue
            raise
