"""Batched commits (``--commit-every N``) keep each semantic's guarantee; only the window widens.

Each case is a real headless experiment (produce, SIGKILL the consumer K times at one
crash point, restart, drain, audit) with the consumer's commits batched. Batching may
change *how many* events a crash loses or repeats (up to N instead of one) but never
*which kind* of failure a semantic allows: at-least-once still never loses, at-most-once
still never repeats, the idempotent patterns and exactly-once still do every effect once.

The cases run concurrently once per module (separate OS processes) to keep the wall
time down on a small machine; each test then checks one case.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deliverytui.demo.consumer import EOS_BATCH, ConsumerOptions, DemoConsumer, build_parser
from deliverytui.demo.semantics import AFTER_COMMIT, AFTER_EFFECT, MID_TRANSACTION
from tests.helpers import run_crash_case

EVENTS = 60
CRASHES = 2
N = 10

CASES: dict[str, tuple[str, str | None, int]] = {
    # name: (semantic, crash point or None, commit_every)
    "alo-after-effect": ("at-least-once", AFTER_EFFECT, N),
    "alo-no-crash": ("at-least-once", None, N),
    "amo-after-commit": ("at-most-once", AFTER_COMMIT, N),
    "amo-after-effect": ("at-most-once", AFTER_EFFECT, N),
    "idempotent-after-effect": ("idempotent", AFTER_EFFECT, N),
    "eos-1-mid-transaction": ("exactly-once", MID_TRANSACTION, 1),
    "eos-n-after-commit": ("exactly-once", AFTER_COMMIT, N),
}


@pytest.fixture(scope="module")
def results(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case's headless result, by case name (run three at a time)."""
    unique = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp("batching")

    def one(name: str) -> dict[str, Any]:
        semantic, point, every = CASES[name]
        return run_crash_case(
            bootstrap, semantic, point, base / name, f"batch-{unique}-{name}-", f"batching-{unique}-{name}",
            events=EVENTS, crashes=CRASHES, commit_every=every,
        )

    with ThreadPoolExecutor(3) as pool:
        return dict(zip(CASES, pool.map(one, CASES)))


def _common(result: dict[str, Any], crashes: int) -> None:
    case = str(result)
    assert result["crashes"] == crashes, case
    assert result["unexpected"] == 0, case
    assert result["processed"] == EVENTS, case  # the batch tail was committed too: the group got past every event


def test_at_least_once_batched_never_loses_after_an_after_effect_crash(results: dict[str, dict[str, Any]]) -> None:
    result = results["alo-after-effect"]
    _common(result, CRASHES)
    assert result["lost"] == 0, result
    assert result["unique_effects"] == EVENTS, result
    # Each crash repeats the uncommitted part of its batch: at least the crashed event, at most N.
    assert CRASHES <= result["duplicates"] <= CRASHES * N, result


def test_at_least_once_batched_without_crashes_commits_its_tail(results: dict[str, dict[str, Any]]) -> None:
    result = results["alo-no-crash"]
    _common(result, 0)
    assert result["lost"] == result["duplicates"] == 0, result
    assert result["effects"] == result["unique_effects"] == EVENTS, result


@pytest.mark.parametrize("case", ["amo-after-commit", "amo-after-effect"])
def test_at_most_once_batched_never_repeats(results: dict[str, dict[str, Any]], case: str) -> None:
    result = results[case]
    _common(result, CRASHES)
    assert result["duplicates"] == 0, result
    assert result["effects"] == result["unique_effects"], result
    if case == "amo-after-commit":
        # The batch's end was committed before any of its effects: each crash loses 1..N events.
        assert CRASHES <= result["lost"] <= CRASHES * N, result
    else:
        # The crash follows one effect of the committed batch: the rest of that batch (0..N-1) is lost.
        assert result["lost"] <= CRASHES * (N - 1), result
    assert result["unique_effects"] + result["lost"] == EVENTS, result


def test_idempotent_batched_catches_the_redelivered_batch(results: dict[str, dict[str, Any]]) -> None:
    result = results["idempotent-after-effect"]
    _common(result, CRASHES)
    assert result["lost"] == result["duplicates"] == 0, result
    assert result["effects"] == result["unique_effects"] == EVENTS, result
    assert CRASHES <= result["dedup_hits"] <= CRASHES * N, result


@pytest.mark.parametrize("case", ["eos-1-mid-transaction", "eos-n-after-commit"])
def test_exactly_once_with_n_per_transaction_is_still_exactly_once(
    results: dict[str, dict[str, Any]], case: str
) -> None:
    result = results[case]
    _common(result, CRASHES)
    assert result["lost"] == result["duplicates"] == 0, result
    assert result["effects"] == result["unique_effects"] == EVENTS, result


def test_commit_every_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--semantic", "at-least-once", "--bootstrap", "x:1", "--ledger", "sqlite:///l.db", "--run-dir", "r"]
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--commit-every", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    assert build_parser().parse_args([*base, "--commit-every", "7"]).commit_every == 7
    assert build_parser().parse_args(base).commit_every is None


@pytest.mark.parametrize(("semantic", "expected"), [("at-least-once", 1), ("at-most-once", 1), ("exactly-once", EOS_BATCH)])
def test_default_commit_batch_is_unchanged(tmp_path: Path, semantic: str, expected: int) -> None:
    """Without the option every semantic commits as before: per message, exactly-once EOS_BATCH per transaction."""
    consumer = DemoConsumer(
        ConsumerOptions(semantic=semantic, bootstrap="127.0.0.1:1", ledger_url=f"sqlite:///{tmp_path}/l.db", run_dir=tmp_path)
    )
    try:
        assert consumer.commit_every == expected
    finally:
        consumer.ledger.close()


def test_the_lab_passes_commit_every_to_every_consumer(tmp_path: Path) -> None:
    """`deliverytui demo --commit-every N` (lab and headless) reaches each consumer's command line."""
    from deliverytui.cli import build_parser as cli_parser
    from deliverytui.demo.supervisor import DemoSupervisor

    assert cli_parser().parse_args(["demo", "--commit-every", "20"]).commit_every == 20
    supervisor = DemoSupervisor("127.0.0.1:1", tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", None, commit_every=20)
    try:
        for semantic in supervisor.semantics:
            command = supervisor.command(semantic)
            assert command[command.index("--commit-every") + 1] == "20", semantic
        default = DemoSupervisor("127.0.0.1:1", tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", None)
        assert "--commit-every" not in default.command("at-least-once")
        default.close()
    finally:
        supervisor.close()


def test_the_lab_refuses_a_commit_every_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    from deliverytui.cli import build_parser as cli_parser

    with pytest.raises(SystemExit):
        cli_parser().parse_args(["demo", "--commit-every", "0"])
    assert "must be at least 1, got 0" in capsys.readouterr().err
