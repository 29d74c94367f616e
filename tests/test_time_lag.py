"""Time lag on a real broker: ``snapshot --time-lag`` reads it exactly, the live view estimates it for
every partition, and the estimate is measured against the exact value with a producer at a known rate.

The exact time lag is the age of the record at the committed offset (its timestamp, set by the
producer here, against the snapshot's time); the estimate is interpolated from the log end's
own history (:mod:`deliverytui.lag.time_estimate`), fed by the snapshots the live view takes.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import pytest
from confluent_kafka import Producer

from deliverytui.kafka.commit_timestamps import read_commit_timestamps
from deliverytui.tui.fetch import GroupFetcher
from deliverytui.tui.rows import COLUMN_KEYS, estimate_text
from deliverytui.tui.viewer_config import ViewerConfig
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic

pytestmark = pytest.mark.kafka
NO_ENV = {"KAFKA_BOOTSTRAP_SERVERS": ""}


def produce_at(bootstrap: str, topic: str, partition: int, stamps_ms: list[int]) -> None:
    """One record per timestamp (CreateTime, as the producer says it), in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i, stamp in enumerate(stamps_ms):
        producer.produce(topic, value=f"r{i}".encode(), partition=partition, timestamp=stamp)
    assert producer.flush(30) == 0


def test_snapshot_time_lag_reads_the_record_at_every_committed_offset(bootstrap: str, unique: str) -> None:
    """Partition 0 is 5 records behind a record stamped 195 s ago, partition 1 is caught up: 195 s and 0 s,
    read in one pass; the table has the column too. (A partition without a committed offset and without an
    owner is not in a snapshot at all; an unreadable one is the next test's ``None``.)"""
    topic, group = f"tl-{unique}", f"tl-{unique}"
    create_topic(bootstrap, topic, 2)
    now_ms = int(time.time() * 1000)
    produce_at(bootstrap, topic, 0, [now_ms - 200_000 + i * 1000 for i in range(10)])  # record 5: now - 195 s
    produce_at(bootstrap, topic, 1, [now_ms - 50_000] * 4)
    commit(bootstrap, group, {(topic, 0): 5, (topic, 1): 4})

    result = run_cli("snapshot", "--group", group, "--bootstrap", bootstrap, "--json", "--time-lag", env=NO_ENV)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    taken = datetime.fromisoformat(data["taken_at"]).timestamp()
    by_partition = {p["partition"]: p for p in data["partitions"]}
    exact_0 = taken - (now_ms - 195_000) / 1000
    print(f"partition 0: time_lag_s {by_partition[0]['time_lag_s']} (expected {exact_0:.3f})")
    assert by_partition[0]["time_lag_s"] == pytest.approx(exact_0, abs=0.01)
    assert by_partition[1]["time_lag_s"] == 0  # caught up: nothing waits, exactly

    table = run_cli("snapshot", "--group", group, "--bootstrap", bootstrap, "--time-lag", env=NO_ENV)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    header = next(line for line in lines if line.startswith("TOPIC"))
    assert "LAG  TIME-LAG" in header
    row0 = next(line for line in lines if line.startswith(f"{topic}  0 "))
    assert f"{exact_0:.0f}." in row0 or f"{exact_0 + 1:.0f}." in row0 or f"{exact_0 - 1:.0f}." in row0  # ~195 s, rounded to 0.1


def test_reader_answers_none_where_no_record_follows_the_offset(bootstrap: str, unique: str) -> None:
    """An offset at the log end, or on a transaction's commit marker (lag 1, yet no record will come), has no
    record to time: ``None``, never a guess; the partition that has one answers its timestamp."""
    topic = f"tl-none-{unique}"
    create_topic(bootstrap, topic, 3)
    produce_at(bootstrap, topic, 0, [1_700_000_000_000, 1_700_000_001_000])
    transactional = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tl-tx-{unique}"})
    transactional.init_transactions(30)
    transactional.begin_transaction()
    for i in range(3):
        transactional.produce(topic, value=b"t", partition=2, timestamp=1_700_000_000_000 + i)
    transactional.commit_transaction(30)  # offsets 0-2 are records, 3 the commit marker: log end 4
    stamps = read_commit_timestamps(
        bootstrap, None, {(topic, 0): 1, (topic, 1): 0, (topic, 2): 3}, f"tl-none-{unique}", timeout=30.0
    )
    assert stamps == {(topic, 0): 1_700_000_001_000, (topic, 1): None, (topic, 2): None}


def test_estimate_against_exact_at_a_steady_rate(bootstrap: str, unique: str) -> None:
    """A producer at 50 records/s (real timestamps) on two partitions; the group commits behind.

    The live view's own code (GroupFetcher: real snapshots through the isolated inspector, then
    DeliveryEstimates and the rows) is fed a snapshot every refresh; its ``Time lag ~`` estimate is
    compared with ``snapshot --time-lag``'s exact value, brought back to the estimate's instant (the
    committed offset does not move, so the exact time lag grows one second a second). The error is
    printed; at a steady rate it must stay within one refresh interval.
    """
    topic, group = f"tl-rate-{unique}", f"tl-rate-{unique}"
    refresh_s, rate = 1.0, 50.0
    create_topic(bootstrap, topic, 2)
    commit(bootstrap, group, {(topic, 0): 0, (topic, 1): 0})
    stop = threading.Event()

    def steady() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        started, sent = time.monotonic(), 0
        while not stop.is_set():
            due = started + sent / rate
            if time.monotonic() < due:
                time.sleep(due - time.monotonic())
                continue
            producer.produce(topic, value=b"x", partition=sent % 2)  # timestamp: now (CreateTime)
            producer.poll(0)
            sent += 1
        producer.flush(10)

    thread = threading.Thread(target=steady, daemon=True)
    thread.start()
    fetcher = GroupFetcher(ViewerConfig(bootstrap=bootstrap, group=group, request_timeout=5), group, threading.Event(), read_positions=False)
    try:
        update = None
        for _ in range(5):  # the view attaches and samples the log end for a few refreshes
            update = fetcher.fetch()
            time.sleep(refresh_s)
        assert update is not None
        # Between two samples (~25 records a refresh per partition), not on one: the estimate interpolates.
        behind = {(row.topic, row.partition): row.log_end_offset - 12 for row in update.snapshot.partitions}
        commit(bootstrap, group, behind)  # the consumer stops here, the producer goes on
        for _ in range(6):
            time.sleep(refresh_s)
            update = fetcher.fetch()
        taken = update.snapshot.taken_at.timestamp()
        estimates = {key: row.time_lag for key, row in update.rows.items()}
        cells = {key: row.cells for key, row in update.rows.items()}
        result = run_cli("snapshot", "--group", group, "--bootstrap", bootstrap, "--json", "--time-lag", env=NO_ENV)
    finally:
        stop.set()
        thread.join(15)
        fetcher.close()
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    exact_taken = datetime.fromisoformat(data["taken_at"]).timestamp()
    worst = 0.0
    for item in data["partitions"]:
        key = f"{item['topic']}:{item['partition']}"
        assert item["committed_offset"] == behind[(item["topic"], item["partition"])]
        exact = item["time_lag_s"] - (exact_taken - taken)  # the exact time lag at the estimate's instant
        error = estimates[key] - exact
        print(f"{key}: estimate {estimates[key]:.2f}s, exact {exact:.2f}s, error {error:+.2f}s (refresh {refresh_s}s)")
        worst = max(worst, abs(error))
        assert exact > 4.0  # the commit is ~6 refreshes old: a real time lag, not 0
        assert cells[key][COLUMN_KEYS.index("time_lag")][0] == estimate_text(estimates[key])  # what the column shows
        assert estimate_text(estimates[key]).startswith("~")  # marked as an estimate
    print(f"worst estimate error {worst:.2f}s at a {refresh_s}s refresh and {rate:.0f} records/s")
    assert worst <= refresh_s


def test_time_lag_without_read_on_the_topic_is_one_line_naming_the_acl(secured, unique: str, tmp_path) -> None:
    """Describe on the group and the topic (the snapshot's needs) but no Read: ``--time-lag`` cannot read the
    record at the committed offset, and says which ACL is missing (exit 9), not "no time lag"; without the
    flag the same principal still gets its snapshot."""
    from deliverytui.errors import ExitCode
    from tests.security_fixtures import seed

    topic, group, name = f"tl-acl-{unique}", f"tl-acl-{unique}", f"describer-{unique}"
    seed(secured.config("writer"), topic, {0: 5}, group, {(topic, 0): 2})
    viewer = secured.add_principal(
        name, [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe")], tmp_path
    )
    plain = run_cli("snapshot", "--group", group, "--config", str(viewer), "--json", env=NO_ENV)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["total_lag"] == 3
    for extra in ([], ["--json"]):
        result = run_cli("snapshot", "--group", group, "--config", str(viewer), "--time-lag", *extra, env=NO_ENV)
        assert result.returncode == ExitCode.NOT_AUTHORIZED, (result.returncode, result.stderr)
        assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        print(result.stderr.strip())
        assert f"principal User:{name} lacks Read on topic {topic} (ACL needed: READ on TOPIC {topic})" in result.stderr


def test_groups_time_lag_is_each_groups_oldest_waiting_record(bootstrap: str, unique: str) -> None:
    """``groups --time-lag``: per group, the exact age of the oldest record one of its partitions waits on.
    Group c waits on the same record as group a (read once, under a's id) and gets the same age; a
    caught-up group is 0."""
    topic = f"gtl-{unique}"
    create_topic(bootstrap, topic, 2)
    now_ms = int(time.time() * 1000)
    produce_at(bootstrap, topic, 0, [now_ms - 200_000 + i * 1000 for i in range(10)])  # offset k: now - (200 - k) s
    produce_at(bootstrap, topic, 1, [now_ms - 50_000] * 4)
    groups = {f"gtl-a-{unique}": {(topic, 0): 5, (topic, 1): 4}, f"gtl-b-{unique}": {(topic, 0): 2, (topic, 1): 0},
              f"gtl-c-{unique}": {(topic, 0): 5, (topic, 1): 4}, f"gtl-d-{unique}": {(topic, 0): 10, (topic, 1): 4}}
    for group, offsets in groups.items():
        commit(bootstrap, group, offsets)

    started = time.time()
    result = run_cli("groups", "--bootstrap", bootstrap, "--json", "--time-lag", env=NO_ENV)
    assert result.returncode == 0, result.stderr
    ages = {g["group"]: g["max_time_lag_s"] for g in json.loads(result.stdout) if g["group"] in groups}
    print(f"groups --time-lag: {ages}")
    # Read within the command's run: the age is measured from its snapshot, between started and now.
    assert started - (now_ms - 195_000) / 1000 - 0.5 <= ages[f"gtl-a-{unique}"] <= time.time() - (now_ms - 195_000) / 1000
    assert ages[f"gtl-c-{unique}"] == ages[f"gtl-a-{unique}"]
    assert ages[f"gtl-b-{unique}"] == pytest.approx(ages[f"gtl-a-{unique}"] + 3, abs=0.01)  # offset 2 is 3 s older
    assert ages[f"gtl-d-{unique}"] == 0

    table = run_cli("groups", "--bootstrap", bootstrap, "--time-lag", env=NO_ENV)
    assert table.returncode == 0, table.stderr
    assert "MAX-TIME-LAG" in table.stdout.splitlines()[0]
    row_d = next(line for line in table.stdout.splitlines() if line.startswith(f"gtl-d-{unique} "))
    assert row_d.rstrip().endswith("0.0s")
