"""SQL identifiers that callers pass in (tables, columns), checked before use.

The pattern-2 and pattern-3 helpers take table and column *names*, which cannot
be bound as parameters. A strict allow-list regex rejects anything that is not a
plain (optionally schema-qualified) identifier, so a name can never smuggle SQL;
PostgreSQL additionally quotes it through ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

import re

from deliverytui.dedup.errors import DedupStoreError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def identifier_parts(name: str, *, what: str = "identifier", qualified: bool = False) -> tuple[str, ...]:
    """Split and validate ``name`` (``table`` or, if ``qualified``, ``schema.table``).

    Raises a one-line :class:`DedupStoreError` naming the offending value.
    """
    parts = tuple(name.split(".")) if isinstance(name, str) else ()
    limit = 2 if qualified else 1
    if not parts or len(parts) > limit or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise DedupStoreError(
            f"invalid SQL {what} {name!r}: use letters, digits and underscores"
            + (" (optionally schema.table)" if qualified else "")
        )
    return parts


def sqlite_quoted(name: str, *, what: str = "identifier", qualified: bool = False) -> str:
    """``name`` validated and double-quoted for SQLite (``"schema"."table"``)."""
    return ".".join(f'"{part}"' for part in identifier_parts(name, what=what, qualified=qualified))
