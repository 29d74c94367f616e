"""The KIP-848 rebalance view, driven with Pilot against real consumer-protocol and classic groups.

The rebalance is held open on purpose, without a timer: the first member stops polling, so librdkafka
cannot give up the partitions the coordinator moved to the second member (the revocation is acknowledged
from ``poll``). The view must then show the first member's pending revocation and the second's unowned
target; once the first polls again it must log how long the rebalance took to settle.
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer, TopicPartition

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
    topic, old_topic, group = f"rebal-{unique}", f"rebal-old-{unique}", f"rebal-{unique}"
    create_topic(bootstrap, topic, 6)
    create_topic(bootstrap, old_topic, 1)
    first = live_member(bootstrap, group, [topic], client_id="first", protocol="consumer")
    # An offset the group keeps for a topic it no longer subscribes to: a partition in no assignment at all.
    first.commit(offsets=[TopicPartition(old_topic, 0, 0)], asynchronous=False)
    second = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "second",
                       "group.protocol": "consumer", "enable.auto.commit": False})
    stops = [threading.Event(), threading.Event()]
    threads: list[threading.Thread] = []
    app = make_app(bootstrap, group)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "settled" in panel_text(app) and f"{topic}:0-5" in panel_text(app)
                             and old_topic in panel_text(app),
                             timeout=90, what="the first member owning all 6 partitions, settled")
            text = panel_text(app)
            assert "first@" in text and "target = now" in text
            group_epoch = int(text.split("group epoch ")[1].split()[0])
            assert f"target epoch {group_epoch}" in text and f"first@/127.0.0.1 epoch {group_epoch}" in text
            assert f"{UNOWNED_MARK} in no assignment: {old_topic}:0" in text
            await wait_until(pilot, lambda: (cell(app, f"{topic}:0", "owner") or "").startswith("first"), what="the table's owner")

            second.subscribe([topic])
            threads.append(threading.Thread(target=poll_until, args=(second, stops[1])))
            threads[-1].start()
            await wait_until(pilot, lambda: f"{REVOKING_MARK} {topic}:" in panel_text(app) and "second@" in panel_text(app),
                             timeout=60, what="the held rebalance: a revocation pending")
            text = panel_text(app)
            assert "rebalancing" in text
            new_epoch = int(text.split("group epoch ")[1].split()[0])
            assert new_epoch > group_epoch and f"target epoch {new_epoch}" in text
            first_block = text[text.index("first@"):text.index("second@")]  # members are listed by client id
            second_block = text[text.index("second@"):]
            assert f"epoch {group_epoch}\n" in first_block  # behind the target epoch: it has not acknowledged
            assert f"now    {topic}:0-5" in first_block  # still owns everything
            [revoking] = [line.strip() for line in first_block.splitlines() if line.strip().startswith(REVOKING_MARK)]
            [target] = [line.strip() for line in second_block.splitlines() if line.strip().startswith("target ")]
            assert revoking.removeprefix(REVOKING_MARK).strip() == target.removeprefix("target").strip()  # moving to second
            assert f"epoch {new_epoch}\n" in second_block and "now    -" in second_block
            assert any("in progress" in line for line in app.query_one(EventLog).entries)
            assert not settled_lines(app)

            threads.append(threading.Thread(target=poll_until, args=(first, stops[0])))
            threads[-1].start()
            await wait_until(pilot, lambda: bool(settled_lines(app)), timeout=60, what="the 'settled in' event")
            [line] = settled_lines(app)
            assert f"rebalance to epoch {new_epoch} settled in " in line and line.endswith(" s (2 members)")
            await wait_until(pilot, lambda: "settled" in panel_text(app) and "rebalancing" not in panel_text(app),
                             timeout=30, what="the panel settled")
            text = panel_text(app)
            assert text.count("target = now") == 2 and f"{REVOKING_MARK} {topic}" not in text
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

    attempts: list[float] = []

    def no_java() -> list[str]:
        attempts.append(1.0)
        raise OSError("Java was not found: install a JDK 17+")

    def collector(config: ViewerConfig, cancel: threading.Event) -> ShareGroupCollector:
        return ShareGroupCollector(config.bootstrap, config.client_config, helper_command=no_java, cancel_event=cancel)

    app = make_app(bootstrap, group, share_collector_factory=collector)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "unavailable" in panel_text(app), timeout=60, what="the panel's reason")
            assert panel_text(app) == "epochs and targets unavailable: Java was not found: install a JDK 17+ (trying again in 30 s)"
            await wait_until(pilot, lambda: (cell(app, f"{topic}:0", "owner") or "").startswith("member"), timeout=30, what="the table")
            polls = app.polls_completed
            await wait_until(pilot, lambda: app.polls_completed >= polls + 5, timeout=30, what="five more polls")
            assert len(attempts) == 1  # not a helper build attempt per refresh: the next one waits 30 s
    finally:
        member.close()
