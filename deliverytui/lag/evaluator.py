"""Burrow's partition status rules, applied to one :class:`CommitWindow`.

The order follows Burrow's ``calculatePartitionStatus`` (core/internal/evaluator/caching.go):
first "was the consumer caught up at any point", and only if it never was, the failing
rules from the worst down, the first that holds wins:

1. no known lag or an empty window -> UNKNOWN (nothing to judge);
2. current lag, or the lag of any entry in the window, is within ``allowed_lag`` -> OK;
3. some entry's committed offset is lower than the entry before it -> REWIND
   (an offset reset or replay: records already delivered are coming again);
4. the time since the last evidence of a commit exceeds the window's span (newest entry
   time minus oldest entry time) -> STOP (the consumer stopped committing);
5. the window is full and the committed offset never changed in it -> STALL
   (something is there, but the offset does not move);
6. the window is full and the lag never decreased from one entry to the next -> WARN
   (the consumer is moving but not keeping up);
7. otherwise OK.

Rules 5 and 6 wait for a full window where Burrow does not, because our entries are
snapshot samples rather than the consumer's own commits: two samples taken between two
commits of a healthy consumer show an unmoved offset and a growing lag.
"""

from __future__ import annotations

from deliverytui.lag.window import CommitWindow
from deliverytui.model.lag import LagStatus


def evaluate_partition_status(
    window: CommitWindow,
    current_lag: int | None,
    now_s: float,
    last_commit_evidence_s: float | None,
) -> LagStatus:
    """The status of one partition at ``now_s`` (seconds, same clock as the window's timestamps).

    ``current_lag`` is the lag now, clamped at 0; ``last_commit_evidence_s`` is when a commit
    was last evidenced (the offset moved, or a member owned the partition), ``None`` to use
    the newest entry's timestamp as Burrow does.
    """
    entries = window.entries
    if current_lag is None or not entries:
        return LagStatus.UNKNOWN
    if current_lag <= window.allowed_lag or window.caught_up:
        return LagStatus.OK
    if window.backward_steps:
        return LagStatus.REWIND
    newest_s = entries[-1][0]
    evidence_s = newest_s if last_commit_evidence_s is None else last_commit_evidence_s
    if now_s - evidence_s > newest_s - entries[0][0]:
        return LagStatus.STOP
    if len(entries) == window.capacity:
        if not window.offset_changes:
            return LagStatus.STALL
        if not window.lag_decreases:
            return LagStatus.WARN
    return LagStatus.OK
