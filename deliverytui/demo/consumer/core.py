"""What every semantic's loop shares: the ledger, the store, the status file, crashes, effects.

Why a core apart from the loops: the consumer-group semantics differ only in the order of claim,
effect and commit (the handlers, :mod:`.handlers` and :mod:`.exactly_once`); recording an
effect, waiting out a ledger that is down, dying at a crash point and telling the supervisor
where the consumer is are the same for all of them, and live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from confluent_kafka import Message

from deliverytui.dedup import DedupStore, StoreUnavailableError, open_store
from deliverytui.demo.consumer.commit import GroupMember
from deliverytui.demo.consumer.events import NO_EVENT_ID
from deliverytui.demo.consumer.options import (
    EOS_BATCH,
    SESSION_TIMEOUT_MS,
    STATUS_INTERVAL,
    ConsumerOptions,
    Retry,
    crash_file,
    read_status,
    status_file,
)
from deliverytui.demo.consumer.outage import STEADY_BACKOFF, wait_out
from deliverytui.demo.consumer.tasks import TaskTable
from deliverytui.demo.kafka_access import lab_client_config
from deliverytui.demo.ledger import (
    PROCESSED_WITHOUT_DEDUP,
    SKIPPED,
    EffectsLedger,
    LedgerError,
    LedgerUnavailableError,
)
from deliverytui.demo.semantics import check_crash_point, semantic_spec, store_url_for
from deliverytui.demo.stop_flag import StopFlag
from deliverytui.probe import ProbePublisher

T = TypeVar("T")

PAUSED_LEDGER = "paused-ledger-down"
PAUSED_STORE = "paused-store-down"


class ConsumerCore:
    """One consumer's resources and counters; the loops (in other modules) drive it."""

    def __init__(self, options: ConsumerOptions) -> None:
        self.options = options
        self.spec = semantic_spec(options.semantic)
        if options.crash_at:
            check_crash_point(options.semantic, options.crash_at)
        self.semantic = self.spec.name
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
        self.stopping = StopFlag(watch_parent=options.watch_parent)
        self.file_point: str | None = None
        self._last_status = 0.0
        self.retrying: tuple[int, int] | None = None
        self.claim_token: str | None = None
        self.loop = asyncio.new_event_loop()
        self.member = GroupMember(
            name=str(self.semantic),
            topic=self.topic,
            config=self._consumer_config(),
            positions=self.positions,
            report=self.report,
            on_rejoin=lambda: self.write_status(force=True),
        )
        self.ledger = self._open_ledger(options.ledger_url)
        self.store_url = store_url_for(options.semantic, options.dedup_url, options.run_dir)
        self.store: DedupStore | None = (
            open_store(self.store_url, group=self.group) if self.store_url is not None else None
        )
        self.tasks = TaskTable(self.store_url) if self.spec.needs_sql_store and self.store_url else None
        self.probe: ProbePublisher | None = None
        default_batch = EOS_BATCH if self.spec.transactional else 1
        self.commit_every = max(1, options.commit_every or default_batch)
        self.last_message = time.monotonic()

    def _consumer_config(self) -> dict[str, Any]:
        """Static membership, explicit synchronous commits, from the earliest offset when none is committed."""
        config: dict[str, Any] = {
            "group.id": self.group,
            "client.id": str(self.semantic),
            "group.instance.id": f"{self.group}-demo" + (f"-{self.instance}" if self.instance > 1 else ""),
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 1000,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        }
        if self.spec.transactional:
            config["isolation.level"] = "read_committed"
        return lab_client_config(self.options.bootstrap, self.options.kafka_config, config)

    @property
    def consumer(self) -> Any:
        """The current Kafka consumer object (a new one after a rejoin)."""
        return self.member.consumer

    @property
    def rejoins(self) -> int:
        return self.member.rejoins

    def _open_ledger(self, url: str) -> EffectsLedger:
        """Open the ledger; a PostgreSQL ledger that is down is waited for (status says so), not a crash loop."""

        def down(exc: Exception) -> None:
            self.store_error, self.state = str(exc), PAUSED_LEDGER
            self.write_status(force=True)

        ledger = wait_out(lambda: EffectsLedger(url), errors=LedgerUnavailableError, stopping=self.stopping, on_down=down)
        if self.state == PAUSED_LEDGER:
            self.store_error, self.state = None, "starting"
        return ledger

    def _paused(self, state: str) -> Callable[[Exception], None]:
        """An ``on_down`` for :func:`wait_out`: show the pause (and why) in the status file."""

        def down(exc: Exception) -> None:
            self.store_error = str(exc)
            self.state = state
            self.write_status()

        return down

    # -- reporting -----------------------------------------------------------------------

    def write_status(self, *, force: bool = False) -> None:
        """Replace ``<run-dir>/<semantic>.status`` (atomically, by rename), at most every 0.5 s."""
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_status = now
        data = {
            "semantic": str(self.semantic),
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

    def report(self, partition: int, next_offset: int, committed: int | None) -> None:
        self.positions[partition] = (next_offset, committed)
        if self.probe is not None:
            self.probe.publish_positions(
                {(self.topic, p): (pos, com) for p, (pos, com) in self.positions.items()}
            )

    def idle(self) -> None:
        if self.probe is not None:
            self.probe.tick()
        self.write_status()

    # -- crashes -------------------------------------------------------------------------

    def check_crash_file(self) -> None:
        if os.path.exists(self.crash_path):
            try:
                point = self.crash_path.read_text().strip()
            except OSError:
                return
            self.file_point = point or None

    def crash_if(self, point: str) -> None:
        """Die here if a crash is armed at ``point`` (the supervisor's file, or --crash-at/--crash-after)."""
        armed_by_file = self.file_point == point
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

    def store_call(self, make: Callable[[DedupStore], Awaitable[T]]) -> T:
        """Run one store call; a down store becomes :class:`Retry` (no effect, no commit)."""
        assert self.store is not None
        try:
            result = self.loop.run_until_complete(make(self.store))
        except StoreUnavailableError as exc:
            self.store_error = str(exc)
            raise Retry(1.0, PAUSED_STORE) from None
        self.store_error = None
        return result

    def tasks_call(self, call: Callable[[], None]) -> None:
        """Run one task-table call; a down database becomes :class:`Retry` (no effect, no commit)."""
        try:
            call()
        except StoreUnavailableError as exc:
            self.store_error = str(exc)
            raise Retry(1.0, PAUSED_STORE) from None

    def until_store_answers(self, call: Callable[[], T]) -> T:
        """Repeat ``call`` while the store is down (used where the effect already happened)."""
        result = wait_out(call, errors=StoreUnavailableError, stopping=self.stopping, on_down=self._paused(PAUSED_STORE))
        self.store_error = None
        self.state = "running"
        return result

    # -- effects ---------------------------------------------------------------------------

    def effect(
        self, event_id: str, partition: int, offset: int, delivery_count: int | None = None, epoch: int | None = None
    ) -> None:
        """Record the effect; while the ledger is down, wait here (nothing is committed meanwhile).

        ``delivery_count`` and ``epoch`` come from the queue worker (a share group has no assignment
        epoch of its own: see :mod:`.queue`); the others record their member's epoch.

        Waiting in place rather than redoing the message matters for upsert and state-check:
        their row change is already made, and a redo would find it made and record nothing.
        Stopping while the ledger is down raises :class:`LedgerUnavailableError` (one line).
        """
        wait_out(
            lambda: self.ledger.record_effect(
                event_id, self.group, partition, offset, self.instance_label,
                self.member.epoch if epoch is None else epoch, delivery_count,
            ),
            errors=LedgerUnavailableError,
            stopping=self.stopping,
            on_down=self._paused(PAUSED_LEDGER),
        )
        if self.state == PAUSED_LEDGER:
            self.state = "running"
            self.store_error = None

    def queue_failure(self, event_id: str, partition: int, offset: int, delivery_count: int) -> None:
        """Record a queue worker's failed delivery (a poison event); a ledger that is down is waited out, as for an effect."""
        wait_out(
            lambda: self.ledger.record_queue_failure(event_id, self.group, partition, offset, delivery_count),
            errors=LedgerUnavailableError,
            stopping=self.stopping,
            on_down=self._paused(PAUSED_LEDGER),
        )

    def unrecorded(self, event_id: str) -> bool:
        """The row was already changed, but no effect is recorded for this event.

        A predecessor was killed between changing the row (the real effect: it happened,
        once) and recording it in the ledger. Task ids are unique per event in the demo,
        so this is that event's own change: record it now, or the audit would call it lost.
        """
        return not wait_out(
            lambda: self.ledger.has_effect(event_id, self.group),
            errors=LedgerUnavailableError,
            stopping=self.stopping,
            on_down=self._paused(PAUSED_LEDGER),
            backoff=STEADY_BACKOFF,
        )

    def record_malformed(self, message: Message, problem: str) -> None:
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
            f"{self.semantic}: warning: {problem} record at {self.topic}:{message.partition()}@{message.offset()}; {action}",
            file=sys.stderr,
        )
        self.ledger.record_malformed(self.group, self.topic, message.partition() or 0, message.offset() or 0, problem, action)

    # -- shutdown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release everything after the loop ended (stop signals are already ignored by then)."""
        self.state = "stopping"
        self.write_status(force=True)
        self.member.close()
        if self.probe is not None:
            self.probe.close(timeout=2.0)
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.store.close())
        if self.tasks is not None:
            self.tasks.close()
        self.state = "stopped"
        self.write_status(force=True)
        self.ledger.close()
