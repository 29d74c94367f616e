"""Leader and ISR in the live view, without a broker: scripted snapshots of a 3-node cluster losing a node.

The same with real processes (a node SIGKILLed and restarted) is tests/test_cluster_faults.py.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.kafka.isolated import row_fields, row_from_fields
from deliverytui.model import GroupSnapshot, PartitionRow
from deliverytui.model.replication import replication_events, replication_summary
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.fetch import GroupFetcher
from deliverytui.tui.rows import build_row
from deliverytui.tui.widgets.panels import EventLog, GroupHeader
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.tui_helpers import cell, wait_until

START = datetime(2026, 1, 1, tzinfo=UTC)


def row(partition: int, leader: int | None, replicas: tuple[int, ...], isr: tuple[int, ...]) -> PartitionRow:
    return PartitionRow("t", partition, 0, None, None, 10, 10, 0, None, None, None, leader, replicas, isr)


def snap(rows: tuple[PartitionRow, ...], brokers: tuple[int, ...], n: int = 0) -> GroupSnapshot:
    return GroupSnapshot("g", "Empty", "classic", None, None, (), rows, START + timedelta(seconds=n), brokers)


HEALTHY = snap((row(0, 1, (1, 2, 3), (1, 2, 3)), row(1, 2, (2, 3, 1), (2, 3, 1))), (1, 2, 3))
NODE_1_DOWN = snap((row(0, 2, (1, 2, 3), (2, 3)), row(1, 2, (2, 3, 1), (2, 3))), (2, 3), 1)
OFFLINE = snap((row(0, None, (1, 2, 3), (2,)), row(1, 2, (2, 3, 1), (2, 3))), (2, 3), 2)
ONE_NODE = snap((row(0, 1, (1,), (1,)),), (1,))


def test_events_name_moved_leaders_shrunk_isrs_and_offline_partitions() -> None:
    assert replication_events(None, HEALTHY) == []
    down = [text for text, _ in replication_events(HEALTHY, NODE_1_DOWN)]
    assert down == [
        "broker 1 left the cluster (down or fenced)",
        "leader of t:0 moved 1 → 2",
        "t:0 under-replicated: ISR 2,3 of 1,2,3",
        "t:1 under-replicated: ISR 2,3 of 1,2,3",
    ]
    assert [text for text, _ in replication_events(NODE_1_DOWN, OFFLINE)] == ["t:0 OFFLINE: no leader (replicas 1,2,3)"]
    back = [text for text, _ in replication_events(NODE_1_DOWN, HEALTHY)]
    assert back == [
        "broker 1 is back in the cluster",
        "leader of t:0 moved 2 → 1",
        "t:0 back in sync: ISR 1,2,3",
        "t:1 back in sync: ISR 1,2,3",
    ]
    assert replication_events(ONE_NODE, ONE_NODE) == []


def test_many_changes_are_counted_not_listed() -> None:
    before = snap(tuple(row(p, 1, (1, 2, 3), (1, 2, 3)) for p in range(50)), (1, 2, 3))
    after = snap(tuple(row(p, 2, (1, 2, 3), (2, 3)) for p in range(50)), (2, 3), 1)
    texts = [text for text, _ in replication_events(before, after)]
    assert "… and 46 more leader move(s)" in texts and "… and 46 more partition(s) under-replicated" in texts
    assert len(texts) == 1 + 5 + 5


def test_summary_cells_and_json() -> None:
    assert replication_summary(ONE_NODE) is None and not ONE_NODE.multi_node
    assert replication_summary(HEALTHY) == ("3 broker(s), all in sync", "green")
    assert replication_summary(NODE_1_DOWN) == ("2 broker(s), 2 partition(s) under-replicated", "bold yellow")
    assert replication_summary(OFFLINE)[1] == "bold red" and "1 partition(s) OFFLINE" in replication_summary(OFFLINE)[0]
    leader, isr = build_row(NODE_1_DOWN.partitions[0]).cells[-2:]
    assert leader == ("2", "yellow") and isr == ("2,3 (2/3)", "bold yellow")  # not the preferred leader; 2 of 3
    leader, isr = build_row(OFFLINE.partitions[0]).cells[-2:]
    assert leader == ("none", "bold red") and isr == ("2 (1/3)", "bold red")
    assert build_row(HEALTHY.partitions[0]).cells[-2:] == (("1", ""), ("1,2,3", ""))
    data = OFFLINE.to_json()
    assert data["brokers"] == [2, 3] and data["offline_partitions"] == 1 and data["under_replicated_partitions"] == 2
    assert {k: data["partitions"][0][k] for k in ("leader", "replicas", "isr", "offline")} == {
        "leader": None, "replicas": [1, 2, 3], "isr": [2], "offline": True,
    }
    assert GroupSnapshot.from_json(data) == OFFLINE
    # The isolated inspector's wire format keeps the replica tuples (JSON makes them lists).
    wire = json.loads(json.dumps(row_fields(OFFLINE.partitions[0])))
    assert row_from_fields(wire) == OFFLINE.partitions[0]


class ScriptedInspector:
    def __init__(self, snapshots: list[GroupSnapshot]) -> None:
        self.snapshots = snapshots
        self.served = 0
        self.cancel: threading.Event | None = None

    def snapshot(self, group: str) -> GroupSnapshot:
        if self.served >= len(self.snapshots):
            assert self.cancel is not None
            self.cancel.wait()
            raise CollectionCancelled("done")
        self.served += 1
        return self.snapshots[self.served - 1]

    def close(self) -> None:
        pass


def scripted_app(snapshots: list[GroupSnapshot]) -> tuple[DeliveryApp, ScriptedInspector]:
    inspector = ScriptedInspector(snapshots)

    def factory(config: ViewerConfig, group: str, cancel: threading.Event) -> GroupFetcher:
        inspector.cancel = cancel
        return GroupFetcher(config, group, cancel, inspector=inspector, read_positions=False)

    return DeliveryApp(ViewerConfig(bootstrap="scripted", group="g", refresh_seconds=0.05), fetcher_factory=factory), inspector


async def test_columns_appear_on_three_nodes_and_follow_the_failure() -> None:
    app, inspector = scripted_app([HEALTHY, NODE_1_DOWN, OFFLINE])
    async with app.run_test(size=(180, 48)) as pilot:
        await wait_until(pilot, lambda: inspector.served == 3 and app.polls_completed == 3, what="three polls")
        table = app.query_one(PartitionsTable)
        assert table.replication_visible and table.shown_columns[-2:] == ["leader", "isr"]
        assert cell(app, "t:0", "leader") == "none" and cell(app, "t:0", "isr") == "2 (1/3)"
        assert cell(app, "t:1", "leader") == "2" and cell(app, "t:1", "isr") == "2,3 (2/3)"
        log = "\n".join(app.query_one(EventLog).entries)
        assert "leader of t:0 moved 1 → 2" in log and "t:0 OFFLINE: no leader" in log
        assert "OFFLINE" in str(app.query_one(GroupHeader).render())


async def test_columns_stay_hidden_on_one_node() -> None:
    app, inspector = scripted_app([ONE_NODE])
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.polls_completed == 1, what="a poll")
        table = app.query_one(PartitionsTable)
        assert not table.replication_visible
        assert "leader" not in table.shown_columns
        assert "replication" not in str(app.query_one(GroupHeader).render())
