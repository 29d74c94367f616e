"""What a reset plan reads from the cluster: group state, committed offsets, topic layouts and log offsets.

Each lookup is one batched request whatever the partition count, and turns the broker's
answers (an unknown group is "Dead", an unknown topic a one-line error) into what a plan
needs. Nothing here writes.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import OffsetSpec

from deliverytui.errors import UserFacingError
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.group_states import state_name
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.reset import PartitionSelection
from deliverytui.model.text import quoted, shown_name


class OffsetLookups:
    """The read requests of :class:`~deliverytui.kafka.offset_reset.OffsetResetter`, through its inspector."""

    bootstrap: str
    request_timeout: float
    _inspector: GroupInspector

    def _describe_topics(self, topics: Sequence[str]) -> dict[str, concurrent.futures.Future]:
        if not topics:
            return {}
        return self._inspector.admin.describe_topics(TopicCollection(list(topics)), request_timeout=self.request_timeout)

    def _unless_unknown_group(self, future: concurrent.futures.Future, what: str) -> Any:
        """The answer of a group request; None if the coordinator does not know the group (other errors raise)."""
        try:
            return future.result(timeout=0)
        except KafkaException as exc:
            error = error_of(exc)
            if error is not None and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return None
            self._inspector.raise_for(error, what, exc)
            raise  # raise_for always raises; this keeps the type checker and the reader sure of it

    def _group_state(self, future: concurrent.futures.Future, group_id: str) -> tuple[str, int]:
        """State and member count; a group the coordinator does not know is "Dead" with no members, as in Kafka."""
        description = self._unless_unknown_group(future, f"describing group {quoted(group_id)}")
        if description is None:
            return "Dead", 0
        return state_name(description.state), len(description.members)

    def _committed(self, future: concurrent.futures.Future, group_id: str) -> dict[TopicPartitionId, int]:
        result = self._unless_unknown_group(future, f"fetching the committed offsets of {quoted(group_id)}")
        if result is None:
            return {}
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
                error = error_of(exc)
                if error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    if stale_commits:
                        raise UserFacingError(
                            f"group {quoted(group_id)} has committed offsets for topic {topic!r}, which does not exist on "
                            f"{self.bootstrap} any more; drop them with 'deliverytui delete-offsets --group {shown_name(group_id)} "
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
                    self._inspector.raise_for(error_of(exc), f"listing the offsets of {tp.topic}:{tp.partition}", exc)
            results.append(values)
        return results[0], results[1], (results[2] if timestamp_ms is not None else {})


def error_of(exc: KafkaException) -> KafkaError | None:
    """The :class:`KafkaError` a :class:`KafkaException` carries, if any."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None

