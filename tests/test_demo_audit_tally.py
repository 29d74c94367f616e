"""The running audit counts equal a full recount of the ledger, step after step.

:mod:`deliverytui.demo.audit_tally` reads only what the ledger gained since the previous
audit. Here a random history — acks arriving in offset order per partition, effects done
once, twice or never, effects for events nobody acknowledged, acks written late,
committed offsets moving forward and back (a replay) — is played against a real SQLite
and a real PostgreSQL ledger, and after every step each figure the audit reports is
compared with the ledger's full-scan queries (the audit's previous implementation).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from deliverytui.demo.audit_tally import LedgerTally
from deliverytui.demo.auditor import audit_consumer
from deliverytui.demo.ledger import AckedEvent, EffectsLedger, sqlite_ledger_url

TOPIC = "tally-events"
GROUPS = ("g-once", "g-twice")
PARTITIONS = 3
BIG = 10**6


def _full_recount(ledger: EffectsLedger, group: str, committed: dict[int, int], settled: float) -> dict[str, object]:
    effects, unique = ledger.effect_totals(group)
    lost, lost_rows = ledger.lost_events(group, TOPIC, committed, BIG)
    unexpected, _rows = ledger.unexpected_events(group, BIG, settled_before=settled)
    return {
        "produced": ledger.acked_count(TOPIC),
        "processed": ledger.acked_passed(TOPIC, committed),
        "effects": effects,
        "unique": unique,
        "duplicated": sorted(e for e, *_ in ledger.duplicated_events(group, BIG)),
        "lost": lost,
        "lost_ids": [e for e, _p, _o in lost_rows],
        "unexpected": unexpected,
    }


def _running(ledger: EffectsLedger, tally: LedgerTally, group: str, committed: dict[int, int], settled: float) -> dict[str, object]:
    produced = tally.produced(ledger, TOPIC, settled)
    tally.effects(ledger, "effects", settled)  # what the audit does once per audit, before the groups
    audit = audit_consumer(ledger, tally, TOPIC, "at-least-once", group, committed, produced, 0, settled)
    return {
        "produced": audit.produced,
        "processed": audit.processed,
        "effects": audit.effects,
        "unique": audit.unique_effects,
        "duplicated": sorted(audit.duplicate_event_ids),
        "lost": audit.lost,
        "lost_ids": list(audit.lost_event_ids),
        "unexpected": audit.unexpected,
    }


def _play(ledger: EffectsLedger, seed: int, steps: int = 60) -> int:
    rng = random.Random(seed)
    tally = LedgerTally(id_limit=BIG)
    next_offset = [0] * PARTITIONS
    acked: list[tuple[str, int, int]] = []
    committed = {g: {p: 0 for p in range(PARTITIONS)} for g in GROUPS}
    late: list[AckedEvent] = []
    settled = 0.0
    compared = 0
    for step in range(steps):
        # The producer: a batch of acks per partition, in offset order; now and then a batch held back a while.
        batch = []
        for _ in range(rng.randrange(0, 30)):
            p = rng.randrange(PARTITIONS)
            event_id = f"e{seed}-{p}-{next_offset[p]}"
            acked_at = time.time() - (100 if rng.random() < 0.8 else 0)  # most acks settled, some fresh
            batch.append(AckedEvent(event_id, None, TOPIC, p, next_offset[p], acked_at))
            acked.append((event_id, p, next_offset[p]))
            next_offset[p] += 1
        if late and rng.random() < 0.5:
            ledger.record_acks(late)  # an effect's ack written after the effect: unexpected, then expected
            late = []
        ledger.record_acks(batch)
        # The consumers: effects once, twice or never; an effect for an event nobody acked.
        for group in GROUPS:
            for event_id, p, o in rng.sample(acked, min(len(acked), rng.randrange(0, 25))):
                ledger.record_effect(event_id, group, p, o, instance="1:1")
                if group == "g-twice" and rng.random() < 0.3:
                    ledger.record_effect(event_id, group, p, o, instance="2:2")
            if rng.random() < 0.1:
                ledger.record_effect(f"ghost-{step}", group, 0, None)
            if rng.random() < 0.1:
                ghost = f"late-{group}-{step}"
                ledger.record_effect(ghost, group, 9, 0)
                late.append(AckedEvent(ghost, None, "elsewhere", 9, step, time.time() - 100))
            for p in range(PARTITIONS):
                move = rng.random()
                if move < 0.6:
                    committed[group][p] = min(next_offset[p], committed[group][p] + rng.randrange(0, 20))
                elif move < 0.7:
                    committed[group][p] = rng.randrange(0, committed[group][p] + 1)  # a replay
        # What counts as settled only moves forward; sometimes it stays put, so newer acks and effects are not yet.
        if rng.random() < 0.7:
            settled = time.time() + 0.001
        for group in GROUPS:
            want = _full_recount(ledger, group, committed[group], settled)
            got = _running(ledger, tally, group, committed[group], settled)
            assert got == want, f"seed {seed}, step {step}, group {group}"
            compared += 1
    return compared


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_running_counts_equal_a_full_recount_on_sqlite(tmp_path: Path, seed: int) -> None:
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        assert _play(ledger, seed) == 120


def test_running_counts_equal_a_full_recount_on_postgresql(postgres_url: str) -> None:
    with EffectsLedger(postgres_url) as ledger:
        assert _play(ledger, 4) == 120


def test_an_effect_row_that_commits_late_is_still_counted(tmp_path: Path) -> None:
    """PostgreSQL hands out ids before commit, so a reader can see id 3 while id 2 is in flight."""
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        tally = LedgerTally(id_limit=100)
        ledger.record_ack("a", None, 0, 0, topic=TOPIC, acked_at=1.0)
        ledger.record_effect("a", "g", 0, 0)
        ledger.record_effect("a", "g", 0, 0)
        ledger.record_effect("a", "g", 0, 0)
        hidden = ledger.query("SELECT id, event_id, consumer, \"partition\", \"offset\", attempt, at, instance FROM effects WHERE id = 2")[0]
        ledger.execute("DELETE FROM effects WHERE id = 2")  # as if row 2's transaction had not committed yet
        effects = tally.effects(ledger, "effects", time.time() + 1).of("g")
        assert (effects.effects, effects.unique) == (2, 1)
        ledger.execute(
            'INSERT INTO effects (id, event_id, consumer, "partition", "offset", attempt, at, instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            hidden,
        )
        effects = tally.effects(ledger, "effects", time.time() + 1).of("g")
        assert (effects.effects, effects.unique, effects.duplicated["a"][0]) == (3, 1, 3)
        assert ledger.effect_totals("g") == (3, 1)


def test_a_recreated_ledger_starts_the_counts_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    tally = LedgerTally(id_limit=100)
    with EffectsLedger(sqlite_ledger_url(path)) as ledger:
        for n in range(3):
            ledger.record_effect(f"e{n}", "g", 0, n)
        assert tally.effects(ledger, "effects", time.time() + 1).of("g").effects == 3
    path.unlink()
    with EffectsLedger(sqlite_ledger_url(path)) as ledger:
        ledger.record_effect("x", "g", 0, 0)
        assert tally.effects(ledger, "effects", time.time() + 1).of("g").effects == 1
