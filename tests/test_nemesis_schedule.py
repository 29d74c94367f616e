"""The nemesis benchmark's schedule is seeded and repeatable, mixes every fault, and its verdict
fails on any Jepsen anomaly (``benchmarks/nemesis.py``; the run itself is too long for the suite)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from deliverytui.demo.semantics import SEMANTICS
from deliverytui.model.anomalies import AnomalyCounts
from deliverytui.model.demo import AuditReport, ConsumerAudit

_SPEC = importlib.util.spec_from_file_location(
    "deliverytui_bench_nemesis", Path(__file__).resolve().parent.parent / "benchmarks" / "nemesis.py"
)
assert _SPEC is not None and _SPEC.loader is not None
nemesis = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("deliverytui_bench_nemesis", nemesis)
_SPEC.loader.exec_module(nemesis)


def test_the_same_seed_gives_the_same_schedule_and_every_fault_kind_appears() -> None:
    schedule = nemesis.plan_schedule(13, 10)
    assert schedule == nemesis.plan_schedule(13, 10)
    assert schedule != nemesis.plan_schedule(14, 10)
    assert {f.kind for f in schedule} == {*nemesis.SLOT_KINDS, "kill-consumer"}
    assert all(0 < f.at < 600 for f in schedule)
    assert [f.at for f in schedule] == sorted(f.at for f in schedule)
    assert {f.target for f in schedule if f.kind in ("kill-consumer", "kill-coordinator", "instance")} <= set(SEMANTICS)
    assert sum(f.kind == "kill-consumer" for f in schedule) >= 20  # at random moments, besides the slots


def _report(produced: int, **anomalies: int) -> AuditReport:
    consumers = tuple(
        ConsumerAudit(semantic=name, group=f"g-{name}", produced=produced, processed=produced, effects=produced,
                      unique_effects=produced, duplicates=0, lost=0, unexpected=0, dedup_hits=0, crashes=0)
        for name in SEMANTICS
    )  # fmt: skip
    if anomalies:
        consumers = (replace(consumers[0], anomalies=AnomalyCounts(**anomalies)), *consumers[1:])
    return AuditReport(topic="t", produced=produced, consumers=consumers, taken_at=datetime.now(UTC))


def test_the_verdict_holds_a_clean_run_and_fails_on_a_jepsen_anomaly() -> None:
    clean = nemesis.NemesisReport(seed=1, minutes=1, rate=1, produced=10)
    nemesis.judge(_report(10), clean)
    assert clean.ok, clean.violations
    assert clean.anomalies["at-most-once"] == {"nonmonotonic-poll": 0, "poll-skip": 0, "G1a": 0, "inconsistent-offsets": 0}

    skipped = nemesis.NemesisReport(seed=1, minutes=1, rate=1, produced=10)
    nemesis.judge(_report(10, poll_skips=1), skipped)
    assert not skipped.ok
    assert any("Jepsen anomalies" in v and "'poll-skip': 1" in v for v in skipped.violations), skipped.violations
