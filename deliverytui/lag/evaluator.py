"""Burrow's partition status rules, applied to one :class:`CommitWindow`.

The order follows Burrow's ``calculatePartitionStatus`` (core/internal/evaluator/caching.go):
a partition within ``allowed_lag`` is never in error; otherwise "did the consumer stop" comes
first, because a stopped consumer is a problem even if it was caught up at some point; only
then "was it caught up at any point", and if it never was, the failing rules from the worst down:

1. no known lag or an empty window -> UNKNOWN (nothing to judge);
2. current lag within ``allowed_lag`` -> OK;
3. the time since the last evidence of a commit exceeds the window's span (newest entry
   time minus oldest entry time), or ``stopped_after_s`` when that is shorter -> STOP (the
   consumer stopped committing);
4. the lag of any entry in the window is within ``allowed_lag`` -> OK (it was caught up);
5. some entry's committed offset is lower than the entry before it -> REWIND
   (an offset reset or replay: records already delivered are coming again);
6. the window is full and the committed offset never changed in it -> STALL
   (something is there, but the offset does not move);
7. the window is full and the lag never decreased from one entry to the next -> WARN
   (the consumer is moving but not keeping up);
8. otherwise OK.

Rules 6 and 7 wait for a full window where Burrow does not, because our entries are
snapshot samples rather than the consumer's own commits: two samples taken between two
commits of a healthy consumer show an unmoved offset and a growing lag.

When STOP may come from very little: a window of one entry spans 0 s, so a partition that
nobody owns and whose offset has not moved since the first snapshot is STOP from the second
snapshot on (as in Burrow). And for a group with no members at all, the caller passes
``stopped_after_s`` (:class:`~deliverytui.lag.history.LagHistory` passes twice the minimum
entry interval, 10 s by default: twice the default auto-commit interval, so a consumer that
commits on that schedule without joining the group is not flagged): then a long window full
of old commits cannot keep a dead consumer green, and a view attached before the crash
reaches the same verdict as one attached after it (which, holding one entry, says STOP from
its second snapshot).
"""

from __future__ import annotations

from deliverytui.lag.window import CommitWindow
from deliverytui.model.lag import LagStatus


def evaluate_partition_status(
    window: CommitWindow,
    current_lag: int | None,
    now_s: float,
    last_commit_evidence_s: float | None,
    stopped_after_s: float | None = None,
) -> LagStatus:
    """The status of one partition at ``now_s`` (seconds, same clock as the window's timestamps).

    ``current_lag`` is the lag now, clamped at 0; ``last_commit_evidence_s`` is when a commit
    was last evidenced (the offset moved, or a member owned the partition), ``None`` to use
    the newest entry's timestamp as Burrow does. ``stopped_after_s`` shortens the STOP rule's
    wait below the window's span (see the module's note on groups with no members).
    """
    entries = window.entries
    if current_lag is None or not entries:
        return LagStatus.UNKNOWN
    if current_lag <= window.allowed_lag:
        return LagStatus.OK
    newest_s = entries[-1][0]
    evidence_s = newest_s if last_commit_evidence_s is None else last_commit_evidence_s
    wait_s = newest_s - entries[0][0]
    if stopped_after_s is not None:
        wait_s = min(wait_s, stopped_after_s)
    if now_s - evidence_s > wait_s:
        return LagStatus.STOP
    if window.caught_up:
        return LagStatus.OK
    if window.backward_steps:
        return LagStatus.REWIND
    if len(entries) == window.capacity:
        if not window.offset_changes:
            return LagStatus.STALL
        if not window.lag_decreases:
            return LagStatus.WARN
    return LagStatus.OK
