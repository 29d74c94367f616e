"""The live view on a share group, driven with Pilot, against a share group run by Kafka's own console share consumer.

The oracle is Kafka's ``kafka-share-groups --describe``, run from the broker's own jars: the view's
start offset, share lag and log end must equal what it prints, once both have settled.
"""

from __future__ import annotations

import os
import time

import pytest

from deliverytui.broker.admin_helper import MAIN_CLASS
from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.screens.share_group import ShareGroupScreen, ShareHeader
from tests.kafka_helpers import commit, create_topic, produce
from tests.process_tree import cmdline, descendants
from tests.share_helpers import (
    console_share_consumer,
    set_group_config,
    share_groups,
    table_rows,
    wait_for_members,
)
from tests.tui_helpers import cell, share_cell, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)
STATUSES = {"OK", "WARN", "STALL", "STOP", "REWIND", "-"}


def helper_jvms() -> list[int]:
    """The Java admin helpers this test process started (other engineers' helpers are not our children)."""
    return [pid for pid in descendants(os.getpid()) if MAIN_CLASS in cmdline(pid)]


def kafka_view(dist: KafkaDistribution, bootstrap: str, group: str) -> dict[int, tuple[str, str]]:
    """partition -> (start offset, lag) as ``kafka-share-groups --describe`` prints them."""
    rows = table_rows(share_groups(dist, bootstrap, "--describe", "--group", group), "GROUP", group)
    return {int(row["PARTITION"]): (row["START-OFFSET"], row["LAG"]) for row in rows}


def shown_view(screen: ShareGroupScreen, topic: str, partitions: int) -> dict[int, tuple[str, str]]:
    return {
        p: ((share_cell(screen, f"{topic}:{p}", "start") or "").replace(",", ""),
            (share_cell(screen, f"{topic}:{p}", "lag") or "").replace(",", ""))
        for p in range(partitions)
    }  # fmt: skip


async def settle(pilot, screen: ShareGroupScreen, topic: str, dist: KafkaDistribution, bootstrap: str, group: str,
                 partitions: int = 2) -> dict[int, tuple[str, str]]:
    """Poll until the view shows what ``kafka-share-groups --describe`` prints, and Kafka's tool printed it
    twice in a row (the state stopped moving); return it. On a timeout, say what each showed."""
    deadline = time.monotonic() + 120
    previous: dict[int, tuple[str, str]] | None = None
    while time.monotonic() < deadline:
        kafka = kafka_view(dist, bootstrap, group)
        try:
            await wait_until(pilot, lambda kafka=kafka: shown_view(screen, topic, partitions) == kafka, timeout=15, what="the view")
        except AssertionError:
            previous = None
            continue
        if kafka == previous:
            return kafka
        previous = kafka
    raise AssertionError(
        f"the view shows {shown_view(screen, topic, partitions)}, kafka-share-groups {kafka_view(dist, bootstrap, group)}, "
        f"after {screen.failures} failed poll(s)"
    )


async def test_share_group_live_view_matches_kafka_share_groups(
    bootstrap: str, kafka_distribution: KafkaDistribution, unique: str
) -> None:
    topic, group, client = f"share-live-{unique}", f"share-live-{unique}", f"share-view-{unique}"
    classic = f"classic-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 6, 1: 3})
    set_group_config(kafka_distribution, bootstrap, group, share_auto_offset_reset="earliest")
    before = set(helper_jvms())
    with console_share_consumer(kafka_distribution, bootstrap, topic, group, client_id=client):
        wait_for_members(kafka_distribution, bootstrap, group, 1)
        app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=10))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), timeout=90, what="the share view")
            screen = app.screen
            assert isinstance(screen, ShareGroupScreen)
            await wait_until(pilot, lambda: screen.latest is not None and len(screen.latest.rows) == 2, timeout=60,
                             what="both partitions")
            header = str(screen.query_one(ShareHeader).render())
            assert f"share group {group}" in header and "type share" in header and "assignment epoch" in header
            # The console consumer acknowledges everything; the view must equal Kafka's tool once both settle.
            first = await settle(pilot, screen, topic, kafka_distribution, bootstrap, group)
            for p, end in ((0, "6"), (1, "3")):
                assert share_cell(screen, f"{topic}:{p}", "log_end") == end
                assert share_cell(screen, f"{topic}:{p}", "owners") == client
                status = share_cell(screen, f"{topic}:{p}", "status")
                # Burrow's rule 2: a share lag within the allowed lag (0) is OK, whatever else happened.
                assert status == "OK" if first[p][1] == "0" else status in STATUSES, (p, status, first)
            assert "members 1" in str(screen.query_one(ShareHeader).render())
            total = sum(int(lag) for _, lag in first.values() if lag != "-")
            assert f"total share lag {total:,}" in str(screen.query_one(ShareHeader).render())
            ours = set(helper_jvms()) - before
            assert len(ours) == 1, f"one Java admin helper for the session, found {len(ours)}"

            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
            legend = dict(app.screen.legend)
            labels = [label for label, _ in app.screen.legend]
            assert "Start offset" in legend and "Share lag" in legend
            for label in ("Start offset", "Share lag"):  # two lines each: the label's line and an unlabelled one
                assert labels[labels.index(label) + 1] == ""
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, what="help closed")

            await pilot.press("r")
            await wait_until(pilot, lambda: any("read-only" in n.message and "deliverytui reset --group" in n.message for n in app._notifications), what="the refusal")
            assert app.screen is screen

    # The consumer is gone: records produced now wait, and the view shows Kafka's share lag for them.
    produce(bootstrap, topic, {1: 4})
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=10))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), timeout=90, what="the share view again")
        screen = app.screen
        second = await settle(pilot, screen, topic, kafka_distribution, bootstrap, group)
        assert int(second[1][1]) - int(first[1][1]) == 4, (first, second)  # the four records nobody took
        assert second[0] == first[0]
        assert share_cell(screen, f"{topic}:1", "log_end") == "7"
        assert share_cell(screen, f"{topic}:1", "owners") == "-"
        assert "members 0" in str(screen.query_one(ShareHeader).render())
        # Nobody owns partition 1 and its start offset does not move while records wait: STOP (lag/share.py).
        await wait_until(pilot, lambda: share_cell(screen, f"{topic}:1", "status") == "STOP", timeout=30, what="STOP")
        total = sum(int(lag) for _, lag in second.values() if lag != "-")
        assert f"total share lag {total:,}" in str(screen.query_one(ShareHeader).render())

        # The picker lists the share group with its type; a classic group opens the consumer-group view,
        # and the share group again the share view, on the session's one helper.
        commit(bootstrap, classic, {(topic, 0): 1})
        for target in (classic, group):
            await pilot.press("G")
            await wait_until(pilot, lambda: isinstance(app.screen, GroupPickerScreen), timeout=30, what="the picker")
            types = {g.group_id: g.protocol for g in app.screen.groups}
            assert types[group] == "share" and types[classic] == "classic", types
            app.screen.dismiss(target)
            if target == classic:
                await wait_until(pilot, lambda: cell(app, f"{topic}:0", "committed") == "1", timeout=60, what="the classic group")
                assert app.share_screen is None
            else:
                await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen) and app.screen.latest is not None,
                                 timeout=60, what="the share view again")
        assert app.shares.helpers_started == 1
    assert set(helper_jvms()) <= before, "the Java admin helper outlived the live view"
