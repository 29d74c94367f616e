"""Position against committed is compared within one probe record, never against a commit read at another time.

A real run showed an in-sync consumer at position 207 against committed 208 for one refresh: a report sampled
a moment before the group's next commit, set against the commit the coordinator had a moment later. That is
the colour for "lost after a crash". Both probes (Python and the JVM interceptor) carry, in each record, the
committed offset the consumer knew when it sampled its position; the Position cell, the partition panel and
``snapshot --json --positions`` compare against that one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from deliverytui.model import PartitionRow
from deliverytui.model.positions import GapKind, PartitionPosition, partition_position_fields
from deliverytui.tui.rows import COLUMNS, build_row


def admin_row(committed: int) -> PartitionRow:
    """The partition as the group coordinator reported it at the snapshot's instant."""
    return PartitionRow(
        topic="t", partition=0, committed_offset=committed, committed_metadata=None, committed_leader_epoch=None,
        log_end_offset=300, last_stable_offset=300, log_start_offset=0, member_id="m", client_id="c", host="h",
    )  # fmt: skip


def probe_report(position: int | None, committed: int | None) -> PartitionPosition:
    return PartitionPosition(
        topic="t", partition=0, position=position, committed=committed, client_id="c", member_id=None, reporter="c",
        source="java-interceptor", reported_at=datetime.now(UTC), age_seconds=0.4, stale=False, verified=True,
    )  # fmt: skip


def position_cell(row: PartitionRow, report: PartitionPosition) -> tuple[str, str]:
    return dict(zip([name for name, _ in COLUMNS], build_row(row, position=report).cells))["position"]


def test_an_in_sync_report_is_green_though_the_group_has_committed_since() -> None:
    text, style = position_cell(admin_row(208), probe_report(207, 207))
    assert text == "207"
    assert style == "green"  # compared with 208 (the Admin read) it would be "bold red": lost after a crash


def test_a_report_whose_own_commit_is_ahead_is_red() -> None:
    """The comparison still finds the real case: the consumer itself knew a commit beyond its position."""
    text, style = position_cell(admin_row(207), probe_report(207, 208))
    assert (text, style) == ("207", "bold red")


def test_snapshot_json_fields_compare_within_the_report() -> None:
    fields = partition_position_fields(probe_report(207, 207))
    assert fields == {
        "position": 207, "position_committed": 207, "position_client_id": "c", "position_stale": False,
        "position_verified": True, "position_gap": GapKind.IN_SYNC.value,
    }  # fmt: skip


def test_snapshot_json_fields_are_null_without_a_report() -> None:
    assert set(partition_position_fields(None).values()) == {None}
    assert set(partition_position_fields(None)) == set(partition_position_fields(probe_report(1, 1)))
