"""Patterns 2 and 3 for a whole batch (``upsert_rows``, ``transition_many``) on real SQL stores.

A batch must decide and count every row exactly as the single calls would, one after the
other — including a key repeated in the batch, which a single statement cannot change twice.
"""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from deliverytui.dedup import DedupStoreError, open_store
from deliverytui.dedup.store import write_rounds

CREATE_TASKS = "CREATE TABLE tasks (task_id text PRIMARY KEY, title text, priority integer, status text)"


@pytest.fixture(params=["postgres", "sqlite"])
def sql_store_url(request: pytest.FixtureRequest) -> str:
    """A SQL store URL whose database already holds the user's ``tasks`` table."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(CREATE_TASKS)
        return url
    url = str(request.getfixturevalue("sqlite_url"))
    with sqlite3.connect(url[len("sqlite:///") :]) as conn:
        conn.execute(CREATE_TASKS)
    return url


def test_write_rounds_put_each_repeat_one_round_later() -> None:
    assert write_rounds(["a", "b", "c"]) == [[0, 1, 2]]
    assert write_rounds(["a", "b", "a", "a", "c"]) == [[0, 1, 4], [2], [3]]
    assert write_rounds([]) == []


async def test_upsert_rows_decides_each_row_as_single_upserts_would(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="batch") as batch, open_store(sql_store_url, group="single") as single:
        await batch.upsert_rows("tasks", "task_id", [("t-1", {"title": "old", "priority": 1})])
        rows = [
            ("t-1", {"title": "old", "priority": 1}),  # the same values: a hit
            ("t-2", {"title": "new", "priority": 2}),  # a new row: a miss
            ("t-1", {"title": "changed", "priority": 1}),  # a repeat with new values: changes it
            ("t-2", {"title": "new", "priority": 2}),  # a repeat with the same values: a hit
            ("t-3", {"title": None, "priority": None}),
        ]
        answer = await batch.upsert_rows("tasks", "task_id", rows)
        # The same rows one at a time (on keys of their own, from the same start) decide the same.
        await single.upsert_row("tasks", "task_id", "s-t-1", {"title": "old", "priority": 1})
        expected = [await single.upsert_row("tasks", "task_id", f"s-{key}", values) for key, values in rows]
        assert answer == expected == [False, True, True, False, True]
        counters = await batch.read_counters()
        assert counters is not None and (counters.misses, counters.hits) == (1 + 3, 2)
        assert await batch.upsert_rows("tasks", "task_id", []) == []


async def test_upsert_rows_of_many_rows_spans_statements(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="big") as store:
        rows = [(f"t-{i}", {"title": f"task {i}"}) for i in range(1_234)]
        assert await store.upsert_rows("tasks", "task_id", rows) == [True] * len(rows)
        again = [*rows[:600], (rows[600][0], {"title": "renamed"}), *rows[601:]]
        answer = await store.upsert_rows("tasks", "task_id", again)
        assert answer == [i == 600 for i in range(len(rows))]
        counters = await store.read_counters()
        assert counters is not None and (counters.misses, counters.hits) == (len(rows) + 1, len(rows) - 1)


async def test_upsert_rows_refuses_rows_with_different_columns(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="batch") as store:
        with pytest.raises(DedupStoreError, match="same columns"):
            await store.upsert_rows("tasks", "task_id", [("a", {"title": "x"}), ("b", {"priority": 1})])
        with pytest.raises(DedupStoreError, match="invalid SQL"):
            await store.upsert_rows("tasks", "task_id", [("a", {"title) VALUES (1); --": "x"})])


async def test_transition_many_moves_each_row_once(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="batch") as store:
        await store.upsert_rows("tasks", "task_id", [(f"t-{i}", {"status": "pending"}) for i in range(4)])
        await store.transition("tasks", "task_id", "t-0", "status", "pending", "completed")
        keys = ["t-0", "t-1", "t-2", "t-1", "absent", "t-3"]
        moved = await store.transition_many("tasks", "task_id", keys, "status", "pending", "completed")
        # t-0 was done already, t-1 moves once (its repeat is a hit), "absent" has no row.
        assert moved == [False, True, True, False, False, True]
        again = await store.transition_many("tasks", "task_id", keys, "status", "pending", "completed")
        assert again == [False] * len(keys)
        counters = await store.read_counters()
        # 4 upserts + 1 transition + 3 moves are misses; 3 + 6 non-moves are hits.
        assert counters is not None and (counters.misses, counters.hits) == (4 + 1 + 3, 3 + 6)
        assert await store.transition_many("tasks", "task_id", [], "status", "pending", "completed") == []


async def test_batch_writes_need_a_sql_store(redis_url: str) -> None:
    async with open_store(redis_url, group="g") as store:
        with pytest.raises(DedupStoreError, match="SQL store"):
            await store.upsert_rows("tasks", "task_id", [("t-1", {"title": "x"})])
        with pytest.raises(DedupStoreError, match="SQL store"):
            await store.transition_many("tasks", "task_id", ["t-1"], "status", "a", "b")


def test_consumers_starting_together_create_the_task_table_once(postgres_url: str) -> None:
    """Upsert and state-check consumers start together on one PostgreSQL: each creates the task table
    if missing. Unserialized, the loser of CREATE TABLE IF NOT EXISTS got a unique violation on pg_type
    and exited 1 (a batch-crash test saw it); every one of them must now start."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from deliverytui.demo.consumer.tasks import TaskTable

    for round_ in range(5):
        tables = [TaskTable(postgres_url) for _ in range(8)]
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS tasks")
        barrier = Barrier(len(tables))

        def create(table: TaskTable, barrier: Barrier) -> None:
            barrier.wait()
            table.ensure_schema()

        with ThreadPoolExecutor(len(tables)) as pool:
            errors = [f.exception() for f in [pool.submit(create, t, barrier) for t in tables]]
        for table in tables:
            table.close()
        assert errors == [None] * len(tables), f"round {round_}: {errors}"
