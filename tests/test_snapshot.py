"""GroupSnapshot against a real broker: the numbers must be the ones Kafka itself holds."""

from __future__ import annotations

import json
import socket
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from deliverytui.errors import ClusterUnreachableError, ExitCode, UnknownGroupError
from deliverytui.kafka.group_inspector import GroupInspector
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, live_member, produce, seed_topics

pytestmark = pytest.mark.kafka


def test_group_without_members_and_partial_commits(bootstrap: str, unique: str) -> None:
    topic, group = f"orders.{unique}", f"billing-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 10, 1: 4, 2: 7})
    commit(bootstrap, group, {(topic, 0): 6, (topic, 1): 4}, metadata="worker-7")

    snap = GroupInspector(bootstrap).snapshot(group)

    assert snap.group_id == group
    assert snap.state == "Empty"
    assert snap.protocol == "classic"
    assert snap.members == ()
    assert snap.coordinator is not None and f"{snap.coordinator.host}:{snap.coordinator.port}" == bootstrap
    # Partition 2 was never committed and nobody owns it: Kafka's CLI does not list it either.
    assert [(r.topic, r.partition) for r in snap.partitions] == [(topic, 0), (topic, 1)]
    p0, p1 = snap.partitions
    assert (p0.committed_offset, p0.log_end_offset, p0.last_stable_offset, p0.log_start_offset, p0.lag) == (6, 10, 10, 0, 4)
    assert p0.committed_metadata == "worker-7"
    assert (p1.committed_offset, p1.log_end_offset, p1.lag) == (4, 4, 0)
    assert snap.total_lag == 4
    assert p0.member_id is None and p0.client_id is None


def test_live_member_owns_partitions_and_uncommitted_partition_has_no_lag(bootstrap: str, unique: str) -> None:
    topic, group = f"payments-{unique}", f"notifier-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 5, 1: 3})
    consumer = live_member(bootstrap, group, [topic], client_id=f"client-{unique}")
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        snap = GroupInspector(bootstrap).snapshot(group)
    finally:
        consumer.close()

    assert snap.state == "Stable"
    assert len(snap.members) == 1
    member = snap.members[0]
    assert member.client_id == f"client-{unique}"
    assert member.host  # the coordinator records the member's address
    assert sorted((tp.topic, tp.partition) for tp in member.assignment) == [(topic, 0), (topic, 1)]
    rows = {r.partition: r for r in snap.partitions}
    assert rows[0].committed_offset == 2 and rows[0].lag == 3
    # Assigned but never committed: shown, with no committed offset and no lag (Kafka prints "-").
    assert rows[1].committed_offset is None and rows[1].lag is None and rows[1].log_end_offset == 3
    assert rows[1].member_id == member.member_id and rows[1].client_id == member.client_id


def test_consumer_protocol_group_is_reported_as_kip848(bootstrap: str, unique: str) -> None:
    topic, group = f"kip848-{unique}", f"next-gen-{unique}"
    create_topic(bootstrap, topic, 2)
    consumer = live_member(bootstrap, group, [topic], client_id="new-protocol", protocol="consumer")
    try:
        snap = GroupInspector(bootstrap).snapshot(group)
    finally:
        consumer.close()
    assert snap.protocol == "consumer"
    assert [m.client_id for m in snap.members] == ["new-protocol"]
    assert {(r.topic, r.partition) for r in snap.partitions} == {(topic, 0), (topic, 1)}


def test_two_topics_are_sorted_by_topic_then_partition(bootstrap: str, unique: str) -> None:
    first, second, group = f"b-events-{unique}", f"a-events-{unique}", f"two-topics-{unique}"
    seed_topics(bootstrap, {first: {0: 3, 1: 3}, second: {0: 8}}, group, {(first, 1): 1, (second, 0): 8, (first, 0): 3})

    snap = GroupInspector(bootstrap).snapshot(group)

    assert [(r.topic, r.partition) for r in snap.partitions] == [(second, 0), (first, 0), (first, 1)]
    assert [r.lag for r in snap.partitions] == [0, 0, 2]
    assert snap.topics == (second, first)


def test_open_transaction_keeps_last_stable_offset_below_log_end(bootstrap: str, unique: str) -> None:
    topic, group = f"tx-{unique}", f"tx-reader-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 4})
    commit(bootstrap, group, {(topic, 0): 4})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{unique}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, value=f"pending-{i}".encode(), partition=0)
    producer.flush(30)
    try:
        snap = GroupInspector(bootstrap).snapshot(group)
        row = snap.partitions[0]
        # The open transaction's first record is at offset 4: read_committed readers stop there.
        assert row.last_stable_offset == 4
        assert row.log_end_offset == 9
        assert row.lag == 5
    finally:
        producer.abort_transaction(30)
    # The abort marker moves both ends past the aborted records. The transaction coordinator writes
    # it after abort_transaction returns, so a loaded machine may need a moment to show it.
    deadline = time.monotonic() + 30
    after = GroupInspector(bootstrap).snapshot(group).partitions[0]
    while (after.last_stable_offset, after.log_end_offset) != (10, 10) and time.monotonic() < deadline:
        time.sleep(0.2)
        after = GroupInspector(bootstrap).snapshot(group).partitions[0]
    assert after.last_stable_offset == after.log_end_offset == 10


def test_log_start_offset_follows_delete_records(bootstrap: str, unique: str) -> None:
    topic, group = f"retention-{unique}", f"slow-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    commit(bootstrap, group, {(topic, 0): 2})
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_records([TopicPartition(topic, 0, 6)])[TopicPartition(topic, 0, 6)].result(timeout=30)

    row = GroupInspector(bootstrap).snapshot(group).partitions[0]

    assert row.log_start_offset == 6
    # Committed below the log start: lag stays log-end minus committed, as kafka-consumer-groups prints.
    assert row.committed_offset == 2 and row.lag == 8


def test_snapshot_costs_a_constant_number_of_admin_requests(bootstrap: str, unique: str) -> None:
    """Batched: the same number of AdminClient calls for 2 partitions as for 60."""
    calls: dict[str, int] = {}

    def counting(inspector: GroupInspector) -> GroupInspector:
        real = inspector.admin

        class CountingAdmin:
            def __getattr__(self, name: str):
                attr = getattr(real, name)
                if not callable(attr) or name == "poll":
                    return attr

                def wrapper(*args, **kwargs):
                    calls[name] = calls.get(name, 0) + 1
                    return attr(*args, **kwargs)

                return wrapper

        inspector.admin = CountingAdmin()  # type: ignore[assignment]
        return inspector

    counts = []
    for partitions in (2, 60):
        topic, group = f"wide{partitions}-{unique}", f"wide{partitions}-{unique}"
        create_topic(bootstrap, topic, partitions)
        commit(bootstrap, group, {(topic, p): 0 for p in range(partitions)})
        calls.clear()
        snap = counting(GroupInspector(bootstrap)).snapshot(group)
        assert len(snap.partitions) == partitions
        counts.append(dict(calls))
    assert counts[0] == counts[1]
    # describe + offset fetch + three list_offsets batches + one metadata request (leaders, ISRs) for the topic
    assert sum(counts[0].values()) == 6 and counts[0]["list_topics"] == 1

    # A long-lived inspector on this one-node broker reuses the metadata (nothing can move on one
    # node) until it ages out or a topic it has not read appears.
    topic, group = f"wide60-{unique}", f"wide60-{unique}"
    inspector = counting(GroupInspector(bootstrap))
    calls.clear()
    inspector.snapshot(group)
    first = inspector.snapshot(group)
    assert calls["list_topics"] == 1 and first.partitions[0].leader is not None
    other = f"wide-other-{unique}"
    create_topic(bootstrap, other, 1)
    commit(bootstrap, group, {(other, 0): 0})
    inspector.snapshot(group)
    assert calls["list_topics"] == 3  # read again: one request per topic for a few topics
    inspector._replication_cache = (0.0, *inspector._replication_cache[1:])  # type: ignore[index, misc]  # aged out
    inspector.snapshot(group)
    assert calls["list_topics"] == 5


def test_unknown_group_is_one_clear_error(bootstrap: str, unique: str) -> None:
    with pytest.raises(UnknownGroupError, match="does not exist"):
        GroupInspector(bootstrap).snapshot(f"never-seen-{unique}")
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", f"never-seen-{unique}")
    assert result.returncode == ExitCode.GROUP_NOT_FOUND
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_cluster_fails_fast_with_one_line() -> None:
    with pytest.raises(ClusterUnreachableError, match="cannot reach Kafka"):
        GroupInspector("127.0.0.1:1", request_timeout=5).snapshot("any")
    started = time.monotonic()
    result = run_cli("snapshot", "--bootstrap", "127.0.0.1:1", "--group", "any", "--timeout", "5")
    elapsed = time.monotonic() - started
    assert result.returncode == ExitCode.UNREACHABLE
    assert result.stderr.count("\n") == 1 and "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 60  # bounded: the CLI never hangs on a dead address (generous bound, not a speed target)


def test_silent_listener_is_bounded_by_the_timeout() -> None:
    """A port that accepts TCP but never speaks Kafka (a hung broker) ends within the timeout, in one line."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        result = run_cli("snapshot", "--bootstrap", f"127.0.0.1:{port}", "--group", "any", "--timeout", "3", timeout=60)
    finally:
        listener.close()
    assert result.returncode == ExitCode.UNREACHABLE
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert f"127.0.0.1:{port}" in result.stderr


def test_snapshot_json_has_the_documented_shape(bootstrap: str, unique: str) -> None:
    topic, group = f"shape-{unique}", f"shape-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 3})
    commit(bootstrap, group, {(topic, 0): 1})
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"group", "state", "protocol", "coordinator", "members", "partitions", "taken_at"} <= data.keys()
    (row,) = data["partitions"]
    assert row == {
        "topic": topic,
        "partition": 0,
        "committed_offset": 1,
        "committed_metadata": None,
        "log_end_offset": 3,
        "last_stable_offset": 3,
        "log_start_offset": 0,
        "lag": 2,
        "member_id": None,
        "client_id": None,
        "host": None,
        "leader": 1,
        "replicas": [1],
        "isr": [1],
        "under_replicated": False,
        "offline": False,
    }
    assert data["brokers"] == [1] and data["under_replicated_partitions"] == 0 and data["offline_partitions"] == 0
    table = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group)
    assert table.returncode == 0
    assert f"Group {group}: Empty" in table.stdout and "LAST-STABLE" in table.stdout
    assert "LEADER" not in table.stdout  # one node: no replication columns


def test_groups_lists_state_and_type(bootstrap: str, unique: str) -> None:
    topic, group = f"listing-{unique}", f"listing-{unique}"
    create_topic(bootstrap, topic, 1)
    commit(bootstrap, group, {(topic, 0): 0})
    result = run_cli("groups", "--bootstrap", bootstrap, "--json")
    assert result.returncode == 0, result.stderr
    listed = {g["group"]: g for g in json.loads(result.stdout)}
    assert listed[group]["state"] == "Empty" and listed[group]["protocol"] == "classic"


def test_every_group_state_is_spelled_as_kafka_prints_it() -> None:
    from confluent_kafka import ConsumerGroupState

    from deliverytui.kafka.group_inspector import state_name

    spelled = {state.name: state_name(state) for state in ConsumerGroupState}
    assert spelled["PREPARING_REBALANCING"] == "PreparingRebalance"
    assert spelled["COMPLETING_REBALANCING"] == "CompletingRebalance"
    assert {spelled["STABLE"], spelled["EMPTY"], spelled["DEAD"]} == {"Stable", "Empty", "Dead"}
