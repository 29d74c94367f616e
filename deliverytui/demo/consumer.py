"""One demo consumer process: ``python -m deliverytui.demo.consumer --semantic S ...``.

Why real OS processes: a crash in the lab must be a real crash — the process dies
with SIGKILL at a precise point (``os.kill(os.getpid(), SIGKILL)``), so whatever it
had not committed is gone, exactly as in production. Before dying it writes a crash
row to the ledger, so crashes are counted.

Every semantic commits explicitly and synchronously, one message at a time
(``enable.auto.commit=False``; the chapter's at-most-once uses auto-commit, here the
commit happens explicitly *before* the effect, which is the same guarantee made
deterministic). The effect is a row in the ledger's ``effects`` table. The
exactly-once consumer instead produces to ``<topic>.processed`` inside a Kafka
transaction, with its offsets, and the auditor reads that topic.

``--commit-every N`` batches commits the way each semantic allows, for the semantics
benchmark (the default, 1, is the per-message behaviour above). The at-least-once
family still commits only *after* the effects, every N messages (and when the topic
goes quiet, and on shutdown), so a crash redelivers up to N messages instead of one.
At-most-once still commits *before* the effects: it takes up to N messages at once,
commits the batch's end, then runs the batch, so a crash loses up to N instead of
one. Exactly-once puts up to N messages in one transaction (default ``EOS_BATCH``;
1 = one transaction per message).

Consumers use static group membership (``group.instance.id``): a restarted consumer
takes its predecessor's place at once instead of waiting for its session to expire.
The price is that a stopped consumer stays a group member until its session timeout
(6 s), which only the replay (offset reset) has to wait for. A consumer whose commit is
refused because the group moved on (the coordinator moved, a rebalance, UNKNOWN_MEMBER_ID)
commits nothing and handles the message again; one fenced by FENCED_INSTANCE_ID (which
librdkafka makes fatal) is closed and created again with the same instance id, in the
same process (see :func:`classify_commit_error`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from deliverytui.argtypes import positive_int
from deliverytui.dedup import DedupStore, DedupStoreError, StoreUnavailableError, new_token, open_store
from deliverytui.demo.ledger import (
    PROCESSED_WITHOUT_DEDUP,
    SKIPPED,
    EffectsLedger,
    LedgerError,
    LedgerUnavailableError,
)
from deliverytui.demo.semantics import (
    AFTER_CLAIM,
    AFTER_COMMIT,
    AFTER_EFFECT,
    MID_TRANSACTION,
    check_crash_point,
    output_topic,
    semantic_spec,
    store_url_for,
    transactional_id,
)
from deliverytui.demo.stop_flag import StopFlag
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC, ensure_topic
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.probe import ProbePublisher

T = TypeVar("T")

LEASE_SECONDS = 4.0
"""Short, so an after-claim crash is retaken soon after the restart (and nothing is lost)."""
SESSION_TIMEOUT_MS = 6000
"""The broker's default minimum: how long a stopped static member stays in the group."""
STATUS_INTERVAL = 0.5
QUIET_COMMIT_SECONDS = 1.0
"""A batching consumer commits what it has done once the topic has been quiet this long. Not at the
first empty poll: at the lab's 5 events/s most polls are empty, and the commit window (``b`` in the
lab, position running ahead of committed) would close before anyone could see it."""
EOS_BATCH = 50
"""Messages per transaction at most: one transaction per message would cap the rate at ~50/s."""
TASKS_TABLE = "tasks"
RETRIABLE_COMMIT = frozenset(
    {
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)
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


def instance_name(semantic: str, instance: int = 1) -> str:
    """``semantic`` for the first instance of a demo consumer, ``semantic-N`` for the N-th (a rebalance demo)."""
    return semantic if instance <= 1 else f"{semantic}-{instance}"


def crash_file(run_dir: Path, semantic: str, instance: int = 1) -> Path:
    """Where the supervisor arms a crash: the file holds the crash point's name."""
    return run_dir / f"{instance_name(semantic, instance)}.crash"


def status_file(run_dir: Path, semantic: str, instance: int = 1) -> Path:
    """Where the consumer reports itself (JSON, replaced atomically at most every 0.5 s)."""
    return run_dir / f"{instance_name(semantic, instance)}.status"


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status a consumer wrote, or None (absent or being replaced)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """What one consumer process runs with (the command line, parsed)."""

    semantic: str
    bootstrap: str
    ledger_url: str
    run_dir: Path
    dedup_url: str | None = None
    group_prefix: str = ""
    topic: str = TASK_EVENTS_TOPIC
    crash_at: str | None = None
    crash_after: int = 1
    lease_seconds: float = LEASE_SECONDS
    probe: bool = True
    commit_every: int | None = None
    """Messages per commit (per transaction for exactly-once); None = 1, or ``EOS_BATCH`` for exactly-once."""
    instance: int = 1
    """Which instance of the semantic's group this is: a second one (2, 3, ...) makes the group rebalance."""
    watch_parent: bool = False
    """Stop (gracefully) when the process that started this one is gone: a lab's consumers never outlive it."""


class Retry(Exception):
    """Handling this message must be repeated later: do not commit, seek back, wait ``delay``."""

    def __init__(self, delay: float, state: str = "running") -> None:
        super().__init__(state)
        self.delay = delay
        self.state = state


class TaskTable:
    """The ``tasks`` rows the upsert and state-check patterns write, outside the store's counters.

    The store's ``upsert_row``/``transition`` count hits and misses; creating the table and
    the "pending" row a state-check needs first must not be counted, so they go through
    this plain connection to the same database.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    def _connect(self) -> Any:
        if self._conn is None:
            if self.url.startswith("sqlite:///"):
                conn = sqlite3.connect(self.url[len("sqlite:///") :], timeout=10, isolation_level=None)
                conn.execute("PRAGMA busy_timeout=10000")
                self._conn = conn
            else:
                import psycopg

                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        sql = statement if self.url.startswith("sqlite:///") else statement.replace("?", "%s")
        try:
            self._connect().execute(sql, params)
        except sqlite3.OperationalError as exc:
            self.close()
            raise StoreUnavailableError(f"task table in {self.url} is unavailable: {exc}") from exc
        except Exception as exc:
            import psycopg  # only a PostgreSQL URL gets here

            # Subclasses too: a stopped server answers AdminShutdown, an OperationalError.
            if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
                self.close()
                raise StoreUnavailableError(f"task table is unavailable: {str(exc).splitlines()[0]}") from exc
            raise

    def ensure_schema(self) -> None:
        self._run(
            f"CREATE TABLE IF NOT EXISTS {TASKS_TABLE} (task_id TEXT PRIMARY KEY, title TEXT, created_at TEXT, "
            "status TEXT NOT NULL DEFAULT 'pending')"
        )

    def ensure_pending(self, task_id: str) -> None:
        """Create the task row on first sight; an existing row (in any state) is left alone."""
        self._run(f"INSERT INTO {TASKS_TABLE} (task_id, status) VALUES (?, 'pending') ON CONFLICT (task_id) DO NOTHING", (task_id,))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class DemoConsumer:
    """The poll loop of one semantic; :meth:`run` returns the process exit code."""

    def __init__(self, options: ConsumerOptions) -> None:
        self.options = options
        self.spec = semantic_spec(options.semantic)
        if options.crash_at:
            check_crash_point(options.semantic, options.crash_at)
        self.group = self.spec.group_id(options.group_prefix)
        self.topic = options.topic
        self.run_dir = options.run_dir
        self.instance = max(1, options.instance)
        self.instance_label = f"{self.instance}:{os.getpid()}"
        """Recorded with every effect: which instance (and which incarnation of it) did it."""
        self.crash_path = crash_file(options.run_dir, options.semantic, self.instance)
        self.status_path = status_file(options.run_dir, options.semantic, self.instance)
        previous = read_status(self.status_path) or {}
        self.processed = int(previous.get("processed") or 0)
        self.handled = 0  # messages handled by this process (what --crash-after counts)
        self.malformed = 0
        self.state = "starting"
        self.positions: dict[int, tuple[int, int | None]] = {}
        self.store_error: str | None = None
        self._stopping = StopFlag(watch_parent=options.watch_parent)
        self._file_point: str | None = None
        self._last_status = 0.0
        self._retrying: tuple[int, int] | None = None
        self._claim_token: str | None = None
        self._loop = asyncio.new_event_loop()
        self.ledger = self._open_ledger(options.ledger_url)
        self.store_url = store_url_for(options.semantic, options.dedup_url, options.run_dir)
        self.store: DedupStore | None = (
            open_store(self.store_url, group=self.group) if self.store_url is not None else None
        )
        self.tasks = TaskTable(self.store_url) if self.spec.needs_sql_store and self.store_url else None
        self.consumer: Consumer | None = None
        self.probe: ProbePublisher | None = None
        default_batch = EOS_BATCH if self.spec.name == "exactly-once" else 1
        self.commit_every = max(1, options.commit_every or default_batch)
        self._pending: dict[int, int] = {}  # batched at-least-once family: partition -> next offset to commit
        self._pending_count = 0
        self._committed: dict[int, int] = {}
        self._last_message = time.monotonic()
        self._fenced = False  # the consumer object is unusable (fenced static member): rejoin before polling
        self.rejoins = 0

    def _open_ledger(self, url: str) -> EffectsLedger:
        """Open the ledger; a PostgreSQL ledger that is down is waited for (status says so), not a crash loop."""
        delay = 0.2
        while True:
            try:
                ledger = EffectsLedger(url)
            except LedgerUnavailableError as exc:
                self.store_error, self.state = str(exc), "paused-ledger-down"
                self.write_status(force=True)
                if self._stopping.wait(delay):
                    raise
                delay = min(delay * 2, 2.0)
                continue
            if self.state == "paused-ledger-down":
                self.store_error, self.state = None, "starting"
            return ledger

    # -- lifecycle -----------------------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """Ask the poll loop to stop; safe in a signal handler (see :mod:`deliverytui.demo.stop_flag`)."""
        self._stopping.set()

    def run(self) -> int:
        self._stopping.install(signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        self.write_status(force=True)
        config: dict[str, Any] = {
            "bootstrap.servers": self.options.bootstrap,
            "group.id": self.group,
            "client.id": self.spec.name,
            "group.instance.id": f"{self.group}-demo" + (f"-{self.instance}" if self.instance > 1 else ""),
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 1000,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        }
        if self.spec.name == "exactly-once":
            config["isolation.level"] = "read_committed"
        if self.tasks is not None:
            self._until_store_answers(self.tasks.ensure_schema)
        self._config = config
        if self.options.probe:
            self.probe = ProbePublisher(self.options.bootstrap, self.group, self.spec.name)
        self._new_consumer()
        self.state = "running"
        try:
            if self.spec.name == "exactly-once":
                self._run_transactional()
            elif self.spec.name == "at-most-once" and self.commit_every > 1:
                self._run_at_most_once_batched()
            else:
                self._run_per_message()
        finally:
            # Stopping already: further SIGTERMs (a supervisor and a shell both asking) must not kill the
            # clean-up, nor the interpreter's exit, where Python puts the default handlers back.
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            self.state = "stopping"
            self.write_status(force=True)
            with contextlib.suppress(Exception):
                self.consumer.close()
            if self.probe is not None:
                self.probe.close(timeout=2.0)
            if self.store is not None:
                with contextlib.suppress(Exception):
                    self._loop.run_until_complete(self.store.close())
            if self.tasks is not None:
                self.tasks.close()
            self.state = "stopped"
            self.write_status(force=True)
            self.ledger.close()
        return 0

    def _new_consumer(self) -> None:
        self.consumer = Consumer(self._config, logger=silent_librdkafka_logger())
        if self.probe is not None:
            self.probe.bind_consumer(self.consumer)
        self.consumer.subscribe([self.topic], on_revoke=self._on_revoke)

    def _rejoin_if_fenced(self) -> bool:
        """Replace a fenced consumer: close it and rejoin with the same ``group.instance.id``.

        Static membership: a member whose instance id is now held by another member id
        (the coordinator moved, or another process started with this instance id) gets
        FENCED_INSTANCE_ID, and librdkafka makes that consumer fatal. Rejoining with the
        same instance id takes the membership back; the new consumer starts at the committed
        offsets, so whatever was not committed is delivered again and the semantic's own
        rules apply (at-least-once may repeat an effect, the idempotent patterns dedup it,
        at-most-once committed before its effects and so repeats none).
        """
        if not self._fenced:
            return False
        print(
            f"{self.spec.name}: consumer fenced (static member {self._config['group.instance.id']}); "
            "closing it and rejoining the group",
            file=sys.stderr,
        )
        # Effects done but not committed are dropped, not committed by the new consumer: they are
        # redelivered (the at-least-once family's promise). Cleared first, so close()'s revoke
        # callback does not try to commit through the fenced consumer.
        self._pending.clear()
        self._pending_count = 0
        self._committed.clear()
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                self.consumer.close()
        self._new_consumer()
        self._fenced = False
        self.rejoins += 1
        self.write_status(force=True)
        return True

    def _note_poll_error(self, error: KafkaError | None) -> None:
        """A fatal error from poll/consume (FENCED_INSTANCE_ID makes the consumer fatal): rejoin next."""
        if error is not None and classify_commit_error(error) == "fenced":
            self._fenced = True

    def _usable(self, messages: list[Message]) -> list[Message]:
        """The messages without errors; a fatal error among them marks the consumer fenced."""
        for message in messages:
            if message.error():
                self._note_poll_error(message.error())
        return [m for m in messages if not m.error()]

    # -- reporting -----------------------------------------------------------------------

    def write_status(self, *, force: bool = False) -> None:
        """Replace ``<run-dir>/<semantic>.status`` (atomically, by rename), at most every 0.5 s."""
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_status = now
        data = {
            "semantic": self.spec.name,
            "instance": self.instance,
            "group": self.group,
            "pid": os.getpid(),
            "state": self.state,
            "processed": self.processed,
            "handled_by_this_process": self.handled,
            "malformed": self.malformed,
            "rejoins": self.rejoins,
            "store_error": self.store_error,
            "last_offsets": {str(p): pos - 1 for p, (pos, _c) in sorted(self.positions.items())},
            "updated_at": datetime.now(UTC).isoformat(),
        }
        tmp = self.status_path.with_name(f".{self.status_path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.status_path)

    def _report(self, partition: int, next_offset: int, committed: int | None) -> None:
        self.positions[partition] = (next_offset, committed)
        if self.probe is not None:
            self.probe.publish_positions(
                {(self.topic, p): (pos, com) for p, (pos, com) in self.positions.items()}
            )

    def _idle(self) -> None:
        if self.probe is not None:
            self.probe.tick()
        self.write_status()

    # -- crashes -------------------------------------------------------------------------

    def _check_crash_file(self) -> None:
        if os.path.exists(self.crash_path):
            try:
                point = self.crash_path.read_text().strip()
            except OSError:
                return
            self._file_point = point or None

    def _crash_if(self, point: str) -> None:
        """Die here if a crash is armed at ``point`` (the supervisor's file, or --crash-at/--crash-after)."""
        armed_by_file = self._file_point == point
        armed_by_args = self.options.crash_at == point and self.handled >= self.options.crash_after
        if not (armed_by_file or armed_by_args):
            return
        if armed_by_file:
            with contextlib.suppress(OSError):
                self.crash_path.unlink()  # first, so the restarted process does not crash again
        with contextlib.suppress(LedgerError):  # a ledger that is down must not stop the crash
            self.ledger.record_crash(self.group, point)
        self.state = "crashed"
        self.write_status(force=True)
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # SIGKILL is delivered before this returns

    # -- the dedup store -------------------------------------------------------------------

    def _store(self, make: Callable[[DedupStore], Awaitable[T]]) -> T:
        """Run one store call; a down store becomes :class:`Retry` (no effect, no commit)."""
        assert self.store is not None
        try:
            result = self._loop.run_until_complete(make(self.store))
        except StoreUnavailableError as exc:
            self.store_error = str(exc)
            raise Retry(1.0, "paused-store-down") from None
        self.store_error = None
        return result

    def _tasks(self, call: Callable[[], None]) -> None:
        try:
            call()
        except StoreUnavailableError as exc:
            self.store_error = str(exc)
            raise Retry(1.0, "paused-store-down") from None

    def _until_store_answers(self, call: Callable[[], T]) -> T:
        """Repeat ``call`` while the store is down (used where the effect already happened)."""
        delay = 0.2
        while True:
            try:
                result = call()
            except StoreUnavailableError as exc:
                self.store_error = str(exc)
                self.state = "paused-store-down"
                self.write_status()
                if self._stopping.wait(delay):
                    raise
                delay = min(delay * 2, 2.0)
                continue
            self.store_error = None
            self.state = "running"
            return result

    # -- per-message semantics ------------------------------------------------------------------

    def _commit(self, partition: int, offset: int) -> None:
        """Commit ``offset + 1`` synchronously; a commit that keeps failing becomes :class:`Retry`."""
        assert self.consumer is not None
        tp = TopicPartition(self.topic, partition, offset + 1)
        for attempt in range(10):
            try:
                self.consumer.commit(offsets=[tp], asynchronous=False)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                kind = classify_commit_error(error)
                if kind != "retry" or attempt == 9:
                    self._commit_failed(kind, f"{partition}:{offset + 1}", error)
                    raise Retry(0.5) from None  # not committed: the message is handled again
                time.sleep(0.2)
        self._report(partition, offset + 1, offset + 1)

    def _effect(self, event_id: str, partition: int, offset: int) -> None:
        """Record the effect; while the ledger is down, wait here (nothing is committed meanwhile).

        Waiting in place rather than redoing the message matters for upsert and state-check:
        their row change is already made, and a redo would find it made and record nothing.
        Stopping while the ledger is down raises :class:`LedgerUnavailableError` (one line).
        """
        delay = 0.2
        while True:
            try:
                self.ledger.record_effect(event_id, self.group, partition, offset, self.instance_label)
            except LedgerUnavailableError as exc:
                self.store_error = str(exc)
                self.state = "paused-ledger-down"
                self.write_status()
                if self._stopping.wait(delay):
                    raise
                delay = min(delay * 2, 2.0)
                continue
            if self.state == "paused-ledger-down":
                self.state = "running"
                self.store_error = None
            return

    def _malformed(self, message: Message, problem: str) -> None:
        """A record that is not a usable event: never a crash, never a retry loop, always counted.

        Not JSON (``NOT_JSON``): nothing can be processed, so it is skipped, and the caller
        commits past it. JSON without ``event_id`` (``NO_EVENT_ID``): processed anyway, as the
        chapter's idempotent consumer does ("Warning: Message missing event_id, processing
        anyway") — but with no key there is no dedup claim, no task row and no ledger effect
        row (the audit keys effects by event id); the ledger's ``malformed`` table records it,
        so a redelivery shows as a second sighting. No crash point fires on these records.
        """
        self.malformed += 1
        action = PROCESSED_WITHOUT_DEDUP if problem == NO_EVENT_ID else SKIPPED
        print(
            f"{self.spec.name}: warning: {problem} record at {self.topic}:{message.partition()}@{message.offset()}; {action}",
            file=sys.stderr,
        )
        self.ledger.record_malformed(self.group, self.topic, message.partition() or 0, message.offset() or 0, problem, action)

    # -- batched commits (--commit-every N > 1) ----------------------------------------------------

    def _commit_after_effect(self, partition: int, offset: int) -> None:
        """The at-least-once family's commit, made after the message's effect (or its dedup hit).

        Per message (N = 1): commit now, as always. Batched: remember the offset and commit
        every N messages; an ``after-commit`` crash fires only after a real commit.
        """
        if self.commit_every == 1:
            self._commit(partition, offset)
            self._crash_if(AFTER_COMMIT)
            return
        self._add_pending(partition, offset)
        if self._pending_count >= self.commit_every and self._commit_pending():
            self._crash_if(AFTER_COMMIT)

    def _add_pending(self, partition: int, offset: int) -> None:
        self._pending[partition] = offset + 1
        self._pending_count += 1
        self._report(partition, offset + 1, self._committed.get(partition))

    def _commit_offsets(self, offsets: dict[int, int]) -> bool:
        """Commit ``partition -> next offset`` synchronously, retrying transient errors; False if it failed."""
        assert self.consumer is not None
        tps = [TopicPartition(self.topic, p, o) for p, o in sorted(offsets.items())]
        for attempt in range(10):
            try:
                self.consumer.commit(offsets=tps, asynchronous=False)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                kind = classify_commit_error(error)
                if kind != "retry" or attempt == 9:
                    self._commit_failed(kind, str(offsets), error)
                    return False
                time.sleep(0.2)
        for partition, offset in offsets.items():
            self._committed[partition] = offset
            self._report(partition, max(offset, self.positions.get(partition, (offset, None))[0]), offset)
        return True

    def _commit_failed(self, kind: str, what: str, error: object) -> None:
        """Say why a commit failed; a fenced consumer is replaced before the next poll."""
        meaning = {
            "fenced": "fenced, rejoining with the same instance id",
            "stale": "the assignment may be stale, rejoining the group",
            "retry": "the coordinator did not answer in time",
        }.get(kind, "not committed")
        print(f"{self.spec.name}: commit of {what} failed ({meaning}): {error}", file=sys.stderr)
        if kind == "fenced":
            self._fenced = True

    def _commit_pending(self) -> bool:
        """Commit every offset whose effect is done; True if something was committed.

        A failed commit keeps them pending (tried again later): the effects are done, so
        the worst a crash can do now is redeliver them — still at-least-once.
        """
        if not self._pending or not self._commit_offsets(self._pending):
            return False
        self._pending.clear()
        self._pending_count = 0
        return True

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit finished work before losing partitions, then forget the revoked ones' pending offsets."""
        if not self._pending:
            return
        with contextlib.suppress(Exception):
            self._commit_pending()
        for tp in partitions:
            self._pending.pop(tp.partition, None)
        if not self._pending:
            self._pending_count = 0

    def _run_at_most_once_batched(self) -> None:
        """At-most-once with N messages per commit: commit the batch's end first, then run its effects.

        The commit still comes before every effect of the batch, so a crash between them
        loses the rest of the batch (up to N events) and never repeats one.
        """
        assert self.consumer is not None
        while not self._stopping.is_set():
            self._idle()
            self._rejoin_if_fenced()
            messages = self._usable(self.consumer.consume(num_messages=self.commit_every, timeout=0.2))
            if not messages:
                continue
            self._check_crash_file()
            first: dict[int, int] = {}
            ends: dict[int, int] = {}
            for message in messages:
                partition, offset = message.partition() or 0, message.offset() or 0
                first.setdefault(partition, offset)
                ends[partition] = offset + 1
            if not self._commit_offsets(ends):
                for partition, offset in first.items():  # nothing done yet: take the batch again later
                    with contextlib.suppress(KafkaException):
                        self.consumer.seek(TopicPartition(self.topic, partition, offset))
                self._stopping.wait(0.5)
                continue
            self.handled += len(messages)
            self._crash_if(AFTER_COMMIT)
            for message in messages:  # committed: finish the batch even when asked to stop
                event, problem = parse_event(message.value())
                if problem is not None:
                    self._malformed(message, problem)
                else:
                    self._effect(event["event_id"], message.partition() or 0, message.offset() or 0)
                    self._crash_if(AFTER_EFFECT)
                self.processed += 1

    def _run_per_message(self) -> None:
        assert self.consumer is not None
        handlers: dict[str, Callable[[Message, dict[str, Any]], None]] = {
            "at-most-once": self._at_most_once,
            "at-least-once": self._at_least_once,
            "idempotent": self._idempotent,
            "upsert": self._upsert,
            "state-check": self._state_check,
        }
        handle = handlers[self.spec.name]
        while not self._stopping.is_set():
            self._idle()
            self._rejoin_if_fenced()
            message = self.consumer.poll(0.2)
            if message is None:
                if time.monotonic() - self._last_message >= QUIET_COMMIT_SECONDS:
                    self._commit_pending()  # the topic went quiet: do not sit on effects already done
                continue
            self._last_message = time.monotonic()
            if message.error():
                self._note_poll_error(message.error())
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            if self._retrying != (partition, offset):
                self.handled += 1
            self._check_crash_file()
            event, problem = parse_event(message.value())
            try:
                if problem is None:
                    handle(message, event)
                elif self.spec.name == "at-most-once":
                    self._commit(partition, offset)  # before the effect, as for any event
                    self._malformed(message, problem)
                else:
                    self._malformed(message, problem)  # its effect (if any) first, then the commit
                    if self.commit_every > 1:
                        self._add_pending(partition, offset)
                    else:
                        self._commit(partition, offset)
            except Retry as retry:
                self._retrying = (partition, offset)
                self.state = retry.state
                self.write_status()
                if not self._fenced:  # a fenced consumer is replaced instead: it starts at the committed offsets
                    with contextlib.suppress(KafkaException):
                        self.consumer.seek(TopicPartition(self.topic, partition, offset))
                self._stopping.wait(retry.delay)
                continue
            self._retrying = None
            self.state = "running"
            self.processed += 1
        if not self._fenced:
            self._commit_pending()  # a graceful stop commits what it has done

    def _at_most_once(self, message: Message, event: dict[str, Any]) -> None:
        partition, offset = message.partition() or 0, message.offset() or 0
        self._commit(partition, offset)
        self._crash_if(AFTER_COMMIT)
        self._effect(event["event_id"], partition, offset)
        self._crash_if(AFTER_EFFECT)

    def _at_least_once(self, message: Message, event: dict[str, Any]) -> None:
        partition, offset = message.partition() or 0, message.offset() or 0
        self._effect(event["event_id"], partition, offset)
        self._crash_if(AFTER_EFFECT)
        self._commit_after_effect(partition, offset)

    def _idempotent(self, message: Message, event: dict[str, Any]) -> None:
        partition, offset = message.partition() or 0, message.offset() or 0
        event_id = event["event_id"]
        lease = self.options.lease_seconds
        if self._retrying != (partition, offset) or self._claim_token is None:
            self._claim_token = new_token()  # a retry of the same delivery keeps its token: it may own the key
        token = self._claim_token
        claim = self._store(lambda store: store.claim(event_id, lease_seconds=lease, token=token))
        if claim.outcome.name == "IN_PROGRESS":
            raise Retry(0.5)  # another consumer (or our dead predecessor) holds the lease: wait for it
        if claim.owned:
            self._crash_if(AFTER_CLAIM)
            self._effect(event_id, partition, offset)
            self._until_store_answers(lambda: self._loop.run_until_complete(self.store.complete(event_id, claim.token)))  # type: ignore[union-attr]
            self._crash_if(AFTER_EFFECT)
        self._commit_after_effect(partition, offset)

    def _upsert(self, message: Message, event: dict[str, Any]) -> None:
        partition, offset = message.partition() or 0, message.offset() or 0
        task_id = str(event.get("task_id") or event["event_id"])
        values = {"title": event.get("title"), "created_at": event.get("created_at")}
        changed = self._store(lambda store: store.upsert_row(TASKS_TABLE, "task_id", task_id, values))
        if changed or self._unrecorded(event["event_id"]):
            self._effect(event["event_id"], partition, offset)
            self._crash_if(AFTER_EFFECT)
        self._commit_after_effect(partition, offset)

    def _unrecorded(self, event_id: str) -> bool:
        """The row was already changed, but no effect is recorded for this event.

        A predecessor was killed between changing the row (the real effect: it happened,
        once) and recording it in the ledger. Task ids are unique per event in the demo,
        so this is that event's own change: record it now, or the audit would call it lost.
        """
        while True:
            try:
                return not self.ledger.has_effect(event_id, self.group)
            except LedgerUnavailableError as exc:
                self.store_error, self.state = str(exc), "paused-ledger-down"
                self.write_status()
                if self._stopping.wait(1.0):
                    raise

    def _state_check(self, message: Message, event: dict[str, Any]) -> None:
        partition, offset = message.partition() or 0, message.offset() or 0
        task_id = str(event.get("task_id") or event["event_id"])
        assert self.tasks is not None
        self._tasks(lambda: self.tasks.ensure_pending(task_id))  # type: ignore[union-attr]
        moved = self._store(
            lambda store: store.transition(TASKS_TABLE, "task_id", task_id, "status", "pending", "completed")
        )
        if moved or self._unrecorded(event["event_id"]):
            self._effect(event["event_id"], partition, offset)
            self._crash_if(AFTER_EFFECT)
        self._commit_after_effect(partition, offset)

    # -- exactly-once ------------------------------------------------------------------------------

    def _run_transactional(self) -> None:
        """Consume, produce the result and commit the offsets in one Kafka transaction per batch."""
        assert self.consumer is not None
        out_topic = output_topic(self.topic)
        partitions = ensure_topic(self.options.bootstrap, self.topic)
        # An existing output topic keeps its own partition count (it may predate this run).
        partitions = ensure_topic(self.options.bootstrap, out_topic, partitions=max(1, partitions))
        producer = Producer(
            {
                "bootstrap.servers": self.options.bootstrap,
                "transactional.id": transactional_id(self.spec.name, self.options.group_prefix)
                + (f"-{self.instance}" if self.instance > 1 else ""),
                "enable.idempotence": True,
                "linger.ms": 5,
                "transaction.timeout.ms": 30000,
                # Right after a commit the coordinator answers the next transaction's first
                # AddPartitions with CONCURRENT_TRANSACTIONS until the previous one is fully
                # written; librdkafka then waits its default 100 ms retry pause, which capped a
                # transaction per message at ~10/s. The Java client retries this case after
                # 20 ms for the same reason; 10 ms here (exponential back-off still applies).
                "retry.backoff.ms": 10,
            },
            logger=silent_librdkafka_logger(),
        )
        producer.init_transactions(60)  # fences a zombie with the same transactional.id and aborts its transaction
        while not self._stopping.is_set():
            self._idle()
            self._rejoin_if_fenced()  # the transaction holding its offsets was aborted: nothing to keep
            limit = self.commit_every
            remaining = self.options.crash_after - self.handled
            if self.options.crash_at and remaining > 0:
                # Messages before the Nth commit in earlier batches; the crash batch holds message N alone.
                limit = min(limit, remaining - 1) if remaining > 1 else 1
            messages = self._usable(self.consumer.consume(num_messages=limit, timeout=0.2))
            if not messages:
                continue
            self._check_crash_file()
            first: dict[int, int] = {}
            next_offsets: dict[int, int] = {}
            outputs: list[tuple[str, int, int]] = []
            malformed: list[tuple[Message, str]] = []
            try:
                producer.begin_transaction()
                for message in messages:
                    self.handled += 1
                    partition, offset = message.partition() or 0, message.offset() or 0
                    first.setdefault(partition, offset)
                    next_offsets[partition] = offset + 1
                    event, problem = parse_event(message.value())
                    if problem is not None:
                        malformed.append((message, problem))
                        if problem == NO_EVENT_ID:  # processed anyway: its result goes out in the transaction
                            producer.produce(
                                out_topic,
                                value=json.dumps(
                                    {"event_id": None, "source_partition": partition, "source_offset": offset,
                                     "processed_by": self.group}
                                ).encode(),
                                partition=partition % max(1, partitions),
                            )
                        continue
                    value = {
                        "event_id": event["event_id"],
                        "task_id": event.get("task_id"),
                        "source_partition": partition,
                        "source_offset": offset,
                        "processed_by": self.group,
                    }
                    producer.produce(
                        out_topic,
                        key=str(event["event_id"]).encode(),
                        value=json.dumps(value).encode(),
                        partition=partition % max(1, partitions),
                    )
                    outputs.append((str(event["event_id"]), partition, offset))
                if self._file_point == MID_TRANSACTION or (
                    self.options.crash_at == MID_TRANSACTION and self.handled >= self.options.crash_after
                ):
                    producer.flush(10)  # the output really is in the log, uncommitted: read_committed hides it
                self._crash_if(MID_TRANSACTION)
                producer.send_offsets_to_transaction(
                    [TopicPartition(self.topic, p, o) for p, o in next_offsets.items()],
                    self.consumer.consumer_group_metadata(),
                    30,
                )
                self._commit_transaction(producer)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.fatal():
                    print(f"{self.spec.name}: fatal transaction error (fenced?): {error}", file=sys.stderr)
                    raise SystemExit(3) from None
                print(f"{self.spec.name}: transaction aborted: {error}", file=sys.stderr)
                if classify_commit_error(error) == "fenced":
                    # The group refused the offsets (FENCED_INSTANCE_ID is abortable for the
                    # producer): the consumer, not the producer, was fenced. Abort — read_committed
                    # hides the outputs — and rejoin; the batch is consumed again from the
                    # committed offsets. A stale generation needs no new consumer: the next
                    # consume() rejoins by itself.
                    self._fenced = True
                with contextlib.suppress(KafkaException):
                    producer.abort_transaction(30)
                for partition, offset in first.items():
                    with contextlib.suppress(KafkaException):
                        self.consumer.seek(TopicPartition(self.topic, partition, offset))
                self._stopping.wait(0.5)
                continue
            for event_id, partition, offset in outputs:
                self._effect(event_id, partition, offset)  # for the live view; the audit reads the output topic
            for message, problem in malformed:  # recorded once the transaction committed them
                self._malformed(message, problem)
            for partition, offset in next_offsets.items():
                self._report(partition, offset, offset)
            self.processed += len(messages)
            self._crash_if(AFTER_COMMIT)
        producer.flush(5)

    def _commit_transaction(self, producer: Producer) -> None:
        for attempt in range(5):
            try:
                producer.commit_transaction(30)
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.retriable() and attempt < 4:
                    time.sleep(0.2)
                    continue
                raise


NOT_JSON = "not-json"
"""The value is empty, not UTF-8 JSON, or JSON but not an object: there is nothing to process."""
NO_EVENT_ID = "no-event-id"
"""A JSON object without a non-empty string ``event_id``: processed anyway, without dedup (the chapter)."""


def parse_event(value: bytes | None) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """``(event, None)`` for a usable event, else ``(None, NOT_JSON | NO_EVENT_ID)`` (never an exception)."""
    if not value:
        return None, NOT_JSON
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None, NOT_JSON
    if not isinstance(event, dict):
        return None, NOT_JSON
    if not isinstance(event.get("event_id"), str) or not event["event_id"]:
        return None, NO_EVENT_ID
    return event, None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run one deliverytui demo consumer (one delivery semantic).")
    parser.add_argument("--semantic", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--ledger", required=True, help="effects ledger URL: sqlite:///path or postgresql://...")
    parser.add_argument("--dedup", help="idempotency store URL (default: sqlite:///<run-dir>/dedup.db)")
    parser.add_argument("--run-dir", required=True, help="directory for crash and status files")
    parser.add_argument("--group-prefix", default="")
    parser.add_argument("--topic", default=TASK_EVENTS_TOPIC)
    parser.add_argument("--crash-at", help="crash point to crash at (one of the semantic's points)")
    parser.add_argument("--crash-after", type=int, default=1, help="crash on the Nth message this process handles")
    parser.add_argument("--lease", type=float, default=LEASE_SECONDS, help="dedup lease in seconds (idempotent)")
    parser.add_argument("--no-probe", action="store_true", help="do not publish positions to the probe topic")
    parser.add_argument(
        "--instance", type=positive_int, default=1, help="instance number in the group (2+ joins as another member)"
    )
    parser.add_argument(
        "--commit-every",
        type=positive_int,
        help=f"messages per commit (per transaction for exactly-once); default 1, exactly-once {EOS_BATCH}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        consumer = DemoConsumer(
            ConsumerOptions(
                semantic=args.semantic,
                bootstrap=args.bootstrap,
                ledger_url=args.ledger,
                run_dir=run_dir,
                dedup_url=args.dedup,
                group_prefix=args.group_prefix,
                topic=args.topic,
                crash_at=args.crash_at,
                crash_after=max(1, args.crash_after),
                lease_seconds=args.lease,
                probe=not args.no_probe,
                commit_every=args.commit_every,
                instance=args.instance,
                watch_parent=True,
            )
        )
        return consumer.run()
    except (UserFacingError, DedupStoreError) as exc:
        print(f"deliverytui demo consumer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
