"""A GroupInspector in a child process, so a librdkafka abort cannot take the live view down.

librdkafka can abort the whole process (``rd_kafka_enq_once_del_source_return:
Assertion `eonce->refcnt > 0' failed``) when a coordinator-bound Admin request
(DescribeConsumerGroups, ListConsumerGroupOffsets) loses its connection — for example
while a broker restarts (librdkafka issues #4605 and #3663; a fix was still open in
2026). An on-call tool must survive exactly that moment, so the TUI keeps its Kafka
client in a child process: a crash there becomes a "cannot reach Kafka" banner and
a fresh child on the next poll. Requests and answers are JSON lines on the child's
stdin/stdout; the client configuration (it may hold secrets) travels on stdin, never
in argv or the environment.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from deliverytui.errors import (
    AuthenticationError,
    ClusterUnreachableError,
    ConfigError,
    UnknownGroupError,
    UserFacingError,
)
from deliverytui.kafka.inspect import CollectionCancelled, GroupInspector
from deliverytui.model import GroupListing, GroupSnapshot

_ERROR_KINDS: dict[str, type[UserFacingError]] = {
    "unreachable": ClusterUnreachableError,
    "auth": AuthenticationError,
    "unknown-group": UnknownGroupError,
    "config": ConfigError,
    "error": UserFacingError,
}


def _kind_of(exc: UserFacingError) -> str:
    for kind, cls in _ERROR_KINDS.items():
        if type(exc) is cls:
            return kind
    return "error"


class IsolatedGroupInspector:
    """Same calls as :class:`GroupInspector` (``snapshot``, ``list_groups``), served by a child process."""

    def __init__(
        self,
        bootstrap: str,
        file_config: Mapping[str, str] | None = None,
        *,
        request_timeout: float = 10.0,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.file_config = dict(file_config or {})
        self.request_timeout = request_timeout
        self.cancel_event = cancel_event
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.restarts = 0

    # -- public ----------------------------------------------------------------
    def snapshot(self, group_id: str) -> GroupSnapshot:
        return GroupSnapshot.from_json(self._call({"op": "snapshot", "group": group_id}))

    def list_groups(self) -> list[GroupListing]:
        return [
            GroupListing(g["group"], g["state"], g["protocol"], g["simple"])
            for g in self._call({"op": "groups"})
        ]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()

    # -- plumbing ----------------------------------------------------------------
    def _spawn(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deliverytui.kafka.isolated"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # librdkafka's abort message is not for the screen
        )
        hello = {"bootstrap": self.bootstrap, "config": self.file_config, "request_timeout": self.request_timeout}
        proc.stdin.write((json.dumps(hello) + "\n").encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        self._buffer = b""
        return proc

    def _call(self, request: dict[str, Any]) -> Any:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self.restarts += 1
            self._proc = self._spawn()
        proc = self._proc
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            return self._child_died()
        line = self._read_line(proc, deadline=time.monotonic() + self.request_timeout + 15.0)
        if line is None:
            return self._child_died()
        answer = json.loads(line)
        if "ok" in answer:
            return answer["ok"]
        if answer.get("kind") == "unreachable":
            # librdkafka may keep a stale coordinator for the group after a broker restart;
            # a fresh client on the next poll finds the new one.
            self.close()
        raise _ERROR_KINDS.get(answer.get("kind", "error"), UserFacingError)(answer.get("message", "unknown error"))

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes | None:
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        while b"\n" not in self._buffer:
            if self.cancel_event is not None and self.cancel_event.is_set():
                self.close()
                raise CollectionCancelled("isolated inspector")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                return None
            ready, _, _ = select.select([fd], [], [], min(0.1, remaining))
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _child_died(self) -> Any:
        proc, self._proc = self._proc, None
        code = proc.poll() if proc is not None else None
        if proc is not None and code is None:
            proc.kill()
            proc.wait()
            code = proc.returncode
        raise ClusterUnreachableError(
            f"the Kafka client for {self.bootstrap} stopped (exit {code}) while the cluster was changing; "
            "a new one starts on the next refresh"
        )


def _serve() -> int:
    """Child side: read a hello line, then answer one JSON request per line."""
    hello = json.loads(sys.stdin.readline())
    out = sys.stdout
    try:
        inspector = GroupInspector(hello["bootstrap"], hello["config"], request_timeout=hello["request_timeout"])
    except UserFacingError as exc:
        inspector = None
        startup_error = {"kind": _kind_of(exc), "message": str(exc)}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if inspector is None:
                answer: dict[str, Any] = startup_error
            elif request["op"] == "snapshot":
                answer = {"ok": inspector.snapshot(request["group"]).to_json()}
            elif request["op"] == "abort":
                os.abort()  # reproduces a librdkafka assertion abort (tests use it)
            elif request["op"] == "groups":
                answer = {"ok": [g.to_json() for g in inspector.list_groups()]}
            else:
                answer = {"kind": "error", "message": f"unknown op {request['op']!r}"}
        except UserFacingError as exc:
            answer = {"kind": _kind_of(exc), "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
            answer = {"kind": "error", "message": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
