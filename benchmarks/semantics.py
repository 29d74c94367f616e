"""Benchmark: what each delivery semantic costs, per-message commits vs batched commits.

Checks the chapter's claim that exactly-once "adds 10-50 ms per message" and costs
throughput. For every semantic of the demo lab and every commit mode it allows
(per message: ``--commit-every 1``; batched: ``--commit-every N``, N=100 by default)
it runs the real demo consumer process (``python -m deliverytui.demo.consumer``) on a
fresh 3-partition topic and a fresh group, in two phases on the same consumer:

1. Throughput: M events (default 1,000, the same for every run) are produced *before*
   the consumer starts; the drain rate is measured between the 10 % and the 90 % effect
   of that backlog, so process start-up, the group join and the tail do not count.
   (M is 1,000 rather than more because exactly-once with one transaction per message
   drains at only ~10-20 events/s here, and the whole run must stay near 5 minutes.)
2. Latency: with the consumer caught up, events are produced at a steady rate
   (default 100/s for 8 s) and each event's latency is effect time - the time the
   producer was handed the event (``produce()``; this includes the producer's 5 ms
   linger and the broker append). A backlog drain would measure queueing, not latency,
   so a run whose drain rate is below 2x the rate is offered only half its drain rate
   (the ``offered/s`` column); otherwise the latency would be a growing queue.

The effect time is the ledger's ``effects.at`` (written by the consumer right after
the effect). For exactly-once that row is written right after ``commit_transaction()``
returns, i.e. when the output record and the offsets are committed; the benchmark also
runs a ``read_committed`` reader on ``<topic>.processed`` and reports, on an extra row,
when the output record became visible to it (what a downstream consumer sees).

Nothing about speed is asserted: this is one machine, one broker, and the numbers are
what they are. Correctness is shown, not assumed: the ``check`` column says whether
every event had exactly one effect (no crashes are injected here; the crash matrix and
``tests/test_demo_batching.py`` cover those).

The lab's queue (a share group, KIP-932) runs too with ``--semantics ...,queue``: one worker process,
per-record acknowledgement only (it has no commit window), against the at-least-once consumer with the
same effect; its events are not in the default set, which stays the six consumer-group semantics.

What idempotency costs: each idempotency pattern runs once per store it supports (``--stores``;
the idempotent consumer on SQLite, Redis and PostgreSQL, upsert and state-check on SQLite and
PostgreSQL; Redis holds no SQL rows), and every row says its store and its throughput as a ratio to
at-least-once in the same commit mode of the same run (``x ALO``). Batched, each pattern decides a
batch in one round trip to its store (``deliverytui/demo/consumer/batches.py``). The benchmark
starts its own Redis (no persistence) and PostgreSQL (``synchronous_commit=off``, like SQLite's
WAL with ``synchronous=NORMAL``: a commit is not flushed to disk before it is acknowledged) as the
tests do (``tests/services.py``); the effects ledger stays one SQLite file per run for every row.
``benchmarks/store_round_trips.py`` splits each store's batch cost into round trip and per-row cost.

Usage: python benchmarks/semantics.py [--bootstrap HOST:PORT] [--events 1000] [--batched-events M] [--batch 100]
       [--rate 100] [--seconds 8] [--semantics at-least-once,exactly-once,queue]
       [--stores sqlite,redis,postgresql] [--repeat 1] [--quick]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.broker.distribution import resolve_distribution
from deliverytui.broker.embedded import EmbeddedBroker
from deliverytui.demo.consumer_launch import URLS_FROM_STDIN, launch_consumer
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.semantics import CONSUMER_GROUP_SEMANTICS, Semantic, output_topic, semantic_spec
from deliverytui.demo.task_api import TaskApiProducer, ensure_topic, task_created_events
from deliverytui.kafka.client_config import silent_librdkafka_logger
from tests.services import PostgresServerProcess, RedisServerProcess  # noqa: E402

PARTITIONS = 3
STORES = ("sqlite", "redis", "postgresql")


class Stores:
    """The store URL of each name, starting Redis and PostgreSQL the first time one is asked for."""

    def __init__(self) -> None:
        self._redis: RedisServerProcess | None = None
        self._postgres: PostgresServerProcess | None = None

    def url(self, name: str) -> str | None:
        """None for SQLite: the consumer's default, one file in its run dir."""
        if name == "redis":
            if self._redis is None:
                self._redis = RedisServerProcess(persistent=False)
                self._redis.start()
            return self._redis.url
        if name == "postgresql":
            if self._postgres is None:
                self._postgres = PostgresServerProcess(settings={"synchronous_commit": "off"})
                self._postgres.start()
                self._postgres.psql("CREATE DATABASE bench_semantics")
            return self._postgres.url_for("bench_semantics")
        return None

    def close(self) -> None:
        for server in (self._redis, self._postgres):
            if server is not None:
                server.cleanup()


def stores_for(semantic: str, wanted: list[str]) -> Iterator[str]:
    """The stores of ``wanted`` that ``semantic`` runs on: ``-`` for none, SQL ones only for upsert and state-check."""
    spec = semantic_spec(semantic)
    if not spec.uses_dedup_store:
        yield "-"
        return
    for name in wanted:
        if name != "redis" or not spec.needs_sql_store:
            yield name


@dataclass
class Result:
    """One (semantic, commit mode) run: throughput, latencies (seconds) and the exactly-once check."""

    semantic: str
    mode: str
    commit_every: int
    store: str = "-"
    throughput: float = 0.0
    latencies: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)  # exactly-once: seen by a read_committed reader
    offered_rate: float = 0.0
    expected_latency_events: int = 0
    effects: int = 0
    unique: int = 0
    events: int = 0
    wall: float = 0.0


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank: no interpolation between two measured latencies."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


class EffectTimes:
    """Reads effect times of one group from its SQLite ledger (a separate read-only connection)."""

    def __init__(self, ledger_path: Path, group: str) -> None:
        self._conn = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True, timeout=30)
        self.group = group

    def count(self) -> tuple[int, int]:
        row = self._conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM effects WHERE consumer = ?", (self.group,)
        ).fetchone()
        return int(row[0]), int(row[1])

    def first_effects(self) -> dict[str, float]:
        """Each event's first effect time (epoch seconds)."""
        rows = self._conn.execute(
            "SELECT event_id, MIN(at) FROM effects WHERE consumer = ? GROUP BY event_id", (self.group,)
        ).fetchall()
        return {e: float(t) for e, t in rows}

    def close(self) -> None:
        self._conn.close()


class VisibilityReader(threading.Thread):
    """A read_committed reader of the exactly-once output topic: when did each output record become readable?"""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.seen: dict[str, float] = {}
        self._stop_event = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-visibility-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            },
            logger=silent_librdkafka_logger(),
        )
        meta = self._consumer.list_topics(topic, timeout=10).topics[topic]
        self._consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in meta.partitions])
        # Resolve the end positions now, before the events this reader must see are produced.
        for p in meta.partitions:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            self._consumer.seek(TopicPartition(topic, p, high))

    def run(self) -> None:
        import json

        while not self._stop_event.is_set():
            message = self._consumer.poll(0.1)
            if message is None or message.error():
                continue
            now = time.time()
            with contextlib.suppress(ValueError, TypeError):
                self.seen.setdefault(str(json.loads(message.value())["event_id"]), now)
        self._consumer.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def start_consumer(
    bootstrap: str, semantic: str, run_dir: Path, ledger_url: str, prefix: str, topic: str, commit_every: int,
    dedup_url: str | None = None,
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "deliverytui.demo.consumer",
        "--semantic", semantic, "--bootstrap", bootstrap, URLS_FROM_STDIN,
        "--run-dir", str(run_dir), "--group-prefix", prefix, "--topic", topic,
        "--commit-every", str(commit_every), "--no-probe",
    ]  # fmt: skip
    log = open(run_dir / f"{semantic}.log", "ab")  # noqa: SIM115 - the child holds it; closed right after
    try:
        return launch_consumer(command, ledger_url=ledger_url, dedup_url=dedup_url, log=log)  # a PostgreSQL password stays off ps
    finally:
        log.close()


def stop_consumer(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(times: EffectTimes, unique: int, process: subprocess.Popen[bytes], timeout: float, log: Path) -> bool:
    """Wait until the group has effects for ``unique`` distinct events; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if times.count()[1] >= unique:
            return True
        if process.poll() is not None:
            raise SystemExit(f"the consumer exited with code {process.returncode}; see {log}")
        time.sleep(0.1)
    return False


def run_one(
    bootstrap: str, base: Path, semantic: str, mode: str, commit_every: int, args: argparse.Namespace,
    store: str = "-", dedup_url: str | None = None,
) -> Result:
    """Both phases for one (semantic, commit mode, store) on a fresh topic, group, ledger and store."""
    started = time.monotonic()
    result = Result(semantic, mode, commit_every, store)
    suffix = uuid.uuid4().hex[:6]
    topic = f"bench-sem-{suffix}"
    prefix = f"bench-{suffix}-"
    group = semantic_spec(semantic).group_id(prefix)
    run_dir = base / f"{semantic}-{mode}-{store}"
    run_dir.mkdir(parents=True)
    ledger_path = run_dir / "ledger.db"
    EffectsLedger(sqlite_ledger_url(ledger_path)).close()  # the schema exists before the reader opens it
    ensure_topic(bootstrap, topic, PARTITIONS)
    if semantic == "exactly-once":
        ensure_topic(bootstrap, output_topic(topic), PARTITIONS)  # so the visibility reader can assign it

    backlog_events = args.batched_events if commit_every > 1 and args.batched_events else args.events
    producer = TaskApiProducer(bootstrap, topic)
    for event in task_created_events(backlog_events, task_prefix=f"bench-{suffix}"):
        producer.publish(event)
    if producer.flush(60) or producer.failed:
        raise SystemExit(f"the backlog of {backlog_events} events was not fully acknowledged")

    times = EffectTimes(ledger_path, group)
    process = start_consumer(
        bootstrap, semantic, run_dir, sqlite_ledger_url(ledger_path), prefix, topic, commit_every, dedup_url
    )
    try:
        if not wait_for(times, backlog_events, process, args.drain_timeout, run_dir / f"{semantic}.log"):
            raise SystemExit(f"{semantic} ({mode}) did not drain {backlog_events} events in {args.drain_timeout:.0f} s")
        backlog = sorted(times.first_effects().values())
        lo, hi = backlog[int(0.1 * len(backlog))], backlog[int(0.9 * len(backlog)) - 1]
        result.throughput = (int(0.9 * len(backlog)) - 1 - int(0.1 * len(backlog))) / max(hi - lo, 1e-9)

        reader = VisibilityReader(bootstrap, output_topic(topic)) if semantic == "exactly-once" else None
        if reader is not None:
            reader.start()
        sent: dict[str, float] = {}
        rate = min(args.rate, result.throughput / 2)  # below saturation: latency, not a growing queue
        result.offered_rate = rate
        count = max(1, int(rate * args.seconds))
        t0 = time.monotonic()
        for i, event in enumerate(task_created_events(count, task_prefix=f"bench-{suffix}-live")):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[event.event_id] = time.time()
            producer.publish(event)
        producer.flush(30)
        result.expected_latency_events = count
        wait_for(times, backlog_events + count, process, max(30.0, args.seconds * 3), run_dir / f"{semantic}.log")
        if reader is not None:
            deadline = time.monotonic() + 10
            while len(reader.seen) < count and time.monotonic() < deadline:
                time.sleep(0.1)
            reader.stop()
            result.visible = [reader.seen[e] - t for e, t in sent.items() if e in reader.seen]
        effects = times.first_effects()
        result.latencies = [effects[e] - t for e, t in sent.items() if e in effects]
        result.effects, result.unique = times.count()
        result.events = backlog_events + count
    finally:
        stop_consumer(process)
        times.close()
    result.wall = time.monotonic() - started
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def print_table(results: list[Result], rate: float) -> None:
    print()
    alo = {r.commit_every > 1: r.throughput for r in results if r.semantic == Semantic.AT_LEAST_ONCE}
    header = (
        f"{'semantic':<14} {'store':<10} {'commits':<13} {'events/s':>9} {'x ALO':>6} {'offered/s':>9} {'n':>4} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'check':<13} note"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        commits = "per message" if r.commit_every == 1 else f"every {r.commit_every}"
        if r.semantic == "exactly-once":
            commits = "1 msg/txn" if r.commit_every == 1 else f"{r.commit_every} msgs/txn"
        check = "exactly once" if r.effects == r.unique == r.events else f"{r.effects} eff/{r.unique} uniq/{r.events}"
        notes = []
        if r.offered_rate < rate:
            notes.append("offered half its drain rate")
        if len(r.latencies) < r.expected_latency_events:
            notes.append(f"only {len(r.latencies)}/{r.expected_latency_events} effects in time")
        baseline = alo.get(r.commit_every > 1)
        ratio = f"{r.throughput / baseline:6.2f}" if baseline else f"{'-':>6}"
        print(
            f"{r.semantic:<14} {r.store:<10} {commits:<13} {r.throughput:9.0f} {ratio} {r.offered_rate:9.1f} {len(r.latencies):4d} "
            f"{ms(percentile(r.latencies, 0.5))} {ms(percentile(r.latencies, 0.99))} "
            f"{ms(max(r.latencies, default=float('nan')))}  {check:<13} {'; '.join(notes)}"
        )
        if r.visible:
            print(
                f"{'  ↳ seen by a read_committed reader':<66} {len(r.visible):4d} {ms(percentile(r.visible, 0.5))} "
                f"{ms(percentile(r.visible, 0.99))} {ms(max(r.visible))}  {'':<13} output record readable downstream"
            )
    print_idempotency_cost(results)
    by_key = {(r.semantic, r.commit_every > 1): r for r in results}
    lines = []
    for batched in (False, True):
        eos, alo = by_key.get(("exactly-once", batched)), by_key.get(("at-least-once", batched))
        if eos is None or alo is None:
            continue
        label = "per message" if not batched else f"batched (EOS {eos.commit_every}/txn, ALO commit every {alo.commit_every})"
        d50 = percentile(eos.latencies, 0.5) - percentile(alo.latencies, 0.5)
        d99 = percentile(eos.latencies, 0.99) - percentile(alo.latencies, 0.99)
        line = (
            f"  {label}: throughput {alo.throughput / max(eos.throughput, 1e-9):.2f}x lower "
            f"({alo.throughput:.0f} -> {eos.throughput:.0f} events/s); latency {d50 * 1000:+.1f} ms p50, {d99 * 1000:+.1f} ms p99"
        )
        if eos.visible:
            v50 = percentile(eos.visible, 0.5) - percentile(alo.latencies, 0.5)
            line += f" ({v50 * 1000:+.1f} ms p50 until visible downstream)"
        lines.append(line)
    if lines:
        print()
        print("exactly-once vs at-least-once, same commit mode (latencies at each row's offered rate):")
        print("\n".join(lines))


def print_idempotency_cost(results: list[Result]) -> None:
    """Each idempotency pattern's throughput as a ratio to at-least-once, per message and batched, by store."""
    alo = {r.commit_every > 1: r for r in results if r.semantic == Semantic.AT_LEAST_ONCE}
    patterns = [r for r in results if semantic_spec(r.semantic).uses_dedup_store]
    if not alo or not patterns:
        return
    print()
    print("idempotency vs at-least-once, same commit mode, same run (throughput ratio; 1.00 = free):")
    cells: dict[tuple[str, str], dict[bool, float]] = {}
    for r in patterns:
        base = alo.get(r.commit_every > 1)
        if base is not None:
            cells.setdefault((r.semantic, r.store), {})[r.commit_every > 1] = r.throughput / max(base.throughput, 1e-9)
    batched_label = f"batched (every {alo[True].commit_every})" if True in alo else "batched"
    for (semantic, store), ratios in cells.items():
        shown = {batched: f"{ratio:5.2f}x" if ratio is not None else "    -" for batched, ratio in
                 ((False, ratios.get(False)), (True, ratios.get(True)))}  # fmt: skip
        print(f"  {semantic:<12} on {store:<10} per message {shown[False]}   {batched_label} {shown[True]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start an embedded one in a temp dir)")
    parser.add_argument("--events", type=int, default=1000, help="backlog events for the throughput phase")
    parser.add_argument(
        "--batched-events", type=int, default=0,
        help="backlog events for the batched runs (default: --events); a 2,000-event drain at 10,000/s lasts 0.2 s",
    )
    parser.add_argument("--batch", type=int, default=100, help="N for the batched commit mode")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s offered in the latency phase")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the latency phase")
    parser.add_argument("--semantics", default=",".join(CONSUMER_GROUP_SEMANTICS), help="comma-separated subset")
    parser.add_argument(
        "--stores", default=",".join(STORES), help="stores the idempotency patterns run on (comma-separated subset)"
    )
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every run; each row shows its median round")
    parser.add_argument("--quick", action="store_true", help="500 events, 4 s latency phase")
    args = parser.parse_args()
    if args.quick:
        args.events, args.seconds = 500, 4.0
    semantics = [semantic_spec(s.strip()).name for s in args.semantics.split(",") if s.strip()]
    wanted_stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    if unknown := sorted(set(wanted_stores) - set(STORES)):
        parser.error(f"unknown store {', '.join(unknown)}; choose from {', '.join(STORES)}")
    stores = Stores()

    broker = None
    bootstrap = args.bootstrap
    base = Path(tempfile.mkdtemp(prefix="deliverytui-bench-semantics-"))
    if not bootstrap:
        dist = resolve_distribution()
        broker = EmbeddedBroker(base / "broker")
        bootstrap = broker.start(distribution=dist)[0].bootstrap
        print(f"embedded Apache Kafka {dist.kafka_version} at {bootstrap}", flush=True)
    print(
        f"{args.events} backlog events per run ({args.batched_events or args.events} batched; throughput: 10%->90% of the drain), then up to {args.rate:.0f} events/s "
        f"for {args.seconds:.0f} s (latency: produce() -> effect); {PARTITIONS} partitions; batched N={args.batch}",
        flush=True,
    )
    runs: list[tuple[str, str, str, int]] = []
    for semantic in semantics:
        # The queue acknowledges each record (explicit mode) and has no commit window to batch.
        modes = (("per-message", 1),) if semantic == "queue" else (("per-message", 1), ("batched", args.batch))
        runs += [(semantic, store, mode, every) for store in stores_for(semantic, wanted_stores) for mode, every in modes]
    repeats: dict[tuple[str, str, str, int], list[Result]] = {run: [] for run in runs}
    begun = time.monotonic()
    try:
        # Not counted: the first run after the broker starts pays its JIT warm-up, and it would always be at-least-once's.
        run_one(bootstrap, base / "warm-up", Semantic.AT_LEAST_ONCE, "per-message", 1, args)
        for round_number in range(1, args.repeat + 1):  # whole rounds: a load that drifts hits every row alike
            for run in runs:
                semantic, store, mode, every = run
                result = run_one(bootstrap, base / f"round-{round_number}", semantic, mode, every, args, store, stores.url(store))
                repeats[run].append(result)
                print(
                    f"  {round_number}/{args.repeat} {semantic:<14} {store:<10} {mode:<12} {result.throughput:7.0f} events/s  "
                    f"p50 {percentile(result.latencies, 0.5) * 1000:6.1f} ms  ({result.wall:.0f} s)",
                    flush=True,
                )
    finally:
        stores.close()
        if broker is not None:
            broker.stop()
    # Each row: the run with the median throughput of its repeats (its latencies too).
    results = [sorted(done, key=lambda r: r.throughput)[len(done) // 2] for done in repeats.values() if done]
    if args.repeat > 1:
        print(f"\neach row: the median of {args.repeat} rounds by throughput")
    print_table(results, args.rate)
    print(f"\ntotal {time.monotonic() - begun:.0f} s; run dirs under {base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
