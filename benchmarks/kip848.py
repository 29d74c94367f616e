"""Benchmark: what the KIP-848 rebalance view costs, and how long a real rebalance takes to settle.

Prints, from one run, for a consumer-protocol group on one topic (6 partitions by default):
- the Java helper's start until its first epochs answer (what the first consumer-protocol poll of a
  session waits for; later polls reuse the helper);
- a warm epochs read (``describe_consumer_group_epochs`` on a running helper), median and p90 of N, as
  the live view pays it once per refresh on a consumer-protocol group;
- one second member joining: how long the rebalance took to settle as the view's tracker measures it
  (sampled every 0.3 s, so up to 0.3 s long), with both members polling all the time.
Timings are printed, never asserted; the load average is printed with them (the machine is shared).

Usage: python benchmarks/kip848.py [--bootstrap HOST:PORT] [--partitions 6] [--reads 30]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded  # noqa: E402
from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from deliverytui.broker.admin_helper import admin_helper_command  # noqa: E402
from deliverytui.kafka.consumer_group_epochs import ConsumerGroupEpochReader  # noqa: E402
from deliverytui.kafka.java_admin import JavaAdmin  # noqa: E402
from deliverytui.model.rebalance import RebalanceSettled, RebalanceTracker  # noqa: E402


def member(bootstrap: str, group: str, topic: str, client_id: str, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
                             "group.protocol": "consumer", "enable.auto.commit": False})
        consumer.subscribe([topic])
        try:
            while not stop.is_set():
                consumer.poll(0.2)
        finally:
            consumer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-kip848-") as bootstrap:
        topic = group = f"bench-kip848-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # held: a dropped client cancels its futures
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(60)
        stop = threading.Event()
        threads = [member(bootstrap, group, topic, "first", stop)]
        try:
            command = admin_helper_command()  # built before timing: the build is once per source change
            started = time.perf_counter()
            with JavaAdmin(command, bootstrap) as java:
                reader = ConsumerGroupEpochReader(lambda: java)
                while True:
                    epochs = reader.read(group)
                    if epochs.members and epochs.settled and epochs.members[0].assignment:
                        break
                    time.sleep(0.1)
                first_answer = time.perf_counter() - started
                print(f"helper start to the first settled epochs answer: {first_answer:.2f} s "
                      "(includes waiting for the first member to be assigned)")
                reads = []
                for _ in range(args.reads):
                    began = time.perf_counter()
                    reader.read(group)
                    reads.append(time.perf_counter() - began)
                reads.sort()
                print(f"warm epochs read, {args.reads} reads: median {statistics.median(reads) * 1000:.1f} ms, "
                      f"p90 {reads[int(len(reads) * 0.9) - 1] * 1000:.1f} ms")
                tracker = RebalanceTracker()
                tracker.observe(reader.read(group))
                threads.append(member(bootstrap, group, topic, "second", stop))
                deadline = time.monotonic() + 120
                settled = None
                while settled is None and time.monotonic() < deadline:
                    time.sleep(0.3)
                    settled = next((e for e in tracker.observe(reader.read(group)) if isinstance(e, RebalanceSettled)), None)
                print(settled.describe() if settled else "the rebalance did not settle within 120 s")
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
