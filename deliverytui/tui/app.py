"""The live view: ``deliverytui --group G`` attaches to a consumer group and watches it deliver.

Data flows one way: a thread worker (confluent-kafka is synchronous) takes a snapshot
and derives rows, statuses and events (:mod:`deliverytui.tui.fetch`), then posts one
immutable update; the UI thread only renders it. Polls never overlap: the next one is
scheduled when the previous one finished (a self-re-arming timer), with backoff while
the cluster is unreachable.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from deliverytui.errors import (
    AuthenticationError,
    ClusterUnreachableError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model.text import shown_name
from deliverytui.tui.dedup_host import DedupWatchHost
from deliverytui.tui.fetch import GroupFetcher, ViewUpdate
from deliverytui.tui.fleet_host import FleetViewHost
from deliverytui.tui.group_view import GROUP_VIEW_BINDINGS, GroupViewKeys, group_view_body
from deliverytui.tui.messages import CollectionFailed, GroupsListed, SnapshotArrived
from deliverytui.tui.rebalance_host import RebalanceViewHost
from deliverytui.tui.recorder_host import RecorderHost
from deliverytui.tui.screens.folded_events import FoldedEventsScreen
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.screens.reset import DeleteOffsetsScreen, ResetOffsetsScreen, resetter_factory
from deliverytui.tui.screens.share_group import session_share_collector
from deliverytui.tui.share_host import ShareViewHost
from deliverytui.tui.slides_host import SlidesHost
from deliverytui.tui.stuck_host import StuckHost
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.bottom_prompt import TopicFilterBox
from deliverytui.tui.widgets.panels import (
    ConnectionBanner,
    DedupPanel,
    EventLog,
    GroupHeader,
    LagSparklines,
    MembersPanel,
    SelectedPartitionPanel,
)
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from deliverytui.tui.widgets.stuck_panel import StuckPanel

__all__ = ["DeliveryApp", "ViewerConfig"]

#: Garbage-collector thresholds while the live view runs. A refresh of a 5,000-partition
#: group replaces tens of thousands of small, acyclic objects (rows, cells, offsets) that
#: reference counting frees; with CPython's defaults (700, 10, 10) they still triggered
#: ~100 young and ~one full collection per refresh, the full ones traversing the whole heap
#: (~150 ms of CPU a refresh, landing at random inside a refresh). Fewer, larger young
#: collections and rarer full ones cost ~45 ms; cycles are still collected.
GC_THRESHOLDS = (10_000, 50, 100)


class DeliveryApp(
    FleetViewHost, RebalanceViewHost, StuckHost, ShareViewHost, DedupWatchHost, RecorderHost, SlidesHost, GroupViewKeys,
    App[None],
):
    """The live view (the fleet: :mod:`~deliverytui.tui.fleet_host`; share groups:
    :mod:`~deliverytui.tui.share_host`; "stuck on what?": :mod:`~deliverytui.tui.stuck_host`;
    KIP-848 epochs: :mod:`~deliverytui.tui.rebalance_host`)."""

    CSS_PATH = "app.tcss"
    TITLE = "deliverytui"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        *GROUP_VIEW_BINDINGS,
        Binding("g", "open_fleet", "Fleet"),
        Binding("G", "pick_group", "Pick group", show=False),
        Binding("escape", "open_fleet", "Fleet", show=False),
        Binding("r", "reset_offsets", "Reset"),
        Binding("x", "delete_offsets", "Delete offsets"),
        Binding("i", "inspect_record", "Record"),
        Binding("k", "skip_record", "Skip record"),
        Binding("e", "expand_events", "Expand events", show=False),
        Binding("T", "cycle_theme", "Theme", show=False),
        Binding("S", "save_slide", "Slide", show=False),
    ]

    def __init__(
        self,
        config: ViewerConfig,
        *,
        fetcher_factory: Callable[[ViewerConfig, str, threading.Event], GroupFetcher] | None = None,
        clock: Callable[[], datetime] | None = None,
        share_collector_factory: Callable[[ViewerConfig, threading.Event], Any] | None = None,
    ) -> None:
        """``fetcher_factory``, ``share_collector_factory`` and ``clock`` let snapshot tests replay recorded data."""
        super().__init__()
        self.config = config
        self._fetcher_factory = fetcher_factory or GroupFetcher
        self.clock = clock or (lambda: datetime.now(UTC))
        self.group = config.group
        self.paused = False
        self.update: ViewUpdate | None = None
        self.stale = False
        self.failures = 0
        self.polls_completed = 0
        self._pending: ViewUpdate | None = None
        self._cancel = threading.Event()
        self._fetcher = self.diagnosed(self._fetcher_factory(config, self.group, self._cancel))
        self.shares = (share_collector_factory or session_share_collector)(config, self._cancel)  # starts nothing yet
        self._poll_timer = None
        self._last_problem: str | None = None
        self.apply_seconds: deque[float] = deque(maxlen=1000)
        self._saved_gc_thresholds: tuple[int, int, int] | None = None
        self._gc_frozen = False

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield GroupHeader(id="header")
        yield ConnectionBanner(id="banner")
        yield group_view_body(StuckPanel(id="stuck"))
        yield EventLog(id="events")
        yield TopicFilterBox(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        # Held references: handlers and timers that run while the app shuts down must not
        # query a torn-down screen (a query there raises NoMatches).
        self._table = self.query_one(PartitionsTable)
        self._header = self.query_one(GroupHeader)
        self._members = self.query_one(MembersPanel)
        self._sparks = self.query_one(LagSparklines)
        self._selected = self.query_one(SelectedPartitionPanel)
        self._banner = self.query_one(ConnectionBanner)
        self._dedup = self.query_one(DedupPanel)
        self._table.resort_seconds = self.config.resort_seconds
        self.install_slide_themes()
        self._saved_gc_thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        self.title = f"deliverytui — {shown_name(self.group)}"
        self._event_log = self.query_one(EventLog)
        self._event_log.clock = self.clock
        if self.config.dedup_url or self.DEDUP_FOLLOWS_GROUP:
            self._dedup.show_text(Text("dedup: connecting…", style="dim"))
            self.watch_dedup(self._dedup, self._event_log)
        else:
            self._dedup.show_disabled()
        self._render_header()
        self.set_interval(1.0, self._render_header)  # data age ticks even between polls
        self._start_poll() if self.group else self.action_open_fleet()  # no --group: every group first

    # -- polling -----------------------------------------------------------------
    def _start_poll(self) -> None:
        self._poll_timer = None
        if not (self.paused or self._cancel.is_set() or self.share_screen is not None or self.fleet_in_front):
            self._poll(self._fetcher)

    def poll_now(self) -> None:
        self._schedule_poll(0)

    def _schedule_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(max(delay, 0.01), self._start_poll)

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def _poll(self, fetcher: GroupFetcher) -> None:
        group = fetcher.group
        try:
            update = fetcher.fetch()
        except CollectionCancelled:
            return
        except UnknownGroupError as exc:
            if not self.share_group_found(group):
                self.post_message(CollectionFailed("unknown-group", self.unknown_group_text(str(exc)), group))
        except ClusterUnreachableError as exc:
            self.post_message(CollectionFailed("unreachable", str(exc), group))
        except AuthenticationError as exc:
            self.post_message(CollectionFailed("auth", str(exc), group))
        except UserFacingError as exc:
            self.post_message(CollectionFailed("error", str(exc), group))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the live view; it is shown instead
            self.post_message(CollectionFailed("error", f"{type(exc).__name__}: {one_line(str(exc))}", group))
        else:
            self.post_message(SnapshotArrived(update, group))

    @property
    def closing(self) -> bool:
        """True once quitting has begun: ``q`` sets the cancel flag, but a shutdown Textual starts
        itself (``run_test`` leaving its block) pops the screens while the message loop still runs,
        and a poll answer still queued must then be dropped, not rendered into an empty stack."""
        return self._cancel.is_set() or not self.is_running or not self.screen_stack

    @on(SnapshotArrived)
    def show_snapshot(self, message: SnapshotArrived) -> None:
        update = message.update
        if self.closing:
            return
        if message.group != self.group:
            return  # a poll for the group we switched away from
        self.polls_completed += 1
        events = self._event_log
        if self.stale or self._last_problem:
            events.add(f"connection recovered: reading {self.config.bootstrap} again", "bold green")
        self.stale = False
        self.failures = 0
        self._last_problem = None
        self._banner.clear_problem()
        details = update.event_details
        for text, style in update.events:
            events.add(text, style, details=details.get(text, ()))
        self.record_poll(update)  # --record (recorder_host)
        self.observe_rebalance(update.snapshot)
        if isinstance(self.screen, Screen) and self.screen is not self.screen_stack[0]:
            self._pending = update  # a modal is open: render when it closes
        else:
            self._render(update)
        if not self._gc_frozen:
            # Everything alive after the first snapshot (Textual, the widgets, the first rows)
            # lives as long as the app: keep full collections from re-traversing it.
            self._gc_frozen = True
            gc.freeze()
        self._schedule_poll(self.config.refresh_seconds)

    @on(CollectionFailed)
    def show_failure(self, message: CollectionFailed) -> None:
        if self.closing or message.group != self.group:
            return
        self.failures += 1
        delay = min(self.config.max_backoff_seconds, self.config.refresh_seconds * (2 ** min(self.failures - 1, 10)))
        if message.kind == "unknown-group":
            problem = f"{message.text} — it may not have been created yet; checking again in {delay:.0f}s"
            if self.update is not None and self._last_problem is None:
                self._event_log.add(f"group {shown_name(self.group)} disappeared", "bold red")
        elif message.kind == "unreachable":
            problem = f"{message.text} — {'showing the last snapshot' if self.update else 'no snapshot yet'}; retrying in {delay:.0f}s"
            if self._last_problem is None:
                self._event_log.add(f"connection lost: {message.text}", "bold red")
        else:
            problem = f"{message.text} — retrying in {delay:.0f}s"
            if self._last_problem != message.text:
                self._event_log.add(message.text, "bold red")
        self._last_problem = message.text
        self.stale = self.update is not None
        self._banner.show_problem(problem)
        self.record_poll(failure=message.text)
        self._render_header()
        self._schedule_poll(delay)

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        # Every poll catches its own errors; this only reports a bug in the worker plumbing.
        if event.state == WorkerState.ERROR and event.worker.group == "poll":
            self._banner.show_problem(f"internal error: {event.worker.error}")
            self._schedule_poll(self.config.refresh_seconds)

    # -- the dedup store --------------------------------------------------------------
    DEDUP_FOLLOWS_GROUP = False
    """True where each group has its own store (the lab): :meth:`dedup_url_for` picks it per group."""

    # -- rendering -----------------------------------------------------------------
    def _render(self, update: ViewUpdate) -> None:
        started = time.perf_counter()
        self.update = update
        with self.batch_update():
            self._table.show_update(update)
            self._members.show(update.snapshot)
            self._render_header()
            self._render_sparks()
        self.apply_seconds.append(time.perf_counter() - started)  # read by benchmarks/tui_refresh.py

    def _render_header(self) -> None:
        self._header.show_update(
            self.config.bootstrap, self.group, self.update, stale=self.stale, paused=self.paused, now=self.clock()
        )

    def _render_sparks(self) -> None:
        update = self.update
        if update is None:
            return
        key = self._table.selected_key
        self._sparks.show_update(update, key)
        self._selected.show_update(key, update)
        self.show_stuck(update, key)

    @on(PartitionsTable.RowHighlighted)
    def _on_row_highlighted(self) -> None:
        self._fetcher.selected_key = self._table.selected_key
        self._render_sparks()

    def on_screen_resume(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._render(pending)

    # -- actions -------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(), callback=lambda _: self._flush_pending())

    def action_expand_events(self) -> None:
        """``e``: every partition behind the event log's folded lines (a flood of status changes)."""
        self.push_screen(FoldedEventsScreen(self._event_log.folded()))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._event_log.add("paused: the view is frozen" if self.paused else "resumed", "yellow")
        self._render_header()
        if not self.paused:
            self._schedule_poll(0)

    def action_pick_group(self) -> None:
        self._list_groups(self._fetcher)

    @work(thread=True, exclusive=True, exit_on_error=False, group="groups")
    def _list_groups(self, fetcher: GroupFetcher) -> None:
        try:
            self.post_message(GroupsListed(self.with_share_groups(fetcher.list_groups())))
        except CollectionCancelled:
            return
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.post_message(GroupsListed([], error=one_line(exc)))

    @on(GroupsListed)
    def _on_groups(self, message: GroupsListed) -> None:
        if message.error:
            self.notify(f"cannot list groups: {message.error}", severity="error")
            return
        self.push_screen(GroupPickerScreen(message.groups, self.group), callback=self._switch_group)

    def _switch_group(self, group: str | None) -> None:
        self._flush_pending()
        if not group or group == self.group:
            return
        self.switch_group(group)

    def switch_group(self, group: str) -> None:
        self.close_share_view()
        self.group = group
        self.title = f"deliverytui — {shown_name(group)}"
        self.update = None
        self.stale = False
        self.failures = 0
        self._last_problem = None
        old_fetcher, self._fetcher = self._fetcher, self.diagnosed(self._fetcher_factory(self.config, group, self._cancel))
        self._close_later(old_fetcher)
        self._banner.clear_problem()
        self._table.apply({})
        self._members.show(None)
        self._event_log.add(f"switched to group {shown_name(group)}", "bold")
        self._render_header()
        self._schedule_poll(0)

    def action_reset_offsets(self) -> None:
        if not self.config.allow_writes:
            self.notify("read-only: offset reset needs --allow-writes", severity="warning")
            return
        self._open_write_screen(ResetOffsetsScreen)

    def action_delete_offsets(self) -> None:
        if not self.config.allow_writes:
            self.notify("read-only: deleting offsets needs --allow-writes", severity="warning")
            return
        self._open_write_screen(DeleteOffsetsScreen)

    def _open_write_screen(self, screen_class) -> None:
        if self.update is not None and self.update.snapshot.members:
            # Kafka refuses offset changes for a group with active members; say so up front.
            self.notify(
                f"group {shown_name(self.group)} has {len(self.update.snapshot.members)} active member(s): "
                "stop its consumers first (the dry run still shows what would change)",
                severity="warning",
            )
        make = resetter_factory(self.config.bootstrap, self.config.client_config, self.config.request_timeout)
        self.push_screen(screen_class(self.group, make, self.config.allow_writes), callback=self.after_write)

    def after_write(self, summary: str | None) -> None:
        self._flush_pending()
        if summary:
            self._event_log.add(f"you: {summary}", "bold magenta")
            self.notify(summary)
            self._schedule_poll(0)

    def _flush_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._render(pending)

    @work(thread=True, group="close")
    def _close_later(self, fetcher: GroupFetcher) -> None:
        fetcher.close()

    async def action_quit(self) -> None:
        self._cancel.set()  # running polls stop waiting on Kafka at once
        self.exit()

    def on_unmount(self) -> None:
        self._cancel.set()
        self._fetcher.close()
        self.close_shares()
        self.close_fleet()
        self.stop_recording()
        if self._gc_frozen:
            gc.unfreeze()
        if self._saved_gc_thresholds is not None:
            gc.set_threshold(*self._saved_gc_thresholds)
