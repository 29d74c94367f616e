"""What the live view was asked to watch: one frozen value built by the CLI (or a test)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deliverytui.model.probe_topic import DEFAULT_PROBE_TOPIC

DEFAULT_THEME = "textual-dark"
"""Textual's own theme: the default rendering, as the snapshot tests draw it."""
THEME_NAMES = (DEFAULT_THEME, "colorblind-dark", "ansi-dark", "ansi-light")
"""``--theme``'s choices and ``T``'s cycle (tui/slides_host.py): the default, colour-blind safe, and the projector's."""


@dataclass(frozen=True)
class ViewerConfig:
    bootstrap: str
    group: str  # "" when none was given: the app opens the fleet of every group first
    client_config: Mapping[str, str] = field(default_factory=dict)
    refresh_seconds: float = 2.0
    request_timeout: float = 10.0
    dedup_url: str | None = None
    dedup_prefix: str = "processed:"
    allow_writes: bool = False
    #: Where the watched group's probes publish (one topic per group lets ACLs confine each group's writers).
    probe_topic: str = DEFAULT_PROBE_TOPIC
    #: ``--record FILE.db``: the flight recording the view writes (:mod:`deliverytui.tui.recorder_host`).
    record_path: str | None = None
    #: Lag changes re-order the partitions table at most this often (seconds).
    resort_seconds: float = 10.0
    #: Longest wait between retries while the cluster is unreachable.
    max_backoff_seconds: float = 30.0
    #: ``--theme``: one of :data:`THEME_NAMES` (None: Textual's default, :data:`DEFAULT_THEME`).
    theme: str | None = None

    def __post_init__(self) -> None:
        # The --config settings may hold secrets: keep them where a repr (a crash report) hides them.
        from deliverytui.kafka.client_config import RedactedConfig

        object.__setattr__(self, "client_config", RedactedConfig(self.client_config))
