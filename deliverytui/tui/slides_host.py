"""Themes and slides, mixed into the live view and the lab: ``T`` cycles the themes, ``S`` saves a slide.

Why here: a presenter on a projector needs the terminal's own colours (``ansi-dark``/``ansi-light``:
Textual's ANSI themes draw with the 16 colours the room's terminal and projector were set up for),
and a reader with a colour-vision deficiency needs a palette that does not rest on red against
green (``colorblind-dark``, the Okabe–Ito colours). Every status stays a word (OK, WARN, STALL, STOP,
REWIND, DEAD…), so a theme changes how the screen looks, never what it says. The default theme is
Textual's own, so the default rendering (and the snapshot tests) stay as they were.

``S`` is Textual's ``deliver_screenshot``: in a terminal it saves an SVG of the current screen in
the working directory; served to a browser, the browser downloads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.theme import Theme

from deliverytui.tui.viewer_config import DEFAULT_THEME, THEME_NAMES

COLORBLIND_THEME = Theme(
    name="colorblind-dark",
    primary="#56B4E9",
    secondary="#0072B2",
    accent="#E69F00",
    warning="#E69F00",
    error="#D55E00",
    success="#009E73",
    foreground="#F0F0F0",
    background="#101418",
    surface="#1A2026",
    panel="#232B33",
    dark=True,
)
"""Okabe–Ito: blue, orange, vermillion and bluish green stay apart for protan, deutan and tritan eyes."""


class SlidesHost:
    """Mixed into the app (a Textual ``App``): the themes and the slide key."""

    config: Any
    theme: str
    title: str
    screen: Any

    def install_slide_themes(self) -> None:
        """Register the colour-blind theme and apply ``--theme`` (nothing changes without it)."""
        self.register_theme(COLORBLIND_THEME)  # type: ignore[attr-defined]
        wanted = getattr(self.config, "theme", None)
        if wanted:
            self.theme = wanted

    def action_cycle_theme(self) -> None:
        """The next of :data:`THEME_NAMES` (from any other theme: the first)."""
        names = list(THEME_NAMES)
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else DEFAULT_THEME
        self.notify(f"theme: {self.theme}", timeout=2)  # type: ignore[attr-defined]

    def action_save_slide(self) -> None:
        """An SVG of the current screen: saved in the working directory, or downloaded in a browser."""
        name = f"deliverytui-{type(self.screen).__name__.lower()}-{datetime.now(UTC):%Y%m%dT%H%M%S}.svg"
        # Textual says where it went once it is written (or that the browser is downloading it).
        self.deliver_screenshot(filename=name, path=str(Path.cwd()))  # type: ignore[attr-defined]
