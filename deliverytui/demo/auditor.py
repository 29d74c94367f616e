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
downstream reader sees. The output topic is read incrementally into the ledger's
``outputs`` table, and the counts are running counts (:mod:`deliverytui.demo.audit_tally`):
polling the audit every second only reads what is new, and neither its time nor its memory
grows with the events. Synchronous; call it from a worker thread, not an event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from deliverytui.dedup import DedupStoreError, open_store
from deliverytui.demo.audit_tally import LedgerTally
from deliverytui.demo.kafka_access import config_key, lab_client_config
from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.queue_audit import queue_audit
from deliverytui.demo.semantics import KILLED, SEMANTICS, output_topic, semantic_spec, store_url_for
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.model.demo import (
    DUPLICATE,
    LOST,
    RESTART,
    UNEXPECTED,
    Attempt,
    AuditReport,
    ConsumerAudit,
    MalformedRecord,
    OffendingEvent,
    Redelivery,
)

ID_LIMIT = 1000
"""At most this many ids per list (and per kind in ``offending``): enough to look at, bounded to print."""

_readers: dict[str, OffsetReader] = {}
_admins: dict[str, AdminClient] = {}
_tallies: dict[tuple[str, str, str], OutputTally] = {}
_ledger_tallies: dict[tuple[str, int], LedgerTally] = {}
_cache_lock = threading.Lock()


#: How long an effect may precede its event's ack row (producer delivery report) before it counts as unexpected.
ACK_GRACE_SECONDS = 5.0

def offset_reader(bootstrap: str, request_timeout: float = 10.0, kafka_config: Mapping[str, str] | None = None) -> OffsetReader:
    """One long-lived :class:`OffsetReader` per cluster and login: the TUI audits every second."""
    key = config_key(bootstrap, kafka_config)
    with _cache_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = OffsetReader(bootstrap, request_timeout, kafka_config)
        return reader


def _admin(bootstrap: str, kafka_config: Mapping[str, str] | None = None) -> AdminClient:
    key = config_key(bootstrap, kafka_config)
    with _cache_lock:
        admin = _admins.get(key)
        if admin is None:
            admin = _admins[key] = AdminClient(lab_client_config(bootstrap, kafka_config), logger=silent_librdkafka_logger())
        return admin


OUTPUT_TALLY = ""
"""The ``stream_starts`` consumer name of the output tally (it reads the exactly-once output topic)."""


class OutputTally:
    """Copies the exactly-once consumers' committed output records into the ledger's ``outputs`` table.

    Reads ``read_committed`` (aborted records — a crash mid-transaction — are never
    delivered), from where the ledger's copy ends, then only what is new on each
    :meth:`refresh`. Only the read positions stay in memory: the counting is done in
    SQL, so a long lab run does not grow the auditor's memory with every event id.
    """

    def __init__(self, bootstrap: str, topic: str, kafka_config: Mapping[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.kafka_config = kafka_config
        self._consumer: Consumer | None = None
        self._assigned: set[int] = set()
        self._next: dict[int, int] | None = None
        self._lock = threading.Lock()

    def refresh(self, admin: AdminClient, ledger: EffectsLedger, timeout: float = 10.0) -> bool:
        """Copy up to the last stable offset of every partition; False if ``timeout`` ran out first."""
        with self._lock:
            meta = admin.list_topics(self.topic, timeout=timeout).topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                return True  # nothing was ever produced
            if self._next is None:  # where the ledger's copy ends, never before this story's start
                starts = ledger.stream_starts(OUTPUT_TALLY, self.topic)
                copied = ledger.output_positions(self.topic)
                self._next = {p: max(starts.get(p, 0), copied.get(p, 0)) for p in {*starts, *copied}}
            partitions = sorted(meta.partitions)
            futures = admin.list_offsets(
                {TopicPartition(self.topic, p): OffsetSpec.latest() for p in partitions},
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=timeout,
            )
            stable = {tp.partition: int(f.result(timeout=timeout).offset) for tp, f in futures.items()}
            pending = {p for p in partitions if stable[p] > self._next.get(p, 0)}
            if not pending:
                return True
            if self._consumer is None:
                self._consumer = Consumer(
                    lab_client_config(
                        self.bootstrap,
                        self.kafka_config,
                        {
                            "group.id": f"deliverytui-audit-{uuid.uuid4().hex[:8]}",  # never commits, never joins
                            "enable.auto.commit": False,
                            "enable.partition.eof": True,
                            "isolation.level": "read_committed",
                            "queued.max.messages.kbytes": 4096,  # between audits it only prefetches this much
                        },
                    ),
                    logger=silent_librdkafka_logger(),
                )
            new = [p for p in partitions if p not in self._assigned]
            if new:
                self._consumer.incremental_assign(
                    [TopicPartition(self.topic, p, self._next.get(p, OFFSET_BEGINNING)) for p in new]
                )
                self._assigned.update(new)
            rows: list[tuple[str, int, int, str, str, int | None, int | None]] = []
            deadline = time.monotonic() + timeout
            try:
                while pending and time.monotonic() < deadline:
                    batch = self._consumer.consume(num_messages=1000, timeout=0.2)
                    if batch:  # still reading: a slow (loaded) read is not given up while it progresses
                        deadline = max(deadline, time.monotonic() + min(timeout, 5.0))
                    for message in batch:
                        partition = message.partition() or 0
                        error = message.error()
                        if error is not None:
                            if error.code() == KafkaError._PARTITION_EOF:
                                # The EOF's offset is where the read stood when it was raised: an EOF
                                # queued before newer records arrived must not move the position past them.
                                end = message.offset() or 0
                                self._next[partition] = max(self._next.get(partition, 0), end)
                                if end >= stable.get(partition, 0):
                                    pending.discard(partition)
                            continue
                        offset = message.offset() or 0
                        self._next[partition] = offset + 1
                        row = self._row(message.key(), message.value(), partition, offset)
                        if row is not None:
                            rows.append(row)
                        if offset + 1 >= stable.get(partition, 0):
                            pending.discard(partition)
                    if len(rows) >= 5000:
                        ledger.record_outputs(rows)
                        rows = []
                ledger.record_outputs(rows)
            except BaseException:
                # Records read but not written (the ledger was busy or down) must be read again:
                # start over from what the ledger holds, with a new consumer.
                self._forget()
                raise
            return not pending

    def _forget(self) -> None:
        self._next = None
        self._assigned = set()
        self.close()

    def _row(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> tuple[str, int, int, str, str, int | None, int | None] | None:
        try:
            record = json.loads(value or b"{}")
            event_id = str(record.get("event_id") or (key or b"").decode())
            group = str(record.get("processed_by") or "")
            source = (record.get("source_partition"), record.get("source_offset"))
        except (ValueError, UnicodeDecodeError, AttributeError):
            return None
        if not event_id:
            return None  # the output of an input without event_id: counted as malformed, from the ledger
        source_partition = int(source[0]) if isinstance(source[0], int) else None
        source_offset = int(source[1]) if isinstance(source[1], int) else None
        return (self.topic, partition, offset, event_id, group, source_partition, source_offset)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def _tally(bootstrap: str, topic: str, ledger: EffectsLedger, kafka_config: Mapping[str, str] | None = None) -> OutputTally:
    key = (config_key(bootstrap, kafka_config), topic, ledger.url)
    with _cache_lock:
        tally = _tallies.get(key)
        if tally is None:
            tally = _tallies[key] = OutputTally(bootstrap, topic, kafka_config)
        return tally


async def _read_counters(url: str, group: str) -> tuple[int, int]:
    store = open_store(url, group=group, create_schema=False)
    try:
        counters = await store.read_counters()
    finally:
        await store.close()
    return (counters.hits, counters.retakes) if counters is not None else (0, 0)


def dedup_counts(url: str, group: str) -> tuple[int, int]:
    """(hits, retakes) of ``group``'s store: repeats it caught (unchanged writes for the SQL patterns),
    and expired leases it let another attempt take over (an after-claim crash's key, retaken)."""
    return asyncio.run(_read_counters(url, group))


def dedup_hits(url: str, group: str) -> int:
    """Duplicates the store caught for ``group`` (its ``hits`` counter; unchanged writes for the SQL patterns)."""
    return dedup_counts(url, group)[0]


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
    confirm_losses: bool = False,
    kafka_config: Mapping[str, str] | None = None,
    queue_drained: bool = False,
) -> AuditReport:
    """Audit each demo consumer in ``semantics`` against the ledger's acknowledged sends to ``topic``.

    ``confirm_losses``: for audits repeated while consumers run (the lab): a loss in the
    unsettled tail is reported once two audits in a row saw it (see ``GroupTally.refresh``).

    ``dedup_url``/``run_dir`` locate the idempotency stores exactly as the consumers did
    (:func:`store_url_for`); with neither, ``dedup_hits`` is 0 and a note says why.

    ``queue_drained``: the queue consumer has done everything it will (the headless run waited for it),
    so every acknowledged event without an effect that the broker did not archive is lost now
    (see :func:`queue_audit`).
    """
    reader = offset_reader(bootstrap, request_timeout, kafka_config)
    running = ledger_tally(ledger, id_limit)
    with running.lock:
        return _audit(
            ledger, running, reader, bootstrap, group_prefix, tuple(semantics), topic, dedup_url, run_dir,
            request_timeout, id_limit, ack_grace_seconds, confirm_losses, kafka_config, queue_drained,
        )  # fmt: skip


def forget_ledger(url: str) -> None:
    """Drop the running counts and output read positions kept for the ledger at ``url``.

    A lab that starts a new story in the same place (a wiped state dir, same file path) must not
    continue the old story's counts: the output tally would resume where the old ledger's copy
    ended and copy the old story's last outputs in as "unexpected".
    """
    with _cache_lock:
        for key in [k for k in _ledger_tallies if k[0] == url]:
            del _ledger_tallies[key]
        for key in [k for k in _tallies if k[2] == url]:
            _tallies.pop(key).close()


def release_lab_clients(ledger_url: str, bootstrap: str, kafka_config: Mapping[str, str] | None, groups: Iterable[str]) -> None:
    """Close what the audits kept for one lab: its ledger's output tally and its groups' offset consumers.

    The clients cached per cluster outlive one lab (the TUI audits every second), but a lab that closes
    is done with its own: without this, every lab run in one process left a consumer per group behind,
    each with its librdkafka threads and pipes, until the interpreter tore them down at exit.
    """
    forget_ledger(ledger_url)
    with _cache_lock:
        reader = _readers.get(config_key(bootstrap, kafka_config))
    if reader is not None:
        reader.forget_groups(groups)


@atexit.register
def close_cached_clients() -> None:
    """Close every client the audits cached, while the interpreter still runs.

    Left to the interpreter's teardown, a librdkafka client is destroyed after the modules it calls back
    into (its logger) are gone, and the process can end in a segmentation fault instead of its exit code.
    """
    with _cache_lock:
        tallies, readers = list(_tallies.values()), list(_readers.values())
        _tallies.clear()
        _readers.clear()
        _admins.clear()
        _ledger_tallies.clear()
    for client in (*tallies, *readers):
        with contextlib.suppress(Exception):
            client.close()


def ledger_tally(ledger: EffectsLedger, id_limit: int = ID_LIMIT) -> LedgerTally:
    """The running counts of ``ledger`` (one per ledger URL and id limit, kept for the process's life)."""
    with _cache_lock:
        tally = _ledger_tallies.get((ledger.url, id_limit))
        if tally is None:
            tally = _ledger_tallies[(ledger.url, id_limit)] = LedgerTally(id_limit)
        return tally


def _audit(
    ledger: EffectsLedger,
    running: LedgerTally,
    reader: OffsetReader,
    bootstrap: str,
    group_prefix: str,
    semantics: tuple[str, ...],
    topic: str,
    dedup_url: str | None,
    run_dir: str | Path | None,
    request_timeout: float,
    id_limit: int,
    ack_grace_seconds: float,
    confirm_losses: bool = False,
    kafka_config: Mapping[str, str] | None = None,
    queue_drained: bool = False,
) -> AuditReport:
    settled = time.time() - ack_grace_seconds
    produced = running.produced(ledger, topic, settled)
    # Committed offsets first, effects after: a consumer that commits before its effect (at-most-once)
    # has then recorded the effect of everything those offsets passed, unless it really lost it.
    # Read the other way round, an effect landing between the two reads looked lost.
    committed_of = {
        name: {} if semantic_spec(name).share_group else reader.committed(semantic_spec(name).group_id(group_prefix), topic)
        for name in semantics
    }  # a share group commits no offsets (and fetching them would not find a consumer group)
    # Once per audit: every group's counts come from this pass (exactly-once's too: its effect
    # rows, written after each commit, are what the poll checker follows).
    running.effects(ledger, "effects", settled)
    crashes = ledger.crash_counts()
    warnings: list[str] = []
    audits = []
    for name in semantics:
        spec = semantic_spec(name)
        group = spec.group_id(group_prefix)
        committed = committed_of[name]
        notes: list[str] = []
        hits = retakes = 0
        if spec.uses_dedup_store:
            if dedup_url is None and run_dir is None:
                notes.append("dedup hits unknown: no dedup store URL or run dir given")
            else:
                url = store_url_for(name, dedup_url, run_dir or ".")
                try:
                    hits, retakes = dedup_counts(url, group) if url else (0, 0)
                except (DedupStoreError, UserFacingError) as exc:
                    notes.append(f"dedup hits unknown: {exc}")
        if spec.transactional:
            tally = _tally(bootstrap, output_topic(topic), ledger, kafka_config)
            if not tally.refresh(_admin(bootstrap, kafka_config), ledger, timeout=request_timeout):
                notes.append(f"{output_topic(topic)} was not read to its end within {request_timeout:.0f} s")
            running.effects(ledger, "outputs", settled)
            consumer_audit = audit_consumer(
                ledger, running, topic, name, group, committed, produced, hits, settled, table="outputs", confirm=confirm_losses
            )
            notes.append("effects are committed records in the output topic, read with read_committed")
        else:
            consumer_audit = audit_consumer(
                ledger, running, topic, name, group, committed, produced, hits, settled, confirm=confirm_losses
            )
        if spec.share_group:
            consumer_audit = queue_audit(ledger, consumer_audit, topic, id_limit, drained=queue_drained)
        malformed, malformed_rows = ledger.malformed_records(group, topic, id_limit)
        consumer_audit = replace(
            consumer_audit,
            malformed=malformed,
            malformed_records=tuple(MalformedRecord(*row) for row in malformed_rows),
        )
        if consumer_audit.malformed_warning:
            notes.append(consumer_audit.malformed_warning)
            warnings.append(f"{name}: {consumer_audit.malformed_warning}")
        consumer_audit = replace(consumer_audit, dedup_retakes=retakes)
        audits.append(_with(consumer_audit, crashes=crashes.get(group, 0), notes=tuple(notes)))
    checker = running.anomaly_checker(ledger, topic, output_topic(topic))
    audits = [replace(a, anomalies=checker.counts_of(a.group)) for a in audits]
    ledger.checkpoint()  # our reads are done: let the WAL be reset (see EffectsLedger.checkpoint)
    return AuditReport(
        topic=topic,
        produced=produced,
        consumers=tuple(audits),
        taken_at=datetime.now(UTC),
        warnings=tuple(warnings),
        anomalies=checker.topic_counts(),
    )


def _with(audit_: ConsumerAudit, *, crashes: int, notes: tuple[str, ...]) -> ConsumerAudit:
    return replace(audit_, crashes=crashes, notes=audit_.notes + notes)


def audit_consumer(
    ledger: EffectsLedger,
    running: LedgerTally,
    topic: str,
    semantic: str,
    group: str,
    committed: Mapping[int, int],
    produced: int,
    hits: int,
    settled: float,
    *,
    table: str = "effects",
    confirm: bool = False,
) -> ConsumerAudit:
    """One consumer's audit from the running counts (:mod:`deliverytui.demo.audit_tally`)."""
    id_limit = running.id_limit
    tally = running.tables[table].of(group)  # refreshed by the caller, once per audit
    processed, lost, lost_rows = running.group(group, topic, table).refresh(ledger, committed, settled, confirm=confirm)
    lost_rows = lost_rows[:id_limit]
    effects, unique = tally.effects, tally.unique
    duplicated = [(e, int(n), p, o) for e, (n, p, o) in tally.duplicated.items()]
    unexpected = len(tally.unexpected)
    unexpected_rows = [(e, p, o) for e, (p, o) in list(tally.unexpected.items())[:id_limit]]
    offending = (
        [OffendingEvent(e, p, o, LOST) for e, p, o in lost_rows]
        + [OffendingEvent(e, p, o, DUPLICATE) for e, _n, p, o in duplicated]
        + [OffendingEvent(e, p, o, UNEXPECTED) for e, p, o in unexpected_rows]
    )
    duplicate_groups = effects - unique  # every effect after the first of its event
    redeliveries = explain_duplicates(ledger, group, [e for e, *_ in duplicated]) if duplicated and table == "effects" else ()
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


def explain_duplicates(ledger: EffectsLedger, group: str, event_ids: Sequence[str]) -> tuple[Redelivery, ...]:
    """Each of the duplicated ``event_ids`` of ``group`` with its attempts and the cause of the first redo."""
    by_event: dict[str, list[Attempt]] = {event_id: [] for event_id in event_ids}
    rows = ledger.attempts_of(group, list(event_ids))
    for event_id, partition, offset, instance, at in rows:
        by_event.setdefault(event_id, []).append(Attempt(instance, partition, offset, at))
    happenings = [(at, _crash_words(point)) for point, at in ledger.crashes_of(group)]
    happenings += [(at, _intervention_words(kind, detail)) for kind, detail, at in ledger.interventions_of(group)]
    happenings.sort()
    last_effect_of = {}
    for _event, _p, _o, instance, at in rows:
        last_effect_of[instance] = max(at, last_effect_of.get(instance, 0.0))
    redeliveries = []
    for event_id, attempts in by_event.items():
        if len(attempts) < 2:
            continue
        first, second = attempts[0], attempts[1]
        cause = Redelivery.classify(first, second)
        because = next((words for at, words in reversed(happenings) if first.at <= at <= second.at), None)
        if because is None and cause == RESTART and last_effect_of.get(first.instance, 0.0) > second.at:
            because = (
                "another process with the same group.instance.id took over the partition "
                "(both ran at once: a consumer this lab did not start)"
            )
        redeliveries.append(Redelivery(event_id, cause, tuple(attempts), because))
    return tuple(redeliveries)


def _crash_words(point: str) -> str:
    return "a kill (SIGKILL from the lab)" if point == KILLED else f"a crash at {point}"


def _intervention_words(kind: str, detail: str) -> str:
    return {
        "stop": "a planned stop",
        "replay": f"a replay ({detail})",
        "instance": f"a rebalance ({detail})",
    }.get(kind, f"{kind} ({detail})")
