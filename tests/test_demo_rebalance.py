"""A rebalance: a second instance of a demo consumer joins its group, then dies by SIGKILL.

Real processes, events flowing. The second instance takes some partitions; when it
dies before committing, the partitions go back to the first instance (after the
static member's session timeout) and it redoes what the dead one had not committed.
The audit must explain each such duplicate: done first by instance 2, again by
instance 1, same partition and offset — a rebalance, not a restart. At-least-once
still loses nothing; the idempotent consumer still does every effect once.

Each phase uses a new instance number on purpose: the demo consumers are static members,
so a process restarted with the *same* instance id takes its predecessor's partitions at
once, without a rebalance, and redoes the uncommitted work itself — the audit calls that
a ``restart`` (same instance, new pid), which is what it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from deliverytui.demo.consumer import read_status, status_file
from deliverytui.demo.ledger import sqlite_ledger_url
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.producer_loop import RateLimitedProducer
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import ensure_topic
from deliverytui.model.demo import REBALANCE

SEMANTICS = ("at-least-once", "idempotent")


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


def _processed_by(run_dir: Path, semantic: str, instance: int, pid: int) -> int:
    """Messages the running ``instance`` (process ``pid``) has handled, from its own status file."""
    report = read_status(status_file(run_dir, semantic, instance)) or {}
    return int(report.get("handled_by_this_process") or 0) if report.get("pid") == pid else 0


def test_second_instance_killed_redeliveries_are_explained(bootstrap: str, tmp_path: Path, unique: str) -> None:
    topic = f"rebalance-{unique}"
    ensure_topic(bootstrap, topic, 4)
    ledger_url = sqlite_ledger_url(tmp_path / "ledger.db")
    supervisor = DemoSupervisor(
        bootstrap, tmp_path, ledger_url, None, group_prefix=f"{unique}-", semantics=SEMANTICS, topic=topic, probe=False
    )
    producer = RateLimitedProducer(bootstrap, ledger_url, topic=topic, task_prefix=f"task-{unique}")
    reader = OffsetReader(bootstrap)
    try:
        supervisor.start_all()
        producer.start(30)
        _eventually(lambda: all(s.processed >= 20 for s in supervisor.poll()), "the first instances make progress")

        # Phase 1: instance 2 of at-least-once joins, works, and kills itself (SIGKILL) right after an
        # effect, before committing it: exactly that event is redone by instance 1 after the rebalance.
        pid = supervisor.start_instance("at-least-once", 2)
        _eventually(lambda: _processed_by(tmp_path, "at-least-once", 2, pid) >= 10, "instance 2 takes partitions")
        assert next(s for s in supervisor.poll() if s.semantic == "at-least-once").extra_instances == 1
        supervisor.arm_crash("at-least-once", "after-effect", instance=2)
        _eventually(lambda: not supervisor.instance_pids("at-least-once"), "instance 2 crashes after an effect")

        # Phase 2: both semantics get another instance (3), killed from outside (SIGKILL) while events flow.
        pids = {name: supervisor.start_instance(name, 3) for name in SEMANTICS}
        for name, other in pids.items():
            _eventually(lambda name=name, other=other: _processed_by(tmp_path, name, 3, other) >= 10, f"{name} instance 3 takes partitions")
        for name in SEMANTICS:
            assert supervisor.kill_instance(name, 3)

        time.sleep(2.0)
        producer.stop()
        assert producer.failed == 0
        groups = [supervisor.group_of(name) for name in SEMANTICS]
        # The dead static members' partitions come back after the 6 s session timeout.
        _eventually(lambda: all(reader.drained(g, topic) for g in groups), "instance 1 drains every partition", 120)
        assert all(s.alive for s in supervisor.poll()), "the first instances never died"
        supervisor.stop_all()
        report = supervisor.audit()
    finally:
        producer.stop()
        supervisor.close()
        reader.close()

    audits = {a.semantic: a for a in report.consumers}
    alo = audits["at-least-once"]
    assert report.produced == producer.acknowledged > 0
    assert alo.lost == 0 and alo.unexpected == 0, alo
    assert alo.unique_effects == alo.processed == report.produced, alo
    assert alo.crashes == 2, alo  # the armed crash and the kill
    assert alo.duplicates >= 1, alo  # at least the event of the armed crash
    assert len(alo.redeliveries) == len(alo.duplicate_event_ids), alo
    for redelivery in alo.redeliveries:
        first, second, *_ = redelivery.attempts
        assert redelivery.cause == REBALANCE, redelivery.explain()
        assert first.number in ("2", "3") and second.number != first.number, redelivery.explain()
        assert (first.partition, first.offset) == (second.partition, second.offset), redelivery.explain()
        assert "rebalance" in redelivery.explain() and "\n" not in redelivery.explain()
    # The armed crash's event: done by the first instance-2 process, whose pid is recorded.
    assert any(r.attempts[0].pid == str(pid) for r in alo.redeliveries), [r.explain() for r in alo.redeliveries]
    assert any("after a rebalance" in note for note in alo.notes), alo.notes
    assert alo.redelivery_causes == {REBALANCE: len(alo.redeliveries)}

    idem = audits["idempotent"]
    assert idem.lost == idem.duplicates == idem.unexpected == 0, idem
    assert idem.effects == idem.unique_effects == report.produced, idem
    # Jepsen's classes: the rewinds here all follow a rebalance (a new assignment epoch), so none
    # counts as a nonmonotonic poll or a skip; nothing else may show either.
    for audit_ in (alo, idem):
        assert audit_.anomalies.total == 0, audit_.anomalies
    assert report.anomalies.total == 0, report.anomalies
