"""Benchmark: what ``deliverytui.probe.ProbeInterceptor`` costs a JVM consumer's throughput.

Runs Kafka's own ``kafka-consumer-perf-test`` (``org.apache.kafka.tools.ConsumerPerformance``) on one topic
pre-filled with 2N small records (N = 1 million of 16 bytes by default, by Kafka's ProducerPerformance),
without and with the interceptor, alternating (plain, probe, probe, plain, then reversed) so a drift of the
shared machine hits both alike. Each run is a fresh group reading from the beginning, N records (short) or 2N
(long); the probe's runs add only ``interceptor.classes`` (plus the probe jar on the classpath). Prints, from
this one run, each run's fetch msgs/s (the tool's ``fetch.nMsg.sec``: rebalance time excluded) and the CPU
seconds its JVM used; then the medians and ratios probe/plain: the long runs' msgs/s, and the CPU per million
records (long minus short run, which cancels the JVM start and the probe's one-off producer and admin
client). Last, the interceptor's own work on the consumer's thread alone (benchmarks/java/OnConsumeCost.java:
``onConsume`` on 500-record batches in a loop, ns per call) against the plain consumer's CPU per 500 records.
The goal is an overhead under 2 %. On a loaded machine single runs' msgs/s scatter widely (other processes
take the cores); CPU seconds are steadier, and the isolated per-poll cost steadiest. Figures are printed, never asserted; the load average is
printed with them (the machine is shared).

Usage: python benchmarks/interceptor.py [--bootstrap HOST:PORT] [--records 1000000] [--pairs 3] [--partitions 3]
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


def consume(dist: KafkaDistribution, bootstrap: str, topic: str, records: int, config: Path, classpath: str) -> tuple[float, float]:
    """One ConsumerPerformance run of a fresh group over the whole topic: its fetch msgs/s, and the CPU seconds
    (user + system) its JVM used, JVM start included: on a shared machine the CPU is the steadier figure."""
    command = [
        dist.java, *JVM, "-cp", classpath, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
        bootstrap, "--topic", topic, "--num-records", str(records), "--group", f"bench-perf-{uuid.uuid4().hex[:8]}",
        "--command-config", str(config), "--timeout", "60000",
    ]  # fmt: skip
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if process.returncode != 0 or header is None or header + 1 >= len(lines):
        raise SystemExit(f"ConsumerPerformance failed: {(stderr or stdout).strip().splitlines()[-1:]}")
    row = dict(zip([h.strip() for h in lines[header].split(",")], [v.strip() for v in lines[header + 1].split(",")]))
    if int(row["data.consumed.in.nMsg"]) < records:
        raise SystemExit(f"ConsumerPerformance read {row['data.consumed.in.nMsg']} of {records} records")
    return float(row["fetch.nMsg.sec"]), usage.ru_utime + usage.ru_stime


def on_consume_ns(dist: KafkaDistribution, jar: Path, bootstrap: str, partitions: int) -> float:
    """benchmarks/java/OnConsumeCost.java (Java's single-file launcher): ns per onConsume of a 500-record batch."""
    source = Path(__file__).resolve().parent / "java" / "OnConsumeCost.java"
    done = subprocess.run([dist.java, *JVM, "-cp", f"{dist.classpath}:{jar}", str(source), bootstrap, str(partitions)],
                          capture_output=True, text=True, timeout=600)
    line = next((line for line in done.stdout.splitlines() if line.startswith("onConsume ns/call")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"OnConsumeCost failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return float(line.split()[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--records", type=int, default=1_000_000, help="N: short runs read N records, long runs 2N")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    dist = resolve_distribution()
    jar = build_probe_jar(dist)  # built before timing: the build is once per source change
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-interceptor-") as bootstrap, \
            tempfile.TemporaryDirectory(prefix="deliverytui-bench-interceptor-") as scratch:
        topic = f"bench-interceptor-{uuid.uuid4().hex[:8]}"
        prefill(dist, bootstrap, topic, args.partitions, 2 * args.records)
        plain_config, probe_config = Path(scratch) / "plain.properties", Path(scratch) / "probe.properties"
        plain_config.write_text("auto.offset.reset=earliest\n")
        probe_config.write_text(f"auto.offset.reset=earliest\ninterceptor.classes={INTERCEPTOR_CLASS}\n")
        sides = {
            "plain": (plain_config, dist.classpath),
            "probe": (probe_config, f"{dist.classpath}:{jar}"),
        }
        # (side, records) -> per run: fetch msgs/s, CPU seconds. Short runs read N records, long runs 2N: the CPU
        # difference is what N more records cost, without the JVM start and the probe's one-off set-up.
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        consume(dist, bootstrap, topic, args.records, plain_config, dist.classpath)  # warm the page cache; not counted
        for index in range(args.pairs):
            order = [("plain", 1), ("probe", 1), ("probe", 2), ("plain", 2)]
            for side, size in order if index % 2 == 0 else order[::-1]:
                config, classpath = sides[side]
                rate, seconds = consume(dist, bootstrap, topic, size * args.records, config, classpath)
                runs.setdefault((side, size), []).append((rate, seconds))
                print(f"run {index + 1} {side:5} {size * args.records:>9,} records: {rate:,.0f} msgs/s, {seconds:.2f} CPU s")

    def median(side: str, size: int, field: int) -> float:
        return statistics.median(run[field] for run in runs[(side, size)])

    print(f"{args.partitions} partitions, 16-byte records, {args.pairs} runs of each side and length")
    plain, probe = median("plain", 2, 0), median("probe", 2, 0)
    print(f"median fetch rate, {2 * args.records:,} records: plain {plain:,.0f} msgs/s, with the interceptor "
          f"{probe:,.0f} msgs/s, ratio {probe / plain:.3f} (throughput overhead {(1 - probe / plain) * 100:+.1f} %)")
    marginal = {side: (median(side, 2, 1) - median(side, 1, 1)) / args.records * 1e6 for side in ("plain", "probe")}
    fixed = {side: median(side, 1, 1) - marginal[side] * args.records / 1e6 for side in ("plain", "probe")}
    print(f"CPU per million records (long minus short run): plain {marginal['plain']:.3f} s, probe {marginal['probe']:.3f} s, "
          f"ratio {marginal['probe'] / marginal['plain']:.3f} (per-record CPU overhead "
          f"{(marginal['probe'] / marginal['plain'] - 1) * 100:+.1f} %)")
    print(f"CPU of a run's fixed part (JVM start, the probe's producer and admin client): plain {fixed['plain']:.2f} s, "
          f"probe {fixed['probe']:.2f} s")
    # The interceptor's own work on the consumer's thread, measured alone (steady under load: one core, no I/O),
    # against what a poll of 500 records costs the plain consumer (its CPU per record, from the runs above).
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-interceptor-") as bootstrap:
        per_poll_ns = statistics.median(on_consume_ns(dist, jar, bootstrap, args.partitions) for _ in range(3))
    poll_ns = marginal["plain"] / 1e6 * 500 * 1e9
    print(f"onConsume (+ an onCommit every 10th poll) per poll of 500 records: {per_poll_ns:.0f} ns (median of 3 JVMs); "
          f"the plain consumer's CPU per 500 records: {poll_ns / 1000:.0f} µs; the interceptor's share: "
          f"{per_poll_ns / poll_ns * 100:.3f} %")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
