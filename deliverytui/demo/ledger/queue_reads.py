"""The queue consumer's own reads: delivery counts, archived (poison) events, and what is lost on a queue.

Why apart from the running tally: a share group has no committed offset to compare acknowledged
sends with — each record is acknowledged on its own, in any order, by either worker — so "lost"
cannot be "committed past without an effect". On a queue an event is done when it has an effect
or the broker archived it (it was released ``limit`` times); an acknowledged event that is
neither, once the queue had time to settle, is lost. The queue's row counts are small (a
lab's worth), so these are plain aggregate queries, not incremental ones.
"""

from __future__ import annotations

from deliverytui.demo.ledger.connection import LedgerConnection


class QueueReads(LedgerConnection):
    """The queue reads of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    def delivery_count_histogram(self, consumer: str, limit: int) -> dict[int, int]:
        """How many deliveries ended with each delivery count: one per effect, one per archived event.

        An effect recorded without a count (never, for the queue consumer) counts as a first delivery.
        """
        counts: dict[int, int] = {}
        rows = self._rows(
            "SELECT COALESCE(delivery_count, 1), COUNT(*) FROM effects WHERE consumer = ? GROUP BY COALESCE(delivery_count, 1)",
            (consumer,),
        )
        for count, n in rows:
            counts[int(count)] = counts.get(int(count), 0) + int(n)
        for _event_id, count, _attempts in self.archived_events(consumer, limit):
            counts[count] = counts.get(count, 0) + 1
        return dict(sorted(counts.items()))

    def max_delivery_count(self, consumer: str) -> int:
        """The highest delivery count ``consumer`` saw, on an effect or a failed attempt (0: none yet)."""
        effects = self._scalar("SELECT MAX(delivery_count) FROM effects WHERE consumer = ?", (consumer,))
        failures = self._scalar("SELECT MAX(delivery_count) FROM queue_failures WHERE consumer = ?", (consumer,))
        return max(int(effects or 0), int(failures or 0))

    def archived_events(self, consumer: str, limit: int) -> list[tuple[str, int, int]]:
        """Events ``consumer`` failed on ``limit`` times with no effect: the broker archived them.

        Each as (event_id, highest delivery count, failed attempts recorded), oldest first.
        """
        rows = self._rows(
            "SELECT f.event_id, MAX(f.delivery_count), COUNT(*), MIN(f.at) FROM queue_failures f "
            "WHERE f.consumer = ? AND NOT EXISTS (SELECT 1 FROM effects e WHERE e.consumer = f.consumer AND e.event_id = f.event_id) "
            "GROUP BY f.event_id HAVING MAX(f.delivery_count) >= ? ORDER BY MIN(f.at)",
            (consumer, limit),
        )
        return [(str(e), int(count), int(attempts)) for e, count, attempts, _at in rows]

    def queue_failures_of(self, consumer: str, event_id: str) -> list[int]:
        """The delivery counts of ``consumer``'s failed attempts at ``event_id``, in order."""
        rows = self._rows(
            "SELECT delivery_count FROM queue_failures WHERE consumer = ? AND event_id = ? ORDER BY at", (consumer, event_id)
        )
        return [int(count) for (count,) in rows]

    def queue_done(self, consumer: str, topic: str, limit: int) -> int:
        """Acknowledged events of ``topic`` (from ``consumer``'s stream start) with an effect or archived."""
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM acked_events a "
                + _FROM_START
                + "AND (EXISTS (SELECT 1 FROM effects e WHERE e.consumer = ? AND e.event_id = a.event_id) "
                "OR EXISTS (SELECT 1 FROM queue_failures f WHERE f.consumer = ? AND f.event_id = a.event_id "
                "AND f.delivery_count >= ?))",
                (consumer, topic, consumer, consumer, limit),
            )
            or 0
        )

    def queue_lost(
        self, consumer: str, topic: str, limit: int, acked_before: float, id_limit: int, *, behind_frontier: bool
    ) -> tuple[int, list[tuple[str, int, int]]]:
        """Acknowledged before ``acked_before`` and neither done nor archived: (count, first (event_id, partition, offset)).

        ``behind_frontier`` (a queue still running): only events below the highest offset the consumer
        has done in their partition, since a share group hands a partition's records out roughly in
        order and anything past that is a backlog, not a loss. A drained queue (headless) passes False.
        """
        # The frontier is one grouped pass over the consumer's effects, joined in: a correlated MAX per
        # acknowledged event made every audit quadratic (seconds at a few thousand events, the lab audits each second).
        frontier = (
            'JOIN (SELECT "partition" AS p, MAX("offset") AS top FROM effects WHERE consumer = ? GROUP BY "partition") d '
            'ON d.p = a."partition" '
            if behind_frontier
            else ""
        )
        where = (
            frontier
            + _FROM_START
            + ('AND a."offset" < d.top ' if behind_frontier else "")
            + "AND a.acked_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM effects e WHERE e.consumer = ? AND e.event_id = a.event_id) "
            "AND NOT EXISTS (SELECT 1 FROM queue_failures f WHERE f.consumer = ? AND f.event_id = a.event_id AND f.delivery_count >= ?)"
        )
        params = (*((consumer,) if behind_frontier else ()), consumer, topic, acked_before, consumer, consumer, limit)
        count = int(self._scalar("SELECT COUNT(*) FROM acked_events a " + where, params) or 0)
        rows = self._rows(
            'SELECT a.event_id, a."partition", a."offset" FROM acked_events a ' + where + ' ORDER BY a."partition", a."offset" LIMIT ?',
            (*params, id_limit),
        )
        return count, [(str(e), int(p), int(o)) for e, p, o in rows]


_FROM_START = (
    "LEFT JOIN stream_starts s ON s.consumer = ? AND s.topic = a.topic AND s.\"partition\" = a.\"partition\" "
    "WHERE a.topic = ? AND a.\"offset\" >= COALESCE(s.\"offset\", 0) "
)
"""Acknowledged events of the topic at or after the consumer's recorded stream start (none recorded: all)."""
