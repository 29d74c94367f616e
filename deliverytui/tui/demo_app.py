"""``deliverytui demo``: the teaching lab on top of the live view.

The lab screen lists the six demo consumers (real OS processes, one group each) with their
live audit: events produced, processed, unique and duplicate effects, lost events, dedup hits,
crashes. The presenter kills one (``k``), arms a crash at a named point (``c``), restarts it
(``R``), replays its group from an offset (``o``), changes the producer's rate (``+``/``-``),
and opens the live group view of a consumer (``w``) to see position versus committed for it.
``i`` starts a second instance of the selected consumer in its group (a rebalance) and, pressed
again, SIGKILLs it; the audit then explains the redeliveries that caused (``why`` lines).
Everything the lab shows comes from the supervisor (process table), the effects ledger and
the cluster, read in thread workers; the screen only renders.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from deliverytui.errors import UserFacingError
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.screens.reset import build_target
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import EventLog

LAB_COLUMNS = (
    ("semantic", "Consumer"), ("group", "Group"), ("state", "State"), ("processed", "Processed"),
    ("effects", "Effects"), ("unique", "Unique"), ("duplicates", "Duplicates"), ("lost", "Lost"),
    ("unexpected", "Unexpected"), ("dedup_hits", "Dedup hits"), ("crashes", "Crashes"),
)


@dataclass(frozen=True)
class LabUpdate:
    statuses: tuple[Any, ...]
    audit: Any | None
    produced: int
    rate: float
    error: str | None = None


def _num(value: object) -> str:
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
        if point == "after-commit":
            if semantic == "at-most-once":
                return "offset committed, effect not done — the LOSS story"
            return "effect done and committed — harmless: nothing lost, nothing repeated"
        if point == "after-effect":
            if semantic == "at-most-once":
                return "committed first, effect done — harmless"
            if semantic == "at-least-once":
                return "effect done, offset not committed — the DUPLICATE story"
            return "effect done, not committed — redelivered, and the dedup store catches it"
        if point == "after-claim":
            return "key claimed, effect not done — the lease expires and the key is retaken: nothing lost"
        if point == "mid-transaction":
            return "output produced, transaction not committed — aborted: read_committed never sees it"
        return ""

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


REPLAY_MODES = (
    ("to earliest", "to-earliest", False),
    ("to offset N", "to-offset", True),
    ("shift by N (use a negative N)", "shift-by", True),
    ("to date-time (ISO 8601)", "to-datetime", True),
)


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

    def __init__(self, semantic: str, supervisor: Any) -> None:
        super().__init__()
        self.semantic = semantic
        self.supervisor = supervisor
        self.plan = None
        self.target = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Replay {self.semantic}: dry run, then stop → reset its group → restart", style="bold"))
            with Horizontal():
                yield Select([(label, key) for label, key, _ in REPLAY_MODES], value="to-earliest", allow_blank=False, id="replay-mode")
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
        try:
            self.target = build_target(str(self.query_one("#replay-mode", Select).value), self.query_one("#replay-value", Input).value)
        except UserFacingError as exc:
            self.query_one("#replay-summary", Static).update(Text(str(exc), style="bold red"))
            return
        self._plan(self.target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="replay")
    def _plan(self, target) -> None:
        try:
            plan = self.supervisor.replay(self.semantic, target, dry_run=True)
        except Exception as exc:  # noqa: BLE001 - one line in the dialog
            self.app.call_from_thread(self._error, " ".join(str(exc).split()))
        else:
            self.app.call_from_thread(self._show, plan)

    def _error(self, text: str) -> None:
        self.query_one("#replay-summary", Static).update(Text(text, style="bold red"))

    def _show(self, plan) -> None:
        self.plan = plan
        table = self.query_one("#replay-plan", DataTable)
        table.clear()
        for row in plan.partitions:
            table.add_row(row.topic, str(row.partition), _num(row.current_offset), _num(row.new_offset),
                          _num(row.redelivered), _num(row.skipped))
        self.query_one("#replay-summary", Static).update(
            Text(f"{plan.total_redelivered:,} record(s) will be redelivered, {plan.total_skipped:,} skipped. "
                 "Replay stops the consumer, resets its group, restarts it.", style="bold")
        )
        self.query_one("#replay-execute", Button).disabled = not plan.partitions

    @on(Button.Pressed, "#replay-execute")
    def _execute(self) -> None:
        self.query_one("#replay-execute", Button).disabled = True
        self.query_one("#replay-summary", Static).update(Text("stopping the consumer, resetting, restarting…", style="yellow"))
        self._run(self.target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="replay")
    def _run(self, target) -> None:
        try:
            plan = self.supervisor.replay(self.semantic, target, dry_run=False)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._error, " ".join(str(exc).split()))
        else:
            self.app.call_from_thread(
                self.dismiss, f"replayed {self.semantic}: {plan.total_redelivered} record(s) will be redelivered"
            )


class DemoLabScreen(Screen[None]):
    """The six demo consumers and their live audit."""

    BINDINGS = [
        Binding("k", "kill", "Kill"),
        Binding("c", "arm_crash", "Crash at…"),
        Binding("R", "restart", "Restart"),
        Binding("o", "replay", "Replay"),
        Binding("plus", "faster", "+rate"),
        Binding("minus", "slower", "−rate"),
        Binding("w", "watch", "Watch group"),
        Binding("i", "instance", "2nd instance", show=False),  # off the footer: the snapshot's footer stays as it is
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]
    DEFAULT_CSS = """
    DemoLabScreen #lab-header { height: 2; padding: 0 1; background: $panel; }
    DemoLabScreen #lab-table { height: auto; max-height: 12; }
    DemoLabScreen #offending { height: 1fr; padding: 0 1; border-top: solid $primary; }
    DemoLabScreen EventLog { height: 10; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="lab-header")
        yield DataTable(id="lab-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text("select a consumer to see the events it lost or duplicated", style="dim"), id="offending")
        yield EventLog(id="lab-events")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#lab-table", DataTable)
        for key, label in LAB_COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#lab-events", EventLog).clock = self.app.clock
        if not self.lab.lab_started:
            self.lab.lab_started = True
            self.lab._lab_poll()  # first poll only once the table has its columns

    @property
    def lab(self) -> "DemoApp":
        return self.app  # type: ignore[return-value]

    def selected(self) -> str | None:
        table = self.query_one("#lab-table", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def render_update(self, update: LabUpdate) -> None:
        header = Text()
        header.append("deliverytui demo ", "bold")
        header.append(f"broker {self.lab.config.bootstrap}  ", "")
        header.append("producer ", "dim")
        header.append(f"{update.rate:g} events/s  ", "bold")
        header.append("acknowledged ", "dim")
        header.append(f"{update.produced:,}", "bold")
        paused = [f"{s.semantic}: {s.note}" for s in update.statuses if s.alive and getattr(s, "note", None)]
        if update.error:
            header.append(f"\n{update.error}", "bold red")
        elif paused:  # a store or the ledger is down: the first reason, in one line
            more = f" (+{len(paused) - 1} more)" if len(paused) > 1 else ""
            header.append(f"\npaused — {paused[0]}{more}", "bold yellow")
        else:
            header.append("\nk kill · c crash at a point · R restart · o replay · +/- rate · w watch the group", "dim")
        self.query_one("#lab-header", Static).update(header)
        audits = {}
        if update.audit is not None:
            audits = {a.semantic: a for a in update.audit.consumers}
        table = self.query_one("#lab-table", DataTable)
        for status in update.statuses:
            audit = audits.get(status.semantic)
            state = "running" if status.alive else ("DEAD" if status.exit_code is not None else "stopped")
            if status.alive and status.state and status.state != "running":
                state = status.state
            if status.armed:
                state += f" (armed: {status.armed})"
            if getattr(status, "extra_instances", 0):
                state += f" +{status.extra_instances} instance"
            cells = {
                "semantic": Text(status.semantic, style="bold"),
                "group": status.group,
                "state": Text(state, style="green" if status.alive and not status.armed else ("bold red" if not status.alive else "bold yellow")),
                "processed": _num(status.processed),
                "effects": _num(getattr(audit, "effects", None)),
                "unique": _num(getattr(audit, "unique_effects", None)),
                "duplicates": Text(_num(getattr(audit, "duplicates", None)), style="bold yellow" if getattr(audit, "duplicates", 0) else ""),
                "lost": Text(_num(getattr(audit, "lost", None)), style="bold red" if getattr(audit, "lost", 0) else ""),
                "unexpected": _num(getattr(audit, "unexpected", None)),
                "dedup_hits": _num(getattr(audit, "dedup_hits", None)),
                "crashes": _num(getattr(audit, "crashes", status.crashes)),
            }
            if status.semantic not in table.rows:
                table.add_row(*(cells[k] for k, _ in LAB_COLUMNS), key=status.semantic)
            else:
                for key, value in cells.items():
                    table.update_cell(status.semantic, key, value)
        self._render_offending(audits)

    def _render_offending(self, audits: dict) -> None:
        semantic = self.selected()
        audit = audits.get(semantic) if semantic else None
        if audit is None:
            return
        text = Text()
        text.append(f"{semantic}: ", "bold")
        text.append(f"{audit.lost} lost, {audit.duplicates} duplicate effect(s), {audit.unexpected} unexpected\n", "")
        for redelivery in getattr(audit, "redeliveries", ())[:20]:
            text.append("  why      ", "cyan")
            text.append(redelivery.explain() + "\n")
        for item in audit.offending[:200]:
            style = {"lost": "bold red", "duplicate": "bold yellow"}.get(item.kind, "magenta")
            text.append(f"  {item.kind:<10} ", style)
            text.append(f"{item.event_id}  partition {item.partition} offset {item.offset}\n")
        if len(audit.offending) > 200:
            text.append(f"  … and {len(audit.offending) - 200} more\n", "dim")
        if getattr(audit, "malformed_warning", None):
            text.append(f"⚠ {audit.malformed_warning}\n", "bold yellow")
            for record in audit.malformed_records[:50]:
                text.append(f"  {record.reason:<11} ", "yellow")
                text.append(f"partition {record.partition} offset {record.offset}: {record.action}")
                text.append(f" (seen {record.times}×)\n" if record.times > 1 else "\n")
        self.query_one("#offending", Static).update(text)

    @on(DataTable.RowHighlighted, "#lab-table")
    def _on_highlight(self) -> None:
        if self.lab.lab_update is not None and self.lab.lab_update.audit is not None:
            self._render_offending({a.semantic: a for a in self.lab.lab_update.audit.consumers})

    def log_event(self, text: str, style: str = "") -> None:
        self.query_one("#lab-events", EventLog).add(text, style)

    # -- actions -------------------------------------------------------------------
    def action_kill(self) -> None:
        semantic = self.selected()
        if semantic:
            self.lab.run_supervisor("kill", semantic)
            self.log_event(f"killed {semantic} (SIGKILL)", "bold red")

    def action_arm_crash(self) -> None:
        semantic = self.selected()
        if not semantic:
            return
        points = self.lab.crash_points(semantic)
        self.app.push_screen(CrashPointScreen(semantic, points), callback=lambda p: self._armed(semantic, p))

    def _armed(self, semantic: str, point: str | None) -> None:
        if point:
            self.lab.run_supervisor("arm_crash", semantic, point)
            self.log_event(f"armed {semantic}: crash {point} on its next message", "bold yellow")

    def action_restart(self) -> None:
        semantic = self.selected()
        if semantic:
            self.lab.run_supervisor("restart", semantic)
            self.log_event(f"restarted {semantic}", "green")

    def action_replay(self) -> None:
        semantic = self.selected()
        if semantic:
            self.app.push_screen(ReplayScreen(semantic, self.lab.supervisor), callback=self._replayed)

    def _replayed(self, summary: str | None) -> None:
        if summary:
            self.log_event(summary, "bold magenta")

    def action_faster(self) -> None:
        self.log_event(f"producer rate {self.lab.change_rate(2.0):g} events/s", "cyan")

    def action_slower(self) -> None:
        self.log_event(f"producer rate {self.lab.change_rate(0.5):g} events/s", "cyan")

    def action_instance(self) -> None:
        """Start a second instance of the selected consumer (the group rebalances); again: SIGKILL it."""
        semantic = self.selected()
        if not semantic:
            return
        if self.lab.supervisor.instance_pids(semantic):
            self.lab.run_supervisor("kill_instance", semantic, 2)
            self.log_event(f"killed {semantic} instance 2 (SIGKILL): its partitions return after the session timeout", "bold red")
        else:
            self.lab.run_supervisor("start_instance", semantic, 2)
            self.log_event(f"started {semantic} instance 2: the group rebalances", "cyan")

    def action_watch(self) -> None:
        semantic = self.selected()
        if semantic:
            self.lab.watch(self.lab.group_of(semantic))


class DemoApp(DeliveryApp):
    """The live view plus the lab screen on top; ``d`` in the live view returns to the lab."""

    BINDINGS = [*DeliveryApp.BINDINGS, Binding("d", "lab", "Demo lab")]

    def __init__(self, config: ViewerConfig, *, supervisor: Any, producer: Any, ledger: Any, audit_fn: Any,
                 group_of: dict[str, str], crash_points: dict[str, tuple[str, ...]], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.supervisor = supervisor
        self.producer = producer
        self.ledger = ledger
        self.audit_fn = audit_fn
        self._group_of = group_of
        self._crash_points = crash_points
        self.lab_update: LabUpdate | None = None
        self.lab_polls = 0
        self.lab_started = False
        self._lab_screen = DemoLabScreen()
        self._malformed_seen = {}

    def on_mount(self) -> None:
        super().on_mount()
        self.push_screen(self._lab_screen)

    def group_of(self, semantic: str) -> str:
        return self._group_of[semantic]

    def crash_points(self, semantic: str) -> tuple[str, ...]:
        return self._crash_points[semantic]

    def action_lab(self) -> None:
        if self.screen is not self._lab_screen:
            self.push_screen(self._lab_screen)

    def watch(self, group: str) -> None:
        self.pop_screen()
        if group != self.group:
            self.switch_group(group)

    def change_rate(self, factor: float) -> float:
        rate = max(0.5, min(2000.0, self.producer.rate * factor))
        self.producer.set_rate(rate)
        return rate

    @work(thread=True, exit_on_error=False, group="supervisor")
    def run_supervisor(self, action: str, *args: Any) -> None:
        try:
            getattr(self.supervisor, action)(*args)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            self.call_from_thread(self.notify, f"{action} failed: {' '.join(str(exc).split())}", severity="error")

    @work(thread=True, exclusive=True, exit_on_error=False, group="lab")
    def _lab_poll(self) -> None:
        """Supervisor poll (reap, auto-restart) + audit, once a second, never overlapping."""
        error = None
        audit = None
        statuses: tuple[Any, ...] = ()
        try:
            statuses = tuple(self.supervisor.poll())
            audit = self.audit_fn()
        except Exception as exc:  # noqa: BLE001 - the lab shows it and keeps going
            error = " ".join(str(exc).split())
        update = LabUpdate(statuses, audit, int(self.producer.acknowledged), float(self.producer.rate), error)
        self.call_from_thread(self._on_lab_update, update)

    def _on_lab_update(self, update: LabUpdate) -> None:
        self.lab_update = update
        self.lab_polls += 1
        previous = {s.semantic: s for s in (self._previous_statuses or ())}
        for status in update.statuses:
            old = previous.get(status.semantic)
            if old is not None and old.alive and not status.alive:
                self._lab_screen.log_event(f"{status.semantic} died (exit {status.exit_code})", "bold red")
        self._previous_statuses = update.statuses
        for audit in update.audit.consumers if update.audit is not None else ():
            seen = self._malformed_seen.get(audit.semantic, 0)
            if audit.malformed > seen and audit.malformed_warning:
                self._lab_screen.log_event(f"warning: {audit.semantic}: {audit.malformed_warning}", "bold yellow")
            self._malformed_seen[audit.semantic] = max(seen, audit.malformed)
        self._lab_screen.render_update(update)
        if not self._cancel.is_set():
            self.set_timer(1.0, self._lab_poll)

    _previous_statuses: tuple[Any, ...] | None = None
    _malformed_seen: dict[str, int]


def demo_app(bootstrap: str, supervisor: Any, producer: Any, *, refresh_seconds: float = 1.0) -> DemoApp:
    """The lab app for a running supervisor and producer (tests build it the same way)."""
    from deliverytui.demo.semantics import SEMANTICS

    names = supervisor.semantics
    first = "at-least-once" if "at-least-once" in names else names[0]
    return DemoApp(
        ViewerConfig(bootstrap=bootstrap, group=supervisor.group_of(first), refresh_seconds=refresh_seconds, allow_writes=True),
        supervisor=supervisor,
        producer=producer,
        ledger=supervisor.ledger,
        audit_fn=supervisor.audit,
        group_of={name: supervisor.group_of(name) for name in names},
        crash_points={name: SEMANTICS[name].crash_points for name in names},
    )


def run_demo(args: Any) -> int:
    """Start (or reuse) the broker, the producer and the six consumers, then run the lab."""
    from deliverytui.demo.headless import start_group_at_log_end
    from deliverytui.demo.offsets import OffsetReader
    from deliverytui.demo.producer_loop import RateLimitedProducer
    from deliverytui.demo.supervisor import DemoSupervisor
    from deliverytui.demo.task_api import ensure_topic
    from deliverytui.broker.embedded import EmbeddedBroker, default_data_dir

    bootstrap = args.bootstrap
    if not bootstrap:
        print("starting (or reusing) the embedded Apache Kafka broker…", flush=True)
        bootstrap = EmbeddedBroker(default_data_dir()).start(security="none")[0].bootstrap  # the demo clients speak PLAINTEXT
    # The lab's state (ledger, dedup store, status files) lives beside the broker's data and
    # persists with it, so a second `deliverytui demo` resumes the same story.
    run_dir = Path(
        getattr(args, "run_dir", None)
        or os.environ.get("DELIVERYTUI_DEMO_DIR")
        or (Path.home() / ".local" / "share" / "deliverytui" / "demo")
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    ledger_url = args.ledger or f"sqlite:///{run_dir / 'ledger.db'}"
    dedup_url = args.dedup or f"sqlite:///{run_dir / 'dedup.db'}"
    topic = getattr(args, "topic", None) or "task-events"
    ensure_topic(bootstrap, topic, partitions=args.partitions)
    supervisor = DemoSupervisor(
        bootstrap, run_dir, ledger_url, dedup_url, auto_restart=getattr(args, "auto_restart", None), topic=topic,
        commit_every=getattr(args, "commit_every", None),
    )  # fmt: skip
    producer = RateLimitedProducer(bootstrap, supervisor.ledger, topic=topic)
    # Groups that never ran start at the topic's end: events from before this lab (other
    # runs, other tools) were never acknowledged into this ledger and would show as "unexpected".
    reader = OffsetReader(bootstrap)
    try:
        for name in supervisor.semantics:
            try:
                start_group_at_log_end(reader, supervisor.group_of(name), topic)
            except UserFacingError as exc:  # e.g. a consumer of an earlier lab still in the group
                print(f"deliverytui: warning: {exc}", flush=True)
    finally:
        reader.close()
    supervisor.start_all()
    producer.start(args.rate)
    try:
        demo_app(bootstrap, supervisor, producer).run()
    finally:
        producer.stop()
        supervisor.stop_all()
    return 0
