"""Benchmark: share groups (KIP-932) — what a share-group snapshot costs, with the JVM it needs.

Prints, from one run, on one topic of 12 partitions read by a share group of 3 live members:
- the whole-process time of ``deliverytui snapshot --json --group S`` (a cold process each time: Python,
  librdkafka and the Java admin helper's JVM) and of Kafka's own ``kafka-share-groups --describe --group S``,
  alternated, median of N runs each, and their ratio;
- the peak RSS of the command (wait4's figure: the largest process of its tree, which is the helper's JVM);
- the JVM start the CLI pays: :class:`JavaAdmin` started until its first ``ping`` is answered (median of N);
- a warm refresh: :meth:`ShareGroupInspector.snapshot` with one long-lived helper, as a live view with one
  helper per session pays it per refresh (median of M).
Timings are printed, never asserted: the machine is shared and the figures are for reading; the load
average at the start and the end is printed with them, since a loaded machine moves every figure.

Hooks for later measurements (each takes the :class:`Bench` and returns printable rows, or ``None`` while
nobody has written it yet): :func:`measure_live_view_refresh` (the live view's refresh cost on a share
group) and :func:`measure_queue_consumer_throughput` (the lab's queue consumer).

Usage: python benchmarks/share.py [--bootstrap HOST:PORT] [--partitions 12] [--members 3] [--process-runs 5]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded  # noqa: E402
from confluent_kafka import Producer, ShareConsumer  # noqa: E402
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic  # noqa: E402
from snapshot import run_measured  # noqa: E402

from deliverytui.broker.admin_helper import JVM_FLAGS, admin_helper_command  # noqa: E402
from deliverytui.broker.distribution import KafkaDistribution, resolve_distribution  # noqa: E402
from deliverytui.kafka.group_inspector import GroupInspector  # noqa: E402
from deliverytui.kafka.java_admin import JavaAdmin  # noqa: E402
from deliverytui.kafka.share_inspector import ShareGroupInspector  # noqa: E402

SHARE_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"


@dataclass
class Bench:
    """What every measurement gets: where the broker is, the group and topic, the Kafka distribution."""

    bootstrap: str
    dist: KafkaDistribution
    topic: str
    group: str
    partitions: int
    members: int


Row = tuple[str, str]  # (label, figure), printed as two columns


# -- preparation ------------------------------------------------------------------------------------
def prepare(bootstrap: str, partitions: int, records_per_partition: int) -> tuple[str, str]:
    """A topic with records on every partition, and a share group that reads from the earliest record."""
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"bench-queue-{suffix}", f"bench-share-{suffix}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)
    # share.auto.offset.reset=earliest, set before the group first fetches (kafka-configs --entity-type groups).
    earliest = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("group", group, incremental_configs=[earliest])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition in range(partitions):
        for i in range(records_per_partition):
            producer.produce(topic, value=str(i).encode(), partition=partition)
    if producer.flush(60):
        raise SystemExit("could not produce the benchmark's records")
    return topic, group


@contextmanager
def live_members(bootstrap: str, topic: str, group: str, count: int) -> Iterator[list[int]]:
    """``count`` ShareConsumers polling in threads (implicit acknowledgement) until the block ends.

    Yields the per-member record counts (updated live). Members keep polling so the group stays Stable.
    """
    stop = threading.Event()
    received = [0] * count

    def run(index: int) -> None:
        consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": f"bench-member-{index}"})
        try:
            consumer.subscribe([topic])
            while not stop.is_set():
                received[index] += sum(1 for m in consumer.poll(0.5) if m.error() is None)
        finally:
            consumer.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"share-member-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield received
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def wait_until_members(share: ShareGroupInspector, group: str, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            snapshot = share.snapshot(group)
            if len(snapshot.members) == count and all(m.assignment for m in snapshot.members):
                return
        except Exception:  # the group does not exist until its first member joins
            pass
        time.sleep(0.5)
    raise SystemExit(f"share group {group} did not reach {count} members with assignments in {timeout}s")


# -- measurements -----------------------------------------------------------------------------------
def measure_processes(bench: Bench, runs: int) -> list[Row]:
    """(a) The CLI and Kafka's tool, each a cold process, alternated: medians and their ratio."""
    ours_cmd = [sys.executable, "-m", "deliverytui", "snapshot", "--bootstrap", bench.bootstrap, "--group", bench.group, "--json"]
    kafka_cmd = bench.dist.java_command(
        SHARE_GROUP_COMMAND, "--bootstrap-server", bench.bootstrap, "--describe", "--group", bench.group,
        jvm_args=("-Dlog4j2.level=ERROR",),
    )  # fmt: skip
    ours, theirs, rss = [], [], []
    for _ in range(runs):
        elapsed, peak, out = run_measured(ours_cmd)
        assert len(json.loads(out)["partitions"]) == bench.partitions
        ours.append(elapsed)
        rss.append(peak)
        elapsed, _, out = run_measured(kafka_cmd)
        assert out.count(bench.topic) == bench.partitions, out
        theirs.append(elapsed)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    return [
        ("deliverytui snapshot --json (share group)", f"{ours_s * 1000:8.0f} ms   (median of {runs}, whole process, cold)"),
        ("  min / max", f"{min(ours) * 1000:8.0f} / {max(ours) * 1000:.0f} ms"),
        ("kafka-share-groups --describe", f"{theirs_s * 1000:8.0f} ms   (median of {runs}, whole process, cold)"),
        ("  min / max", f"{min(theirs) * 1000:8.0f} / {max(theirs) * 1000:.0f} ms"),
        ("speed-up (Kafka CLI / deliverytui)", f"{theirs_s / ours_s:8.2f} x"),
        ("deliverytui peak RSS", f"{max(rss) / 1024:8.1f} MB   (largest process of the command's tree: the helper JVM)"),
    ]


def _ping_times(command: list[str], bootstrap: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with JavaAdmin(command, bootstrap) as java:
            java.call("ping", "pinging the Java admin helper")
            times.append(time.perf_counter() - started)
    return times


def measure_jvm_start(bench: Bench, runs: int) -> list[Row]:
    """(b) What a CLI command pays for the Java admin helper: start to the first ``ping`` answer, with the
    helper's JVM flags (:data:`JVM_FLAGS`) and, alternated with it, without them (the claim that they pay)."""
    command = admin_helper_command()
    plain = [arg for arg in command if arg not in JVM_FLAGS]
    tuned, default = [], []
    for _ in range(runs):
        tuned += _ping_times(command, bench.bootstrap, 1)
        default += _ping_times(plain, bench.bootstrap, 1)
    return [
        ("Java admin helper start -> first ping", f"{statistics.median(tuned) * 1000:8.0f} ms   (median of {runs}, JVM_FLAGS)"),
        ("  min / max", f"{min(tuned) * 1000:8.0f} / {max(tuned) * 1000:.0f} ms"),
        ("  the same without JVM_FLAGS", f"{statistics.median(default) * 1000:8.0f} ms   (median of {runs}, alternated)"),
    ]


def measure_warm_refresh(bench: Bench, runs: int) -> list[Row]:
    """(c) A warm ShareGroupInspector.snapshot: one helper and one GroupInspector for the whole session."""
    times = []
    with JavaAdmin(admin_helper_command(), bench.bootstrap) as java:
        share = ShareGroupInspector(java, GroupInspector(bench.bootstrap, request_timeout=30))
        share.snapshot(bench.group)  # the first one warms the JIT and the connections
        for _ in range(runs):
            started = time.perf_counter()
            snapshot = share.snapshot(bench.group)
            times.append(time.perf_counter() - started)
            assert len(snapshot.partitions) == bench.partitions
    median = statistics.median(times)
    return [
        ("warm share snapshot refresh (in-process)", f"{median * 1000:8.1f} ms   (median of {runs}, one helper per session)"),
        ("  min / max", f"{min(times) * 1000:8.1f} / {max(times) * 1000:.1f} ms"),
    ]


def measure_live_view_refresh(bench: Bench, runs: int = 20) -> list[Row] | None:
    """The live view's refresh on a share group, end to end below the screen: the session's collector
    (one Java helper, the crash-isolated librdkafka child for log ends) and the worker's row building
    (:class:`ShareFetcher`), as a poll pays it. Wall time, and the CPU of this (the UI) process."""
    from deliverytui.kafka.share_collector import ShareGroupCollector
    from deliverytui.tui.share_rows import ShareFetcher

    collector = ShareGroupCollector(bench.bootstrap, None, helper_command=admin_helper_command, request_timeout=30)
    try:
        fetcher = ShareFetcher(collector, bench.group)
        fetcher.fetch()  # the first poll starts the helper and the child
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            update = fetcher.fetch()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert len(update.rows) == bench.partitions
    finally:
        collector.close()
    return [
        ("live-view refresh on a share group (collector + rows)", f"{statistics.median(walls) * 1000:8.1f} ms   (median of {runs})"),
        ("  CPU of the UI process per refresh", f"{statistics.median(cpus) * 1000:8.1f} ms"),
    ]


def measure_queue_consumer_throughput(bench: Bench) -> list[Row] | None:
    """The lab's queue consumer (a share group, explicit acknowledgement of each record) against the
    at-least-once consumer with the same effect (committing each record), each as its real process on a
    fresh topic: backlog drain rate, then p50/p99 latency at a steady offered rate (benchmarks/semantics.py's
    two phases, same broker, same run)."""
    import tempfile

    from semantics import percentile, run_one

    args = argparse.Namespace(events=500, batch=100, rate=100.0, seconds=4.0, drain_timeout=180.0)
    base = Path(tempfile.mkdtemp(prefix="deliverytui-bench-queue-"))
    rows: list[Row] = []
    results = {semantic: run_one(bench.bootstrap, base, semantic, "per-message", 1, args) for semantic in ("at-least-once", "queue")}
    for semantic, result in results.items():
        rows.append((
            f"{semantic} consumer, one ack/commit per record",
            f"{result.throughput:8.0f} events/s   p50 {percentile(result.latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(result.latencies, 0.99) * 1000:.1f} ms at {result.offered_rate:.0f}/s; "
            f"{result.unique} of {result.events} events had an effect",
        ))  # fmt: skip
    ratio = results["queue"].throughput / max(results["at-least-once"].throughput, 1e-9)
    rows.append(("  queue / at-least-once throughput", f"{ratio:8.2f}x   (run dirs under {base})"))
    return rows


#: Later measurements: name -> function. Add to this list; main prints what each returns.
HOOKS: list[tuple[str, Callable[[Bench], list[Row] | None]]] = [
    ("live-view refresh on a share group", measure_live_view_refresh),
    ("queue consumer throughput", measure_queue_consumer_throughput),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--records-per-partition", type=int, default=50)
    parser.add_argument("--process-runs", type=int, default=5)
    parser.add_argument("--jvm-runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=20)
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    dist = resolve_distribution()
    admin_helper_command()  # built before anything is timed (Maven, first use only)
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-share-", distribution=dist) as bootstrap:
        print(f"Apache Kafka {dist.kafka_version} at {bootstrap}; preparing {args.partitions} partitions, "
              f"{args.members} share members...", flush=True)  # fmt: skip
        topic, group = prepare(bootstrap, args.partitions, args.records_per_partition)
        bench = Bench(bootstrap, dist, topic, group, args.partitions, args.members)
        with live_members(bootstrap, topic, group, args.members) as received:
            with JavaAdmin(admin_helper_command(), bootstrap) as java:
                wait_until_members(ShareGroupInspector(java, GroupInspector(bootstrap, request_timeout=30)), group, args.members)
            rows: list[Row] = [
                ("partitions / live members", f"{args.partitions} / {args.members}"),
                *measure_processes(bench, args.process_runs),
                *measure_jvm_start(bench, args.jvm_runs),
                *measure_warm_refresh(bench, args.warm_runs),
            ]
            for name, hook in HOOKS:
                rows.extend(hook(bench) or [(name, "not measured yet (hook in benchmarks/share.py)")])
            rows.append(("records the members received", f"{sum(received)} of {args.partitions * args.records_per_partition}"))
        rows.append(("load average (1 min) at start / end", f"{load_at_start:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"))
        width = max(len(label) for label, _ in rows) + 2
        for label, figure in rows:
            print(f"{label:<{width}}{figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
