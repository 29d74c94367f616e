"""Idempotency stores (Redis, PostgreSQL, SQLite) behind one small asyncio interface.

The book chapter's three patterns, done correctly:

1. a dedup key — :meth:`DedupStore.claim` with a lease, then
   :meth:`DedupStore.complete` (nothing lost on a crash, nothing done twice), or
   the chapter's one-step :meth:`DedupStore.mark_if_new` with its documented
   trade-off;
2. an upsert on a natural key — :meth:`DedupStore.upsert_row` (SQL stores);
3. a conditional state transition — :meth:`DedupStore.transition` (SQL stores).

Each also decides a whole batch in one round trip (``claim_many``/``complete_many``,
``upsert_rows``, ``transition_many``), every event as the single call would decide it.

Every decision is counted per consumer group inside the store, so the TUI reads
live rates with :func:`read_dedup_panel`. Open a store with :func:`open_store`.
This package never imports Textual.
"""

from deliverytui.dedup.errors import DedupStoreError, StoreUnavailableError, StoreUrlError
from deliverytui.dedup.observation import DedupPanelReader, read_dedup_panel, sample_foreign_keys
from deliverytui.dedup.opener import open_store
from deliverytui.dedup.postgres_store import PostgresDedupStore
from deliverytui.dedup.redis_store import RedisDedupStore
from deliverytui.dedup.retry import Backoff, with_store_retry
from deliverytui.dedup.sqlite_store import SqliteDedupStore
from deliverytui.dedup.store import DEFAULT_RETENTION_SECONDS, DedupStore, new_token
from deliverytui.dedup.url import Backend, redact_url

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "Backend",
    "Backoff",
    "DedupPanelReader",
    "DedupStore",
    "DedupStoreError",
    "PostgresDedupStore",
    "RedisDedupStore",
    "SqliteDedupStore",
    "StoreUnavailableError",
    "StoreUrlError",
    "new_token",
    "open_store",
    "read_dedup_panel",
    "redact_url",
    "sample_foreign_keys",
    "with_store_retry",
]
