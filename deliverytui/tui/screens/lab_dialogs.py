"""The lab's dialogs: where to crash a consumer (``c``) and how to replay its group (``o``).

Both only collect the presenter's choice and call the :class:`~deliverytui.demo.lab.Lab`; the
lab does the work (in a thread worker, so the screen never waits on Kafka).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from deliverytui.demo.semantics import crash_story
from deliverytui.errors import UserFacingError, one_line
from deliverytui.model.reset import RESET_MODES

if TYPE_CHECKING:
    from deliverytui.demo.lab import Lab
    from deliverytui.model.reset import ResetPlan, ResetTarget


def count_text(value: object) -> str:
    """A figure for a table cell: thousands separators, ``-`` when unknown."""
    return "-" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))


class CrashPointScreen(ModalScreen[str | None]):
    """Pick where the selected consumer kills itself on its next message."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    CrashPointScreen { align: center middle; }
    CrashPointScreen > Vertical { width: 90; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    CrashPointScreen OptionList { height: auto; }
    """
    @staticmethod
    def explain(semantic: str, point: str) -> str:
        """What a crash at ``point`` does to ``semantic`` — the chapter's story, in one line."""
        return crash_story(semantic, point)

    def __init__(self, semantic: str, points: tuple[str, ...]) -> None:
        super().__init__()
        self.semantic = semantic
        self.points = points

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Crash {self.semantic} on its next message at…", style="bold"))
            yield OptionList(
                *[Option(Text.assemble((p, "bold"), "  ", (self.explain(self.semantic, p), "dim")), id=p) for p in self.points],
                id="points",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


#: The modes a replay offers, from the one table (the ones that make sense for rewinding a demo group).
REPLAY_MODES = tuple(spec for spec in RESET_MODES.values() if spec.in_replay)


class ReplayScreen(ModalScreen[str | None]):
    """``o``: dry run of a replay for one demo group, then stop → reset → restart."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    ReplayScreen { align: center middle; }
    ReplayScreen > Vertical { width: 100; height: auto; max-height: 90%; border: thick $warning; background: $surface; padding: 0 1; }
    ReplayScreen Horizontal { height: auto; }
    ReplayScreen Select { width: 40; }
    ReplayScreen Input { width: 1fr; }
    ReplayScreen DataTable { height: auto; max-height: 12; }
    ReplayScreen #replay-summary { height: auto; margin-top: 1; }
    ReplayScreen #replay-buttons { margin-top: 1; }
    ReplayScreen Button { margin-right: 2; }
    """

    def __init__(self, semantic: str, lab: Lab) -> None:
        super().__init__()
        self.semantic = semantic
        self.lab = lab
        self.plan: ResetPlan | None = None
        self.target: ResetTarget | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Replay {self.semantic}: dry run, then stop → reset its group → restart", style="bold"))
            with Horizontal():
                yield Select(
                    [(spec.label, spec.mode.value) for spec in REPLAY_MODES], value="to-earliest", allow_blank=False, id="replay-mode"
                )
                yield Input(placeholder="value (offset, -N, or 2026-11-26T10:00:00.000)", id="replay-value")
            yield DataTable(id="replay-plan", cursor_type="none")
            yield Static(Text("Press Dry run.", style="dim"), id="replay-summary")
            with Horizontal(id="replay-buttons"):
                yield Button("Dry run", id="replay-dry-run", variant="primary")
                yield Button("Replay", id="replay-execute", variant="error", disabled=True)
                yield Button("Cancel", id="replay-cancel")

    def on_mount(self) -> None:
        table = self.query_one("#replay-plan", DataTable)
        for label in ("Topic", "Part", "Current", "New", "Redelivered", "Skipped"):
            table.add_column(label)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#replay-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#replay-dry-run")
    def _dry_run(self) -> None:
        self.query_one("#replay-execute", Button).disabled = True
        from deliverytui.kafka.reset_arguments import build_target

        try:
            mode = str(self.query_one("#replay-mode", Select).value)
            self.target = build_target(mode, self.query_one("#replay-value", Input).value.strip())
        except UserFacingError as exc:
            self.query_one("#replay-summary", Static).update(Text(str(exc), style="bold red"))
            return
        self._plan(self.target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="replay")
    def _plan(self, target: ResetTarget) -> None:
        try:
            plan = self.lab.replay(self.semantic, target, dry_run=True)
        except Exception as exc:  # noqa: BLE001 - one line in the dialog
            self.app.call_from_thread(self._error, one_line(exc))
        else:
            self.app.call_from_thread(self._show, plan)

    def _error(self, text: str) -> None:
        self.query_one("#replay-summary", Static).update(Text(text, style="bold red"))

    def _show(self, plan: ResetPlan) -> None:
        self.plan = plan
        table = self.query_one("#replay-plan", DataTable)
        table.clear()
        for row in plan.partitions:
            table.add_row(row.topic, str(row.partition), count_text(row.current_offset), count_text(row.new_offset),
                          count_text(row.redelivered), count_text(row.skipped))
        self.query_one("#replay-summary", Static).update(
            Text(f"{plan.total_redelivered:,} record(s) will be redelivered, {plan.total_skipped:,} skipped. "
                 "Replay stops the consumer, resets its group, restarts it.", style="bold")
        )
        self.query_one("#replay-execute", Button).disabled = not plan.partitions

    @on(Button.Pressed, "#replay-execute")
    def _execute(self) -> None:
        if self.target is None:
            return
        self.query_one("#replay-execute", Button).disabled = True
        self.query_one("#replay-summary", Static).update(Text("stopping the consumer, resetting, restarting…", style="yellow"))
        self._run(self.target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="replay")
    def _run(self, target: ResetTarget) -> None:
        try:
            plan = self.lab.replay(self.semantic, target, dry_run=False)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._error, one_line(exc))
        else:
            self.app.call_from_thread(
                self.dismiss, f"replayed {self.semantic}: {plan.total_redelivered} record(s) will be redelivered"
            )
