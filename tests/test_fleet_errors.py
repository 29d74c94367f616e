"""The fleet on a secured cluster: a group this principal may list but not describe gets its own
one-line error, and every other group still shows with its lag (real SASL broker, real ACLs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deliverytui.kafka.client_config import load_properties
from deliverytui.kafka.fleet_collector import FleetCollector
from tests.helpers import run_cli
from tests.security_fixtures import Secured, commit, seed

pytestmark = pytest.mark.kafka
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}


def test_a_group_refused_alone_gets_an_error_and_the_others_still_show(secured: Secured, unique: str, tmp_path: Path) -> None:
    topic, seen, hidden = f"fleet-acl-{unique}", f"fleet-seen-{unique}", f"fleet-hidden-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 6, 1: 4}, seen, {(topic, 0): 2, (topic, 1): 4})
    commit(writer, hidden, {(topic, 0): 1})
    # Describe on the cluster lists every group; Describe on only one of the two groups, and on the topic.
    viewer = secured.add_principal(
        f"fleet-viewer-{unique}",
        [("cluster", "kafka-cluster", "literal", "describe"), ("group", seen, "literal", "describe"),
         ("topic", topic, "literal", "describe")],
        tmp_path,
    )
    reading = FleetCollector(secured.bootstrap, load_properties(viewer), request_timeout=20).read()
    groups = {g.group_id: g for g in reading.groups}
    assert groups[seen].error is None and groups[seen].total_lag == 4 and groups[seen].topics == (topic,)
    refused = groups[hidden]
    assert refused.error is not None and "\n" not in refused.error and refused.total_lag is None
    assert "authoriz" in refused.error.lower()

    listed = run_cli("groups", "--config", str(viewer), "--json", env=NO_ENV_BOOTSTRAP)
    assert listed.returncode == 0, listed.stderr
    by_id = {g["group"]: g for g in json.loads(listed.stdout)}
    assert by_id[seen]["total_lag"] == 4 and "error" not in by_id[seen]
    assert by_id[hidden]["total_lag"] is None and "authoriz" in by_id[hidden]["error"].lower()
