"""One-line boxes docked under the partitions table: the topic filter (``/``) and the replay's "go to" (``t``).

Each box owns its keys, so the live view and the replay share them rather than each app repeating
an ``on_key`` and a ``Submitted`` handler: Esc is a binding of the box, which Textual checks before
the app's (the focused widget's bindings come first), so it never reaches the live view's
Esc → fleet binding while a box has the focus.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import Input

from deliverytui.tui.widgets.partitions_table import PartitionsTable


class BottomPrompt(Input):
    """Hidden until :meth:`open`; Esc empties and hides it, and the partitions table takes the focus back."""

    DEFAULT_CSS = """
    BottomPrompt { dock: bottom; display: none; }
    BottomPrompt.-visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    @property
    def table(self) -> PartitionsTable:
        """The partitions table of the screen this box is on (where the focus returns)."""
        return self.screen.query_one(PartitionsTable)

    def open(self, value: str | None = None) -> None:
        """Show the box and focus it, with ``value`` as its text (None: keep what it holds)."""
        self.border_title = None
        if value is not None:
            self.value = value
        self.add_class("-visible")
        self.focus()

    def close(self) -> None:
        """Hide the box and give the focus back to the table."""
        self.remove_class("-visible")
        self.table.focus()

    def empty_and_close(self) -> None:
        """Esc, or the box's work done: no text, no error title, hidden, the table focused."""
        self.value = ""
        self.border_title = None
        self.close()

    def action_cancel(self) -> None:
        self.empty_and_close()


class TopicFilterBox(BottomPrompt):
    """``/``: opens with the table's current filter; Enter applies it, Esc clears it."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own keyword
        super().__init__(placeholder="filter by topic (Enter applies, Esc clears)", id=id)

    def open(self, value: str | None = None) -> None:
        super().open(self.table.topic_filter if value is None else value)

    @on(Input.Submitted)
    def _apply_filter(self, event: Input.Submitted) -> None:
        self.table.set_filter(event.value)
        self.close()

    def action_cancel(self) -> None:
        self.table.set_filter("")
        super().action_cancel()
