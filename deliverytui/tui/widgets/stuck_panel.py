"""The stuck panel: the record a STALL/STOP partition is stuck on, and the transaction pinning its LSO.

Rendered from a :class:`~deliverytui.model.stuck.StuckView` (read by the poll worker). Every byte and
name in it is other people's text (record keys, values, headers, transactional ids): it is shown
through :func:`~deliverytui.model.text.escaped_bytes` and :func:`~deliverytui.model.text.visible`,
so an ESC, NUL, CR or BEL in a poison record reads ``\\x1b`` instead of acting on the terminal.
Hidden while there is nothing to say, so a healthy group's view keeps its table height.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from deliverytui.model.stuck import OpenTransaction, PinnedLso, RecordPeekResult, StuckView
from deliverytui.model.text import visible


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "for an unknown time"
    if seconds < 120:
        return f"for {seconds:.0f}s"
    if seconds < 7200:
        return f"for {seconds / 60:.0f} min"
    return f"for {seconds / 3600:.1f} h"


def record_lines(result: RecordPeekResult, text: Text) -> None:
    """The record at the committed offset (or one line saying why it cannot be shown)."""
    text.append("record at the committed offset ", "bold")
    text.append(f"{result.offset}" if result.offset >= 0 else "-", "bold")
    record = result.record
    if record is None:
        text.append(f": {visible(result.problem or 'not read')}\n", "yellow")
        return
    text.append(f"  ({record.size:,} B, timestamp {_when(record.timestamp_ms)} {record.timestamp_type})\n", "dim")
    text.append("  key     ", "dim")
    text.append(record.shown_key() + "\n")
    text.append("  headers ", "dim")
    text.append(("  ".join(record.shown_headers()) or "none") + "\n")
    text.append(f"  value   ({record.value_size:,} B) ", "dim")
    text.append(record.shown_value() + "\n")
    text.append("  poison? k = dry run of shift-by +1 on this partition (skips just this record)\n", "dim")


def transaction_line(transaction: OpenTransaction, now_ms: float, text: Text) -> None:
    text.append("  open transaction: ", "dim")
    text.append(f"producer id {transaction.producer_id}", "bold")
    text.append(f" (epoch {transaction.producer_epoch})  transactional id ", "dim")
    text.append(transaction.transactional_id or "unknown", "bold")
    if transaction.state:
        text.append(f"  {visible(transaction.state)}", "")
    text.append(f"  from offset {transaction.start_offset}", "dim")
    if transaction.start_time_ms is not None:
        text.append(f"  started {_when(transaction.start_time_ms)}, open {_duration(transaction.open_seconds(now_ms))}", "bold yellow")
    else:
        text.append(f"  last write {_when(transaction.last_timestamp_ms)}", "yellow")
    if transaction.coordinator_counts_partition is False:
        text.append("  HANGING: its coordinator no longer counts this partition, no marker will come", "bold red")
    text.append("\n")


def pinned_lines(pinned: PinnedLso, now_ms: float, text: Text) -> None:
    text.append("last stable offset pinned ", "bold yellow")
    text.append(
        f"at {pinned.last_stable_offset:,} below log end {pinned.log_end_offset:,} for {pinned.refreshes} refreshes: "
        "read_committed consumers wait there\n", "yellow",
    )
    for transaction in pinned.transactions:
        transaction_line(transaction, now_ms, text)
    if pinned.problem:
        text.append(f"  the transaction could not be named: {visible(pinned.problem)}\n", "yellow")
    text.append("  (Kafka's own check: kafka-transactions --bootstrap-server … find-hanging --topic T)\n", "dim")


class StuckPanel(Static):
    """Below the partitions table; shown only while the selected partition has something to say."""

    DEFAULT_CSS = """
    StuckPanel { height: auto; max-height: 14; padding: 0 1; border-top: solid $warning; display: none; }
    StuckPanel.-visible { display: block; }
    """

    _shown_text: Text | None = None

    def show(self, view: StuckView | None, now: datetime) -> None:
        if view is None:
            self.remove_class("-visible")
            self._shown_text = None
            return
        text = Text()
        text.append(f"stuck on what? {view.key}\n", "bold")
        if view.record is not None:
            record_lines(view.record, text)
        if view.pinned is not None:
            pinned_lines(view.pinned, now.timestamp() * 1000, text)
        text.rstrip()
        if text != self._shown_text:
            self._shown_text = text
            self.update(text)
        self.add_class("-visible")
