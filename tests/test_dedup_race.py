"""Two *processes* racing to claim the same keys: exactly one winner per key, on every backend.

The writers are child processes; the parent reads the counters afterwards, which
is the "counters read from another process" requirement (the TUI is such a reader).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from typing import Any

from deliverytui.dedup import open_store

KEYS = [f"event-{i}" for i in range(300)]
WORKERS = 2
GROUP = "racers"


def _race_worker(url: str, keys: list[str], barrier: Any, results: Any, use_batches: bool) -> None:
    """Runs in a spawned process: claim every key (singly or in small batches), report what it won."""

    async def run() -> tuple[list[str], dict[str, int]]:
        won: list[str] = []
        outcomes: dict[str, int] = {}
        async with open_store(url, group=GROUP) as store:
            # Lock-step rounds: both processes pass the barrier, then claim the same
            # key(s) at once, so every key is really contended (not won by whoever
            # happened to start first).
            claims = []
            step = 10 if use_batches else 1
            for start in range(0, len(keys), step):
                barrier.wait(timeout=60)  # blocking is fine: nothing else runs on this loop; a dead peer breaks it
                if use_batches:
                    claims += await store.claim_many(keys[start : start + step], lease_seconds=60)
                else:
                    claims.append(await store.claim(keys[start], lease_seconds=60))
            for claim in claims:
                outcomes[claim.outcome.value] = outcomes.get(claim.outcome.value, 0) + 1
                if claim.owned:
                    won.append(claim.key)
                    assert await store.complete(claim.key, claim.token)
        return won, outcomes

    results.put(asyncio.run(run()))


async def _race(url: str, *, use_batches: bool) -> list[tuple[list[str], dict[str, int]]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_race_worker, args=(url, KEYS, barrier, results, use_batches)) for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = [await asyncio.to_thread(results.get, True, 120) for _ in processes]
    for process in processes:
        await asyncio.to_thread(process.join, 30)
        assert process.exitcode == 0
    return reports


async def _check_race(url: str, *, use_batches: bool) -> None:
    reports = await _race(url, use_batches=use_batches)
    print("wins per process:", [len(keys) for keys, _ in reports])
    won = [set(keys) for keys, _ in reports]
    assert won[0].isdisjoint(won[1]), "a key had two winners"
    assert won[0] | won[1] == set(KEYS), "a key had no winner"
    for keys, _ in reports:
        assert len(keys) == len(set(keys))

    # Read from this (another) process: the counters equal what the writers decided.
    async with open_store(url, group="reader", create_schema=False) as reader:
        counters = await reader.read_counters(GROUP)
    assert counters is not None
    names = ("first", "duplicate", "in_progress", "retaken")
    total = {name: sum(outcomes.get(name, 0) for _, outcomes in reports) for name in names}
    assert counters.misses == total["first"] == len(KEYS)
    assert counters.hits == total["duplicate"]
    assert counters.in_progress == total["in_progress"]
    assert counters.retakes == total["retaken"] == 0
    assert counters.hits + counters.in_progress == len(KEYS)
    assert counters.errors == 0


async def test_two_processes_claim_each_key_exactly_once(dedup_store_url: str) -> None:
    await _check_race(dedup_store_url, use_batches=False)


async def test_two_processes_claim_batches_each_key_exactly_once(dedup_store_url: str) -> None:
    await _check_race(dedup_store_url, use_batches=True)




async def test_a_store_opens_while_another_connection_holds_the_write_lock(tmp_path) -> None:
    """A new file is still in rollback mode; while another process writes to it (holds RESERVED), SQLite
    refuses the switch to WAL at once, without its busy handler. Opening must wait that out, not fail."""
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    release = asyncio.get_running_loop().call_later(0.5, holder.execute, "ROLLBACK")
    try:
        async with open_store(f"sqlite:///{path}", group=GROUP) as store:
            claim = await store.claim("after-the-lock", lease_seconds=60)
        assert claim.owned
    finally:
        release.cancel()
        holder.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _open_worker(url: str, barrier: Any, results: Any) -> None:
    """Runs in a spawned process: open the store at the same instant as its peers, report the outcome."""

    async def run() -> str:
        barrier.wait(timeout=60)
        try:
            async with open_store(url, group=GROUP) as store:
                await store.claim("opened", lease_seconds=60)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the parent asserts on
            return f"{type(exc).__name__}: {exc}"
        return "ok"

    results.put(asyncio.run(run()))


async def test_processes_opening_a_new_sqlite_file_together_all_open_it(tmp_path) -> None:
    """Switching a new file to WAL is refused at once ("database is locked") to all but one of several
    processes asking together, busy timeout or not; consumers starting together must still all open it."""
    ctx = multiprocessing.get_context("spawn")
    opened = 0
    for round_number in range(4):
        url = f"sqlite:///{tmp_path}/together-{round_number}.db"
        barrier = ctx.Barrier(6)
        results = ctx.Queue()
        processes = [ctx.Process(target=_open_worker, args=(url, barrier, results)) for _ in range(6)]
        for process in processes:
            process.start()
        outcomes = [await asyncio.to_thread(results.get, True, 120) for _ in processes]
        for process in processes:
            await asyncio.to_thread(process.join, 30)
        assert outcomes == ["ok"] * 6, outcomes
        opened += len(outcomes)
    assert opened == 24
