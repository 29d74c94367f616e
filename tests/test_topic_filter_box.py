"""``/``, Enter, Esc and ``s`` behave the same in the live view and in the replay of what it recorded.

Both apps share one :class:`~deliverytui.tui.widgets.bottom_prompt.TopicFilterBox` and one pair of
actions; this drives both with Pilot: the live view on a real group of the test broker (recording it
with ``--record``), then the replay of that very recording, so a break in either app fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deliverytui.recorder.store import RecordingReader
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.replay_app import ReplayApp
from deliverytui.tui.replay_source import ReplaySource
from deliverytui.tui.widgets.bottom_prompt import BottomPrompt, TopicFilterBox
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.kafka_helpers import seed_topics
from tests.tui_helpers import shown, wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)


def said_by(app) -> list[str]:
    """The toasts the app shows from now on (each still goes to the screen)."""
    said: list[str] = []
    notify = app.notify

    def recording_notify(message, **kwargs):
        said.append(str(message))
        return notify(message, **kwargs)

    app.notify = recording_notify
    return said


async def filter_and_sort(pilot, app, alpha: str, beta: str) -> None:
    """The keys of the partitions table's view, as the operator presses them, and what each must do."""
    base = app.screen
    table = app.query_one(PartitionsTable)
    box = app.query_one("#filter", TopicFilterBox)
    everything = sorted(shown(app))
    assert len(everything) == 3 and not box.has_class("-visible")

    await pilot.press("slash")
    assert box.has_class("-visible") and box.has_focus and box.value == ""
    await pilot.press(*"beta", "enter")
    assert shown(app) == [f"{beta}:0"] and table.topic_filter == "beta"
    assert not box.has_class("-visible") and table.has_focus

    await pilot.press("slash")  # opens with the filter in force
    assert box.value == "beta" and box.has_focus
    await pilot.press("escape")  # clears it, hides the box, and does nothing else (no fleet in the live view)
    assert table.topic_filter == "" and sorted(shown(app)) == everything
    assert box.value == "" and not box.has_class("-visible") and table.has_focus and app.screen is base

    said = said_by(app)
    await pilot.press("s")
    assert said == ["sorted by partition"] and shown(app) == [f"{alpha}:0", f"{alpha}:1", f"{beta}:0"]


async def test_filter_box_and_sort_in_the_live_view_and_its_replay(bootstrap: str, unique: str, tmp_path: Path) -> None:
    alpha, beta, group = f"alpha-{unique}", f"beta-{unique}", f"filterbox-{unique}"
    seed_topics(bootstrap, {alpha: {0: 5, 1: 9}, beta: {0: 20}}, group, {(alpha, 0): 0, (alpha, 1): 0, (beta, 0): 0})
    recording = tmp_path / "filter.db"
    live = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5,
                                    record_path=str(recording)))
    async with live.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(live)) == 3, what="the live rows")
        await filter_and_sort(pilot, live, alpha, beta)
        await pilot.press("q")

    replay = ReplayApp(ReplaySource(RecordingReader(recording)), recording)
    async with replay.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(replay)) == 3, what="the replayed rows")
        await filter_and_sort(pilot, replay, alpha, beta)

        # The replay's other box: a time it cannot read stays open with the error; Esc empties and hides it.
        goto = replay.query_one("#goto", BottomPrompt)
        index = replay.index
        await pilot.press("t", *"nonsense", "enter")
        assert goto.has_class("-visible") and goto.border_title and goto.value == "nonsense"
        await pilot.press("escape")
        assert not goto.has_class("-visible") and goto.value == "" and goto.border_title is None
        assert replay.query_one(PartitionsTable).has_focus and replay.index == index
