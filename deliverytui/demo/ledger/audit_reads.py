"""The auditor's reads: full-scan counts of what was lost, duplicated or unexpected, and the history behind them.

The full-scan counts recount the whole ledger; the running audit keeps counts instead
(:mod:`deliverytui.demo.ledger.tally_reads`), and tests/test_demo_audit_tally.py checks
those against these. The history reads (attempts, crashes, interventions) explain a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deliverytui.demo.ledger.connection import LedgerConnection, chunks, int_or_none
from deliverytui.demo.ledger.records import AckedEvent, EffectRow
from deliverytui.demo.ledger.schema import effects_table


class AuditReads(LedgerConnection):
    """The audit's reads of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    # -- reads for the auditor and the live view ----------------------------------------------
    # The full-scan counts below (acked_passed, effect_totals, duplicated_events, lost_events,
    # unexpected_events) recount the whole ledger: the audit keeps running counts instead
    # (audit_tally), and tests/test_demo_audit_tally.py checks those against these.

    def malformed_records(self, consumer: str, topic: str, limit: int) -> tuple[int, list[tuple[int, int, str, str, int]]]:
        """Distinct malformed records ``consumer`` met on ``topic``: (count, first ``limit`` as
        (partition, offset, reason, action, times seen)), by position."""
        count = int(
            self._scalar(
                'SELECT COUNT(*) FROM (SELECT DISTINCT "partition", "offset" FROM malformed WHERE consumer = ? AND topic = ?) m',
                (consumer, topic),
            )
            or 0
        )
        if count == 0:
            return 0, []
        rows = self._rows(
            'SELECT "partition", "offset", MIN(reason), MIN(action), COUNT(*) FROM malformed WHERE consumer = ? AND topic = ? '
            'GROUP BY "partition", "offset" ORDER BY "partition", "offset" LIMIT ?',
            (consumer, topic, limit),
        )
        return count, [(int(p), int(o), str(r), str(a), int(n)) for p, o, r, a, n in rows]


    def acked_count(self, topic: str) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM acked_events WHERE topic = ?", (topic,)) or 0)

    def acked_partitions(self, topic: str) -> dict[int, int]:
        """Acknowledged sends per partition."""
        rows = self._rows('SELECT "partition", COUNT(*) FROM acked_events WHERE topic = ? GROUP BY "partition"', (topic,))
        return {int(p): int(n) for p, n in rows}

    def acked_events(self, topic: str) -> list[AckedEvent]:
        """Every acknowledged send to ``topic`` (for checks that cannot be done in SQL)."""
        rows = self._rows(
            'SELECT event_id, task_id, topic, "partition", "offset", acked_at FROM acked_events WHERE topic = ?',
            (topic,),
        )
        return [AckedEvent(e, t, tp, int(p), int(o), float(a)) for e, t, tp, p, o, a in rows]

    def acked_passed(self, topic: str, committed: Mapping[int, int]) -> int:
        """Acknowledged sends the group's committed offsets have passed."""
        where, params = passed_condition(committed)
        if not where:
            return 0
        return int(self._scalar(f"SELECT COUNT(*) FROM acked_events a WHERE a.topic = ? AND ({where})", (topic, *params)) or 0)

    def effect_totals(self, consumer: str, table: str = "effects") -> tuple[int, int]:
        """(effects, distinct events with an effect) of ``consumer`` (``table="outputs"``: exactly-once output)."""
        row = self._execute(
            f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM {effects_table(table)} WHERE consumer = ?", (consumer,)
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def duplicated_events(
        self, consumer: str, limit: int, table: str = "effects"
    ) -> list[tuple[str, int, int | None, int | None]]:
        """(event_id, effect count, partition, offset) for events with more than one effect, at most ``limit``."""
        rows = self._rows(
            f'SELECT event_id, COUNT(*), MIN("partition"), MIN("offset") FROM {effects_table(table)} WHERE consumer = ? '
            "GROUP BY event_id HAVING COUNT(*) > 1 ORDER BY MIN(id) LIMIT ?",
            (consumer, limit),
        )
        return [(e, int(n), int_or_none(p), int_or_none(o)) for e, n, p, o in rows]

    def lost_events(
        self, consumer: str, topic: str, committed: Mapping[int, int], limit: int, table: str = "effects"
    ) -> tuple[int, list[tuple[str, int, int]]]:
        """Acknowledged events below the committed offsets with no effect of ``consumer``: (count, first ``limit``)."""
        where, params = passed_condition(committed)
        if not where:
            return 0, []
        body = (
            "FROM acked_events a WHERE a.topic = ? AND ("
            + where
            + f") AND NOT EXISTS (SELECT 1 FROM {effects_table(table)} e WHERE e.consumer = ? AND e.event_id = a.event_id)"
        )
        count = int(self._scalar("SELECT COUNT(*) " + body, (topic, *params, consumer)) or 0)
        if count == 0:
            return 0, []  # the common case: no second pass over every acknowledged event
        rows = self._rows(
            'SELECT a.event_id, a."partition", a."offset" ' + body + ' ORDER BY a."partition", a."offset" LIMIT ?',
            (topic, *params, consumer, limit),
        )
        return count, [(e, int(p), int(o)) for e, p, o in rows]

    def unexpected_events(
        self, consumer: str, limit: int, *, settled_before: float | None = None, table: str = "effects"
    ) -> tuple[int, list[tuple[str, int | None, int | None]]]:
        """Events ``consumer`` had an effect for that were never acknowledged: (count, first ``limit``).

        A consumer can act on a record before the producer's delivery report (and so the
        ack row) arrives; effects at or after ``settled_before`` (epoch seconds) are still in
        flight and are not counted.
        """
        settled = float("inf") if settled_before is None else settled_before
        body = (
            f"FROM {effects_table(table)} e WHERE e.consumer = ? AND e.at < ? AND NOT EXISTS "
            "(SELECT 1 FROM acked_events a WHERE a.event_id = e.event_id)"
        )
        count = int(self._scalar("SELECT COUNT(DISTINCT e.event_id) " + body, (consumer, settled)) or 0)
        if count == 0:
            return 0, []
        rows = self._rows(
            'SELECT e.event_id, MIN(e."partition"), MIN(e."offset") ' + body + " GROUP BY e.event_id LIMIT ?",
            (consumer, settled, limit),
        )
        return count, [(e, int_or_none(p), int_or_none(o)) for e, p, o in rows]

    def attempts_of(
        self, consumer: str, event_ids: Sequence[str]
    ) -> list[tuple[str, int | None, int | None, str | None, float]]:
        """Every effect of ``consumer`` for ``event_ids``: (event_id, partition, offset, instance, at), oldest first."""
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks(event_ids, 500):
            marks = ", ".join("?" for _ in chunk)
            rows += self._rows(
                f'SELECT id, event_id, "partition", "offset", instance, at FROM effects WHERE consumer = ? '
                f"AND event_id IN ({marks})",
                (consumer, *chunk),
            )
        rows.sort(key=lambda r: int(r[0]))
        return [(e, int_or_none(p), int_or_none(o), i, float(a)) for _id, e, p, o, i, a in rows]
    def output_positions(self, topic: str) -> dict[int, int]:
        """Per partition of output ``topic``: the offset after the last recorded output record."""
        rows = self._rows("SELECT out_partition, MAX(out_offset) FROM outputs WHERE topic = ? GROUP BY out_partition", (topic,))
        return {int(p): int(o) + 1 for p, o in rows}
    def interventions_of(self, consumer: str) -> list[tuple[str, str, float]]:
        """(kind, detail, at) of every intervention on ``consumer``, oldest first."""
        rows = self._rows("SELECT kind, detail, at FROM interventions WHERE consumer = ? ORDER BY at", (consumer,))
        return [(k, d, float(a)) for k, d, a in rows]
    def crash_counts(self) -> dict[str, int]:
        """Crash rows per consumer (group id)."""
        return {c: int(n) for c, n in self._rows("SELECT consumer, COUNT(*) FROM crashes GROUP BY consumer")}

    def crashes_of(self, consumer: str) -> list[tuple[str, float]]:
        """(point, at) of every crash of ``consumer``, oldest first."""
        return [(p, float(a)) for p, a in self._rows("SELECT point, at FROM crashes WHERE consumer = ? ORDER BY at", (consumer,))]

    def effect_positions(self, consumer: str, table: str = "effects") -> list[tuple[str, int | None, int | None, float]]:
        """(event_id, partition, offset, at) of every effect of ``consumer``, oldest first: a story plot's marks."""
        rows = self._rows(
            f'SELECT event_id, "partition", "offset", at FROM {effects_table(table)} WHERE consumer = ? ORDER BY id',
            (consumer,),
        )
        return [(e, int_or_none(p), int_or_none(o), float(a)) for e, p, o, a in rows]

    def ack_positions(self, event_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """event_id -> (partition, offset) of those of ``event_ids`` the broker acknowledged."""
        found: dict[str, tuple[int, int]] = {}
        for chunk in chunks(list(event_ids), 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self._rows(f'SELECT event_id, "partition", "offset" FROM acked_events WHERE event_id IN ({marks})', chunk)
            found.update({e: (int(p), int(o)) for e, p, o in rows})
        return found

    def acked_offset_range(self, topic: str) -> dict[int, tuple[int, int]]:
        """partition -> (lowest, highest) acknowledged offset in ``topic``."""
        rows = self._rows(
            'SELECT "partition", MIN("offset"), MAX("offset") FROM acked_events WHERE topic = ? GROUP BY "partition"', (topic,)
        )
        return {int(p): (int(lo), int(hi)) for p, lo, hi in rows}

    def effects_after(self, after_id: int, limit: int = 500) -> list[EffectRow]:
        """Effects with id > ``after_id``, oldest first: the live view tails the ledger with this."""
        rows = self._rows(
            'SELECT id, event_id, consumer, "partition", "offset", attempt, at FROM effects WHERE id > ? ORDER BY id LIMIT ?',
            (after_id, limit),
        )
        return [EffectRow(int(i), e, c, int_or_none(p), int_or_none(o), int(a), float(t)) for i, e, c, p, o, a, t in rows]


def passed_condition(committed: Mapping[int, int]) -> tuple[str, list[int]]:
    """SQL for "this acked event lies below its partition's committed offset"."""
    parts = []
    params: list[int] = []
    for partition, offset in sorted(committed.items()):
        parts.append('(a."partition" = ? AND a."offset" < ?)')
        params += [int(partition), int(offset)]
    return " OR ".join(parts), params

