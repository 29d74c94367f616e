"""The live view of a share group (KIP-932): its own screen, pushed over the consumer-group view.

A share group has no committed offsets, no per-consumer positions and no single owner per
partition, so the consumer-group table would be mostly dashes and one wrong column. This screen
shows what a share group has: per partition the share-partition start offset, Kafka's share lag,
the log end, a sparkline of the share lag, the client ids of every member that owns it, and the
Burrow status judged on the start offset (:mod:`deliverytui.lag.share` gives the mapping).

Data flows one way, as in the consumer-group view: a thread worker asks the session's
:class:`~deliverytui.kafka.share_collector.ShareGroupCollector` (owned by the app, one Java admin
helper for the whole session) through a :class:`~deliverytui.tui.share_rows.ShareFetcher`, and
posts one immutable :class:`~deliverytui.tui.share_rows.ShareViewUpdate`; this screen renders it.
Polls never overlap: the next is scheduled when the previous one finished.

The view is read-only: ``r`` and ``x`` say so in one line and name the CLI command that does it
(``deliverytui reset`` / ``delete-offsets`` on the group, dry run first, while it has no members).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from deliverytui.errors import UserFacingError, one_line
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.kafka.share_collector import ShareGroupCollector
from deliverytui.model.share import ShareGroupSnapshot
from deliverytui.model.text import shown_name, visible
from deliverytui.tui.messages import ShareCollectionFailed, ShareSnapshotArrived
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.share_rows import (
    SHARE_COLUMNS,
    ShareFetcher,
    ShareRowView,
    ShareSnapshots,
    ShareViewUpdate,
)
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog, LagSparklines

SHARE_HELP_KEYS = (
    ("?", "this help"),
    ("q", "quit"),
    ("p", "pause / resume refreshing"),
    ("g", "the fleet: every group worst first (Enter opens one, Esc comes back)"),
    ("G", "switch group from a plain list (consumer, classic and share groups)"),
    ("r / x", "refused here: use deliverytui reset / delete-offsets --group (dry run first)"),
    ("T / S", "next colour theme / save this screen as an SVG slide"),
    ("ctrl+p", "command palette"),
)

#: Two lines each for the two figures a share group is judged by (the help's legend); each fits the
#: help's legend column (about 80 cells), so a line is a line on screen.
SHARE_LEGEND = (
    ("Start offset", "where the queue starts: every record below it is acknowledged or archived"),
    ("", "(the share-partition start offset; it moves as a committed offset would)"),
    ("Share lag", "records from the start offset on that are not acknowledged yet, in flight too:"),
    ("", "Kafka's own figure, as kafka-share-groups --describe prints it"),
    ("Owners", "client ids of every member assigned the partition (several may share one)"),
    ("Status", "Burrow's rules on the start offset instead of a committed offset"),
)


def session_share_collector(config: ViewerConfig, cancel: threading.Event) -> ShareGroupCollector:
    """The app's one share-group collector: the Java helper starts (and is built, once) on first use only."""
    from deliverytui.broker.admin_helper import admin_helper_command

    return ShareGroupCollector(
        config.bootstrap, config.client_config, helper_command=admin_helper_command,
        request_timeout=config.request_timeout, cancel_event=cancel,
    )  # fmt: skip


class ShareHeader(Static):
    """Cluster and share group; state, epochs, members, partitions, total share lag, status, data age."""

    DEFAULT_CSS = """
    ShareHeader { height: 2; padding: 0 1; background: $panel; }
    """

    _shown_text: Text | None = None

    def show(self, bootstrap: str, group: str, update: ShareViewUpdate | None, *, stale: bool, paused: bool, now: datetime) -> None:
        line1 = Text()
        line1.append("deliverytui ", "bold")
        line1.append(f"cluster {bootstrap}  ")
        line1.append("share group ", "dim")
        line1.append(shown_name(group), "bold cyan")
        if paused:
            line1.append("  PAUSED", "bold reverse yellow")
        if stale:
            line1.append("  STALE", "bold reverse red")
        line2 = Text()
        if update is None:
            line2.append("waiting for the first snapshot of the share group…", "dim")
        else:
            snapshot = update.snapshot
            age = max(0.0, (now - snapshot.taken_at).total_seconds())
            for label, value in (
                ("type ", "share"),
                ("state ", snapshot.state),
                ("group epoch ", str(snapshot.group_epoch)),
                ("assignment epoch ", str(snapshot.assignment_epoch)),
                ("members ", str(len(snapshot.members))),
                ("partitions ", str(len(snapshot.partitions))),
                ("total share lag ", f"{snapshot.total_lag:,}"),
                ("status ", update.group_status),
                ("data age ", f"{age:.0f}s"),
            ):
                line2.append(label, "dim")
                line2.append(value + "  ", "bold red" if label == "status " and value not in ("OK", "-") else "bold")
        text = Text("\n").join([line1, line2])
        if text != self._shown_text:  # re-shown every second for the data age: skip the unchanged ones
            self._shown_text = text
            self.update(text, layout=False)


def members_text(snapshot: ShareGroupSnapshot | None) -> Text:
    """Each member: client id @ host, member epoch, and the partitions it is assigned."""
    if snapshot is None:
        return Text("members: -", style="dim")
    if not snapshot.members:
        return Text(f"no active members ({snapshot.state})", style="dim")
    text = Text()
    for member in snapshot.members:
        by_topic: dict[str, list[int]] = {}
        for tp in member.assignment:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        assigned = "; ".join(f"{t}:{','.join(map(str, sorted(ps)))}" for t, ps in sorted(by_topic.items())) or "-"
        text.append(f"{member.client_id}@{member.host}", "bold")
        text.append(f" epoch {member.member_epoch}\n", "dim")
        text.append(f"  {assigned}\n")
    return text


class ShareGroupScreen(Screen[None]):
    """The share group ``group``, polled through ``snapshots`` (the app's session collector)."""

    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("g", "open_fleet", "Fleet"),
        Binding("G", "pick_group", "Pick group", show=False),
        Binding("r", "refuse_write('reset offsets')", "Reset"),
        Binding("x", "refuse_write('delete offsets')", "Delete offsets"),
    ]
    DEFAULT_CSS = """
    ShareGroupScreen { layout: vertical; }
    ShareGroupScreen #share-body { height: 1fr; }
    ShareGroupScreen #share-partitions { width: 1fr; height: 1fr; }
    ShareGroupScreen #share-side { width: 38; border-left: solid $primary; padding: 0 1; }
    ShareGroupScreen .section-title { text-style: bold; margin-top: 1; }
    """

    def __init__(
        self,
        config: ViewerConfig,
        group: str,
        snapshots: ShareSnapshots,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.group = group
        self.fetcher = ShareFetcher(snapshots, group)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.latest: ShareViewUpdate | None = None
        self.paused = False
        self.stale = False
        self.failures = 0
        self.polls_completed = 0
        self.stopped = False
        self._timer = None
        self._last_problem: str | None = None
        self._selected: str | None = None
        self._shown_rows: dict[str, ShareRowView] = {}

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ShareHeader(id="share-header")
        yield ConnectionBanner(id="share-banner")
        with Horizontal(id="share-body"):
            yield DataTable(id="share-partitions", cursor_type="row", zebra_stripes=True)
            with Vertical(id="share-side"):
                yield LagSparklines(id="share-sparks")
                yield Label("Members", classes="section-title")
                yield Static(id="share-members")
        yield EventLog(id="share-events")
        yield Footer()

    def on_mount(self) -> None:
        self._table = self.query_one(DataTable)
        for key, label in SHARE_COLUMNS:
            self._table.add_column(label, key=key)
        self._header = self.query_one(ShareHeader)
        self._banner = self.query_one(ConnectionBanner)
        self._events = self.query_one(EventLog)
        self._events.clock = self.clock
        self._sparks = self.query_one(LagSparklines)
        self._members = self.query_one("#share-members", Static)
        self._members.update(members_text(None))
        self.sub_title = "share group"
        self._show_header()
        self.set_interval(1.0, self._show_header)
        self._table.focus()
        self._start_poll()

    # -- polling ------------------------------------------------------------------------
    def stop_polling(self) -> None:
        """No further polls (the app switches away or quits); a poll under way finishes and is ignored."""
        self.stopped = True
        if self._timer is not None:
            self._timer.stop()

    def _start_poll(self) -> None:
        self._timer = None
        if not (self.stopped or self.paused):
            self._poll(self.fetcher)

    def _schedule_poll(self, delay: float) -> None:
        if self.stopped:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.01), self._start_poll)

    @work(thread=True, exclusive=True, exit_on_error=False, group="share-poll")
    def _poll(self, fetcher: ShareFetcher) -> None:
        try:
            update = fetcher.fetch()
        except CollectionCancelled:
            return
        except UserFacingError as exc:
            self.post_message(ShareCollectionFailed(str(exc), fetcher.group))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the live view; it is shown instead
            self.post_message(ShareCollectionFailed(f"{type(exc).__name__}: {one_line(str(exc))}", fetcher.group))
        else:
            self.post_message(ShareSnapshotArrived(update, fetcher.group))

    @on(ShareSnapshotArrived)
    def _on_snapshot(self, message: ShareSnapshotArrived) -> None:
        if self.stopped or message.group != self.group:
            return
        self.polls_completed += 1
        if self.stale or self._last_problem:
            self._events.add(f"connection recovered: reading {self.config.bootstrap} again", "bold green")
        self.stale = False
        self.failures = 0
        self._last_problem = None
        self._banner.clear_problem()
        for text, style in message.update.events:
            self._events.add(text, style)
        self._show_update(message.update)
        self._schedule_poll(self.config.refresh_seconds)

    @on(ShareCollectionFailed)
    def _on_failure(self, message: ShareCollectionFailed) -> None:
        if self.stopped or message.group != self.group:
            return
        self.failures += 1
        delay = min(self.config.max_backoff_seconds, self.config.refresh_seconds * (2 ** min(self.failures - 1, 10)))
        if self._last_problem != message.text:
            self._events.add(message.text, "bold red")
        self._last_problem = message.text
        self.stale = self.latest is not None
        self._banner.show_problem(f"{message.text} — retrying in {delay:.0f}s")
        self._show_header()
        self._schedule_poll(delay)

    # -- rendering ----------------------------------------------------------------------
    def _show_update(self, update: ShareViewUpdate) -> None:
        self.latest = update
        table = self._table
        with self.app.batch_update():
            if list(update.rows) != [str(key.value) for key in table.rows]:
                table.clear()  # partitions came or went (rare): rebuild in the snapshot's order
                for key, row in update.rows.items():
                    table.add_row(*(Text(text, style=style) for text, style in row.cells), key=key)
            else:
                previous = self._shown_rows
                for key, row in update.rows.items():
                    old = previous.get(key)
                    for (column, _), cell, old_cell in zip(SHARE_COLUMNS, row.cells, old.cells if old else (None,) * len(row.cells)):
                        if cell != old_cell:
                            table.update_cell(key, column, Text(cell[0], style=cell[1]))
            self._shown_rows = update.rows
            self._members.update(members_text(update.snapshot))
            self._show_header()
            self._show_sparks()

    def _show_header(self) -> None:
        self._header.show(self.config.bootstrap, self.group, self.latest, stale=self.stale, paused=self.paused, now=self.clock())

    def _show_sparks(self) -> None:
        update = self.latest
        if update is None:
            return
        key = self._selected
        self._sparks.show(
            list(update.group_lag_series),
            f"total share lag (now {update.snapshot.total_lag:,})",
            list(update.partition_lag_series.get(key, ())) if key else [],
            f"share lag of {visible(key)}" if key else "selected partition share lag",
        )

    @on(DataTable.RowHighlighted)
    def _on_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._selected = None if event.row_key is None else str(event.row_key.value)
        self._show_sparks()

    # -- actions ------------------------------------------------------------------------
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(SHARE_HELP_KEYS, SHARE_LEGEND, title="Keys (share group)"))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._events.add("paused: the view is frozen" if self.paused else "resumed", "yellow")
        self._show_header()
        if not self.paused:
            self._schedule_poll(0)

    def action_open_fleet(self) -> None:
        self.app.action_open_fleet()  # type: ignore[attr-defined] - the app's fleet lists every type

    def action_pick_group(self) -> None:
        self.app.action_pick_group()  # type: ignore[attr-defined] - the live view's picker lists every type

    def action_refuse_write(self, what: str) -> None:
        self.notify(
            f"read-only: cannot {what} of share group {shown_name(self.group)} here; "
            f"use 'deliverytui reset --group {shown_name(self.group)}' (or delete-offsets): dry run first, "
            "--execute while it has no members",
            severity="warning",
        )

    async def action_quit(self) -> None:
        self.stop_polling()
        await self.app.action_quit()
