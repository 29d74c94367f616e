"""Waiting for started nodes: until they answer and join the cluster, and until a restarted one is back in sync.

A start is only done when clients can use the broker, so these waits ask Kafka itself
(metadata requests, as ``admin`` on a secured broker) rather than trusting the process. A
JVM that exits during the wait is reported with the last error of its log, which is nearly
always the reason (a port taken, a corrupt log dir).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping

from deliverytui.broker.process import BrokerStartError, last_log_error
from deliverytui.broker.state import Layout, bootstrap_of
from deliverytui.kafka.admin import admin_client


def _address(state: dict, node: int) -> str:
    return f"127.0.0.1:{state['nodes'][str(node)]['port']}"


def wait_until_up(
    layout: Layout, state: dict, procs: Mapping[int, subprocess.Popen], timeout: float, login: Mapping[str, str] | None
) -> None:
    """Until every started node answers on its own port and the metadata lists every running node."""
    expected = {int(n) for n in state["nodes"]}
    deadline = time.monotonic() + timeout
    pending = dict(procs)
    while True:
        for node, proc in procs.items():
            if proc.poll() is not None:
                log_dir = layout.files(node).log_dir
                who = "the Kafka broker" if layout.single else f"Kafka node {node}"
                raise BrokerStartError(
                    f"{who} exited with code {proc.returncode} during start-up: {last_log_error(log_dir)} "
                    f"(see {log_dir / 'server.log'})"
                )
        for node in list(pending):
            admin = admin_client({**(login or {}), "bootstrap.servers": _address(state, node),
                                  "socket.connection.setup.timeout.ms": 1000})
            try:
                brokers = set(admin.list_topics(timeout=1.0).brokers)
            except Exception:  # noqa: BLE001 - not answering yet
                brokers = set()
            down = {n for n in expected if not layout.node_running(n, state)}
            if node in brokers and brokers >= expected - down:
                del pending[node]
        if not pending:
            return
        if time.monotonic() > deadline:
            log = layout.files(min(pending)).log_dir / "server.log"
            if layout.single:
                raise BrokerStartError(
                    f"the Kafka broker did not answer on {bootstrap_of(state)} within {timeout:.0f}s (see {log})"
                )
            raise BrokerStartError(
                f"Kafka node(s) {', '.join(map(str, sorted(pending)))} did not join the cluster in {layout.data_dir} "
                f"within {timeout:.0f}s (see {log})"
            )
        time.sleep(0.3)


def out_of_sync(state: dict, node: int, login: Mapping[str, str] | None) -> list[str]:
    """``topic:partition`` of every partition that ``node`` replicates but is not in the ISR of."""
    admin = admin_client({**(login or {}), "bootstrap.servers": bootstrap_of(state)})
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


def wait_until_in_sync(
    layout: Layout, state: dict, proc: subprocess.Popen, node: int, timeout: float, login: Mapping[str, str] | None
) -> list[str]:
    """Until restarted ``node`` answers and is back in every ISR; the partitions still lagging at ``timeout``."""
    deadline = time.monotonic() + timeout
    wait_until_up(layout, state, {node: proc}, timeout, login)
    lagging = out_of_sync(state, node, login)
    while lagging and time.monotonic() < deadline:
        time.sleep(0.5)
        lagging = out_of_sync(state, node, login)
    return lagging
