"""Starts, kills, crashes, restarts and replays the demo consumers (one OS process each).

Why the supervisor talks to consumers through files rather than pipes: a consumer may be SIGKILLed at any
moment and restarted by a later supervisor (the TUI can be quit and reopened), so everything it needs to know
survives in the run dir — ``<semantic>.crash`` arms a crash, ``<semantic>.status`` is the consumer's last report,
``<semantic>.log`` its output — and everything that must be audited is in the ledger. Thread-safe: the TUI
polls from a worker while the user presses keys.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from confluent_kafka.admin import AdminClient

from deliverytui.demo import processes
from deliverytui.demo.auditor import audit, release_lab_clients
from deliverytui.demo.consumer import SESSION_TIMEOUT_MS, crash_file, read_status, status_file
from deliverytui.demo.consumer_launch import URLS_FROM_STDIN, launch_consumer
from deliverytui.demo.kafka_access import lab_client_config, write_private_config
from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.offsets import wait_until_group_empty
from deliverytui.demo.semantics import KILLED, SEMANTICS, check_crash_point, semantic_spec
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.kafka.offset_reset import OffsetResetter
from deliverytui.model.demo import AuditReport, ConsumerProcessStatus
from deliverytui.model.reset import PartitionSelection, ResetPlan, ResetTarget


@dataclass
class _Slot:
    """What the supervisor remembers about one semantic's current process."""

    process: subprocess.Popen[bytes] | None = None
    name: str = ""
    """``semantic`` or ``semantic-N``: its pid record in ``<run-dir>/pids/`` (see :mod:`deliverytui.demo.processes`)."""
    log: IO[bytes] | None = None
    stopped_by_us: bool = False
    exit_code: int | None = None
    restart_at: float | None = None


class DemoSupervisor:
    """Runs one consumer process per semantic against ``bootstrap`` (``spec.instances`` of them: two for the queue).

    ``auto_restart``: seconds after which a consumer that died on its own (crash,
    kill, error) is started again by :meth:`poll`; None leaves it dead until
    :meth:`restart`. A consumer stopped with :meth:`stop` is never auto-restarted.
    """

    def __init__(
        self,
        bootstrap: str,
        run_dir: Path,
        ledger_url: str,
        dedup_url: str | None,
        *,
        group_prefix: str = "",
        semantics: Iterable[str] = tuple(SEMANTICS),
        auto_restart: float | None = None,
        topic: str = TASK_EVENTS_TOPIC,
        probe: bool = True,
        request_timeout: float = 10.0,
        commit_every: int | None = None,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.kafka_config = kafka_config
        """The ``--config`` login; consumers read it from a 0600 file in the run dir (never argv or env)."""
        self.commit_every = commit_every
        """Each consumer's ``--commit-every`` (None: its default, per message; exactly-once per batch)."""
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ledger_url = ledger_url
        self.dedup_url = dedup_url
        self.group_prefix = group_prefix
        self.semantics = tuple(semantic_spec(name).name for name in semantics)
        self.auto_restart = auto_restart
        self.topic = topic
        self.probe = probe
        self.request_timeout = request_timeout
        self.ledger = EffectsLedger(ledger_url)
        self.kafka_config_file = write_private_config(self.run_dir, kafka_config)
        self._slots = {name: _Slot() for name in self.semantics}
        self._extra: dict[tuple[str, int], _Slot] = {}  # second (third, ...) instances: a rebalance demo
        self._crash_counts: dict[str, int] = {}
        self.ledger_error: str | None = None
        self._lock = threading.RLock()
        self._admin: AdminClient | None = None
        self.commit_every_of: dict[str, int] = {}
        """Per-consumer ``--commit-every`` chosen in the lab (e.g. to widen the in-flight window)."""

    # -- helpers ------------------------------------------------------------------------------

    def group_of(self, semantic: str) -> str:
        return semantic_spec(semantic).group_id(self.group_prefix)

    def _slot(self, semantic: str) -> _Slot:
        try:
            return self._slots[semantic]
        except KeyError:
            raise UserFacingError(
                f"{semantic!r} is not supervised here; choose one of {', '.join(self.semantics)}"
            ) from None

    @staticmethod
    def _alive(slot: _Slot) -> bool:
        return slot.process is not None and slot.process.poll() is None

    def _reap(self, slot: _Slot) -> None:
        if slot.process is not None and slot.exit_code is None:
            code = slot.process.poll()
            if code is not None:
                slot.exit_code = code
                processes.forget(self.run_dir, slot.name, slot.process.pid)
                if slot.log is not None:
                    slot.log.close()
                    slot.log = None

    def command(self, semantic: str, *, crash_at: str | None = None, crash_after: int = 1) -> list[str]:
        """The command line of one consumer process (also what the headless runner starts).

        No store URL: they may hold passwords, and reach the process on its stdin (:func:`launch_consumer`).
        """
        command = [
            sys.executable,
            "-m",
            "deliverytui.demo.consumer",
            "--semantic",
            semantic,
            "--bootstrap",
            self.bootstrap,
            URLS_FROM_STDIN,
            "--run-dir",
            str(self.run_dir),
            "--group-prefix",
            self.group_prefix,
            "--topic",
            self.topic,
        ]
        if crash_at:
            command += ["--crash-at", check_crash_point(semantic, crash_at), "--crash-after", str(max(1, crash_after))]
        if not self.probe:
            command.append("--no-probe")
        if self.kafka_config_file is not None:  # the path only: the file (0600) holds the password
            command += ["--kafka-config", str(self.kafka_config_file)]
        commit_every = self.commit_every_of.get(semantic, self.commit_every)
        if commit_every is not None:
            command += ["--commit-every", str(commit_every)]
        return command

    def set_commit_every(self, semantic: str, every: int | None) -> None:
        """``semantic``'s ``--commit-every`` from its next start (None: the lab-wide setting)."""
        self._slot(semantic)
        if every is None:
            self.commit_every_of.pop(semantic, None)
        else:
            self.commit_every_of[semantic] = max(1, int(every))

    def commit_every_for(self, semantic: str) -> int | None:
        return self.commit_every_of.get(semantic, self.commit_every)

    # -- process control ------------------------------------------------------------------------

    def start_all(self) -> None:
        for semantic in self.semantics:
            self.start(semantic)

    def start(self, semantic: str, *, crash_at: str | None = None, crash_after: int = 1, alone: bool = False) -> int:
        """Start ``semantic``'s consumer unless it runs; returns its pid.

        ``crash_at``/``crash_after`` pass ``--crash-at``/``--crash-after`` (headless runs). ``alone``: without
        the queue's second worker, so the armed one gets every record and reaches its message
        ``crash_after`` (beside an unarmed worker it took 8 of 40 records and never crashed).
        """
        with self._lock:
            slot = self._slot(semantic)
            if self._alive(slot):
                assert slot.process is not None
                return slot.process.pid
            self._reap(slot)
            log = open(self.run_dir / f"{semantic}.log", "ab")  # noqa: SIM115 - closed when the process is reaped
            process = launch_consumer(
                self.command(semantic, crash_at=crash_at, crash_after=crash_after),
                ledger_url=self.ledger_url, dedup_url=self.dedup_url, log=log,
            )
            self._slots[semantic] = _Slot(process=process, log=log, name=semantic)
            processes.record(self.run_dir, semantic, process.pid)
            for instance in range(2, 1 if alone else semantic_spec(semantic).instances + 1):
                self._start_extra(semantic, instance)  # the queue's second worker: not armed, not a rebalance lesson
            return process.pid

    # -- extra instances (a rebalance) ----------------------------------------------------------

    def start_instance(self, semantic: str, instance: int = 2) -> int:
        """Start instance ``instance`` (2+) of ``semantic`` in the same group: the group rebalances.

        Extra instances are never auto-restarted; :meth:`kill_instance` SIGKILLs one.
        Returns its pid (the running one if it already runs).
        """
        if instance < 2:
            raise UserFacingError("instance 1 is the semantic's own consumer; extra instances are numbered from 2")
        with self._lock:
            self._slot(semantic)
            joins = instance not in self.instance_pids(semantic)
            pid = self._start_extra(semantic, instance)
            if joins:
                self._note(semantic, "instance", f"instance {instance} joined the group")
            return pid

    def _start_extra(self, semantic: str, instance: int) -> int:
        """Start instance ``instance`` of ``semantic`` unless it runs (no intervention recorded); its pid."""
        with self._lock:
            slot = self._extra.get((semantic, instance))
            if slot is not None and self._alive(slot):
                assert slot.process is not None
                return slot.process.pid
            if slot is not None:
                self._reap(slot)
            log = open(self.run_dir / f"{semantic}-{instance}.log", "ab")  # noqa: SIM115 - closed when reaped
            process = launch_consumer(
                [*self.command(semantic), "--instance", str(instance)],
                ledger_url=self.ledger_url, dedup_url=self.dedup_url, log=log,
            )
            name = f"{semantic}-{instance}"
            self._extra[(semantic, instance)] = _Slot(process=process, log=log, name=name)
            processes.record(self.run_dir, name, process.pid)
            return process.pid

    def kill_instance(self, semantic: str, instance: int = 2) -> bool:
        """SIGKILL extra instance ``instance`` of ``semantic``; False when it was not running."""
        with self._lock:
            slot = self._extra.get((semantic, instance))
            if slot is None or not self._alive(slot):
                return False
            assert slot.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.process.pid, signal.SIGKILL)
            slot.process.wait()
            with contextlib.suppress(UserFacingError):
                self.ledger.record_crash(self.group_of(semantic), KILLED)
            self._reap(slot)
            return True

    def instance_pids(self, semantic: str) -> dict[int, int]:
        """Running extra instances of ``semantic``: instance number -> pid."""
        with self._lock:
            return {
                n: slot.process.pid
                for (name, n), slot in sorted(self._extra.items())
                if name == semantic and slot.process is not None and self._alive(slot)
            }

    def _stop_extras(self, timeout: float) -> None:
        for slot in self._extra.values():
            if self._alive(slot):
                assert slot.process is not None
                slot.process.send_signal(signal.SIGTERM)
        for slot in self._extra.values():
            if slot.process is not None and self._alive(slot):
                try:
                    slot.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    slot.process.kill()
                    slot.process.wait()
            self._reap(slot)

    def kill(self, semantic: str) -> bool:
        """SIGKILL the consumer now, at whatever it was doing; records a ``killed`` crash row.

        Returns False when it was not running. While a PostgreSQL ledger is down the kill still
        happens (and the auto-restart is scheduled); only its crash row is lost.
        """
        with self._lock:
            slot = self._slot(semantic)
            if not self._alive(slot):
                return False
            assert slot.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.process.pid, signal.SIGKILL)
            slot.process.wait()
            with contextlib.suppress(UserFacingError):  # a ledger that is down loses the row, not the kill
                self.ledger.record_crash(self.group_of(semantic), KILLED)
            self._reap(slot)
            if self.auto_restart is not None:
                slot.restart_at = time.monotonic() + self.auto_restart
            return True

    def arm_crash(self, semantic: str, point: str, instance: int = 1) -> None:
        """Make the consumer crash the next time it reaches ``point`` (survives restarts until it fires).

        ``instance`` 2+ arms that extra instance instead (see :meth:`start_instance`).
        """
        check_crash_point(semantic, point)
        path = crash_file(self.run_dir, semantic, instance)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(point)
        os.replace(tmp, path)

    def disarm_crash(self, semantic: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            crash_file(self.run_dir, semantic).unlink()

    def restart(self, semantic: str) -> int:
        """Stop (gracefully) if running, then start; returns the new pid."""
        self.stop(semantic)
        return self.start(semantic)

    def stop(self, semantic: str, timeout: float = 15.0) -> None:
        """SIGTERM: the consumer finishes the message in hand, closes cleanly and exits.

        Falls back to SIGKILL after ``timeout`` seconds (recorded as a ``killed`` crash).
        """
        with self._lock:
            slot = self._slot(semantic)
            slot.restart_at = None
            if not self._alive(slot):
                self._reap(slot)
                slot.stopped_by_us = True
                return
            assert slot.process is not None
            slot.stopped_by_us = True
            self._note(semantic, "stop", "a planned stop (restart, replay or quit)")
            slot.process.send_signal(signal.SIGTERM)
            try:
                slot.process.wait(timeout)
            except subprocess.TimeoutExpired:
                slot.process.kill()
                slot.process.wait()
                self.ledger.record_crash(self.group_of(semantic), KILLED)
            self._reap(slot)

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop every consumer: SIGTERM to all first, so they shut down in parallel."""
        with self._lock:
            for semantic in self.semantics:
                slot = self._slots[semantic]
                slot.restart_at = None
                slot.stopped_by_us = True
                if self._alive(slot):
                    assert slot.process is not None
                    slot.process.send_signal(signal.SIGTERM)
            for semantic in self.semantics:
                self.stop(semantic, timeout)
            self._stop_extras(timeout)

    def close(self, timeout: float = 15.0) -> None:
        """Stop every consumer; release the ledger and the Kafka clients the audits keep for these groups."""
        try:
            self.stop_all(timeout)
        finally:
            with contextlib.suppress(Exception):  # what follows (the lab's leftover check) must still run
                self.ledger.close()
            with contextlib.suppress(Exception):
                release_lab_clients(self.ledger_url, self.bootstrap, self.kafka_config, [self.group_of(s) for s in self.semantics])

    def wait(self, semantic: str, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the process to exit; its exit code, or None if it still runs."""
        slot = self._slot(semantic)
        if slot.process is None:
            return slot.exit_code
        try:
            slot.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        with self._lock:
            self._reap(slot)
        return slot.exit_code

    def pid(self, semantic: str) -> int | None:
        slot = self._slot(semantic)
        return slot.process.pid if self._alive(slot) and slot.process is not None else None

    # -- observation ------------------------------------------------------------------------------

    def poll(self) -> tuple[ConsumerProcessStatus, ...]:
        """Reap dead consumers, apply auto-restart, and report every consumer (one ledger query)."""
        with self._lock:
            now = time.monotonic()
            try:
                self._crash_counts = self.ledger.crash_counts()
                self.ledger_error = None
            except UserFacingError as exc:  # the ledger is down: keep supervising with the last counts
                self.ledger_error = str(exc)
            crashes = self._crash_counts
            for slot in self._extra.values():
                self._reap(slot)
            statuses = []
            for semantic in self.semantics:
                slot = self._slots[semantic]
                if slot.process is not None and slot.exit_code is None and not self._alive(slot):
                    self._reap(slot)
                    if not slot.stopped_by_us and self.auto_restart is not None and slot.restart_at is None:
                        slot.restart_at = now + self.auto_restart
                if slot.restart_at is not None and slot.restart_at <= now and not self._alive(slot):
                    slot.restart_at = None
                    self.start(semantic)
                    slot = self._slots[semantic]
                statuses.append(self._status(semantic, slot, crashes.get(self.group_of(semantic), 0)))
            return tuple(statuses)

    def _status(self, semantic: str, slot: _Slot, crashes: int) -> ConsumerProcessStatus:
        report = read_status(status_file(self.run_dir, semantic)) or {}
        alive = self._alive(slot)
        pid = slot.process.pid if slot.process is not None else None
        if alive:
            state = str(report.get("state") or "starting") if report.get("pid") == pid else "starting"
        elif slot.process is None:
            state = "not started"
        elif slot.stopped_by_us:
            state = "stopped"
        elif slot.exit_code is not None and slot.exit_code < 0:
            state = "crashed"
        else:
            state = "exited"
        armed: str | None = None
        with contextlib.suppress(OSError):
            armed = crash_file(self.run_dir, semantic).read_text().strip() or None
        updated_at = None
        with contextlib.suppress(TypeError, ValueError):
            updated_at = datetime.fromisoformat(str(report["updated_at"])) if report.get("updated_at") else None
        note = report.get("store_error") if alive and report.get("pid") == pid else None
        extras = sum(1 for (name, _n), other in self._extra.items() if name == semantic and self._alive(other))
        return ConsumerProcessStatus(
            semantic=semantic,
            group=self.group_of(semantic),
            pid=pid if alive else None,
            alive=alive,
            state=state,
            processed=int(report.get("processed") or 0),
            crashes=int(crashes),
            armed=armed,
            exit_code=None if alive else slot.exit_code,
            updated_at=updated_at,
            note=str(note) if note else None,
            extra_instances=extras,
        )

    def audit(self, *, confirm_losses: bool = False) -> AuditReport:
        """Audit every supervised consumer with this supervisor's ledger, stores and prefix.

        ``confirm_losses``: the lab's repeated live audits (see :func:`deliverytui.demo.auditor.audit`).
        """
        with self._lock:
            return audit(
                self.ledger,
                self.bootstrap,
                group_prefix=self.group_prefix,
                semantics=self.semantics,
                topic=self.topic,
                dedup_url=self.dedup_url,
                run_dir=self.run_dir,
                confirm_losses=confirm_losses,
                kafka_config=self.kafka_config,
            )

    # -- replay -------------------------------------------------------------------------------------

    def replay(self, semantic: str, target: ResetTarget, *, dry_run: bool) -> ResetPlan:
        """Plan (and unless ``dry_run``, apply) an offset reset of ``semantic``'s group on the topic.

        Applying it stops the consumer, waits until the group has no members (a stopped
        static member leaves only when its session times out, about 6 s), resets, and
        starts the consumer again. Returns the plan that was (or would be) applied.
        """
        if semantic_spec(semantic).share_group:
            raise UserFacingError(f"{semantic} is a share group: it has no committed offsets to replay from")
        group = self.group_of(semantic)
        selection = PartitionSelection(topics=((self.topic, None),))
        resetter = OffsetResetter(self.bootstrap, self.kafka_config, request_timeout=self.request_timeout)
        plan = resetter.plan_reset(group, selection, target)
        if dry_run:
            return plan
        self.stop(semantic)
        self.wait_until_empty(group)
        plan = resetter.plan_reset(group, selection, target)  # the offsets moved while the consumer stopped
        resetter.execute_reset(plan, allow_writes=True)
        self._note(semantic, "replay", f"its group was reset with {target.describe()}")
        self.start(semantic)
        return plan

    def _note(self, semantic: str, kind: str, detail: str) -> None:
        """Record an intervention: the audit names it as the cause of the redeliveries that follow."""
        with contextlib.suppress(UserFacingError):
            self.ledger.record_intervention(self.group_of(semantic), kind, detail)

    def wait_until_empty(self, group: str, timeout: float = SESSION_TIMEOUT_MS / 1000 + 20) -> None:
        """Poll DescribeConsumerGroups (members only: no offset fetch) until the group has no member."""
        if self._admin is None:
            self._admin = AdminClient(lab_client_config(self.bootstrap, self.kafka_config), logger=silent_librdkafka_logger())
        wait_until_group_empty(self._admin, group, timeout, self.request_timeout)
