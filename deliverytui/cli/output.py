"""What the CLI prints: plain-text tables (no Textual; the same columns Kafka's own CLI prints, plus ours),
JSON, and progress lines on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deliverytui.model.text import shown_name, visible

if TYPE_CHECKING:  # annotations only: every command imports this module, and the share and positions models are ~6 ms
    from deliverytui.model import GroupSnapshot
    from deliverytui.model.fleet import FleetGroupReading
    from deliverytui.model.positions import PositionsView
    from deliverytui.model.share import ShareGroupSnapshot


def print_json(data: Any) -> None:
    print(format_json(data))


def format_json(data: Any) -> str:
    """``data`` as JSON for people and pipes: a top-level object or list one member per line (indented by
    two), each member's value on one line, except that a list value again gets one element per line.

    ``json.dumps(indent=2)`` runs json's pure-Python encoder: 40 ms of a 1,000-partition snapshot,
    more than the fork that isolates the Kafka client costs. Every line here is encoded by the C encoder.
    """
    if isinstance(data, dict) and data:
        members = (f"  {json.dumps(str(key))}: {_one_value(value, '  ')}" for key, value in data.items())
        return "{\n" + ",\n".join(members) + "\n}"
    if isinstance(data, list) and data:
        return _one_value(data, "")
    return json.dumps(data)


def _one_value(value: Any, indent: str) -> str:
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(f"{indent}  {json.dumps(item)}" for item in value) + f"\n{indent}]"
    return json.dumps(value)


def progress(line: str) -> None:
    """A progress line on stderr (stdout stays the result, for pipes and --json)."""
    print(line, file=sys.stderr, flush=True)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def render_snapshot_table(snapshot: GroupSnapshot, time_lags: Mapping[tuple[str, int], float | None] | None = None) -> str:
    """``time_lags`` (``--time-lag``): seconds by (topic, partition), shown as a TIME-LAG column after LAG."""
    coordinator = str(snapshot.coordinator) if snapshot.coordinator else "unknown"
    header = (
        f"Group {shown_name(snapshot.group_id)}: {snapshot.state}, {snapshot.protocol} protocol, coordinator {coordinator}, "
        f"{len(snapshot.members)} member(s), total lag {snapshot.total_lag}, taken {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    headers = ["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAST-STABLE", "LOG-START", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
    rows = (
        (r.topic, r.partition, r.committed_offset, r.log_end_offset, r.last_stable_offset, r.log_start_offset,
         r.lag, r.member_id, r.host, r.client_id)
        for r in snapshot.partitions
    )
    if time_lags is not None:
        at = headers.index("LAG") + 1
        headers.insert(at, "TIME-LAG")
        rows = (
            (*row[:at], _seconds(time_lags.get((r.topic, r.partition))), *row[at:])
            for row, r in zip(rows, snapshot.partitions)
        )
    if snapshot.multi_node:  # more than one node: where each partition lives, as kafka-topics --describe says it
        headers += ["LEADER", "REPLICAS", "ISR"]
        rows = (
            (*row, _leader(r), ",".join(map(str, r.replicas)), ",".join(map(str, r.isr)) + (" (under-replicated)" if r.under_replicated else ""))
            for row, r in zip(rows, snapshot.partitions)
        )
    table = format_table(headers, rows)
    if not snapshot.partitions:
        table += "\n(no committed or assigned partitions)"
    return header + "\n\n" + table


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}s"


def _leader(row) -> str:
    if not row.replicas:
        return "-"
    return "none (offline)" if row.leader is None else str(row.leader)


def fleet_group_json(reading: FleetGroupReading, time_lags: Mapping[str, float | None] | None = None) -> dict[str, object]:
    """One group of ``groups --json``: the listing's fields (``group``, ``type``, ``state``, ``protocol``,
    ``simple``) and what the fleet refresh read (``members``, ``topics``, ``total_lag``; ``error`` if any)."""
    data: dict[str, object] = {
        "group": reading.group_id,
        "type": reading.group_type,
        "state": reading.state,
        "protocol": reading.group_type,
        "simple": reading.simple,
        "members": reading.members,
        "topics": list(reading.topics),
        "total_lag": reading.total_lag,
    }
    if time_lags is not None:  # --time-lag: the oldest unconsumed record's exact age (null: not every one dated)
        seconds = time_lags.get(reading.group_id)
        data["max_time_lag_s"] = None if seconds is None else round(seconds, 3)
    if reading.error:
        data["error"] = reading.error
    return data


def render_fleet_table(readings: Sequence[FleetGroupReading], time_lags: Mapping[str, float | None] | None = None) -> str:
    """``deliverytui groups``: every group with its state, type, members and total lag (``-`` when unknown),
    and with ``--time-lag`` the exact age of its oldest unconsumed record."""
    if not readings:
        return "(no consumer groups)"
    rows = [
        [visible(g.group_id), g.state, g.group_type, g.members, "-" if g.total_lag is None else g.total_lag] for g in readings
    ]
    if time_lags is None:
        return format_table(["GROUP", "STATE", "TYPE", "MEMBERS", "LAG"], rows)
    for row, g in zip(rows, readings, strict=True):
        seconds = time_lags.get(g.group_id)
        row.append("-" if seconds is None else f"{seconds:.1f}s")
    return format_table(["GROUP", "STATE", "TYPE", "MEMBERS", "LAG", "MAX-TIME-LAG"], rows)


def render_share_snapshot_table(snapshot: ShareGroupSnapshot) -> str:
    """A share group as ``kafka-share-groups --describe`` shows it, with the log end and the owners added.

    ``-`` (Kafka's blank) where the group has no share-partition state yet; several owners per partition is normal.
    """
    coordinator = str(snapshot.coordinator) if snapshot.coordinator else "unknown"
    header = (
        f"Share group {shown_name(snapshot.group_id)}: {snapshot.state}, group epoch {snapshot.group_epoch}, "
        f"assignment epoch {snapshot.assignment_epoch}, coordinator {coordinator}, {len(snapshot.members)} member(s), "
        f"total share lag {snapshot.total_lag}, taken {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    clients = {member.member_id: member.client_id for member in snapshot.members}
    partitions = format_table(
        ["TOPIC", "PARTITION", "START-OFFSET", "SHARE-LAG", "LOG-END", "OWNERS"],
        (
            (r.topic, r.partition, r.start_offset, r.lag, r.log_end_offset,
             ",".join(f"{clients.get(owner, '?')}({owner})" for owner in r.owners))
            for r in snapshot.partitions
        ),
    )  # fmt: skip
    if not snapshot.partitions:
        partitions += "\n(no partitions with share state or assigned)"
    members = format_table(
        ["CONSUMER-ID", "CLIENT-ID", "HOST", "MEMBER-EPOCH", "ASSIGNMENT"],
        (
            (m.member_id, m.client_id, m.host, m.member_epoch, ",".join(tp.key for tp in m.assignment))
            for m in snapshot.members
        ),
    )
    return header + "\n\n" + partitions + ("\n\n" + members if snapshot.members else "")


def render_positions_table(view: PositionsView) -> str:
    """``snapshot --positions``: what the consumers say about themselves, with who said it and whether
    the coordinator knows them (an unverified row is a claim, and says so in its GAP column)."""
    header = f"Positions published on {view.probe_topic} (a consumer's own report; unverified = not a current member)"
    if view.error:
        return f"{header}\npositions unavailable: {view.error}"
    if not view.partitions:
        return f"{header}\n(no positions published for this group)"
    rows = (
        (p.topic, p.partition, p.position, p.committed, "yes" if p.verified else "no", p.client_id,
         f"{p.age_seconds:.0f}s" + (" (stale)" if p.stale else ""), p.describe_gap())
        for p in view.partitions
    )
    return header + "\n" + format_table(
        ["TOPIC", "PARTITION", "POSITION", "COMMITTED", "VERIFIED", "REPORTER", "AGE", "GAP"], rows
    )
