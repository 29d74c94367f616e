"""SVG snapshot of the stuck panel at a fixed size, with the values a real run showed (screenshots/stuck.svg).

The panel's reading is tested against the real broker in tests/test_tui_stuck.py; this pins its layout: the
hostile key, headers and value escaped, the pinned LSO, the open transaction and how long it has been open.
Update deliberately with ``pytest tests/test_tui_stuck_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from deliverytui.model.stuck import OpenTransaction, PinnedLso, RecordPeek, RecordPeekResult, StuckView
from deliverytui.tui.widgets.stuck_panel import StuckPanel

NOW = datetime(2026, 11, 30, 21, 40, 0, tzinfo=UTC)
STARTED_MS = int(datetime(2026, 11, 30, 21, 32, 30, tzinfo=UTC).timestamp() * 1000)
VIEW = StuckView(
    key="payments:0",
    record=RecordPeekResult(
        "payments:0", 12,
        record=RecordPeek(
            topic="payments", partition=0, offset=12, key=b"order-4711\x1b]0;pwned\x07",
            value_size=42, value_head=b'{"amount": "12,50\x00 EUR", "currency": null}',
            headers=(("trace-id", b"7f3a\r\n"), ("retries", b"5")), timestamp_ms=STARTED_MS - 2000, timestamp_type="create",
        ),
    ),
    pinned=PinnedLso(
        "payments:0", 20, 23, 4,
        (OpenTransaction(2, 0, 20, STARTED_MS, "payments-writer-2", "Ongoing", STARTED_MS, 60_000, True),),
    ),
)


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StuckPanel()

    def on_mount(self) -> None:
        self.query_one(StuckPanel).show(VIEW, NOW)


def test_stuck_panel(snap_compare) -> None:
    assert snap_compare(PanelApp(), terminal_size=(130, 14))
