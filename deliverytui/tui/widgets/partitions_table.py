"""The partitions table, updated in place by row key (no clear-and-refill, no flicker)."""

from __future__ import annotations

import time

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable

from deliverytui.tui.rows import COLUMN_KEYS, COLUMNS, REPLICATION_COLUMN_KEYS, RowView


class SortableText(Text):
    """A cell that sorts by a value of our choosing rather than by its text."""

    def __init__(self, text: str, style: str, sort_value: object, justify: str = "left") -> None:
        super().__init__(text, style=style, no_wrap=True, overflow="ellipsis", justify=justify)  # type: ignore[arg-type]
        self.sort_value = sort_value

    def __lt__(self, other: object) -> bool:
        return self.sort_value < getattr(other, "sort_value", other)  # type: ignore[operator]


class LazyCell:
    """A table cell that becomes a :class:`SortableText` only when the table renders or measures it.

    A refresh of 5,000 busy partitions replaces thousands of cells, of which the screen shows
    a few hundred; building a Rich Text for each (and collecting it later) was a large share
    of a refresh. Rich and DataTable accept any object with ``__rich__`` as a renderable
    (``rich_cast``), so this renders exactly like the Text it stands for. ``plain`` is
    what ``DataTable.get_cell(...).plain`` readers (the tests) see.
    """

    __slots__ = ("plain", "style", "sort_value")

    def __init__(self, text: str, style: str, sort_value: object) -> None:
        self.plain = text
        self.style = style
        self.sort_value = sort_value

    def __rich__(self) -> SortableText:
        return SortableText(self.plain, self.style, self.sort_value)

    def __lt__(self, other: object) -> bool:
        return self.sort_value < getattr(other, "sort_value", other)  # type: ignore[operator]

    def __str__(self) -> str:
        return self.plain


SORT_MODES = ("lag", "partition")
#: Columns not listed (the topic) are sized by the rows present when they are added.
COLUMN_WIDTHS = {
    "partition": 4, "committed": 9, "position": 9, "log_end": 9, "lso": 11, "lag": 7,
    "trend": 7, "since_move": 10, "owner": 18, "status": 6, "leader": 6, "isr": 11,
}


class PartitionsTable(DataTable):
    """Rows keyed ``topic:partition``; :meth:`apply` touches only cells whose value changed."""

    DEFAULT_CSS = """
    PartitionsTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: dict[str, RowView] = {}
        self._all: dict[str, RowView] = {}
        self.topic_filter = ""
        self.sort_mode = "lag"
        self.cells_updated = 0  # for benchmarks and tests: how much work the last apply did
        self._order: list[str] = []
        self.resort_seconds = 10.0
        self._sort_pending = False
        self._last_sort = 0.0
        #: Columns shown: all but the replication ones (last in COLUMNS) until a multi-node cluster shows up.
        self._ncols = len(COLUMNS) - len(REPLICATION_COLUMN_KEYS)

    def on_mount(self) -> None:
        # Fixed widths: cells are updated in bulk without re-measuring, so a column must
        # already fit what it will show ("falling", "STALL", 12-digit offsets).
        for key, label in COLUMNS[: self._ncols]:
            self.add_column(label, key=key, width=COLUMN_WIDTHS.get(key))

    @property
    def replication_visible(self) -> bool:
        return self._ncols == len(COLUMNS)

    def set_replication_visible(self, visible: bool) -> None:
        """Show or hide the Leader and ISR columns (hidden on a one-node cluster)."""
        if visible == self.replication_visible:
            return
        first = len(COLUMNS) - len(REPLICATION_COLUMN_KEYS)
        if visible:
            for index in range(first, len(COLUMNS)):
                key, label = COLUMNS[index]
                self.add_column(label, key=key, width=COLUMN_WIDTHS.get(key))
                for row_key, row in self._shown.items():
                    self._data[row_key][key] = self._cell(row, index)  # type: ignore[index]
            self._ncols = len(COLUMNS)
        else:
            for key in REPLICATION_COLUMN_KEYS:
                self.remove_column(key)
            self._ncols = first
        self._update_count += 1
        self.refresh()

    def _cell(self, row: RowView, index: int) -> LazyCell:
        text, style = row.cells[index]
        column = COLUMN_KEYS[index]
        if column == "lag":
            return LazyCell(text, style, row.lag)
        if column == "partition":
            return LazyCell(text, style, row.partition)
        return LazyCell(text, style, text)

    def _visible(self, rows: dict[str, RowView]) -> dict[str, RowView]:
        if not self.topic_filter:
            return rows
        needle = self.topic_filter.lower()
        return {k: r for k, r in rows.items() if needle in r.topic.lower()}

    def apply(self, rows: dict[str, RowView]) -> None:
        """Show ``rows``: add new keys, update changed cells, remove vanished keys, keep the cursor.

        Changed cells are written into the table's data in bulk and the table is invalidated
        once. ``DataTable.update_cell`` does the same two steps per cell (store the value, bump
        ``_update_count``, refresh), which on 5,000 rows whose "since move" ticks every poll
        costs ~75 µs a cell (~0.6 s a refresh); the bulk path does the store per cell and the
        bump/refresh once. It relies on DataTable internals (``_data``, ``_update_count``),
        hence Textual is pinned below 9 and the live-view tests read cells back through
        ``get_cell``.
        """
        self._all = rows
        visible = self._visible(rows)
        updated = 0
        order_may_change = False
        cursor_key = self._cursor_key()
        for key in [k for k in self._shown if k not in visible]:
            self.remove_row(key)
            del self._shown[key]
            self._order = []
        data = self._data
        for key, row in visible.items():
            old = self._shown.get(key)
            if old is row:
                continue  # the worker reused the RowView: nothing about this row changed
            if old is None:
                self.add_row(*(self._cell(row, i) for i in range(self._ncols)), key=key)
                self._order = []
                order_may_change = True
                updated += self._ncols
            elif old.cells != row.cells:
                stored = data[key]  # type: ignore[index]  # RowKey compares and hashes equal to its str
                for i, (new_cell, old_cell) in enumerate(zip(row.cells, old.cells)):
                    if new_cell != old_cell and i < self._ncols:
                        stored[COLUMN_KEYS[i]] = self._cell(row, i)  # type: ignore[index]
                        updated += 1
                if old.lag != row.lag:
                    order_may_change = True
            self._shown[key] = row
        if updated:
            self._update_count += 1
            self.refresh()
        if order_may_change:
            self._sort_pending = True
        forced = not self._order  # rows were added or removed: place them now
        now = time.monotonic()
        if self._sort_pending and (forced or now - self._last_sort >= self.resort_seconds):
            self._sort()
            self._restore_cursor(cursor_key)
        self.cells_updated = updated

    def set_filter(self, text: str) -> None:
        self.topic_filter = text.strip()
        self.apply(self._all)

    def cycle_sort(self) -> str:
        self.sort_mode = SORT_MODES[(SORT_MODES.index(self.sort_mode) + 1) % len(SORT_MODES)]
        self._order = []
        cursor_key = self._cursor_key()
        self._sort()
        self._restore_cursor(cursor_key)
        return self.sort_mode

    def _sort(self) -> None:
        """Order rows from our plain values (ints and strs), not from the rendered cells.

        Lag changes re-order the rows at most every ``resort_seconds`` (cells update in place
        in between): on a busy group a lag sort changes every poll, and rows jumping under
        the reader's eyes every two seconds is noise. Added or removed rows, a new sort mode
        and a filter re-order at once.

        ``DataTable.sort`` extracts every row's cells through ``itemgetter`` and compares
        Text objects (~55 ms for 5,000 rows); sorting the RowViews and installing the
        new row order the way ``DataTable.sort`` does costs a few ms, and nothing at all
        when the order did not change.
        """
        if not self._shown:
            return
        rows = self._shown.values()
        if self.sort_mode == "lag":
            ordered = sorted(rows, key=lambda r: (-r.lag, r.topic, r.partition))
        else:
            ordered = sorted(rows, key=lambda r: (r.topic, r.partition))
        keys = [r.key for r in ordered]
        self._sort_pending = False
        self._last_sort = time.monotonic()
        if keys == self._order:
            return
        self._order = keys
        row_keys = {key.value: key for key in self._data}  # the table's own RowKey objects
        self._row_locations = TwoWayDict({row_keys[k]: index for index, k in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def _cursor_key(self) -> str | None:
        if not self._shown or self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - cursor outside the table
            return None

    def _restore_cursor(self, key: str | None) -> None:
        if key is not None and key in self._shown:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    @property
    def selected_key(self) -> str | None:
        return self._cursor_key()

    @property
    def shown_keys(self) -> list[str]:
        """Row keys in display order (tests read it)."""
        return [self.coordinate_to_cell_key((i, 0)).row_key.value for i in range(self.row_count)]
