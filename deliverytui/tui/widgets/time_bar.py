"""The replay's time bar: where in the recording the screen is, and where the outages were.

One line: play state and speed, the current instant, frame k/N, then a track across the recording's
span (``●`` the current instant, red ``✕`` where polls failed: the broker or the network was down),
with the span's first and last instants at its ends.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deliverytui.tui.replay_time import clock_text, crosses_midnight


class TimeBar(Static):
    DEFAULT_CSS = """
    TimeBar { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, instants: list[float], outages: frozenset[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.instants = instants
        self.outages = outages
        self.index = 0
        self.playing = False
        self.speed = 1.0
        self.with_date = bool(instants) and crosses_midnight(instants[0], instants[-1])

    def show(self, index: int, *, playing: bool, speed: float) -> None:
        self.index, self.playing, self.speed = index, playing, speed
        self.refresh()

    def describe(self) -> str:
        """The bar's words without the track (tests and the header read them)."""
        return self.head().plain

    def head(self) -> Text:
        text = Text()
        text.append("▶ playing" if self.playing else "‖ paused", "bold green" if self.playing else "bold")
        text.append(f" ×{self.speed:g}  ", "dim")
        if not self.instants:
            text.append("empty recording", "dim")
            return text
        text.append(clock_text(self.instants[self.index], with_date=self.with_date), "bold")
        text.append(f"  frame {self.index + 1}/{len(self.instants)}", "")
        if self.index in self.outages:
            text.append("  poll failed", "bold red")
        text.append("  ")
        return text

    def render(self) -> Text:
        text = self.head()
        if not self.instants:
            return text
        start, end = self.instants[0], self.instants[-1]
        first = clock_text(start, with_date=self.with_date)
        last = clock_text(end, with_date=self.with_date)
        width = self.size.width - len(text.plain) - len(first) - len(last) - 4
        if width < 10:
            return text
        span = end - start or 1.0
        cells = ["━"] * width
        styles = ["dim"] * width
        for index in self.outages:
            cell = min(width - 1, int((self.instants[index] - start) / span * width))
            cells[cell], styles[cell] = "✕", "bold red"
        here = min(width - 1, int((self.instants[self.index] - start) / span * width))
        # On a failed poll the cursor keeps the outage mark, reversed: the instant is still an outage.
        cells[here], styles[here] = ("✕", "bold reverse red") if cells[here] == "✕" else ("●", "bold cyan")
        text.append(first + " ", "dim")
        for cell, style in zip(cells, styles, strict=True):
            text.append(cell, style)
        text.append(" " + last, "dim")
        return text
