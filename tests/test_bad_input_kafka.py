"""Bad input around the inspector and reset, on the real broker (issue #6, section 4).

1 MB records; group and topic names with dots, dashes and unicode; a topic deleted while the
live view is attached; committed offsets below the log start (after DeleteRecords) and reset
targets out of range, both compared with Kafka's own kafka-consumer-groups; a --config file
that is missing or has unknown keys.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.errors import ExitCode
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.offset_reset import OffsetResetter
from deliverytui.kafka.record_time import RecordTimestampReader
from deliverytui.kafka.reset_arguments import datetime_target, parse_topic_args
from deliverytui.model.reset import ResetTarget
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import EventLog, GroupHeader
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, produce, seed_topics
from tests.test_oracle import kafka_cli_describe
from tests.test_reset import delete_records_before, kafka_reset_dry_run, new_offsets
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)
MB = 1 << 20


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


# -- 1 MB records ------------------------------------------------------------------------------
def test_one_megabyte_records_produce_consume_and_inspect(bootstrap: str, unique: str) -> None:
    topic, group = f"big.records-{unique}", f"big-{unique}"
    # The broker's default limit (message.max.bytes = 1 MB + 12) is just below a 1 MB value plus
    # its batch overhead: the topic and the producer are raised to 2 MB, as a user would.
    admin = _admin(bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": str(2 * MB)})])[topic].result(30)
    deadline = time.monotonic() + 30
    while True:
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        if meta is not None and meta.error is None and all(p.leader >= 0 for p in meta.partitions.values()):
            break
        assert time.monotonic() < deadline, "the topic got no leader"
        time.sleep(0.1)
    base_ms = int(time.time() * 1000) - 60_000
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2 * MB, "enable.idempotence": True})
    for i in range(12):
        producer.produce(topic, value=bytes([65 + i]) * MB, partition=0, timestamp=base_ms + i * 1000)
    assert producer.flush(60) == 0

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(got) < 3 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got.append(message.value())
        assert [len(v) for v in got] == [MB] * 3 and got[2][:1] == b"C"
    finally:
        consumer.close()
    commit(bootstrap, group, {(topic, 0): 3})  # retries a coordinator still loading

    snapshot = GroupInspector(bootstrap).snapshot(group)
    (row,) = snapshot.partitions
    assert (row.committed_offset, row.log_end_offset, row.lag) == (3, 12, 9)

    # The time-lag read of a 1 MB record (with nine more behind it) returns its timestamp.
    reader = RecordTimestampReader(bootstrap)
    try:
        assert reader.timestamp_ms(topic, 0, 3) == base_ms + 3000
        assert reader.timestamp_ms(topic, 0, 11) == base_ms + 11000
    finally:
        reader.close()

    cli = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["total_lag"] == 9


# -- names with dots, dashes and unicode ---------------------------------------------------------
def test_dot_dash_and_unicode_names_in_snapshot_and_reset(
    kafka_distribution: KafkaDistribution, bootstrap: str, unique: str
) -> None:
    dotted, dashed = f"orders.v1.eu-{unique}", f"--billing--{unique}-"
    group = f"grüppe.ñ-通知-{unique}"  # group ids may be any string; topic names are [a-zA-Z0-9._-]
    seed_topics(bootstrap, {dotted: {0: 6, 1: 4}, dashed: {0: 5}}, group, {(dotted, 0): 2, (dotted, 1): 4, (dashed, 0): 1})

    # Kafka's dot/underscore rule: a topic differing only by '.' vs '_' is refused (metric names collide).
    collider = dotted.replace(".", "_")
    with pytest.raises(KafkaException, match="(?i)collides"):
        admin = _admin(bootstrap)
        admin.create_topics([NewTopic(collider, 1, 1)])[collider].result(30)

    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["group"] == group
    lags = {(p["topic"], p["partition"]): p["lag"] for p in data["partitions"]}
    assert lags == {(dotted, 0): 4, (dotted, 1): 0, (dashed, 0): 4}
    text = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group)
    assert text.returncode == 0 and group in text.stdout and dashed in text.stdout, text.stderr

    # Kafka's own tool agrees on the unicode group.
    theirs = kafka_cli_describe(kafka_distribution, bootstrap, group)
    assert {k: int(v["LAG"]) for k, v in theirs.items()} == lags

    # Reset by topic name with dots (and a leading dash: --topic=... keeps argparse from taking it for an option).
    plan = run_cli(
        "reset", "--bootstrap", bootstrap, "--group", group, f"--topic={dotted}:0", f"--topic={dashed}",
        "--to-earliest", "--execute", "--json",
    )
    assert plan.returncode == 0, plan.stderr
    assert {(p["topic"], p["partition"]): p["new_offset"] for p in json.loads(plan.stdout)["partitions"]} == {
        (dotted, 0): 0, (dashed, 0): 0
    }
    after = {(r.topic, r.partition): r.committed_offset for r in GroupInspector(bootstrap).snapshot(group).partitions}
    assert after == {(dotted, 0): 0, (dotted, 1): 4, (dashed, 0): 0}


async def test_unicode_group_renders_in_the_live_view(bootstrap: str, unique: str) -> None:
    topic, group = f"uni.view-{unique}", f"grüppe.ñ-通知-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 7})
    commit(bootstrap, group, {(topic, 0): 3})
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: shown(app) == [f"{topic}:0"], what="the row of the dotted topic")
        assert cell(app, f"{topic}:0", "lag") == "4"
        assert group in str(app.query_one(GroupHeader).render())
        assert any(group in line for line in app.query_one(EventLog).entries)


# -- a topic deleted while attached --------------------------------------------------------------
async def test_topic_deleted_while_attached(bootstrap: str, unique: str) -> None:
    doomed, kept, group = f"doomed-{unique}", f"kept-{unique}", f"deleted-topic-{unique}"
    seed_topics(bootstrap, {doomed: {0: 5, 1: 5}, kept: {0: 3}}, group, {(doomed, 0): 2, (doomed, 1): 5, (kept, 0): 1})
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 3, what="three rows")
        admin = _admin(bootstrap)
        admin.delete_topics([doomed], operation_timeout=30)[doomed].result(30)
        await wait_until(pilot, lambda: shown(app) == [f"{kept}:0"], timeout=60, what="the deleted topic's rows removed")
        await wait_until(
            pilot,
            lambda: any(f"topic {doomed} is gone" in line for line in app.query_one(EventLog).entries),
            what="an event-log line for the deleted topic",
        )
        polls = app.polls_completed
        await wait_until(pilot, lambda: app.polls_completed >= polls + 3, what="polling goes on")
        assert cell(app, f"{kept}:0", "lag") == "2" and not app.stale
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json")
    assert result.returncode == 0, result.stderr
    assert [(p["topic"], p["lag"]) for p in json.loads(result.stdout)["partitions"]] == [(kept, 2)]


# -- committed offsets below the log start; reset targets out of range ---------------------------
def test_commits_below_log_start_match_kafkas_lag_and_reset(
    kafka_distribution: KafkaDistribution, bootstrap: str, unique: str
) -> None:
    topic, group = f"below.start-{unique}", f"below-start-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 10, 1: 8})
    commit(bootstrap, group, {(topic, 0): 2, (topic, 1): 5})
    delete_records_before(bootstrap, topic, 0, 6)  # p0: log start 6, above the committed 2
    delete_records_before(bootstrap, topic, 1, 3)  # p1: log start 3, below the committed 5

    # LAG as Kafka computes it: log end minus committed, the deleted records included.
    snapshot = json.loads(run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--json").stdout)
    ours = {(p["topic"], p["partition"]): p for p in snapshot["partitions"]}
    theirs = kafka_cli_describe(kafka_distribution, bootstrap, group)
    assert ours.keys() == theirs.keys()
    for key, row in theirs.items():
        assert str(ours[key]["lag"]) == row["LAG"] and str(ours[key]["committed_offset"]) == row["CURRENT-OFFSET"], key
    assert ours[(topic, 0)]["lag"] == 8 and ours[(topic, 0)]["log_start_offset"] == 6

    resetter = OffsetResetter(bootstrap)
    selection = parse_topic_args([topic])
    cases = [
        (["--to-current"], ResetTarget.to_current()),  # not clamped, by Kafka either: p0 stays at 2
        (["--shift-by", "1"], ResetTarget.shift_by(1)),  # 3 → clamped to 6 on p0
        (["--shift-by", "100"], ResetTarget.shift_by(100)),  # above the end → log end
        (["--to-offset", "1"], ResetTarget.to_offset(1)),  # before the log start → log start
    ]  # (each case starts a JVM for Kafka's tool: kept to the cases about the log start)
    plans = {}
    for kafka_args, target in cases:
        plan = resetter.plan_reset(group, selection, target)
        plans[kafka_args[0] + (kafka_args[1] if len(kafka_args) > 1 else "")] = plan
        assert new_offsets(plan) == kafka_reset_dry_run(kafka_distribution, bootstrap, group, "--topic", topic, *kafka_args), kafka_args
    assert new_offsets(plans["--to-current"]) == {(topic, 0): 2, (topic, 1): 5}
    assert any("below its log-start offset 6" in w and "OFFSET_OUT_OF_RANGE" in w for w in plans["--to-current"].warnings)
    assert new_offsets(plans["--shift-by1"]) == {(topic, 0): 6, (topic, 1): 6}
    assert any(f"new offset 3 of {topic}:0 is below its log-start offset; using 6" in w for w in plans["--shift-by1"].warnings)
    assert new_offsets(plans["--shift-by100"]) == {(topic, 0): 10, (topic, 1): 8}
    assert new_offsets(plans["--to-offset1"]) == {(topic, 0): 6, (topic, 1): 3}
    assert new_offsets(resetter.plan_reset(group, selection, ResetTarget.shift_by(-4))) == {(topic, 0): 6, (topic, 1): 3}
    future = resetter.plan_reset(group, selection, datetime_target("2999-01-01T00:00:00.000"))
    assert new_offsets(future) == {(topic, 0): 10, (topic, 1): 8}  # no record that late: the log end, as Kafka
    assert any("no record at or after the requested time" in w for w in future.warnings)

    # The CLI's dry run says so, one warning line per clamped partition, and changes nothing.
    dry = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-offset", "1")
    assert dry.returncode == 0, dry.stderr
    assert f"warning: new offset 1 of {topic}:0 is below its log-start offset; using 6" in dry.stdout
    assert f"warning: new offset 1 of {topic}:1 is below its log-start offset; using 3" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    current = run_cli("reset", "--bootstrap", bootstrap, "--group", group, "--topic", topic, "--to-current")
    assert "OFFSET_OUT_OF_RANGE" in current.stdout
    after = {(r.topic, r.partition): r.committed_offset for r in GroupInspector(bootstrap).snapshot(group).partitions}
    assert after == {(topic, 0): 2, (topic, 1): 5}


# -- a bad --config file -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist; pass a librdkafka properties file to --config"),
        ("security.protocol=PLAINTEXT\nno.such.key=1\nsasl.password=hunter2\n", 'No such configuration property: "no.such.key"'),
        ("security.protocol=NOT-A-PROTOCOL\n", "security.protocol"),
    ],
    ids=["missing", "unknown-key", "bad-value"],
)
def test_bad_config_file_is_one_line_for_snapshot_and_tui(
    bootstrap: str, unique: str, tmp_path: Path, content: str | None, message: str
) -> None:
    file = tmp_path / "client.properties"
    if content is not None:
        file.write_text(content)
    for args in (
        ("snapshot", "--bootstrap", bootstrap, "--group", f"g-{unique}", "--config", str(file)),
        ("--bootstrap", bootstrap, "--group", f"g-{unique}", "--config", str(file)),  # the TUI: refused before the screen
        ("reset", "--bootstrap", bootstrap, "--group", f"g-{unique}", "--topic", "t", "--to-earliest", "--config", str(file)),
    ):
        result = run_cli(*args, timeout=60)
        assert result.returncode == ExitCode.BAD_CONFIG, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("deliverytui: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert "hunter2" not in result.stderr + result.stdout
        assert result.stdout == ""  # the TUI never drew a screen


def test_demo_bad_store_urls_are_one_line(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """``demo`` has no --config (it runs the embedded, unsecured lab); its configuration is its store URLs."""
    for flag, message in (("--ledger", "ledger URL 'foo://x' is not supported"), ("--dedup", "unsupported dedup store URL")):
        result = run_cli(
            "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "idempotent", "--events", "1",
            "--topic", f"demo-bad-url-{unique}", "--run-dir", str(tmp_path), flag, "foo://x",
        )
        assert result.returncode == ExitCode.BAD_STORE_URL if flag == "--dedup" else result.returncode != 0, result.stderr
        assert result.stderr.startswith("deliverytui: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr and "producing" not in result.stderr
