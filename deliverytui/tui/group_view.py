"""What the live view (:class:`~deliverytui.tui.app.DeliveryApp`) and the replay
(:class:`~deliverytui.tui.replay_app.ReplayApp`) share: the group view's body and its ``/`` and ``s`` keys.

The replay is the live view's screen fed by a recording, so the two must not drift apart: one
layout and one pair of actions serve both. The actions live in a plain mixin (Textual finds an
action by name on the app); the filter box's own keys live in
:class:`~deliverytui.tui.widgets.bottom_prompt.TopicFilterBox`.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label

from deliverytui.tui.widgets.bottom_prompt import TopicFilterBox
from deliverytui.tui.widgets.panels import DedupPanel, LagSparklines, MembersPanel, SelectedPartitionPanel
from deliverytui.tui.widgets.partitions_table import PartitionsTable


def group_view_body(*under_table: Widget) -> Horizontal:
    """The partitions table (with ``under_table`` below it) beside the side panels, as ``#body``."""
    return Horizontal(
        Vertical(PartitionsTable(id="partitions"), *under_table, id="partitions-pane"),
        Vertical(
            LagSparklines(id="sparks"),
            Label("Selected partition", classes="section-title"),
            SelectedPartitionPanel(id="selected"),
            Label("Members", classes="section-title"),
            MembersPanel(id="members"),
            Label("Dedup store", classes="section-title"),
            DedupPanel(id="dedup"),
            id="side",
        ),
        id="body",
    )


#: The keys of :class:`GroupViewKeys`, spread into each app's ``BINDINGS`` where its footer lists them.
GROUP_VIEW_BINDINGS = (Binding("slash", "filter", "Filter"), Binding("s", "cycle_sort", "Sort"))


class GroupViewKeys:
    """``/`` opens the topic filter; ``s`` cycles the table's sort and says which.

    Both act on the base screen's table and box (``screen_stack[0]``), as the apps' held references
    did, so a screen pushed over the group view never answers for it.
    """

    def action_filter(self) -> None:
        app: Any = self
        app.screen_stack[0].query_one(TopicFilterBox).open()

    def action_cycle_sort(self) -> None:
        app: Any = self
        app.notify(f"sorted by {app.screen_stack[0].query_one(PartitionsTable).cycle_sort()}", timeout=2)
