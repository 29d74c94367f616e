"""Offset reset and offset deletion for a consumer group: plan first (no writes), execute on consent.

This mirrors Kafka's own ``kafka-consumer-groups --reset-offsets`` / ``--delete-offsets``
(``org.apache.kafka.tools.GroupOffsetsResetter`` in Kafka 4.x), so a plan made here gives
the offsets Kafka's tool would give:

* ``--to-offset``, ``--shift-by`` and ``--from-file`` are clamped into
  ``[log start, log end]`` (above the end → end, else below the start → start);
  ``--to-earliest``/``--to-latest``/``--to-current``/``--to-datetime``/``--by-duration``
  are not clamped (they come from the log itself, or are the committed offset).
* ``--shift-by`` refuses partitions without a committed offset; ``--to-current`` uses
  the log-end offset for them.
* ``--to-datetime``/``--by-duration`` take the first offset whose timestamp is at or
  after the time, and the log-end offset when there is none.
* ``--all-topics`` means every partition the group has a committed offset for.
* A group that never committed (or does not exist yet) may be reset: the write creates it.

Planning costs a constant number of batched requests whatever the partition count
(describe group + committed offsets + topic metadata, then one ``ListOffsets`` round for
log start, log end and, if needed, a timestamp), and sends nothing that writes.
Writing is only :meth:`OffsetResetter.execute_reset` and
:meth:`OffsetResetter.execute_offset_delete`, both refusing unless ``allow_writes`` is
true and re-checking right before the write that the group has no active member.
"""

from collections.abc import Mapping
from datetime import UTC, datetime

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

from deliverytui.errors import MESSAGE_LIMIT, ClusterUnreachableError, ConfigError, UserFacingError, one_line
from deliverytui.kafka.client_config import client_config
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.offset_lookups import error_of
from deliverytui.kafka.offset_write_guards import WriteGuards
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.reset import (
    OffsetDeletePlan,
    PartitionReset,
    PartitionSelection,
    ResetMode,
    ResetPlan,
    ResetTarget,
    clamp_into_log,
)
from deliverytui.model.text import quoted


class OffsetResetter(WriteGuards):
    """Plans and executes offset resets and deletions for one cluster.

    Pass the TUI's existing :class:`GroupInspector` as ``inspector`` to reuse its
    connections (then do not call both from two threads at once: the inspector is not
    thread-safe); ``file_config`` must be the same ``--config`` settings, because the
    offset delete request goes through its own short-lived librdkafka handle.
    """

    def __init__(
        self,
        bootstrap: str,
        file_config: Mapping[str, str] | None = None,
        *,
        request_timeout: float = 10.0,
        inspector: GroupInspector | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.request_timeout = request_timeout
        self._file_config = dict(file_config or {})
        self._inspector = inspector or GroupInspector(bootstrap, file_config, request_timeout=request_timeout)

    @property
    def inspector(self) -> GroupInspector:
        return self._inspector

    def is_unknown_group(self, group_id: str) -> bool:
        """True when no classic or consumer group ``group_id`` exists (Dead, no members, no commits): then it may
        be a share group, which these requests cannot see (the CLI asks the share-group path next)."""
        admin = self._inspector.admin
        describe = admin.describe_consumer_groups([group_id], request_timeout=self.request_timeout)[group_id]
        fetch = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id)], request_timeout=self.request_timeout)[group_id]
        self._inspector.await_all([describe, fetch], f"describing group {quoted(group_id)}")
        state, members = self._group_state(describe, group_id)
        return state == "Dead" and members == 0 and not self._committed(fetch, group_id)

    # -- reset ---------------------------------------------------------------------------
    def plan_reset(self, group_id: str, selection: PartitionSelection, target: ResetTarget) -> ResetPlan:
        """Compute the reset without writing anything: a dry run, valid even while the group is active."""
        if target.mode is ResetMode.FROM_FILE:
            if not selection.is_empty:
                raise ConfigError("--from-file takes its partitions from the file; do not combine it with --topic or --all-topics")
            named = {(tp.topic, (tp.partition,)) for tp, _ in target.file_offsets}
            selection = PartitionSelection(topics=tuple(sorted(named)))
        elif selection.is_empty:
            raise ConfigError("name the partitions to reset: --topic TOPIC[:P,P...] (repeatable) or --all-topics")
        what = f"planning an offset reset of group {quoted(group_id)}"
        inspector = self._inspector
        admin = inspector.admin
        timeout = self.request_timeout

        describe = admin.describe_consumer_groups([group_id], request_timeout=timeout)[group_id]
        fetch = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout)[group_id]
        explicit_topics = sorted({topic for topic, _ in selection.topics})
        topic_futures = self._describe_topics(explicit_topics)
        inspector.await_all([describe, fetch, *topic_futures.values()], what)
        state, members = self._group_state(describe, group_id)
        committed = self._committed(fetch, group_id)

        if selection.all_topics:
            if not committed:
                raise UserFacingError(
                    f"group {quoted(group_id)} has no committed offsets, so --all-topics selects nothing; name the partitions with --topic"
                )
            topic_futures = self._describe_topics(sorted({tp.topic for tp in committed}))
            inspector.await_all(list(topic_futures.values()), what)
        layouts = self._topic_layouts(topic_futures, group_id, stale_commits=selection.all_topics)
        if selection.all_topics:
            partitions = sorted(committed)
        else:
            partitions = self._selected_partitions(selection, layouts)
        self._check_leaders(partitions, layouts)

        start, end, at_time = self._log_offsets(partitions, target.timestamp_ms, what)
        warnings: list[str] = []
        rows: list[PartitionReset] = []
        file_offsets = dict(target.file_offsets)
        for tp in partitions:
            current = committed.get(tp)
            log_start, log_end = start[tp], end[tp]
            requested: int | None = None
            mode = target.mode
            if mode is ResetMode.TO_EARLIEST:
                new = log_start
            elif mode is ResetMode.TO_LATEST:
                new = log_end
            elif mode is ResetMode.TO_CURRENT:
                new = current if current is not None else log_end
                if new < log_start:  # not clamped (Kafka's tool does not either), but it cannot be read
                    warnings.append(
                        f"committed offset {new} of {tp.key} is below its log-start offset {log_start} (records deleted); "
                        "kept as Kafka's tool does, but a consumer resuming there gets OFFSET_OUT_OF_RANGE and "
                        "follows its auto.offset.reset"
                    )
            elif mode in (ResetMode.TO_DATETIME, ResetMode.BY_DURATION):
                found = at_time[tp]
                if found < 0:
                    warnings.append(f"{tp.key} has no record at or after the requested time; using its log-end offset {log_end}")
                    new = log_end
                else:
                    new = found
            else:
                if mode is ResetMode.TO_OFFSET:
                    requested = int(target.offset or 0)
                elif mode is ResetMode.SHIFT_BY:
                    if current is None:
                        raise UserFacingError(
                            f"cannot shift the offset of {tp.key}: group {quoted(group_id)} has no committed offset there "
                            "(Kafka refuses too); leave it out with --topic or use another mode"
                        )
                    requested = current + int(target.shift or 0)
                else:  # FROM_FILE
                    requested = file_offsets[tp]
                new = clamp_into_log(requested, log_start, log_end, tp, warnings)
            rows.append(
                PartitionReset(
                    topic=tp.topic,
                    partition=tp.partition,
                    current_offset=current,
                    new_offset=new,
                    log_start_offset=log_start,
                    log_end_offset=log_end,
                    requested_offset=requested,
                )
            )
        return ResetPlan(
            group_id=group_id,
            target=target,
            group_state=state,
            active_members=members,
            partitions=tuple(rows),
            planned_at=datetime.now(UTC),
            warnings=tuple(warnings),
        )

    def execute_reset(self, plan: ResetPlan, *, allow_writes: bool) -> None:
        """Commit the plan's new offsets for its group, exactly as planned.

        Refuses (:class:`WritesDisabledError`) unless ``allow_writes``; describes the group
        again right before writing and refuses (:class:`ActiveGroupError`) if a member
        joined since the plan was made. Sends one ``OffsetCommit`` via the admin API.
        """
        if not self._ready_to_write(plan.group_id, plan.partitions, allow_writes, "resetting the offsets of", "reset offsets of"):
            return
        what = f"committing new offsets for group {quoted(plan.group_id)}"
        request = ConsumerGroupTopicPartitions(
            plan.group_id, [TopicPartition(p.topic, p.partition, p.new_offset) for p in plan.partitions]
        )
        future = self._inspector.admin.alter_consumer_group_offsets([request], request_timeout=self.request_timeout)[
            plan.group_id
        ]
        self._inspector.await_all([future], what)
        try:
            result = future.result(timeout=0)
        except KafkaException as exc:
            self._raise_write_error(error_of(exc), "reset offsets of", plan.group_id, what, exc)
        for tp in result.topic_partitions or []:
            if tp.error is not None:
                self._raise_write_error(tp.error, "reset offsets of", plan.group_id, f"{what} ({tp.topic}:{tp.partition})")

    # -- delete --------------------------------------------------------------------------
    def plan_offset_delete(self, group_id: str, selection: PartitionSelection) -> OffsetDeletePlan:
        """List the committed offsets that deleting ``selection``'s topics would drop (no write).

        Works for topics that no longer exist: only the group's own commits are consulted.
        """
        if selection.all_topics or selection.is_empty:
            raise ConfigError(
                "name the topic(s) whose committed offsets to delete with --topic TOPIC[:P,P...]; "
                "to drop every offset of a group, delete the group"
            )
        what = f"planning an offset delete for group {quoted(group_id)}"
        admin = self._inspector.admin
        describe = admin.describe_consumer_groups([group_id], request_timeout=self.request_timeout)[group_id]
        fetch = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group_id)], request_timeout=self.request_timeout)[
            group_id
        ]
        self._inspector.await_all([describe, fetch], what)
        state, members = self._group_state(describe, group_id)
        committed = self._committed(fetch, group_id)
        chosen: list[tuple[TopicPartitionId, int]] = []
        for topic, wanted in selection.topics:
            of_topic = {tp: offset for tp, offset in committed.items() if tp.topic == topic}
            if wanted is not None:
                of_topic = {tp: offset for tp, offset in of_topic.items() if tp.partition in wanted}
            if not of_topic:
                scope = topic if wanted is None else f"{topic}:{','.join(map(str, wanted))}"
                raise UserFacingError(f"group {quoted(group_id)} has no committed offsets for {scope}; nothing to delete")
            chosen.extend(sorted(of_topic.items()))
        return OffsetDeletePlan(
            group_id=group_id,
            topics=tuple(topic for topic, _ in selection.topics),
            group_state=state,
            active_members=members,
            partitions=tuple(chosen),
            planned_at=datetime.now(UTC),
        )

    def execute_offset_delete(self, plan: OffsetDeletePlan, *, allow_writes: bool) -> None:
        """Delete the plan's committed offsets (Kafka's ``OffsetDelete``), under the same guards as a reset."""
        from deliverytui.kafka.rdkafka_offset_delete import RdKafkaUnavailable, delete_consumer_group_offsets

        if not self._ready_to_write(plan.group_id, plan.partitions, allow_writes, "deleting committed offsets of", "delete offsets of"):
            return
        what = f"deleting committed offsets of group {quoted(plan.group_id)}"
        config = client_config(
            self.bootstrap,
            self._file_config,
            **{"socket.connection.setup.timeout.ms": int(min(self.request_timeout, 10.0) * 1000)},
        )
        try:
            result = delete_consumer_group_offsets(
                config, plan.group_id, [(tp.topic, tp.partition) for tp, _ in plan.partitions], request_timeout=self.request_timeout
            )
        except RdKafkaUnavailable as exc:
            raise UserFacingError(f"cannot delete offsets: {exc}; upgrade confluent-kafka") from None
        except ValueError as exc:
            raise ConfigError(f"invalid client configuration: {one_line(exc, limit=MESSAGE_LIMIT)}") from None
        except TimeoutError:
            raise ClusterUnreachableError(
                f"no answer from Kafka at {self.bootstrap} within {self.request_timeout:.0f}s while {what}; "
                "check --bootstrap and that the cluster is up"
            ) from None
        if result.error_code:
            self._raise_write_error(KafkaError(result.error_code, result.error_text), "delete offsets of", plan.group_id, what)
        for (topic, partition), (code, text) in sorted(result.partition_errors.items()):
            if code:
                self._raise_write_error(KafkaError(code, text), "delete offsets of", plan.group_id, f"{what} ({topic}:{partition})")

