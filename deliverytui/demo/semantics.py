"""The seven demo consumers: which delivery semantic each shows, its group, and where it can crash.

Why a table and not seven classes: the TUI, the supervisor, the headless runner and the
auditor all need the same facts (group name, valid crash points), so they live in one
place. Crash points are only the ones where a crash *means* something for that
semantic: ``after-claim`` exists only where there is a claim, ``mid-transaction`` only
where there is a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from deliverytui.errors import UserFacingError

AFTER_COMMIT = "after-commit"
AFTER_EFFECT = "after-effect"
AFTER_CLAIM = "after-claim"
MID_TRANSACTION = "mid-transaction"
AFTER_ACK = "after-ack"
"""The queue consumer acknowledged the record (ACCEPT) and committed the acknowledgement: harmless."""
CRASH_POINTS: tuple[str, ...] = (AFTER_COMMIT, AFTER_EFFECT, AFTER_CLAIM, MID_TRANSACTION, AFTER_ACK)
KILLED = "killed"
"""The crash point recorded when the supervisor SIGKILLs a consumer at an arbitrary moment."""

SHARE_DELIVERY_COUNT_LIMIT = 5
"""Kafka's default ``group.share.delivery.count.limit``, which the embedded broker keeps: after this many
deliveries a record no consumer accepted is archived (the queue consumer's poison lesson)."""
SHARE_RECORD_LOCK_SECONDS = 4.0
"""The embedded broker's ``group.share.record.lock.duration.ms`` (``deliverytui.broker.properties``), in seconds."""
SHARE_SESSION_TIMEOUT_SECONDS = 6.0
"""The embedded broker's ``group.share.session.timeout.ms``: a dead worker keeps its partitions this long."""
SHARE_REDELIVERY_SECONDS = SHARE_SESSION_TIMEOUT_SECONDS + SHARE_RECORD_LOCK_SECONDS + 2.0
"""After a worker died, by when what it held has come back to a live one (its session ended, the lock expired)."""

class Semantic(StrEnum):
    """The seven delivery semantics (``queue`` is a share group, KIP-932, not a consumer group). A ``StrEnum`` so a member *is* its name: it compares equal to
    the string, formats as it, and goes into JSON, file names and command lines unchanged."""

    AT_MOST_ONCE = "at-most-once"
    AT_LEAST_ONCE = "at-least-once"
    IDEMPOTENT = "idempotent"
    UPSERT = "upsert"
    STATE_CHECK = "state-check"
    EXACTLY_ONCE = "exactly-once"
    QUEUE = "queue"


DEDUP_SEMANTICS = frozenset({Semantic.IDEMPOTENT, Semantic.UPSERT, Semantic.STATE_CHECK})
"""The three idempotency patterns, which keep state (and hit counters) in a dedup store."""
SQL_SEMANTICS = frozenset({Semantic.UPSERT, Semantic.STATE_CHECK})
"""Upsert and state transition write SQL rows; a Redis store cannot hold them."""

OUTPUT_TOPIC_SUFFIX = ".processed"
"""The exactly-once consumer writes ``<topic>.processed``; its committed records are that consumer's effects."""


@dataclass(frozen=True, slots=True)
class SemanticSpec:
    """One demo consumer: ``group`` is its consumer group before any test/user prefix."""

    name: Semantic
    group: str
    description: str
    crash_points: tuple[str, ...]
    instances: int = 1
    """Processes the lab runs for it: the queue runs two members of one share group, sharing partitions."""

    def group_id(self, group_prefix: str = "") -> str:
        """The real consumer group id: ``group_prefix`` keeps concurrent runs (tests) apart."""
        return f"{group_prefix}{self.group}"

    @property
    def uses_dedup_store(self) -> bool:
        """True for the three idempotency patterns, which keep state (and hit counters) in a store."""
        return self.name in DEDUP_SEMANTICS

    @property
    def needs_sql_store(self) -> bool:
        """Upsert and state transition need SQL rows; a Redis store cannot hold them."""
        return self.name in SQL_SEMANTICS

    @property
    def transactional(self) -> bool:
        """Exactly-once alone reads and writes inside Kafka transactions (read_committed, a batch each)."""
        return self.name is Semantic.EXACTLY_ONCE

    @property
    def share_group(self) -> bool:
        """The queue alone is a share group: no committed offsets, records acknowledged one by one."""
        return self.name is Semantic.QUEUE

    @property
    def group_type(self) -> str:
        """``share`` or ``consumer``: the hint a viewer of the group needs (a share group is described differently)."""
        return "share" if self.share_group else "consumer"


SEMANTICS: dict[Semantic, SemanticSpec] = {
    spec.name: spec
    for spec in (
        SemanticSpec(
            Semantic.AT_MOST_ONCE,
            "analytics-service",
            "commits the offset before the effect: a crash in between loses the event, never repeats it",
            (AFTER_COMMIT, AFTER_EFFECT),
        ),
        SemanticSpec(
            Semantic.AT_LEAST_ONCE,
            "notification-service",
            "runs the effect, then commits: a crash in between repeats the effect, never loses it",
            (AFTER_EFFECT, AFTER_COMMIT),
        ),
        SemanticSpec(
            Semantic.IDEMPOTENT,
            "idempotent-notifier",
            "at-least-once plus a dedup key claimed with a lease: repeats are caught, crashes are retaken",
            (AFTER_CLAIM, AFTER_EFFECT, AFTER_COMMIT),
        ),
        SemanticSpec(
            Semantic.UPSERT,
            "task-projection",
            "at-least-once writing a row keyed by task_id: a repeat writes the same values and changes nothing",
            (AFTER_EFFECT, AFTER_COMMIT),
        ),
        SemanticSpec(
            Semantic.STATE_CHECK,
            "task-completer",
            "at-least-once moving a task pending -> completed only if still pending: a repeat finds it done",
            (AFTER_EFFECT, AFTER_COMMIT),
        ),
        SemanticSpec(
            Semantic.EXACTLY_ONCE,
            "order-processor",
            "consume-transform-produce in a Kafka transaction: output and offsets commit together or not at all",
            (MID_TRANSACTION, AFTER_COMMIT),
        ),
        SemanticSpec(
            Semantic.QUEUE,
            "queue-workers",
            "two workers share the partitions of a share group: a record not acknowledged in time comes back, "
            f"counted; after {SHARE_DELIVERY_COUNT_LIMIT} deliveries it is archived",
            (AFTER_EFFECT, AFTER_ACK),
            instances=2,
        ),
    )
}


CONSUMER_GROUP_SEMANTICS: tuple[Semantic, ...] = tuple(name for name, spec in SEMANTICS.items() if not spec.share_group)
"""The six consumer-group semantics: what the benchmarks (soak, nemesis, commit batching) run. The queue is
not in them yet: it has no commit batching to measure, and its behaviour under broker kills is untested."""


def semantic_spec(name: str) -> SemanticSpec:
    """The spec for ``name`` (a :class:`Semantic` or its string), or a one-line error naming the valid ones."""
    try:
        return SEMANTICS[name]
    except KeyError:
        raise UserFacingError(f"unknown semantic {name!r}; choose one of {', '.join(SEMANTICS)}") from None


def check_crash_point(semantic: str, point: str) -> str:
    """``point`` if it applies to ``semantic``, else a one-line error listing those that do."""
    spec = semantic_spec(semantic)
    if point not in spec.crash_points:
        raise UserFacingError(
            f"crash point {point!r} does not apply to {semantic}; choose one of {', '.join(spec.crash_points)}"
        )
    return point


def output_topic(topic: str) -> str:
    """Where the exactly-once consumer writes its results for input ``topic``."""
    return f"{topic}{OUTPUT_TOPIC_SUFFIX}"


def transactional_id(semantic: str, group_prefix: str = "") -> str:
    """Stable per semantic and prefix, so a restarted consumer fences its zombie predecessor."""
    return f"{semantic_spec(semantic).group_id(group_prefix)}-tx"


def default_dedup_url(run_dir: str | Path) -> str:
    """The idempotency store a run dir gets when the user names none: one SQLite file."""
    return f"sqlite:///{Path(run_dir) / 'dedup.db'}"


def store_url_for(semantic: str, dedup_url: str | None, run_dir: str | Path) -> str | None:
    """Which store ``semantic`` uses: None for those without one.

    The idempotent consumer uses ``dedup_url`` (any backend). Upsert and state-check
    need SQL rows: they use ``dedup_url`` when it is PostgreSQL or SQLite and the run
    dir's SQLite file when it is Redis.
    """
    spec = semantic_spec(semantic)
    if not spec.uses_dedup_store:
        return None
    url = dedup_url or default_dedup_url(run_dir)
    if spec.needs_sql_store and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return default_dedup_url(run_dir)
    return url


CRASH_STORIES: dict[tuple[Semantic, str], str] = {
    (Semantic.AT_MOST_ONCE, AFTER_COMMIT): "offset committed, effect not done — the LOSS story",
    (Semantic.AT_MOST_ONCE, AFTER_EFFECT): "committed first, effect done — harmless",
    (Semantic.AT_LEAST_ONCE, AFTER_EFFECT): "effect done, offset not committed — the DUPLICATE story",
    (Semantic.IDEMPOTENT, AFTER_EFFECT): "effect done, not committed — redelivered, and the dedup store catches it (a hit)",
    (Semantic.IDEMPOTENT, AFTER_CLAIM): "key claimed, effect not done — the lease expires and the key is retaken: nothing lost",
    (Semantic.UPSERT, AFTER_EFFECT): "row written, not committed — redelivered; the same upsert changes nothing (a hit)",
    (Semantic.STATE_CHECK, AFTER_EFFECT): "task completed, not committed — redelivered; it finds the task done (a hit)",
    (Semantic.EXACTLY_ONCE, MID_TRANSACTION): "output produced, transaction not committed — aborted: read_committed never sees it",
    (Semantic.QUEUE, AFTER_EFFECT): "effect done, not acknowledged — the lock expires, redelivered with delivery count 2: a DUPLICATE",
    (Semantic.QUEUE, AFTER_ACK): "acknowledged and committed — harmless: nothing lost, nothing repeated",
}
"""What a crash at each point does to each semantic — the chapter's story, in one line (the crash menu)."""


def crash_story(semantic: str, point: str) -> str:
    """:data:`CRASH_STORIES`' line; an ``after-commit`` crash not listed there harms nothing."""
    story = CRASH_STORIES.get((Semantic(semantic), point))
    if story is None and point == AFTER_COMMIT:
        return "effect done and committed — harmless: nothing lost, nothing repeated"
    return story or ""
