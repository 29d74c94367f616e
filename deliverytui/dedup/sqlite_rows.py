"""Patterns 2 and 3 on SQLite, one row or a whole batch: the statements and how their changes are read.

Why a module apart from the store: these build SQL from the caller's table and column names
(quoted, checked by :func:`sqlite_quoted`) and run on the connection's own thread inside the
store's ``BEGIN IMMEDIATE``; the store keeps the lock, the transaction and the counters.
A batch is one statement per chunk of rows, all chunks in one transaction: one hand-off to
the connection's thread, like one round trip to a server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from deliverytui.dedup.identifiers import sqlite_quoted

ROWS_PER_STATEMENT = 500
"""Rows per multi-row statement: with a few columns each, well under SQLite's variable limit."""

RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
"""``RETURNING`` (SQLite 3.35+) names the rows a statement changed; older SQLite runs one row at a time."""


def upsert_statement(table: str, key_column: str, columns: Sequence[str], rows: int = 1, *, returning: bool = False) -> str:
    """``INSERT … ON CONFLICT DO UPDATE … WHERE a value differs`` for ``rows`` rows.

    The ``WHERE`` makes a repeat that writes the same values change nothing: that is what tells
    a hit from a miss. ``returning`` names the keys of the rows it changed.
    """
    target = sqlite_quoted(table, what="table name")
    key_id = sqlite_quoted(key_column, what="column name")
    quoted = [sqlite_quoted(name, what="column name") for name in columns]
    if quoted:
        sets = ", ".join(f"{c} = excluded.{c}" for c in quoted)
        differs = " OR ".join(f"t.{c} IS NOT excluded.{c}" for c in quoted)
        on_conflict = f"DO UPDATE SET {sets} WHERE {differs}"
    else:
        on_conflict = "DO NOTHING"
    one_row = f"({', '.join('?' * (len(quoted) + 1))})"
    statement = (
        f"INSERT INTO {target} AS t ({', '.join([key_id, *quoted])}) "
        f"VALUES {', '.join([one_row] * rows)} ON CONFLICT ({key_id}) {on_conflict}"
    )
    return f"{statement} RETURNING {key_id}" if returning else statement


def transition_statement(table: str, key_column: str, state_column: str, keys: int = 1, *, returning: bool = False) -> str:
    """``UPDATE … SET state = ? WHERE key IN (…) AND state = ?``: only rows still in the old state move."""
    target = sqlite_quoted(table, what="table name")
    state = sqlite_quoted(state_column, what="column name")
    key_id = sqlite_quoted(key_column, what="column name")
    statement = f"UPDATE {target} SET {state} = ? WHERE {key_id} IN ({', '.join('?' * keys)}) AND {state} = ?"
    return f"{statement} RETURNING {key_id}" if returning else statement


def upsert_rows_in(
    conn: sqlite3.Connection, table: str, key_column: str, columns: Sequence[str], keys: list[Any],
    values: list[tuple[Any, ...]],
) -> set[Any]:
    """Upsert every row (no key twice) on the connection's thread; the keys whose rows changed."""
    changed: set[Any] = set()
    if not RETURNING:
        single = upsert_statement(table, key_column, columns)
        for key, row in zip(keys, values, strict=True):
            if conn.execute(single, (key, *row)).rowcount == 1:
                changed.add(key)
        return changed
    for start in range(0, len(keys), ROWS_PER_STATEMENT):
        chunk = range(start, min(start + ROWS_PER_STATEMENT, len(keys)))
        params = [item for i in chunk for item in (keys[i], *values[i])]
        statement = upsert_statement(table, key_column, columns, rows=len(chunk), returning=True)
        changed.update(key for (key,) in conn.execute(statement, params))
    return changed


def transition_many_in(
    conn: sqlite3.Connection, table: str, key_column: str, keys: Sequence[Any], state_column: str, from_state: Any,
    to_state: Any,
) -> set[Any]:
    """Move every row of ``keys`` still in ``from_state`` on the connection's thread; the keys that moved."""
    moved: set[Any] = set()
    if not RETURNING:
        single = transition_statement(table, key_column, state_column)
        for key in keys:
            if conn.execute(single, (to_state, key, from_state)).rowcount == 1:
                moved.add(key)
        return moved
    for start in range(0, len(keys), ROWS_PER_STATEMENT):
        chunk = list(keys[start : start + ROWS_PER_STATEMENT])
        statement = transition_statement(table, key_column, state_column, keys=len(chunk), returning=True)
        moved.update(key for (key,) in conn.execute(statement, (to_state, *chunk, from_state)))
    return moved
