"""KIP-848 epochs and target assignments read from a real consumer-protocol group, checked against Kafka's CLI."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer

from deliverytui.broker.admin_helper import admin_helper_command
from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.kafka.consumer_group_epochs import ConsumerGroupEpochReader
from deliverytui.kafka.java_admin import JavaAdmin
from deliverytui.model.rebalance import ConsumerGroupEpochs, RebalanceSettled, RebalanceTracker
from tests.kafka_helpers import create_topic, live_member

pytestmark = pytest.mark.kafka


def wait_for(read: Callable[[], ConsumerGroupEpochs], predicate: Callable[[ConsumerGroupEpochs], bool],
             timeout: float = 60.0) -> ConsumerGroupEpochs:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = read()
        if predicate(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"not reached in {timeout} s; last: {seen}")


def kafka_cli_members(dist: KafkaDistribution, bootstrap: str, group: str) -> dict[str, dict[str, str]]:
    """``kafka-consumer-groups --describe --members --verbose``, by client id."""
    result = subprocess.run(
        dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--describe", "--members", "--verbose", "--group", group,
            jvm_args=("-Dlog4j2.level=ERROR",),
        ),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["GROUP", "CONSUMER-ID"]:
            header = fields
        elif header and fields and fields[0] == group:
            assert len(fields) == len(header), line
            row = dict(zip(header, fields))
            rows[row["CLIENT-ID"]] = row
    assert header is not None, result.stdout
    return rows


def cli_partitions(text: str) -> set[tuple[str, int]]:
    """``topic:0,1,2`` (topics separated by ``;``), or ``-`` for none."""
    if text == "-":
        return set()
    found = set()
    for part in text.split(";"):
        topic, _, numbers = part.rpartition(":")
        found |= {(topic, int(n)) for n in numbers.split(",") if n}
    return found


def as_pairs(partitions) -> set[tuple[str, int]]:
    return {(tp.topic, tp.partition) for tp in partitions}


def poll_until(consumer: Consumer, stop: threading.Event) -> None:
    while not stop.is_set():
        consumer.poll(0.2)


def test_a_second_member_joining_is_seen_as_pending_revocation_then_settled_and_agrees_with_kafka_cli(
    kafka_distribution: KafkaDistribution, bootstrap: str, unique: str
) -> None:
    """The first member owns all 6 partitions; while it does not poll, it cannot give 3 of them up, so the
    second's target stays unowned and the first's surplus pending revocation: what Kafka's CLI prints too.
    Once the first polls again, the rebalance settles and the tracker says how long it took."""
    topic, group = f"kip848-{unique}", f"kip848-{unique}"
    create_topic(bootstrap, topic, 6)
    first = live_member(bootstrap, group, [topic], client_id="first", protocol="consumer")
    second = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "second",
                       "group.protocol": "consumer", "enable.auto.commit": False})
    stops = [threading.Event(), threading.Event()]
    threads: list[threading.Thread] = []
    tracker = RebalanceTracker()
    events: list[object] = []
    with JavaAdmin(admin_helper_command(), bootstrap) as java:
        reader = ConsumerGroupEpochReader(lambda: java)

        def read() -> ConsumerGroupEpochs:
            epochs = reader.read(group)
            events.extend(tracker.observe(epochs))
            return epochs

        try:
            before = wait_for(read, lambda e: e.settled and len(e.members) == 1 and len(e.members[0].assignment) == 6)
            assert before.group_type == "consumer" and before.group_epoch == before.target_epoch
            second.subscribe([topic])
            threads.append(threading.Thread(target=poll_until, args=(second, stops[1])))
            threads[-1].start()
            during = wait_for(read, lambda e: len(e.members) == 2 and all(m.target is not None and m.target for m in e.members))
            assert not during.settled and tracker.in_progress
            by_client = {m.client_id: m for m in during.members}
            assert len(by_client["first"].revoking) == 3 and by_client["first"].member_epoch < during.group_epoch
            assert as_pairs(during.pending_revocation()) == as_pairs(by_client["first"].revoking)
            assert as_pairs(by_client["second"].incoming) == as_pairs(by_client["second"].target)

            cli = kafka_cli_members(kafka_distribution, bootstrap, group)
            now = reader.read(group)  # the first member is not polling: nothing moved since the CLI ran
            for member in now.members:
                row = cli[member.client_id]
                assert row["CONSUMER-ID"] == member.member_id
                assert int(row["CURRENT-EPOCH"]) == member.member_epoch
                assert int(row["TARGET-EPOCH"]) == now.target_epoch
                assert cli_partitions(row["CURRENT-ASSIGNMENT"]) == as_pairs(member.assignment)
                assert cli_partitions(row["TARGET-ASSIGNMENT"]) == as_pairs(member.target or ())

            threads.append(threading.Thread(target=poll_until, args=(first, stops[0])))
            threads[-1].start()
            after = wait_for(read, lambda e: e.settled and len(e.members) == 2)
            assert {len(m.assignment) for m in after.members} == {3}
            assert after.unowned(tp for m in before.members for tp in m.assignment) == frozenset()
            settled = [e for e in events if isinstance(e, RebalanceSettled)]
            assert len(settled) == 1 and settled[0].epoch == after.group_epoch and settled[0].members == 2
            assert settled[0].describe().startswith(f"rebalance to epoch {after.group_epoch} settled in ")
        finally:
            for stop in stops:
                stop.set()
            for thread in threads:
                thread.join(10)
            first.close()
            second.close()
