"""The reads of the Jepsen-class checker (:mod:`deliverytui.demo.anomalies`): polls, positions, aborts.

Why apart from the tally reads: these answer a different question — not "was every event
done once?" but "did the log and the readers behave like a log?" (offsets a process reads
going backwards or skipping, one offset holding two events, a read_committed reader seeing
an aborted record). Each read is bounded by a row-id range or a time, so the live audit
reads only what is new.
"""

from __future__ import annotations

from deliverytui.demo.ledger.connection import LedgerConnection, int_or_none
from deliverytui.demo.ledger.schema import effects_table


class AnomalyReads(LedgerConnection):
    """The Jepsen-class reads of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    def effect_polls(self, after_id: int, through_id: int) -> list[tuple[int, str, str | None, int | None, int | None, int | None]]:
        """(id, consumer, instance, epoch, partition, offset) of effects with ``after_id`` < id <= ``through_id``,
        in id order: within one process that is the order it read its records in."""
        rows = self._rows(
            'SELECT id, consumer, instance, epoch, "partition", "offset" FROM effects WHERE id > ? AND id <= ? ORDER BY id',
            (after_id, through_id),
        )
        return [(int(i), c, n, int_or_none(ep), int_or_none(p), int_or_none(o)) for i, c, n, ep, p, o in rows]

    def effects_off_their_offset(
        self, topic: str, after_id: int, through_id: int, table: str = "effects"
    ) -> list[tuple[str, int, int, str, str]]:
        """(consumer, partition, offset, event_id, acked event_id) of effects in the id range whose
        source position holds another event in the producer's acks."""
        rows = self._rows(
            f'SELECT e.consumer, e."partition", e."offset", e.event_id, a.event_id FROM {effects_table(table)} e '
            'JOIN acked_events a ON a.topic = ? AND a."partition" = e."partition" AND a."offset" = e."offset" '
            "WHERE e.id > ? AND e.id <= ? AND a.event_id <> e.event_id ORDER BY e.id",
            (topic, after_id, through_id),
        )
        return [(c, int(p), int(o), e, a) for c, p, o, e, a in rows]

    def acks_sharing_offsets(self, topic: str, acked_since: float) -> list[tuple[int, int, str, str]]:
        """(partition, offset, event_id, other event_id) of acks recorded at or after ``acked_since``
        whose position another acknowledged event also holds."""
        rows = self._rows(
            'SELECT a."partition", a."offset", a.event_id, b.event_id FROM acked_events a '
            'JOIN acked_events b ON b.topic = a.topic AND b."partition" = a."partition" AND b."offset" = a."offset" '
            "AND b.event_id <> a.event_id WHERE a.topic = ? AND a.acked_at >= ?",
            (topic, acked_since),
        )
        return [(int(p), int(o), e, b) for p, o, e, b in rows]

    def newest_ack_time(self, topic: str) -> float | None:
        value = self._scalar("SELECT MAX(acked_at) FROM acked_events WHERE topic = ?", (topic,))
        return None if value is None else float(value)

    def aborted_positions(self, topic: str) -> set[tuple[int, int]]:
        """(partition, offset) of every output record of ``topic`` known to be aborted."""
        return {
            (int(p), int(o))
            for p, o in self._rows("SELECT out_partition, out_offset FROM aborted_outputs WHERE topic = ?", (topic,))
        }

    def aborted_reads(self, topic: str) -> list[tuple[str, int, int, str]]:
        """(consumer, out_partition, out_offset, event_id) of output records the audit's read_committed
        reader copied although they were aborted (Jepsen's G1a)."""
        rows = self._rows(
            "SELECT o.consumer, o.out_partition, o.out_offset, o.event_id FROM aborted_outputs a "
            "JOIN outputs o ON o.topic = a.topic AND o.out_partition = a.out_partition AND o.out_offset = a.out_offset "
            "WHERE a.topic = ? ORDER BY o.out_partition, o.out_offset",
            (topic,),
        )
        return [(c, int(p), int(o), e) for c, p, o, e in rows]
