"""What an idempotency (dedup) store decided, and what it has counted: no I/O, no Textual.

A consumer asks the store to *claim* a message key before running its side effect.
The answer is a :class:`Claim` whose :class:`ClaimOutcome` tells the consumer what
to do. Every decision is also counted in the store itself (:class:`DedupCounters`),
so another process — the TUI — can read live hit rates without talking to the
consumer. When deliverytui did not write the store, the TUI can only sample it
(:class:`DedupSample`) and must say that its figures are estimates.

Rates are derived here, from successive counter reads, by the pure function
:func:`rate_over_window`, so screens never do arithmetic on raw counters.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from deliverytui.model.text import visible


class ClaimOutcome(enum.Enum):
    """The store's decision for one delivery of one key.

    ``FIRST`` and ``RETAKEN`` mean *you own the key now*: run the side effect, then
    ``complete`` (or ``release`` if the effect failed). ``DUPLICATE`` means the
    effect already happened: skip it and commit the offset. ``IN_PROGRESS`` means
    another consumer holds a live lease: do not run the effect and do not commit —
    retry later, because that other consumer may still die before finishing.
    """

    FIRST = "first"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"
    RETAKEN = "retaken"

    @property
    def owned(self) -> bool:
        """True when the caller now holds the lease and must run the side effect."""
        return self in (ClaimOutcome.FIRST, ClaimOutcome.RETAKEN)


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim decision, with the token that proves ownership.

    ``token`` is what :meth:`complete` and :meth:`release` check, so a consumer
    whose lease expired and was retaken by another cannot mark the other's work
    done. ``lease_expires_at`` is on the store's clock (epoch seconds) and is
    ``None`` when the caller does not own the key.
    """

    key: str
    outcome: ClaimOutcome
    token: str
    lease_expires_at: float | None = None

    @property
    def owned(self) -> bool:
        """True when the caller must run the side effect (FIRST or RETAKEN)."""
        return self.outcome.owned


_new = object.__new__
_set_key = Claim.key.__set__  # type: ignore[attr-defined]
_set_outcome = Claim.outcome.__set__  # type: ignore[attr-defined]
_set_token = Claim.token.__set__  # type: ignore[attr-defined]
_set_expires = Claim.lease_expires_at.__set__  # type: ignore[attr-defined]


def make_claims(
    keys: Sequence[str], decisions: Sequence[tuple[ClaimOutcome, float | None]], token: str
) -> list[Claim]:
    """``[Claim(key, outcome, token, expires) for key, (outcome, expires) in zip(keys, decisions)]``, faster.

    A batch claim builds one :class:`Claim` per key, and the frozen dataclass's
    ``__init__`` (four ``object.__setattr__`` calls) cost about as much as a Redis
    server spends on the claim itself. Setting the slots directly builds the same,
    equal, immutable objects in about half the time.
    """
    if len(keys) != len(decisions):
        raise ValueError(f"{len(keys)} keys but {len(decisions)} decisions")
    claims: list[Claim] = []
    append = claims.append
    for key, (outcome, expires) in zip(keys, decisions):
        claim = _new(Claim)
        _set_key(claim, key)
        _set_outcome(claim, outcome)
        _set_token(claim, token)
        _set_expires(claim, expires)
        append(claim)
    return claims


@dataclass(frozen=True, slots=True)
class DedupCounters:
    """Decisions a store has counted for one consumer group since the counters began.

    ``hits`` are duplicates caught (the store said "already done"), ``misses`` are
    first deliveries, ``retakes`` are claims taken over after a lease expired (a
    consumer died between claim and effect), ``in_progress`` are deliveries turned
    away because another consumer held a live lease, and ``errors`` are operations
    that failed (store unreachable, bad table); errors seen while the store was down
    are added on the next successful call, so they arrive late but are not lost
    while the consumer process lives.
    """

    group: str
    hits: int = 0
    misses: int = 0
    retakes: int = 0
    in_progress: int = 0
    errors: int = 0
    updated_at: datetime | None = None

    @property
    def decisions(self) -> int:
        """Every delivery the store decided on (errors excluded)."""
        return self.hits + self.misses + self.retakes + self.in_progress

    @property
    def hit_ratio(self) -> float | None:
        """Share of decided deliveries that were duplicates; ``None`` before any."""
        total = self.decisions
        return self.hits / total if total else None


@dataclass(frozen=True, slots=True)
class KeyCount:
    """How many dedup keys a store holds, and whether that number is exact.

    Counting is bounded so that observing a huge store stays cheap; beyond the
    bound the figure is an estimate and ``exact`` is False.
    """

    count: int
    exact: bool


@dataclass(frozen=True, slots=True)
class TtlBucket:
    """How many sampled keys expire within ``upper_s`` seconds (``None``: no TTL set)."""

    label: str
    upper_s: float | None
    count: int


@dataclass(frozen=True, slots=True)
class DedupSample:
    """A bounded, sampled look at a Redis key prefix that deliverytui did not write.

    ``estimated_keys`` extrapolates the share of sampled keys that match the
    prefix to the whole database (``DBSIZE``); ``complete`` is True when the scan
    visited the whole keyspace within its caps, and then the count is exact.
    ``scan_calls`` and ``keys_visited`` report what the sample cost.
    """

    prefix: str
    matched_keys: int
    keys_visited: int
    scan_calls: int
    db_size: int
    estimated_keys: int
    complete: bool
    ttl_buckets: tuple[TtlBucket, ...] = ()
    estimated: bool = True


@dataclass(frozen=True, slots=True)
class DedupPanelData:
    """Everything the TUI's dedup panel shows for one group and one store.

    When deliverytui counters exist for the group, ``counters`` is set and
    ``estimated`` is False. Otherwise the panel falls back to ``sample`` (Redis) or
    a key count, and ``estimated`` is True: the screen must say so. ``note`` is a
    one-line explanation fit for the screen.
    """

    store: str
    backend: str
    group: str
    counters: DedupCounters | None
    keys: KeyCount | None
    sample: DedupSample | None
    estimated: bool
    note: str
    known_groups: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # A store's group names (and the notes quoting them) were written by whichever consumer used it.
        for name in ("store", "group", "note"):
            object.__setattr__(self, name, visible(getattr(self, name)))
        object.__setattr__(self, "known_groups", tuple(visible(group) for group in self.known_groups))


@dataclass(frozen=True, slots=True)
class CounterSample:
    """One read of a group's counters, stamped with the reader's monotonic clock."""

    at: float
    counters: DedupCounters


@dataclass(frozen=True, slots=True)
class DedupRates:
    """Per-second rates over ``window_s`` seconds, from two counter reads.

    ``hit_ratio`` is over the window only (not since the counters began), because
    on-call engineers want to know what the store is catching *now*.
    """

    window_s: float
    hits_per_s: float
    misses_per_s: float
    retakes_per_s: float
    in_progress_per_s: float
    errors_per_s: float
    hit_ratio: float | None


def rate_over_window(samples: Sequence[CounterSample], window_s: float) -> DedupRates | None:
    """Rates between the newest sample and the oldest one within ``window_s`` of it.

    Samples must be in reading order. Returns ``None`` when fewer than two usable
    samples exist. If a counter went backwards (the counters were reset or the
    store was wiped), only samples after the reset are used, so a reset never
    shows as a negative rate.
    """
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    if len(samples) < 2:
        return None
    newest = samples[-1]
    start_index = 0
    for index in range(len(samples) - 1, 0, -1):
        if _went_backwards(samples[index - 1].counters, samples[index].counters):
            start_index = index
            break
    usable = [s for s in samples[start_index:] if newest.at - s.at <= window_s]
    if len(usable) < 2:
        return None
    oldest = usable[0]
    elapsed = newest.at - oldest.at
    if elapsed <= 0:
        return None
    new, old = newest.counters, oldest.counters
    hits = new.hits - old.hits
    misses = new.misses - old.misses
    retakes = new.retakes - old.retakes
    decided = hits + misses + retakes + (new.in_progress - old.in_progress)
    return DedupRates(
        window_s=elapsed,
        hits_per_s=hits / elapsed,
        misses_per_s=misses / elapsed,
        retakes_per_s=retakes / elapsed,
        in_progress_per_s=(new.in_progress - old.in_progress) / elapsed,
        errors_per_s=(new.errors - old.errors) / elapsed,
        hit_ratio=hits / decided if decided else None,
    )


def _went_backwards(before: DedupCounters, after: DedupCounters) -> bool:
    return (
        after.hits < before.hits
        or after.misses < before.misses
        or after.retakes < before.retakes
        or after.in_progress < before.in_progress
        or after.errors < before.errors
    )
