"""Oracle: deliverytui's snapshot must equal what Apache Kafka's own kafka-consumer-groups prints.

Runs ``org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --describe`` from the
same cached jars as the broker and compares committed offset, log-end offset, lag and
client id for every partition of several real groups.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka import TopicPartition

from deliverytui.broker.distribution import KafkaDistribution
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, live_member, produce

pytestmark = pytest.mark.kafka


def kafka_cli_describe(dist: KafkaDistribution, bootstrap: str, group: str) -> dict[tuple[str, int], dict[str, str]]:
    result = subprocess.run(
        dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--describe", "--group", group,
            jvm_args=("-Dlog4j2.level=ERROR",),
        ),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows: dict[tuple[str, int], dict[str, str]] = {}
    header: list[str] | None = None
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["GROUP", "TOPIC"]:
            header = fields
            continue
        if header and len(fields) == len(header) and fields[0] == group:
            row = dict(zip(header, fields))
            rows[(row["TOPIC"], int(row["PARTITION"]))] = row
    assert header is not None, result.stdout
    return rows


def as_cli(value: object) -> str:
    return "-" if value is None else str(value)


def assert_matches_kafka(dist: KafkaDistribution, bootstrap: str, group: str) -> None:
    ours = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert ours.returncode == 0, ours.stderr
    snapshot = json.loads(ours.stdout)
    theirs = kafka_cli_describe(dist, bootstrap, group)
    assert theirs, "kafka-consumer-groups printed no rows"
    mine = {(p["topic"], p["partition"]): p for p in snapshot["partitions"]}
    assert mine.keys() == theirs.keys()
    for key, row in theirs.items():
        p = mine[key]
        assert as_cli(p["committed_offset"]) == row["CURRENT-OFFSET"], key
        assert as_cli(p["log_end_offset"]) == row["LOG-END-OFFSET"], key
        assert as_cli(p["lag"]) == row["LAG"], key
        assert as_cli(p["client_id"]) == row["CLIENT-ID"], key
        assert as_cli(p["member_id"]) == row["CONSUMER-ID"], key


def test_oracle_group_without_members(kafka_distribution: KafkaDistribution, bootstrap: str, unique: str) -> None:
    topic, group = f"oracle-empty-{unique}", f"oracle-empty-{unique}"
    create_topic(bootstrap, topic, 4)
    produce(bootstrap, topic, {0: 12, 1: 3, 2: 0, 3: 9})
    commit(bootstrap, group, {(topic, 0): 5, (topic, 1): 3, (topic, 3): 1})
    assert_matches_kafka(kafka_distribution, bootstrap, group)


def test_oracle_group_with_live_member_and_two_topics(
    kafka_distribution: KafkaDistribution, bootstrap: str, unique: str
) -> None:
    first, second, group = f"oracle-a-{unique}", f"oracle-b-{unique}", f"oracle-live-{unique}"
    create_topic(bootstrap, first, 3)
    create_topic(bootstrap, second, 2)
    produce(bootstrap, first, {0: 7, 1: 2, 2: 5})
    produce(bootstrap, second, {0: 4, 1: 6})
    consumer = live_member(bootstrap, group, [first, second], client_id=f"oracle-client-{unique}")
    try:
        consumer.commit(offsets=[TopicPartition(first, 0, 7), TopicPartition(second, 1, 2)], asynchronous=False)
        assert_matches_kafka(kafka_distribution, bootstrap, group)
    finally:
        consumer.close()


def test_oracle_kip848_consumer_group(kafka_distribution: KafkaDistribution, bootstrap: str, unique: str) -> None:
    topic, group = f"oracle-848-{unique}", f"oracle-848-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 5, 1: 5, 2: 5})
    consumer = live_member(bootstrap, group, [topic], client_id="kip848-client", protocol="consumer")
    try:
        consumer.commit(offsets=[TopicPartition(topic, 1, 4)], asynchronous=False)
        assert_matches_kafka(kafka_distribution, bootstrap, group)
    finally:
        consumer.close()
