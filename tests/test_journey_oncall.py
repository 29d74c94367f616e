"""Journey 2, steps 1–3: the on-call engineer at 3 a.m., twice in a row on the same state.

``deliverytui`` with no group opens every group of a real cluster, worst first, with status, lag,
time lag and drain ETA. Enter on the red one: its partitions and its event log. Its STOP partition
says which record it is stuck on (a hostile poison record, shown escaped) and, on the partition
below, which open transaction pins the last stable offset (a real transactional producer that never
commits). Esc back to the fleet, q, and the same again from a fresh start.
(Steps 4–8 have their own journeys: tests/test_tui_live.py, test_journey_readonly.py,
test_tui_reset.py, test_hostile_names.py.)
"""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from textual.widgets import DataTable, Static

from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.screens.fleet import FleetScreen
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.panels import EventLog
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.kafka_helpers import commit, create_topic, produce
from tests.test_tui_stuck import RAW_CONTROL, panel_text, produce_poison
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka


def fleet_rows(screen: FleetScreen) -> list[list[str]]:
    table = screen.query_one("#fleet-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def walk_once(config: ViewerConfig, red: str, topic: str, healthy: list[str], unique: str) -> None:
    app = DeliveryApp(config)
    async with app.run_test(size=(180, 50)) as pilot:
        # 1. Every group, the worst first, with status, lag, time lag and ETA.
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the fleet at start")
        fleet = app.screen
        await pilot.press("slash", *f"oc-{unique}", "enter")  # the session's broker holds other tests' groups
        await wait_until(
            pilot, lambda: (rows := fleet_rows(fleet)) and rows[0][0] == red and rows[0][7] == "STOP" and rows[0][6] != "-",
            timeout=60, what="the red group first, STOP, with a time lag",
        )
        rows = {row[0]: row for row in fleet_rows(fleet)}
        assert set(rows) == {red, *healthy}
        assert rows[red][5] == "9"  # lag: 6 behind the poison record, 3 behind the open transaction
        assert rows[red][6].startswith(("~", "≥"))  # the oldest waiting record's age, marked as an estimate
        assert rows[red][9] != "-"  # the drain column says something once two refreshes passed
        assert all(rows[group][7] == "OK" and rows[group][5] == "0" for group in healthy)
        # The header counts the whole cluster (the session's broker holds other tests' groups too); it says
        # how many rows the filter shows.
        assert "(3 shown)" in str(fleet.query_one("#fleet-header", Static).render())

        # 2. Enter on the red one: its partitions, who owns what (nobody), what changed.
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.update is not None and app.update.snapshot.group_id == red, timeout=60, what="its view")
        table = app.query_one(PartitionsTable)
        await wait_until(pilot, lambda: len(table.shown_keys) == 2, what="its two partitions")
        assert cell(app, f"{topic}:0", "committed") == "3" and cell(app, f"{topic}:0", "lag") == "6"
        assert cell(app, f"{topic}:1", "lso") == "5" and cell(app, f"{topic}:1", "log_end") == "8"
        assert any(f"attached to {red}" in line for line in app.query_one(EventLog).entries)

        # 3. The STOP partition: the record it is stuck on, escaped, without asking.
        assert table.selected_key == f"{topic}:0"  # sorted by lag: the poison partition first
        await wait_until(pilot, lambda: "record at the committed offset 3" in panel_text(app), timeout=60, what="the record")
        assert "order-7\\x1b]0;pwned\\x07\\x00\\x0d" in panel_text(app)
        assert RAW_CONTROL.search(app.export_screenshot()) is None
        # ... and the partition below: the open transaction pinning its last stable offset.
        await pilot.press("down")
        await wait_until(pilot, lambda: table.selected_key == f"{topic}:1", what="the cursor on partition 1")
        await wait_until(pilot, lambda: "transactional id" in panel_text(app), timeout=90, what="the transaction named")
        assert f"transactional id payments-tx-{unique}" in panel_text(app) and "Ongoing" in panel_text(app)

        # Esc: the fleet again, still worst first; q quits.
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is fleet, what="back to the fleet")
        assert fleet_rows(fleet)[0][0] == red
        await pilot.press("q")
    assert app.return_code in (0, None)


def open_transaction_on(bootstrap: str, topic: str, partition: int, transactional_id: str) -> Producer:
    """A real transactional producer: three records on ``partition`` in a transaction it never commits."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "transaction.timeout.ms": 600_000})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"in-flight-{i}".encode(), partition=partition)
    assert producer.flush(30) == 0
    return producer


async def test_on_call_fleet_to_the_stuck_record_and_the_open_transaction_twice(bootstrap: str, unique: str) -> None:
    topic, red = f"oc-{unique}-payments", f"oc-{unique}-payments-service"
    create_topic(bootstrap, topic, 2)
    produce_poison(bootstrap, topic)  # partition 0: offsets 0-2 good, 3 poison, 4-5 good
    produce(bootstrap, topic, {0: 3, 1: 5})  # log end 9 on partition 0, 5 on partition 1
    commit(bootstrap, red, {(topic, 0): 3, (topic, 1): 5})  # the consumer died on the poison record
    healthy = [f"oc-{unique}-audit", f"oc-{unique}-search"]
    for group in healthy:
        commit(bootstrap, group, {(topic, 0): 9})
    pinning = open_transaction_on(bootstrap, topic, 1, f"payments-tx-{unique}")  # partition 1: LSO 5, log end 8
    try:
        config = ViewerConfig(bootstrap=bootstrap, group="", refresh_seconds=0.5, request_timeout=20)
        await walk_once(config, red, topic, healthy, unique)
        await walk_once(config, red, topic, healthy, unique)  # the same state, a fresh start: the same story
    finally:
        pinning.abort_transaction(30)
