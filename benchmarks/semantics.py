"""Benchmark: what each delivery semantic costs, measured on the embedded broker in one run.

For every demo semantic (the real consumer process of ``deliverytui demo``, per-message
commits as the demo runs them; exactly-once commits one transaction per poll batch of up to
50 messages) on a fresh 3-partition topic:

- **throughput**: a backlog of ``--backlog`` events is produced first, then the consumer
  starts; events/s = backlog / (last effect time - first effect time), so group join time
  is not counted;
- **latency**: with the consumer running and caught up, the producer sends ``--rate``
  events/s for ``--seconds``; latency = effect time (effects ledger) - the record's
  CreateTime (stamped by the producer when it sends; same machine clock), p50 and p99. For exactly-once the
  effect time is the ledger row written right after ``commit_transaction``, i.e. when the
  output became visible to read_committed readers.

The chapter claims exactly-once "adds 10-50 ms per message"; the last lines compare it
with at-least-once. Prints figures, asserts nothing. Batched commits for the at-least-once
family are not implemented in the demo consumers, so only per-message commits are measured.

Usage: python benchmarks/semantics.py [--bootstrap HOST:PORT] [--backlog 2000] [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.demo.ledger import EffectsLedger  # noqa: E402
from deliverytui.demo.producer_loop import RateLimitedProducer  # noqa: E402
from deliverytui.demo.semantics import SEMANTICS  # noqa: E402
from deliverytui.demo.supervisor import DemoSupervisor  # noqa: E402
from deliverytui.demo.task_api import ensure_topic  # noqa: E402
from deliverytui.kafka.distribution import resolve_distribution  # noqa: E402
from deliverytui.kafka.embedded import EmbeddedBroker  # noqa: E402


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def produce(producer: RateLimitedProducer, count: int, rate: float, timeout: float) -> None:
    start = producer.acknowledged
    producer.start(rate)
    wait_for(lambda: producer.acknowledged - start >= count, timeout, f"{count} acknowledged sends")
    producer.set_rate(0)


def effect_times(ledger: EffectsLedger, group: str) -> list[tuple[str, float]]:
    """(event id, first effect time) for every event the group had an effect for."""
    rows = ledger._rows(  # one query; the ledger has no public aggregate for this
        "SELECT e.event_id, MIN(e.at) FROM effects e WHERE e.consumer = ? GROUP BY e.event_id", (group,)
    )
    return [(str(event_id), float(at)) for event_id, at in rows]


def produce_times(bootstrap: str, topic: str, expected: int) -> dict[str, float]:
    """Event id → the record's CreateTime (set by the producer at send) read back from the topic.

    The ledger's ack time is written by the producer thread after delivery reports are
    batched, sometimes after the consumer already acted, so it cannot date the send.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-reader-never-commits",
                         "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    times: dict[str, float] = {}
    deadline = time.monotonic() + 60
    try:
        while len(times) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            times[json.loads(message.value())["event_id"]] = message.timestamp()[1] / 1000.0
    finally:
        consumer.close()
    return times


def measure(bootstrap: str, semantic: str, backlog: int, rate: float, seconds: float, root: Path) -> dict[str, float]:
    tag = uuid.uuid4().hex[:6]
    topic = f"bench-{semantic}-{tag}"
    ensure_topic(bootstrap, topic, partitions=3)
    run_dir = root / f"{semantic}-{tag}"
    supervisor = DemoSupervisor(
        bootstrap, run_dir, f"sqlite:///{run_dir / 'ledger.db'}", f"sqlite:///{run_dir / 'dedup.db'}",
        group_prefix=f"bench-{tag}-", semantics=(semantic,), topic=topic, probe=False,
    )
    group = supervisor.group_of(semantic)
    ledger = supervisor.ledger
    producer = RateLimitedProducer(bootstrap, ledger, topic=topic)
    try:
        produce(producer, backlog, rate=5000, timeout=120)
        time.sleep(0.5)  # let sends already in flight be acknowledged: the backlog is what was acknowledged
        backlog = producer.acknowledged
        supervisor.start(semantic)
        wait_for(lambda: len(effect_times(ledger, group)) >= backlog, 300, f"{semantic} to drain the backlog")
        drained = effect_times(ledger, group)
        first = min(at for _, at in drained)
        last = max(at for _, at in drained)
        throughput = backlog / max(1e-6, last - first)

        phase_start = time.time()
        produce(producer, int(rate * seconds), rate=rate, timeout=seconds * 3 + 30)
        time.sleep(0.5)
        total = producer.acknowledged
        wait_for(lambda: len(effect_times(ledger, group)) >= total, 120, f"{semantic} to catch up")
        sent = produce_times(bootstrap, topic, total)
        latencies = sorted(
            (at - sent[event_id]) * 1000 for event_id, at in effect_times(ledger, group)
            if event_id in sent and sent[event_id] >= phase_start
        )
    finally:
        producer.stop()
        supervisor.stop_all()
    return {
        "throughput": throughput,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "samples": len(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="deliverytui-sem-bench-")))
        bootstrap = broker.start(distribution=resolve_distribution())[0].bootstrap
    root = Path(tempfile.mkdtemp(prefix="deliverytui-sem-runs-"))
    results: dict[str, dict[str, float]] = {}
    try:
        for semantic in SEMANTICS:
            print(f"measuring {semantic}...", flush=True)
            results[semantic] = measure(bootstrap, semantic, args.backlog, args.rate, args.seconds, root)
    finally:
        if broker is not None:
            broker.stop()
    print()
    print(f"backlog {args.backlog} events; latency phase {args.rate:g} events/s for {args.seconds:g} s; per-message commits")
    print(f"{'semantic':<15}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'samples':>9}")
    for semantic, r in results.items():
        print(f"{semantic:<15}{r['throughput']:>10.0f}{r['p50']:>10.1f}{r['p99']:>10.1f}{int(r['samples']):>9}")
    alo, eos = results.get("at-least-once"), results.get("exactly-once")
    if alo and eos:
        print()
        print(f"exactly-once vs at-least-once: p50 {eos['p50'] - alo['p50']:+.1f} ms, p99 {eos['p99'] - alo['p99']:+.1f} ms, "
              f"throughput x{eos['throughput'] / alo['throughput']:.2f}")
        print("chapter's claim: exactly-once adds 10-50 ms per message and costs throughput")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
