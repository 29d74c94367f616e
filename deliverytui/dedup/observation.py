"""Observing a store from outside: the TUI's dedup panel, and samples of foreign keys.

If deliverytui counters exist for the group, they are the truth and the panel
shows them. Otherwise (a store written by other code, e.g. the chapter's
``processed:{event_id}`` keys) there are no counts of hits or misses to read, so
for Redis the collector falls back to a bounded sampled ``SCAN`` of the key prefix
and marks everything as estimated; the screen must say so.

The collector opens stores with ``create_schema=False``: looking must not write.
"""

from __future__ import annotations

from typing import Any

from deliverytui.dedup.errors import StoreUrlError
from deliverytui.dedup.opener import open_store
from deliverytui.dedup.redis_store import DEFAULT_PREFIX, RedisDedupStore
from deliverytui.dedup.sampling import (
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_KEYS,
    DEFAULT_SCAN_COUNT,
    DEFAULT_TTL_PROBES,
)
from deliverytui.dedup.sqlite_store import DEFAULT_TABLE
from deliverytui.dedup.store import DedupStore
from deliverytui.dedup.url import Backend, parse_store_url, redact_url
from deliverytui.model.dedup import DedupPanelData, DedupSample


class DedupPanelReader:
    """Reads :class:`DedupPanelData` repeatedly over one connection (the TUI polls it).

    Each read costs one counters lookup and, only when counters are absent, one
    capped sample. Call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str,
        group: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        table: str = DEFAULT_TABLE,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_calls: int = DEFAULT_MAX_CALLS,
        scan_count: int = DEFAULT_SCAN_COUNT,
    ) -> None:
        self.group = group
        self.prefix = prefix
        self._caps = {"max_keys": max_keys, "max_calls": max_calls, "scan_count": scan_count}
        self._store: DedupStore = open_store(url, group=group, prefix=prefix, table=table, create_schema=False)

    async def read(self) -> DedupPanelData:
        """One snapshot; raises :class:`StoreUnavailableError` (one line) when the store is down."""
        store = self._store
        counters = await store.read_counters(self.group)
        known = await store.list_counter_groups(limit=100)

        def panel(**figures: Any) -> DedupPanelData:
            return DedupPanelData(
                store=store.display_url, backend=store.backend.value, group=self.group, known_groups=known, **figures
            )

        if counters is not None:
            return panel(
                counters=counters,
                keys=await store.keys_held(),
                sample=None,
                estimated=False,
                note=f"deliverytui counters for group {self.group}",
            )
        sample: DedupSample | None = None
        if isinstance(store, RedisDedupStore):
            sample = await store.sample(self.prefix, **self._caps)
            keys = None
            note = (
                f"no deliverytui counters for group {self.group}: figures are estimates from a sampled "
                f"SCAN of {self.prefix}* ({sample.scan_calls} calls, {sample.keys_visited} keys visited)"
            )
        else:
            keys = await store.keys_held()
            note = (
                f"no deliverytui counters for group {self.group}: only the number of keys in "
                f"{getattr(store, 'table', 'the table')} is known; hit rates are not available"
            )
        return panel(counters=None, keys=keys, sample=sample, estimated=True, note=note)

    async def close(self) -> None:
        await self._store.close()


async def read_dedup_panel(
    url: str, group: str, prefix: str = DEFAULT_PREFIX, *, table: str = DEFAULT_TABLE
) -> DedupPanelData:
    """One-shot :class:`DedupPanelData` for ``group`` (opens and closes a connection)."""
    reader = DedupPanelReader(url, group, prefix=prefix, table=table)
    try:
        return await reader.read()
    finally:
        await reader.close()


async def sample_foreign_keys(
    url: str,
    prefix: str = DEFAULT_PREFIX,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    max_calls: int = DEFAULT_MAX_CALLS,
    scan_count: int = DEFAULT_SCAN_COUNT,
    ttl_probes: int = DEFAULT_TTL_PROBES,
) -> DedupSample:
    """A bounded sampled ``SCAN`` of ``prefix*`` on the Redis at ``url`` (see ``sampling``)."""
    if parse_store_url(url).backend is not Backend.REDIS:
        raise StoreUrlError(f"sampling keys needs a redis:// URL, not {redact_url(url)}")
    store = open_store(url, group="deliverytui-sampler", prefix=prefix, create_schema=False)
    assert isinstance(store, RedisDedupStore)
    try:
        return await store.sample(
            prefix, max_keys=max_keys, max_calls=max_calls, scan_count=scan_count, ttl_probes=ttl_probes
        )
    finally:
        await store.close()
