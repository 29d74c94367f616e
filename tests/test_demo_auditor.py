"""The auditor's classification (lost, duplicate, unexpected, in flight) on a real SQLite ledger and broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from deliverytui.demo.auditor import audit
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.semantics import SEMANTICS, check_crash_point, store_url_for
from deliverytui.errors import UserFacingError
from deliverytui.model.demo import DUPLICATE, LOST, UNEXPECTED
from tests.kafka_helpers import commit, create_topic


def test_semantics_table_is_the_contract() -> None:
    assert list(SEMANTICS) == ["at-most-once", "at-least-once", "idempotent", "upsert", "state-check", "exactly-once", "queue"]
    assert [s.group for s in SEMANTICS.values()] == [
        "analytics-service",
        "notification-service",
        "idempotent-notifier",
        "task-projection",
        "task-completer",
        "order-processor",
        "queue-workers",
    ]
    assert [name for name, s in SEMANTICS.items() if s.instances > 1] == ["queue"]  # two workers share its partitions
    assert SEMANTICS["queue"].crash_points == ("after-effect", "after-ack")
    assert "after-claim" in SEMANTICS["idempotent"].crash_points
    assert [name for name, s in SEMANTICS.items() if "mid-transaction" in s.crash_points] == ["exactly-once"]
    assert SEMANTICS["upsert"].group_id("t1-") == "t1-task-projection"


def test_a_crash_point_that_does_not_apply_is_a_one_line_error() -> None:
    with pytest.raises(UserFacingError, match="does not apply to at-least-once; choose one of after-effect, after-commit"):
        check_crash_point("at-least-once", "after-claim")


def test_redis_dedup_leaves_the_sql_patterns_on_sqlite(tmp_path: Path) -> None:
    assert store_url_for("idempotent", "redis://localhost:6379/0", tmp_path) == "redis://localhost:6379/0"
    assert store_url_for("upsert", "redis://localhost:6379/0", tmp_path) == f"sqlite:///{tmp_path / 'dedup.db'}"
    assert store_url_for("at-least-once", "redis://localhost:6379/0", tmp_path) is None


def test_ledger_numbers_attempts_per_consumer(tmp_path: Path) -> None:
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        assert ledger.record_effect("e1", "g", 0, 7) == 1
        assert ledger.record_effect("e1", "g", 0, 7) == 2
        assert ledger.record_effect("e1", "other", 0, 7) == 1
        assert [row.attempt for row in ledger.effects_after(0)] == [1, 2, 1]


def test_audit_classifies_lost_duplicate_unexpected_and_in_flight(
    bootstrap: str, tmp_path: Path, unique: str
) -> None:
    topic = f"audit-{unique}"
    prefix = f"{unique}-"
    group = SEMANTICS["at-least-once"].group_id(prefix)
    create_topic(bootstrap, topic, 2)
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        for event_id, partition, offset in [("a", 0, 0), ("b", 0, 1), ("c", 0, 2), ("d", 0, 3), ("e", 1, 0), ("f", 1, 1)]:
            ledger.record_ack(event_id, f"task-{event_id}", partition, offset, topic=topic)
        for event_id, partition, offset in [("a", 0, 0), ("b", 0, 1), ("b", 0, 1), ("e", 1, 0), ("x", 1, 9)]:
            ledger.record_effect(event_id, group, partition, offset)
        ledger.record_effect("c", "someone-else", 0, 2)  # another consumer's effect does not count
        ledger.record_crash(group, "after-effect")
        # Committed past a, b, c on partition 0; nothing committed on partition 1.
        commit(bootstrap, group, {(topic, 0): 3})

        # The effect for "x" was just written: within the ack grace it is in flight, not unexpected.
        fresh = audit(ledger, bootstrap, group_prefix=prefix, semantics=("at-least-once",), topic=topic)
        assert fresh.for_semantic("at-least-once").unexpected == 0
        report = audit(
            ledger, bootstrap, group_prefix=prefix, semantics=("at-least-once",), topic=topic, ack_grace_seconds=0.0
        )

    result = report.for_semantic("at-least-once")
    assert report.produced == 6
    assert (result.produced, result.processed) == (6, 3)
    assert (result.effects, result.unique_effects, result.duplicates) == (5, 4, 1)
    assert (result.lost, result.lost_event_ids) == (1, ("c",))  # d is at the committed offset: still in flight
    assert result.duplicate_event_ids == ("b",)
    assert result.unexpected == 1
    assert result.crashes == 1
    assert {(o.event_id, o.kind) for o in result.offending} == {("c", LOST), ("b", DUPLICATE), ("x", UNEXPECTED)}
    assert not result.ok



class _Delivered:
    """A message as confluent-kafka hands it over: a record, or an end-of-partition event at ``offset``."""

    def __init__(self, offset: int, value: bytes | None = None) -> None:
        self._offset, self._value = offset, value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> None:
        return None

    def value(self) -> bytes | None:
        return self._value

    def error(self) -> object | None:
        if self._value is not None:
            return None
        from confluent_kafka import KafkaError

        return KafkaError(KafkaError._PARTITION_EOF)


class _ScriptedConsumer:
    """Hands over ``batches`` one per consume() call, then nothing (the order librdkafka can deliver in)."""

    def __init__(self, batches: list[list[_Delivered]]) -> None:
        self.batches = batches

    def consume(self, num_messages: int, timeout: float) -> list[_Delivered]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        pass


def test_output_tally_reads_past_an_end_of_partition_queued_before_newer_records(
    bootstrap: str, tmp_path: Path, unique: str
) -> None:
    """Between audits the tally's consumer keeps fetching, so its queue can hold records and
    an end-of-partition raised at an older end (seen against a real broker: EOF at 10, then
    records 10..12, when the stable offset is already 14). Taking the newest stable offset as
    the read position at that stale end ended the read early, and once nothing new was
    produced the last records were never copied: the exactly-once events counted as lost.

    The topic and its stable offset are real; the delivery order is scripted, since when a
    fetch lands between two transactions is up to the broker."""
    import json

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    from deliverytui.demo.auditor import OutputTally

    topic = f"tally-out-{unique}"
    create_topic(bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tally-{unique}"})
    producer.init_transactions()
    values = {}
    offset = 0
    for count in (5, 3, 3):  # records 0-4, marker 5; 6-8, marker 9; 10-12, marker 13: stable offset 14
        producer.begin_transaction()
        for _ in range(count):
            values[offset] = json.dumps({"event_id": f"e{offset}", "processed_by": "g"}).encode()
            producer.produce(topic, values[offset])
            offset += 1
        producer.commit_transaction()
        offset += 1
    admin = AdminClient({"bootstrap.servers": bootstrap})
    tally = OutputTally(bootstrap, topic)
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        ledger.record_outputs([(topic, 0, o, f"e{o}", "g", None, None) for o in range(5)])  # the first audit's copy
        tally._next = {0: 6}
        tally._assigned = {0}
        tally._consumer = _ScriptedConsumer(  # type: ignore[assignment]
            [
                [_Delivered(o, values[o]) for o in (6, 7, 8)] + [_Delivered(10)],  # the stale end
                [_Delivered(o, values[o]) for o in (10, 11, 12)] + [_Delivered(14)],
            ]
        )
        assert tally.refresh(admin, ledger)
        assert tally.refresh(admin, ledger)  # nothing new: the final audit of a stopped lab
        assert ledger.effect_totals("g", "outputs") == (11, 11)
