"""Will it catch up? The drain ETA in the live view's header and partition panel, on a real broker.

A consumer that drains faster than the producer writes shows an ETA; a group whose consumer has
stopped while the producer goes on shows "falling behind +N/s"; a caught-up group says so. The
rates come from the snapshots the view takes anyway (no request is added), so these tests only
run real clients and read the screen.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer

from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import GroupHeader, SelectedPartitionPanel
from tests.kafka_helpers import commit, create_topic, produce
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)


def viewer(bootstrap: str, group: str) -> DeliveryApp:
    return DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.5, request_timeout=5))


def header(app: DeliveryApp) -> str:
    return str(app.query_one(GroupHeader).render())


def panel(app: DeliveryApp) -> str:
    return str(app.query_one(SelectedPartitionPanel).render())


def steady_producer(bootstrap: str, topic: str, rate: float, stop: threading.Event) -> threading.Thread:
    """Writes ``rate`` records a second to partition 0 until ``stop`` is set."""

    def run() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        started, sent = time.monotonic(), 0
        while not stop.is_set():
            due = started + sent / rate
            if time.monotonic() < due:
                time.sleep(min(0.05, due - time.monotonic()))
                continue
            producer.produce(topic, value=b"x", partition=0)
            producer.poll(0)
            sent += 1
        producer.flush(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def throttled_consumer(bootstrap: str, group: str, topic: str, rate: float, stop: threading.Event) -> threading.Thread:
    """A group member that consumes about ``rate`` records a second, committing every 0.2 s."""

    def run() -> None:
        consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": "drain-test-consumer",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
        })
        consumer.subscribe([topic])
        started, seen, last_commit = time.monotonic(), 0, time.monotonic()
        try:
            while not stop.is_set():
                due = started + seen / rate
                if time.monotonic() < due:
                    time.sleep(min(0.05, due - time.monotonic()))
                    continue
                msg = consumer.poll(0.2)
                if msg is None or msg.error():
                    continue
                seen += 1
                if time.monotonic() - last_commit >= 0.2:
                    consumer.commit(message=msg, asynchronous=False)
                    last_commit = time.monotonic()
        finally:
            consumer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_a_consumer_faster_than_the_producer_shows_an_eta(bootstrap: str, unique: str) -> None:
    """3,000 records behind, a producer at 20/s and a consumer at ~200/s: the backlog shrinks, so the
    header and the partition panel give an ETA, with the consume and produce rates they come from."""
    topic, group = f"drain-{unique}", f"drain-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 3000})
    commit(bootstrap, group, {(topic, 0): 0})
    stop = threading.Event()
    threads = [steady_producer(bootstrap, topic, 20.0, stop), throttled_consumer(bootstrap, group, topic, 200.0, stop)]
    app = viewer(bootstrap, group)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: cell(app, f"{topic}:0", "lag") is not None, what="the row")
            await wait_until(pilot, lambda: "ETA " in header(app), timeout=60, what="an ETA in the header")
            eta = re.search(r"drain ETA (<?\d+ s|\d+ min \d+ s)", header(app))
            assert eta is not None, header(app)
            await wait_until(pilot, lambda: "drain ETA" in panel(app), timeout=30, what="an ETA in the partition panel")
            rates = re.search(r"consume ([\d,.]+)/s\s+produce ([\d,.]+)/s", panel(app))
            assert rates is not None, panel(app)
            consume, produce_rate = (float(value.replace(",", "")) for value in rates.groups())
            print(f"header: {eta.group(0)}; panel rates: consume {consume}/s, produce {produce_rate}/s")
            assert consume > produce_rate > 0
            assert "falling behind" not in header(app)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)


async def test_a_stopped_consumer_with_a_running_producer_is_falling_behind(bootstrap: str, unique: str) -> None:
    """Caught up at first (lag 0: "caught up"); then the producer writes 20/s and nobody consumes:
    the header says "falling behind +N/s" with N the rate the backlog grows by."""
    topic, group = f"behind-{unique}", f"behind-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    commit(bootstrap, group, {(topic, 0): 10})
    stop = threading.Event()
    app = viewer(bootstrap, group)
    threads: list[threading.Thread] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "drain caught up" in header(app), timeout=30, what="caught up")
            threads.append(steady_producer(bootstrap, topic, 20.0, stop))
            await wait_until(pilot, lambda: "falling behind +" in header(app), timeout=60, what="falling behind")
            growth = re.search(r"falling behind \+([\d,.]+)/s", header(app))
            assert growth is not None
            print(f"header: {growth.group(0)} (producer at 20/s, consumer stopped)")
            assert float(growth.group(1).replace(",", "")) > 0
            await wait_until(pilot, lambda: "falling behind +" in panel(app), timeout=30, what="the panel too")
            assert "consume 0.0/s" in panel(app)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
