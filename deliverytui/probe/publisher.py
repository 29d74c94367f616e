"""The probe's producer: sends a consumer's positions without ever hurting the consumer it runs in.

Produce is non-blocking (a full queue drops the report), every failure is counted in
:attr:`ProbePublisher.counters` instead of raised, the probe topic is created in a
background thread, librdkafka's own log lines are silenced, and nothing is printed (so
no secret from the configuration can leak).
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
from deliverytui.kafka.admin import admin_client, silent_librdkafka_logger, weak_callback
from deliverytui.kafka.client_config import RedactedConfig
from deliverytui.model.positions import DEFAULT_PROBE_TOPIC
from deliverytui.probe.record import (
    Positions,
    encode_probe_key,
    encode_probe_record,
    offset_or_none,
    positions_from_statistics,
)

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

def connection_settings(config: Mapping[str, object]) -> dict[str, object]:
    """The subset of a client configuration that says how to reach the cluster (bootstrap, TLS, SASL).

    A :class:`~deliverytui.kafka.client_config.RedactedConfig`: its repr hides the secrets.
    """
    return RedactedConfig(
        (key, value) for key, value in config.items() if key in _CONNECTION_KEYS or key.startswith(_CONNECTION_PREFIXES)
    )



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
                "error_cb": weak_callback(self._on_client_error),
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
                [str(topic), int(partition), offset_or_none(position), offset_or_none(committed)]
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
