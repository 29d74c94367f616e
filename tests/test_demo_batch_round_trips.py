"""Batched, each idempotency pattern asks its store once per batch, never once per event.

A real demo consumer (in this process, so its store calls can be counted) drains a backlog on the
session broker with ``--commit-every N``; every batch handler call and every store call is counted.
The per-event calls (``claim``, ``upsert_row``, ``transition``) must not happen at all, and each
batch must make exactly the round trips its pattern names — while every event still gets one effect.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deliverytui.dedup import SqliteDedupStore
from deliverytui.demo.consumer import ConsumerOptions, DemoConsumer, batches
from deliverytui.demo.consumer.tasks import TaskTable
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url
from deliverytui.demo.semantics import semantic_spec
from deliverytui.demo.task_api import TaskApiProducer, ensure_topic, task_created_events

EVENTS = 300
N = 50

ROUND_TRIPS = {
    # pattern: the calls each batch makes, once each
    "idempotent": ("claim_many", "complete_many"),
    "upsert": ("upsert_rows",),
    "state-check": ("ensure_pending_many", "transition_many"),
}
PER_EVENT = ("claim", "upsert_row", "transition", "ensure_pending")


def _counting(calls: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted


@pytest.mark.parametrize("semantic", list(ROUND_TRIPS))
def test_one_store_round_trip_per_batch(
    bootstrap: str, tmp_path: Path, unique: str, semantic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"round-trips-{unique}"
    ensure_topic(bootstrap, topic, 3)
    producer = TaskApiProducer(bootstrap, topic)
    for event in task_created_events(EVENTS, task_prefix=f"rt-{unique}"):
        producer.publish(event)
    assert producer.flush(30) == 0 and not producer.failed

    calls: Counter[str] = Counter()
    for name in ("claim", "claim_many", "complete_many", "upsert_row", "upsert_rows", "transition", "transition_many"):
        monkeypatch.setattr(SqliteDedupStore, name, _counting(calls, name, getattr(SqliteDedupStore, name)))
    for name in ("ensure_pending", "ensure_pending_many"):
        monkeypatch.setattr(TaskTable, name, _counting(calls, name, getattr(TaskTable, name)))
    handler = batches.BATCH_HANDLERS[semantic_spec(semantic).name]
    monkeypatch.setitem(batches.BATCH_HANDLERS, semantic_spec(semantic).name, _counting(calls, "batch", handler))

    ledger = tmp_path / "ledger.db"
    EffectsLedger(sqlite_ledger_url(ledger)).close()
    consumer = DemoConsumer(
        ConsumerOptions(
            semantic=semantic, bootstrap=bootstrap, ledger_url=sqlite_ledger_url(ledger), run_dir=tmp_path,
            group_prefix=f"{unique}-", topic=topic, probe=False, commit_every=N,
        )
    )

    def stop_when_drained() -> None:
        deadline = time.monotonic() + 90
        while consumer.processed < EVENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.request_stop()

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    threading.Thread(target=stop_when_drained, daemon=True).start()
    try:
        assert consumer.run() == 0
    finally:
        for signum, previous in handlers.items():  # run() leaves the stop signals ignored for the process's exit
            signal.signal(signum, previous)

    with sqlite3.connect(ledger) as conn:
        effects, unique_effects = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM effects WHERE consumer = ?", (consumer.group,)
        ).fetchone()
    assert consumer.processed == EVENTS
    assert effects == unique_effects == EVENTS  # every event's effect, once
    assert all(calls[name] == 0 for name in PER_EVENT), calls
    assert 0 < calls["batch"] < EVENTS, calls  # batches, not messages one by one
    for name in ROUND_TRIPS[semantic]:
        assert calls[name] == calls["batch"], calls  # one round trip of each kind per batch
