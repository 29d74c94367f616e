"""The TUI's Kafka client runs in a child process: its crash is a banner, never a dead UI."""

from __future__ import annotations

import os
import signal

import pytest

from deliverytui.errors import ClusterUnreachableError, UnknownGroupError
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.isolated import IsolatedGroupInspector
from tests.kafka_helpers import commit, create_topic, produce

pytestmark = pytest.mark.kafka


def test_same_snapshot_as_in_process_and_survives_a_child_crash(bootstrap: str, unique: str) -> None:
    topic, group = f"iso-{unique}", f"iso-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 4, 1: 2})
    commit(bootstrap, group, {(topic, 0): 1, (topic, 1): 2})
    isolated = IsolatedGroupInspector(bootstrap, request_timeout=5)
    try:
        remote = isolated.snapshot(group)
        local = GroupInspector(bootstrap).snapshot(group)
        assert remote.partitions == local.partitions and remote.state == local.state
        assert remote.coordinator == local.coordinator

        # A child that died between polls is replaced before the next request.
        assert isolated._proc is not None
        os.kill(isolated._proc.pid, signal.SIGKILL)
        isolated._proc.wait()
        assert isolated.snapshot(group).partitions == local.partitions
        assert isolated.restarts == 1

        # A librdkafka assertion aborts the child mid-request: the caller gets one error, then a fresh child.
        with pytest.raises(ClusterUnreachableError, match="stopped"):
            isolated._call({"op": "abort"})
        assert isolated.snapshot(group).partitions == local.partitions

        with pytest.raises(UnknownGroupError):
            isolated.snapshot(f"missing-{unique}")
        assert group in [g.group_id for g in isolated.list_groups()]
    finally:
        isolated.close()


def test_unreachable_cluster_through_the_child() -> None:
    isolated = IsolatedGroupInspector("127.0.0.1:1", request_timeout=3)
    try:
        with pytest.raises(ClusterUnreachableError, match="127.0.0.1:1"):
            isolated.snapshot("any")
    finally:
        isolated.close()
