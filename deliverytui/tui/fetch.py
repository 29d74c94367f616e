"""The worker side of the live view: take a snapshot and derive everything the screen needs.

Runs in a Textual thread worker (confluent-kafka is synchronous), one poll at a time,
so the objects here are only ever used from one thread at a time. The UI thread gets
an immutable :class:`ViewUpdate` and only renders it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from deliverytui.kafka.isolated import IsolatedGroupInspector
from deliverytui.model import GroupSnapshot
from deliverytui.tui.rows import RowView, build_rows
from deliverytui.tui.viewer_config import ViewerConfig


@dataclass(frozen=True)
class ViewUpdate:
    """Everything one poll produced, ready to render."""

    snapshot: GroupSnapshot
    rows: dict[str, RowView]
    events: tuple[tuple[str, str], ...] = ()  # (text, style)
    group_status: str | None = None
    group_lag_series: tuple[float, ...] = ()
    partition_lag_series: dict[str, tuple[float, ...]] = field(default_factory=dict)


def membership_events(previous: GroupSnapshot | None, current: GroupSnapshot) -> list[tuple[str, str]]:
    """Rebalances and state changes, read off two consecutive snapshots."""
    if previous is None:
        return [(f"attached to {current.group_id}: {current.state}, {len(current.members)} member(s)", "bold")]
    events: list[tuple[str, str]] = []
    if previous.state != current.state:
        events.append((f"group state {previous.state} → {current.state}", "yellow"))
    before = {m.member_id: m for m in previous.members}
    after = {m.member_id: m for m in current.members}
    joined = [after[k] for k in after.keys() - before.keys()]
    left = [before[k] for k in before.keys() - after.keys()]
    for member in joined:
        events.append((f"member joined: {member.client_id}@{member.host}", "cyan"))
    for member in left:
        events.append((f"member left: {member.client_id}@{member.host}", "cyan"))
    moved = joined or left or any(after[k].assignment != before[k].assignment for k in after.keys() & before.keys())
    if moved:
        events.append((f"rebalance: {len(current.members)} member(s) now own {sum(len(m.assignment) for m in current.members)} partition(s)", "bold cyan"))
    previous_rows = {row.tp.key: row for row in previous.partitions}
    for row in current.partitions:
        old = previous_rows.get(row.tp.key)
        if old is not None and old.committed_offset is not None and row.committed_offset is not None:
            if row.committed_offset < old.committed_offset:
                events.append(
                    (f"reset seen on {row.tp.key}: committed {old.committed_offset} → {row.committed_offset} "
                     f"({old.committed_offset - row.committed_offset} records will be redelivered)", "bold magenta")
                )
    return events


class GroupFetcher:
    """Owns the clients for one watched group; :meth:`fetch` is called from the poll worker."""

    def __init__(self, config: ViewerConfig, group: str, cancel_event: threading.Event) -> None:
        self.config = config
        self.group = group
        self.cancel_event = cancel_event
        self._inspector: IsolatedGroupInspector | None = None
        self._previous: GroupSnapshot | None = None

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
        snapshot = self.inspector.snapshot(self.group)
        events = membership_events(self._previous, snapshot)
        self._previous = snapshot
        rows = build_rows(snapshot)
        return ViewUpdate(snapshot=snapshot, rows=rows, events=tuple(events), group_lag_series=())

    def list_groups(self):
        return self.inspector.list_groups()

    def close(self) -> None:
        if self._inspector is not None:
            self._inspector.close()
