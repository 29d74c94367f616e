"""``deliverytui replay FILE.db``: the live view's screen, showing a recording instead of a cluster.

The same widgets as :class:`~deliverytui.tui.app.DeliveryApp` (header, partitions table, sparklines,
selected partition, members, dedup panel, event log), fed by a :class:`~deliverytui.tui.replay_source.ReplaySource`
instead of the poll worker, plus a :class:`~deliverytui.tui.widgets.time_bar.TimeBar`.

Read-only by construction: this app is not a DeliveryApp. It has no fetcher that reaches Kafka, no
group picker, no fleet, no reset or delete screen and no binding for them; its only input is the
recording, opened read-only by the recorder's reader.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Input

from deliverytui.model.text import shown_name, visible
from deliverytui.tui.group_view import GROUP_VIEW_BINDINGS, GroupViewKeys, group_view_body
from deliverytui.tui.replay_source import ReplaySource, ReplayView, local_time
from deliverytui.tui.replay_time import TIME_FORMATS, parse_instant
from deliverytui.tui.widgets.bottom_prompt import BottomPrompt, TopicFilterBox
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
from deliverytui.tui.widgets.time_bar import TimeBar

#: Playback speeds ``+``/``-`` step through (× the recorded pace).
SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
#: The longest wait between two frames while playing (a long outage plays as this gap, at speed 1).
MAX_PLAY_GAP_S = 10.0


class ReplayApp(GroupViewKeys, App[None]):
    """A recording on the live view's screen; ``[``/``]`` step, space plays, ``t`` jumps, Home/End."""

    CSS_PATH = "app.tcss"
    TITLE = "deliverytui replay"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("left_square_bracket", "step(-1)", "Back"),
        Binding("right_square_bracket", "step(1)", "Forward"),
        Binding("space", "toggle_play", "Play"),
        Binding("t", "goto", "Time"),
        # Priority: the partitions table binds Home/End to its first and last rows.
        Binding("home", "jump('first')", "Start", show=False, priority=True),
        Binding("end", "jump('last')", "End", show=False, priority=True),
        Binding("plus", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        *GROUP_VIEW_BINDINGS,
    ]

    def __init__(self, source: ReplaySource, path: str | Path) -> None:
        super().__init__()
        self.source = source
        self.path = Path(path)
        self.index = 0
        self.playing = False
        self.speed = 1.0
        self.view: ReplayView | None = None
        self._events_through = -1  # the event log holds the recorded lines of frames 0..this
        self._play_timer = None
        self._cancel = threading.Event()

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield GroupHeader(id="header")
        yield TimeBar(self.source.instants, self.source.outages, id="timebar")
        yield ConnectionBanner(id="banner")
        yield group_view_body()
        yield EventLog(id="events")
        yield TopicFilterBox(id="filter")
        yield BottomPrompt(placeholder=f"go to: {TIME_FORMATS}", id="goto")
        yield Footer()

    def on_mount(self) -> None:
        self._table = self.query_one(PartitionsTable)
        self._table.resort_seconds = 0.0  # a jump must show the order of its own instant at once
        self._header = self.query_one(GroupHeader)
        self._bar = self.query_one(TimeBar)
        self._banner = self.query_one(ConnectionBanner)
        self._members = self.query_one(MembersPanel)
        self._sparks = self.query_one(LagSparklines)
        self._selected = self.query_one(SelectedPartitionPanel)
        self._dedup = self.query_one(DedupPanel)
        self._events = self.query_one(EventLog)
        header = self.source.header
        self.title = f"deliverytui REPLAY — {shown_name(header.group)}"
        if not self.source.instants:
            self._banner.show_problem(f"the recording {self.path.name} holds no frame yet")
            self._render_header()
            return
        self.show_frame(0)
        # Pipeline copies ahead of the screen (a jump then derives at most 25 frames), in a thread of their own.
        self.run_worker(lambda: self.source.prepare(self._cancel), thread=True, group="prepare", exit_on_error=False)

    # -- showing frame k -----------------------------------------------------------
    def show_frame(self, index: int) -> None:
        """Show what the live view showed at frame ``index`` (clamped to the recording)."""
        count = len(self.source)
        if not count:
            return
        self.index = min(max(index, 0), count - 1)
        view = self.view = self.source.view_at(self.index, self._table.selected_key)
        frame = view.frame
        with self.batch_update():
            if frame.failure:
                self._banner.show_problem(f"recorded: {frame.failure}")
            else:
                self._banner.clear_problem()
            update = view.update
            if update is not None:
                self._table.show_update(update)
                self._members.show(update.snapshot)
            else:
                self._table.apply({})
                self._members.show(None)
            self._render_sparks()
            self._render_dedup()
            self._render_events()
            self._render_header()
            self._bar.show(self.index, playing=self.playing, speed=self.speed)

    def _render_header(self) -> None:
        header = self.source.header
        view = self.view
        update = view.update if view else None
        cluster = f"{header.bootstrap} (id {header.cluster_id})" if header.cluster_id else header.bootstrap
        self._header.show_update(
            visible(cluster), header.group, update, stale=bool(view and view.stale), paused=False,
            now=local_time(view.frame.at) if view else None, mode=f"REPLAY of {visible(self.path.name)}",
        )

    def _render_sparks(self) -> None:
        update = self.view.update if self.view else None
        key = self._table.selected_key
        if update is None:
            self._sparks.show([], "group lag", [], "selected partition lag")
            self._selected.show(None, None, None, None, "no snapshot recorded yet at this instant")
            return
        self._sparks.show_update(update, key)
        self._selected.show_update(key, update)

    def _render_dedup(self) -> None:
        view = self.view
        if view is None or view.dedup is None:
            self._dedup.show_text(Text("dedup: no store counters recorded at this instant", style="dim"))
        else:
            self._dedup.show_data(view.dedup, view.dedup_rates, None)

    def _render_events(self) -> None:
        """The recorded event lines up to this frame: appended when stepping forward, rebuilt on a jump."""
        log = self._events
        if self.index == self._events_through + 1:
            lines = [(self.view.frame.at, text, style) for text, style in self.view.frame.events]
        else:
            log.clear()
            log.entries.clear()
            lines = list(self.source.events_until(self.index))
        for at, text, style in lines:
            log.add(text, style, at=local_time(at))
        self._events_through = self.index

    @on(PartitionsTable.RowHighlighted)
    def _on_row_highlighted(self) -> None:
        if self.view is not None:
            # The selected partition's series and drain, derived for it at this instant.
            self.view = self.source.view_at(self.index, self._table.selected_key)
            self._render_sparks()

    # -- moving in time ----------------------------------------------------------------
    def action_step(self, frames: int) -> None:
        self._stop_playing()
        self.show_frame(self.index + frames)

    def action_jump(self, where: str) -> None:
        focused = self.focused
        if isinstance(focused, Input):  # typing a time or a filter: Home/End move in the text
            focused.action_home() if where == "first" else focused.action_end()
            return
        self._stop_playing()
        self.show_frame(0 if where == "first" else len(self.source) - 1)

    def action_toggle_play(self) -> None:
        if self.playing:
            self._stop_playing()
            self._bar.show(self.index, playing=False, speed=self.speed)
            return
        if self.index >= len(self.source) - 1:
            self.show_frame(0)  # at the end: play from the start
        self.playing = True
        self._bar.show(self.index, playing=True, speed=self.speed)
        self._schedule_next()

    def action_speed(self, direction: int) -> None:
        position = SPEEDS.index(self.speed) + direction
        self.speed = SPEEDS[min(max(position, 0), len(SPEEDS) - 1)]
        self._bar.show(self.index, playing=self.playing, speed=self.speed)

    def _schedule_next(self) -> None:
        instants = self.source.instants
        if self.index >= len(instants) - 1:
            self._stop_playing()
            self._bar.show(self.index, playing=False, speed=self.speed)
            return
        gap = min(MAX_PLAY_GAP_S, max(0.0, instants[self.index + 1] - instants[self.index])) / self.speed
        self._play_timer = self.set_timer(max(gap, 0.01), self._play_step)

    def _play_step(self) -> None:
        self._play_timer = None
        if self.playing:
            self.show_frame(self.index + 1)
            self._schedule_next()

    def _stop_playing(self) -> None:
        self.playing = False
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def action_goto(self) -> None:
        self._stop_playing()
        self.query_one("#goto", BottomPrompt).open()

    @on(Input.Submitted, "#goto")
    def _goto_submitted(self, event: Input.Submitted) -> None:
        instants = self.source.instants
        if not instants:
            return
        try:
            at = parse_instant(event.value, instants[0], instants[-1])
        except ValueError as exc:
            event.input.border_title = visible(str(exc))  # one line in the input; nothing else changes
            return
        self.query_one("#goto", BottomPrompt).empty_and_close()
        self.show_frame(self.source.reader.index_at(at))

    def on_unmount(self) -> None:
        self._cancel.set()
        self._stop_playing()
        self.source.close()
