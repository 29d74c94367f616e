"""Claims per second for each dedup backend, next to the same server's raw write rate.

Run from the repository root:  python benchmarks/dedup.py [--quick]

Starts its own Redis (no persistence, as ``redis-benchmark`` is usually run) and
PostgreSQL on free ports through the launchers in
``tests/services.py``, and a SQLite file in a temporary directory (WAL,
synchronous=NORMAL, as the store uses). Single client throughout. Prints figures;
asserts nothing about speed. Each figure is the best of three runs, because on a
shared machine a single run mostly measures the neighbours; raw and claim runs
alternate, so a burst of load from the neighbours hits both.

PostgreSQL runs with ``synchronous_commit=off`` unless ``--durable`` is given:
every single-row statement, claim or raw insert, then waits for the same WAL
flush, so the comparison would measure the disk's fsync latency (which swings
by 5x on a shared VM) rather than the statements. The target from the issue: batched claims reach at
least half of the raw rate.

Each claim rate is printed against more than one raw rate, each labelled:

* ``[issue]`` — the baseline the issue names: ``redis-benchmark -t set -P 16``
  (redis-benchmark's default 50 connections, one fixed key, no TTL) for Redis, a
  plain autocommit INSERT loop for PostgreSQL; for SQLite, which the issue does
  not name, ``executemany`` in one transaction (what the target was first
  measured against). Single claims: ``redis-benchmark -c 1 -P 1`` and the INSERT
  loops.
* ``[strongest]`` — the fastest raw write of the same shape as a claim batch
  that we know how to make: for Redis ``-c 1 -P 1000`` (one connection, 1,000
  SETs per round trip, like one ``claim_many``), for PostgreSQL the faster of a
  multi-row ``INSERT … SELECT unnest(…)`` (binary array parameter, 1,000 rows per
  statement) and ``executemany`` in one transaction, for SQLite ``executemany`` in
  one transaction (the same as ``[issue]``).

The raw inserts write a narrower row than a claim (key, value, time; PRIMARY KEY
only) into a table without the store's prune index, so they are an upper bound,
not the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.dedup import open_store  # noqa: E402
from tests.services import PostgresServerProcess, RedisServerProcess  # noqa: E402

BATCH = 1000


@dataclass(frozen=True)
class Baseline:
    label: str
    """``issue`` (the baseline the issue names) or ``strongest`` (the fastest raw write we know)."""
    raw_per_s: float
    method: str


@dataclass(frozen=True)
class Row:
    backend: str
    mode: str
    claims_per_s: float
    baselines: tuple[Baseline, ...]

    def ratio(self, label: str) -> float | None:
        for baseline in self.baselines:
            if baseline.label == label:
                return self.claims_per_s / baseline.raw_per_s
        return None


def _keys(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"bench-{run}-{i}" for i in range(n)]


REPEATS = 3


async def _rate(n: int, body: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await body()
    return n / (time.perf_counter() - started)


async def claims_single(url: str, n: int) -> float:
    async with open_store(url, group="bench") as store:
        await store.claim("warm-up", lease_seconds=60)
        keys = _keys(n)

        async def body() -> None:
            for key in keys:
                await store.claim(key, lease_seconds=60)

        return await _rate(n, body)


async def claims_batched(url: str, n: int) -> float:
    async with open_store(url, group="bench") as store:
        await store.claim_many(_keys(BATCH), lease_seconds=60)  # warm-up
        keys = _keys(n)

        async def body() -> None:
            for start in range(0, n, BATCH):
                await store.claim_many(keys[start : start + BATCH], lease_seconds=60)

        return await _rate(n, body)


def _redis_benchmark_once(port: int, *extra: str) -> float:
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set", "-n", "100000", "-q", *extra],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"SET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    if not match:
        raise RuntimeError(f"could not read redis-benchmark output: {out!r}")
    return float(match.group(1))


async def postgres_raw(url: str, n_single: int, n_batched: int) -> tuple[float, float, str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_insert (key text PRIMARY KEY, value text, created_at timestamptz DEFAULT now())"
        )
        keys = _keys(n_single)

        async def loop() -> None:
            for key in keys:
                await conn.execute("INSERT INTO raw_insert (key, value) VALUES (%s, 'x')", (key,))

        single = await _rate(n_single, loop)
        multi_keys = _keys(n_batched)

        async def multirow() -> None:
            for start in range(0, n_batched, BATCH):
                await conn.execute(
                    "INSERT INTO raw_insert (key, value) SELECT k, 'x' FROM unnest(%b::text[]) AS k",
                    (multi_keys[start : start + BATCH],),
                )

        multi = await _rate(n_batched, multirow)
        many_keys = _keys(n_batched)

        async def executemany() -> None:
            for start in range(0, n_batched, BATCH):
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO raw_insert (key, value) VALUES (%s, 'x')",
                        [(k,) for k in many_keys[start : start + BATCH]],
                    )

        many = await _rate(n_batched, executemany)
    if multi >= many:
        return single, multi, "multi-row INSERT…unnest, 1000/stmt, binary"
    return single, many, "executemany in a txn, 1000/txn"


def sqlite_raw(path: str, n_single: int, n_batched: int) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE raw_insert (key TEXT PRIMARY KEY, value TEXT, created_at REAL) WITHOUT ROWID")
    keys = _keys(n_single)
    started = time.perf_counter()
    for key in keys:
        conn.execute("INSERT INTO raw_insert VALUES (?, 'x', ?)", (key, time.time()))
    single = n_single / (time.perf_counter() - started)
    keys = _keys(n_batched)
    started = time.perf_counter()
    for start in range(0, n_batched, BATCH):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw_insert VALUES (?, 'x', ?)", [(k, time.time()) for k in keys[start : start + BATCH]])
        conn.execute("COMMIT")
    batched = n_batched / (time.perf_counter() - started)
    conn.close()
    return single, batched


async def main(quick: bool, durable: bool) -> None:
    scale = 0.2 if quick else 1.0
    n_single = int(5000 * scale)
    n_batched = int(100_000 * scale)
    rows: list[Row] = []

    redis = RedisServerProcess(persistent=False)
    redis.start()
    try:
        # Raw and claim runs alternate, so a burst of load from the neighbours hits both.
        runs = []
        for _ in range(REPEATS):
            runs.append((
                _redis_benchmark_once(redis.port, "-P", "16"),
                _redis_benchmark_once(redis.port, "-c", "1", "-P", str(BATCH)),
                _redis_benchmark_once(redis.port, "-c", "1", "-P", "1"),
                await claims_single(redis.url, n_single),
                await claims_batched(redis.url, n_batched),
            ))
        raw_pipelined, raw_one_batch, raw_one, single, batched = (max(column) for column in zip(*runs))
        rows.append(Row("redis", "single claim", single, (
            Baseline("issue", raw_one, "redis-benchmark -t set -c 1 -P 1"),
        )))
        rows.append(Row("redis", f"claim_many ({BATCH})", batched, (
            Baseline("issue", raw_pipelined, "redis-benchmark -t set -P 16 (50 conns)"),
            Baseline("strongest", raw_one_batch, f"redis-benchmark -t set -c 1 -P {BATCH}"),
        )))
    finally:
        redis.cleanup()

    postgres = PostgresServerProcess(settings={} if durable else {"synchronous_commit": "off"})
    postgres.start()
    try:
        raws, singles, batches = [], [], []
        for _ in range(REPEATS):
            raws.append(await postgres_raw(postgres.url, n_single, n_batched))
            singles.append(await claims_single(postgres.url, n_single))
            batches.append(await claims_batched(postgres.url, n_batched))
        raw_single = max(r[0] for r in raws)
        raw_batched, method = max(((r[1], r[2]) for r in raws), key=lambda r: r[0])
        single, batched = max(singles), max(batches)
        loop = Baseline("issue", raw_single, "INSERT loop, autocommit")
        rows.append(Row("postgresql", "single claim", single, (loop,)))
        strongest = Baseline("strongest", raw_batched, method)
        rows.append(Row("postgresql", f"claim_many ({BATCH})", batched, (loop, strongest)))
    finally:
        postgres.cleanup()

    with tempfile.TemporaryDirectory(prefix="deliverytui-bench-") as directory:
        url = f"sqlite:///{directory}/dedup.db"
        raws, singles, batches = [], [], []
        for i in range(REPEATS):
            raws.append(sqlite_raw(f"{directory}/raw{i}.db", n_single, n_batched))
            singles.append(await claims_single(url, n_single))
            batches.append(await claims_batched(url, n_batched))
        raw_single, raw_batched = max(r[0] for r in raws), max(r[1] for r in raws)
        single, batched = max(singles), max(batches)
        loop = Baseline("issue", raw_single, "INSERT loop, autocommit")
        rows.append(Row("sqlite", "single claim", single, (loop,)))
        many = f"executemany, {BATCH}/txn"
        rows.append(Row("sqlite", f"claim_many ({BATCH})", batched, (
            Baseline("issue", raw_batched, many), Baseline("strongest", raw_batched, many),
        )))

    print(
        f"single: {n_single} claims; batched: {n_batched} claims in batches of {BATCH}; one client; "
        f"best of {REPEATS}; postgresql synchronous_commit={'on' if durable else 'off'}"
    )
    header = f"{'backend':<11} {'mode':<17} {'claims/s':>10} {'raw/s':>11} {'ratio':>6}  raw measured as"
    print(header)
    print("-" * (len(header) + 40))
    for row in rows:
        for i, baseline in enumerate(row.baselines):
            if i and baseline.method == row.baselines[0].method:
                continue  # the same measurement under both labels: print it once
            labels = "/".join(b.label for b in row.baselines if b.method == baseline.method)
            lead = f"{row.backend:<11} {row.mode:<17} {row.claims_per_s:>10,.0f}" if i == 0 else " " * 40
            ratio = row.claims_per_s / baseline.raw_per_s
            print(f"{lead} {baseline.raw_per_s:>11,.0f} {ratio:>6.2f}  [{labels}] {baseline.method}")
    print()
    print("target: claim_many >= 0.50 x raw")
    for row in rows:
        if not row.mode.startswith("claim_many"):
            continue
        issue, strongest = row.ratio("issue"), row.ratio("strongest")
        assert issue is not None and strongest is not None
        if min(issue, strongest) >= 0.5:
            verdict = "met"
        else:
            verdict = "met against [issue] only" if issue >= 0.5 else "NOT met"
        print(f"  {row.backend:<11} {issue:>6.2f} vs [issue], {strongest:>5.2f} vs [strongest]: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the work, for a smoke run")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with synchronous_commit=on")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.quick, arguments.durable))
