"""SVG snapshot of the fleet at a fixed size, from a fixed sequence of fleet readings.

A rendering test: only the Kafka client is replaced (by readings built here, four refreshes of six
groups whose commits and log ends move); the tracker, the ranking and the screen are the real code.
Update the SVG deliberately with ``pytest tests/test_fleet_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import deliverytui.tui.app as app_module
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model.fleet import FleetGroupReading, FleetReading
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.fleet import FleetScreen

SIZE = (160, 30)
START = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)
REFRESHES = 4


def readings() -> list[FleetReading]:
    """Four refreshes 2 s apart: one group falling behind, one draining, one stopped, others idle or live."""
    out = []
    for step in range(REFRESHES):
        end = 1000 + 100 * step  # every topic grows by 100 records per partition per refresh
        groups = (
            # (id, type, state, members, committed per partition of two, owned)
            ("billing", "consumer", "Stable", 2, [end - 10, end - 12], True),  # keeping up
            ("search-indexer", "classic", "Stable", 1, [900 + 20 * step] * 2, True),  # falling behind
            ("audit-archiver", "classic", "Empty", 0, [400, 400], False),  # stopped with lag
            ("notifications", "classic", "Stable", 3, [700 + 180 * step] * 2, True),  # draining
            ("reports", "classic", "Empty", 0, [end, end], False),  # caught up, idle
        )
        fleet = [
            FleetGroupReading(
                group_id=gid, group_type=kind, state=state, members=members, topics=(f"{gid}-events",),
                total_lag=sum(end - c for c in committed),
                partition_lags={(f"{gid}-events", p): (c, end) for p, c in enumerate(committed)},
                owned_partitions=frozenset((f"{gid}-events", p) for p in range(2)) if owned else frozenset(),
            )
            for gid, kind, state, members, committed, owned in groups
        ]
        fleet.append(FleetGroupReading("orders-queue", "share", "Stable", 0, (), None, {}))
        out.append(FleetReading(groups=tuple(fleet), taken_at=START + timedelta(seconds=2 * step)))
    return out


class ReplayFleetCollector:
    """Serves the readings in order, then holds until the screen stops (a stable screen whatever the timing)."""

    def __init__(self, cancel: threading.Event) -> None:
        self._readings = readings()
        self._cancel = cancel

    def read(self) -> FleetReading:
        if self._readings:
            return self._readings.pop(0)
        self._cancel.wait()
        raise CollectionCancelled("replay finished")

    def close(self) -> None:
        pass


class ReplayFleetApp(DeliveryApp):
    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # a relative path would resolve next to this test

    def make_fleet_collector(self, cancel: threading.Event) -> ReplayFleetCollector:
        return ReplayFleetCollector(cancel)


def test_fleet_screen(snap_compare) -> None:
    app = ReplayFleetApp(
        ViewerConfig(bootstrap="kafka.example:9092", group="", refresh_seconds=0.2),
        clock=lambda: START + timedelta(seconds=2 * (REFRESHES - 1) + 1),
    )

    async def run_before(pilot) -> None:
        for _ in range(600):
            if isinstance(app.screen, FleetScreen) and app.screen.polls_completed >= REFRESHES:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
