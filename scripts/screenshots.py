"""Regenerate screenshots/ from a real run, and record the replay data the snapshot tests use.

Starts an embedded Apache Kafka broker (or uses --bootstrap), publishes task events, runs a
real at-least-once consumer for ``notification-service`` that publishes its position through
``deliverytui.probe`` and commits only every 25th record (so positions run ahead of
commits), leaves ``analytics-service`` with old commits, then drives the live view with
Pilot and saves SVGs: the fleet (every group, worst first; ``--fleet-only`` makes only that one), the
main screen, help, the group picker and the disconnected banner
(the broker is really stopped for that one); the live view on a share group read by two real
share consumers; and the demo lab with its six real consumer
processes, mid-crash: the crash menu, at-least-once dead after its effect, and the duplicate
counted after the restart. ``stuck.svg``: a partition stuck on a poison record whose last stable
offset an open transaction pins (``--only stuck`` takes just that one).

    python scripts/screenshots.py [--record tests/data/replay_snapshots.json] [--only stuck]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.broker.distribution import resolve_distribution  # noqa: E402
from deliverytui.broker.embedded import EmbeddedBroker  # noqa: E402
from deliverytui.demo.task_api import TaskApiProducer, ensure_topic, task_created_events  # noqa: E402
from deliverytui.kafka.group_inspector import GroupInspector  # noqa: E402
from deliverytui.probe import attach_probe, probe_of  # noqa: E402
from deliverytui.tui.app import DeliveryApp, ViewerConfig  # noqa: E402
from deliverytui.tui.screens.group_picker import GroupPickerScreen  # noqa: E402
from deliverytui.tui.widgets.panels import ConnectionBanner  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot_rebalance import shoot_rebalance  # noqa: E402 - the KIP-848 shots, runnable on their own too

ROOT = Path(__file__).resolve().parent.parent
SIZE = (160, 48)


def publish(bootstrap: str, count: int, start: int) -> None:
    producer = TaskApiProducer(bootstrap)
    for event in task_created_events(count, start=start):
        producer.publish(event)
    producer.flush()


def slow_consumer(bootstrap: str, stop: threading.Event) -> None:
    """At-least-once, but commits only every 25th record and sleeps: lag, and positions ahead of commits."""
    config = attach_probe(
        {"bootstrap.servers": bootstrap, "group.id": "notification-service", "client.id": "notifier-1",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"},
        interval_ms=500,
    )
    consumer = Consumer(config)
    consumer.subscribe(["task-events"])
    processed = 0
    try:
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            processed += 1
            time.sleep(0.01)
            if processed % 25 == 0:
                consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
        publisher = probe_of(config)
        if publisher:
            publisher.close()


async def wait_for(pilot, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.2)
    raise SystemExit("timed out waiting for the screen")


async def shoot(bootstrap: str, broker: EmbeddedBroker | None, out: Path) -> None:
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group="notification-service", refresh_seconds=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.polls_completed >= 6)
        table = app.query_one("#partitions")
        table.focus()
        await pilot.pause(0.5)
        app.save_screenshot(str(out / "main.svg"))
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        app.save_screenshot(str(out / "help.svg"))
        await pilot.press("escape")
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GroupPickerScreen))
        await pilot.pause(0.3)
        app.save_screenshot(str(out / "group-picker.svg"))
        await pilot.press("escape")
        if broker is not None:
            broker.stop()
            banner = app.query_one(ConnectionBanner)
            await wait_for(pilot, lambda: banner.has_class("-visible"))
            await pilot.pause(0.5)
            app.save_screenshot(str(out / "disconnected.svg"))


def share_workers(bootstrap: str, group: str, stop: threading.Event) -> list[threading.Thread]:
    """Two confluent ShareConsumers sharing task-events in explicit mode, slowly (share lag stays visible),
    each releasing every 40th record once so the view has redeliveries to show."""
    from confluent_kafka import AcknowledgeType, ShareConsumer

    def work(name: str) -> None:
        consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                                  "share.acknowledgement.mode": "explicit"})
        consumer.subscribe(["task-events"])
        try:
            while not stop.is_set():
                for message in consumer.poll(0.5) or []:
                    if message.error():
                        continue
                    release = message.offset() % 40 == 0 and (message.delivery_count() or 1) == 1
                    consumer.acknowledge(message, AcknowledgeType.RELEASE if release else AcknowledgeType.ACCEPT)
                    time.sleep(0.02)
                consumer.commit_sync()
        finally:
            consumer.close()

    threads = [threading.Thread(target=work, args=(name,), daemon=True) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    return threads


async def shoot_share(bootstrap: str, out: Path) -> None:
    """The live view on a share group run by two real share consumers (its own group, read from the start)."""
    from deliverytui.broker.admin_helper import admin_helper_command
    from deliverytui.kafka.java_admin import JavaAdmin
    from deliverytui.tui.screens.share_group import ShareGroupScreen

    group = "task-workers"
    with JavaAdmin(admin_helper_command(), bootstrap) as java:
        java.call("alter_group_config", "setting share.auto.offset.reset", group=group,
                  configs={"share.auto.offset.reset": "earliest"})
    stop = threading.Event()
    threads = share_workers(bootstrap, group, stop)
    try:
        app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=1.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ShareGroupScreen), timeout=120)
            await pilot.pause(8)
            app.save_screenshot(str(out / "share-group.svg"))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


async def shoot_demo(bootstrap: str, out: Path) -> None:
    """The lab mid-crash: at-least-once dies after its effect, restarts, and the duplicate is counted."""
    from deliverytui.demo.lab import Lab, LabSettings
    from deliverytui.tui.demo_app import DemoLabScreen, demo_app
    from deliverytui.tui.screens.lab_dialogs import CrashPointScreen

    state_dir = Path(tempfile.mkdtemp(prefix="deliverytui-shots-lab-"))
    # Not the live view's notification-service shown in main.svg: its own topic and group names.
    lab = Lab(LabSettings(state_dir=state_dir, bootstrap=bootstrap, topic="lab-task-events", group_prefix="lab-", rate=20.0)).open()

    def audit_of(app, semantic: str):
        return app.lab_update.audit_of(semantic) if app.lab_update is not None else None

    try:
        app = demo_app(lab)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, DemoLabScreen))
            await wait_for(pilot, lambda: (audit_of(app, "exactly-once") or 0) and audit_of(app, "exactly-once").unique_effects > 20, 120)
            table = app.screen.query_one("#lab-table")
            table.move_cursor(row=list(table.rows).index("at-least-once"))
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CrashPointScreen))
            await pilot.pause(0.3)
            app.save_screenshot(str(out / "demo-crash-menu.svg"))
            menu = app.screen
            menu.query_one("#points").highlighted = list(menu.points).index("after-effect")
            await pilot.press("enter")
            await wait_for(pilot, lambda: lab.supervisor.pid("at-least-once") is None, 60)
            await pilot.pause(1.5)
            app.save_screenshot(str(out / "demo-crashed.svg"))
            await pilot.press("R")
            await wait_for(pilot, lambda: (audit_of(app, "at-least-once").duplicates or 0) >= 1, 90)
            await pilot.pause(1.5)
            app.save_screenshot(str(out / "demo-duplicate-counted.svg"))
    finally:
        lab.close()


async def shoot_stuck(bootstrap: str, out: Path) -> None:
    """A stopped payments consumer: a poison record at its committed offset, and an open transaction behind it."""
    from confluent_kafka import Producer

    from deliverytui.tui.widgets.stuck_panel import StuckPanel
    from tests.kafka_helpers import commit, create_topic, produce

    topic = group = "payments"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 12, 1: 30, 2: 30})
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic, key=b"order-4711\x1b]0;pwned\x07", value=b'{"amount": "12,50\x00 EUR", "currency": null}',
                  headers=[("trace-id", b"7f3a\r\n"), ("retries", b"5")], partition=0)
    plain.flush(30)
    produce(bootstrap, topic, {0: 7})
    commit(bootstrap, group, {(topic, 0): 12, (topic, 1): 30, (topic, 2): 30})
    stuck = Producer({"bootstrap.servers": bootstrap, "transactional.id": "payments-writer-2"})
    stuck.init_transactions(30)
    stuck.begin_transaction()
    for i in range(3):
        stuck.produce(topic, value=f"refund-{i}".encode(), partition=0)
    stuck.flush(30)
    try:
        app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=1.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.update is not None and len(app.update.rows) == 3)
            await pilot.press("i")
            panel = app.query_one(StuckPanel)
            await wait_for(pilot, lambda: "transactional id payments" in str(panel.render()), timeout=120)
            await pilot.pause(1)
            app.save_screenshot(str(out / "stuck.svg"))
    finally:
        stuck.abort_transaction(30)


def record(bootstrap: str, path: Path, count: int = 4) -> None:
    inspector = GroupInspector(bootstrap)
    snapshots = []
    for i in range(count):
        publish(bootstrap, 40, start=10_000 + i * 40)
        time.sleep(1.5)
        snapshots.append(inspector.snapshot("notification-service").to_json())
    groups = [g.to_json() for g in inspector.list_groups()]
    path.write_text(json.dumps({"snapshots": snapshots, "groups": groups}, indent=1) + "\n")
    print(f"recorded {count} snapshots into {path}")


def seed_fleet(bootstrap: str) -> None:
    """A few more groups beside the two above, so the fleet has something to rank: drained, behind, never started."""
    from tests.kafka_helpers import commit

    commit(bootstrap, "billing", {("task-events", p): 100 for p in range(6)})
    commit(bootstrap, "audit-archiver", {("task-events", p): 0 for p in range(3)})
    commit(bootstrap, "search-indexer", {("task-events", p): 95 for p in range(6)})


async def shoot_fleet(bootstrap: str, out: Path) -> None:
    """``deliverytui`` without ``--group``: the fleet after a few refreshes (status and trend need history)."""
    from deliverytui.tui.screens.fleet import FleetScreen

    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group="", refresh_seconds=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.polls_completed >= 6)
        await pilot.pause(0.5)
        app.save_screenshot(str(out / "fleet.svg"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--fleet-only", action="store_true", help="only screenshots/fleet.svg (the others unchanged)")
    parser.add_argument("--record", help="also write replay snapshots for the snapshot tests to this JSON file")
    parser.add_argument("--only", choices=["stuck"], help="take only this screenshot")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="deliverytui-shots-")))
        bootstrap = broker.start(distribution=resolve_distribution())[0].bootstrap
    stop = threading.Event()
    worker = threading.Thread(target=slow_consumer, args=(bootstrap, stop), daemon=True)
    try:
        if args.only == "stuck":
            asyncio.run(shoot_stuck(bootstrap, out))
            return 0
        ensure_topic(bootstrap, partitions=6)
        publish(bootstrap, 600, start=0)
        from tests.kafka_helpers import commit

        commit(bootstrap, "analytics-service", {("task-events", p): 20 for p in range(6)})
        worker.start()
        time.sleep(3)
        if args.record:
            record(bootstrap, Path(args.record))
        publish(bootstrap, 300, start=20_000)
        seed_fleet(bootstrap)
        asyncio.run(shoot_fleet(bootstrap, out))
        if args.fleet_only:
            return 0
        asyncio.run(shoot_demo(bootstrap, out))
        asyncio.run(shoot_share(bootstrap, out))
        asyncio.run(shoot_rebalance(bootstrap, out))
        asyncio.run(shoot(bootstrap, broker, out))
        print(f"screenshots written to {out}")
    finally:
        stop.set()
        if worker.is_alive():  # not started with --only
            worker.join(timeout=10)
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
