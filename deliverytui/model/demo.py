"""What the demo lab reports: consumer processes and the audit of what they did. No I/O, no Textual.

The audit follows Jepsen's queue checker: the *attempts* are the sends the broker
acknowledged; an acknowledged event the consumer group has committed past but never
produced an effect for is **lost**; a second effect for the same event is a
**duplicate**; an effect for an event nobody acknowledged is **unexpected**.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deliverytui.model.anomalies import AnomalyCounts
from deliverytui.model.text import visible, visible_or_none

LOST = "lost"
DUPLICATE = "duplicate"
UNEXPECTED = "unexpected"


@dataclass(frozen=True, slots=True)
class ConsumerProcessStatus:
    """One demo consumer process as the supervisor sees it.

    ``state`` is the consumer's own word while it runs ("starting", "running",
    "paused-store-down", "stopping") and the supervisor's otherwise ("not started",
    "stopped", "crashed", "exited"). ``processed`` counts messages handled across
    restarts of this run dir (a SIGKILL from outside may drop the last half second).
    ``crashes`` counts the ledger's crash rows for the group (armed crashes and kills).
    ``armed`` is the crash point waiting in ``<run-dir>/<semantic>.crash``, if any.
    """

    semantic: str
    group: str
    pid: int | None
    alive: bool
    state: str
    processed: int
    crashes: int
    armed: str | None
    exit_code: int | None
    updated_at: datetime | None
    note: str | None = None
    """While paused: the consumer's one-line reason (e.g. its dedup store or the ledger is unreachable)."""
    extra_instances: int = 0
    """Other instances of this consumer running in the same group (started to show a rebalance)."""

    def __post_init__(self) -> None:
        # The consumer's own words (its state, a store's or the ledger's error text) are shown on screen.
        object.__setattr__(self, "state", visible(self.state))
        object.__setattr__(self, "note", visible_or_none(self.note))


@dataclass(frozen=True, slots=True)
class OffendingEvent:
    """One event the audit flags; ``kind`` is ``lost``, ``duplicate`` or ``unexpected``."""

    event_id: str
    partition: int | None
    offset: int | None
    kind: str

    def __post_init__(self) -> None:
        # Event ids come from records on the topic, which anyone with Write on it produces.
        object.__setattr__(self, "event_id", visible(self.event_id))


REBALANCE = "rebalance"
RESTART = "restart"
RETRY = "retry"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One effect of a duplicated event: which instance (``"<n>:<pid>"``) did it, where it read the event."""

    instance: str | None
    partition: int | None
    offset: int | None
    at: float

    @property
    def number(self) -> str | None:
        return self.instance.split(":", 1)[0] if self.instance else None

    @property
    def pid(self) -> str | None:
        return self.instance.split(":", 1)[1] if self.instance and ":" in self.instance else None

    def describe(self) -> str:
        who = f"instance {self.number} (pid {self.pid})" if self.instance else "an unknown process"
        return f"{who} at partition {self.partition} offset {self.offset}"


@dataclass(frozen=True, slots=True)
class Redelivery:
    """A duplicated event and why it was done again, from the effects' instances.

    ``rebalance``: another instance of the group did it again (the partition changed
    owner before the first one committed); ``restart``: the same instance, a new
    process (a crash or kill before the commit); ``retry``: the same process did it
    twice; ``unknown``: effects recorded without an instance (an older ledger).
    """

    event_id: str
    cause: str
    attempts: tuple[Attempt, ...]
    because: str | None = None
    """What the lab records happened between the first attempt and the second (a crash at a point,
    a kill, a planned stop, a replay, a second instance joining), or another process holding the
    same instance id; None when nothing explains it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_id", visible(self.event_id))

    @staticmethod
    def classify(first: Attempt, second: Attempt) -> str:
        if first.instance is None or second.instance is None:
            return UNKNOWN
        if first.number != second.number:
            return REBALANCE
        return RESTART if first.pid != second.pid else RETRY

    def explain(self) -> str:
        """One line: who did it first and who did it again."""
        first, *again = self.attempts
        redo = "; again by ".join(a.describe() for a in again)
        reason = {
            REBALANCE: "after a rebalance moved the partition to another instance before the first committed",
            RESTART: "after that instance was restarted before it committed",
            RETRY: "by the same process (a retried message)",
            UNKNOWN: "(no instance recorded)",
        }[self.cause]
        if self.because:
            # The named cause (a crash point, a kill, a replay) comes first; how the event came back
            # (the rebalance to another instance, or the restart) stays in the line, so that the
            # teacher can point at both halves of the story.
            then = {
                REBALANCE: "; the rebalance that followed gave the partition to another instance",
                RESTART: "; the same instance restarted",
            }.get(self.cause, "")
            reason = f"after {self.because}{then}, before the first attempt's offset was committed"
        return f"{self.event_id}: done by {first.describe()}; again by {redo} — {reason}"


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A record on the topic that was not a usable event (``reason``: ``not-json`` or ``no-event-id``).

    ``action``: ``skipped`` (nothing to process) or ``processed-without-dedup`` (the chapter's
    "processing anyway"); ``times``: how often the consumer met it (above 1 after a redelivery).
    """

    partition: int
    offset: int
    reason: str
    action: str
    times: int

    def to_json(self) -> dict[str, Any]:
        return {"partition": self.partition, "offset": self.offset, "reason": self.reason, "action": self.action, "times": self.times}


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """An event the queue's broker archived: every delivery failed (a poison event), ``delivery_count`` times.

    Never lost: the broker kept it, marked archived, and stopped handing it out — which is
    what the delivery count limit is for. ``failed_attempts`` are the failures the ledger saw.
    """

    event_id: str
    delivery_count: int
    failed_attempts: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_id", visible(self.event_id))

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "delivery_count": self.delivery_count, "failed_attempts": self.failed_attempts}


@dataclass(frozen=True, slots=True)
class ConsumerAudit:
    """The audit of one demo consumer.

    ``produced``: acknowledged sends. ``processed``: acknowledged events the group's
    committed offset has passed. ``effects``: effect records (for exactly-once:
    committed output records). ``unique_effects``: distinct events with an effect.
    ``duplicates``: effects beyond the first per event. ``dedup_hits``: repeats the
    dedup store caught (its counters). Id lists and ``offending`` are capped
    (see ``truncated``) so a bad run of 100k events stays printable.
    """

    semantic: str
    group: str
    produced: int
    processed: int
    effects: int
    unique_effects: int
    duplicates: int
    lost: int
    unexpected: int
    dedup_hits: int
    crashes: int
    lost_event_ids: tuple[str, ...] = ()
    duplicate_event_ids: tuple[str, ...] = ()
    offending: tuple[OffendingEvent, ...] = ()
    truncated: bool = False
    notes: tuple[str, ...] = ()
    malformed: int = 0
    """Records that were not usable events (not JSON, or no ``event_id``): a warning, never a crash."""
    malformed_records: tuple[MalformedRecord, ...] = ()
    dedup_retakes: int = 0
    """Expired leases the dedup store let a later attempt take over (an after-claim crash, retaken)."""

    @property
    def malformed_warning(self) -> str | None:
        """One line on the malformed records, or None when there were none."""
        if not self.malformed:
            return None
        skipped = sum(1 for m in self.malformed_records if m.action == "skipped")
        anyway = len(self.malformed_records) - skipped
        detail = f"{skipped} not JSON (skipped), {anyway} without event_id (processed without dedup)"
        if len(self.malformed_records) < self.malformed:
            detail += f", of the first {len(self.malformed_records)}"
        return f"{self.malformed} malformed record(s) on the topic: {detail}"
    redeliveries: tuple[Redelivery, ...] = ()
    """Why each duplicated event (at most the id limit) was done again."""
    anomalies: AnomalyCounts = AnomalyCounts()
    """Jepsen's classes for this consumer (:mod:`deliverytui.model.anomalies`): 0 in a healthy run."""
    delivery_count_limit: int | None = None
    """The share group's delivery count limit: set for the queue consumer only (None: not a queue)."""
    archived_events: tuple[ArchivedEvent, ...] = ()
    """The queue's archived (poison) events, oldest first: counted apart, never as lost."""
    delivery_counts: dict[int, int] = field(default_factory=dict, hash=False)
    """The queue's histogram: deliveries that ended (an effect, or the archive) with each delivery count."""
    max_delivery_count: int = 0

    @property
    def is_queue(self) -> bool:
        return self.delivery_count_limit is not None

    @property
    def archived(self) -> int:
        return len(self.archived_events)

    def __post_init__(self) -> None:
        # Event ids come from records anyone with Write on the topic produces; notes quote stores' errors.
        for name in ("lost_event_ids", "duplicate_event_ids", "notes"):
            object.__setattr__(self, name, tuple(visible(text) for text in getattr(self, name)))

    @property
    def redelivery_causes(self) -> dict[str, int]:
        """Duplicated events per cause (``rebalance``, ``restart``, ``retry``, ``unknown``)."""
        counts: dict[str, int] = {}
        for redelivery in self.redeliveries:
            counts[redelivery.cause] = counts.get(redelivery.cause, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        """No loss, no duplicate, nothing unexpected."""
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "semantic": self.semantic,
            "group": self.group,
            "produced": self.produced,
            "processed": self.processed,
            "effects": self.effects,
            "unique_effects": self.unique_effects,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "unexpected": self.unexpected,
            "dedup_hits": self.dedup_hits,
            "dedup_retakes": self.dedup_retakes,
            "crashes": self.crashes,
            "lost_event_ids": list(self.lost_event_ids),
            "duplicate_event_ids": list(self.duplicate_event_ids),
            "offending": [
                {"event_id": o.event_id, "partition": o.partition, "offset": o.offset, "kind": o.kind}
                for o in self.offending
            ],
            "truncated": self.truncated,
            "notes": list(self.notes),
            "malformed": self.malformed,
            "malformed_records": [m.to_json() for m in self.malformed_records],
            "redeliveries": [
                {
                    "event_id": r.event_id,
                    "cause": r.cause,
                    "attempts": [
                        {"instance": a.instance, "partition": a.partition, "offset": a.offset, "at": a.at}
                        for a in r.attempts
                    ],
                    "explanation": r.explain(),
                }
                for r in self.redeliveries
            ],
            "anomalies": self.anomalies.to_json(),
            **(self.queue_json() if self.is_queue else {}),
        }

    def queue_json(self) -> dict[str, Any]:
        """The queue's own keys (JSON object keys are strings, so the histogram's counts become strings)."""
        return {
            "delivery_count_limit": self.delivery_count_limit,
            "archived": self.archived,
            "archived_event_ids": [a.event_id for a in self.archived_events],
            "archived_events": [a.to_json() for a in self.archived_events],
            "max_delivery_count": self.max_delivery_count,
            "delivery_counts": {str(count): n for count, n in sorted(self.delivery_counts.items())},
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """One audit of every demo consumer against the same acknowledged sends."""

    topic: str
    produced: int
    consumers: tuple[ConsumerAudit, ...]
    taken_at: datetime
    warnings: tuple[str, ...] = field(default=())
    anomalies: AnomalyCounts = AnomalyCounts()
    """The topic's own anomalies, whoever read it: two acknowledged events at one offset."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(visible(text) for text in self.warnings))

    def for_semantic(self, semantic: str) -> ConsumerAudit:
        for audit in self.consumers:
            if audit.semantic == semantic:
                return audit
        raise KeyError(semantic)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "produced": self.produced,
            "taken_at": self.taken_at.isoformat(),
            "warnings": list(self.warnings),
            "anomalies": self.anomalies.to_json(),
            "consumers": [audit.to_json() for audit in self.consumers],
        }


@dataclass(frozen=True, slots=True)
class LabEvent:
    """One line for the lab's event log; ``kind`` says how to show it (info, good, warning, crash, error)."""

    text: str
    kind: str = "info"

    def __post_init__(self) -> None:
        # Lines quote consumers' exit reasons, stores' and brokers' error texts, event ids: all shown raw otherwise.
        object.__setattr__(self, "text", visible(self.text))


@dataclass(frozen=True, slots=True)
class LabUpdate:
    """What one poll of the lab found: what the lab screen (or any other reader) renders.

    ``produced`` counts every acknowledged send of the story (earlier runs included);
    ``events`` are the lab's own lines since the previous poll (deaths, restarts, a new story,
    leftovers stopped); ``commit_every`` is each consumer's commit window (None: per message).
    """

    statuses: tuple[ConsumerProcessStatus, ...]
    audit: AuditReport | None
    produced: int
    rate: float
    error: str | None = None
    events: tuple[LabEvent, ...] = ()
    commit_every: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", visible_or_none(self.error))

    def audit_of(self, semantic: str) -> ConsumerAudit | None:
        if self.audit is None:
            return None
        return next((a for a in self.audit.consumers if a.semantic == semantic), None)
