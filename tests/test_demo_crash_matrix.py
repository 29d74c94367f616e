"""The crash matrix: every semantic crashed for real (SIGKILL) at every crash point that applies.

Each case runs the headless experiment (produce, crash K times, restart, drain, audit)
on its own topic and group prefix. The cases of one semantic run concurrently (they
are separate OS processes) to keep the wall time down on a small machine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deliverytui.demo.semantics import SEMANTICS
from tests.helpers import run_crash_case

EVENTS = 60
CRASHES = 2


def _run_points(bootstrap: str, tmp_path: Path, unique: str, semantic: str) -> dict[str, dict[str, Any]]:
    """Run ``semantic`` once per crash point, concurrently; the results by crash point."""

    def one(point: str) -> dict[str, Any]:
        return run_crash_case(
            bootstrap, semantic, point, tmp_path / point, f"{unique}-{point}-", f"matrix-{unique}-{point}",
            events=EVENTS, crashes=CRASHES,
        )

    points = SEMANTICS[semantic].crash_points
    with ThreadPoolExecutor(len(points)) as pool:
        return dict(zip(points, pool.map(one, points)))


@pytest.mark.parametrize("semantic", [name for name, spec in SEMANTICS.items() if not spec.share_group])  # queue: test_demo_queue
def test_crash_matrix(bootstrap: str, tmp_path: Path, unique: str, semantic: str) -> None:
    results = _run_points(bootstrap, tmp_path, unique, semantic)
    assert set(results) == set(SEMANTICS[semantic].crash_points)
    for point, result in results.items():
        case = f"{semantic} crashing {point}: {result}"
        assert result["crashes"] == CRASHES, case
        assert result["unexpected"] == 0, case
        assert result["processed"] == EVENTS, case  # the group got past every event
        if semantic == "at-most-once":
            assert result["duplicates"] == 0, case
            if point == "after-commit":
                # Each crash came between commit and effect: exactly that event is gone for good.
                assert result["lost"] == CRASHES, case
                assert len(result["lost_event_ids"]) == CRASHES, case
                assert result["unique_effects"] == EVENTS - CRASHES, case
            else:
                assert result["lost"] == 0, case
        elif semantic == "at-least-once":
            assert result["lost"] == 0, case
            assert result["unique_effects"] == EVENTS, case
            if point == "after-effect":
                # Each crash came between effect and commit: that event is redelivered and done again.
                assert result["duplicates"] == CRASHES, case
                assert len(result["duplicate_event_ids"]) == CRASHES, case
            else:
                assert result["duplicates"] == 0, case
        else:  # the idempotent patterns and exactly-once: each event's effect exactly once
            assert result["lost"] == 0, case
            assert result["duplicates"] == 0, case
            assert result["effects"] == result["unique_effects"] == EVENTS, case
            if point == "after-effect":
                # The redelivered event was caught by the store, not ignored by luck.
                assert result["dedup_hits"] == CRASHES, case
