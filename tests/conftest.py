"""Shared fixtures: one real embedded Kafka broker per test session, real Redis and PostgreSQL servers.

Fixtures reach the tests from here only (the service fixtures are defined in tests/services.py and
tests/cluster_fixtures.py and tests/security_fixtures.py, and imported below); helpers a test calls live in tests/helpers.py.

The broker is started once (it takes a few seconds of JVM start-up) in a temporary data
dir on free loopback ports; every test gets unique topic and group names so tests never
see each other's data.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from deliverytui.broker.distribution import KafkaDistribution, resolve_distribution
from deliverytui.broker.embedded import EmbeddedBroker
from deliverytui.model import BrokerInfo
from tests.cluster_fixtures import kafka_cluster  # noqa: F401 - fixture: the 3-node cluster, started only if used
from tests.security_fixtures import secured  # noqa: F401 - fixture: the SASL + ACLs broker, started only if used
from tests.services import (  # noqa: F401 - fixtures: real Redis and PostgreSQL on free loopback ports
    dedup_store_url,
    password_postgres,
    password_redis,
    postgres_server,
    postgres_url,
    redis_server,
    redis_url,
    sqlite_url,
)


@pytest.fixture(scope="session")
def kafka_distribution() -> KafkaDistribution:
    return resolve_distribution()


@pytest.fixture(scope="session")
def kafka_broker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kafka-broker")


@pytest.fixture(scope="session")
def kafka_broker(kafka_distribution: KafkaDistribution, kafka_broker_dir: Path) -> Iterator[BrokerInfo]:
    broker = EmbeddedBroker(kafka_broker_dir)
    info, _ = broker.start(distribution=kafka_distribution)
    try:
        yield info
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: BrokerInfo) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names (dots and dashes are legal and realistic)."""
    return uuid.uuid4().hex[:8]


def live_kafka_clients() -> list[str]:
    """The librdkafka clients (producers, consumers, admins) this process still holds, after a collection."""
    import confluent_kafka
    from confluent_kafka import cimpl

    kinds = (confluent_kafka.Producer, confluent_kafka.Consumer, cimpl._AdminClientImpl)
    gc.collect()
    return [type(obj).__name__ for obj in gc.get_objects() if isinstance(obj, kinds)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No librdkafka client may outlive the session: each one left alive crashes the exit now and then.

    A client's threads still run when the process exits; OpenSSL's exit handler (linked into
    librdkafka) then frees locks those threads use, and CI ended in exit 139 after every test had
    passed. Clients the audits cache per cluster are closed here, as the atexit hook would; anything
    else still alive is a leak, and fails the session with its count rather than a core dump.
    """
    from deliverytui.demo.auditor import close_cached_clients

    close_cached_clients()
    deadline = time.monotonic() + 15  # a closing thread (a probe's topic check) may still hold one
    live = live_kafka_clients()
    while live and time.monotonic() < deadline:
        time.sleep(0.5)
        live = live_kafka_clients()
    if live:
        counts = ", ".join(f"{count} {name}" for name, count in sorted(Counter(live).items()))
        session.config.get_terminal_writer().line(f"librdkafka clients still alive after the session: {counts}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
