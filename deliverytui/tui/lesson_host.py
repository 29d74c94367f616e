"""``deliverytui demo --lesson``: the lab screen with the guided lesson in a side panel.

Why a subclass of the lab screen: the lesson adds a panel, three keys and one hook on each lab
update, and nothing else; the lab's own keys keep working, so the presenter can do a step by hand
(``c``, ``R``, ``o``, ``b``) or let Enter do it. The steps, what ends them and how their outcome
is worded live in :mod:`deliverytui.demo.lesson` (no Textual); this module only lays them out.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from deliverytui.demo.lab import Lab
from deliverytui.demo.lesson import DONE, Lesson, LessonView
from deliverytui.model.demo import LabUpdate
from deliverytui.tui.demo_app import LAB_KEYS, DemoApp, DemoLabScreen, demo_app
from deliverytui.tui.screens.lab_dialogs import ReplayScreen

LESSON_KEYS = (
    ("n", "lesson: the next step"),
    ("N", "lesson: the previous step (b is the lab's commit window)"),
    ("enter", "lesson: do the step's next key for you (arm the crash, restart, open the replay, widen the window)"),
)


class LessonPanel(Static):
    """The current step: its claim, what to press, what to watch for, and the outcome in the lab's numbers."""

    DEFAULT_CSS = "LessonPanel { dock: right; width: 46; height: 100%; padding: 0 1; border-left: solid $primary; }"

    def show(self, view: LessonView) -> None:
        text = Text()
        text.append(f"Lesson {view.number}/{view.total}\n", "bold")
        text.append(f"{view.title}\n", "bold cyan")
        text.append(f"on {view.semantic}\n\n", "dim")
        text.append(f"{view.claim}\n\n")
        text.append("watch for  ", "cyan")
        text.append(f"{view.watch}\n\n")
        text.append("now  ", "cyan")
        text.append(f"{view.now}\n", "bold yellow" if view.phase != DONE else "bold green")
        if view.outcome:
            text.append("\noutcome  ", "bold green")
            text.append(f"{view.outcome}\n")
        text.append("\nn next · N back · Enter do it", "dim")
        self.update(text)


class LessonLabScreen(DemoLabScreen):
    """The lab screen with :class:`LessonPanel`; ``n``/``N`` move between steps, Enter does the next key."""

    BINDINGS = [
        Binding("n", "lesson_move(1)", "Next step"),
        Binding("N", "lesson_move(-1)", "Step back"),
        Binding("enter", "lesson_do", "Do it"),
    ]
    KEYS = (*LESSON_KEYS, *LAB_KEYS)

    def __init__(self, lab: Lab, lesson: Lesson | None = None) -> None:
        super().__init__(lab)
        self.lesson = lesson or Lesson(semantics=frozenset(lab.settings.semantics))
        self.replay_dialog: ReplayScreen | None = None

    def compose(self) -> ComposeResult:
        yield LessonPanel(id="lesson")
        yield from super().compose()

    def on_mount(self) -> None:  # Textual runs the lab screen's own on_mount as well
        self._show_lesson()

    def render_update(self, update: LabUpdate) -> None:
        super().render_update(update)
        fresh = self.lesson.progress.baseline is None
        if self.lesson.observe(update) and self.lesson.progress.phase == DONE:
            self.log_event(f"lesson {self.lesson.index + 1}: {self.lesson.progress.outcome}", "bold green")
        if fresh and self.lesson.progress.baseline is not None:
            self._select(self.lesson.step.semantic)  # the step's consumer under the cursor, for c, R, o, b by hand
        self._show_lesson()

    def _show_lesson(self) -> None:
        for panel in self.query(LessonPanel):  # none before compose
            panel.show(self.lesson.view())

    def action_lesson_move(self, by: int) -> None:
        if self.lesson.move(by):
            self._select(self.lesson.step.semantic)
            if self.update is not None:
                self.lesson.observe(self.update)
        self._show_lesson()

    @on(DataTable.RowSelected, "#lab-table")
    def _on_enter_in_table(self) -> None:
        """Enter on the table (it has focus) is the lesson's Enter too."""
        self.action_lesson_do()

    def action_lesson_do(self) -> None:
        action = self.lesson.next_action()
        if action is None:
            self.notify("nothing to press now: wait for the lab, or n for the next step", timeout=3)
            return
        name, semantic, *args = action
        self._select(semantic)
        if name == "replay":
            self.action_replay()
            if isinstance(self.app.screen, ReplayScreen):
                self.replay_dialog = self.app.screen
            return
        self.app.run_lab_action(name, semantic, *args)  # type: ignore[attr-defined]

    def action_replay(self) -> None:
        super().action_replay()
        if isinstance(self.app.screen, ReplayScreen):
            self.replay_dialog = self.app.screen

    def _replayed(self, summary: str | None) -> None:
        super()._replayed(summary)
        dialog, self.replay_dialog = self.replay_dialog, None
        if not summary or ":" not in summary:
            return
        head, _, tail = summary.partition(":")
        semantic = head.removeprefix("replayed ").strip()
        applied = int(tail.split()[0])
        dry = dialog.plan.total_redelivered if dialog is not None and dialog.plan is not None else None
        self.lesson.note_replay(semantic, dry, applied)
        self._show_lesson()

    def _select(self, semantic: str) -> None:
        table = self.query_one("#lab-table", DataTable)
        if semantic in table.rows:
            table.move_cursor(row=list(table.rows).index(semantic))


def lesson_app(lab: Lab, **kwargs: Any) -> DemoApp:
    """``demo --lesson``: the lab app whose lab screen carries the lesson."""
    return demo_app(lab, lab_screen=LessonLabScreen(lab), **kwargs)
