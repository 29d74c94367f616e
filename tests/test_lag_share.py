"""Burrow's statuses on a share group: the start offset judged as a committed offset, Kafka's share lag as the lag.

Hand-built share snapshots with a controlled ``taken_at`` (a 4-entry window, no folding), one
sequence per status, so the mapping documented in :mod:`deliverytui.lag.share` is what the share
view shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliverytui.lag import LagHistory, LagSettings
from deliverytui.lag.share import as_commit_snapshot
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.lag import LagStatus
from deliverytui.model.share import ShareGroupSnapshot, ShareMember, SharePartitionRow
from deliverytui.tui.share_rows import build_share_rows, owner_names, sparkline

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
SMALL_WINDOW = LagSettings(window_size=4, min_entry_interval_s=0.0, allowed_lag=0)


def share_snapshot(step: int, start: int | None, lag: int | None, *, owned: bool = True) -> ShareGroupSnapshot:
    members = (
        ShareMember("m-1", "worker-a", "10.0.0.1", None, 3, (TopicPartitionId("orders", 0),)),
        ShareMember("m-2", "worker-a", "10.0.0.2", None, 3, (TopicPartitionId("orders", 0),)),
    ) if owned else ()  # fmt: skip
    row = SharePartitionRow("orders", 0, start, 0, lag, None if start is None else 1_000, tuple(m.member_id for m in members))
    return ShareGroupSnapshot("queue", "Stable" if owned else "Empty", None, 3, 3, members, (row,), T0 + timedelta(seconds=10 * step))


def statuses(sequence: list[tuple[int | None, int | None]], *, owned: bool = True) -> list[LagStatus]:
    history = LagHistory(SMALL_WINDOW)
    return [
        history.observe(as_commit_snapshot(share_snapshot(i, start, lag, owned=owned))).partitions["orders:0"].status
        for i, (start, lag) in enumerate(sequence)
    ]


def test_the_lag_judged_is_kafkas_share_lag_not_log_end_minus_start() -> None:
    """Log end 1,000, start 10, share lag 3 (the rest acknowledged above the start): the lag judged is 3."""
    view = LagHistory(SMALL_WINDOW).observe(as_commit_snapshot(share_snapshot(0, 10, 3)))
    assert view.partitions["orders:0"].lag == 3 and view.total_lag == 3


@pytest.mark.parametrize(
    ("sequence", "owned", "expected"),
    [
        ([(0, 0), (5, 0), (9, 0), (12, 0)], True, LagStatus.OK),  # caught up all along
        ([(0, 5), (2, 6), (4, 7), (6, 8)], True, LagStatus.WARN),  # start advances, share lag never falls
        ([(7, 5), (7, 6), (7, 7), (7, 8)], True, LagStatus.STALL),  # owned, start stuck, records waiting
        ([(7, 5), (7, 5), (7, 5), (7, 5), (7, 5)], False, LagStatus.STOP),  # nobody owns it, start stuck
        ([(0, 5), (9, 5), (4, 5), (6, 5)], True, LagStatus.REWIND),  # start offset went back (a reset)
        ([(None, None), (None, None)], True, LagStatus.UNKNOWN),  # the group never fetched from it
    ],
)
def test_burrow_status_on_the_start_offset(sequence, owned: bool, expected: LagStatus) -> None:
    assert statuses(sequence, owned=owned)[-1] is expected


def test_rows_show_start_offset_share_lag_log_end_owners_and_status() -> None:
    snapshot = share_snapshot(0, 1_234, 5)
    rows = build_share_rows(snapshot, {"orders:0": LagStatus.STALL}, {"orders:0": (0.0, 5.0)})
    cells = dict(zip(["topic", "partition", "start", "lag", "log_end", "spark", "owners", "status"], (c for c, _ in rows["orders:0"].cells)))
    assert cells == {
        "topic": "orders", "partition": "0", "start": "1,234", "lag": "5", "log_end": "1,000",
        "spark": sparkline((0.0, 5.0)), "owners": "worker-a ×2", "status": "STALL",
    }  # fmt: skip
    assert owner_names(share_snapshot(0, 1, 1, owned=False), snapshot.partitions[0]) == "-"
    assert sparkline((0.0, 0.0)) == "  " and sparkline((1.0, 8.0)) == "▁▆"  # scaled to the floor of 10, not to 8
    assert sparkline((1.0, 1.0)) == "▁▁"  # a lag of 1 is a sliver, never the full height
    assert sparkline((5.0, 400.0)) == "▁█"

