"""A flood of status changes is one event line, and ``e`` expands it: every partition, by topic.

Journey: attach to an Empty group of 12 partitions left behind (a crashed consumer). Every
partition turns STOP in the same refresh; the log says so in one line marked ``(e: all)``;
``e`` opens the list of those partitions as ranges; Esc closes it and the view goes on
refreshing; ``e`` again still finds it. Real broker, real commits.
"""

from __future__ import annotations

import pytest

from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.folded_events import FoldedEventsScreen
from deliverytui.tui.widgets.panels import EventLog
from tests.kafka_helpers import commit, create_topic, produce
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka


async def test_a_flood_of_stops_is_one_line_and_e_lists_every_partition(bootstrap: str, unique: str) -> None:
    topic, group = f"flood-{unique}", f"flood-{unique}"
    create_topic(bootstrap, topic, 12)
    produce(bootstrap, topic, dict.fromkeys(range(12), 5))
    commit(bootstrap, group, {(topic, p): 2 for p in range(12)})
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
    async with app.run_test(size=(160, 48)) as pilot:
        log = app.query_one(EventLog)
        flood = f"12 partitions OK → STOP: {topic}:0, {topic}:1, {topic}:2 and 9 more"
        await wait_until(pilot, lambda: any(flood in line for line in log.entries), what="one folded STOP line")
        assert not any(line.endswith(f"{topic}:5: OK → STOP") for line in log.entries)  # no line per partition
        assert "(e: all)" in "".join(strip.text for strip in log.lines)  # the log says it can be expanded

        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, FoldedEventsScreen), what="the folded events")
        shown = str(app.screen.query_one("#folded-events").render())
        assert flood in shown
        assert "12 partitions:" in shown and f"{topic}: 0–11" in shown

        polls = app.polls_completed
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FoldedEventsScreen), what="closed")
        await wait_until(pilot, lambda: app.polls_completed > polls + 1, what="refreshing again")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, FoldedEventsScreen), what="open again")
        assert f"{topic}: 0–11" in str(app.screen.query_one("#folded-events").render())
        await pilot.press("e")
        await wait_until(pilot, lambda: not isinstance(app.screen, FoldedEventsScreen), what="e closes it too")
