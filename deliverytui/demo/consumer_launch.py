"""Start one demo consumer process with its store URLs on stdin, never on its command line.

Why: a ledger or dedup URL may hold a password, and ``/proc/<pid>/cmdline`` (what ``ps`` shows)
is readable by every local user for as long as the consumer runs. The URLs go down a pipe as one
JSON line the consumer reads at start-up (``--urls-from-stdin``, see
:mod:`deliverytui.demo.consumer.command`); the pipe is closed at once, so nothing holds them but
the consumer's memory. Its environment is the caller's without store passwords
(:func:`deliverytui.kafka.child_process.child_environment`): it gets its URLs complete.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Sequence
from typing import IO

from deliverytui.kafka.child_process import child_environment

URLS_FROM_STDIN = "--urls-from-stdin"


def launch_consumer(
    command: Sequence[str], *, ledger_url: str, dedup_url: str | None, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Run ``command`` (which passes :data:`URLS_FROM_STDIN`) in its own session, logging to ``log``."""
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the TUI's terminal must not kill the consumers behind its back
        env=child_environment(),
    )
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # a consumer that died at once says why in its log
        process.stdin.write((json.dumps({"ledger": ledger_url, "dedup": dedup_url}) + "\n").encode())
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    return process
