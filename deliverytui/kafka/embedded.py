"""The embedded Apache Kafka broker: one KRaft node (broker + controller) on 127.0.0.1.

The broker is a background ``java kafka.Kafka server.properties`` process. Its pid,
ports and versions are recorded in ``<data-dir>/broker.json`` so that ``stop``,
``status`` and ``info`` work from another shell, and so that a restart on the same
data dir keeps its ports (clients and the TUI keep their bootstrap address).

A single node must still run consumer groups and transactions, so every internal
topic gets replication factor 1 and min ISR 1, and the initial rebalance delay is 0
(groups form immediately, which the demo and the tests rely on).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from deliverytui.errors import UserFacingError
from deliverytui.kafka.distribution import KafkaDistribution, resolve_distribution
from deliverytui.model import BrokerInfo

STATE_FILE = "broker.json"
NODE_ID = 1


class BrokerStartError(UserFacingError):
    exit_code = 7


def default_data_dir() -> Path:
    base = os.environ.get("DELIVERYTUI_BROKER_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "deliverytui" / "broker"


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    # A zombie (our own child that exited) is not a running broker.
    return "\nState:\tZ" not in status


def _pid_is_our_broker(pid: int, properties: Path) -> bool:
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    return b"kafka.Kafka" in cmdline and str(properties).encode() in cmdline


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def metadata_answers(bootstrap: str, timeout: float = 2.0, config: Mapping[str, object] | None = None) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request within ``timeout``.

    ``config`` adds client settings (the SASL login of a secured broker).
    """
    from confluent_kafka.admin import AdminClient

    from deliverytui.kafka.client_config import silent_librdkafka_logger

    admin = AdminClient(
        {**(config or {}), "bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000},
        logger=silent_librdkafka_logger(),
    )
    try:
        metadata = admin.list_topics(timeout=timeout)
        return bool(metadata.brokers)
    except Exception:
        return False


@dataclass
class EmbeddedBroker:
    """A single-node KRaft broker living in ``data_dir``."""

    data_dir: Path

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self._security = None  # security: set by start() for --security (deliverytui.kafka.security)

    # -- files ---------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def kraft_dir(self) -> Path:
        return self.data_dir / "kraft-logs"

    def _read_state(self) -> dict | None:
        return read_state_file(self.state_file)

    def _write_state(self, state: dict) -> None:
        write_state_file(self.state_file, state)

    # -- queries -------------------------------------------------------------
    def info(self) -> BrokerInfo | None:
        """The recorded broker, with ``running`` telling whether its process is alive."""
        state = self._read_state()
        if not state:
            return None
        running = bool(state.get("pid")) and _pid_is_our_broker(int(state["pid"]), self.properties_file)
        return BrokerInfo(
            bootstrap=f"127.0.0.1:{state['port']}",
            controller=f"127.0.0.1:{state['controller_port']}",
            kafka_version=state["kafka_version"],
            libs_dir=state["libs_dir"],
            pid=int(state.get("pid") or 0),
            data_dir=str(self.data_dir),
            log_file=str(self.log_dir / "server.log"),
            running=running,
            extra={
                "cluster_id": state.get("cluster_id"),
                "started_at": state.get("started_at"),
                **_security_info(state, self.data_dir),  # security: the mode, client config files, authorizer log
            },
        )

    def running_info(self) -> BrokerInfo | None:
        info = self.info()
        return info if info and info.running else None

    # -- lifecycle -----------------------------------------------------------
    def start(
        self,
        *,
        port: int | None = None,
        distribution: KafkaDistribution | None = None,
        timeout: float = 120.0,
        heap: str = "768m",
        progress=None,
        security: str | None = None,
    ) -> tuple[BrokerInfo, bool]:
        """Start the broker, or reuse it when already running. Returns ``(info, started_now)``.

        Returns only once the broker answers a metadata request. ``security`` is ``"sasl"``
        or ``"none"``; ``None`` keeps the mode recorded in the data dir (none at first).
        """
        existing = self.running_info()
        # -- security (deliverytui.kafka.security): pick the mode, refuse to change a running broker's --
        security_mode = _security_mode(security, self._read_state())
        running_mode = (existing.extra.get("security") or "none") if existing is not None else None
        if existing is not None and security_mode != running_mode:
            raise BrokerStartError(
                f"a broker already runs on {self.data_dir} with security {running_mode}; "
                "stop it first ('deliverytui broker stop') to change it."
            )
        # -- end security --
        if existing is not None:
            if port is not None and existing.bootstrap != f"127.0.0.1:{port}":
                raise BrokerStartError(
                    f"a broker already runs on {self.data_dir} at {existing.bootstrap}; stop it first to change its port."
                )
            return existing, False
        dist = distribution or resolve_distribution(progress=progress)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        previous = self._read_state() or {}
        broker_port = self._choose_port(port, previous.get("port"))
        controller_port = self._choose_port(None, previous.get("controller_port"), avoid={broker_port})
        cluster_id = previous.get("cluster_id") or _random_cluster_id()
        self._security = _broker_security(security_mode, self.data_dir)  # security: None for a plain broker
        self.properties_file.write_text(self._server_properties(broker_port, controller_port))
        if not (self.kraft_dir / "meta.properties").exists():
            self._format_storage(dist, cluster_id)
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_bytes(resources.files("deliverytui.kafka").joinpath("log4j2.properties").read_bytes())
        if self._security is not None:  # security: the authorizer log
            log4j.write_text(log4j.read_text() + self._security.log4j_settings())
        command = dist.java_command(
            "kafka.Kafka",
            str(self.properties_file),
            jvm_args=(
                f"-Xmx{heap}",
                "-Xms128m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={self.log_dir}",
            ),
        )
        stdout = open(self.log_dir / "stdout.log", "ab")
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI that started it; Ctrl-C in that shell does not kill it
                cwd=self.data_dir,
            )
        finally:
            stdout.close()
        state = {
            "pid": proc.pid,
            "port": broker_port,
            "controller_port": controller_port,
            "kafka_version": dist.kafka_version,
            "libs_dir": str(dist.libs_dir),
            "java": dist.java,
            "cluster_id": cluster_id,
            "started_at": datetime.now(timezone.utc).isoformat(),
            "security": security_mode,
        }
        self._write_state(state)
        bootstrap = f"127.0.0.1:{broker_port}"
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise BrokerStartError(
                    f"the Kafka broker exited with code {proc.returncode} during start-up: {self._last_log_error()} "
                    f"(see {self.log_dir / 'server.log'})"
                )
            login = self._security.client_settings() if self._security is not None else None  # security: log in as admin
            if metadata_answers(bootstrap, timeout=1.0, config=login):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerStartError(
                    f"the Kafka broker did not answer on {bootstrap} within {timeout:.0f}s (see {self.log_dir / 'server.log'})"
                )
            time.sleep(0.3)
        if self._security is not None:  # security: SCRAM users, ACLs and client config files, as admin
            try:
                self._security.after_start(bootstrap)
            except BaseException:
                self.stop()
                raise
        info = self.info()
        assert info is not None
        return info, True

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM the broker and wait for it to exit (SIGKILL after ``timeout``). False if none ran."""
        state = self._read_state()
        if not state or not state.get("pid"):
            return False
        pid = int(state["pid"])
        if not _pid_is_our_broker(pid, self.properties_file):
            _reap(pid)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not _pid_alive(pid):
                return True
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            _reap(pid)
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
        return True

    # -- helpers -------------------------------------------------------------
    @staticmethod
    def _choose_port(requested: int | None, recorded: int | None, avoid: set[int] = frozenset()) -> int:
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

    def _server_properties(self, port: int, controller_port: int) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": NODE_ID,
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.kraft_dir),
            "num.partitions": 1,
            "default.replication.factor": 1,
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 10,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
        }
        if self._security is not None:  # security: SASL listeners, JAAS, the StandardAuthorizer
            settings = self._security.server_settings(settings)
        lines = ["# Written by deliverytui on every start; edit broker.json-recorded ports with --port."]
        lines += [f"{k}={v}" for k, v in settings.items()]
        return "\n".join(lines) + "\n"

    def _format_storage(self, dist: KafkaDistribution, cluster_id: str) -> None:
        command = dist.java_command(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.properties_file),
            "--ignore-formatted",
            jvm_args=("-Dlog4j2.level=ERROR",),
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            reason = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise BrokerStartError(f"formatting the KRaft storage in {self.kraft_dir} failed: {reason[0]}")

    def _last_log_error(self) -> str:
        for name in ("server.log", "stdout.log"):
            path = self.log_dir / name
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in reversed(lines[-200:]):
                if "ERROR" in line or "Exception" in line:
                    return line.strip()[:300]
        return "no error in the log"


def _random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what random-uuid prints).

    Like Kafka's ``Uuid.randomUuid``, never one starting with '-': the storage tool would
    read it as an option.
    """
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


# -- security (deliverytui.kafka.security, imported only for a secured broker) -------------------
def _security_mode(requested: str | None, state: dict | None) -> str:
    """``"none"`` or ``"sasl"``: the requested mode, else the one recorded in broker.json."""
    if requested is None:
        return (state or {}).get("security") or "none"
    from deliverytui.kafka.security import check_mode

    return check_mode(requested) or "none"


def _broker_security(mode: str, data_dir: Path):
    if mode == "none":
        return None
    from deliverytui.kafka.security import broker_security

    return broker_security(mode, data_dir)


def _security_info(state: dict, data_dir: Path) -> dict:
    """``broker info``'s security fields: the mode, and for a secured broker its client config files."""
    security = _broker_security(state.get("security") or "none", data_dir)
    return security.describe() if security is not None else {"security": "none"}


def running_embedded_bootstrap(data_dir: Path | None = None) -> str | None:
    """The bootstrap address of the embedded broker when it runs, else None (no network call).

    Without ``data_dir``: the default single broker, else the default multi-node cluster.
    """
    info = EmbeddedBroker(data_dir or default_data_dir()).running_info()
    if info is None and data_dir is None:
        from deliverytui.kafka.cluster import running_cluster_bootstrap

        return running_cluster_bootstrap()
    return info.bootstrap if info else None
