"""Where ``deliverytui.cli`` and ``deliverytui.tui.screens.reset`` still import the offset reset from.

The reset now lives in :mod:`deliverytui.kafka.offset_reset` (the service),
:mod:`deliverytui.kafka.reset_arguments` (parsing what the user asked for),
:mod:`deliverytui.kafka.offset_lookups` and :mod:`deliverytui.kafka.offset_write_guards`.
This module only re-exports their public names, so the CLI and the TUI, which are being
rebuilt on other branches, keep working; delete it once they import the new modules
(issue #12: three modules were called ``reset.py``).
"""

from __future__ import annotations

from deliverytui.kafka.offset_reset import OffsetResetter
from deliverytui.kafka.offset_write_guards import ActiveGroupError, WritesDisabledError
from deliverytui.kafka.reset_arguments import (
    datetime_target,
    duration_target,
    parse_datetime_ms,
    parse_duration,
    parse_topic_args,
    read_reset_csv,
    reset_csv,
)

__all__ = [
    "ActiveGroupError",
    "OffsetResetter",
    "WritesDisabledError",
    "datetime_target",
    "duration_target",
    "parse_datetime_ms",
    "parse_duration",
    "parse_topic_args",
    "read_reset_csv",
    "reset_csv",
]
