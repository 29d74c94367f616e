"""The lab on a secured cluster (``demo --config``): it runs as the embedded broker's ``lab`` principal with the
guarantees held, and every way it can be refused is one line with its exit code, within the time limit.

All on the session's secured broker (tests/security_fixtures.py); the authorizer log proves the ``lab``
principal's ACLs are exactly enough (no denial).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from deliverytui.broker.security import (
    LAB_GROUP_PREFIXES,
    LAB_GROUPS,
    LAB_READER_GROUP_PREFIX,
    LAB_TOPIC_PREFIX,
    LAB_TRANSACTIONAL_ID,
)
from deliverytui.demo.semantics import SEMANTICS, output_topic, transactional_id
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC
from deliverytui.errors import ExitCode
from tests.helpers import run_cli
from tests.security_fixtures import Secured

pytestmark = pytest.mark.kafka
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}


def test_the_lab_principal_acls_name_every_lab_group_and_topic() -> None:
    """The broker cannot import the lab, so its copy of the lab's names is checked against the lab's own."""
    assert set(LAB_GROUPS) == {spec.group for spec in SEMANTICS.values()}
    assert transactional_id("exactly-once") == LAB_TRANSACTIONAL_ID
    assert TASK_EVENTS_TOPIC.startswith(LAB_TOPIC_PREFIX) and output_topic(TASK_EVENTS_TOPIC).startswith(LAB_TOPIC_PREFIX)
    assert "headless-" in LAB_GROUP_PREFIXES  # the headless runs' default group prefix
    assert "deliverytui-demo-metadata-".startswith(LAB_READER_GROUP_PREFIX)  # demo/offsets.py's reader
    assert "deliverytui-audit-".startswith(LAB_READER_GROUP_PREFIX)  # demo/auditor.py's output reader


def headless(*extra: str, env: dict[str, str] | None = None, timeout: float = 200):
    return run_cli("demo", "--headless", *extra, env={**NO_ENV_BOOTSTRAP, **(env or {})}, timeout=timeout)


def assert_one_line(result, code: ExitCode) -> str:
    assert result.returncode == code, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("deliverytui")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_headless_exactly_once_runs_as_the_lab_principal(secured: Secured, unique: str, tmp_path: Path) -> None:
    """Producer, transactional consumer (crashed mid-transaction), probe, auditor: all as ``lab``, no denial."""
    lab = secured.config_file("lab")
    password = secured.config("lab")["sasl.password"]
    run_dir = tmp_path / "run"
    result = headless(
        "--semantic", "exactly-once", "--events", "40", "--crash-at", "mid-transaction", "--crashes", "1",
        "--config", str(lab), "--topic", f"task-events-{unique}", "--run-dir", str(run_dir), "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert (data["events"], data["lost"], data["duplicates"], data["unexpected"]) == (40, 0, 0, 0)
    assert data["unique_effects"] == 40 and data["crashes"] == 1
    # The consumers read the login from a private file, removed with the lab; no password in any file the run left.
    assert not (run_dir / "kafka-client.properties").exists()
    for file in run_dir.rglob("*"):
        if file.is_file() and file.suffix in (".log", ".status", ".json", ".crash", ".properties", ""):
            assert password not in file.read_text(errors="replace"), f"a password in {file}"
    assert password not in result.stdout + result.stderr
    denied = [e for e in secured.audit("lab") if e["decision"] == "Denied"]
    assert denied == [], denied[:5]
    requests = {e["request"] for e in secured.audit("lab")}
    assert {"Produce", "InitProducerId", "AddOffsetsToTxn", "EndTxn", "CreateTopics"} <= requests


def test_headless_queue_runs_as_the_lab_principal(secured: Secured, unique: str, tmp_path: Path) -> None:
    """The queue's workers set their share group's config, join it, ack and release, all as ``lab``, no denial."""
    result = headless(
        "--semantic", "queue", "--events", "12", "--poison", "1", "--config", str(secured.config_file("lab")),
        "--topic", f"task-events-{unique}", "--run-dir", str(tmp_path / "run"), "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert (data["events"], data["lost"], data["unexpected"], data["archived"]) == (12, 0, 0, 1), data
    denied = [e for e in secured.audit("lab") if e["decision"] == "Denied"]
    assert denied == [], denied[:5]
    requests = {e["request"] for e in secured.audit("lab")}
    assert {"IncrementalAlterConfigs", "ShareGroupHeartbeat", "ShareFetch"} <= requests, requests


def test_without_config_the_secured_broker_is_one_line_not_a_hang(secured: Secured, tmp_path: Path) -> None:
    embedded = {"DELIVERYTUI_BROKER_DIR": str(secured.data_dir), "DELIVERYTUI_CLUSTER_DIR": str(tmp_path / "none")}
    lab_file = secured.config_file("lab")
    base = ("--semantic", "at-least-once", "--events", "5", "--run-dir")
    for n, extra in enumerate((["--bootstrap", secured.bootstrap], [])):  # named, and the embedded default
        started = time.monotonic()
        line = assert_one_line(headless(*base, str(tmp_path / f"r{n}"), *extra, env=embedded), ExitCode.AUTH_FAILED)
        assert time.monotonic() - started < 15
        assert f"--config {lab_file}" in line
        assert not re.search(r"stop it|security none|--security", line)  # never: turn security off
    # A SASL cluster deliverytui did not start: no hang, no traceback, and the likely cause in the line.
    started = time.monotonic()
    line = assert_one_line(
        headless(*base, str(tmp_path / "r2"), "--bootstrap", secured.bootstrap, "--timeout", "5"), ExitCode.UNREACHABLE
    )
    assert time.monotonic() - started < 20
    assert "needs SASL or SSL" in line and "--config" in line


def test_wrong_password_and_missing_acls_are_one_line_each(secured: Secured, unique: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.properties"
    bad.write_text(re.sub(r"(?m)^sasl\.password=.*$", "sasl.password=wrong-" + unique, secured.config_file("lab").read_text()))
    base = ("--semantic", "exactly-once", "--events", "5", "--topic", f"task-events-acl-{unique}")
    line = assert_one_line(headless(*base, "--run-dir", str(tmp_path / "a"), "--config", str(bad)), ExitCode.AUTH_FAILED)
    assert "refused the lab's login" in line and "wrong-" not in line
    # The reader may describe and read, not create topics: the missing ACL is named.
    line = assert_one_line(
        headless(*base, "--run-dir", str(tmp_path / "b"), "--config", str(secured.config_file("reader"))), ExitCode.NOT_AUTHORIZED
    )
    assert f"principal User:reader lacks Create on topic task-events-acl-{unique} (ACL needed: CREATE on TOPIC task-events-acl-{unique})" in line


async def test_the_lab_screen_and_its_live_view_run_as_the_lab_principal(secured: Secured, unique: str, tmp_path: Path) -> None:
    """The lab's screen (not headless): a consumer runs, the audit counts, and ``w`` shows its group live, all as ``lab``."""
    from deliverytui.demo.lab import Lab
    from deliverytui.tui.demo_app import DemoLabScreen, demo_app
    from deliverytui.tui.widgets.panels import ConnectionBanner
    from tests.lab_helpers import audit_of, lab_settings
    from tests.tui_helpers import shown, wait_until

    before = len(secured.audit("lab"))
    settings = lab_settings(
        secured.bootstrap, tmp_path / "state", unique, semantics=("at-least-once",), group_prefix=f"demo-{unique}-",
        kafka_config=secured.config("lab"),
    )
    lab = Lab(settings).open()
    try:
        app = demo_app(lab, refresh_seconds=0.5)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="lab screen")
            await wait_until(
                pilot, lambda: (audit_of(app, "at-least-once") or 0) and audit_of(app, "at-least-once").unique_effects >= 5,
                timeout=120, what="effects",
            )
            audit = audit_of(app, "at-least-once")
            assert (audit.lost, audit.duplicates, audit.unexpected) == (0, 0, 0)
            # The running consumer has the login from a 0600 file: not on its command line, not in its environment.
            pid = lab.supervisor.pid("at-least-once")
            assert pid is not None
            password = secured.config("lab")["sasl.password"]
            for entry in ("cmdline", "environ"):
                assert password.encode() not in Path(f"/proc/{pid}/{entry}").read_bytes(), f"the password in {entry}"
            assert (tmp_path / "state" / "kafka-client.properties").stat().st_mode & 0o777 == 0o600
            await pilot.press("w")
            await wait_until(pilot, lambda: not app.lab_in_front(), what="the live view")
            await wait_until(pilot, lambda: len(shown(app)) == 3, timeout=60, what="the group's partitions in the live view")
            assert not app.query_one(ConnectionBanner).has_class("-visible")
    finally:
        lab.close()
    assert not (tmp_path / "state" / "kafka-client.properties").exists()
    denied = [e for e in secured.audit("lab")[before:] if e["decision"] == "Denied"]
    assert denied == [], denied[:5]
