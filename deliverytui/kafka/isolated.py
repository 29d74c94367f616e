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

Snapshots travel compactly, because the live view asks for one every refresh and a
5,000-partition group spelled as JSON objects costs ~30 ms to encode and decode: each
partition is a list of :class:`PartitionRow`'s fields in order, and after the first
answer the child sends only the partitions whose fields changed since the snapshot the
parent says it holds (``base``). Any doubt (another group, a new child, a different set
of partitions) sends everything. The parent rebuilds a complete, exact
:class:`GroupSnapshot`, reusing the unchanged :class:`PartitionRow` objects, which also
lets the live view skip re-deriving rows that did not change.

The child reuses log start offsets for up to :data:`LOG_START_MAX_AGE_S` seconds (see
:class:`GroupInspector`): the live view never shows them and they move only with retention.
"""

from __future__ import annotations

import dataclasses
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
    NotAuthorizedError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.child_process import child_environment
from deliverytui.kafka.client_config import RedactedConfig
from deliverytui.kafka.fleet_collector import FleetCollector, reading_to_wire
from deliverytui.kafka.group_inspector import CollectionCancelled
from deliverytui.model import GroupListing, GroupSnapshot, PartitionRow

#: How stale a snapshot's ``log_start_offset`` may be when it comes through the child.
LOG_START_MAX_AGE_S = 30.0

_ERROR_KINDS: dict[str, type[UserFacingError]] = {
    "unreachable": ClusterUnreachableError,
    "auth": AuthenticationError,
    "unknown-group": UnknownGroupError,
    "config": ConfigError,
    "not-authorized": NotAuthorizedError,
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
        self.file_config = RedactedConfig(file_config or {})  # may hold secrets: never in a repr
        self.request_timeout = request_timeout
        self.cancel_event = cancel_event
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        #: The live view's poll worker and its group picker's worker share the child: one request at a time,
        #: or each could read the other's answer.
        self._call_lock = threading.Lock()
        self.restarts = 0
        #: (sequence number, group, rows) of the last snapshot received from the current child.
        self._last: tuple[int, str, tuple[PartitionRow, ...]] | None = None

    # -- public ----------------------------------------------------------------
    def snapshot(self, group_id: str) -> GroupSnapshot:
        last = self._last if self._last is not None and self._last[1] == group_id else None
        self._last = None  # until this answer is applied: a failed call must not leave a stale base
        answer = self._call({"op": "snapshot", "group": group_id, "base": last[0] if last else None})
        if "rows" in answer:
            rows = tuple(row_from_fields(fields) for fields in answer["rows"])
        else:
            if last is None or answer["base"] != last[0]:  # cannot happen unless the protocol is broken
                raise UserFacingError("internal error: the Kafka client child answered against an unknown snapshot")
            patched = list(last[2])
            for index, fields in answer["changed"]:
                patched[index] = row_from_fields(fields)
            rows = tuple(patched)
        self._last = (answer["seq"], group_id, rows)
        return _snapshot_from_wire(answer, rows)

    def list_groups(self) -> list[GroupListing]:
        return [
            GroupListing(g["group"], g["state"], g["protocol"], g["simple"])
            for g in self._call({"op": "groups"})
        ]

    def log_offsets(
        self, partitions: list[tuple[str, int]]
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """:meth:`GroupInspector.log_offsets` in the child: a share group's log ends, read as crash-safely as a snapshot."""
        answer = self._call({"op": "log_offsets", "partitions": [list(tp) for tp in partitions]})
        return tuple({(topic, partition): offset for topic, partition, offset in answer[name]} for name in ("end", "stable", "start"))  # type: ignore[return-value]

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
            env=child_environment(),  # its secrets come on stdin; store passwords it never needs
        )
        hello = {"bootstrap": self.bootstrap, "config": self.file_config, "request_timeout": self.request_timeout}
        proc.stdin.write((json.dumps(hello) + "\n").encode())  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        self._buffer = b""
        self._last = None  # a new child knows no previous snapshot
        return proc

    def _call(self, request: dict[str, Any]) -> Any:
        with self._call_lock:
            return self._call_unlocked(request)

    def _call_unlocked(self, request: dict[str, Any]) -> Any:
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
            if readable(fd, min(0.1, remaining)):
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


def row_fields(row: PartitionRow) -> list[Any]:
    """A PartitionRow as a list, in field order (``row_from_fields(fields)`` rebuilds it)."""
    return [
        row.topic, row.partition, row.committed_offset, row.committed_metadata, row.committed_leader_epoch,
        row.log_end_offset, row.last_stable_offset, row.log_start_offset, row.member_id, row.client_id, row.host,
        row.leader, row.replicas, row.isr,
    ]


def row_from_fields(fields: list[Any]) -> PartitionRow:
    """:func:`row_fields` decoded: JSON turned the replica tuples into lists."""
    *head, replicas, isr = fields
    return PartitionRow(*head, tuple(replicas), tuple(isr))


def _snapshot_to_wire(snapshot: GroupSnapshot) -> dict[str, Any]:
    """Everything but the partitions (which :class:`_SnapshotEncoder` adds, whole or as changes)."""
    return snapshot.to_json(partitions=False)


def _snapshot_from_wire(data: dict[str, Any], rows: tuple[PartitionRow, ...]) -> GroupSnapshot:
    """The header fields decode exactly as ``GroupSnapshot.from_json``; the rows come rebuilt from the delta."""
    return dataclasses.replace(GroupSnapshot.from_json({**data, "partitions": []}), partitions=rows)


class _SnapshotEncoder:
    """Child side: remembers the last snapshot sent so the next one can carry only its changes."""

    def __init__(self) -> None:
        self._seq = 0
        self._group: str | None = None
        self._rows: list[list[Any]] = []

    def encode(self, snapshot: GroupSnapshot, rows: list[list[Any]], base: int | None) -> dict[str, Any]:
        """``snapshot``'s header and ``rows`` (its partitions as field lists, see ``snapshot_fields``)."""
        answer = _snapshot_to_wire(snapshot)
        previous = self._rows
        same_layout = (
            base is not None
            and base == self._seq
            and self._group == snapshot.group_id
            and len(previous) == len(rows)
            and all(old[0] == new[0] and old[1] == new[1] for old, new in zip(previous, rows))
        )
        if same_layout:
            answer["base"] = base
            answer["changed"] = [[index, new] for index, (old, new) in enumerate(zip(previous, rows)) if old != new]
        else:
            answer["rows"] = rows
        self._seq += 1
        self._group = snapshot.group_id
        self._rows = rows
        answer["seq"] = self._seq
        return answer


def _serve() -> int:
    """Child side: read a hello line, then answer one JSON request per line."""
    hello = json.loads(sys.stdin.readline())
    out = sys.stdout
    try:
        inspector = FleetCollector(  # a GroupInspector that also reads the whole fleet (op "fleet")
            hello["bootstrap"], hello["config"], request_timeout=hello["request_timeout"],
            log_start_max_age_s=LOG_START_MAX_AGE_S,
        )
    except UserFacingError as exc:
        inspector = None
        startup_error = {"kind": _kind_of(exc), "message": str(exc)}
    encoder = _SnapshotEncoder()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if inspector is None:
                answer: dict[str, Any] = startup_error
            elif request["op"] == "snapshot":
                header, fields = inspector.snapshot_fields(request["group"])
                answer = {"ok": encoder.encode(header, fields, request.get("base"))}
            elif request["op"] == "abort":
                os.abort()  # reproduces a librdkafka assertion abort (tests use it)
            elif request["op"] == "log_offsets":
                offsets = inspector.log_offsets([(topic, partition) for topic, partition in request["partitions"]])
                answer = {"ok": {
                    name: [[topic, partition, offset] for (topic, partition), offset in found.items()]
                    for name, found in zip(("end", "stable", "start"), offsets)
                }}
            elif request["op"] == "fleet":
                answer = {"ok": reading_to_wire(inspector.read())}
            elif request["op"] == "groups":
                answer = {"ok": [g.to_json() for g in inspector.list_groups()]}
            else:
                answer = {"kind": "error", "message": f"unknown op {request['op']!r}"}
        except UserFacingError as exc:
            answer = {"kind": _kind_of(exc), "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
            answer = {"kind": "error", "message": f"{type(exc).__name__}: {one_line(str(exc))}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())


def readable(fd: int, timeout: float) -> bool:
    """True when ``fd`` has data (or end of file) within ``timeout`` seconds.

    ``poll``, not ``select``: ``select`` refuses a descriptor numbered 1024 or more, and a long test
    session (or a lab with many children) holds more than that many; every poll of the live view then
    failed ("filedescriptor out of range in select()").
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000))
