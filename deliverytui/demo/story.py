"""What a lab's state describes: the cluster and the topics its ledger was written against.

Why: the lab's state dir outlives brokers. Resumed against another broker (a fresh embedded
one, a recreated topic), the old ledger's acknowledged sends were compared with the new
cluster's committed offsets and showed false losses (exactly-once: Lost 156, growing); a wiped
state dir on a kept broker read the old story's outputs as "unexpected". So the state records
the cluster id and each lab topic's id, and a lab that finds different ones starts a new story
and moves the old one aside (``stories/<time>/``) instead of mixing the two.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import TopicCollection

from deliverytui.errors import UserFacingError, one_line
from deliverytui.kafka.client_config import silent_librdkafka_logger

STORY_FILE = "story.json"
STORIES_DIR = "stories"
LOCK_FILE = "lab.lock"
PIDS_DIR = "pids"


def cluster_identity(
    bootstrap: str, topics: Iterable[str], timeout: float = 15.0, kafka_config: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{"cluster_id": …, "topic:<name>": <topic id>, …}`` read from the cluster now (``kafka_config``: the login)."""
    from confluent_kafka.admin import AdminClient

    from deliverytui.demo.kafka_access import lab_client_config

    admin = AdminClient(lab_client_config(bootstrap, kafka_config), logger=silent_librdkafka_logger())
    names = list(topics)
    try:
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 5)
        described = admin.describe_topics(TopicCollection(names), request_timeout=timeout)
        identity = {"cluster_id": str(cluster.cluster_id)}
        for name, future in described.items():
            identity[f"topic:{name}"] = str(future.result(timeout=timeout + 5).topic_id)
    except Exception as exc:  # noqa: BLE001 - one line: the lab cannot tell which story it is in
        text = one_line(exc)
        raise UserFacingError(f"cannot read the cluster's identity from {bootstrap}: {text}") from None
    return identity


def read_story(state_dir: Path) -> dict[str, str]:
    """The identity recorded in ``state_dir`` (empty when there is none, or it cannot be read)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        data = json.loads((state_dir / STORY_FILE).read_text())
        return {str(k): str(v) for k, v in dict(data.get("identity") or {}).items()}
    return {}


def write_story(state_dir: Path, identity: Mapping[str, str], bootstrap: str) -> None:
    path = state_dir / STORY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    data = {"identity": dict(identity), "bootstrap": bootstrap, "recorded_at": datetime.now(UTC).isoformat()}
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def mismatch(recorded: Mapping[str, str], current: Mapping[str, str]) -> str | None:
    """Why ``recorded`` is another story than ``current`` (one phrase), or None when it is the same."""
    if not recorded:
        return None
    if recorded.get("cluster_id") != current.get("cluster_id"):
        return f"the cluster changed ({recorded.get('cluster_id')} -> {current.get('cluster_id')})"
    for key, value in current.items():
        if key.startswith("topic:") and recorded.get(key) not in (None, value):
            return f"topic {key[6:]} was recreated"
    return None


def move_aside(state_dir: Path, keep: Iterable[str] = (LOCK_FILE, STORIES_DIR)) -> Path | None:
    """Move everything of the old story in ``state_dir`` to ``stories/<time>/``; where it went (None if empty)."""
    kept = set(keep)
    entries = [entry for entry in state_dir.iterdir() if entry.name not in kept]
    if not entries:
        return None
    target = state_dir / STORIES_DIR / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        shutil.move(str(entry), str(target / entry.name))
    return target
