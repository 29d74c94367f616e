"""Bad input on the demo topic: records that are not JSON, or JSON without ``event_id``.

Every semantic runs headless (real consumer processes, a real SIGKILL crash) on a topic where
garbage sits among the good events. The good events keep their semantic's guarantees, every
bad record is counted once by position with what was done with it (not JSON: skipped; no
event_id: processed anyway without dedup, as the chapter's idempotent consumer does), and no
consumer process died of it (the headless run fails on any exit but the armed SIGKILL).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deliverytui.demo.semantics import SEMANTICS
from tests.helpers import run_cli, run_crash_case

pytestmark = pytest.mark.kafka

EVENTS = 40

#: Values no semantic can use. The reason each must be reported with.
BAD = [
    (b"not json {", "not-json"),
    (b"\xff\xfe\x00garbage", "not-json"),  # not even UTF-8
    (b"", "not-json"),  # empty value
    (None, "not-json"),  # a tombstone
    (b"[1, 2, 3]", "not-json"),  # JSON, but not an event object
    (json.dumps({"task_id": "no-id-1", "title": "x"}).encode(), "no-event-id"),
    (json.dumps({"event_id": "", "task_id": "no-id-2"}).encode(), "no-event-id"),
    (json.dumps({"event_id": 42, "task_id": "no-id-3"}).encode(), "no-event-id"),
]
ACTIONS = {"not-json": "skipped", "no-event-id": "processed-without-dedup"}


def _crash_point(semantic: str) -> str:
    return "after-effect" if "after-effect" in SEMANTICS[semantic].crash_points else SEMANTICS[semantic].crash_points[0]


def _run(bootstrap: str, tmp_path: Path, unique: str, semantic: str) -> dict[str, Any]:
    return run_crash_case(
        bootstrap, semantic, _crash_point(semantic), tmp_path / semantic, f"{unique}-bad-", f"bad-input-{unique}-{semantic}",
        events=EVENTS, crashes=1, partitions=2, malformed=[value for value, _reason in BAD],
    )


def test_every_semantic_survives_malformed_records(bootstrap: str, tmp_path: Path, unique: str) -> None:
    semantics = list(SEMANTICS)
    with ThreadPoolExecutor(3) as pool:
        results = dict(zip(semantics, pool.map(lambda s: _run(bootstrap, tmp_path, unique, s), semantics)))
    for semantic, result in results.items():
        case = f"{semantic}: {result}"
        # No process crashed on the garbage: the run saw exactly the one armed crash and drained the topic.
        assert result["crashes"] == 1, case
        assert result["processed"] == EVENTS, case
        assert result["unexpected"] == 0, case
        # The good events keep their guarantee.
        if semantic == "at-most-once":
            assert result["duplicates"] == 0, case
        elif semantic in ("at-least-once", "queue"):  # the queue is at-least-once too: after-effect repeats
            assert result["lost"] == 0 and result["unique_effects"] == EVENTS, case
        else:
            assert result["lost"] == 0 and result["duplicates"] == 0, case
            assert result["effects"] == result["unique_effects"] == EVENTS, case
        # Every bad record counted once, by position, with the right reason and action.
        assert result["malformed"] == len(BAD), case
        records = result["malformed_records"]
        assert len({(r["partition"], r["offset"]) for r in records}) == len(BAD), case
        reasons = sorted(r["reason"] for r in records)
        assert reasons == sorted(reason for _value, reason in BAD), case
        assert all(r["action"] == ACTIONS[r["reason"]] and r["times"] >= 1 for r in records), case
        assert result["warnings"] and "8 malformed record(s)" in result["warnings"][0], case


def test_headless_cli_reports_malformed_as_a_warning(bootstrap: str, tmp_path: Path, unique: str) -> None:
    args = (
        "demo", "--headless", "--bootstrap", bootstrap, "--semantic", "at-least-once", "--events", "20",
        "--malformed", "4", "--topic", f"bad-cli-{unique}", "--run-dir", str(tmp_path / "run"),
    )
    result = run_cli(*args, "--json", timeout=150)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["lost"], data["unique_effects"], data["malformed"]) == (0, 20, 4), data
    assert sorted(r["reason"] for r in data["malformed_records"]) == ["no-event-id"] * 2 + ["not-json"] * 2
    text = run_cli(*args[:-2], "--run-dir", str(tmp_path / "run2"), "--topic", f"bad-cli2-{unique}", timeout=150)
    assert text.returncode == 0, text.stderr
    assert "warning: 4 malformed record(s) on the topic: 2 not JSON (skipped), 2 without event_id" in text.stdout
    assert "Traceback" not in text.stderr + result.stderr
