"""Consumer positions end to end: the probe publishes, the collector reads, the gap is classified.

Everything runs against the session's real embedded broker: a real confluent-kafka
consumer with :func:`attach_probe`, real records on the probe topic, a real collector.
Waits are polling loops with a deadline, never fixed sleeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from deliverytui.errors import UnknownGroupError
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.probe_positions import MalformedProbeRecord, PositionCollector, decode_probe_record
from deliverytui.model.positions import GapKind, PositionsView, classify_gap
from deliverytui.probe import (
    DEFAULT_PROBE_TOPIC,
    ProbePublisher,
    attach_probe,
    encode_probe_key,
    encode_probe_record,
    positions_from_statistics,
    probe_of,
)
from tests.kafka_helpers import create_topic, produce

DEADLINE_SECONDS = 40.0


def poll_until(
    collector: PositionCollector, condition: Callable[[PositionsView], bool], *, also: Callable[[], object] | None = None
) -> PositionsView:
    """Poll the collector (and ``also``, e.g. the consumer) until ``condition`` holds; fail with the last view."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    view = collector.poll(0.2)
    while not condition(view):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {DEADLINE_SECONDS} s; last view: {view.to_json()}")
        if also is not None:
            also()
        view = collector.poll(0.2)
    return view


def ready_publisher(bootstrap: str, group: str, client_id: str, **kwargs: object) -> ProbePublisher:
    publisher = ProbePublisher(bootstrap, group, client_id, **kwargs)
    assert publisher.wait_until_ready(30), publisher.counters
    return publisher


# -- the gap, pure ------------------------------------------------------------------
def test_classify_gap_names_and_counts_each_kind() -> None:
    ahead = classify_gap(10, 5)
    assert (ahead.kind, ahead.count) == (GapKind.PROCESSED_NOT_COMMITTED, 5)
    assert "redelivered after a crash" in ahead.explanation
    behind = classify_gap(3, 7)
    assert (behind.kind, behind.count) == (GapKind.COMMITTED_NOT_PROCESSED, 4)
    assert "lost after a crash" in behind.explanation
    assert (classify_gap(8, 8).kind, classify_gap(8, 8).count) == (GapKind.IN_SYNC, 0)
    for position, committed in [(None, 5), (5, None), (-1001, 5), (5, -1001)]:
        assert classify_gap(position, committed).kind is GapKind.UNKNOWN
        assert classify_gap(position, committed).count is None
    assert all(kind.explanation for kind in GapKind)


def test_statistics_keep_only_assigned_partitions_with_offsets() -> None:
    stats = {
        "cgrp": {"state": "up", "join_state": "steady", "rebalance_cnt": 2},
        "topics": {
            "orders": {
                "topic": "orders",
                "partitions": {
                    "0": {"partition": 0, "desired": True, "app_offset": 10, "committed_offset": 5},
                    "1": {"partition": 1, "desired": True, "app_offset": -1001, "committed_offset": -1001},
                    "2": {"partition": 2, "desired": False, "app_offset": 4, "committed_offset": 4},
                    "3": {"partition": 3, "desired": True, "app_offset": -1001, "committed_offset": 9},
                    "-1": {"partition": -1, "desired": False, "app_offset": -1001, "committed_offset": -1001},
                },
            }
        },
    }
    partitions, state, rebalances = positions_from_statistics(stats)
    assert partitions == [["orders", 0, 10, 5], ["orders", 3, None, 9]]
    assert (state, rebalances) == ("up/steady", 2)


def test_decoder_rejects_wrong_shapes() -> None:
    good = encode_probe_record(group="g", client_id="c", reporter="r", source="demo", partitions=[["t", 0, 1, 1]], interval_ms=1000)
    assert decode_probe_record(good).partitions == (("t", 0, 1, 1),)
    for bad in [b"not json", b"[1, 2]", b'{"v": 1}', b'{"v": 2, "group": "g", "client_id": "c", "ts_ms": 1, "partitions": []}',
                b'{"v": 1, "group": "g", "client_id": "c", "ts_ms": 1, "partitions": [["t", "0", 1, 1]]}']:
        with pytest.raises(MalformedProbeRecord):
            decode_probe_record(bad)


# -- end to end ----------------------------------------------------------------------
def test_attached_consumer_shows_processed_but_not_committed(bootstrap: str, unique: str) -> None:
    topic, group = f"orders.{unique}", f"billing-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    config = attach_probe(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": f"billing-1-{unique}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        },
        interval_ms=300,
    )
    consumer = Consumer(config)
    publisher = probe_of(config)
    assert publisher is not None
    publisher.bind_consumer(consumer)
    collector = PositionCollector(bootstrap, None, group)
    try:
        consumer.subscribe([topic])
        consumed = 0
        deadline = time.monotonic() + DEADLINE_SECONDS
        while consumed < 10:
            assert time.monotonic() < deadline, f"consumed only {consumed} of 10"
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            consumed += 1
            if consumed == 5:
                consumer.commit(message=message, asynchronous=False)  # commits offset 5; 5..9 processed, not committed

        view = poll_until(
            collector,
            lambda v: (e := v.get(topic, 0)) is not None and (e.position, e.committed) == (10, 5),
            also=lambda: consumer.poll(0.05),  # statistics (and so reports) are emitted from the consumer's poll
        )
        entry = view.get(topic, 0)
        assert entry is not None
        assert entry.gap.kind is GapKind.PROCESSED_NOT_COMMITTED and entry.gap.count == 5
        assert entry.client_id == f"billing-1-{unique}"
        assert entry.member_id == consumer.memberid()
        assert entry.source == "librdkafka-stats" and not entry.stale
        assert view.by_key[f"{topic}:0"] == entry
        assert publisher.counters.published > 0
    finally:
        consumer.close()
        publisher.close()
        collector.close()

    # The probe created its topic compacted, so the latest report per consumer is kept.
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, DEFAULT_PROBE_TOPIC)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert "compact" in configs["cleanup.policy"].value


def test_published_positions_show_committed_but_not_processed(bootstrap: str, unique: str) -> None:
    group, probe_topic = f"demo-{unique}", f"__deliverytui_probe_{unique}"
    publisher = ready_publisher(bootstrap, group, "demo-consumer-1", topic=probe_topic, min_publish_interval=2.0)
    collector = PositionCollector(bootstrap, None, group, topic=probe_topic)
    try:
        assert publisher.publish_positions({("tasks", 2): (3, 7)}, state="up", force=True)
        view = poll_until(collector, lambda v: v.get("tasks", 2) is not None)
        entry = view.get("tasks", 2)
        assert entry is not None and (entry.position, entry.committed) == (3, 7)
        assert entry.gap.kind is GapKind.COMMITTED_NOT_PROCESSED and entry.gap.count == 4
        assert entry.source == "demo" and entry.client_id == "demo-consumer-1"

        # Inside the rate limit a report is held back, not lost: tick() sends it once due.
        publisher.publish_positions({("tasks", 2): (7, 7)}, force=True)
        assert not publisher.publish_positions({("tasks", 2): (9, 9)})
        view = poll_until(collector, lambda v: v.get("tasks", 2).position == 9, also=publisher.tick)  # type: ignore[union-attr]
        assert view.get("tasks", 2).gap.kind is GapKind.IN_SYNC  # type: ignore[union-attr]

        # Closing retracts the reporter: its positions leave the view instead of turning stale.
        publisher.close()
        poll_until(collector, lambda v: v.get("tasks", 2) is None)
    finally:
        publisher.close()
        collector.close()


def test_other_groups_malformed_and_stale_records(bootstrap: str, unique: str) -> None:
    group, probe_topic = f"shipping-{unique}", f"__deliverytui_probe_{unique}"
    ready_publisher(bootstrap, group, "creator", topic=probe_topic).close()  # creates the topic
    now_ms = int(time.time() * 1000)

    def record(group_id: str, reporter: str, partition: int, ts_ms: int) -> tuple[bytes, bytes]:
        value = encode_probe_record(
            group=group_id, client_id=reporter, reporter=reporter, source="demo",
            partitions=[["parcels", partition, 4, 4]], interval_ms=1000, ts_ms=ts_ms,
        )
        return encode_probe_key(group_id, reporter), value

    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in [
        (b"x", b"not json at all"),
        (b"x", b'{"v": 1, "group": "%s"}' % group.encode()),  # our group, wrong shape
        (b"x", b'{"v": 1, "group": "%s", "client_id": "c", "ts_ms": 1, "partitions": [["parcels", 0]]}' % group.encode()),
        (b"x", b"[1, 2, 3]"),
        record(f"someone-else-{unique}", "other", 0, now_ms),
        record(group, "fresh", 0, now_ms),
        record(group, "silent", 1, now_ms - 120_000),  # stopped reporting two minutes ago
        record(group, "long-gone", 2, now_ms - 7_200_000),  # beyond forget_after: dropped
    ]:
        producer.produce(probe_topic, key=key, value=value)
    assert producer.flush(30) == 0

    collector = PositionCollector(bootstrap, None, group, topic=probe_topic)
    try:
        view = poll_until(collector, lambda v: v.caught_up and v.get("parcels", 1) is not None)
        assert view.malformed_records == 4
        assert view.other_group_records == 1
        assert [(e.partition, e.reporter) for e in view.partitions] == [(0, "fresh"), (1, "silent")]
        fresh, silent = view.partitions
        assert not fresh.stale
        assert silent.stale and silent.age_seconds >= 119
        assert silent.gap.kind is GapKind.IN_SYNC  # a stale report is still classified, just flagged
    finally:
        collector.close()


def test_collector_never_creates_a_group_or_a_topic(bootstrap: str, unique: str) -> None:
    reader_group = f"reader-{unique}"
    missing_topic = f"__deliverytui_probe_missing_{unique}"
    with PositionCollector(bootstrap, None, "any", topic=missing_topic, reader_group_id=reader_group) as collector:
        view = collector.poll(1.0)
        assert view.error is not None and "does not exist" in view.error
        assert view.partitions == ()

    # Reading a real, populated probe topic to its end must not commit either.
    group, probe_topic = f"ledger-{unique}", f"__deliverytui_probe_{unique}"
    publisher = ready_publisher(bootstrap, group, "ledger-1", topic=probe_topic)
    publisher.publish_positions({("entries", 0): (1, 1)}, force=True)
    assert publisher.flush(30) == 0
    with PositionCollector(bootstrap, None, group, topic=probe_topic, reader_group_id=reader_group) as collector:
        poll_until(collector, lambda v: v.caught_up and v.get("entries", 0) is not None)
    publisher.close()

    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert missing_topic not in admin.list_topics(timeout=10).topics
    inspector = GroupInspector(bootstrap)
    assert reader_group not in {g.group_id for g in inspector.list_groups()}
    with pytest.raises(UnknownGroupError):
        inspector.snapshot(reader_group)


def test_probe_and_collector_do_not_import_textual() -> None:
    code = (
        "import sys, deliverytui.probe, deliverytui.kafka.probe_positions, deliverytui.model.positions\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))"
    )
    result = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_probe_never_raises_into_the_consumer() -> None:
    """Garbage statistics and an unreachable cluster are counted, never raised into librdkafka's callback."""
    publisher = ProbePublisher({"bootstrap.servers": "127.0.0.1:1", "sasl.password": "hunter2"}, "g", "c")
    try:
        publisher.stats_cb("this is not json")
        publisher.stats_cb("[]")
        publisher.stats_cb(json.dumps({"topics": {"t": {"partitions": {"0": {"partition": 0, "desired": True, "app_offset": 3}}}}}))
        assert not publisher.publish_positions({("t", 0): (1, 1)}, force=True)  # topic not known to exist: dropped
        counters = publisher.counters
        assert counters.errors >= 2 and counters.dropped >= 2 and counters.published == 0
        assert "hunter2" not in repr(publisher) and "hunter2" not in str(counters)
    finally:
        publisher.close(timeout=0.5)
