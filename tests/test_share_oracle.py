"""``deliverytui snapshot``/``groups`` on share groups equal Apache Kafka's own ``kafka-share-groups``.

The oracle is Kafka's ShareGroupCommand, run from the broker's own jars on the session broker, against
share groups run by Kafka's own console share consumer and by confluent-kafka's ``ShareConsumer``:

- ``acked``: an explicit-mode ShareConsumer accepted the records below offset 4 of what it was given and
  closed with the rest unacknowledged (released), so start offsets and share lags are not trivial; Empty.
- ``pair``: two ShareConsumers sharing a one-partition topic: both own partition 0 (a share group may
  give one partition to several members); Stable.
- ``console``: Kafka's console share consumer reading a topic from the earliest record, compared while it
  runs (Stable) and after it stopped (Empty).
- ``unfetched``: a console share consumer on an empty topic, starting at the log end: no share-partition
  state yet, which Kafka prints as ``-`` and deliverytui as JSON ``null``.

Kafka persists share state asynchronously, so each comparison first waits until Kafka's own figures stop
moving, then compares values read close together, and tries again a few times before failing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, ShareConsumer

from deliverytui.broker.distribution import KafkaDistribution
from tests.helpers import run_cli
from tests.kafka_helpers import create_topic, produce
from tests.share_helpers import (
    console_share_consumer,
    set_group_config,
    share_groups,
    table_rows,
    wait_for_members,
)

pytestmark = pytest.mark.kafka

PRODUCED = {0: 10, 1: 7, 2: 5}
ACCEPTED_BELOW = 4  # the explicit consumer accepts offsets below this and leaves the rest unacknowledged


@dataclass
class ShareScene:
    topic: str
    acked: str
    pair: str
    pair_topic: str
    empty_topic: str
    suffix: str


def _poll_until(consumer: ShareConsumer, timeout: float) -> list[Any]:
    """The first non-empty batch a share consumer is given (records acquired under lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = [m for m in consumer.poll(1.0) if m.error() is None]
        if batch:
            return batch
    raise AssertionError(f"the share consumer was given no record in {timeout}s")


@pytest.fixture(scope="module")
def scene(bootstrap: str, kafka_distribution: KafkaDistribution) -> Iterator[ShareScene]:
    suffix = uuid.uuid4().hex[:8]
    s = ShareScene(f"queue-{suffix}", f"acked-{suffix}", f"pair-{suffix}", f"pair-queue-{suffix}", f"empty-{suffix}", suffix)
    create_topic(bootstrap, s.topic, len(PRODUCED))
    produce(bootstrap, s.topic, PRODUCED)
    create_topic(bootstrap, s.pair_topic, 1)
    produce(bootstrap, s.pair_topic, {0: 6})
    create_topic(bootstrap, s.empty_topic, 2)
    for group in (s.acked, s.pair):
        set_group_config(kafka_distribution, bootstrap, group, share_auto_offset_reset="earliest")

    explicit = ShareConsumer(
        {"bootstrap.servers": bootstrap, "group.id": s.acked, "client.id": "explicit-acker",
         "share.acknowledgement.mode": "explicit"}
    )  # fmt: skip
    try:
        explicit.subscribe([s.topic])
        batch = _poll_until(explicit, 60)
        accepted = [m for m in batch if m.offset() < ACCEPTED_BELOW]
        assert accepted and len(accepted) < len(batch), "the first batch should hold records on both sides of the cut"
        for message in accepted:
            explicit.acknowledge(message)
        failures = [error for error in explicit.commit_sync(30).values() if error is not None]
        assert not failures, failures
    finally:
        explicit.close()  # the unacknowledged rest is released back to the group

    with ExitStack() as stack:
        pair = [
            ShareConsumer({"bootstrap.servers": bootstrap, "group.id": s.pair, "client.id": f"pair-member-{i}"})
            for i in range(2)
        ]
        for member in pair:
            stack.callback(member.close)
            member.subscribe([s.pair_topic])
        received = 0
        deadline = time.monotonic() + 60
        while received < 6 or len(wait_for_members_quiet(kafka_distribution, bootstrap, s.pair)) < 2:
            assert time.monotonic() < deadline, f"the pair received {received} of 6 records"
            for member in pair:
                received += sum(1 for m in member.poll(0.5) if m.error() is None)
        for member in pair:
            member.commit_sync(30)  # implicit mode: accepts what the last poll returned
        yield s


def wait_for_members_quiet(dist: KafkaDistribution, bootstrap: str, group: str) -> list[dict[str, str]]:
    return table_rows(share_groups(dist, bootstrap, "--describe", "--group", group, "--members"), "GROUP", group)


# -- the two views, in Kafka's columns ----------------------------------------------------------
def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _assignment(tps: list[dict[str, Any]]) -> str:
    """Kafka's ASSIGNMENT column: ``topic:0,1`` per topic (``;`` between topics), ``-`` when empty."""
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp["topic"], []).append(tp["partition"])
    return ";".join(f"{t}:{','.join(str(p) for p in sorted(ps))}" for t, ps in sorted(by_topic.items())) or "-"


def _sorted(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def kafka_view(dist: KafkaDistribution, bootstrap: str, group: str) -> dict[str, list[dict[str, str]]]:
    """What ``kafka-share-groups --describe`` prints for ``group``: offsets (plain and verbose), members, state."""
    view = {}
    for name, flags in (
        ("describe", ()),
        ("offsets", ("--offsets", "--verbose")),
        ("members", ("--members", "--verbose")),
        ("state", ("--state", "--verbose")),
    ):
        rows = table_rows(share_groups(dist, bootstrap, "--describe", "--group", group, *flags), "GROUP", group)
        for row in rows:
            if "HOST" in row:
                row["HOST"] = row["HOST"].lstrip("/")  # Kafka prints the client address as Java's InetAddress does
        view[name] = _sorted(rows)
    return view


def our_view(data: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """``snapshot --json`` of a share group, put in the columns Kafka's tool prints (``null`` as ``-``)."""
    group = data["group"]
    coordinator = data["coordinator"]
    offsets = [
        {"GROUP": group, "TOPIC": r["topic"], "PARTITION": str(r["partition"]), "LEADER-EPOCH": _dash(r["leader_epoch"]),
         "START-OFFSET": _dash(r["start_offset"]), "LAG": _dash(r["lag"])}
        for r in data["partitions"]
    ]  # fmt: skip
    return {
        "describe": _sorted([{k: v for k, v in row.items() if k != "LEADER-EPOCH"} for row in offsets]),
        "offsets": _sorted(offsets),
        "members": _sorted([
            {"GROUP": group, "CONSUMER-ID": m["member_id"], "HOST": m["host"], "CLIENT-ID": m["client_id"],
             "#PARTITIONS": str(len(m["assignment"])), "MEMBER-EPOCH": str(m["member_epoch"]),
             "ASSIGNMENT": _assignment(m["assignment"])}
            for m in data["members"]
        ]),  # fmt: skip
        "state": [{
            "GROUP": group,
            "COORDINATOR": f"{coordinator['host']}:{coordinator['port']} ({coordinator['id']})" if coordinator else "-",
            "STATE": data["state"], "GROUP-EPOCH": str(data["group_epoch"]),
            "ASSIGNMENT-EPOCH": str(data["assignment_epoch"]), "#MEMBERS": str(len(data["members"])),
        }],  # fmt: skip
    }


def snapshot_json(bootstrap: str, group: str) -> dict[str, Any]:
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def settle(dist: KafkaDistribution, bootstrap: str, group: str, timeout: float = 60) -> None:
    """Wait until Kafka's own offsets and state for ``group`` read the same twice in a row."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        current = [share_groups(dist, bootstrap, "--describe", "--group", group, *f) for f in (("--offsets",), ("--state",))]
        if current == previous:
            return
        previous = current
        time.sleep(1.5)
    raise AssertionError(f"share group {group} did not settle in {timeout}s: {previous}")


def assert_snapshot_equals_kafka(dist: KafkaDistribution, bootstrap: str, group: str, attempts: int = 5) -> dict[str, Any]:
    """``snapshot --json`` equals ``kafka-share-groups --describe`` (read just before it); the returned JSON is ours."""
    settle(dist, bootstrap, group)
    theirs: dict[str, Any] = {}
    ours: dict[str, Any] = {}
    for _ in range(attempts):
        theirs = kafka_view(dist, bootstrap, group)
        data = snapshot_json(bootstrap, group)
        ours = our_view(data)
        if ours == theirs:
            return data
        time.sleep(1)
    assert ours == theirs


# -- the tests ------------------------------------------------------------------------------------
def test_a_partly_acknowledged_group_equals_kafka(scene: ShareScene, bootstrap: str, kafka_distribution) -> None:
    data = assert_snapshot_equals_kafka(kafka_distribution, bootstrap, scene.acked)
    assert data["type"] == "share" and data["state"] == "Empty" and data["members"] == []
    # The scene is what it claims: some partition starts past 0 with records still unacknowledged above it.
    assert any((r["start_offset"] or 0) > 0 and (r["lag"] or 0) > 0 for r in data["partitions"]), data["partitions"]
    assert data["total_lag"] == sum(r["lag"] for r in data["partitions"] if r["lag"] is not None)
    ends = {r["partition"]: r["log_end_offset"] for r in data["partitions"]}
    assert ends == {p: n for p, n in PRODUCED.items() if p in ends}


def test_two_members_sharing_one_partition_equal_kafka(scene: ShareScene, bootstrap: str, kafka_distribution) -> None:
    data = assert_snapshot_equals_kafka(kafka_distribution, bootstrap, scene.pair)
    assert data["state"] == "Stable" and len(data["members"]) == 2
    (row,) = data["partitions"]
    assert sorted(row["owners"]) == sorted(m["member_id"] for m in data["members"])  # several owners of one partition
    assert row["log_end_offset"] == 6 and row["start_offset"] is not None and row["lag"] is not None


def test_a_console_share_consumer_equals_kafka_running_and_after_it_stopped(
    scene: ShareScene, bootstrap: str, kafka_distribution
) -> None:
    group = f"console-{scene.suffix}"
    set_group_config(kafka_distribution, bootstrap, group, share_auto_offset_reset="earliest")
    with console_share_consumer(kafka_distribution, bootstrap, scene.topic, group, client_id="console-reader"):
        wait_for_members(kafka_distribution, bootstrap, group, 1)
        running = assert_snapshot_equals_kafka(kafka_distribution, bootstrap, group)
        assert running["state"] == "Stable" and [m["client_id"] for m in running["members"]] == ["console-reader"]
    deadline = time.monotonic() + 60
    while "Empty" not in share_groups(kafka_distribution, bootstrap, "--describe", "--group", group, "--state"):
        assert time.monotonic() < deadline, "the group did not become Empty after its consumer stopped"
        time.sleep(1)
    stopped = assert_snapshot_equals_kafka(kafka_distribution, bootstrap, group)
    assert stopped["state"] == "Empty" and stopped["members"] == []
    assert all(r["start_offset"] is not None for r in stopped["partitions"]), stopped["partitions"]


def test_a_group_that_has_not_fetched_yet_is_null_where_kafka_prints_a_dash(
    scene: ShareScene, bootstrap: str, kafka_distribution
) -> None:
    group = f"unfetched-{scene.suffix}"
    with console_share_consumer(kafka_distribution, bootstrap, scene.empty_topic, group, client_id="idle-reader"):
        wait_for_members(kafka_distribution, bootstrap, group, 1)
        data = assert_snapshot_equals_kafka(kafka_distribution, bootstrap, group)
        text = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group)
    assert len(data["partitions"]) == 2
    for row in data["partitions"]:
        assert (row["start_offset"], row["leader_epoch"], row["lag"]) == (None, None, None)
        assert row["log_end_offset"] == 0
    assert data["total_lag"] == 0
    # The text table prints the nulls as Kafka's tool does: "-".
    assert text.returncode == 0, text.stderr
    rows = [line.split() for line in text.stdout.splitlines() if line.startswith(scene.empty_topic)]
    assert [row[:5] for row in sorted(rows)] == [[scene.empty_topic, str(p), "-", "-", "0"] for p in (0, 1)]


def test_the_text_snapshot_of_a_share_group(scene: ShareScene, bootstrap: str, kafka_distribution) -> None:
    data = snapshot_json(bootstrap, scene.pair)
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", scene.pair)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Share group {scene.pair}: Stable") and "2 member(s)" in lines[0]
    assert f"total share lag {data['total_lag']}" in lines[0]
    header = next(line for line in lines if line.startswith("TOPIC"))
    assert header.split() == ["TOPIC", "PARTITION", "START-OFFSET", "SHARE-LAG", "LOG-END", "OWNERS"]
    (row,) = [line.split() for line in lines if line.startswith(scene.pair_topic)]
    (partition,) = data["partitions"]
    assert row[:5] == [scene.pair_topic, "0", str(partition["start_offset"]), str(partition["lag"]), str(partition["log_end_offset"])]
    for member in data["members"]:  # each owner shown by client id and member id
        assert f"{member['client_id']}({member['member_id']})" in row[5]
        assert any(line.split()[:2] == [member["member_id"], member["client_id"]] for line in lines)


def test_groups_json_gives_each_group_its_type_and_lists_the_share_groups_kafka_lists(
    scene: ShareScene, bootstrap: str, kafka_distribution
) -> None:
    classic, consumer = f"classic-{scene.suffix}", f"consumer-{scene.suffix}"
    members = []
    try:
        for group, protocol in ((classic, "classic"), (consumer, "consumer")):
            member = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                               "auto.offset.reset": "earliest"})  # fmt: skip
            members.append(member)
            member.subscribe([scene.topic])
        deadline = time.monotonic() + 60
        while not all(member.assignment() for member in members):
            assert time.monotonic() < deadline, "the classic and consumer members got no assignment"
            for member in members:
                member.poll(0.2)
        for _ in range(5):
            result = run_cli("groups", "--bootstrap", bootstrap, "--json")
            assert result.returncode == 0, result.stderr
            listed = {g["group"]: g["type"] for g in json.loads(result.stdout)}
            kafka_share = set(share_groups(kafka_distribution, bootstrap, "--list").split())
            ours_share = {group for group, kind in listed.items() if kind == "share"}
            if ours_share == kafka_share:
                break
            time.sleep(1)
    finally:
        for member in members:
            member.close()
    assert listed[classic] == "classic" and listed[consumer] == "consumer"
    assert listed[scene.acked] == "share" and listed[scene.pair] == "share"
    assert ours_share == kafka_share
