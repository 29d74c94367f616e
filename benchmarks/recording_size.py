"""How big a flight recording gets: bytes per frame, MB per hour and per day at a 2 s refresh (goal: < 100 MB a day).

Two modes, both through the real :class:`~deliverytui.recorder.store.RecordingWriter`:

* ``synthetic`` (default): ``--partitions`` (1,000) partitions over 10 topics, 20 members, a steady
  producer and a consumer that keeps up (every partition's log-end offset moves by a Poisson number of
  records each refresh, its committed offset follows a few records behind: nearly every partition changes
  every frame), a few status changes and event lines, optionally ``--positions`` (a probe report per
  partition per frame). ``--frames`` frames (default 2,000: twenty keyframes) are written, the file
  measured, and write and read times printed.
* ``real``: a real group on a real broker (``--bootstrap``, or an embedded broker started in a temporary
  dir): a producer and a consumer group run in threads while ``deliverytui record``'s own loop records for
  ``--minutes``; the file's bytes per frame are extrapolated to a day, and per partition to 1,000.

Usage: python benchmarks/recording_size.py [synthetic|real] [--frames N] [--partitions P] [--positions]
       [--minutes M] [--bootstrap HOST:PORT] [--rate MSGS_PER_S]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.model.dedup import DedupCounters  # noqa: E402
from deliverytui.model.group import BrokerNode, GroupSnapshot, MemberInfo, PartitionRow, TopicPartitionId  # noqa: E402
from deliverytui.model.positions import PartitionPosition, PositionsView  # noqa: E402
from deliverytui.model.recording import RECORDING_FORMAT_VERSION, RecordedFrame, RecordingHeader  # noqa: E402
from deliverytui.recorder.store import PAGE_SIZE, RecordingReader, RecordingWriter  # noqa: E402

REFRESH_S = 2.0
FRAMES_PER_HOUR = 3600 / REFRESH_S
FRAMES_PER_DAY = 24 * FRAMES_PER_HOUR


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is slow for large means; a rounded normal is close enough for record counts.
    return max(0, round(rng.gauss(mean, mean**0.5)))


def synthetic_frames(count: int, partitions: int, rate: float, positions: bool, seed: int = 1):
    rng = random.Random(seed)
    topics = [f"orders.region-{i}" for i in range(10)]
    keys = [(topics[i % 10], i // 10) for i in range(partitions)]
    members = [f"consumer-{m}-0f3c9a7e-5d2b-4c1e-9b8a-{m:012d}" for m in range(20)]
    owner = {key: members[i % 20] for i, key in enumerate(keys)}
    end = {key: rng.randrange(10**6, 10**8) for key in keys}
    committed = {key: end[key] - rng.randrange(0, 50) for key in keys}
    per_partition = rate * REFRESH_S / partitions
    start = datetime(2026, 12, 1, tzinfo=UTC)
    member_infos = tuple(
        MemberInfo(m, f"billing-worker-{i}", f"/10.1.{i}.7", None,
                   tuple(TopicPartitionId(t, p) for (t, p) in keys if owner[(t, p)] == m))
        for i, m in enumerate(members)
    )
    hits = misses = 0
    for index in range(count):
        taken = start + timedelta(seconds=REFRESH_S * index, microseconds=rng.randrange(0, 200_000))
        rows = []
        for key in keys:
            end[key] += poisson(rng, per_partition)
            committed[key] = min(end[key], max(committed[key], end[key] - poisson(rng, per_partition / 2)))
            m = owner[key]
            rows.append(PartitionRow(key[0], key[1], committed[key], None, 7, end[key], end[key], 0, m,
                                     m.split("-0f3c")[0], "/10.1.0.7", 1 + key[1] % 3, (1, 2, 3), (1, 2, 3)))
        snapshot = GroupSnapshot("billing", "Stable", "consumer", BrokerNode(1, "kafka-1.internal", 9092),
                                 "uniform", member_infos, tuple(rows), taken, brokers=(1, 2, 3))
        view = None
        if positions:  # each member's probe reports all its partitions at once: one time and age per member
            age = {m: rng.random() for m in members}
            view = PositionsView("billing", "__deliverytui_positions", tuple(
                PartitionPosition(r.topic, r.partition, r.committed_offset + poisson(rng, 3), r.committed_offset,
                                  r.client_id, r.member_id, f"{r.client_id}@host", "probe",
                                  taken - timedelta(seconds=age[r.member_id]), age[r.member_id], False, True)
                for r in sorted(rows, key=lambda r: (r.topic, r.partition))), taken, True, 0, 0)
        statuses = {f"{t}:{p}": ("WARN" if (index // 50 + p) % 97 == 0 else "OK") for t, p in keys}
        events = (("rebalance: 20 member(s) now own 1000 partition(s)", "bold cyan"),) if index % 500 == 250 else ()
        hits, misses = hits + poisson(rng, 2), misses + poisson(rng, rate * REFRESH_S)
        yield RecordedFrame(index, taken.timestamp(), snapshot, view, "OK", statuses, events,
                            DedupCounters("billing", hits=hits, misses=misses, updated_at=taken), None)


def steady_bytes_per_frame(path: Path) -> float:
    """Bytes per frame with one keyframe in KEYFRAME_INTERVAL (a short run holds more keyframes than that),
    scaled by the file's overhead over its bodies (pages, index)."""
    import sqlite3

    from deliverytui.recorder.store import KEYFRAME_INTERVAL

    db = sqlite3.connect(path)
    (deltas, delta_bytes), (keys, key_bytes) = (
        db.execute("SELECT count(*), coalesce(sum(length(body)), 0) FROM frames WHERE keyframe = ?", (flag,)).fetchone()
        for flag in (0, 1)
    )
    db.close()
    # Pages hold more than the bodies (headers, free space); the schema's three pages are there in any file.
    overhead = max(1.0, (file_bytes(path) - 3 * PAGE_SIZE) / (delta_bytes + key_bytes))
    per_delta = delta_bytes / deltas if deltas else 0.0
    print(f"  bodies: delta {per_delta:,.0f} bytes, keyframe {key_bytes / keys:,.0f} bytes; pages x{overhead:.2f}")
    return overhead * (per_delta * (KEYFRAME_INTERVAL - 1) + key_bytes / keys) / KEYFRAME_INTERVAL


def report(label: str, path: Path, frames: int, partitions: int) -> float:
    size = file_bytes(path)
    per_frame = size / frames
    steady = steady_bytes_per_frame(path)
    if frames < 1000:  # a short run: its keyframes and schema pages weigh more than in a day's recording
        print(f"  ({frames} frames: {per_frame:,.0f} bytes/frame as written; {steady:,.0f} with one keyframe per 100)")
        per_frame = steady
    print(f"{label}: {frames} frames of {partitions} partitions -> {size / 1e6:.2f} MB on disk")
    print(f"  bytes/frame {per_frame:,.0f}  ({per_frame / partitions:.1f} bytes per partition-frame)")
    print(f"  at a 2 s refresh: {per_frame * FRAMES_PER_HOUR / 1e6:.1f} MB/hour, {per_frame * FRAMES_PER_DAY / 1e6:.0f} MB/day"
          f"  (goal < 100 MB/day: {'met' if per_frame * FRAMES_PER_DAY < 100e6 else 'NOT met'})")
    return per_frame


def run_synthetic(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.db"
        header = RecordingHeader(RECORDING_FORMAT_VERSION, "billing", "kafka-1.internal:9092", "c1", time.time(), REFRESH_S)
        writer = RecordingWriter(path, header)
        write_s = []
        for frame in synthetic_frames(args.frames, args.partitions, args.rate, args.positions):
            started = time.perf_counter()
            writer.write(frame)
            write_s.append(time.perf_counter() - started)
        writer.close()
        report(f"synthetic{' with positions' if args.positions else ''} ({args.rate:g} records/s)",
               path, args.frames, args.partitions)
        write_s.sort()
        print(f"  write (encode + commit) per frame: median {statistics.median(write_s) * 1e3:.1f} ms, "
              f"p99 {write_s[int(len(write_s) * 0.99)] * 1e3:.1f} ms")
        reader = RecordingReader(path)
        rng = random.Random(2)
        picks = [rng.randrange(args.frames) for _ in range(30)]
        started = time.perf_counter()
        for index in picks:
            reader.frame(index)
        random_ms = (time.perf_counter() - started) / len(picks) * 1e3
        started = time.perf_counter()
        for _ in reader.frames(0, min(args.frames, 300)):
            pass
        sequential_ms = (time.perf_counter() - started) / min(args.frames, 300) * 1e3
        reader.close()
        print(f"  read: random frame {random_ms:.0f} ms (from its keyframe), next frame {sequential_ms:.1f} ms")
        live_view_cost(Path(tmp) / "live.db", header, args)


def live_view_cost(path: Path, header: RecordingHeader, args: argparse.Namespace) -> None:
    """What ``--record`` costs the live view's UI thread (build the frame, enqueue it) and its writer thread."""
    from deliverytui.recorder.background import BackgroundWriter
    from deliverytui.recorder.session import PollRecorder

    frames = list(synthetic_frames(min(args.frames, 300), args.partitions, args.rate, args.positions))
    background = BackgroundWriter(lambda: RecordingWriter(path, header), print)
    recorder = PollRecorder(background, header.bootstrap)
    ui_s = []
    for frame in frames:
        started = time.perf_counter()
        statuses = {key: str(status) for key, status in frame.statuses.items()}  # as the host builds them
        recorder.snapshot(frame.snapshot, "OK", statuses, frame.events, positions=frame.positions, dedup=frame.dedup)
        ui_s.append(time.perf_counter() - started)
        time.sleep(0.005)  # polls do not come back to back
    background.close(60)
    ui_s.sort()
    written = sorted(background.write_seconds)
    print(f"  --record in the live view: UI thread median {ui_s[len(ui_s) // 2] * 1e3:.2f} ms, "
          f"p99 {ui_s[int(len(ui_s) * 0.99)] * 1e3:.2f} ms per frame; writer thread median "
          f"{written[len(written) // 2] * 1e3:.1f} ms, p99 {written[int(len(written) * 0.99)] * 1e3:.1f} ms")


def run_real(args: argparse.Namespace) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from deliverytui.recorder.headless import RecordOptions, record

    broker = None
    bootstrap = args.bootstrap
    tmp = tempfile.TemporaryDirectory()
    if bootstrap is None:
        from deliverytui.broker.distribution import resolve_distribution
        from deliverytui.broker.embedded import EmbeddedBroker

        broker = EmbeddedBroker(Path(tmp.name) / "broker")
        bootstrap = broker.start(distribution=resolve_distribution())[0].bootstrap
    topic, group = f"size-{os.getpid()}", f"size-{os.getpid()}"
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})  # held: a collected client cancels its futures
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(60)

        def produce() -> None:
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
            sent = 0
            started = time.monotonic()
            while not stop.is_set():
                for _ in range(100):
                    producer.produce(topic, value=b"x" * 100, partition=sent % args.partitions)
                    sent += 1
                producer.poll(0)
                time.sleep(max(0.0, sent / args.rate - (time.monotonic() - started)))
            producer.flush(10)

        def consume() -> None:
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                                 "enable.auto.commit": True, "auto.commit.interval.ms": 1000})
            consumer.subscribe([topic])
            while not stop.is_set():
                consumer.consume(500, 0.2)
            consumer.close()

        threads += [threading.Thread(target=produce, daemon=True), threading.Thread(target=consume, daemon=True)]
        for thread in threads:
            thread.start()
        time.sleep(10)  # the group forms and starts committing
        path = Path(tmp.name) / "real.db"
        frames = record(RecordOptions(path=path, group=group, bootstrap=bootstrap, refresh_seconds=REFRESH_S,
                                      duration=args.minutes * 60), log=lambda line: None)
        per_frame = report(f"real group on a real broker ({args.rate:g} records/s, {args.minutes:g} min)",
                           path, frames, args.partitions)
        print(f"  scaled to 1,000 partitions: {per_frame / args.partitions * 1000 * FRAMES_PER_DAY / 1e6:.0f} MB/day")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        if broker is not None:
            broker.stop()
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=None, help="default 1000 (synthetic), 200 (real)")
    parser.add_argument("--positions", action="store_true", help="synthetic: a probe report per partition per frame")
    parser.add_argument("--rate", type=float, default=5000.0, help="records/s the producer writes (default 5000)")
    parser.add_argument("--minutes", type=float, default=2.0, help="real: how long to record (default 2)")
    parser.add_argument("--bootstrap", help="real: an existing cluster (default: an embedded broker of its own)")
    args = parser.parse_args()
    if args.partitions is None:
        args.partitions = 1000 if args.mode == "synthetic" else 200
    (run_synthetic if args.mode == "synthetic" else run_real)(args)


if __name__ == "__main__":
    main()
