"""Replay recorded snapshots (taken from a real broker by scripts/screenshots.py --record) for SVG snapshot tests.

Rendering tests need the same pixels every run, so they replace only the Kafka client:
everything after it (lag history, rows, widgets) is the real code.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

from deliverytui.errors import ClusterUnreachableError
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model import GroupListing, GroupSnapshot
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.fetch import GroupFetcher

DATA = Path(__file__).parent / "data" / "replay_snapshots.json"


class ReplayInspector:
    """Serves the recorded snapshots in order; then fails once (a lost cluster) or holds until the app quits.

    Holding (rather than repeating the last snapshot) keeps the sparklines the same length
    whatever the timing, so SVGs are stable.
    """

    def __init__(self, *, fail_after: int | None = None, cancel: threading.Event | None = None) -> None:
        self.cancel = cancel
        recorded = json.loads(DATA.read_text())
        self.snapshots = [GroupSnapshot.from_json(s) for s in recorded["snapshots"]]
        self.groups = [GroupListing(g["group"], g["state"], g["protocol"], g["simple"]) for g in recorded["groups"]]
        self.served = 0
        self.fail_after = fail_after
        self.failed = False

    def snapshot(self, group_id: str) -> GroupSnapshot:
        if self.fail_after is not None and self.served >= self.fail_after:
            if self.failed:  # fail once, then hold: the banner's "retrying in …" must not depend on timing
                assert self.cancel is not None
                self.cancel.wait()
                raise CollectionCancelled("replay finished")
            self.failed = True
            raise ClusterUnreachableError(
                "cannot reach Kafka at 127.0.0.1:9092 while describing group 'notification-service': "
                "1/1 brokers are down; check --bootstrap and that the cluster is up"
            )
        if self.served >= len(self.snapshots):
            assert self.cancel is not None
            self.cancel.wait()
            raise CollectionCancelled("replay finished")
        snapshot = self.snapshots[self.served]
        self.served += 1
        return snapshot

    def list_groups(self) -> list[GroupListing]:
        return self.groups

    def close(self) -> None:
        pass


def replay_app(*, fail_after: int | None = None, allow_writes: bool = False) -> DeliveryApp:
    inspector = ReplayInspector(fail_after=fail_after)
    last = inspector.snapshots[-1].taken_at
    config = ViewerConfig(
        bootstrap="127.0.0.1:9092", group="notification-service", refresh_seconds=0.05,
        allow_writes=allow_writes, max_backoff_seconds=3600,
    )

    def factory(config: ViewerConfig, group: str, cancel: threading.Event) -> GroupFetcher:
        inspector.cancel = cancel
        return GroupFetcher(config, group, cancel, inspector=inspector, read_positions=False)

    return DeliveryApp(config, fetcher_factory=factory, clock=lambda: last + timedelta(seconds=1))


def frozen_time() -> datetime:
    return ReplayInspector().snapshots[-1].taken_at


SHARE_DATA = Path(__file__).parent / "data" / "share_replay_snapshots.json"


class ShareReplayCollector:
    """The share-group collector's calls, served from share snapshots recorded from a real broker
    (Kafka's console share consumers on ``orders``); after the last one it holds, as :class:`ReplayInspector`."""

    def __init__(self, cancel: threading.Event) -> None:
        from deliverytui.model.share import ShareGroupSnapshot

        recorded = json.loads(SHARE_DATA.read_text())
        self.snapshots = [ShareGroupSnapshot.from_json(s) for s in recorded["snapshots"]]
        self.groups = [GroupListing(g["group"], g["state"], g["type"], g["simple"]) for g in recorded["groups"]]
        self.cancel = cancel
        self.served = 0

    def is_share_group(self, group_id: str) -> bool:
        return any(g.group_id == group_id for g in self.groups)

    def list_share_groups(self) -> list[GroupListing]:
        return self.groups

    def snapshot(self, group_id: str):
        if self.served >= len(self.snapshots):
            self.cancel.wait()
            raise CollectionCancelled("replay finished")
        self.served += 1
        return self.snapshots[self.served - 1]

    def close(self) -> None:
        pass


class _NoConsumerGroup:
    """The consumer-group collector on a share group's id: no such consumer group."""

    def snapshot(self, group_id: str):
        from deliverytui.errors import UnknownGroupError

        raise UnknownGroupError(f"group {group_id!r} does not exist (as a consumer group)")

    def list_groups(self) -> list[GroupListing]:
        return []

    def close(self) -> None:
        pass


def share_replay_app(collector: type[ShareReplayCollector] = ShareReplayCollector) -> DeliveryApp:
    """The live view opened on the recorded share group, at a fixed time one second after the last snapshot."""

    def shares(config: ViewerConfig, cancel: threading.Event) -> ShareReplayCollector:
        return collector(cancel)

    config = ViewerConfig(bootstrap="127.0.0.1:9092", group="order-workers", refresh_seconds=0.05, max_backoff_seconds=3600)
    last = ShareReplayCollector(threading.Event()).snapshots[-1].taken_at
    return DeliveryApp(
        config,
        fetcher_factory=lambda config, group, cancel: GroupFetcher(config, group, cancel, inspector=_NoConsumerGroup(), read_positions=False),
        share_collector_factory=shares,
        clock=lambda: last + timedelta(seconds=1),
    )
