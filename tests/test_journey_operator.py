"""Journey 4, the operator who reads ``ps`` (/work/shared/JOURNEYS.md), walked on real processes:

1. a secured embedded broker started with ``deliverytui broker start --security sasl`` in a data dir
   that already exists with mode 0755 (it keeps that mode; the files with passwords are 0600);
2. the lab's seven consumers (eight processes: the queue has two workers) on a PostgreSQL ledger and a Redis dedup store that both require a password;
3. a headless run given its ledger in a 0600 ``--ledger-file`` and its Redis password in ``REDISCLI_AUTH``,
   as ``redis-cli`` takes it (its temporary run dir is gone afterwards);

and at each step what any local user can see: no password in any process's arguments
(``/proc/<pid>/cmdline``) or environment (``/proc/<pid>/environ``) — every process this test started,
their children and the broker's JVM — no file holding a password that others can read, and nothing
listening beyond loopback (``/proc/net/tcp``, as ``ss -ltn`` reads it). Twice in a row on the same state, as
every journey must hold: the broker stopped and started again on its dir (its files rewritten), the lab resumed.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from deliverytui.demo.lab import Lab
from deliverytui.kafka.client_config import load_properties
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.lab_helpers import lab_settings
from tests.process_tree import cmdline, descendants, environ, is_loopback, listening_addresses
from tests.services import with_password

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


def what_ps_shows(pids: Iterable[int], passwords: set[str], *, environment_of_own_choice: int | None = None) -> list[str]:
    """Every place a password shows up in the processes' arguments or environments (empty: none).

    ``environment_of_own_choice``: the process the user exported a variable to (its environment is theirs).
    """
    leaks = []
    for pid in pids:
        args = cmdline(pid)
        env = environ(pid) if pid != environment_of_own_choice else ""
        leaks += [f"pid {pid} ({args[:80]}): password in its arguments" for p in passwords if p in args]
        leaks += [f"pid {pid} ({args[:80]}): password in its environment" for p in passwords if p in env]
    return leaks


def readable_secrets(directories: Iterable[Path], passwords: set[str]) -> list[str]:
    """Files under ``directories`` that hold a password and that anyone but their owner may read."""
    found = []
    for directory in directories:
        for path in directory.rglob("*"):
            if not path.is_file() or path.stat().st_mode & 0o077 == 0:
                continue
            with_secret = path.read_bytes()
            if any(p.encode() in with_secret for p in passwords):
                found.append(f"{path} (mode {stat.S_IMODE(path.stat().st_mode):04o})")
    return found


def not_on_loopback(pids: Iterable[int]) -> dict[int, list[str]]:
    return {pid: addresses for pid, addresses in listening_addresses(list(pids)).items() if not all(map(is_loopback, addresses))}


def secured_broker_holds(data_dir: Path, passwords: set[str]) -> int:
    """Step 1: ``broker start --security sasl`` on the operator's dir; returns the JVM's pid.

    Adds the principals' passwords to ``passwords``."""
    started = run_cli("broker", "start", "--security", "sasl", "--data-dir", str(data_dir), "--json", timeout=300)
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["security"] == "sasl" and info["started"] is True
    passwords |= {load_properties(Path(f))["sasl.password"] for f in info["client_configs"].values()}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755
    for secret_file in [data_dir / "server.properties", *map(Path, info["client_configs"].values())]:
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600, secret_file
    broker_pid = int(info["pid"])
    assert what_ps_shows([broker_pid], passwords) == []
    assert not_on_loopback([broker_pid]) == {}
    return broker_pid


def lab_holds(settings, broker_pid: int, passwords: set[str]) -> None:
    """Step 2: the lab's seven consumers, each of its stores behind a password."""
    lab = Lab(settings).open()
    try:
        # Every consumer handled events: each logged in to PostgreSQL (and the idempotent one to Redis).
        wait_for(lambda: all(s.alive and s.processed > 0 for s in lab.poll().statuses), 180, "every consumer processing")
        ours = descendants(os.getpid())
        consumers = [pid for pid in ours if "deliverytui.demo.consumer" in cmdline(pid)]
        assert len(consumers) == 8, [cmdline(pid) for pid in ours]  # six semantics, and the queue's two workers
        assert what_ps_shows([*ours, broker_pid], passwords) == []
        assert not_on_loopback([*ours, broker_pid]) == {}
    finally:
        lab.close()


def headless_run_holds(bootstrap: str, topic: str, ledger_file: Path, redis_url: str, redis_password: str,
                       temp: Path, passwords: set[str]) -> None:
    """Step 3: the ledger URL in a private file, the Redis password in REDISCLI_AUTH; its run dir is removed."""
    run = subprocess.Popen(
        [sys.executable, "-m", "deliverytui", "demo", "--headless", "--semantic", "idempotent", "--events", "20",
         "--bootstrap", bootstrap, "--topic", topic, "--ledger-file", str(ledger_file), "--dedup", redis_url, "--json"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "REDISCLI_AUTH": redis_password, "TMPDIR": str(temp)},
    )  # fmt: skip
    try:
        seen: set[str] = set()
        leaks: list[str] = []
        while run.poll() is None:
            below = descendants(run.pid)
            seen |= {cmdline(pid) for pid in below}
            leaks += what_ps_shows([run.pid, *below], passwords, environment_of_own_choice=run.pid)
            time.sleep(0.2)
        out, err = run.communicate(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert any("deliverytui.demo.consumer" in args for args in seen), seen  # the consumer was looked at
    assert leaks == []
    result = json.loads(out)
    assert result["unique_effects"] == 20 and result["lost"] == 0  # it logged in to both stores
    assert result["run_dir_kept"] is False and not Path(result["run_dir"]).exists()
    assert list(temp.iterdir()) == []


def test_the_operator_who_reads_ps_finds_no_password(
    bootstrap: str, tmp_path: Path, unique: str, password_redis, password_postgres
) -> None:
    """The whole journey, twice on the same state: the broker restarted on its dir, the lab resumed on its own."""
    redis_server, redis_password = password_redis
    ledger_url, pg_password = password_postgres
    passwords = {redis_password, pg_password}
    data_dir = tmp_path / "secured-broker"
    data_dir.mkdir()
    data_dir.chmod(0o755)  # given by the operator (say, a shared /srv dir): deliverytui must not change it
    state_dir = tmp_path / "lab"
    settings = lab_settings(
        bootstrap, state_dir, unique,
        ledger_url=with_password(ledger_url, pg_password), dedup_url=with_password(redis_server.url, redis_password),
    )  # fmt: skip
    ledger_file = tmp_path / "ledger.url"
    ledger_file.write_text(with_password(ledger_url, pg_password) + "\n")
    ledger_file.chmod(0o600)
    temp = tmp_path / "tmp"
    temp.mkdir()
    try:
        for round_ in (1, 2):
            broker_pid = secured_broker_holds(data_dir, passwords)
            lab_holds(settings, broker_pid, passwords)
            headless_run_holds(
                bootstrap, f"operator-{unique}-{round_}", ledger_file, redis_server.url, redis_password, temp, passwords
            )
            assert readable_secrets([data_dir, state_dir], passwords) == []
            stopped = run_cli("broker", "stop", "--data-dir", str(data_dir), timeout=120)
            assert stopped.returncode == 0, stopped.stderr
    finally:
        run_cli("broker", "stop", "--data-dir", str(data_dir), timeout=120)
