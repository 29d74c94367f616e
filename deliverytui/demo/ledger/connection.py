"""Opening the ledger and talking to it: the one place that knows SQLite from PostgreSQL.

Several processes write one SQLite file at once, so it runs in WAL mode with a busy
timeout; PostgreSQL works the same through ``postgresql://`` URLs, and a PostgreSQL
outage becomes one :class:`LedgerUnavailableError` line, with the connection reopened
on the next call. The writes and reads in the sibling modules use only the helpers here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from deliverytui.dedup.url import redact_url
from deliverytui.demo.ledger.schema import SCHEMA
from deliverytui.errors import ExitCode, UserFacingError, one_line


class LedgerError(UserFacingError):
    """The ledger URL is wrong or its database cannot be opened."""

    exit_code = ExitCode.LEDGER


class LedgerUnavailableError(LedgerError):
    """The ledger's PostgreSQL server stopped answering mid-run (one line, no password).

    The connection is dropped and the next call reconnects, so a caller waits and
    retries: a consumer does not commit past an effect it could not record.
    """

    exit_code = ExitCode.LEDGER_UNAVAILABLE



def sqlite_ledger_url(path: str | Path) -> str:
    """``sqlite:///`` + path: an absolute path gives the four-slash form."""
    return f"sqlite:///{path}"


class LedgerConnection:
    """A connection to the ledger at ``url`` (``sqlite:///path`` or ``postgresql://...``).

    One instance per process (it is not shared between threads: the producer thread
    opens its own). The schema is created on first open.
    """

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if not path:
                raise LedgerError(f"ledger URL {url!r} names no file: write sqlite:///path/to/ledger.db")
            self.backend = "sqlite"
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            except (sqlite3.Error, OSError) as exc:
                raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
            self._conn: Any = conn
            autoincrement = "INTEGER PRIMARY KEY AUTOINCREMENT"
        elif url.startswith(("postgresql://", "postgres://")):
            import psycopg

            self.backend = "postgresql"
            try:
                self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:  # down, refused, or the login failed: say which, in one line
                raise LedgerUnavailableError(f"cannot open the ledger database: {one_line(exc, first_line=True)}") from None
            except psycopg.Error as exc:
                raise LedgerError(f"cannot open the ledger database: {one_line(exc, first_line=True)}") from None
            autoincrement = "BIGSERIAL PRIMARY KEY"
        else:
            raise LedgerError(f"ledger URL {url!r} is not supported: write sqlite:///path.db or postgresql://...")
        for statement in SCHEMA:
            self._execute(statement.format(autoincrement=autoincrement))
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after the first release (a ledger from an older run gains them).

        ``instance``: which process did an effect. ``epoch``: that process's assignment epoch
        (it grows at every rebalance and every deliberate seek), which the poll checker needs
        to excuse a rewind the way Jepsen excuses one after a rebalance. ``delivery_count``: the
        share group's count for the delivery that did the effect (the queue consumer; NULL for the others).
        """
        for column, kind in (("instance", "TEXT"), ("epoch", "INTEGER"), ("delivery_count", "INTEGER")):
            if self.backend == "postgresql":
                self._execute(f"ALTER TABLE effects ADD COLUMN IF NOT EXISTS {column} {kind}")
                continue
            columns = {row[1] for row in self._rows("PRAGMA table_info(effects)")}
            if column not in columns:
                try:
                    self._execute(f"ALTER TABLE effects ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    # -- plumbing --------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.backend == "postgresql" else statement

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.backend == "sqlite":
            return self._conn.execute(self._sql(statement), tuple(params))
        with self._postgres() as conn:
            return conn.execute(self._sql(statement), tuple(params))

    @contextlib.contextmanager
    def _postgres(self) -> Iterator[Any]:
        """The PostgreSQL connection (reconnected if an outage dropped it); a lost server is one line."""
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = None
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            yield self._conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            raise LedgerUnavailableError(
                f"the effects ledger at {redact_url(self.url)} is unavailable ({one_line(exc, first_line=True)}); waiting for it"
            ) from None

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one SQL statement (``?`` placeholders on both backends): for tools and tests."""
        return self._rows(statement, params)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one SQL statement (``?`` placeholders on both backends): for tools and tests."""
        self._execute(statement, params)

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._execute(statement, params).fetchall())

    def _scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self._execute(statement, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
    def _insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``statement`` for every row in one transaction (SQLite: taking the write lock first)."""
        if self.backend == "sqlite":
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(statement, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        else:
            with self._postgres() as conn, conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(statement, rows)

    def checkpoint(self) -> None:
        """SQLite: move the write-ahead log into the database and truncate it (no-op for PostgreSQL).

        Six consumers and a producer write all the time and the auditor reads for seconds at
        a time, so SQLite's automatic (passive) checkpoints never find a moment to reset the
        WAL: it grew by ~100 MB a minute at 500 events/s. The auditor calls this after each
        audit, when its own reads are done; writers wait at most a few milliseconds.
        """
        if self.backend != "sqlite":
            return
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next audit tries again
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def chunks(values: Sequence[Any], size: int) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
