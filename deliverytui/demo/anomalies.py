"""Jepsen's anomaly classes over the ledger: nonmonotonic-poll, poll-skip, G1a, inconsistent offsets.

Why a checker of its own: the audit's lost/duplicate counts judge each semantic; these judge
the log and its readers, as Jepsen's Kafka checker does, so that a fault run can tell "the
consumer's semantic allowed it" from "Kafka (or the client) broke its promise".

* **Polls.** Every effect row names the process that did it (``instance``, ``"<n>:<pid>"``)
  and that process's assignment epoch (``epoch``: it grows at every assignment, revocation
  or loss, and at every deliberate seek the consumer makes). Per process and partition,
  within one epoch, effects come in the order the process read its records, so the offsets
  must rise by exactly one acknowledged event each time: a lower or equal offset is a
  **nonmonotonic-poll**; a jump over an acknowledged event (Jepsen measures the jump in the
  log's version order, so records that are not events — malformed ones, other writers' —
  are no skip) is a **poll-skip**. A new epoch forgets the last offsets, as Jepsen forgets
  them at an assignment change.
* **Inconsistent offsets.** An effect whose source position holds another event in the
  producer's acks, or two acks at one position (a topic deleted and recreated under the same
  ledger, or a leader that lost acknowledged writes).
* **G1a.** The exactly-once consumer records the positions of the output records of every
  transaction it aborts (or crashes in the middle of); an output record the audit's
  ``read_committed`` reader copied at such a position is an aborted read.
  :func:`aborted_reads` judges any other reader's positions the same way.

Incremental like :mod:`deliverytui.demo.audit_tally`: each refresh reads the effect rows
past its cursor (only up to the row every earlier row is visible through), the acks of the
last few seconds, and the (small) aborted-outputs table.
"""

from __future__ import annotations

from collections.abc import Iterable

from deliverytui.demo.ledger import EffectsLedger
from deliverytui.model.anomalies import (
    ABORTED_READ,
    INCONSISTENT_OFFSETS,
    NONMONOTONIC_POLL,
    POLL_SKIP,
    Anomaly,
    AnomalyCounts,
)

ACK_RECHECK_SECONDS = 10.0
"""Acks are re-checked this far back on each refresh: a batch of acks may be written a little late."""


class ConsumerAnomalies:
    """One consumer's counts per class, and its first ``id_limit`` cases."""

    def __init__(self, id_limit: int) -> None:
        self.id_limit = id_limit
        self.counts = {NONMONOTONIC_POLL: 0, POLL_SKIP: 0, ABORTED_READ: 0, INCONSISTENT_OFFSETS: 0}
        self.cases: list[Anomaly] = []

    def add(self, case: Anomaly) -> None:
        self.counts[case.kind] += 1
        if len(self.cases) < self.id_limit:
            self.cases.append(case)

    def snapshot(self, aborted: list[Anomaly]) -> AnomalyCounts:
        cases = (self.cases + aborted)[: self.id_limit]
        return AnomalyCounts(
            nonmonotonic_polls=self.counts[NONMONOTONIC_POLL],
            poll_skips=self.counts[POLL_SKIP],
            aborted_reads=len(aborted),
            inconsistent_offsets=self.counts[INCONSISTENT_OFFSETS],
            cases=tuple(cases),
        )


class AnomalyChecker:
    """The running Jepsen-class checks of one ledger and one input topic (and its output topic)."""

    def __init__(self, topic: str, output_topic: str, id_limit: int) -> None:
        self.topic = topic
        self.output_topic = output_topic
        self.id_limit = id_limit
        self.effects_cursor = 0
        self.outputs_cursor = 0
        self.last_read: dict[tuple[str, str], tuple[int | None, dict[int, int]]] = {}
        """(consumer, instance) -> (epoch, partition -> last offset read in that epoch)."""
        self.consumers: dict[str, ConsumerAnomalies] = {}
        self.shared_offsets: dict[tuple[int, int], Anomaly] = {}
        """Positions two acknowledged events claim: the topic's own inconsistent offsets."""
        self.acks_checked_to: float | None = None
        self.aborted: dict[str, list[Anomaly]] = {}

    def of(self, consumer: str) -> ConsumerAnomalies:
        return self.consumers.setdefault(consumer, ConsumerAnomalies(self.id_limit))

    def refresh(self, ledger: EffectsLedger, effects_through: int, outputs_through: int) -> None:
        """Check effects up to row ``effects_through`` and outputs up to ``outputs_through`` (every
        earlier row visible), the recent acks, and the aborted outputs."""
        if effects_through > self.effects_cursor:
            for _id, consumer, instance, epoch, partition, offset in ledger.effect_polls(self.effects_cursor, effects_through):
                self._poll(ledger, consumer, instance, epoch, partition, offset)
            for row in ledger.effects_off_their_offset(self.topic, self.effects_cursor, effects_through):
                self._misplaced(*row, table="effects")
            self.effects_cursor = effects_through
        if outputs_through > self.outputs_cursor:
            for row in ledger.effects_off_their_offset(self.topic, self.outputs_cursor, outputs_through, "outputs"):
                self._misplaced(*row, table="outputs")
            self.outputs_cursor = outputs_through
        newest = ledger.newest_ack_time(self.topic)
        if newest is not None:
            since = 0.0 if self.acks_checked_to is None else self.acks_checked_to - ACK_RECHECK_SECONDS
            for partition, offset, event_id, other in ledger.acks_sharing_offsets(self.topic, since):
                self.shared_offsets.setdefault(
                    (partition, offset),
                    Anomaly(INCONSISTENT_OFFSETS, partition, offset, None,
                            f"{self.topic}:{partition}@{offset} was acknowledged for two events: {other} and {event_id}"),
                )  # fmt: skip
            self.acks_checked_to = newest
        aborted: dict[str, list[Anomaly]] = {}
        for consumer, partition, offset, event_id in ledger.aborted_reads(self.output_topic):
            detail = f"read_committed read {self.output_topic}:{partition}@{offset} ({event_id}), an aborted transaction's output"
            aborted.setdefault(consumer, []).append(Anomaly(ABORTED_READ, partition, offset, None, detail))
        self.aborted = aborted

    def _poll(
        self, ledger: EffectsLedger, consumer: str, instance: str | None, epoch: int | None, partition: int | None, offset: int | None
    ) -> None:
        if instance is None or partition is None or offset is None:
            return  # an effect from before instances were recorded: no process to follow
        key = (consumer, instance)
        state = self.last_read.get(key)
        if state is None or state[0] != epoch:
            state = self.last_read[key] = (epoch, {})
        reads = state[1]
        previous = reads.get(partition)
        reads[partition] = offset
        if previous is None:
            return
        if offset <= previous:
            self.of(consumer).add(
                Anomaly(NONMONOTONIC_POLL, partition, offset, instance,
                        f"process {instance} read {self.topic}:{partition}@{offset} after @{previous}, with no rebalance between"),
            )  # fmt: skip
        elif offset > previous + 1:
            skipped = ledger.acked_between(self.topic, partition, previous + 1, offset)
            if skipped:
                self.of(consumer).add(
                    Anomaly(POLL_SKIP, partition, offset, instance,
                            f"process {instance} jumped from {self.topic}:{partition}@{previous} to @{offset}, "
                            f"over {skipped} acknowledged event(s), with no rebalance between"),
                )  # fmt: skip

    def _misplaced(self, consumer: str, partition: int, offset: int, event_id: str, acked: str, *, table: str) -> None:
        what = "output of" if table == "outputs" else "effect of"
        self.of(consumer).add(
            Anomaly(INCONSISTENT_OFFSETS, partition, offset, None,
                    f"{what} {event_id} read at {self.topic}:{partition}@{offset}, where the producer's ack says {acked}"),
        )  # fmt: skip

    def counts_of(self, consumer: str) -> AnomalyCounts:
        return self.of(consumer).snapshot(self.aborted.get(consumer, []))

    def topic_counts(self) -> AnomalyCounts:
        """The topic's own inconsistent offsets (two acks at one position), whoever read them."""
        cases = tuple(list(self.shared_offsets.values())[: self.id_limit])
        return AnomalyCounts(inconsistent_offsets=len(self.shared_offsets), cases=cases)


def aborted_reads(aborted: set[tuple[int, int]], reads: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The positions among ``reads`` ((partition, offset) a reader got) that belong to aborted
    transactions (``EffectsLedger.aborted_positions``): Jepsen's G1a, for any reader."""
    return [position for position in reads if position in aborted]
