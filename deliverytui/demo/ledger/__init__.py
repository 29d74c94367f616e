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

from deliverytui.demo.ledger.anomaly_reads import AnomalyReads
from deliverytui.demo.ledger.audit_reads import AuditReads
from deliverytui.demo.ledger.connection import LedgerError, LedgerUnavailableError, sqlite_ledger_url
from deliverytui.demo.ledger.queue_reads import QueueReads
from deliverytui.demo.ledger.records import PROCESSED_WITHOUT_DEDUP, SKIPPED, AckedEvent, EffectRow
from deliverytui.demo.ledger.story import StoryRecords
from deliverytui.demo.ledger.tally_reads import TallyReads
from deliverytui.demo.ledger.writes import LedgerWrites

__all__ = [
    "PROCESSED_WITHOUT_DEDUP",
    "SKIPPED",
    "AckedEvent",
    "EffectRow",
    "EffectsLedger",
    "LedgerError",
    "LedgerUnavailableError",
    "sqlite_ledger_url",
]


class EffectsLedger(LedgerWrites, AuditReads, TallyReads, AnomalyReads, StoryRecords, QueueReads):
    """A connection to the ledger at ``url`` (``sqlite:///path`` or ``postgresql://...``).

    One instance per process (it is not shared between threads: the producer thread
    opens its own). The schema is created on first open. Its methods live by concern in
    this package's modules: ``connection`` (open, plumbing), ``writes``, ``audit_reads``,
    ``tally_reads``, ``anomaly_reads`` (the Jepsen classes), ``story`` and ``queue_reads`` (the share group).
    """
