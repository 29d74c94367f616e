"""The PostgreSQL idempotency store: one row per key, every decision one SQL statement.

Why one statement: a claim is ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE the
lease expired … RETURNING`` — PostgreSQL makes insert-or-retake atomic per row,
even between concurrent transactions, so two consumers can never both own a key.
The counters upsert rides in the same statement as a data-modifying CTE, so the
counters commit exactly when the decision does. ``(xmax = 0)`` in ``RETURNING``
tells an insert (first delivery) from an update (retake).

A loser of a race is always told it does not own the key; whether it is told
``DUPLICATE`` or ``IN_PROGRESS`` comes from the statement's snapshot, so in a
tight race it may say ``IN_PROGRESS`` for a key completed a moment earlier. Both
mean "do not run the effect"; the redelivery will then see ``DUPLICATE``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from deliverytui.dedup.identifiers import identifier_parts
from deliverytui.dedup.store import (
    COUNTERS_TABLE,
    DEFAULT_RETENTION_SECONDS,
    BatchTransition,
    DedupStore,
)
from deliverytui.dedup.url import Backend, StoreUrl
from deliverytui.errors import one_line
from deliverytui.model.dedup import ClaimOutcome, DedupCounters, KeyCount

DEFAULT_TABLE = "deliverytui_dedup"
EXACT_COUNT_CAP = 100_000
"""Up to this many keys are counted exactly; beyond, the planner's row estimate is used."""

_CODES = {
    0: ClaimOutcome.FIRST,
    1: ClaimOutcome.DUPLICATE,
    2: ClaimOutcome.IN_PROGRESS,
    3: ClaimOutcome.RETAKEN,
    4: ClaimOutcome.FIRST,  # the same token claiming again (a retried call): owned, not counted
}

# Adds one row of deltas (selected by {source}) to the group's counters.
_BUMP = """
INSERT INTO {counters} AS c (group_name, hits, misses, retakes, in_progress, errors, updated_at)
{source}
ON CONFLICT (group_name) DO UPDATE SET
    hits = c.hits + excluded.hits,
    misses = c.misses + excluded.misses,
    retakes = c.retakes + excluded.retakes,
    in_progress = c.in_progress + excluded.in_progress,
    errors = c.errors + excluded.errors,
    updated_at = excluded.updated_at
"""

# The prune index is BRIN, not B-tree: it costs next to nothing on every claim (the hot
# path) and still lets a prune skip the table's recent blocks, since rows are mostly
# written in time order.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    key text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('in_progress', 'done')),
    owner text,
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {index} ON {table} USING brin (updated_at);
CREATE TABLE IF NOT EXISTS {counters} (
    group_name text PRIMARY KEY,
    hits bigint NOT NULL DEFAULT 0,
    misses bigint NOT NULL DEFAULT 0,
    retakes bigint NOT NULL DEFAULT 0,
    in_progress bigint NOT NULL DEFAULT 0,
    errors bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""

# One statement, so the decisions and the counters commit together. In the common case —
# every key a first delivery — it costs little more than the insert itself: only the
# keys that were *not* freshly inserted are looked at again (``rest``, behind a one-time
# filter that skips it entirely when every key was inserted), and only those come
# back, with their codes, after one row that carries the lease deadline. So a batch of
# first deliveries returns one row, not one per key. ``(d.xmax = 0)`` tells an insert
# from an update (a retake or the same token again); the prior state of the other keys
# comes from the statement's snapshot, i.e. as they were before this statement.
_CLAIM = """
WITH claimed AS (
    INSERT INTO {table} AS d (key, state, owner, lease_until, created_at, updated_at)
    SELECT k, 'in_progress', %(token)s, now() + make_interval(secs => %(lease)s), now(), now()
    FROM unnest(%(keys)b::text[]) AS k
    ON CONFLICT (key) DO UPDATE
        SET owner = excluded.owner, lease_until = excluded.lease_until, updated_at = excluded.updated_at
        WHERE d.state = 'in_progress' AND (d.lease_until <= now() OR d.owner = excluded.owner)
    RETURNING d.key, (d.xmax = 0) AS inserted
), firsts AS (
    SELECT count(*) AS n FROM claimed WHERE inserted
), rest AS (
    SELECT k.k AS key,
           CASE WHEN c.key IS NOT NULL THEN CASE WHEN p.owner = %(token)s THEN 4 ELSE 3 END
                WHEN p.state = 'done' THEN 1
                ELSE 2
           END AS code
    FROM unnest(%(keys)b::text[]) AS k
    LEFT JOIN claimed AS c ON c.key = k.k
    LEFT JOIN {table} AS p ON p.key = k.k
    WHERE (SELECT n FROM firsts) < %(n)s AND (c.key IS NULL OR NOT c.inserted)
), bumped AS (
    {bump}
)
SELECT NULL::text, (SELECT n FROM firsts)::int, extract(epoch FROM now() + make_interval(secs => %(lease)s))::float8
UNION ALL
SELECT key, code, NULL FROM rest
"""

_CLAIM_DELTAS = """
SELECT %(group)s,
       (SELECT count(*) FROM rest WHERE code = 1),
       (SELECT n FROM firsts),
       (SELECT count(*) FROM rest WHERE code = 3),
       (SELECT count(*) FROM rest WHERE code = 2),
       %(errors)s::bigint,
       now()
"""

# Deltas for a write whose effect is in CTE ``w``: no row = hit, a row = miss. Positional
# placeholders (group, errors), always the last two parameters of the statement.
_WRITE_DELTAS = """
SELECT %s, CASE WHEN EXISTS (SELECT 1 FROM w) THEN 0 ELSE 1 END,
       CASE WHEN EXISTS (SELECT 1 FROM w) THEN 1 ELSE 0 END, 0, 0, %s::bigint, now()
"""

# Deltas for a batch write whose changed rows are in CTE ``w``: each is a miss, the other decisions
# hits. Positional placeholders (group, decisions, errors), always the last three parameters.
_BATCH_DELTAS = """
SELECT %s, %s::bigint - (SELECT count(*) FROM w), (SELECT count(*) FROM w), 0, 0, %s::bigint, now()
"""

MAX_PARAMETERS = 60_000
"""Parameters per statement: the protocol allows 65,535; a multi-row upsert is cut into chunks under it."""

_MARK_IF_NEW = """
WITH w AS (
    INSERT INTO {table} (key, state, created_at, updated_at) VALUES (%s, 'done', now(), now())
    ON CONFLICT (key) DO NOTHING RETURNING 1
), bumped AS (
    {bump}
)
SELECT EXISTS (SELECT 1 FROM w)
"""


class PostgresDedupStore(DedupStore):
    """Dedup rows in ``deliverytui_dedup`` (configurable), counters in ``deliverytui_counters``."""

    backend = Backend.POSTGRESQL
    max_batch = 5000

    def __init__(
        self,
        url: str | StoreUrl,
        *,
        group: str,
        table: str = DEFAULT_TABLE,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        create_schema: bool = True,
        connect_timeout: float = 3.0,
        operation_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, group=group, retention_seconds=retention_seconds, create_schema=create_schema)
        parts = identifier_parts(table, what="table name", qualified=True)
        self.table = table
        self._table = sql.Identifier(*parts)
        self._counters = sql.Identifier(COUNTERS_TABLE)
        self._connect_timeout = max(2, round(connect_timeout))  # libpq's minimum is 2 s
        self._operation_timeout = operation_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._connect_lock = asyncio.Lock()
        self._schema_ready = False
        claim_bump = sql.SQL(_BUMP).format(counters=self._counters, source=sql.SQL(_CLAIM_DELTAS))
        self._write_bump = sql.SQL(_BUMP).format(counters=self._counters, source=sql.SQL(_WRITE_DELTAS))
        self._batch_bump = sql.SQL(_BUMP).format(counters=self._counters, source=sql.SQL(_BATCH_DELTAS))
        self._claim_sql = sql.SQL(_CLAIM).format(table=self._table, bump=claim_bump)
        self._mark_sql = sql.SQL(_MARK_IF_NEW).format(table=self._table, bump=self._write_bump)
        self._schema_sql = sql.SQL(_SCHEMA).format(
            table=self._table, counters=self._counters, index=sql.Identifier(f"{parts[-1]}_updated_at_brin")
        )

    # -- connection -----------------------------------------------------------------------

    async def close(self) -> None:
        await self._drop_connection()

    async def _connect(self) -> None:
        await self._connection()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        async with self._connect_lock:
            if self._conn is None or self._conn.closed:
                conn = await psycopg.AsyncConnection.connect(
                    self.url.raw, autocommit=True, connect_timeout=self._connect_timeout
                )
                if self.create_schema and not self._schema_ready:
                    # Two consumers starting together would race on CREATE TABLE IF NOT
                    # EXISTS (a duplicate pg_type error), so serialise on an advisory lock.
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('deliverytui.dedup.schema'))")
                        await conn.execute(self._schema_sql)
                    self._schema_ready = True
                self._conn = conn
        assert self._conn is not None
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        if isinstance(exc, TimeoutError):
            return f"no answer within {self._operation_timeout:g} s"
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError)):
            return one_line(exc, first_line=True)
        return None

    async def _execute(self, query: sql.Composable | str, params: Any = None) -> psycopg.AsyncCursor[Any]:
        """Run one statement within the operation timeout (a hung server counts as down)."""
        async with asyncio.timeout(self._operation_timeout):
            conn = await self._connection()
            cursor = conn.cursor()
            await cursor.execute(query, params)
            return cursor

    # -- pattern 1 -----------------------------------------------------------------------------

    async def _claim_unique(
        self, keys: list[str], lease_seconds: float, token: str, errors: int
    ) -> list[tuple[ClaimOutcome, float | None]]:
        lease = float(lease_seconds)
        cursor = await self._execute(
            self._claim_sql,
            {"keys": keys, "token": token, "lease": lease, "n": len(keys), "group": self.group, "errors": errors},
        )
        deadline: float | None = None
        inserted = -1
        decided: dict[str, tuple[ClaimOutcome, float | None]] = {}
        for key, code, expires in await cursor.fetchall():
            if key is None:  # the one row that carries the deadline and how many keys were inserted
                inserted, deadline = code, expires
            else:
                decided[key] = (_CODES[code], None)
        if inserted + len(decided) != len(keys):
            raise RuntimeError(f"a claim of {len(keys)} keys decided {inserted + len(decided)}")
        first = (ClaimOutcome.FIRST, deadline)
        if not decided:  # the common case: every key a first delivery
            return [first] * len(keys)
        return [
            (outcome, deadline) if outcome.owned else (outcome, None)
            for outcome, _ in (decided.get(key, first) for key in keys)
        ]

    async def _complete(self, keys: list[str], token: str) -> int:
        # The owner stays on a done row, so a retried complete (whose first try committed
        # but whose reply was lost) still counts the key as done by this token. The
        # second SELECT sees the statement's snapshot, so rows done just now are not
        # counted twice.
        cursor = await self._execute(
            sql.SQL(
                "WITH u AS (UPDATE {table} SET state = 'done', lease_until = NULL, updated_at = now() "
                "WHERE key = ANY(%(keys)b::text[]) AND state = 'in_progress' AND owner = %(token)s RETURNING 1) "
                "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM {table} "
                "WHERE key = ANY(%(keys)b::text[]) AND state = 'done' AND owner = %(token)s)"
            ).format(table=self._table),
            {"keys": keys, "token": token},
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _release(self, key: str, token: str) -> bool:
        cursor = await self._execute(
            sql.SQL("DELETE FROM {table} WHERE key = %s AND state = 'in_progress' AND owner = %s").format(
                table=self._table
            ),
            (key, token),
        )
        return cursor.rowcount == 1

    async def _mark_if_new(self, key: str, errors: int) -> bool:
        cursor = await self._execute(self._mark_sql, (key, self.group, errors))
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def _prune(self, older_than_seconds: float) -> int:
        cursor = await self._execute(
            sql.SQL(
                "DELETE FROM {table} WHERE (state = 'done' AND updated_at < now() - make_interval(secs => %(age)s)) "
                "OR (state = 'in_progress' AND lease_until < now() - make_interval(secs => %(age)s))"
            ).format(table=self._table),
            {"age": float(older_than_seconds)},
        )
        return cursor.rowcount

    # -- patterns 2 and 3 ------------------------------------------------------------------------

    async def _upsert_rows(
        self, table: str, key_column: str, columns: tuple[str, ...], keys: list[Any], values: list[tuple[Any, ...]],
        errors: int,
    ) -> set[Any]:
        """One ``INSERT … VALUES (…), (…) … ON CONFLICT … RETURNING key`` per chunk, counted in the same statement."""
        if key_column in columns:
            raise self._store_error(f"values for {table} must not repeat the key column {key_column!r}")
        key_id = sql.Identifier(*identifier_parts(key_column, what="column name"))
        names = [sql.Identifier(*identifier_parts(name, what="column name")) for name in columns]
        if names:
            on_conflict = sql.SQL("DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})").format(
                sets=sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=c) for c in names),
                old=sql.SQL(", ").join(sql.SQL("t.{c}").format(c=c) for c in names),
                new=sql.SQL(", ").join(sql.SQL("excluded.{c}").format(c=c) for c in names),
            )
        else:
            on_conflict = sql.SQL("DO NOTHING")
        one_row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * (len(names) + 1)))
        per_chunk = max(1, min(self.max_batch, MAX_PARAMETERS // (len(names) + 1)))
        changed: set[Any] = set()
        for start in range(0, len(keys), per_chunk):
            chunk = range(start, min(start + per_chunk, len(keys)))
            query = sql.SQL(
                "WITH w AS (INSERT INTO {target} AS t ({cols}) VALUES {rows} "
                "ON CONFLICT ({key}) {on_conflict} RETURNING t.{key}), bumped AS ({bump}) SELECT * FROM w"
            ).format(
                target=sql.Identifier(*identifier_parts(table, what="table name", qualified=True)),
                cols=sql.SQL(", ").join([key_id, *names]),
                rows=sql.SQL(", ").join([one_row] * len(chunk)),
                key=key_id,
                on_conflict=on_conflict,
                bump=self._batch_bump,
            )
            params = [item for i in chunk for item in (keys[i], *values[i])]
            changed.update(await self._batch_write(query, [*params, self.group, len(chunk), errors], table))
            errors = 0  # counted with the first chunk
        return changed

    async def _transition_many(self, move: BatchTransition, decisions: int, errors: int) -> set[Any]:
        """One ``UPDATE … WHERE key = ANY(keys) AND state = from … RETURNING key``, counted in the same statement."""
        query = sql.SQL(
            "WITH w AS (UPDATE {target} SET {state} = %s WHERE {key} = ANY(%s) AND {state} = %s RETURNING {key}), "
            "bumped AS ({bump}) SELECT * FROM w"
        ).format(
            target=sql.Identifier(*identifier_parts(move.table, what="table name", qualified=True)),
            state=sql.Identifier(*identifier_parts(move.state_column, what="column name")),
            key=sql.Identifier(*identifier_parts(move.key_column, what="column name")),
            bump=self._batch_bump,
        )
        params = [move.to_state, list(move.keys), move.from_state, self.group, decisions, errors]
        return await self._batch_write(query, params, move.table)

    async def _batch_write(self, query: sql.Composable, params: Sequence[Any], table: str) -> set[Any]:
        """The keys a batch write returned (the rows it changed)."""
        try:
            cursor = await self._execute(query, params)
        except (psycopg.ProgrammingError, psycopg.DataError, psycopg.IntegrityError) as exc:
            raise self._store_error(f"write to {table} failed: {one_line(exc, first_line=True)}") from exc
        return {key for (key,) in await cursor.fetchall()}

    # -- observation ----------------------------------------------------------------------------

    async def _read_counters(self, group: str) -> DedupCounters | None:
        try:
            cursor = await self._execute(
                sql.SQL(
                    "SELECT hits, misses, retakes, in_progress, errors, updated_at FROM {counters} "
                    "WHERE group_name = %s"
                ).format(counters=self._counters),
                (group,),
            )
        except psycopg.errors.UndefinedTable:
            return None
        row = await cursor.fetchone()
        if row is None:
            return None
        hits, misses, retakes, in_progress, errors, updated_at = row
        return DedupCounters(
            group=group,
            hits=hits,
            misses=misses,
            retakes=retakes,
            in_progress=in_progress,
            errors=errors,
            updated_at=updated_at,
        )

    async def _list_counter_groups(self, limit: int) -> list[str]:
        try:
            cursor = await self._execute(
                sql.SQL("SELECT group_name FROM {counters} ORDER BY group_name LIMIT %s").format(
                    counters=self._counters
                ),
                (limit,),
            )
        except psycopg.errors.UndefinedTable:
            return []
        return [name for (name,) in await cursor.fetchall()]

    async def _keys_held(self) -> KeyCount:
        try:
            cursor = await self._execute(
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %s) AS bounded").format(
                    table=self._table
                ),
                (EXACT_COUNT_CAP + 1,),
            )
        except psycopg.errors.UndefinedTable:
            return KeyCount(count=0, exact=True)
        row = await cursor.fetchone()
        counted = int(row[0]) if row else 0
        if counted <= EXACT_COUNT_CAP:
            return KeyCount(count=counted, exact=True)
        conn = await self._connection()
        cursor = await self._execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (self._table.as_string(conn),)
        )
        row = await cursor.fetchone()
        estimate = int(row[0]) if row and row[0] is not None else -1
        return KeyCount(count=max(estimate, counted), exact=False)
