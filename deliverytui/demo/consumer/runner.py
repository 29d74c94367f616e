"""The consumer process's life: install the stop handlers, join the group, run the loop, clean up.

Why a table of loops: which loop runs is a property of the semantic (and, for at-most-once,
of the batch size: the at-least-once family and at-most-once run a batch loop with ``--commit-every N``), looked up by :class:`Semantic` in :data:`LOOPS`, so adding or reading a
semantic never means following a chain of name comparisons.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from deliverytui.demo.consumer.batches import run_at_least_once_family
from deliverytui.demo.consumer.core import ConsumerCore
from deliverytui.demo.consumer.exactly_once import run_transactional
from deliverytui.demo.consumer.handlers import run_at_most_once
from deliverytui.demo.consumer.queue import run_queue
from deliverytui.demo.kafka_access import lab_client_config
from deliverytui.demo.semantics import Semantic
from deliverytui.probe import ProbePublisher

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

LOOPS: dict[Semantic, Callable[[ConsumerCore], None]] = {
    Semantic.AT_MOST_ONCE: run_at_most_once,
    Semantic.AT_LEAST_ONCE: run_at_least_once_family,
    Semantic.IDEMPOTENT: run_at_least_once_family,
    Semantic.UPSERT: run_at_least_once_family,
    Semantic.STATE_CHECK: run_at_least_once_family,
    Semantic.EXACTLY_ONCE: run_transactional,
    Semantic.QUEUE: run_queue,
}


class DemoConsumer(ConsumerCore):
    """The poll loop of one semantic; :meth:`run` returns the process exit code."""

    def request_stop(self, *_: Any) -> None:
        """Ask the poll loop to stop; safe in a signal handler (see :mod:`deliverytui.demo.stop_flag`)."""
        self.stopping.set()

    def run(self) -> int:
        self.stopping.install(*STOP_SIGNALS)
        self.write_status(force=True)
        if self.tasks is not None:
            self.until_store_answers(self.tasks.ensure_schema)
        share = self.spec.share_group  # the queue runs its own ShareConsumer: no consumer group, no positions
        if self.options.probe and not share:
            self.probe = ProbePublisher(
                lab_client_config(self.options.bootstrap, self.options.kafka_config), self.group, str(self.semantic)
            )
            self.member.probe = self.probe
        if not share:
            self.member.join()
        self.state = "running"
        try:
            LOOPS[self.semantic](self)
        finally:
            # Stopping already: further SIGTERMs (a supervisor and a shell both asking) must not kill the
            # clean-up, nor the interpreter's exit, where Python puts the default handlers back.
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            self.close()
        return 0
