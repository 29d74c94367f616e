"""What a demo consumer runs with, and the files through which the supervisor talks to it.

Why a module of its own: the supervisor, the lab and the tests need the file names
(:func:`crash_file`, :func:`status_file`), :func:`read_status` and the timing constants
without loading the consumer's Kafka loops, and every module of the consumer needs them too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deliverytui.demo.task_api import TASK_EVENTS_TOPIC

LEASE_SECONDS = 4.0
"""Short, so an after-claim crash is retaken soon after the restart (and nothing is lost)."""
SESSION_TIMEOUT_MS = 6000
"""The broker's default minimum: how long a stopped static member stays in the group."""
STATUS_INTERVAL = 0.5
QUIET_COMMIT_SECONDS = 1.0
"""A batching consumer commits what it has done once the topic has been quiet this long. Not at the
first empty poll: at the lab's 5 events/s most polls are empty, and the commit window (``b`` in the
lab, position running ahead of committed) would close before anyone could see it."""
EOS_BATCH = 50
"""Messages per transaction at most: one transaction per message would cap the rate at ~50/s."""
TASKS_TABLE = "tasks"


def instance_name(semantic: str, instance: int = 1) -> str:
    """``semantic`` for the first instance of a demo consumer, ``semantic-N`` for the N-th (a rebalance demo)."""
    return semantic if instance <= 1 else f"{semantic}-{instance}"


def crash_file(run_dir: Path, semantic: str, instance: int = 1) -> Path:
    """Where the supervisor arms a crash: the file holds the crash point's name."""
    return run_dir / f"{instance_name(semantic, instance)}.crash"


def status_file(run_dir: Path, semantic: str, instance: int = 1) -> Path:
    """Where the consumer reports itself (JSON, replaced atomically at most every 0.5 s)."""
    return run_dir / f"{instance_name(semantic, instance)}.status"


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status a consumer wrote, or None (absent or being replaced)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """What one consumer process runs with (the command line, parsed)."""

    semantic: str
    bootstrap: str
    ledger_url: str
    run_dir: Path
    dedup_url: str | None = None
    group_prefix: str = ""
    topic: str = TASK_EVENTS_TOPIC
    crash_at: str | None = None
    crash_after: int = 1
    lease_seconds: float = LEASE_SECONDS
    probe: bool = True
    commit_every: int | None = None
    """Messages per commit (per transaction for exactly-once); None = 1, or ``EOS_BATCH`` for exactly-once."""
    instance: int = 1
    """Which instance of the semantic's group this is: a second one (2, 3, ...) makes the group rebalance."""
    watch_parent: bool = False
    """Stop (gracefully) when the process that started this one is gone: a lab's consumers never outlive it."""
    kafka_config: Mapping[str, str] | None = None
    """The lab's ``--config`` login (SASL/SSL properties), read from the private file ``--kafka-config`` names."""


class Retry(Exception):
    """Handling this message must be repeated later: do not commit, seek back, wait ``delay``.

    An exception rather than a return value because the reason (a store down, a refused
    commit) is found deep inside a handler, and everything after it must be skipped.
    """

    def __init__(self, delay: float, state: str = "running") -> None:
        super().__init__(state)
        self.delay = delay
        self.state = state
