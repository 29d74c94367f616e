"""A bounded, sampled look at a Redis key prefix — for stores deliverytui did not write.

A production Redis may hold hundreds of millions of keys, and the person running
deliverytui may not own it, so the sample has hard caps: at most ``max_calls``
``SCAN`` calls of ``COUNT count`` each, at most ``max_keys`` matching keys kept,
and at most ``ttl_probes`` ``PTTL`` lookups (one pipelined round trip). Never
``KEYS``.

The scan does not pass ``MATCH`` to the server: filtering the prefix on our side
tells us how many keys were *visited* as well as how many matched, and the ratio
times ``DBSIZE`` is the estimate (``SCAN`` walks hash buckets, which is close to a
uniform sample of the keyspace). If the whole keyspace was visited within the caps
the count is exact and ``complete`` is True.
"""

from __future__ import annotations

from typing import Any

from deliverytui.model.dedup import DedupSample, TtlBucket

DEFAULT_SCAN_COUNT = 500
DEFAULT_MAX_CALLS = 20
DEFAULT_MAX_KEYS = 2000
DEFAULT_TTL_PROBES = 200

_TTL_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 min", 60.0),
    ("< 1 h", 3600.0),
    ("< 1 day", 86400.0),
    ("< 7 days", 7 * 86400.0),
)


async def sample_prefix(
    client: Any,
    prefix: str,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    max_calls: int = DEFAULT_MAX_CALLS,
    count: int = DEFAULT_SCAN_COUNT,
    ttl_probes: int = DEFAULT_TTL_PROBES,
) -> DedupSample:
    """Sample ``prefix*`` on an open ``redis.asyncio`` client (bytes responses) within the caps."""
    if max_calls < 1 or max_keys < 1 or count < 1 or ttl_probes < 0:
        raise ValueError("sampling caps must be positive")
    wanted = prefix.encode()
    cursor: int = 0
    calls = 0
    visited = 0
    matched: list[bytes] = []
    complete = False
    while calls < max_calls and len(matched) < max_keys:
        cursor, batch = await client.scan(cursor=cursor, count=count)
        calls += 1
        full = False
        for key in batch:
            visited += 1
            raw = key if isinstance(key, bytes) else str(key).encode()
            if raw.startswith(wanted):
                matched.append(raw)
                if len(matched) >= max_keys:
                    # Stop counting visits here, so the matched/visited ratio is not diluted.
                    full = True
                    break
        if int(cursor) == 0 and not full:
            complete = True
            break
    db_size = int(await client.dbsize())
    if complete:
        estimated_keys = len(matched)
    else:
        ratio = len(matched) / visited if visited else 0.0
        estimated_keys = round(db_size * ratio)
    buckets = await _ttl_buckets(client, matched[:ttl_probes])
    return DedupSample(
        prefix=prefix,
        matched_keys=len(matched),
        keys_visited=visited,
        scan_calls=calls,
        db_size=db_size,
        estimated_keys=estimated_keys,
        complete=complete,
        ttl_buckets=buckets,
        estimated=True,
    )


async def _ttl_buckets(client: Any, keys: list[bytes]) -> tuple[TtlBucket, ...]:
    counts = [0] * (len(_TTL_BUCKETS) + 2)  # the fixed buckets, then ">= 7 days", then "no TTL"
    if keys:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(key)
        for pttl in await pipe.execute():
            pttl = int(pttl)
            if pttl == -2:  # expired between SCAN and PTTL
                continue
            if pttl == -1:
                counts[-1] += 1
                continue
            seconds = pttl / 1000
            index = next((i for i, (_, upper) in enumerate(_TTL_BUCKETS) if seconds < upper), len(_TTL_BUCKETS))
            counts[index] += 1
    buckets = [TtlBucket(label, upper, counts[i]) for i, (label, upper) in enumerate(_TTL_BUCKETS)]
    buckets.append(TtlBucket(">= 7 days", float("inf"), counts[len(_TTL_BUCKETS)]))
    buckets.append(TtlBucket("no TTL", None, counts[-1]))
    return tuple(buckets)
