"""Read the positions consumers publish on the probe topic (see :mod:`deliverytui.probe`).

The collector is a plain librdkafka consumer that *assigns* every partition of the
probe topic from the beginning and never joins a group or commits: deliverytui is
read-only, and a commit would create a consumer group on the user's cluster. librdkafka
insists on a ``group.id`` and looks up its coordinator (FindCoordinator, which needs Describe
on that group), so the watched group's own id is set: whoever may watch a group already has
Describe on it, where a dedicated id would need an ACL of its own on a secured cluster. That
group is never joined and never committed to. It runs no thread of its
own: the TUI calls :meth:`PositionCollector.poll` each refresh (from one worker thread),
which drains what has arrived within a time budget and returns an immutable
:class:`PositionsView`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from deliverytui.errors import MESSAGE_LIMIT, ConfigError, one_line
from deliverytui.kafka.admin import silent_librdkafka_logger, weak_callback
from deliverytui.kafka.client_config import client_config
from deliverytui.model.positions import (
    DEFAULT_PROBE_TOPIC,
    PROBE_RECORD_VERSION,
    PartitionPosition,
    PositionsView,
)
from deliverytui.model.text import visible, visible_or_none

#: Without an interval in a record, a report is stale after this many seconds.
DEFAULT_STALE_AFTER = 30.0
#: A report is stale after this many of its own reporting intervals ...
STALE_INTERVALS = 3
#: ... but never sooner than this (a consumer busy for a few seconds between polls is not dead).
MIN_STALE_AFTER = 5.0

_MAX_PARTITIONS_PER_RECORD = 100_000
_REDISCOVER_SECONDS = 30.0
_RETRY_DISCOVERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """One decoded probe record: what one consumer instance reported at one instant."""

    group: str
    reporter: str
    client_id: str
    member_id: str | None
    ts_ms: int
    interval_ms: int | None
    source: str
    state: str | None
    partitions: tuple[tuple[str, int, int | None, int | None], ...]


class MalformedProbeRecord(ValueError):
    """A probe record that is not version-1 JSON of the documented shape."""


def decode_probe_record(value: bytes) -> ProbeReport:
    """Parse and validate one probe record value; raises :class:`MalformedProbeRecord` when it is not one."""
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedProbeRecord(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedProbeRecord("not a JSON object")
    if data.get("v") != PROBE_RECORD_VERSION:
        raise MalformedProbeRecord(f"unsupported version {data.get('v')!r}")
    group, client_id, ts_ms = data.get("group"), data.get("client_id"), data.get("ts_ms")
    if not isinstance(group, str) or not isinstance(client_id, str):
        raise MalformedProbeRecord("group and client_id must be strings")
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, (int, float)):
        raise MalformedProbeRecord("ts_ms must be a number")
    reporter = data.get("reporter", client_id)
    member_id = data.get("member_id")
    interval_ms = data.get("interval_ms")
    source = data.get("source", "unknown")
    state = data.get("state")
    if not isinstance(reporter, str) or (member_id is not None and not isinstance(member_id, str)):
        raise MalformedProbeRecord("reporter and member_id must be strings")
    if interval_ms is not None and (isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms <= 0):
        raise MalformedProbeRecord("interval_ms must be a positive integer")
    raw_partitions = data.get("partitions")
    if not isinstance(raw_partitions, list) or len(raw_partitions) > _MAX_PARTITIONS_PER_RECORD:
        raise MalformedProbeRecord("partitions must be a list")
    partitions = []
    for entry in raw_partitions:
        if not isinstance(entry, list) or len(entry) != 4:
            raise MalformedProbeRecord("each partition must be [topic, partition, position, committed]")
        topic, number, position, committed = entry
        if not isinstance(topic, str) or not _is_int(number) or number < 0:
            raise MalformedProbeRecord("topic must be a string and partition a non-negative integer")
        if not (position is None or _is_int(position)) or not (committed is None or _is_int(committed)):
            raise MalformedProbeRecord("position and committed must be integers or null")
        partitions.append(
            (visible(topic), number, position if position is None or position >= 0 else None,
             committed if committed is None or committed >= 0 else None)
        )
    # Anyone with Write on the probe topic writes these: shown in their visible form. The group and
    # the reporter stay exact: they are matched against the watched group and the records' keys.
    return ProbeReport(
        group=group,
        reporter=reporter,
        client_id=visible(client_id),
        member_id=visible_or_none(member_id),
        ts_ms=int(ts_ms),
        interval_ms=interval_ms,
        source=visible(str(source)),
        state=visible(str(state)) if state is not None else None,
        partitions=tuple(partitions),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _group_of_record(value: bytes) -> str | None:
    """The ``group`` field of a record that is a JSON object, else ``None`` (cheap pre-filter)."""
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    group = data.get("group") if isinstance(data, dict) else None
    return group if isinstance(group, str) else None


class PositionCollector:
    """Poll-driven reader of the probe topic for one consumer group.

    Memory is bounded: one latest report per reporting consumer instance, at most
    ``max_reporters`` of them (the oldest are evicted), and reports older than
    ``forget_after`` seconds are dropped. Reports older than the staleness limit are
    kept but marked ``stale``. ``stale_after=None`` means per report: three of the
    reporter's own intervals, at least 5 s (30 s when the record carries no interval).
    Calls are serialised by a lock: a second thread waits instead of corrupting state.
    """

    def __init__(
        self,
        bootstrap: str,
        file_config: Mapping[str, str] | None,
        group: str,
        *,
        topic: str = DEFAULT_PROBE_TOPIC,
        stale_after: float | None = None,
        forget_after: float = 3600.0,
        max_reporters: int = 1024,
        request_timeout: float = 10.0,
        reader_group_id: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.stale_after = stale_after
        self.forget_after = forget_after
        self.max_reporters = max_reporters
        self.request_timeout = request_timeout
        self.reader_group_id = reader_group_id or group  # librdkafka's required group.id: see the module docstring
        self._lock = threading.Lock()
        self._reports: dict[str, ProbeReport] = {}
        self._assigned: set[int] = set()
        self._at_end: set[int] = set()
        self._next_discovery = 0.0
        self._malformed = 0
        self._other_group = 0
        self._error: str | None = None
        self._client_error: str | None = None
        self._closed = False
        config = client_config(
            bootstrap,
            file_config,
            **{
                "group.id": self.reader_group_id,
                "client.id": "deliverytui-positions",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "allow.auto.create.topics": False,
                "fetch.wait.max.ms": 100,
                "socket.connection.setup.timeout.ms": int(min(request_timeout, 10.0) * 1000),
                "error_cb": weak_callback(self._on_client_error),
            },
        )
        try:
            self._consumer = Consumer(config, logger=silent_librdkafka_logger())
        except KafkaException as exc:
            raise ConfigError(f"invalid client configuration for the positions reader: {_error_text(exc)}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid client configuration for the positions reader: {exc}") from None

    def __enter__(self) -> PositionCollector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- public API ----------------------------------------------------------
    def poll(self, max_time: float = 0.5) -> PositionsView:
        """Read what the probe topic has for us within ``max_time`` seconds and return the current view.

        Returns as soon as every probe partition has been read to its end, so a call on
        a quiet topic costs about one fetch wait. Never raises for Kafka trouble: the
        view's ``error`` says what is wrong in one line and the last known positions stay.
        """
        with self._lock:
            if self._closed:
                return self._build_view()
            deadline = time.monotonic() + max(0.0, max_time)
            if time.monotonic() >= self._next_discovery:
                self._discover(max(0.5, min(self.request_timeout, max_time)))
            if self._assigned:
                self._drain(deadline)
            return self._build_view()

    def view(self) -> PositionsView:
        """The current view without reading anything new (ages are recomputed)."""
        with self._lock:
            return self._build_view()

    def close(self) -> None:
        """Leave without committing anything (no group was joined, auto-commit is off)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._consumer.close()

    # -- internals -----------------------------------------------------------
    def _discover(self, timeout: float) -> None:
        """Find the probe topic's partitions and assign new ones from the beginning."""
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            self._error = f"cannot read probe topic {self.topic} on {self.bootstrap}: {_error_text(exc)}"
            self._next_discovery = time.monotonic() + _RETRY_DISCOVERY_SECONDS
            return
        found = metadata.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            code = found.error.code() if found is not None and found.error is not None else None
            if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                self._error = f"not authorized to read probe topic {self.topic}; positions need Read and Describe on it"
            elif found is None or code in (None, KafkaError.UNKNOWN_TOPIC_OR_PART):
                self._error = (
                    f"probe topic {self.topic} does not exist yet: no consumer of any group publishes positions "
                    "(see deliverytui.probe)"
                )
            else:
                self._error = f"cannot read probe topic {self.topic}: {_error_text(found.error)}"
            self._next_discovery = time.monotonic() + _RETRY_DISCOVERY_SECONDS
            return
        new = sorted(set(found.partitions) - self._assigned)
        if new:
            self._consumer.incremental_assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in new])
            self._assigned.update(new)
        self._error = None
        self._next_discovery = time.monotonic() + _REDISCOVER_SECONDS

    def _drain(self, deadline: float) -> None:
        first = True
        while True:
            remaining = deadline - time.monotonic()
            caught_up = self._at_end >= self._assigned
            if not first and (caught_up or remaining <= 0):
                return
            timeout = 0.0 if first and caught_up else max(0.0, min(remaining, 0.1))
            first = False
            try:
                messages = self._consumer.consume(num_messages=500, timeout=timeout)
            except KafkaException as exc:
                self._error = f"cannot read probe topic {self.topic}: {_error_text(exc)}"
                return
            for message in messages:
                self._handle(message)

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._at_end.add(message.partition())
                self._error = self._client_error = None
            else:
                self._error = f"cannot read probe topic {self.topic}: {_error_text(error)}"
            return
        self._at_end.discard(message.partition())
        self._error = self._client_error = None
        value = message.value()
        if value is None:
            self._retract(message.key())
            return
        group = _group_of_record(value)
        if group is not None and group != self.group:
            self._other_group += 1
            return
        try:
            report = decode_probe_record(value)
        except MalformedProbeRecord:
            self._malformed += 1
            return
        self._reports[report.reporter] = report  # later offset wins, as compaction would keep it
        if len(self._reports) > self.max_reporters:
            oldest = min(self._reports.values(), key=lambda r: r.ts_ms)
            del self._reports[oldest.reporter]

    def _retract(self, key: bytes | None) -> None:
        """A tombstone: the reporter closed; forget it if it belongs to our group."""
        try:
            group, reporter = json.loads(key or b"")
        except (ValueError, TypeError, UnicodeDecodeError):
            self._malformed += 1
            return
        if group == self.group and isinstance(reporter, str):
            self._reports.pop(reporter, None)

    def _stale_limit(self, report: ProbeReport) -> float:
        if self.stale_after is not None:
            return self.stale_after
        if report.interval_ms is None:
            return DEFAULT_STALE_AFTER
        return max(STALE_INTERVALS * report.interval_ms / 1000, MIN_STALE_AFTER)

    def _build_view(self) -> PositionsView:
        now = time.time()
        for reporter in [r for r, rep in self._reports.items() if now - rep.ts_ms / 1000 > self.forget_after]:
            del self._reports[reporter]
        best: dict[tuple[str, int], PartitionPosition] = {}
        best_ts: dict[tuple[str, int], int] = {}
        for report in self._reports.values():
            age = max(0.0, now - report.ts_ms / 1000)
            stale = age > self._stale_limit(report)
            reported_at = datetime.fromtimestamp(report.ts_ms / 1000, UTC)
            for topic, partition, position, committed in report.partitions:
                key = (topic, partition)
                if key in best_ts and best_ts[key] >= report.ts_ms:
                    continue
                best_ts[key] = report.ts_ms
                best[key] = PartitionPosition(
                    topic=topic,
                    partition=partition,
                    position=position,
                    committed=committed,
                    client_id=report.client_id,
                    member_id=report.member_id,
                    reporter=report.reporter,
                    source=report.source,
                    reported_at=reported_at,
                    age_seconds=age,
                    stale=stale,
                )
        return PositionsView(
            group_id=self.group,
            probe_topic=self.topic,
            partitions=tuple(best[key] for key in sorted(best)),
            taken_at=datetime.fromtimestamp(now, UTC),
            caught_up=bool(self._assigned) and self._at_end >= self._assigned,
            malformed_records=self._malformed,
            other_group_records=self._other_group,
            error=self._error or self._client_error,
        )

    # librdkafka calls this from its own thread for client-level errors (all brokers down, auth).
    def _on_client_error(self, error: KafkaError) -> None:
        self._client_error = f"positions reader: {_error_text(error)}"


def _error_text(error: object) -> str:
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    text = error.str() if isinstance(error, KafkaError) else str(error)
    return one_line(text, limit=MESSAGE_LIMIT)
