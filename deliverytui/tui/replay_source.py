"""The replay's stand-in for the poll worker: frame k of a recording → what the live view showed then.

A recording (:mod:`deliverytui.recorder.store`) holds, per poll, the snapshot and positions the live
view read, the statuses and event lines it showed, and the dedup counters. :class:`ReplaySource` feeds
the recorded snapshots through the live view's own pipeline (:meth:`GroupFetcher.derive
<deliverytui.tui.fetch.GroupFetcher.derive>`: lag history, rows, estimates), so sparklines, trends
and drain are computed exactly as they were live, and it answers for any frame.

Jumping: the pipeline's state after frame k depends on every snapshot before k (a partition's
"moved" age and its commit window can reach back to the first frame: a stopped partition keeps
its old window), so no bounded window of earlier frames rebuilds it exactly. The source keeps a
copy of the pipeline every ``checkpoint_every`` frames as it passes them, and a jump continues from
the nearest copy at or before the target: at most ``checkpoint_every`` snapshots to derive, and the
same result as deriving from frame 0 (a test checks that).

Nothing here opens a Kafka client: the fetcher is given no inspector and reads no positions, and
:class:`RecordedFetcher` refuses the one lazy client its base could still open.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from deliverytui.errors import UserFacingError
from deliverytui.model.dedup import CounterSample, DedupPanelData, DedupRates, rate_over_window
from deliverytui.model.group import GroupSnapshot
from deliverytui.model.recording import RecordedFrame, RecordingHeader
from deliverytui.tui.fetch import GroupFetcher, ViewUpdate, checked_positions
from deliverytui.tui.rows import COLUMN_KEYS, STATUS_STYLES, RowView
from deliverytui.tui.viewer_config import ViewerConfig

#: How often (in frames) the source keeps a copy of the pipeline to jump back to.
CHECKPOINT_EVERY = 25
#: Decoded frames kept for the next read (a frame of 5,000 partitions is a few MB of objects).
FRAMES_KEPT = 8
#: Event lines the replay's log shows at most (the live view's EventLog keeps 500).
EVENT_LINES = 500
#: The dedup panel's rates are over this many seconds, as in the live view.
DEDUP_RATE_WINDOW_S = 60.0
_STATUS_COLUMN = COLUMN_KEYS.index("status")


class RecordedFetcher(GroupFetcher):
    """The live view's fetcher with the recording in place of Kafka: :meth:`derive` only, positions as recorded."""

    def __init__(self, config: ViewerConfig) -> None:
        super().__init__(config, config.group, threading.Event(), read_positions=False)
        self.recorded_positions: Any = None  # the PositionsView of the frame being derived

    @property
    def inspector(self):  # type: ignore[override]
        raise UserFacingError("a replay reads its recording, never Kafka")

    def record_reader(self):  # type: ignore[override]
        raise UserFacingError("a replay reads its recording, never Kafka")

    def positions_for(self, snapshot: GroupSnapshot) -> dict[str, object]:
        view = self.recorded_positions
        self.checked_positions = None
        if view is None or view.error:
            self.positions_note = "positions: none recorded at this instant"
            return {}
        self.checked_positions, self.positions_note = checked_positions(view, snapshot)
        return self.checked_positions.by_key

    #: What :meth:`positions_for` made of the recorded positions, for the update (the base class's own are unset).
    positions_note = "positions: none recorded at this instant"
    checked_positions: Any = None

    def derive(self, snapshot: GroupSnapshot) -> ViewUpdate:
        update = super().derive(snapshot)
        return replace(update, positions_note=self.positions_note, positions_view=self.checked_positions)

    def close(self) -> None:
        """Nothing to close: no client was opened."""


@dataclass(frozen=True)
class ReplayView:
    """Everything the replay screen shows at one frame."""

    frame: RecordedFrame
    count: int
    #: The view of the last frame at or before this one that had a snapshot (None before the first).
    update: ViewUpdate | None
    #: True when this frame's poll failed: the view shows the last snapshot, as the live view did.
    stale: bool
    dedup: DedupPanelData | None
    dedup_rates: DedupRates | None


class ReplaySource:
    """Answers :meth:`view_at` for any frame of an open :class:`~deliverytui.recorder.store.RecordingReader`."""

    def __init__(self, reader: Any, *, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.reader = reader
        self.header: RecordingHeader = reader.header
        self.instants: list[float] = reader.instants()
        self.checkpoint_every = max(1, checkpoint_every)
        self.config = ViewerConfig(
            bootstrap=self.header.bootstrap, group=self.header.group, refresh_seconds=self.header.refresh_seconds,
        )
        self.fetcher = RecordedFetcher(self.config)
        #: frame index i (a multiple of checkpoint_every) → the pipeline as it was before frame i was derived;
        #: filled as frames are derived, and ahead of the screen by :meth:`prepare` (another thread: the lock)
        self._checkpoints: dict[int, bytes] = {0: self.fetcher.history()}
        self._checkpoints_lock = threading.Lock()
        self._done = -1  # the fetcher has derived frames 0.._done (-1: none)
        self._last: ViewUpdate | None = None  # the update of frame _done
        self._cache: dict[int, RecordedFrame] = {}
        self.derived_frames = 0  # how many snapshots were derived (tests read it: jumps stay short)
        # One pass over the recording at open: the frames that have a snapshot, the outages (the time bar marks
        # them), every event line with its frame (the log after a jump) and the dedup counters (the panel's
        # rates), so that no step or jump reads back through the frames for them.
        self._good: list[int] = []
        outages: set[int] = set()
        self._event_frames: list[int] = []
        self._events: list[tuple[float, str, str]] = []
        self._dedup: list[tuple[int, float, Any]] = []
        for frame in reader.frames(0, len(self.instants)):
            (self._good.append(frame.index) if frame.snapshot is not None else outages.add(frame.index))
            for text, style in frame.events:
                self._event_frames.append(frame.index)
                self._events.append((frame.at, text, style))
            if frame.dedup is not None:
                self._dedup.append((frame.index, frame.at, frame.dedup))
        self.outages = frozenset(outages)

    def __len__(self) -> int:
        return len(self.instants)

    # -- reading frames ------------------------------------------------------------------
    def frame(self, index: int) -> RecordedFrame:
        """Frame ``index`` (the last few are kept: a step reads its frame for the view and for the pipeline).

        Read in ascending order where possible: the reader continues from the frame it decoded last,
        while going back means decoding again from a keyframe.
        """
        frame = self._cache.get(index)
        if frame is None:
            if len(self._cache) >= FRAMES_KEPT:
                self._cache.clear()
            frame = self._cache[index] = self.reader.frame(index)
        return frame

    # -- the pipeline ----------------------------------------------------------------
    def _seek(self, target: int, selected: str | None) -> None:
        """Derive frame ``target`` (one with a snapshot), continuing from where the pipeline is or from a copy."""
        self.fetcher.selected_key = selected  # from the next frame derived on, as the live view's cursor does
        if self._done == target:
            return
        with self._checkpoints_lock:
            base = max(i for i in self._checkpoints if i <= target)
            history = self._checkpoints[base]
        if not base <= self._done + 1 <= target:  # behind us, or a kept copy is nearer than where we are
            self.fetcher.restore(history)
            self._done = base - 1
        for index in range(self._done + 1, target + 1):
            if index % self.checkpoint_every == 0:
                self._keep(index, self.fetcher)
            frame = self.frame(index)
            if frame.snapshot is not None:
                self.fetcher.recorded_positions = frame.positions
                self._last = self.fetcher.derive(frame.snapshot)
                self.derived_frames += 1
            self._done = index

    def _keep(self, index: int, fetcher: RecordedFetcher) -> None:
        with self._checkpoints_lock:
            if index in self._checkpoints:
                return
        history = fetcher.history()
        with self._checkpoints_lock:
            self._checkpoints.setdefault(index, history)

    def prepare(self, cancel: threading.Event) -> int:
        """Walk the whole recording once, keeping a pipeline copy every ``checkpoint_every`` frames, so that a
        jump anywhere (End on an hour of frames) derives at most that many. Meant for a thread of its own: it
        opens its own reader and pipeline and shares only the copies. Returns the frames walked."""
        from deliverytui.recorder.store import RecordingReader

        reader = RecordingReader(self.reader.path)
        fetcher = RecordedFetcher(self.config)
        walked = 0
        try:
            for frame in reader.frames(0, len(self.instants)):
                if cancel.is_set():
                    break
                if frame.index % self.checkpoint_every == 0:
                    self._keep(frame.index, fetcher)
                if frame.snapshot is not None:
                    fetcher.recorded_positions = frame.positions
                    fetcher.derive(frame.snapshot)
                walked += 1
                time.sleep(0)  # let the screen's thread in between frames
        finally:
            reader.close()
        return walked

    @property
    def checkpoints(self) -> int:
        with self._checkpoints_lock:
            return len(self._checkpoints)

    def update_at(self, index: int, selected: str | None = None) -> ViewUpdate | None:
        """The live view's update as of frame ``index``: that of the last frame at or before it with a snapshot.

        A poll that failed changed nothing in the pipeline, so the view after an outage frame is that of the
        last good frame before it (None before the first).
        """
        good = bisect.bisect_right(self._good, index)
        if not good:
            return None
        self._seek(self._good[good - 1], selected)
        update = self._last
        if update is not None and selected and selected not in update.partition_lag_series:
            series = self.fetcher.lag_series(selected)  # the series is history: known at once for any partition
            if series:
                update = replace(update, partition_lag_series={**update.partition_lag_series, selected: series})
        return update

    # -- one frame ---------------------------------------------------------------------
    def view_at(self, index: int, selected: str | None = None) -> ReplayView:
        index = min(max(index, 0), len(self.instants) - 1)
        update = self.update_at(index, selected)  # first: it reads the frames up to this one in order
        frame = self.frame(index)
        if update is not None and frame.snapshot is not None:
            update = with_recorded_statuses(update, frame.group_status, frame.statuses)
        dedup, rates = self._dedup_at(frame)
        return ReplayView(
            frame=frame, count=len(self.instants), update=update, stale=frame.snapshot is None and update is not None,
            dedup=dedup, dedup_rates=rates,
        )

    def events_until(self, index: int) -> tuple[tuple[float, str, str], ...]:
        """The recorded event lines of frames 0..index, the newest :data:`EVENT_LINES` of them."""
        stop = bisect.bisect_right(self._event_frames, index)
        return tuple(self._events[max(0, stop - EVENT_LINES):stop])

    def _dedup_at(self, frame: RecordedFrame) -> tuple[DedupPanelData | None, DedupRates | None]:
        if frame.dedup is None:
            return None, None
        stop = bisect.bisect_right(self._dedup, frame.index, key=lambda sample: sample[0])
        start = bisect.bisect_left(self._dedup, frame.at - DEDUP_RATE_WINDOW_S, 0, stop, key=lambda sample: sample[1])
        samples = [CounterSample(at, counters) for _index, at, counters in self._dedup[start:stop]]
        data = DedupPanelData(
            store="the store's counters", backend="as recorded", group=self.header.group, counters=frame.dedup,
            keys=None, sample=None, estimated=False, note="",
        )
        return data, rate_over_window(samples, DEDUP_RATE_WINDOW_S)

    def close(self) -> None:
        self.reader.close()


def with_recorded_statuses(update: ViewUpdate, group_status: str | None, statuses: Mapping[str, str]) -> ViewUpdate:
    """``update`` showing the statuses recorded live (what was true then) where they differ from the recomputed ones."""
    rows: dict[str, RowView] | None = None
    for key, status in statuses.items():
        row = update.rows.get(key)
        if row is None or row.cells[_STATUS_COLUMN][0] == status:
            continue
        rows = dict(update.rows) if rows is None else rows
        cells = list(row.cells)
        cells[_STATUS_COLUMN] = (status, STATUS_STYLES.get(status, ""))
        rows[key] = replace(row, cells=tuple(cells))
    changed: dict[str, Any] = {}
    if rows is not None:
        changed["rows"] = rows
    if group_status is not None and group_status != update.group_status:
        changed["group_status"] = group_status
    return replace(update, **changed) if changed else update


def local_time(at: float) -> datetime:
    """An instant of the recording in the local time zone (what the live view's clock showed)."""
    return datetime.fromtimestamp(at, UTC).astimezone()
