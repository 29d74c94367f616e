"""The at-least-once family with ``--commit-every N``: a whole batch decided in one round trip to its store.

Why a loop apart from :func:`.handlers.run_per_message`: per message, every idempotency pattern
asks its store once per event, so with commits batched the store's round trips, not the commits,
set the pace (a pattern ran at a quarter of at-least-once's rate or less). Here up to N messages
are read at once and each pattern decides the whole batch in one round trip:

* **idempotent** — one ``claim_many`` for the batch's event ids, the effects of the keys it
  owns, one ``complete_many``;
* **upsert** — one multi-row upsert that says which rows changed;
* **state-check** — one insert of the task rows not seen yet, then one conditional update over
  the batch's keys that says which rows moved;
* **at-least-once** — nothing to decide: the same loop, so the comparison is fair.

Each event keeps the guarantee it has per message: nothing is committed before its effect
(commits go through :func:`.handlers.commit_after_effect`, every N messages), a decision that
cannot be made (a store down, a key leased by someone else) redoes the whole batch before any
effect, and every crash point still fires inside the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Message

from deliverytui.dedup import new_token
from deliverytui.demo.consumer.core import ConsumerCore
from deliverytui.demo.consumer.events import parse_event
from deliverytui.demo.consumer.handlers import commit_after_effect, run_per_message
from deliverytui.demo.consumer.options import QUIET_COMMIT_SECONDS, TASKS_TABLE, Retry
from deliverytui.demo.semantics import AFTER_CLAIM, AFTER_EFFECT, Semantic
from deliverytui.model.dedup import ClaimOutcome


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message of a batch: where it is, and its event (None, with ``problem``, for a malformed record)."""

    message: Message
    partition: int
    offset: int
    event: dict[str, Any] | None
    problem: str | None

    @classmethod
    def of(cls, message: Message) -> Delivery:
        event, problem = parse_event(message.value())
        return cls(message, message.partition() or 0, message.offset() or 0, event if problem is None else None, problem)

    @property
    def event_id(self) -> str:
        assert self.event is not None
        return str(self.event["event_id"])

    @property
    def task_id(self) -> str:
        assert self.event is not None
        return str(self.event.get("task_id") or self.event["event_id"])


Decide = Callable[[int], bool]
"""Whether the batch's event at that position (among its events) needs its effect; asked once, in order."""


def effects_then_commits(c: ConsumerCore, batch: list[Delivery], decide: Decide) -> None:
    """Per event, in the batch's order: its effect if ``decide`` says so, an ``after-effect`` crash
    point right after it, then its commit (every N messages) — exactly the per-message order."""
    position = 0
    for delivery in batch:
        if delivery.event is None:
            c.record_malformed(delivery.message, delivery.problem or "")
        else:
            if decide(position):
                c.effect(delivery.event_id, delivery.partition, delivery.offset)
                c.crash_if(AFTER_EFFECT)
            position += 1
        commit_after_effect(c, delivery.partition, delivery.offset)


def events_of(batch: list[Delivery]) -> list[Delivery]:
    return [delivery for delivery in batch if delivery.event is not None]


def at_least_once_batch(c: ConsumerCore, batch: list[Delivery]) -> None:
    """Every effect, each followed by its commit: a crash repeats the uncommitted part of the batch, never loses it."""
    effects_then_commits(c, batch, lambda _position: True)


def idempotent_batch(c: ConsumerCore, batch: list[Delivery]) -> None:
    """Claim the batch's keys (one round trip), run the owned ones' effects, complete them (one round trip), commit.

    * The claim is one atomic step per chunk: every key is FIRST/RETAKEN (ours, with a lease),
      DUPLICATE (done before: a hit, no effect) or IN_PROGRESS (leased by another owner). One
      IN_PROGRESS key sends the whole batch back before any effect (:class:`Retry`); the other
      owner's lease expires and the key is retaken — as per message. A key repeated in the batch
      is done once.
    * The process claims with one token all its life: a batch taken again after a :class:`Retry`
      may come back cut differently, and a key the first attempt claimed but the second did not
      take must still be this process's in a later batch, not a stranger's lease to wait out. One
      process decides its batches one after the other, so one owner per process is exact.
    * An ``after-claim`` crash here leaves every owned key leased and no effect done: the leases
      expire, the keys are retaken after the restart, nothing is lost.
    * ``complete_many`` marks the owned keys done once all their effects are recorded; an
      ``after-effect`` crash fires after it (the batch done, not committed: redelivered, every
      key a hit). A kill *between* an effect and the completion (no named crash point) repeats
      the effects done so far once the leases expire: per message that window is one effect, here
      it is the batch's — the price of completing in one round trip.
    """
    events = events_of(batch)
    if c.claim_token is None:
        c.claim_token = new_token()  # one owner per process: see the docstring
    token, lease = c.claim_token, c.options.lease_seconds
    keys = [delivery.event_id for delivery in events]
    claims = c.store_call(lambda store: store.claim_many(keys, lease_seconds=lease, token=token)) if keys else []
    owned = [claim.key for claim in claims if claim.owned]
    mine = set(owned)
    if any(claim.outcome is ClaimOutcome.IN_PROGRESS and claim.key not in mine for claim in claims):
        raise Retry(0.5)  # another consumer (or our dead predecessor) holds a lease: wait for it
    if not owned:
        effects_then_commits(c, batch, lambda _position: False)  # a redelivered batch: every key a hit
        return
    c.crash_if(AFTER_CLAIM)
    position = 0
    for delivery in batch:
        if delivery.event is None:
            c.record_malformed(delivery.message, delivery.problem or "")
            continue
        if claims[position].owned:
            c.effect(delivery.event_id, delivery.partition, delivery.offset)
        position += 1
    store = c.store
    assert store is not None
    c.until_store_answers(lambda: c.loop.run_until_complete(store.complete_many(owned, token)))
    c.crash_if(AFTER_EFFECT)
    for delivery in batch:
        commit_after_effect(c, delivery.partition, delivery.offset)


def upsert_batch(c: ConsumerCore, batch: list[Delivery]) -> None:
    """One multi-row upsert of the batch's task rows; an effect for each row it changed, then the commits.

    A redelivered event writes the same values and changes nothing (a hit, no effect) — unless
    its predecessor changed the row and was killed before recording the effect, which
    :meth:`ConsumerCore.unrecorded` finds, as per message.
    """
    events = events_of(batch)
    rows = [
        (d.task_id, {"title": d.event.get("title"), "created_at": d.event.get("created_at")})  # type: ignore[union-attr]
        for d in events
    ]
    changed = c.store_call(lambda store: store.upsert_rows(TASKS_TABLE, "task_id", rows)) if rows else []
    effects_then_commits(c, batch, lambda i: changed[i] or c.unrecorded(events[i].event_id))


def state_check_batch(c: ConsumerCore, batch: list[Delivery]) -> None:
    """Create the batch's task rows not seen yet, then one conditional update pending -> completed over
    all their keys, which returns the rows that moved; an effect for each of those, then the commits.

    A redelivered event finds its task completed already (a hit, no effect), or unrecorded
    (see :func:`upsert_batch`).
    """
    events = events_of(batch)
    task_ids = [delivery.task_id for delivery in events]
    tasks = c.tasks
    assert tasks is not None
    moved: list[bool] = []
    if task_ids:
        c.tasks_call(lambda: tasks.ensure_pending_many(task_ids))
        moved = c.store_call(
            lambda store: store.transition_many(TASKS_TABLE, "task_id", task_ids, "status", "pending", "completed")
        )
    effects_then_commits(c, batch, lambda i: moved[i] or c.unrecorded(events[i].event_id))


BATCH_HANDLERS: dict[Semantic, Callable[[ConsumerCore, list[Delivery]], None]] = {
    Semantic.AT_LEAST_ONCE: at_least_once_batch,
    Semantic.IDEMPOTENT: idempotent_batch,
    Semantic.UPSERT: upsert_batch,
    Semantic.STATE_CHECK: state_check_batch,
}


def take_batch(consumer: Any, room: int) -> list[Message]:
    """Up to ``room`` messages: wait (0.2 s at most) for the first, then take only what has already arrived.

    ``consume(room, timeout)`` alone would wait for ``room`` messages or the whole timeout: at the
    lab's few events per second every effect would come up to 0.2 s late. With a backlog the
    fetched messages are there already, and the batch is full.
    """
    first = consumer.poll(0.2)
    if first is None:
        return []
    return [first, *consumer.consume(num_messages=room - 1, timeout=0)] if room > 1 else [first]


def run_batched(c: ConsumerCore) -> None:
    """Read up to N messages at once and hand them to the semantic's batch handler; a :class:`Retry` redoes the batch.

    A batch is cut to the room left in the commit window (N minus the messages done but not yet
    committed), so the last message of a full batch is the one that commits, and a crash still
    redelivers at most N messages, as per message.
    """
    assert c.consumer is not None
    handle = BATCH_HANDLERS[c.semantic]
    member = c.member
    while not c.stopping.is_set():
        c.idle()
        member.rejoin_if_fenced()
        # Never more than the commit window holds: with what is pending, a crash redelivers at most N messages.
        messages = member.usable(take_batch(member.consumer, max(1, c.commit_every - member.pending_count)))
        if not messages:
            if time.monotonic() - c.last_message >= QUIET_COMMIT_SECONDS:
                member.commit_pending()  # the topic went quiet: do not sit on effects already done
            continue
        c.last_message = time.monotonic()
        batch = [Delivery.of(message) for message in messages]
        if c.retrying is None:
            c.handled += len(batch)  # what --crash-after counts; a retried batch is not counted again
        c.check_crash_file()
        try:
            handle(c, batch)
        except Retry as retry:
            first: dict[int, int] = {}
            for delivery in batch:
                first.setdefault(delivery.partition, delivery.offset)
            c.retrying = (batch[0].partition, batch[0].offset)
            c.state = retry.state
            c.write_status()
            if not member.fenced:  # a fenced consumer is replaced instead: it starts at the committed offsets
                member.seek(first)  # no effect of the batch was done: take it all again
            c.stopping.wait(retry.delay)
            continue
        c.retrying = None
        c.state = "running"
        c.processed += len(batch)
    if not member.fenced:
        member.commit_pending()  # a graceful stop commits what it has done


def run_at_least_once_family(c: ConsumerCore) -> None:
    """Per message by default; a batch per store round trip with ``--commit-every N``."""
    (run_batched if c.commit_every > 1 else run_per_message)(c)
