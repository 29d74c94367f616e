"""The JVM processes of the embedded broker: launch, format storage, pid checks, reaping, stop and wait.

Every node of every embedded broker (one node or N) is the same kind of process: a
``java kafka.Kafka server.properties`` in its own session, so that it outlives the CLI that
started it and Ctrl-C in that shell does not kill it. Its pid is recorded on disk; a pid is
only trusted while ``/proc`` says it is a ``kafka.Kafka`` running *our* properties file, since
pids are reused after a reboot or a crash.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.errors import ExitCode, UserFacingError
from deliverytui.kafka.child_process import child_environment


class BrokerStartError(UserFacingError):
    """The broker could not be brought up as asked (a port taken, a JVM that exited, a timeout)."""

    exit_code = ExitCode.BROKER_START_FAILED


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (our own child that exited) does not count."""
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
    return "\nState:\tZ" not in status


def pid_is_our_broker(pid: int, properties: Path) -> bool:
    """True when ``pid`` is a live ``kafka.Kafka`` started with ``properties`` (no /proc: trust the pid)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return b"kafka.Kafka" in cmdline and str(properties).encode() in cmdline


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for_exit(pids: Sequence[int], timeout: float) -> None:
    """Wait until every pid has exited; SIGKILL those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        for pid in alive:
            reap(pid)
        alive = [pid for pid in alive if pid_alive(pid)]
        if alive:
            time.sleep(0.2)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    for _ in range(50):
        for pid in alive:
            reap(pid)
        alive = [pid for pid in alive if pid_alive(pid)]
        if not alive:
            return
        time.sleep(0.1)


def terminate(pids: Sequence[int], timeout: float) -> None:
    """SIGTERM every pid at once, then :func:`wait_for_exit`.

    All at once: a node of a cluster stopped alone waits for the others' controllers to
    approve its controlled shutdown, which the last one never gets.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    wait_for_exit(pids, timeout)


def last_log_error(log_dir: Path) -> str:
    """The last ERROR or exception line of a node's logs: why a JVM died during start-up."""
    for name in ("server.log", "stdout.log"):
        try:
            lines = (log_dir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines[-200:]):
            if "ERROR" in line or "Exception" in line:
                return line.strip()[:300]
    return "no error in the log"


@dataclass(frozen=True)
class NodeFiles:
    """Where one node keeps its files (the data dir itself for a single broker, ``node-N/`` in a cluster)."""

    node: int
    home: Path

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def kraft_dir(self) -> Path:
        return self.home / "kraft-logs"

    @property
    def log4j_file(self) -> Path:
        return self.home / "log4j2.properties"


def format_storage(dist: KafkaDistribution, cluster_id: str, nodes: Sequence[NodeFiles], *, name_nodes: bool) -> None:
    """Format the KRaft storage of ``nodes`` with ``cluster_id``, in parallel (each is a JVM start).

    ``name_nodes`` says "of node N" in the error, which only helps when there are several.
    """
    running = []
    for files in nodes:
        command = dist.java_command(
            "kafka.tools.StorageTool", "format", "--cluster-id", cluster_id,
            "--config", str(files.properties_file), "--ignore-formatted",
            jvm_args=("-Dlog4j2.level=ERROR",),
        )
        running.append(
            (files, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_environment()))
        )
    for files, proc in running:
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            reason = (out or "").strip().splitlines()[-1:] or ["no output"]
            which = f"of node {files.node} " if name_nodes else ""
            raise BrokerStartError(f"formatting the KRaft storage {which}in {files.kraft_dir} failed: {reason[0]}")


def launch(dist: KafkaDistribution, files: NodeFiles, heap: str, extra_log4j: str = "") -> subprocess.Popen:
    """Start one node's JVM in the background (its own session), logging to its ``logs/``."""
    files.log_dir.mkdir(parents=True, exist_ok=True)
    log4j = files.log4j_file
    log4j.write_bytes(resources.files("deliverytui.broker").joinpath("log4j2.properties").read_bytes() + extra_log4j.encode())
    command = dist.java_command(
        "kafka.Kafka",
        str(files.properties_file),
        jvm_args=(
            f"-Xmx{heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={files.log_dir}",
        ),
    )
    stdout = open(files.log_dir / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI that started it; Ctrl-C in that shell does not kill it
            cwd=files.home,
            env=child_environment(),  # a JVM that lives for days keeps no store password of its caller
        )
    finally:
        stdout.close()
