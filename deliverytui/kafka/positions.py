"""Where ``deliverytui.tui.fetch`` still imports the probe's position collector from.

The collector is now :mod:`deliverytui.kafka.probe_positions`: two modules were called
``positions.py`` (issue #12), and this one reads what the probe publishes. It only
re-exports, so the TUI, rebuilt on another branch, keeps working; delete it once
``tui/fetch.py`` imports ``deliverytui.kafka.probe_positions``.
"""

from __future__ import annotations

from deliverytui.kafka.probe_positions import (
    DEFAULT_STALE_AFTER,
    MIN_STALE_AFTER,
    STALE_INTERVALS,
    MalformedProbeRecord,
    PositionCollector,
    ProbeReport,
    decode_probe_record,
)

__all__ = [
    "DEFAULT_STALE_AFTER",
    "MIN_STALE_AFTER",
    "STALE_INTERVALS",
    "MalformedProbeRecord",
    "PositionCollector",
    "ProbeReport",
    "decode_probe_record",
]
