"""Lag status and lag history: pure logic (no I/O, no Textual) that the TUI renders.

:class:`LagHistory` takes each :class:`~deliverytui.model.GroupSnapshot` and returns an
immutable :class:`~deliverytui.model.lag.GroupLagView`: Burrow-style statuses per partition
and for the group, lag trends, time since the committed offset moved, sparkline series,
status changes and rewinds. One concept per module: ``window`` (the per-partition sliding
window), ``evaluator`` (Burrow's rules), ``history`` (snapshots in, views out),
``time_lag`` (age of the first unconsumed record), ``settings`` (the knobs).
"""

from deliverytui.lag.evaluator import evaluate_partition_status
from deliverytui.lag.history import LagHistory
from deliverytui.lag.settings import LagSettings
from deliverytui.lag.time_lag import time_lag_seconds
from deliverytui.lag.window import CommitWindow

__all__ = ["CommitWindow", "LagHistory", "LagSettings", "evaluate_partition_status", "time_lag_seconds"]
