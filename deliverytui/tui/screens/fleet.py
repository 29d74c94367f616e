"""The fleet view: every group of the cluster at a glance, worst first (``deliverytui`` without ``--group``, or ``g``).

On-call's first question is *which* group is in trouble: one row per group with its type, state,
members, topics, total lag, estimated max time lag, its worst partition's Burrow status, trend and
drain ETA. The rows come from :class:`~deliverytui.lag.fleet.FleetTracker` fed by an isolated
:class:`~deliverytui.kafka.fleet_collector.FleetCollector` (one batched refresh for all groups),
polled here with the same self-re-arming timer and backoff as the group view. The screen polls only
while it is shown; back in front, it refreshes at once, and its tracker keeps its history.

``/`` filters by group or topic, ``s`` cycles the sort; both show in the header, so what is hidden
and in which order is never a guess. Enter opens the group's live view (the app's ``switch_group``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from deliverytui.errors import ClusterUnreachableError, UserFacingError, one_line
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.lag.drain import format_duration
from deliverytui.lag.fleet import FleetTracker
from deliverytui.model.fleet import FleetReading, FleetRow, FleetSnapshot
from deliverytui.model.text import shortened, shown_name
from deliverytui.tui.messages import FleetArrived, FleetFailed
from deliverytui.tui.rows import STATUS_STYLES, estimate_text
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.widgets.panels import ConnectionBanner

#: Columns: (key, label). The time lag is an estimate from log-end samples, and says so (``~``).
FLEET_COLUMNS = (
    ("group", "Group"), ("type", "Type"), ("state", "State"), ("members", "Members"), ("topics", "Topics"),
    ("lag", "Lag"), ("time_lag", "Time lag (est.)"), ("status", "Status"), ("trend", "Trend"), ("eta", "Drain ETA"),
)  # fmt: skip
#: Sort modes ``s`` cycles through: (name shown in the header, key function).
SORT_MODES: tuple[tuple[str, Callable[[FleetRow], Any]], ...] = (
    ("worst first", lambda row: row.sort_key),
    ("lag ↓", lambda row: (-(row.total_lag or 0), row.group_id)),
    ("time lag ↓", lambda row: (-(row.max_time_lag_s or 0.0), row.group_id)),
    ("group ↑", lambda row: row.group_id),
)


FLEET_KEYS = (
    ("Enter", "open the group's live view (a share group opens its share view)"),
    ("Esc", "clear the filter; else back to the group shown before"),
    ("/", "filter by group or topic substring (shown in the header as ~text)"),
    ("s", "sort: worst first, lag, time lag, group name (shown in the header)"),
    ("?", "this help"),
    ("q", "quit"),
)
FLEET_LEGEND = (
    ("Lag", "sum of the partitions' lags, as kafka-consumer-groups adds them up; - when none is known"),
    ("Time lag (est.)", "age of the oldest unconsumed record, estimated from the log ends the fleet sampled; "
     "≥: the log end never moved while watched, so only a lower bound"),
    ("Status", "Burrow's verdict on the group's worst partition; ERR: this group alone could not be read"),
    ("Trend", "whether the lag grows, shrinks or stays flat over the status window"),
    ("Drain ETA", "lag / (consume rate - produce rate) when draining; otherwise why not"),
)


def time_lag_text(row: FleetRow) -> str:
    """``~12s`` estimated; ``≥5m`` when the group is behind a log end that never moved while
    watched (its oldest record is at least that old); ``-`` before two samples."""
    if row.time_lag_at_least and row.max_time_lag_s is not None:
        return "≥" + estimate_text(row.max_time_lag_s).lstrip("~")
    return estimate_text(row.max_time_lag_s)  # as the group view's Time lag~ column writes it


def row_cells(row: FleetRow) -> tuple[Text, ...]:
    """One row's cells; the group id and topics are shown escaped (other people chose them)."""
    status = row.status.value if row.error is None else "ERR"
    lag_style = "" if not row.total_lag else ("yellow" if row.total_lag < 1000 else "bold red")
    topics = ", ".join(row.topics)
    eta = format_duration(row.drain_eta_s) if row.drain_eta_s is not None else row.drain_text  # as the group header
    if row.error is not None:  # the last column says why this group alone could not be read
        eta = row.error
    return (
        Text(shown_name(row.group_id, 40)),
        Text(row.group_type, style="bold magenta" if row.group_type == "share" else ""),
        Text(row.state),
        Text(str(row.members)),
        Text(shortened(topics, 30) if topics else "-", style="" if topics else "dim"),
        Text("-" if row.total_lag is None else f"{row.total_lag:,}", style=lag_style),
        Text(time_lag_text(row)),
        Text(status, style=STATUS_STYLES.get(status, "")),
        Text(row.trend),
        Text(shortened(eta, 40 if row.error else 30), style="red" if row.error else ""),
    )


class FleetScreen(Screen[str | None]):
    """Every group, live. ``collector_factory`` builds the (isolated) collector; ``list_share_groups``
    adds share groups when given (the app's Java helper), else only classic and consumer groups show."""

    BINDINGS = [
        Binding("enter", "open_group", "Open group", show=True),
        Binding("slash", "filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("escape", "back", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]
    DEFAULT_CSS = """
    FleetScreen #fleet-header { height: auto; padding: 0 1; background: $boost; }
    FleetScreen #fleet-table { height: 1fr; }
    FleetScreen #fleet-filter { display: none; }
    FleetScreen #fleet-filter.-visible { display: block; }
    """

    def __init__(
        self,
        bootstrap: str,
        collector_factory: Callable[[threading.Event], Any],
        *,
        refresh_seconds: float = 2.0,
        max_backoff_seconds: float = 30.0,
        list_share_groups: Callable[[], list] | None = None,
        share_readings: Callable[[list], list] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.bootstrap = bootstrap
        self.refresh_seconds = refresh_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cancel = threading.Event()
        self._collector_factory = collector_factory
        self._collector: Any | None = None
        self._list_share_groups = list_share_groups
        self._share_readings = share_readings
        self._tracker = FleetTracker()
        self.snapshot: FleetSnapshot | None = None
        self.failures = 0
        self.problem: str | None = None
        self.filter_text = ""
        self.sort_index = 0
        self.polls_completed = 0
        self.can_go_back = True
        self._timer = None
        self._shown_keys: list[str] = []
        #: The cells last drawn per group: a refresh updates only those that changed (500 groups × 10 columns).
        self._shown_cells: dict[str, tuple[Text, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-header")
        yield ConnectionBanner(id="fleet-banner")
        table: DataTable = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        for key, label in FLEET_COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Input(placeholder="filter by group or topic (Enter applies, Esc clears)", id="fleet-filter")
        yield Footer()

    def on_mount(self) -> None:
        self._table = self.query_one("#fleet-table", DataTable)
        self._header = self.query_one("#fleet-header", Static)
        self._banner = self.query_one("#fleet-banner", ConnectionBanner)
        self.render_header()
        self.set_interval(1.0, self.render_header)  # the data age ticks between refreshes
        self._table.focus()

    # -- polling: only while shown -------------------------------------------------------
    def on_screen_resume(self) -> None:
        self._schedule(0)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.01), self._start_poll)

    def _start_poll(self) -> None:
        self._timer = None
        if self.is_current and not self._cancel.is_set():
            self._poll()

    @work(thread=True, exclusive=True, exit_on_error=False, group="fleet")
    def _poll(self) -> None:
        try:
            if self._collector is None:
                self._collector = self._collector_factory(self._cancel)
            reading: FleetReading = self._collector.read()
            reading = self._with_share_groups(reading)
            snapshot = self._tracker.observe(reading)
        except CollectionCancelled:
            return
        except UserFacingError as exc:
            self.post_message(FleetFailed("unreachable" if isinstance(exc, ClusterUnreachableError) else "error", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the view; it is shown instead
            self.post_message(FleetFailed("error", f"{type(exc).__name__}: {one_line(str(exc))}"))
        else:
            self.post_message(FleetArrived(snapshot))

    def _with_share_groups(self, reading: FleetReading) -> FleetReading:
        """Share groups from the Java helper, when there is one and it answers (else the others still show)."""
        if self._list_share_groups is None or self._share_readings is None:
            return reading
        try:
            shared = self._list_share_groups()
        except Exception:  # noqa: BLE001 - no Java, no share groups on this cluster: list the rest
            return reading
        ids = {listing.group_id for listing in shared}
        groups = (*(g for g in reading.groups if g.group_id not in ids), *self._share_readings(shared))
        return FleetReading(groups=groups, taken_at=reading.taken_at)

    @on(FleetArrived)
    def _arrived(self, message: FleetArrived) -> None:
        if self._cancel.is_set() or not self.is_attached:
            return
        self.snapshot = message.snapshot
        self.polls_completed += 1
        self.failures = 0
        self.problem = None
        self._banner.clear_problem()
        self.render_rows()
        self._schedule(self.refresh_seconds)

    @on(FleetFailed)
    def _failed(self, message: FleetFailed) -> None:
        if self._cancel.is_set() or not self.is_attached:
            return
        self.failures += 1
        delay = min(self.max_backoff_seconds, self.refresh_seconds * (2 ** min(self.failures - 1, 10)))
        shown = "showing the last refresh" if self.snapshot is not None else "no refresh yet"
        self.problem = message.text
        self._banner.show_problem(f"{message.text} — {shown}; retrying in {delay:.0f}s")
        self.render_header()
        self._schedule(delay)

    # -- rendering -----------------------------------------------------------------------
    def visible_rows(self) -> list[FleetRow]:
        """The rows shown: filtered by group or topic substring, in the current sort mode."""
        rows = list(self.snapshot.rows) if self.snapshot else []
        needle = self.filter_text.lower()
        if needle:
            rows = [r for r in rows if needle in r.group_id.lower() or any(needle in t.lower() for t in r.topics)]
        return sorted(rows, key=SORT_MODES[self.sort_index][1])

    def render_rows(self) -> None:
        rows = self.visible_rows()
        keys = [row.group_id for row in rows]
        table = self._table
        with self.app.batch_update():
            if keys == self._shown_keys:  # the usual refresh: same groups, same order; update changed cells by key
                for row in rows:
                    cells = row_cells(row)
                    before = self._shown_cells.get(row.group_id, ())
                    for index, ((column, _), cell) in enumerate(zip(FLEET_COLUMNS, cells)):
                        # Text's == ignores its style: a cell is the same when its text and style are.
                        if index >= len(before) or (before[index].plain, before[index].style) != (cell.plain, cell.style):
                            table.update_cell(row.group_id, column, cell, update_width=True)
                    self._shown_cells[row.group_id] = cells
            else:
                selected = self.selected_group
                table.clear()
                self._shown_cells = {}
                for row in rows:
                    cells = self._shown_cells[row.group_id] = row_cells(row)
                    table.add_row(*cells, key=row.group_id)
                self._shown_keys = keys
                if selected in keys:
                    table.move_cursor(row=keys.index(selected))
            self.render_header()

    def render_header(self) -> None:
        snapshot = self.snapshot
        line = Text()
        line.append("Fleet ", style="bold")
        line.append(f"{shortened(self.bootstrap, 60)}  ")
        if snapshot is None:
            line.append("reading every group…" if self.problem is None else "no refresh yet", style="dim")
        else:
            not_ok = sum(1 for r in snapshot.rows if r.error is not None or r.status.severity > 1)
            age = (self.clock() - snapshot.taken_at).total_seconds()
            line.append(f"{len(snapshot.rows)} groups  ")
            line.append(f"{not_ok} not OK  ", style="bold red" if not_ok else "green")
            line.append(f"total lag {snapshot.total_lag:,}  ")
            line.append(f"data age {max(age, 0):.0f}s", style="bold red" if self.problem else "dim")
        line.append(f"  sort: {SORT_MODES[self.sort_index][0]}", style="cyan")
        if self.filter_text:
            line.append(f"  ~{shortened(self.filter_text, 30)} ({len(self._shown_keys)} shown)", style="bold yellow")
        self._header.update(line)

    @property
    def selected_group(self) -> str | None:
        table = self._table
        if not self._shown_keys or table.cursor_row is None or not 0 <= table.cursor_row < len(self._shown_keys):
            return None
        return self._shown_keys[table.cursor_row]

    # -- actions -------------------------------------------------------------------------
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(FLEET_KEYS, FLEET_LEGEND, title="Keys (fleet)"))

    def action_cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORT_MODES)
        self.render_rows()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.add_class("-visible")
        box.value = self.filter_text
        box.focus()

    @on(Input.Submitted, "#fleet-filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        event.input.remove_class("-visible")
        self._table.focus()
        self.render_rows()

    def action_back(self) -> None:
        """Esc: clears an open filter box first; otherwise back to the group view, if there is one."""
        box = self.query_one("#fleet-filter", Input)
        if box.has_focus or self.filter_text:
            box.value = ""
            box.remove_class("-visible")
            self.filter_text = ""
            self._table.focus()
            self.render_rows()
            return
        if self.can_go_back:
            self.dismiss(None)

    @on(DataTable.RowSelected, "#fleet-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_group()

    def action_open_group(self) -> None:
        if self.query_one("#fleet-filter", Input).has_class("-visible"):
            # The filter box is open: an Enter that reached the table (typed before the box took the
            # focus, as tmux showed with "/ g 2 Enter" sent at once) applies the filter, never opens a group.
            return
        group = self.selected_group
        if group is not None:
            self.dismiss(group)

    def stop_polling(self) -> None:
        """The app is quitting: stop waiting on Kafka at once, and the child with it."""
        self._cancel.set()
        if self._collector is not None:
            self._collector.close()
