"""The probe's record format, and how librdkafka's statistics become one.

Record format (version 1), key = JSON ``[group, reporter]`` so compaction keeps the
latest report of every consumer instance; value = compact JSON::

    {"v": 1, "group": "billing", "client_id": "billing-1", "reporter": "host:4242:billing-1:1",
     "member_id": "billing-1-3f0c...",          # optional
     "ts_ms": 1767225600000, "interval_ms": 1000,
     "source": "librdkafka-stats" | "demo" | "java-interceptor",
     "state": "up/steady",                      # optional, the consumer group state it saw
     "rebalances": 3,                           # optional
     "partitions": [["orders", 0, 10, 5], ...]} # [topic, partition, position|null, committed|null]

``position`` is the offset of the last message handed to the application plus one
(librdkafka's ``app_offset``); ``committed`` is the committed offset the consumer knew
at the same instant. A ``null`` value (tombstone) retracts a reporter when it closes.

JVM consumers write the same records through ``deliverytui.probe.ProbeInterceptor``
(``deliverytui/probe/java``): no ``member_id``, ``state`` or ``rebalances`` (an interceptor
cannot see them), ``position`` from ``ConsumerRecords.nextOffsets()``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from deliverytui.model.positions import PROBE_RECORD_VERSION

#: ``{(topic, partition): (position, committed)}``; ``None`` or a negative offset means unknown.
Positions = Mapping[tuple[str, int], tuple[int | None, int | None]]


def encode_probe_key(group: str, reporter: str) -> bytes:
    """The record key: JSON ``[group, reporter]``, so compaction keeps each reporter's latest report."""
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


def offset_or_none(value: object) -> int | None:
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
            position = offset_or_none(part.get("app_offset"))
            committed = offset_or_none(part.get("committed_offset"))
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
