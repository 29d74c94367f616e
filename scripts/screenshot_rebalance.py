"""Screenshots of the KIP-848 rebalance view from a real run: a second member joins a consumer-protocol group.

The first member (``billing-1``) owns all 6 partitions of ``orders`` and then stops polling, so it cannot
give up the 3 that the coordinator moves to ``billing-2``: the view is shot mid-rebalance (pending
revocation and unowned partitions marked), then again after ``billing-1`` polls and the rebalance settles
(the event log says how long it took).

    python scripts/screenshot_rebalance.py [--bootstrap HOST:PORT] [--record tests/data/kip848_replay.json]

``--record`` also writes the replay data of the KIP-848 SVG snapshot test (tests/test_tui_rebalance_snapshot.py):
consumer-group snapshots and the Java helper's epoch answers, before and during a held rebalance.

``scripts/screenshots.py`` calls :func:`shoot_rebalance` too (after the share-group shots).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.tui.app import DeliveryApp, ViewerConfig  # noqa: E402
from deliverytui.tui.widgets.panels import EventLog  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIZE = (160, 48)
TOPIC, GROUP = "orders", "billing"


def member(bootstrap: str, client_id: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": client_id,
                     "group.protocol": "consumer", "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def member_of(bootstrap: str, group: str, client_id: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
                     "group.protocol": "consumer", "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def held(answer: dict) -> bool:
    """Two members, both with a target, and one still behind the target epoch (its revocation is held)."""
    members = answer["members"]
    return len(members) == 2 and all(m["target_assignment"] for m in members) and any(
        m["member_epoch"] != answer["target_assignment_epoch"] for m in members
    )


def record(bootstrap: str, path: Path, group: str = "billing-replay") -> None:
    """Replay data: (snapshot, epochs answer) settled with one member, then twice while a revocation is held."""
    import json

    from deliverytui.broker.admin_helper import admin_helper_command
    from deliverytui.kafka.consumer_group_epochs import DESCRIBE_OP
    from deliverytui.kafka.group_inspector import GroupInspector
    from deliverytui.kafka.java_admin import JavaAdmin

    first, second = member_of(bootstrap, group, "billing-1"), member_of(bootstrap, group, "billing-2")
    first.subscribe([TOPIC])
    while not first.assignment():
        first.poll(0.2)
    first.commit(offsets=[TopicPartition(TOPIC, p, 40 * (p + 1)) for p in range(6)], asynchronous=False)
    inspector = GroupInspector(bootstrap)
    stop = threading.Event()
    poller = threading.Thread(target=keep_polling, args=(second, stop), daemon=True)
    frames = []
    try:
        with JavaAdmin(admin_helper_command(), bootstrap) as java:
            describe = lambda: java.call(DESCRIBE_OP, "recording", group=group)  # noqa: E731
            while len(describe()["members"]) != 1 or not describe()["members"][0]["assignment"]:
                time.sleep(0.3)
            frames.append({"snapshot": inspector.snapshot(group).to_json(), "epochs": describe()})
            second.subscribe([TOPIC])
            poller.start()
            while not held(describe()):
                time.sleep(0.3)
            for _ in range(2):
                frames.append({"snapshot": inspector.snapshot(group).to_json(), "epochs": describe()})
                time.sleep(1.0)
    finally:
        stop.set()
        if poller.is_alive():
            poller.join(10)
        first.close()
        second.close()
    path.write_text(json.dumps({"group": group, "frames": frames}, indent=1) + "\n")
    print(f"recorded {len(frames)} frames into {path}")


def keep_polling(consumer: Consumer, stop: threading.Event) -> None:
    while not stop.is_set():
        consumer.poll(0.2)


async def wait_for(pilot, predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.2)
    app = pilot.app
    shown = app.rebalance_panel.shown_text if app.rebalance_panel is not None else "(no KIP-848 panel)"
    log = "\n".join(app.query_one(EventLog).entries[-8:])
    raise SystemExit(f"timed out waiting for the screen; the KIP-848 panel shows: {shown}\nevents:\n{log}")


async def shoot_rebalance(bootstrap: str, out: Path) -> None:
    from tests.kafka_helpers import create_topic, produce

    create_topic(bootstrap, TOPIC, 6)
    produce(bootstrap, TOPIC, {p: 200 for p in range(6)})
    first = member(bootstrap, "billing-1")
    first.subscribe([TOPIC])
    while not first.assignment():
        first.poll(0.2)
    for _ in range(50):
        first.poll(0.1)  # consume a little: committed offsets and some lag to show
    first.commit(asynchronous=False)
    second = member(bootstrap, "billing-2")
    stops = [threading.Event(), threading.Event()]
    threads: list[threading.Thread] = []
    try:
        app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=GROUP, refresh_seconds=1.0))
        async with app.run_test(size=SIZE) as pilot:
            panel = lambda: app.rebalance_panel.shown_text if app.rebalance_panel is not None else ""  # noqa: E731
            await wait_for(pilot, lambda: "settled" in panel())
            second.subscribe([TOPIC])
            threads.append(threading.Thread(target=keep_polling, args=(second, stops[1]), daemon=True))
            threads[-1].start()
            await wait_for(pilot, lambda: "rebalancing" in panel() and f"⇠ {TOPIC}:" in panel())
            await pilot.pause(2)
            app.save_screenshot(str(out / "kip848-rebalancing.svg"))
            threads.append(threading.Thread(target=keep_polling, args=(first, stops[0]), daemon=True))
            threads[-1].start()
            await wait_for(pilot, lambda: any(" settled in " in line for line in app.query_one(EventLog).entries))
            await pilot.pause(2)
            app.save_screenshot(str(out / "kip848-settled.svg"))
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(timeout=10)
        first.close()
        second.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--record", help="also write the KIP-848 snapshot test's replay data to this JSON file")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        from deliverytui.broker.distribution import resolve_distribution
        from deliverytui.broker.embedded import EmbeddedBroker

        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="deliverytui-shots-")))
        bootstrap = broker.start(distribution=resolve_distribution())[0].bootstrap
    try:
        asyncio.run(shoot_rebalance(bootstrap, out))
        print(f"screenshots written to {out}")
        if args.record:
            record(bootstrap, Path(args.record))
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
