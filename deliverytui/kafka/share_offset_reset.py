"""Offset reset and offset deletion for a share group (KIP-932): plan first (no writes), execute on consent.

A share group has no committed offsets: each share-partition has a *start offset*, the first
offset the group has not finished with (records before it are acknowledged or archived, records
from it on are delivered again or for the first time). Resetting a share group moves these start
offsets, so a plan here reuses :class:`~deliverytui.model.reset.ResetPlan` with ``current_offset``
holding the start offset (``None`` where the group has no state for the partition yet).

The plan gives the offsets Kafka's own ``kafka-share-groups --reset-offsets`` would give
(``org.apache.kafka.tools.consumer.group.ShareGroupCommand`` with ``GroupOffsetsResetter``,
Kafka 4.4; ``tests/test_share_reset.py`` compares both on a real broker):

* only ``--to-earliest``, ``--to-latest``, ``--to-current``, ``--to-offset``, ``--to-datetime`` and
  ``--from-file`` exist for share groups (``--shift-by``/``--by-duration`` do not: refused, exit 2);
* ``--to-offset`` and ``--from-file`` are clamped into ``[log start, log end]``, the others not;
* ``--to-current`` keeps the start offset, and uses the log-end offset where the group has no
  state (where Kafka's tool would fail with a NullPointerException on a partition listed without state);
* ``--to-datetime`` takes the first offset at or after the time, the log end where there is none;
* ``--all-topics`` means every partition the group has share-partition state for, ``--topic T``
  every partition of ``T``.

Kafka's tool refuses even a dry run of a group that is not Empty; deliverytui plans it anyway
(with the refusal as a warning, as for consumer groups) and refuses only the write
(:class:`ActiveGroupError`, exit 10), checking the group again right before writing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deliverytui.errors import ConfigError, UnknownGroupError, UsageError, UserFacingError
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.java_admin import JavaAdmin
from deliverytui.kafka.offset_lookups import OffsetLookups
from deliverytui.kafka.offset_write_guards import ActiveGroupError
from deliverytui.kafka.share_inspector import state_name
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.reset import (
    OffsetDeletePlan,
    PartitionReset,
    PartitionSelection,
    ResetMode,
    ResetPlan,
    ResetTarget,
    active_group_message,
    clamp_into_log,
)
from deliverytui.model.share import SHARE_TYPE
from deliverytui.model.text import quoted

#: The reset specifications ``kafka-share-groups --reset-offsets`` has in Kafka 4.4 (its ``--help``).
SHARE_RESET_MODES = (
    ResetMode.TO_EARLIEST,
    ResetMode.TO_LATEST,
    ResetMode.TO_CURRENT,
    ResetMode.TO_OFFSET,
    ResetMode.TO_DATETIME,
    ResetMode.FROM_FILE,
)


def require_share_mode(mode: ResetMode) -> None:
    """Refuse (exit 2) a mode Kafka's share tool does not have, naming the ones it has."""
    if mode not in SHARE_RESET_MODES:
        supported = ", ".join(f"--{m.value}" for m in SHARE_RESET_MODES)
        raise UsageError(f"--{mode.value} does not apply to a share group (Kafka's kafka-share-groups has no such mode); use one of {supported}")


class ShareOffsetResetter(OffsetLookups):
    """Plans and executes start-offset resets and offset deletions of share groups.

    ``java`` (the share-group requests) and ``inspector`` (topic metadata and ``ListOffsets``
    through librdkafka) are owned and closed by the caller.
    """

    def __init__(self, java: JavaAdmin, inspector: GroupInspector, *, request_timeout: float = 10.0) -> None:
        self.java = java
        self._inspector = inspector
        self.bootstrap = inspector.bootstrap
        self.request_timeout = request_timeout

    # -- reads -------------------------------------------------------------------------
    def group_state(self, group_id: str) -> tuple[str, int]:
        """State and member count of share group ``group_id`` (:class:`UnknownGroupError` if it is none)."""
        described = self.java.call("describe_share_group", f"describing share group {quoted(group_id)}", group=group_id)
        return state_name(described["state"]), len(described["members"])

    def start_offsets(self, group_id: str) -> dict[TopicPartitionId, int | None]:
        """Every partition the group has share-partition state for: its start offset (``None``: listed, no state)."""
        rows = self.java.call("share_group_offsets", f"reading share group {quoted(group_id)}'s start offsets", group=group_id)
        return {TopicPartitionId(r["topic"], r["partition"]): r["start_offset"] for r in rows}

    def is_share_group(self, group_id: str) -> bool:
        try:
            self.group_state(group_id)
        except UnknownGroupError:
            return False
        return True

    # -- reset -------------------------------------------------------------------------
    def plan_reset(self, group_id: str, selection: PartitionSelection, target: ResetTarget) -> ResetPlan:
        """The start offsets ``target`` gives each selected partition, without writing anything."""
        require_share_mode(target.mode)
        if target.mode is ResetMode.FROM_FILE:
            if not selection.is_empty:
                raise ConfigError("--from-file takes its partitions from the file; do not combine it with --topic or --all-topics")
            selection = PartitionSelection(topics=tuple(sorted({(tp.topic, (tp.partition,)) for tp, _ in target.file_offsets})))
        elif selection.is_empty:
            raise ConfigError("name the partitions to reset: --topic TOPIC[:P,P...] (repeatable) or --all-topics")
        what = f"planning a start-offset reset of share group {quoted(group_id)}"
        state, members = self.group_state(group_id)
        starts = self.start_offsets(group_id)
        if selection.all_topics:
            if not starts:
                raise UserFacingError(
                    f"share group {quoted(group_id)} has no start offsets yet, so --all-topics selects nothing; name the partitions with --topic"
                )
            futures = self._describe_topics(sorted({tp.topic for tp in starts}))
        else:
            futures = self._describe_topics(sorted({topic for topic, _ in selection.topics}))
        self._inspector.await_all(list(futures.values()), what)
        layouts = self._topic_layouts(futures, group_id, stale_commits=selection.all_topics)
        partitions = sorted(starts) if selection.all_topics else self._selected_partitions(selection, layouts)
        self._check_leaders(partitions, layouts)
        log_start, log_end, at_time = self._log_offsets(partitions, target.timestamp_ms, what)
        warnings: list[str] = []
        file_offsets = dict(target.file_offsets)
        rows = []
        for tp in partitions:
            current = starts.get(tp)
            new, requested = self._new_offset(target, tp, current, log_start[tp], log_end[tp], at_time, file_offsets, warnings)
            rows.append(PartitionReset(tp.topic, tp.partition, current, new, log_start[tp], log_end[tp], requested))
        return ResetPlan(group_id, target, state, members, tuple(rows), datetime.now(UTC), tuple(warnings), group_type=SHARE_TYPE)

    @staticmethod
    def _new_offset(
        target: ResetTarget,
        tp: TopicPartitionId,
        current: int | None,
        log_start: int,
        log_end: int,
        at_time: dict[TopicPartitionId, int],
        file_offsets: dict[TopicPartitionId, int],
        warnings: list[str],
    ) -> tuple[int, int | None]:
        """The new start offset of one partition and the offset asked for before clamping (``None``: not clamped)."""
        mode = target.mode
        if mode is ResetMode.TO_EARLIEST:
            return log_start, None
        if mode is ResetMode.TO_LATEST:
            return log_end, None
        if mode is ResetMode.TO_CURRENT:
            if current is None:
                warnings.append(f"share group has no start offset for {tp.key}; using its log-end offset {log_end} as Kafka's tool does")
                return log_end, None
            return current, None
        if mode is ResetMode.TO_DATETIME:
            found = at_time[tp]
            if found < 0:
                warnings.append(f"{tp.key} has no record at or after the requested time; using its log-end offset {log_end}")
                return log_end, None
            return found, None
        requested = int(target.offset or 0) if mode is ResetMode.TO_OFFSET else file_offsets[tp]
        return clamp_into_log(requested, log_start, log_end, tp, warnings), requested

    def execute_reset(self, plan: ResetPlan) -> None:
        """Set the plan's start offsets (``AlterShareGroupOffsets``) after checking again that the group is empty."""
        if not plan.partitions:
            return
        self._require_empty("reset offsets of", plan.group_id)
        offsets = [{"topic": p.topic, "partition": p.partition, "offset": p.new_offset} for p in plan.partitions]
        self._write("alter_share_group_offsets", f"setting the start offsets of share group {quoted(plan.group_id)}",
                    group=plan.group_id, offsets=offsets)

    # -- delete ------------------------------------------------------------------------
    def plan_offset_delete(self, group_id: str, selection: PartitionSelection) -> OffsetDeletePlan:
        """The share-partition state deleting ``selection``'s topics would drop (whole topics only, as Kafka's tool)."""
        if selection.all_topics or selection.is_empty:
            raise ConfigError("name the topic(s) whose share-group offsets to delete with --topic TOPIC")
        partial = [topic for topic, wanted in selection.topics if wanted is not None]
        if partial:
            raise UsageError(
                f"a share group's offsets are deleted for whole topics (as kafka-share-groups --delete-offsets does); "
                f"give --topic {partial[0]} without partitions"
            )
        state, members = self.group_state(group_id)
        starts = self.start_offsets(group_id)
        chosen: list[tuple[TopicPartitionId, int | None]] = []
        for topic, _ in selection.topics:
            of_topic = sorted((tp, offset) for tp, offset in starts.items() if tp.topic == topic)
            if not of_topic:
                raise UserFacingError(f"share group {quoted(group_id)} has no offsets for {topic}; nothing to delete")
            chosen.extend(of_topic)
        topics = tuple(topic for topic, _ in selection.topics)
        return OffsetDeletePlan(group_id, topics, state, members, tuple(chosen), datetime.now(UTC), group_type=SHARE_TYPE)

    def execute_offset_delete(self, plan: OffsetDeletePlan) -> None:
        """Delete the plan's topics' share-partition state (``DeleteShareGroupOffsets``), on an empty group only."""
        if not plan.partitions:
            return
        self._require_empty("delete offsets of", plan.group_id)
        self._write("delete_share_group_offsets", f"deleting the offsets of share group {quoted(plan.group_id)}",
                    group=plan.group_id, topics=list(plan.topics))

    # -- guards ------------------------------------------------------------------------
    def _require_empty(self, action: str, group_id: str) -> None:
        """Describe the group right before the write: a member may have joined since the plan."""
        state, members = self.group_state(group_id)
        message = active_group_message(action, group_id, state, members)
        if message:
            raise ActiveGroupError(message)

    def _write(self, op: str, what: str, **args: Any) -> None:
        """One write through the helper; a member that joined since :meth:`_require_empty` makes the broker
        refuse it, which :class:`JavaAdmin` reports as :class:`ActiveGroupError` (exit 10)."""
        self.java.call(op, what, **args)
