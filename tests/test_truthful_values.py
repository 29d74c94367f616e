"""Values read at different instants are never shown as one impossible state (#15).

The live view once showed Position 462 above Log-end 461, Last stable 5,286 above Log-end 5,285,
and "in sync" beside Committed 426 / Position 425. Each comes from a different read; these tests
pin how they are reconciled: clamped and marked, or said in words.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from deliverytui.kafka.group_inspector import clamp_to_log_end
from deliverytui.model import PartitionRow
from deliverytui.model.positions import PartitionPosition
from deliverytui.tui.rows import COLUMNS, build_row
from deliverytui.tui.widgets.panels import SelectedPartitionPanel


def row(committed: int, log_end: int) -> PartitionRow:
    return PartitionRow(
        topic="t", partition=0, committed_offset=committed, committed_metadata=None, committed_leader_epoch=None,
        log_end_offset=log_end, last_stable_offset=log_end, log_start_offset=0, member_id="m", client_id="c", host="h",
    )  # fmt: skip


def report(position: int, committed: int) -> PartitionPosition:
    return PartitionPosition(
        topic="t", partition=0, position=position, committed=committed, client_id="c", member_id="m", reporter="c",
        source="probe", reported_at=datetime.now(UTC), age_seconds=0.5, stale=False, verified=True,
    )  # fmt: skip


def test_a_last_stable_offset_above_the_log_end_is_clamped() -> None:
    stable = {("t", 0): 5286, ("t", 1): 10, ("t", 2): 7}
    clamp_to_log_end(stable, {("t", 0): 5285, ("t", 1): 12})
    assert stable == {("t", 0): 5285, ("t", 1): 10, ("t", 2): 7}


def test_a_position_past_the_log_end_is_never_shown() -> None:
    view = build_row(row(450, 461), position=report(462, 450))
    position = dict(zip([name for name, _ in COLUMNS], view.cells))["position"]
    assert position[0] == "461*", position  # never 462: a position past the log end is impossible


class _Recorder(SelectedPartitionPanel):
    shown_text: Text | None = None

    def update(self, content="", *, layout: bool = True) -> None:  # type: ignore[override]
        self.shown_text = content


def test_the_panel_says_when_the_report_saw_another_commit() -> None:
    panel = _Recorder()
    panel.show("t:0", row(426, 500), None, report(425, 425), "")
    text = str(panel.shown_text)
    assert "the report saw committed 425; the group has committed 426 since" in text
    assert "in sync" in text  # true of the report's own instant, and now said to be so


def test_the_panel_explains_a_clamped_position() -> None:
    panel = _Recorder()
    panel.show("t:0", row(450, 461), None, report(462, 450), "")
    assert "reported after the log end 461 was read" in str(panel.shown_text)
