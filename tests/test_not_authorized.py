""""Not allowed to see" is never shown as "no lag": the missing ACL is named, with exit code NOT_AUTHORIZED (9).

On the session's secured broker (tests/security_fixtures.py), principals are made with exactly the
ACLs each case needs: Describe on the group only (Kafka then hides the group's topics from
OffsetFetch, and refuses ListOffsets on them), or nothing at all (ListGroups then lists nothing).
And a client without SASL against the secured embedded broker is told which client file to pass.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from deliverytui.cli import build_parser, viewer_config
from deliverytui.errors import ExitCode
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.widgets.panels import ConnectionBanner, GroupHeader
from tests.helpers import run_cli
from tests.security_fixtures import Secured, seed
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}


def assert_one_line(result, code: ExitCode) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr


def group_only_principal(secured: Secured, group: str, name: str, directory: Path) -> Path:
    """Describe on ``group`` and nothing else: the group is visible, its topics are not."""
    return secured.add_principal(name, [("group", group, "literal", "describe")], directory)


def test_snapshot_names_the_missing_topic_acl_instead_of_no_lag(secured: Secured, unique: str, tmp_path: Path) -> None:
    topic, group, name = f"hidden-{unique}", f"hidden-{unique}", f"group-only-{unique}"
    seed(secured.config("writer"), topic, {0: 5, 1: 3}, group, {(topic, 0): 2, (topic, 1): 1})
    viewer = group_only_principal(secured, group, name, tmp_path)
    for extra in ([], ["--json"]):
        started = time.monotonic()
        result = run_cli("snapshot", "--group", group, "--config", str(viewer), *extra, env=NO_ENV_BOOTSTRAP)
        line = assert_one_line(result, ExitCode.NOT_AUTHORIZED)
        assert time.monotonic() - started < 15
        assert f"principal User:{name} may lack Describe on the group's topics" in line
        assert "ACL needed: DESCRIBE on TOPIC" in line and "not 0" in line
        assert "total lag" not in line
    # The same principal with Describe on the topic too sees the truth: lag 3 + 2.
    viewer_ok = secured.add_principal(
        f"{name}-ok", [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe")], tmp_path
    )
    result = run_cli("snapshot", "--group", group, "--config", str(viewer_ok), "--json", env=NO_ENV_BOOTSTRAP)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_lag"] == 5


def test_a_live_member_names_the_topic_it_cannot_describe(secured: Secured, unique: str, tmp_path: Path) -> None:
    """With a member, the assignment names the topic, and Kafka's ListOffsets refusal is turned into its ACL."""
    topic, group, name = f"assigned-{unique}", f"assigned-{unique}", f"member-viewer-{unique}"
    seed(secured.config("writer"), topic, {0: 4}, group, {(topic, 0): 1})
    viewer = group_only_principal(secured, group, name, tmp_path)
    member = Consumer(
        {**secured.config("writer"), "group.id": group, "enable.auto.commit": False, "session.timeout.ms": 45000}
    )
    member.subscribe([topic])
    try:
        deadline = time.monotonic() + 60
        while not member.assignment():
            assert time.monotonic() < deadline, "the member got no assignment"
            member.poll(0.2)
        result = run_cli("snapshot", "--group", group, "--config", str(viewer), env=NO_ENV_BOOTSTRAP)
    finally:
        member.close()
    line = assert_one_line(result, ExitCode.NOT_AUTHORIZED)
    assert f"principal User:{name} lacks Describe on topic {topic} (ACL needed: DESCRIBE on TOPIC {topic})" in line


def test_groups_without_any_describe_names_the_cluster_acl(secured: Secured, unique: str, tmp_path: Path) -> None:
    name = f"no-acl-{unique}"
    nobody = secured.add_principal(name, [], tmp_path)
    for extra in ([], ["--json"]):
        line = assert_one_line(run_cli("groups", "--config", str(nobody), *extra, env=NO_ENV_BOOTSTRAP), ExitCode.NOT_AUTHORIZED)
        assert f"principal User:{name} lacks Describe on cluster kafka-cluster (ACL needed: DESCRIBE on CLUSTER kafka-cluster)" in line
    # A principal without Describe on the group gets the group's ACL named, not "does not exist".
    line = assert_one_line(
        run_cli("snapshot", "--group", f"any-{unique}", "--config", str(nobody), env=NO_ENV_BOOTSTRAP), ExitCode.NOT_AUTHORIZED
    )
    assert f"lacks Describe on group any-{unique} (ACL needed: DESCRIBE on GROUP any-{unique})" in line


async def test_the_live_view_says_which_acl_is_missing_not_lag_0(secured: Secured, unique: str, tmp_path: Path) -> None:
    topic, group, name = f"view-hidden-{unique}", f"view-hidden-{unique}", f"view-group-only-{unique}"
    seed(secured.config("writer"), topic, {0: 6}, group, {(topic, 0): 2})
    viewer = group_only_principal(secured, group, name, tmp_path)
    args = build_parser().parse_args(["--group", group, "--config", str(viewer), "--refresh", "0.3", "--timeout", "15"])
    app = DeliveryApp(viewer_config(args))
    async with app.run_test(size=(160, 48)) as pilot:
        banner = app.query_one(ConnectionBanner)
        await wait_until(
            pilot, lambda: banner.has_class("-visible") and "ACL needed" in str(banner.render()), timeout=60, what="the ACL banner"
        )
        text = str(banner.render())
        assert f"principal User:{name} may lack Describe on the group's topics" in text
        assert "ACL needed: DESCRIBE on TOPIC" in text
        assert app.update is None  # no snapshot was taken as the truth
        assert "total lag 0" not in str(app.query_one(GroupHeader).render())


def test_snapshot_on_the_secured_embedded_broker_without_config_names_the_client_file(secured: Secured, tmp_path: Path) -> None:
    """Finding 8: "this broker needs SASL: use --config <data-dir>/client-reader.properties", not "cannot reach Kafka"."""
    env = {**NO_ENV_BOOTSTRAP, "DELIVERYTUI_BROKER_DIR": str(secured.data_dir), "DELIVERYTUI_CLUSTER_DIR": str(tmp_path / "none")}
    expected = f"needs SASL: use --config {secured.data_dir / 'client-reader.properties'}"
    for command in (["snapshot", "--group", "g"], ["snapshot", "--group", "g", "--bootstrap", secured.bootstrap], ["groups"]):
        started = time.monotonic()
        line = assert_one_line(run_cli(*command, env=env), ExitCode.AUTH_FAILED)
        assert expected in line and "cannot reach" not in line
        assert time.monotonic() - started < 10
