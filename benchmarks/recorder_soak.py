"""Soak: the headless flight recorder for N minutes on a real group — does its memory stay flat?

``deliverytui record`` runs as a user runs it (its own process, with its Kafka client child) against a
group that a producer and a consumer (threads of this process) keep busy. Every ``--every`` seconds this
prints the recorder's RSS (the recorder process plus its client child, from ``/proc``), the recording's
size and frame count; at the end, the RSS growth after the warm-up (first ``--warmup`` minutes), overall
and per hour. Figures are printed, not asserted.

Usage: python benchmarks/recorder_soak.py [--minutes 60] [--partitions 100] [--rate 2000] [--refresh 2]
       [--every 30] [--warmup 1] [--bootstrap HOST:PORT]
Without --bootstrap it starts its own embedded broker in a temporary data dir.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and of its children (the isolated Kafka client), in kB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def busy_group(bootstrap: str, topic: str, group: str, partitions: int, rate: float, stop: threading.Event) -> list[threading.Thread]:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # held: a collected client cancels its futures
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
        sent, started = 0, time.monotonic()
        while not stop.is_set():
            for _ in range(50):
                producer.produce(topic, value=b"x" * 100, partition=sent % partitions)
                sent += 1
            producer.poll(0)
            time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
        producer.flush(10)

    def consume() -> None:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": True, "auto.commit.interval.ms": 1000, "client.id": "soak-consumer"})
        consumer.subscribe([topic])
        while not stop.is_set():
            consumer.consume(500, 0.2)
        consumer.close()

    threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=consume, daemon=True)]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=2000.0, help="records/s produced (default 2000)")
    parser.add_argument("--refresh", type=float, default=2.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS lines (default 30)")
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes before the RSS baseline (default 1)")
    parser.add_argument("--bootstrap")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        from deliverytui.broker.distribution import resolve_distribution
        from deliverytui.broker.embedded import EmbeddedBroker

        broker = EmbeddedBroker(Path(tmp.name) / "broker")
        bootstrap = broker.start(distribution=resolve_distribution())[0].bootstrap
    topic = group = f"soak-rec-{os.getpid()}"
    stop = threading.Event()
    out = Path(tmp.name) / "soak.db"
    recorder = None
    threads: list[threading.Thread] = []
    try:
        threads = busy_group(bootstrap, topic, group, args.partitions, args.rate, stop)
        time.sleep(10)  # the group forms
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        recorder = subprocess.Popen(
            [sys.executable, "-m", "deliverytui", "record", "--bootstrap", bootstrap, "--group", group,
             "--out", str(out), "--refresh", str(args.refresh)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        baseline = None
        samples = []
        print(f"recording group {group} on {bootstrap}: {args.partitions} partitions at {args.rate:g} records/s "
              f"every {args.refresh:g} s for {args.minutes:g} min (recorder pid {recorder.pid})", flush=True)
        print(f"{'min':>6} {'RSS MB':>8} {'file MB':>8} {'frames':>7}")
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            time.sleep(min(args.every, args.minutes * 60 - elapsed))
            if recorder.poll() is not None:
                raise SystemExit(f"the recorder exited with {recorder.returncode}")
            rss = rss_kb(recorder.pid) / 1024
            size = sum(p.stat().st_size for p in out.parent.glob(out.name + "*")) / 1e6
            frames = int(round((time.monotonic() - started) / args.refresh))
            minutes = (time.monotonic() - started) / 60
            samples.append((minutes, rss))
            if baseline is None and minutes >= args.warmup:
                baseline = (minutes, rss)
            print(f"{minutes:6.1f} {rss:8.1f} {size:8.2f} {frames:7d}~", flush=True)
        if baseline is not None and samples[-1][0] > baseline[0]:
            growth = samples[-1][1] - baseline[1]
            hours = (samples[-1][0] - baseline[0]) / 60
            print(f"RSS after warm-up: {baseline[1]:.1f} MB at {baseline[0]:.1f} min -> {samples[-1][1]:.1f} MB at "
                  f"{samples[-1][0]:.1f} min: {growth:+.1f} MB ({growth / baseline[1]:+.1%}), {growth / hours:+.1f} MB/hour")
        print(f"peak RSS {max(r for _, r in samples):.1f} MB")
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.send_signal(signal.SIGTERM)
            recorder.wait(30)
        stop.set()
        for thread in threads:
            thread.join(15)
        if broker is not None:
            broker.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
