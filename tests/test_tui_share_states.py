"""The share-group view's states on recorded snapshots (no broker): a lost cluster, recovery, pause, read-only keys.

The collector is the replay of a real share group (tests/data/share_replay_snapshots.json); only its
answers are scripted, everything after it (rows, statuses, screen) is the real code.
"""

from __future__ import annotations

import threading

from deliverytui.errors import ClusterUnreachableError
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.tui.screens.share_group import ShareGroupScreen, ShareHeader
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog
from tests.replay import ShareReplayCollector, share_replay_app
from tests.tui_helpers import share_cell, wait_until

SIZE = (160, 48)


class FlakyShares(ShareReplayCollector):
    """Two recorded snapshots, one poll that cannot reach the cluster, then (once ``release`` is set) the rest."""

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__(cancel)
        self.calls = 0
        self.release = threading.Event()

    def snapshot(self, group_id: str):
        self.calls += 1
        if self.calls == 3:
            raise ClusterUnreachableError("cannot reach Kafka at 127.0.0.1:9092 while describing share group 'order-workers'")
        if self.calls > 3:
            while not self.release.wait(0.05):  # the test looks at the failed state first
                if self.cancel.is_set():
                    raise CollectionCancelled("quitting")
        return super().snapshot(group_id)


async def test_lost_cluster_shows_banner_and_stale_then_recovers() -> None:
    app = share_replay_app(collector=FlakyShares)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), what="the share view")
        screen = app.screen
        await wait_until(pilot, lambda: screen.failures == 1, what="the failed poll")
        banner = screen.query_one(ConnectionBanner)
        assert banner.has_class("-visible") and "STALE" in str(screen.query_one(ShareHeader).render())
        app.shares.release.set()
        await wait_until(pilot, lambda: not banner.has_class("-visible"), timeout=10, what="recovery")
        log = "\n".join(screen.query_one(EventLog).entries)
        assert "cannot reach Kafka" in log and "connection recovered" in log
        assert share_cell(screen, "orders:0", "owners") == "worker-a"


async def test_pause_and_read_only_keys() -> None:
    app = share_replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen) and app.screen.latest is not None,
                         what="the share view")
        screen = app.screen
        await pilot.press("p")
        assert screen.paused and "PAUSED" in str(screen.query_one(ShareHeader).render())
        await pilot.press("x")
        await wait_until(pilot, lambda: any("read-only" in n.message for n in app._notifications), what="the refusal")
        assert app.screen is screen  # nothing opened
        assert not app.check_action("filter", ()) and not app.check_action("reset_offsets", ())
