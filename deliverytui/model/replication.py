"""Replication read off group snapshots: leaders moving, ISRs shrinking and growing back, brokers leaving.

Pure functions of :class:`GroupSnapshot` (no I/O): the live view's poll worker turns two
consecutive snapshots into event-log lines, and a one-line summary for the header.
"""

from __future__ import annotations

from deliverytui.model.group import GroupSnapshot

#: Per kind of change, at most this many lines name partitions; the rest are counted in one line.
MAX_LINES_PER_KIND = 4


def _ids(nodes) -> str:
    return ",".join(map(str, sorted(nodes))) or "none"


def replication_summary(snapshot: GroupSnapshot) -> tuple[str, str] | None:
    """``(text, style)`` for the header: None on a one-node cluster (nothing to say)."""
    if not snapshot.multi_node:
        return None
    offline = sum(1 for row in snapshot.partitions if row.offline)
    under = sum(1 for row in snapshot.partitions if row.under_replicated)
    brokers = f"{len(snapshot.brokers)} broker(s)" if snapshot.brokers else "brokers unknown"
    if offline:
        return f"{brokers}, {offline} partition(s) OFFLINE, {under} under-replicated", "bold red"
    if under:
        return f"{brokers}, {under} partition(s) under-replicated", "bold yellow"
    return f"{brokers}, all in sync", "green"


def _pairs(previous: GroupSnapshot, current: GroupSnapshot):
    before, after = previous.partitions, current.partitions
    if len(before) == len(after) and all(
        a.partition == b.partition and a.topic == b.topic for a, b in zip(before, after)
    ):
        return zip(before, after)
    old = {(row.topic, row.partition): row for row in before}
    return ((old[(row.topic, row.partition)], row) for row in after if (row.topic, row.partition) in old)


def replication_events(previous: GroupSnapshot | None, current: GroupSnapshot) -> list[tuple[str, str]]:
    """Event-log lines ``(text, style)`` for what changed in replication between two snapshots."""
    if previous is None:
        offline = [row for row in current.partitions if row.offline]
        under = [row for row in current.partitions if row.under_replicated and not row.offline]
        events = []
        if offline:
            events.append((f"{len(offline)} partition(s) OFFLINE (no leader), e.g. {offline[0].tp.key}", "bold red"))
        if under:
            events.append((f"{len(under)} partition(s) under-replicated, e.g. {under[0].tp.key} ISR {_ids(under[0].isr)} of {_ids(under[0].replicas)}", "bold yellow"))
        return events
    events: list[tuple[str, str]] = []
    if previous.brokers and current.brokers:
        for node in sorted(set(previous.brokers) - set(current.brokers)):
            events.append((f"broker {node} left the cluster (down or fenced)", "bold red"))
        for node in sorted(set(current.brokers) - set(previous.brokers)):
            events.append((f"broker {node} is back in the cluster", "bold green"))
    kinds: dict[str, list[tuple[str, str]]] = {"offline": [], "online": [], "moved": [], "shrunk": [], "synced": []}
    for old, new in _pairs(previous, current):
        if old is new or not old.replicas or not new.replicas:
            continue
        if old.leader != new.leader:
            if new.leader is None:
                kinds["offline"].append((f"{new.tp.key} OFFLINE: no leader (replicas {_ids(new.replicas)})", "bold red"))
            elif old.leader is None:
                kinds["online"].append((f"{new.tp.key} back online: leader {new.leader}", "bold green"))
            else:
                kinds["moved"].append((f"leader of {new.tp.key} moved {old.leader} → {new.leader}", "yellow"))
        if old.isr != new.isr:
            if new.under_replicated and not new.offline and (len(new.isr) < len(old.isr) or not old.under_replicated):
                kinds["shrunk"].append(
                    (f"{new.tp.key} under-replicated: ISR {_ids(new.isr)} of {_ids(new.replicas)}", "bold yellow")
                )
            elif old.under_replicated and not new.under_replicated:
                kinds["synced"].append((f"{new.tp.key} back in sync: ISR {_ids(new.isr)}", "green"))
    labels = {
        "offline": "more partition(s) OFFLINE",
        "online": "more partition(s) back online",
        "moved": "more leader move(s)",
        "shrunk": "more partition(s) under-replicated",
        "synced": "more partition(s) back in sync",
    }
    for kind, lines in kinds.items():
        events += lines[:MAX_LINES_PER_KIND]
        if len(lines) > MAX_LINES_PER_KIND:
            events.append((f"… and {len(lines) - MAX_LINES_PER_KIND} {labels[kind]}", lines[0][1]))
    return events
