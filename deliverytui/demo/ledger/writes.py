"""Recording what happened, at the moment it happens: acks, effects, crashes, malformed records, outputs.

The producer records every acknowledged send, consumers every side effect and every
crash (before the process dies), the auditor the exactly-once outputs it copies from
the output topic, and the lab its interventions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from deliverytui.demo.ledger.connection import LedgerConnection
from deliverytui.demo.ledger.records import AckedEvent


class LedgerWrites(LedgerConnection):
    """The writes of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    def record_ack(
        self,
        event_id: str,
        task_id: str | None,
        partition: int,
        offset: int,
        *,
        topic: str = "task-events",
        acked_at: float | None = None,
    ) -> None:
        """Record one acknowledged send (from the producer's delivery callback)."""
        self.record_acks([AckedEvent(event_id, task_id, topic, partition, offset, acked_at or time.time())])
    def record_acks(self, acks: Iterable[AckedEvent]) -> int:
        """Record many acknowledged sends in one transaction (the producer batches its callbacks)."""
        rows = [(a.event_id, a.task_id, a.topic, a.partition, a.offset, a.acked_at) for a in acks]
        if not rows:
            return 0
        statement = self._sql(
            'INSERT INTO acked_events (event_id, task_id, topic, "partition", "offset", acked_at) '
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
        )
        self._insert_many(statement, rows)
        return len(rows)

    def record_effect(
        self,
        event_id: str,
        consumer: str,
        partition: int | None,
        offset: int | None,
        instance: str | None = None,
        epoch: int | None = None,
        delivery_count: int | None = None,
    ) -> int:
        """Record one side effect of ``consumer`` (a group id); returns its attempt number (1 = first).

        ``instance`` names the process that did it (``"<instance number>:<pid>"`` for demo
        consumers), so the audit can tell a redelivery after a rebalance (another instance
        of the group) from one after a restart (the same instance, a new pid).
        ``epoch`` is that process's assignment epoch (see ``GroupMember.epoch``): the poll
        checker compares the offsets of one process only within one epoch.
        ``delivery_count``: the share group's delivery count of the record (the queue consumer only):
        2 or more means the broker gave it out before and nobody acknowledged it in time.
        The attempt is computed in the same statement, so it is exact for one writer per consumer.
        """
        return int(
            self._scalar(
                'INSERT INTO effects (event_id, consumer, "partition", "offset", attempt, at, instance, epoch, delivery_count) '
                "SELECT ?, ?, ?, ?, 1 + COUNT(*), ?, ?, ?, ? FROM effects WHERE consumer = ? AND event_id = ? "
                "RETURNING attempt",
                (event_id, consumer, partition, offset, time.time(), instance, epoch, delivery_count, consumer, event_id),
            )
        )

    def record_queue_failure(self, event_id: str, consumer: str, partition: int, offset: int, delivery_count: int) -> None:
        """The queue consumer failed on ``event_id`` (a poison event) and released it: no effect, one row per delivery."""
        self._execute(
            'INSERT INTO queue_failures (consumer, event_id, "partition", "offset", delivery_count, at) VALUES (?, ?, ?, ?, ?, ?)',
            (consumer, event_id, partition, offset, delivery_count, time.time()),
        )

    def has_effect(self, event_id: str, consumer: str) -> bool:
        """True if ``consumer`` recorded an effect for ``event_id``."""
        return self._scalar("SELECT 1 FROM effects WHERE consumer = ? AND event_id = ? LIMIT 1", (consumer, event_id)) is not None

    def record_crash(self, consumer: str, point: str) -> None:
        """Record that ``consumer`` (a group id) crashed at ``point``; written *before* the process dies."""
        self._execute("INSERT INTO crashes (consumer, point, at) VALUES (?, ?, ?)", (consumer, point, time.time()))

    def record_malformed(
        self, consumer: str, topic: str, partition: int, offset: int, reason: str, action: str
    ) -> None:
        """Record that ``consumer`` met a record that is not a usable event, and what it did with it."""
        self._execute(
            'INSERT INTO malformed (consumer, topic, "partition", "offset", reason, action, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
            (consumer, topic, partition, offset, reason, action, time.time()),
        )

    def record_outputs(self, rows: Sequence[tuple[str, int, int, str, str, int | None, int | None]]) -> int:
        """Record output records (topic, out_partition, out_offset, event_id, consumer, partition, offset);
        one already recorded (the same topic position) is skipped, so re-reading the topic is harmless."""
        if not rows:
            return 0
        now = time.time()
        statement = self._sql(
            'INSERT INTO outputs (topic, out_partition, out_offset, event_id, consumer, "partition", "offset", at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, out_partition, out_offset) DO NOTHING"
        )
        values = [(*row, now) for row in rows]
        self._insert_many(statement, values)
        return len(values)
    def record_aborted_outputs(self, consumer: str, rows: Sequence[tuple[str, int, int, str | None]]) -> int:
        """Record output records (topic, out_partition, out_offset, event_id) of a transaction that
        ``consumer`` aborted, or is about to crash in the middle of (never committed)."""
        if not rows:
            return 0
        now = time.time()
        statement = self._sql(
            "INSERT INTO aborted_outputs (topic, out_partition, out_offset, event_id, consumer, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, out_partition, out_offset) DO NOTHING"
        )
        self._insert_many(statement, [(*row, consumer, now) for row in rows])
        return len(rows)

    def record_intervention(self, consumer: str, kind: str, detail: str = "") -> None:
        """A planned stop, a replay, a second instance: what the audit names as a redelivery's cause."""
        self._execute(
            "INSERT INTO interventions (consumer, kind, detail, at) VALUES (?, ?, ?, ?)", (consumer, kind, detail, time.time())
        )
