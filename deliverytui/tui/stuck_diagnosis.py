"""The worker side of "stuck on what?": decide, each poll, what the stuck panel needs and read it.

Runs in the live view's poll worker (inside :meth:`GroupFetcher.fetch
<deliverytui.tui.fetch.GroupFetcher.fetch>`), never on the UI thread. Two reads, both only when needed:

- the record at the selected partition's committed offset, when its status is STALL or STOP (the
  poison-message case), or when ``i`` asked for it; read once per committed offset by the fetcher's
  record reader (the same assigned, never-committing consumer as the time lag);
- the open transaction pinning its last stable offset, once that offset has sat below the log end for
  :data:`~deliverytui.model.stuck.PINNED_LSO_REFRESHES` refreshes: this is what starts the session's Java
  helper (~400 ms), so a session without a pinned LSO never starts one.

Every partition's LSO is followed each poll (a dict lookup per row), so a partition selected after its LSO
was pinned is named at once instead of after N more refreshes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deliverytui.errors import one_line
from deliverytui.kafka.open_transactions import OpenTransactionFinder
from deliverytui.model import PartitionRow
from deliverytui.model.lag import LagStatus
from deliverytui.model.stuck import LsoPins, PinnedLso, RecordPeekResult, StuckView
from deliverytui.model.text import visible

#: The statuses for which the record at the committed offset is read without being asked.
STUCK_STATUSES = frozenset({LagStatus.STALL, LagStatus.STOP})


class StuckDiagnosis:
    """Owned by one :class:`~deliverytui.tui.fetch.GroupFetcher`; used from its poll worker only."""

    def __init__(self, record_reader: Callable[[], Any], java_admin: Callable[[], Any]) -> None:
        """``record_reader`` returns the fetcher's :class:`~deliverytui.kafka.record_time.RecordTimestampReader`;
        ``java_admin`` the session's helper (started by the call)."""
        self._record_reader = record_reader
        self.pins = LsoPins()
        self._finder = OpenTransactionFinder(java_admin)
        self._peeks: dict[tuple[str, int], RecordPeekResult] = {}  # (key, offset) → what was read there
        #: Set by the UI thread (``i``): read this partition's record whatever its status.
        self.inspect_key: str | None = None

    def forget(self, key: str) -> None:
        """``i`` pressed again: read the record afresh (it may have been a timeout)."""
        for cached in [k for k in self._peeks if k[0] == key]:
            del self._peeks[cached]

    def view(
        self, selected: str | None, by_key: Mapping[str, PartitionRow], lag_partitions: Mapping[str, Any]
    ) -> StuckView | None:
        for key, row in by_key.items():
            self.pins.observe(key, row.last_stable_offset, row.log_end_offset)
        if not selected or (row := by_key.get(selected)) is None:
            return None
        lag_info = lag_partitions.get(selected)
        wanted = selected == self.inspect_key or (lag_info is not None and lag_info.status in STUCK_STATUSES)
        record = self._peek(selected, row) if wanted else None
        pinned = self._pinned(selected, row) if self.pins.pinned(selected) else None
        if record is None and pinned is None:
            return None
        return StuckView(selected, record, pinned)

    def _peek(self, key: str, row: PartitionRow) -> RecordPeekResult:
        offset = row.committed_offset
        if offset is None:
            return RecordPeekResult(key, -1, problem="nothing committed: the group has no record to be stuck on here")
        if row.log_end_offset is not None and offset >= row.log_end_offset:
            return RecordPeekResult(key, offset, problem=f"no record at offset {offset} yet: the group is at the log end")
        cached = self._peeks.get((key, offset))
        if cached is None:
            try:
                cached = self._record_reader().peek(row.topic, row.partition, offset)
            except Exception as exc:  # noqa: BLE001 - the panel says it; the rest of the view goes on
                cached = RecordPeekResult(key, offset, problem=f"cannot read the record: {type(exc).__name__}: {visible(one_line(str(exc)))}")
            if len(self._peeks) > 200:
                self._peeks.clear()
            self._peeks[(key, offset)] = cached
        return cached

    def _pinned(self, key: str, row: PartitionRow) -> PinnedLso:
        assert row.last_stable_offset is not None and row.log_end_offset is not None  # pinned() checked both
        transactions, problem = self._finder.find(row.topic, row.partition, row.last_stable_offset)
        if not transactions and problem is None:
            problem = "Kafka lists no open transaction on it now (it may have just ended)"
        return PinnedLso(key, row.last_stable_offset, row.log_end_offset, self.pins.refreshes(key), transactions, problem)
