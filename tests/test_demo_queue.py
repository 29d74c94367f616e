"""The queue consumer (a share group, KIP-932) crashed for real and fed poison, on the real broker.

Two worker processes share the partitions; the embedded broker's record lock is 4 s and a dead
worker's session 6 s, so a redelivery comes back within seconds. The headless run waits for it
(see ``run_headless``), and every claim below is checked in the ledger, not only in the summary.
"""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from deliverytui.demo.ledger import AckedEvent, EffectsLedger, sqlite_ledger_url
from deliverytui.demo.semantics import SEMANTICS, SHARE_DELIVERY_COUNT_LIMIT
from deliverytui.demo.task_api import TaskCreated
from tests.helpers import run_cli, run_crash_case
from tests.kafka_helpers import create_topic

EVENTS = 30
CRASHES = 2


def _ledger(run_dir: Path) -> EffectsLedger:
    return EffectsLedger(sqlite_ledger_url(run_dir / "ledger.db"))


def _delivery_counts_of(run_dir: Path, group: str, event_id: str) -> list[int]:
    with _ledger(run_dir) as ledger:
        rows = ledger.query("SELECT delivery_count FROM effects WHERE consumer = ? AND event_id = ? ORDER BY id", (group, event_id))
    return [int(count) for (count,) in rows]


def test_queue_crash_points(bootstrap: str, tmp_path: Path, unique: str) -> None:
    points = SEMANTICS["queue"].crash_points
    assert points == ("after-effect", "after-ack")

    def one(point: str) -> dict[str, Any]:
        return run_crash_case(
            bootstrap, "queue", point, tmp_path / point, f"{unique}-{point}-", f"queue-{unique}-{point}",
            events=EVENTS, crashes=CRASHES,
        )

    with ThreadPoolExecutor(len(points)) as pool:
        results = dict(zip(points, pool.map(one, points)))
    for point, result in results.items():
        case = f"queue crashing {point}: {result}"
        assert result["crashes"] >= 1, case  # the two workers may drain the topic before the second crash
        assert result["lost"] == 0 and result["lost_event_ids"] == [], case
        assert result["unexpected"] == 0, case
        assert result["unique_effects"] == EVENTS == result["processed"], case
        assert result["archived"] == 0 and result["delivery_count_limit"] == SHARE_DELIVERY_COUNT_LIMIT, case
        assert sum(result["delivery_counts"].values()) == result["effects"], case
    effect = results["after-effect"]
    # Each crash left an effect done and not acknowledged: the lock expired, the record came back, done again.
    assert effect["duplicates"] >= 1 and len(effect["duplicate_event_ids"]) == effect["duplicates"], effect
    assert effect["max_delivery_count"] >= 2 and int(effect["delivery_counts"].get("2", 0)) >= 1, effect
    for event_id in effect["duplicate_event_ids"]:
        counts = _delivery_counts_of(tmp_path / "after-effect", effect["group"], event_id)
        assert len(counts) == 2 and counts[0] < counts[1] and counts[1] >= 2, (event_id, counts)
    ack = results["after-ack"]
    assert ack["duplicates"] == 0 and ack["effects"] == EVENTS, ack  # acknowledged and committed: harmless


def test_a_poison_event_is_archived_after_the_delivery_limit(bootstrap: str, tmp_path: Path, unique: str) -> None:
    def one(semantic: str) -> dict[str, Any]:
        return run_crash_case(
            bootstrap, semantic, None, tmp_path / semantic, f"{unique}-poison-", f"poison-{unique}-{semantic}",
            events=EVENTS, crashes=0, poison=1,
        )

    with ThreadPoolExecutor(2) as pool:
        queue, other = pool.map(one, ["queue", "at-least-once"])
    limit = SHARE_DELIVERY_COUNT_LIMIT
    assert queue["archived"] == 1 and len(queue["archived_event_ids"]) == 1, queue
    assert queue["lost"] == 0 and queue["duplicates"] == 0 and queue["unexpected"] == 0, queue  # archived is not lost
    assert queue["unique_effects"] == EVENTS - 1 and queue["processed"] == EVENTS, queue
    assert queue["max_delivery_count"] == limit, queue
    assert queue["delivery_counts"] == {"1": EVENTS - 1, str(limit): 1}, queue
    (poison,) = queue["archived_event_ids"]
    with _ledger(tmp_path / "queue") as ledger:
        assert ledger.queue_failures_of(queue["group"], poison) == list(range(1, limit + 1))  # 5 failed deliveries
        assert not ledger.has_effect(poison, queue["group"])
    # Every other semantic ignores the mark: the poison event is an ordinary event there.
    assert other["archived"] == 0 and other["unique_effects"] == EVENTS and other["lost"] == 0, other


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_queue_ledger_figures_on_both_backends(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """delivery_count and queue_failures on SQLite and PostgreSQL alike, and a ledger from before the queue gains the column."""
    if backend == "sqlite":
        path = tmp_path / "old.db"
        old = sqlite3.connect(path)  # an effects table from before delivery_count (and before instance/epoch)
        old.execute(
            'CREATE TABLE effects (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, consumer TEXT NOT NULL, '
            '"partition" INTEGER, "offset" BIGINT, attempt INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL)'
        )
        old.execute("INSERT INTO effects (event_id, consumer, \"partition\", \"offset\", attempt, at) VALUES ('old', 'q', 0, 0, 1, 1.0)")
        old.commit()
        old.close()
        url = sqlite_ledger_url(path)
    else:
        url = request.getfixturevalue("postgres_url")
    limit = SHARE_DELIVERY_COUNT_LIMIT
    with EffectsLedger(url) as ledger:
        ledger.record_acks([AckedEvent(e, None, "t", 0, n, 1.0) for n, e in enumerate(["a", "b", "poison", "stuck"])])
        ledger.record_effect("a", "q", 0, 0, "1:1", None, 1)
        ledger.record_effect("b", "q", 0, 1, "1:1", None, 1)
        ledger.record_effect("b", "q", 0, 1, "2:2", None, 2)  # redelivered after a crash: a duplicate, count 2
        for count in range(1, limit + 1):
            ledger.record_queue_failure("poison", "q", 0, 2, count)
        ledger.record_queue_failure("stuck", "q", 0, 3, 1)  # failed once, not archived yet: in flight, then lost
        assert ledger.archived_events("q", limit) == [("poison", limit, limit)]
        assert ledger.queue_failures_of("q", "poison") == list(range(1, limit + 1))
        expected = {1: 2, 2: 1, limit: 1} if backend == "postgres" else {1: 3, 2: 1, limit: 1}  # the old row counts as 1
        assert ledger.delivery_count_histogram("q", limit) == expected
        assert ledger.max_delivery_count("q") == limit
        assert ledger.queue_done("q", "t", limit) == 3
        assert ledger.queue_lost("q", "t", limit, 2.0, 10, behind_frontier=False) == (1, [("stuck", 0, 3)])
        # Still running: "stuck" is past the highest offset the queue has done, a backlog, not a loss.
        assert ledger.queue_lost("q", "t", limit, 2.0, 10, behind_frontier=True) == (0, [])


def test_headless_cli_prints_the_queue_keys(bootstrap: str, tmp_path: Path, unique: str) -> None:
    """The user's command line: --poison and --semantic queue through the real CLI, the queue's keys in the JSON."""
    result = run_cli(
        "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "queue", "--events", "12", "--poison", "1",
        "--crash-at", "after-ack", "--crashes", "1", "--topic", f"queue-cli-{unique}", "--run-dir", str(tmp_path),
        "--partitions", "2", "--json",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["semantic"], data["events"], data["poison"], data["lost"], data["duplicates"]) == ("queue", 12, 1, 0, 0), data
    assert data["archived"] == 1 and len(data["archived_event_ids"]) == 1 and data["max_delivery_count"] == 5, data
    assert data["delivery_counts"]["5"] == 1 and all(isinstance(k, str) for k in data["delivery_counts"]), data


def test_a_new_story_on_a_used_topic_starts_the_queue_at_its_end(bootstrap: str, tmp_path: Path, unique: str) -> None:
    """The share group reads from the earliest record, yet an earlier story's events get no effect (nor an unexpected one)."""
    topic = f"queue-used-{unique}"
    create_topic(bootstrap, topic, 2)
    earlier = Producer({"bootstrap.servers": bootstrap})
    for n in range(8):  # real events from another story: acknowledged in no ledger of this run
        earlier.produce(topic, value=TaskCreated(f"earlier-{unique}-{n}", f"t-{n}", "x", "now").to_bytes(), partition=n % 2)
    assert earlier.flush(30) == 0
    result = run_crash_case(bootstrap, "queue", None, tmp_path / "run", f"{unique}-used-", topic, events=10, crashes=0, partitions=2)
    assert (result["unexpected"], result["lost"], result["malformed"]) == (0, 0, 0), result
    assert result["effects"] == result["unique_effects"] == 10, result


def test_the_queue_figures_stay_cheap_as_the_ledger_grows(tmp_path: Path) -> None:
    """The lab audits every second under the supervisor's lock: a quadratic query (it took 57 s at 6,000
    acks) froze the lab's keys. 6,000 acks and effects must be read in well under a second each."""
    limit = SHARE_DELIVERY_COUNT_LIMIT
    with EffectsLedger(sqlite_ledger_url(tmp_path / "ledger.db")) as ledger:
        ids = [f"e{n}" for n in range(6000)]
        ledger.record_acks([AckedEvent(e, None, "t", n % 3, n // 3, 1.0) for n, e in enumerate(ids)])
        for n, e in enumerate(ids[:-3]):
            ledger.record_effect(e, "q", n % 3, n // 3, "1:1", 0, 1)
        started = time.perf_counter()
        assert ledger.queue_lost("q", "t", limit, 2.0, 100, behind_frontier=True) == (0, [])
        assert ledger.queue_lost("q", "t", limit, 2.0, 100, behind_frontier=False)[0] == 3
        assert ledger.queue_done("q", "t", limit) == 5997
        assert ledger.delivery_count_histogram("q", limit) == {1: 5997}
        assert time.perf_counter() - started < 3.0
