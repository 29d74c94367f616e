"""The live view's side of "stuck on what?": the ``i`` and ``k`` keys, and rendering the stuck panel.

A mixin of :class:`~deliverytui.tui.app.DeliveryApp` (app.py is at its size limit). The reading is done
by the poll worker (:mod:`deliverytui.tui.stuck_diagnosis`); this only tells it which partition ``i``
asked about, hands every new fetcher the session's Java helper (the share-group collector's, so one JVM
serves the share view and the transactions), and opens the reset dialog for ``k``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import SystemCommand
from textual.css.query import NoMatches
from textual.screen import Screen

from deliverytui.model.text import shown_name
from deliverytui.tui.screens.reset import ResetOffsetsScreen, resetter_factory
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from deliverytui.tui.widgets.stuck_panel import StuckPanel


class StuckHost:
    """Mixed into the app, which provides ``config``, ``group``, ``shares``, ``update``, ``poll_now`` and ``after_write``."""

    stuck_fetcher: Any = None

    def diagnosed(self, fetcher: Any) -> Any:
        """``fetcher`` with the session's Java helper, for naming the transaction behind a pinned LSO."""
        app: Any = self
        fetcher.java_admin = lambda: app.shares.java_admin()
        self.stuck_fetcher = fetcher  # every fetcher of the app comes through here: this is the current one
        return fetcher

    def show_stuck(self, update: Any, key: str | None) -> None:
        """Render the stuck panel for the selected partition (``update.stuck`` is for the one selected at poll time)."""
        app: Any = self
        view = update.stuck if update is not None and update.stuck is not None and update.stuck.key == key else None
        try:
            panel = app.query_one(StuckPanel)
        except NoMatches:
            return  # a snapshot arriving while the app tears its widgets down
        panel.show(view, app.clock())

    def selected_partition(self) -> str | None:
        app: Any = self
        return app.query_one(PartitionsTable).selected_key

    def action_inspect_record(self) -> None:
        """``i``: read the record at the selected partition's committed offset, whatever its status."""
        app: Any = self
        key = self.selected_partition()
        if key is None:
            app.notify("select a partition first", severity="warning")
            return
        diagnosis = self.stuck_fetcher.diagnosis
        diagnosis.forget(key)
        diagnosis.inspect_key = key
        app.notify(f"reading the record at the committed offset of {shown_name(key)}…", timeout=2)
        app.poll_now()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers ``i`` and ``k`` too, on the consumer-group view only (not over the share view)."""
        app: Any = self
        yield from super().get_system_commands(screen)  # type: ignore[misc] - ShareViewHost's, next in the MRO
        if app.screen_stack and screen is app.screen_stack[0]:
            yield SystemCommand("Show record", "The record at the selected partition's committed offset", self.action_inspect_record)
            yield SystemCommand("Skip record", "Dry run of shift-by +1 on the selected partition; needs --allow-writes to execute",
                                self.action_skip_record)

    def action_skip_record(self) -> None:
        """``k``: the poison-message fix, as a dry run: shift-by +1 on the selected partition only.

        Opens the ``r`` dialog filled in and already planned; Execute needs ``--allow-writes`` as ``r`` does
        (without it the dialog shows the plan and says so)."""
        app: Any = self
        key = self.selected_partition()
        row = app.update.partition_rows.get(key) if key and app.update is not None else None
        if row is None:
            app.notify("select a partition first", severity="warning")
            return
        if row.committed_offset is None:
            app.notify(f"{shown_name(key)} has no committed offset to move", severity="warning")
            return
        make = resetter_factory(app.config.bootstrap, app.config.client_config, app.config.request_timeout)
        screen = ResetOffsetsScreen(
            app.group, make, app.config.allow_writes, preset=("shift-by", "1", f"{row.topic}:{row.partition}"),
        )
        app.push_screen(screen, callback=app.after_write)
