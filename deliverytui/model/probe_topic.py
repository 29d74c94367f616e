"""The probe topic's default name, alone: the CLI parser offers it as a default to every command, and
loading the positions model (:mod:`deliverytui.model.positions`, which re-exports it) for one string
cost every ``deliverytui snapshot`` 3-8 ms."""

from __future__ import annotations

#: The topic :mod:`deliverytui.probe` publishes positions on.
DEFAULT_PROBE_TOPIC = "__deliverytui_probe"
