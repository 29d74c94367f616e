"""The SQLite idempotency store: the embedded default, one file shared by local consumers.

Why ``BEGIN IMMEDIATE``: SQLite has one writer at a time, and ``BEGIN IMMEDIATE``
takes the write lock *before* the first statement. Inside it, the claim's
statements (``INSERT OR IGNORE … RETURNING`` for new keys, a read of the keys that
already had a row, a conditional ``UPDATE`` for expired leases) cannot interleave
with another process's claim, so it is not the check-then-set race of the chapter:
the lock makes the whole batch one atomic step, counters included. The whole
transaction runs in one hand-off to aiosqlite's thread. Other processes wait on the lock (``busy_timeout``); if they
wait longer than that, they get :class:`StoreUnavailableError` and retry.

The file runs in WAL mode with ``synchronous=NORMAL``: a committed claim survives
a consumer crash (the case that matters here), though not necessarily a power cut.
Lease deadlines use this host's clock, which every process sharing the file shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiosqlite

from deliverytui.dedup.identifiers import sqlite_quoted
from deliverytui.dedup.sqlite_rows import RETURNING, transition_many_in, upsert_rows_in
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
_SELECT_CHUNK = 500  # keys per "WHERE key IN (...)", well under SQLite's variable limit

_UNAVAILABLE_MARKERS = ("locked", "busy", "unable to open", "disk i/o", "readonly database", "disk is full")

_T = TypeVar("_T")

_BUMP = f"""
INSERT INTO "{COUNTERS_TABLE}" (group_name, hits, misses, retakes, in_progress, errors, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (group_name) DO UPDATE SET
    hits = hits + excluded.hits,
    misses = misses + excluded.misses,
    retakes = retakes + excluded.retakes,
    in_progress = in_progress + excluded.in_progress,
    errors = errors + excluded.errors,
    updated_at = excluded.updated_at
"""


def _read_rows(conn: sqlite3.Connection, table: str, keys: list[str], into: dict[str, tuple[str, str | None, float | None]]) -> None:
    """The current (state, owner, lease_until) of those of ``keys`` that have a row."""
    for start in range(0, len(keys), _SELECT_CHUNK):
        chunk = keys[start : start + _SELECT_CHUNK]
        for key, state, owner, lease_until in conn.execute(
            f"SELECT key, state, owner, lease_until FROM {table} WHERE key IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            into[key] = (state, owner, lease_until)


def _write_every_row(conn: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]], otherwise: str) -> None:
    """Run ``statement`` for every row; each must change exactly one row. Under BEGIN IMMEDIATE
    nobody else can write, so a miss means ``otherwise`` happened, which must not be."""
    if conn.executemany(statement, rows).rowcount != len(rows):
        raise RuntimeError(f"{otherwise} inside a BEGIN IMMEDIATE transaction")


async def _worker_stopped(conn: aiosqlite.Connection, timeout: float = 5.0) -> None:
    """Wait, on the event loop, for the worker thread of a connection that failed to open.

    When opening the file fails (a missing directory, no permission) aiosqlite stops its
    worker thread but does not wait for it, and there is no connection to ``close()``. The
    thread still hands its last result to this event loop; if the loop is closed first (a
    short-lived ``asyncio.run``, the end of a test) that hand-off raises "Event loop is
    closed" in the thread. Waiting here, while the loop runs, closes that gap.
    """
    thread = getattr(conn, "_thread", None)
    deadline = time.monotonic() + timeout
    while thread is not None and thread.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)


async def _wal_mode(conn: aiosqlite.Connection, wait: float) -> None:
    """Switch the file to WAL, retrying for up to ``wait`` seconds while another process holds it.

    While another connection holds the write lock (RESERVED) on a file still in rollback mode, as a
    process creating the schema does, SQLite answers the switch "database is locked" at once, without
    calling the busy handler, so ``busy_timeout`` does not cover it.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.02)


class SqliteDedupStore(DedupStore):
    """Dedup rows in ``deliverytui_dedup`` (configurable), counters in ``deliverytui_counters``."""

    backend = Backend.SQLITE
    unavailable_hint = "check that the file's directory exists and is writable and no process holds it locked"
    max_batch = 5000

    def __init__(
        self,
        url: str | StoreUrl,
        *,
        group: str,
        table: str = DEFAULT_TABLE,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        create_schema: bool = True,
        busy_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, group=group, retention_seconds=retention_seconds, create_schema=create_schema)
        self.table = table
        self._table = sqlite_quoted(table, what="table name")
        self._index = sqlite_quoted(f"{table}_updated_at_idx", what="index name")
        self._path = self.url.sqlite_path or ":memory:"
        self._busy_timeout = busy_timeout
        self._conn: aiosqlite.Connection | None = None
        self._returning = RETURNING  # a claim inserts first and reads back only the keys that existed
        # One connection serves every task of this process: transactions must not interleave.
        self._lock = asyncio.Lock()

    # -- connection -----------------------------------------------------------------------

    async def close(self) -> None:
        await self._drop_connection()

    async def _connect(self) -> None:
        async with self._lock:
            await self._connection()

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            conn = aiosqlite.connect(self._path, isolation_level=None, timeout=self._busy_timeout)
            try:
                await conn
            except BaseException:
                await _worker_stopped(conn)
                raise
            try:
                if self._path != ":memory:":
                    await _wal_mode(conn, self._busy_timeout)
                    await conn.execute("PRAGMA synchronous=NORMAL")
                await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
                if self.create_schema:
                    await conn.executescript(
                        f"""
                        BEGIN IMMEDIATE;
                        CREATE TABLE IF NOT EXISTS {self._table} (
                            key TEXT PRIMARY KEY,
                            state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
                            owner TEXT,
                            lease_until REAL,
                            created_at REAL NOT NULL,
                            updated_at REAL NOT NULL
                        ) WITHOUT ROWID;
                        CREATE INDEX IF NOT EXISTS {self._index} ON {self._table} (updated_at);
                        CREATE TABLE IF NOT EXISTS "{COUNTERS_TABLE}" (
                            group_name TEXT PRIMARY KEY,
                            hits INTEGER NOT NULL DEFAULT 0,
                            misses INTEGER NOT NULL DEFAULT 0,
                            retakes INTEGER NOT NULL DEFAULT 0,
                            in_progress INTEGER NOT NULL DEFAULT 0,
                            errors INTEGER NOT NULL DEFAULT 0,
                            updated_at REAL NOT NULL
                        );
                        COMMIT;
                        """
                    )
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        if isinstance(exc, sqlite3.OperationalError) and any(
            marker in str(exc).lower() for marker in _UNAVAILABLE_MARKERS
        ):
            return one_line(exc, first_line=True)
        if isinstance(exc, OSError):
            return one_line(exc, first_line=True)
        return None

    @contextlib.asynccontextmanager
    async def _write_transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``: the write lock is held from the first read."""
        async with self._lock:
            conn = await self._connection()
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def _bump(
        self,
        conn: aiosqlite.Connection,
        now: float,
        *,
        hits: int = 0,
        misses: int = 0,
        retakes: int = 0,
        in_progress: int = 0,
        errors: int = 0,
    ) -> None:
        await conn.execute(_BUMP, (self.group, hits, misses, retakes, in_progress, errors, now))

    # -- pattern 1 -----------------------------------------------------------------------------

    async def _in_one_transaction(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``body`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` in *one* hand-off to the connection's thread.

        aiosqlite runs every statement on its own thread, and each ``await`` is a
        round trip to it (a queue put, a thread wake-up, an event-loop wake-up): a
        batch claim made of five statements spent more time in those hand-offs than
        in SQLite. ``Connection._execute`` is aiosqlite's own "run this function on
        the connection's thread" (every public method goes through it); ``body`` gets
        the plain ``sqlite3.Connection``. The lock and the transaction are as in
        :meth:`_write_transaction`: the write lock is held from the first read.
        """

        def transaction(conn: sqlite3.Connection) -> _T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        async with self._lock:
            conn = await self._connection()
            return await conn._execute(lambda: transaction(conn._conn))  # noqa: SLF001

    async def _claim_unique(
        self, keys: list[str], lease_seconds: float, token: str, errors: int
    ) -> list[tuple[ClaimOutcome, float | None]]:
        return await self._in_one_transaction(
            lambda conn: self._claim_in(conn, keys, lease_seconds, token, errors)
        )

    def _claim_in(
        self, conn: sqlite3.Connection, keys: list[str], lease_seconds: float, token: str, errors: int
    ) -> list[tuple[ClaimOutcome, float | None]]:
        """One batch claim, on the connection's thread, inside BEGIN IMMEDIATE.

        With ``RETURNING`` (SQLite 3.35+) the insert comes first: ``INSERT OR IGNORE
        … RETURNING key`` names the keys it created, and only the others — usually
        none — are read back to be decided. Without it, the current rows are read
        first and only the missing keys inserted. Either way the write lock is held
        throughout, so nothing can change between the read and the write.
        """
        now = time.time()
        deadline = now + lease_seconds
        prior: dict[str, tuple[str, str | None, float | None]] = {}
        if self._returning:
            inserted: set[str] = set()
            for start in range(0, len(keys), _SELECT_CHUNK):
                chunk = keys[start : start + _SELECT_CHUNK]
                inserted.update(
                    key
                    for (key,) in conn.execute(
                        f"INSERT OR IGNORE INTO {self._table} "
                        "(key, state, owner, lease_until, created_at, updated_at) "
                        "SELECT column1, 'in_progress', ?, ?, ?, ? "
                        f"FROM (VALUES {', '.join(['(?)'] * len(chunk))}) "
                        "RETURNING key",
                        (token, deadline, now, now, *chunk),
                    )
                )
            rest = [key for key in keys if key not in inserted] if len(inserted) != len(keys) else []
            _read_rows(conn, self._table, rest, prior)
            if len(prior) != len(rest):
                raise RuntimeError("a dedup row vanished inside a BEGIN IMMEDIATE transaction")
        else:
            _read_rows(conn, self._table, keys, prior)
            inserts = [(key, token, deadline, now, now) for key in keys if key not in prior]
            if inserts:
                _write_every_row(
                    conn,
                    f"INSERT OR IGNORE INTO {self._table} (key, state, owner, lease_until, created_at, updated_at) "
                    "VALUES (?, 'in_progress', ?, ?, ?, ?)",
                    inserts,
                    "a dedup row appeared",
                )
        first: tuple[ClaimOutcome, float | None] = (ClaimOutcome.FIRST, deadline)
        if not prior:  # the common case: every key is a first delivery
            conn.execute(_BUMP, (self.group, 0, len(keys), 0, 0, errors, now))
            return [first] * len(keys)
        results: list[tuple[ClaimOutcome, float | None]] = []
        takeovers: list[tuple[Any, ...]] = []
        hits = retakes = in_progress = 0
        for key in keys:
            row = prior.get(key)
            if row is None:
                results.append(first)
                continue
            state, owner, lease_until = row
            if state != "in_progress":
                hits += 1
                results.append((ClaimOutcome.DUPLICATE, None))
            elif owner == token:  # the same attempt retried: still ours, not counted again
                takeovers.append((token, deadline, now, key, now, token))
                results.append(first)
            elif lease_until is None or lease_until <= now:
                takeovers.append((token, deadline, now, key, now, owner))
                retakes += 1
                results.append((ClaimOutcome.RETAKEN, deadline))
            else:
                in_progress += 1
                results.append((ClaimOutcome.IN_PROGRESS, None))
        if takeovers:
            _write_every_row(
                conn,
                f"UPDATE {self._table} SET owner = ?, lease_until = ?, updated_at = ? "
                "WHERE key = ? AND state = 'in_progress' AND (lease_until <= ? OR owner = ?)",
                takeovers,
                "a dedup row changed",
            )
        misses = len(keys) - len(prior)
        conn.execute(_BUMP, (self.group, hits, misses, retakes, in_progress, errors, now))
        return results

    async def _complete(self, keys: list[str], token: str) -> int:
        # Count keys this token already completed first (a retried call whose first try
        # committed), then complete the rest; the owner stays on a done row for this.
        def body(conn: sqlite3.Connection) -> int:
            already = 0
            for start in range(0, len(keys), _SELECT_CHUNK):
                chunk = keys[start : start + _SELECT_CHUNK]
                (count,) = conn.execute(
                    f"SELECT count(*) FROM {self._table} WHERE state = 'done' AND owner = ? "
                    f"AND key IN ({', '.join('?' * len(chunk))})",
                    (token, *chunk),
                ).fetchone()
                already += int(count)
            now = time.time()
            cursor = conn.executemany(
                f"UPDATE {self._table} SET state = 'done', lease_until = NULL, updated_at = ? "
                "WHERE key = ? AND state = 'in_progress' AND owner = ?",
                [(now, key, token) for key in keys],
            )
            return already + cursor.rowcount

        return await self._in_one_transaction(body)

    async def _release(self, key: str, token: str) -> bool:
        async with self._write_transaction() as conn:
            cursor = await conn.execute(
                f"DELETE FROM {self._table} WHERE key = ? AND state = 'in_progress' AND owner = ?", (key, token)
            )
            return cursor.rowcount == 1

    async def _mark_if_new(self, key: str, errors: int) -> bool:
        async with self._write_transaction() as conn:
            now = time.time()
            cursor = await conn.execute(
                f"INSERT OR IGNORE INTO {self._table} (key, state, created_at, updated_at) VALUES (?, 'done', ?, ?)",
                (key, now, now),
            )
            new = cursor.rowcount == 1
            await self._bump(conn, now, hits=0 if new else 1, misses=1 if new else 0, errors=errors)
            return new

    async def _prune(self, older_than_seconds: float) -> int:
        async with self._write_transaction() as conn:
            cutoff = time.time() - older_than_seconds
            cursor = await conn.execute(
                f"DELETE FROM {self._table} WHERE (state = 'done' AND updated_at < ?) "
                "OR (state = 'in_progress' AND lease_until < ?)",
                (cutoff, cutoff),
            )
            return cursor.rowcount

    # -- patterns 2 and 3 ------------------------------------------------------------------------

    async def _upsert_rows(
        self, table: str, key_column: str, columns: tuple[str, ...], keys: list[Any], values: list[tuple[Any, ...]],
        errors: int,
    ) -> set[Any]:
        if key_column in columns:
            raise self._store_error(f"values for {table} must not repeat the key column {key_column!r}")
        return await self._batch_write(
            lambda conn: upsert_rows_in(conn, table, key_column, columns, keys, values), len(keys), errors, table
        )

    async def _transition_many(self, move: BatchTransition, decisions: int, errors: int) -> set[Any]:
        return await self._batch_write(
            lambda conn: transition_many_in(
                conn, move.table, move.key_column, move.keys, move.state_column, move.from_state, move.to_state
            ),
            decisions,
            errors,
            move.table,
        )

    async def _batch_write(
        self, write: Callable[[sqlite3.Connection], set[Any]], decisions: int, errors: int, table: str
    ) -> set[Any]:
        """Run a pattern 2 or 3 write (one row or a batch) and count its ``decisions`` in the same
        transaction: a miss per changed row, the rest hits."""

        def body(conn: sqlite3.Connection) -> set[Any]:
            changed = write(conn)
            conn.execute(_BUMP, (self.group, decisions - len(changed), len(changed), 0, 0, errors, time.time()))
            return changed

        try:
            return await self._in_one_transaction(body)
        except sqlite3.OperationalError as exc:
            if self._unavailable_reason(exc) is not None:
                raise
            raise self._store_error(f"write to {table} failed: {one_line(exc, first_line=True)}") from exc
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError) as exc:
            raise self._store_error(f"write to {table} failed: {one_line(exc, first_line=True)}") from exc

    # -- observation ----------------------------------------------------------------------------

    async def _query(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any] | None:
        """Rows of a read, or None when the table does not exist (a store nobody wrote yet)."""
        async with self._lock:
            conn = await self._connection()
            try:
                cursor = await conn.execute(statement, params)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise
            return list(await cursor.fetchall())

    async def _read_counters(self, group: str) -> DedupCounters | None:
        rows = await self._query(
            f'SELECT hits, misses, retakes, in_progress, errors, updated_at FROM "{COUNTERS_TABLE}" '
            "WHERE group_name = ?",
            (group,),
        )
        if not rows:
            return None
        hits, misses, retakes, in_progress, errors, updated_at = rows[0]
        return DedupCounters(
            group=group,
            hits=hits,
            misses=misses,
            retakes=retakes,
            in_progress=in_progress,
            errors=errors,
            updated_at=datetime.fromtimestamp(updated_at, tz=UTC),
        )

    async def _list_counter_groups(self, limit: int) -> list[str]:
        rows = await self._query(f'SELECT group_name FROM "{COUNTERS_TABLE}" ORDER BY group_name LIMIT ?', (limit,))
        return [name for (name,) in rows or []]

    async def _keys_held(self) -> KeyCount:
        rows = await self._query(f"SELECT count(*) FROM {self._table}")
        return KeyCount(count=int(rows[0][0]) if rows else 0, exact=True)
