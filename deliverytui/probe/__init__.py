"""Publish a consumer's positions so deliverytui can show them beside the committed offsets.

Kafka's brokers know where a group has *committed*, not where its consumers *are*. A
librdkafka consumer knows both (its statistics carry, per assigned partition, the
application position ``app_offset`` and the ``committed_offset``); this helper forwards
them, once per statistics interval, as one small JSON record on a compacted topic
(``__deliverytui_probe``) that :class:`deliverytui.kafka.probe_positions.PositionCollector`
reads. Three lines in a confluent-kafka consumer::

    from deliverytui.probe import attach_probe
    consumer = Consumer(attach_probe({"bootstrap.servers": "kafka:9092", "group.id": "billing", ...}))
    # ... poll as usual: every statistics.interval.ms (1 s) a poll() publishes the positions.

JVM consumers use the Java interceptor whose source is in ``java/`` (``deliverytui probe-jar``
prints its jar; see :mod:`deliverytui.broker.probe_jar`). Consumers that track their own
positions (the demo consumers) call
:meth:`ProbePublisher.publish_positions` instead, and :meth:`ProbePublisher.tick` from
their poll loop.

The helper runs inside someone else's consumer, so it must never hurt it: produce is
non-blocking (a full queue drops the report), every failure is counted in
:attr:`ProbePublisher.counters` instead of raised, the probe topic is created in a
background thread, librdkafka's own log lines are silenced, and nothing is printed
(so no secret from the configuration can leak).

The helper is a package by concern: :mod:`~deliverytui.probe.record` is the record format
(what the collector in :mod:`deliverytui.kafka.probe_positions` decodes),
:mod:`~deliverytui.probe.publisher` the producer that sends it, and
:mod:`~deliverytui.probe.attach` the one call a consumer's configuration needs.
"""

from __future__ import annotations

from deliverytui.model.positions import DEFAULT_PROBE_TOPIC, PROBE_RECORD_VERSION
from deliverytui.probe.attach import attach_probe, probe_of
from deliverytui.probe.publisher import (
    DEFAULT_STATS_INTERVAL_MS,
    PROBE_TOPIC_CONFIG,
    ProbeCounters,
    ProbePublisher,
    connection_settings,
)
from deliverytui.probe.record import (
    Positions,
    encode_probe_key,
    encode_probe_record,
    positions_from_statistics,
)

__all__ = [
    "DEFAULT_PROBE_TOPIC",
    "DEFAULT_STATS_INTERVAL_MS",
    "PROBE_RECORD_VERSION",
    "PROBE_TOPIC_CONFIG",
    "Positions",
    "ProbeCounters",
    "ProbePublisher",
    "attach_probe",
    "connection_settings",
    "encode_probe_key",
    "encode_probe_record",
    "positions_from_statistics",
    "probe_of",
]
