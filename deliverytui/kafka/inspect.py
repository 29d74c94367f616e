"""Where ``deliverytui.cli`` and ``deliverytui.tui.app`` still import the group inspector from.

The inspector is now :mod:`deliverytui.kafka.group_inspector` (with
:mod:`~deliverytui.kafka.admin_requests`, :mod:`~deliverytui.kafka.log_offsets`,
:mod:`~deliverytui.kafka.replication_metadata` and :mod:`~deliverytui.kafka.group_states`):
a module named ``inspect`` shadows the standard library's (issue #12). This one only
re-exports, so the CLI and the TUI, rebuilt on other branches, keep working; delete it once
they import ``deliverytui.kafka.group_inspector``.
"""

from __future__ import annotations

from deliverytui.kafka.group_inspector import (
    SINGLE_NODE_METADATA_MAX_AGE_S,
    CollectionCancelled,
    GroupInspector,
    state_name,
)

__all__ = ["SINGLE_NODE_METADATA_MAX_AGE_S", "CollectionCancelled", "GroupInspector", "state_name"]
