"""The one interface every idempotency store implements, and the logic they share.

Why a lease and not the chapter's "mark processed": marking before the side effect
loses the event if the consumer crashes in between; marking after duplicates it if
the consumer crashes after the effect. A *claim with a lease* is "in progress"
until the consumer calls :meth:`DedupStore.complete`; if the consumer dies, the
lease expires and the next delivery retakes the key, so nothing is lost, and a
completed key is a duplicate, so nothing is done twice (as long as the effect
finishes within the lease). :meth:`DedupStore.mark_if_new` keeps the chapter's
simpler one-step pattern, done atomically, for effects where losing an event on a
crash is acceptable.

Every decision bumps the group's counters *in the same atomic step* as the claim,
so the counters another process reads are exactly the decisions taken.
"""

from __future__ import annotations

import abc
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from deliverytui.dedup.errors import DedupStoreError, StoreUnavailableError
from deliverytui.dedup.url import Backend, StoreUrl, parse_store_url, scrub_secret
from deliverytui.errors import one_line
from deliverytui.model.dedup import Claim, ClaimOutcome, DedupCounters, KeyCount, make_claims

DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600
"""How long a completed key is remembered: longer than any redelivery you expect."""

COUNTERS_TABLE = "deliverytui_counters"
"""Fixed name, so the TUI finds the counters knowing only the URL and the group."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

_T = TypeVar("_T")


def new_token() -> str:
    """A fresh owner token for one claim attempt (keep it across retries of that attempt)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class StateTransition:
    """Pattern 3's request: move the row whose ``key_column`` is ``key`` in ``table`` from
    ``from_state`` to ``to_state`` (in ``state_column``); one value, so each backend's
    ``_transition`` takes it whole instead of repeating six parameters."""

    table: str
    key_column: str
    key: Any
    state_column: str
    from_state: Any
    to_state: Any


@dataclass(frozen=True, slots=True)
class BatchTransition:
    """Pattern 3 for a batch: move every row of ``keys`` (no key twice) from ``from_state`` to ``to_state``."""

    table: str
    key_column: str
    keys: tuple[Any, ...]
    state_column: str
    from_state: Any
    to_state: Any


def write_rounds(keys: Sequence[Any]) -> list[list[int]]:
    """Positions of ``keys`` grouped so that no group holds a key twice, in order of occurrence.

    One SQL statement cannot change a row twice (PostgreSQL refuses it), and a repeat must
    be decided *after* the write before it, as single calls would decide it: the first
    occurrence of every key goes in the first round, the second in the next, and so on.
    A batch without repeats is one round.
    """
    rounds: list[list[int]] = []
    seen: dict[Any, int] = {}
    for position, key in enumerate(keys):
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        if occurrence == len(rounds):
            rounds.append([])
        rounds[occurrence].append(position)
    return rounds


class DedupStore(abc.ABC):
    """An idempotency store for one consumer group.

    Open one with :func:`deliverytui.dedup.open_store`. Connection is lazy and
    self-healing: when the server is unreachable, every operation raises
    :class:`StoreUnavailableError` (one line, password-free) and the next call
    after the server is back reconnects by itself.
    """

    backend: Backend
    unavailable_hint: str = "is the server running?"
    """Said after "is unreachable: <reason>" — what the user should check first."""
    max_batch: int = 1000
    """Keys per atomic step in :meth:`claim_many`; larger batches are split."""

    def __init__(
        self,
        url: str | StoreUrl,
        *,
        group: str,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        create_schema: bool = True,
    ) -> None:
        self.url = url if isinstance(url, StoreUrl) else parse_store_url(url)
        if not group:
            raise DedupStoreError("a dedup store needs a consumer group name for its counters")
        if retention_seconds <= 0:
            raise DedupStoreError(f"retention must be positive, got {retention_seconds!r} seconds")
        self.group = group
        self.retention_seconds = float(retention_seconds)
        self.create_schema = create_schema
        self._pending_errors = 0

    # -- lifecycle ----------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The store URL with its password redacted."""
        return self.url.display

    async def connect(self) -> None:
        """Connect now (instead of on first use), so a wrong URL fails at start-up."""
        async with self._operation():
            await self._connect()

    @abc.abstractmethod
    async def close(self) -> None:
        """Close connections; the store may not be used afterwards."""

    async def __aenter__(self) -> DedupStore:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- pattern 1 with a lease -------------------------------------------------------

    async def claim(self, key: str, *, lease_seconds: float, token: str | None = None) -> Claim:
        """Atomically claim ``key`` for ``lease_seconds`` (see :class:`ClaimOutcome`).

        Pass the same ``token`` when retrying the *same* attempt after a
        :class:`StoreUnavailableError`: if the first try did reach the store, the
        retry is recognised as the same owner and still owns the key.
        """
        return (await self.claim_many([key], lease_seconds=lease_seconds, token=token))[0]

    async def claim_many(
        self, keys: Sequence[str], *, lease_seconds: float, token: str | None = None
    ) -> list[Claim]:
        """Claim many keys with one token, in as few round trips as the backend allows.

        Each chunk of :attr:`max_batch` keys is one atomic step. A key repeated in
        ``keys`` is decided once; its later occurrences are ``IN_PROGRESS``
        (this batch holds the lease), so the effect runs once.
        """
        if lease_seconds <= 0:
            raise DedupStoreError(f"lease must be positive, got {lease_seconds!r} seconds")
        token = _checked_token(token)
        keys = _checked_keys(keys)
        unique = list(dict.fromkeys(keys))
        decided: list[tuple[ClaimOutcome, float | None]] = []
        for start in range(0, len(unique), self.max_batch):
            chunk = unique[start : start + self.max_batch]
            async with self._operation():
                errors = self._pending_errors
                decided += await self._claim_unique(chunk, lease_seconds, token, errors)
                self._pending_errors -= errors
        if len(unique) == len(keys):  # the common case: no key repeated in the batch
            return make_claims(keys, decided, token)
        by_key = dict(zip(unique, decided, strict=True))
        claims: list[Claim] = []
        seen: set[str] = set()
        for key in keys:
            outcome, expires = by_key[key]
            if key in seen:
                outcome, expires = ClaimOutcome.IN_PROGRESS, None
            seen.add(key)
            claims.append(Claim(key=key, outcome=outcome, token=token, lease_expires_at=expires))
        return claims

    async def complete(self, key: str, token: str) -> bool:
        """Mark ``key`` done. False if ``token`` no longer owns it (lease retaken or released).

        Idempotent: calling it again with the same token (a retry after a lost
        reply) is still True.
        """
        return await self.complete_many([key], token) == 1

    async def complete_many(self, keys: Iterable[str], token: str) -> int:
        """Mark every key owned by ``token`` done; returns how many are done by ``token``."""
        checked = list(dict.fromkeys(_checked_key(key) for key in keys))
        token = _checked_token(token)
        done = 0
        for start in range(0, len(checked), self.max_batch):
            async with self._operation():
                done += await self._complete(checked[start : start + self.max_batch], token)
        return done

    async def release(self, key: str, token: str) -> bool:
        """Give up a claim after a failed effect so the next delivery is FIRST again.

        False if ``token`` no longer owns the key.
        """
        key, token = _checked_key(key), _checked_token(token)
        async with self._operation():
            return await self._release(key, token)

    # -- the chapter's plain pattern 1 -------------------------------------------------

    async def mark_if_new(self, key: str) -> bool:
        """Atomically record ``key`` as processed; True if it was not there before.

        This is the chapter's ``processed:{event_id}`` with a TTL, without its
        check-then-set race. Trade-off (documented, not fixed): call it *before*
        the effect and a crash in between loses the event; call it *after* and a
        crash in between duplicates it. Use :meth:`claim` when neither is acceptable.
        A key currently held by a lease counts as not new.
        """
        key = _checked_key(key)
        async with self._operation():
            errors = self._pending_errors
            new = await self._mark_if_new(key, errors)
            self._pending_errors -= errors
            return new

    async def prune(self, older_than_seconds: float | None = None) -> int:
        """Delete keys completed longer ago than the retention; returns how many.

        Redis expires keys by itself (TTL), so there this returns 0.
        """
        age = self.retention_seconds if older_than_seconds is None else older_than_seconds
        if age < 0:
            raise DedupStoreError(f"prune age must not be negative, got {age!r} seconds")
        async with self._operation():
            return await self._prune(age)

    # -- patterns 2 and 3 (SQL only) ------------------------------------------------------

    async def upsert_row(
        self, table: str, key_column: str, key: Any, values: Mapping[str, Any]
    ) -> bool:
        """Pattern 2: upsert on a natural key; True if the write changed anything.

        A redelivery writing the same values changes nothing: that is a hit. The
        table must have a unique constraint on ``key_column``.
        """
        return await self._write_counting_errors(lambda errors: self._upsert_row(table, key_column, key, dict(values), errors))

    async def transition(
        self, table: str, key_column: str, key: Any, state_column: str, from_state: Any, to_state: Any
    ) -> bool:
        """Pattern 3: move a row from ``from_state`` to ``to_state``; True if it moved.

        False means the row was not in ``from_state`` — already moved (a
        duplicate, counted as a hit) or absent.
        """
        move = StateTransition(table, key_column, key, state_column, from_state, to_state)
        return await self._write_counting_errors(lambda errors: self._transition(move, errors))

    async def upsert_rows(
        self, table: str, key_column: str, rows: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[bool]:
        """Pattern 2 for a batch: one multi-row upsert; for each ``(key, values)`` whether it changed anything.

        Every row must name the same columns. Each row is decided exactly as :meth:`upsert_row`
        would decide it, and counted the same (a miss if it changed, else a hit), in one round
        trip — a key repeated in ``rows`` takes one more (see :func:`write_rounds`).
        """
        rows = list(rows)
        if not rows:
            return []
        columns = tuple(rows[0][1])
        if any(tuple(values) != columns for _key, values in rows):
            raise self._store_error(f"every row upserted into {table} in one batch must name the same columns")
        changed = [False] * len(rows)
        for positions in write_rounds([key for key, _values in rows]):
            keys = [rows[p][0] for p in positions]
            values = [tuple(rows[p][1][c] for c in columns) for p in positions]
            written = await self._write_counting_errors(
                lambda errors, keys=keys, values=values: self._upsert_rows(table, key_column, columns, keys, values, errors)
            )
            for position in positions:
                changed[position] = rows[position][0] in written
        return changed

    async def transition_many(
        self, table: str, key_column: str, keys: Sequence[Any], state_column: str, from_state: Any, to_state: Any
    ) -> list[bool]:
        """Pattern 3 for a batch: one conditional update over ``keys``; for each key whether it moved.

        One statement, returning the rows it changed. A key repeated in ``keys`` moves at most
        once: its first occurrence says True, the repeats False (a hit, as a single
        :meth:`transition` right after the first would say).
        """
        keys = list(keys)
        if not keys:
            return []
        move = BatchTransition(table, key_column, tuple(dict.fromkeys(keys)), state_column, from_state, to_state)
        moved = await self._write_counting_errors(lambda errors: self._transition_many(move, len(keys), errors))
        answer: list[bool] = []
        for key in keys:
            answer.append(key in moved)
            moved.discard(key)  # a repeat of a moved key is a hit
        return answer

    async def _write_counting_errors(self, write: Callable[[int], Awaitable[_T]]) -> _T:
        """Run one SQL write under :meth:`_operation`, handing it the errors not yet counted;
        the write adds them to the store's counters, so they are taken off the pending ones."""
        async with self._operation():
            errors = self._pending_errors
            result = await write(errors)
            self._pending_errors -= errors
            return result

    # -- observation ---------------------------------------------------------------------

    async def read_counters(self, group: str | None = None) -> DedupCounters | None:
        """The counters of ``group`` (default: this store's group), or None if it has none.

        One key/row lookup: cheap enough to poll every second.
        """
        async with self._operation():
            return await self._read_counters(group or self.group)

    async def list_counter_groups(self, limit: int = 1000) -> tuple[str, ...]:
        """Groups that have counters in this store (at most ``limit``), sorted."""
        async with self._operation():
            return tuple(sorted(await self._list_counter_groups(limit)))

    async def keys_held(self) -> KeyCount:
        """How many dedup keys the store holds (bounded cost; may be an estimate)."""
        async with self._operation():
            return await self._keys_held()

    # -- what backends implement ------------------------------------------------------------

    @abc.abstractmethod
    async def _connect(self) -> None: ...

    @abc.abstractmethod
    async def _drop_connection(self) -> None:
        """Forget a broken connection so the next call reconnects."""

    @abc.abstractmethod
    def _unavailable_reason(self, exc: BaseException) -> str | None:
        """A one-line reason if ``exc`` means "store unreachable", else None (a bug)."""

    @abc.abstractmethod
    async def _claim_unique(
        self, keys: list[str], lease_seconds: float, token: str, errors: int
    ) -> list[tuple[ClaimOutcome, float | None]]: ...

    @abc.abstractmethod
    async def _complete(self, keys: list[str], token: str) -> int: ...

    @abc.abstractmethod
    async def _release(self, key: str, token: str) -> bool: ...

    @abc.abstractmethod
    async def _mark_if_new(self, key: str, errors: int) -> bool: ...

    @abc.abstractmethod
    async def _prune(self, older_than_seconds: float) -> int: ...

    async def _upsert_row(
        self, table: str, key_column: str, key: Any, values: dict[str, Any], errors: int
    ) -> bool:
        """One row is a batch of one: every SQL store writes both through the same statement."""
        return key in await self._upsert_rows(table, key_column, tuple(values), [key], [tuple(values.values())], errors)

    async def _transition(self, move: StateTransition, errors: int) -> bool:
        """One key is a batch of one (see :meth:`_upsert_row`)."""
        batch = BatchTransition(move.table, move.key_column, (move.key,), move.state_column, move.from_state, move.to_state)
        return move.key in await self._transition_many(batch, 1, errors)

    async def _upsert_rows(
        self, table: str, key_column: str, columns: tuple[str, ...], keys: list[Any], values: list[tuple[Any, ...]],
        errors: int,
    ) -> set[Any]:
        """The keys (none twice) whose rows the multi-row upsert inserted or changed; counts hits and misses."""
        raise self._needs_sql("upsert on a natural key")

    async def _transition_many(self, move: BatchTransition, decisions: int, errors: int) -> set[Any]:
        """The keys of ``move`` that moved; counts ``decisions`` (repeats included): a miss per move, the rest hits."""
        raise self._needs_sql("a conditional state transition")

    def _needs_sql(self, what: str) -> DedupStoreError:
        return DedupStoreError(f"{what} needs a SQL store (postgresql:// or sqlite:///), not {self.display_url}")

    @abc.abstractmethod
    async def _read_counters(self, group: str) -> DedupCounters | None: ...

    @abc.abstractmethod
    async def _list_counter_groups(self, limit: int) -> list[str]: ...

    @abc.abstractmethod
    async def _keys_held(self) -> KeyCount: ...

    # -- shared error handling ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _operation(self) -> AsyncIterator[None]:
        """Turn "server unreachable" into one-line StoreUnavailableError and count it.

        The error is counted locally and added to the store's counters with the
        next successful counted operation (the store cannot count while it is down).
        """
        try:
            yield
        except DedupStoreError:
            self._pending_errors += 1
            raise
        except Exception as exc:
            reason = self._unavailable_reason(exc)
            if reason is None:
                raise
            self._pending_errors += 1
            with contextlib.suppress(Exception):
                await self._drop_connection()
            raise StoreUnavailableError(self._unavailable_message(reason)) from exc

    def _unavailable_message(self, reason: str) -> str:
        reason = scrub_secret(one_line(reason), self.url.raw).rstrip(". ")
        hint = self.unavailable_hint
        if any(word in reason.lower() for word in ("password", "auth", "permission denied", "noperm")):
            hint = "check the user and password in the URL"
        return f"dedup store {self.display_url} is unreachable: {reason} — {hint}"

    def _store_error(self, what: str) -> DedupStoreError:
        """A one-line error about something the user must fix in their schema or call."""
        return DedupStoreError(scrub_secret(f"dedup store {self.display_url}: {what}", self.url.raw))


_STR_ONLY = frozenset({str})


def _checked_keys(keys: Iterable[str]) -> list[str]:
    """``[_checked_key(key) for key in keys]``, with the common all-valid case checked in C."""
    keys = list(keys)
    if set(map(type, keys)) <= _STR_ONLY and "" not in keys:
        return keys
    return [_checked_key(key) for key in keys]


def _checked_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise DedupStoreError(f"a dedup key must be a non-empty string, got {key!r}")
    return key


def _checked_token(token: str | None) -> str:
    if token is None:
        return new_token()
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise DedupStoreError("an owner token must be 1-64 letters, digits, '_' or '-'")
    return token
