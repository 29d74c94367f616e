"""The ``tasks`` rows the upsert and state-check patterns write, outside the store's counters.

The store's ``upsert_row``/``transition`` count hits and misses; creating the table and
the "pending" row a state-check needs first must not be counted, so they go through
this plain connection to the same database. Its URL is read by the store URL parser
(:func:`deliverytui.dedup.url.parse_store_url`), like every other store URL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from deliverytui.dedup import StoreUnavailableError
from deliverytui.dedup.url import Backend, parse_store_url
from deliverytui.demo.consumer.options import TASKS_TABLE

ROWS_PER_INSERT = 500
"""Task ids per multi-row insert: well under SQLite's and PostgreSQL's parameter limits."""


class TaskTable:
    """One lazily opened connection to the SQL database the store uses (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = parse_store_url(url)
        self._sqlite = self.url.backend is Backend.SQLITE
        self._conn: Any = None

    def _connect(self) -> Any:
        if self._conn is None:
            if self._sqlite:
                conn = sqlite3.connect(self.url.sqlite_path or "", timeout=10, isolation_level=None)
                conn.execute("PRAGMA busy_timeout=10000")
                self._conn = conn
            else:
                import psycopg

                self._conn = psycopg.connect(self.url.raw, autocommit=True, connect_timeout=5)
        return self._conn

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        sql = statement if self._sqlite else statement.replace("?", "%s")
        try:
            self._connect().execute(sql, params)
        except sqlite3.OperationalError as exc:
            self.close()
            raise StoreUnavailableError(f"task table in {self.url.display} is unavailable: {exc}") from exc
        except Exception as exc:
            import psycopg  # only a PostgreSQL URL gets here

            # Subclasses too: a stopped server answers AdminShutdown, an OperationalError.
            if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
                self.close()
                raise StoreUnavailableError(f"task table is unavailable: {str(exc).splitlines()[0]}") from exc
            raise

    def ensure_schema(self) -> None:
        create = (
            f"CREATE TABLE IF NOT EXISTS {TASKS_TABLE} (task_id TEXT PRIMARY KEY, title TEXT, created_at TEXT, "
            "status TEXT NOT NULL DEFAULT 'pending')"
        )
        if not self._sqlite:
            # Consumers starting together race on CREATE TABLE IF NOT EXISTS: PostgreSQL answers the
            # loser with a unique violation on pg_type, and that consumer exited 1 (seen in a batch-crash
            # test running upsert and state-check at once). Sent as one simple query, the two statements
            # are one implicit transaction, so the advisory lock serializes them, as the dedup schema does.
            create = f"SELECT pg_advisory_xact_lock(hashtext('deliverytui.tasks.schema')); {create}"
        self._run(create)

    def ensure_pending(self, task_id: str) -> None:
        """Create the task row on first sight; an existing row (in any state) is left alone."""
        self.ensure_pending_many([task_id])

    def ensure_pending_many(self, task_ids: Sequence[str]) -> None:
        """Create every task row not there yet, in one statement per ``ROWS_PER_INSERT`` ids (a batch's one round trip)."""
        for start in range(0, len(task_ids), ROWS_PER_INSERT):
            chunk = tuple(task_ids[start : start + ROWS_PER_INSERT])
            rows = ", ".join(["(?, 'pending')"] * len(chunk))
            self._run(f"INSERT INTO {TASKS_TABLE} (task_id, status) VALUES {rows} ON CONFLICT (task_id) DO NOTHING", chunk)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
