"""The effects ledger: ground truth for the demo's audit, shared by producer, consumers and auditor.

Why a separate ledger rather than trusting the consumers' own counters: the point of
the lab is to *check* a delivery semantic, so the record of what happened must be
written at the moment it happens and must be able to hold what should not happen —
``effects`` has no unique constraint, a second effect for the same event is simply a
second row. The producer records every acknowledged send (``acked_events``, with the
partition and offset from the delivery report), consumers record every side effect
and every crash, and :mod:`deliverytui.demo.auditor` compares them.

Several processes write one SQLite file at once, so it runs in WAL mode with a busy
timeout; PostgreSQL works the same through ``postgresql://`` URLs. The API is
synchronous on purpose: the consumers are plain poll loops.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from deliverytui.dedup.url import redact_url
from deliverytui.errors import ExitCode, UserFacingError

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS acked_events (
        event_id TEXT PRIMARY KEY,
        task_id TEXT,
        topic TEXT NOT NULL,
        "partition" INTEGER NOT NULL,
        "offset" BIGINT NOT NULL,
        acked_at DOUBLE PRECISION NOT NULL
    )""",
    'CREATE INDEX IF NOT EXISTS acked_events_position ON acked_events (topic, "partition", "offset")',
    """CREATE TABLE IF NOT EXISTS effects (
        id {autoincrement},
        event_id TEXT NOT NULL,
        consumer TEXT NOT NULL,
        "partition" INTEGER,
        "offset" BIGINT,
        attempt INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS effects_by_consumer ON effects (consumer, event_id)",
    # What the lab did to a consumer other than crash it (a planned stop, a replay, a second
    # instance): the audit names these as the cause of the redeliveries that follow them.
    """CREATE TABLE IF NOT EXISTS interventions (
        consumer TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    # Where a group (or the output tally, consumer '') started reading a topic in this story:
    # acknowledged events below it were never this group's to process, so they are never "lost".
    """CREATE TABLE IF NOT EXISTS stream_starts (
        consumer TEXT NOT NULL,
        topic TEXT NOT NULL,
        "partition" INTEGER NOT NULL,
        "offset" BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, "partition")
    )""",
    # What this ledger's story is about: the cluster id and the topic ids it was written against.
    """CREATE TABLE IF NOT EXISTS story (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS crashes (
        consumer TEXT NOT NULL,
        point TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS crashes_by_consumer ON crashes (consumer)",
    # Records that were not usable events (not JSON, or no event_id): one row per sighting,
    # so a redelivered one has two rows. Kept apart from ``effects``, which the audit keys by event id.
    """CREATE TABLE IF NOT EXISTS malformed (
        consumer TEXT NOT NULL,
        topic TEXT NOT NULL,
        "partition" INTEGER NOT NULL,
        "offset" BIGINT NOT NULL,
        reason TEXT NOT NULL,
        action TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS malformed_by_consumer ON malformed (consumer, topic)",
    # The exactly-once consumers' committed output records, copied by the auditor from the
    # output topic (read_committed), one row per output record: the audit counts them in SQL
    # instead of holding every event id in memory.
    """CREATE TABLE IF NOT EXISTS outputs (
        id {autoincrement},
        topic TEXT NOT NULL,
        out_partition INTEGER NOT NULL,
        out_offset BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        consumer TEXT NOT NULL,
        "partition" INTEGER,
        "offset" BIGINT,
        at DOUBLE PRECISION NOT NULL,
        UNIQUE (topic, out_partition, out_offset)
    )""",
    "CREATE INDEX IF NOT EXISTS outputs_by_consumer ON outputs (consumer, event_id)",
)

SKIPPED = "skipped"
"""What a consumer did with a record that is not JSON: nothing to process, committed past."""
PROCESSED_WITHOUT_DEDUP = "processed-without-dedup"
"""What a consumer did with a JSON event without ``event_id``: processed anyway, with no dedup (the chapter)."""

_EFFECT_TABLES = ("effects", "outputs")


def _table(name: str) -> str:
    if name not in _EFFECT_TABLES:
        raise ValueError(f"not an effects table: {name!r}")
    return name


class LedgerError(UserFacingError):
    """The ledger URL is wrong or its database cannot be opened."""

    exit_code = ExitCode.LEDGER


class LedgerUnavailableError(LedgerError):
    """The ledger's PostgreSQL server stopped answering mid-run (one line, no password).

    The connection is dropped and the next call reconnects, so a caller waits and
    retries: a consumer does not commit past an effect it could not record.
    """

    exit_code = ExitCode.LEDGER_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class AckedEvent:
    """One send the broker acknowledged: where the event landed."""

    event_id: str
    task_id: str | None
    topic: str
    partition: int
    offset: int
    acked_at: float


@dataclass(frozen=True, slots=True)
class EffectRow:
    """One recorded side effect; ``attempt`` > 1 means this consumer had already done it."""

    id: int
    event_id: str
    consumer: str
    partition: int | None
    offset: int | None
    attempt: int
    at: float


def sqlite_ledger_url(path: str | Path) -> str:
    """``sqlite:///`` + path: an absolute path gives the four-slash form."""
    return f"sqlite:///{path}"


class EffectsLedger:
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
                raise LedgerUnavailableError(f"cannot open the ledger database: {_first_line(exc)}") from None
            except psycopg.Error as exc:
                raise LedgerError(f"cannot open the ledger database: {_first_line(exc)}") from None
            autoincrement = "BIGSERIAL PRIMARY KEY"
        else:
            raise LedgerError(f"ledger URL {url!r} is not supported: write sqlite:///path.db or postgresql://...")
        for statement in _SCHEMA:
            self._execute(statement.format(autoincrement=autoincrement))
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after the first release (a ledger from an older run gains them)."""
        if self.backend == "postgresql":
            self._execute("ALTER TABLE effects ADD COLUMN IF NOT EXISTS instance TEXT")
            return
        columns = {row[1] for row in self._rows("PRAGMA table_info(effects)")}
        if "instance" not in columns:
            try:
                self._execute("ALTER TABLE effects ADD COLUMN instance TEXT")
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
                f"the effects ledger at {redact_url(self.url)} is unavailable ({_first_line(exc)}); waiting for it"
            ) from None

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._execute(statement, params).fetchall())

    def _scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self._execute(statement, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> EffectsLedger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------

    def record_ack(
        self,
        event_id: str,
        task_id: str | None,
        partition: int,
        offset: int,
        *,
        topic: str = "task-events",
        acked_at: float | None = None,
    ) -> None:
        """Record one acknowledged send (from the producer's delivery callback)."""
        self.record_acks([AckedEvent(event_id, task_id, topic, partition, offset, acked_at or time.time())])

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

    def record_acks(self, acks: Iterable[AckedEvent]) -> int:
        """Record many acknowledged sends in one transaction (the producer batches its callbacks)."""
        rows = [(a.event_id, a.task_id, a.topic, a.partition, a.offset, a.acked_at) for a in acks]
        if not rows:
            return 0
        statement = self._sql(
            'INSERT INTO acked_events (event_id, task_id, topic, "partition", "offset", acked_at) '
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
        )
        self._insert_many(statement, rows)
        return len(rows)

    def record_effect(
        self, event_id: str, consumer: str, partition: int | None, offset: int | None, instance: str | None = None
    ) -> int:
        """Record one side effect of ``consumer`` (a group id); returns its attempt number (1 = first).

        ``instance`` names the process that did it (``"<instance number>:<pid>"`` for demo
        consumers), so the audit can tell a redelivery after a rebalance (another instance
        of the group) from one after a restart (the same instance, a new pid).
        The attempt is computed in the same statement, so it is exact for one writer per consumer.
        """
        return int(
            self._scalar(
                'INSERT INTO effects (event_id, consumer, "partition", "offset", attempt, at, instance) '
                "SELECT ?, ?, ?, ?, 1 + COUNT(*), ?, ? FROM effects WHERE consumer = ? AND event_id = ? "
                "RETURNING attempt",
                (event_id, consumer, partition, offset, time.time(), instance, consumer, event_id),
            )
        )

    def has_effect(self, event_id: str, consumer: str) -> bool:
        """True if ``consumer`` recorded an effect for ``event_id``."""
        return self._scalar("SELECT 1 FROM effects WHERE consumer = ? AND event_id = ? LIMIT 1", (consumer, event_id)) is not None

    def record_crash(self, consumer: str, point: str) -> None:
        """Record that ``consumer`` (a group id) crashed at ``point``; written *before* the process dies."""
        self._execute("INSERT INTO crashes (consumer, point, at) VALUES (?, ?, ?)", (consumer, point, time.time()))

    def record_malformed(
        self, consumer: str, topic: str, partition: int, offset: int, reason: str, action: str
    ) -> None:
        """Record that ``consumer`` met a record that is not a usable event, and what it did with it."""
        self._execute(
            'INSERT INTO malformed (consumer, topic, "partition", "offset", reason, action, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
            (consumer, topic, partition, offset, reason, action, time.time()),
        )

    # -- reads for the auditor and the live view ----------------------------------------------
    # The full-scan counts below (acked_passed, effect_totals, duplicated_events, lost_events,
    # unexpected_events) recount the whole ledger: the audit keeps running counts instead
    # (audit_tally), and tests/test_demo_audit_tally.py checks those against these.

    def malformed_records(self, consumer: str, topic: str, limit: int) -> tuple[int, list[tuple[int, int, str, str, int]]]:
        """Distinct malformed records ``consumer`` met on ``topic``: (count, first ``limit`` as
        (partition, offset, reason, action, times seen)), by position."""
        count = int(
            self._scalar(
                'SELECT COUNT(*) FROM (SELECT DISTINCT "partition", "offset" FROM malformed WHERE consumer = ? AND topic = ?) m',
                (consumer, topic),
            )
            or 0
        )
        if count == 0:
            return 0, []
        rows = self._rows(
            'SELECT "partition", "offset", MIN(reason), MIN(action), COUNT(*) FROM malformed WHERE consumer = ? AND topic = ? '
            'GROUP BY "partition", "offset" ORDER BY "partition", "offset" LIMIT ?',
            (consumer, topic, limit),
        )
        return count, [(int(p), int(o), str(r), str(a), int(n)) for p, o, r, a, n in rows]


    def acked_count(self, topic: str) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM acked_events WHERE topic = ?", (topic,)) or 0)

    def acked_partitions(self, topic: str) -> dict[int, int]:
        """Acknowledged sends per partition."""
        rows = self._rows('SELECT "partition", COUNT(*) FROM acked_events WHERE topic = ? GROUP BY "partition"', (topic,))
        return {int(p): int(n) for p, n in rows}

    def acked_events(self, topic: str) -> list[AckedEvent]:
        """Every acknowledged send to ``topic`` (for checks that cannot be done in SQL)."""
        rows = self._rows(
            'SELECT event_id, task_id, topic, "partition", "offset", acked_at FROM acked_events WHERE topic = ?',
            (topic,),
        )
        return [AckedEvent(e, t, tp, int(p), int(o), float(a)) for e, t, tp, p, o, a in rows]

    def acked_passed(self, topic: str, committed: Mapping[int, int]) -> int:
        """Acknowledged sends the group's committed offsets have passed."""
        where, params = _passed_condition(committed)
        if not where:
            return 0
        return int(self._scalar(f"SELECT COUNT(*) FROM acked_events a WHERE a.topic = ? AND ({where})", (topic, *params)) or 0)

    def effect_totals(self, consumer: str, table: str = "effects") -> tuple[int, int]:
        """(effects, distinct events with an effect) of ``consumer`` (``table="outputs"``: exactly-once output)."""
        row = self._execute(
            f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM {_table(table)} WHERE consumer = ?", (consumer,)
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def duplicated_events(
        self, consumer: str, limit: int, table: str = "effects"
    ) -> list[tuple[str, int, int | None, int | None]]:
        """(event_id, effect count, partition, offset) for events with more than one effect, at most ``limit``."""
        rows = self._rows(
            f'SELECT event_id, COUNT(*), MIN("partition"), MIN("offset") FROM {_table(table)} WHERE consumer = ? '
            "GROUP BY event_id HAVING COUNT(*) > 1 ORDER BY MIN(id) LIMIT ?",
            (consumer, limit),
        )
        return [(e, int(n), _int_or_none(p), _int_or_none(o)) for e, n, p, o in rows]

    def lost_events(
        self, consumer: str, topic: str, committed: Mapping[int, int], limit: int, table: str = "effects"
    ) -> tuple[int, list[tuple[str, int, int]]]:
        """Acknowledged events below the committed offsets with no effect of ``consumer``: (count, first ``limit``)."""
        where, params = _passed_condition(committed)
        if not where:
            return 0, []
        body = (
            "FROM acked_events a WHERE a.topic = ? AND ("
            + where
            + f") AND NOT EXISTS (SELECT 1 FROM {_table(table)} e WHERE e.consumer = ? AND e.event_id = a.event_id)"
        )
        count = int(self._scalar("SELECT COUNT(*) " + body, (topic, *params, consumer)) or 0)
        if count == 0:
            return 0, []  # the common case: no second pass over every acknowledged event
        rows = self._rows(
            'SELECT a.event_id, a."partition", a."offset" ' + body + ' ORDER BY a."partition", a."offset" LIMIT ?',
            (topic, *params, consumer, limit),
        )
        return count, [(e, int(p), int(o)) for e, p, o in rows]

    def unexpected_events(
        self, consumer: str, limit: int, *, settled_before: float | None = None, table: str = "effects"
    ) -> tuple[int, list[tuple[str, int | None, int | None]]]:
        """Events ``consumer`` had an effect for that were never acknowledged: (count, first ``limit``).

        A consumer can act on a record before the producer's delivery report (and so the
        ack row) arrives; effects at or after ``settled_before`` (epoch seconds) are still in
        flight and are not counted.
        """
        settled = float("inf") if settled_before is None else settled_before
        body = (
            f"FROM {_table(table)} e WHERE e.consumer = ? AND e.at < ? AND NOT EXISTS "
            "(SELECT 1 FROM acked_events a WHERE a.event_id = e.event_id)"
        )
        count = int(self._scalar("SELECT COUNT(DISTINCT e.event_id) " + body, (consumer, settled)) or 0)
        if count == 0:
            return 0, []
        rows = self._rows(
            'SELECT e.event_id, MIN(e."partition"), MIN(e."offset") ' + body + " GROUP BY e.event_id LIMIT ?",
            (consumer, settled, limit),
        )
        return count, [(e, _int_or_none(p), _int_or_none(o)) for e, p, o in rows]

    # -- incremental reads for the running audit (deliverytui.demo.audit_tally) -------------------

    def max_effect_id(self, table: str = "effects") -> int:
        """The newest row id of ``table`` (0 when empty): a ledger that was recreated has a smaller one."""
        return int(self._scalar(f"SELECT MAX(id) FROM {_table(table)}") or 0)

    def effects_with_history(
        self, after_id: int, limit: int, table: str = "effects"
    ) -> list[tuple[int, str, str, int | None, int | None, float, int]]:
        """Rows with id > ``after_id``, oldest first, each with how many effects of the same
        consumer and event precede it: (id, event_id, consumer, partition, offset, at, earlier).

        SQLite's ``effects`` rows carry it already: ``attempt`` is counted in the insert
        itself, under SQLite's single write lock, so it is exact (and reading it is ~15x
        cheaper than counting again). PostgreSQL runs concurrent inserts — two instances of
        a consumer after a rebalance could both count one — and ``outputs`` has no attempt:
        those are counted here.
        """
        t = _table(table)
        if self.backend == "sqlite" and table == "effects":
            earlier = "e.attempt - 1"
        else:
            earlier = f"(SELECT COUNT(*) FROM {t} p WHERE p.consumer = e.consumer AND p.event_id = e.event_id AND p.id < e.id)"
        rows = self._rows(
            f'SELECT e.id, e.event_id, e.consumer, e."partition", e."offset", e.at, {earlier} '
            f"FROM {t} e WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (after_id, limit),
        )
        return [(int(i), e, c, _int_or_none(p), _int_or_none(o), float(a), int(n)) for i, e, c, p, o, a, n in rows]

    def first_effect_since(self, after_id: int, at_or_after: float, table: str = "effects") -> int | None:
        """The lowest id above ``after_id`` of an effect recorded at or after ``at_or_after`` (epoch s)."""
        value = self._scalar(f"SELECT MIN(id) FROM {_table(table)} WHERE id > ? AND at >= ?", (after_id, at_or_after))
        return None if value is None else int(value)

    def unacked_effects(
        self, low_id: int, high_id: int, table: str = "effects"
    ) -> list[tuple[str, str, int | None, int | None]]:
        """(event_id, consumer, partition, offset) of effects with ``low_id`` <= id <= ``high_id`` whose event no ack names."""
        rows = self._rows(
            f'SELECT e.event_id, e.consumer, e."partition", e."offset" FROM {_table(table)} e '
            "WHERE e.id >= ? AND e.id <= ? AND NOT EXISTS (SELECT 1 FROM acked_events a WHERE a.event_id = e.event_id) "
            "ORDER BY e.id",
            (low_id, high_id),
        )
        return [(e, c, _int_or_none(p), _int_or_none(o)) for e, c, p, o in rows]

    def late_effect(
        self, row_id: int, counted_through: int, not_counted: Sequence[int], table: str = "effects"
    ) -> tuple[int, str, str, int | None, int | None, float, int] | None:
        """Row ``row_id`` if it is visible now, with how many *already counted* effects of the
        same consumer and event exist (rows up to ``counted_through`` other than itself and
        the ids in ``not_counted``); None while it is still invisible."""
        t = _table(table)
        skip = [i for i in not_counted if i != row_id] or [-1]
        marks = ", ".join("?" for _ in skip)
        row = self._execute(
            f'SELECT e.id, e.event_id, e.consumer, e."partition", e."offset", e.at, '
            f"(SELECT COUNT(*) FROM {t} p WHERE p.consumer = e.consumer AND p.event_id = e.event_id "
            f"AND p.id <> e.id AND p.id <= ? AND p.id NOT IN ({marks})) FROM {t} e WHERE e.id = ?",
            (counted_through, *skip, row_id),
        ).fetchone()
        if row is None:
            return None
        i, e, c, p, o, a, n = row
        return int(i), e, c, _int_or_none(p), _int_or_none(o), float(a), int(n)

    def acked_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the producer's acks include."""
        found: set[str] = set()
        for chunk in _chunks(event_ids, 500):
            marks = ", ".join("?" for _ in chunk)
            found.update(r[0] for r in self._rows(f"SELECT event_id FROM acked_events WHERE event_id IN ({marks})", chunk))
        return found

    def next_acked_partition(self, topic: str, after: int) -> int | None:
        """The smallest partition of ``topic`` above ``after`` with an acknowledged send (an index seek)."""
        value = self._scalar('SELECT MIN("partition") FROM acked_events WHERE topic = ? AND "partition" > ?', (topic, after))
        return None if value is None else int(value)

    def settled_ack_offset(
        self, topic: str, partition: int, low: int, high: int | None, settled_before: float
    ) -> int | None:
        """The highest offset in [``low``, ``high``) of an ack recorded before ``settled_before``."""
        upper, params = ("", []) if high is None else (' AND "offset" < ?', [high])
        value = self._scalar(
            'SELECT MAX("offset") FROM acked_events WHERE topic = ? AND "partition" = ? AND "offset" >= ?'
            + upper + " AND acked_at < ?",
            (topic, partition, low, *params, settled_before),
        )
        return None if value is None else int(value)

    def acked_between(self, topic: str, partition: int, low: int, high: int | None) -> int:
        """Acknowledged sends to ``topic``/``partition`` with ``low`` <= offset < ``high`` (None: no end)."""
        upper, params = ("", []) if high is None else (' AND "offset" < ?', [high])
        return int(
            self._scalar(
                'SELECT COUNT(*) FROM acked_events WHERE topic = ? AND "partition" = ? AND "offset" >= ?' + upper,
                (topic, partition, low, *params),
            )
            or 0
        )

    def unprocessed_between(
        self, consumer: str, topic: str, partition: int, low: int, high: int, table: str = "effects"
    ) -> list[tuple[int, str]]:
        """(offset, event_id) of acks in [``low``, ``high``) of one partition with no effect of ``consumer``."""
        rows = self._rows(
            'SELECT a."offset", a.event_id FROM acked_events a WHERE a.topic = ? AND a."partition" = ? '
            'AND a."offset" >= ? AND a."offset" < ? '
            f"AND NOT EXISTS (SELECT 1 FROM {_table(table)} e WHERE e.consumer = ? AND e.event_id = a.event_id) "
            'ORDER BY a."offset"',
            (topic, partition, low, high, consumer),
        )
        return [(int(o), e) for o, e in rows]

    def attempts_of(
        self, consumer: str, event_ids: Sequence[str]
    ) -> list[tuple[str, int | None, int | None, str | None, float]]:
        """Every effect of ``consumer`` for ``event_ids``: (event_id, partition, offset, instance, at), oldest first."""
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(event_ids, 500):
            marks = ", ".join("?" for _ in chunk)
            rows += self._rows(
                f'SELECT id, event_id, "partition", "offset", instance, at FROM effects WHERE consumer = ? '
                f"AND event_id IN ({marks})",
                (consumer, *chunk),
            )
        rows.sort(key=lambda r: int(r[0]))
        return [(e, _int_or_none(p), _int_or_none(o), i, float(a)) for _id, e, p, o, i, a in rows]

    def record_outputs(self, rows: Sequence[tuple[str, int, int, str, str, int | None, int | None]]) -> int:
        """Record output records (topic, out_partition, out_offset, event_id, consumer, partition, offset);
        one already recorded (the same topic position) is skipped, so re-reading the topic is harmless."""
        if not rows:
            return 0
        now = time.time()
        statement = self._sql(
            'INSERT INTO outputs (topic, out_partition, out_offset, event_id, consumer, "partition", "offset", at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, out_partition, out_offset) DO NOTHING"
        )
        values = [(*row, now) for row in rows]
        self._insert_many(statement, values)
        return len(values)

    def output_positions(self, topic: str) -> dict[int, int]:
        """Per partition of output ``topic``: the offset after the last recorded output record."""
        rows = self._rows("SELECT out_partition, MAX(out_offset) FROM outputs WHERE topic = ? GROUP BY out_partition", (topic,))
        return {int(p): int(o) + 1 for p, o in rows}

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

    def record_intervention(self, consumer: str, kind: str, detail: str = "") -> None:
        """A planned stop, a replay, a second instance: what the audit names as a redelivery's cause."""
        self._execute(
            "INSERT INTO interventions (consumer, kind, detail, at) VALUES (?, ?, ?, ?)", (consumer, kind, detail, time.time())
        )

    def interventions_of(self, consumer: str) -> list[tuple[str, str, float]]:
        """(kind, detail, at) of every intervention on ``consumer``, oldest first."""
        rows = self._rows("SELECT kind, detail, at FROM interventions WHERE consumer = ? ORDER BY at", (consumer,))
        return [(k, d, float(a)) for k, d, a in rows]

    def record_stream_start(self, consumer: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Where ``consumer`` starts reading ``topic`` in this ledger's story (kept if already recorded)."""
        statement = self._sql(
            'INSERT INTO stream_starts (consumer, topic, "partition", "offset") VALUES (?, ?, ?, ?) '
            'ON CONFLICT (consumer, topic, "partition") DO NOTHING'
        )
        self._insert_many(statement, [(consumer, topic, int(p), int(o)) for p, o in sorted(offsets.items())])

    def stream_starts(self, consumer: str, topic: str) -> dict[int, int]:
        rows = self._rows('SELECT "partition", "offset" FROM stream_starts WHERE consumer = ? AND topic = ?', (consumer, topic))
        return {int(p): int(o) for p, o in rows}

    def story(self) -> dict[str, str]:
        """What the ledger's story was written against (``cluster_id``, ``topic:<name>`` ids); empty if new."""
        return {str(k): str(v) for k, v in self._rows("SELECT name, value FROM story")}

    def record_story(self, identity: Mapping[str, str]) -> None:
        statement = self._sql("INSERT INTO story (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        self._insert_many(statement, [(k, v) for k, v in sorted(identity.items())])

    def crash_counts(self) -> dict[str, int]:
        """Crash rows per consumer (group id)."""
        return {c: int(n) for c, n in self._rows("SELECT consumer, COUNT(*) FROM crashes GROUP BY consumer")}

    def crashes_of(self, consumer: str) -> list[tuple[str, float]]:
        """(point, at) of every crash of ``consumer``, oldest first."""
        return [(p, float(a)) for p, a in self._rows("SELECT point, at FROM crashes WHERE consumer = ? ORDER BY at", (consumer,))]

    def effects_after(self, after_id: int, limit: int = 500) -> list[EffectRow]:
        """Effects with id > ``after_id``, oldest first: the live view tails the ledger with this."""
        rows = self._rows(
            'SELECT id, event_id, consumer, "partition", "offset", attempt, at FROM effects WHERE id > ? ORDER BY id LIMIT ?',
            (after_id, limit),
        )
        return [EffectRow(int(i), e, c, _int_or_none(p), _int_or_none(o), int(a), float(t)) for i, e, c, p, o, a, t in rows]


def _passed_condition(committed: Mapping[int, int]) -> tuple[str, list[int]]:
    """SQL for "this acked event lies below its partition's committed offset"."""
    parts = []
    params: list[int] = []
    for partition, offset in sorted(committed.items()):
        parts.append('(a."partition" = ? AND a."offset" < ?)')
        params += [int(partition), int(offset)]
    return " OR ".join(parts), params


def _chunks(values: Sequence[Any], size: int) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).strip().splitlines()[:1]).strip()
    return text or type(exc).__name__
