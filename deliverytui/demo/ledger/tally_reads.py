"""The running audit's incremental reads (:mod:`deliverytui.demo.audit_tally`): only rows it has not seen.

Each call reads what is new since the tally's last pass (by row id or by offset range),
so an audit of a long run does not rescan every acknowledged event each second.
"""

from __future__ import annotations

from collections.abc import Sequence

from deliverytui.demo.ledger.connection import LedgerConnection, chunks, int_or_none
from deliverytui.demo.ledger.schema import effects_table


class TallyReads(LedgerConnection):
    """The incremental reads of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    def max_effect_id(self, table: str = "effects") -> int:
        """The newest row id of ``table`` (0 when empty): a ledger that was recreated has a smaller one."""
        return int(self._scalar(f"SELECT MAX(id) FROM {effects_table(table)}") or 0)

    def effects_with_history(
        self, after_id: int, limit: int, table: str = "effects"
    ) -> list[tuple[int, str, str, int | None, int | None, float, int]]:
        """Rows with id > ``after_id``, oldest first, each with how many effects of the same
        consumer and event precede it: (id, event_id, consumer, partition, offset, at, earlier).

        SQLite's ``effects`` rows carry it already: ``attempt`` is counted in the insert
        itself, under SQLite's single write lock, so it is exact (and reading it is ~15x
        cheaper than counting again). PostgreSQL runs concurrent inserts — two instances of
        a consumer after a rebalance could both count one — and ``outputs`` has no attempt:
        those are counted here.
        """
        t = effects_table(table)
        if self.backend == "sqlite" and table == "effects":
            earlier = "e.attempt - 1"
        else:
            earlier = f"(SELECT COUNT(*) FROM {t} p WHERE p.consumer = e.consumer AND p.event_id = e.event_id AND p.id < e.id)"
        rows = self._rows(
            f'SELECT e.id, e.event_id, e.consumer, e."partition", e."offset", e.at, {earlier} '
            f"FROM {t} e WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (after_id, limit),
        )
        return [(int(i), e, c, int_or_none(p), int_or_none(o), float(a), int(n)) for i, e, c, p, o, a, n in rows]

    def first_effect_since(self, after_id: int, at_or_after: float, table: str = "effects") -> int | None:
        """The lowest id above ``after_id`` of an effect recorded at or after ``at_or_after`` (epoch s)."""
        value = self._scalar(f"SELECT MIN(id) FROM {effects_table(table)} WHERE id > ? AND at >= ?", (after_id, at_or_after))
        return None if value is None else int(value)

    def unacked_effects(
        self, low_id: int, high_id: int, table: str = "effects"
    ) -> list[tuple[str, str, int | None, int | None]]:
        """(event_id, consumer, partition, offset) of effects with ``low_id`` <= id <= ``high_id`` whose event no ack names."""
        rows = self._rows(
            f'SELECT e.event_id, e.consumer, e."partition", e."offset" FROM {effects_table(table)} e '
            "WHERE e.id >= ? AND e.id <= ? AND NOT EXISTS (SELECT 1 FROM acked_events a WHERE a.event_id = e.event_id) "
            "ORDER BY e.id",
            (low_id, high_id),
        )
        return [(e, c, int_or_none(p), int_or_none(o)) for e, c, p, o in rows]

    def late_effect(
        self, row_id: int, counted_through: int, not_counted: Sequence[int], table: str = "effects"
    ) -> tuple[int, str, str, int | None, int | None, float, int] | None:
        """Row ``row_id`` if it is visible now, with how many *already counted* effects of the
        same consumer and event exist (rows up to ``counted_through`` other than itself and
        the ids in ``not_counted``); None while it is still invisible."""
        t = effects_table(table)
        skip = [i for i in not_counted if i != row_id] or [-1]
        marks = ", ".join("?" for _ in skip)
        row = self._execute(
            f'SELECT e.id, e.event_id, e.consumer, e."partition", e."offset", e.at, '
            f"(SELECT COUNT(*) FROM {t} p WHERE p.consumer = e.consumer AND p.event_id = e.event_id "
            f"AND p.id <> e.id AND p.id <= ? AND p.id NOT IN ({marks})) FROM {t} e WHERE e.id = ?",
            (counted_through, *skip, row_id),
        ).fetchone()
        if row is None:
            return None
        i, e, c, p, o, a, n = row
        return int(i), e, c, int_or_none(p), int_or_none(o), float(a), int(n)

    def acked_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the producer's acks include."""
        found: set[str] = set()
        for chunk in chunks(event_ids, 500):
            marks = ", ".join("?" for _ in chunk)
            found.update(r[0] for r in self._rows(f"SELECT event_id FROM acked_events WHERE event_id IN ({marks})", chunk))
        return found

    def next_acked_partition(self, topic: str, after: int) -> int | None:
        """The smallest partition of ``topic`` above ``after`` with an acknowledged send (an index seek)."""
        value = self._scalar('SELECT MIN("partition") FROM acked_events WHERE topic = ? AND "partition" > ?', (topic, after))
        return None if value is None else int(value)

    def settled_ack_offset(
        self, topic: str, partition: int, low: int, high: int | None, settled_before: float
    ) -> int | None:
        """The highest offset in [``low``, ``high``) of an ack recorded before ``settled_before``."""
        upper, params = ("", []) if high is None else (' AND "offset" < ?', [high])
        value = self._scalar(
            'SELECT MAX("offset") FROM acked_events WHERE topic = ? AND "partition" = ? AND "offset" >= ?'
            + upper + " AND acked_at < ?",
            (topic, partition, low, *params, settled_before),
        )
        return None if value is None else int(value)

    def acked_between(self, topic: str, partition: int, low: int, high: int | None) -> int:
        """Acknowledged sends to ``topic``/``partition`` with ``low`` <= offset < ``high`` (None: no end)."""
        upper, params = ("", []) if high is None else (' AND "offset" < ?', [high])
        return int(
            self._scalar(
                'SELECT COUNT(*) FROM acked_events WHERE topic = ? AND "partition" = ? AND "offset" >= ?' + upper,
                (topic, partition, low, *params),
            )
            or 0
        )

    def unprocessed_between(
        self, consumer: str, topic: str, partition: int, low: int, high: int, table: str = "effects"
    ) -> list[tuple[int, str]]:
        """(offset, event_id) of acks in [``low``, ``high``) of one partition with no effect of ``consumer``."""
        rows = self._rows(
            'SELECT a."offset", a.event_id FROM acked_events a WHERE a.topic = ? AND a."partition" = ? '
            'AND a."offset" >= ? AND a."offset" < ? '
            f"AND NOT EXISTS (SELECT 1 FROM {effects_table(table)} e WHERE e.consumer = ? AND e.event_id = a.event_id) "
            'ORDER BY a."offset"',
            (topic, partition, low, high, consumer),
        )
        return [(int(o), e) for o, e in rows]
