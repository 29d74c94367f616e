"""How the demo consumer reads a failed commit: retry, stale assignment, or fenced (rejoin).

No broker here: the consumer object is a stand-in whose commit fails the way librdkafka's
does. tests/test_cluster_faults.py has the real processes (a fenced static member, the
group's coordinator killed).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from deliverytui.demo.consumer import ConsumerOptions, DemoConsumer, Retry, classify_commit_error
from deliverytui.demo.consumer import commit as commit_module
from deliverytui.demo.consumer.handlers import commit_after_effect


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (KafkaError(KafkaError.FENCED_INSTANCE_ID), "fenced"),
        (KafkaError(KafkaError._FATAL), "fenced"),
        (KafkaError(KafkaError.UNKNOWN_MEMBER_ID, fatal=True), "fenced"),  # any fatal consumer error
        (KafkaError(KafkaError.UNKNOWN_MEMBER_ID), "stale"),
        (KafkaError(KafkaError.ILLEGAL_GENERATION), "stale"),
        (KafkaError(KafkaError.REBALANCE_IN_PROGRESS), "stale"),
        (KafkaError(KafkaError._ASSIGNMENT_LOST), "stale"),
        (KafkaError(KafkaError.NOT_COORDINATOR), "retry"),
        (KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE), "retry"),
        (KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS), "retry"),
        (KafkaError(KafkaError._TRANSPORT), "retry"),
        (KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED), "failed"),
        ("not a KafkaError", "failed"),
        (None, "failed"),
    ],
)
def test_commit_errors_are_classified(error: Any, kind: str) -> None:
    assert classify_commit_error(error) == kind


class FakeConsumer:
    """Commits fail with the queued errors (then succeed); records what it was asked."""

    created: list[FakeConsumer] = []

    def __init__(self, config: dict[str, Any], logger: Any = None) -> None:
        self.config = config
        self.errors: list[KafkaError] = []
        self.commits: list[list[tuple[int, int]]] = []
        self.seeks: list[tuple[int, int]] = []
        self.closed = False
        self.subscribed: list[str] = []
        FakeConsumer.created.append(self)

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None, on_lost: Any = None) -> None:
        self.subscribed = topics

    def commit(self, offsets: Any, asynchronous: bool) -> None:
        if self.closed:
            raise RuntimeError("closed consumer")
        if self.errors:
            raise KafkaException(self.errors.pop(0))
        self.commits.append([(tp.partition, tp.offset) for tp in offsets])

    def seek(self, tp: Any) -> None:
        self.seeks.append((tp.partition, tp.offset))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    FakeConsumer.created = []
    monkeypatch.setattr(commit_module, "Consumer", FakeConsumer)
    monkeypatch.setattr(commit_module.time, "sleep", lambda _s: None)

    def make(commit_every: int = 1) -> DemoConsumer:
        options = ConsumerOptions(
            semantic="at-least-once", bootstrap="127.0.0.1:1", ledger_url=f"sqlite:///{tmp_path}/l.db",
            run_dir=tmp_path, probe=False, commit_every=commit_every,
        )
        consumer = DemoConsumer(options)
        consumer.member.config = {"group.id": consumer.group, "group.instance.id": f"{consumer.group}-demo"}
        consumer.member.join()
        made.append(consumer)
        return consumer

    made: list[DemoConsumer] = []
    yield make
    for consumer in made:
        consumer.ledger.close()
        consumer.loop.close()


def test_a_fenced_commit_commits_nothing_and_the_consumer_rejoins_as_the_same_instance(demo) -> None:
    consumer = demo()
    first = consumer.consumer
    first.errors = [KafkaError(KafkaError.FENCED_INSTANCE_ID)]
    with pytest.raises(Retry):  # the message is handled again, never skipped
        consumer.member.commit(0, 41)
    assert first.commits == [] and consumer.member.fenced
    assert 0 not in consumer.positions  # nothing reported as committed

    assert consumer.member.rejoin_if_fenced()
    second = consumer.consumer
    assert first.closed and second is not first and not second.closed
    assert second.config["group.instance.id"] == first.config["group.instance.id"]
    assert second.subscribed == [consumer.topic]
    assert consumer.rejoins == 1 and not consumer.member.fenced
    assert not consumer.member.rejoin_if_fenced()  # once is enough
    consumer.member.commit(0, 41)
    assert second.commits == [[(0, 42)]]


def test_a_stale_assignment_is_not_retried_in_place_and_needs_no_new_consumer(demo) -> None:
    consumer = demo()
    fake = consumer.consumer
    fake.errors = [KafkaError(KafkaError.UNKNOWN_MEMBER_ID), KafkaError(KafkaError.REBALANCE_IN_PROGRESS)]
    with pytest.raises(Retry):
        consumer.member.commit(1, 7)
    assert fake.commits == [] and not consumer.member.fenced  # the next poll rejoins the group by itself
    assert fake.errors == [KafkaError(KafkaError.REBALANCE_IN_PROGRESS)]  # one attempt, not ten


def test_a_coordinator_move_is_retried_in_place(demo) -> None:
    consumer = demo()
    fake = consumer.consumer
    fake.errors = [KafkaError(KafkaError.NOT_COORDINATOR), KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)]
    consumer.member.commit(2, 9)
    assert fake.commits == [[(2, 10)]] and not consumer.member.fenced


def test_batched_effects_stay_pending_on_a_stale_commit_and_are_dropped_on_a_rejoin(demo) -> None:
    """Effects done but not committed are never committed by a consumer that lost its assignment:
    kept while the group rebalances, dropped (so redelivered: at-least-once) when fenced."""
    consumer = demo(commit_every=3)
    fake = consumer.consumer
    fake.errors = [KafkaError(KafkaError.ILLEGAL_GENERATION)]
    for offset in range(3):
        commit_after_effect(consumer, 0, offset)
    assert fake.commits == [] and consumer.member.pending == {0: 3}
    fake.errors = [KafkaError(KafkaError.FENCED_INSTANCE_ID)]
    assert not consumer.member.commit_pending()
    assert consumer.member.fenced and consumer.member.pending == {0: 3}
    assert consumer.member.rejoin_if_fenced()
    assert consumer.member.pending == {} and consumer.member.pending_count == 0
    assert consumer.consumer.commits == [] and fake.commits == []


class NeverClosingConsumer(FakeConsumer):
    """A consumer whose close() blocks, as librdkafka's can for a fatal consumer whose coordinator is away."""

    def close(self) -> None:
        threading.Event().wait()


def test_a_fenced_consumer_that_never_closes_ends_the_process_instead_of_hanging(demo, monkeypatch) -> None:
    assert not commit_module.close_within(NeverClosingConsumer({}), 0.2)  # gave up after 0.2 s
    assert commit_module.close_within(FakeConsumer({}), 5)

    monkeypatch.setattr(commit_module, "FENCED_CLOSE_SECONDS", 0.2)
    exits: list[int] = []

    def record_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(commit_module.os, "_exit", record_exit)
    consumer = demo()
    monkeypatch.setattr(commit_module, "Consumer", NeverClosingConsumer)
    consumer.member.join()  # its consumer object now hangs in close()
    stuck = consumer.consumer
    consumer.member.fenced = True
    with pytest.raises(SystemExit):
        consumer.member.rejoin_if_fenced()
    assert exits == [commit_module.STUCK_CLOSE_EXIT]  # the supervisor restarts a process that exits
    assert consumer.consumer is stuck  # no second consumer beside the stuck one
