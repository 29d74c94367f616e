"""The ledger's tables, and why each exists: created on first open, by SQLite and PostgreSQL alike.

``effects`` has no unique constraint on purpose: a second effect for the same event is
simply a second row, which is what the audit is there to find. ``{autoincrement}`` is
filled in per backend by :class:`~deliverytui.demo.ledger.connection.LedgerConnection`.
"""

from __future__ import annotations

SCHEMA = (    """CREATE TABLE IF NOT EXISTS acked_events (
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
    # Output records the exactly-once consumer knows were aborted (it aborted the transaction, or
    # crashed mid-transaction: the restarted producer's init_transactions aborts it), with where the
    # delivery report put them. A read_committed reader that sees one of these positions has made an
    # aborted read (Jepsen's G1a).
    """CREATE TABLE IF NOT EXISTS aborted_outputs (
        topic TEXT NOT NULL,
        out_partition INTEGER NOT NULL,
        out_offset BIGINT NOT NULL,
        event_id TEXT,
        consumer TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (topic, out_partition, out_offset)
    )""",
    # The queue consumer's failed attempts (a poison event, released each time): one row per delivery,
    # with the broker's delivery count, so the audit can show an archived event's whole history.
    """CREATE TABLE IF NOT EXISTS queue_failures (
        consumer TEXT NOT NULL,
        event_id TEXT NOT NULL,
        "partition" INTEGER NOT NULL,
        "offset" BIGINT NOT NULL,
        delivery_count INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS queue_failures_by_consumer ON queue_failures (consumer, event_id)",
    # New acks since the last audit, for the inconsistent-offsets check (two events at one offset).
    "CREATE INDEX IF NOT EXISTS acked_events_by_time ON acked_events (acked_at)",
)

EFFECT_TABLES = ("effects", "outputs")
"""The tables that hold effects: a consumer's side effects, or the exactly-once consumers' outputs."""


def effects_table(name: str) -> str:
    """``name`` if it is one of :data:`EFFECT_TABLES` (it is put into SQL text, so nothing else passes)."""
    if name not in EFFECT_TABLES:
        raise ValueError(f"not an effects table: {name!r}")
    return name
