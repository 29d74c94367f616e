"""Publish a consumer's positions so deliverytui can show them beside the committed offsets.

Kafka's brokers know where a group has *committed*, not where its consumers *are*. A
librdkafka consumer knows both (its statistics carry, per assigned partition, the
application position ``app_offset`` and the ``committed_offset``); this helper forwards
them, once per statistics interval, as one small JSON record on a compacted topic
(``__deliverytui_probe``) that :class:`deliverytui.kafka.positions.PositionCollector`
reads. Three lines in a confluent-kafka consumer::

    from deliverytui.probe import attach_probe
    consumer = Consumer(attach_probe({"bootstrap.servers": "kafka:9092", "group.id": "billing", ...}))
    # ... poll as usual: every statistics.interval.ms (1 s) a poll() publishes the positions.

Consumers that track their own positions (the demo consumers) call
:meth:`ProbePublisher.publish_positions` instead, and :meth:`ProbePublisher.tick` from
their poll loop.

The helper runs inside someone else's consumer, so it must never hurt it: produce is
non-blocking (a full queue drops the report), every failure is counted in
:attr:`ProbePublisher.counters` instead of raised, the probe topic is created in a
background thread, librdkafka's own log lines are silenced, and nothing is printed
(so no secret from the configuration can leak).

Record format (version 1), key = JSON ``[group, reporter]`` so compaction keeps the
latest report of every consumer instance; value = compact JSON::

    {"v": 1, "group": "billing", "client_id": "billing-1", "reporter": "host:4242:billing-1:1",
     "member_id": "billing-1-3f0c...",          # optional
     "ts_ms": 1767225600000, "interval_ms": 1000,
     "source": "librdkafka-stats" | "demo",
     "state": "up/steady",                      # optional, the consumer group state it saw
     "rebalances": 3,                           # optional
     "partitions": [["orders", 0, 10, 5], ...]} # [topic, partition, position|null, committed|null]

``position`` is the offset of the last message handed to the application plus one
(librdkafka's ``app_offset``); ``committed`` is the committed offset the consumer knew
at the same instant. A ``null`` value (tombstone) retracts a reporter when it closes.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic

from deliverytui.errors import MESSAGE_LIMIT, one_line
from deliverytui.kafka.admin import admin_client, silent_librdkafka_logger
from deliverytui.kafka.client_config import RedactedConfig
from deliverytui.model.positions import DEFAULT_PROBE_TOPIC, PROBE_RECORD_VERSION

DEFAULT_STATS_INTERVAL_MS = 1000

#: How the probe topic is created when missing: compacted (latest report per consumer
#: instance), and also time-limited so reporters that died without retracting
#: disappear after an hour instead of being re-read by every collector forever.
PROBE_TOPIC_CONFIG: dict[str, str] = {
    "cleanup.policy": "compact,delete",
    "retention.ms": str(60 * 60 * 1000),
    "segment.ms": str(10 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
}

#: Settings copied from a user's client configuration into the probe's producer: how
#: to reach and authenticate to the cluster, nothing consumer-specific.
_CONNECTION_KEYS = frozenset(
    {
        "bootstrap.servers", "metadata.broker.list", "security.protocol", "client.dns.lookup",
        "broker.address.family", "broker.address.ttl", "client.rack", "api.version.request",
        "api.version.fallback.ms", "broker.version.fallback", "connections.max.idle.ms",
        "reconnect.backoff.ms", "reconnect.backoff.max.ms", "enable.ssl.certificate.verification",
        "enable.sasl.oauthbearer.unsecure.jwt", "oauth_cb", "plugin.library.paths",
    }
)
_CONNECTION_PREFIXES = ("sasl.", "ssl.", "ssl_", "socket.", "https.")

_TOPIC_RETRY_SECONDS = 30.0
_publisher_numbers = itertools.count(1)

#: ``{(topic, partition): (position, committed)}``; ``None`` or a negative offset means unknown.
Positions = Mapping[tuple[str, int], tuple[int | None, int | None]]


def connection_settings(config: Mapping[str, object]) -> dict[str, object]:
    """The subset of a client configuration that says how to reach the cluster (bootstrap, TLS, SASL).

    A :class:`~deliverytui.kafka.client_config.RedactedConfig`: its repr hides the secrets.
    """
    return RedactedConfig(
        (key, value) for key, value in config.items() if key in _CONNECTION_KEYS or key.startswith(_CONNECTION_PREFIXES)
    )


def encode_probe_key(group: str, reporter: str) -> bytes:
    return json.dumps([group, reporter], separators=(",", ":")).encode()


def encode_probe_record(
    *,
    group: str,
    client_id: str,
    reporter: str,
    source: str,
    partitions: list[list[Any]],
    interval_ms: int,
    member_id: str | None = None,
    state: str | None = None,
    rebalances: int | None = None,
    ts_ms: int | None = None,
) -> bytes:
    """The compact JSON value of one probe record (see the module docstring)."""
    record: dict[str, Any] = {
        "v": PROBE_RECORD_VERSION,
        "group": group,
        "client_id": client_id,
        "reporter": reporter,
        "ts_ms": int(time.time() * 1000) if ts_ms is None else ts_ms,
        "interval_ms": interval_ms,
        "source": source,
    }
    if member_id:
        record["member_id"] = member_id
    if state:
        record["state"] = state
    if rebalances is not None:
        record["rebalances"] = rebalances
    record["partitions"] = partitions
    return json.dumps(record, separators=(",", ":")).encode()


def _offset_or_none(value: object) -> int | None:
    """librdkafka reports unknown offsets as negative logical values (-1001); those become ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def positions_from_statistics(stats: Mapping[str, Any]) -> tuple[list[list[Any]], str | None, int | None]:
    """Pull ``[[topic, partition, position, committed], ...]``, the group state and the rebalance count from librdkafka statistics.

    Only partitions the consumer currently wants (``desired``: assigned) are kept, and
    only those with a known position or commit; the internal ``-1`` partition is skipped.
    """
    partitions: list[list[Any]] = []
    for topic_name, topic in (stats.get("topics") or {}).items():
        for key, part in ((topic or {}).get("partitions") or {}).items():
            if not isinstance(part, Mapping):
                continue
            number = part.get("partition", key)
            try:
                number = int(number)
            except (TypeError, ValueError):
                continue
            if number < 0 or not part.get("desired", False):
                continue
            position = _offset_or_none(part.get("app_offset"))
            committed = _offset_or_none(part.get("committed_offset"))
            if position is None and committed is None:
                continue
            partitions.append([str(topic.get("topic", topic_name)), number, position, committed])
    partitions.sort(key=lambda entry: (entry[0], entry[1]))
    cgrp = stats.get("cgrp") or {}
    state = None
    if cgrp.get("state"):
        state = str(cgrp["state"]) + (f"/{cgrp['join_state']}" if cgrp.get("join_state") else "")
    rebalances = cgrp.get("rebalance_cnt")
    return partitions, state, rebalances if isinstance(rebalances, int) else None


@dataclass(frozen=True, slots=True)
class ProbeCounters:
    """What the publisher did so far: reports sent, dropped and failed, and the last error (one line)."""

    published: int
    delivered: int
    dropped: int
    errors: int
    last_error: str | None
    topic_ready: bool


class ProbePublisher:
    """Publishes one consumer's positions to the probe topic; safe to call from a stats callback.

    ``bootstrap_or_producer_config`` is a bootstrap string or a client configuration
    (only its connection and security settings are used). ``min_publish_interval``
    rate-limits :meth:`publish_positions`; ``interval_ms`` is how often reports are
    expected (the statistics interval, or the heartbeat of :meth:`tick`) and is written
    into every record so the collector can tell a silent consumer from a slow one.
    """

    def __init__(
        self,
        bootstrap_or_producer_config: str | Mapping[str, object],
        group: str,
        client_id: str,
        *,
        topic: str = DEFAULT_PROBE_TOPIC,
        interval_ms: int = DEFAULT_STATS_INTERVAL_MS,
        min_publish_interval: float = 0.2,
        topic_partitions: int = 1,
        replication_factor: int = -1,
        create_topic: bool = True,
    ) -> None:
        if isinstance(bootstrap_or_producer_config, str):
            connection: dict[str, object] = {"bootstrap.servers": bootstrap_or_producer_config}
        else:
            connection = connection_settings(bootstrap_or_producer_config)
        self.group = group
        self.client_id = client_id
        self.topic = topic
        self.interval_ms = int(interval_ms)
        self.min_publish_interval = float(min_publish_interval)
        self.reporter = f"{socket.gethostname()}:{os.getpid()}:{client_id}:{next(_publisher_numbers)}"
        self._connection = connection
        self._topic_partitions = topic_partitions
        self._replication_factor = replication_factor
        self._create_topic = create_topic
        self._lock = threading.Lock()
        self._topic_ready = threading.Event()
        self._topic_check_running = False
        self._topic_check_after = 0.0
        self._published = 0
        self._delivered = 0
        self._dropped = 0
        self._errors = 0
        self._last_error: str | None = None
        self._member_id_of: Callable[[], str | None] | None = None
        self._last_sent_at = 0.0
        self._last_positions: list[list[Any]] | None = None
        self._last_state: str | None = None
        self._pending: tuple[list[list[Any]], str | None, str | None] | None = None
        self._closed = False
        self._producer = Producer(
            {
                **connection,
                "client.id": f"{client_id}-deliverytui-probe",
                "allow.auto.create.topics": False,  # the probe topic must be compacted: we create it, not the broker
                "acks": 1,
                "enable.idempotence": False,
                "linger.ms": 50,
                "message.timeout.ms": 30000,
                "queue.buffering.max.messages": 1000,
                "error_cb": self._on_client_error,
            },
            logger=silent_librdkafka_logger(),
        )

    def __repr__(self) -> str:  # never the configuration: it may hold secrets
        return f"ProbePublisher(group={self.group!r}, client_id={self.client_id!r}, topic={self.topic!r})"

    # -- public API ----------------------------------------------------------
    def bind_consumer(self, consumer: Any) -> None:
        """Let reports carry the consumer's member id (``consumer.memberid()``), so the TUI can match them to members."""
        self._member_id_of = getattr(consumer, "memberid", None)

    def stats_cb(self, stats_json: str) -> None:
        """confluent-kafka ``stats_cb``: forward the positions in one statistics report. Never raises."""
        try:
            stats = json.loads(stats_json)
            if not isinstance(stats, dict):
                raise ValueError("statistics are not a JSON object")
            partitions, state, rebalances = positions_from_statistics(stats)
            self._send(partitions, source="librdkafka-stats", state=state, rebalances=rebalances, member_id=self._member_id())
        except Exception as exc:  # noqa: BLE001 - a probe must never break the consumer that hosts it
            self._count_error(f"cannot read statistics: {exc}")

    def publish_positions(
        self,
        positions: Positions,
        *,
        state: str | None = None,
        member_id: str | None = None,
        force: bool = False,
    ) -> bool:
        """Report positions the caller tracks itself; rate-limited to one record per ``min_publish_interval``.

        Call it after processing (and after committing). A call inside the rate limit is
        kept as pending and sent by the next call or :meth:`tick`, so the last state is
        never lost. Returns whether a record was handed to the producer now. Never raises.
        """
        try:
            partitions = sorted(
                [str(topic), int(partition), _offset_or_none(position), _offset_or_none(committed)]
                for (topic, partition), (position, committed) in positions.items()
            )
            with self._lock:
                due = force or time.monotonic() - self._last_sent_at >= self.min_publish_interval
                if not due:
                    # The member id is looked up when the report is sent: asking librdkafka for it
                    # on every message cost a demo consumer ~9 % of its time at 500 events/s.
                    self._pending = (partitions, state, member_id)
                    return False
                self._pending = None
            member = member_id or self._member_id()
            return self._send(partitions, source="demo", state=state, member_id=member)
        except Exception as exc:  # noqa: BLE001
            self._count_error(f"cannot publish positions: {exc}")
            return False

    def tick(self) -> bool:
        """Call from the poll loop: sends a pending rate-limited report, or repeats the last one as a heartbeat.

        Without the heartbeat an idle consumer would look stale to the collector.
        Returns whether a record was handed to the producer. Never raises.
        """
        try:
            self._producer.poll(0)
            now = time.monotonic()
            with self._lock:
                pending = self._pending
                since_last = now - self._last_sent_at
                heartbeat_due = self._last_positions is not None and since_last >= self.interval_ms / 1000
                if pending is not None and (heartbeat_due or since_last >= self.min_publish_interval):
                    self._pending = None
                    partitions, state, member = pending  # the newest positions win over a repeat
                elif heartbeat_due:
                    partitions, state, member = self._last_positions, self._last_state, None
                else:
                    return False
            member = member or self._member_id()
            return self._send(partitions, source="demo", state=state, member_id=member)
        except Exception as exc:  # noqa: BLE001
            self._count_error(f"cannot publish positions: {exc}")
            return False

    @property
    def counters(self) -> ProbeCounters:
        with self._lock:
            return ProbeCounters(
                published=self._published,
                delivered=self._delivered,
                dropped=self._dropped,
                errors=self._errors,
                last_error=self._last_error,
                topic_ready=self._topic_ready.is_set(),
            )

    def wait_until_ready(self, timeout: float) -> bool:
        """Block until the probe topic is known to exist (for tests and scripts; consumers need not call it)."""
        self._ensure_topic()
        return self._topic_ready.wait(timeout)

    def flush(self, timeout: float = 5.0) -> int:
        """Deliver what is queued; returns how many records are still undelivered."""
        try:
            return self._producer.flush(timeout)
        except Exception as exc:  # noqa: BLE001
            self._count_error(f"flush failed: {exc}")
            return -1

    def close(self, timeout: float = 5.0, *, retract: bool = True) -> None:
        """Send any pending report, retract this reporter (a tombstone) unless ``retract=False``, and flush.

        Call it after ``consumer.close()``: a closed consumer has no position, and a
        retracted reporter disappears from the TUI at once instead of turning stale.
        """
        if self._closed:
            return
        with self._lock:
            pending = self._pending
            self._pending = None
        if pending is not None and not retract:
            self._send(pending[0], source="demo", state=pending[1], member_id=pending[2] or self._member_id())
        if retract and self._topic_ready.is_set():
            try:
                self._producer.produce(self.topic, key=encode_probe_key(self.group, self.reporter), value=None)
            except Exception as exc:  # noqa: BLE001
                self._count_error(f"cannot retract: {exc}")
        self.flush(timeout)
        self._closed = True

    # -- internals -----------------------------------------------------------
    def _member_id(self) -> str | None:
        if self._member_id_of is None:
            return None
        try:
            return self._member_id_of() or None
        except Exception:  # noqa: BLE001 - a closed consumer raises; the report just goes without it
            return None

    def _send(
        self,
        partitions: list[list[Any]],
        *,
        source: str,
        state: str | None = None,
        rebalances: int | None = None,
        member_id: str | None = None,
    ) -> bool:
        if self._closed:
            return False
        with self._lock:
            self._last_positions = partitions
            self._last_state = state
            self._last_sent_at = time.monotonic()
        if not self._topic_ready.is_set():
            self._ensure_topic()
            with self._lock:
                self._dropped += 1
            return False
        value = encode_probe_record(
            group=self.group,
            client_id=self.client_id,
            reporter=self.reporter,
            source=source,
            partitions=partitions,
            interval_ms=self.interval_ms,
            member_id=member_id,
            state=state,
            rebalances=rebalances,
        )
        try:
            self._producer.produce(
                self.topic, key=encode_probe_key(self.group, self.reporter), value=value, on_delivery=self._on_delivery
            )
        except BufferError:
            with self._lock:
                self._dropped += 1
            self._producer.poll(0)
            return False
        except KafkaException as exc:
            self._count_error(_error_text(exc))
            return False
        with self._lock:
            self._published += 1
        self._producer.poll(0)
        return True

    def _ensure_topic(self) -> None:
        """Start (at most one) background check that the probe topic exists, creating it compacted if not."""
        with self._lock:
            if self._topic_ready.is_set() or self._topic_check_running or time.monotonic() < self._topic_check_after:
                return
            self._topic_check_running = True
        threading.Thread(target=self._check_topic, name="deliverytui-probe-topic", daemon=True).start()

    def _check_topic(self) -> None:
        ready = False
        try:
            admin = admin_client(
                {**self._connection, "client.id": f"{self.client_id}-deliverytui-probe", "allow.auto.create.topics": False}
            )
            metadata = admin.list_topics(self.topic, timeout=10)
            found = metadata.topics.get(self.topic)
            if found is not None and found.error is None and found.partitions:
                ready = True
            elif self._create_topic:
                future = admin.create_topics(
                    [NewTopic(self.topic, self._topic_partitions, self._replication_factor, config=dict(PROBE_TOPIC_CONFIG))],
                    operation_timeout=10,
                    request_timeout=15,
                )[self.topic]
                try:
                    future.result(timeout=20)
                    ready = True
                except KafkaException as exc:
                    error = exc.args[0] if exc.args else None
                    if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        ready = True
                    else:
                        self._count_error(f"cannot create probe topic {self.topic}: {_error_text(exc)}")
            else:
                self._count_error(f"probe topic {self.topic} does not exist")
        except Exception as exc:  # noqa: BLE001
            self._count_error(f"cannot check probe topic {self.topic}: {_error_text(exc)}")
        finally:
            with self._lock:
                self._topic_check_running = False
                if not ready:
                    self._topic_check_after = time.monotonic() + _TOPIC_RETRY_SECONDS
            if ready:
                self._topic_ready.set()

    def _on_delivery(self, error: KafkaError | None, _message: object) -> None:
        if error is not None:
            self._count_error(f"report not delivered: {_error_text(error)}")
        else:
            with self._lock:
                self._delivered += 1

    def _on_client_error(self, error: KafkaError) -> None:
        self._count_error(_error_text(error))

    def _count_error(self, text: str) -> None:
        with self._lock:
            self._errors += 1
            self._last_error = one_line(text, limit=MESSAGE_LIMIT)


def _error_text(error: object) -> str:
    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    text = error.str() if isinstance(error, KafkaError) else str(error)
    return one_line(text, limit=MESSAGE_LIMIT)


def attach_probe(
    config: Mapping[str, object],
    group: str | None = None,
    *,
    client_id: str | None = None,
    interval_ms: int = DEFAULT_STATS_INTERVAL_MS,
    topic: str = DEFAULT_PROBE_TOPIC,
) -> dict[str, object]:
    """Return a copy of a confluent-kafka consumer config that publishes the consumer's positions.

    Usage::

        from deliverytui.probe import attach_probe
        consumer = Consumer(attach_probe({"bootstrap.servers": "kafka:9092", "group.id": "billing"}))
        consumer.subscribe(["orders"])  # then poll as usual

    Sets ``statistics.interval.ms`` (``interval_ms``, default 1000) and ``stats_cb``; a
    ``stats_cb`` already in ``config`` is still called first. ``group`` defaults to
    ``group.id``, ``client_id`` to ``client.id`` (librdkafka's default ``rdkafka``).
    The :class:`ProbePublisher` is reachable as ``config["stats_cb"].__self__`` when it
    is the only callback, or via :func:`probe_of`.
    """
    group_id = group if group is not None else config.get("group.id")
    if not isinstance(group_id, str) or not group_id:
        raise ValueError("attach_probe needs the consumer group: pass group= or set group.id")
    client = client_id if client_id is not None else str(config.get("client.id") or "rdkafka")
    publisher = ProbePublisher(config, group_id, client, topic=topic, interval_ms=interval_ms)
    result = dict(config)
    result["statistics.interval.ms"] = int(interval_ms)
    previous = config.get("stats_cb")
    if callable(previous):
        def chained_stats_cb(stats_json: str) -> None:
            try:
                previous(stats_json)
            finally:
                publisher.stats_cb(stats_json)

        chained_stats_cb.probe = publisher  # type: ignore[attr-defined]
        result["stats_cb"] = chained_stats_cb
    else:
        result["stats_cb"] = publisher.stats_cb
    return result


def probe_of(config: Mapping[str, object]) -> ProbePublisher | None:
    """The :class:`ProbePublisher` that :func:`attach_probe` put into ``config`` (to bind, inspect or close it)."""
    callback = config.get("stats_cb")
    publisher = getattr(callback, "probe", None) or getattr(callback, "__self__", None)
    return publisher if isinstance(publisher, ProbePublisher) else None
