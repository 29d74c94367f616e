"""``deliverytui demo``: the teaching lab's screen, on top of the live view.

The lab screen lists the seven demo consumers (real OS processes, one group each; the queue's
share group has two) with their live audit: events produced, processed, unique and duplicate
effects, lost events, dedup hits and retakes, crashes, and the queue's archived events. The presenter kills one (``k``), arms a crash at a named point (``c``),
restarts it (``R``), replays its group from an offset (``o``), widens its commit window (``b``),
changes the producer's rate (``+``/``-``), starts a second instance (``i``), marks the next
event poison (``P``, the queue's lesson), and opens the live group view of a consumer (``w``;
``d`` comes back).

The screen owns nothing: a :class:`~deliverytui.demo.lab.Lab` owns the broker connection, the
producer, the consumers and the audit. A thread worker polls the lab once a second for as long
as the app runs, whatever screen is on top, and the lab screen renders the latest update.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from deliverytui.demo.lab import Lab, LabSettings, default_state_dir
from deliverytui.demo.semantics import Semantic, semantic_spec
from deliverytui.errors import one_line
from deliverytui.model.anomalies import ANOMALY_MEANINGS, INCONSISTENT_OFFSETS
from deliverytui.model.demo import ConsumerAudit, ConsumerProcessStatus, LabUpdate
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.screens.help import HELP_KEYS, LEGEND, HelpScreen
from deliverytui.tui.screens.lab_dialogs import CrashPointScreen, ReplayScreen, count_text
from deliverytui.tui.story_plot_host import StoryPlotHost
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import EventLog

LAB_COLUMNS = (
    ("semantic", "Consumer"), ("group", "Group"), ("state", "State"), ("processed", "Processed"),
    ("effects", "Effects"), ("unique", "Unique"), ("duplicates", "Duplicates"), ("lost", "Lost"),
    ("unexpected", "Unexpected"), ("dedup_hits", "Dedup hits"), ("retakes", "Retakes"), ("crashes", "Crashes"),
    ("archived", "Archived"),
)
LAB_KEYS = (
    ("k", "kill the selected consumer now (SIGKILL, at whatever it was doing)"),
    ("c", "crash it at a named point on its next message (the chapter's stories)"),
    ("R", "restart it (a graceful stop first if it runs)"),
    ("o", "replay its group from an offset: dry run, then stop → reset → restart"),
    ("b", "commit every 20 messages instead of each (or back): position runs ahead of committed"),
    ("i", "start a second instance in its group (a rebalance); again: SIGKILL it"),
    ("+ / -", "producer rate one step up / down (0.5 … 2,000 events/s)"),
    ("P", "mark the next event poison: the queue fails on it until the broker archives it (the others ignore it)"),
    ("w", "watch its group in the live view (position, lag, its dedup store; the queue's share-group view); d comes back"),
    ("t / T / S", "plot the story as an SVG timeline / next theme / save this screen as an SVG slide (working directory)"),
    ("?", "this help"),
    ("q", "quit: every consumer stops gracefully; the broker keeps running"),
    ("ctrl+p", "command palette"),
)
LAB_LEGEND = (
    ("Duplicates", "effects beyond the first per event: at-least-once after a crash between effect and commit"),
    ("Lost", "events the group committed past with no effect: at-most-once after a crash between commit and effect"),
    ("Unexpected", "effects of events nobody acknowledged (must stay 0)"),
    ("Dedup hits", "repeats the store caught: a redelivery made harmless"),
    ("Retakes", "expired leases taken over: an idempotent consumer that crashed after its claim"),
    ("Archived", "queue only: poison events the broker archived after the delivery count limit (never lost)"),
    ("delivery counts", "queue only, under the table: how many deliveries ended with each count (1: first try)"),
    ("why", "under the table: each duplicate's cause — a crash at a point, a kill, a replay, a rebalance"),
    *((name, f"(Jepsen, must stay 0) {meaning}") for name, meaning in ANOMALY_MEANINGS.items()),
)
LIVE_VIEW_ACTIONS = frozenset({"toggle_pause", "filter", "cycle_sort", "pick_group", "open_fleet", "reset_offsets", "delete_offsets"})
"""The live view's keys: inactive while the lab screen is in front (they would act on a hidden group)."""
LAB_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""A closed terminal, a ``kill`` or Ctrl-C from outside: the lab quits as on ``q`` and stops its consumers."""
EVENT_STYLES = {"info": "", "good": "green", "warning": "bold yellow", "crash": "bold red", "error": "bold red"}


class DemoLabScreen(Screen[None]):
    """The seven demo consumers and their live audit (it renders :class:`LabUpdate`s and forwards keys)."""

    BINDINGS = [
        Binding("k", "kill", "Kill"),
        Binding("c", "arm_crash", "Crash at…"),
        Binding("R", "restart", "Restart"),
        Binding("o", "replay", "Replay"),
        Binding("b", "window", "Commit window"),
        Binding("plus", "faster", "+rate"),
        Binding("minus", "slower", "−rate"),
        Binding("w", "watch", "Watch group"),
        Binding("P", "poison", "Poison next"),
        Binding("i", "instance", "2nd instance", show=False),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]
    DEFAULT_CSS = """
    DemoLabScreen #lab-header { height: 2; padding: 0 1; background: $panel; }
    DemoLabScreen #lab-table { height: auto; max-height: 12; }
    DemoLabScreen #offending { height: 1fr; padding: 0 1; border-top: solid $primary; }
    DemoLabScreen EventLog { height: 10; }
    """

    KEYS = LAB_KEYS  # the help's key list (the lesson's screen adds its own)

    def __init__(self, lab: Lab) -> None:
        super().__init__(id="lab")
        self.lab = lab
        self.update: LabUpdate | None = None

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
        self.query_one("#lab-events", EventLog).clock = self.app.clock  # type: ignore[attr-defined]
        if self.update is not None:
            self.render_update(self.update)

    def on_screen_resume(self) -> None:
        if self.update is not None:
            self.render_update(self.update)

    def selected(self) -> str | None:
        table = self.query_one("#lab-table", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def render_update(self, update: LabUpdate) -> None:
        self.update = update
        header = Text()
        header.append("deliverytui demo ", "bold")
        header.append(f"broker {self.lab.bootstrap}  ")
        header.append("producer ", "dim")
        header.append(f"{update.rate:g} events/s  ", "bold")
        header.append("acknowledged ", "dim")
        header.append(f"{update.produced:,}", "bold")
        paused = [f"{s.semantic}: {s.note}" for s in update.statuses if s.alive and s.note]
        if update.error:
            header.append(f"\n{update.error}", "bold red")
        elif paused:  # a store or the ledger is down: the first reason, in one line
            more = f" (+{len(paused) - 1} more)" if len(paused) > 1 else ""
            header.append(f"\npaused — {paused[0]}{more}", "bold yellow")
        else:
            header.append("\nk kill · c crash at a point · R restart · o replay · b commit window · +/- rate · P poison · w watch", "dim")
        self.query_one("#lab-header", Static).update(header)
        table = self.query_one("#lab-table", DataTable)
        for status in update.statuses:
            cells = self._cells(status, update.audit_of(status.semantic), update.commit_every.get(status.semantic))
            if status.semantic not in table.rows:
                table.add_row(*(cells[k] for k, _ in LAB_COLUMNS), key=status.semantic)
            else:
                for key, value in cells.items():
                    table.update_cell(status.semantic, key, value)
        self._render_offending()

    @staticmethod
    def _cells(status: ConsumerProcessStatus, audit: ConsumerAudit | None, window: int | None) -> dict[str, Any]:
        state = "running" if status.alive else ("DEAD" if status.exit_code is not None and status.state != "stopped" else status.state)
        if status.alive and status.state and status.state != "running":
            state = status.state
        if status.armed:
            state += f" (armed: {status.armed})"
        if window and window > 1 and not semantic_spec(status.semantic).transactional:
            state += f" (commit/{window})"
        if status.extra_instances:
            state += f" +{status.extra_instances} instance"
        style = "green" if status.alive and not status.armed else ("bold red" if not status.alive else "bold yellow")
        duplicates = audit.duplicates if audit else None
        lost = audit.lost if audit else None
        return {
            "semantic": Text(status.semantic, style="bold"),
            "group": status.group,
            "state": Text(state, style=style),
            "processed": count_text(audit.processed if audit and audit.is_queue else status.processed),  # both workers
            "effects": count_text(audit.effects if audit else None),
            "unique": count_text(audit.unique_effects if audit else None),
            "duplicates": Text(count_text(duplicates), style="bold yellow" if duplicates else ""),
            "lost": Text(count_text(lost), style="bold red" if lost else ""),
            "unexpected": count_text(audit.unexpected if audit else None),
            "dedup_hits": count_text(audit.dedup_hits if audit else None),
            "retakes": count_text(audit.dedup_retakes if audit else None),
            "crashes": count_text(audit.crashes if audit else status.crashes),
            "archived": count_text(audit.archived if audit and audit.is_queue else None),
        }

    def _render_offending(self) -> None:
        semantic = self.selected()
        audit = self.update.audit_of(semantic) if self.update is not None and semantic else None
        if audit is None:
            return
        text = Text()
        text.append(f"{semantic}: ", "bold")
        text.append(f"{audit.lost} lost, {audit.duplicates} duplicate effect(s), {audit.unexpected} unexpected\n")
        anomalies = audit.anomalies.by_class()
        if self.update is not None and self.update.audit is not None:
            anomalies[INCONSISTENT_OFFSETS] += self.update.audit.anomalies.inconsistent_offsets
        text.append("  Jepsen   ", "cyan")
        text.append(" · ".join(f"{name} {count}" for name, count in anomalies.items()) + "\n",
                    "bold red" if any(anomalies.values()) else "")  # fmt: skip
        if audit.is_queue:
            counts = ", ".join(f"{count}: {n:,}" for count, n in audit.delivery_counts.items())
            text.append("  queue    ", "cyan")
            text.append(f"delivery counts {{{counts}}} · highest {audit.max_delivery_count} · "
                        f"archived after {audit.delivery_count_limit} deliveries: {audit.archived}\n")  # fmt: skip
            for archived in audit.archived_events[:50]:
                text.append("  archived ", "magenta")
                text.append(f"{archived.event_id}  delivered {archived.delivery_count}×, failed {archived.failed_attempts}×\n")
        for case in audit.anomalies.cases[:20]:
            text.append(f"  {case.kind:<10} ", "bold red")
            text.append(case.detail + "\n")
        for redelivery in audit.redeliveries[:20]:
            text.append("  why      ", "cyan")
            text.append(redelivery.explain() + "\n")
        for item in audit.offending[:200]:
            style = {"lost": "bold red", "duplicate": "bold yellow"}.get(item.kind, "magenta")
            text.append(f"  {item.kind:<10} ", style)
            text.append(f"{item.event_id}  partition {item.partition} offset {item.offset}\n")
        if len(audit.offending) > 200:
            text.append(f"  … and {len(audit.offending) - 200} more\n", "dim")
        if audit.malformed_warning:
            text.append(f"⚠ {audit.malformed_warning}\n", "bold yellow")
            for record in audit.malformed_records[:50]:
                text.append(f"  {record.reason:<11} ", "yellow")
                text.append(f"partition {record.partition} offset {record.offset}: {record.action}")
                text.append(f" (seen {record.times}×)\n" if record.times > 1 else "\n")
        self.query_one("#offending", Static).update(text)

    @on(DataTable.RowHighlighted, "#lab-table")
    def _on_highlight(self) -> None:
        self._render_offending()

    def log_event(self, text: str, style: str = "") -> None:
        self.query_one("#lab-events", EventLog).add(text, style)

    # -- actions: each asks the lab, in a worker, and logs what it answered ---------------------
    def _selected_then(self, action: str, *args: Any) -> None:
        semantic = self.selected()
        if semantic:
            self.app.run_lab_action(action, semantic, *args)  # type: ignore[attr-defined]

    def action_kill(self) -> None: self._selected_then("kill")  # noqa: E704
    def action_restart(self) -> None: self._selected_then("restart")  # noqa: E704
    def action_window(self) -> None: self._selected_then("toggle_window")  # noqa: E704
    def action_instance(self) -> None: self._selected_then("toggle_instance")  # noqa: E704

    def action_arm_crash(self) -> None:
        semantic = self.selected()
        if semantic:
            points = self.lab.crash_points(semantic)
            self.app.push_screen(CrashPointScreen(semantic, points), callback=lambda p: self._armed(semantic, p))

    def _armed(self, semantic: str, point: str | None) -> None:
        if point:
            self.app.run_lab_action("arm_crash", semantic, point)  # type: ignore[attr-defined]

    def action_replay(self) -> None:
        semantic = self.selected()
        if semantic:
            self.app.push_screen(ReplayScreen(semantic, self.lab), callback=self._replayed)

    def _replayed(self, summary: str | None) -> None:
        if summary:
            self.log_event(summary, "bold magenta")

    def action_faster(self) -> None:
        self.log_event(f"producer rate {self.lab.change_rate(+1):g} events/s", "cyan")

    def action_slower(self) -> None:
        self.log_event(f"producer rate {self.lab.change_rate(-1):g} events/s", "cyan")

    def action_poison(self) -> None:
        self.app.run_lab_action("poison_next")  # type: ignore[attr-defined]

    def action_watch(self) -> None:
        semantic = self.selected()
        if semantic:
            self.app.watch_group(self.lab.group_of(semantic), semantic_spec(semantic).group_type)  # type: ignore[attr-defined]


class DemoApp(StoryPlotHost, DeliveryApp):
    """The live view with the lab screen on top; ``w`` shows a consumer's group, ``d`` the lab again."""

    BINDINGS = [*DeliveryApp.BINDINGS, Binding("d", "lab", "Demo lab"), Binding("t", "plot_story", "Plot", show=False)]
    DEDUP_FOLLOWS_GROUP = True
    WATCHES_SHARE_GROUPS = False  # the lab's groups are consumer groups: no Java helper for them

    def __init__(self, config: ViewerConfig, lab: Lab, *, lab_poll_seconds: float = 1.0, lab_screen: DemoLabScreen | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.lab = lab
        self.lab_poll_seconds = lab_poll_seconds
        self.lab_update: LabUpdate | None = None
        self.lab_polls = 0
        self.lab_screen = lab_screen or DemoLabScreen(lab)  # --lesson: the lesson's subclass
        self.signalled: str | None = None
        self._groups = {lab.group_of(name): name for name in lab.settings.semantics}

    def on_mount(self) -> None:
        super().on_mount()
        self.install_screen(self.lab_screen, name="lab")  # installed: popping it keeps it, and its state
        self.push_screen("lab")
        loop = asyncio.get_running_loop()
        for signum in LAB_SIGNALS:
            # asyncio's handlers run on the loop (the C-level handler only writes to its self-pipe).
            loop.add_signal_handler(signum, self._on_signal, signum)
        self._poll_lab()

    def on_unmount(self) -> None:
        super().on_unmount()
        with contextlib.suppress(RuntimeError, ValueError):
            for signum in LAB_SIGNALS:
                asyncio.get_running_loop().remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        self.signalled = signal.Signals(signum).name
        self._cancel.set()
        if signum == signal.SIGHUP:
            # The terminal is gone: Textual's shutdown writes to it and was seen to hang there
            # (blocked in its writer queue), holding the lab and its lock. Stop the lab first,
            # off the event loop, then leave; there is no screen left to restore.
            threading.Thread(target=self._hang_up, name="lab-hangup", daemon=True).start()
        self.exit()

    def _hang_up(self) -> None:
        self.lab.close()
        os._exit(128 + signal.SIGHUP)

    # -- the lab's poll: runs whatever screen is in front ------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="lab")
    def _poll_lab(self) -> None:
        """Once a second, for the app's whole life: reap, auto-restart, audit, then hand the update over."""
        while not self._cancel.is_set():
            update = self.lab.poll()
            if self._cancel.is_set():
                break
            try:
                self.call_from_thread(self._on_lab_update, update)
            except Exception:  # noqa: BLE001 - a render bug must not stop the supervision of the consumers
                if self._cancel.is_set():
                    break
            self._cancel.wait(self.lab_poll_seconds)

    def _on_lab_update(self, update: LabUpdate) -> None:
        self.lab_update = update
        self.lab_polls += 1
        for event in update.events:
            self.lab_screen.log_event(event.text, EVENT_STYLES.get(event.kind, ""))
        if self.lab_screen.is_mounted and self.lab_screen in self.screen_stack:
            self.lab_screen.render_update(update)
        else:
            self.lab_screen.update = update  # rendered when the lab comes back (``d``)

    @work(thread=True, exit_on_error=False, group="lab-action")
    def run_lab_action(self, action: str, *args: Any) -> None:
        try:
            line = getattr(self.lab, action)(*args)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            text = one_line(exc)
            self.call_from_thread(self.notify, f"{action} failed: {text}", severity="error")
            return
        if line:
            self.call_from_thread(self.lab_screen.log_event, str(line), "bold yellow" if "armed" in line else "cyan")

    # -- screens -------------------------------------------------------------------------------------
    def lab_in_front(self) -> bool:
        """True when the lab (or a dialog over it) is what the presenter sees."""
        for screen in reversed(self.screen_stack):
            if not screen.is_modal:
                return screen is self.lab_screen
        return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_VIEW_ACTIONS and self.lab_in_front():
            return False  # hidden from the footer, and inert: the live view is not on screen
        if action == "lab" and self.lab_in_front():
            return False
        return super().check_action(action, parameters)

    def action_lab(self) -> None:
        if self.lab_screen not in self.screen_stack:
            self.push_screen("lab")

    def watch_group(self, group: str, group_type: str = "consumer") -> None:
        """``w``: the live view of ``group`` (its position, lag and dedup store); ``d`` returns.

        ``group_type`` ``share`` (the queue) opens the share-group view directly (its start offsets,
        share lag and owners); the session's one Java helper starts then, and only then.
        """
        if self.screen is self.lab_screen:
            self.pop_screen()
        shown = self.share_screen
        if shown is not None and (group_type != "share" or shown.group != group):
            self.close_share_view()
        if group_type == "share":
            if self.share_screen is None:
                self.open_share_view(group)
            return
        if group != self.group:
            self.switch_group(group)

    def dedup_url_for(self, group: str) -> str | None:
        semantic = self._groups.get(group)
        return self.lab.dedup_url_for(semantic) if semantic else self.config.dedup_url

    def action_help(self) -> None:
        if self.lab_in_front():
            self.push_screen(HelpScreen(self.lab_screen.KEYS, LAB_LEGEND, "The lab's keys"))
        else:
            live_keys = (*HELP_KEYS, ("d", "back to the demo lab"))
            self.push_screen(HelpScreen(live_keys, LEGEND), callback=lambda _: self._flush_pending())

    def get_system_commands(self, screen: Screen) -> Any:
        if not self.lab_in_front():
            yield from super().get_system_commands(screen)
            yield SystemCommand("Demo lab", "Back to the lab", self.action_lab)
            return
        yield SystemCommand("Help", "The lab's keys", self.action_help)
        yield SystemCommand("Quit", "Stop every consumer gracefully and quit", self.exit)


def demo_app(
    lab: Lab, *, refresh_seconds: float = 1.0, lab_poll_seconds: float = 1.0,
    lab_screen: DemoLabScreen | None = None, theme: str | None = None,
) -> DemoApp:
    """The lab app for an opened :class:`Lab` (tests build it the same way)."""
    names = lab.settings.semantics
    first = Semantic.AT_LEAST_ONCE if Semantic.AT_LEAST_ONCE in names else names[0]
    config = ViewerConfig(
        bootstrap=lab.bootstrap, group=lab.group_of(first), refresh_seconds=refresh_seconds, allow_writes=True,
        client_config=lab.settings.kafka_config or {},  # the live view (w) logs in as the lab does
        theme=theme,
    )
    return DemoApp(config, lab, lab_poll_seconds=lab_poll_seconds, lab_screen=lab_screen)


def lab_settings(args: Any) -> LabSettings:
    """The lab's settings from ``deliverytui demo`` arguments."""
    return LabSettings(
        state_dir=Path(args.run_dir) if getattr(args, "run_dir", None) else default_state_dir(),
        bootstrap=args.bootstrap or None,
        ledger_url=args.ledger,
        dedup_url=args.dedup,
        topic=getattr(args, "topic", None) or "task-events",
        partitions=args.partitions,
        rate=args.rate,
        auto_restart=getattr(args, "auto_restart", None),
        commit_every=getattr(args, "commit_every", None),
        kafka_config=getattr(args, "kafka_config", None),
        timeout=getattr(args, "connect_timeout", None) or 10.0, classroom=getattr(args, "classroom", False),
    )


def run_demo(args: Any, make_app: Any = demo_app) -> int:
    """Open the lab, run its screen, and close the lab however the screen ended (q, a signal, an error)."""
    lab = Lab(lab_settings(args))
    lab.open(progress=lambda line: print(line, flush=True))
    app = make_app(lab, theme=getattr(args, "theme", None))  # demo_app, or the lesson's (tui.lesson_host.lesson_app)
    try:
        app.run()
    finally:
        _tell("stopping the lab's consumers…")
        for line in lab.close():
            _tell(line)
    if app.signalled:
        _tell(f"deliverytui: the lab stopped on {app.signalled}", sys.stderr)
        return 128 + int(signal.Signals[app.signalled])
    return 0


def _tell(line: str, stream: Any = None) -> None:
    """Print after the screen is gone; a closed terminal (SIGHUP) must not stop the clean-up."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=stream or sys.stdout, flush=True)
