"""Benchmark: how fast ``deliverytui replay`` opens a recording, steps and jumps.

Records a real group with ``deliverytui record`` (a topic of --partitions partitions, a producer writing to
random partitions the whole time, so every frame changes), then measures in this process, on that file:
opening it (the reader and the replay source's one pass over the frames), deriving the last frame from frame 0,
the walk that keeps a pipeline copy every 25 frames (the app runs it in a thread at open), one step forward,
and jumps to random frames once those copies exist. Prints the
figures and the ratio of a from-zero rebuild to a jump; nothing here is a pass/fail threshold.

Usage: python benchmarks/replay.py [--partitions 1000] [--seconds 60] [--refresh 0.5] [--bootstrap HOST:PORT]
                                  [--keep FILE.db | --recording FILE.db (measure that recording, record nothing)]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded, topic_with_committed_group  # noqa: E402

from deliverytui.broker.distribution import resolve_distribution  # noqa: E402
from deliverytui.recorder.store import RecordingReader  # noqa: E402
from deliverytui.tui.replay_source import CHECKPOINT_EVERY, ReplaySource  # noqa: E402

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


def record(bootstrap: str, partitions: int, seconds: float, refresh: float, path: Path) -> None:
    topic, group = topic_with_committed_group(bootstrap, partitions, "replay-bench")
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, bootstrap, topic, str(partitions), str(seconds + 5)])
    try:
        subprocess.run(
            [sys.executable, "-m", "deliverytui", "record", "--bootstrap", bootstrap, "--group", group, "--out", str(path),
             "--refresh", str(refresh), "--duration", f"{seconds}s"],
            check=True, timeout=seconds + 120,
        )
    finally:
        producer.wait(timeout=seconds + 60)


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(path: Path) -> None:
    opened_s, source = timed(lambda: ReplaySource(RecordingReader(path)))
    count = len(source)
    partitions = len(source.reader.frame(count - 1).snapshot.partitions)
    print(f"recording: {count} frames of {partitions} partitions, {path.stat().st_size / 1e6:.1f} MB "
          f"({path.stat().st_size / count / 1e3:.1f} kB a frame)")
    print(f"open (reader + one pass over every frame)     {opened_s * 1e3:9.1f} ms")

    from_zero = ReplaySource(RecordingReader(path), checkpoint_every=10**9)
    zero_s, _ = timed(lambda: from_zero.view_at(count - 1))
    from_zero.close()
    print(f"last frame derived from frame 0              {zero_s * 1e3:9.1f} ms  ({count} snapshots)")

    prepare_s, _ = timed(lambda: source.prepare(threading.Event()))
    print(f"walk keeping a copy every {CHECKPOINT_EVERY} frames (thread)  {prepare_s * 1e3:9.1f} ms  "
          f"({source.checkpoints} copies; the screen is usable meanwhile)")
    first_s, _ = timed(lambda: source.view_at(count - 1))
    print(f"then End (the last frame)                    {first_s * 1e3:9.1f} ms")

    steps = []
    for index in range(max(0, count - 41), count - 1):
        source.view_at(index)
        elapsed, _ = timed(lambda index=index: source.view_at(index + 1))
        steps.append(elapsed)
    print(f"one step forward, median of {len(steps):3d}             {statistics.median(steps) * 1e3:9.1f} ms")

    jumps, derived = [], []
    rng = random.Random(16)
    for _ in range(30):
        target = rng.randrange(count)
        before = source.derived_frames
        elapsed, _ = timed(lambda target=target: source.view_at(target))
        jumps.append(elapsed)
        derived.append(source.derived_frames - before)
    median_jump = statistics.median(jumps)
    print(f"random jump, median of 30                    {median_jump * 1e3:9.1f} ms  "
          f"(max {max(jumps) * 1e3:.1f} ms; snapshots derived: median {statistics.median(derived):.0f}, max {max(derived)})")
    print(f"ratio: from-zero rebuild / median jump       {zero_s / median_jump:9.1f} x")
    print(f"load average (1, 5, 15 min): {', '.join(f'{load:.2f}' for load in os.getloadavg())}")
    source.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--refresh", type=float, default=0.5)
    parser.add_argument("--keep", type=Path, help="record to this file and keep it")
    parser.add_argument("--recording", type=Path, help="measure this recording instead of making one")
    args = parser.parse_args()
    if args.recording:
        measure(args.recording)
        return 0
    start = {"distribution": resolve_distribution()} if not args.bootstrap else {}
    with tempfile.TemporaryDirectory(prefix="deliverytui-replay-bench-") as scratch:
        path = args.keep or Path(scratch) / "bench.db"
        with bootstrap_or_embedded(args.bootstrap, "deliverytui-replay-bench-", **start) as bootstrap:
            print(f"recording {args.partitions} partitions on {bootstrap} for {args.seconds:.0f} s...", flush=True)
            record(bootstrap, args.partitions, args.seconds, args.refresh, path)
        measure(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
