"""The demo consumer package's own seams: the loop and handler tables, the outage wait, the task table.

No broker here; the real processes are exercised by the crash matrix, batching, outage and
rebalance tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deliverytui.dedup import StoreUnavailableError
from deliverytui.dedup.retry import Backoff
from deliverytui.demo.consumer import TaskTable
from deliverytui.demo.consumer.handlers import HANDLERS
from deliverytui.demo.consumer.outage import wait_out
from deliverytui.demo.consumer.runner import LOOPS
from deliverytui.demo.semantics import SEMANTICS, Semantic
from deliverytui.demo.stop_flag import StopFlag


def test_every_semantic_has_a_loop_and_every_per_message_one_a_handler() -> None:
    assert set(LOOPS) == set(Semantic) == set(SEMANTICS)
    assert set(HANDLERS) == set(Semantic) - {Semantic.EXACTLY_ONCE, Semantic.QUEUE}  # their own loops
    assert [name for name, handler in HANDLERS.items() if handler.commits_first] == [Semantic.AT_MOST_ONCE]


def test_a_semantic_is_its_string() -> None:
    assert Semantic.STATE_CHECK == "state-check" and f"{Semantic.STATE_CHECK}" == "state-check"
    assert SEMANTICS["upsert"].name is Semantic.UPSERT


class FakeStop(StopFlag):
    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.stop_after = stop_after

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.stop_after is not None and len(self.waits) >= self.stop_after


def test_wait_out_backs_off_until_the_call_answers() -> None:
    outcomes: list[object] = [StoreUnavailableError("down")] * 5 + ["ok"]
    downs: list[str] = []

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    stop = FakeStop()
    try:
        result = wait_out(call, errors=StoreUnavailableError, stopping=stop, on_down=lambda e: downs.append(str(e)))
    finally:
        stop.close()
    assert result == "ok" and len(downs) == 5
    assert stop.waits == [0.2, 0.4, 0.8, 1.6, 2.0]  # doubling from 0.2 s, at most 2 s


def test_wait_out_raises_the_last_error_when_asked_to_stop() -> None:
    def call() -> None:
        raise StoreUnavailableError("still down")

    stop = FakeStop(stop_after=2)
    try:
        with pytest.raises(StoreUnavailableError, match="still down"):
            wait_out(call, errors=StoreUnavailableError, stopping=stop, on_down=lambda _e: None,
                     backoff=Backoff(initial_s=1.0, max_s=1.0))
    finally:
        stop.close()
    assert stop.waits == [1.0, 1.0]


def test_the_task_table_reads_its_url_with_the_store_url_parser(tmp_path: Path) -> None:
    table = TaskTable(f"sqlite:///{tmp_path / 'tasks.db'}")
    try:
        table.ensure_schema()
        table.ensure_pending("t-1")
        table.ensure_pending("t-1")  # an existing row is left alone
    finally:
        table.close()
    assert table.url.sqlite_path == str(tmp_path / "tasks.db")
    assert (tmp_path / "tasks.db").exists()


def test_the_package_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deliverytui.demo.consumer", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--semantic" in result.stdout and "--commit-every" in result.stdout
