"""A secured cluster: ``broker start --security sasl`` (SASL + ACLs), least privilege, no write sent, no secret shown.

The secured broker is the session's shared one (``secured``, tests/security_fixtures.py). Its authorizer log
records every authorization decision with principal, operation and request, which is
how the tests prove what deliverytui did and did not send.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from deliverytui.cli import build_parser, viewer_config
from deliverytui.errors import ExitCode
from deliverytui.kafka.admin import metadata_answers
from deliverytui.kafka.client_config import load_properties
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog, SelectedPartitionPanel
from tests.helpers import run_cli
from tests.kafka_helpers import consume_committing_once, stop_probed_member
from tests.security_fixtures import Secured, commit, create_topic, seed
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}  # the --config file's bootstrap.servers must be what is used

#: Every request a read-only session may send. Anything else (OffsetCommit, JoinGroup, Produce,
#: CreateTopics, DeleteGroups, OffsetDelete, ...) fails the least-privilege test.
READ_ONLY_REQUESTS = {
    "Metadata", "FindCoordinator", "DescribeGroups", "ConsumerGroupDescribe", "OffsetFetch", "ListOffsets",
    "ListGroups", "Fetch", "DescribeCluster",
}


async def shown_banner(pilot, app: DeliveryApp, text: str, *, what: str) -> ConnectionBanner:
    """The connection banner, once it is visible and says ``text``."""
    banner = app.query_one(ConnectionBanner)
    await wait_until(pilot, lambda: text in str(banner.render()) and banner.has_class("-visible"), timeout=90, what=what)
    return banner


def secrets_of(*files: Path) -> list[str]:
    return [load_properties(f)["sasl.password"] for f in files]


def assert_no_secret(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a password appeared in {where}"


def tui_config(config_file: Path, group: str, *extra: str) -> ViewerConfig:
    """Exactly what ``deliverytui --group G --config FILE`` runs the live view with."""
    args = build_parser().parse_args(["--group", group, "--config", str(config_file), "--refresh", "0.3", "--timeout", "15", *extra])
    return viewer_config(args)


# -- the broker --------------------------------------------------------------------------------
def test_broker_runs_sasl_with_acls_and_writes_client_configs(secured: Secured) -> None:
    data_dir = secured.data_dir
    for user in ("admin", "reader", "writer"):
        file = secured.config_file(user)
        assert f"--config {file}" in secured.start_output
        assert file.stat().st_mode & 0o077 == 0  # only the owner may read a password
        props = load_properties(file)
        assert props["security.protocol"] == "SASL_PLAINTEXT" and props["sasl.username"] == user
        assert props["sasl.mechanism"] in ("PLAIN", "SCRAM-SHA-256") and props["bootstrap.servers"] == secured.bootstrap
        assert metadata_answers(secured.bootstrap, config=props)
    server = (data_dir / "server.properties").read_text()
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in server
    assert "allow.everyone.if.no.acl.found=false" in server and "super.users=User:admin" in server
    assert not metadata_answers(secured.bootstrap, timeout=2.0)  # no anonymous access: SASL on every listener

    info = run_cli("broker", "info", "--data-dir", str(data_dir), "--json")
    data = json.loads(info.stdout)
    assert data["security"] == "sasl" and data["running"] is True
    assert data["client_configs"]["reader"] == str(secured.config_file("reader"))
    assert data["authorizer_log"] == str(secured.authorizer_log)
    text = run_cli("broker", "info", "--data-dir", str(data_dir)).stdout
    assert f"reader config: {secured.config_file('reader')}" in text
    status = run_cli("broker", "status", "--data-dir", str(data_dir))
    assert status.returncode == 0 and "running at" in status.stdout
    secrets = secrets_of(*(secured.config_file(u) for u in ("admin", "reader", "writer")))
    assert_no_secret(info.stdout + text + status.stdout + secured.start_output, secrets, "broker start/info/status")
    broker_logs = "".join((data_dir / "logs" / name).read_text(errors="replace") for name in ("server.log", "stdout.log"))
    assert "SASL_PLAINTEXT" in broker_logs
    assert_no_secret(broker_logs, secrets, "the broker's logs")

    # A principal with no ACL is refused even what the reader may do: allow.everyone.if.no.acl.found=false.
    writer = secured.config("writer")
    seed(writer, "acl-probe-topic", {0: 2}, "acl-probe-group", {("acl-probe-topic", 0): 1})
    reader = run_cli("snapshot", "--group", "acl-probe-group", "--config", str(secured.config_file("reader")), "--json", env=NO_ENV_BOOTSTRAP)
    assert reader.returncode == 0, reader.stderr
    assert json.loads(reader.stdout)["total_lag"] == 1


def test_config_credentials_work_for_snapshot_and_groups(secured: Secured, unique: str, tmp_path: Path) -> None:
    topic, group = f"orders-{unique}", f"billing-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 5, 1: 7}, group, {(topic, 0): 5, (topic, 1): 3})
    # A least-privilege principal: Describe/Read on this group and topic, nothing else (no cluster ACL).
    viewer = secured.add_principal(
        f"cli-viewer-{unique}",
        [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe"), ("topic", topic, "literal", "read")],
        tmp_path,
    )
    secrets = secrets_of(viewer, secured.config_file("reader"))
    for file in (secured.config_file("reader"), viewer):
        snap = run_cli("snapshot", "--group", group, "--config", str(file), "--json", env=NO_ENV_BOOTSTRAP)
        assert snap.returncode == 0, snap.stderr
        data = json.loads(snap.stdout)
        assert [(p["partition"], p["committed_offset"], p["lag"]) for p in data["partitions"]] == [(0, 5, 0), (1, 3, 4)]
        text = run_cli("snapshot", "--group", group, "--config", str(file), env=NO_ENV_BOOTSTRAP)
        assert text.returncode == 0 and "total lag 4" in text.stdout
        groups = run_cli("groups", "--config", str(file), "--json", env=NO_ENV_BOOTSTRAP)
        assert groups.returncode == 0, groups.stderr
        assert group in [g["group"] for g in json.loads(groups.stdout)]
        assert_no_secret(snap.stdout + snap.stderr + text.stdout + groups.stdout + groups.stderr, secrets, "CLI output")
    # The least-privilege principal sees only the groups it may describe.
    listed = json.loads(run_cli("groups", "--config", str(viewer), "--json", env=NO_ENV_BOOTSTRAP).stdout)
    assert [g["group"] for g in listed] == [group]


def test_the_reader_principal_cannot_change_offsets(secured: Secured, unique: str) -> None:
    """``reader`` has Describe (not Read) on groups: even --execute cannot commit; the refusal is one line."""
    topic, group = f"guarded-{unique}", f"guarded-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 4}, group, {(topic, 0): 3})
    reader = secured.config_file("reader")
    for command in (
        ["reset", "--group", group, "--topic", topic, "--to-earliest", "--execute"],
        ["delete-offsets", "--group", group, "--topic", topic, "--execute"],
    ):
        result = run_cli(*command, "--config", str(reader), env=NO_ENV_BOOTSTRAP)
        assert result.returncode != 0 and "not authorized" in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert_no_secret(result.stdout + result.stderr, secrets_of(reader), "the refusal")
    after = json.loads(run_cli("snapshot", "--group", group, "--config", str(reader), "--json", env=NO_ENV_BOOTSTRAP).stdout)
    assert [p["committed_offset"] for p in after["partitions"]] == [3]  # nothing changed


def test_wrong_password_is_one_line_with_exit_code_4(secured: Secured, tmp_path: Path) -> None:
    wrong = "Wr0ng-pa55word-" + "x" * 8
    bad = tmp_path / "bad.properties"
    bad.write_text(re.sub(r"(?m)^sasl\.password=.*$", f"sasl.password={wrong}", secured.config_file("reader").read_text()))
    secrets = [wrong, secrets_of(secured.config_file("reader"))[0]]
    for command in (["snapshot", "--group", "anything"], ["snapshot", "--group", "anything", "--json"], ["groups"]):
        result = run_cli(*command, "--config", str(bad), env=NO_ENV_BOOTSTRAP)
        assert result.returncode == ExitCode.AUTH_FAILED, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "refused authentication" in result.stderr and result.stdout == ""
        assert_no_secret(result.stderr, secrets, "the error line")
    # With librdkafka's own log lines switched on (DELIVERYTUI_DEBUG), still no password on stderr.
    debug = run_cli("groups", "--config", str(bad), env={**NO_ENV_BOOTSTRAP, "DELIVERYTUI_DEBUG": "1"})
    assert debug.returncode == ExitCode.AUTH_FAILED and "SASL" in debug.stderr
    assert_no_secret(debug.stderr + debug.stdout, secrets, "librdkafka's log output")


async def test_wrong_password_is_a_banner_in_the_tui(secured: Secured, tmp_path: Path, capfd) -> None:
    wrong = "Wr0ng-tui-pa55word-" + "y" * 8
    bad = tmp_path / "bad.properties"
    bad.write_text(re.sub(r"(?m)^sasl\.password=.*$", f"sasl.password={wrong}", secured.config_file("reader").read_text()))
    app = DeliveryApp(tui_config(bad, "any-group"))
    async with app.run_test(size=SIZE) as pilot:
        banner = await shown_banner(pilot, app, "refused authentication", what="authentication banner")
        assert "\n" not in str(banner.render()).strip()
        screen = app.export_screenshot()
        assert "refused authentication" in screen.replace("&#160;", " ")
        assert_no_secret(screen + "\n".join(app.query_one(EventLog).entries) + repr(app.config), [wrong], "the TUI")
    captured = capfd.readouterr()
    assert_no_secret(captured.out + captured.err, [wrong], "the TUI's stdout/stderr")


async def test_bad_config_error_in_the_tui_shows_no_secret(tmp_path: Path, capfd) -> None:
    secret = "n0t-for-your-eyes-" + "z" * 8
    file = tmp_path / "unknown-key.properties"
    file.write_text(f"bootstrap.servers=127.0.0.1:1\nno.such.property=1\nsasl.username=bob\nsasl.password={secret}\n")
    app = DeliveryApp(tui_config(file, "g"))
    async with app.run_test(size=SIZE) as pilot:
        banner = await shown_banner(pilot, app, "invalid client configuration", what="config banner")
        assert_no_secret(app.export_screenshot() + str(banner.render()), [secret], "the TUI")
    captured = capfd.readouterr()
    assert_no_secret(captured.out + captured.err, [secret], "stdout/stderr")


def test_configs_never_print_their_secrets(tmp_path: Path) -> None:
    """A crash report with locals (Textual's), an f-string or a repr of the config shows ``***``."""
    from rich.console import Console
    from rich.traceback import Traceback

    secret = "hunter2-" + "q" * 8
    file = tmp_path / "c.properties"
    file.write_text(f"security.protocol=SASL_PLAINTEXT\nsasl.username=u\nsasl.password={secret}\n")
    config = tui_config(file, "g")
    assert config.client_config["sasl.password"] == secret  # still the real value for librdkafka
    console = Console(record=True, width=200)

    def crash(viewer_config: ViewerConfig, file_config: dict) -> None:
        raise RuntimeError("boom")

    try:
        crash(config, load_properties(file))
    except RuntimeError as exc:  # the crashing frame's locals, as Textual prints them (this test's own hold the secret)
        trace = exc.__traceback__.tb_next
        console.print(Traceback.from_exception(RuntimeError, exc, trace, show_locals=True, locals_max_length=5))
    report = console.export_text()
    assert "sasl.password" in report and "***" in report
    assert_no_secret(report + repr(config) + f"{config.client_config}", [secret], "a crash report")


# -- least privilege and no writes -------------------------------------------------------------------
async def test_read_only_tui_with_only_describe_and_read_sends_no_write(secured: Secured, unique: str, tmp_path: Path, capfd) -> None:
    """A principal with only Describe/Read uses the whole live view; the authorizer log shows no denial and no write."""
    from deliverytui.probe import attach_probe, probe_of

    topic, group, other = f"ro-{unique}", f"ro-{unique}", f"ro-other-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 10}, other, {(topic, 0): 2})
    name = f"viewer-{unique}"
    viewer = secured.add_principal(
        name,
        [
            ("group", group, "literal", "describe"), ("group", group, "literal", "read"),
            ("group", other, "literal", "describe"),
            ("topic", topic, "literal", "describe"), ("topic", topic, "literal", "read"),
            ("topic", "__deliverytui_probe", "literal", "describe"), ("topic", "__deliverytui_probe", "literal", "read"),
        ],
        tmp_path,
    )
    # A live member (the 'writer' application) that processed 10 records, committed 5, and publishes its position.
    config = attach_probe(
        {**writer, "group.id": group, "client.id": "secured-app", "enable.auto.commit": False, "auto.offset.reset": "earliest"},
        interval_ms=500,
    )
    consumer = Consumer(config)
    consumer.subscribe([topic])
    # The probe topic exists before the view looks for it (else the view looks again only 30 s later).
    assert probe_of(config).wait_until_ready(60)
    stop = threading.Event()

    loop_done = asyncio.get_running_loop().run_in_executor(None, consume_committing_once, consumer, stop, 5)
    app = DeliveryApp(tui_config(viewer, group))
    key = f"{topic}:0"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: shown(app) == [key], timeout=90, what="the row")
            await wait_until(pilot, lambda: cell(app, key, "committed") == "5", timeout=90, what="commit of 5")
            await wait_until(pilot, lambda: cell(app, key, "position") == "10", timeout=120, what="position via the probe topic")
            panel = app.query_one(SelectedPartitionPanel)
            await wait_until(pilot, lambda: "s exact" in str(panel.render()), timeout=90, what="exact time lag")
            await wait_until(pilot, lambda: "5 processed, not committed" in str(panel.render()), timeout=60, what="gap")
            assert cell(app, key, "owner").startswith("secured-app")
            assert [m.client_id for m in app.update.snapshot.members] == ["secured-app"]

            await pilot.press("G")
            failed = lambda: [n.message for n in app._notifications if "cannot list groups" in n.message]  # noqa: E731
            await wait_until(pilot, lambda: isinstance(app.screen, GroupPickerScreen) or failed(), timeout=90, what="picker")
            assert not failed()
            assert {g.group_id for g in app.screen.groups} == {group, other}
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, GroupPickerScreen), what="picker closed")

            for key_name, refusal in (("r", "offset reset needs --allow-writes"), ("x", "deleting offsets needs --allow-writes")):
                await pilot.press(key_name)
                await wait_until(pilot, lambda refusal=refusal: any(refusal in n.message for n in app._notifications), what=refusal)
                assert app.screen is app.screen_stack[0]  # neither the reset nor the delete screen opened
            polls = app.polls_completed
            await wait_until(pilot, lambda: app.polls_completed >= polls + 2, timeout=60, what="two more refreshes")
            log = "\n".join(app.query_one(EventLog).entries)
            assert "authoriz" not in log.lower() and "refused" not in log  # (a timeout on a loaded machine is not the point)
            assert "authoriz" not in app.update.positions_note
            screen = app.export_screenshot()
    finally:
        await stop_probed_member(stop, loop_done, consumer, config)

    secrets = secrets_of(viewer, secured.config_file("writer"))
    captured = capfd.readouterr()
    assert_no_secret(screen + log + captured.out + captured.err, secrets, "the TUI session")

    audit = secured.audit(name)
    assert audit, "the authorizer log has no entry for the viewer"
    assert [e for e in audit if e["decision"] == "Denied"] == []
    assert {e["request"] for e in audit} <= READ_ONLY_REQUESTS
    assert {e["operation"] for e in audit} <= {"DESCRIBE", "READ"}
    # What the view did read, as this principal: the group, its offsets, the records (time lag) and the probe topic.
    seen = {(e["request"], e["resource"]) for e in audit}
    assert ("DescribeGroups", f"Group:LITERAL:{group}") in seen or ("ConsumerGroupDescribe", f"Group:LITERAL:{group}") in seen
    assert ("OffsetFetch", f"Group:LITERAL:{group}") in seen and ("ListOffsets", f"Topic:LITERAL:{topic}") in seen
    assert ("Fetch", f"Topic:LITERAL:{topic}") in seen and ("Fetch", "Topic:LITERAL:__deliverytui_probe") in seen
    # The same log does record writes: the application's commits are there (so their absence above means something).
    assert any(e["request"] == "OffsetCommit" for e in secured.audit("writer"))


async def test_positions_without_probe_acl_degrade_to_one_line(secured: Secured, unique: str, tmp_path: Path) -> None:
    topic, group = f"noprobe-{unique}", f"noprobe-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 3}, group, {(topic, 0): 1})
    name = f"noprobe-{unique}"
    viewer = secured.add_principal(
        name,
        [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe"), ("topic", topic, "literal", "read")],
        tmp_path,
    )
    app = DeliveryApp(tui_config(viewer, group))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: shown(app) == [f"{topic}:0"], timeout=90, what="the row")
        note = "positions unavailable: not authorized to read __deliverytui_probe"
        panel = app.query_one(SelectedPartitionPanel)
        await wait_until(pilot, lambda: note in str(panel.render()), timeout=120, what="the positions note")
        assert cell(app, f"{topic}:0", "lag") == "2"  # the rest of the view works
        assert "authoriz" not in "\n".join(app.query_one(EventLog).entries).lower()
    denied = [e for e in secured.audit(name) if e["decision"] == "Denied"]
    assert denied and {e["resource"] for e in denied} == {"Topic:LITERAL:__deliverytui_probe"}


def test_server_settings_secure_every_listener_of_any_layout(tmp_path: Path) -> None:
    """The transformation works on the listener layout of a multi-node cluster too (no broker needed)."""
    from deliverytui.broker.security import broker_security

    security = broker_security("sasl", tmp_path / "node-1")
    settings = security.server_settings(
        {
            "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
            "advertised.listeners": "PLAINTEXT://127.0.0.1:9092",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "node.id": 2,
        }
    )
    assert settings["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert settings["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092"
    assert settings["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert settings["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert settings["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert settings["listener.name.sasl_plaintext.sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256"
    assert 'username="admin"' in settings["listener.name.controller.plain.sasl.jaas.config"]
    assert settings["node.id"] == 2 and settings["allow.everyone.if.no.acl.found"] == "false"
    assert not (tmp_path / "node-1").exists()  # the directory's mode is the start's business: only one it created is closed
    assert broker_security("none", tmp_path) is None


def test_poll_and_group_picker_share_the_kafka_child_safely(secured: Secured, unique: str) -> None:
    """The live view's poll and its group picker call one child process from two threads: no crossed answers."""
    from deliverytui.kafka.isolated import IsolatedGroupInspector

    topic, group = f"shared-{unique}", f"shared-{unique}"
    writer = secured.config("writer")
    create_topic(writer, topic, 1)
    commit(writer, group, {(topic, 0): 0})
    reader = secured.config("reader")
    inspector = IsolatedGroupInspector(secured.bootstrap, reader, request_timeout=30)
    errors: list[str] = []

    def repeat(call) -> None:
        for _ in range(25):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - collected, asserted below
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [
        threading.Thread(target=repeat, args=(lambda: inspector.snapshot(group),)),
        threading.Thread(target=repeat, args=(inspector.list_groups,)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert errors == []
        assert group in {g.group_id for g in inspector.list_groups()}
    finally:
        inspector.close()


# -- last: a restart keeps the security mode -----------------------------------------------------
def test_restart_keeps_security_and_credentials(secured: Secured) -> None:
    data_dir = secured.data_dir
    before = secured.config_file("reader").read_text()
    stopped = run_cli("broker", "stop", "--data-dir", str(data_dir), "--json", timeout=90)
    assert json.loads(stopped.stdout)["stopped"] is True
    assert run_cli("broker", "status", "--data-dir", str(data_dir)).returncode == ExitCode.BROKER_NOT_RUNNING
    restarted = run_cli("broker", "start", "--data-dir", str(data_dir), "--json", timeout=240)  # no --security: the recorded mode
    assert restarted.returncode == 0, restarted.stderr
    data = json.loads(restarted.stdout)
    assert data["started"] is True and data["security"] == "sasl" and data["bootstrap"] == secured.bootstrap
    assert secured.config_file("reader").read_text() == before  # same password, same file
    assert metadata_answers(secured.bootstrap, config=secured.config("reader"))
    assert not metadata_answers(secured.bootstrap, timeout=2.0)
    plain = run_cli("broker", "start", "--security", "none", "--data-dir", str(data_dir))
    assert plain.returncode == ExitCode.BROKER_START_FAILED and "stop it first" in plain.stderr and plain.stderr.count("\n") == 1
