"""Store passwords stay off every command line and out of every child's environment (issue #13, finding 2).

The live view and the lab take a store URL from a private file (``--dedup-file``, ``--ledger-file``) or its
password from ``REDISCLI_AUTH``/``PGPASSWORD`` as ``redis-cli`` and ``psql`` do; the lab hands URLs to its
consumers on their stdin; no child deliverytui starts inherits those variables. Real password-protected
Redis and PostgreSQL, real processes read through ``/proc``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from deliverytui.cli import build_parser, viewer_config
from deliverytui.dedup import open_store
from deliverytui.dedup.errors import StoreUnavailableError, StoreUrlError
from deliverytui.dedup.url import redact_url
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.errors import ExitCode
from deliverytui.kafka.isolated import IsolatedGroupInspector
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.process_tree import cmdline, descendants, environ
from tests.services import with_password


def live_view_dedup_url(*options: str) -> str | None:
    args = build_parser().parse_args(["--group", "g", "--bootstrap", "127.0.0.1:1", *options])
    return viewer_config(args).dedup_url


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_dedup_file_must_be_private_regular_and_hold_one_url(tmp_path: Path) -> None:
    url = "redis://:hunter2@127.0.0.1:6390/0"
    assert live_view_dedup_url("--dedup-file", str(private_file(tmp_path / "ok", f"# the store\n{url}\n"))) == url
    loose = private_file(tmp_path / "loose", url, 0o644)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    for path, why in (
        (loose, f"readable by others (mode 0644); run 'chmod 600 {loose}'"),
        (fifo, "is not a regular file"),  # and it does not block
        (private_file(tmp_path / "two", f"{url}\n{url}\n"), "must hold exactly one URL"),
        (tmp_path / "absent", "No such file"),
    ):
        with pytest.raises(StoreUrlError) as raised:
            live_view_dedup_url("--dedup-file", str(path))
        assert why in str(raised.value) and "hunter2" not in str(raised.value)
        assert raised.value.exit_code == ExitCode.BAD_STORE_URL
    result = run_cli("--group", "g", "--bootstrap", "127.0.0.1:1", "--dedup-file", str(loose))
    assert result.returncode == ExitCode.BAD_STORE_URL and result.stderr.count("\n") == 1, result.stderr
    both = run_cli("--group", "g", "--dedup", url, "--dedup-file", str(loose))
    assert both.returncode == ExitCode.USAGE and "not both" in both.stderr
    ledger = run_cli("demo", "--headless", "--semantic", "idempotent", "--bootstrap", "127.0.0.1:1", "--ledger-file", str(loose))
    assert ledger.returncode == ExitCode.LEDGER and "chmod 600" in ledger.stderr and ledger.stderr.count("\n") == 1


def test_store_passwords_come_from_redis_cli_and_libpq_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password_redis, password_postgres
) -> None:
    """REDISCLI_AUTH, PGPASSWORD and .pgpass log in to real servers that require them, and are never shown."""
    server, redis_password = password_redis
    pg_url, pg_password = password_postgres
    monkeypatch.setenv("REDISCLI_AUTH", redis_password)
    monkeypatch.setenv("PGPASSWORD", pg_password)
    redis_url = live_view_dedup_url("--dedup", server.url)
    assert redis_url == with_password(server.url, redis_password)
    assert live_view_dedup_url("--dedup", with_password(server.url, "given")) == with_password(server.url, "given")
    assert live_view_dedup_url("--dedup", pg_url) == with_password(pg_url, pg_password)
    assert live_view_dedup_url("--dedup", "sqlite:///x.db") == "sqlite:///x.db"

    async def writes(url: str) -> bool:
        """One first-time write (a fresh key each call): proof the store let us in."""
        async with open_store(url, group="g") as store:
            return await store.mark_if_new(f"key-{uuid.uuid4().hex}")

    for url in (redis_url, live_view_dedup_url("--dedup", pg_url)):
        assert url is not None and redis_password not in redact_url(url) and pg_password not in redact_url(url)
        assert asyncio.run(writes(url)) is True
    monkeypatch.delenv("PGPASSWORD")
    for url in (server.url, pg_url):  # the servers do require them
        with pytest.raises(StoreUnavailableError):
            asyncio.run(writes(url))
    # ~/.pgpass (here through PGPASSFILE, so the real home is untouched): the URL stays as given and libpq
    # finds the password by itself, in this process and in any child (PGPASSFILE is a path, not a secret).
    host_port_db = pg_url.split("@", 1)[1]
    host, port = host_port_db.split("/")[0].split(":")
    role = pg_url.split("://", 1)[1].split("@")[0]
    monkeypatch.setenv("PGPASSFILE", str(private_file(tmp_path / "pgpass", f"{host}:{port}:*:{role}:{pg_password}\n")))
    assert live_view_dedup_url("--dedup", pg_url) == pg_url
    assert asyncio.run(writes(pg_url)) is True


def test_the_consumer_refuses_a_password_on_its_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deliverytui.demo.consumer", "--semantic", "at-least-once", "--bootstrap", "127.0.0.1:1",
         "--ledger", "postgresql://u:hunter2@127.0.0.1:1/db", "--run-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
    )  # fmt: skip
    assert result.returncode == 2 and "every local user can read in ps" in result.stderr
    assert "hunter2" not in result.stderr and result.stderr.count("\n") == 1


def test_a_demo_consumer_and_the_kafka_child_hold_no_password_in_ps(
    bootstrap: str, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch, password_redis, password_postgres
) -> None:
    """The supervisor's consumer gets both URLs on stdin; neither it nor the isolated Kafka client inherits
    the variables the user exported; the consumer really logs in with what it was given."""
    server, redis_password = password_redis
    pg_url, pg_password = password_postgres
    monkeypatch.setenv("REDISCLI_AUTH", redis_password)
    monkeypatch.setenv("PGPASSWORD", pg_password)
    passwords = (redis_password, pg_password)
    supervisor = DemoSupervisor(
        bootstrap, tmp_path, with_password(pg_url, pg_password), with_password(server.url, redis_password),
        group_prefix=f"{unique}-", semantics=("idempotent",), topic=f"secrets-{unique}", probe=False,
    )
    inspector = IsolatedGroupInspector(bootstrap)
    try:
        assert not any(p in " ".join(supervisor.command("idempotent")) for p in passwords)
        pid = supervisor.start("idempotent")
        inspector.list_groups()
        wait_for(lambda: supervisor.poll()[0].state == "running", 90, "the consumer to join its group")
        children = descendants(os.getpid())
        kafka_child = [c for c in children if "deliverytui.kafka.isolated" in cmdline(c)]
        assert pid in children and len(kafka_child) == 1
        for child in (pid, *kafka_child):
            assert "--urls-from-stdin" in cmdline(child) or child in kafka_child
            assert not any(p in cmdline(child) or p in environ(child) for p in passwords), cmdline(child)
            assert "PATH=" in environ(child)  # the rest of the environment is passed on
    finally:
        inspector.close()
        supervisor.close()


def test_every_server_properties_is_private(kafka_broker_dir: Path, bootstrap: str) -> None:
    """The session broker's (plain): written 0600 whatever the mode, since a secured one holds the admin password."""
    assert (kafka_broker_dir / "server.properties").stat().st_mode & 0o777 == 0o600


def test_a_headless_run_dir_is_kept_only_when_asked(bootstrap: str, tmp_path: Path, unique: str) -> None:
    """Removed after the run (the journey test checks that); ``--keep-run-dir`` keeps the ledger and logs."""
    result = run_cli(
        "demo", "--headless", "--semantic", "at-least-once", "--events", "5", "--bootstrap", bootstrap,
        "--topic", f"keep-{unique}", "--keep-run-dir", "--json", env={"TMPDIR": str(tmp_path)}, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    kept = Path(json.loads(result.stdout)["run_dir"])
    assert kept.parent == tmp_path and (kept / "at-least-once.log").exists()
