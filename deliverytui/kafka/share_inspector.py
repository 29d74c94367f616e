"""Share groups (KIP-932) seen through Kafka's own Admin client: listings and :class:`ShareGroupSnapshot`s.

A snapshot is three requests: DescribeShareGroups and ListShareGroupOffsets go to the Java
admin helper (confluent-kafka has neither), and the log-end offsets of the same partitions
come from librdkafka's batched ListOffsets (:meth:`GroupInspector.log_offsets`), as for any
other group. The start offset and the share lag are Kafka's own figures, unchanged, so a
snapshot equals ``kafka-share-groups --describe`` line by line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deliverytui.errors import UnknownGroupError
from deliverytui.kafka.acl_errors import hidden_share_state_error
from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.java_admin import JavaAdmin, SharesUnavailableError
from deliverytui.model import BrokerNode, GroupListing, TopicPartitionId
from deliverytui.model.share import SHARE_TYPE, ShareGroupSnapshot, ShareMember, SharePartitionRow
from deliverytui.model.text import quoted

#: Kafka's spelling of a share group's states, as ``kafka-share-groups --describe --state`` prints them.
_STATE_NAMES = {"STABLE": "Stable", "EMPTY": "Empty", "DEAD": "Dead", "UNKNOWN": "Unknown"}


def state_name(state: str) -> str:
    return _STATE_NAMES.get(state.upper(), state)


class ShareGroupInspector:
    """Lists and snapshots share groups. ``java`` and ``inspector`` are owned by the caller (and closed by it)."""

    def __init__(self, java: JavaAdmin, inspector: GroupInspector) -> None:
        self.java = java
        self.inspector = inspector

    def list_share_groups(self) -> list[GroupListing]:
        """Every share group of the cluster (ListGroups of every type, keeping type ``share``)."""
        listed = self.java.call("list_groups", "listing groups of every type")
        return sorted(
            (
                GroupListing(group_id=g["group"], state=state_name(g["state"]), protocol=SHARE_TYPE, is_simple=False)
                for g in listed
                if g["type"] == SHARE_TYPE
            ),
            key=lambda listing: listing.group_id,
        )

    def shares_enabled(self) -> bool:
        """Whether the cluster serves share groups: its finalized ``share.version`` is 1 or more."""
        levels = self.java.call("finalized_features", "reading the cluster's feature levels")
        return int(levels.get("share.version", 0)) > 0

    def snapshot(self, group_id: str) -> ShareGroupSnapshot:
        """One snapshot of share group ``group_id``; an absent group is :class:`UnknownGroupError`, and on a
        cluster without share groups :class:`SharesUnavailableError` says so instead."""
        try:
            described = self.java.call("describe_share_group", f"describing share group {quoted(group_id)}", group=group_id)
            offsets = self.java.call("share_group_offsets", f"reading share group {quoted(group_id)}'s offsets", group=group_id)
        except UnknownGroupError:
            if not self.shares_enabled():
                raise SharesUnavailableError(
                    f"{self.inspector.bootstrap} does not serve share groups (share.version=0), so {quoted(group_id)} "
                    "cannot be one; enable them with 'kafka-features --bootstrap-server … upgrade --feature share.version=1'"
                ) from None
            raise
        snapshot = build_snapshot(group_id, described, offsets, self.inspector)
        if not snapshot.partitions and not snapshot.members and snapshot.state == "Empty" and self.inspector.authenticates:
            # Kafka leaves the topics this principal may not describe out of ListShareGroupOffsets without a
            # word: shown as is, the group would read "total share lag 0" (tests/test_share_errors.py).
            raise hidden_share_state_error(self.inspector.principal, group_id)
        return snapshot


def build_snapshot(group_id: str, described: dict[str, Any], offsets: list[dict[str, Any]], inspector: GroupInspector) -> ShareGroupSnapshot:
    """The snapshot from the helper's two answers, with log-end offsets read for the same partitions."""
    members = tuple(
        ShareMember(
            member_id=m["member_id"],
            client_id=m["client_id"],
            host=(m["host"] or "").lstrip("/"),
            rack_id=m.get("rack_id"),
            member_epoch=m["member_epoch"],
            assignment=tuple(TopicPartitionId(a["topic"], a["partition"]) for a in m["assignment"]),
        )
        for m in described["members"]
    )
    owners: dict[tuple[str, int], list[str]] = {}
    for raw in described["members"]:
        for a in raw["assignment"]:
            owners.setdefault((a["topic"], a["partition"]), []).append(raw["member_id"])
    state_of = {(o["topic"], o["partition"]): o for o in offsets}
    keys = sorted(state_of.keys() | owners.keys())
    end, _stable, _start = inspector.log_offsets(keys) if keys else ({}, {}, {})
    rows = tuple(
        SharePartitionRow(
            topic=key[0],
            partition=key[1],
            start_offset=(state_of.get(key) or {}).get("start_offset"),
            leader_epoch=(state_of.get(key) or {}).get("leader_epoch"),
            lag=(state_of.get(key) or {}).get("lag"),
            log_end_offset=end.get(key),
            owners=tuple(sorted(owners.get(key, ()))),
        )
        for key in keys
    )
    coordinator = described.get("coordinator")
    return ShareGroupSnapshot(
        group_id=group_id,
        state=state_name(described["state"]),
        coordinator=BrokerNode(coordinator["id"], coordinator["host"], coordinator["port"]) if coordinator else None,
        group_epoch=described["group_epoch"],
        assignment_epoch=described["assignment_epoch"],
        members=members,
        partitions=rows,
        taken_at=datetime.now(UTC),
    )
