"""Running counts for the audit: each audit reads only what the ledger gained since the last one.

Why: the lab audits every second, the soak every 10 s for 30 minutes. Recounting the whole
ledger each time (a GROUP BY over every effect, an anti-join over every acknowledged event,
per consumer) took 49 s per audit after 10 minutes at 500 events/s: it competed with the
consumers for the two cores, and its working set grew with the ledger. A :class:`LedgerTally`
keeps, per ledger,

* a cursor over each effects table (``effects``, and ``outputs`` for exactly-once) with
  per-consumer counters — effects, events with an effect, the first ``id_limit``
  duplicated events — and the events currently counted unexpected;
* per topic, how many acknowledged sends lie below a per-partition frontier;
* per consumer group, the offset below which every acknowledged event was already checked
  for an effect, how many there were, and the ones that had none (lost).

An audit then costs what arrived since the previous one, and what is held is bounded:
counters, cursors, ``id_limit`` ids, and the events counted lost or unexpected right now
(a lost event leaves the list when an effect for it shows up — a replay — and the group's
check is rewound when its committed offset moves back).

The figures equal a full recount (``tests/test_demo_audit_tally.py`` compares them with the
ledger's full-scan queries) given what the demo guarantees: within one partition the
producer's acks reach the ledger in offset order (one idempotent producer writes its
delivery reports in order), so once an ack older than the audit's grace period (5 s,
``auditor.ACK_GRACE_SECONDS``) is in the ledger, no ack with a lower offset can still arrive. Acks newer than that, and everything between the
checked frontier and the committed offset, are counted afresh on each audit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deliverytui.demo.anomalies import AnomalyChecker
from deliverytui.demo.ledger import EffectsLedger

GAP_TRACK_SECONDS = 60.0
"""A missing effect id (a transaction that had not committed when the rows after it were read) is looked for this long."""
GAP_TRACK_MAX = 10_000
"""A larger jump in ids is not a transaction in flight (a rolled-back batch, a restored file): it is not tracked."""
BATCH_ROWS = 20_000


@dataclass
class ConsumerEffects:
    """One consumer's effects in one table, counted so far."""

    effects: int = 0
    unique: int = 0
    duplicated: dict[str, list[Any]] = field(default_factory=dict)
    """event_id -> [effects, partition, offset] for the first ``id_limit`` events done more than once."""
    unexpected: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


class EffectsTally:
    """A cursor over one effects table and the per-consumer counts of every row it passed."""

    def __init__(self, table: str, id_limit: int) -> None:
        self.table = table
        self.id_limit = id_limit
        self.cursor = 0
        """Every row up to this id was counted (except ids in ``_gaps``, counted when they appear)."""
        self.settled_through = 0
        """Every row up to this id was checked against the acks (late rows: ``_late``)."""
        self.consumers: dict[str, ConsumerEffects] = {}
        self._gaps: dict[int, float] = {}
        self._late: list[tuple[float, str, str, int | None, int | None]] = []
        self.watched: dict[str, dict[str, Any]] = {}
        """consumer -> event ids it is waiting to see an effect for (the lost ones); a new effect removes its id."""

    def of(self, consumer: str) -> ConsumerEffects:
        return self.consumers.setdefault(consumer, ConsumerEffects())

    @property
    def complete_through(self) -> int:
        """Every row up to this id is visible and older than the ack grace (what the anomaly checker may read)."""
        through = self.settled_through
        if self._gaps:
            through = min(through, min(self._gaps) - 1)
        return through

    def refresh(self, ledger: EffectsLedger, settled_before: float) -> None:
        while True:
            rows = ledger.effects_with_history(self.cursor, BATCH_ROWS, self.table)
            for row in rows:
                row_id = row[0]
                if row_id > self.cursor + 1 and row_id - self.cursor - 1 <= GAP_TRACK_MAX:
                    now = time.monotonic()
                    for missing in range(self.cursor + 1, row_id):
                        self._gaps[missing] = now
                self.cursor = row_id
                self._count(row)
            if len(rows) < BATCH_ROWS:
                break
        if self._gaps:
            self._look_for_gaps(ledger)
        self._settle(ledger, settled_before)

    def _look_for_gaps(self, ledger: EffectsLedger) -> None:
        expired = time.monotonic() - GAP_TRACK_SECONDS
        for row_id in sorted(self._gaps):
            row = ledger.late_effect(row_id, self.cursor, list(self._gaps), self.table)
            if row is not None:
                del self._gaps[row_id]
                self._count(row)
                if row_id <= self.settled_through:  # the range check passed over it while it was invisible
                    self._late.append((row[5], row[2], row[1], row[3], row[4]))
            elif self._gaps[row_id] < expired:
                del self._gaps[row_id]  # a rolled-back insert: that id will never appear

    def _count(self, row: tuple[int, str, str, int | None, int | None, float, int]) -> None:
        _id, event_id, consumer, partition, offset, _at, earlier = row
        tally = self.of(consumer)
        tally.effects += 1
        if earlier == 0:
            tally.unique += 1
        else:  # `earlier + 1` effects of this event are counted now, this one included
            entry = tally.duplicated.get(event_id)
            if entry is not None:
                entry[0] = max(entry[0], earlier + 1)
            elif len(tally.duplicated) < self.id_limit:
                tally.duplicated[event_id] = [earlier + 1, partition, offset]
        watched = self.watched.get(consumer)
        if watched:
            watched.pop(event_id, None)

    def _settle(self, ledger: EffectsLedger, settled_before: float) -> None:
        """Effects old enough to have their ack row by now: those without one are unexpected."""
        first_unsettled = ledger.first_effect_since(self.settled_through, settled_before, self.table)
        high = self.cursor if first_unsettled is None else min(self.cursor, first_unsettled - 1)
        if high > self.settled_through:
            for event_id, consumer, partition, offset in ledger.unacked_effects(self.settled_through + 1, high, self.table):
                self.of(consumer).unexpected.setdefault(event_id, (partition, offset))
            self.settled_through = high
        if self._late:
            settled = [row for row in self._late if row[0] < settled_before]
            self._late = [row for row in self._late if row[0] >= settled_before]
            acked = ledger.acked_ids([row[2] for row in settled]) if settled else set()
            for _at, consumer, event_id, partition, offset in settled:
                if event_id not in acked:
                    self.of(consumer).unexpected.setdefault(event_id, (partition, offset))
        for tally in self.consumers.values():  # an ack written very late makes an event expected after all
            if tally.unexpected:
                for event_id in ledger.acked_ids(list(tally.unexpected)):
                    del tally.unexpected[event_id]


class AckTally:
    """How many acknowledged sends ``topic`` has, counted below a per-partition frontier."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.frontier: dict[int, int] = {}
        self.below: dict[int, int] = {}

    def count(self, ledger: EffectsLedger, settled_before: float) -> int:
        partition = ledger.next_acked_partition(self.topic, -1)
        total = 0
        while partition is not None:
            low = self.frontier.get(partition, 0)
            top = ledger.settled_ack_offset(self.topic, partition, low, None, settled_before)
            if top is not None:
                self.below[partition] = self.below.get(partition, 0) + ledger.acked_between(self.topic, partition, low, top + 1)
                self.frontier[partition] = low = top + 1
            total += self.below.get(partition, 0) + ledger.acked_between(self.topic, partition, low, None)
            partition = ledger.next_acked_partition(self.topic, partition)
        return total


class GroupTally:
    """For one group: acked events its committed offsets passed, and those with no effect (lost)."""

    def __init__(self, consumer: str, topic: str, effects: EffectsTally) -> None:
        self.consumer = consumer
        self.topic = topic
        self.effects = effects
        self.checked: dict[int, int] = {}
        self.passed: dict[int, int] = {}
        self.lost: dict[str, tuple[int, int]] = {}  # event_id -> (partition, offset)
        effects.watched[consumer] = self.lost
        self.suspects: set[str] = set()
        """Events the last refresh saw committed past with no effect yet, in the unsettled tail."""
        self.starts: dict[int, int] | None = None
        """Where the group started reading in this story (``stream_starts``): nothing below is its to lose."""

    def refresh(
        self, ledger: EffectsLedger, committed: Mapping[int, int], settled_before: float, *, confirm: bool = False
    ) -> tuple[int, int, list[tuple[str, int, int]]]:
        """(passed, lost, lost rows by position) for the group's ``committed`` offsets now.

        ``confirm``: an event in the unsettled tail counts as lost only when the previous refresh
        saw it missing too. A live audit (the lab, once a second) can land between an at-most-once
        consumer's commit and its effect; one refresh later that effect is there. A one-off audit
        of stopped consumers (headless, tests) has nothing in flight and confirms nothing.
        """
        table = self.effects.table
        if self.starts is None:
            self.starts = ledger.stream_starts(self.consumer, self.topic)
            self.checked.update(self.starts)
        passed = 0
        fresh_lost: list[tuple[str, int, int]] = []
        for partition, committed_offset in sorted(committed.items()):
            offset = max(committed_offset, self.starts.get(partition, 0))
            low = self.checked.get(partition, 0)
            if offset < low:  # the group was reset backwards (a replay): what is above it is pending again
                self.passed[partition] = self.passed.get(partition, 0) - ledger.acked_between(
                    self.topic, partition, offset, low
                )
                for event_id, (p, o) in list(self.lost.items()):
                    if p == partition and o >= offset:
                        del self.lost[event_id]
                self.checked[partition] = low = offset
            if offset > low:
                top = ledger.settled_ack_offset(self.topic, partition, low, offset, settled_before)
                if top is not None:
                    self.passed[partition] = self.passed.get(partition, 0) + ledger.acked_between(
                        self.topic, partition, low, top + 1
                    )
                    for o, event_id in ledger.unprocessed_between(self.consumer, self.topic, partition, low, top + 1, table):
                        self.lost[event_id] = (partition, o)
                    self.checked[partition] = low = top + 1
            passed += self.passed.get(partition, 0)
            if offset > low:  # the unsettled tail: counted afresh each time, not kept
                passed += ledger.acked_between(self.topic, partition, low, offset)
                fresh_lost += [
                    (event_id, partition, o)
                    for o, event_id in ledger.unprocessed_between(self.consumer, self.topic, partition, low, offset, table)
                ]
        if confirm:
            seen, self.suspects = self.suspects, {event_id for event_id, _p, _o in fresh_lost}
            fresh_lost = [row for row in fresh_lost if row[0] in seen]
        lost_rows = sorted([(e, p, o) for e, (p, o) in self.lost.items()] + fresh_lost, key=lambda r: (r[1], r[2]))
        return passed, len(lost_rows), lost_rows


class LedgerTally:
    """All running counts for one ledger (see the module docstring); thread-safe."""

    def __init__(self, id_limit: int) -> None:
        self.id_limit = id_limit
        self.lock = threading.Lock()
        self.tables: dict[str, EffectsTally] = {}
        self.acks: dict[str, AckTally] = {}
        self.groups: dict[tuple[str, str, str], GroupTally] = {}
        self.anomalies: dict[tuple[str, str], AnomalyChecker] = {}

    def effects(self, ledger: EffectsLedger, table: str, settled_before: float) -> EffectsTally:
        """Bring ``table``'s counts up to date (once per audit) and return them."""
        tally = self.tables.get(table)
        if tally is not None and ledger.max_effect_id(table) < tally.cursor:  # a new ledger in the same place
            self.tables.clear()
            self.acks.clear()
            self.groups.clear()
            self.anomalies.clear()
            tally = None
        if tally is None:
            tally = self.tables[table] = EffectsTally(table, self.id_limit)
        tally.refresh(ledger, settled_before)
        return tally

    def produced(self, ledger: EffectsLedger, topic: str, settled_before: float) -> int:
        return self.acks.setdefault(topic, AckTally(topic)).count(ledger, settled_before)

    def anomaly_checker(self, ledger: EffectsLedger, topic: str, output_topic: str) -> AnomalyChecker:
        """The Jepsen-class checks of ``topic``, brought up to the rows the effect tallies have settled."""
        checker = self.anomalies.get((topic, output_topic))
        if checker is None:
            checker = self.anomalies[(topic, output_topic)] = AnomalyChecker(topic, output_topic, self.id_limit)
        effects, outputs = self.tables.get("effects"), self.tables.get("outputs")
        checker.refresh(
            ledger,
            effects.complete_through if effects is not None else 0,
            outputs.complete_through if outputs is not None else 0,
        )
        return checker

    def group(self, consumer: str, topic: str, table: str) -> GroupTally:
        key = (consumer, topic, table)
        tally = self.groups.get(key)
        if tally is None:
            tally = self.groups[key] = GroupTally(consumer, topic, self.tables[table])
        return tally
