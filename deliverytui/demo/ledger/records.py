"""What the ledger hands back and takes in: acknowledged sends, effect rows, and malformed-record actions.

Kept apart from the SQL so that callers (producer, consumers, the live view) can name
these types without reading how they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

SKIPPED = "skipped"
"""What a consumer did with a record that is not JSON: nothing to process, committed past."""
PROCESSED_WITHOUT_DEDUP = "processed-without-dedup"
"""What a consumer did with a JSON event without ``event_id``: processed anyway, with no dedup (the chapter)."""


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
