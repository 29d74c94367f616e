"""A small at-least-once consumer (process, then commit) used by ``scripts/demo`` until the demo lab lands.

It reads up to ``--max-events`` task.created events as ``--group``, "sends a notification"
for each (a line on stdout), then commits that message's offset: the chapter's
at-least-once loop. It leaves the rest unconsumed so the snapshot shows real lag.
"""

from __future__ import annotations

import argparse
import json
import time

from confluent_kafka import Consumer

from deliverytui.demo.task_api import TASK_EVENTS_TOPIC


def consume(bootstrap: str, group: str, max_events: int, *, idle_timeout: float = 10.0, quiet: bool = False) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": f"{group}-sample",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([TASK_EVENTS_TOPIC])
    processed = 0
    last_message = time.monotonic()
    try:
        while processed < max_events and time.monotonic() - last_message < idle_timeout:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            last_message = time.monotonic()
            event = json.loads(msg.value())
            if not quiet:
                print(f"Sending notification for {event['task_id']} (partition {msg.partition()}, offset {msg.offset()})")
            consumer.commit(message=msg, asynchronous=False)
            processed += 1
    finally:
        consumer.close()
    return processed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Consume some task events at-least-once and commit them.")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="notification-service")
    parser.add_argument("--max-events", type=int, default=100)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    done = consume(args.bootstrap, args.group, args.max_events, quiet=args.quiet)
    print(f"{args.group}: processed and committed {done} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
