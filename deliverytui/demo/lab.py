"""The teaching lab as one object that owns its processes: ``Lab`` (no Textual here).

Why one owner: the lab was assembled by the screen (broker, topics, producer, supervisor,
auditor), so its lifecycle followed the screen's. Leaving the lab screen stopped reaping and
auto-restarts; a quit, a closed terminal or a SIGTERM left six consumers running, and the next
lab started six more beside them with the same ``group.instance.id``s, which fenced each other
and manufactured duplicates. Now:

* one lab per state dir, held by an ``flock`` on ``lab.lock`` (released by the kernel when the
  lab dies, so a stale lock is simply taken over);
* consumers that a dead lab left behind are found (:mod:`deliverytui.demo.processes`) and stopped
  before any new one starts, and each consumer stops by itself when its lab is gone;
* the state records the story it describes (:mod:`deliverytui.demo.story`): another cluster,
  recreated topics or a wiped ledger start a new story instead of mixing two;
* :meth:`Lab.poll` returns a typed :class:`~deliverytui.model.demo.LabUpdate` (statuses, audit,
  and the lab's own event lines), whoever renders it; :meth:`Lab.close` stops every consumer
  gracefully (SIGKILL after a bounded timeout).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deliverytui.dedup.url import redact_url
from deliverytui.demo import processes
from deliverytui.demo.auditor import OUTPUT_TALLY, forget_ledger
from deliverytui.demo.classroom import ClassroomPublisher, classroom_file
from deliverytui.demo.kafka_access import (
    check_lab_access,
    refuse_secured_embedded_broker_without_login,
    write_private_config,
)
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.offsets import OffsetReader, start_group_at_log_end
from deliverytui.demo.producer_loop import RateLimitedProducer
from deliverytui.demo.semantics import (
    SEMANTICS,
    SHARE_DELIVERY_COUNT_LIMIT,
    default_dedup_url,
    output_topic,
    semantic_spec,
    store_url_for,
)
from deliverytui.demo.story import LOCK_FILE, cluster_identity, mismatch, move_aside, read_story, write_story
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC, ensure_topic
from deliverytui.errors import ExitCode, UserFacingError, one_line
from deliverytui.model.demo import ConsumerProcessStatus, LabEvent, LabUpdate
from deliverytui.model.reset import ResetPlan, ResetTarget

RATES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
"""The producer's rate steps for ``+``/``-``: every step can be reached again from the cap."""
WIDE_WINDOW = 20
"""``--commit-every`` the lab's ``b`` key gives one consumer: a gap between position and commit you can see."""


def default_state_dir() -> Path:
    """Where the lab keeps its story between runs (``DELIVERYTUI_DEMO_DIR`` overrides it)."""
    return Path(os.environ.get("DELIVERYTUI_DEMO_DIR") or (Path.home() / ".local" / "share" / "deliverytui" / "demo"))


class LabBusyError(UserFacingError):
    """Another lab holds this state dir."""

    exit_code = ExitCode.LAB_BUSY


class LabStoryError(UserFacingError):
    """An external ledger (``--ledger``) records another cluster's story: the lab never mixes two."""

    exit_code = ExitCode.LAB_STORY


@dataclass(frozen=True)
class LabSettings:
    """What a lab runs with; ``bootstrap`` None starts (or reuses) the embedded broker."""

    state_dir: Path
    bootstrap: str | None = None
    ledger_url: str | None = None
    dedup_url: str | None = None
    topic: str = TASK_EVENTS_TOPIC
    partitions: int = 3
    rate: float = 5.0
    auto_restart: float | None = None
    commit_every: int | None = None
    group_prefix: str = ""
    semantics: tuple[str, ...] = field(default_factory=lambda: tuple(SEMANTICS))
    stop_timeout: float = 15.0
    """How long a quitting lab waits for a consumer's graceful stop before SIGKILL."""
    probe: bool = True
    """Consumers publish their positions to the probe topic (the live view's Position column)."""
    kafka_config: Mapping[str, str] | None = None
    """The ``--config`` login (SASL/SSL) of every Kafka client the lab runs: producer, consumers, auditor, replay."""
    timeout: float = 10.0
    """How long the first request may wait for an answer before the lab says why in one line."""
    classroom: bool = False
    """Publish every poll for read-only viewers (``deliverytui serve demo``; see :mod:`deliverytui.demo.classroom`)."""


class Lab:
    """The lab's whole lifecycle; thread-safe for one poller and the key handlers."""

    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings
        self.state_dir = Path(settings.state_dir)
        self.bootstrap = settings.bootstrap or ""
        self.embedded = settings.bootstrap is None
        self.supervisor: DemoSupervisor | None = None
        self.producer: RateLimitedProducer | None = None
        self.acknowledged_before = 0
        self._lock_fd: int | None = None
        self._events: list[LabEvent] = []
        self._events_lock = threading.Lock()
        self._previous: dict[str, ConsumerProcessStatus] = {}
        self.closed = False
        self._closing = threading.Lock()
        self.classroom: ClassroomPublisher | None = None

    # -- start --------------------------------------------------------------------------------------
    def open(self, progress: Callable[[str], None] = lambda _line: None, *, start: bool = True) -> Lab:
        """Lock the state, stop leftovers, resume or start the story, start the producer and consumers.

        ``start=False`` (the headless experiment) leaves the producer and the consumers to the
        caller, which produces its events first and starts the consumer with crash arguments.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self._open(progress, start)
        except BaseException:
            self.close()
            raise
        return self

    def _open(self, progress: Callable[[str], None], start: bool) -> None:
        settings = self.settings
        left = processes.leftovers(self.state_dir)
        if left:
            progress(f"stopping {len(left)} consumer(s) an earlier lab left running…")
            ended = processes.stop(left, timeout=settings.stop_timeout)
            self.say(
                f"stopped {len(ended)} consumer(s) left running by an earlier lab: "
                + ", ".join(f"{p.name} (pid {p.pid}, {how})" for p, how in ended),
                "warning",
            )
        if self.embedded:
            progress("starting (or reusing) the embedded Apache Kafka broker…")
            from deliverytui.broker.embedded import EmbeddedBroker
            from deliverytui.broker.paths import default_data_dir

            self.bootstrap = EmbeddedBroker(default_data_dir()).start()[0].bootstrap  # in the mode it was started with
        if not settings.kafka_config:
            refuse_secured_embedded_broker_without_login(self.bootstrap)
        check_lab_access(self.bootstrap, settings.kafka_config, settings.timeout)
        topics = (settings.topic, output_topic(settings.topic))
        for topic in topics:
            ensure_topic(self.bootstrap, topic, partitions=settings.partitions, kafka_config=settings.kafka_config,
                         request_timeout=settings.timeout)  # fmt: skip
        identity = cluster_identity(self.bootstrap, topics, kafka_config=settings.kafka_config)
        new_story = self._choose_story(identity)
        ledger_url = settings.ledger_url or sqlite_ledger_url(self.state_dir / "ledger.db")
        dedup_url = settings.dedup_url or default_dedup_url(self.state_dir)
        supervisor = self.supervisor = DemoSupervisor(
            self.bootstrap, self.state_dir, ledger_url, dedup_url,
            group_prefix=settings.group_prefix, semantics=settings.semantics, auto_restart=settings.auto_restart,
            topic=settings.topic, commit_every=settings.commit_every, probe=settings.probe,
            kafka_config=settings.kafka_config,
        )  # fmt: skip
        ledger = supervisor.ledger
        recorded = ledger.story()
        why = mismatch(recorded, identity)
        if why is not None:  # an external ledger (PostgreSQL) that another story wrote: never mix the two
            raise LabStoryError(
                f"the ledger {redact_url(ledger_url)} holds another story ({why}); give a fresh --ledger"
            )
        new_story = new_story or not recorded
        if new_story:
            forget_ledger(ledger_url)  # a new story in the same place starts from no counts
        self._position_groups(ledger, new_story, progress)
        ledger.record_story(identity)
        write_story(self.state_dir, identity, self.bootstrap)
        self.acknowledged_before = ledger.acked_count(settings.topic)
        if start:
            self.producer = RateLimitedProducer(self.bootstrap, ledger, topic=settings.topic, kafka_config=settings.kafka_config)
            supervisor.start_all()
            self.producer.start(settings.rate)

    def _take_lock(self) -> None:
        path = self.state_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LabBusyError(
                f"another deliverytui lab (pid {holder}) is using {self.state_dir}; quit it first, "
                "or give this one its own state with DELIVERYTUI_DEMO_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _choose_story(self, identity: dict[str, str]) -> bool:
        """True when this run starts a new story (the old one, if any, moved aside)."""
        recorded = read_story(self.state_dir)
        ledger_file = self.state_dir / "ledger.db"
        why = mismatch(recorded, identity)
        if why is None and recorded and self.settings.ledger_url is None and not ledger_file.exists():
            why = "the ledger was wiped"
        if why is None and not recorded and ledger_file.exists():
            why = "the state records no cluster"
        if why is None:
            return not recorded
        moved = move_aside(self.state_dir)
        where = f"; the old one is in {moved}" if moved else ""
        self.say(f"new story: {why}{where}", "warning")
        return True

    def _position_groups(self, ledger: EffectsLedger, new_story: bool, progress: Callable[[str], None]) -> None:
        """Groups start at the topics' end in a new story; a resumed story keeps its offsets."""
        assert self.supervisor is not None
        topic = self.settings.topic
        reader = OffsetReader(self.bootstrap, kafka_config=self.settings.kafka_config)
        try:
            if new_story:
                ledger.record_stream_start(OUTPUT_TALLY, output_topic(topic), reader.log_end(output_topic(topic)))
            for name in self.supervisor.semantics:
                group = self.supervisor.group_of(name)
                if semantic_spec(name).share_group:
                    # A share group has no offsets to commit (and committing some would create a classic
                    # group of that name, which the share consumers could not join). It reads from the
                    # earliest record; its workers accept what lies below this start without an effect,
                    # so a new story's queue, like every group, begins at the topic's end.
                    end = reader.log_end(topic)
                    ledger.record_stream_start(group, topic, end if new_story else dict.fromkeys(end, 0))
                    continue
                if new_story and reader.committed(group, topic):  # another story's offsets on this broker
                    progress(f"moving group {group} to the end of {topic} for the new story…")
                    self.supervisor.wait_until_empty(group)
                    end = reader.log_end(topic)
                    reader.commit(group, topic, end)
                    ledger.record_stream_start(group, topic, end)
                else:
                    start_group_at_log_end(reader, ledger, group, topic)
        finally:
            reader.close()

    # -- observation -----------------------------------------------------------------------------
    def say(self, text: str, kind: str = "info") -> None:
        """Queue one event-log line; the next :meth:`poll` hands it to whoever renders the lab."""
        with self._events_lock:
            self._events.append(LabEvent(text, kind))

    def poll(self) -> LabUpdate:
        """Reap and auto-restart consumers, audit, and report (never raises: errors are in the update)."""
        supervisor, producer = self.supervisor, self.producer
        assert supervisor is not None and producer is not None
        statuses: tuple[ConsumerProcessStatus, ...] = ()
        audit = None
        error = None
        try:
            statuses = supervisor.poll()
            self._note_transitions(statuses)
            audit = supervisor.audit(confirm_losses=True)
        except Exception as exc:  # noqa: BLE001 - the lab shows it and keeps going
            error = one_line(exc)
        with self._events_lock:
            events, self._events = tuple(self._events), []
        update = LabUpdate(
            statuses=statuses,
            audit=audit,
            produced=self.acknowledged_before + producer.acknowledged,
            rate=producer.rate,
            error=error,
            events=events,
            commit_every={name: supervisor.commit_every_for(name) for name in supervisor.semantics},
        )
        if self.settings.classroom:
            if self.classroom is None:
                self.classroom = ClassroomPublisher(classroom_file(self.state_dir), self.bootstrap)
            try:
                self.classroom.publish(update)
            except OSError as exc:  # the viewers miss a frame; the presenter's lab goes on
                self.say(f"classroom frame not written: {one_line(exc)}", "warning")
        return update

    def _note_transitions(self, statuses: tuple[ConsumerProcessStatus, ...]) -> None:
        for status in statuses:
            old = self._previous.get(status.semantic)
            if old is not None and old.alive and not status.alive:
                if status.state == "stopped":
                    self.say(f"{status.semantic} stopped (a planned stop)")
                elif status.exit_code is not None and status.exit_code < 0:
                    self.say(f"{status.semantic} died (signal {-status.exit_code})", "crash")
                else:
                    self.say(f"{status.semantic} exited (code {status.exit_code})", "crash")
            elif old is not None and not old.alive and status.alive and old.state != "stopped":
                self.say(f"{status.semantic} started again (pid {status.pid})", "good")
            self._previous[status.semantic] = status

    # -- what the presenter does ---------------------------------------------------------------
    def group_of(self, semantic: str) -> str:
        return semantic_spec(semantic).group_id(self.settings.group_prefix)

    def crash_points(self, semantic: str) -> tuple[str, ...]:
        return semantic_spec(semantic).crash_points

    def dedup_url_for(self, semantic: str) -> str | None:
        """The store ``semantic`` keeps its idempotency state in (None for semantics without one)."""
        return store_url_for(semantic, self.settings.dedup_url, self.state_dir)

    def kill(self, semantic: str) -> str:
        assert self.supervisor is not None
        killed = self.supervisor.kill(semantic)
        return f"killed {semantic} (SIGKILL)" if killed else f"{semantic} was not running"

    def arm_crash(self, semantic: str, point: str) -> str:
        assert self.supervisor is not None
        self.supervisor.arm_crash(semantic, point)
        return f"armed {semantic}: crash {point} on its next message"

    def restart(self, semantic: str) -> str:
        assert self.supervisor is not None
        pid = self.supervisor.restart(semantic)
        return f"restarted {semantic} (pid {pid})"

    def replay(self, semantic: str, target: ResetTarget, *, dry_run: bool) -> ResetPlan:
        assert self.supervisor is not None
        return self.supervisor.replay(semantic, target, dry_run=dry_run)

    def toggle_instance(self, semantic: str) -> str:
        """Start a second instance of ``semantic`` (a rebalance); again: SIGKILL it."""
        assert self.supervisor is not None
        if self.supervisor.instance_pids(semantic):
            self.supervisor.kill_instance(semantic, 2)
            return f"killed {semantic} instance 2 (SIGKILL): its partitions return after the session timeout"
        self.supervisor.start_instance(semantic, 2)
        return f"started {semantic} instance 2: the group rebalances"

    def toggle_window(self, semantic: str) -> str:
        """Commit every :data:`WIDE_WINDOW` messages instead of each one (or back), restarting ``semantic``.

        Per message, the commit closes the gap between position and committed offset within
        milliseconds and the Position column never shows yellow; a window of 20 keeps it open.
        """
        assert self.supervisor is not None
        if semantic_spec(semantic).share_group:
            return f"{semantic} acknowledges each record on its own: a share group has no offsets, so no commit window"
        current = self.supervisor.commit_every_for(semantic)
        wide = current is None or current < WIDE_WINDOW
        self.supervisor.set_commit_every(semantic, WIDE_WINDOW if wide else 1)
        self.supervisor.restart(semantic)
        if wide:
            return f"{semantic} now commits every {WIDE_WINDOW} messages: position runs ahead of committed (yellow)"
        return f"{semantic} commits every message again"

    def change_rate(self, step: int) -> float:
        """One step up (``+1``) or down (``-1``) the :data:`RATES` ladder; the new rate."""
        assert self.producer is not None
        rate = self.producer.rate
        if step > 0:
            new = next((r for r in RATES if r > rate + 1e-9), RATES[-1])
        else:
            new = next((r for r in reversed(RATES) if r < rate - 1e-9), RATES[0])
        self.producer.set_rate(new)
        return new

    def poison_next(self) -> str:
        """Mark the producer's next event poison: the queue's lesson (the other consumers ignore the mark)."""
        assert self.producer is not None
        self.producer.mark_poison()
        return (
            f"the next event is poison: the queue fails on it, releases it, and after {SHARE_DELIVERY_COUNT_LIMIT} "
            "deliveries the broker archives it (Archived, never Lost); the other consumers ignore the mark"
        )

    # -- stop ------------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Stop the producer and every consumer (gracefully, SIGKILL after the timeout); release the state.

        Returns lines for the terminal after the screen is gone (the broker keeps running).
        A second caller (the screen's exit while a hang-up closes the lab) waits for the first.
        """
        with self._closing:
            if self.closed:
                return []
            self.closed = True
            return self._close()

    def _close(self) -> list[str]:
        lines: list[str] = []
        if self.producer is not None:
            with contextlib.suppress(Exception):
                self.producer.stop()
        if self.supervisor is not None:
            self.supervisor.close(self.settings.stop_timeout)
        if self.classroom is not None:
            with contextlib.suppress(OSError):
                self.classroom.withdraw()
        left = processes.leftovers(self.state_dir)  # nothing may outlive the lab: not even a stuck one
        if left:
            processes.stop(left, timeout=2.0)
        write_private_config(self.state_dir, None)  # no consumer left to read the login: the password goes too
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
        if self.embedded and self.bootstrap:
            lines.append(
                f"the embedded Kafka broker keeps running at {self.bootstrap} (the next lab reuses it); "
                "stop it with: deliverytui broker stop"
            )
        return lines
