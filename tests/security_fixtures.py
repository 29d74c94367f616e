"""The secured embedded broker for the tests that need one: started once per session, only if asked for.

``deliverytui broker start --security sasl`` (SASL + ACLs), run through the CLI as a user would, in a
temporary data dir, and stopped at the end of the session by its data dir (the plain session broker is not
touched). Every test file shares this one broker: each test makes its own topics, groups and principals
(:meth:`Secured.add_principal`), so they never see each other's data. Its authorizer log records every
authorization decision with principal, operation and request, which is how the tests prove what
deliverytui did and did not send (:meth:`Secured.audit`).

The ``create_topic``/``produce``/``commit``/``seed`` helpers here put data in as a principal (a client
config dict), where tests/kafka_helpers.py's work on the plain broker by bootstrap.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from deliverytui.kafka.client_config import load_properties
from deliverytui.kafka.security import add_scram_user, create_acls

_AUDIT = re.compile(
    r"Principal = (?P<principal>\S+) is (?P<decision>Allowed|Denied) operation = (?P<operation>\S+) "
    r"from host = \S+ on resource = (?P<resource>\S+) for request = (?P<request>\S+)"
)


@dataclass
class Secured:
    """The running secured broker: its data dir (client files, authorizer log) and what ``broker start`` printed."""

    data_dir: Path
    bootstrap: str
    start_output: str

    def config_file(self, user: str) -> Path:
        return self.data_dir / f"client-{user}.properties"

    def config(self, user: str) -> dict[str, str]:
        return load_properties(self.config_file(user))

    @property
    def authorizer_log(self) -> Path:
        return self.data_dir / "logs" / "kafka-authorizer.log"

    def audit(self, principal: str) -> list[dict[str, str]]:
        """The authorizer's decisions for ``User:principal``."""
        entries = []
        for line in self.authorizer_log.read_text(errors="replace").splitlines():
            match = _AUDIT.search(line)
            if match and match["principal"] == f"User:{principal}":
                entries.append(match.groupdict())
        return entries

    def add_principal(self, name: str, grants: list[tuple[str, str, str, str]], directory: Path) -> Path:
        """A SCRAM user with exactly ``grants`` as ACLs; returns its --config file."""
        password = f"pw-{name}-{time.monotonic_ns()}"
        settings = add_scram_user(self.config("admin"), name, password)
        if grants:
            create_acls(self.config("admin"), f"User:{name}", grants)
        file = directory / f"{name}.properties"
        file.write_text(f"bootstrap.servers={self.bootstrap}\n" + "".join(f"{k}={v}\n" for k, v in settings.items()))
        return file


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    from tests.helpers import run_cli

    data_dir = tmp_path_factory.mktemp("kafka-secured")
    try:
        started = run_cli("broker", "start", "--security", "sasl", "--data-dir", str(data_dir), timeout=240)
        assert started.returncode == 0, started.stderr
        state = json.loads((data_dir / "broker.json").read_text())
        yield Secured(data_dir, f"127.0.0.1:{state['port']}", started.stdout)
    finally:
        run_cli("broker", "stop", "--data-dir", str(data_dir), timeout=90)


# -- data, written as the 'writer' principal ------------------------------------------------
def create_topic(config: dict, topic: str, partitions: int) -> None:
    admin = AdminClient(config)
    admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30)[topic].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        if meta and meta.error is None and all(p.leader >= 0 for p in meta.partitions.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} has no leader")


def produce(config: dict, topic: str, counts: dict[int, int]) -> None:
    producer = Producer({**config, "enable.idempotence": True})
    for partition, count in counts.items():
        for i in range(count):
            producer.produce(topic, value=f"{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def commit(config: dict, group: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        consumer.close()


def seed(config: dict, topic: str, produced: dict[int, int], group: str, committed: dict[tuple[str, int], int]) -> None:
    """Create ``topic`` with one partition per key of ``produced``, write those records, and commit for ``group``."""
    create_topic(config, topic, len(produced))
    produce(config, topic, produced)
    commit(config, group, committed)
