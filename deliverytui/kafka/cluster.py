"""The embedded multi-node cluster: N KRaft nodes on 127.0.0.1, one JVM process per node.

Each node is a combined broker + controller; the controllers form a static quorum of
N voters, so a 3-node cluster keeps its quorum (2 of 3) and its data (replication
factor 3, ``min.insync.replicas=2``) when one node dies. That is what the demo and
the fault tests use to show leaders moving and ISRs shrinking and growing back.

Layout of the data dir::

    <data-dir>/cluster.json              node count, cluster id, every node's ports and pid
    <data-dir>/node-N/server.properties  written on every start of that node
    <data-dir>/node-N/kraft-logs/        its log dir (formatted once, with the cluster id)
    <data-dir>/node-N/logs/server.log    its broker log

A node keeps its ports for the life of the data dir: the controller quorum is
static (``controller.quorum.voters``), so a restarted node must come back where the
others expect it, and clients keep their bootstrap address.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from deliverytui.errors import UserFacingError
from deliverytui.kafka.distribution import KafkaDistribution, resolve_distribution
from deliverytui.kafka.embedded import (
    BrokerStartError,
    _pid_alive,
    _pid_is_our_broker,
    _random_cluster_id,
    _reap,
    default_data_dir,
    free_port,
    port_is_free,
    read_state_file,
    write_state_file,
)
from deliverytui.model import BrokerInfo

CLUSTER_STATE_FILE = "cluster.json"
MAX_NODES = 9


def default_cluster_dir() -> Path:
    """``$DELIVERYTUI_CLUSTER_DIR``, else a ``cluster`` directory beside the single broker's data dir."""
    base = os.environ.get("DELIVERYTUI_CLUSTER_DIR")
    return Path(base) if base else default_data_dir().parent / "cluster"


def replication_for(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) the cluster uses by default: 3 and 2 on three nodes."""
    factor = min(3, nodes)
    return factor, max(1, factor - 1)


def is_cluster_dir(data_dir: Path) -> bool:
    return (Path(data_dir).expanduser() / CLUSTER_STATE_FILE).exists()


class EmbeddedCluster:
    """N KRaft nodes living in ``data_dir`` (see the module docstring)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()

    # -- files ---------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.data_dir / CLUSTER_STATE_FILE

    def node_dir(self, node: int) -> Path:
        return self.data_dir / f"node-{node}"

    def properties_file(self, node: int) -> Path:
        return self.node_dir(node) / "server.properties"

    def log_dir(self, node: int) -> Path:
        return self.node_dir(node) / "logs"

    def kraft_dir(self, node: int) -> Path:
        return self.node_dir(node) / "kraft-logs"

    def _read_state(self) -> dict | None:
        return read_state_file(self.state_file)

    def _write_state(self, state: dict) -> None:
        write_state_file(self.state_file, state)

    # -- queries -------------------------------------------------------------
    @property
    def node_count(self) -> int:
        state = self._read_state()
        return len(state["nodes"]) if state else 0

    def node_running(self, node: int, state: dict | None = None) -> bool:
        state = state or self._read_state()
        if not state:
            return False
        record = state["nodes"].get(str(node))
        return bool(record and record.get("pid")) and _pid_is_our_broker(int(record["pid"]), self.properties_file(node))

    @staticmethod
    def bootstrap_of(state: dict) -> str:
        return ",".join(f"127.0.0.1:{n['port']}" for _, n in sorted(state["nodes"].items(), key=lambda kv: int(kv[0])))

    def info(self) -> BrokerInfo | None:
        """The recorded cluster; ``running`` is True while at least one node runs (``nodes_running`` says how many).

        The keys of a single broker's :class:`BrokerInfo` keep their meaning (``bootstrap`` lists
        every node, ``pid`` is the first running node's); ``nodes`` describes each node.
        """
        state = self._read_state()
        if not state:
            return None
        nodes = []
        for key, record in sorted(state["nodes"].items(), key=lambda kv: int(kv[0])):
            node = int(key)
            running = self.node_running(node, state)
            nodes.append(
                {
                    "id": node,
                    "bootstrap": f"127.0.0.1:{record['port']}",
                    "controller": f"127.0.0.1:{record['controller_port']}",
                    "pid": int(record.get("pid") or 0),
                    "running": running,
                    "data_dir": str(self.node_dir(node)),
                    "log_file": str(self.log_dir(node) / "server.log"),
                }
            )
        up = [n for n in nodes if n["running"]]
        factor, min_isr = replication_for(len(nodes))
        return BrokerInfo(
            bootstrap=self.bootstrap_of(state),
            controller=",".join(n["controller"] for n in nodes),
            kafka_version=state["kafka_version"],
            libs_dir=state["libs_dir"],
            pid=(up[0] if up else nodes[0])["pid"],
            data_dir=str(self.data_dir),
            log_file=(up[0] if up else nodes[0])["log_file"],
            running=bool(up),
            extra={
                "cluster_id": state.get("cluster_id"),
                "started_at": state.get("started_at"),
                "node_count": len(nodes),
                "nodes_running": len(up),
                "replication_factor": factor,
                "min_insync_replicas": min_isr,
                "nodes": nodes,
            },
        )

    def running_info(self) -> BrokerInfo | None:
        info = self.info()
        return info if info and info.running else None

    def check_node(self, node: int) -> None:
        count = self.node_count
        if count == 0:
            raise UserFacingError(
                f"no cluster was ever started in {self.data_dir}; run 'deliverytui broker start --nodes 3 --data-dir {self.data_dir}'"
            )
        if not 1 <= node <= count:
            raise UserFacingError(f"node {node} does not exist: the cluster in {self.data_dir} has nodes 1-{count}", exit_code=2)

    # -- lifecycle -----------------------------------------------------------
    def start(
        self,
        nodes: int | None = None,
        *,
        distribution: KafkaDistribution | None = None,
        timeout: float = 180.0,
        heap: str = "512m",
        progress=None,
    ) -> tuple[BrokerInfo, bool]:
        """Start every node that is not running (all of them the first time). Returns ``(info, started_any)``.

        Returns once every node answers and the cluster's metadata lists all of them.
        """
        state = self._read_state()
        if state is not None:
            recorded = len(state["nodes"])
            if nodes is not None and nodes != recorded:
                raise BrokerStartError(
                    f"{self.data_dir} holds a {recorded}-node cluster; start it with --nodes {recorded}, "
                    "or pass another --data-dir for a different size"
                )
            nodes = recorded
        nodes = nodes or 3
        if not 1 <= nodes <= MAX_NODES:
            raise BrokerStartError(f"--nodes must be between 1 and {MAX_NODES}, got {nodes}", exit_code=2)
        if state is not None and all(self.node_running(n, state) for n in range(1, nodes + 1)):
            info = self.info()
            assert info is not None
            return info, False
        dist = distribution or resolve_distribution(progress=progress)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if state is None:
            state = self._new_state(nodes, dist)
        state.update(kafka_version=dist.kafka_version, libs_dir=str(dist.libs_dir), java=dist.java)
        down = [n for n in range(1, nodes + 1) if not self.node_running(n, state)]
        for node in down:
            self._check_ports_free(node, state)
            self._write_properties(node, state)
        self._format(dist, state, [n for n in down if not (self.kraft_dir(n) / "meta.properties").exists()])
        procs = {}
        for node in down:
            procs[node] = self._launch(dist, node, heap)
            state["nodes"][str(node)]["pid"] = procs[node].pid
        state["started_at"] = datetime.now(timezone.utc).isoformat()
        self._write_state(state)
        self._wait_until_up(state, procs, timeout)
        info = self.info()
        assert info is not None
        return info, True

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM every running node at once and wait for all to exit (SIGKILL after ``timeout``).

        False if no node ran. All at once: a node stopped alone waits for the others'
        controllers to approve its controlled shutdown, which the last one never gets.
        """
        state = self._read_state()
        if not state:
            return False
        pids = []
        for key, record in state["nodes"].items():
            pid = int(record.get("pid") or 0)
            if pid and self.node_running(int(key), state):
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            elif pid:
                _reap(pid)
        _wait_for_exit(pids, timeout)
        return bool(pids)

    def kill(self, node: int) -> bool:
        """SIGKILL one node (no controlled shutdown: a crash). False if it was not running."""
        self.check_node(node)
        state = self._read_state()
        assert state is not None
        if not self.node_running(node, state):
            return False
        pid = int(state["nodes"][str(node)]["pid"])
        os.kill(pid, signal.SIGKILL)
        _wait_for_exit([pid], 10.0)
        return True

    def restart(
        self,
        node: int,
        *,
        distribution: KafkaDistribution | None = None,
        timeout: float = 120.0,
        heap: str = "512m",
        progress=None,
    ) -> dict[str, Any]:
        """Stop ``node`` if it runs (gracefully), start it again on its data dir and ports, and wait
        until it answers and is back in the ISR of every partition it replicates.

        Returns ``{"node", "pid", "bootstrap", "was_running", "in_sync", "out_of_sync_partitions"}``;
        ``in_sync`` is False when the node answers but has not caught up within ``timeout``.
        """
        self.check_node(node)
        state = self._read_state()
        assert state is not None
        was_running = self.node_running(node, state)
        if was_running:
            pid = int(state["nodes"][str(node)]["pid"])
            os.kill(pid, signal.SIGTERM)
            _wait_for_exit([pid], 60.0)
        dist = distribution or resolve_distribution(progress=progress)
        self._check_ports_free(node, state)
        self._write_properties(node, state)
        proc = self._launch(dist, node, heap)
        state["nodes"][str(node)]["pid"] = proc.pid
        self._write_state(state)
        deadline = time.monotonic() + timeout
        self._wait_until_up(state, {node: proc}, timeout)
        lagging = self._out_of_sync(state, node)
        while lagging and time.monotonic() < deadline:
            time.sleep(0.5)
            lagging = self._out_of_sync(state, node)
        return {
            "node": node,
            "pid": proc.pid,
            "bootstrap": f"127.0.0.1:{state['nodes'][str(node)]['port']}",
            "was_running": was_running,
            "in_sync": not lagging,
            "out_of_sync_partitions": lagging,
        }

    # -- helpers -------------------------------------------------------------
    def _new_state(self, nodes: int, dist: KafkaDistribution) -> dict:
        taken: set[int] = set()

        def pick() -> int:
            while True:
                port = free_port()
                if port not in taken:
                    taken.add(port)
                    return port

        return {
            "cluster_id": _random_cluster_id(),
            "kafka_version": dist.kafka_version,
            "libs_dir": str(dist.libs_dir),
            "java": dist.java,
            "nodes": {str(n): {"port": pick(), "controller_port": pick(), "pid": 0} for n in range(1, nodes + 1)},
        }

    def _check_ports_free(self, node: int, state: dict) -> None:
        record = state["nodes"][str(node)]
        for port in (record["port"], record["controller_port"]):
            if not port_is_free(int(port)):
                raise BrokerStartError(
                    f"port {port} of node {node} on 127.0.0.1 is taken by another process; a cluster node keeps its "
                    f"ports (static controller quorum): free the port or use a new --data-dir"
                )

    def _write_properties(self, node: int, state: dict) -> None:
        self.log_dir(node).mkdir(parents=True, exist_ok=True)
        nodes = state["nodes"]
        factor, min_isr = replication_for(len(nodes))
        record = nodes[str(node)]
        voters = ",".join(
            f"{n}@127.0.0.1:{r['controller_port']}" for n, r in sorted(nodes.items(), key=lambda kv: int(kv[0]))
        )
        settings = {
            "process.roles": "broker,controller",
            "node.id": node,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{record['port']},CONTROLLER://127.0.0.1:{record['controller_port']}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{record['port']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.kraft_dir(node)),
            "num.partitions": 1,
            "default.replication.factor": factor,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": factor,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": factor,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": 10,
            "share.coordinator.state.topic.replication.factor": factor,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": 0,
            # A killed node is fenced (its leaderships move, it leaves every ISR) after this long.
            "broker.session.timeout.ms": 6000,
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
        }
        lines = [f"# Written by deliverytui on every start of node {node}; ports are recorded in {CLUSTER_STATE_FILE}."]
        lines += [f"{k}={v}" for k, v in settings.items()]
        self.properties_file(node).write_text("\n".join(lines) + "\n")

    def _format(self, dist: KafkaDistribution, state: dict, nodes: list[int]) -> None:
        """Format the storage of ``nodes`` with the cluster id (in parallel: each is a JVM start)."""
        running = []
        for node in nodes:
            command = dist.java_command(
                "kafka.tools.StorageTool", "format", "--cluster-id", state["cluster_id"],
                "--config", str(self.properties_file(node)), "--ignore-formatted",
                jvm_args=("-Dlog4j2.level=ERROR",),
            )
            running.append((node, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        for node, proc in running:
            try:
                out, _ = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            if proc.returncode != 0:
                reason = (out or "").strip().splitlines()[-1:] or ["no output"]
                raise BrokerStartError(f"formatting the KRaft storage of node {node} in {self.kraft_dir(node)} failed: {reason[0]}")

    def _launch(self, dist: KafkaDistribution, node: int, heap: str) -> subprocess.Popen:
        log4j = self.node_dir(node) / "log4j2.properties"
        log4j.write_bytes(resources.files("deliverytui.kafka").joinpath("log4j2.properties").read_bytes())
        command = dist.java_command(
            "kafka.Kafka",
            str(self.properties_file(node)),
            jvm_args=(
                f"-Xmx{heap}",
                "-Xms128m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={self.log_dir(node)}",
            ),
        )
        stdout = open(self.log_dir(node) / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI that started it
                cwd=self.node_dir(node),
            )
        finally:
            stdout.close()

    def _wait_until_up(self, state: dict, procs: dict[int, subprocess.Popen], timeout: float) -> None:
        """Until every started node answers on its own port and the cluster metadata lists every node."""
        from confluent_kafka.admin import AdminClient

        from deliverytui.kafka.client_config import silent_librdkafka_logger

        expected = {int(n) for n in state["nodes"]}
        deadline = time.monotonic() + timeout
        pending = dict(procs)
        while True:
            for node, proc in procs.items():
                if proc.poll() is not None:
                    raise BrokerStartError(
                        f"Kafka node {node} exited with code {proc.returncode} during start-up: "
                        f"{_last_log_error(self.log_dir(node))} (see {self.log_dir(node) / 'server.log'})"
                    )
            for node in list(pending):
                admin = AdminClient(
                    {"bootstrap.servers": f"127.0.0.1:{state['nodes'][str(node)]['port']}",
                     "socket.connection.setup.timeout.ms": 1000},
                    logger=silent_librdkafka_logger(),
                )
                try:
                    brokers = set(admin.list_topics(timeout=1.0).brokers)
                except Exception:  # noqa: BLE001 - not answering yet
                    brokers = set()
                if node in brokers and brokers >= expected - {n for n in expected if not self.node_running(n, state)}:
                    del pending[node]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"Kafka node(s) {', '.join(map(str, sorted(pending)))} did not join the cluster in {self.data_dir} "
                    f"within {timeout:.0f}s (see {self.log_dir(min(pending)) / 'server.log'})"
                )
            time.sleep(0.3)

    def _out_of_sync(self, state: dict, node: int) -> list[str]:
        """``topic:partition`` of every partition that ``node`` replicates but is not in the ISR of."""
        from confluent_kafka.admin import AdminClient

        from deliverytui.kafka.client_config import silent_librdkafka_logger

        admin = AdminClient({"bootstrap.servers": self.bootstrap_of(state)}, logger=silent_librdkafka_logger())
        try:
            metadata = admin.list_topics(timeout=5.0)
        except Exception:  # noqa: BLE001 - cannot tell yet: treat as not in sync
            return ["(metadata unavailable)"]
        return sorted(
            f"{topic.topic}:{p.id}"
            for topic in metadata.topics.values()
            for p in topic.partitions.values()
            if node in p.replicas and node not in p.isrs
        )


def _wait_for_exit(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        for pid in alive:
            _reap(pid)
        alive = [pid for pid in alive if _pid_alive(pid)]
        if alive:
            time.sleep(0.2)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    for _ in range(50):
        for pid in alive:
            _reap(pid)
        alive = [pid for pid in alive if _pid_alive(pid)]
        if not alive:
            return
        time.sleep(0.1)


def _last_log_error(log_dir: Path) -> str:
    for name in ("server.log", "stdout.log"):
        try:
            lines = (log_dir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines[-200:]):
            if "ERROR" in line or "Exception" in line:
                return line.strip()[:300]
    return "no error in the log"


def running_cluster_bootstrap(data_dir: Path | None = None) -> str | None:
    """The bootstrap list of the embedded cluster when a node of it runs, else None (no network call)."""
    info = EmbeddedCluster(data_dir or default_cluster_dir()).running_info()
    return info.bootstrap if info else None
