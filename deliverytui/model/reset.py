"""Offset reset and offset deletion plans: immutable, computed before anything is written.

A plan is what the user confirms (the TUI's dry-run screen, ``deliverytui reset`` without
``--execute``): for every selected partition the committed offset today, the offset it
would move to, and what that means for delivery (records consumed again, records never
consumed). Executing takes the same plan object, so what was shown is exactly what is
written. Field names follow Kafka's own vocabulary, as in :mod:`deliverytui.model.group`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from deliverytui.model.group import TopicPartitionId

#: Group states in which Kafka accepts an offset reset (no member may own a partition).
INACTIVE_STATES = frozenset({"Empty", "Dead"})


class ResetMode(str, Enum):  # noqa: UP042 - StrEnum would change format() and str() of members
    """The reset specifications of Kafka's ``kafka-consumer-groups --reset-offsets``, spelled as its options."""

    TO_EARLIEST = "to-earliest"
    TO_LATEST = "to-latest"
    TO_CURRENT = "to-current"
    TO_OFFSET = "to-offset"
    SHIFT_BY = "shift-by"
    TO_DATETIME = "to-datetime"
    BY_DURATION = "by-duration"
    FROM_FILE = "from-file"


@dataclass(frozen=True, slots=True)
class ResetTarget:
    """Where to move the offsets: one mode and its argument.

    Build it with the class methods; ``argument`` keeps the user's spelling (an ISO 8601
    time, a duration, a file name) so the plan can say what was asked for.
    ``timestamp_ms`` is resolved when the target is built (``--by-duration`` counts back
    from that instant, as Kafka's tool counts back from its start), and ``file_offsets``
    holds the rows of a ``--from-file`` CSV.
    """

    mode: ResetMode
    argument: str | None = None
    offset: int | None = None
    shift: int | None = None
    timestamp_ms: int | None = None
    file_offsets: tuple[tuple[TopicPartitionId, int], ...] = ()

    @classmethod
    def to_earliest(cls) -> ResetTarget:
        return cls(ResetMode.TO_EARLIEST)

    @classmethod
    def to_latest(cls) -> ResetTarget:
        return cls(ResetMode.TO_LATEST)

    @classmethod
    def to_current(cls) -> ResetTarget:
        return cls(ResetMode.TO_CURRENT)

    @classmethod
    def to_offset(cls, offset: int) -> ResetTarget:
        return cls(ResetMode.TO_OFFSET, argument=str(offset), offset=offset)

    @classmethod
    def shift_by(cls, shift: int) -> ResetTarget:
        return cls(ResetMode.SHIFT_BY, argument=str(shift), shift=shift)

    @classmethod
    def at_timestamp(cls, mode: ResetMode, timestamp_ms: int, argument: str) -> ResetTarget:
        """``--to-datetime`` or ``--by-duration``, already resolved to epoch milliseconds."""
        if mode not in (ResetMode.TO_DATETIME, ResetMode.BY_DURATION):
            raise ValueError(f"{mode} is not a timestamp mode")
        return cls(mode, argument=argument, timestamp_ms=timestamp_ms)

    @classmethod
    def from_offsets(cls, offsets: dict[TopicPartitionId, int], argument: str) -> ResetTarget:
        """``--from-file``: explicit offsets per partition (still clamped into the log, as Kafka does)."""
        return cls(ResetMode.FROM_FILE, argument=argument, file_offsets=tuple(sorted(offsets.items())))

    def describe(self) -> str:
        """The mode as the user would type it, e.g. ``--shift-by -5``."""
        return f"--{self.mode.value}" + (f" {self.argument}" if self.argument is not None else "")


@dataclass(frozen=True, slots=True)
class PartitionSelection:
    """Which partitions a reset or delete applies to: ``--all-topics`` or ``--topic T[:P,P…]``.

    ``topics`` maps a topic to the partitions named for it, or to ``None`` for "every
    partition of the topic". ``--all-topics`` means every partition the group has a
    committed offset for (Kafka's meaning), and an empty selection is only valid with
    ``--from-file``, whose rows name the partitions.
    """

    all_topics: bool = False
    topics: tuple[tuple[str, tuple[int, ...] | None], ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.all_topics and not self.topics


@dataclass(frozen=True, slots=True)
class PartitionReset:
    """One row of a reset plan.

    ``redelivered`` counts records between the new and the current offset that the group
    will consume again; ``skipped`` counts records it will never consume. Both are ``None``
    when the group has no committed offset for the partition: where a consumer would start
    then depends on its own ``auto.offset.reset``, which the broker does not know.
    ``requested_offset`` is the offset asked for before clamping into
    ``[log_start_offset, log_end_offset]`` (``None`` for modes Kafka does not clamp).
    """

    topic: str
    partition: int
    current_offset: int | None
    new_offset: int
    log_start_offset: int
    log_end_offset: int
    requested_offset: int | None = None

    @property
    def tp(self) -> TopicPartitionId:
        return TopicPartitionId(self.topic, self.partition)

    @property
    def redelivered(self) -> int | None:
        if self.current_offset is None:
            return None
        return max(0, self.current_offset - self.new_offset)

    @property
    def skipped(self) -> int | None:
        if self.current_offset is None:
            return None
        return max(0, self.new_offset - self.current_offset)

    @property
    def clamped(self) -> bool:
        return self.requested_offset is not None and self.requested_offset != self.new_offset

    @property
    def changes(self) -> bool:
        return self.current_offset != self.new_offset

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "current_offset": self.current_offset,
            "new_offset": self.new_offset,
            "redelivered": self.redelivered,
            "skipped": self.skipped,
            "log_start_offset": self.log_start_offset,
            "log_end_offset": self.log_end_offset,
            "requested_offset": self.requested_offset,
        }


@dataclass(frozen=True, slots=True)
class ResetPlan:
    """A dry run of an offset reset: what :func:`deliverytui.kafka.reset.execute_reset` would write.

    ``group_state`` and ``active_members`` are what the coordinator said while planning;
    when the group is active, ``blocked_reason`` is the one-line refusal an execute would
    raise (the plan is still computed so the user can see it). ``warnings`` carries Kafka's
    own notices (clamped offsets, empty partitions falling back to the log end).
    """

    group_id: str
    target: ResetTarget
    group_state: str
    active_members: int
    partitions: tuple[PartitionReset, ...]
    planned_at: datetime
    warnings: tuple[str, ...] = ()

    @property
    def mode(self) -> ResetMode:
        return self.target.mode

    @property
    def total_redelivered(self) -> int:
        return sum(p.redelivered or 0 for p in self.partitions)

    @property
    def total_skipped(self) -> int:
        return sum(p.skipped or 0 for p in self.partitions)

    @property
    def blocked_reason(self) -> str | None:
        return active_group_message("reset offsets of", self.group_id, self.group_state, self.active_members)

    def to_json(self, *, executed: bool) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "mode": self.target.mode.value,
            "mode_argument": self.target.argument,
            "executed": executed,
            "group_state": self.group_state,
            "active_members": self.active_members,
            "partitions": [p.to_json() for p in self.partitions],
            "total_redelivered": self.total_redelivered,
            "total_skipped": self.total_skipped,
            "warnings": list(self.warnings),
            "planned_at": self.planned_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class OffsetDeletePlan:
    """A dry run of deleting a group's committed offsets: the partitions and offsets that would go.

    Only partitions that have a committed offset are listed, so the topic may already be
    deleted from the cluster (the usual reason to clean up a stale group).
    """

    group_id: str
    topics: tuple[str, ...]
    group_state: str
    active_members: int
    partitions: tuple[tuple[TopicPartitionId, int], ...]
    planned_at: datetime
    warnings: tuple[str, ...] = field(default=())

    @property
    def blocked_reason(self) -> str | None:
        return active_group_message("delete offsets of", self.group_id, self.group_state, self.active_members)

    def to_json(self, *, executed: bool) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "topics": list(self.topics),
            "executed": executed,
            "group_state": self.group_state,
            "active_members": self.active_members,
            "partitions": [
                {"topic": tp.topic, "partition": tp.partition, "committed_offset": offset} for tp, offset in self.partitions
            ],
            "warnings": list(self.warnings),
            "planned_at": self.planned_at.isoformat(),
        }


def active_group_message(action: str, group_id: str, state: str, active_members: int) -> str | None:
    """Kafka's rule, one line: offsets may only be rewritten while nobody consumes the group."""
    if state in INACTIVE_STATES and active_members == 0:
        return None
    return (
        f"cannot {action} group {group_id!r}: it has {active_members} active member(s) (state {state}); "
        "stop its consumers first"
    )
