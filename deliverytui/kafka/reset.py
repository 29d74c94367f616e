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

from __future__ import annotations

import concurrent.futures
import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

from deliverytui.errors import (
    MESSAGE_LIMIT,
    ClusterUnreachableError,
    ConfigError,
    ExitCode,
    NotAuthorizedError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.client_config import client_config
from deliverytui.kafka.inspect import GroupInspector, state_name
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.reset import (
    RESET_MODES,
    OffsetDeletePlan,
    PartitionReset,
    PartitionSelection,
    ResetMode,
    ResetPlan,
    ResetTarget,
    active_group_message,
)


class ActiveGroupError(UserFacingError):
    """The group has live members, so Kafka will not let its offsets be rewritten."""

    exit_code = ExitCode.GROUP_ACTIVE


class WritesDisabledError(UserFacingError):
    """A write was asked for without the user's consent (``--allow-writes`` in the TUI)."""

    exit_code = ExitCode.WRITES_DISABLED


#: Broker answers to an offset write that mean "someone is consuming this group right now".
_GROUP_ACTIVE_CODES = frozenset(
    {
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.NON_EMPTY_GROUP,
        KafkaError.GROUP_SUBSCRIBED_TO_TOPIC,
        getattr(KafkaError, "STALE_MEMBER_EPOCH", KafkaError.UNKNOWN_MEMBER_ID),
        getattr(KafkaError, "FENCED_MEMBER_EPOCH", KafkaError.UNKNOWN_MEMBER_ID),
    }
)
_AUTHZ_CODES = frozenset(
    {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)


# -- parsing user input (pure; shared by the CLI and the TUI's reset form) ------------------
_TOPIC_ARG = re.compile(r"^([A-Za-z0-9._-]+)(?::(.*))?$")


def parse_topic_args(values: Sequence[str]) -> PartitionSelection:
    """``--topic T`` / ``--topic T:0,2`` (repeatable) → a :class:`PartitionSelection`, as Kafka parses them.

    Naming the same topic twice merges the partitions; ``T`` alone wins over ``T:P``.
    """
    merged: dict[str, set[int] | None] = {}
    for value in values:
        match = _TOPIC_ARG.match(value.strip())
        if not match:
            raise ConfigError(f"invalid --topic {value!r}: expected TOPIC or TOPIC:PARTITION[,PARTITION...]")
        topic, partitions_text = match.group(1), match.group(2)
        if partitions_text is None:
            merged[topic] = None
            continue
        try:
            partitions = {int(p) for p in partitions_text.split(",")}
        except ValueError:
            raise ConfigError(
                f"invalid --topic {value!r}: partitions must be numbers separated by commas, e.g. {topic}:0,2"
            ) from None
        if any(p < 0 for p in partitions):
            raise ConfigError(f"invalid --topic {value!r}: partition numbers start at 0")
        if topic not in merged:
            merged[topic] = partitions
        elif merged[topic] is not None:
            merged[topic] |= partitions  # type: ignore[operator]
    return PartitionSelection(
        all_topics=False,
        topics=tuple((t, None if p is None else tuple(sorted(p))) for t, p in sorted(merged.items())),
    )


def build_target(mode: ResetMode | str, text: str = "", *, group_id: str | None = None, now: datetime | None = None) -> ResetTarget:
    """The one way from a reset mode and the user's text to a :class:`ResetTarget` (CLI, reset screen, replay).

    The mode's entry in :data:`~deliverytui.model.reset.RESET_MODES` parses the text;
    ``--from-file`` reads Kafka's CSV at ``text`` for ``group_id``. Bad input is a one-line ConfigError.
    """
    try:
        spec = RESET_MODES[ResetMode(mode)]
    except ValueError:
        raise ConfigError(f"unknown reset mode {mode!r}") from None
    if spec.build is None:
        return read_reset_csv(text, group_id or "")
    try:
        return spec.build(text, now or datetime.now(UTC))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def duration_target(text: str, *, now: datetime | None = None) -> ResetTarget:
    """``--by-duration D``: the time ``now - D``, resolved once (as Kafka's tool does at start)."""
    return build_target(ResetMode.BY_DURATION, text, now=now)


def datetime_target(text: str) -> ResetTarget:
    return build_target(ResetMode.TO_DATETIME, text)


def read_reset_csv(path: str | Path, group_id: str) -> ResetTarget:
    """``--from-file``: Kafka's reset CSV, ``topic,partition,offset`` per line (no header).

    The four-column form ``group,topic,partition,offset`` that Kafka exports for several
    groups is accepted too; only the rows of ``group_id`` are used.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"reset file {file} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read reset file {file}: {exc.strerror}") from None
    offsets: dict[TopicPartitionId, int] = {}
    other_groups = 0
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        fields = [f.strip() for f in row]
        if not fields or fields == [""]:
            continue
        if len(fields) == 4:
            group, fields = fields[0], fields[1:]
            if group != group_id:
                other_groups += 1
                continue
        if len(fields) != 3:
            raise ConfigError(f"{file}:{number}: expected 'topic,partition,offset' (Kafka's reset CSV), got {len(row)} field(s)")
        topic, partition_text, offset_text = fields
        try:
            partition, offset = int(partition_text), int(offset_text)
        except ValueError:
            raise ConfigError(f"{file}:{number}: partition and offset must be whole numbers in 'topic,partition,offset'") from None
        if not topic or partition < 0 or offset < 0:
            raise ConfigError(f"{file}:{number}: expected a topic, a partition >= 0 and an offset >= 0")
        offsets[TopicPartitionId(topic, partition)] = offset
    if not offsets:
        hint = f" (it has rows for {other_groups} other group row(s))" if other_groups else ""
        raise ConfigError(f"reset file {file} has no offsets for group {group_id!r}{hint}")
    return ResetTarget.from_offsets(offsets, str(file))


def reset_csv(plan: ResetPlan) -> str:
    """The plan's new offsets in Kafka's ``--export`` format, readable back with ``--from-file``."""
    return "".join(f"{p.topic},{p.partition},{p.new_offset}\n" for p in plan.partitions)


# -- the service ----------------------------------------------------------------------------
class OffsetResetter:
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
        what = f"planning an offset reset of group {group_id!r}"
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
                    f"group {group_id!r} has no committed offsets, so --all-topics selects nothing; name the partitions with --topic"
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
                            f"cannot shift the offset of {tp.key}: group {group_id!r} has no committed offset there "
                            "(Kafka refuses too); leave it out with --topic or use another mode"
                        )
                    requested = current + int(target.shift or 0)
                else:  # FROM_FILE
                    requested = file_offsets[tp]
                new = _clamp(requested, log_start, log_end, tp, warnings)
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
        _require_writes(allow_writes, f"resetting the offsets of group {plan.group_id!r}")
        if not plan.partitions:
            return
        self._require_inactive("reset offsets of", plan.group_id)
        what = f"committing new offsets for group {plan.group_id!r}"
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
            self._raise_write_error(_error_of(exc), "reset offsets of", plan.group_id, what, exc)
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
        what = f"planning an offset delete for group {group_id!r}"
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
                raise UserFacingError(f"group {group_id!r} has no committed offsets for {scope}; nothing to delete")
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

        _require_writes(allow_writes, f"deleting committed offsets of group {plan.group_id!r}")
        if not plan.partitions:
            return
        self._require_inactive("delete offsets of", plan.group_id)
        what = f"deleting committed offsets of group {plan.group_id!r}"
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

    # -- internals -----------------------------------------------------------------------
    def _describe_topics(self, topics: Sequence[str]) -> dict[str, concurrent.futures.Future]:
        if not topics:
            return {}
        return self._inspector.admin.describe_topics(TopicCollection(list(topics)), request_timeout=self.request_timeout)

    def _group_state(self, future: concurrent.futures.Future, group_id: str) -> tuple[str, int]:
        """State and member count; a group the coordinator does not know is "Dead" with no members, as in Kafka."""
        try:
            description = future.result(timeout=0)
        except KafkaException as exc:
            error = _error_of(exc)
            if error is not None and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return "Dead", 0
            self._inspector.raise_for(error, f"describing group {group_id!r}", exc)
        return state_name(description.state), len(description.members)

    def _committed(self, future: concurrent.futures.Future, group_id: str) -> dict[TopicPartitionId, int]:
        try:
            result = future.result(timeout=0)
        except KafkaException as exc:
            error = _error_of(exc)
            if error is not None and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return {}
            self._inspector.raise_for(error, f"fetching the committed offsets of {group_id!r}", exc)
        return {
            TopicPartitionId(tp.topic, tp.partition): tp.offset
            for tp in result.topic_partitions or []
            if tp.error is None and tp.offset >= 0
        }

    def _topic_layouts(
        self, futures: Mapping[str, concurrent.futures.Future], group_id: str, *, stale_commits: bool
    ) -> dict[str, dict[int, bool]]:
        """Topic → {partition: has a leader}; an unknown topic is a one-line error."""
        layouts: dict[str, dict[int, bool]] = {}
        for topic, future in futures.items():
            try:
                description = future.result(timeout=0)
            except KafkaException as exc:
                error = _error_of(exc)
                if error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    if stale_commits:
                        raise UserFacingError(
                            f"group {group_id!r} has committed offsets for topic {topic!r}, which does not exist on "
                            f"{self.bootstrap} any more; drop them with 'deliverytui delete-offsets --group {group_id} "
                            f"--topic {topic} --execute' or name the topics to reset with --topic"
                        ) from None
                    raise UserFacingError(f"topic {topic!r} does not exist on {self.bootstrap}") from None
                self._inspector.raise_for(error, f"describing topic {topic!r}", exc)
            layouts[topic] = {p.id: p.leader is not None and p.leader.id >= 0 for p in description.partitions}
        return layouts

    @staticmethod
    def _selected_partitions(
        selection: PartitionSelection, layouts: Mapping[str, Mapping[int, bool]]
    ) -> list[TopicPartitionId]:
        chosen: set[TopicPartitionId] = set()
        for topic, wanted in selection.topics:
            existing = layouts[topic]
            if wanted is None:
                chosen.update(TopicPartitionId(topic, p) for p in existing)
                continue
            missing = [p for p in wanted if p not in existing]
            if missing:
                raise UserFacingError(
                    f"topic {topic!r} has no partition {', '.join(map(str, missing))} "
                    f"(it has {len(existing)} partition(s): 0-{len(existing) - 1})"
                )
            chosen.update(TopicPartitionId(topic, p) for p in wanted)
        return sorted(chosen)

    @staticmethod
    def _check_leaders(partitions: Iterable[TopicPartitionId], layouts: Mapping[str, Mapping[int, bool]]) -> None:
        leaderless = [tp.key for tp in partitions if not layouts.get(tp.topic, {}).get(tp.partition, False)]
        if leaderless:
            raise UserFacingError(
                f"partition(s) {', '.join(leaderless)} have no leader, so their log offsets are unknown; retry when the cluster has recovered"
            )

    def _log_offsets(
        self, partitions: Sequence[TopicPartitionId], timestamp_ms: int | None, what: str
    ) -> tuple[dict[TopicPartitionId, int], dict[TopicPartitionId, int], dict[TopicPartitionId, int]]:
        """Log start, log end (read_uncommitted, as Kafka's tool) and the offset at ``timestamp_ms``: one round."""
        if not partitions:
            return {}, {}, {}
        specs = [OffsetSpec.earliest(), OffsetSpec.latest()]
        if timestamp_ms is not None:
            specs.append(OffsetSpec.for_timestamp(timestamp_ms))
        admin = self._inspector.admin
        batches = [
            admin.list_offsets({TopicPartition(tp.topic, tp.partition): spec for tp in partitions}, request_timeout=self.request_timeout)
            for spec in specs
        ]
        self._inspector.await_all([f for batch in batches for f in batch.values()], what)
        results: list[dict[TopicPartitionId, int]] = []
        for batch in batches:
            values: dict[TopicPartitionId, int] = {}
            for tp, future in batch.items():
                try:
                    values[TopicPartitionId(tp.topic, tp.partition)] = future.result(timeout=0).offset
                except KafkaException as exc:
                    self._inspector.raise_for(_error_of(exc), f"listing the offsets of {tp.topic}:{tp.partition}", exc)
            results.append(values)
        return results[0], results[1], (results[2] if timestamp_ms is not None else {})

    def _require_inactive(self, action: str, group_id: str) -> None:
        """Describe the group now (it may have come alive since the plan) and refuse if it has members."""
        describe = self._inspector.admin.describe_consumer_groups([group_id], request_timeout=self.request_timeout)[group_id]
        self._inspector.await_all([describe], f"describing group {group_id!r}")
        state, members = self._group_state(describe, group_id)
        message = active_group_message(action, group_id, state, members)
        if message:
            raise ActiveGroupError(message)

    def _raise_write_error(
        self, error: KafkaError | None, action: str, group_id: str, what: str, exc: Exception | None = None
    ) -> None:
        code = error.code() if error is not None else None
        text = one_line(error.str(), limit=MESSAGE_LIMIT) if error is not None else one_line(exc, limit=MESSAGE_LIMIT)
        if code in _GROUP_ACTIVE_CODES:
            if code == KafkaError.GROUP_SUBSCRIBED_TO_TOPIC:
                raise ActiveGroupError(
                    f"cannot {action} group {group_id!r}: its members are subscribed to the topic ({text}); stop its consumers first"
                )
            raise ActiveGroupError(
                f"cannot {action} group {group_id!r}: the broker says the group is active ({text}); stop its consumers first"
            )
        if code in _AUTHZ_CODES:
            raise NotAuthorizedError(
                f"not authorized while {what} on {self.bootstrap}: {text}; the principal needs Read on the group and its topics"
                + (" and Delete on the group" if action.startswith("delete") else "")
            )
        if code == KafkaError.GROUP_ID_NOT_FOUND:
            raise UnknownGroupError(f"cannot {action} group {group_id!r}: the group does not exist on {self.bootstrap}")
        self._inspector.raise_for(error, what, exc or Exception(text))


def _clamp(requested: int, log_start: int, log_end: int, tp: TopicPartitionId, warnings: list[str]) -> int:
    """Kafka's ``checkOffsetsRange``: above the log end → log end, else below the log start → log start."""
    if requested > log_end:
        warnings.append(f"new offset {requested} of {tp.key} is above its log-end offset; using {log_end}")
        return log_end
    if requested < log_start:
        warnings.append(f"new offset {requested} of {tp.key} is below its log-start offset; using {log_start}")
        return log_start
    return requested


def _error_of(exc: KafkaException) -> KafkaError | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None


def _require_writes(allow_writes: bool, action: str) -> None:
    if not allow_writes:
        raise WritesDisabledError(
            f"writes are disabled: {action} changes what the group consumes next; pass --allow-writes to enable it"
        )
