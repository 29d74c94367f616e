"""A recorded frame as a delta against the previous one: the recording's storage format, without the file.

Why deltas: a 1,000-partition group polled every 2 s is 43,200 snapshots a day, and a snapshot stored
whole is ~150 kB of JSON. Between two polls most partitions move, but only by a few offsets, and
nothing else about them changes. So a frame stores, against the state the previous frame left:

* the numeric partition fields (committed, log-end, log-start offsets, leader epoch, leader) as
  columns of differences, one small integer per partition (the last stable offset as its distance
  from the log-end offset, which is 0 without open transactions); any other change (an owner, an
  ISR, a ``None``) as an override ``[row, field, value]``;
* members, the snapshot's header, positions, statuses, the group status and the dedup counters only
  where they changed; the event lines and the failure of this poll as they are.

A keyframe is the same encoding against the empty state: a reader rebuilds frame ``n`` from the last
keyframe at or before it. :func:`next_state` is the one definition of "the state a frame leaves", used by
the writer after encoding and the reader after decoding, so both hold the same base for the next delta.
Payloads are JSON (``ensure_ascii``: any name round-trips, lone surrogates too), zlib-compressed.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deliverytui.model.dedup import DedupCounters
from deliverytui.model.group import BrokerNode, GroupSnapshot, MemberInfo, PartitionRow, TopicPartitionId
from deliverytui.model.positions import PartitionPosition, PositionsView
from deliverytui.model.recording import RecordedFrame

#: PartitionRow's fields in stored order (a row is a list in this order).
ROW_FIELDS = (
    "topic", "partition", "committed_offset", "committed_metadata", "committed_leader_epoch", "log_end_offset",
    "last_stable_offset", "log_start_offset", "member_id", "client_id", "host", "leader", "replicas", "isr",
)
LOG_END, LAST_STABLE = ROW_FIELDS.index("log_end_offset"), ROW_FIELDS.index("last_stable_offset")
#: Fields stored as a column of differences against the previous frame (the last stable offset is apart).
DELTA_FIELDS = tuple(ROW_FIELDS.index(name) for name in (
    "committed_offset", "log_end_offset", "committed_leader_epoch", "log_start_offset", "leader",
))
#: Fields stored only when they change (the topic and partition never do: they are the row's key).
OTHER_FIELDS = tuple(ROW_FIELDS.index(name) for name in (
    "committed_metadata", "member_id", "client_id", "host", "replicas", "isr",
))
POSITION_FIELDS = (
    "topic", "partition", "position", "committed", "client_id", "member_id", "reporter", "source",
    "reported_at", "age_seconds", "stale", "verified",
)


@dataclass
class FrameState:
    """What a frame leaves for the next delta: the last known snapshot parts, positions, statuses."""

    head: list | None = None  # [group_id, state, protocol, coordinator, assignor, brokers]
    members: list = field(default_factory=list)
    keys: list = field(default_factory=list)  # [[topic, partition], ...]
    rows: list = field(default_factory=list)  # aligned with keys
    position_keys: list = field(default_factory=list)
    positions: dict = field(default_factory=dict)  # key -> entry list
    statuses: dict = field(default_factory=dict)
    group_status: str | None = None
    dedup: list | None = None


def _is_int(value: Any) -> bool:
    return type(value) is int


def _date(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _undate(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# -- frame objects <-> plain lists ------------------------------------------------------------------------------

def snapshot_parts(snapshot: GroupSnapshot) -> tuple[list, list, list, list]:
    """``(head, members, keys, rows)`` of a snapshot as JSON-able lists."""
    coordinator = snapshot.coordinator
    head = [
        snapshot.group_id, snapshot.state, snapshot.protocol,
        [coordinator.node_id, coordinator.host, coordinator.port] if coordinator else None,
        snapshot.partition_assignor, list(snapshot.brokers),
    ]
    members = [
        [m.member_id, m.client_id, m.host, m.group_instance_id, [[tp.topic, tp.partition] for tp in m.assignment]]
        for m in snapshot.members
    ]
    rows = [
        [row.topic, row.partition, row.committed_offset, row.committed_metadata, row.committed_leader_epoch,
         row.log_end_offset, row.last_stable_offset, row.log_start_offset, row.member_id, row.client_id, row.host,
         row.leader, list(row.replicas), list(row.isr)]
        for row in snapshot.partitions
    ]
    return head, members, [[row[0], row[1]] for row in rows], rows


def build_snapshot(head: list, members: list, rows: list, taken_at: str) -> GroupSnapshot:
    coordinator = head[3]
    return GroupSnapshot(
        group_id=head[0], state=head[1], protocol=head[2],
        coordinator=BrokerNode(*coordinator) if coordinator else None,
        partition_assignor=head[4],
        members=tuple(
            MemberInfo(m[0], m[1], m[2], m[3], tuple(TopicPartitionId(t, p) for t, p in m[4])) for m in members
        ),
        partitions=tuple(PartitionRow(*row[:12], replicas=tuple(row[12]), isr=tuple(row[13])) for row in rows),
        taken_at=datetime.fromisoformat(taken_at),
        brokers=tuple(head[5]),
    )


def position_parts(view: PositionsView) -> tuple[list, list, dict]:
    head = [view.group_id, view.probe_topic, _date(view.taken_at), view.caught_up, view.malformed_records,
            view.other_group_records, view.error]
    entries = {}
    for p in view.partitions:
        entries[f"{p.topic}:{p.partition}"] = [
            p.topic, p.partition, p.position, p.committed, p.client_id, p.member_id, p.reporter, p.source,
            _date(p.reported_at), p.age_seconds, p.stale, p.verified,
        ]
    return head, list(entries), entries


def build_positions(head: list, keys: list, entries: dict) -> PositionsView:
    partitions = []
    for key in keys:
        e = entries[key]
        partitions.append(PartitionPosition(*e[:8], _undate(e[8]), *e[9:]))
    return PositionsView(head[0], head[1], tuple(partitions), _undate(head[2]), head[3], head[4], head[5], head[6])


def dedup_parts(counters: DedupCounters | None) -> list | None:
    if counters is None:
        return None
    return [counters.group, counters.hits, counters.misses, counters.retakes, counters.in_progress, counters.errors,
            _date(counters.updated_at)]


def build_dedup(parts: list | None) -> DedupCounters | None:
    return None if parts is None else DedupCounters(*parts[:6], updated_at=_undate(parts[6]))


# -- deltas -----------------------------------------------------------------------------------------------------

def _row_delta(keys: list, rows: list, base: FrameState, body: dict) -> None:
    """Store ``rows`` against ``base``: columns of differences, overrides, new rows whole."""
    if keys != base.keys:
        body["k"] = keys
    index = {(t, p): i for i, (t, p) in enumerate(base.keys)} if keys != base.keys else None
    columns = {f: [0] * len(rows) for f in DELTA_FIELDS}
    lso_column = [0] * len(rows)
    overrides: list = []
    new_rows: dict = {}
    for i, row in enumerate(rows):
        if index is None:
            old = base.rows[i]
        else:
            j = index.get((row[0], row[1]))
            if j is None:
                new_rows[str(i)] = row
                continue
            old = base.rows[j]
        for f in DELTA_FIELDS:
            now, was = row[f], old[f]
            if _is_int(now) and _is_int(was):
                columns[f][i] = now - was
            elif now != was:
                overrides.append([i, f, now])
        lso, leo, was_lso, was_leo = row[LAST_STABLE], row[LOG_END], old[LAST_STABLE], old[LOG_END]
        if _is_int(lso) and _is_int(leo) and _is_int(was_lso) and _is_int(was_leo):
            lso_column[i] = (lso - leo) - (was_lso - was_leo)
        elif lso != was_lso:
            overrides.append([i, LAST_STABLE, lso])
        for f in OTHER_FIELDS:
            if row[f] != old[f]:
                overrides.append([i, f, row[f]])
    columns[LAST_STABLE] = lso_column
    packed = {str(f): column for f, column in columns.items() if any(column)}
    if packed:
        body["c"] = packed
    if overrides:
        body["o"] = overrides
    if new_rows:
        body["n"] = new_rows


def _apply_rows(body: dict, base: FrameState) -> tuple[list, list]:
    keys = body.get("k", base.keys)
    index = {(t, p): i for i, (t, p) in enumerate(base.keys)} if "k" in body else None
    new_rows = body.get("n", {})
    columns = {int(f): column for f, column in body.get("c", {}).items()}
    lso_column = columns.pop(LAST_STABLE, None)
    rows: list = []
    for i, (topic, partition) in enumerate(keys):
        if str(i) in new_rows:
            rows.append(list(new_rows[str(i)]))
            continue
        old = base.rows[i] if index is None else base.rows[index[(topic, partition)]]
        row = list(old)
        for f, column in columns.items():
            if _is_int(old[f]):
                row[f] = old[f] + column[i]
        if _is_int(old[LAST_STABLE]) and _is_int(old[LOG_END]) and _is_int(row[LOG_END]):
            row[LAST_STABLE] = old[LAST_STABLE] - old[LOG_END] + row[LOG_END] + (lso_column[i] if lso_column else 0)
        rows.append(row)
    for i, f, value in body.get("o", ()):
        rows[i][f] = value
    return keys, rows


def encode(frame: RecordedFrame, base: FrameState) -> tuple[bytes, FrameState]:
    """``frame`` as a compressed delta against ``base`` (the empty :class:`FrameState` for a keyframe)."""
    body: dict[str, Any] = {}
    state = FrameState(**vars(base))
    if frame.snapshot is not None:
        head, members, keys, rows = snapshot_parts(frame.snapshot)
        body["t"] = _date(frame.snapshot.taken_at)
        if head != base.head:
            body["h"] = head
        if members != base.members:
            body["m"] = members
        _row_delta(keys, rows, base, body)
        state.head, state.members, state.keys, state.rows = head, members, keys, rows
    if frame.positions is not None:
        head, keys, entries = position_parts(frame.positions)
        part: dict[str, Any] = {"h": head}
        if keys != base.position_keys:
            part["q"] = keys
        full, updates = {}, {}
        for key, entry in entries.items():
            old = base.positions.get(key)
            if old is None:
                full[key] = entry
            elif entry != old:
                updates[key] = [x for f, value in enumerate(entry) if value != old[f] for x in (f, value)]
        if full:
            part["e"] = full
        if updates:
            part["u"] = updates
        body["p"] = part
        state.position_keys, state.positions = keys, entries
    statuses = dict(frame.statuses)
    changed = {key: value for key, value in statuses.items() if base.statuses.get(key) != value}
    if changed:
        body["st"] = changed
    removed = [key for key in base.statuses if key not in statuses]
    if removed:
        body["sx"] = removed
    state.statuses = statuses
    if frame.group_status != base.group_status:
        body["g"] = frame.group_status
    state.group_status = frame.group_status
    dedup = dedup_parts(frame.dedup)
    if dedup != base.dedup:
        body["d"] = dedup
    state.dedup = dedup
    if frame.events:
        body["ev"] = [list(event) for event in frame.events]
    if frame.failure is not None:
        body["f"] = frame.failure
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode("ascii")), state


def decode(index: int, at: float, payload: bytes, base: FrameState) -> tuple[RecordedFrame, FrameState]:
    """The frame stored as ``payload`` against ``base``, and the state it leaves."""
    body = json.loads(zlib.decompress(payload))
    state = FrameState(**vars(base))
    snapshot = None
    if "t" in body:
        state.head = body.get("h", base.head)
        state.members = body.get("m", base.members)
        state.keys, state.rows = _apply_rows(body, base)
        snapshot = build_snapshot(state.head, state.members, state.rows, body["t"])
    positions = None
    if "p" in body:
        part = body["p"]
        keys = part.get("q", base.position_keys)
        entries = {}
        for key in keys:
            if key in part.get("e", {}):
                entries[key] = part["e"][key]
                continue
            entry = list(base.positions[key])
            update = part.get("u", {}).get(key, ())
            for f, value in zip(update[::2], update[1::2]):
                entry[f] = value
            entries[key] = entry
        state.position_keys, state.positions = keys, entries
        positions = build_positions(part["h"], keys, entries)
    removed = set(body.get("sx", ()))
    statuses = {key: value for key, value in base.statuses.items() if key not in removed}
    statuses.update(body.get("st", {}))
    state.statuses = statuses
    state.group_status = body.get("g", base.group_status)
    state.dedup = body.get("d", base.dedup)
    frame = RecordedFrame(
        index=index, at=at, snapshot=snapshot, positions=positions, group_status=state.group_status,
        statuses=dict(statuses), events=tuple((text, style) for text, style in body.get("ev", ())),
        dedup=build_dedup(state.dedup), failure=body.get("f"),
    )
    return frame, state
