"""Benchmark: group snapshots on one topic of 1,000 partitions, every partition committed.

Prints, from one run:
- the median warm in-process snapshot time (20 runs, one long-lived GroupInspector);
- the whole-process time of ``deliverytui snapshot --json`` and of Kafka's own
  ``kafka-consumer-groups --describe`` for the same group, alternated, 5 runs each, and their ratio;
- the peak RSS of the ``deliverytui snapshot`` process;
- for information, ``deliverytui snapshot --json`` again with its bytecode cached, as an installed package runs
  (pip byte-compiles at install; a checkout run under PYTHONDONTWRITEBYTECODE compiles every deliverytui
  module on every run, ~25 ms here), in a temporary PYTHONPYCACHEPREFIX, never in the checkout.
Targets: warm snapshot < 150 ms, whole process >= 8x faster than the Kafka CLI (the on-call target), RSS < 150 MB.

Usage: python benchmarks/snapshot.py [--bootstrap HOST:PORT] [--partitions 1000]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded, topic_with_committed_group  # noqa: E402

from deliverytui.broker.distribution import resolve_distribution
from deliverytui.kafka.group_inspector import GroupInspector


def prepare(bootstrap: str, partitions: int) -> tuple[str, str]:
    """Five records per partition, committed at 2, 3 or 4: every partition has a lag."""
    return topic_with_committed_group(
        bootstrap, partitions, "bench", records_per_partition=5, committed=lambda p: 2 + p % 3, timeout=120
    )


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall time (s), peak RSS (KiB) of exactly this child, and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = b"", b""
    # Drain pipes then reap with wait4 to read this child's own rusage.
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {err.decode()[-500:]}")
    return elapsed, usage.ru_maxrss, out.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--warm-runs", type=int, default=20)
    parser.add_argument("--process-runs", type=int, default=5)
    args = parser.parse_args()

    dist = resolve_distribution()
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-bench-", distribution=dist) as bootstrap:
        print(f"Apache Kafka {dist.kafka_version} at {bootstrap}; preparing {args.partitions} partitions...", flush=True)
        topic, group = prepare(bootstrap, args.partitions)

        inspector = GroupInspector(bootstrap, request_timeout=30)
        first = inspector.snapshot(group)
        assert len(first.partitions) == args.partitions, len(first.partitions)
        warm = []
        for _ in range(args.warm_runs):
            t0 = time.perf_counter()
            inspector.snapshot(group)
            warm.append(time.perf_counter() - t0)
        warm_ms = statistics.median(warm) * 1000

        ours_cmd = [sys.executable, "-m", "deliverytui", "snapshot", "--bootstrap", bootstrap, "--group", group, "--json"]
        kafka_cmd = dist.java_command(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server", bootstrap, "--describe", "--group", group,
            jvm_args=("-Dlog4j2.level=ERROR",),
        )
        pyc_dir = tempfile.mkdtemp(prefix="deliverytui-bench-pyc-")
        compiled_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled_env["PYTHONPYCACHEPREFIX"] = pyc_dir
        run_measured(ours_cmd, compiled_env)  # writes the bytecode the measured runs read
        ours, compiled, theirs, rss = [], [], [], []
        try:
            for _ in range(args.process_runs):
                elapsed, peak, out = run_measured(ours_cmd)
                assert out.count('"partition"') == args.partitions
                ours.append(elapsed)
                rss.append(peak)
                elapsed, _, out = run_measured(ours_cmd, compiled_env)
                assert out.count('"partition"') == args.partitions
                compiled.append(elapsed)
                elapsed, _, out = run_measured(kafka_cmd)
                assert out.count(topic) == args.partitions
                theirs.append(elapsed)
        finally:
            shutil.rmtree(pyc_dir, ignore_errors=True)
        ours_s, theirs_s, compiled_s = statistics.median(ours), statistics.median(theirs), statistics.median(compiled)
        ratio = theirs_s / ours_s
        peak_mb = max(rss) / 1024

        print(f"partitions                         {args.partitions}")
        print(f"warm in-process snapshot (median)  {warm_ms:8.1f} ms   target < 150 ms   {'OK' if warm_ms < 150 else 'MISSED'}")
        print(f"  min / max of {args.warm_runs} runs              {min(warm) * 1000:8.1f} / {max(warm) * 1000:.1f} ms")
        print(f"deliverytui snapshot --json        {ours_s * 1000:8.0f} ms   (median of {args.process_runs}, whole process)")
        print(f"kafka-consumer-groups --describe   {theirs_s * 1000:8.0f} ms   (median of {args.process_runs}, whole process)")
        print(f"speed-up (Kafka CLI / deliverytui) {ratio:8.2f} x    target >= 8x      {'OK' if ratio >= 8 else 'MISSED'}")
        print(f"deliverytui peak RSS               {peak_mb:8.1f} MB   target < 150 MB   {'OK' if peak_mb < 150 else 'MISSED'}")
        print(f"  with bytecode cached (installed) {compiled_s * 1000:8.0f} ms   speed-up {theirs_s / compiled_s:5.2f} x (information)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
