"""Faults on the 3-node cluster with real processes: a node killed and restarted while the demo runs
and the live view is attached; the demo on the cluster (replication factor 3, min.insync.replicas 2).

The single-node broker stopped and started again on the same data dir while the TUI is attached
is tests/test_tui_live.py::test_broker_stop_shows_banner_and_start_recovers.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, ConfigResource

from deliverytui.demo.consumer import read_status, status_file
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.producer_loop import RateLimitedProducer
from deliverytui.demo.semantics import output_topic
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import ensure_topic
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog, GroupHeader
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.cluster_fixtures import ClusterUnderTest
from tests.helpers import run_cli
from tests.tui_helpers import cell, shown, wait_until

# JVM start-up of three nodes (and a restart) on a busy 2-core machine can take minutes: more than
# the suite's default per-test timeout, which counts the session fixture's setup in the first test.
pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]
SIZE = (180, 48)
SEMANTIC = "at-least-once"


def replication_of(bootstrap: str, topic: str) -> tuple[list[list[int]], str]:
    """Every partition's replicas, and the topic's min.insync.replicas."""
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=silent_librdkafka_logger())
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    resource = ConfigResource("topic", topic)
    min_isr = admin.describe_configs([resource])[resource].result(timeout=30)["min.insync.replicas"].value
    return [sorted(partitions[p].replicas) for p in sorted(partitions)], min_isr


def test_headless_demo_on_three_nodes_replicates_its_topics(kafka_cluster: ClusterUnderTest, tmp_path: Path) -> None:
    """`deliverytui demo --headless --nodes 3` reuses the running cluster and creates both topics RF 3, min ISR 2."""
    topic = f"nodes-demo-{uuid.uuid4().hex[:8]}"
    result = run_cli(
        "demo", "--headless", "--nodes", "3", "--semantic", SEMANTIC, "--events", "60", "--topic", topic,
        "--run-dir", str(tmp_path / "run"), "--json",
        env={"DELIVERYTUI_CLUSTER_DIR": str(kafka_cluster.data_dir)}, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["events"] == 60 and data["lost"] == 0 and data["unique_effects"] == 60
    for name in (topic, output_topic(topic)):
        replicas, min_isr = replication_of(kafka_cluster.bootstrap, name)
        assert replicas == [[1, 2, 3]] * 3 and min_isr == "2", name


def isr_cells(app, keys: list[str]) -> list[str | None]:
    return [cell(app, key, "isr") for key in keys]


async def wait_on_screen(pilot, app, keys: list[str], predicate, timeout: float, what: str) -> None:
    """``wait_until``, and on a timeout, what the screen showed instead (leaders, ISRs, banner, last events)."""
    try:
        await wait_until(pilot, predicate, timeout=timeout, what=what)
    except AssertionError as exc:
        leaders = [cell(app, key, "leader") for key in keys]
        banner = str(app.query_one(ConnectionBanner).render()) if app.query_one(ConnectionBanner).has_class("-visible") else ""
        events = app.query_one(EventLog).entries[-12:]
        raise AssertionError(f"{exc}; leaders {leaders}, ISRs {isr_cells(app, keys)}, banner {banner!r}, events {events}") from None


async def test_node_killed_and_restarted_while_the_demo_runs_and_the_tui_watches(
    kafka_cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    bootstrap, cluster = kafka_cluster.bootstrap, kafka_cluster.cluster
    unique = uuid.uuid4().hex[:8]
    topic = f"faults-{unique}"
    ensure_topic(bootstrap, topic, 3, 3, config={"min.insync.replicas": "2"})
    supervisor = DemoSupervisor(
        bootstrap, tmp_path / "run", f"sqlite:///{tmp_path / 'ledger.db'}", None,
        group_prefix=f"faults-{unique}-", semantics=(SEMANTIC,), topic=topic,
    )
    producer = RateLimitedProducer(bootstrap, supervisor.ledger, topic=topic)  # acks=all, idempotent
    group = supervisor.group_of(SEMANTIC)
    keys = [f"{topic}:{p}" for p in range(3)]
    reader = OffsetReader(bootstrap)
    # Offsets 0 committed up front: every partition stays a row of the group even while its
    # consumer is between members (a busy machine can make a session lapse), so the replication
    # checks below do not depend on the consumer's pace.
    reader.commit(group, topic, {0: 0, 1: 0, 2: 0})
    supervisor.start_all()
    producer.start(5)
    victim = None
    try:
        app = DeliveryApp(
            ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.5, request_timeout=5, max_backoff_seconds=1.0)
        )
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(PartitionsTable)
            await wait_until(pilot, lambda: sorted(shown(app)) == keys, timeout=90, what="the group's three partitions")
            await wait_until(pilot, lambda: table.replication_visible, what="Leader and ISR columns on three nodes")
            await wait_until(pilot, lambda: isr_cells(app, keys) == ["1,2,3"] * 3, what="full ISRs")
            assert "all in sync" in str(app.query_one(GroupHeader).render())

            # The victim leads one of the topic's partitions but is not the group's coordinator: the
            # coordinator's failover (and a fenced static member) is the consumer's story, not
            # replication's, and has its own tests below.
            snapshot = app.update.snapshot
            assert snapshot.coordinator is not None
            moved = next(k for k, r in zip(keys, snapshot.partitions) if r.leader != snapshot.coordinator.node_id)
            victim = int(cell(app, moved, "leader"))
            consumer_pid = supervisor.pid(SEMANTIC)
            acked_before = producer.acknowledged
            cluster.kill(victim)
            await wait_on_screen(
                pilot, app, keys, lambda: cell(app, moved, "leader") not in (str(victim), None), 60, "leader to move"
            )
            survivors = ",".join(str(n) for n in (1, 2, 3) if n != victim)
            await wait_on_screen(
                pilot, app, keys, lambda: isr_cells(app, keys) == [f"{survivors} (2/3)"] * 3, 60, "ISRs to shrink"
            )
            assert "under-replicated" in str(app.query_one(GroupHeader).render())
            log = "\n".join(app.query_one(EventLog).entries)
            assert f"leader of {moved} moved {victim} →" in log
            assert f"{moved} under-replicated: ISR {survivors} of 1,2,3" in log
            assert f"broker {victim} left the cluster" in log
            # acks=all with min.insync.replicas=2: two replicas still accept writes.
            await wait_until(pilot, lambda: producer.acknowledged > acked_before + 10, timeout=60, what="acks on 2 nodes")

            restart = asyncio.get_running_loop().run_in_executor(None, lambda: cluster.restart(victim))
            await wait_until(pilot, restart.done, timeout=240, what="the node restart")
            assert (await restart)["in_sync"] is True
            victim = None
            await wait_on_screen(pilot, app, keys, lambda: isr_cells(app, keys) == ["1,2,3"] * 3, 120, "ISRs back to 1,2,3")
            log = "\n".join(app.query_one(EventLog).entries)
            assert f"{moved} back in sync: ISR 1,2,3" in log
            await wait_until(
                pilot, lambda: "all in sync" in str(app.query_one(GroupHeader).render()), what="header back in sync"
            )
            assert not app.query_one(ConnectionBanner).has_class("-visible") and not app.stale

            producer.stop()
            assert producer.failed == 0 and producer.error is None
            assert supervisor.pid(SEMANTIC) == consumer_pid  # the consumer rode through the failover
            deadline = time.monotonic() + 300
            while not reader.drained(group, topic):
                assert time.monotonic() < deadline, "the at-least-once consumer did not drain the topic"
                await pilot.pause(0.5)
            await wait_until(pilot, lambda: cell(app, keys[0], "lag") == "0", what="lag 0 on screen")
        supervisor.stop_all()
        result = supervisor.audit().for_semantic(SEMANTIC)
        assert result.produced == producer.acknowledged > 0
        assert result.lost == 0 and result.unexpected == 0, result
        assert result.unique_effects == result.produced
    finally:
        producer.stop()
        supervisor.close()
        reader.close()
        if victim is not None and not cluster.node_running(victim):
            cluster.restart(victim)  # leave the session cluster whole for the next test


def coordinator_of(bootstrap: str, group: str) -> int:
    """The node that coordinates ``group`` (AdminClient describe_consumer_groups -> coordinator)."""
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=silent_librdkafka_logger())
    description = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    return int(description.coordinator.id)


class _DemoOnCluster:
    """One at-least-once demo consumer on the 3-node cluster, fed by the lab's producer (acks=all)."""

    def __init__(self, bootstrap: str, tmp_path: Path, name: str) -> None:
        unique = uuid.uuid4().hex[:8]
        self.topic = f"{name}-{unique}"
        ensure_topic(bootstrap, self.topic, 3, 3, config={"min.insync.replicas": "2"})
        self.run_dir = tmp_path / "run"
        self.supervisor = DemoSupervisor(
            bootstrap, self.run_dir, f"sqlite:///{tmp_path / 'ledger.db'}", None,
            group_prefix=f"{name}-{unique}-", semantics=(SEMANTIC,), topic=self.topic, probe=False,
        )  # fmt: skip
        self.producer = RateLimitedProducer(bootstrap, self.supervisor.ledger, topic=self.topic)
        self.group = self.supervisor.group_of(SEMANTIC)
        self.reader = OffsetReader(bootstrap)
        self.log_path = self.run_dir / f"{SEMANTIC}.log"

    def status(self) -> dict:
        return read_status(status_file(self.run_dir, SEMANTIC)) or {}

    def processed(self) -> int:
        return int(self.status().get("processed") or 0)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; consumer pid {self.supervisor.pid(SEMANTIC)}, "
                    f"status {self.status()}, log:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def start(self, rate: float = 20) -> int:
        """Start the consumer and the producer; the consumer's pid once it processed 20 events."""
        self.supervisor.start_all()
        self.producer.start(rate)
        self.wait_for(lambda: self.processed() >= 20, 40, "the consumer to process 20 events")
        return self.supervisor.pid(SEMANTIC)

    def drain_and_audit(self, consumer_pid: int) -> None:
        """Stop producing, drain with the same process, and check the at-least-once audit lost nothing."""
        self.producer.stop()
        assert self.producer.failed == 0 and self.producer.error is None
        self.wait_for(lambda: self.reader.drained(self.group, self.topic), 40, "the consumer to drain the topic")
        assert self.supervisor.pid(SEMANTIC) == consumer_pid, self.log_tail()
        self.supervisor.stop_all()
        result = self.supervisor.audit().for_semantic(SEMANTIC)
        assert result.produced == self.producer.acknowledged > 0
        assert result.lost == 0 and result.unexpected == 0, result
        assert result.unique_effects == result.produced

    def close(self) -> None:
        self.producer.stop()
        self.supervisor.close()
        self.reader.close()


def test_consumer_rides_through_its_group_coordinator_being_killed(
    kafka_cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    """Kill the node coordinating the demo consumer's group, then restart it: the consumer keeps its pid,
    keeps processing, and the at-least-once audit loses nothing.

    With static membership the coordinator's move used to end in a commit failing with
    FENCED_INSTANCE_ID (a fatal librdkafka error, or UNKNOWN_MEMBER_ID / REBALANCE_IN_PROGRESS
    first) and the consumer process exited; now it rejoins with the same instance id.
    """
    bootstrap, cluster = kafka_cluster.bootstrap, kafka_cluster.cluster
    demo = _DemoOnCluster(bootstrap, tmp_path, "coordinator")
    victim = None
    try:
        consumer_pid = demo.start()
        victim = coordinator_of(bootstrap, demo.group)
        before = demo.processed()
        assert cluster.kill(victim)
        # The coordinator moves to a survivor; the consumer must rejoin there and go on committing.
        demo.wait_for(lambda: demo.processed() >= before + 60, 45, "processing to continue after the coordinator was killed")
        assert demo.supervisor.pid(SEMANTIC) == consumer_pid, demo.log_tail()
        assert coordinator_of(bootstrap, demo.group) != victim
        assert cluster.restart(victim)["in_sync"] is True
        victim = None
        demo.drain_and_audit(consumer_pid)
    finally:
        demo.close()
        if victim is not None and not cluster.node_running(victim):
            cluster.restart(victim)  # leave the session cluster whole for the next test


def test_fenced_static_member_rejoins_with_the_same_instance_id(kafka_cluster: ClusterUnderTest, tmp_path: Path) -> None:
    """FENCED_INSTANCE_ID for real: another process joins with the demo consumer's group.instance.id.

    The coordinator hands the static membership to the newcomer and fences the demo consumer
    (librdkafka makes a fenced consumer fatal). The demo consumer must not exit: it closes the
    fenced consumer, rejoins with the same instance id (taking the membership back) and goes on;
    the at-least-once audit loses nothing.
    """
    bootstrap = kafka_cluster.bootstrap
    demo = _DemoOnCluster(bootstrap, tmp_path, "fenced")
    try:
        consumer_pid = demo.start()
        impostor = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": demo.group,
                "group.instance.id": f"{demo.group}-demo",  # the demo consumer's (instance 1)
                "session.timeout.ms": 6000,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            },
            logger=silent_librdkafka_logger(),
        )
        try:
            impostor.subscribe([demo.topic])
            deadline = time.monotonic() + 30
            while not impostor.assignment():
                assert time.monotonic() < deadline, "the impostor never got the static member's assignment"
                impostor.poll(0.2)
        finally:
            impostor.close()  # a static member leaves no LeaveGroup behind: the membership is the impostor's
        demo.wait_for(lambda: int(demo.status().get("rejoins") or 0) >= 1, 30, "the fenced consumer to rejoin")
        before = demo.processed()
        demo.wait_for(lambda: demo.processed() >= before + 40, 30, "processing to go on after the rejoin")
        assert demo.supervisor.pid(SEMANTIC) == consumer_pid, demo.log_tail()
        assert "FENCED" in demo.log_path.read_text(errors="replace").upper()
        demo.drain_and_audit(consumer_pid)
    finally:
        demo.close()
