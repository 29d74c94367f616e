"""The embedded Apache Kafka broker: N ≥ 1 KRaft nodes on 127.0.0.1, one JVM process per node.

One implementation for every size: a single broker is a cluster of one node. Each node
is a combined broker + controller; the controllers form a static quorum of N voters, so a
3-node cluster keeps its quorum (2 of 3) and its data (replication factor 3,
``min.insync.replicas=2``) when one node dies. That is what the demo and the fault tests
use to show leaders moving and ISRs shrinking and growing back.

Pids, ports and versions are recorded in the data dir (see :mod:`deliverytui.broker.state`
for the two layouts: ``broker.json`` for one node, ``cluster.json`` with ``node-N/`` for
more) so that ``stop``, ``status`` and ``info`` work from another shell, and so that a
restart on the same data dir keeps its ports (clients and the TUI keep their bootstrap
address). A cluster node must keep its ports (the quorum is static); a single node may move
to free ports when its recorded ones were taken, since nobody else expects it anywhere.

``--security sasl`` (:mod:`deliverytui.broker.security`) works on any node count: it
rewrites every node's listeners, and after a start creates the principals, their ACLs and
the client files.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deliverytui.broker.distribution import KafkaDistribution, resolve_distribution
from deliverytui.broker.paths import default_data_dir
from deliverytui.broker.process import (
    BrokerStartError,
    NodeFiles,
    format_storage,
    launch,
    reap,
    terminate,
    wait_for_exit,
)
from deliverytui.broker.properties import replication_for, server_properties, write_private
from deliverytui.broker.security import SaslSecurity, broker_security, check_mode
from deliverytui.broker.startup import wait_until_in_sync, wait_until_up
from deliverytui.broker.state import (
    CLUSTER_STATE_FILE,
    STATE_FILE,
    Layout,
    bootstrap_of,
    free_port,
    ordered_nodes,
    port_is_free,
    random_cluster_id,
)
from deliverytui.errors import ExitCode, UserFacingError
from deliverytui.model import BrokerInfo

MAX_NODES = 9


class EmbeddedBroker:
    """The embedded broker of one node or N living in ``data_dir`` (see the module docstring).

    Without ``data_dir``: the default single broker's (:func:`deliverytui.broker.paths.default_data_dir`).
    """

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir if data_dir is not None else default_data_dir()).expanduser().resolve()

    # -- queries -------------------------------------------------------------
    @property
    def layout(self) -> Layout:
        return Layout.of(self.data_dir)

    @property
    def node_count(self) -> int:
        state = self.layout.read()
        return len(state["nodes"]) if state else 0

    def node_running(self, node: int, state: dict | None = None) -> bool:
        layout = self.layout
        state = state or layout.read()
        return bool(state) and layout.node_running(node, state)

    def info(self) -> BrokerInfo | None:
        """The recorded broker; ``running`` is True while at least one node runs.

        A single broker keeps its historical keys. A cluster's ``bootstrap`` lists every node,
        ``pid`` is the first running node's, and ``nodes`` describes each node.
        """
        layout = self.layout
        state = layout.read()
        if not state:
            return None
        nodes = []
        for node, record in ordered_nodes(state):
            files = layout.files(node)
            nodes.append(
                {
                    "id": node,
                    "bootstrap": f"127.0.0.1:{record['port']}",
                    "controller": f"127.0.0.1:{record['controller_port']}",
                    "pid": int(record.get("pid") or 0),
                    "running": layout.node_running(node, state),
                    "data_dir": str(files.home),
                    "log_file": str(files.log_dir / "server.log"),
                }
            )
        up = [n for n in nodes if n["running"]]
        first = up[0] if up else nodes[0]
        extra: dict[str, Any] = {"cluster_id": state.get("cluster_id"), "started_at": state.get("started_at")}
        if not layout.single:
            factor, min_isr = replication_for(len(nodes))
            extra.update(
                node_count=len(nodes), nodes_running=len(up), replication_factor=factor, min_insync_replicas=min_isr, nodes=nodes
            )
        security = self._security(state.get("security"))
        extra.update(security.describe([layout.files(n["id"]).log_dir for n in nodes]) if security else {"security": "none"})
        return BrokerInfo(
            bootstrap=bootstrap_of(state),
            controller=",".join(n["controller"] for n in nodes),
            kafka_version=state["kafka_version"],
            libs_dir=state["libs_dir"],
            pid=first["pid"],
            data_dir=str(self.data_dir),
            log_file=first["log_file"],
            running=bool(up),
            extra=extra,
        )

    def running_info(self) -> BrokerInfo | None:
        info = self.info()
        return info if info and info.running else None

    def check_node(self, node: int) -> None:
        """One-line error unless ``node`` is a node of the cluster in the data dir."""
        layout = self.layout
        if layout.single and layout.state_file.exists():
            raise UserFacingError(
                f"--node needs a multi-node cluster, but {self.data_dir} holds a single-node broker; "
                "start a cluster with 'deliverytui broker start --nodes 3 --data-dir DIR'",
                exit_code=ExitCode.USAGE,
            )
        count = self.node_count
        if count == 0:
            raise UserFacingError(
                f"no cluster was ever started in {self.data_dir}; run 'deliverytui broker start --nodes 3 --data-dir {self.data_dir}'",
                exit_code=ExitCode.USAGE,
            )
        if not 1 <= node <= count:
            raise UserFacingError(f"node {node} does not exist: the cluster in {self.data_dir} has nodes 1-{count}", exit_code=ExitCode.USAGE)

    # -- lifecycle -----------------------------------------------------------
    def start(
        self,
        nodes: int | None = None,
        *,
        port: int | None = None,
        distribution: KafkaDistribution | None = None,
        timeout: float | None = None,
        heap: str | None = None,
        progress=None,
        security: str | None = None,
    ) -> tuple[BrokerInfo, bool]:
        """Start every node that is not running (all of them the first time). Returns ``(info, started_any)``.

        ``nodes`` defaults to the recorded count, else 1. ``port`` (one node only) asks for a client
        port. ``security`` is ``"sasl"`` or ``"none"``; ``None`` keeps the mode recorded in the data dir
        (none at first). Returns once every node answers and the metadata lists all of them.
        """
        if nodes is not None and not 1 <= nodes <= MAX_NODES:
            raise BrokerStartError(f"--nodes must be between 1 and {MAX_NODES}, got {nodes}", exit_code=ExitCode.USAGE)
        layout = Layout.of(self.data_dir, nodes)
        state = layout.read()
        if state is not None:
            recorded = len(state["nodes"])
            if nodes is not None and nodes != recorded:
                if layout.single:
                    raise BrokerStartError(
                        f"{self.data_dir} holds a single-node broker; pass another --data-dir for a {nodes}-node cluster",
                        exit_code=ExitCode.USAGE,
                    )
                raise BrokerStartError(
                    f"{self.data_dir} holds a {recorded}-node cluster; start it with --nodes {recorded}, "
                    "or pass another --data-dir for a different size"
                )
            nodes = recorded
        nodes = nodes or 1
        if port is not None and not layout.single:
            raise BrokerStartError(
                f"--port applies to a single-node broker; a cluster's nodes take free ports, recorded in {CLUSTER_STATE_FILE}",
                exit_code=ExitCode.USAGE,
            )
        mode = (check_mode(security) or "none") if security is not None else ((state or {}).get("security") or "none")
        running = [n for n in range(1, nodes + 1) if state and layout.node_running(n, state)]
        if running:
            running_mode = state.get("security") or "none"
            if mode != running_mode:
                raise BrokerStartError(
                    f"a broker already runs on {self.data_dir} with security {running_mode}; "
                    "stop it first ('deliverytui broker stop') to change it."
                )
        if len(running) == nodes:
            info = self.info()
            assert info is not None
            if port is not None and info.bootstrap != f"127.0.0.1:{port}":
                raise BrokerStartError(
                    f"a broker already runs on {self.data_dir} at {info.bootstrap}; stop it first to change its port."
                )
            return info, False
        dist = distribution or resolve_distribution(progress=progress)
        created = not self.data_dir.exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if created and mode != "none":
            # Only a directory deliverytui made is closed to others: a --data-dir given as /tmp or ~ keeps its
            # mode, and the files that hold passwords are 0600 whatever their directory's mode.
            self.data_dir.chmod(0o700)
        state = state or {"cluster_id": random_cluster_id(), "nodes": {}}
        state.update(kafka_version=dist.kafka_version, libs_dir=str(dist.libs_dir), java=dist.java, security=mode)
        down = [n for n in range(1, nodes + 1) if n not in running]
        self._assign_ports(layout, state, nodes, port, down)
        secured = self._security(mode)
        for node in down:
            self._write_properties(layout, node, state, secured)
        fresh = [layout.files(n) for n in down if not (layout.files(n).kraft_dir / "meta.properties").exists()]
        format_storage(dist, state["cluster_id"], fresh, name_nodes=not layout.single)
        procs = {}
        for node in down:
            procs[node] = launch(dist, layout.files(node), heap or self._heap(layout), secured.log4j_settings() if secured else "")
            state["nodes"][str(node)]["pid"] = procs[node].pid
        state["started_at"] = datetime.now(UTC).isoformat()
        layout.write(state)
        login = secured.client_settings() if secured else None
        try:
            wait_until_up(layout, state, procs, timeout or self._timeout(layout), login)
        except BrokerStartError:
            # A single broker that did not come up is stopped; a cluster's nodes that did are left
            # running, for 'broker status' to show which one is missing.
            if layout.single:
                self.stop()
            raise
        if secured is not None:  # SCRAM users, ACLs and client config files, as admin
            try:
                secured.after_start([f"127.0.0.1:{record['port']}" for _, record in ordered_nodes(state)])
            except BaseException:
                self.stop()  # a secured broker without its principals is of no use to anyone
                raise
        info = self.info()
        assert info is not None
        return info, True

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM every running node at once and wait for all to exit (SIGKILL after ``timeout``).

        False if no node ran. All at once: a node stopped alone waits for the others'
        controllers to approve its controlled shutdown, which the last one never gets.
        """
        layout = self.layout
        state = layout.read()
        if not state:
            return False
        pids = []
        for node, record in ordered_nodes(state):
            pid = int(record.get("pid") or 0)
            if pid and layout.node_running(node, state):
                pids.append(pid)
            elif pid:
                reap(pid)
        terminate(pids, timeout)
        return bool(pids)

    def kill(self, node: int) -> bool:
        """SIGKILL one node (no controlled shutdown: a crash). False if it was not running."""
        self.check_node(node)
        layout = self.layout
        state = layout.read()
        assert state is not None
        if not layout.node_running(node, state):
            return False
        pid = int(state["nodes"][str(node)]["pid"])
        os.kill(pid, signal.SIGKILL)
        wait_for_exit([pid], 10.0)
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
        The security mode is the recorded one: the principals and ACLs live in the metadata log.
        """
        self.check_node(node)
        layout = self.layout
        state = layout.read()
        assert state is not None
        was_running = layout.node_running(node, state)
        if was_running:
            terminate([int(state["nodes"][str(node)]["pid"])], 60.0)
        dist = distribution or resolve_distribution(progress=progress)
        self._check_ports_free(node, state)
        secured = self._security(state.get("security"))
        self._write_properties(layout, node, state, secured)
        proc = launch(dist, layout.files(node), heap, secured.log4j_settings() if secured else "")
        state["nodes"][str(node)]["pid"] = proc.pid
        layout.write(state)
        login = secured.client_settings() if secured else None
        lagging = wait_until_in_sync(layout, state, proc, node, timeout, login)
        return {
            "node": node,
            "pid": proc.pid,
            "bootstrap": f"127.0.0.1:{state['nodes'][str(node)]['port']}",
            "was_running": was_running,
            "in_sync": not lagging,
            "out_of_sync_partitions": lagging,
        }

    # -- helpers -------------------------------------------------------------
    def _security(self, mode: str | None) -> SaslSecurity | None:
        return broker_security(mode or "none", self.data_dir)

    @staticmethod
    def _heap(layout: Layout) -> str:
        return "768m" if layout.single else "512m"  # N JVMs share a small machine

    @staticmethod
    def _timeout(layout: Layout) -> float:
        return 120.0 if layout.single else 180.0

    def _assign_ports(self, layout: Layout, state: dict, nodes: int, port: int | None, down: list[int]) -> None:
        """Ports for the nodes about to start: a single node may move; a cluster's nodes keep theirs."""
        if layout.single:
            record = state["nodes"].get("1", {})
            broker_port = _choose_port(port, record.get("port"))
            controller_port = _choose_port(None, record.get("controller_port"), avoid={broker_port})
            state["nodes"]["1"] = {"port": broker_port, "controller_port": controller_port, "pid": record.get("pid") or 0}
            return
        if not state["nodes"]:  # a new cluster: 2N distinct free ports, kept for the life of the data dir
            taken: set[int] = set()
            for node in range(1, nodes + 1):
                broker_port = _choose_port(None, None, avoid=taken)
                controller_port = _choose_port(None, None, avoid=taken | {broker_port})
                taken |= {broker_port, controller_port}
                state["nodes"][str(node)] = {"port": broker_port, "controller_port": controller_port, "pid": 0}
            return
        for node in down:
            self._check_ports_free(node, state)

    @staticmethod
    def _check_ports_free(node: int, state: dict) -> None:
        record = state["nodes"][str(node)]
        for port in (record["port"], record["controller_port"]):
            if not port_is_free(int(port)):
                raise BrokerStartError(
                    f"port {port} of node {node} on 127.0.0.1 is taken by another process; a cluster node keeps its "
                    f"ports (static controller quorum): free the port or use a new --data-dir"
                )

    @staticmethod
    def _write_properties(layout: Layout, node: int, state: dict, secured: SaslSecurity | None) -> None:
        files: NodeFiles = layout.files(node)
        files.log_dir.mkdir(parents=True, exist_ok=True)
        ports = {n: (int(r["port"]), int(r["controller_port"])) for n, r in ordered_nodes(state)}
        if layout.single:
            header = f"# Written by deliverytui on every start; edit {STATE_FILE}-recorded ports with --port."
        else:
            header = f"# Written by deliverytui on every start of node {node}; ports are recorded in {CLUSTER_STATE_FILE}."
        write_private(files.properties_file, server_properties(node, ports, files.kraft_dir, header=header, security=secured))


def _choose_port(requested: int | None, recorded: int | None, avoid: set[int] = frozenset()) -> int:
    """``requested`` if free (else a one-line error), else ``recorded`` if still free, else a free port."""
    if requested is not None:
        if not port_is_free(requested):
            raise BrokerStartError(f"port {requested} on 127.0.0.1 is already in use; pick another with --port.")
        return requested
    if recorded and recorded not in avoid and port_is_free(int(recorded)):
        return int(recorded)
    while True:
        candidate = free_port()
        if candidate not in avoid:
            return candidate

