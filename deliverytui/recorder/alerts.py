"""``record --alert CMD``: run a command when the group's status changes, the transition as JSON on its stdin.

Why this shape: a hook must never stall the recording (a webhook that hangs, a full pipe), so the command
runs in the background — started, fed, reaped and time-limited by a thread of its own — and a hook that
fails (cannot start, exits non-zero, outlives :data:`ALERT_TIMEOUT_SECONDS`) becomes an event line in the
recording, not an error. ``CMD`` is split with :func:`shlex.split` and run without a shell (no quoting
surprises from a group id, no shell injection through one); write ``sh -c '…'`` to get a shell. The
child's environment is ours minus the store passwords (:func:`~deliverytui.kafka.child_process.child_environment`).
"""

from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
import time
from datetime import UTC
from typing import Any

from deliverytui.errors import UsageError, one_line
from deliverytui.kafka.child_process import child_environment
from deliverytui.model.lag import GroupLagView
from deliverytui.model.text import shortened, visible

#: A hook still running after this many seconds is killed (and the kill logged as an event).
ALERT_TIMEOUT_SECONDS = 30.0
#: At most this many hooks run at once; a transition beyond them is logged as skipped, never queued.
MAX_RUNNING_ALERTS = 4


def alert_payload(group: str, previous: str, view: GroupLagView) -> dict[str, Any]:
    """The JSON object a hook reads: the group (exact id), the transition, when, the lag, the partitions that changed."""
    return {
        "group": group,
        "from": previous,
        "to": view.status.value,
        "at": view.taken_at.astimezone(UTC).isoformat(),
        "total_lag": view.total_lag,
        "partitions": [
            {"partition": change.key, "from": change.previous.value, "to": change.current.value}
            for change in view.status_changes
        ],
    }


class AlertHook:
    """Runs ``command`` once per transition, in the background; :meth:`drain_events` hands back its event lines."""

    def __init__(self, command: str, *, timeout: float = ALERT_TIMEOUT_SECONDS) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise UsageError(f"--alert {command!r} cannot be split into words: {exc}") from None
        if not self.argv:
            raise UsageError("--alert needs a command")
        self.timeout = timeout
        self._events: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._running: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def fire(self, payload: dict[str, Any]) -> None:
        """Start the hook with ``payload`` on its stdin and return at once."""
        with self._lock:
            self._running = {thread for thread in self._running if thread.is_alive()}
            if len(self._running) >= MAX_RUNNING_ALERTS:
                self._events.put((f"alert {payload['from']} → {payload['to']} skipped: {MAX_RUNNING_ALERTS} hooks still running", "bold red"))
                return
            thread = threading.Thread(target=self._run, args=(payload,), name="deliverytui-alert", daemon=True)
            self._running.add(thread)
        thread.start()

    def _run(self, payload: dict[str, Any]) -> None:
        what = f"alert hook {shortened(visible(self.argv[0]), 40)} ({payload['from']} → {payload['to']})"
        data = (json.dumps(payload) + "\n").encode()
        try:
            proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=child_environment(), start_new_session=True,
            )
        except OSError as exc:
            self._events.put((f"{what} could not start: {one_line(exc.strerror or exc)}", "bold red"))
            return
        try:
            _, stderr = proc.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self._events.put((f"{what} killed after {self.timeout:g} s", "bold red"))
            return
        if proc.returncode != 0:
            reason = one_line(stderr.decode("utf-8", "replace"), first_line=True, limit=120)
            self._events.put((f"{what} failed (exit {proc.returncode}){': ' + visible(reason) if reason else ''}", "bold red"))

    def drain_events(self) -> list[tuple[str, str]]:
        """The event lines finished hooks left since the last call."""
        lines = []
        while True:
            try:
                lines.append(self._events.get_nowait())
            except queue.Empty:
                return lines

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running hooks (at exit, so a last alert is not cut off)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._running):
            thread.join(max(0.0, deadline - time.monotonic()))
