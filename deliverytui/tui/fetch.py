"""The worker side of the live view: take a snapshot and derive everything the screen needs.

Runs in a Textual thread worker (confluent-kafka is synchronous), one poll at a time,
so the objects here are only ever used from one thread at a time. The UI thread gets
an immutable :class:`ViewUpdate` and only renders it.
"""

from __future__ import annotations

import pickle
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deliverytui.errors import UserFacingError
from deliverytui.kafka.isolated import IsolatedGroupInspector
from deliverytui.kafka.probe_positions import PositionCollector
from deliverytui.kafka.record_time import RecordTimestampReader
from deliverytui.lag import time_lag_seconds
from deliverytui.lag.delivery_estimates import DeliveryEstimates
from deliverytui.lag.drain import DrainEstimate
from deliverytui.lag.observer import GroupObserver
from deliverytui.model import GroupSnapshot, PartitionRow
from deliverytui.model.positions import PositionsView, verify_reporters
from deliverytui.model.replication import replication_summary
from deliverytui.model.stuck import StuckView
from deliverytui.tui.rows import RowBuilder, RowView
from deliverytui.tui.stuck_diagnosis import StuckDiagnosis
from deliverytui.tui.viewer_config import ViewerConfig


@dataclass(frozen=True)
class ViewUpdate:
    """Everything one poll produced, ready to render."""

    snapshot: GroupSnapshot
    rows: dict[str, RowView]
    #: ``snapshot.total_lag``, summed once here: the header re-renders every second.
    total_lag: int = 0
    events: tuple[tuple[str, str], ...] = ()  # (text, style)
    #: A folded event line (a flood of simultaneous status changes) → every partition it stands for.
    event_details: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_status: str | None = None
    group_lag_series: tuple[float, ...] = ()
    partition_lag_series: dict[str, tuple[float, ...]] = field(default_factory=dict)
    positions_note: str = ""
    selected_time_lag: tuple[str, float] | None = None  # (key, seconds)
    positions: Mapping[str, Any] = field(default_factory=dict)  # key → PartitionPosition
    lag_partitions: Mapping[str, Any] = field(default_factory=dict)  # key → PartitionLagView
    #: key → the snapshot's PartitionRow, so the UI finds the selected one without a scan.
    partition_rows: Mapping[str, PartitionRow] = field(default_factory=dict)
    #: The group's consume and produce rates and drain ETA (header), from the samples held.
    group_drain: DrainEstimate | None = None
    #: ``(key, estimate)`` of the selected partition when the poll ran (the partition panel).
    selected_drain: tuple[str, DrainEstimate | None] | None = None
    #: Show the Leader and ISR columns (more than one node), and the header's replication summary.
    replication_visible: bool = False
    replication: tuple[str, str] | None = None  # (text, style)
    #: "Stuck on what?" for the selected partition (:mod:`deliverytui.tui.stuck_diagnosis`), None when nothing to say.
    stuck: StuckView | None = None
    #: The positions as read from the probe topic (``positions`` is its ``by_key``), for the flight recorder.
    positions_view: PositionsView | None = None




def checked_positions(view: PositionsView, snapshot: GroupSnapshot) -> tuple[PositionsView, str]:
    """A probe topic's positions checked against ``snapshot``'s members (a reporter that is not one is
    "unverified"), and the one-line note the partition panel shows about them."""
    view = verify_reporters(view, snapshot.members)
    note = (
        f"positions from {len({p.reporter for p in view.partitions})} reporting consumer(s)" if view.partitions
        else "positions: none published (see deliverytui.probe)"
    )
    if view.unverified_reporters:
        note += f"; unverified (not current members): {', '.join(view.unverified_reporters)}"
    return view, note


class GroupFetcher:
    """Owns the clients for one watched group; :meth:`fetch` is called from the poll worker."""

    def __init__(
        self,
        config: ViewerConfig,
        group: str,
        cancel_event: threading.Event,
        *,
        inspector: Any | None = None,
        read_positions: bool = True,
    ) -> None:
        """``inspector`` replaces the Kafka client (snapshot tests replay recorded snapshots)."""
        self.config = config
        self.group = group
        self.cancel_event = cancel_event
        self._inspector = inspector
        self._read_positions_enabled = read_positions
        #: The statuses and event lines (shared with the flight recorder: :mod:`deliverytui.lag.observer`).
        self.observer = GroupObserver()
        self._rows = RowBuilder()
        self._estimates = DeliveryEstimates()
        self._positions: PositionCollector | None = None
        self._positions_retry_at = 0.0
        #: close() and the poll worker both touch the Kafka clients: one at a time, and none made after close().
        self._clients_lock = threading.Lock()
        self._closed = False
        #: Set by the UI thread (a str assignment is atomic); the worker copies that partition's series.
        self.selected_key: str | None = None
        self._record_times: RecordTimestampReader | None = None
        #: The session's Java helper, set by the app (:class:`~deliverytui.tui.stuck_host.StuckHost`); started only
        #: when a pinned last stable offset needs naming.
        self.java_admin: Callable[[], Any] | None = None
        self.diagnosis = StuckDiagnosis(self.record_reader, self._session_java_admin)

    def _session_java_admin(self) -> Any:
        if self.java_admin is None:
            raise UserFacingError("this view has no Java admin helper to ask Kafka about transactions")
        return self.java_admin()

    def record_reader(self) -> RecordTimestampReader:
        """The one assigned, never-committing consumer that reads records of the watched group's partitions."""
        with self._clients_lock:
            if self._closed:
                raise UserFacingError("the view is closing")
            if self._record_times is None:
                self._record_times = RecordTimestampReader(
                    self.config.bootstrap, self.config.client_config, group_id=self.group  # Describe on it suffices
                )
            return self._record_times

    @property
    def inspector(self) -> IsolatedGroupInspector:
        """The Kafka client lives in a child process: see :mod:`deliverytui.kafka.isolated` for why."""
        if self._inspector is None:
            self._inspector = IsolatedGroupInspector(
                self.config.bootstrap,
                self.config.client_config,
                request_timeout=self.config.request_timeout,
                cancel_event=self.cancel_event,
            )
        return self._inspector

    def fetch(self) -> ViewUpdate:
        return self.derive(self.inspector.snapshot(self.group))

    def derive(self, snapshot: GroupSnapshot) -> ViewUpdate:
        """Everything the screen shows for ``snapshot``, given the snapshots derived before it.

        A replay (:mod:`deliverytui.tui.replay_source`) feeds recorded snapshots here, so what it
        shows comes from the same pipeline as what the live view showed.
        """
        selected = self.selected_key
        observation = self.observer.observe(snapshot, series_keys=(selected,) if selected else ())
        lag_view = observation.lag
        positions = self.positions_for(snapshot)
        estimates = self._estimates.observe(snapshot, selected)
        rows, by_key = self._rows.build(snapshot, lag_view.partitions, positions, estimates.time_lag_s)
        time_lag = self._selected_time_lag(snapshot, selected, by_key)
        stuck = self.diagnosis.view(selected, by_key, lag_view.partitions) if self._read_positions_enabled else None
        return ViewUpdate(
            snapshot=snapshot,
            rows=rows,
            total_lag=snapshot.total_lag,
            events=observation.events,
            event_details=observation.event_details,
            group_status=lag_view.status.value,
            group_lag_series=tuple(lag_view.total_lag_series),
            partition_lag_series={k: tuple(v) for k, v in lag_view.partition_lag_series.items()},
            positions_note=self._positions_note,
            positions=positions,
            lag_partitions=lag_view.partitions,
            selected_time_lag=time_lag,
            partition_rows=by_key,
            group_drain=estimates.group_drain,
            selected_drain=estimates.selected_drain,
            replication_visible=snapshot.multi_node,
            replication=replication_summary(snapshot),
            stuck=stuck,
            positions_view=self._positions_view,
        )

    def _selected_time_lag(
        self, snapshot: GroupSnapshot, key: str | None, by_key: Mapping[str, PartitionRow]
    ) -> tuple[str, float] | None:
        """Age of the first unconsumed record of the selected partition (one fetch, cached per offset)."""
        if not key or not self._read_positions_enabled:
            return None
        row = by_key.get(key)
        if row is None or row.lag is None or row.committed_offset is None:
            return None
        if row.lag <= 0:
            return key, 0.0
        try:
            stamp = self.record_reader().timestamp_ms(row.topic, row.partition, row.committed_offset)
        except Exception:  # noqa: BLE001 - time lag is a nicety; offsets lag stays
            return None
        age = time_lag_seconds(row.lag, stamp, snapshot.taken_at.timestamp())
        return (key, age) if age is not None else None

    def history(self) -> bytes:
        """What :meth:`derive` remembers between snapshots, frozen: a replay keeps one every so many frames
        to jump from. Pickled and compressed: a deep copy took several times longer and ten times the memory.
        The row cache is part of it: a cached row keeps the exact time lag it was built with while its
        coarse text is unchanged (the sort order follows it), so rows built afresh would differ."""
        state = (self.observer, self._estimates, self._rows)
        return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)

    def restore(self, history: bytes) -> None:
        """Continue from a :meth:`history` of this process (never from bytes read elsewhere: it is a pickle)."""
        self.observer, self._estimates, self._rows = pickle.loads(zlib.decompress(history))  # noqa: S301 - our own bytes

    def lag_series(self, key: str) -> tuple[int, ...]:
        """The lag series of partition ``key`` as of the last snapshot derived (oldest first)."""
        return self.observer.history.lag_series(key)

    def positions_for(self, snapshot: GroupSnapshot) -> dict[str, object]:
        """Positions published through deliverytui.probe; empty when nobody publishes (never an error).

        Each is checked against the snapshot's members: a reporter that is not one is "unverified"
        (anyone with Write on the probe topic can publish under any client id).
        """
        self._positions_view = None
        if not self._read_positions_enabled:
            return {}
        with self._clients_lock:  # a poll that outlives close() must not make a consumer nobody closes
            if self._closed:
                return {}
            return self._positions_locked(snapshot)

    def _positions_locked(self, snapshot: GroupSnapshot) -> dict[str, object]:
        now = time.monotonic()
        if self._positions is None:
            if now < self._positions_retry_at:
                return {}
            self._positions = PositionCollector(
                self.config.bootstrap, self.config.client_config, self.group, topic=self.config.probe_topic,
                request_timeout=self.config.request_timeout,
            )
        view = self._positions.poll(0.2)
        if view.error:
            # Typically: no consumer has created the probe topic yet. Look again later.
            if "authoriz" in view.error.lower():
                self._positions_note = f"positions unavailable: not authorized to read {self._positions.topic}"
            else:
                self._positions_note = "positions: none published (see deliverytui.probe)"
            self._positions.close()
            self._positions = None
            self._positions_retry_at = now + 30.0
            return {}
        self._positions_view, self._positions_note = checked_positions(view, snapshot)
        return self._positions_view.by_key

    def list_groups(self):
        return self.inspector.list_groups()

    _positions_note = "positions: not read yet"
    _positions_view: PositionsView | None = None

    def close(self) -> None:
        """Close every client; a poll still running (a worker thread) makes no new one afterwards."""
        with self._clients_lock:
            self._closed = True
            positions, self._positions = self._positions, None
            record_times, self._record_times = self._record_times, None
        if self._inspector is not None:
            self._inspector.close()
        if positions is not None:
            positions.close()
        if record_times is not None:
            record_times.close()
