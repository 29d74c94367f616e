"""Benchmark: what ``deliverytui.probe.ProbeInterceptor`` costs a JVM consumer's throughput.

Runs Kafka's own ``kafka-consumer-perf-test`` (``org.apache.kafka.tools.ConsumerPerformance``) on one topic
pre-filled with small records (1.5 million of 16 bytes by default, by Kafka's ProducerPerformance), without
and with the interceptor, alternating (plain, probe, probe, plain, ...) so a drift of the shared machine hits
both alike. Each run is a fresh group reading the whole topic from the beginning; the probe's runs add only
``interceptor.classes`` (plus the probe jar on the classpath). Prints, from this one run, each run's
fetch msgs/s (the tool's ``fetch.nMsg.sec``: rebalance time excluded), the median of each side and the ratio
probe/plain. The goal is an overhead under 2 %. Figures are printed, never asserted; the load average is
printed with them (the machine is shared).

Usage: python benchmarks/interceptor.py [--bootstrap HOST:PORT] [--records 1500000] [--pairs 3] [--partitions 3]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from deliverytui.broker.distribution import KafkaDistribution, resolve_distribution  # noqa: E402
from deliverytui.broker.probe_jar import INTERCEPTOR_CLASS, build_probe_jar  # noqa: E402

JVM = ("-Xmx512m", "-XX:+UseSerialGC")


def prefill(dist: KafkaDistribution, bootstrap: str, topic: str, partitions: int, records: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)
    done = subprocess.run(
        [dist.java, *JVM, "-cp", dist.classpath, "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
         "--num-records", str(records), "--record-size", "16", "--throughput", "-1", "--producer-props",
         f"bootstrap.servers={bootstrap}", "acks=1", "linger.ms=20", "batch.size=262144"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"ProducerPerformance failed: {done.stderr.strip().splitlines()[-1:]}")


def consume(dist: KafkaDistribution, bootstrap: str, topic: str, records: int, config: Path, classpath: str) -> float:
    """One ConsumerPerformance run of a fresh group over the whole topic; its fetch msgs/s."""
    done = subprocess.run(
        [dist.java, *JVM, "-cp", classpath, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
         bootstrap, "--topic", topic, "--num-records", str(records), "--group", f"bench-perf-{uuid.uuid4().hex[:8]}",
         "--command-config", str(config), "--timeout", "60000"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if done.returncode != 0 or header is None or header + 1 >= len(lines):
        raise SystemExit(f"ConsumerPerformance failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    row = dict(zip([h.strip() for h in lines[header].split(",")], [v.strip() for v in lines[header + 1].split(",")]))
    if int(row["data.consumed.in.nMsg"]) < records:
        raise SystemExit(f"ConsumerPerformance read {row['data.consumed.in.nMsg']} of {records} records")
    return float(row["fetch.nMsg.sec"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--records", type=int, default=1_500_000)
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    dist = resolve_distribution()
    jar = build_probe_jar(dist)  # built before timing: the build is once per source change
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-interceptor-") as bootstrap, \
            tempfile.TemporaryDirectory(prefix="deliverytui-bench-interceptor-") as scratch:
        topic = f"bench-interceptor-{uuid.uuid4().hex[:8]}"
        prefill(dist, bootstrap, topic, args.partitions, args.records)
        plain_config, probe_config = Path(scratch) / "plain.properties", Path(scratch) / "probe.properties"
        plain_config.write_text("auto.offset.reset=earliest\n")
        probe_config.write_text(f"auto.offset.reset=earliest\ninterceptor.classes={INTERCEPTOR_CLASS}\n")
        sides = {
            "plain": (plain_config, dist.classpath),
            "probe": (probe_config, f"{dist.classpath}:{jar}"),
        }
        rates: dict[str, list[float]] = {"plain": [], "probe": []}
        consume(dist, bootstrap, topic, args.records, plain_config, dist.classpath)  # warm the page cache; not counted
        for index in range(args.pairs):
            order = ("plain", "probe") if index % 2 == 0 else ("probe", "plain")
            for side in order:
                config, classpath = sides[side]
                rate = consume(dist, bootstrap, topic, args.records, config, classpath)
                rates[side].append(rate)
                print(f"run {index + 1} {side:5}: {rate:,.0f} msgs/s")
    plain, probe = statistics.median(rates["plain"]), statistics.median(rates["probe"])
    print(f"{args.records:,} records of 16 bytes, {args.partitions} partitions, {args.pairs} runs each side")
    print(f"median plain: {plain:,.0f} msgs/s; median with the interceptor: {probe:,.0f} msgs/s")
    print(f"ratio probe/plain: {probe / plain:.3f} (overhead {(1 - probe / plain) * 100:+.1f} %)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
