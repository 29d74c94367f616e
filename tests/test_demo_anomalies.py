"""Jepsen's anomaly classes in the audit, each provoked for real on the session broker.

* nonmonotonic-poll and poll-skip: a real consumer that seeks back and forward with no
  rebalance is flagged; one that reads again because a second member joined (a real
  rebalance) is excused;
* G1a: a real transaction is aborted; a read_uncommitted reader sees its records, a
  read_committed one never does, and the checker flags only the first — and the demo's own
  exactly-once consumer, crashed mid-transaction, leaves aborted outputs the audit's
  read_committed reader never reads;
* inconsistent offsets: a topic deleted and recreated under the same ledger puts two
  acknowledged events at one offset.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from deliverytui.demo.anomalies import aborted_reads
from deliverytui.demo.auditor import audit
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.semantics import SEMANTICS, output_topic
from deliverytui.model.anomalies import ABORTED_READ, INCONSISTENT_OFFSETS, NONMONOTONIC_POLL, POLL_SKIP
from tests.helpers import run_crash_case, wait_for
from tests.kafka_helpers import create_topic


def _produce_events(bootstrap: str, topic: str, ledger: EffectsLedger, count: int, prefix: str = "ev") -> list[str]:
    """``count`` events to partition 0, each ack recorded in the ledger from its delivery report."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    acks: list[tuple[str, int, int]] = []

    def acked(error: Any, message: Any) -> None:
        assert error is None, error
        acks.append((message.key().decode(), message.partition(), message.offset()))

    ids = [f"{prefix}-{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
    for event_id in ids:
        producer.produce(topic, key=event_id.encode(), value=b"{}", partition=0, on_delivery=acked)
    assert producer.flush(30) == 0
    for event_id, partition, offset in acks:
        ledger.record_ack(event_id, None, partition, offset, topic=topic)
    return ids


class TrackedConsumer:
    """A real consumer that records every record it reads as an effect, with its assignment epoch
    (bumped only by the group's rebalance callbacks, as a Jepsen client's assign ops)."""

    def __init__(self, bootstrap: str, group: str, topic: str, ledger: EffectsLedger, instance: str) -> None:
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
        )
        self.ledger, self.group, self.instance = ledger, group, instance
        self.epoch = 0
        self.assigned: list[int] = []
        self.read: list[int] = []
        self.consumer.subscribe([topic], on_assign=self._assigned, on_revoke=self._revoked)

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.epoch += 1
        self.assigned = [tp.partition for tp in partitions]

    def _revoked(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self.epoch += 1
        self.assigned = []

    def poll_once(self, timeout: float = 0.2) -> int | None:
        message = self.consumer.poll(timeout)
        if message is None or message.error():
            return None
        offset = message.offset()
        self.read.append(offset)
        self.ledger.record_effect(message.key().decode(), self.group, message.partition(), offset, self.instance, self.epoch)
        return offset

    def read_through(self, offset: int, timeout: float = 30.0) -> None:
        """Poll until ``offset`` is read (again, if it was read before)."""
        start = len(self.read)
        deadline = time.monotonic() + timeout
        while offset not in self.read[start:]:
            assert time.monotonic() < deadline, f"{self.instance} read only {self.read}"
            self.poll_once()


def test_seeks_without_a_rebalance_are_flagged_and_a_rebalance_excuses_a_rewind(
    bootstrap: str, tmp_path: Path, unique: str
) -> None:
    topic = f"polls-{unique}"
    prefix = f"{unique}-"
    create_topic(bootstrap, topic, 1)
    seeking = SEMANTICS["at-least-once"].group_id(prefix)
    rebalanced = SEMANTICS["at-most-once"].group_id(prefix)
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        _produce_events(bootstrap, topic, ledger, 12)

        # A consumer that seeks back to 2 after reading 0..5, then forward to 9: no rebalance between.
        reader = TrackedConsumer(bootstrap, seeking, topic, ledger, "1:101")
        try:
            reader.read_through(5)
            epoch = reader.epoch
            reader.consumer.seek(TopicPartition(topic, 0, 2))
            reader.read_through(3)
            reader.consumer.seek(TopicPartition(topic, 0, 9))
            reader.read_through(9)
            assert reader.epoch == epoch, "no rebalance may happen during the seeks"
        finally:
            reader.consumer.close()

        # A consumer that commits 3 after reading 0..5; a second member joins, a real rebalance
        # takes the partition away; the second leaves, and the first reads 3.. again.
        first = TrackedConsumer(bootstrap, rebalanced, topic, ledger, "1:201")
        second: TrackedConsumer | None = None
        try:
            first.read_through(5)
            first.consumer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
            epoch = first.epoch
            second = TrackedConsumer(bootstrap, rebalanced, topic, ledger, "2:202")

            def rebalanced_once() -> bool:
                first.poll_once(0.1)
                second.poll_once(0.1)
                return first.epoch > epoch and bool(first.assigned or second.assigned)

            wait_for(rebalanced_once, 30, "a rebalance after the second member joined")
            second.consumer.close()
            second = None
            first.read_through(7)
            assert first.read.count(3) >= 2, f"the rebalance did not rewind the first member: {first.read}"
        finally:
            first.consumer.close()
            if second is not None:
                second.consumer.close()

        report = audit(
            ledger, bootstrap, group_prefix=prefix, semantics=("at-most-once", "at-least-once"), topic=topic,
            ack_grace_seconds=0.0,
        )  # fmt: skip
    flagged = report.for_semantic("at-least-once").anomalies
    assert (flagged.nonmonotonic_polls, flagged.poll_skips) == (1, 1), flagged
    kinds = {case.kind: case for case in flagged.cases}
    assert (kinds[NONMONOTONIC_POLL].partition, kinds[NONMONOTONIC_POLL].offset) == (0, 2)
    assert kinds[POLL_SKIP].offset == 9 and "over 5 acknowledged event(s)" in kinds[POLL_SKIP].detail
    excused = report.for_semantic("at-most-once").anomalies
    assert excused.total == 0, excused
    assert report.to_json()["consumers"][1]["anomalies"][NONMONOTONIC_POLL] == 1


def _read_all(bootstrap: str, topic: str, isolation: str, expected: int) -> list[tuple[int, int]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g1a-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    positions: list[tuple[int, int]] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                if len(positions) >= expected:
                    break
                continue
            positions.append((message.partition(), message.offset()))
    finally:
        consumer.close()
    return positions


def test_an_aborted_transaction_is_read_by_read_uncommitted_only_and_flagged(
    bootstrap: str, tmp_path: Path, unique: str
) -> None:
    topic = output_topic(f"g1a-{unique}")
    prefix = f"{unique}-"
    create_topic(bootstrap, topic, 1)
    group = SEMANTICS["exactly-once"].group_id(prefix)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"g1a-{unique}"})
    producer.init_transactions(30)
    landed: list[tuple[str, int, int, str]] = []
    producer.begin_transaction()
    for event_id in ("aborted-1", "aborted-2"):
        producer.produce(
            topic, key=event_id.encode(), value=f'{{"event_id": "{event_id}", "processed_by": "{group}"}}'.encode(),
            partition=0, on_delivery=lambda _e, m: landed.append((m.topic(), m.partition(), m.offset(), m.key().decode())),
        )  # fmt: skip
    producer.flush(30)
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        ledger.record_aborted_outputs(group, landed)
        producer.abort_transaction(30)
        producer.begin_transaction()
        producer.produce(topic, key=b"kept", value=f'{{"event_id": "kept", "processed_by": "{group}"}}'.encode(), partition=0)
        producer.commit_transaction(30)

        aborted = ledger.aborted_positions(topic)
        assert aborted == {(0, 0), (0, 1)}
        uncommitted = _read_all(bootstrap, topic, "read_uncommitted", 3)
        committed = _read_all(bootstrap, topic, "read_committed", 1)
        assert aborted_reads(aborted, uncommitted) == [(0, 0), (0, 1)], uncommitted
        assert aborted_reads(aborted, committed) == [], committed
        assert committed, "the read_committed reader read nothing: the check proves nothing"

        # The audit's reader is read_committed: it never copies an aborted output …
        report = audit(ledger, bootstrap, group_prefix=prefix, semantics=("exactly-once",), topic=topic.removesuffix(".processed"),
                       ack_grace_seconds=0.0)  # fmt: skip
        assert report.for_semantic("exactly-once").anomalies.aborted_reads == 0
        assert ledger.query("SELECT COUNT(*) FROM outputs")[0][0] == 1
        # … and a copy from a read_uncommitted reader, given to the same audit, is flagged.
        ledger.execute("DELETE FROM outputs")
        ledger.record_outputs([(topic, 0, o, e, group, None, None) for (_p, o), e in zip(uncommitted, ["aborted-1", "aborted-2"], strict=False)])
        report = audit(ledger, bootstrap, group_prefix=prefix, semantics=("exactly-once",), topic=topic.removesuffix(".processed"),
                       ack_grace_seconds=0.0)  # fmt: skip
    anomalies = report.for_semantic("exactly-once").anomalies
    assert anomalies.aborted_reads == 2, anomalies
    assert {c.kind for c in anomalies.cases} == {ABORTED_READ}


def test_the_exactly_once_consumer_records_what_its_crash_aborted(bootstrap: str, tmp_path: Path, unique: str) -> None:
    """A real mid-transaction crash: the aborted outputs are in the ledger, a read_uncommitted reader
    of the output topic sees them, the audit's read_committed reader never does, and every class reads 0."""
    topic = f"eos-abort-{unique}"
    result = run_crash_case(bootstrap, "exactly-once", "mid-transaction", tmp_path / "run", f"{unique}-", topic, events=20, crashes=1, partitions=1)
    assert result["lost"] == result["duplicates"] == 0, result
    assert {k: v for k, v in result["anomalies"].items() if k != "cases"} == {
        NONMONOTONIC_POLL: 0, POLL_SKIP: 0, ABORTED_READ: 0, INCONSISTENT_OFFSETS: 0,
    }, result["anomalies"]  # fmt: skip
    with EffectsLedger(sqlite_ledger_url(Path(result["run_dir"]) / "ledger.db")) as ledger:
        aborted = ledger.aborted_positions(output_topic(topic))
    assert aborted, "the crash mid-transaction recorded no aborted output"
    seen = _read_all(bootstrap, output_topic(topic), "read_uncommitted", 20 + len(aborted))
    assert set(aborted_reads(aborted, seen)) == aborted
    assert aborted_reads(aborted, _read_all(bootstrap, output_topic(topic), "read_committed", 20)) == []


def test_a_recreated_topic_puts_two_events_at_one_offset(bootstrap: str, tmp_path: Path, unique: str) -> None:
    topic = f"recreated-{unique}"
    prefix = f"{unique}-"
    group = SEMANTICS["at-least-once"].group_id(prefix)
    create_topic(bootstrap, topic, 1)
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        (first,) = _produce_events(bootstrap, topic, ledger, 1, "old")
        ledger.record_effect(first, group, 0, 0, "1:301", 1)
        before = audit(ledger, bootstrap, group_prefix=prefix, semantics=("at-least-once",), topic=topic, ack_grace_seconds=0.0)
        assert before.anomalies.total == before.for_semantic("at-least-once").anomalies.total == 0

        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
        wait_for(lambda: topic not in admin.list_topics(timeout=5).topics, 30, "the topic gone")
        wait_for(lambda: _recreated(bootstrap, topic), 60, "the topic recreated")
        (second,) = _produce_events(bootstrap, topic, ledger, 1, "new")
        ledger.record_effect(second, group, 0, 0, "1:302", 1)  # the group reads the new topic's offset 0
        assert ledger.query('SELECT COUNT(*) FROM acked_events WHERE "offset" = 0')[0][0] == 2
        report = audit(ledger, bootstrap, group_prefix=prefix, semantics=("at-least-once",), topic=topic, ack_grace_seconds=0.0)
    assert report.anomalies.inconsistent_offsets == 1, report.anomalies
    assert {first, second} <= set(report.anomalies.cases[0].detail.replace(",", " ").split())
    consumer = report.for_semantic("at-least-once").anomalies
    # The new effect's offset also carries the old event in the acks (the old effect was checked
    # before the topic was recreated: the topic-level count above is what names that one).
    assert consumer.inconsistent_offsets == 1 and f"effect of {second}" in consumer.cases[0].detail, consumer


def _recreated(bootstrap: str, topic: str) -> bool:
    try:
        create_topic(bootstrap, topic, 1)
    except Exception:  # still being deleted: try again
        return False
    return True
