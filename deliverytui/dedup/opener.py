"""Open the right store for a URL: the one entry point consumers and the CLI use."""

from __future__ import annotations

from deliverytui.dedup.postgres_store import DEFAULT_TABLE, PostgresDedupStore
from deliverytui.dedup.redis_store import DEFAULT_PREFIX, RedisDedupStore
from deliverytui.dedup.sqlite_store import SqliteDedupStore
from deliverytui.dedup.store import DEFAULT_RETENTION_SECONDS, DedupStore
from deliverytui.dedup.url import Backend, parse_store_url


def open_store(
    url: str,
    *,
    group: str,
    prefix: str = DEFAULT_PREFIX,
    table: str = DEFAULT_TABLE,
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    create_schema: bool = True,
) -> DedupStore:
    """A store for ``url`` whose counters belong to consumer group ``group``.

    Nothing is contacted yet (so a consumer can start while the store is down);
    use ``async with open_store(...) as store`` or ``await store.connect()`` to
    fail fast on a wrong URL. ``prefix`` applies to Redis keys, ``table`` to the
    SQL stores. ``create_schema=False`` is for observers such as the TUI, which
    must not create tables in a store they only read.
    Raises :class:`StoreUrlError` (one line) for a malformed or unsupported URL.
    """
    parsed = parse_store_url(url)
    if parsed.backend is Backend.REDIS:
        return RedisDedupStore(
            parsed, group=group, prefix=prefix, retention_seconds=retention_seconds, create_schema=create_schema
        )
    if parsed.backend is Backend.POSTGRESQL:
        return PostgresDedupStore(
            parsed, group=group, table=table, retention_seconds=retention_seconds, create_schema=create_schema
        )
    return SqliteDedupStore(
        parsed, group=group, table=table, retention_seconds=retention_seconds, create_schema=create_schema
    )
