"""Attaching the probe to a confluent-kafka consumer's configuration: the three-line integration.

Kept apart from the publisher so a reader of the integration sees only what it changes
in the user's configuration (``statistics.interval.ms`` and a chained ``stats_cb``).
"""

from __future__ import annotations

from collections.abc import Mapping

from deliverytui.model.positions import DEFAULT_PROBE_TOPIC
from deliverytui.probe.publisher import DEFAULT_STATS_INTERVAL_MS, ProbePublisher


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
