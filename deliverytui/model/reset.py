"""Offset reset and offset deletion plans: immutable, computed before anything is written.

A plan is what the user confirms (the TUI's dry-run screen, ``deliverytui reset`` without
``--execute``): for every selected partition the committed offset today, the offset it
would move to, and what that means for delivery (records consumed again, records never
consumed). Executing takes the same plan object, so what was shown is exactly what is
written. Field names follow Kafka's own vocabulary, as in :mod:`deliverytui.model.group`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from deliverytui.model.group import TopicPartitionId
from deliverytui.model.text import quoted

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


# -- the one table of reset modes: the CLI's options, the reset screen and the lab's replay -------
def parse_datetime_ms(text: str) -> int:
    """``--to-datetime``: ISO 8601 ``YYYY-MM-DDThh:mm:ss[.sss][Z|±hh:mm]`` → epoch milliseconds.

    Like Kafka's ``Utils.getDateTime``, the ``T`` is required and a time without a zone is UTC.
    Raises ``ValueError`` with the one-line message to show.
    """
    value = text.strip()
    try:
        if "T" not in value.upper():
            raise ValueError
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"invalid --to-datetime {text!r}: expected ISO 8601 like 2024-05-01T12:00:00.000 (UTC) or 2024-05-01T14:00:00+02:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


_DURATION = re.compile(
    r"([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """``--by-duration``: Java's ``Duration.parse`` format ``PnDTnHnMn.nS`` (what Kafka's tool accepts).

    Raises ``ValueError`` with the one-line message to show.
    """
    match = _DURATION.fullmatch(text.strip())
    if not match or match.group(3) == "T" or (match.group(3) is None and match.group(2) is None) or (
        match.group(3) is not None and not any(match.group(i) for i in (4, 5, 6))
    ):
        raise ValueError(f"invalid --by-duration {text!r}: expected an ISO 8601 duration like PT30M, PT2H, P1DT12H or P7D")
    sign, days, _, hours, minutes, seconds, fraction = match.groups()
    duration = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(f"{seconds or 0}.{fraction or 0}"),
    )
    return -duration if sign == "-" else duration


def _whole_number(mode: ResetMode, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{mode.value} needs a whole number, not {text!r}") from None


def _back_from(now: datetime, text: str) -> ResetTarget:
    """``--by-duration D``: the time ``now - D``, resolved once (as Kafka's tool does at start)."""
    ms = (now - parse_duration(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return ResetTarget.at_timestamp(ResetMode.BY_DURATION, ms, text)


#: How a target is built from the user's text (``now`` is the instant ``--by-duration`` counts back from).
TargetBuilder = Callable[[str, datetime], ResetTarget]


@dataclass(frozen=True, slots=True)
class ResetModeSpec:
    """One reset mode as every front end offers it (see :data:`RESET_MODES`)."""

    mode: ResetMode
    label: str  # the screens' choice
    help: str  # the CLI's help line
    #: The CLI's name for the value; ``None``: the mode takes no value.
    metavar: str | None = None
    example: str = ""  # the screens' placeholder for the value
    whole_number: bool = False  # the value is an integer (the CLI parses it as one)
    #: Builds the target from the user's text (raises ``ValueError``). ``None`` for ``--from-file``,
    #: which reads a file: :func:`deliverytui.kafka.reset_arguments.build_target` does that.
    build: TargetBuilder | None = None
    in_replay: bool = False  # offered by the lab's replay dialog too

    @property
    def takes_value(self) -> bool:
        return self.metavar is not None

    @property
    def on_screens(self) -> bool:
        """Offered by the live view's reset screen (every mode built from text)."""
        return self.build is not None


_MODES = (
    ResetModeSpec(
        ResetMode.TO_EARLIEST, "to earliest", "the log start offset",
        build=lambda _text, _now: ResetTarget.to_earliest(), in_replay=True,
    ),
    ResetModeSpec(ResetMode.TO_LATEST, "to latest", "the log end offset", build=lambda _text, _now: ResetTarget.to_latest()),
    ResetModeSpec(
        ResetMode.TO_CURRENT, "to current", "the committed offset (log end where none)",
        build=lambda _text, _now: ResetTarget.to_current(),
    ),
    ResetModeSpec(
        ResetMode.TO_OFFSET, "to offset N", "offset N, clamped into the log", "N", "offset, e.g. 1200", True,
        lambda text, _now: ResetTarget.to_offset(_whole_number(ResetMode.TO_OFFSET, text)), in_replay=True,
    ),
    ResetModeSpec(
        ResetMode.SHIFT_BY, "shift by N (−N replays N records)", "committed offset + N (N may be negative), clamped",
        "N", "e.g. -100", True,
        lambda text, _now: ResetTarget.shift_by(_whole_number(ResetMode.SHIFT_BY, text)), in_replay=True,
    ),
    ResetModeSpec(
        ResetMode.TO_DATETIME, "to date-time (ISO 8601, UTC if no zone)",
        "first offset at or after this time (no zone = UTC)", "ISO8601", "e.g. 2026-11-26T10:00:00.000",
        build=lambda text, _now: ResetTarget.at_timestamp(ResetMode.TO_DATETIME, parse_datetime_ms(text), text),
        in_replay=True,
    ),
    ResetModeSpec(
        ResetMode.BY_DURATION, "by duration back from now", "first offset at or after now minus this duration",
        "PnDTnHnM", "e.g. PT30M or P1DT2H", build=lambda text, now: _back_from(now, text),
    ),
    ResetModeSpec(
        ResetMode.FROM_FILE, "from file", "offsets from a topic,partition,offset CSV (Kafka's format)", "CSV",
    ),
)

#: Every reset mode, in the order the CLI's help and the screens list them.
RESET_MODES: dict[ResetMode, ResetModeSpec] = {spec.mode: spec for spec in _MODES}


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
    """A dry run of an offset reset: what :meth:`deliverytui.kafka.offset_reset.OffsetResetter.execute_reset` would write.

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
    #: ``"share"`` for a share group's plan (``current_offset`` is then its start offset); ``None`` otherwise
    group_type: str | None = None

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
        } | ({"type": self.group_type} if self.group_type else {})


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
    #: each partition with its committed offset (a share group's start offset, ``None`` where it has no state)
    partitions: tuple[tuple[TopicPartitionId, int | None], ...]
    planned_at: datetime
    warnings: tuple[str, ...] = field(default=())
    group_type: str | None = None  # as in :class:`ResetPlan`

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
        } | ({"type": self.group_type} if self.group_type else {})


def clamp_into_log(requested: int, log_start: int, log_end: int, tp: TopicPartitionId, warnings: list[str]) -> int:
    """Kafka's ``checkOffsetsRange`` (``GroupOffsetsResetter``, shared by its consumer and share group tools):
    above the log end → log end, else below the log start → log start; a warning says so."""
    if requested > log_end:
        warnings.append(f"new offset {requested} of {tp.key} is above its log-end offset; using {log_end}")
        return log_end
    if requested < log_start:
        warnings.append(f"new offset {requested} of {tp.key} is below its log-start offset; using {log_start}")
        return log_start
    return requested


def active_group_message(action: str, group_id: str, state: str, active_members: int) -> str | None:
    """Kafka's rule, one line: offsets may only be rewritten while nobody consumes the group."""
    if state in INACTIVE_STATES and active_members == 0:
        return None
    return (
        f"cannot {action} group {quoted(group_id)}: it has {active_members} active member(s) (state {state}); "
        "stop its consumers first"
    )
