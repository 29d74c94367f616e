"""Offset reset and offset delete: a dry run first, then an explicit confirmation.

Only reachable with ``--allow-writes``. The plan (a dry run: per partition current → new
offset, records redelivered or skipped) is computed in a thread worker and shown; the
Execute button stays disabled until a plan exists and the group has no active members
(Kafka's own rule). The library checks the group again right before writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from deliverytui.errors import UserFacingError, one_line
from deliverytui.model.reset import (
    RESET_MODES,
    OffsetDeletePlan,
    PartitionSelection,
    ResetMode,
    ResetPlan,
    ResetTarget,
)
from deliverytui.model.text import shown_name

#: The modes the screen offers (every mode but --from-file), from the one table.
SCREEN_MODES = tuple(spec for spec in RESET_MODES.values() if spec.on_screens)


def _build_target(mode: str, value: str) -> ResetTarget:
    from deliverytui.kafka.reset_arguments import build_target

    return build_target(mode, value.strip())


def build_selection(text: str) -> PartitionSelection:
    from deliverytui.kafka.reset_arguments import parse_topic_args

    parts = text.split()
    return PartitionSelection(all_topics=True) if not parts else parse_topic_args(parts)


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


class _WriteScreen(ModalScreen[str | None]):
    """Shared frame: plan in a worker, show it, execute on confirmation. Dismisses with a summary."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    _WriteScreen, ResetOffsetsScreen, DeleteOffsetsScreen { align: center middle; }
    #write-box { width: 110; height: auto; max-height: 90%; border: thick $warning; background: $surface; padding: 0 1; }
    #write-box Horizontal { height: auto; }
    #write-box Input { width: 1fr; }
    #write-box Select { width: 48; }
    #plan-table { height: auto; max-height: 16; }
    #plan-summary { height: auto; margin: 1 0 0 0; }
    #buttons { height: auto; margin-top: 1; }
    #buttons Button { margin-right: 2; }
    """

    def __init__(self, group: str, make_resetter: Callable[[], object], allow_writes: bool) -> None:
        super().__init__()
        self.group = group
        self.make_resetter = make_resetter
        self.allow_writes = allow_writes
        self.plan: ResetPlan | OffsetDeletePlan | None = None
        self._resetter = None

    def resetter(self):
        if self._resetter is None:
            self._resetter = self.make_resetter()
        return self._resetter

    def action_cancel(self) -> None:
        self.dismiss(None)

    @staticmethod
    def _plan_and_buttons(hint: str) -> ComposeResult:
        """The plan table, its summary (``hint`` until the first dry run), and Dry run / Execute / Cancel."""
        yield DataTable(id="plan-table", cursor_type="none")
        yield Static(Text(hint, style="dim"), id="plan-summary")
        with Horizontal(id="buttons"):
            yield Button("Dry run", id="dry-run", variant="primary")
            yield Button("Execute", id="execute", variant="error", disabled=True)
            yield Button("Cancel", id="cancel")

    def _show_error(self, text: str) -> None:
        self.query_one("#plan-summary", Static).update(Text(text, style="bold red"))
        self.query_one("#execute", Button).disabled = True

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _run_guarded(self, work: Callable[[], object], on_success: Callable[[object], None]) -> None:
        """Run ``work`` (in the calling worker thread); show its error as one line, else hand its result over."""
        try:
            result = work()
        except UserFacingError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog, never a crash
            self.app.call_from_thread(self._show_error, f"{type(exc).__name__}: {one_line(str(exc))}")
        else:
            self.app.call_from_thread(on_success, result)


class ResetOffsetsScreen(_WriteScreen):
    """``r``: choose a mode and partitions, see the dry run, then execute.

    ``preset`` (mode, value, topics) fills the dialog in and runs the dry run at once: ``k`` in the live
    view opens it as ``("shift-by", "1", "T:P")``, skipping the one record a partition is stuck on.
    """

    def __init__(
        self, group: str, make_resetter: Callable[[], object], allow_writes: bool, *, preset: tuple[str, str, str] | None = None
    ) -> None:
        super().__init__(group, make_resetter, allow_writes)
        self.preset = preset
        self._planned_mode: str | None = None

    def compose(self) -> ComposeResult:
        mode, value, topics = self.preset or ("to-earliest", "", "")
        with Vertical(id="write-box"):
            yield Label(Text(f"Reset offsets of group {shown_name(self.group)} — dry run first", style="bold"))
            with Horizontal():
                yield Select(
                    [(spec.label, spec.mode.value) for spec in SCREEN_MODES], value=mode, allow_blank=False, id="mode"
                )
                spec = RESET_MODES[ResetMode(mode)]
                yield Input(value, placeholder=spec.example or "(no value needed)", id="value", disabled=not spec.takes_value)
            yield Input(topics, placeholder="topics: empty = every partition the group has committed; or T  T:0,2", id="topics")
            yield from self._plan_and_buttons("Press Dry run to see what would change.")

    def on_mount(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        for label in ("Topic", "Part", "Current", "New", "Redelivered", "Skipped", "Log start", "Log end"):
            table.add_column(label, key=label.lower())
        if self.preset is not None:
            self._dry_run()

    @on(Select.Changed, "#mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        spec = RESET_MODES[ResetMode(str(event.value))]
        box = self.query_one("#value", Input)
        box.disabled = not spec.takes_value
        box.placeholder = spec.example or "(no value needed)"
        if str(event.value) == self._planned_mode:
            return  # the Select announcing its initial value after a preset's dry run began: the plan stands
        self.plan = None
        self.query_one("#execute", Button).disabled = True

    @on(Button.Pressed, "#dry-run")
    def _dry_run(self) -> None:
        self.query_one("#execute", Button).disabled = True
        self.query_one("#plan-summary", Static).update(Text("planning…", style="dim"))
        mode = str(self.query_one("#mode", Select).value)
        self._planned_mode = mode
        self._plan(mode, self.query_one("#value", Input).value, self.query_one("#topics", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def _plan(self, mode: str, value: str, topics: str) -> None:
        self._run_guarded(
            lambda: self.resetter().plan_reset(self.group, build_selection(topics), _build_target(mode, value)),
            self._show_plan,
        )

    def _show_plan(self, plan: ResetPlan) -> None:
        self.plan = plan
        table = self.query_one("#plan-table", DataTable)
        table.clear()
        for row in plan.partitions:
            table.add_row(
                row.topic, str(row.partition), _num(row.current_offset),
                Text(_num(row.new_offset), style="bold"),
                Text(_num(row.redelivered), style="yellow" if row.redelivered else ""),
                Text(_num(row.skipped), style="red" if row.skipped else ""),
                _num(row.log_start_offset), _num(row.log_end_offset),
            )
        summary = Text()
        summary.append(f"{len(plan.partitions)} partition(s): ", "bold")
        summary.append(f"{plan.total_redelivered:,} record(s) will be redelivered, ", "yellow")
        summary.append(f"{plan.total_skipped:,} skipped.", "red")
        for warning in plan.warnings:
            summary.append(f"\n{warning}", "yellow")
        blocked = plan.blocked_reason
        if blocked:
            summary.append(f"\n{blocked}", "bold red")
        else:
            summary.append("\nDry run only: nothing has changed. Execute writes these offsets.", "dim")
            if not self.allow_writes:
                summary.append("\nRead-only view: start deliverytui with --allow-writes to execute.", "yellow")
        self.query_one("#plan-summary", Static).update(summary)
        self.query_one("#execute", Button).disabled = bool(blocked) or not plan.partitions or not self.allow_writes

    @on(Button.Pressed, "#execute")
    def _execute(self) -> None:
        if self.plan is None:
            return
        self.query_one("#execute", Button).disabled = True
        self._run_execute(self.plan)

    @work(thread=True, exclusive=True, exit_on_error=False, group="execute")
    def _run_execute(self, plan: ResetPlan) -> None:
        summary = (
            f"offsets of {shown_name(plan.group_id)} reset on {len(plan.partitions)} partition(s): "
            f"{plan.total_redelivered} record(s) to be redelivered, {plan.total_skipped} skipped"
        )
        self._run_guarded(
            lambda: self.resetter().execute_reset(plan, allow_writes=self.allow_writes), lambda _: self.dismiss(summary)
        )


class DeleteOffsetsScreen(_WriteScreen):
    """``x``: drop a group's committed offsets for a topic (a stale group), dry run first."""

    def compose(self) -> ComposeResult:
        with Vertical(id="write-box"):
            yield Label(Text(f"Delete committed offsets of group {shown_name(self.group)} — dry run first", style="bold"))
            yield Input(placeholder="topic (required): T  or  T:0,2", id="topics")
            yield from self._plan_and_buttons("Name a topic, then press Dry run.")

    def on_mount(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        for label in ("Topic", "Part", "Committed offset to delete"):
            table.add_column(label)

    @on(Button.Pressed, "#dry-run")
    def _dry_run(self) -> None:
        self.query_one("#execute", Button).disabled = True
        self._plan(self.query_one("#topics", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def _plan(self, topics: str) -> None:
        from deliverytui.kafka.reset_arguments import parse_topic_args

        def plan() -> OffsetDeletePlan:
            if not topics.split():
                raise UserFacingError("name the topic whose committed offsets should be deleted")
            return self.resetter().plan_offset_delete(self.group, parse_topic_args(topics.split()))

        self._run_guarded(plan, self._show_plan)

    def _show_plan(self, plan: OffsetDeletePlan) -> None:
        self.plan = plan
        table = self.query_one("#plan-table", DataTable)
        table.clear()
        for tp, offset in plan.partitions:
            table.add_row(tp.topic, str(tp.partition), _num(offset))
        summary = Text(f"{len(plan.partitions)} committed offset(s) would be deleted.", style="bold")
        for warning in plan.warnings:
            summary.append(f"\n{warning}", "yellow")
        blocked = plan.blocked_reason
        summary.append(f"\n{blocked}" if blocked else "\nDry run only: nothing has changed.", "bold red" if blocked else "dim")
        self.query_one("#plan-summary", Static).update(summary)
        self.query_one("#execute", Button).disabled = bool(blocked) or not plan.partitions or not self.allow_writes

    @on(Button.Pressed, "#execute")
    def _execute(self) -> None:
        if self.plan is not None:
            self.query_one("#execute", Button).disabled = True
            self._run_execute(self.plan)

    @work(thread=True, exclusive=True, exit_on_error=False, group="execute")
    def _run_execute(self, plan: OffsetDeletePlan) -> None:
        summary = f"deleted {len(plan.partitions)} committed offset(s) of {shown_name(plan.group_id)} ({', '.join(plan.topics)})"
        self._run_guarded(
            lambda: self.resetter().execute_offset_delete(plan, allow_writes=self.allow_writes),
            lambda _: self.dismiss(summary),
        )


def resetter_factory(bootstrap: str, client_config: Mapping[str, str], timeout: float) -> Callable[[], object]:
    def make():
        from deliverytui.kafka.offset_reset import OffsetResetter

        return OffsetResetter(bootstrap, client_config, request_timeout=timeout)

    return make
