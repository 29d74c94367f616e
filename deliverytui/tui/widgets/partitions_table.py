"""The partitions table: a Line API widget that renders only the rows on screen.

Why not ``DataTable``: on a group of 5,000 busy partitions most rows change every poll.
DataTable keeps a Rich renderable per cell, re-measures and re-renders through Rich's
console for every visible line after any change (~6 ms a line), and its own bookkeeping
(``_update_count``, row locations, idle dimension updates) made one refresh cost ~100 ms
of the UI thread. This widget keeps the poll worker's plain :class:`RowView` values, an
order (a list of row keys) and a cursor; a refresh swaps the dict, re-orders only when due,
and repaints only when a row on screen changed. A visible line is built straight into a
:class:`~textual.strip.Strip` from fixed column widths and cached per ``RowView`` object,
so an unchanged row costs a dict lookup. The cost of a refresh no longer grows with the
size of the group, only with what is on screen (the pattern of Textual's own Line API
guide and of Harlequin's results viewer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deliverytui.tui.rows import COLUMN_KEYS, COLUMNS, REPLICATION_COLUMN_KEYS, RowView

#: ``s`` cycles through them; "time lag" comes last so the first press still sorts by partition.
SORT_MODES = ("lag", "partition", "time lag")
#: Cell widths (without the one-space padding on each side). The topic column is sized by the
#: longest topic shown, within ``TOPIC_WIDTH_RANGE``. At 160 columns (a laptop terminal) the table
#: gets 121 beside the side panel: the estimated time lag's 11 came from Owner (its members are in
#: the Members panel too) and the "since move" column (its values are at most four cells: "Moved").
COLUMN_WIDTHS = {
    "partition": 4, "committed": 9, "position": 9, "log_end": 9, "lso": 11, "lag": 7, "time_lag": 9,
    "trend": 7, "since_move": 5, "owner": 10, "status": 6, "leader": 6, "isr": 11,
}
TOPIC_WIDTH_RANGE = (5, 40)
RIGHT_ALIGNED = frozenset({"partition", "committed", "position", "log_end", "lso", "lag", "time_lag"})


class Cell(NamedTuple):
    """What :meth:`PartitionsTable.get_cell` returns: the text shown and its style."""

    plain: str
    style: str


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` padded or cut (with an ellipsis) to exactly ``width`` terminal cells."""
    if text.isascii():
        if len(text) > width:
            return text[: width - 1] + "…" if width > 0 else ""
        return text.rjust(width) if right else text.ljust(width)
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 0 else ""
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


class PartitionsTable(ScrollView, can_focus=True):
    """Rows keyed ``topic:partition`` in a chosen order, with a row cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "partitions-table--header",
        "partitions-table--cursor",
        "partitions-table--even-row",
    }

    DEFAULT_CSS = """
    PartitionsTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .partitions-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .partitions-table--even-row { background: $surface-lighten-1 50%; }
        &:dark > .partitions-table--even-row { background: $surface-darken-1 40%; }
        & > .partitions-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .partitions-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor moved to another row (or the row under it changed key)."""

        def __init__(self, table: PartitionsTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> PartitionsTable:
            return self.table

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._all: Mapping[str, RowView] = {}
        self._shown: Mapping[str, RowView] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self.topic_filter = ""
        self.sort_mode = "lag"
        self.resort_seconds = 10.0
        self._sort_pending = False
        self._last_sort = 0.0
        self.cursor_row = 0
        self._highlighted: str | None = None
        self.rows_changed = 0  # for benchmarks and tests: how many shown rows the last apply replaced
        self._widths: list[int] = [COLUMN_WIDTHS.get(key, TOPIC_WIDTH_RANGE[0]) for key in COLUMN_KEYS]
        #: Columns shown: all but the replication ones (last in COLUMNS) until a multi-node cluster shows up.
        self._ncols = len(COLUMNS) - len(REPLICATION_COLUMN_KEYS)
        self._line_cache: dict[str, tuple[RowView, bool, bool, Strip]] = {}
        self._parsed_styles: dict[str, Style] = {}
        self._header: Strip | None = None
        self._update_virtual_size()

    # -- data --------------------------------------------------------------------
    def show_update(self, update) -> None:
        """The rows of a :class:`~deliverytui.tui.fetch.ViewUpdate`. The Leader and ISR columns are sticky: a
        metadata read that failed once must not make them flicker away."""
        self.set_replication_visible(update.replication_visible or self.replication_visible)
        self.apply(update.rows)

    def apply(self, rows: Mapping[str, RowView]) -> None:
        """Show ``rows``; re-order at once when rows came or went, else at most every ``resort_seconds``."""
        self._all = rows
        visible = self._filtered(rows)
        old = self._shown
        self._shown = visible
        changed = 0
        order_may_change = False
        if visible.keys() != old.keys():
            self._order = []  # rows came or went: place them now
        for key, row in visible.items():
            before = old.get(key)
            if before is not row:
                changed += 1
                if before is None or before.lag != row.lag or before.time_lag != row.time_lag:
                    order_may_change = True
        self.rows_changed = changed
        if order_may_change:
            self._sort_pending = True
        if self._widen_topic(visible):
            self._header = None
            self._line_cache.clear()
        if not self._order or (self._sort_pending and time.monotonic() - self._last_sort >= self.resort_seconds):
            self._sort()
        elif changed and self._on_screen_changed(old):
            self.refresh()

    def set_filter(self, text: str) -> None:
        self.topic_filter = text.strip()
        self._header = None  # the topic column's header shows the filter
        self._order = []
        self.apply(self._all)
        self.refresh()

    def cycle_sort(self) -> str:
        self.sort_mode = SORT_MODES[(SORT_MODES.index(self.sort_mode) + 1) % len(SORT_MODES)]
        self._header = None  # the sorted column's header carries the arrow
        self._sort()
        self.refresh()
        return self.sort_mode

    def _filtered(self, rows: Mapping[str, RowView]) -> Mapping[str, RowView]:
        if not self.topic_filter:
            return rows
        needle = self.topic_filter.lower()
        return {k: r for k, r in rows.items() if needle in r.topic.lower()}

    def _sort(self) -> None:
        """Order rows from plain values, keeping the cursor on the row it was on."""
        key_before = self.selected_key
        rows = self._shown.values()
        if self.sort_mode == "lag":
            ordered = sorted(rows, key=lambda r: (-r.lag, r.topic, r.partition))
        elif self.sort_mode == "time lag":
            ordered = sorted(rows, key=lambda r: (-r.time_lag, -r.lag, r.topic, r.partition))
        else:
            ordered = sorted(rows, key=lambda r: (r.topic, r.partition))
        self._sort_pending = False
        self._last_sort = time.monotonic()
        self._order = [r.key for r in ordered]
        self._index = {key: i for i, key in enumerate(self._order)}
        self._update_virtual_size()
        if key_before is not None and key_before in self._index:
            self.cursor_row = self._index[key_before]
        self.cursor_row = max(0, min(self.cursor_row, len(self._order) - 1))
        self._scroll_cursor_into_view()
        self._cursor_moved()
        self.refresh()

    def _widen_topic(self, rows: Mapping[str, RowView]) -> bool:
        """Size the topic column for the topics present (cheap: topics are few, rows many)."""
        topics = {row.topic for row in rows.values()} if len(rows) < 50_000 else set()
        low, high = TOPIC_WIDTH_RANGE
        width = max([low, *(cell_len(t) for t in topics)])
        width = min(width, high)
        index = COLUMN_KEYS.index("topic")
        if width == self._widths[index]:
            return False
        self._widths[index] = width
        self._update_virtual_size()
        return True

    def _on_screen_changed(self, old: Mapping[str, RowView]) -> bool:
        top = int(self.scroll_y)
        for key in self._order[top : top + max(self.size.height, 1)]:
            if old.get(key) is not self._shown.get(key):
                return True
        return False

    def _update_virtual_size(self) -> None:
        width = sum(w + 2 for w in self._widths[: self._ncols])
        self.virtual_size = Size(width, len(self._order) + 1)

    @property
    def replication_visible(self) -> bool:
        return self._ncols == len(COLUMNS)

    def set_replication_visible(self, visible: bool) -> None:
        """Show or hide the Leader and ISR columns (hidden on a one-node cluster)."""
        if visible == self.replication_visible:
            return
        self._ncols = len(COLUMNS) - (0 if visible else len(REPLICATION_COLUMN_KEYS))
        self._update_virtual_size()
        self._restyle()

    @property
    def shown_columns(self) -> list[str]:
        """Column keys in display order."""
        return list(COLUMN_KEYS[: self._ncols])

    # -- the DataTable-like surface the app and the tests use -----------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def shown_keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._order)

    @property
    def selected_key(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    def get_cell(self, key: str, column: str) -> Cell:
        text, style = self._shown[key].cells[COLUMN_KEYS.index(column)]
        return Cell(text, style)

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        if not self._order:
            return
        self.cursor_row = max(0, min(row, len(self._order) - 1))
        self._scroll_cursor_into_view(animate=animate)
        self._cursor_moved()
        self.refresh()

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    # -- cursor -----------------------------------------------------------------
    def _cursor_moved(self) -> None:
        key = self.selected_key
        if key != self._highlighted:
            self._highlighted = key
            self.post_message(self.RowHighlighted(self, key))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        body = max(self.scrollable_content_region.height - 1, 1)  # minus the header line
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=animate, immediate=True)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=animate, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - max(self.scrollable_content_region.height - 1, 1))

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._order):
            self.move_cursor(row=row)

    def _on_focus(self, event: events.Focus) -> None:
        self._restyle()

    def _on_blur(self, event: events.Blur) -> None:
        self._restyle()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._restyle()

    def _restyle(self) -> None:
        self._line_cache.clear()
        self._header = None
        self.refresh()

    # -- rendering -----------------------------------------------------------------
    def _style(self, spec: str) -> Style:
        style = self._parsed_styles.get(spec)
        if style is None:
            style = self._parsed_styles[spec] = Style.parse(spec) if spec else Style.null()
        return style

    def header_label(self, key: str, label: str) -> str:
        """A column's header, marked with the view's state so it is visible on screen: the sorted
        column gets an arrow (``Lag ↓``; ``Topic ↑`` when sorted by topic and partition), and an
        active filter shows on the topic column (``Topic ~orders``)."""
        if (key, self.sort_mode) in (("lag", "lag"), ("time_lag", "time lag")):
            return "Time lag↓" if key == "time_lag" else f"{label} ↓"  # the cells keep the estimate's ~
        if key == "topic":
            marked = f"{label} ↑" if self.sort_mode == "partition" else label
            return f"{marked} ~{self.topic_filter}" if self.topic_filter else marked
        return label

    def _header_strip(self) -> Strip:
        if self._header is None:
            style = self.rich_style + self.get_component_rich_style("partitions-table--header")
            text = "".join(
                " " + fit(self.header_label(key, label), width, key in RIGHT_ALIGNED) + " "
                for (key, label), width in zip(COLUMNS[: self._ncols], self._widths)
            )
            self._header = Strip([Segment(text, style)])
        return self._header

    def _row_strip(self, key: str, index: int) -> Strip:
        view = self._shown[key]
        cursor = index == self.cursor_row
        even = index % 2 == 0
        cached = self._line_cache.get(key)
        if cached is not None and cached[0] is view and cached[1] == cursor and cached[2] == even:
            return cached[3]
        base = self.rich_style
        if even:
            base += self.get_component_rich_style("partitions-table--even-row")
        cursor_style = self.get_component_rich_style("partitions-table--cursor") if cursor else None
        segments = []
        for column, (text, spec), width in zip(COLUMN_KEYS[: self._ncols], view.cells, self._widths):
            style = base + self._style(spec)
            if cursor_style is not None:
                style += cursor_style
            segments.append(Segment(" " + fit(text, width, column in RIGHT_ALIGNED) + " ", style))
        strip = Strip(segments)
        if len(self._line_cache) > 4 * max(self.size.height, 50):
            self._line_cache.clear()
        self._line_cache[key] = (view, cursor, even, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            strip = self._header_strip()
        else:
            index = scroll_y + y - 1
            if index >= len(self._order):
                return Strip.blank(width, self.rich_style)
            strip = self._row_strip(self._order[index], index)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
