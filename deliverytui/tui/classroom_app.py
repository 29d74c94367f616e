"""``deliverytui classroom FILE``: one learner's read-only view of the presenter's lab (classroom mode).

``deliverytui serve demo`` starts one of these per browser visitor. It starts no consumer and talks to no
broker: it renders the frames the presenter's lab publishes (:mod:`deliverytui.demo.classroom`), so thirty
viewers cost thirty small renderers, not thirty labs. It reuses the lab's own screen for the table, the
offending events and the event log, but binds none of the lab's keys: a viewer moves its own cursor (to read
a consumer's lost and duplicated events) and nothing else. The command palette is off, so no key reaches an
action the presenter owns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.widgets import Static

from deliverytui.demo.classroom import ClassroomFrame, ClassroomReader
from deliverytui.model.demo import LabUpdate
from deliverytui.tui.demo_app import EVENT_STYLES, LAB_LEGEND, DemoLabScreen
from deliverytui.tui.screens.help import HelpScreen

VIEWER_KEYS = (
    ("↑ / ↓", "select a consumer: its lost and duplicated events appear under the table (only on your screen)"),
    ("?", "this help"),
    ("", "the presenter drives the lab; nothing you press changes it"),
)
READ_SECONDS = 0.25


class PresenterLab:
    """What the lab screen reads from its lab when it renders: here, the broker named in the last frame."""

    def __init__(self) -> None:
        self.bootstrap = ""


class ClassroomScreen(DemoLabScreen, inherit_bindings=False):
    """The lab screen without the lab's keys (``inherit_bindings=False``: none of the presenter's)."""

    BINDINGS = [Binding("question_mark", "app.help", "Help")]

    def render_update(self, update: LabUpdate) -> None:
        super().render_update(update)
        header = Text()
        header.append("deliverytui classroom ", "bold")
        header.append(f"the presenter's lab on {self.lab.bootstrap}  ")
        header.append("producer ", "dim")
        header.append(f"{update.rate:g} events/s  ", "bold")
        header.append("acknowledged ", "dim")
        header.append(f"{update.produced:,}", "bold")
        header.append(f"\n{update.error}" if update.error else "\nread-only: the presenter drives · ↑/↓ select · ? help",
                      "bold red" if update.error else "dim")  # fmt: skip
        self.query_one("#lab-header", Static).update(header)


class ClassroomApp(App[None]):
    """Reads the presenter's frames every quarter second and renders the newest."""

    ENABLE_COMMAND_PALETTE = False
    TITLE = "deliverytui classroom"

    def __init__(self, frame_file: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reader = ClassroomReader(frame_file)
        self.presenter_lab = PresenterLab()
        self.screen_of_lab = ClassroomScreen(self.presenter_lab)  # type: ignore[arg-type]
        self.clock = lambda: datetime.now(UTC)  # the event log's timestamps
        self.frames = 0
        self.last_event = 0
        self.frame: ClassroomFrame | None = None
        self.stopped = False

    async def on_mount(self) -> None:
        await self.push_screen(self.screen_of_lab)
        self.screen_of_lab.log_event("waiting for the presenter's lab…", "dim")
        self.set_interval(READ_SECONDS, self.read_frame)
        self.read_frame()

    def read_frame(self) -> None:
        frame = self.reader.read_new()
        if frame is None:
            if self.frame is not None and not self.stopped and not self.reader.path.exists():
                self.stopped = True  # the lab closed and withdrew its frame: say so, do not look live
                self.screen_of_lab.log_event("the presenter's lab stopped; this view waits for it to start again", "bold yellow")
            return
        self.stopped = False
        self.frame = frame
        self.frames += 1
        self.presenter_lab.bootstrap = frame.bootstrap
        for number, event in frame.recent_events:
            if number > self.last_event:
                self.screen_of_lab.log_event(event.text, EVENT_STYLES.get(event.kind, ""))
                self.last_event = number
        self.screen_of_lab.render_update(frame.update)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(VIEWER_KEYS, LAB_LEGEND, "The classroom view"))


def run_classroom(frame_file: Path) -> int:
    ClassroomApp(frame_file).run()
    return 0
