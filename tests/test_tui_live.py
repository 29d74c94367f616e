"""The live view driven with Pilot against the real embedded broker."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.embedded import EmbeddedBroker
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog, GroupHeader
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.kafka_helpers import (
    commit,
    create_topic,
    produce,
    seed_topics,
    start_probed_member,
    stop_probed_member,
)
from tests.services import free_port
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)


def viewer(bootstrap: str, group: str, **kwargs) -> DeliveryApp:
    return DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5, **kwargs))


def consume_all(bootstrap: str, group: str, topic: str, expected: int, stay: threading.Event) -> None:
    """Consume and commit ``expected`` records, then stay in the group until ``stay`` is set."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "client.id": "live-test-consumer",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen = 0
    try:
        while seen < expected or not stay.is_set():
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            seen += 1
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()


async def test_rows_appear_and_lag_rises_then_falls(bootstrap: str, unique: str) -> None:
    topic, group = f"live-{unique}", f"live-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 10, 1: 10, 2: 10})
    commit(bootstrap, group, {(topic, 0): 10, (topic, 1): 10, (topic, 2): 10})
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 3, what="three rows")
        assert cell(app, f"{topic}:0", "lag") == "0"
        produce(bootstrap, topic, {0: 25})
        await wait_until(pilot, lambda: cell(app, f"{topic}:0", "lag") == "25", what="lag 25 after producing")
        assert app.update is not None and app.update.snapshot.total_lag == 25
        done = threading.Event()
        consuming = asyncio.get_running_loop().run_in_executor(None, consume_all, bootstrap, group, topic, 25, done)
        try:
            await wait_until(pilot, lambda: cell(app, f"{topic}:0", "lag") == "0", what="lag back to 0 after consuming")
            await wait_until(pilot, lambda: cell(app, f"{topic}:0", "owner").startswith("live-test-consumer"), what="owner")
        finally:
            done.set()
            await consuming
        assert cell(app, f"{topic}:0", "committed") == "35"
        log = "\n".join(app.query_one(EventLog).entries)
        assert "attached to" in log and "member joined: live-test-consumer" in log


async def test_filter_sort_and_pause(bootstrap: str, unique: str) -> None:
    alpha, beta, group = f"alpha-{unique}", f"beta-{unique}", f"filter-{unique}"
    seed_topics(bootstrap, {alpha: {0: 5, 1: 9}, beta: {0: 20}}, group, {(alpha, 0): 0, (alpha, 1): 0, (beta, 0): 0})
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 3, what="rows")
        # Sorted by lag (largest first) by default.
        assert shown(app) == [f"{beta}:0", f"{alpha}:1", f"{alpha}:0"]
        header = app.query_one(PartitionsTable)._header_strip  # the header line as drawn on screen
        assert "Lag ↓" in header().text and "Topic ↑" not in header().text
        await pilot.press("s")
        assert shown(app) == [f"{alpha}:0", f"{alpha}:1", f"{beta}:0"]
        assert "Topic ↑" in header().text and "Lag ↓" not in header().text  # the sort mode is on screen
        await pilot.press("slash")
        await pilot.press(*"beta")
        await pilot.press("enter")
        assert shown(app) == [f"{beta}:0"]
        assert "Topic ↑ ~beta" in header().text  # so is the active filter
        await pilot.press("slash", "escape")
        assert len(shown(app)) == 3
        assert "~beta" not in header().text

        await pilot.press("p")
        assert app.paused
        polls = app.polls_completed
        produce(bootstrap, beta, {0: 5})
        await pilot.pause(1.5)
        assert app.polls_completed <= polls + 1  # at most the poll already in flight
        assert cell(app, f"{beta}:0", "lag") == "20"  # frozen while paused
        await pilot.press("p")
        await wait_until(pilot, lambda: cell(app, f"{beta}:0", "lag") == "25", what="refresh after resume")


async def test_switch_group_with_the_picker(bootstrap: str, unique: str) -> None:
    topic, first, second = f"switch-{unique}", f"first-{unique}", f"second-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 4, 1: 4})
    commit(bootstrap, first, {(topic, 0): 1})
    commit(bootstrap, second, {(topic, 1): 3})
    app = viewer(bootstrap, first)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: shown(app) == [f"{topic}:0"], what="first group's row")
        await pilot.press("G")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupPickerScreen), what="group picker")
        picker = app.screen
        assert second in [g.group_id for g in picker.groups]
        options = picker.query_one("#group-options")
        options.highlighted = [g.group_id for g in picker.groups].index(second)
        await pilot.press("enter")
        await wait_until(pilot, lambda: shown(app) == [f"{topic}:1"], what="second group's row")
        assert app.group == second
        assert cell(app, f"{topic}:1", "lag") == "1"


async def test_unknown_group_shows_banner_then_appears(bootstrap: str, unique: str) -> None:
    topic, group = f"later-{unique}", f"later-{unique}"
    create_topic(bootstrap, topic, 1)
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(ConnectionBanner)
        # On a broker that has never had a group (no __consumer_offsets yet), librdkafka 2.16's
        # ListConsumerGroupOffsets crashes its process (SIGSEGV; reproduced with a bare AdminClient): the
        # isolated child dies, the banner says so, and the next refresh's new child gets the real answer.
        # The person sees "does not exist" within seconds.
        await wait_until(
            pilot, lambda: banner.has_class("-visible") and "does not exist" in str(banner.render()), what="banner"
        )
        commit(bootstrap, group, {(topic, 0): 0})
        await wait_until(pilot, lambda: shown(app) == [f"{topic}:0"], timeout=40, what="group to appear")
        assert not banner.has_class("-visible")


async def test_unreachable_before_any_snapshot_does_not_claim_one() -> None:
    app = viewer(f"127.0.0.1:{free_port()}", "nobody-home", max_backoff_seconds=1.0)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(ConnectionBanner)
        await wait_until(pilot, lambda: banner.has_class("-visible"), timeout=40, what="unreachable banner")
        text = str(banner.render())
        assert "no snapshot yet" in text and "showing the last snapshot" not in text, text
        assert shown(app) == []


async def test_broker_stop_shows_banner_and_start_recovers(kafka_distribution: KafkaDistribution, tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "restartable")
    info, _ = broker.start(distribution=kafka_distribution)
    try:
        create_topic(info.bootstrap, "restart-topic", 1)
        produce(info.bootstrap, "restart-topic", {0: 3})
        commit(info.bootstrap, "restart-group", {("restart-topic", 0): 1})
        app = viewer(info.bootstrap, "restart-group", max_backoff_seconds=1.0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: shown(app) == ["restart-topic:0"], what="row")
            broker.stop()
            banner = app.query_one(ConnectionBanner)
            await wait_until(pilot, lambda: banner.has_class("-visible"), timeout=40, what="disconnected banner")
            assert app.stale and "STALE" in str(app.query_one(GroupHeader).render())
            assert "showing the last snapshot" in str(banner.render())
            assert shown(app) == ["restart-topic:0"]  # the last snapshot is kept
            broker.start(distribution=kafka_distribution)
            await wait_until(pilot, lambda: not banner.has_class("-visible"), timeout=90, what="recovery")
            assert not app.stale
            log = "\n".join(app.query_one(EventLog).entries)
            assert "connection lost" in log and "connection recovered" in log
            assert cell(app, "restart-topic:0", "lag") == "2"
    finally:
        broker.stop()


async def test_reset_is_refused_without_allow_writes(bootstrap: str, unique: str) -> None:
    topic, group = f"ro-{unique}", f"ro-{unique}"
    create_topic(bootstrap, topic, 1)
    commit(bootstrap, group, {(topic, 0): 0})
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 1, what="row")
        await pilot.press("r")
        await pilot.pause(0.2)
        assert any("--allow-writes" in n.message for n in app._notifications)


async def test_position_beside_committed_explains_the_gap(bootstrap: str, unique: str) -> None:
    """A consumer that processed 10 records but committed 5 shows position 10: 5 would be redelivered."""
    from deliverytui.tui.widgets.panels import SelectedPartitionPanel

    topic, group = f"probe-live-{unique}", f"probe-live-{unique}"
    consumer, config, stop, loop_done = start_probed_member(bootstrap, topic, group, interval_ms=500)
    app = viewer(bootstrap, group)
    try:
        async with app.run_test(size=SIZE) as pilot:
            key = f"{topic}:0"
            await wait_until(pilot, lambda: cell(app, key, "committed") == "5", timeout=40, what="commit of 5")
            await wait_until(pilot, lambda: cell(app, key, "position") == "10", timeout=40, what="position 10")
            await wait_until(
                pilot,
                lambda: "5 processed, not committed" in str(app.query_one(SelectedPartitionPanel).render()),
                timeout=20,
                what="gap explanation",
            )
            assert cell(app, key, "owner").startswith("probed")
    finally:
        await stop_probed_member(stop, loop_done, consumer, config)


async def test_time_lag_of_the_selected_partition(bootstrap: str, unique: str) -> None:
    """The age of the first unconsumed record is read for the selected partition only."""
    from deliverytui.tui.widgets.panels import SelectedPartitionPanel

    topic, group = f"timelag-{unique}", f"timelag-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 5})
    commit(bootstrap, group, {(topic, 0): 2})
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 1, what="row")
        await wait_until(
            # "12.3s exact": the exact value read (the estimate beside it alone shows "- exact").
            pilot, lambda: "s exact" in str(app.query_one(SelectedPartitionPanel).render()), what="time lag"
        )
        assert app.update is not None and app.update.selected_time_lag is not None
        key, age = app.update.selected_time_lag
        assert key == f"{topic}:0" and 0.0 <= age < 600  # the record was produced moments ago
