"""The audit: did each demo consumer lose, duplicate or invent events? (Jepsen's queue checker.)

Attempts are the sends the broker acknowledged (the ledger's ``acked_events``). For
each consumer group:

* **lost** — acknowledged, the group's committed offset for that partition is past the
  event's offset (so Kafka will never deliver it to the group again), and no effect;
* **duplicate** — every effect after the first for the same event id;
* **unexpected** — an effect for an event nobody acknowledged.

An event the group has not committed past yet is neither lost nor processed: it is
still in flight. For exactly-once the effect is the *committed* output record in
``<topic>.processed`` (read with ``read_committed``), not the ledger: that is what a
downstream reader sees. Counting is done in SQL (GROUP BY) so 100k events stay cheap,
and the output topic is read incrementally, so polling the audit every second only
reads what is new. Synchronous; call it from a worker thread, not an event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from deliverytui.dedup import DedupStoreError, open_store
from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.semantics import SEMANTICS, output_topic, semantic_spec, store_url_for
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC
from deliverytui.demo.offsets import OffsetReader
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.model.demo import (
    DUPLICATE,
    LOST,
    UNEXPECTED,
    Attempt,
    AuditReport,
    ConsumerAudit,
    OffendingEvent,
    Redelivery,
)

ID_LIMIT = 1000
"""At most this many ids per list (and per kind in ``offending``): enough to look at, bounded to print."""

_readers: dict[str, OffsetReader] = {}
_admins: dict[str, AdminClient] = {}
_tallies: dict[tuple[str, str], OutputTally] = {}
_cache_lock = threading.Lock()


#: How long an effect may precede its event's ack row (producer delivery report) before it counts as unexpected.
ACK_GRACE_SECONDS = 5.0

def offset_reader(bootstrap: str, request_timeout: float = 10.0) -> OffsetReader:
    """One long-lived :class:`OffsetReader` per cluster: the TUI audits every second."""
    with _cache_lock:
        reader = _readers.get(bootstrap)
        if reader is None:
            reader = _readers[bootstrap] = OffsetReader(bootstrap, request_timeout)
        return reader


def _admin(bootstrap: str) -> AdminClient:
    with _cache_lock:
        admin = _admins.get(bootstrap)
        if admin is None:
            admin = _admins[bootstrap] = AdminClient({"bootstrap.servers": bootstrap}, logger=silent_librdkafka_logger())
        return admin


class OutputTally:
    """Committed output records of the exactly-once consumers, counted per (group, event id).

    Reads ``read_committed`` from the beginning once, then only what is new on each
    :meth:`refresh`: aborted records (a crash mid-transaction) are never delivered.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.counts: dict[str, dict[str, int]] = {}
        self.first_seen: dict[tuple[str, str], tuple[int, int]] = {}
        self._consumer: Consumer | None = None
        self._assigned: set[int] = set()
        self._next: dict[int, int] = {}
        self._lock = threading.Lock()

    def refresh(self, admin: AdminClient, timeout: float = 10.0) -> bool:
        """Read up to the last stable offset of every partition; False if ``timeout`` ran out first."""
        with self._lock:
            meta = admin.list_topics(self.topic, timeout=timeout).topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return True  # nothing was ever produced
            partitions = sorted(meta.partitions)
            futures = admin.list_offsets(
                {TopicPartition(self.topic, p): OffsetSpec.latest() for p in partitions},
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=timeout,
            )
            stable = {tp.partition: int(f.result(timeout=timeout).offset) for tp, f in futures.items()}
            if self._consumer is None:
                self._consumer = Consumer(
                    {
                        "bootstrap.servers": self.bootstrap,
                        "group.id": f"deliverytui-audit-{uuid.uuid4().hex[:8]}",  # never commits, never joins
                        "enable.auto.commit": False,
                        "enable.partition.eof": True,
                        "isolation.level": "read_committed",
                    },
                    logger=silent_librdkafka_logger(),
                )
            new = [p for p in partitions if p not in self._assigned]
            if new:
                self._consumer.incremental_assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in new])
                self._assigned.update(new)
            pending = {p for p in partitions if stable[p] > self._next.get(p, 0)}
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for message in self._consumer.consume(num_messages=1000, timeout=0.2):
                    partition = message.partition() or 0
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            self._next[partition] = max(self._next.get(partition, 0), stable.get(partition, 0))
                            pending.discard(partition)
                        continue
                    offset = message.offset() or 0
                    self._next[partition] = offset + 1
                    self._count(message.key(), message.value(), partition, offset)
                    if offset + 1 >= stable.get(partition, 0):
                        pending.discard(partition)
            return not pending

    def _count(self, key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        try:
            record = json.loads(value or b"{}")
            event_id = str(record.get("event_id") or (key or b"").decode())
            group = str(record.get("processed_by") or "")
        except (ValueError, UnicodeDecodeError, AttributeError):
            return
        per_group = self.counts.setdefault(group, {})
        per_group[event_id] = per_group.get(event_id, 0) + 1
        self.first_seen.setdefault((group, event_id), (partition, offset))

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def _tally(bootstrap: str, topic: str) -> OutputTally:
    with _cache_lock:
        tally = _tallies.get((bootstrap, topic))
        if tally is None:
            tally = _tallies[(bootstrap, topic)] = OutputTally(bootstrap, topic)
        return tally


async def _read_hits(url: str, group: str) -> int:
    store = open_store(url, group=group, create_schema=False)
    try:
        counters = await store.read_counters()
    finally:
        await store.close()
    return counters.hits if counters is not None else 0


def dedup_hits(url: str, group: str) -> int:
    """Duplicates the store caught for ``group`` (its ``hits`` counter; unchanged writes for the SQL patterns)."""
    return asyncio.run(_read_hits(url, group))


def audit(
    ledger: EffectsLedger,
    bootstrap: str,
    *,
    group_prefix: str = "",
    semantics: Iterable[str] = tuple(SEMANTICS),
    topic: str = TASK_EVENTS_TOPIC,
    dedup_url: str | None = None,
    run_dir: str | Path | None = None,
    request_timeout: float = 10.0,
    id_limit: int = ID_LIMIT,
    ack_grace_seconds: float = ACK_GRACE_SECONDS,
) -> AuditReport:
    """Audit each demo consumer in ``semantics`` against the ledger's acknowledged sends to ``topic``.

    ``dedup_url``/``run_dir`` locate the idempotency stores exactly as the consumers did
    (:func:`store_url_for`); with neither, ``dedup_hits`` is 0 and a note says why.
    """
    reader = offset_reader(bootstrap, request_timeout)
    produced = ledger.acked_count(topic)
    crashes = ledger.crash_counts()
    warnings: list[str] = []
    audits = []
    for name in semantics:
        spec = semantic_spec(name)
        group = spec.group_id(group_prefix)
        committed = reader.committed(group, topic)
        processed = ledger.acked_passed(topic, committed)
        notes: list[str] = []
        hits = 0
        if spec.uses_dedup_store:
            if dedup_url is None and run_dir is None:
                notes.append("dedup hits unknown: no dedup store URL or run dir given")
            else:
                url = store_url_for(name, dedup_url, run_dir or ".")
                try:
                    hits = dedup_hits(url, group) if url else 0
                except (DedupStoreError, UserFacingError) as exc:
                    notes.append(f"dedup hits unknown: {exc}")
        if name == "exactly-once":
            tally = _tally(bootstrap, output_topic(topic))
            if not tally.refresh(_admin(bootstrap), timeout=request_timeout):
                notes.append(f"{output_topic(topic)} was not read to its end within {request_timeout:.0f} s")
            consumer_audit = _audit_output(
                ledger, topic, name, group, committed, tally, produced, processed, hits, id_limit
            )
        else:
            consumer_audit = _audit_ledger(
                ledger, topic, name, group, committed, produced, processed, hits, id_limit, ack_grace_seconds
            )
        audits.append(_with(consumer_audit, crashes=crashes.get(group, 0), notes=tuple(notes)))
    return AuditReport(
        topic=topic,
        produced=produced,
        consumers=tuple(audits),
        taken_at=datetime.now(timezone.utc),
        warnings=tuple(warnings),
    )


def _with(audit_: ConsumerAudit, *, crashes: int, notes: tuple[str, ...]) -> ConsumerAudit:
    return replace(audit_, crashes=crashes, notes=audit_.notes + notes)


def _audit_ledger(
    ledger: EffectsLedger,
    topic: str,
    semantic: str,
    group: str,
    committed: Mapping[int, int],
    produced: int,
    processed: int,
    hits: int,
    id_limit: int,
    ack_grace_seconds: float = ACK_GRACE_SECONDS,
) -> ConsumerAudit:
    effects, unique = ledger.effect_totals(group)
    lost, lost_rows = ledger.lost_events(group, topic, committed, id_limit)
    duplicated = ledger.duplicated_events(group, id_limit)
    # Effects newer than the grace period may still be waiting for the producer's ack row.
    unexpected, unexpected_rows = ledger.unexpected_events(group, id_limit, settled_before=time.time() - ack_grace_seconds)
    offending = (
        [OffendingEvent(e, p, o, LOST) for e, p, o in lost_rows]
        + [OffendingEvent(e, p, o, DUPLICATE) for e, _n, p, o in duplicated]
        + [OffendingEvent(e, p, o, UNEXPECTED) for e, p, o in unexpected_rows]
    )
    duplicate_groups = effects - unique  # every effect after the first of its event
    redeliveries = explain_duplicates(ledger, group, id_limit) if duplicated else ()
    notes: tuple[str, ...] = ()
    if redeliveries:
        causes: dict[str, int] = {}
        for redelivery in redeliveries:
            causes[redelivery.cause] = causes.get(redelivery.cause, 0) + 1
        notes = (
            "duplicated events by cause: " + ", ".join(f"{n} after a {c}" if c in ("rebalance", "restart") else f"{n} {c}"
                                                      for c, n in sorted(causes.items())),
        )  # fmt: skip
    return ConsumerAudit(
        semantic=semantic,
        group=group,
        produced=produced,
        processed=processed,
        effects=effects,
        unique_effects=unique,
        duplicates=duplicate_groups,
        lost=lost,
        unexpected=unexpected,
        dedup_hits=hits,
        crashes=0,
        lost_event_ids=tuple(e for e, _p, _o in lost_rows),
        duplicate_event_ids=tuple(e for e, _n, _p, _o in duplicated),
        offending=tuple(offending),
        truncated=lost > len(lost_rows) or len(duplicated) >= id_limit or unexpected > len(unexpected_rows),
        notes=notes,
        redeliveries=redeliveries,
    )


def explain_duplicates(ledger: EffectsLedger, group: str, limit: int = ID_LIMIT) -> tuple[Redelivery, ...]:
    """Each duplicated event of ``group`` (the first ``limit``) with its attempts and the cause of the first redo."""
    by_event: dict[str, list[Attempt]] = {}
    for event_id, partition, offset, instance, at in ledger.duplicate_attempts(group, limit):
        by_event.setdefault(event_id, []).append(Attempt(instance, partition, offset, at))
    return tuple(
        Redelivery(event_id, Redelivery.classify(attempts[0], attempts[1]), tuple(attempts))
        for event_id, attempts in by_event.items()
        if len(attempts) > 1
    )


def _audit_output(
    ledger: EffectsLedger,
    topic: str,
    semantic: str,
    group: str,
    committed: Mapping[int, int],
    tally: OutputTally,
    produced: int,
    processed: int,
    hits: int,
    id_limit: int,
) -> ConsumerAudit:
    counts = dict(tally.counts.get(group, {}))
    acked = ledger.acked_events(topic)
    acked_ids = {a.event_id for a in acked}
    lost_events = [
        a for a in acked if a.offset < committed.get(a.partition, 0) and counts.get(a.event_id, 0) == 0
    ]
    lost_events.sort(key=lambda a: (a.partition, a.offset))
    duplicated = [e for e, n in counts.items() if n > 1]
    unexpected = [e for e in counts if e not in acked_ids]
    where = tally.first_seen

    def place(event_id: str) -> tuple[int | None, int | None]:
        return where.get((group, event_id), (None, None))

    offending = (
        [OffendingEvent(a.event_id, a.partition, a.offset, LOST) for a in lost_events[:id_limit]]
        + [OffendingEvent(e, *place(e), DUPLICATE) for e in duplicated[:id_limit]]
        + [OffendingEvent(e, *place(e), UNEXPECTED) for e in unexpected[:id_limit]]
    )
    return ConsumerAudit(
        semantic=semantic,
        group=group,
        produced=produced,
        processed=processed,
        effects=sum(counts.values()),
        unique_effects=len(counts),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=len(lost_events),
        unexpected=len(unexpected),
        dedup_hits=hits,
        crashes=0,
        lost_event_ids=tuple(a.event_id for a in lost_events[:id_limit]),
        duplicate_event_ids=tuple(duplicated[:id_limit]),
        offending=tuple(offending),
        truncated=max(len(lost_events), len(duplicated), len(unexpected)) > id_limit,
        notes=("effects are committed records in the output topic, read with read_committed",),
    )
