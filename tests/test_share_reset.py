"""``deliverytui reset`` and ``delete-offsets`` on a share group, checked against Kafka's own kafka-share-groups.

One topic (3 partitions) on the session broker: a first batch that share groups consumed (confluent-kafka's
ShareConsumer, every record accepted), records below offset 2 of partition 2 deleted (so clamping to the
log start shows), then a second batch nobody consumed. Each group's start offsets then lie between log
start and log end, so every mode moves them somewhere different. Each dry-run plan is compared with
``kafka-share-groups --reset-offsets --dry-run`` on the same group; writes are checked with its ``--describe``.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer, ShareConsumer, TopicPartition
from confluent_kafka.admin import AdminClient

from deliverytui.broker.admin_helper import admin_helper_command
from deliverytui.kafka.java_admin import JavaAdmin
from deliverytui.kafka.offset_write_guards import ActiveGroupError
from tests.helpers import run_cli, wait_for
from tests.kafka_helpers import create_topic
from tests.share_helpers import (
    SHARE_GROUP_COMMAND,
    kafka_reset_plan,
    kafka_tool,
    share_consume,
    share_groups,
    share_start_offsets,
)

PARTITIONS = 3
FIRST_BATCH = 10
SECOND_BATCH = 5
DELETED_BELOW = 2  # records of partition 2 deleted below this offset: its log start


@dataclass(frozen=True)
class ShareLab:
    topic: str
    cut: str  # an ISO time between the two batches (Kafka's --to-datetime format, UTC)
    groups: dict[str, str]


def _produce(bootstrap: str, topic: str, first: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for partition in range(PARTITIONS):
        for n in range(first, first + count):
            producer.produce(topic, value=f"{partition}:{n}".encode(), partition=partition)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def lab(kafka_distribution, bootstrap: str) -> ShareLab:
    topic = f"share-reset-{int(time.time() * 1000)}"
    groups = {name: f"{topic}-{name}" for name in ("plan", "exec", "ours", "theirs", "live")}
    create_topic(bootstrap, topic, PARTITIONS)
    _produce(bootstrap, topic, 0, FIRST_BATCH)
    with JavaAdmin(admin_helper_command(), bootstrap) as java:
        for group in groups.values():  # a share group starts at the log end unless told otherwise
            java.call("alter_group_config", "setting share.auto.offset.reset", group=group,
                      configs={"share.auto.offset.reset": "earliest"})
    consumed = [name for name in groups if name != "live"]
    results: dict[str, list] = {}
    threads = [
        threading.Thread(target=lambda n=name: results.__setitem__(n, share_consume(bootstrap, topic, groups[n], PARTITIONS * FIRST_BATCH, settle=0.5)))
        for name in consumed
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(len(results.get(name, [])) == PARTITIONS * FIRST_BATCH for name in consumed), {n: len(r) for n, r in results.items()}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, PARTITIONS - 1, DELETED_BELOW)]).values():
        future.result(30)
    time.sleep(0.05)
    cut = datetime.now(UTC)
    time.sleep(0.05)
    _produce(bootstrap, topic, FIRST_BATCH, SECOND_BATCH)
    return ShareLab(topic, cut.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cut.microsecond // 1000:03d}Z", groups)


def _our_plan(bootstrap: str, group: str, *args: str) -> dict:
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


MODES = [
    ["--to-earliest", "--all-topics"],
    ["--to-latest", "--topic", "{topic}"],
    ["--to-current", "--all-topics"],
    ["--to-offset", "12", "--topic", "{topic}:0,1"],
    ["--to-offset", "0", "--all-topics"],  # below partition 2's log start: clamped up
    ["--to-offset", "99", "--all-topics"],  # above every log end: clamped down
    ["--to-datetime", "{cut}", "--all-topics"],
    ["--from-file", "{csv}"],
]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m).replace("{", "").replace("}", ""))
def test_dry_run_plan_equals_kafkas(lab: ShareLab, kafka_distribution, bootstrap: str, tmp_path: Path, mode: list[str]) -> None:
    offsets = tmp_path / "offsets.csv"
    offsets.write_text(f"{lab.topic},0,3\n{lab.topic},2,0\n{lab.topic},1,99\n", encoding="utf-8")
    args = [a.format(topic=lab.topic, cut=lab.cut, csv=offsets) for a in mode]
    group = lab.groups["plan"]
    before = share_start_offsets(kafka_distribution, bootstrap, group)

    ours = _our_plan(bootstrap, group, *args)
    theirs = kafka_reset_plan(kafka_distribution, bootstrap, group, *args)

    assert {(p["topic"], p["partition"]): p["new_offset"] for p in ours["partitions"]} == theirs
    assert ours["executed"] is False and ours["group_state"] == "Empty" and ours["active_members"] == 0 and ours["type"] == "share"
    assert {(p["topic"], p["partition"]): str(p["current_offset"]) for p in ours["partitions"]} == {k: before[k] for k in theirs}
    assert share_start_offsets(kafka_distribution, bootstrap, group) == before  # a dry run writes nothing


def test_the_modes_give_different_offsets(lab: ShareLab, bootstrap: str) -> None:
    """The oracle above means something only if the modes disagree: the cut between the batches is the
    first batch's end, and earliest, latest and the group's start offsets are not all the same."""
    plans = {m: _our_plan(bootstrap, lab.groups["plan"], *m, "--all-topics") for m in (("--to-earliest",), ("--to-latest",), ("--to-current",), ("--to-datetime", lab.cut))}
    new = {m[0]: tuple(p["new_offset"] for p in plan["partitions"]) for m, plan in plans.items()}
    assert new["--to-datetime"] == (FIRST_BATCH,) * PARTITIONS
    assert new["--to-latest"] == (FIRST_BATCH + SECOND_BATCH,) * PARTITIONS
    assert new["--to-earliest"][-1] == DELETED_BELOW
    assert len(set(new.values())) >= 3, new


def test_export_equals_kafkas_export(lab: ShareLab, kafka_distribution, bootstrap: str, tmp_path: Path) -> None:
    group, exported = lab.groups["plan"], tmp_path / "plan.csv"
    args = ("--to-datetime", lab.cut, "--topic", lab.topic)
    ours = run_cli("reset", "--bootstrap", bootstrap, "--group", group, *args, "--export", str(exported))
    theirs = share_groups(kafka_distribution, bootstrap, "--reset-offsets", "--group", group, *args, "--dry-run", "--export")

    assert ours.returncode == 0, ours.stderr
    # Kafka quotes the topic ("t",0,10), deliverytui does not: the same CSV rows either way.
    assert sorted(csv.reader(exported.read_text(encoding="utf-8").split())) == sorted(csv.reader(theirs.split())), theirs
    # and Kafka's quoted export reads back with --from-file as the same plan
    kafkas = tmp_path / "kafka.csv"
    kafkas.write_text(theirs, encoding="utf-8")
    replanned = _our_plan(bootstrap, group, "--from-file", str(kafkas))
    assert sorted([p["topic"], str(p["partition"]), str(p["new_offset"])] for p in replanned["partitions"]) == sorted(csv.reader(theirs.split()))


def test_text_plan_shows_the_start_offsets_kafka_describes(lab: ShareLab, kafka_distribution, bootstrap: str) -> None:
    group = lab.groups["plan"]
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--to-earliest", "--all-topics")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Group {group} (Empty, 0 active member(s)): reset --to-earliest on {PARTITIONS} partition(s)"
    rows = {(f[0], int(f[1])): f[2] for f in (line.split() for line in lines) if f and f[0] == lab.topic}
    assert rows == share_start_offsets(kafka_distribution, bootstrap, group)
    assert lines[-1] == "dry run: nothing was changed (add --execute to apply)"


def test_execute_moves_start_offsets_and_a_rejoining_consumer_reads_from_there(lab: ShareLab, kafka_distribution, bootstrap: str) -> None:
    group = lab.groups["exec"]
    planned = kafka_reset_plan(kafka_distribution, bootstrap, group, "--to-offset", "12", "--all-topics")

    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--to-offset", "12", "--all-topics", "--execute")

    assert result.returncode == 0, result.stderr
    assert f"executed: set the start offsets of share group {group}" in result.stdout
    assert share_start_offsets(kafka_distribution, bootstrap, group) == {tp: str(offset) for tp, offset in planned.items()}
    ends = {p: FIRST_BATCH + SECOND_BATCH for p in range(PARTITIONS)}
    expected = {(p, offset) for (_, p), start in planned.items() for offset in range(start, ends[p])}
    read = share_consume(bootstrap, lab.topic, group, len(expected))
    assert sorted(read) == sorted(expected)


def test_delete_offsets_leaves_what_kafkas_delete_leaves(lab: ShareLab, kafka_distribution, bootstrap: str) -> None:
    ours, theirs = lab.groups["ours"], lab.groups["theirs"]
    before = share_start_offsets(kafka_distribution, bootstrap, ours)
    assert before and before == share_start_offsets(kafka_distribution, bootstrap, theirs)

    dry = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", ours, "--topic", lab.topic, "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["type"] == "share" and plan["executed"] is False
    assert {(p["topic"], p["partition"]): str(p["committed_offset"]) for p in plan["partitions"]} == before
    assert share_start_offsets(kafka_distribution, bootstrap, ours) == before

    done = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", ours, "--topic", lab.topic, "--execute")
    assert done.returncode == 0, done.stderr
    share_groups(kafka_distribution, bootstrap, "--delete-offsets", "--group", theirs, "--topic", lab.topic)

    after_ours = share_groups(kafka_distribution, bootstrap, "--describe", "--group", ours)
    after_theirs = share_groups(kafka_distribution, bootstrap, "--describe", "--group", theirs)
    assert share_start_offsets(kafka_distribution, bootstrap, ours) != before
    assert after_ours.replace(ours, "G").split() == after_theirs.replace(theirs, "G").split()


def test_active_share_group_is_refused_and_left_unchanged(lab: ShareLab, kafka_distribution, bootstrap: str) -> None:
    group = lab.groups["live"]
    stop = threading.Event()
    read: list[int] = []

    def consume() -> None:
        consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
        try:
            consumer.subscribe([lab.topic])
            while not stop.is_set():
                read.extend(1 for m in consumer.poll(0.5) if m.error() is None)
        finally:
            consumer.close()

    thread = threading.Thread(target=consume)
    thread.start()
    try:
        total = PARTITIONS * (FIRST_BATCH + SECOND_BATCH) - DELETED_BELOW
        wait_for(lambda: len(read) >= total, 60, "the live member to read the topic", every=0.5)
        seen: list[dict] = []  # its last acknowledgements land: wait until two describes agree

        def settled() -> bool:
            seen.append(share_start_offsets(kafka_distribution, bootstrap, group))
            return len(seen) > 1 and seen[-1] == seen[-2]

        wait_for(settled, 60, "the live group's start offsets to settle", every=1)
        before = seen[-1]

        dry = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--to-earliest", "--all-topics")
        kafkas_dry = kafka_tool(kafka_distribution, SHARE_GROUP_COMMAND, "--bootstrap-server", bootstrap, "--reset-offsets",
                                "--group", group, "--to-earliest", "--all-topics", "--dry-run")
        reset = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--to-earliest", "--all-topics", "--execute")
        delete = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", lab.topic, "--execute")

        assert dry.returncode == 0 and "warning: cannot reset offsets of group" in dry.stdout, dry.stdout + dry.stderr
        # Kafka's tool refuses even the dry run (the README says deliverytui shows the plan instead).
        assert kafkas_dry.returncode != 0 and "is not empty" in kafkas_dry.stdout + kafkas_dry.stderr
        for result in (reset, delete):
            assert result.returncode == 10, result.stdout + result.stderr
            assert len(result.stderr.strip().splitlines()) == 1 and "stop its consumers first" in result.stderr
        # The broker's own refusal (a member joining between deliverytui's check and its write) is exit 10 too.
        with JavaAdmin(admin_helper_command(), bootstrap) as java:
            with pytest.raises(ActiveGroupError, match="is not empty"):
                java.call("alter_share_group_offsets", "resetting", group=group, offsets=[{"topic": lab.topic, "partition": 0, "offset": 0}])
            with pytest.raises(ActiveGroupError, match="is not empty"):
                java.call("delete_share_group_offsets", "deleting", group=group, topics=[lab.topic])
        assert share_start_offsets(kafka_distribution, bootstrap, group) == before
    finally:
        stop.set()
        thread.join(60)


@pytest.mark.parametrize(
    "args",
    [
        ["reset", "--shift-by", "-1", "--all-topics"],
        ["reset", "--by-duration", "PT1H", "--all-topics"],
        ["delete-offsets", "--topic", "{topic}:0"],
    ],
    ids=["shift-by", "by-duration", "delete-a-partition"],
)
def test_what_kafkas_share_tool_cannot_do_is_a_usage_error(lab: ShareLab, bootstrap: str, args: list[str]) -> None:
    command, *rest = args
    result = run_cli(command, "--bootstrap", bootstrap, "--group", lab.groups["plan"], *(a.format(topic=lab.topic) for a in rest))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    expected = "--to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --from-file" if command == "reset" else "without partitions"
    assert expected in lines[0]


def test_without_java_a_new_group_is_still_reset_as_a_consumer_group(lab: ShareLab, bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The share-group check needs the Java helper; where Java is missing, a reset of a group no consumer group
    has yet (which creates it) must go on as before, with a warning instead of a failure."""
    group = f"new-{unique}"
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--to-earliest", "--topic", lab.topic,
                     env={"JAVA_HOME": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Group {group} (Dead, 0 active member(s)): reset --to-earliest on {PARTITIONS} partition(s)")
    assert f"warning: cannot check whether '{group}' is a share group" in result.stderr
