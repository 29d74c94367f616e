"""A recorded frame as a delta against the previous one: the recording's storage format, without the file.

Why deltas: a 1,000-partition group polled every 2 s is 43,200 snapshots a day, and a snapshot stored
whole is ~150 kB of JSON. Between two polls most partitions move, but only by a few offsets, and
nothing else about them changes. So a frame stores, against the state the previous frame left:

* the numeric partition fields (log-end, log-start offsets, leader epoch, leader) as columns of
  differences, one small integer per partition, and the committed and last stable offsets as the
  change of their distance to the log-end offset (the lag's change: 0 for a consumer that keeps up;
  0 without open transactions); any other change (an owner, an ISR, a ``None``) as an override
  ``[row, field, value]``;
* members, the snapshot's header, positions, statuses, the group status and the dedup counters only
  where they changed; the event lines and the failure of this poll as they are.

A keyframe is the same encoding against the empty state: a reader rebuilds frame ``n`` from the last
keyframe at or before it. :func:`next_state` is the one definition of "the state a frame leaves", used by
the writer after encoding and the reader after decoding, so both hold the same base for the next delta.
A payload is zlib (level 9) of: the JSON part's length (4 bytes, big-endian), the JSON part
(``ensure_ascii``: any name round-trips, lone surrogates too), then the columns as zigzag varints.
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
#: Fields stored as a column of differences against the previous frame.
DELTA_FIELDS = tuple(ROW_FIELDS.index(name) for name in (
    "log_end_offset", "committed_leader_epoch", "log_start_offset", "leader",
))
#: Fields stored as the change of their distance to the log-end offset (the lag, the open transactions):
#: a consumer that keeps up and a topic without transactions make these columns all zeros.
RELATIVE_FIELDS = (ROW_FIELDS.index("committed_offset"), LAST_STABLE)
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

def pack_ints(values: list[int], out: bytearray) -> None:
    """Append ``values`` as zigzag varints: a change of a few records is one byte (JSON spends three)."""
    for value in values:
        zig = value << 1 if value >= 0 else (-value << 1) - 1
        while zig >= 0x80:
            out.append((zig & 0x7F) | 0x80)
            zig >>= 7
        out.append(zig)


def unpack_ints(data: bytes, start: int, count: int) -> tuple[list[int], int]:
    """``count`` zigzag varints from ``data[start:]``, and where they end."""
    values = []
    append = values.append
    pos = start
    for _ in range(count):
        zig = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            zig |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        append(zig >> 1 if not zig & 1 else -((zig + 1) >> 1))
    return values, pos


def _row_delta(keys: list, rows: list, base: FrameState, body: dict, packed: bytearray) -> None:
    """Store ``rows`` against ``base``: overrides and new rows in ``body``, the columns appended to ``packed``."""
    if keys != base.keys:
        body["k"] = keys
    index = {(t, p): i for i, (t, p) in enumerate(base.keys)} if keys != base.keys else None
    columns = {f: [0] * len(rows) for f in DELTA_FIELDS + RELATIVE_FIELDS}
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
        leo, was_leo = row[LOG_END], old[LOG_END]
        for f in RELATIVE_FIELDS:  # the distance to the log-end offset: the lag, the open transactions
            now, was = row[f], old[f]
            if _is_int(now) and _is_int(leo) and _is_int(was) and _is_int(was_leo):
                columns[f][i] = (now - leo) - (was - was_leo)
            elif now != was:
                overrides.append([i, f, now])
        for f in OTHER_FIELDS:
            if row[f] != old[f]:
                overrides.append([i, f, row[f]])
    stored = [f for f, column in columns.items() if any(column)]
    for f in stored:
        pack_ints(columns[f], packed)
    if stored:
        body["c"] = stored
    if overrides:
        body["o"] = overrides
    if new_rows:
        body["n"] = new_rows


def _apply_rows(body: dict, packed: bytes, pos: int, base: FrameState) -> tuple[list, list, int]:
    keys = body.get("k", base.keys)
    index = {(t, p): i for i, (t, p) in enumerate(base.keys)} if "k" in body else None
    new_rows = body.get("n", {})
    columns = {}
    for f in body.get("c", ()):
        columns[f], pos = unpack_ints(packed, pos, len(keys))
    deltas = [(f, columns[f]) for f in DELTA_FIELDS if f in columns]
    relative = [(f, columns.get(f)) for f in RELATIVE_FIELDS]
    rows: list = []
    for i, (topic, partition) in enumerate(keys):
        if str(i) in new_rows:
            rows.append(list(new_rows[str(i)]))
            continue
        old = base.rows[i] if index is None else base.rows[index[(topic, partition)]]
        row = list(old)
        for f, column in deltas:
            if _is_int(old[f]):
                row[f] = old[f] + column[i]
        leo, was_leo = row[LOG_END], old[LOG_END]
        if _is_int(leo) and _is_int(was_leo):
            for f, column in relative:
                if _is_int(old[f]):
                    row[f] = old[f] - was_leo + leo + (column[i] if column else 0)
        rows.append(row)
    for i, f, value in body.get("o", ()):
        rows[i][f] = value
    return keys, rows, pos


POSITION, POSITION_COMMITTED = POSITION_FIELDS.index("position"), POSITION_FIELDS.index("committed")


def _committed_offsets(rows: list) -> dict[str, int]:
    """``topic:partition`` -> the group's committed offset, where it is known."""
    return {f"{row[0]}:{row[1]}": row[2] for row in rows if _is_int(row[2])}


def _references(keys: list, rows: list, base: FrameState) -> list[int]:
    """Per position key, how far the group's committed offset moved since ``base`` (0 where unknown): a
    consumer's position and its own committed offset move with it, so only their difference is stored."""
    now, before = _committed_offsets(rows), _committed_offsets(base.rows)
    return [now[key] - before[key] if key in now and key in before else 0 for key in keys]


def _position_delta(keys: list, entries: dict, rows: list, base: FrameState, part: dict, packed: bytearray) -> None:
    """Positions against ``base``: new entries whole; for the others three packed columns — the position's
    change and the reporter's committed offset's change, each less the group's committed offset's change
    (:func:`_references`), and an index into ``part["v"]``, the distinct sets of other changed fields (one
    consumer's report shares its time and age: a few sets a frame)."""
    full = {}
    reference = _references(keys, rows, base)
    moved, distance, change_index = [0] * len(keys), [0] * len(keys), [0] * len(keys)
    change_sets: dict[str, int] = {}
    for i, key in enumerate(keys):
        entry, old = entries[key], base.positions.get(key)
        if old is None:
            full[key] = entry
            continue
        position, committed, was_position, was_committed = entry[POSITION], entry[POSITION_COMMITTED], old[POSITION], old[POSITION_COMMITTED]
        changes = []
        if _is_int(position) and _is_int(was_position):
            moved[i] = position - was_position - reference[i]
        elif position != was_position:
            changes.append([POSITION, position])
        if _is_int(committed) and _is_int(was_committed):
            distance[i] = committed - was_committed - reference[i]
        elif committed != was_committed:
            changes.append([POSITION_COMMITTED, committed])
        changes += [[f, entry[f]] for f in range(POSITION_COMMITTED + 1, len(entry)) if entry[f] != old[f]]
        if changes:
            text = json.dumps(changes, separators=(",", ":"))
            change_index[i] = change_sets.setdefault(text, len(change_sets)) + 1
    if full:
        part["e"] = full
    if change_sets:
        part["v"] = [json.loads(text) for text in change_sets]
    if any(moved) or any(distance) or change_sets:
        part["c"] = 1
        for column in (moved, distance, change_index):
            pack_ints(column, packed)


def _apply_positions(part: dict, packed: bytes, pos: int, rows: list, base: FrameState) -> tuple[list, dict, int]:
    keys = part.get("q", base.position_keys)
    full = part.get("e", {})
    columns: list = [None, None, None]
    if part.get("c"):
        for c in range(3):
            columns[c], pos = unpack_ints(packed, pos, len(keys))
    moved, distance, change_index = columns
    reference = _references(keys, rows, base) if moved is not None else None
    change_sets = part.get("v", ())
    entries = {}
    for i, key in enumerate(keys):
        if key in full:
            entries[key] = full[key]
            continue
        old = base.positions[key]
        entry = list(old)
        if moved is not None:
            if _is_int(old[POSITION]):
                entry[POSITION] = old[POSITION] + moved[i] + reference[i]
            if _is_int(old[POSITION_COMMITTED]):
                entry[POSITION_COMMITTED] = old[POSITION_COMMITTED] + distance[i] + reference[i]
        if change_index is not None and change_index[i]:
            for f, value in change_sets[change_index[i] - 1]:
                entry[f] = value
        entries[key] = entry
    return keys, entries, pos


def encode(frame: RecordedFrame, base: FrameState) -> tuple[bytes, FrameState]:
    """``frame`` as a compressed delta against ``base`` (the empty :class:`FrameState` for a keyframe)."""
    body: dict[str, Any] = {}
    packed = bytearray()
    state = FrameState(**vars(base))
    if frame.snapshot is not None:
        head, members, keys, rows = snapshot_parts(frame.snapshot)
        body["t"] = _date(frame.snapshot.taken_at)
        if head != base.head:
            body["h"] = head
        if members != base.members:
            body["m"] = members
        _row_delta(keys, rows, base, body, packed)
        state.head, state.members, state.keys, state.rows = head, members, keys, rows
    if frame.positions is not None:
        head, keys, entries = position_parts(frame.positions)
        part: dict[str, Any] = {"h": head}
        if keys != base.position_keys:
            part["q"] = keys
        _position_delta(keys, entries, state.rows, base, part, packed)
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
    text = json.dumps(body, separators=(",", ":")).encode("ascii")
    return zlib.compress(len(text).to_bytes(4, "big") + text + packed, 9), state


def decode(
    index: int, at: float, payload: bytes, base: FrameState, *, materialize: bool = True
) -> tuple[RecordedFrame | None, FrameState]:
    """The frame stored as ``payload`` against ``base`` (None unless ``materialize``), and the state it leaves."""
    data = zlib.decompress(payload)
    length = int.from_bytes(data[:4], "big")
    body = json.loads(data[4 : 4 + length])
    packed, pos = data[4 + length :], 0
    state = FrameState(**vars(base))
    snapshot = None
    if "t" in body:
        state.head = body.get("h", base.head)
        state.members = body.get("m", base.members)
        state.keys, state.rows, pos = _apply_rows(body, packed, pos, base)
        if materialize:
            snapshot = build_snapshot(state.head, state.members, state.rows, body["t"])
    positions = None
    if "p" in body:
        part = body["p"]
        keys, entries, pos = _apply_positions(part, packed, pos, state.rows, base)
        state.position_keys, state.positions = keys, entries
        if materialize:
            positions = build_positions(part["h"], keys, entries)
    removed = set(body.get("sx", ()))
    statuses = {key: value for key, value in base.statuses.items() if key not in removed}
    statuses.update(body.get("st", {}))
    state.statuses = statuses
    state.group_status = body.get("g", base.group_status)
    state.dedup = body.get("d", base.dedup)
    if not materialize:
        return None, state
    frame = RecordedFrame(
        index=index, at=at, snapshot=snapshot, positions=positions, group_status=state.group_status,
        statuses=dict(statuses), events=tuple((text, style) for text, style in body.get("ev", ())),
        dedup=build_dedup(state.dedup), failure=body.get("f"),
    )
    return frame, state
