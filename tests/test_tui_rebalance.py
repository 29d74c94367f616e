"""The KIP-848 rebalance view, driven with Pilot against real consumer-protocol and classic groups.

The rebalance is held open on purpose, without a timer: the first member stops polling, so librdkafka
cannot give up the partitions the coordinator moved to the second member (the revocation is acknowledged
from ``poll``). The view must then show the first member's pending revocation and the second's unowned
target; once the first polls again it must log how long the rebalance took to settle.
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer

from deliverytui.kafka.share_collector import ShareGroupCollector
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import EventLog
from deliverytui.tui.widgets.rebalance_panel import REVOKING_MARK, UNOWNED_MARK
from tests.kafka_helpers import create_topic, live_member
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)


def make_app(bootstrap: str, group: str, **kwargs) -> DeliveryApp:
    return DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5), **kwargs)


def panel_text(app: DeliveryApp) -> str:
    panel = app.rebalance_panel
    return panel.shown_text if panel is not None and panel.display else ""


def settled_lines(app: DeliveryApp) -> list[str]:
    return [line for line in app.query_one(EventLog).entries if " settled in " in line]


def poll_until(consumer: Consumer, stop: threading.Event) -> None:
    while not stop.is_set():
        consumer.poll(0.2)


async def test_a_second_member_joining_shows_epochs_targets_revocation_and_the_settle_time(bootstrap: str, unique: str) -> None:
    topic, group = f"rebal-{unique}", f"rebal-{unique}"
    create_topic(bootstrap, topic, 6)
    first = live_member(bootstrap, group, [topic], client_id="first", protocol="consumer")
    second = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "second",
                       "group.protocol": "consumer", "enable.auto.commit": False})
    stops = [threading.Event(), threading.Event()]
    threads: list[threading.Thread] = []
    app = make_app(bootstrap, group)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "settled" in panel_text(app) and f"{topic}:0-5" in panel_text(app),
                             timeout=90, what="the first member owning all 6 partitions, settled")
            text = panel_text(app)
            assert "first@" in text and "target = now" in text and "group epoch " in text and "target epoch " in text
            await wait_until(pilot, lambda: (cell(app, f"{topic}:0", "owner") or "").startswith("first"), what="the table's owner")

            second.subscribe([topic])
            threads.append(threading.Thread(target=poll_until, args=(second, stops[1])))
            threads[-1].start()
            await wait_until(pilot, lambda: "rebalancing" in panel_text(app) and "second@" in panel_text(app)
                             and REVOKING_MARK + " " in panel_text(app) and UNOWNED_MARK + " " in panel_text(app),
                             timeout=60, what="the held rebalance: revocation pending, targets unowned")
            text = panel_text(app)
            first_block = text[text.index("first@"):text.index("second@")]  # members are listed by client id
            assert f"now    {topic}:0-5" in first_block  # still owns everything
            assert f"{REVOKING_MARK} {topic}:" in first_block  # and must give 3 up
            assert any(" in progress" in line for line in app.query_one(EventLog).entries)
            assert not settled_lines(app)

            threads.append(threading.Thread(target=poll_until, args=(first, stops[0])))
            threads[-1].start()
            await wait_until(pilot, lambda: bool(settled_lines(app)), timeout=60, what="the 'settled in' event")
            [line] = settled_lines(app)
            assert "rebalance to epoch " in line and "(2 members)" in line
            await wait_until(pilot, lambda: "settled" in panel_text(app) and "rebalancing" not in panel_text(app),
                             timeout=30, what="the panel settled")
            text = panel_text(app)
            assert text.count("target = now") == 2 and f"{REVOKING_MARK} {topic}" not in text and f"{UNOWNED_MARK} {topic}" not in text
            assert app.shares.helpers_started == 1  # one JVM for the whole session, not one per poll
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(10)
        first.close()
        second.close()


async def test_a_classic_group_shows_no_kip848_panel_and_starts_no_java(bootstrap: str, unique: str) -> None:
    topic, group = f"rebal-classic-{unique}", f"rebal-classic-{unique}"
    create_topic(bootstrap, topic, 2)
    member = live_member(bootstrap, group, [topic], client_id="classic-member", protocol="classic")
    app = make_app(bootstrap, group)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.polls_completed >= 3 and (cell(app, f"{topic}:0", "owner") or "").startswith("classic-member"),
                             timeout=60, what="three polls of the classic group")
            assert app.rebalance_panel is None and not app.query("#rebalance")
            assert app.shares.helpers_started == 0 and not app.shares.helper_running
    finally:
        member.close()


async def test_without_java_the_panel_says_why_and_the_rest_of_the_view_works(bootstrap: str, unique: str) -> None:
    topic, group = f"rebal-nojava-{unique}", f"rebal-nojava-{unique}"
    create_topic(bootstrap, topic, 2)
    member = live_member(bootstrap, group, [topic], client_id="member", protocol="consumer")

    def no_java() -> list[str]:
        raise OSError("Java was not found: install a JDK 17+")

    def collector(config: ViewerConfig, cancel: threading.Event) -> ShareGroupCollector:
        return ShareGroupCollector(config.bootstrap, config.client_config, helper_command=no_java, cancel_event=cancel)

    app = make_app(bootstrap, group, share_collector_factory=collector)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "unavailable" in panel_text(app), timeout=60, what="the panel's reason")
            assert panel_text(app) == "epochs and targets unavailable: Java was not found: install a JDK 17+"
            await wait_until(pilot, lambda: (cell(app, f"{topic}:0", "owner") or "").startswith("member"), timeout=30, what="the table")
    finally:
        member.close()
