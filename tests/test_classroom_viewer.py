"""The classroom viewer (Pilot, no Kafka): it renders the frames a lab publishes, and owns no lab key.

The frames are written by the lab's own publisher (:class:`ClassroomPublisher`) from a ``LabUpdate``;
the viewer must show that update's figures, log each event line once however often it is re-read, and
say when the lab withdraws its frame. The journey test (tests/test_journey_classroom.py) does the same
with a real lab in a real browser.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import DataTable

from deliverytui.demo.classroom import ClassroomPublisher
from deliverytui.model.demo import ConsumerProcessStatus, LabEvent, LabUpdate
from deliverytui.tui.classroom_app import ClassroomApp, ClassroomScreen
from deliverytui.tui.demo_app import DemoLabScreen
from tests.tui_helpers import wait_until


def status(semantic: str, alive: bool) -> ConsumerProcessStatus:
    return ConsumerProcessStatus(
        semantic=semantic, group=f"g-{semantic}", pid=100 if alive else None, alive=alive,
        state="running" if alive else "crashed", processed=7, crashes=0 if alive else 1, armed=None,
        exit_code=None if alive else -9, updated_at=None,
    )


def test_the_viewer_binds_none_of_the_lab_keys() -> None:
    lab_keys = {binding.key for binding in DemoLabScreen.BINDINGS}
    viewer_keys = set(ClassroomScreen._merged_bindings.key_to_bindings)  # what Textual dispatches on the screen
    assert viewer_keys == {"question_mark"} and "k" in lab_keys
    assert ClassroomApp.ENABLE_COMMAND_PALETTE is False


async def test_the_viewer_renders_each_frame_and_logs_each_line_once(tmp_path: Path) -> None:
    frames = tmp_path / "classroom.frame"
    publisher = ClassroomPublisher(frames, "127.0.0.1:9092")
    running = LabUpdate(statuses=(status("at-least-once", True),), audit=None, produced=12, rate=5.0,
                        events=(LabEvent("at-least-once started", "good"),))  # fmt: skip
    publisher.publish(running)
    app = ClassroomApp(frames)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one("#lab-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, what="the frame's row")
        assert str(table.get_cell("at-least-once", "state")) == "running"
        publisher.publish(replace(running, statuses=(status("at-least-once", False),), events=(LabEvent("at-least-once died (signal 9)", "crash"),)))
        await wait_until(pilot, lambda: str(table.get_cell("at-least-once", "state")) == "DEAD", what="DEAD")
        publisher.publish(replace(running, events=()))  # no new line: the recent ones are re-sent, not re-logged
        await wait_until(pilot, lambda: app.frames == 3, what="third frame")
        texts = app.screen.query_one("#lab-events").entries  # type: ignore[attr-defined]
        assert sum("died (signal 9)" in text for text in texts) == 1 and sum("started" in text for text in texts) == 1
        publisher.withdraw()
        await wait_until(pilot, lambda: app.stopped, what="the lab's stop noticed")
        assert isinstance(app.screen, ClassroomScreen)
