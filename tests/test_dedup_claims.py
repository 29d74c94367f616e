"""Claim / complete / release / retake and the chapter's mark_if_new, on each real backend."""

from __future__ import annotations

import asyncio

import pytest

from deliverytui.dedup import DedupStoreError, open_store
from deliverytui.model.dedup import ClaimOutcome

LEASE_S = 1.0


async def test_first_then_in_progress_then_duplicate_after_complete(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        first = await store.claim("event-1", lease_seconds=30)
        busy = await store.claim("event-1", lease_seconds=30)
        assert first.outcome is ClaimOutcome.FIRST and first.owned
        assert first.lease_expires_at is not None
        assert busy.outcome is ClaimOutcome.IN_PROGRESS and not busy.owned
        assert busy.lease_expires_at is None

        assert await store.complete("event-1", busy.token) is False  # not the owner
        assert await store.complete("event-1", first.token) is True
        again = await store.claim("event-1", lease_seconds=30)
        assert again.outcome is ClaimOutcome.DUPLICATE
        assert await store.complete("event-1", first.token) is True  # a retried complete is idempotent
        assert await store.complete("event-1", busy.token) is False

        counters = await store.read_counters()
        assert counters is not None
        assert (counters.misses, counters.in_progress, counters.hits, counters.retakes) == (1, 1, 1, 0)
        assert counters.updated_at is not None


async def test_expired_lease_is_retaken_and_the_old_owner_cannot_complete(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        crashed = await store.claim("event-1", lease_seconds=LEASE_S)
        assert crashed.outcome is ClaimOutcome.FIRST
        assert (await store.claim("event-1", lease_seconds=LEASE_S)).outcome is ClaimOutcome.IN_PROGRESS

        await asyncio.sleep(LEASE_S + 0.3)  # the consumer "died": let its lease run out
        retaken = await store.claim("event-1", lease_seconds=30)
        assert retaken.outcome is ClaimOutcome.RETAKEN and retaken.owned

        assert await store.complete("event-1", crashed.token) is False
        assert await store.complete("event-1", retaken.token) is True
        assert (await store.claim("event-1", lease_seconds=30)).outcome is ClaimOutcome.DUPLICATE
        counters = await store.read_counters()
        assert counters is not None
        assert (counters.misses, counters.retakes, counters.in_progress, counters.hits) == (1, 1, 1, 1)


async def test_release_lets_the_next_delivery_claim_again(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        failed = await store.claim("event-1", lease_seconds=30)
        other = await store.claim("event-1", lease_seconds=30)
        assert await store.release("event-1", other.token) is False  # only the owner may release
        assert await store.release("event-1", failed.token) is True
        retry = await store.claim("event-1", lease_seconds=30)
        assert retry.outcome is ClaimOutcome.FIRST


async def test_retrying_with_the_same_token_still_owns_the_key(dedup_store_url: str) -> None:
    """A claim retried after a lost reply must not lock its own caller out."""
    async with open_store(dedup_store_url, group="orders") as store:
        first = await store.claim("event-1", lease_seconds=30)
        retried = await store.claim("event-1", lease_seconds=30, token=first.token)
        assert retried.owned
        counters = await store.read_counters()
        assert counters is not None and counters.misses == 1 and counters.decisions == 1


async def test_claim_many_decides_each_key_once(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        done = await store.claim("done", lease_seconds=30)
        await store.complete("done", done.token)
        await store.claim("held", lease_seconds=30)

        claims = await store.claim_many(["new-1", "done", "held", "new-2", "new-1"], lease_seconds=30)
        assert [c.outcome for c in claims] == [
            ClaimOutcome.FIRST,
            ClaimOutcome.DUPLICATE,
            ClaimOutcome.IN_PROGRESS,
            ClaimOutcome.FIRST,
            ClaimOutcome.IN_PROGRESS,  # repeated in the batch: the batch itself holds it
        ]
        assert len({c.token for c in claims}) == 1
        assert await store.complete_many(["new-1", "new-2", "held"], claims[0].token) == 2


async def test_claim_many_splits_large_batches_atomically(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        keys = [f"k{i}" for i in range(store.max_batch + 7)]
        claims = await store.claim_many(keys, lease_seconds=30)
        assert all(c.outcome is ClaimOutcome.FIRST for c in claims)
        assert await store.complete_many(keys, claims[0].token) == len(keys)
        again = await store.claim_many(keys, lease_seconds=30)
        assert all(c.outcome is ClaimOutcome.DUPLICATE for c in again)
        counters = await store.read_counters()
        assert counters is not None and (counters.misses, counters.hits) == (len(keys), len(keys))
        assert (await store.keys_held()).count == len(keys)


async def test_mark_if_new_is_the_chapter_pattern_without_its_race(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="billing") as store:
        results = await asyncio.gather(*(store.mark_if_new("event-9") for _ in range(20)))
        assert results.count(True) == 1
        held = await store.claim("event-10", lease_seconds=30)
        assert held.owned
        assert await store.mark_if_new("event-10") is False  # a live lease is not new
        counters = await store.read_counters("billing")
        assert counters is not None and (counters.misses, counters.hits) == (2, 20)


async def test_counters_are_per_group_and_listed(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="a") as a, open_store(dedup_store_url, group="b") as b:
        await a.claim("x", lease_seconds=30)
        await b.claim("y", lease_seconds=30)
        await b.claim("y", lease_seconds=30)
        counters_a, counters_b = await a.read_counters("a"), await a.read_counters("b")
        assert counters_a is not None and counters_b is not None
        assert (counters_a.misses, counters_a.in_progress) == (1, 0)
        assert (counters_b.misses, counters_b.in_progress) == (1, 1)
        assert await a.read_counters("nobody") is None
        assert await b.list_counter_groups() == ("a", "b")


async def test_invalid_arguments_are_one_line_user_errors(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="orders") as store:
        with pytest.raises(DedupStoreError, match="lease must be positive"):
            await store.claim("k", lease_seconds=0)
        with pytest.raises(DedupStoreError, match="non-empty string"):
            await store.claim("", lease_seconds=1)
        with pytest.raises(DedupStoreError, match="owner token"):
            await store.complete("k", "bad token; DROP")
