"""A crash inside a batch (``--commit-every N``) loses nothing and repeats nothing, for each idempotency pattern on each store.

Batched, each pattern decides the whole batch in one round trip to its store (one claim for the
idempotent consumer, one multi-row upsert, one conditional update), so a crash point now fires
with the rest of the batch decided but not done: after the batch's claim and before any of its
effects (idempotent, ``after-claim``), or between two effects of the batch (upsert and
state-check, ``after-effect``). Each case is a real headless experiment (produce, SIGKILL the
consumer K times, restart, drain, audit) against the store named; the audit counts per event.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deliverytui.demo.semantics import AFTER_CLAIM, AFTER_EFFECT
from tests.helpers import run_crash_case

EVENTS = 60
CRASHES = 2
N = 10

CASES: dict[str, tuple[tuple[str, str], ...]] = {
    # store: the (pattern, crash point) cases that store supports (Redis holds no SQL rows)
    "sqlite": ((("idempotent", AFTER_CLAIM)), ("upsert", AFTER_EFFECT), ("state-check", AFTER_EFFECT)),
    "redis": (("idempotent", AFTER_CLAIM), ("idempotent", AFTER_EFFECT)),
    "postgres": (("idempotent", AFTER_CLAIM), ("upsert", AFTER_EFFECT), ("state-check", AFTER_EFFECT)),
}
STORE_FIXTURES = {"redis": "redis_url", "postgres": "postgres_url"}


@pytest.mark.parametrize("store", list(CASES))
def test_a_crash_inside_a_batch_loses_and_repeats_nothing(
    bootstrap: str, tmp_path: Path, unique: str, store: str, request: pytest.FixtureRequest
) -> None:
    dedup_url = str(request.getfixturevalue(STORE_FIXTURES[store])) if store in STORE_FIXTURES else None

    def one(case: tuple[str, str]) -> dict[str, Any]:
        semantic, point = case
        name = f"{semantic}-{point}"
        return run_crash_case(
            bootstrap, semantic, point, tmp_path / name, f"{unique}-{name}-", f"batch-crash-{unique}-{name}",
            events=EVENTS, crashes=CRASHES, commit_every=N, dedup_url=dedup_url,
        )

    with ThreadPoolExecutor(len(CASES[store])) as pool:
        results = dict(zip(CASES[store], pool.map(one, CASES[store])))
    for (semantic, point), result in results.items():
        case = f"{semantic} on {store} crashing {point} inside a batch of {N}: {result}"
        assert result["crashes"] == CRASHES, case
        assert result["unexpected"] == 0, case
        assert result["processed"] == EVENTS, case
        assert result["lost"] == 0, case
        assert result["duplicates"] == 0, case
        assert result["effects"] == result["unique_effects"] == EVENTS, case
        if point == AFTER_CLAIM:
            # Each crash left its batch's keys leased with no effect done: the leases expired and the
            # restarted consumer retook them (one per claimed key of the batch, at most N).
            assert CRASHES <= result["dedup_retakes"] <= CRASHES * N, case
        else:
            # Each crash left done-but-uncommitted events: redelivered, every one a hit, at most N per crash.
            assert CRASHES <= result["dedup_hits"] <= CRASHES * N, case
