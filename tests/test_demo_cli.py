"""``deliverytui demo --headless`` as a user runs it: JSON on stdout, one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli


def test_headless_json_shape(bootstrap: str, tmp_path, unique: str) -> None:
    result = run_cli(
        "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "at-least-once", "--events", "20",
        "--crash-at", "after-effect", "--crashes", "1", "--topic", f"cli-{unique}", "--run-dir", str(tmp_path),
        "--partitions", "2", "--json",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {
        "semantic", "events", "effects", "unique_effects", "duplicates", "lost", "unexpected", "dedup_hits",
        "crashes", "lost_event_ids", "duplicate_event_ids",
    }
    assert (data["semantic"], data["events"], data["crashes"], data["lost"]) == ("at-least-once", 20, 1, 0)
    assert data["duplicates"] == 1 and len(data["duplicate_event_ids"]) == 1
    assert (tmp_path / "ledger.db").exists()


def test_headless_rejects_a_crash_point_that_does_not_apply() -> None:
    result = run_cli("demo", "--headless", "--bootstrap", "127.0.0.1:1", "--semantic", "exactly-once", "--crash-at", "after-claim")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "deliverytui: error: crash point 'after-claim' does not apply to exactly-once; choose one of mid-transaction, after-commit"
    ]


def test_lesson_with_headless_is_a_usage_error() -> None:
    result = run_cli("demo", "--headless", "--lesson", "--bootstrap", "127.0.0.1:1", "--semantic", "at-least-once")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "deliverytui: error: --lesson is the lab's guided lesson on the screen; it does not combine with --headless"
    ]


def test_headless_json_tells_a_lease_retake_from_a_miss(bootstrap: str, tmp_path, unique: str) -> None:
    """After-claim crashes leave claimed keys; each restart retakes one when its lease expires."""
    result = run_cli(
        "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "idempotent", "--events", "30",
        "--crash-at", "after-claim", "--crashes", "2", "--topic", f"cli-retake-{unique}", "--run-dir", str(tmp_path),
        "--json",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["crashes"], data["lost"], data["duplicates"]) == (2, 0, 0)
    assert data["dedup_retakes"] == 2, data


@pytest.mark.postgres
def test_one_postgres_ledger_for_many_headless_runs_counts_no_false_loss(
    bootstrap: str, postgres_url: str, tmp_path, unique: str
) -> None:
    """A ledger reused across runs holds earlier runs' sends: a new run's group never owned them."""
    topic = f"cli-reuse-{unique}"
    for run, events in enumerate((40, 5)):
        result = run_cli(
            "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "at-least-once", "--events", str(events),
            "--topic", topic, "--ledger", postgres_url, "--run-dir", str(tmp_path / f"run{run}"), "--json",
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert (data["events"], data["lost"], data["duplicates"], data["unexpected"]) == (events, 0, 0, 0), data
        assert data["unique_effects"] == events
