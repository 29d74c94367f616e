"""Pattern 2 (upsert on a natural key) and pattern 3 (conditional transition) on real SQL stores."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from deliverytui.dedup import DedupStoreError, open_store

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


async def test_upsert_reports_whether_the_row_changed(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="tasks-sync") as store:
        assert await store.upsert_row("tasks", "task_id", "t-1", {"title": "Ship", "priority": 1}) is True
        assert await store.upsert_row("tasks", "task_id", "t-1", {"title": "Ship", "priority": 1}) is False
        assert await store.upsert_row("tasks", "task_id", "t-1", {"title": "Ship", "priority": 2}) is True
        assert await store.upsert_row("tasks", "task_id", "t-1", {"title": None, "priority": 2}) is True
        assert await store.upsert_row("tasks", "task_id", "t-1", {"title": None, "priority": 2}) is False
        assert await store.upsert_row("tasks", "task_id", "t-2", {}) is True
        assert await store.upsert_row("tasks", "task_id", "t-2", {}) is False
        counters = await store.read_counters()
        assert counters is not None and (counters.misses, counters.hits) == (4, 3)


async def test_transition_applies_once(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="tasks-sync") as store:
        await store.upsert_row("tasks", "task_id", "t-1", {"status": "pending"})
        assert await store.transition("tasks", "task_id", "t-1", "status", "pending", "sent") is True
        assert await store.transition("tasks", "task_id", "t-1", "status", "pending", "sent") is False
        assert await store.transition("tasks", "task_id", "t-1", "status", "sent", "acked") is True
        assert await store.transition("tasks", "task_id", "absent", "status", "pending", "sent") is False
        counters = await store.read_counters()
        assert counters is not None and (counters.misses, counters.hits) == (3, 2)


@pytest.mark.parametrize(
    ("table", "key_column", "column"),
    [
        ("tasks; DROP TABLE tasks", "task_id", "title"),
        ("tasks", 'task_id" = 1 --', "title"),
        ("tasks", "task_id", "title) VALUES (1); --"),
    ],
)
async def test_identifiers_cannot_carry_sql(sql_store_url: str, table: str, key_column: str, column: str) -> None:
    async with open_store(sql_store_url, group="tasks-sync") as store:
        with pytest.raises(DedupStoreError, match="invalid SQL") as caught:
            await store.upsert_row(table, key_column, "t-1", {column: "x"})
        assert "\n" not in str(caught.value)
        with pytest.raises(DedupStoreError, match="invalid SQL"):
            await store.transition(table, key_column, "t-1", column, "a", "b")
        # the table is still there and untouched
        assert await store.upsert_row("tasks", "task_id", "t-9", {"title": "still here"}) is True


async def test_missing_table_is_one_line_user_error(sql_store_url: str) -> None:
    async with open_store(sql_store_url, group="tasks-sync") as store:
        with pytest.raises(DedupStoreError) as caught:
            await store.upsert_row("no_such_table", "id", 1, {"v": 1})
        assert "no_such_table" in str(caught.value) and "\n" not in str(caught.value)
        await store.claim("k", lease_seconds=1)  # flushes the locally counted error
        counters = await store.read_counters()
        assert counters is not None and counters.errors == 1


async def test_patterns_2_and_3_need_a_sql_store(redis_url: str) -> None:
    async with open_store(redis_url, group="g") as store:
        with pytest.raises(DedupStoreError, match="SQL store"):
            await store.upsert_row("tasks", "task_id", "t-1", {"title": "x"})
        with pytest.raises(DedupStoreError, match="SQL store"):
            await store.transition("tasks", "task_id", "t-1", "status", "a", "b")
