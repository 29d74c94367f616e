"""Burrow's statuses for a share group: the share-partition start offset judged as a committed offset.

A share group has no committed offset per consumer; what it keeps per partition is the
*share-partition start offset* (every record below it is acknowledged or archived), and what
Kafka reports as its backlog is the *share lag* (records at or above the start offset not yet
acknowledged). The start offset moves exactly when the group's delivery makes progress, as a
committed offset does, so the existing rules (:mod:`deliverytui.lag.evaluator`) apply unchanged
once each share partition is fed to :class:`~deliverytui.lag.LagHistory` as a commit row:

- ``committed_offset`` is the share-partition start offset;
- the lag (``log_end - committed``) is Kafka's share lag: ``log_end`` is fed as start offset +
  share lag, so the lag, the sparklines and the "caught up" rule use Kafka's own figure;
- ``member_id`` is the first member that owns the partition, or none (an owner is evidence of an
  active consumer, as a classic member is).

So, per partition: **OK** the share lag is 0 (or was 0 within the window) or the start offset
advances while the lag falls; **WARN** the start offset advances but the share lag never fell
across a full window; **STALL** members own the partition but its start offset did not move
across a full window while records wait (e.g. every delivery is released or times out);
**STOP** nobody owns it and its start offset has not moved for longer than the window spans;
**REWIND** the start offset went backwards (``kafka-share-groups --reset-offsets``); **-** the
group has not fetched from it yet (no start offset: Kafka prints ``-``).
"""

from __future__ import annotations

from deliverytui.model.group import GroupSnapshot, PartitionRow
from deliverytui.model.share import SHARE_TYPE, ShareGroupSnapshot


def as_commit_snapshot(snapshot: ShareGroupSnapshot) -> GroupSnapshot:
    """``snapshot`` in the shape :meth:`LagHistory.observe` judges, following the mapping above."""
    rows = tuple(
        PartitionRow(
            topic=row.topic,
            partition=row.partition,
            committed_offset=row.start_offset,
            committed_metadata=None,
            committed_leader_epoch=row.leader_epoch,
            log_end_offset=None if row.start_offset is None or row.lag is None else row.start_offset + row.lag,
            last_stable_offset=None,
            log_start_offset=None,
            member_id=row.owners[0] if row.owners else None,
            client_id=None,
            host=None,
        )
        for row in snapshot.partitions
    )
    return GroupSnapshot(
        group_id=snapshot.group_id,
        state=snapshot.state,
        protocol=SHARE_TYPE,
        coordinator=snapshot.coordinator,
        partition_assignor=None,
        members=(),
        partitions=rows,
        taken_at=snapshot.taken_at,
    )
