"""The embedded 3-node cluster as a user drives it: start, status, info, kill and restart a node, stop, start again.

The tests share one session cluster (``kafka_cluster``) and run in file order: the last one
stops the whole cluster and starts it again, which leaves it running for later modules.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from deliverytui.broker.process import pid_alive
from deliverytui.errors import ExitCode
from deliverytui.kafka.admin import metadata_answers
from deliverytui.kafka.client_config import silent_librdkafka_logger
from tests.cluster_fixtures import ClusterUnderTest
from tests.helpers import run_cli, wait_for
from tests.kafka_helpers import commit

# JVM start-up of three nodes (and a restart) on a busy 2-core machine can take minutes: more than
# the suite's default per-test timeout, which counts the session fixture's setup in the first test.
pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]

LEGACY_KEYS = {"bootstrap", "controller", "kafka_version", "libs_dir", "pid", "data_dir", "log_file", "running",
               "cluster_id", "started_at"}


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap}, logger=silent_librdkafka_logger())


def live_brokers(bootstrap: str) -> set[int]:
    try:
        return set(admin(bootstrap).list_topics(timeout=5).brokers)
    except Exception:  # noqa: BLE001 - not answering
        return set()



def broker(*args: str, cluster: ClusterUnderTest, timeout: float = 60.0):
    return run_cli("broker", *args, "--data-dir", str(cluster.data_dir), timeout=timeout)


def test_start_nodes_3_runs_three_processes_on_their_own_ports(kafka_cluster: ClusterUnderTest) -> None:
    started = kafka_cluster.started
    assert started["started"] is True
    assert started.keys() >= LEGACY_KEYS  # what scripts read from a single broker still means the same
    assert started["node_count"] == 3 and started["nodes_running"] == 3
    assert started["replication_factor"] == 3 and started["min_insync_replicas"] == 2
    nodes = started["nodes"]
    assert [n["id"] for n in nodes] == [1, 2, 3]
    assert len({n["pid"] for n in nodes}) == 3 and all(pid_alive(n["pid"]) for n in nodes)
    ports = {n["bootstrap"] for n in nodes} | {n["controller"] for n in nodes}
    assert len(ports) == 6 and all(p.startswith("127.0.0.1:") for p in ports)
    assert started["bootstrap"] == ",".join(n["bootstrap"] for n in nodes)
    assert (kafka_cluster.data_dir / "cluster.json").exists()
    for n in nodes:
        assert Path(n["data_dir"], "kraft-logs", "meta.properties").exists()
        assert metadata_answers(n["bootstrap"])  # every node answers on its own port
    assert live_brokers(kafka_cluster.bootstrap) == {1, 2, 3}


def test_status_info_and_a_second_start_reuse_the_cluster(kafka_cluster: ClusterUnderTest) -> None:
    status = broker("status", "--json", cluster=kafka_cluster)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] is True and data["nodes_running"] == 3 and data["bootstrap"] == kafka_cluster.bootstrap
    text = broker("status", cluster=kafka_cluster)
    assert text.returncode == 0 and "3/3 nodes" in text.stdout
    info = broker("info", cluster=kafka_cluster)
    assert info.returncode == 0 and "node 2" in info.stdout and "min_insync_replicas: 2" in info.stdout
    again = broker("start", "--json", cluster=kafka_cluster)
    assert again.returncode == 0, again.stderr
    reused = json.loads(again.stdout)
    assert reused["started"] is False and [n["pid"] for n in reused["nodes"]] == [n["pid"] for n in kafka_cluster.started["nodes"]]


def test_default_topics_and_offsets_are_replicated_three_times_with_min_isr_2(kafka_cluster: ClusterUnderTest) -> None:
    topic, group = f"rf-{uuid.uuid4().hex[:8]}", f"rf-{uuid.uuid4().hex[:8]}"
    client = admin(kafka_cluster.bootstrap)
    client.create_topics([NewTopic(topic, 2)], operation_timeout=30)[topic].result(timeout=60)  # broker defaults
    commit(kafka_cluster.bootstrap, group, {(topic, 0): 0})  # creates __consumer_offsets
    metadata = client.list_topics(timeout=10)
    for name in (topic, "__consumer_offsets"):
        partitions = metadata.topics[name].partitions.values()
        assert partitions and all(sorted(p.replicas) == [1, 2, 3] for p in partitions), name
    resource = ConfigResource("topic", topic)
    assert client.describe_configs([resource])[resource].result(timeout=30)["min.insync.replicas"].value == "2"


def test_kill_and_restart_one_node(kafka_cluster: ClusterUnderTest) -> None:
    killed = broker("kill", "--node", "2", "--json", cluster=kafka_cluster)
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout) == {"node": 2, "killed": True, "data_dir": str(kafka_cluster.data_dir)}
    old_pid = kafka_cluster.started["nodes"][1]["pid"]
    assert not pid_alive(old_pid)
    status = broker("status", cluster=kafka_cluster)
    assert status.returncode == ExitCode.NODES_DOWN and "2/3 nodes" in status.stdout and "node(s) 2 down" in status.stdout
    again = broker("kill", "--node", "2", cluster=kafka_cluster)
    assert again.returncode == 0 and "not running" in again.stdout
    # The controllers fence the dead node: it leaves the metadata, the others keep serving.
    wait_for(lambda: live_brokers(kafka_cluster.bootstrap) == {1, 3}, 60, "node 2 to be fenced")

    restarted = broker("restart", "--node", "2", "--json", cluster=kafka_cluster, timeout=240)
    assert restarted.returncode == 0, restarted.stderr
    result = json.loads(restarted.stdout)
    assert result["node"] == 2 and result["was_running"] is False and result["in_sync"] is True
    assert result["bootstrap"] == kafka_cluster.started["nodes"][1]["bootstrap"]  # same port: a static quorum
    assert pid_alive(result["pid"]) and result["pid"] != old_pid
    assert live_brokers(kafka_cluster.bootstrap) == {1, 2, 3}
    status = broker("status", "--json", cluster=kafka_cluster)
    assert status.returncode == 0 and json.loads(status.stdout)["nodes_running"] == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("kill", "--node", "7"), "node 7 does not exist: the cluster in"),
        (("restart", "--node", "0"), "node 0 does not exist"),
        (("kill",), "needs --node N"),
        (("status", "--node", "1"), "--node applies to 'broker kill' and 'broker restart'"),
        (("start", "--nodes", "5"), "holds a 3-node cluster; start it with --nodes 3"),
        (("start", "--port", "9092"), "--port applies to a single-node broker"),
        (("start", "--nodes", "0"), "--nodes must be between 1 and 9"),
    ],
)
def test_bad_cluster_input_is_one_actionable_line(kafka_cluster: ClusterUnderTest, args: tuple[str, ...], expected: str) -> None:
    result = broker(*args, cluster=kafka_cluster)
    assert result.returncode != 0
    assert result.stderr.startswith("deliverytui: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert live_brokers(kafka_cluster.bootstrap) == {1, 2, 3}  # nothing was touched


def test_node_options_on_a_single_node_broker_are_one_line(kafka_broker, kafka_broker_dir: Path) -> None:
    for args, expected in (
        (("kill", "--node", "1"), "--node needs a multi-node cluster"),
        (("restart", "--node", "2"), "--node needs a multi-node cluster"),
        (("start", "--nodes", "3"), "holds a single-node broker; pass another --data-dir"),
    ):
        result = run_cli("broker", *args, "--data-dir", str(kafka_broker_dir))
        assert result.returncode == ExitCode.USAGE, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert metadata_answers(kafka_broker.bootstrap)  # the single broker was left alone


def test_stop_then_start_again_keeps_ports_and_cluster_id(kafka_cluster: ClusterUnderTest) -> None:
    """Last in the file: stops the session cluster and starts it again on the same data dir."""
    stopped = broker("stop", "--json", cluster=kafka_cluster, timeout=120)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] is True
    assert not any(pid_alive(n["pid"]) for n in json.loads(broker("info", "--json", cluster=kafka_cluster).stdout)["nodes"])
    status = broker("status", cluster=kafka_cluster)
    assert status.returncode == ExitCode.BROKER_NOT_RUNNING and "not running" in status.stdout
    assert not any(metadata_answers(n["bootstrap"], timeout=1.0) for n in kafka_cluster.started["nodes"])
    started = broker("start", "--json", cluster=kafka_cluster, timeout=300)  # --nodes is remembered
    assert started.returncode == 0, started.stderr
    again = json.loads(started.stdout)
    assert again["started"] is True and again["nodes_running"] == 3
    assert again["bootstrap"] == kafka_cluster.bootstrap and again["cluster_id"] == kafka_cluster.started["cluster_id"]
    assert live_brokers(kafka_cluster.bootstrap) == {1, 2, 3}
