"""Benchmark: the fleet on 500 groups × 10 partitions, with commits moving while it is measured.

Prints, from one run:
- one fleet refresh through the isolated child (as the fleet view takes it) plus the tracker's ranking:
  median and p90 of ``--refreshes`` refreshes, with the CPU of this (the UI's) process and of the child;
- the whole-process time of ``deliverytui groups --json --type classic,consumer`` (total lag per group)
  and of Kafka's own ``kafka-consumer-groups --describe --all-groups`` for the same groups (it lists
  classic and consumer groups; share groups are ``kafka-share-groups``'), alternated, and their ratio;
  plus, for information, ``groups --json`` of every type, whose share-group listing starts a JVM;
- the peak RSS of the ``groups`` process and of the fleet's child.
Targets (issue #15): refresh < 1 s, ``groups --json`` >= 5x faster than the Kafka CLI, RSS < 200 MB.

Usage: python benchmarks/fleet.py [--bootstrap HOST:PORT] [--groups 500] [--partitions 10]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded  # noqa: E402
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from deliverytui.broker.distribution import resolve_distribution  # noqa: E402
from deliverytui.errors import ClusterUnreachableError  # noqa: E402
from deliverytui.kafka.isolated_fleet import IsolatedFleetCollector  # noqa: E402
from deliverytui.lag.fleet import FleetTracker  # noqa: E402

GROUPS_PER_TOPIC = 10
RECORDS = 20


def prepare(bootstrap: str, groups: int, partitions: int) -> tuple[str, list[str], dict[str, str]]:
    """``groups`` groups, ten per topic of ``partitions`` partitions, each committed somewhere below the log end."""
    prefix = f"fleet-bench-{uuid.uuid4().hex[:6]}"
    topics = [f"{prefix}-t{i}" for i in range((groups + GROUPS_PER_TOPIC - 1) // GROUPS_PER_TOPIC)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=120).values():
        future.result(timeout=120)
    time.sleep(2)  # leaders elected
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for topic in topics:
        for partition in range(partitions):
            for i in range(RECORDS):
                producer.produce(topic, value=str(i).encode(), partition=partition)
    assert producer.flush(120) == 0
    names = [f"{prefix}-g{i:03d}" for i in range(groups)]
    topic_of = {name: topics[i // GROUPS_PER_TOPIC] for i, name in enumerate(names)}
    alter(admin, {name: {(topic_of[name], p): (i + p) % RECORDS for p in range(partitions)} for i, name in enumerate(names)})
    return prefix, names, topic_of


def alter(admin: AdminClient, commits: dict[str, dict[tuple[str, int], int]]) -> None:
    """Commit offsets for groups with no member (AlterConsumerGroupOffsets: one group per request, fired together)."""
    futures = []
    for group, offsets in commits.items():
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        futures += admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)], request_timeout=60).values()
    for future in futures:
        future.result(timeout=120)


def move_commits(bootstrap: str, names: list[str], topic_of: dict[str, str], partitions: int, stop: threading.Event) -> None:
    """Produce and commit while the fleet is measured: a tenth of the groups advance every second."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    step = 0
    while not stop.wait(1.0):
        step += 1
        moving = names[step % 10 :: 10]
        for topic in {topic_of[n] for n in moving}:
            for partition in range(partitions):
                producer.produce(topic, value=b"x", partition=partition)
        producer.flush(10)
        alter(admin, {n: {(topic_of[n], p): RECORDS + step - 1 for p in range(partitions)} for n in moving})


def run_measured(command: list[str]) -> tuple[float, int, str]:
    """Wall time (s), peak RSS (KiB) of exactly this child, and its stdout (as benchmarks/snapshot.py measures)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[:3]} failed: {err.decode()[-500:]}")
    return elapsed, usage.ru_maxrss, out.decode()


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument("--process-runs", type=int, default=3)
    args = parser.parse_args()

    dist = resolve_distribution()
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-", distribution=dist) as bootstrap:
        print(f"Apache Kafka {dist.kafka_version} at {bootstrap}; preparing {args.groups} groups x {args.partitions} partitions...", flush=True)
        prefix, names, topic_of = prepare(bootstrap, args.groups, args.partitions)
        stop = threading.Event()
        mover = threading.Thread(target=move_commits, args=(bootstrap, names, topic_of, args.partitions, stop), daemon=True)
        mover.start()
        collector = IsolatedFleetCollector(bootstrap, request_timeout=30)
        tracker = FleetTracker()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    first = collector.read()
                except ClusterUnreachableError as exc:  # a fresh broker still loading its group coordinators
                    print(f"  not ready: {exc}", flush=True)
                    time.sleep(2)
                    continue
                mine = [g for g in first.groups if g.group_id.startswith(prefix)]
                print(f"  listed {len(mine)} of {args.groups} groups", flush=True)
                if len(mine) == args.groups or time.monotonic() > deadline:
                    break
                time.sleep(2)
            assert len(mine) == args.groups, len(mine)
            child = collector.child_pid
            assert child is not None
            times = []
            ui_cpu0, child_cpu0, wall0 = time.process_time(), cpu_of(child), time.perf_counter()
            for _ in range(args.refreshes):
                t0 = time.perf_counter()
                tracker.observe(collector.read())
                times.append(time.perf_counter() - t0)
            wall = time.perf_counter() - wall0
            ui_cpu, child_cpu = time.process_time() - ui_cpu0, cpu_of(child) - child_cpu0
            child_rss = peak_rss_mb(child)
        finally:
            collector.close()

        # The groups Kafka's CLI lists (classic and consumer; share groups are kafka-share-groups'), and for
        # information every type: listing share groups starts Kafka's Java Admin client (a JVM).
        ours_cmd = [sys.executable, "-m", "deliverytui", "groups", "--bootstrap", bootstrap, "--json", "--type", "classic,consumer"]
        all_cmd = ours_cmd[:-2]
        kafka_cmd = dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--describe", "--all-groups",
            jvm_args=("-Dlog4j2.level=ERROR",),
        )
        ours, theirs, rss, every_type = [], [], [], []
        for _ in range(args.process_runs):
            every_type.append(run_measured(all_cmd)[0])
            elapsed, peak, out = run_measured(ours_cmd)
            assert out.count(prefix) >= args.groups
            ours.append(elapsed)
            rss.append(peak)
            elapsed, _, out = run_measured(kafka_cmd)
            assert out.count(prefix) >= args.groups
            theirs.append(elapsed)
        stop.set()
        mover.join(timeout=30)

        median, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
        ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
        ratio = theirs_s / ours_s
        groups_rss = max(rss) / 1024
        print(f"groups x partitions                    {args.groups} x {args.partitions} (commits moving)")
        print(f"fleet refresh (child + tracker) median {median * 1000:8.0f} ms   target < 1000 ms   {'OK' if median < 1 else 'MISSED'}")
        print(f"fleet refresh p90                      {p90 * 1000:8.0f} ms")
        print(f"CPU while refreshing: UI process       {ui_cpu / wall * 100:8.1f} %    child {child_cpu / wall * 100:.1f} %")
        print(f"deliverytui groups --json --type classic,consumer {ours_s * 1000:5.0f} ms   (median of {args.process_runs}, whole process)")
        print(f"kafka-consumer-groups --all-groups     {theirs_s * 1000:8.0f} ms   (median of {args.process_runs}, whole process)")
        print(f"speed-up (Kafka CLI / deliverytui)     {ratio:8.2f} x    target >= 5x       {'OK' if ratio >= 5 else 'MISSED'}")
        every_s = statistics.median(every_type)
        print(f"  groups --json, every type (+ share groups through the JVM) {every_s * 1000:.0f} ms, {theirs_s / every_s:.2f} x (information)")
        peak = max(groups_rss, child_rss)
        print(f"peak RSS: groups {groups_rss:.1f} MB, fleet child {child_rss:.1f} MB   target < 200 MB   {'OK' if peak < 200 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
