"""Benchmark: the live view on one topic of 5,000 partitions.

Prints: the median time to apply one new snapshot to the screen (diff + cell updates +
header/side panels, measured inside the app), the CPU used by the app's processes (the
UI process and its isolated Kafka-client child) over 60 s at the default refresh, and the
peak RSS of the UI process. Targets: apply < 50 ms, CPU < 15 % of one core, RSS < 200 MB.

A producer in a separate process writes to random partitions the whole time, so every
snapshot really changes (lags, trends and statuses move), as on a busy cluster.

Usage: python benchmarks/tui_refresh.py [--partitions 5000] [--seconds 60] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded, topic_with_committed_group  # noqa: E402

from deliverytui.broker.distribution import resolve_distribution  # noqa: E402
from deliverytui.tui.app import DeliveryApp, ViewerConfig  # noqa: E402

PRODUCER = """
import random, sys, time
from confluent_kafka import Producer
bootstrap, topic, partitions, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(200):
        p.produce(topic, value=b"x", partition=random.randrange(partitions))
    p.poll(0)
    time.sleep(0.1)
p.flush(30)
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def prepare(bootstrap: str, partitions: int) -> tuple[str, str]:
    """An empty topic with the group committed at 0 everywhere: the producer makes the lag."""
    return topic_with_committed_group(bootstrap, partitions, "tui-bench")


async def measure(bootstrap: str, topic: str, group: str, partitions: int, seconds: float) -> None:
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group))  # default refresh (2 s)
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, bootstrap, topic, str(partitions), str(seconds + 30)])
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            while app.polls_completed < 1:
                await pilot.pause(0.2)
            app.apply_seconds.clear()
            child = app._fetcher.inspector._proc
            assert child is not None
            own0, child0, wall0 = cpu_seconds(os.getpid()), cpu_seconds(child.pid), time.monotonic()
            polls0 = app.polls_completed
            await pilot.pause(seconds)
            own1, child1, wall1 = cpu_seconds(os.getpid()), cpu_seconds(child.pid), time.monotonic()
            polls = app.polls_completed - polls0
            rows = app.query_one("#partitions").row_count
    finally:
        producer.kill()
        producer.wait()
    applies = sorted(app.apply_seconds)
    elapsed = wall1 - wall0
    ui_cpu = (own1 - own0) / elapsed * 100
    child_cpu = (child1 - child0) / elapsed * 100
    total_cpu = ui_cpu + child_cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median_ms = statistics.median(applies) * 1000
    load = os.getloadavg()
    print(f"load average at the end (1/5/15 m)  {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs (others' load skews CPU and times)")
    print(f"partitions shown                    {rows}")
    print(f"snapshots applied in {elapsed:.0f} s           {polls} (default refresh 2 s)")
    print(f"apply one snapshot (median)         {median_ms:7.1f} ms   target < 50 ms    {'OK' if median_ms < 50 else 'MISSED'}")
    print(f"  p90 / max                         {applies[int(len(applies) * 0.9)] * 1000:7.1f} / {applies[-1] * 1000:.1f} ms")
    print(f"CPU, UI process                     {ui_cpu:7.1f} % of one core")
    print(f"CPU, Kafka-client child             {child_cpu:7.1f} % of one core")
    print(f"CPU, app total                      {total_cpu:7.1f} %        target < 15 %     {'OK' if total_cpu < 15 else 'MISSED'}")
    print(f"peak RSS, UI process                {rss_mb:7.1f} MB       target < 200 MB   {'OK' if rss_mb < 200 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    start = {"distribution": resolve_distribution(), "heap": "1536m"} if not args.bootstrap else {}
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-tui-bench-", **start) as bootstrap:
        print(f"preparing {args.partitions} partitions on {bootstrap}...", flush=True)
        topic, group = prepare(bootstrap, args.partitions)
        asyncio.run(measure(bootstrap, topic, group, args.partitions, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
