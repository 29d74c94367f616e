"""The 3-node embedded cluster for the tests that need one: started once per session, only if asked for.

It is started the way a user starts it (``deliverytui broker start --nodes 3``, in a
subprocess), so the CLI tests can check what that command printed, and stopped at the end
of the session by its data dir (never by process name: other Kafka processes may be running).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deliverytui.broker.embedded import EmbeddedBroker


@dataclass
class ClusterUnderTest:
    data_dir: Path
    bootstrap: str
    started: dict[str, Any]  # what `broker start --nodes 3 --json` printed

    @property
    def cluster(self) -> EmbeddedBroker:
        return EmbeddedBroker(self.data_dir)


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory, kafka_distribution) -> Iterator[ClusterUnderTest]:
    from tests.helpers import run_cli

    data_dir = tmp_path_factory.mktemp("kafka-cluster")
    result = run_cli("broker", "start", "--nodes", "3", "--data-dir", str(data_dir), "--json", timeout=300)
    try:
        assert result.returncode == 0, result.stderr
        started = json.loads(result.stdout)
        yield ClusterUnderTest(data_dir, started["bootstrap"], started)
    finally:
        EmbeddedBroker(data_dir).stop()
