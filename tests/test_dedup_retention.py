"""Retention: TTLs in Redis, prune in PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio

import pytest

from deliverytui.dedup import RedisDedupStore, open_store
from deliverytui.model.dedup import ClaimOutcome

RETENTION_S = 1.0


async def test_redis_forgets_completed_keys_after_the_retention(redis_url: str) -> None:
    async with open_store(redis_url, group="g", retention_seconds=RETENTION_S) as store:
        assert isinstance(store, RedisDedupStore)
        claim = await store.claim("event-1", lease_seconds=30)
        in_progress_ttl = await store.client.pttl("processed:event-1")
        assert (30 + RETENTION_S) * 1000 >= in_progress_ttl > 30 * 1000  # lease + retention
        await store.complete("event-1", claim.token)
        assert 0 < await store.client.pttl("processed:event-1") <= RETENTION_S * 1000
        assert await store.mark_if_new("event-2") is True
        assert await store.prune() == 0  # nothing to do: Redis expires keys itself

        await asyncio.sleep(RETENTION_S + 0.5)
        assert await store.client.exists("processed:event-1", "processed:event-2") == 0
        assert (await store.claim("event-1", lease_seconds=30)).outcome is ClaimOutcome.FIRST
        assert await store.mark_if_new("event-2") is True


async def test_redis_uses_the_configured_prefix_and_reads_foreign_done_values(redis_url: str) -> None:
    async with open_store(redis_url, group="g", prefix="svc-a:") as store:
        assert isinstance(store, RedisDedupStore)
        await store.client.set("svc-a:legacy", "1")  # written by the chapter's code
        assert (await store.claim("legacy", lease_seconds=5)).outcome is ClaimOutcome.DUPLICATE
        await store.claim("fresh", lease_seconds=5)
        assert await store.client.exists("svc-a:fresh") == 1
        assert await store.client.exists("processed:fresh") == 0


@pytest.fixture(params=["postgres", "sqlite"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue({"postgres": "postgres_url", "sqlite": "sqlite_url"}[request.param]))


async def test_prune_deletes_only_rows_older_than_the_retention(sql_url: str) -> None:
    async with open_store(sql_url, group="g", retention_seconds=RETENTION_S) as store:
        old = await store.claim("old-done", lease_seconds=30)
        await store.complete("old-done", old.token)
        await store.claim("abandoned", lease_seconds=0.1)  # a consumer died holding it
        live = await store.claim("live", lease_seconds=600)
        await store.mark_if_new("old-mark")

        await asyncio.sleep(RETENTION_S + 0.5)
        fresh = await store.claim("fresh-done", lease_seconds=30)
        await store.complete("fresh-done", fresh.token)

        assert await store.prune() == 3  # old-done, old-mark, abandoned
        assert (await store.keys_held()).count == 2
        assert (await store.claim("old-done", lease_seconds=30)).outcome is ClaimOutcome.FIRST
        assert (await store.claim("fresh-done", lease_seconds=30)).outcome is ClaimOutcome.DUPLICATE
        assert (await store.claim("live", lease_seconds=30)).outcome is ClaimOutcome.IN_PROGRESS
        assert live.owned
        assert await store.prune(older_than_seconds=3600) == 0
