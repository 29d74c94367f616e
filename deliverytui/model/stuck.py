"""Stuck on what? The plain data behind the diagnosis of a partition that does not move.

Two causes are common and invisible in offsets alone:

- **a poison record**: the consumer fails on the record at the committed offset, restarts, and fails
  again, so the committed offset never moves (Burrow says STALL, or STOP once the consumer gave up).
  Seeing that record (key, size, headers, timestamp, the first bytes of the value) usually names the
  bug; skipping it is a ``shift-by +1`` of that one partition.
- **a pinned last stable offset**: a transaction left open (a producer that hangs or died between
  ``begin`` and ``commit``) keeps the last stable offset where it began, and every ``read_committed``
  consumer waits there, whatever the log end says. Kafka names the producer (DescribeProducers) and
  its transactional id (ListTransactions, DescribeTransactions), as ``kafka-transactions --find-hanging`` does.

Everything here is pure; the record's bytes and the names come from other people, so what a screen shows
is built with :func:`deliverytui.model.text.escaped_bytes` / :func:`~deliverytui.model.text.visible`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deliverytui.model.text import escaped_bytes, visible

#: Refreshes a last stable offset below the log end must stay unmoved before the panel calls it pinned.
#: Three: a healthy transaction (the lab's exactly-once consumer commits every few hundred ms) moves the
#: LSO between two refreshes, so three unmoved readings (6 s at the default 2 s refresh) are not a
#: transaction in flight but one that is held open; fewer would start the Java helper for nothing.
PINNED_LSO_REFRESHES = 3

#: How many bytes of a record's value the panel shows (escaped, so up to four cells a byte).
VALUE_HEAD_BYTES = 96


@dataclass(frozen=True)
class RecordPeek:
    """The record at a partition's committed offset, as read once (bytes kept raw; see :meth:`shown`)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value_size: int
    value_head: bytes
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int | None
    timestamp_type: str  # "create" | "log-append" | "-"

    def shown_key(self) -> str:
        return "null" if self.key is None else escaped_bytes(self.key, 64)

    def shown_value(self) -> str:
        return escaped_bytes(self.value_head, VALUE_HEAD_BYTES) + ("…" if self.value_size > len(self.value_head) else "")

    def shown_headers(self) -> list[str]:
        return [f"{visible(name)}={'null' if value is None else escaped_bytes(value, 32)}" for name, value in self.headers]

    @property
    def size(self) -> int:
        """Key plus value bytes (what a consumer's ``max.poll.records`` sizing and a handler's buffers see)."""
        return (len(self.key) if self.key else 0) + self.value_size


@dataclass(frozen=True)
class RecordPeekResult:
    """A peek, or why there is none (one line: not authorized, nothing at that offset yet, a timeout)."""

    key: str  # "topic:partition"
    offset: int
    record: RecordPeek | None = None
    problem: str | None = None


@dataclass(frozen=True)
class OpenTransaction:
    """A transaction open on one partition, as Kafka's Admin client describes it."""

    producer_id: int
    producer_epoch: int
    start_offset: int
    last_timestamp_ms: int
    transactional_id: str | None = None
    state: str | None = None
    start_time_ms: int | None = None
    timeout_ms: int | None = None
    #: False: the coordinator no longer counts this partition in the transaction, so no marker will
    #: come (a hanging transaction, as ``--find-hanging`` defines it). None: not known.
    coordinator_counts_partition: bool | None = None

    def open_seconds(self, now_ms: float) -> float | None:
        """How long it has been open, by the coordinator's start time (None when not known)."""
        return None if self.start_time_ms is None else max(0.0, (now_ms - self.start_time_ms) / 1000.0)


@dataclass(frozen=True)
class PinnedLso:
    """A last stable offset held below the log end for ``refreshes`` refreshes, and who holds it."""

    key: str
    last_stable_offset: int
    log_end_offset: int
    refreshes: int
    transactions: tuple[OpenTransaction, ...] = ()
    #: Why the transactions could not be named (no Java, no Read on the topic...); None when they were.
    problem: str | None = None


@dataclass(frozen=True)
class StuckView:
    """What the stuck panel shows for the selected partition (None parts are not shown)."""

    key: str
    record: RecordPeekResult | None = None
    pinned: PinnedLso | None = None


@dataclass
class LsoPins:
    """Counts, per partition, the refreshes its last stable offset has sat unmoved below the log end."""

    threshold: int = PINNED_LSO_REFRESHES
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → (lso, refreshes unmoved)

    def observe(self, key: str, last_stable: int | None, log_end: int | None) -> int:
        """Record one refresh's reading; return how many refreshes it has been pinned (0: not below the log end)."""
        if last_stable is None or log_end is None or last_stable >= log_end:
            self._seen.pop(key, None)
            return 0
        previous = self._seen.get(key)
        count = previous[1] + 1 if previous is not None and previous[0] == last_stable else 1
        self._seen[key] = (last_stable, count)
        return count

    def pinned(self, key: str) -> bool:
        seen = self._seen.get(key)
        return seen is not None and seen[1] >= self.threshold

    def refreshes(self, key: str) -> int:
        seen = self._seen.get(key)
        return 0 if seen is None else seen[1]
