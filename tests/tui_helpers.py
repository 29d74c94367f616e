"""Helpers for Pilot tests: wait on the app's state instead of sleeping blindly."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from deliverytui.tui.widgets.partitions_table import PartitionsTable


async def wait_until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def cell(app, key: str, column: str) -> str | None:
    """The text of one cell, or None while that row is not shown."""
    table = app.query_one(PartitionsTable)
    if key not in table.shown_keys:
        return None
    return table.get_cell(key, column).plain


def shown(app) -> list[str]:
    return app.query_one(PartitionsTable).shown_keys


def share_cell(screen, key: str, column: str) -> str | None:
    """The text of one cell of the share-group view's table, or None while that row is not shown."""
    from textual.widgets import DataTable

    table = screen.query_one(DataTable)
    if key not in {str(row_key.value) for row_key in table.rows}:
        return None
    return table.get_cell(key, column).plain
