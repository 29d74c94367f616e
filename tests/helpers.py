"""Helpers the tests call (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m deliverytui ARGS`` as a user would, capturing output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "deliverytui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO_ROOT,
    )


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_crash_case(
    bootstrap: str,
    semantic: str,
    crash_at: str | None,
    run_dir: Path,
    group_prefix: str,
    topic: str,
    *,
    events: int,
    crashes: int,
    partitions: int = 3,
    **extra: Any,
) -> dict[str, Any]:
    """One headless lab run as the crash tests run it (real SIGKILLs, no probe, 150 s at most): its audit."""
    from deliverytui.demo.headless import run_headless

    return run_headless(
        bootstrap=bootstrap, semantic=semantic, events=events, crash_at=crash_at, crashes=crashes, run_dir=run_dir,
        group_prefix=group_prefix, topic=topic, partitions=partitions, timeout=150, probe=False, **extra,
    )
