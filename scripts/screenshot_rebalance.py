"""Screenshots of the KIP-848 rebalance view from a real run: a second member joins a consumer-protocol group.

The first member (``billing-1``) owns all 6 partitions of ``orders`` and then stops polling, so it cannot
give up the 3 that the coordinator moves to ``billing-2``: the view is shot mid-rebalance (pending
revocation and unowned partitions marked), then again after ``billing-1`` polls and the rebalance settles
(the event log says how long it took).

    python scripts/screenshot_rebalance.py [--bootstrap HOST:PORT]

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

from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.tui.app import DeliveryApp, ViewerConfig  # noqa: E402
from deliverytui.tui.widgets.panels import EventLog  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIZE = (160, 48)
TOPIC, GROUP = "orders", "billing"


def member(bootstrap: str, client_id: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": client_id,
                     "group.protocol": "consumer", "enable.auto.commit": False, "auto.offset.reset": "earliest"})


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
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
