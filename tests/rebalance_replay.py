"""Replay of a KIP-848 rebalance recorded from a real broker (scripts/screenshot_rebalance.py --record), for SVG tests.

Only the Kafka clients are replaced: the consumer-group inspector serves the recorded snapshots and the
Java helper the recorded ``describe_consumer_group_epochs`` answers; the tracker, the panel and the event
log are the real code. Each snapshot is served only once the epochs of the previous one were shown, so
the event log's lines come in the same order on every run, whatever the machine's speed.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model import GroupListing, GroupSnapshot
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.fetch import GroupFetcher

DATA = Path(__file__).parent / "data" / "kip848_replay.json"


class RebalanceReplay:
    """Both fakes' shared state: which frame was served, and whether the app has shown its epochs."""

    def __init__(self) -> None:
        recorded = json.loads(DATA.read_text())
        self.group: str = recorded["group"]
        self.snapshots = [GroupSnapshot.from_json(frame["snapshot"]) for frame in recorded["frames"]]
        self.epochs: list[dict[str, Any]] = [frame["epochs"] for frame in recorded["frames"]]
        self.served = 0
        self.answered = 0
        self.app: DeliveryApp | None = None
        self.cancel = threading.Event()

    @property
    def done(self) -> bool:
        app = self.app
        return self.answered >= len(self.epochs) and app is not None and not app.epochs_in_flight

    # -- the consumer-group inspector's side --------------------------------------------------
    def snapshot(self, group_id: str) -> GroupSnapshot:
        while not self.cancel.is_set():
            shown = self.app is not None and not self.app.epochs_in_flight and self.answered >= self.served
            if self.served < len(self.snapshots) and shown:
                self.served += 1
                return self.snapshots[self.served - 1]
            self.cancel.wait(0.02)
        raise CollectionCancelled("replay finished")

    def list_groups(self) -> list[GroupListing]:
        return []

    def close(self) -> None:
        pass

    # -- the Java helper's side ---------------------------------------------------------------
    def call(self, op: str, what: str, **args: Any) -> Any:
        assert op == "describe_consumer_group_epochs" and args["group"] == self.group
        self.answered = self.served
        return self.epochs[self.served - 1]


class ReplayShares:
    """The share-group collector as the KIP-848 panel uses it: ``java_admin`` only (no share groups here)."""

    last_error = None

    def __init__(self, replay: RebalanceReplay) -> None:
        self.replay = replay

    def java_admin(self) -> RebalanceReplay:
        return self.replay

    def is_share_group(self, group_id: str) -> bool:
        return False

    def list_share_groups(self) -> list[GroupListing]:
        return []

    def close(self) -> None:
        pass


def rebalance_replay_app() -> tuple[DeliveryApp, RebalanceReplay]:
    replay = RebalanceReplay()
    config = ViewerConfig(bootstrap="127.0.0.1:9092", group=replay.group, refresh_seconds=0.05, max_backoff_seconds=3600)
    last = replay.snapshots[-1].taken_at

    def fetcher(config: ViewerConfig, group: str, cancel: threading.Event) -> GroupFetcher:
        replay.cancel = cancel
        return GroupFetcher(config, group, cancel, inspector=replay, read_positions=False)

    app = DeliveryApp(
        config, fetcher_factory=fetcher, clock=lambda: last + timedelta(seconds=1),
        share_collector_factory=lambda config, cancel: ReplayShares(replay),
    )  # fmt: skip
    replay.app = app
    return app, replay
