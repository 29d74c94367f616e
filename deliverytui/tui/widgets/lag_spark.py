"""A lag sparkline whose height means something: scaled from zero, with a floor, and blank without data.

Textual's ``Sparkline`` scales between the series' own minimum and maximum, which suits a
shape but lies about a lag: a lag wavering between 0 and 1 fills the whole height, a single
sample draws a solid block, and no data at all draws full-height blocks that look like the worst
lag on screen. A lag sparkline answers "how big, compared with a moment ago", so:

- the scale runs from 0 to ``max(series max, floor)``: a lag of 1 under a floor of 10 is a
  sliver, and a real backlog still fills the height;
- any lag above zero shows at least the lowest bar, and zero shows nothing;
- an empty series draws nothing at all (the label says there is no data yet);
- a series longer than the width keeps each bucket's maximum, so a spike never vanishes; a
  shorter one is drawn right-aligned, newest at the right edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
#: The smallest full scale, in records: lags below it are drawn in proportion to it, not to themselves.
LAG_FLOOR = 10.0


def columns(values: Sequence[float], width: int) -> list[float | None]:
    """One value per column: each bucket's maximum when there are more values than columns,
    right-aligned (``None`` to the left) when there are fewer."""
    if width <= 0:
        return []
    if len(values) <= width:
        return [None] * (width - len(values)) + list(values)
    step = len(values) / width
    return [max(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]


def spark_rows(values: Sequence[float], width: int, height: int = 2, floor: float = LAG_FLOOR) -> list[str]:
    """The sparkline as ``height`` strings of ``width`` characters, top row first (see the module's rules)."""
    if not values:
        return [" " * width for _ in range(height)]
    top = max(max(values), floor)
    steps = height * len(BARS)
    levels = []
    for value in columns(values, width):
        if value is None or value <= 0:
            levels.append(0)
        else:
            levels.append(max(1, round(value / top * steps)))
    rows = []
    for row in range(height):
        base = (height - 1 - row) * len(BARS)
        rows.append("".join(" " if level <= base else BARS[min(level - base, len(BARS)) - 1] for level in levels))
    return rows


class LagSpark(Widget):
    """A :func:`spark_rows` sparkline as a widget; colour from green (low) to red (full scale)."""

    DEFAULT_CSS = "LagSpark { height: 2; }"

    def __init__(self, *, floor: float = LAG_FLOOR, id: str | None = None) -> None:
        super().__init__(id=id)
        self.floor = floor
        self._data: tuple[float, ...] = ()

    @property
    def data(self) -> tuple[float, ...]:
        return self._data

    @data.setter
    def data(self, values: Sequence[float]) -> None:
        values = tuple(values)
        if values != self._data:
            self._data = values
            self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, max(1, self.size.height)
        rows = spark_rows(self._data, width, height, self.floor)
        top = max(max(self._data, default=0.0), self.floor)
        share = max(self._data, default=0.0) / top
        style = "green" if share < 0.34 else "yellow" if share < 0.67 else "red"
        return Text("\n".join(rows), style=style, no_wrap=True, end="")
