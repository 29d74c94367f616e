"""Share groups: bad input and hostile conditions give one line and a documented exit code, never a traceback.

- a cluster without share groups (``share.version=0``, set with Kafka's own ``kafka-features downgrade``
  on a throwaway one-node broker): exit 22 naming ``share.version``;
- a principal without Describe on the share group (the session's secured broker): exit 9 naming the ACL;
  the authorized principal (SCRAM) and the admin (PLAIN) see the group through the Java helper, whose
  argv and environment never hold the password; a wrong password through the helper is exit 4 without it;
- the Java admin helper never outlives a command, and exits when its parent is SIGKILLed (stdin EOF);
- ``snapshot --positions`` on a share group: the one-line usage error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import ShareConsumer

from deliverytui.broker.admin_helper import MAIN_CLASS, admin_helper_command
from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.embedded import EmbeddedBroker
from deliverytui.errors import AuthenticationError, ExitCode
from deliverytui.kafka.java_admin import JavaAdmin, java_properties
from tests.helpers import REPO_ROOT, run_cli
from tests.kafka_helpers import create_topic as create_plain_topic
from tests.security_fixtures import Secured, create_topic, produce
from tests.share_helpers import kafka_tool, share_groups

pytestmark = pytest.mark.kafka
FEATURE_COMMAND = "org.apache.kafka.tools.FeatureCommand"
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}


def assert_one_line(result: subprocess.CompletedProcess[str], code: ExitCode) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr


# -- helper processes seen while a command runs ---------------------------------------------------
def _children() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(root: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_watching_helpers(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict[int, str]]:
    """Run the CLI like :func:`run_cli`, recording the argv of every Java admin helper it starts (pid -> argv)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "deliverytui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})}, cwd=REPO_ROOT,
    )  # fmt: skip
    helpers: dict[int, str] = {}
    while process.poll() is None:
        for pid in _descendants(process.pid) - helpers.keys():
            argv = _cmdline(pid)
            if MAIN_CLASS in argv:
                helpers[pid] = argv
        time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), helpers


# -- a cluster without share groups ---------------------------------------------------------------
def test_a_cluster_without_share_groups_gives_exit_22_naming_share_version(
    kafka_distribution: KafkaDistribution, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(tmp_path / "no-shares")
    try:
        info, _ = broker.start(distribution=kafka_distribution)
        downgraded = kafka_tool(
            kafka_distribution, FEATURE_COMMAND, "--bootstrap-server", info.bootstrap, "downgrade", "--feature", "share.version=0"
        )
        assert downgraded.returncode == 0, downgraded.stderr or downgraded.stdout
        described = kafka_tool(kafka_distribution, FEATURE_COMMAND, "--bootstrap-server", info.bootstrap, "describe")
        assert "FinalizedVersionLevel: 0" in next(line for line in described.stdout.splitlines() if "share.version" in line)
        for extra in ([], ["--json"]):
            result, helpers = run_watching_helpers("snapshot", "--bootstrap", info.bootstrap, "--group", "some-share-group", *extra)
            line = assert_one_line(result, ExitCode.SHARES_UNAVAILABLE)
            assert "share.version" in line and "does not serve share groups" in line
            assert helpers and not [pid for pid in helpers if _alive(pid)], "a failed command left its helper running"
        # Listing still works there: classic and consumer groups are worth listing; no share group is made up.
        listed = run_cli("groups", "--bootstrap", info.bootstrap, "--json")
        assert listed.returncode == 0, listed.stderr
        assert all(g["type"] != "share" for g in json.loads(listed.stdout))
    finally:
        broker.stop()


# -- the secured broker ------------------------------------------------------------------------------
@pytest.fixture
def secured_share_group(secured: Secured, unique: str) -> tuple[str, str]:
    """(topic, group): a share group on the secured broker, made by the admin (PLAIN)."""
    topic, group = f"sq-{unique}", f"sg-{unique}"
    admin = secured.config("admin")
    create_topic(admin, topic, 2)
    produce(admin, topic, {0: 3, 1: 2})
    # A share group starts at the log end; the writer produces again once it has joined, so it is given records.
    member = ShareConsumer({**admin, "group.id": group})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 60
        while not [m for m in member.poll(1.0) if m.error() is None]:
            assert time.monotonic() < deadline, "the secured share consumer was given no record"
            produce(admin, topic, {0: 1})
    finally:
        member.close()
    return topic, group


def test_a_principal_without_describe_on_the_share_group_gets_exit_9_naming_the_acl(
    secured: Secured, secured_share_group: tuple[str, str], unique: str, tmp_path: Path
) -> None:
    topic, group = secured_share_group
    name = f"no-group-{unique}"
    viewer = secured.add_principal(name, [("topic", topic, "literal", "describe")], tmp_path)
    result = run_cli("snapshot", "--group", group, "--config", str(viewer), env=NO_ENV_BOOTSTRAP)
    line = assert_one_line(result, ExitCode.NOT_AUTHORIZED)
    assert f"User:{name}" in line and f"ACL needed: DESCRIBE on GROUP {group}" in line, line


def test_the_authorized_principal_and_the_admin_see_the_share_group_and_no_secret_reaches_argv(
    secured: Secured, secured_share_group: tuple[str, str], unique: str, tmp_path: Path
) -> None:
    topic, group = secured_share_group
    name = f"share-viewer-{unique}"
    viewer = secured.add_principal(
        name, [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe")], tmp_path
    )
    password = next(line.split("=", 1)[1] for line in viewer.read_text().splitlines() if line.startswith("sasl.password="))
    admin_password = secured.config("admin")["sasl.password"]
    for config_file, secret, mechanism in ((viewer, password, "SCRAM"), (secured.config_file("admin"), admin_password, "PLAIN")):
        result, helpers = run_watching_helpers("snapshot", "--group", group, "--config", str(config_file), "--json", env=NO_ENV_BOOTSTRAP)
        assert result.returncode == 0, (mechanism, result.stderr)
        data = json.loads(result.stdout)
        assert data["type"] == "share" and data["group"] == group and {r["topic"] for r in data["partitions"]} == {topic}
        assert secret not in result.stdout + result.stderr
        assert helpers, f"no Java admin helper was seen while the {mechanism} snapshot ran"
        for pid, argv in helpers.items():
            assert secret not in argv and "sasl" not in argv.lower(), argv
            assert not _alive(pid), f"the helper {pid} outlived the command"
    # java_properties: SCRAM and PLAIN become a JAAS line the Java client logs in with (on stdin only).
    scram = java_properties(secured.bootstrap, _load(viewer))
    assert scram["sasl.mechanism"] == "SCRAM-SHA-256" and "ScramLoginModule" in scram["sasl.jaas.config"]
    plain = java_properties(secured.bootstrap, secured.config("admin"))
    assert plain["sasl.mechanism"] == "PLAIN" and "PlainLoginModule" in plain["sasl.jaas.config"]
    with JavaAdmin(admin_helper_command(), secured.bootstrap, _load(viewer)) as java:
        described = java.call("describe_share_group", "describing", group=group)
        assert described["group"] == group
        for where in ("cmdline", "environ"):
            raw = Path(f"/proc/{java.process.pid}/{where}").read_bytes().decode(errors="replace")
            assert password not in raw, where
        assert password not in " ".join(java.process.args)


def test_a_wrong_password_through_the_java_helper_is_an_authentication_error_without_the_password(
    secured: Secured, unique: str, tmp_path: Path
) -> None:
    viewer = secured.add_principal(f"wrong-pw-{unique}", [], tmp_path)
    config = {**_load(viewer), "sasl.password": f"not-the-password-{unique}"}
    with JavaAdmin(admin_helper_command(), secured.bootstrap, config) as java, pytest.raises(AuthenticationError) as raised:
        java.call("list_groups", "listing groups of every type")
    assert raised.value.exit_code == ExitCode.AUTH_FAILED
    assert config["sasl.password"] not in str(raised.value) and "\n" not in str(raised.value)


def _load(path: Path) -> dict[str, str]:
    from deliverytui.kafka.client_config import load_properties

    return load_properties(path)


# -- the helper's lifetime ----------------------------------------------------------------------------
def test_no_helper_outlives_a_command(bootstrap: str, unique: str) -> None:
    topic, group = f"life-{unique}", f"life-{unique}"
    create_plain_topic(bootstrap, topic, 1)
    for args in (("groups", "--json"), ("snapshot", "--group", group), ("snapshot", "--group", f"absent-{unique}")):
        result, helpers = run_watching_helpers(*args, "--bootstrap", bootstrap)
        assert result.returncode in (0, ExitCode.GROUP_NOT_FOUND), result.stderr
        assert helpers, f"{args}: no helper seen"
        assert not [pid for pid in helpers if _alive(pid)], f"{args}: helper(s) left running"


def test_the_helper_exits_when_its_parent_is_sigkilled(bootstrap: str) -> None:
    code = (
        "import sys, time\n"
        "from deliverytui.broker.admin_helper import admin_helper_command\n"
        "from deliverytui.kafka.java_admin import JavaAdmin\n"
        f"java = JavaAdmin(admin_helper_command(), {bootstrap!r})\n"
        "java.call('ping', 'pinging')\n"
        "print(java.process.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert parent.stdout is not None
        helper = int(parent.stdout.readline())
        assert _alive(helper) and MAIN_CLASS in _cmdline(helper)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        while _alive(helper):
            assert time.monotonic() < deadline, "the helper outlived its SIGKILLed parent"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_positions_on_a_share_group_is_a_usage_error(bootstrap: str, kafka_distribution, unique: str) -> None:
    topic, group = f"pos-{unique}", f"pos-{unique}"
    create_plain_topic(bootstrap, topic, 1)
    member = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 60
        while group not in share_groups(kafka_distribution, bootstrap, "--list").split():
            assert time.monotonic() < deadline, f"share group {group} was not created"
            member.poll(1.0)
        result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--positions")
    finally:
        member.close()
    line = assert_one_line(result, ExitCode.USAGE)
    assert "--positions" in line and "share group" in line


def test_describe_on_the_share_group_but_not_its_topic_is_never_shown_as_no_lag(
    secured: Secured, secured_share_group: tuple[str, str], unique: str, tmp_path: Path
) -> None:
    topic, group = secured_share_group
    name = f"group-only-{unique}"
    viewer = secured.add_principal(name, [("group", group, "literal", "describe")], tmp_path)
    result = run_cli("snapshot", "--group", group, "--config", str(viewer), "--json", env=NO_ENV_BOOTSTRAP)
    line = assert_one_line(result, ExitCode.NOT_AUTHORIZED)
    assert f"User:{name}" in line and "DESCRIBE on TOPIC" in line and "not 0" in line, line
    assert "total_lag" not in line


def test_a_live_share_member_does_not_reveal_a_hidden_topic_as_unfetched(
    secured: Secured, secured_share_group: tuple[str, str], unique: str, tmp_path: Path
) -> None:
    """With a member, Kafka names the topic in the assignment but hides its share state: not ``-`` (never fetched)."""
    topic, group = secured_share_group
    name = f"group-only-live-{unique}"
    viewer = secured.add_principal(name, [("group", group, "literal", "describe")], tmp_path)
    member = ShareConsumer({**secured.config("admin"), "group.id": group})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 60
        while True:
            member.poll(0.5)
            described = run_cli("snapshot", "--group", group, "--config", str(secured.config_file("admin")), "--json")
            if described.returncode == 0 and json.loads(described.stdout)["members"]:
                break
            assert time.monotonic() < deadline, described.stderr
        result = run_cli("snapshot", "--group", group, "--config", str(viewer), "--json", env=NO_ENV_BOOTSTRAP)
    finally:
        member.close()
    line = assert_one_line(result, ExitCode.NOT_AUTHORIZED)
    assert f"User:{name}" in line and "DESCRIBE on TOPIC" in line, line
