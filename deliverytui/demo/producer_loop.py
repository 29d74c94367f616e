"""A background "Task API" that keeps publishing task.created events at an adjustable rate.

Why a thread with a token bucket: the lab lets the user turn the rate up and down
while consumers crash and restart, and the TUI must not block on Kafka. The thread
owns its producer and its own ledger connection (SQLite connections are not shared
between threads), and records every acknowledged send in the ledger.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace

from deliverytui.demo.ledger import EffectsLedger, LedgerUnavailableError
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC, TaskApiProducer, task_created_events
from deliverytui.errors import one_line


class RateLimitedProducer:
    """Publishes events at ``rate`` per second from a daemon thread until :meth:`stop`.

    ``ledger`` is an :class:`EffectsLedger` (only its URL is used: the thread opens its
    own connection) or a ledger URL. Task ids get a per-instance prefix so the SQL
    patterns never see a task id from an earlier run.
    """

    def __init__(
        self, bootstrap: str, ledger: EffectsLedger | str, *, topic: str = TASK_EVENTS_TOPIC, task_prefix: str | None = None,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.kafka_config = kafka_config
        self.ledger_url = ledger if isinstance(ledger, str) else ledger.url
        self.topic = topic
        self.task_prefix = task_prefix or f"task-{uuid.uuid4().hex[:6]}"
        self.rate = 0.0
        self.sent = 0
        self.error: str | None = None
        self.ledger_error: str | None = None
        """While the ledger is down: its one-line reason (acknowledged sends wait in memory meanwhile)."""
        self._acknowledged = 0
        self._failed = 0
        self._poison_next = 0
        self.poisoned: list[str] = []
        """Event ids sent marked poison (the lab's ``P``), in order."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def acknowledged(self) -> int:
        """Sends the broker confirmed (each is in the ledger's ``acked_events``)."""
        return self._acknowledged

    @property
    def failed(self) -> int:
        return self._failed

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, rate_per_s: float) -> None:
        """Start publishing at ``rate_per_s`` events per second (0 = paused)."""
        self.set_rate(rate_per_s)
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="demo-task-api", daemon=True)
        self._thread.start()

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate; takes effect within one tick (50 ms)."""
        self.rate = max(0.0, float(rate_per_s))

    def mark_poison(self) -> None:
        """Mark the next event this producer sends as poison (``"poison": true``): the queue's lesson.

        A counter, not a flag, so pressing ``P`` twice before the next send poisons two events.
        """
        self._poison_next += 1

    def stop(self, timeout: float = 15.0) -> None:
        """Stop publishing and wait until the in-flight sends are confirmed and recorded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _final_flush(self, producer: TaskApiProducer) -> None:
        """Wait for the last delivery reports, and for the ledger (up to 60 s) if it is down."""
        deadline = time.monotonic() + 60.0
        while True:
            try:
                producer.flush(10.0)
                self.ledger_error = None
                return
            except LedgerUnavailableError as exc:
                self.ledger_error = str(exc)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _run(self) -> None:
        ledger = EffectsLedger(self.ledger_url)
        producer = TaskApiProducer(self.bootstrap, self.topic, ledger=ledger, ack_batch=10**9, kafka_config=self.kafka_config)
        events = task_created_events(10**12, task_prefix=self.task_prefix)
        allowance = 0.0
        last = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                allowance = min(allowance + (now - last) * self.rate, max(1.0, self.rate))
                last = now
                while allowance >= 1.0 and not self._stop.is_set():
                    event = next(events)
                    if self._poison_next > 0:
                        self._poison_next -= 1
                        event = replace(event, poison=True)
                        self.poisoned.append(event.event_id)
                    producer.publish(event)
                    self.sent += 1
                    allowance -= 1.0
                try:
                    producer.poll(0)  # serves delivery reports and writes their acks in one transaction
                    self.ledger_error = None
                except LedgerUnavailableError as exc:  # the acks stay pending; written once it is back
                    self.ledger_error = str(exc)
                self._acknowledged, self._failed = producer.acknowledged, producer.failed
                self._stop.wait(0.05)
            self._final_flush(producer)
        except Exception as exc:  # noqa: BLE001 - reported to the TUI, which must keep running
            self.error = one_line(exc)
        finally:
            self._acknowledged, self._failed = producer.acknowledged, producer.failed
            ledger.close()
