"""The supervisor on real consumer processes: kill, restart, armed crashes, malformed input, replay."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from confluent_kafka import Producer

from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import TaskApiProducer, ensure_topic, task_created_events
from deliverytui.model.demo import ConsumerProcessStatus
from deliverytui.model.reset import ResetTarget


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for ``condition`` (the consumers are separate processes); fail with ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


def _produce(bootstrap: str, topic: str, ledger: EffectsLedger, count: int) -> None:
    producer = TaskApiProducer(bootstrap, topic, ledger=ledger)
    for event in task_created_events(count, task_prefix=f"task-{topic}"):
        producer.publish(event)
    assert producer.flush(30) == 0 and producer.acknowledged == count


def _status(supervisor: DemoSupervisor, semantic: str) -> ConsumerProcessStatus:
    return next(s for s in supervisor.poll() if s.semantic == semantic)


def test_kill_restart_and_armed_crash(bootstrap: str, tmp_path: Path, unique: str) -> None:
    topic = f"sup-{unique}"
    ensure_topic(bootstrap, topic, 2)
    ledger_url = sqlite_ledger_url(tmp_path / "ledger.db")
    supervisor = DemoSupervisor(
        bootstrap, tmp_path, ledger_url, None, group_prefix=f"{unique}-", semantics=("at-least-once",), topic=topic, probe=False
    )
    ledger = EffectsLedger(ledger_url)
    reader = OffsetReader(bootstrap)
    group = supervisor.group_of("at-least-once")
    try:
        supervisor.start_all()
        _produce(bootstrap, topic, ledger, 10)
        # A message that is not an event is skipped and committed past, never a crash.
        raw = Producer({"bootstrap.servers": bootstrap})
        raw.produce(topic, value=b"not json at all", partition=0)
        raw.flush(10)
        _eventually(lambda: reader.drained(group, topic), "the consumer drains 10 events and one malformed message")
        _eventually(lambda: _status(supervisor, "at-least-once").processed == 11, "the status file reports 11 messages")
        running = _status(supervisor, "at-least-once")
        assert (running.alive, running.state, running.crashes, running.armed) == (True, "running", 0, None)

        assert supervisor.kill("at-least-once") is True
        killed = _status(supervisor, "at-least-once")
        assert (killed.alive, killed.pid, killed.state, killed.crashes) == (False, None, "crashed", 1)
        assert ledger.crashes_of(group)[-1][0] == "killed"

        supervisor.restart("at-least-once")
        assert _status(supervisor, "at-least-once").alive

        supervisor.arm_crash("at-least-once", "after-effect")
        assert _status(supervisor, "at-least-once").armed == "after-effect"
        _produce(bootstrap, topic, ledger, 3)
        assert supervisor.wait("at-least-once", 60) == -9  # SIGKILLed itself at the armed point
        crashed = _status(supervisor, "at-least-once")
        assert (crashed.alive, crashed.state, crashed.crashes, crashed.armed) == (False, "crashed", 2, None)
        assert [point for point, _at in ledger.crashes_of(group)] == ["killed", "after-effect"]

        supervisor.start("at-least-once")  # not armed any more: it redelivers and drains
        _eventually(lambda: reader.drained(group, topic), "the restarted consumer drains the topic")
        result = supervisor.audit().for_semantic("at-least-once")
        assert (result.produced, result.unique_effects, result.lost, result.unexpected) == (13, 13, 0, 0)
        assert result.duplicates == 1  # the event whose effect ran just before the armed crash
    finally:
        supervisor.close()
        ledger.close()
        reader.close()


def test_replay_to_earliest_duplicates_at_least_once_but_not_idempotent(
    bootstrap: str, tmp_path: Path, unique: str
) -> None:
    events = 30
    topic = f"replay-{unique}"
    ensure_topic(bootstrap, topic, 2)
    ledger_url = sqlite_ledger_url(tmp_path / "ledger.db")
    semantics = ("at-least-once", "idempotent")
    supervisor = DemoSupervisor(
        bootstrap, tmp_path, ledger_url, None, group_prefix=f"{unique}-", semantics=semantics, topic=topic, probe=False
    )
    ledger = EffectsLedger(ledger_url)
    reader = OffsetReader(bootstrap)
    try:
        supervisor.start_all()
        _produce(bootstrap, topic, ledger, events)
        for semantic in semantics:
            _eventually(lambda s=semantic: reader.drained(supervisor.group_of(s), topic), f"{semantic} drains")

        plan = supervisor.replay("at-least-once", ResetTarget.to_earliest(), dry_run=True)
        assert plan.total_redelivered == events
        assert _status(supervisor, "at-least-once").alive  # a dry run touches nothing

        with ThreadPoolExecutor(2) as pool:  # each replay waits ~6 s for its static member to time out
            plans = list(pool.map(lambda s: supervisor.replay(s, ResetTarget.to_earliest(), dry_run=False), semantics))
        assert [p.total_redelivered for p in plans] == [events, events]
        for semantic in semantics:
            _eventually(lambda s=semantic: reader.drained(supervisor.group_of(s), topic), f"{semantic} drains again")

        def replayed_everything() -> bool:
            report = supervisor.audit()
            return report.for_semantic("at-least-once").effects == 2 * events and (
                report.for_semantic("idempotent").dedup_hits == events
            )

        _eventually(replayed_everything, "the replayed events are processed (or caught)")
        report = supervisor.audit()
        at_least_once, idempotent = report.for_semantic("at-least-once"), report.for_semantic("idempotent")
        assert (at_least_once.duplicates, at_least_once.lost) == (events, 0)
        assert (idempotent.duplicates, idempotent.lost, idempotent.unique_effects) == (0, 0, events)
        assert idempotent.dedup_hits == events
        statuses = {s.semantic: s for s in supervisor.poll()}
        assert all(s.alive for s in statuses.values())
        assert json.loads((tmp_path / "idempotent.status").read_text())["group"] == f"{unique}-idempotent-notifier"
    finally:
        supervisor.close()
        ledger.close()
        reader.close()
