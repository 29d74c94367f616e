"""Benchmark: what one batch decision costs on each store, split into round trip and per-row cost.

Why: batched, every idempotency pattern of the demo consumer makes one (state-check: two) round
trips to its store per batch (``deliverytui/demo/consumer/batches.py``). Whether a store keeps up
with at-least-once then depends on two figures, measured here on the real servers: the fixed cost
of one call (a batch of 1: the round trip, a statement's set-up, a transaction's commit) and the
cost each more row adds ((batch of N - batch of 1) / (N - 1)). ``bound/s`` is N divided by the
time of a batch of N: the most events per second that step alone allows.

Each figure is the median of ``--repeats`` calls on fresh keys (a fresh first delivery each
time, which is the common case), on one connection, as the consumer makes them:

* ``claim+complete`` — ``claim_many`` then ``complete_many`` (the idempotent consumer);
* ``upsert_rows`` — one multi-row upsert of (task_id, title, created_at) rows (upsert);
* ``ensure_pending`` — state-check's first round trip: one insert of the task rows not seen yet
  (``TaskTable.ensure_pending_many``, the consumer's own plain connection, not counted);
* ``transition_many`` — one conditional update of rows already ``pending`` (state-check).

Redis runs without persistence and PostgreSQL with ``synchronous_commit=off``, as in
``benchmarks/semantics.py``; SQLite is a WAL file with ``synchronous=NORMAL`` in a temp dir.

Usage: python benchmarks/store_round_trips.py [--batch 100] [--repeats 200] [--stores sqlite,redis,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.dedup import DedupStore, open_store  # noqa: E402
from deliverytui.demo.consumer.tasks import TaskTable  # noqa: E402
from tests.services import PostgresServerProcess, RedisServerProcess  # noqa: E402

TASKS = "CREATE TABLE IF NOT EXISTS bench_tasks (task_id TEXT PRIMARY KEY, title TEXT, created_at TEXT, status TEXT)"


async def median_seconds(call: Callable[[int], Awaitable[object]], repeats: int) -> float:
    """The median time of ``call(i)`` over ``repeats`` calls (after 5 not timed, to warm up)."""
    for i in range(5):
        await call(-1 - i)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        await call(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(store: DedupStore, sql: bool, batch: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Each operation's (seconds for a batch of 1, seconds for a batch of ``batch``)."""
    tag = uuid.uuid4().hex[:6]

    def keys(size: int, i: int) -> list[str]:
        return [f"{tag}-{size}-{i}-{k}" for k in range(size)]

    async def claim_complete(size: int, i: int) -> None:
        claims = await store.claim_many(keys(size, i), lease_seconds=30)
        await store.complete_many([c.key for c in claims], claims[0].token)

    async def upsert(size: int, i: int) -> None:
        await store.upsert_rows("bench_tasks", "task_id", [(k, {"title": k, "created_at": "now"}) for k in keys(size, i)])

    async def transition(size: int, i: int) -> None:
        await store.transition_many("bench_tasks", "task_id", keys(size, i), "status", "pending", "completed")

    tasks = TaskTable(store.url.raw)

    async def ensure_pending(size: int, i: int) -> None:
        tasks.ensure_pending_many([f"pending-{k}" for k in keys(size, i)])

    figures: dict[str, tuple[float, float]] = {}
    operations: dict[str, Callable[[int, int], Awaitable[None]]] = {"claim+complete": claim_complete}
    if sql:
        tasks.ensure_schema()
        operations |= {"upsert_rows": upsert, "ensure_pending": ensure_pending, "transition_many": transition}
        for size in (1, batch):  # the rows every transition_many call will move, created pending beforehand
            for i in range(-5, repeats):
                await store.upsert_rows("bench_tasks", "task_id", [(k, {"status": "pending"}) for k in keys(size, i)])
    for name, operation in operations.items():
        one = await median_seconds(lambda i, op=operation: op(1, i), repeats)
        many = await median_seconds(lambda i, op=operation: op(batch, i), repeats)
        figures[name] = (one, many)
    tasks.close()
    return figures


async def run_store(name: str, url: str, batch: int, repeats: int) -> dict[str, tuple[float, float]]:
    async with open_store(url, group=f"bench-{uuid.uuid4().hex[:6]}") as store:
        sql = name != "redis"
        if sql:
            if name == "sqlite":
                import sqlite3

                with sqlite3.connect(url[len("sqlite:///") :]) as conn:
                    conn.execute(TASKS)
            else:
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(TASKS)
        return await measure(store, sql, batch, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,redis,postgresql")
    args = parser.parse_args()
    wanted = [s.strip() for s in args.stores.split(",") if s.strip()]
    base = Path(tempfile.mkdtemp(prefix="deliverytui-bench-round-trips-"))
    redis = postgres = None
    rows: list[tuple[str, str, float, float]] = []
    try:
        for name in wanted:
            if name == "redis":
                redis = RedisServerProcess(persistent=False)
                redis.start()
                url = redis.url
            elif name == "postgresql":
                postgres = PostgresServerProcess(settings={"synchronous_commit": "off"})
                postgres.start()
                postgres.psql("CREATE DATABASE bench_round_trips")
                url = postgres.url_for("bench_round_trips")
            else:
                url = f"sqlite:///{base / 'dedup.db'}"
            for operation, (one, many) in asyncio.run(run_store(name, url, args.batch, args.repeats)).items():
                rows.append((name, operation, one, many))
    finally:
        for server in (redis, postgres):
            if server is not None:
                server.cleanup()
    n = args.batch
    print(f"median of {args.repeats} calls on fresh keys; N = {n}")
    header = f"{'store':<11} {'operation':<16} {'batch of 1 ms':>13} {f'batch of {n} ms':>15} {'per row us':>10} {'bound/s':>9}"
    print(header)
    print("-" * len(header))
    for name, operation, one, many in rows:
        per_row = (many - one) / max(n - 1, 1)
        print(f"{name:<11} {operation:<16} {one * 1e3:13.3f} {many * 1e3:15.3f} {per_row * 1e6:10.1f} {n / many:9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
