"""What the live view says about a group, poll after poll: its statuses and event-log lines.

Pure (no I/O, no Textual): the live view's poll worker (:class:`deliverytui.tui.fetch.GroupFetcher`) and the
flight recorder (:mod:`deliverytui.recorder`) both feed it each snapshot, so a recording stores exactly the
statuses and event lines the operator saw: rebalances and state changes, replication changes, rewinds,
and partition status changes (folded into one line when many change at once).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from deliverytui.lag.history import LagHistory
from deliverytui.lag.settings import LagSettings
from deliverytui.model import GroupSnapshot
from deliverytui.model.lag import GroupLagView, summarize_status_changes
from deliverytui.model.replication import replication_events
from deliverytui.model.text import shown_name

#: The event log's colour for a partition's status change, by the status it changed to (the group
#: view, the share view and the recorder log them alike).
STATUS_EVENT_STYLES = {"OK": "green", "WARN": "yellow", "STALL": "bold yellow", "STOP": "bold red", "REWIND": "bold magenta"}


def membership_events(previous: GroupSnapshot | None, current: GroupSnapshot) -> list[tuple[str, str]]:
    """Rebalances and state changes, read off two consecutive snapshots (resets come from the lag history)."""
    if previous is None:
        return [(f"attached to {shown_name(current.group_id)}: {current.state}, {len(current.members)} member(s)", "bold")]
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
    now_shown = {row.topic for row in current.partitions}
    for topic in sorted({row.topic for row in previous.partitions} - now_shown):
        events.append(
            (f"topic {topic} is gone from the group: no committed offset or owner left for it "
             "(the topic was deleted, or the group's offsets for it were)", "bold red")
        )
    return events


@dataclass(frozen=True)
class GroupObservation:
    """What one snapshot added: the lag view, the event-log lines, and the partitions a folded line stands for."""

    lag: GroupLagView
    events: tuple[tuple[str, str], ...]  # (text, style), in order
    #: A folded event line (a flood of simultaneous status changes) → every partition it stands for.
    event_details: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def group_status(self) -> str:
        return self.lag.status.value

    @property
    def statuses(self) -> dict[str, str]:
        """Partition key (``topic:partition``, the live view's row key) → its status value."""
        return {key: view.status.value for key, view in self.lag.partitions.items()}


class GroupObserver:
    """Turns a group's successive snapshots into observations; one per watched group, fed in ``taken_at`` order."""

    def __init__(self, settings: LagSettings | None = None) -> None:
        self._previous: GroupSnapshot | None = None
        self._replication_base: GroupSnapshot | None = None
        self.history = LagHistory(settings)

    def observe(self, snapshot: GroupSnapshot, *, series_keys: Collection[str] = ()) -> GroupObservation:
        events = membership_events(self._previous, snapshot)
        # Compared with the last snapshot that had metadata: a failed metadata read (no brokers)
        # neither invents nor hides a change.
        events += replication_events(self._replication_base, snapshot)
        if snapshot.brokers:
            self._replication_base = snapshot
        self._previous = snapshot
        lag_view = self.history.observe(snapshot, series_keys=series_keys)
        events += [(rewind.describe(), "bold magenta") for rewind in lag_view.rewinds]
        folded: dict[str, tuple[str, ...]] = {}
        for line, status, keys in summarize_status_changes(lag_view.status_changes):
            events.append((line, STATUS_EVENT_STYLES.get(status.value, "")))
            if keys:
                folded[line] = keys
        return GroupObservation(lag_view, tuple(events), folded)
