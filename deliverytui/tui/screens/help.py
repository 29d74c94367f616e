"""The help screen: every key, and what the colours mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_KEYS = (
    ("?", "this help"),
    ("q", "quit"),
    ("p", "pause / resume refreshing"),
    ("/", "filter partitions by topic (Enter applies, Esc clears)"),
    ("s", "sort by lag, by partition, or by estimated time lag"),
    ("g / Esc", "the fleet: every group worst first (Enter opens one, Esc comes back)"),
    ("G", "switch group from a plain list of the cluster's groups"),
    ("r", "reset offsets (only with --allow-writes, only on a group with no active members; dry-run first)"),
    ("x", "delete a topic's committed offsets (same guards as reset)"),
    ("i", "the record at the selected partition's committed offset (by itself on STALL/STOP)"),
    ("k", "skip that record: the reset dialog, dry run of shift-by +1 on that partition only"),
    ("e", "expand the event log's folded lines (a flood of status changes): every partition, by topic"),
    ("T", "next colour theme: default, colour-blind, projector dark or light (also --theme)"),
    ("S", "save this screen as an SVG slide in the working directory (a browser downloads it)"),
    ("ctrl+p", "command palette"),
)

LEGEND = (
    ("Position", "where a consumer that publishes its position really is (deliverytui.probe, demo consumers)"),
    ("  yellow", "position ahead of committed: processed but not committed — redelivered after a crash"),
    ("  red", "committed ahead of position: committed but not processed — lost after a crash"),
    ("Last stable", "yellow when below log-end: a transaction is open; read_committed readers wait there"),
    ("  pinned", "below log-end, unmoved for 3 refreshes: the panel names the open transaction"),
    ("", "(producer id, transactional id, start), as kafka-transactions find-hanging"),
    ("Status", "Burrow's rules over a sliding window of commits: OK, WARN, STALL, STOP, REWIND"),
    ("Time lag~", "estimated from the log end's history (no record read); the panel shows the exact one beside it"),
    ("drain", "ETA = lag ÷ (consume − produce rate) over the last minute, or 'falling behind +N/s'"),
)


class HelpScreen(ModalScreen[None]):
    """Keys and legend; the lab gives its own (``keys``, ``legend``), the live view uses the defaults."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    """

    def __init__(
        self,
        keys: tuple[tuple[str, str], ...] = HELP_KEYS,
        legend: tuple[tuple[str, str], ...] = LEGEND,
        title: str = "Keys",
    ) -> None:
        super().__init__()
        self.keys = keys
        self.legend = legend
        self.title_text = title

    def compose(self) -> ComposeResult:
        keys = Table(box=None, show_header=False, pad_edge=False)
        keys.add_column(style="bold cyan", width=8)
        keys.add_column()
        for key, text in self.keys:
            keys.add_row(key, text)
        legend = Table(box=None, show_header=False, pad_edge=False)
        legend.add_column(style="bold", width=12)
        legend.add_column()
        for key, text in self.legend:
            legend.add_row(key, text)
        with VerticalScroll():
            yield Static(Text(self.title_text, style="bold underline"))
            yield Static(keys)
            yield Static(Text("\nColumns and colours", style="bold underline"))
            yield Static(legend)
            yield Static(Text("\nEsc closes this help.", style="dim"))
