"""Batch claims take every outcome in one atomic step, for any key text, on each real backend.

The batch paths are built for speed (Redis sends the keys as one JSON argument,
PostgreSQL returns only the keys that were not first deliveries, SQLite inserts
first and reads back only the rest), so these tests pin down that a single batch
mixing every outcome decides and counts exactly like single claims would.
"""

from __future__ import annotations

import asyncio

import pytest

from deliverytui.dedup import RedisDedupStore, SqliteDedupStore, open_store
from deliverytui.model.dedup import Claim, ClaimOutcome, make_claims

ODD_KEYS = ['q"uote\\', "comma,[1,2]", "é\u2028ü", "\U0001f600", " ", "x" * 300]
NUL_KEY = "a\x00b"  # PostgreSQL text cannot hold NUL (a DataError, as before); Redis and SQLite can


async def _mixed_batch(url: str, *, sqlite_without_returning: bool = False) -> None:
    odd = ODD_KEYS if url.startswith("postgresql") else [*ODD_KEYS, NUL_KEY]
    async with open_store(url, group="mixed") as store, open_store(url, group="other") as rival:
        for s in (store, rival):
            if sqlite_without_returning:
                assert isinstance(s, SqliteDedupStore)
                s._returning = False  # the path for SQLite older than 3.35
        done = await store.claim("done", lease_seconds=30)
        assert await store.complete("done", done.token)
        await rival.claim("busy", lease_seconds=60)
        await rival.claim("expired", lease_seconds=0.2)
        mine = await store.claim("mine", lease_seconds=30)
        await asyncio.sleep(0.4)

        keys = ["new-1", "done", "busy", "expired", "mine", "new-2", *odd, "new-1"]
        claims = await store.claim_many(keys, lease_seconds=30, token=mine.token)
        outcomes = {claim.key: claim.outcome for claim in claims[:-1]}
        assert outcomes == {
            "new-1": ClaimOutcome.FIRST,
            "done": ClaimOutcome.DUPLICATE,
            "busy": ClaimOutcome.IN_PROGRESS,
            "expired": ClaimOutcome.RETAKEN,
            "mine": ClaimOutcome.FIRST,  # the same token again: still ours
            "new-2": ClaimOutcome.FIRST,
            **{key: ClaimOutcome.FIRST for key in odd},
        }
        assert [claim.key for claim in claims] == keys
        assert claims[-1].outcome is ClaimOutcome.IN_PROGRESS  # repeated in the batch: decided once
        owned = [claim for claim in claims if claim.owned]
        assert {claim.lease_expires_at for claim in owned} == {owned[0].lease_expires_at}
        assert owned[0].lease_expires_at is not None
        assert all(claim.lease_expires_at is None for claim in claims if not claim.owned)

        counters = await store.read_counters()
        assert counters is not None
        # misses: done, mine (single claims) + new-1, new-2 and the odd keys; "mine" again is not counted.
        assert (counters.misses, counters.hits, counters.in_progress, counters.retakes) == (
            2 + 2 + len(odd),
            1,
            1,
            1,
        )

        # The odd keys are stored under exactly their own text.
        if isinstance(store, RedisDedupStore):
            for key in odd:
                assert await store.client.exists(("processed:" + key).encode()) == 1, repr(key)
        again = await rival.claim_many(odd, lease_seconds=30)
        assert [claim.outcome for claim in again] == [ClaimOutcome.IN_PROGRESS] * len(odd)
        assert await store.complete_many(odd, mine.token) == len(odd)
        assert await store.complete_many(odd, mine.token) == len(odd)  # idempotent
        after = await rival.claim_many(odd, lease_seconds=30)
        assert [claim.outcome for claim in after] == [ClaimOutcome.DUPLICATE] * len(odd)


async def test_one_batch_takes_every_outcome(dedup_store_url: str) -> None:
    await _mixed_batch(dedup_store_url)


async def test_sqlite_without_returning_takes_every_outcome(sqlite_url: str) -> None:
    await _mixed_batch(sqlite_url, sqlite_without_returning=True)


async def test_a_batch_of_first_deliveries_counts_each_once(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="firsts") as store:
        keys = [f"event-{i}" for i in range(2500)]
        claims = await store.claim_many(keys, lease_seconds=30)
        assert all(claim.outcome is ClaimOutcome.FIRST for claim in claims)
        counters = await store.read_counters()
        assert counters is not None and counters.misses == 2500 and counters.decisions == 2500


def test_make_claims_builds_the_same_frozen_claims() -> None:
    decisions = [(ClaimOutcome.FIRST, 12.5), (ClaimOutcome.DUPLICATE, None)]
    built = make_claims(["a", "b"], decisions, "tok")
    assert built == [
        Claim("a", ClaimOutcome.FIRST, "tok", 12.5),
        Claim("b", ClaimOutcome.DUPLICATE, "tok", None),
    ]
    with pytest.raises(AttributeError):
        built[0].key = "c"  # type: ignore[misc]
    with pytest.raises(ValueError):
        make_claims(["a"], [], "tok")
