"""Positions for JVM consumers: Kafka's own console consumer with ``deliverytui.probe.ProbeInterceptor``.

``org.apache.kafka.tools.consumer.ConsoleConsumer`` runs from the broker's cached jars plus the probe jar
(``deliverytui probe-jar``), with ``interceptor.classes`` and nothing else changed, on both group protocols.
``snapshot --json --positions`` and the live view (Pilot, the Position column) must then show the positions
it reached. Nothing is mocked: a real JVM consumer, the session's real broker, the real collector.
"""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.probe_jar import INTERCEPTOR_CLASS, build_probe_jar
from deliverytui.errors import ExitCode
from deliverytui.kafka.probe_positions import PositionCollector
from deliverytui.model.positions import GapKind
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from tests.helpers import run_cli, wait_for
from tests.jvm_consumer import console_consumer
from tests.kafka_helpers import create_topic, produce
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka

COUNTS = {0: 7, 1: 12, 2: 5}


@pytest.fixture(scope="module")
def probe_jar(kafka_distribution: KafkaDistribution) -> Path:
    return build_probe_jar(kafka_distribution)


def test_probe_jar_prints_a_small_jar_holding_only_the_interceptor(probe_jar: Path) -> None:
    result = run_cli("probe-jar")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == probe_jar  # the path alone on stdout, for java -cp "$(deliverytui probe-jar)"
    with zipfile.ZipFile(probe_jar) as jar:
        classes = [name for name in jar.namelist() if name.endswith(".class")]
    assert classes and all(name.startswith("deliverytui/probe/") for name in classes)  # kafka-clients is provided
    assert "deliverytui/probe/ProbeInterceptor.class" in classes
    described = json.loads(run_cli("probe-jar", "--json").stdout)
    assert described == {"jar": str(probe_jar), "interceptor_class": INTERCEPTOR_CLASS}


def test_probe_jar_without_maven_is_one_line_and_exit_6(
    kafka_distribution: KafkaDistribution, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh cache (nothing built) on a machine without Maven: the Kafka jars come from KAFKA_HOME."""
    from deliverytui.broker import java_build
    from deliverytui.cli import main

    home = tmp_path / "kafka-home"
    home.mkdir()
    (home / "libs").symlink_to(kafka_distribution.libs_dir, target_is_directory=True)
    monkeypatch.setenv("KAFKA_HOME", str(home))
    monkeypatch.setenv("DELIVERYTUI_CACHE_DIR", str(tmp_path / "cache"))
    real_which = java_build.shutil.which
    monkeypatch.setattr(java_build.shutil, "which", lambda name: None if name == "mvn" else real_which(name))
    assert main(["probe-jar"]) == ExitCode.KAFKA_SETUP
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Maven was not found" in err and "Traceback" not in err


def snapshot_positions(bootstrap: str, group: str) -> dict:
    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--positions", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_console_consumer_positions_reach_snapshot_json(
    kafka_distribution: KafkaDistribution, probe_jar: Path, bootstrap: str, unique: str, protocol: str
) -> None:
    topic, group = f"jvm-probe-{protocol}-{unique}", f"jvm-probe-{protocol}-{unique}"
    create_topic(bootstrap, topic, len(COUNTS))
    produce(bootstrap, topic, COUNTS)
    with console_consumer(kafka_distribution, probe_jar, bootstrap, topic, group, protocol) as consumer:
        wait_for(lambda: consumer.printed == sum(COUNTS.values()), 60, f"the console consumer printing {sum(COUNTS.values())} records")
        data: dict = {}

        def reached() -> bool:
            nonlocal data
            data = snapshot_positions(bootstrap, group)
            rows = {row["partition"]: row for row in data["partitions"] if row["topic"] == topic}
            return len(rows) == len(COUNTS) and all(
                rows[p]["position"] == n and rows[p]["position_committed"] == n and rows[p]["committed_offset"] == n
                for p, n in COUNTS.items()
            )

        wait_for(reached, 60, "snapshot --json showing position == committed == records produced, per partition")
    [member] = data["members"]
    for row in (r for r in data["partitions"] if r["topic"] == topic):
        assert row["position_client_id"] == member["client_id"]
        assert row["position_stale"] is False and row["position_verified"] is True
        assert row["position_gap"] == GapKind.IN_SYNC.value
    reports = [p for p in data["positions"]["partitions"] if p["topic"] == topic]
    assert {p["source"] for p in reports} == {"java-interceptor"}
    assert {p["member_id"] for p in reports} == {None}  # an interceptor cannot see the group's member id


def test_console_consumer_retracts_its_reporter_when_it_closes(
    kafka_distribution: KafkaDistribution, probe_jar: Path, bootstrap: str, unique: str
) -> None:
    """SIGTERM: the console consumer's shutdown hook closes the consumer, and the interceptor's close() retracts
    its reporter (a tombstone), so the position disappears at once instead of turning stale."""
    topic, group = f"jvm-probe-close-{unique}", f"jvm-probe-close-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 4})
    with PositionCollector(bootstrap, None, group) as collector:
        with console_consumer(kafka_distribution, probe_jar, bootstrap, topic, group, "classic") as consumer:
            wait_for(lambda: (e := collector.poll(0.2).get(topic, 0)) is not None and e.position == 4, 60, "position 4")
            consumer.process.terminate()
            consumer.process.wait(30)
        wait_for(lambda: collector.poll(0.2).get(topic, 0) is None, 30, "the reporter retracted")


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_steady_state_jvm_consumer_never_reports_committed_ahead_of_position(
    kafka_distribution: KafkaDistribution, probe_jar: Path, bootstrap: str, unique: str, protocol: str
) -> None:
    """A consumer keeping up with a transactional producer, auto-committing every 300 ms: each report's own commit
    is never ahead of its position ("lost after a crash" would be a false red), for every report read over ~8 s.

    Transactional, because every transaction ends in a commit marker the consumer steps over without returning
    it: a position taken as "last returned offset + 1" sits one below the commit of a caught-up consumer."""
    topic, group = f"jvm-probe-steady-{protocol}-{unique}", f"jvm-probe-steady-{protocol}-{unique}"
    create_topic(bootstrap, topic, 2)
    stop = threading.Event()

    def keep_producing() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "transactional.id": f"steady-{protocol}-{unique}"})
        producer.init_transactions(30)
        while not stop.is_set():
            producer.begin_transaction()
            for _ in range(20):
                producer.produce(topic, value=b"x")
            producer.commit_transaction(30)
            time.sleep(0.05)

    writer = threading.Thread(target=keep_producing)
    writer.start()
    seen: list[tuple[int | None, int | None]] = []

    def sample(collector: PositionCollector, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for entry in collector.poll(0.3).partitions:
                if entry.topic == topic:
                    seen.append((entry.position, entry.committed))
                    assert entry.gap.kind is not GapKind.COMMITTED_NOT_PROCESSED, entry

    try:
        with console_consumer(kafka_distribution, probe_jar, bootstrap, topic, group, protocol) as consumer, \
                PositionCollector(bootstrap, None, group) as collector:
            wait_for(lambda: consumer.printed > 100, 60, "the console consumer consuming")
            sample(collector, 8)
            stop.set()
            writer.join()
            # Quiet now: the log of each partition ends with a commit marker, which poll() never returns.
            log_end = {p: high for p in (0, 1) for _, high in [watermarks(bootstrap, topic, p)]}
            wait_for(lambda: all((e := collector.poll(0.2).get(topic, p)) is not None and e.committed == end
                                 for p, end in log_end.items()), 30, f"the reports' commits reaching the log end {log_end}")
            sample(collector, 2)
            for partition, end in log_end.items():
                entry = collector.poll(0.2).get(topic, partition)
                assert entry is not None and (entry.position, entry.committed) == (end, end), entry
    finally:
        stop.set()
        writer.join()
    with_both = [(p, c) for p, c in seen if p is not None and c is not None]
    assert len({p for p, _ in with_both}) > 5, f"positions did not move: {seen[:10]}"


def watermarks(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watermarks-{topic}"})
    try:
        return reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        reader.close()


async def test_live_view_shows_a_jvm_consumers_position(
    kafka_distribution: KafkaDistribution, probe_jar: Path, bootstrap: str, unique: str
) -> None:
    topic, group = f"jvm-probe-live-{unique}", f"jvm-probe-live-{unique}"
    create_topic(bootstrap, topic, len(COUNTS))
    produce(bootstrap, topic, COUNTS)
    with console_consumer(kafka_distribution, probe_jar, bootstrap, topic, group, "consumer"):
        app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
        async with app.run_test(size=(160, 48)) as pilot:
            for partition, count in COUNTS.items():
                key = f"{topic}:{partition}"
                await wait_until(pilot, lambda key=key, count=count: cell(app, key, "position") == str(count), timeout=60,
                                 what=f"Position {count} on {key}")
            assert app.update is not None
            assert {entry.source for entry in app.update.positions.values()} == {"java-interceptor"}
            assert all(entry.verified is True for entry in app.update.positions.values())
