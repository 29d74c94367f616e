"""Pick another group of the cluster to watch: consumer, classic or share (the type column says which)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from deliverytui.model import GroupListing


class GroupPickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen group id, or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    GroupPickerScreen { align: center middle; }
    GroupPickerScreen > Vertical { width: 80; height: auto; max-height: 80%; border: thick $primary; background: $surface; padding: 0 1; }
    GroupPickerScreen OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, groups: list[GroupListing], current: str) -> None:
        super().__init__()
        self.groups = groups
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Switch group ({len(self.groups)} on this cluster; Esc cancels)")
            options = []
            for g in self.groups:
                # The shown name has its control characters escaped; the exact id is what Kafka is called with.
                label = Text(g.name, style="bold" if g.group_id == self.current else "")
                label.append(f"  {g.state}, ", style="dim")
                # The type says which view opens: a share group (KIP-932) gets the share-group view.
                label.append(f"type {g.protocol}", style="bold magenta" if g.protocol == "share" else "dim")
                options.append(Option(label))
            yield OptionList(*options, id="group-options")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.groups[event.option_index].group_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
