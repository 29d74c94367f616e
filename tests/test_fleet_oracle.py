"""Oracle: each group's total lag in ``deliverytui groups --json`` equals what Kafka's own
``kafka-consumer-groups --describe --all-groups`` adds up for it; and one fleet refresh costs a
bounded number of Admin requests whatever the partition count.

The request count wraps the REAL AdminClient's methods (and the C ListOffsets call the collector
uses) with counters: Kafka itself answers every request.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter, defaultdict

import pytest

import deliverytui.kafka.log_offsets as log_offsets
from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.kafka.fleet_collector import DESCRIBE_CHUNK, LIST_OFFSETS_CHUNK, FleetCollector
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, live_member, produce

pytestmark = pytest.mark.kafka


def kafka_lag_by_group(dist: KafkaDistribution, bootstrap: str) -> dict[str, int]:
    """Per group, the sum of the LAG column of ``kafka-consumer-groups --describe --all-groups`` (``-`` adds nothing)."""
    result = subprocess.run(
        dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--describe", "--all-groups",
            jvm_args=("-Dlog4j2.level=ERROR",),
        ),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    totals: dict[str, int] = defaultdict(int)
    header: list[str] | None = None
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["GROUP", "TOPIC"]:
            header = fields
            continue
        if header and len(fields) == len(header):
            row = dict(zip(header, fields))
            totals[row["GROUP"]] += 0 if row["LAG"] == "-" else int(row["LAG"])
    assert header is not None, result.stdout
    return dict(totals)


def test_total_lag_per_group_equals_kafka_consumer_groups(kafka_distribution: KafkaDistribution, bootstrap: str, unique: str) -> None:
    a, b = f"fleet-oracle-a-{unique}", f"fleet-oracle-b-{unique}"
    create_topic(bootstrap, a, 4)
    create_topic(bootstrap, b, 2)
    produce(bootstrap, a, {0: 12, 1: 3, 2: 0, 3: 9})
    produce(bootstrap, b, {0: 5, 1: 8})
    groups = {
        f"fleet-oracle-partial-{unique}": {(a, 0): 5, (a, 1): 3},  # partial commits: 7 behind, two partitions never committed
        f"fleet-oracle-caught-up-{unique}": {(a, 0): 12, (a, 1): 3, (a, 2): 0, (a, 3): 9},
        f"fleet-oracle-two-topics-{unique}": {(a, 3): 1, (b, 0): 0, (b, 1): 8},
    }
    for group, offsets in groups.items():
        commit(bootstrap, group, offsets)
    live_group = f"fleet-oracle-kip848-{unique}"
    commit(bootstrap, live_group, {(b, 0): 2, (b, 1): 2})
    consumer = live_member(bootstrap, live_group, [b], client_id="fleet-oracle", protocol="consumer")
    try:
        ours = run_cli("groups", "--bootstrap", bootstrap, "--json")
        assert ours.returncode == 0, ours.stderr
        listed = {g["group"]: g for g in json.loads(ours.stdout)}
        theirs = kafka_lag_by_group(kafka_distribution, bootstrap)
        only_consumer = run_cli("groups", "--bootstrap", bootstrap, "--json", "--type", "consumer")
        assert only_consumer.returncode == 0, only_consumer.stderr
        typed = {g["group"]: g for g in json.loads(only_consumer.stdout)}
    finally:
        consumer.close()
    mine = [*groups, live_group]
    assert {g: listed[g]["total_lag"] for g in mine} == {g: theirs[g] for g in mine}
    assert [listed[g]["total_lag"] for g in mine] == [7, 0, 8 + 5, 3 + 6]  # and the figures are the ones meant
    assert listed[live_group]["type"] == "consumer" and listed[live_group]["members"] == 1
    assert {g["type"] for g in typed.values()} == {"consumer"}  # --type: only KIP-848 groups
    assert typed[live_group]["total_lag"] == listed[live_group]["total_lag"] and not set(groups) & set(typed)
    assert listed[live_group]["state"] == "Stable" and listed[live_group]["topics"] == [b]
    assert listed[mine[0]]["type"] == "classic" and listed[mine[0]]["members"] == 0 and listed[mine[0]]["state"] == "Empty"
    table = run_cli("groups", "--bootstrap", bootstrap)
    line = next(line for line in table.stdout.splitlines() if line.startswith(mine[2]))
    assert line.split()[1:] == ["Empty", "classic", "0", "13"]
    assert table.stdout.splitlines()[0].split() == ["GROUP", "STATE", "TYPE", "MEMBERS", "LAG"]


class CountingC:
    """The C ListOffsets call, counted and passed on unchanged."""

    calls = 0

    @classmethod
    def list_offsets(cls, *args, **kwargs):
        cls.calls += 1
        return ORIGINAL_C.list_offsets(*args, **kwargs)


ORIGINAL_C = log_offsets._AdminClientImpl


def counted_refresh(collector: FleetCollector, monkeypatch: pytest.MonkeyPatch) -> tuple[Counter, int, int]:
    calls: Counter = Counter()
    admin = collector.admin
    for name in ("list_consumer_groups", "describe_consumer_groups", "list_consumer_group_offsets", "list_offsets"):
        original = getattr(type(admin), name)
        monkeypatch.setattr(admin, name, lambda *a, _o=original, _n=name, **k: (calls.update([_n]), _o(admin, *a, **k))[1], raising=False)
    CountingC.calls = 0
    monkeypatch.setattr(log_offsets, "_AdminClientImpl", CountingC)
    reading = collector.read()
    calls["list_offsets"] += CountingC.calls
    partitions = len({key for g in reading.groups for key in g.partition_lags})
    return calls, len(reading.groups), partitions


def test_one_refresh_costs_requests_independent_of_partition_count(bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    small, wide = f"fleet-cost-small-{unique}", f"fleet-cost-wide-{unique}"
    create_topic(bootstrap, small, 2)
    create_topic(bootstrap, wide, 300)
    produce(bootstrap, small, {0: 3, 1: 3})
    commit(bootstrap, f"fleet-cost-a-{unique}", {(small, 0): 1, (small, 1): 1})
    collector = FleetCollector(bootstrap, None, request_timeout=30)
    before, groups_before, partitions_before = counted_refresh(collector, monkeypatch)
    commit(bootstrap, f"fleet-cost-b-{unique}", {(wide, p): 0 for p in range(300)})
    after, groups_after, partitions_after = counted_refresh(collector, monkeypatch)
    assert partitions_after >= partitions_before + 300
    for calls, groups, partitions in ((before, groups_before, partitions_before), (after, groups_after, partitions_after)):
        assert calls["list_consumer_groups"] == 1
        assert calls["describe_consumer_groups"] == math.ceil(groups / DESCRIBE_CHUNK)
        assert calls["list_consumer_group_offsets"] == groups  # librdkafka: one group per request, all in flight together
        assert calls["list_offsets"] == math.ceil(partitions / LIST_OFFSETS_CHUNK)  # never one per partition
    assert after["list_offsets"] <= before["list_offsets"] + 1  # 300 more partitions: at most one more chunk
