"""What an embedded broker's data dir records: node ports, pids, cluster id, security mode.

Two on-disk layouts exist, and both stay readable because data dirs outlive upgrades:

- a single broker: ``<data-dir>/broker.json`` (flat: ``pid``, ``port``, ``controller_port``, ...)
  with its files directly in the data dir;
- a cluster: ``<data-dir>/cluster.json`` (``nodes: {"1": {port, controller_port, pid}, ...}``)
  with each node's files in ``<data-dir>/node-N/``.

:class:`Layout` hides the difference: the rest of the broker sees one shape, the cluster
one, where a single broker is a cluster of one node. Nothing here imports a Kafka client,
so :func:`running_bootstrap` can answer "which broker runs?" for ``resolve_bootstrap``
without pulling the broker in.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deliverytui.broker.paths import default_cluster_dir, default_data_dir
from deliverytui.kafka.client_config import DEFAULT_BOOTSTRAP

if TYPE_CHECKING:
    from deliverytui.broker.process import NodeFiles

STATE_FILE = "broker.json"
CLUSTER_STATE_FILE = "cluster.json"
#: The flat keys of a single broker's broker.json that are not per-node (kept in this order on write).
_SHARED_KEYS = ("kafka_version", "libs_dir", "java", "cluster_id", "started_at", "security")


def read_state_file(path: Path) -> dict | None:
    """A broker or cluster state file (pids, ports), or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_state_file(path: Path, state: dict) -> None:
    """Write ``state`` atomically (a half-written file would lose the pids of running JVMs)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)


def is_cluster_dir(data_dir: Path) -> bool:
    """True when ``data_dir`` holds a multi-node layout (``cluster.json``)."""
    return (Path(data_dir).expanduser() / CLUSTER_STATE_FILE).exists()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what random-uuid prints).

    Like Kafka's ``Uuid.randomUuid``, never one starting with '-': the storage tool would
    read it as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def ordered_nodes(state: dict) -> list[tuple[int, dict]]:
    """``(node id, record)`` for every node, by id."""
    return sorted(((int(k), v) for k, v in state["nodes"].items()), key=lambda kv: kv[0])


def bootstrap_of(state: dict) -> str:
    """Every node's client address, comma-separated (what clients are given)."""
    return ",".join(f"127.0.0.1:{record['port']}" for _, record in ordered_nodes(state))


@dataclass(frozen=True)
class Layout:
    """Where the state and the nodes of one data dir live; ``single`` is the broker.json layout."""

    data_dir: Path
    single: bool

    @classmethod
    def of(cls, data_dir: Path, nodes: int | None = None) -> Layout:
        """The layout already on disk, else the one for ``nodes`` (one node: the single-broker layout)."""
        data_dir = Path(data_dir).expanduser().resolve()
        if (data_dir / CLUSTER_STATE_FILE).exists():
            return cls(data_dir, single=False)
        if (data_dir / STATE_FILE).exists():
            return cls(data_dir, single=True)
        return cls(data_dir, single=(nodes or 1) == 1)

    @property
    def state_file(self) -> Path:
        return self.data_dir / (STATE_FILE if self.single else CLUSTER_STATE_FILE)

    def files(self, node: int) -> NodeFiles:
        # Imported here: every command resolves its bootstrap through this module, and broker.process
        # (subprocess, importlib.resources, tempfile) is ~15 ms that `snapshot --bootstrap H` never needs.
        from deliverytui.broker.process import NodeFiles

        return NodeFiles(node, self.data_dir if self.single else self.data_dir / f"node-{node}")

    def read(self) -> dict | None:
        """The state in the cluster shape (``nodes: {"1": {...}}``), whichever layout is on disk."""
        raw = read_state_file(self.state_file)
        if raw is None or not self.single:
            return raw
        state = {key: raw.get(key) for key in _SHARED_KEYS}
        state["nodes"] = {"1": {"port": raw["port"], "controller_port": raw["controller_port"], "pid": raw.get("pid") or 0}}
        return state

    def write(self, state: dict) -> None:
        if not self.single:
            write_state_file(self.state_file, state)
            return
        node = state["nodes"]["1"]
        flat = {"pid": node.get("pid") or 0, "port": node["port"], "controller_port": node["controller_port"]}
        flat.update((key, state.get(key)) for key in _SHARED_KEYS)
        write_state_file(self.state_file, flat)

    def node_running(self, node: int, state: dict) -> bool:
        from deliverytui.broker.process import pid_is_our_broker

        record = state["nodes"].get(str(node))
        return bool(record and record.get("pid")) and pid_is_our_broker(int(record["pid"]), self.files(node).properties_file)


def running_bootstrap(data_dir: Path | None = None) -> str | None:
    """The bootstrap address of the embedded broker in ``data_dir`` while a node of it runs, else None.

    Without ``data_dir``: the default single broker's, else the default cluster's. Reads
    files and /proc only (no network call), so it is cheap enough for every command.
    """
    for candidate in [data_dir] if data_dir is not None else [default_data_dir(), default_cluster_dir()]:
        layout = Layout.of(candidate)
        state = layout.read()
        if state and any(layout.node_running(node, state) for node, _ in ordered_nodes(state)):
            return bootstrap_of(state)
    return None


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _loopback_ports(bootstrap: str) -> set[int]:
    """The ports of ``bootstrap``'s loopback addresses (where an embedded broker listens)."""
    ports = set()
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if host in _LOOPBACK_NAMES and port.isdigit():
            ports.add(int(port))
    return ports


def secured_embedded_dir(bootstrap: str) -> Path | None:
    """The data dir of the running embedded broker (or cluster) at ``bootstrap`` when it runs ``--security sasl``.

    A client that connects to it without SASL is disconnected, which librdkafka reports as
    "brokers are down": this is how the CLI can say "this broker needs SASL" and name the
    client file to pass instead. Reads files and /proc only, like :func:`running_bootstrap`.
    """
    wanted = _loopback_ports(bootstrap)
    if not wanted:  # not on this machine's loopback: no embedded broker of ours
        return None
    for candidate in (default_data_dir(), default_cluster_dir()):
        layout = Layout.of(candidate)
        state = layout.read()
        if not state or state.get("security") != "sasl":
            continue
        running = [node for node, _ in ordered_nodes(state) if layout.node_running(node, state)]
        if running and wanted & _loopback_ports(bootstrap_of(state)):
            return layout.data_dir
    return None


def resolve_bootstrap(explicit: str | None, *, file_config: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Pick the bootstrap servers and say where they came from.

    Order: ``--bootstrap``, then ``$KAFKA_BOOTSTRAP_SERVERS``, then ``bootstrap.servers``
    from the ``--config`` file, then the running embedded broker (the default single broker,
    else the default cluster: :func:`running_bootstrap`, which reads pid files and /proc
    only), then ``localhost:9092``. This is the only place that asks which embedded broker
    runs; it lives with the broker's state so that ``kafka/`` never imports ``broker/``.
    """
    if explicit:
        return explicit, "--bootstrap"
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        return env, "$KAFKA_BOOTSTRAP_SERVERS"
    if file_config and file_config.get("bootstrap.servers"):
        return file_config["bootstrap.servers"], "bootstrap.servers in --config"
    embedded = running_bootstrap()
    if embedded:
        return embedded, "the running embedded broker"
    return DEFAULT_BOOTSTRAP, "the default"
