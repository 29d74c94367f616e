"""Reading what the user asked a reset to do: topic arguments, times, durations, and the CSV of ``--from-file``.

Pure (no Kafka): shared by the CLI and the TUI's reset form, so both accept exactly the
same input and give the same one-line errors; ``reset_csv`` writes the format
``read_reset_csv`` reads, as Kafka's ``--export`` does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from deliverytui.errors import ConfigError, read_user_file
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.reset import RESET_MODES, PartitionSelection, ResetMode, ResetPlan, ResetTarget
from deliverytui.model.text import quoted

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
    text = read_user_file(file, "reset file")
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
        raise ConfigError(f"reset file {file} has no offsets for group {quoted(group_id)}{hint}")
    return ResetTarget.from_offsets(offsets, str(file))


def reset_csv(plan: ResetPlan) -> str:
    """The plan's new offsets in Kafka's ``--export`` format, readable back with ``--from-file``."""
    return "".join(f"{p.topic},{p.partition},{p.new_offset}\n" for p in plan.partitions)
