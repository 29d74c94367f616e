"""``e``: the partitions behind the event log's folded lines.

A flood (1,000 partitions going OK → STOP in one refresh) is one line in the log so that it does
not bury everything else; an on-call engineer still needs to know *which* partitions. This modal
lists every folded line still remembered, newest first, with its partitions as per-topic ranges
(``wide: 0–999``), scrollable; Esc or ``e`` closes it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from deliverytui.model.lag import partition_ranges


def folded_events_text(folded: list[tuple[str, tuple[str, ...]]]) -> Text:
    """Newest first: each folded line in bold, then its partitions, one topic per line."""
    text = Text()
    if not folded:
        text.append("No folded events yet: a line stands for many partitions only when more than three\n", "dim")
        text.append("change status together in one refresh.", "dim")
        return text
    for index, (line, keys) in enumerate(reversed(folded)):
        if index:
            text.append("\n\n")
        text.append(line, "bold")
        text.append(f"\n  {len(keys):,} partitions:")
        for topic_line in partition_ranges(keys):
            text.append(f"\n  {topic_line}")
    return text


class FoldedEventsScreen(ModalScreen[None]):
    """Every folded event line, expanded."""

    DEFAULT_CSS = """
    FoldedEventsScreen { align: center middle; }
    FoldedEventsScreen > VerticalScroll {
        width: 90%; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("e", "close", "Close", show=False)]

    def __init__(self, folded: list[tuple[str, tuple[str, ...]]]) -> None:
        super().__init__()
        self.folded = folded

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("Folded events (Esc closes)\n", style="bold reverse"), id="folded-title")
            yield Static(folded_events_text(self.folded), id="folded-events")

    def action_close(self) -> None:
        self.dismiss(None)
