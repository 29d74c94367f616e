"""``server.properties`` of one embedded KRaft node, for a broker of one node or a cluster of N.

Every node is a combined broker + controller on 127.0.0.1; the controllers of all nodes form
a static quorum (``controller.quorum.voters``), which is why a node keeps its ports for the
life of its data dir. Replication follows the node count (:func:`replication_for`): one node
must still run consumer groups and transactions, so every internal topic gets replication
factor 1 there; three nodes get 3 and ``min.insync.replicas=2`` so one may die. The initial
rebalance delay is 0 so groups form immediately, which the demo and the tests rely on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

SHARE_RECORD_LOCK_MS = 4000
"""How long a share-group consumer holds a record it acquired before the broker gives it to another."""
SHARE_SESSION_TIMEOUT_MS = 6000
"""How long a share-group member that died keeps its partitions (Kafka's default and floor: 45 s)."""
SHARE_MIN_RECORD_LOCK_MS = 1000
"""The floor the broker accepts for the lock (Kafka's own floor, 15 s, is above our 4 s)."""


class ServerSecurity(Protocol):
    """What a security mode does to the properties (see :mod:`deliverytui.broker.security`)."""

    def server_settings(self, settings: Mapping[str, object]) -> dict[str, object]: ...


def replication_for(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) the cluster uses by default: 3 and 2 on three nodes."""
    factor = min(3, nodes)
    return factor, max(1, factor - 1)


def server_properties(
    node: int,
    ports: Mapping[int, tuple[int, int]],
    kraft_dir: Path,
    *,
    header: str,
    security: ServerSecurity | None = None,
) -> str:
    """The properties file of ``node``; ``ports`` maps every node id to its (client port, controller port).

    ``header`` is the comment line on top (it says where the ports are recorded).
    """
    port, controller_port = ports[node]
    factor, min_isr = replication_for(len(ports))
    voters = ",".join(f"{n}@127.0.0.1:{ports[n][1]}" for n in sorted(ports))
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(kraft_dir),
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
        # Share groups (the lab's queue consumer): a record a consumer acquired and never acknowledged
        # (it crashed) comes back when its lock expires. Kafka's 30 s default (15 s minimum) would hide
        # the redelivery from a lab watched live; 4 s shows it. The delivery count limit stays
        # Kafka's default (SHARE_DELIVERY_COUNT_LIMIT in deliverytui.demo.semantics says it, 5).
        "group.share.min.record.lock.duration.ms": SHARE_MIN_RECORD_LOCK_MS,
        "group.share.record.lock.duration.ms": SHARE_RECORD_LOCK_MS,
        # A crashed worker stays assigned its partitions until its session expires, and while it does
        # nobody fetches them: the expired locks are not redelivered for Kafka's 45 s. Measured on this
        # broker: a crash at 676.4 s, redelivery at 721.98 s. 6 s, like the classic consumers' sessions.
        "group.share.min.session.timeout.ms": SHARE_SESSION_TIMEOUT_MS,
        "group.share.session.timeout.ms": SHARE_SESSION_TIMEOUT_MS,
        "group.share.min.heartbeat.interval.ms": 1000,
        "group.share.heartbeat.interval.ms": 1000,
    }
    if len(ports) > 1:
        # A killed node is fenced (its leaderships move, it leaves every ISR) after this long;
        # with one node there is nobody to move to, so the broker's default stays.
        settings["broker.session.timeout.ms"] = 6000
    settings.update(
        {
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
        }
    )
    if security is not None:  # SASL listeners, JAAS, the StandardAuthorizer
        settings = security.server_settings(settings)
    lines = [header] + [f"{k}={v}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (0600), replacing it atomically.

    Why every ``server.properties`` goes through here, secured or not: a secured node's file holds
    the admin password in its JAAS line, and a file written 0644 once (before ``--security sasl``)
    must not keep that mode when it starts holding one. The file is created 0600 (no moment
    where others could read it) and renamed over the old one.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an old tmp file keeps its mode through O_CREAT
        handle.write(text)
    os.replace(tmp, path)
