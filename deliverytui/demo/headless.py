"""``deliverytui demo --headless``: one crash experiment without a screen, ending in an audit.

Produce N events (each acknowledged send recorded in the ledger), run one semantic's
consumer so that it crashes K times at one crash point (a real SIGKILL each time),
restart it after every crash, let it drain the topic, then audit. This is what the
crash-matrix tests run, and what a reader can run to check a claim of the chapter.

Why the crashes are spaced: each crashing process is told to crash on its n-th
message with n = N / (2(K+1)), so every incarnation makes progress before dying and
the K crashes happen well before the end of the topic.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from deliverytui.demo.auditor import audit
from deliverytui.demo.kafka_access import lab_client_config
from deliverytui.demo.lab import Lab, LabSettings
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.offsets import OffsetReader
from deliverytui.demo.semantics import (
    SHARE_DELIVERY_COUNT_LIMIT,
    SHARE_REDELIVERY_SECONDS,
    check_crash_point,
    semantic_spec,
)
from deliverytui.demo.supervisor import DemoSupervisor
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC, TaskApiProducer, task_created_events
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import silent_librdkafka_logger
from deliverytui.model.anomalies import INCONSISTENT_OFFSETS
from deliverytui.model.demo import ConsumerAudit

RESULT_KEYS = (
    "semantic",
    "events",
    "effects",
    "unique_effects",
    "duplicates",
    "lost",
    "unexpected",
    "dedup_hits",
    "dedup_retakes",
    "crashes",
    "lost_event_ids",
    "duplicate_event_ids",
)


def crash_spacing(events: int, crashes: int) -> int:
    """On which message of each crashing incarnation to crash (see the module docstring)."""
    return max(1, events // (2 * (crashes + 1)))


def run_headless(
    *,
    bootstrap: str,
    semantic: str,
    events: int,
    crash_at: str | None = None,
    crashes: int = 1,
    ledger_url: str | None = None,
    dedup_url: str | None = None,
    run_dir: str | Path | None = None,
    partitions: int = 3,
    group_prefix: str | None = None,
    topic: str = TASK_EVENTS_TOPIC,
    timeout: float = 300.0,
    probe: bool = True,
    progress: Callable[[str], None] | None = None,
    commit_every: int | None = None,
    malformed: Sequence[bytes | None] = (),
    keep_run_dir: bool = False,
    kafka_config: Mapping[str, str] | None = None,
    connect_timeout: float = 10.0,
    poison: int = 0,
    plot: str | Path | None = None,
) -> dict[str, Any]:
    """Run one experiment and return the audit as the headless JSON (``RESULT_KEYS`` and a few more).

    Defaults: a fresh temporary run dir holding ``ledger.db`` and ``dedup.db``, and a
    fresh group prefix (``headless-<hex>-``) whose group starts at the topic's current
    end, so earlier runs on the same topic cannot leak in. ``commit_every`` passes the
    consumer's ``--commit-every`` (batched commits; None keeps the consumer's default).
    ``malformed``: raw record values (not JSON, or no ``event_id``) produced among the events,
    spread evenly across them and the partitions; the result counts what the consumer met.
    A temporary run dir (no ``run_dir`` given) is removed after a successful run unless ``keep_run_dir``
    (``"run_dir_kept"`` in the result says which): every run would otherwise leave a ledger, stores and
    logs in /tmp. A failed run keeps it, since its error names the consumer's log there.
    ``poison``: how many of the events are marked poison (spread evenly): the queue consumer fails on
    them until the broker archives them; every other semantic ignores the mark.
    ``plot``: also write the story as an SVG timeline there (:mod:`deliverytui.demo.story_plot_svg`),
    drawn from the same ledger and audit as the figures returned.
    """
    spec = semantic_spec(semantic)
    if crash_at is not None:
        check_crash_point(semantic, crash_at)
    if events < 1:
        raise UserFacingError(f"--events must be at least 1, got {events}")
    if crashes < 0:
        raise UserFacingError(f"--crashes must not be negative, got {crashes}")
    if not 0 <= poison <= events:
        raise UserFacingError(f"--poison must be between 0 and --events ({events}), got {poison}")
    if dedup_url is not None:
        from deliverytui.dedup.url import parse_store_url

        parse_store_url(dedup_url)  # a bad URL is one line now, not a consumer dying later
    wanted_crashes = crashes if crash_at else 0
    say = progress or (lambda _line: None)
    run_path = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="deliverytui-demo-"))
    remove_run_dir = not run_dir and not keep_run_dir  # never a --run-dir the user named
    run_path.mkdir(parents=True, exist_ok=True)
    ledger_url = ledger_url or sqlite_ledger_url(run_path / "ledger.db")
    prefix = group_prefix if group_prefix is not None else f"headless-{uuid.uuid4().hex[:8]}-"
    group = spec.group_id(prefix)
    deadline = time.monotonic() + timeout

    # The same Lab as the screen's: it locks the run dir, stops leftovers of an earlier run there,
    # checks the story (a --ledger written against another cluster is refused), and starts the
    # group at the topic's end, recording that start so earlier runs' sends are never "lost" here.
    lab = Lab(
        LabSettings(
            state_dir=run_path, bootstrap=bootstrap, ledger_url=ledger_url, dedup_url=dedup_url, topic=topic,
            partitions=partitions, group_prefix=prefix, semantics=(semantic,), commit_every=commit_every, probe=probe,
            kafka_config=kafka_config, timeout=min(connect_timeout, timeout),
        )
    ).open(start=False)
    assert lab.supervisor is not None
    supervisor = lab.supervisor
    try:
        ledger = EffectsLedger(ledger_url)
    except BaseException:
        lab.close()
        raise
    reader = OffsetReader(bootstrap, kafka_config=kafka_config)
    try:
        say(f"producing {events} events to {topic}")
        producer = TaskApiProducer(bootstrap, topic, ledger=ledger, kafka_config=kafka_config)
        bad = _BadRecords(lab_client_config(bootstrap, kafka_config), topic, malformed, events, partitions)
        poisoned = poison_positions(events, poison)
        for n, event in enumerate(task_created_events(events, task_prefix=f"task-{uuid.uuid4().hex[:6]}")):
            producer.publish(replace(event, poison=True) if n in poisoned else event)
            bad.after_event(n, producer.flush)
        if producer.flush(30) or producer.failed:
            raise producer.failure(events)
        bad.flush()
        if spec.share_group:
            # No committed offsets: drained when every event is done or archived, and what the last crashed
            # worker held had time to come back (its effect is done, so the redelivery is not "pending").
            def drained() -> bool:
                last_crash = max((at for _point, at in ledger.crashes_of(group)), default=0.0)
                return (
                    time.time() - last_crash > SHARE_REDELIVERY_SECONDS
                    and ledger.queue_lost(group, topic, SHARE_DELIVERY_COUNT_LIMIT, time.time(), 1, behind_frontier=False)[0] == 0
                    and ledger.malformed_records(group, topic, 1)[0] >= bad.sent  # the bad records were met too
                )
        else:
            def drained() -> bool:
                return reader.drained(group, topic)
        spacing = crash_spacing(events, wanted_crashes)
        crashed = 0
        while crashed < wanted_crashes:
            say(f"starting {semantic} armed to crash {crash_at} on its message {spacing} ({crashed}/{wanted_crashes})")
            supervisor.start(semantic, crash_at=crash_at, crash_after=spacing, alone=True)
            outcome = _wait_for_exit_or_drain(supervisor, semantic, drained, deadline)
            if outcome == "drained":
                break  # fewer than `spacing` messages were left: no more crashes to be had
            crashed += 1
        say(f"running {semantic} until the topic is drained")
        supervisor.start(semantic)
        while not drained():
            _check_deadline(deadline, supervisor, semantic, timeout)
            code = supervisor.wait(semantic, 0.3)
            if code is not None:
                raise UserFacingError(
                    f"the {semantic} consumer exited with code {code}; see {run_path / f'{semantic}.log'}"
                )
        supervisor.stop(semantic)
        report = audit(
            ledger,
            bootstrap,
            group_prefix=prefix,
            semantics=(semantic,),
            topic=topic,
            dedup_url=dedup_url,
            run_dir=run_path,
            kafka_config=kafka_config,
            queue_drained=True,
        )
        if plot is not None:
            from deliverytui.demo.story_plot_data import story_plot
            from deliverytui.demo.story_plot_svg import render_story_svg

            render_story_svg(story_plot(ledger, report, (semantic,)), plot)
    finally:
        lab.close()
        ledger.close()
        reader.close()
    result = report.for_semantic(semantic)
    if remove_run_dir:
        shutil.rmtree(run_path, ignore_errors=True)
    return {
        "semantic": semantic,
        "events": events,
        "effects": result.effects,
        "unique_effects": result.unique_effects,
        "duplicates": result.duplicates,
        "lost": result.lost,
        "unexpected": result.unexpected,
        "dedup_hits": result.dedup_hits,
        "dedup_retakes": result.dedup_retakes,
        "crashes": result.crashes,
        "lost_event_ids": list(result.lost_event_ids),
        "duplicate_event_ids": list(result.duplicate_event_ids),
        "processed": result.processed,
        "group": group,
        "crash_at": crash_at,
        "run_dir": str(run_path),
        "run_dir_kept": not remove_run_dir,
        "malformed": result.malformed,
        "malformed_records": [m.to_json() for m in result.malformed_records],
        "warnings": [result.malformed_warning] if result.malformed_warning else [],
        # Jepsen's classes (deliverytui.model.anomalies): this consumer's, plus the topic's own
        # inconsistent offsets (two acknowledged events at one offset).
        "anomalies": {
            **result.anomalies.by_class(),
            INCONSISTENT_OFFSETS: result.anomalies.inconsistent_offsets + report.anomalies.inconsistent_offsets,
            "cases": [case.to_json() for case in result.anomalies.cases + report.anomalies.cases],
        },
        "poison": poison,
        "plot": str(plot) if plot is not None else None,
        **_queue_keys(result),
    }


def _queue_keys(result: ConsumerAudit) -> dict[str, Any]:
    """The queue's keys; for another semantic no event is ever archived (poison means nothing there)."""
    if result.is_queue:
        keys = result.queue_json()
        return {k: keys[k] for k in ("archived", "archived_event_ids", "max_delivery_count", "delivery_counts", "delivery_count_limit")}
    return {"archived": 0, "archived_event_ids": [], "max_delivery_count": None, "delivery_counts": {}}


def poison_positions(events: int, poison: int) -> frozenset[int]:
    """Which of ``events`` (0-based) are poison: ``poison`` of them, spread evenly, never the first."""
    return frozenset(min(events - 1, (k + 1) * events // (poison + 1)) for k in range(poison)) if poison < events else frozenset(range(events))


def malformed_values(count: int) -> list[bytes]:
    """``count`` values that are not usable events, alternating not-JSON and JSON without ``event_id``."""
    return [
        b"not json {" if n % 2 == 0 else json.dumps({"task_id": f"no-id-{n}", "title": "an event without event_id"}).encode()
        for n in range(count)
    ]


class _BadRecords:
    """Produces the malformed values among the events: one after every ``events // (count + 1)``-th event."""

    def __init__(self, client_config: Mapping[str, object], topic: str, values: Sequence[bytes | None], events: int, partitions: int) -> None:
        self.values = list(values)
        self.every = max(1, events // (len(self.values) + 1))
        self.partitions = max(1, partitions)
        self.sent = 0
        self.producer = (
            Producer({**client_config, "enable.idempotence": True}, logger=silent_librdkafka_logger())
            if self.values
            else None
        )
        self.topic = topic

    def after_event(self, n: int, flush_events: Callable[[float], int]) -> None:
        """After event ``n``: maybe one bad record, written after the events so far (both flushed)."""
        if self.producer is not None and self.sent < len(self.values) and (n + 1) % self.every == 0:
            flush_events(30)
            self._send()
            self.producer.flush(30)

    def _send(self) -> None:
        assert self.producer is not None
        self.producer.produce(self.topic, value=self.values[self.sent], partition=self.sent % self.partitions)
        self.sent += 1

    def flush(self) -> None:
        if self.producer is None:
            return
        while self.sent < len(self.values):
            self._send()
        if self.producer.flush(30):
            raise UserFacingError(f"the malformed records for {self.topic} were not all acknowledged")


def _wait_for_exit_or_drain(supervisor: DemoSupervisor, semantic: str, drained: Callable[[], bool], deadline: float) -> str:
    """Wait until the armed consumer dies ("crashed") or drains the topic without dying ("drained")."""
    checks = 0
    while True:
        _check_deadline(deadline, supervisor, semantic, None)
        code = supervisor.wait(semantic, 0.3)
        if code is not None:
            if code != -9:
                raise UserFacingError(
                    f"the {semantic} consumer exited with code {code} instead of crashing; "
                    f"see {supervisor.run_dir / f'{semantic}.log'}"
                )
            return "crashed"
        checks += 1
        if checks % 3 == 0 and drained():
            supervisor.stop(semantic)
            return "drained"


def _check_deadline(deadline: float, supervisor: DemoSupervisor, semantic: str, timeout: float | None) -> None:
    if time.monotonic() > deadline:
        supervisor.stop(semantic)
        raise UserFacingError(
            f"the {semantic} consumer did not drain the topic in time"
            + (f" ({timeout:.0f} s)" if timeout else "")
            + f"; see {supervisor.run_dir / f'{semantic}.log'}"
        )
