"""One handler per semantic that handles a message at a time, and the loops that feed them.

Why one function per semantic: a semantic *is* the order of three steps — claim (dedup),
effect, commit — and where a crash between them leaves you. Written as one short function
each, that order can be read and compared side by side; the loop picks the function from
:data:`HANDLERS` by :class:`Semantic` instead of testing names.

Every handler commits explicitly and synchronously. At-most-once commits *before* the
effect; the at-least-once family (at-least-once, idempotent, upsert, state-check) commits
*after* it, per message or, with ``--commit-every N``, every N messages (and when the topic
has been quiet for ``QUIET_COMMIT_SECONDS``, and on shutdown). Exactly-once has its own
transactional loop (:mod:`.exactly_once`).
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
from deliverytui.demo.consumer.options import QUIET_COMMIT_SECONDS, TASKS_TABLE, Retry
from deliverytui.demo.semantics import AFTER_CLAIM, AFTER_COMMIT, AFTER_EFFECT, Semantic


def _where(message: Message) -> tuple[int, int]:
    return message.partition() or 0, message.offset() or 0


def commit_after_effect(c: ConsumerCore, partition: int, offset: int) -> None:
    """The at-least-once family's commit, made after the message's effect (or its dedup hit).

    Per message (N = 1): commit now, as always. Batched: remember the offset and commit
    every N messages; an ``after-commit`` crash fires only after a real commit.
    """
    if c.commit_every == 1:
        c.member.commit(partition, offset)
        c.crash_if(AFTER_COMMIT)
        return
    c.member.add_pending(partition, offset)
    if c.member.pending_count >= c.commit_every and c.member.commit_pending():
        c.crash_if(AFTER_COMMIT)


def at_most_once(c: ConsumerCore, message: Message, event: dict[str, Any]) -> None:
    """Commit, then the effect: a crash in between loses the event, never repeats it."""
    partition, offset = _where(message)
    c.member.commit(partition, offset)
    c.crash_if(AFTER_COMMIT)
    c.effect(event["event_id"], partition, offset)
    c.crash_if(AFTER_EFFECT)


def at_least_once(c: ConsumerCore, message: Message, event: dict[str, Any]) -> None:
    """The effect, then the commit: a crash in between repeats the effect, never loses it."""
    partition, offset = _where(message)
    c.effect(event["event_id"], partition, offset)
    c.crash_if(AFTER_EFFECT)
    commit_after_effect(c, partition, offset)


def idempotent(c: ConsumerCore, message: Message, event: dict[str, Any]) -> None:
    """Claim the event id with a lease, do the effect, complete the claim, commit."""
    partition, offset = _where(message)
    event_id = event["event_id"]
    lease = c.options.lease_seconds
    if c.retrying != (partition, offset) or c.claim_token is None:
        c.claim_token = new_token()  # a retry of the same delivery keeps its token: it may own the key
    token = c.claim_token
    claim = c.store_call(lambda store: store.claim(event_id, lease_seconds=lease, token=token))
    if claim.outcome.name == "IN_PROGRESS":
        raise Retry(0.5)  # another consumer (or our dead predecessor) holds the lease: wait for it
    if claim.owned:
        c.crash_if(AFTER_CLAIM)
        c.effect(event_id, partition, offset)
        c.until_store_answers(lambda: c.loop.run_until_complete(c.store.complete(event_id, claim.token)))  # type: ignore[union-attr]
        c.crash_if(AFTER_EFFECT)
    commit_after_effect(c, partition, offset)


def upsert(c: ConsumerCore, message: Message, event: dict[str, Any]) -> None:
    """Write the task row by key: a repeat writes the same values and changes nothing."""
    partition, offset = _where(message)
    task_id = str(event.get("task_id") or event["event_id"])
    values = {"title": event.get("title"), "created_at": event.get("created_at")}
    changed = c.store_call(lambda store: store.upsert_row(TASKS_TABLE, "task_id", task_id, values))
    if changed or c.unrecorded(event["event_id"]):
        c.effect(event["event_id"], partition, offset)
        c.crash_if(AFTER_EFFECT)
    commit_after_effect(c, partition, offset)


def state_check(c: ConsumerCore, message: Message, event: dict[str, Any]) -> None:
    """Move the task pending -> completed only if still pending: a repeat finds it done."""
    partition, offset = _where(message)
    task_id = str(event.get("task_id") or event["event_id"])
    tasks = c.tasks
    assert tasks is not None
    c.tasks_call(lambda: tasks.ensure_pending(task_id))
    moved = c.store_call(
        lambda store: store.transition(TASKS_TABLE, "task_id", task_id, "status", "pending", "completed")
    )
    if moved or c.unrecorded(event["event_id"]):
        c.effect(event["event_id"], partition, offset)
        c.crash_if(AFTER_EFFECT)
    commit_after_effect(c, partition, offset)


@dataclass(frozen=True, slots=True)
class Handler:
    """How one semantic handles a message; ``commits_first`` also decides where a malformed record's commit goes."""

    handle: Callable[[ConsumerCore, Message, dict[str, Any]], None]
    commits_first: bool = False


HANDLERS: dict[Semantic, Handler] = {
    Semantic.AT_MOST_ONCE: Handler(at_most_once, commits_first=True),
    Semantic.AT_LEAST_ONCE: Handler(at_least_once),
    Semantic.IDEMPOTENT: Handler(idempotent),
    Semantic.UPSERT: Handler(upsert),
    Semantic.STATE_CHECK: Handler(state_check),
}


def run_per_message(c: ConsumerCore) -> None:
    """Poll one message at a time and hand it to the semantic's handler; a :class:`Retry` redoes it."""
    assert c.consumer is not None
    handler = HANDLERS[c.semantic]
    member = c.member
    while not c.stopping.is_set():
        c.idle()
        member.rejoin_if_fenced()
        message = member.consumer.poll(0.2)  # type: ignore[union-attr]
        if message is None:
            if time.monotonic() - c.last_message >= QUIET_COMMIT_SECONDS:
                member.commit_pending()  # the topic went quiet: do not sit on effects already done
            continue
        c.last_message = time.monotonic()
        if message.error():
            member.note_poll_error(message.error())
            continue
        partition, offset = _where(message)
        if c.retrying != (partition, offset):
            c.handled += 1
        c.check_crash_file()
        event, problem = parse_event(message.value())
        try:
            if problem is None:
                handler.handle(c, message, event)
            elif handler.commits_first:
                member.commit(partition, offset)  # before the effect, as for any event
                c.record_malformed(message, problem)
            else:
                c.record_malformed(message, problem)  # its effect (if any) first, then the commit
                if c.commit_every > 1:
                    member.add_pending(partition, offset)
                else:
                    member.commit(partition, offset)
        except Retry as retry:
            c.retrying = (partition, offset)
            c.state = retry.state
            c.write_status()
            if not member.fenced:  # a fenced consumer is replaced instead: it starts at the committed offsets
                member.seek({partition: offset})
            c.stopping.wait(retry.delay)
            continue
        c.retrying = None
        c.state = "running"
        c.processed += 1
    if not member.fenced:
        member.commit_pending()  # a graceful stop commits what it has done


def run_at_most_once_batched(c: ConsumerCore) -> None:
    """At-most-once with N messages per commit: commit the batch's end first, then run its effects.

    The commit still comes before every effect of the batch, so a crash between them
    loses the rest of the batch (up to N events) and never repeats one.
    """
    assert c.consumer is not None
    member = c.member
    while not c.stopping.is_set():
        c.idle()
        member.rejoin_if_fenced()
        messages = member.usable(member.consumer.consume(num_messages=c.commit_every, timeout=0.2))  # type: ignore[union-attr]
        if not messages:
            continue
        c.check_crash_file()
        first: dict[int, int] = {}
        ends: dict[int, int] = {}
        for message in messages:
            partition, offset = _where(message)
            first.setdefault(partition, offset)
            ends[partition] = offset + 1
        if not member.commit_offsets(ends):
            member.seek(first)  # nothing done yet: take the batch again later
            c.stopping.wait(0.5)
            continue
        c.handled += len(messages)
        c.crash_if(AFTER_COMMIT)
        for message in messages:  # committed: finish the batch even when asked to stop
            event, problem = parse_event(message.value())
            if problem is not None:
                c.record_malformed(message, problem)
            else:
                c.effect(event["event_id"], message.partition() or 0, message.offset() or 0)
                c.crash_if(AFTER_EFFECT)
            c.processed += 1


def run_at_most_once(c: ConsumerCore) -> None:
    """Per message by default; a batch per commit with ``--commit-every N``."""
    (run_at_most_once_batched if c.commit_every > 1 else run_per_message)(c)
