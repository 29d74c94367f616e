"""Offset reset and delete-offsets against a real broker, checked against Kafka's own kafka-consumer-groups.

Every plan is a dry run (nothing written) unless the test executes it; the oracle tests run
``ConsumerGroupCommand --reset-offsets ... --dry-run`` from the same jars as the broker and
compare the NEW-OFFSET column with our ``new_offset`` per partition.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.errors import ExitCode
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.offset_reset import OffsetResetter
from deliverytui.kafka.offset_write_guards import ActiveGroupError, WritesDisabledError
from deliverytui.kafka.reset_arguments import (
    datetime_target,
    duration_target,
    parse_topic_args,
    read_reset_csv,
)
from deliverytui.model.reset import PartitionSelection, ResetTarget
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, live_member, produce, seed_topics

pytestmark = pytest.mark.kafka

#: Record timestamps start a day ago: recent enough that the broker's retention (7 days) never deletes
#: them mid-test, old enough to be unambiguous. Whole minutes, so ISO strings below are exact.
BASE_TIME = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)


def iso(moment: datetime, *, zone: str = "") -> str:
    """Kafka's --to-datetime spelling, YYYY-MM-DDThh:mm:ss.sss (UTC when no zone is given)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + zone


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def produce_at(bootstrap: str, topic: str, partition: int, times: list[datetime]) -> None:
    """One record per time, with that CreateTime (so time-based resets have exact answers)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i, moment in enumerate(times):
        producer.produce(topic, value=f"r{i}".encode(), partition=partition, timestamp=epoch_ms(moment))
    assert producer.flush(30) == 0


def delete_records_before(bootstrap: str, topic: str, partition: int, offset: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.delete_records([TopicPartition(topic, partition, offset)], request_timeout=30)
    for future in futures.values():
        future.result(timeout=30)


def new_offsets(plan) -> dict[tuple[str, int], int]:
    return {(p.topic, p.partition): p.new_offset for p in plan.partitions}


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int | None]:
    return {(r.topic, r.partition): r.committed_offset for r in GroupInspector(bootstrap).snapshot(group).partitions}


@pytest.fixture
def group_with_commits(bootstrap: str, unique: str) -> tuple[str, str]:
    """Topic with 10/5/0 records in partitions 0/1/2; the group committed 4 on p0 and 2 on p1, nothing on p2."""
    topic, group = f"reset-{unique}", f"reset-group-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 10, 1: 5})
    commit(bootstrap, group, {(topic, 0): 4, (topic, 1): 2})
    return topic, group


# -- plans per mode ---------------------------------------------------------------------------
def test_each_mode_plans_the_offsets_kafka_would(bootstrap: str, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    resetter = OffsetResetter(bootstrap)
    whole_topic = parse_topic_args([topic])

    earliest = resetter.plan_reset(group, whole_topic, ResetTarget.to_earliest())
    assert new_offsets(earliest) == {(topic, 0): 0, (topic, 1): 0, (topic, 2): 0}
    rows = {p.partition: p for p in earliest.partitions}
    assert (rows[0].current_offset, rows[0].redelivered, rows[0].skipped) == (4, 4, 0)
    assert (rows[2].current_offset, rows[2].redelivered, rows[2].skipped) == (None, None, None)
    assert earliest.total_redelivered == 6 and earliest.total_skipped == 0
    assert (earliest.group_state, earliest.active_members, earliest.blocked_reason) == ("Empty", 0, None)

    latest = resetter.plan_reset(group, whole_topic, ResetTarget.to_latest())
    assert new_offsets(latest) == {(topic, 0): 10, (topic, 1): 5, (topic, 2): 0}
    assert latest.total_skipped == 6 + 3 and latest.total_redelivered == 0

    # No commit on p2: Kafka's --to-current uses the log end there.
    current = resetter.plan_reset(group, whole_topic, ResetTarget.to_current())
    assert new_offsets(current) == {(topic, 0): 4, (topic, 1): 2, (topic, 2): 0}
    assert current.total_redelivered == 0 and current.total_skipped == 0

    to_offset = resetter.plan_reset(group, whole_topic, ResetTarget.to_offset(3))
    assert new_offsets(to_offset) == {(topic, 0): 3, (topic, 1): 3, (topic, 2): 0}

    shifted = resetter.plan_reset(group, parse_topic_args([f"{topic}:0,1"]), ResetTarget.shift_by(-3))
    assert new_offsets(shifted) == {(topic, 0): 1, (topic, 1): 0}  # 2-3 → clamped to the log start
    assert {p.partition: p.requested_offset for p in shifted.partitions} == {0: 1, 1: -1}

    all_topics = resetter.plan_reset(group, PartitionSelection(all_topics=True), ResetTarget.shift_by(1))
    assert new_offsets(all_topics) == {(topic, 0): 5, (topic, 1): 3}  # only committed partitions


def test_time_based_modes_pick_the_first_record_at_or_after_the_time(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-time-{unique}", f"reset-time-group-{unique}"
    create_topic(bootstrap, topic, 2)
    produce_at(bootstrap, topic, 0, [BASE_TIME + timedelta(minutes=i) for i in range(10)])
    now = datetime.now(UTC)
    produce_at(bootstrap, topic, 1, [now - timedelta(minutes=50)] * 3 + [now - timedelta(minutes=5)] * 2)
    commit(bootstrap, group, {(topic, 0): 9, (topic, 1): 5})
    resetter = OffsetResetter(bootstrap)
    selection = parse_topic_args([topic])

    plan = resetter.plan_reset(group, selection, datetime_target(iso(BASE_TIME + timedelta(minutes=4, seconds=30))))
    # p0: first record at or after BASE+4m30s is offset 5; p1's records are all later: offset 0.
    assert new_offsets(plan) == {(topic, 0): 5, (topic, 1): 0}
    assert {p.partition: p.redelivered for p in plan.partitions} == {0: 4, 1: 5}

    in_plus_two = (BASE_TIME + timedelta(minutes=4, seconds=30)).astimezone(timezone(timedelta(hours=2)))
    with_zone = resetter.plan_reset(group, selection, datetime_target(iso(in_plus_two, zone="+02:00")))
    assert new_offsets(with_zone) == new_offsets(plan)

    half_hour = resetter.plan_reset(group, selection, duration_target("PT30M", now=now))
    # p0's records are all a day old → the log end (Kafka's fallback), with a warning.
    assert new_offsets(half_hour) == {(topic, 0): 10, (topic, 1): 3}
    assert any(f"{topic}:0 has no record at or after" in w for w in half_hour.warnings)

    two_days = resetter.plan_reset(group, selection, duration_target("P2D", now=now))
    assert new_offsets(two_days) == {(topic, 0): 0, (topic, 1): 0}


def test_offsets_are_clamped_into_the_log_range(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-clamp-{unique}", f"reset-clamp-group-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 10, 1: 6})
    delete_records_before(bootstrap, topic, 0, 4)  # log start of p0 is now 4
    commit(bootstrap, group, {(topic, 0): 7, (topic, 1): 6})
    resetter = OffsetResetter(bootstrap)
    selection = parse_topic_args([topic])

    above = resetter.plan_reset(group, selection, ResetTarget.to_offset(50))
    assert new_offsets(above) == {(topic, 0): 10, (topic, 1): 6}
    assert all(p.clamped for p in above.partitions)

    below = resetter.plan_reset(group, selection, ResetTarget.to_offset(1))
    assert new_offsets(below) == {(topic, 0): 4, (topic, 1): 1}
    rows = {p.partition: p for p in below.partitions}
    assert rows[0].clamped and not rows[1].clamped
    assert (rows[0].log_start_offset, rows[0].redelivered) == (4, 3)
    assert any("below its log-start offset; using 4" in w for w in below.warnings)

    earliest = resetter.plan_reset(group, parse_topic_args([f"{topic}:0"]), ResetTarget.to_earliest())
    assert new_offsets(earliest) == {(topic, 0): 4}


# -- executing --------------------------------------------------------------------------------
def test_execute_commits_the_plan_and_snapshot_shows_it(bootstrap: str, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", f"{topic}:0,1", "--to-offset", "1", "--execute")
    assert result.returncode == 0, result.stderr
    assert "executed: committed the new offsets" in result.stdout
    assert committed_offsets(bootstrap, group) == {(topic, 0): 1, (topic, 1): 1}


def test_dry_run_is_the_default_and_writes_nothing(bootstrap: str, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-latest")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["TOPIC", "PARTITION", "CURRENT", "NEW", "REDELIVERED", "SKIPPED", "LOG-START", "LOG-END"]
    assert lines[3].split() == [topic, "0", "4", "10", "0", "6", "0", "10"]
    assert lines[5].split() == [topic, "2", "-", "0", "-", "-", "0", "0"]
    assert "total: 0 record(s) will be redelivered, 9 skipped" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert committed_offsets(bootstrap, group) == {(topic, 0): 4, (topic, 1): 2}


def test_reset_of_a_group_that_never_committed_creates_its_offsets(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-new-{unique}", f"reset-new-group-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 3, 1: 4})
    resetter = OffsetResetter(bootstrap)
    plan = resetter.plan_reset(group, parse_topic_args([topic]), ResetTarget.to_latest())
    assert plan.group_state == "Dead" and plan.blocked_reason is None
    resetter.execute_reset(plan, allow_writes=True)
    assert committed_offsets(bootstrap, group) == {(topic, 0): 3, (topic, 1): 4}


def test_library_refuses_to_write_without_allow_writes(bootstrap: str, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    resetter = OffsetResetter(bootstrap)
    plan = resetter.plan_reset(group, parse_topic_args([topic]), ResetTarget.to_earliest())
    with pytest.raises(WritesDisabledError, match=r"^writes are disabled: .*pass --allow-writes"):
        resetter.execute_reset(plan, allow_writes=False)
    delete_plan = resetter.plan_offset_delete(group, parse_topic_args([topic]))
    with pytest.raises(WritesDisabledError, match="pass --allow-writes"):
        resetter.execute_offset_delete(delete_plan, allow_writes=False)
    assert committed_offsets(bootstrap, group) == {(topic, 0): 4, (topic, 1): 2}


def test_group_with_a_live_member_is_warned_in_dry_run_and_refused_on_execute(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-live-{unique}", f"reset-live-group-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 5, 1: 5})
    consumer = live_member(bootstrap, group, [topic], client_id=f"live-{unique}")
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 2)], asynchronous=False)
        refusal = f"cannot reset offsets of group '{group}': it has 1 active member(s) (state Stable); stop its consumers first"

        dry = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-earliest")
        assert dry.returncode == 0, dry.stderr
        assert f"warning: {refusal}" in dry.stdout

        executed = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-earliest", "--execute")
        assert executed.returncode == ExitCode.GROUP_ACTIVE
        assert executed.stderr == f"deliverytui: error: {refusal}\n"

        deleted = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--execute")
        assert deleted.returncode == ExitCode.GROUP_ACTIVE
        assert deleted.stderr.startswith(f"deliverytui: error: cannot delete offsets of group '{group}': it has 1 active")
        assert deleted.stderr.count("\n") == 1
    finally:
        consumer.close()
    assert committed_offsets(bootstrap, group) == {(topic, 0): 3, (topic, 1): 2}


def test_member_joining_after_the_plan_is_caught_before_the_write(bootstrap: str, unique: str) -> None:
    topic, group = f"reset-late-{unique}", f"reset-late-group-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 8})
    commit(bootstrap, group, {(topic, 0): 6})
    resetter = OffsetResetter(bootstrap)
    plan = resetter.plan_reset(group, parse_topic_args([topic]), ResetTarget.to_earliest())
    assert plan.blocked_reason is None
    consumer = live_member(bootstrap, group, [topic], client_id=f"late-{unique}")
    try:
        with pytest.raises(ActiveGroupError, match="it has 1 active member"):
            resetter.execute_reset(plan, allow_writes=True)
    finally:
        consumer.close()
    assert committed_offsets(bootstrap, group) == {(topic, 0): 6}


# -- output formats ---------------------------------------------------------------------------
def test_json_output_shape(bootstrap: str, group_with_commits: tuple[str, str]) -> None:
    topic, group = group_with_commits
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", f"{topic}:0", "--shift-by", "-3", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["group"] == group and data["mode"] == "shift-by" and data["executed"] is False
    assert data["group_state"] == "Empty" and data["active_members"] == 0
    [row] = data["partitions"]
    assert {k: row[k] for k in ("topic", "partition", "current_offset", "new_offset", "redelivered", "skipped")} == {
        "topic": topic, "partition": 0, "current_offset": 4, "new_offset": 1, "redelivered": 3, "skipped": 0,
    }
    assert (data["total_redelivered"], data["total_skipped"]) == (3, 0)


def test_export_then_from_file_round_trip(bootstrap: str, group_with_commits: tuple[str, str], tmp_path: Path) -> None:
    topic, group = group_with_commits
    exported = tmp_path / "plan.csv"
    first = run_cli(
        "reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-offset", "3", "--export", str(exported)
    )
    assert first.returncode == 0, first.stderr
    assert exported.read_text() == f"{topic},0,3\n{topic},1,3\n{topic},2,0\n"  # Kafka's --export format

    again = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--from-file", str(exported), "--execute", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["mode"] == "from-file" and data["executed"] is True
    assert {(p["topic"], p["partition"]): p["new_offset"] for p in data["partitions"]} == {
        (topic, 0): 3, (topic, 1): 3, (topic, 2): 0,
    }
    assert committed_offsets(bootstrap, group) == {(topic, 0): 3, (topic, 1): 3, (topic, 2): 0}


def test_from_file_accepts_kafkas_multi_group_format_and_clamps(bootstrap: str, group_with_commits: tuple[str, str], tmp_path: Path) -> None:
    topic, group = group_with_commits
    plan_file = tmp_path / "groups.csv"
    plan_file.write_text(f"other-group,{topic},0,1\n{group},{topic},0,99\n{group},{topic},1,2\n")
    target = read_reset_csv(plan_file, group)
    plan = OffsetResetter(bootstrap).plan_reset(group, PartitionSelection(), target)
    assert new_offsets(plan) == {(topic, 0): 10, (topic, 1): 2}


# -- delete-offsets ---------------------------------------------------------------------------
def test_delete_offsets_removes_one_topic_only(bootstrap: str, unique: str) -> None:
    kept, dropped, group = f"keep-{unique}", f"drop-{unique}", f"delete-group-{unique}"
    seed_topics(bootstrap, {kept: {0: 3, 1: 3}, dropped: {0: 3, 1: 3}}, group, {(kept, 0): 1, (kept, 1): 2, (dropped, 0): 3, (dropped, 1): 1})

    dry = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", dropped)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was changed" in dry.stdout
    assert len(committed_offsets(bootstrap, group)) == 4

    result = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", dropped, "--execute", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["executed"] is True
    assert [(p["topic"], p["partition"], p["committed_offset"]) for p in data["partitions"]] == [(dropped, 0, 3), (dropped, 1, 1)]
    assert committed_offsets(bootstrap, group) == {(kept, 0): 1, (kept, 1): 2}


def test_delete_offsets_of_chosen_partitions_and_of_nothing(bootstrap: str, unique: str) -> None:
    topic, other, group = f"partly-{unique}", f"never-{unique}", f"partly-group-{unique}"
    create_topic(bootstrap, topic, 3)
    create_topic(bootstrap, other, 1)
    produce(bootstrap, topic, {0: 2, 1: 2, 2: 2})
    commit(bootstrap, group, {(topic, 0): 1, (topic, 1): 2, (topic, 2): 2})
    resetter = OffsetResetter(bootstrap)

    plan = resetter.plan_offset_delete(group, parse_topic_args([f"{topic}:1,2"]))
    assert [(tp.partition, offset) for tp, offset in plan.partitions] == [(1, 2), (2, 2)]
    resetter.execute_offset_delete(plan, allow_writes=True)
    assert committed_offsets(bootstrap, group) == {(topic, 0): 1}

    nothing = run_cli("delete-offsets", "--bootstrap", bootstrap, "--group", group, "--topic", other, "--execute")
    assert nothing.returncode == 1
    assert nothing.stderr == f"deliverytui: error: group '{group}' has no committed offsets for {other}; nothing to delete\n"


# -- user errors: one line, no traceback --------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--topic", "no-such-topic-{unique}", "--to-earliest"], "topic 'no-such-topic-{unique}' does not exist"),
        (["--topic", "{topic}:7", "--to-earliest"], "topic '{topic}' has no partition 7 (it has 3 partition(s): 0-2)"),
        (["--topic", "{topic}:x", "--to-earliest"], "invalid --topic '{topic}:x'"),
        (["--topic", "{topic}", "--to-datetime", "yesterday"], "invalid --to-datetime 'yesterday'"),
        (["--topic", "{topic}", "--by-duration", "2h"], "invalid --by-duration '2h'"),
        (["--topic", "{topic}", "--shift-by", "-1"], "cannot shift the offset of {topic}:2"),
        (["--from-file", "{bad_csv}"], "bad.csv:2: partition and offset must be whole numbers"),
        (["--topic", "{topic}", "--from-file", "{bad_csv}"], "--from-file takes its partitions from the file"),
        (["--to-earliest"], "name the partitions to reset"),
    ],
)
def test_user_errors_are_one_line(
    bootstrap: str, group_with_commits: tuple[str, str], unique: str, tmp_path: Path, extra: list[str], message: str
) -> None:
    topic, group = group_with_commits
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(f"{topic},0,1\n{topic},one,2\n")
    fill = {"topic": topic, "unique": unique, "bad_csv": str(bad_csv)}
    result = run_cli("reset", "--bootstrap", bootstrap, "--group", group, *[a.format(**fill) for a in extra])
    assert result.returncode != 0
    assert result.stderr.startswith("deliverytui: error: "), result.stderr
    assert message.format(**fill) in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert committed_offsets(bootstrap, group) == {(topic, 0): 4, (topic, 1): 2}


# -- oracle: Kafka's own tool -----------------------------------------------------------------
def kafka_reset_dry_run(dist: KafkaDistribution, bootstrap: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    result = subprocess.run(
        dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--reset-offsets", "--group", group, *args, "--dry-run",
            jvm_args=("-Dlog4j2.level=ERROR",),
        ),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows: dict[tuple[str, int], int] = {}
    header: list[str] | None = None
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["GROUP", "TOPIC"]:
            header = fields
        elif header and len(fields) == len(header) and fields[0] == group:
            row = dict(zip(header, fields))
            rows[(row["TOPIC"], int(row["PARTITION"]))] = int(row["NEW-OFFSET"])
    assert header is not None and rows, result.stdout + result.stderr
    return rows


def test_oracle_dry_run_matches_kafka_consumer_groups(kafka_distribution: KafkaDistribution, bootstrap: str, unique: str) -> None:
    topic, group = f"reset-oracle-{unique}", f"reset-oracle-group-{unique}"
    create_topic(bootstrap, topic, 3)
    produce_at(bootstrap, topic, 0, [BASE_TIME + timedelta(minutes=i) for i in range(12)])
    produce_at(bootstrap, topic, 1, [BASE_TIME + timedelta(minutes=2 * i) for i in range(6)])
    produce_at(bootstrap, topic, 2, [BASE_TIME + timedelta(hours=1 + i) for i in range(4)])
    delete_records_before(bootstrap, topic, 0, 3)  # a log start above 0, so clamping shows
    commit(bootstrap, group, {(topic, 0): 9, (topic, 1): 4, (topic, 2): 1})
    resetter = OffsetResetter(bootstrap)
    selection = parse_topic_args([topic])
    halfway = BASE_TIME + timedelta(minutes=5, seconds=30)
    cases = [
        (["--to-earliest"], ResetTarget.to_earliest()),
        (["--to-offset", "5"], ResetTarget.to_offset(5)),
        (["--shift-by", "-7"], ResetTarget.shift_by(-7)),
        (["--to-datetime", iso(halfway)], datetime_target(iso(halfway))),
    ]
    for kafka_args, target in cases:
        ours = new_offsets(resetter.plan_reset(group, selection, target))
        theirs = kafka_reset_dry_run(kafka_distribution, bootstrap, group, "--topic", topic, *kafka_args)
        assert ours == theirs, kafka_args
    assert committed_offsets(bootstrap, group) == {(topic, 0): 9, (topic, 1): 4, (topic, 2): 1}
