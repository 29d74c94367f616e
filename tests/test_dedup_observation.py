"""Observing a store from outside: the TUI's panel data and bounded samples of foreign keys."""

from __future__ import annotations

import redis.asyncio as aioredis

from deliverytui.dedup import DedupPanelReader, open_store, read_dedup_panel, sample_foreign_keys

FOREIGN_KEYS = 20_000
OTHER_KEYS = 20_000
MAX_CALLS = 5
MAX_KEYS = 400
SCAN_COUNT = 300
TTL_PROBES = 150


async def _fill_foreign_redis(url: str) -> None:
    """What a service using the chapter's code leaves behind, plus unrelated keys."""
    client = aioredis.Redis.from_url(url)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(FOREIGN_KEYS):
            if i % 2:
                pipe.set(f"processed:{i}", "1", ex=3600)
            else:
                pipe.set(f"processed:{i}", "1")
        for i in range(OTHER_KEYS):
            pipe.set(f"session:{i}", "x")
        await pipe.execute()
    finally:
        await client.aclose()


async def _scan_calls(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_scan", {}).get("calls", 0))


async def test_sample_stays_within_its_caps_and_says_estimated(redis_url: str) -> None:
    await _fill_foreign_redis(redis_url)
    scans_before = await _scan_calls(redis_url)
    sample = await sample_foreign_keys(
        redis_url, "processed:", max_keys=MAX_KEYS, max_calls=MAX_CALLS, scan_count=SCAN_COUNT, ttl_probes=TTL_PROBES
    )
    server_side_scans = await _scan_calls(redis_url) - scans_before

    assert server_side_scans == sample.scan_calls <= MAX_CALLS  # the server agrees on the cost
    assert sample.matched_keys <= MAX_KEYS
    assert sample.estimated and not sample.complete
    assert sample.db_size == FOREIGN_KEYS + OTHER_KEYS
    # Half of the keyspace matches; a sample of this size lands well within +-50 %.
    assert FOREIGN_KEYS * 0.5 <= sample.estimated_keys <= FOREIGN_KEYS * 1.5
    by_label = {bucket.label: bucket.count for bucket in sample.ttl_buckets}
    assert sum(by_label.values()) == min(sample.matched_keys, TTL_PROBES)  # PTTL probes are capped too
    # Half the keys were written with a one-hour TTL, half without.
    assert by_label["no TTL"] > 0 and by_label["< 1 h"] > 0
    assert sum(by_label.values()) == by_label["no TTL"] + by_label["< 1 h"]


async def test_small_keyspace_is_counted_exactly(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.mset({f"processed:{i}": "1" for i in range(30)} | {"other": "x"})
    await client.aclose()
    sample = await sample_foreign_keys(redis_url)
    assert sample.complete and sample.estimated_keys == sample.matched_keys == 30


async def test_panel_falls_back_to_an_estimate_without_deliverytui_counters(redis_url: str) -> None:
    await _fill_foreign_redis(redis_url)
    panel = await read_dedup_panel(redis_url, "payments", "processed:")
    assert panel.estimated and panel.counters is None
    assert panel.sample is not None and panel.sample.prefix == "processed:"
    assert "estimate" in panel.note and "\n" not in panel.note
    assert panel.backend == "redis"


async def test_panel_shows_real_counters_when_deliverytui_wrote_them(dedup_store_url: str) -> None:
    async with open_store(dedup_store_url, group="payments") as store:
        claim = await store.claim("e1", lease_seconds=30)
        await store.complete("e1", claim.token)
        await store.claim("e1", lease_seconds=30)

    reader = DedupPanelReader(dedup_store_url, "payments")
    try:
        first = await reader.read()
        async with open_store(dedup_store_url, group="payments") as store:
            await store.claim("e2", lease_seconds=30)
        second = await reader.read()  # the same reader sees the writer's progress
    finally:
        await reader.close()
    assert not first.estimated and first.sample is None
    assert first.counters is not None and (first.counters.misses, first.counters.hits) == (1, 1)
    assert second.counters is not None and second.counters.misses == 2
    assert first.keys is not None and first.keys.count == 1
    assert first.known_groups == ("payments",)


async def test_panel_on_an_unwritten_sql_store_creates_nothing(dedup_store_url: str) -> None:
    panel = await read_dedup_panel(dedup_store_url, "nobody")
    assert panel.estimated and panel.counters is None and panel.known_groups == ()
    async with open_store(dedup_store_url, group="nobody", create_schema=False) as store:
        assert await store.read_counters() is None
        assert (await store.keys_held()).count == 0
