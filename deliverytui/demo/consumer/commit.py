"""Commits and fencing: what a failed commit means, and how a fenced static member rejoins.

Why one module: every semantic commits through the same consumer object, and the rules
for a refused commit are the same for all of them. A consumer whose commit is refused
because the group moved on (the coordinator moved, a rebalance, UNKNOWN_MEMBER_ID) commits
nothing and handles the message again; one fenced by FENCED_INSTANCE_ID (which librdkafka
makes fatal) is closed and created again with the same ``group.instance.id``, in the same
process. :class:`GroupMember` owns that consumer object, its commits (per message or
batched) and the rejoin; *when* to commit is each semantic's business (the handlers).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from deliverytui.demo.consumer.options import Retry
from deliverytui.kafka.admin import TRANSIENT_COORDINATOR_ERRORS
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.probe import ProbePublisher

RETRIABLE_COMMIT = TRANSIENT_COORDINATOR_ERRORS
"""A commit that failed with one of these is retried as it is."""
STALE_ASSIGNMENT = frozenset(
    {
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError._ASSIGNMENT_LOST,
    }
)
"""Commit errors that say "the group moved on without you": the assignment may be stale."""
FENCED = frozenset({KafkaError.FENCED_INSTANCE_ID, KafkaError._FATAL})
"""Another member took this ``group.instance.id`` (librdkafka then makes the consumer fatal)."""
FENCED_CLOSE_SECONDS = 15.0
"""How long the close of a fenced (fatal) consumer may take before the process gives up on it."""
STUCK_CLOSE_EXIT = 4
"""The exit code of a consumer process whose fenced consumer never closed (the supervisor restarts it)."""


def close_within(consumer: Consumer, seconds: float) -> bool:
    """Close ``consumer`` in a helper thread and wait at most ``seconds``; False if it is still closing.

    librdkafka's close of a consumer in a fatal state can block for good while its group
    coordinator is away (the nemesis run caught the exactly-once consumer there for 7 minutes
    after a broker kill; confluent-kafka-go #1588 fixed the same hang in Go's wrapper). The
    thread is a daemon: a process that gives up on it exits without joining it.
    """
    closer = threading.Thread(target=_close_quietly, args=(consumer,), name="close-fenced-consumer", daemon=True)
    closer.start()
    closer.join(seconds)
    return not closer.is_alive()


def _close_quietly(consumer: Consumer) -> None:
    with contextlib.suppress(Exception):
        consumer.close()
COMMIT_ATTEMPTS = 10
COMMIT_RETRY_PAUSE = 0.2
"""A transient commit error is retried in place, up to 10 times 0.2 s apart."""

Report = Callable[[int, int, "int | None"], None]
"""``report(partition, next_offset, committed)``: the consumer's position, for its status and the probe."""


def classify_commit_error(error: object) -> str:
    """What a failed commit means for the consumer that made it.

    * ``"retry"`` — transient (coordinator loading or moving, timeout): retry the same commit.
    * ``"stale"`` — UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, a lost
      assignment: the group rebalanced (e.g. its coordinator moved). Commit nothing now; the
      next poll rejoins, and whatever was not committed is delivered again.
    * ``"fenced"`` — FENCED_INSTANCE_ID, or any fatal consumer error: librdkafka fences a
      static member for good, so this consumer object is finished. Close it and create a new
      one with the same ``group.instance.id`` (which takes the membership back).
    * ``"failed"`` — anything else: not committed, handled as a retry of the message.

    None of these may crash the process or commit past an unprocessed message.
    """
    if not isinstance(error, KafkaError):
        return "failed"
    if error.fatal() or error.code() in FENCED:
        return "fenced"
    if error.code() in RETRIABLE_COMMIT:
        return "retry"
    if error.code() in STALE_ASSIGNMENT:
        return "stale"
    return "failed"


class GroupMember:
    """The consumer object of one static group member, its commits, and its rejoin when fenced.

    ``pending`` (partition -> next offset) holds the batched at-least-once family's offsets
    whose effects are done but not yet committed; ``committed`` what this member committed.
    """

    def __init__(
        self,
        *,
        name: str,
        topic: str,
        config: dict[str, Any],
        positions: dict[int, tuple[int, int | None]],
        report: Report,
        on_rejoin: Callable[[], None],
    ) -> None:
        self.name = name
        self.topic = topic
        self.config = config
        self.positions = positions
        self._report = report
        self._on_rejoin = on_rejoin
        self.probe: ProbePublisher | None = None
        self.consumer: Consumer | None = None
        self.pending: dict[int, int] = {}
        self.pending_count = 0
        self.committed: dict[int, int] = {}
        self.fenced = False
        """The consumer object is unusable (fenced static member): rejoin before polling."""
        self.rejoins = 0
        self.epoch = 0
        """Grows at every assignment, revocation or loss and at every seek this member makes: the
        ledger's poll checker compares a process's offsets only within one epoch (Jepsen excuses
        a rewind after a rebalance; a seek back the consumer chose is excused the same way)."""

    # -- membership ------------------------------------------------------------------------------

    def join(self) -> None:
        """Create the consumer object and subscribe (its assignment comes with the first poll)."""
        self.consumer = Consumer(self.config, logger=silent_librdkafka_logger())
        if self.probe is not None:
            self.probe.bind_consumer(self.consumer)
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost)

    def rejoin_if_fenced(self) -> bool:
        """Replace a fenced consumer: close it and rejoin with the same ``group.instance.id``.

        Static membership: a member whose instance id is now held by another member id
        (the coordinator moved, or another process started with this instance id) gets
        FENCED_INSTANCE_ID, and librdkafka makes that consumer fatal. Rejoining with the
        same instance id takes the membership back; the new consumer starts at the committed
        offsets, so whatever was not committed is delivered again and the semantic's own
        rules apply (at-least-once may repeat an effect, the idempotent patterns dedup it,
        at-most-once committed before its effects and so repeats none).
        """
        if not self.fenced:
            return False
        print(
            f"{self.name}: consumer fenced (static member {self.config['group.instance.id']}); "
            "closing it and rejoining the group",
            file=sys.stderr,
        )
        # Effects done but not committed are dropped, not committed by the new consumer: they are
        # redelivered (the at-least-once family's promise). Cleared first, so close()'s revoke
        # callback does not try to commit through the fenced consumer.
        self.pending.clear()
        self.pending_count = 0
        self.committed.clear()
        if self.consumer is not None and not close_within(self.consumer, FENCED_CLOSE_SECONDS):
            # A new consumer beside a handle stuck in its close is no cure: end the process, as a
            # crash would (nothing uncommitted is kept), and let the supervisor start a fresh one.
            print(
                f"{self.name}: the fenced consumer did not close within {FENCED_CLOSE_SECONDS:.0f} s; "
                "exiting so that a fresh process rejoins",
                file=sys.stderr,
                flush=True,
            )
            os._exit(STUCK_CLOSE_EXIT)
        self.join()
        self.fenced = False
        self.rejoins += 1
        self._on_rejoin()
        return True

    def note_poll_error(self, error: KafkaError | None) -> None:
        """A fatal error from poll/consume (FENCED_INSTANCE_ID makes the consumer fatal): rejoin next."""
        if error is not None and classify_commit_error(error) == "fenced":
            self.fenced = True

    def usable(self, messages: list[Message]) -> list[Message]:
        """The messages without errors; a fatal error among them marks the consumer fenced."""
        for message in messages:
            if message.error():
                self.note_poll_error(message.error())
        return [m for m in messages if not m.error()]

    def seek(self, offsets: dict[int, int]) -> None:
        """Go back to ``partition -> offset`` so those messages are consumed again (best effort)."""
        assert self.consumer is not None
        self.epoch += 1
        for partition, offset in offsets.items():
            with contextlib.suppress(KafkaException):
                self.consumer.seek(TopicPartition(self.topic, partition, offset))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()  # type: ignore[union-attr]

    # -- commits ---------------------------------------------------------------------------------

    def _try_commit(self, offsets: list[TopicPartition], what: str) -> bool:
        """Commit synchronously, retrying transient errors in place; False (and why, on stderr) if refused."""
        assert self.consumer is not None
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                return True
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                kind = classify_commit_error(error)
                if kind != "retry" or attempt == COMMIT_ATTEMPTS - 1:
                    self._commit_failed(kind, what, error)
                    return False
                time.sleep(COMMIT_RETRY_PAUSE)
        return False  # not reached: the last attempt returns above

    def commit(self, partition: int, offset: int) -> None:
        """Commit ``offset + 1`` synchronously; a commit that keeps failing becomes :class:`Retry`."""
        if not self._try_commit([TopicPartition(self.topic, partition, offset + 1)], f"{partition}:{offset + 1}"):
            raise Retry(0.5) from None  # not committed: the message is handled again
        self._report(partition, offset + 1, offset + 1)

    def commit_offsets(self, offsets: dict[int, int]) -> bool:
        """Commit ``partition -> next offset`` synchronously, retrying transient errors; False if it failed."""
        tps = [TopicPartition(self.topic, p, o) for p, o in sorted(offsets.items())]
        if not self._try_commit(tps, str(offsets)):
            return False
        for partition, offset in offsets.items():
            self.committed[partition] = offset
            self._report(partition, max(offset, self.positions.get(partition, (offset, None))[0]), offset)
        return True

    def _commit_failed(self, kind: str, what: str, error: object) -> None:
        """Say why a commit failed; a fenced consumer is replaced before the next poll."""
        meaning = {
            "fenced": "fenced, rejoining with the same instance id",
            "stale": "the assignment may be stale, rejoining the group",
            "retry": "the coordinator did not answer in time",
        }.get(kind, "not committed")
        print(f"{self.name}: commit of {what} failed ({meaning}): {error}", file=sys.stderr)
        if kind == "fenced":
            self.fenced = True

    # -- batched commits (--commit-every N > 1) --------------------------------------------------

    def add_pending(self, partition: int, offset: int) -> None:
        """Remember that ``offset``'s effect is done; it is committed with the next batch."""
        self.pending[partition] = offset + 1
        self.pending_count += 1
        self._report(partition, offset + 1, self.committed.get(partition))

    def commit_pending(self) -> bool:
        """Commit every offset whose effect is done; True if something was committed.

        A failed commit keeps them pending (tried again later): the effects are done, so
        the worst a crash can do now is redeliver them — still at-least-once.
        """
        if not self.pending or not self.commit_offsets(self.pending):
            return False
        self.pending.clear()
        self.pending_count = 0
        return True

    def on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        """A new assignment: reading starts again at the committed offsets (a new epoch)."""
        self.epoch += 1

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The assignment was lost (session expired): handled as a revocation (librdkafka's default), a new epoch."""
        self.on_revoke(consumer, partitions)

    def on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit finished work before losing partitions, then forget the revoked ones' pending offsets."""
        self.epoch += 1
        if not self.pending:
            return
        with contextlib.suppress(Exception):
            self.commit_pending()
        for tp in partitions:
            self.pending.pop(tp.partition, None)
        if not self.pending:
            self.pending_count = 0
