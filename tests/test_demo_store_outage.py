"""The dedup store (and the PostgreSQL ledger) stopped and started while the demo consumers run.

Real consumer processes, a real producer at a steady rate, a real Redis / PostgreSQL
server stopped mid-run and started again on the same port and data. While it is down
the consumers that depend on it pause on the message in hand — alive, saying why in one
line, not committing — and once it is back they resume by themselves. The audit at the
end: nothing lost, and no duplicate effect for the idempotent patterns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from deliverytui.demo.ledger import EffectsLedger, LedgerUnavailableError, sqlite_ledger_url
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.producer_loop import RateLimitedProducer
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import ensure_topic
from deliverytui.model.demo import ConsumerProcessStatus
from tests.services import PostgresServerProcess, RedisServerProcess

RATE = 40.0


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


def _statuses(supervisor: DemoSupervisor) -> dict[str, ConsumerProcessStatus]:
    return {s.semantic: s for s in supervisor.poll()}


def _run_outage(
    *,
    bootstrap: str,
    tmp_path: Path,
    unique: str,
    semantics: tuple[str, ...],
    ledger_url: str,
    dedup_url: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    ledger_down: bool,
) -> None:
    topic = f"outage-{unique}"
    ensure_topic(bootstrap, topic, 2)
    supervisor = DemoSupervisor(
        bootstrap, tmp_path, ledger_url, dedup_url, group_prefix=f"{unique}-", semantics=semantics, topic=topic,
        probe=False, auto_restart=1.0,
    )  # fmt: skip
    producer = RateLimitedProducer(bootstrap, ledger_url, topic=topic, task_prefix=f"task-{unique}")
    reader = OffsetReader(bootstrap)
    groups = {name: supervisor.group_of(name) for name in semantics}
    try:
        supervisor.start_all()
        _eventually(lambda: all(s.state == "running" for s in _statuses(supervisor).values()), "consumers start")
        producer.start(RATE)
        _eventually(lambda: all(s.processed >= 40 for s in _statuses(supervisor).values()), "consumers make progress")

        stop()
        try:
            # Every consumer pauses on its message, alive, with a one-line reason.
            _eventually(
                lambda: all(s.state.startswith("paused-") for s in _statuses(supervisor).values()),
                "every consumer reports it is paused",
            )
            paused = _statuses(supervisor)
            committed = {name: reader.committed(group, topic) for name, group in groups.items()}
            for status in paused.values():
                assert status.alive, status
                note = status.note or ""
                assert "\n" not in note and ("unavailable" in note or "unreachable" in note), status
            time.sleep(3.0)  # the outage goes on: still paused, same process, no commit moved
            later = _statuses(supervisor)
            for name, status in later.items():
                assert status.alive and status.pid == paused[name].pid, (paused[name], status)
                assert status.state.startswith("paused-"), status
                assert status.processed == paused[name].processed, status
                assert reader.committed(groups[name], topic) == committed[name], f"{name} committed while paused"
            if ledger_down:
                # The app side says so in one line too: the supervisor keeps polling, the audit explains.
                assert supervisor.ledger_error and "\n" not in supervisor.ledger_error
                with pytest.raises(LedgerUnavailableError) as caught:
                    supervisor.audit()
                assert "\n" not in str(caught.value) and "unavailable" in str(caught.value)
                _eventually(lambda: producer.ledger_error is not None, "the producer notices the ledger is down")
        finally:
            start()

        _eventually(
            lambda: all(s.state == "running" and s.processed > paused[s.semantic].processed for s in _statuses(supervisor).values()),
            "every consumer resumes by itself",
        )
        time.sleep(1.0)
        producer.stop()
        assert producer.failed == 0 and producer.ledger_error is None and producer.error is None
        _eventually(lambda: all(reader.drained(g, topic) for g in groups.values()), "the consumers drain the topic", 120)
        final = _statuses(supervisor)
        for name, status in final.items():
            assert status.alive and status.pid == paused[name].pid, f"{name} was restarted: {status}"
        supervisor.stop_all()
        report = supervisor.audit()
        assert report.produced == producer.acknowledged > 0
        for result in report.consumers:
            case = f"{result.semantic}: {result}"
            assert result.processed == report.produced, case
            assert result.lost == 0 and result.unexpected == 0, case
            assert result.unique_effects == report.produced, case
            if result.semantic != "at-least-once":
                assert result.duplicates == 0 and result.effects == report.produced, case
    finally:
        producer.stop()
        supervisor.close()
        reader.close()


def test_redis_outage_pauses_the_idempotent_consumer_and_loses_nothing(
    bootstrap: str, tmp_path: Path, unique: str, redis_server: RedisServerProcess, redis_url: str
) -> None:
    _run_outage(
        bootstrap=bootstrap,
        tmp_path=tmp_path,
        unique=unique,
        semantics=("idempotent",),
        ledger_url=sqlite_ledger_url(tmp_path / "ledger.db"),
        dedup_url=redis_url,
        stop=redis_server.stop,
        start=redis_server.start,
        ledger_down=False,
    )


def test_postgres_outage_pauses_store_and_ledger_consumers_and_loses_nothing(
    bootstrap: str, tmp_path: Path, unique: str, postgres_server: PostgresServerProcess, postgres_url: str
) -> None:
    """PostgreSQL holds both the dedup store and the effects ledger: stopping it pauses everything."""
    ledger_db = f"ledger_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {ledger_db}")
    try:
        _run_outage(
            bootstrap=bootstrap,
            tmp_path=tmp_path,
            unique=unique,
            semantics=("at-least-once", "idempotent", "upsert", "state-check"),
            ledger_url=postgres_server.url_for(ledger_db),
            dedup_url=postgres_url,
            stop=postgres_server.stop,
            start=postgres_server.start,
            ledger_down=True,
        )
    finally:
        postgres_server.start()
        postgres_server.psql(f"DROP DATABASE IF EXISTS {ledger_db} WITH (FORCE)")


def test_ledger_outage_is_one_line_and_reconnects(postgres_server: PostgresServerProcess, postgres_url: str) -> None:
    ledger = EffectsLedger(postgres_url)
    try:
        ledger.record_effect("e1", "g", 0, 1, "1:100")
        postgres_server.stop()
        try:
            for call in (lambda: ledger.record_effect("e2", "g", 0, 2), ledger.crash_counts):
                with pytest.raises(LedgerUnavailableError) as caught:
                    call()
                assert "\n" not in str(caught.value) and "is unavailable" in str(caught.value)
        finally:
            postgres_server.start()
        assert ledger.record_effect("e2", "g", 0, 2, "1:100") == 1  # reconnected by itself
        assert ledger.effect_totals("g") == (2, 2)
    finally:
        ledger.close()
