"""Jepsen's anomaly classes, as the lab's audit reports them. No I/O.

Why beside lost/duplicate/unexpected: those say whether each *event* was done once; these say
whether Kafka and its readers behaved like a log at all, in the words of Jepsen's Kafka
checker, so that a fault run (``benchmarks/nemesis.py``) can show the broker kept its side:

* ``nonmonotonic-poll`` — one consumer process read an offset at or below one it had already
  read in the same partition, within one assignment epoch;
* ``poll-skip`` — one consumer process jumped over acknowledged events of a partition
  within one assignment epoch;
* ``G1a`` (aborted read) — a ``read_committed`` reader saw an output record of a transaction
  that was aborted;
* ``inconsistent-offsets`` — one offset of a partition carrying two different events.

As in Jepsen, a rebalance excuses the first two (an assignment change makes a consumer
start again from the committed offset); here the consumer's own seek back (a refused
commit, an aborted transaction, a store outage) starts a new epoch too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NONMONOTONIC_POLL = "nonmonotonic-poll"
POLL_SKIP = "poll-skip"
ABORTED_READ = "G1a"
INCONSISTENT_OFFSETS = "inconsistent-offsets"
ANOMALY_CLASSES = (NONMONOTONIC_POLL, POLL_SKIP, ABORTED_READ, INCONSISTENT_OFFSETS)

ANOMALY_MEANINGS = {
    NONMONOTONIC_POLL: "a consumer process read an offset at or below one it already read, with no rebalance between",
    POLL_SKIP: "a consumer process jumped over acknowledged events of a partition, with no rebalance between",
    ABORTED_READ: "G1a: a read_committed reader saw an output record of an aborted transaction",
    INCONSISTENT_OFFSETS: "one offset of a partition carried two different events",
}
"""One line per class: the lab's help and the README say the same."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One case of a Jepsen class: who saw it (a process ``"<n>:<pid>"``, or None), where, and what."""

    kind: str
    partition: int | None
    offset: int | None
    instance: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "partition": self.partition,
            "offset": self.offset,
            "instance": self.instance,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class AnomalyCounts:
    """How many cases of each class one consumer (or the topic itself) shows; ``cases`` are capped."""

    nonmonotonic_polls: int = 0
    poll_skips: int = 0
    aborted_reads: int = 0
    inconsistent_offsets: int = 0
    cases: tuple[Anomaly, ...] = ()

    @property
    def total(self) -> int:
        return self.nonmonotonic_polls + self.poll_skips + self.aborted_reads + self.inconsistent_offsets

    def by_class(self) -> dict[str, int]:
        return {
            NONMONOTONIC_POLL: self.nonmonotonic_polls,
            POLL_SKIP: self.poll_skips,
            ABORTED_READ: self.aborted_reads,
            INCONSISTENT_OFFSETS: self.inconsistent_offsets,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.by_class(), "cases": [case.to_json() for case in self.cases]}
