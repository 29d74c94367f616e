"""``deliverytui --group G --record FILE.db``: the live view, driven with Pilot against the real broker, records what it shows."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from deliverytui.recorder.store import RecordingReader
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import EventLog, GroupHeader
from tests.kafka_helpers import commit, create_topic, produce
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka
SIZE = (160, 48)


def recording_app(bootstrap: str, group: str, path: Path) -> DeliveryApp:
    return DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5,
                                    record_path=str(path)))


async def test_live_view_records_the_lines_and_statuses_it_shows(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"liverec-{unique}", f"liverec-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 10, 1: 4})
    commit(bootstrap, group, {(topic, 0): 10, (topic, 1): 1})
    out = tmp_path / "live.db"
    app = recording_app(bootstrap, group, out)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.polls_completed >= 6, what="six polls")
        assert "● REC" in str(app.query_one(GroupHeader).render())
        shown_status = app.update.group_status
        log = [entry.split(" ", 1)[1] for entry in app.query_one(EventLog).entries]
        polls = app.polls_completed
        await pilot.press("q")
    reader = RecordingReader(out)
    frames = list(reader.frames(0, len(reader.instants())))
    reader.close()
    assert len(frames) >= polls and frames[0].snapshot.group_id == group
    assert reader.header.group == group and reader.header.cluster_id
    recorded_lines = [text for frame in frames for text, _ in frame.events]
    assert recorded_lines[: len(log)] == log  # the event log, line for line
    assert frames[polls - 1].group_status == shown_status
    assert set(frames[-1].statuses) == {f"{topic}:0", f"{topic}:1"}
    assert frames[-1].statuses[f"{topic}:0"] == "OK" and frames[-1].statuses[f"{topic}:1"] == "STOP"


async def test_a_full_disk_stops_recording_and_the_view_goes_on(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"livefull-{unique}", f"livefull-{unique}"
    create_topic(bootstrap, topic, 40)
    produce(bootstrap, topic, dict.fromkeys(range(40), 3))
    commit(bootstrap, group, {(topic, p): 1 for p in range(40)})
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", f"rec-{uuid.uuid4().hex[:6]}", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here: test_recorder_store covers SQLITE_FULL through max_bytes")
    try:
        app = recording_app(bootstrap, group, mount / "live.db")
        async with app.run_test(size=SIZE) as pilot:
            events = app.query_one(EventLog)

            def stopped() -> bool:
                return any("recording stopped: disk full writing" in entry for entry in events.entries)

            await wait_until(pilot, stopped, timeout=90, what="the disk-full line")
            polls = app.polls_completed
            await wait_until(pilot, lambda: app.polls_completed >= polls + 3, what="polls after the disk filled")
            assert "● REC" not in str(app.query_one(GroupHeader).render())
            assert sum("recording stopped" in entry for entry in events.entries) == 1
            await pilot.press("q")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
