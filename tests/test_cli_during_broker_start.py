"""Journey 2.5, the CLI half: ``snapshot`` and ``groups`` fired while brokers start give one line or a whole
table and a documented exit code, never a core dump or a cut-off message.

Right after ``broker start`` librdkafka 2.x segfaults in ``rd_kafka_ListConsumerGroupOffsetsResponse_parse``
(the group coordinator is brand new: NOT_COORDINATOR, then a crash), and the coordinator's empty error
text printed as ``Kafka error while describing group 'x': ConsumerGroupDescribe:``. This test starts its
own broker (the session broker has long settled) on fresh and on reused data dirs, and fires the real CLI
at it from the moment each start begins until a moment after it returns.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.embedded import EmbeddedBroker
from deliverytui.errors import ExitCode
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.kafka_helpers import commit, create_topic
from tests.services import free_port

pytestmark = pytest.mark.kafka

DOCUMENTED_CODES = {code.value for code in ExitCode}
#: Invocations fired once ``start`` has returned, two at a time: the moment the crashes and cut-off messages
#: happened. With those fired while each start runs, the test makes at least 20.
AFTER_START = 10


def _check_one(command: str, args: tuple[str, ...], result: subprocess.CompletedProcess[str], group: str) -> str | None:
    """What is wrong with one invocation's outcome, or None."""
    shown = f"{command} exit {result.returncode}: stdout={result.stdout[-300:]!r} stderr={result.stderr[-300:]!r}"
    if result.returncode not in DOCUMENTED_CODES:
        return f"undocumented exit code (a crash?): {shown}"
    if "Traceback" in result.stderr:
        return f"traceback: {shown}"
    if result.returncode != 0:
        lines = result.stderr.splitlines()
        if len(lines) != 1 or result.stdout or not lines[0].startswith("deliverytui: error: "):
            return f"not exactly one error line: {shown}"
        if re.search(r"[:;,]\s*$", lines[0]):
            return f"cut-off message: {shown}"
        return None
    if result.stderr:
        return f"exit 0 with stderr: {shown}"
    if command == "groups":
        complete = result.stdout in ("(no consumer groups)\n",) or (
            result.stdout.startswith("GROUP ") and result.stdout.endswith("\n")
        )
    else:
        lines = result.stdout.splitlines()
        complete = (
            len(lines) >= 3
            and lines[0].startswith(f"Group {group}: ")
            and lines[0].endswith(" UTC")
            and lines[2].startswith("TOPIC ")
        )
    return None if complete else f"incomplete output: {shown}"


def test_cli_while_brokers_start_gives_one_line_and_a_documented_code(
    tmp_path: Path, kafka_distribution: KafkaDistribution, unique: str
) -> None:
    port = free_port()
    group, topic = f"start-{unique}", f"start-{unique}"
    outcomes: list[tuple[str, tuple[str, ...], subprocess.CompletedProcess[str]]] = []
    bootstrap = f"127.0.0.1:{port}"

    def fire(command: str) -> None:
        args = (command, "--bootstrap", bootstrap, "--timeout", "3") + (("--group", group) if command == "snapshot" else ())
        outcomes.append((command, args, run_cli(*args, timeout=60)))

    # Fresh storage (the group coordinator is created by the first request), then a restart on the same
    # storage (the coordinator reloads the group committed in between).
    broker = EmbeddedBroker(tmp_path / "broker")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for index in range(2):
            starting = threading.Thread(target=broker.start, kwargs={"port": port, "distribution": kafka_distribution})
            starting.start()
            try:
                commands = iter(["snapshot", "groups"] * 100)
                while starting.is_alive():  # during the start: one invocation at a time (the JVM needs the CPU)
                    fire(next(commands))
                starting.join()
                assert broker.running_info() is not None, "the broker did not start"
                list(pool.map(fire, ["snapshot", "groups"] * (AFTER_START // 2)))
                if index == 0:
                    create_topic(bootstrap, topic, 2)
                    commit(bootstrap, group, {(topic, 0): 0, (topic, 1): 0})
            finally:
                starting.join()
                broker.stop()

    problems = [problem for command, args, result in outcomes if (problem := _check_one(command, args, result, group))]
    assert len(outcomes) >= 20, f"only {len(outcomes)} invocations"
    assert not problems, "\n".join(problems)
    # The restart's snapshots after start found the committed group: whole tables, exit 0.
    assert any(command == "snapshot" and result.returncode == 0 for command, _, result in outcomes)


def _children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_the_forked_client_never_outlives_the_command() -> None:
    """SIGKILL the CLI while its child waits on a "broker" that accepts connections and never answers: the
    child goes too."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the connections; nobody ever reads or answers
    proc = subprocess.Popen(
        [sys.executable, "-m", "deliverytui", "snapshot", "--bootstrap", f"127.0.0.1:{silent.getsockname()[1]}",
         "--group", "g", "--timeout", "30"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        children: list[int] = []

        def has_child() -> bool:
            children[:] = _children_of(proc.pid)
            return bool(children)

        wait_for(has_child, 20, "the CLI's forked Kafka client")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not Path(f"/proc/{children[0]}").exists() or _is_zombie(children[0]), 10, "the child to die")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        silent.close()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True
