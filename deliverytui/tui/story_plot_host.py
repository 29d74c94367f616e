"""The lab's ``t``: the story so far as an SVG timeline (:mod:`deliverytui.demo.story_plot_svg`), for a slide.

The picture is drawn from the lab's ledger and its latest audit in a thread worker (matplotlib takes
a second on a long story; the screen keeps updating). It is delivered the way ``S`` delivers a
slide: saved in the working directory in a terminal, downloaded in a browser.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import work

from deliverytui.errors import one_line


class StoryPlotHost:
    """Mixed into the lab app, which provides ``lab`` and ``lab_update`` (the latest :class:`LabUpdate`)."""

    lab: Any
    lab_update: Any

    def action_plot_story(self) -> None:
        update = self.lab_update
        if update is None or update.audit is None or self.lab.supervisor is None:
            self.notify("no audit yet: the plot draws the lab's audit (wait a second)", severity="warning")  # type: ignore[attr-defined]
            return
        self.notify("drawing the story plot…", timeout=2)  # type: ignore[attr-defined]
        self.draw_story_plot(self.lab.supervisor.ledger_url, update.audit)

    @work(thread=True, exclusive=True, group="story-plot", exit_on_error=False)
    def draw_story_plot(self, ledger_url: str, report: Any) -> None:
        from deliverytui.demo.story_plot_svg import (
            story_svg_text,  # matplotlib: only when a plot is asked for
        )

        try:
            svg = story_svg_text(ledger_url, report)
        except Exception as exc:  # a ledger gone away: one line, the lab goes on
            self.call_from_thread(self.notify, f"story plot failed: {one_line(exc)}", severity="error")  # type: ignore[attr-defined]
            return
        self.call_from_thread(self.deliver_story_plot, svg)  # type: ignore[attr-defined]

    def deliver_story_plot(self, svg: str) -> None:
        """Saved in the working directory (or downloaded in a browser); Textual says where once it is written."""
        name = f"deliverytui-story-{datetime.now(UTC):%Y%m%dT%H%M%S}.svg"
        self.deliver_text(  # type: ignore[attr-defined]
            io.StringIO(svg), save_directory=Path.cwd(), save_filename=name, open_method="download",
            mime_type="image/svg+xml", name="story plot",
        )  # fmt: skip
