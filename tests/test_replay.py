"""``deliverytui replay``: a recording of real snapshots shows, at any frame, what the live view showed then.

The recording is written here with the recorder's RecordingWriter from real polls: the live view's own
fetcher on the test broker, while the test commits, rewinds and catches up, and one poll of an unreachable
cluster (a real failure). The replay must give back the live view's figures at every frame, whether it
steps or jumps, and must never open a Kafka client.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import confluent_kafka
import pytest

from deliverytui.dedup.opener import open_store
from deliverytui.errors import ClusterUnreachableError, ExitCode
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.model.dedup import DedupCounters
from deliverytui.model.recording import RECORDING_FORMAT_VERSION, RecordedFrame, RecordingHeader
from deliverytui.recorder.store import RecordingReader, RecordingWriter
from deliverytui.tui.fetch import GroupFetcher, ViewUpdate
from deliverytui.tui.replay_app import ReplayApp
from deliverytui.tui.replay_source import ReplaySource
from deliverytui.tui.rows import COLUMN_KEYS
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import EventLog
from deliverytui.tui.widgets.time_bar import TimeBar
from tests.helpers import run_cli
from tests.kafka_helpers import commit, produce, seed_topics
from tests.process_tree import descendants
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka

STATUS = COLUMN_KEYS.index("status")


@dataclass(frozen=True)
class Recorded:
    path: Path
    group: str
    topic: str
    live: list[ViewUpdate | None]  # what the live fetcher produced at each frame (None: the poll failed)
    rewind_frame: int
    outage_frame: int


def frame_of(index: int, update: ViewUpdate, dedup: DedupCounters | None) -> RecordedFrame:
    return RecordedFrame(
        index, update.snapshot.taken_at.timestamp(), update.snapshot, None, update.group_status,
        {key: row.cells[STATUS][0] for key, row in update.rows.items()}, update.events, dedup, None,
    )


@pytest.fixture(scope="module")
def recorded(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Commits moving forward, an outage, a rewind (REWIND), catching up: 16 real polls, recorded, with the
    counters of a real SQLite dedup store (a first delivery every poll, a redelivery caught every third)."""
    name = f"replay-{uuid.uuid4().hex[:8]}"
    topic, group = f"{name}-t", f"{name}-g"
    seed_topics(bootstrap, {topic: {0: 40, 1: 40}}, group, {(topic, 0): 2, (topic, 1): 2})
    config = ViewerConfig(bootstrap=bootstrap, group=group)
    inspector = GroupInspector(bootstrap)
    fetcher = GroupFetcher(config, group, threading.Event(), inspector=inspector, read_positions=False)
    path = tmp_path_factory.mktemp("replay") / "incident.db"
    header = RecordingHeader(RECORDING_FORMAT_VERSION, group, bootstrap, None, 0.0, config.refresh_seconds)
    writer = RecordingWriter(path, header)
    live: list[ViewUpdate | None] = []
    loop = asyncio.new_event_loop()
    store = open_store(f"sqlite:///{path.parent / 'dedup.db'}", group=group)
    loop.run_until_complete(store.connect())
    offsets = [6, 10, 14, 18, None, 22, 26, 30, 8, 16, 24, 32, 40, 40, 40, 40]  # None: the outage; 30 → 8: a rewind
    try:
        for index, offset in enumerate(offsets):
            if offset is None:
                unreachable = GroupInspector("127.0.0.1:1", request_timeout=1.0)
                with pytest.raises(ClusterUnreachableError) as failure:
                    unreachable.snapshot(group)
                at = live[-1].snapshot.taken_at.timestamp() + 0.5
                writer.write(RecordedFrame(index, at, None, None, None, {}, ((f"connection lost: {failure.value}", "bold red"),),
                                           None, str(failure.value)))
                live.append(None)
                continue
            commit(bootstrap, group, {(topic, 0): offset, (topic, 1): min(offset + 1, 40)})
            if index == 10:
                produce(bootstrap, topic, {0: 5})
            update = fetcher.fetch()
            loop.run_until_complete(store.mark_if_new(f"event-{index}"))
            if index % 3 == 0:
                loop.run_until_complete(store.mark_if_new(f"event-{index}"))  # a redelivery: a hit
            writer.write(frame_of(index, update, loop.run_until_complete(store.read_counters())))
            live.append(update)
    finally:
        writer.close()
        loop.run_until_complete(store.close())
        loop.close()
    return Recorded(path, group, topic, live, rewind_frame=offsets.index(8), outage_frame=offsets.index(None))


def figures(update: ViewUpdate | None) -> tuple:
    """What the screen shows of an update (all but the positions note, which a replay words differently)."""
    if update is None:
        return ()
    return (
        update.snapshot, update.rows, update.total_lag, update.events, update.group_status, update.group_lag_series,
        dict(update.partition_lag_series), dict(update.lag_partitions), update.group_drain, update.selected_drain,
        update.replication_visible, update.replication,
    )


def test_every_frame_replays_to_what_the_live_view_showed(recorded: Recorded) -> None:
    source = ReplaySource(RecordingReader(recorded.path))
    try:
        assert len(source) == len(recorded.live)
        last_good = None
        for index, live in enumerate(recorded.live):
            view = source.view_at(index)
            last_good = live or last_good
            assert figures(view.update) == figures(last_good), index
            assert view.stale == (live is None)
            if live is not None:  # the statuses recorded live are the ones recomputed from the recording
                recomputed = source.update_at(index)
                assert {k: r.cells[STATUS][0] for k, r in recomputed.rows.items()} == dict(view.frame.statuses)
                assert recomputed.group_status == view.frame.group_status
        rewound = source.view_at(recorded.rewind_frame).update
        assert rewound.rows[f"{recorded.topic}:0"].cells[STATUS][0] == "REWIND"
        assert any("reset seen on" in text and "30 → 8" in text for text, _ in rewound.events)
    finally:
        source.close()


def test_a_jump_from_a_kept_copy_equals_deriving_from_frame_zero(recorded: Recorded) -> None:
    """Any order of jumps, with a copy of the pipeline every 3 frames: the same updates, from few frames each."""
    sequential = ReplaySource(RecordingReader(recorded.path), checkpoint_every=10**6)
    jumping = ReplaySource(RecordingReader(recorded.path), checkpoint_every=3)
    try:
        count = len(sequential)
        selected = f"{recorded.topic}:1"
        from_zero = [sequential.update_at(index, selected) for index in range(count)]
        assert jumping.prepare(threading.Event()) == count  # the copies, made by the walk the app runs in a thread
        assert jumping.checkpoints == len(range(0, count, 3)) and jumping.derived_frames == 0
        order = list(range(count)) * 2
        random.Random(16).shuffle(order)
        for index in order:
            before = jumping.derived_frames
            assert figures(jumping.update_at(index, selected)) == figures(from_zero[index]), index
            assert jumping.derived_frames - before <= 3  # from the nearest copy, never from frame 0
    finally:
        sequential.close()
        jumping.close()


def kafka_handles() -> list[object]:
    kinds = (confluent_kafka.Consumer, confluent_kafka.Producer, confluent_kafka.admin.AdminClient)
    return [o for o in gc.get_objects() if isinstance(o, kinds)]


async def test_the_replay_screen_steps_jumps_plays_and_writes_nothing(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def refuse(name: str):
        def constructor(*_args, **_kwargs):
            opened.append(name)
            raise AssertionError(f"a replay opened {name}")
        return constructor

    import deliverytui.kafka.isolated as isolated
    import deliverytui.kafka.probe_positions as probe_positions
    import deliverytui.kafka.record_time as record_time

    monkeypatch.setattr(isolated, "IsolatedGroupInspector", refuse("IsolatedGroupInspector"))
    monkeypatch.setattr(probe_positions, "PositionCollector", refuse("PositionCollector"))
    monkeypatch.setattr(record_time, "RecordTimestampReader", refuse("RecordTimestampReader"))
    handles_before = kafka_handles()  # held: their ids stay theirs
    children_before = set(descendants(os.getpid()))

    source = ReplaySource(RecordingReader(recorded.path))
    app = ReplayApp(source, recorded.path)
    count = len(recorded.live)
    async with app.run_test(size=(160, 45)) as pilot:
        bar = app.query_one(TimeBar)
        header = str(app.query_one("#header").render())
        assert "REPLAY of incident.db" in header and recorded.group in header
        assert f"frame 1/{count}" in bar.describe() and "paused" in bar.describe()
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.index == 2 and f"frame 3/{count}" in bar.describe()
        await pilot.press("left_square_bracket")
        assert app.index == 1

        # The outage: the banner says what failed, the header says STALE, the bar marks the frame.
        for _ in range(recorded.outage_frame - app.index):
            await pilot.press("right_square_bracket")
        assert app.index == recorded.outage_frame and "poll failed" in bar.describe()
        assert "STALE" in str(app.query_one("#header").render())
        assert "recorded:" in str(app.query_one("#banner").render())
        assert recorded.outage_frame in bar.outages and "✕" in str(bar.render())

        # t: a bad time is one line in the input and nothing else moves; a good one jumps there.
        await pilot.press("t")
        box = app.query_one("#goto")
        box.value = "25:99"
        await pilot.press("enter")
        assert "no time of day" in str(box.border_title) and app.index == recorded.outage_frame
        await pilot.press("t")
        box.value = "-1h"  # before the recording began: its first frame
        await pilot.press("enter")
        assert app.index == 0 and box.border_title is None
        await pilot.press("t")
        box.value = datetime.fromtimestamp(source.instants[recorded.rewind_frame]).astimezone().isoformat()
        await pilot.press("enter")
        assert app.index == recorded.rewind_frame
        assert cell(app, f"{recorded.topic}:0", "status") == "REWIND"
        assert any("reset seen on" in line and "30 → 8" in line for line in app.query_one(EventLog).entries)
        assert "status REWIND" in str(app.query_one("#header").render())

        # The write keys and the live view's Kafka keys do not exist here.
        screens = len(app.screen_stack)
        await pilot.press("r", "x", "i", "k", "g", "G", "p", "o", "c")
        assert app.index == recorded.rewind_frame and len(app.screen_stack) == screens
        assert not {"r", "x", "i", "k", "g", "G"} & {b.key for b in app.BINDINGS}

        await pilot.press("end")
        assert app.index == count - 1
        counters = source.reader.frame(count - 1).dedup
        dedup = str(app.query_one("#dedup").render())
        assert f"hits {counters.hits:,}" in dedup and f"misses {counters.misses:,}" in dedup
        good = [i for i, update in enumerate(recorded.live) if update is not None]
        assert (counters.hits, counters.misses) == (len([i for i in good if i % 3 == 0]), len(good))
        assert "hits/s" in dedup  # rates over the recorded minute before that instant
        assert cell(app, f"{recorded.topic}:0", "status") == recorded.live[-1].rows[f"{recorded.topic}:0"].cells[STATUS][0]
        await pilot.press("home")
        assert app.index == 0 and len(app.query_one(EventLog).entries) == len(recorded.live[0].events)
        await pilot.press("plus", "plus", "space")
        # Playing at ×4, or (a short recording on a busy machine) already played through from frame 0:
        # only play moves the index here, no step key was pressed. CI caught it at 'paused ×4 frame 16/16'.
        assert "×4" in bar.describe() and (app.playing or app.index == count - 1), bar.describe()
        await wait_until(pilot, lambda: app.index == count - 1 and not app.playing, timeout=30, what="played to the end")
        assert "paused" in bar.describe()
        # The event log holds every recorded line, in order, once.
        expected = [text for update in recorded.live for text, _ in (update.events if update else ())]
        shown = [line.split(" ", 1)[1] for line in app.query_one(EventLog).entries]
        assert [line for line in shown if not line.startswith("connection lost")] == expected
    assert opened == []
    assert not [h for h in kafka_handles() if not any(h is old for old in handles_before)]
    assert set(descendants(os.getpid())) <= children_before


def test_replay_of_a_missing_file_or_not_a_recording_is_one_line(tmp_path: Path) -> None:
    missing = run_cli("replay", str(tmp_path / "nope.db"))
    notes = tmp_path / "notes.db"
    notes.write_text("not a recording\n" * 100)
    not_recording = run_cli("replay", str(notes))
    for result in (missing, not_recording):
        assert result.returncode == ExitCode.RECORDING, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("deliverytui: error:"), result.stderr
        assert "Traceback" not in result.stderr


async def test_a_recording_without_frames_opens_and_says_so(tmp_path: Path) -> None:
    """A recorder that had not written its first frame yet: the screen says so and every key is harmless."""
    path = tmp_path / "empty.db"
    RecordingWriter(path, RecordingHeader(RECORDING_FORMAT_VERSION, "g\x1b[2Jroup", "127.0.0.1:1", None, 0.0, 2.0)).close()
    app = ReplayApp(ReplaySource(RecordingReader(path)), path)
    async with app.run_test(size=(160, 45)) as pilot:
        assert "holds no frame yet" in str(app.query_one("#banner").render())
        await pilot.press("right_square_bracket", "left_square_bracket", "end", "home", "space", "t", "enter", "escape")
        assert app.index == 0 and app.view is None and not app.playing
        header = str(app.query_one("#header").render())
        assert "REPLAY of empty.db" in header and "\x1b" not in header and "empty recording" in app.query_one(TimeBar).describe()
