"""Kafka's own console consumer as a JVM consumer under test, with deliverytui's probe interceptor."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.probe_jar import INTERCEPTOR_CLASS

#: The values the tests produce (``P-I`` from tests/kafka_helpers.py, ``I`` from tests/security_fixtures.py, ``x``).
RECORD_VALUE = re.compile(r"\d+(-\d+)?|x")


class ConsoleConsumer:
    """Kafka's console consumer as a child process, counting the records it prints (:data:`RECORD_VALUE`; the
    tool also prints a deprecation notice for ``--consumer-property`` on stdout). Every other line is kept in
    :attr:`log`, stdout's (log4j2's default configuration logs to stdout) and stderr's."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.printed = 0
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._count, daemon=True)
        self._reader.start()
        self._errors = threading.Thread(target=self._keep_stderr, daemon=True)
        self._errors.start()

    def _keep_stderr(self) -> None:
        assert self.process.stderr is not None
        self.log.extend(self.process.stderr)

    def _count(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if RECORD_VALUE.fullmatch(line.strip()):
                self.printed += 1
            else:
                self.log.append(line)


@contextmanager
def console_consumer(
    dist: KafkaDistribution, jar: Path, bootstrap: str, topic: str, group: str, protocol: str, *extra: str,
    command_config: Path | None = None, jvm_args: tuple[str, ...] = (),
) -> Iterator[ConsoleConsumer]:
    """``extra``: more ``--consumer-property`` values; ``command_config``: a properties file (secrets stay off argv)."""
    properties = [f"interceptor.classes={INTERCEPTOR_CLASS}", f"group.protocol={protocol}",
                  "deliverytui.probe.interval.ms=300", "auto.commit.interval.ms=300", *extra]
    command = [
        dist.java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", *jvm_args, "-cp", f"{dist.classpath}:{jar}",
        "org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server", bootstrap, "--topic", topic,
        "--group", group, "--from-beginning",
    ]
    for prop in properties:
        command += ["--consumer-property", prop]
    if command_config is not None:
        command += ["--command-config", str(command_config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield ConsoleConsumer(process)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
